"""The page's layout: every component, where it sits, its stable elem_id. No behaviour here
(gan_lab/ui/app.py wires events to handlers).

`build_page(ctl, limits)` must run inside a gr.Blocks context; it returns a namespace of the
components the handlers read and update (p.train_btn, p.msg, p.status, p.samples_plot, ...).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import uploads
from ..checkpoint import max_bytes_for
from ..presets import PRESETS
from ..regularizers import REGISTRY
from . import teaching
from .controls import PROMINENT, Controls, accordion_groups
from .stream import SLOW_TICK_S

CSS = """
#gl-status { font-size: 0.95rem; min-height: 3.2em; padding: 0.4em 0.8em;
  border-radius: 8px; background: var(--block-background-fill);
  border: 1px solid var(--block-border-color); }
#gl-status p { margin: 0.1em 0; }
.gl-msg-box { min-height: 1.5em; }
.gl-msg-box .gl-err, .gl-msg-box .gl-note, .gl-msg-box .gl-busy { padding: 0.45em 0.7em;
  border-radius: 6px; }
.gl-err { background: #fde8e8; color: #8a1111; border-left: 4px solid #c81e1e; }
.gl-busy { background: #fff4e0; color: #7a4b00; border-left: 4px solid #d97706; }
.gl-note { background: #eef5ff; color: #1e3a6e; border-left: 4px solid #3b82f6; }
.gl-bad { outline: 2px solid #c81e1e !important; outline-offset: 2px; border-radius: 6px; }
.gl-buttons button { min-width: 0 !important; }
.gl-presets button { font-size: 0.85rem !important; }
.gl-logslider { margin-top: -6px; }
"""

# (kind, button label): the downloads of the export section.
DOWNLOADS = (("config", "Config JSON"), ("checkpoint", "Checkpoint"), ("metrics", "Metrics CSV"),
             ("samples", "Samples PNG"), ("gif", "GIF of the run"))


def reg_teaching(kind: str) -> str:
    """What a regularizer does, for the page (from the regularizer registry)."""
    r = REGISTRY.get(kind)
    return r.teaching if r is not None else ""


def build_page(ctl: Controls, limits) -> SimpleNamespace:
    """Lay out the page inside the current gr.Blocks; returns its components."""
    p = SimpleNamespace()
    gr.Markdown("## GAN Lab: watch a GAN learn, and see what regularizers do to it")
    gr.Markdown(teaching.INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=340):
            with gr.Row(elem_classes=["gl-buttons"]):
                p.train_btn = gr.Button("▶ Train", variant="primary",
                                           elem_id="btn-train", min_width=60)
                p.pause_btn = gr.Button("Pause", elem_id="btn-pause", min_width=60)
                p.step_btn = gr.Button("Step", elem_id="btn-step", min_width=60)
                p.reset_btn = gr.Button("Reset", elem_id="btn-reset", min_width=60)
            p.msg = gr.Markdown(elem_id="gl-msg", elem_classes=["gl-msg-box"])
            gr.Markdown("**Presets** (one click sets every control):")
            with gr.Row(elem_classes=["gl-presets"]):
                p.preset_btns = {
                    name: gr.Button(name, size="sm", min_width=120,
                                    elem_id=f"preset-{i}")
                    for i, name in enumerate(PRESETS)}
            ctl.render("dataset")
            for name in PROMINENT:
                ctl.render(name)
            with gr.Accordion("What does this regularizer do?", open=False):
                p.reg_help = gr.Markdown(
                    reg_teaching(ctl.specs["reg"]["default"]))
            ctl.render_group("basic", skip=("dataset",))
            for group, title in accordion_groups().items():
                with gr.Accordion(title, open=False):
                    ctl.render_group(group, skip=PROMINENT)
            with gr.Accordion("Share or load settings (JSON)", open=False):
                with gr.Row():
                    p.export_btn = gr.Button("Show current settings", size="sm")
                    p.import_btn = gr.Button("Load settings", size="sm")
                p.cfg_json = gr.Code(language="json", label="Settings",
                                        interactive=True, lines=6)
            _share_section(p, limits)
        with gr.Column(scale=3, min_width=480):
            p.status = gr.Markdown("**Ready** · press **Train**", elem_id="gl-status")
            with gr.Row(equal_height=False):
                with gr.Column(min_width=320):
                    p.samples_plot = gr.Plot(label="Samples", elem_id="plot-samples",
                                                format="webp", show_label=False)
                    with gr.Row() as view_row:
                        p.heat = gr.Checkbox(True, label="D(x) heatmap",
                                                min_width=100)
                        p.arrows = gr.Checkbox(True, label="G gradient arrows",
                                                  min_width=100)
                        p.mani = gr.Checkbox(True, label="Noise grid (manifold)",
                                                min_width=100)
                    _explain("samples")
                with gr.Column(min_width=320):
                    p.loss_plot = _line("Losses", "plot-loss", "loss")
                    p.pen_plot = _line("Regularization penalty (lambda "
                                               "included)", "plot-penalty", "penalty",
                                               visible=False)
                    _explain("losses")
            with gr.Row(equal_height=False):
                with gr.Column(min_width=320):
                    p.weights_plot = gr.Plot(label="Weight magnitudes (log10 |w|)",
                                                elem_id="plot-weights", format="webp",
                                                show_label=False)
                    p.layer = gr.Dropdown(["all"], value="all", label="Layer",
                                             info="All weight tensors, or one layer.",
                                             elem_id="ctl-layer")
                    _explain("weights")
                with gr.Column(min_width=320):
                    p.sparsity_plot = _line("Sparsity over time (%)",
                                                    "plot-sparsity", "%")
                    _explain("sparsity")
            with gr.Row(equal_height=False):
                with gr.Column(min_width=320):
                    p.quality_plot = _line("Sample quality", "plot-quality",
                                                   "value")
                    _explain("quality")
                with gr.Column(min_width=320):
                    p.sharp_plot = _line("Sharpness (top |Hessian eigenvalue|)",
                                                 "plot-sharpness", "|λ| max")
                    _explain("sharpness")
    p.timer = gr.Timer(SLOW_TICK_S)
    p.view_row = view_row
    return p


def _explain(plot: str) -> None:
    with gr.Accordion("What am I looking at?", open=False):
        gr.Markdown(teaching.PLOTS[plot])


def _line(label: str, elem_id: str, y_title: str, **kw) -> gr.LinePlot:
    return gr.LinePlot(x="step", y="value", color="series", label=label, elem_id=elem_id,
                       x_title="step", y_title=y_title, tooltip="all", **kw)


def _share_section(p: SimpleNamespace, limits) -> None:
    with gr.Accordion("Share link, downloads, uploads", open=False, elem_id="acc-share"):
        p.share_btn = gr.Button("🔗 Copy share link", size="sm", elem_id="btn-share")
        p.share_box = gr.Textbox(label="Share link", interactive=False, max_lines=3,
                                    buttons=["copy"], elem_id="share-link",
                                    placeholder="Press “Copy share link”")
        # Filled by PAGE_URL_JS with the browser's address when the button is pressed.
        p.page_url = gr.Textbox(visible=False, elem_id="page-url")
        gr.Markdown("**Download** (of the run on screen; the config of the controls)")
        with gr.Row(elem_classes=["gl-buttons"]):
            p.dl_btns = {kind: gr.Button(label, size="sm", min_width=90,
                                            elem_id=f"btn-dl-{kind}")
                            for kind, label in DOWNLOADS}
        p.download = gr.File(label="Your download", interactive=False,
                                elem_id="dl-file")
        gr.Markdown(f"**Upload** (limits: config {uploads.CONFIG_MAX_BYTES // 1024} KiB, "
                    f"points CSV {uploads.POINTS_MAX_BYTES // (1024 * 1024)} MiB, "
                    f"checkpoint {max_bytes_for(limits.max_params) / 2**20:.0f}"
                    " MiB, "
                    "safetensors only). See docs/SHARING.md for the formats.")
        with gr.Row():
            p.up_config = gr.File(label="Config JSON", file_types=[".json"],
                                     elem_id="up-config", height=110)
            # No file_types on these two: gradio would refuse other names with its own
            # generic toast; on_upload_checkpoint explains why only safetensors is taken,
            # and points are judged by their content, whatever the file is called.
            p.up_ckpt = gr.File(label="Checkpoint (.safetensors)", elem_id="up-ckpt",
                                   height=110)
            p.up_points = gr.File(label="Your 2-D points (CSV: x,y per row)",
                                     elem_id="up-points", height=110)
