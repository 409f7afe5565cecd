"""The slow-motion step on the page (gan_lab.slowmo): each press of "Slow-motion step" shows
the next stage of one training step under the samples plot, with its sentence; the first press
takes the real step (exactly what Step does) and the last stage shows its result."""

from __future__ import annotations

from ..i18n import t
from ..slowmo import stages
from .stream import _plot_data


class SlowMotion:
    def __init__(self, app):
        self.app = app

    def on_slow_step(self, s, heat, arrows, mani, layer, *controls):
        app, p = self.app, self.app.page
        lang = getattr(s, "lang", "en")
        view = (heat, arrows, mani, layer)
        st = s.shown.get("slowmo")
        if st is None or st["i"] >= len(st["stages"]) - 1 or st["job"] is not s.job:
            app.registry.ensure_job(s, app.ctl.to_config(list(controls)))
            before = s.job.snapshot()
            if before.is_image:
                return {**app.msgs.ok(s), p.slow_text: t("slow.only_2d", lang)}
            if before.state == "done":
                return {**app.msgs.ok(s), p.slow_text: t("slow.done", lang)}
            out = app.on_step(s, *view, *controls)   # the real step, as Step takes it
            after = s.job.snapshot()
            if after.step != before.step + 1:          # diverged, or a rebuilt run
                s.shown.pop("slowmo", None)
                return {**out, p.slow_text: ""}
            st = s.shown["slowmo"] = {"stages": stages(before, after, lang), "i": 0,
                                      "job": s.job}
        else:
            st["i"] += 1
            out = app.msgs.ok(s)
        stage = st["stages"][st["i"]]
        image = app.stream.renderers.draw("samples", s.key, stage.snap, heatmap=stage.heatmap,
                                          arrows=stage.arrows, manifold=mani is not False,
                                          stage=f"{st['i'] + 1}/{len(st['stages'])}")
        out[p.samples_plot] = _plot_data(image)
        out[p.slow_text] = t("slow.stage", lang, i=st["i"] + 1, n=len(st["stages"]),
                             text=stage.text)
        return out
