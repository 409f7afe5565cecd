"""The slow-motion step on the page (gan_lab.slowmo): each press of "Slow-motion step" shows
the next stage of one training step under the samples plot, with its sentence; the first press
takes the real step (exactly what Step does) and the last stage shows its result. "Slow play"
presses it by itself every SLOW_PLAY_S seconds, one stage at a time, step after step, until
it is pressed again or Pause is.

The stages show the very batch of the step: before the step the job's full training state is
read (`train_state`), and after it slowmo.replay takes the step again from that state on this
process and records its batch and HSN1R's direction; the stages use them only when the replay
ends on the job's weights exactly (slowmo.Batch.exact), else the fixed view points."""

from __future__ import annotations

import gradio as gr

from ..i18n import t
from ..slowmo import replay, stages
from .layout import SLOW_PLAY_S
from .messages import lang_of
from .stream import _plot_data


def train_state(job):
    """The job's full training state now; None for a run not built yet (it starts from its
    seed) or a kind of job that cannot tell (the replay then is not exact, and is not used)."""
    try:
        run = getattr(job, "_run", None)
        if run is not None:                                   # a thread job: this process
            with job._cond:
                return run.export_state()
        if job.kind == "zerogpu":
            return job.train_state
        if getattr(job, "_pool", None) is not None and getattr(job, "_created", False):
            return job._pool.export(job)[0]                  # a worker process's run
    except Exception:  # noqa: BLE001 - without it the stages show the view points
        return None
    return None


class SlowMotion:
    def __init__(self, app):
        self.app = app

    def on_slow_step(self, s, *args):
        return self._next(s, *args)[0]

    def _next(self, s, heat, arrows, mani, layer, *controls) -> tuple[dict, bool]:
        """The next stage's frame, and whether a stage was shown (not a refusal)."""
        app, p = self.app, self.app.page
        lang = lang_of(s)
        view = (heat, arrows, mani, layer)
        st = s.shown.get("slowmo")
        if st is None or st["i"] >= len(st["stages"]) - 1 or st["job"] is not s.job:
            app.registry.ensure_job(s, app.ctl.to_config(list(controls)))
            before = s.job.snapshot()
            if before.is_image:
                return {**self._stop(s), **app.msgs.ok(s),
                        p.slow_text: t("slow.only_2d", lang)}, False
            if before.state == "done":
                return {**self._stop(s), **app.msgs.ok(s), p.slow_text: t("slow.done", lang)}, \
                    False
            state, job = train_state(s.job), s.job
            out = app.on_step(s, *view, *controls)   # the real step, as Step takes it
            after = s.job.snapshot()
            if after.step != before.step + 1 or s.job is not job:   # diverged, or rebuilt
                s.shown.pop("slowmo", None)
                return {**out, **self._stop(s), p.slow_text: ""}, False
            try:
                batch = replay(before.cfg, state, job.points, after)
            except Exception:  # noqa: BLE001 - the stages then show the fixed view points
                batch = None
            st = s.shown["slowmo"] = {"stages": stages(before, after, lang, batch), "i": 0,
                                      "job": s.job}
        else:
            st["i"] += 1
            out = app.msgs.ok(s)
        stage = st["stages"][st["i"]]
        image = app.stream.renderers.draw("samples", s.key, stage.snap, heatmap=stage.heatmap,
                                          arrows=stage.arrows, manifold=mani is not False,
                                          stage=f"{st['i'] + 1}/{len(st['stages'])}", lang=lang)
        out[p.samples_plot] = _plot_data(image)
        out[p.slow_text] = t("slow.stage", lang, i=st["i"] + 1, n=len(st["stages"]),
                             text=stage.text)
        return out, True

    # --- Slow play -------------------------------------------------------------------------
    def _stop(self, s) -> dict:
        """Slow play off (its timer stopped, its button back to "Slow play")."""
        p = self.app.page
        if not s.shown.pop("slow_play", False):
            return {}
        return {p.slow_timer: gr.Timer(active=False),
                p.slow_play_btn: gr.update(value=t("btn.slow_play", lang_of(s)))}

    def on_play(self, s, *args):
        """Slow play on (the first stage at once) or, when it plays, off."""
        p = self.app.page
        if s.shown.get("slow_play"):
            return self._stop(s)
        out, shown = self._next(s, *args)
        if shown:   # not refused (images, a finished run, ...)
            s.shown["slow_play"] = True
            out[p.slow_timer] = gr.Timer(SLOW_PLAY_S, active=True)
            out[p.slow_play_btn] = gr.update(value=t("btn.slow_pause",
                                                     lang_of(s)))
        return out

    def on_tick(self, s, *args):
        if not s.shown.get("slow_play"):
            return {self.app.page.slow_timer: gr.Timer(active=False)}
        return self.on_slow_step(s, *args)

    def on_pause(self, s, *_):
        return self._stop(s)

    def wire(self, on, inputs, names, outputs) -> None:
        """The slow-motion events (on: ui/wiring.wire's helper)."""
        p = self.app.page
        on(p.slow_btn.click, self.on_slow_step, inputs, names, outputs, "slow_step")
        play_out = [*outputs, p.slow_timer, p.slow_play_btn]
        on(p.slow_play_btn.click, self.on_play, inputs, names, play_out, "slow_play")
        on(p.slow_timer.tick, self.on_tick, inputs, names, play_out)
        on(p.pause_btn.click, self.on_pause, [], [], [p.slow_timer, p.slow_play_btn])
