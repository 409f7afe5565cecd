"""The page in the visitor's language (gan_lab.i18n): on load, and when the language picker
changes, every catalogued label, button, tab, accordion and chart title is sent in that
language. The language comes from the page's `?lang=zh` / `?lang=en`, else the browser's
Accept-Language; it is kept on the session (`s.lang`) for the texts handlers send later
(slow-motion sentences, chart titles)."""

from __future__ import annotations

import gradio as gr

from .. import i18n
from ..data import kind_of
from ..i18n import t
from ..i18n.runtext import axis_title
from ..lessons import LESSONS
from ..plots import curves
from .controls import GROUP_TITLES, info_text, md_escape, range_text
from .teaching import reg_teaching

# (page attribute, catalog key, property): the components whose text the catalog holds.
BUTTONS = (
    ("train_btn", "btn.train"), ("pause_btn", "btn.pause"), ("step_btn", "btn.step"),
    ("reset_btn", "btn.reset"), ("slow_btn", "btn.slow"), ("slow_play_btn", "btn.slow_play"),
    ("lesson_back", "btn.lesson_back"),
    ("lesson_next", "btn.lesson_next"), ("lesson_close", "btn.lesson_close"),
    ("keep_a_btn", "btn.keep_a"), ("train_ab_btn", "btn.train_ab"),
    ("with_without_btn", "btn.with_without"), ("compare_link_btn", "btn.compare_link"),
    ("save_run_btn", "btn.save_run"), ("overlay_saved_btn", "btn.overlay_saved"),
    ("sweep_btn", "btn.sweep"), ("sweep_stop_btn", "btn.sweep_stop"),
    ("draw_undo", "btn.draw_undo"), ("draw_clear", "btn.draw_clear"),
    ("draw_use", "btn.draw_use"), ("share_btn", "btn.share"), ("export_btn", "btn.export"),
    ("import_btn", "btn.import"),
)
LABELS = (
    ("heat", "view.heat"), ("arrows", "view.arrows"), ("mani", "view.mani"),
    ("layer", "view.layer"), ("sweep_field", "box.sweep_field"),
    ("sweep_values", "box.sweep_values"), ("sweep_table", "box.sweep_table"),
    ("sweep_plot", "box.sweep_plot"), ("draw_n", "box.draw_n"),
    ("draw_spread", "box.draw_spread"), ("share_box", "box.share_link"),
    ("compare_link_box", "box.compare_link"),
    ("download", "box.download"), ("cfg_json", "box.settings"), ("loss_plot", "plot.losses"),
    ("pen_plot", "plot.penalties"), ("a_samples", "plot.a"), ("b_samples", "plot.b"),
    ("overlay_plot", "plot.overlay"), ("tab_watch", "tab.watch"), ("about_acc", "acc.about"),
    ("reg_help_acc", "acc.reg_help"), ("saved_acc", "acc.saved"),
    ("lang_pick", "lang.label"), ("up_config", "box.up_config"), ("up_ckpt", "box.up_ckpt"),
    ("up_points", "box.up_points"), ("saved_runs", "box.saved_runs"),
    ("draw_canvas", "box.draw_canvas"), ("a_weights", "plot.a_weights"),
    ("b_weights", "plot.b_weights"), ("saved_plot", "plot.saved"),
    ("reg_opts_acc", "acc.group.regularization"), ("sidebar", "acc.sidebar"),
)
# p.groups entries that are tabs or accordions with a catalogued title.
GROUP_KEYS = {"compare": "tab.compare", "sweep": "tab.sweep", "draw": "tab.draw",
              "settings": "acc.settings", "share": "acc.share",
              **{g: f"acc.group.{g}" for g in GROUP_TITLES}}
# The line charts whose title depends on the data (stream._chart_layout sets them per run).
METRIC_CHARTS = (("quality_plot", "coverage"), ("fidelity_plot", "fidelity"),
                 ("divergence_plot", "divergence"), ("sparsity_plot", "sparsity"),
                 ("sharp_plot", "sharpness"),
                 ("spec_plot", "spectrum"), ("gap_plot", "generalization"),
                 ("lam_plot", "lambda"))

# (chart, English y-axis title) of the charts whose axis title is a word (ui/layout.py).
AXIS_TITLES = (("loss_plot", "loss"), ("pen_plot", "penalty"), ("quality_plot", "count"),
               ("fidelity_plot", "value"), ("divergence_plot", "value"),
               ("sparsity_plot", "%"), ("sharp_plot", "|λ| max"), ("spec_plot", "σ product"),
               ("gap_plot", "logit"), ("lam_plot", "lambda"))


def metric_title(kind: str, digits: bool, lang: str) -> str:
    """A chart title in `lang` (the English ones are plots.curves.METRIC_TITLES); digits: the
    dataset kind's (gan_lab.data.DatasetKind.digits)."""
    if i18n.norm(lang) == "en":
        return curves.metric_title(kind, digits)
    return t(f"plot.{kind}.img" if digits else f"plot.{kind}", lang)


def help_line(spec: dict, lang: str) -> str:
    """A control's help line in `lang`, with the allowed range the page prints after it."""
    english = info_text(spec)
    rng = range_text(spec)
    if i18n.norm(lang) == "en":
        return english
    text = md_escape(i18n.field_help(spec["name"], spec["help"], lang))
    return f"{text}（{rng}）" if rng else text


def _titled(comp) -> bool:
    """A tab or an accordion (a plain column of controls has no title to translate)."""
    return isinstance(comp, (gr.Tab, gr.Accordion))


def components(p, ctl) -> list:
    """Every component relabel() may update (the event's outputs)."""
    out = [getattr(p, a) for a, _ in BUTTONS + LABELS if hasattr(p, a)]
    out += [c for g in GROUP_KEYS if _titled(c := p.groups.get(g))]
    out += [getattr(p, a) for a, _ in METRIC_CHARTS]
    out += list(p.preset_btns.values()) + list(p.dl_btns.values())
    out += getattr(p, "explain_accs", []) + [c for c, _k, _v in getattr(p, "md_blocks", [])]
    out += [p.reg_help]
    return out + [p.lesson_pick, p.lesson_text] + list(ctl.fields.values()) + list(
        ctl.log_sliders.values())


def relabel(p, ctl, lang: str, digits: bool = False, reg: str = "none") -> dict:
    """{component: update} with every catalogued text of the page in `lang` (`reg`: the
    regularizer whose help the page shows)."""
    out: dict = {}
    for attr, key in BUTTONS:
        if hasattr(p, attr):
            out[getattr(p, attr)] = gr.update(value=t(key, lang))
    for attr, key in LABELS:
        if hasattr(p, attr):
            out[getattr(p, attr)] = gr.update(label=t(key, lang))
    for acc in getattr(p, "explain_accs", []):
        out[acc] = gr.update(label=t("acc.explain", lang))
    for comp, key, values in getattr(p, "md_blocks", []):   # explanations, intros (teaching.md)
        out[comp] = gr.update(value=t(key, lang, **values))
    out[p.reg_help] = gr.update(value=reg_teaching(reg, lang))
    for name, btn in p.preset_btns.items():
        out[btn] = gr.update(value=t(f"preset.{name}", lang))
    for kind, btn in p.dl_btns.items():
        out[btn] = gr.update(value=t(f"btn.dl.{kind}", lang))
    for g, key in GROUP_KEYS.items():
        comp = p.groups.get(g)
        if _titled(comp):
            out[comp] = gr.update(label=t(key, lang))
    for attr, kind in METRIC_CHARTS:   # D's generalization gap is an MNIST chart
        img = digits or kind == "generalization"
        out[getattr(p, attr)] = gr.update(label=metric_title(kind, img, lang))
    for attr, y in AXIS_TITLES:        # the y-axis titles layout.py gives the charts
        if hasattr(p, attr):
            out[getattr(p, attr)].update(x_title=axis_title("step", lang),
                                         y_title=axis_title(y, lang))
    out[p.lesson_pick] = gr.update(choices=[(t("lesson.pick", lang), 0)] + [
        (f"{i}. {i18n.lesson_texts(i - 1, lang)[0]}", i) for i in range(1, len(LESSONS) + 1)])
    for name, comp in ctl.fields.items():
        english = ctl.specs[name]["label"] or name
        label = i18n.field_label(name, english, lang)
        out[comp] = gr.update(label=label, info=help_line(ctl.specs[name], lang))
        if name in ctl.log_sliders:
            off = (" (type 0 above for off)" if i18n.norm(lang) == "en" else "（在上方输入 0 关闭）"
                   ) if ctl.specs[name]["lo"] == 0 else ""
            out[ctl.log_sliders[name]] = gr.update(label=f"log₁₀ {label}{off}")
    return out


class Language:
    def __init__(self, app):
        self.app = app

    def on_load(self, s, *_, request=None):
        query = getattr(request, "query_params", None) or {}
        headers = getattr(request, "headers", None) or {}
        lang = i18n.pick(query.get("lang"), headers.get("accept-language"))
        if lang == i18n.DEFAULT:
            # The page is built in English: nothing to send (and nothing the other load
            # handler sets, such as a link's lesson, is touched).
            s.lang = lang
            return {self.app.page.lang_pick: gr.update(value=lang)}
        return self._set(s, lang)

    def on_pick(self, s, lang, *_):
        return self._set(s, i18n.norm(lang))

    def _set(self, s, lang: str) -> dict:
        s.lang = lang
        s.shown.pop("kind", None)   # the stream sends the data-dependent chart titles again
        s.shown.pop("loss_label", None)   # and the loss chart's (a runaway's axis title)
        app = self.app
        digits = s.job is not None and kind_of(s.job.cfg.dataset).digits
        reg = s.job.cfg.reg if s.job is not None else app.ctl.specs["reg"]["default"]
        out = relabel(app.page, app.ctl, lang, digits, reg)
        out[app.page.lang_pick] = gr.update(value=lang, label=t("lang.label", lang))
        if getattr(s, "lesson", None) is not None:
            out[app.page.lesson_text] = i18n.lesson_markdown(s.lesson, lang)
        # the status line in the new language now, not at the run's next change
        out[app.page.status] = t("md.ready", lang) if s.job is None else \
            app.stream.status_text(s.job.snapshot(), s.shown.get("runaway", ""), lang)
        return out
