"""The page's layout: every component, where it sits, its stable elem_id. No behaviour here
(gan_lab/ui/app.py wires events to handlers).

Sized for a projector: at 1280x720 the buttons, the status line, the samples plot and the loss
curve are on screen without scrolling; the controls live in a collapsible sidebar, each RunConfig
UI group in its own box (`p.groups[name]`, which a lesson link may hide). On a phone the sidebar
folds away and the columns stack.

`build_page(ctl, limits)` must run inside a gr.Blocks context; it returns a namespace of the
components the handlers read and update (p.train_btn, p.msg, p.status, p.samples_plot, ...).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import uploads
from ..checkpoint import max_bytes_for
from ..config import specs
from ..data import drawing
from ..i18n import t
from ..lessons import LESSONS
from ..plots import chart_colors, metric_title
from ..presets import PRESETS
from . import watching
from .controls import PROMINENT, Controls, accordion_groups
from .teaching import explain, md, reg_teaching  # noqa: F401 - reg_teaching: for handlers

CSS = """
#gl-title h2 { margin: 0; font-size: 1.25rem; }
#gl-title small { font-size: 0.9rem; font-weight: 400; color: #374151; }
.dark #gl-title small { color: #d1d5db; }
#gl-status { font-size: 1rem; min-height: 2.9em; padding: 0.3em 0.7em;
  border-radius: 8px; background: var(--block-background-fill);
  border: 1px solid var(--block-border-color); }
#gl-status p { margin: 0.05em 0; }
#gl-status details summary { cursor: pointer; color: #3730a3; font-size: 0.9rem; }
.dark #gl-status details summary { color: #c7d2fe; }
#gl-status details { font-size: 0.9rem; }
.gl-msg-box { min-height: 0; }
.gl-msg-box .gl-err, .gl-msg-box .gl-note, .gl-msg-box .gl-busy { padding: 0.35em 0.7em;
  border-radius: 6px; }
.gl-err { background: #fde8e8; color: #8a1111; border-left: 4px solid #c81e1e; }
.gl-busy { background: #fff4e0; color: #7a4b00; border-left: 4px solid #d97706; }
.gl-note { background: #eef5ff; color: #1e3a6e; border-left: 4px solid #3b82f6; }
.gl-bad { outline: 2px solid #c81e1e !important; outline-offset: 2px; border-radius: 6px; }
.gl-buttons button { min-width: 0 !important; }
.gl-presets button { font-size: 0.875rem !important; }
.gl-logslider { margin-top: -6px; }
.gl-hint, .gl-hint p { font-size: 0.875rem; color: #374151; margin: 0.1em 0 0 0; }
.dark .gl-hint, .dark .gl-hint p { color: #d1d5db; }
.gl-explain { font-size: 0.875rem; }
#lesson { border: 2px solid #3b82f6; border-radius: 10px; padding: 0.1em 0.8em;
  font-size: 0.95rem; }
#lesson h3 { margin: 0.2em 0; font-size: 1.05rem; column-span: all; }
#lesson p { margin: 0.2em 0; }
#lesson details summary { cursor: pointer; color: #3730a3; }
@media (min-width: 900px) { #lesson-text .prose { column-count: 2; column-gap: 1.6em; } }
#train-btn { white-space: nowrap; }
#samples-plot, #draw-canvas { max-width: 520px; }
#slow-row { align-items: center; gap: 0.6em; }
#slow-text p { margin: 0; font-size: 0.95rem; }
#draw-canvas img { touch-action: none; cursor: crosshair; user-select: none;
  -webkit-user-drag: none; }
.gl-offscreen { display: none !important; }
/* The sidebar's downloads: two per row, labels wrapped inside their button, never clipped. */
.gl-dl { display: grid !important; grid-template-columns: 1fr 1fr; gap: 6px; }
.gl-dl button { white-space: normal; line-height: 1.2; min-height: 2.2em; }
/* Toasts at the bottom, off the status line and the buttons. */
.toast-wrap { top: auto !important; bottom: var(--size-4, 16px) !important; }
"""

def theme() -> gr.themes.Base:
    """gradio's Soft theme with projector-readable text (WCAG AA, 4.5:1 or more on white):
    help lines 14 px in grey-600 (7.6:1) instead of 12 px grey-400 (2.5:1), labels and the
    primary button in indigo-700/600 instead of indigo-500 (4.47:1)."""
    return gr.themes.Soft().set(
        block_info_text_size="*text_md", block_info_text_color="*neutral_600",
        block_info_text_color_dark="*neutral_300",
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300",
        input_placeholder_color="*neutral_500", input_placeholder_color_dark="*neutral_400",
        block_label_text_color="*primary_700", block_title_text_color="*primary_700",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700")


# The timer polls this often while a run trains, and this often otherwise (which keeps a paused
# job's time-to-live fresh while its tab is open).
FAST_TICK_S = 0.25
SLOW_TICK_S = 5.0
# Seconds per stage in the slow-motion step's Slow play (ui/slowmo.py): time to read a stage's
# sentence aloud to a class.
SLOW_PLAY_S = 4.0
# (kind, button label): the downloads of the export section.
DOWNLOADS = (("config", "Config JSON"), ("checkpoint", "Checkpoint"), ("metrics", "Metrics CSV"),
             ("samples", "Samples PNG"), ("gif", "GIF of the run"), ("points", "Points CSV"))
# The quality charts: (component name, metric kind, elem_id); one scale each.
QUALITY_CHARTS = (("quality_plot", "coverage", "quality-plot"),
                  ("fidelity_plot", "fidelity", "fidelity-plot"),
                  ("divergence_plot", "divergence", "divergence-plot"))


# Fields a sweep may not vary (they change what is being compared, or where it runs).
NOT_SWEPT = ("dataset", "device", "arch")


def sweep_fields() -> list[tuple[str, str]]:
    """(label, field) of the fields a sweep may vary."""
    return [(s["label"] or s["name"], s["name"]) for s in specs()
            if s["ui"] and s["name"] not in NOT_SWEPT]


# Each line chart's kind (plots.curves.series_names): G's and D's series take the palette's
# colours (plots.palette), the same in every chart.
CHART_KINDS = {"loss-plot": "loss", "penalty-plot": "penalty", "quality-plot": "coverage",
               "fidelity-plot": "fidelity", "divergence-plot": "divergence",
               "sparsity-plot": "sparsity", "sharpness-plot": "sharpness",
               "spectrum-plot": "spectrum", "gap-plot": "generalization",
               "lambda-plot": "lambda"}


# d3's SI format for the step axis: 2.4k, 12k (",~r" printed "2,4002,800": labels collided).
STEP_AXIS_FORMAT = "~s"


def line(label: str, elem_id: str, y_title: str, **kw) -> gr.LinePlot:
    # No fixed height: with one, gradio 6.31 clips the legend under the chart (only its title
    # "series" shows, not which line is which); without, the chart grows to hold it. The
    # ",~r" labels read 0, 0.5, 10,000 (Vega-Lite's default labels a one-point chart "0.000000").
    return gr.LinePlot(x="step", y="value", color="series", label=label, elem_id=elem_id,
                       x_title="step", y_title=y_title, color_title="", tooltip="all",
                       x_axis_format=STEP_AXIS_FORMAT, y_axis_format=",~r",
                       color_map=chart_colors(CHART_KINDS[elem_id]), **kw)


def build_page(ctl: Controls, limits) -> SimpleNamespace:
    """Lay out the page inside the current gr.Blocks; returns its components."""
    p = SimpleNamespace(groups={})
    with gr.Sidebar(open=True, width=330, elem_id="sidebar", label="Controls") as p.sidebar:
        _controls(p, ctl, limits)
    with gr.Row(equal_height=False, elem_id="topbar"):
        with gr.Column(scale=2, min_width=300):
            md(p, "md.title", elem_id="gl-title")
            with gr.Row(elem_classes=["gl-buttons"]):
                p.train_btn = gr.Button("▶ Train", variant="primary", elem_id="train-btn",
                                        min_width=60)
                p.pause_btn = gr.Button("Pause", elem_id="pause-btn", min_width=60)
                p.step_btn = gr.Button("Step", elem_id="step-btn", min_width=60)
                p.reset_btn = gr.Button("Reset", elem_id="reset-btn", min_width=60)
        with gr.Column(scale=3, min_width=300):
            # The status line: written by each frame (ui/status.py), not recorded for relabel.
            p.status = gr.Markdown(t("md.ready"), elem_id="gl-status")
    p.msg = gr.Markdown(elem_id="gl-msg", elem_classes=["gl-msg-box"])
    with gr.Column(visible=False, elem_id="lesson") as p.lesson_box:
        p.lesson_text = gr.Markdown(elem_id="lesson-text")
        with gr.Row(elem_classes=["gl-buttons"]):
            p.lesson_back = gr.Button("◀ Back", size="sm", elem_id="lesson-back")
            p.lesson_next = gr.Button("Next ▶", size="sm", elem_id="lesson-next")
            p.lesson_close = gr.Button("Close the lesson", size="sm", elem_id="lesson-close")
    with gr.Tabs(elem_id="tabs") as p.tabs:
        with gr.Tab("Watch", id="watch", elem_id="tab-watch") as p.tab_watch:
            _watch(p)
        with gr.Tab("Compare", id="compare", elem_id="tab-compare") as p.groups["compare"]:
            _compare(p)
        with gr.Tab("Sweep", id="sweep", elem_id="tab-sweep") as p.groups["sweep"]:
            _sweep(p)
        with gr.Tab("Draw your data", id="draw", elem_id="tab-draw") as p.groups["draw"]:
            _draw(p)
    with gr.Accordion("What is this?", open=False, elem_id="about") as p.about_acc:
        md(p, "md.intro")   # each view explains itself beside it (explain)
    # The page's resume token (ui/resume.py): kept in the tab's sessionStorage, hidden.
    p.resume_box = gr.Textbox("", elem_id="resume-token", elem_classes=["gl-offscreen"],
                              show_label=False, container=False)
    p.timer = gr.Timer(SLOW_TICK_S)
    watching.add_components(p)
    return p


# --------------------------------------------------------------------------------------------
def _controls(p: SimpleNamespace, ctl: Controls, limits) -> None:
    # The page's language (ui/lang.py; also ?lang=zh / ?lang=en and the browser's language).
    p.lang_pick = gr.Radio([("English", "en"), ("中文", "zh")], value="en",
                           label="Language / 语言", elem_id="lang-pick")
    with gr.Column(elem_id="grp-presets") as p.groups["presets"]:
        p.lesson_pick = gr.Dropdown([("Start a guided lesson…", 0)] +
                                    [(f"{i}. {les.title}", i) for i, les in
                                     enumerate(LESSONS, 1)], value=0, show_label=False,
                                    elem_id="lesson-pick", interactive=True)
        md(p, "md.presets")
        with gr.Row(elem_classes=["gl-presets"]):
            p.preset_btns = {name: gr.Button(name, size="sm", min_width=110,
                                             elem_id=f"preset-{i}")
                             for i, name in enumerate(PRESETS)}
    # "basic" is two boxes: the dataset first, the rest after the regularizer (the point of
    # the app); a lesson link that hides "basic" hides both.
    with gr.Column(elem_id="grp-basic-data") as data_box:
        ctl.render("dataset")
    with gr.Column(elem_id="grp-regularization") as p.groups["regularization"]:
        for name in PROMINENT:
            ctl.render(name)
        with gr.Accordion("What does this regularizer do?", open=False) as p.reg_help_acc:
            p.reg_help = gr.Markdown(reg_teaching(ctl.specs["reg"]["default"]),
                                     elem_id="reg-help")
        with gr.Accordion(accordion_groups()["regularization"], open=False) as p.reg_opts_acc:
            ctl.render_group("regularization", skip=PROMINENT)
    with gr.Column(elem_id="grp-basic") as basic_box:
        ctl.render_group("basic", skip=("dataset",))
    p.groups["basic"] = [data_box, basic_box]
    for group, title in accordion_groups().items():
        if group == "regularization":
            continue
        with gr.Accordion(title, open=False, elem_id=f"grp-{group}") as acc:
            ctl.render_group(group)
        p.groups[group] = acc
    with gr.Accordion("Share or load settings (JSON)", open=False,
                      elem_id="grp-settings") as p.groups["settings"]:
        with gr.Row():
            p.export_btn = gr.Button("Show current settings", size="sm")
            p.import_btn = gr.Button("Load settings", size="sm")
        p.cfg_json = gr.Code(language="json", label="Settings", interactive=True, lines=6)
    _share_section(p, limits)


def _watch(p: SimpleNamespace) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            p.samples_plot = gr.Plot(label="Samples", elem_id="samples-plot", format="webp",
                                     show_label=False)
            # One step in four stages (ui/slowmo.py; 2-D data), under the picture it changes.
            with gr.Row(equal_height=False, elem_id="slow-row"):
                p.slow_btn = gr.Button("Slow-motion step ▶", size="sm", elem_id="slow-btn",
                                       min_width=150, scale=0)
                p.slow_play_btn = gr.Button(t("btn.slow_play"), size="sm", min_width=120,
                                            elem_id="slow-play-btn", scale=0)
                p.slow_timer = gr.Timer(SLOW_PLAY_S, active=False)
            p.slow_text = gr.Markdown(elem_id="slow-text")   # below: the sentence's full width
            with gr.Row() as p.view_row:
                p.heat = gr.Checkbox(True, label="D(x) heatmap", min_width=90)
                p.arrows = gr.Checkbox(True, label="G gradient arrows", min_width=90)
                p.mani = gr.Checkbox(True, label="Noise grid (manifold)", min_width=90)
            explain(p, "samples")
        with gr.Column(min_width=320):
            p.loss_plot = line("Losses", "loss-plot", "loss")
            explain(p, "losses")
            p.pen_plot = line("Penalties (lambda or weight included)", "penalty-plot",
                              "penalty", visible=False)
            p.quality_plot = line(metric_title("coverage", False), "quality-plot", "count")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            p.weights_plot = gr.Plot(label="Weight magnitudes (log10 |w|)",
                                     elem_id="weights-plot", format="webp", show_label=False)
            p.layer = gr.Dropdown(["all"], value="all", label="Layer",
                                  info="All weight tensors, or one layer.", elem_id="ctl-layer")
            explain(p, "weights")
        with gr.Column(min_width=320):
            p.fidelity_plot = line(metric_title("fidelity", False), "fidelity-plot", "value")
            p.divergence_plot = line(metric_title("divergence", False), "divergence-plot",
                                     "value")
            explain(p, "quality")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            p.sparsity_plot = line(metric_title("sparsity", False), "sparsity-plot", "%")
            explain(p, "sparsity")
        with gr.Column(min_width=320):
            p.sharp_plot = line(metric_title("sharpness", False), "sharpness-plot", "|λ| max")
            explain(p, "sharpness")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            p.spec_plot = line(metric_title("spectrum", False), "spectrum-plot", "σ product")
            explain(p, "spectrum")
        with gr.Column(min_width=320):
            # MNIST only (stream.Stream._chart_layout shows it).
            with gr.Column(visible=False) as p.gap_box:
                p.gap_plot = line(metric_title("generalization", True), "gap-plot", "logit")
                explain(p, "generalization")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            # Shown while the run has an adaptive lambda (lam_goal; stream.Stream._curves).
            p.lam_plot = line(metric_title("lambda", False), "lambda-plot", "lambda",
                              visible=False)


def _compare(p: SimpleNamespace) -> None:
    md(p, "md.compare")
    explain(p, "compare")
    with gr.Row(elem_classes=["gl-buttons"]):
        p.keep_a_btn = gr.Button("Keep as A", size="sm", elem_id="keep-a-btn")
        p.train_ab_btn = gr.Button("▶ Train B beside A", size="sm", variant="primary",
                                   elem_id="train-ab-btn")
        p.with_without_btn = gr.Button("With vs without the regularizer", size="sm",
                                       elem_id="with-without-btn")
        p.compare_link_btn = gr.Button("Comparison link", size="sm",
                                       elem_id="compare-link-btn")
    p.compare_link_box = gr.Textbox(label="Comparison link", interactive=False, max_lines=3,
                                    buttons=["copy"], elem_id="compare-link", visible=False)
    p.compare_status = gr.Markdown(elem_id="compare-status")
    with gr.Row(equal_height=False):
        p.a_samples = gr.Plot(label="A", elem_id="a-samples-plot", format="webp")
        p.b_samples = gr.Plot(label="B", elem_id="b-samples-plot", format="webp")
    p.overlay_plot = gr.Plot(label="A (dashed) and B overlaid", elem_id="overlay-plot",
                             format="webp")
    with gr.Row(equal_height=False):
        p.a_weights = gr.Plot(label="A weights", elem_id="a-weights-plot", format="webp")
        p.b_weights = gr.Plot(label="B weights", elem_id="b-weights-plot", format="webp")
    with gr.Accordion("Saved runs: overlay up to 4", open=False,
                      elem_id="saved-runs") as p.saved_acc:
        with gr.Row(elem_classes=["gl-buttons"]):
            p.save_run_btn = gr.Button("Save the run on screen", size="sm",
                                       elem_id="save-run-btn")
            p.overlay_saved_btn = gr.Button("Overlay the chosen runs", size="sm",
                                            elem_id="overlay-saved-btn")
        p.saved_runs = gr.CheckboxGroup([], label="Your saved runs (choose up to 4)",
                                        elem_id="saved-runs-pick")
        p.saved_plot = gr.Plot(label="Saved runs overlaid", elem_id="saved-plot", format="webp")


def _sweep(p: SimpleNamespace) -> None:
    md(p, "md.sweep")
    explain(p, "sweep")
    with gr.Row():
        p.sweep_field = gr.Dropdown(sweep_fields(), value="lam", label="Field to sweep",
                                    elem_id="sweep-field", interactive=True)
        p.sweep_values = gr.Textbox(label="Values (comma-separated)", value="0.0001, 0.001, "
                                    "0.01, 0.1", elem_id="sweep-values")
    with gr.Row(elem_classes=["gl-buttons"]):
        p.sweep_btn = gr.Button("▶ Run the sweep", size="sm", variant="primary",
                                elem_id="sweep-btn")
        p.sweep_stop_btn = gr.Button("Stop the sweep", size="sm", elem_id="sweep-stop-btn")
    p.sweep_table = gr.Dataframe(label="Results", interactive=False, elem_id="sweep-table",
                                 wrap=True)
    p.sweep_plot = gr.Plot(label="Trade-off", elem_id="sweep-plot", format="webp")


def _draw(p: SimpleNamespace) -> None:
    md(p, "md.draw")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            p.draw_canvas = gr.Image(drawing.canvas(drawing.empty()), label="Your data",
                                     elem_id="draw-canvas", type="numpy", interactive=False,
                                     show_label=False, buttons=[])
        with gr.Column(min_width=240):
            p.draw_n = gr.Slider(1, 50, value=20, step=1, label="Points per click",
                                 elem_id="draw-n")
            p.draw_spread = gr.Slider(0.01, 0.5, value=0.08, step=0.01,
                                      label="Spread of each click", elem_id="draw-spread")
            p.draw_info = gr.Markdown(elem_id="draw-info")
            with gr.Row(elem_classes=["gl-buttons"]):
                p.draw_undo = gr.Button("Undo", size="sm", elem_id="draw-undo")
                p.draw_clear = gr.Button("Clear", size="sm", elem_id="draw-clear")
            p.draw_use = gr.Button("▶ Train on my drawing", variant="primary",
                                   elem_id="draw-use")
            # Filled by draw.DRAW_JS when a stroke ends (hidden; see gl-offscreen).
            p.draw_stroke = gr.Textbox("", elem_id="draw-stroke", elem_classes=["gl-offscreen"],
                                       show_label=False, container=False)
            p.draw_stroke_btn = gr.Button("stroke", elem_id="draw-stroke-btn",
                                          elem_classes=["gl-offscreen"])


def _share_section(p: SimpleNamespace, limits) -> None:
    with gr.Accordion("Share link, downloads, uploads", open=False,
                      elem_id="grp-share") as p.groups["share"]:
        p.share_btn = gr.Button("Copy share link", size="sm", elem_id="btn-share")
        p.share_box = gr.Textbox(label="Share link", interactive=False, max_lines=3,
                                 buttons=["copy"], elem_id="share-link",
                                 placeholder="Press “Copy share link”")
        # Filled by PAGE_URL_JS with the browser's address when the button is pressed.
        p.page_url = gr.Textbox(visible=False, elem_id="page-url")
        md(p, "md.download")
        with gr.Row(elem_classes=["gl-buttons", "gl-dl"]):
            p.dl_btns = {kind: gr.Button(label, size="sm", min_width=90,
                                         elem_id=f"btn-dl-{kind}")
                         for kind, label in DOWNLOADS}
        p.download = gr.File(label="Your download", interactive=False, elem_id="dl-file",
                             height=90)
        md(p, "md.upload", md_values=dict(
            config_kib=uploads.CONFIG_MAX_BYTES // 1024,
            points_mib=uploads.POINTS_MAX_BYTES // (1024 * 1024),
            ckpt_mib=f"{max_bytes_for(limits.max_params) / 2**20:.0f}"))
        p.up_config = gr.File(label="Config JSON", file_types=[".json"], elem_id="up-config",
                              height=150)
        # No file_types on these two: gradio would refuse other names with its own generic
        # toast; on_upload_checkpoint explains why only safetensors is taken, and points are
        # judged by their content, whatever the file is called.
        p.up_ckpt = gr.File(label="Checkpoint (.safetensors)", elem_id="up-ckpt", height=150)
        p.up_points = gr.File(label="Your 2-D points (CSV: x,y per row)", elem_id="up-points",
                              height=150)
