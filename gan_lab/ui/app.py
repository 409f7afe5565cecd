"""The GAN Lab web app: run handlers and the wiring of events to them.

No training or plotting math here, and no layout (layout.py): a session's job trains where
gan_lab.jobs puts it; stream.py turns its Snapshots into frames; transfer.py: links, downloads,
uploads; messages.py reports. A handler takes (session, *inputs), returns {component: update}.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import gradio as gr

from .. import estimate, lessons, share
from ..config import ConfigError, RunConfig, plan_change, switch_dataset
from ..data import drawing, needs_points
from ..i18n import t
from ..i18n.runtext import run_message
from ..presets import PRESETS, preset_config
from . import resume
from .controls import Controls, slider_to_value, value_to_slider
from .draw import Draw
from .layout import build_page, reg_teaching
from .lesson import LessonPanel
from .many import Compare, Sweep
from .messages import Messages, errors_html, html_box, lang_of, shown_value
from .notes import changes, edit_note, steps_note
from .render_worker import RenderService
from .saved import SavedRuns
from .sessions import Registry
from .storage import AppFiles, CacheJanitor
from .stream import Stream
from .transfer import Transfers
from .wiring import wire

log = logging.getLogger("gan_lab.ui")

STEP_WAIT_S = 15.0
FIRST_FRAME_WAIT_S = 0.3
def _blocks(group) -> list:
    """A control group's blocks (layout.build_page keeps one, or a list of them)."""
    return list(group) if isinstance(group, (list, tuple)) else [group]


class GanLabApp:
    def __init__(self, registry: Registry | None = None,
                 renderers: RenderService | None = None, files: AppFiles | None = None):
        self.registry = registry or Registry()
        self.renderers = renderers or RenderService(nice=self.registry.limits.worker_nice)
        self.ctl = Controls({"steps": self.registry.limits.max_steps})
        # Downloads are written here (one folder per session token, removed when its tab
        # closes; the whole folder at shutdown); gradio copies them into its own cache to serve
        # them. Nothing is written elsewhere.
        self.files = files or AppFiles()
        self.janitor: CacheJanitor | None = None
        self._closed = False
        # However a session ends (tab closed, or silent too long: API clients never unload),
        # its downloads and figures go with it.
        self.registry.on_forget.append(self._forget_files)

    # ------------------------------------------------------------------------------------------
    # Run handlers
    # ------------------------------------------------------------------------------------------
    def _render(self, s, view, wait: bool = True) -> dict:
        return self.stream.render(s, *view, wait=wait)

    def on_load(self, s, heat, arrows, mani, layer, *controls, request=None):
        """A new tab: show the untrained run at once (a preview; no run is created to look).

        A link's settings (the page URL's query) are applied to every control and the job when
        all of them are valid, with its page keys: a drawing, a lesson, control groups to hide,
        a comparison. Otherwise nothing of the link is applied and the message lists every bad
        field or key with what it allows."""
        view = (heat, arrows, mani, layer)
        *controls, token = controls   # the page's resume token (ui/resume.py), last input
        query = getattr(request, "query_params", None)
        page = share.page_params(query) if query else {}
        back = self.registry.resume(getattr(request, "session_hash", None), token) \
            if token else None
        if back is not None:   # a reload of this tab: its run, as it was
            with back.lock:
                out = resume.page(self, back, view)
                hidden, _ = lessons.parse_hide(page.get("hide"))
                out.update(self._hide(hidden))
                return out
        out = self._load(s, view, query, page, controls)
        out[self.page.resume_box] = self.registry.issue(s)
        return out

    def _hide(self, hidden) -> dict:
        """A teacher's link: the control groups the class should not touch yet, hidden."""
        out = {}
        for group in hidden:
            for block in _blocks(self.page.groups[group]):
                out[block] = gr.update(visible=False)
        for name in lessons.hidden_fields(hidden):   # its controls in the basic column too
            out[self.ctl.block(name)] = gr.update(visible=False)
        return out

    def _load(self, s, view, query, page, controls) -> dict:
        """A fresh page: a link's settings, lesson, hidden groups and comparison applied."""
        link, errors = share.parse_query(query) if query else (None, [])
        if link is not None and not link.non_default():
            link = None   # only platform or tracking keys (__theme, __sign, utm_...)
        lesson_i, why = lessons.parse_lesson(page.get("lesson"))
        hidden, unknown = lessons.parse_hide(page.get("hide"))
        compare, bad_compare = share.page_flag(page, "compare")
        errors = list(errors) + ([ConfigError("lesson", why)] if why else [])
        if unknown:
            errors.append(ConfigError("hide", f"unknown group(s) {', '.join(unknown)}; the "
                                              f"groups are {', '.join(lessons.hideable())}"))
        if bad_compare:
            errors.append(bad_compare)
        elif compare and lesson_i is not None:
            errors.append(ConfigError("compare", "a lesson's link cannot open a comparison too"))
        a_keys = [k for k in page if k.startswith(share.A_PREFIX)]
        if a_keys and not compare and not bad_compare:
            errors.append(ConfigError(a_keys[0], "run A's settings (a.NAME) need compare=1 in "
                                                 "the link"))
        counts = None
        if "draw" in page:
            try:
                counts = drawing.decode(page["draw"])
            except ValueError as e:
                errors.append(ConfigError("draw", str(e)))
        if link is not None and not errors:
            if needs_points(link.dataset) and counts is not None:
                s.drawing, s.points, s.points_drawn = counts, drawing.points(counts), True
            errors = self.registry.usable(s, link)
        if errors:
            note = self.registry.ensure_job(s, self.ctl.to_config(list(controls)))
            s.shown.clear()
            n = len(errors)
            out = {self.page.msg: errors_html(f"⚠️ The settings in this link were not applied "
                                              f"({n} problem{'s' if n > 1 else ''}); the page "
                                              "shows the defaults.", errors, lang_of(s))}
            self.msgs.clear_bad(s, out)
            return {**out, **self._render(s, view)}
        out: dict = {}
        if lesson_i is not None:
            out.update(self.lesson.show(s, lesson_i, view))
        elif link is not None:
            shown = changes(link, link, list(link.non_default()), lang_of(s))
            out.update(self.apply(s, link, t("note.link_settings", lang_of(s), what=shown), *view))
        else:
            note = self.registry.ensure_job(s, self.ctl.to_config(list(controls)))
            s.shown.clear()
            out.update({**self.msgs.ok(s, note), **self._render(s, view)})
        if compare:
            # B is the link's settings, or the defaults when it sets none (`?compare=1&a.reg=l1`
            # compares the defaults with L1).
            bad = self.compare.from_link(s, query, s.job.cfg)
            if bad:
                out[self.page.msg] = errors_html("⚠️ Run A of this comparison link was not "
                                                 "set up:", bad, lang_of(s))
            else:
                s.tab = "compare"
                out[self.page.tabs] = gr.Tabs(selected="compare")
                out.update(self.msgs.ok(s, "A comparison from a link: A and B are set up "
                                           "(Compare tab). Press **Train B beside A**."))
        if counts is not None:
            out.update(self.draw.on_show(s))
        for comp, update in self._hide(hidden).items():   # after the lesson's own updates
            out[comp] = {**out[comp], "visible": False} if isinstance(out.get(comp), dict) \
                else update
        return out

    def apply(self, s, cfg: RunConfig, note: str, heat, arrows, mani, layer) -> dict:
        """Make the controls and the session's job show `cfg`, as a fresh run from step 0."""
        self.registry.ensure_job(s, cfg)
        s.controls_dataset = cfg.dataset
        if s.job.state != "idle" or s.job.snapshot().step != 0:
            s.job.reset(cfg)   # ensure_job keeps a run going when only live fields differ
        s.shown.clear()
        out = self.ctl.set_updates(cfg)
        out[self.page.reg_help] = reg_teaching(cfg.reg)
        note = " ".join(n for n in (note, self.dear_note(cfg)) if n)
        out.update(self.msgs.ok(s, note))
        out.update(self._render(s, (heat, arrows, mani, layer)))
        return out

    def dear_note(self, cfg: RunConfig, old: RunConfig | None = None) -> str:
        reg = self.registry   # before Train: what a dear run costs this server
        return estimate.warning(cfg, reg.stats()["running"], reg.limits.max_running, old)

    def on_train(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        job = s.job
        before = job.snapshot().weights_version if job is not None else -1
        prev = (job.cfg, job.snapshot().step, job.state == "done") if job is not None else None
        note = self.registry.start(s, cfg)
        if prev is not None and not note:   # Steps raised after Done, say: what the lr does
            note = steps_note(prev[0], cfg, prev[1], prev[2], lang_of(s))
        # The job publishes new weights within ~0.1-0.25 s; waiting that long lets this answer
        # carry a picture of the moving run instead of leaving it to the second timer tick.
        # (Not when many runs share the server: the picture then comes with a later poll.)
        wait = FIRST_FRAME_WAIT_S if self.registry.running() <= self.registry.limits.max_running \
            else 0.0
        deadline = time.monotonic() + wait
        while s.job.snapshot().weights_version == before and time.monotonic() < deadline \
                and s.job.state == "running":
            time.sleep(0.01)
        snap = s.job.snapshot()
        if snap.state == "done":
            note = (note + " " if note else "") + snap.message
        # The answer to Train already carries a picture of the run under way.
        return {**self.msgs.ok(s, note), **self._render(s, (heat, arrows, mani, layer))}

    def on_pause(self, s, heat, arrows, mani, layer):
        if s.job is not None:
            s.job.pause()
        return {**self.msgs.ok(s), **self._render(s, (heat, arrows, mani, layer))}

    def on_step(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        view = (heat, arrows, mani, layer)
        if s.job is not None and s.job.state == "done":
            return {**self.msgs.ok(s, s.job.snapshot().message), **self._render(s, view)}
        note = self.registry.step(s, cfg, 1)
        s.job.wait(timeout=STEP_WAIT_S)
        note = note or f"One step: D updated {cfg.d_steps}x, then G once."
        return {**self.msgs.ok(s, note), **self._render(s, view)}

    def on_reset(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        rebuilt = self.registry.ensure_job(s, cfg)
        if not rebuilt:
            s.job.reset(cfg)
        s.shown.clear()
        note = rebuilt or f"Reset: fresh weights from seed {cfg.seed}, step 0. Press Train."
        return {**self.msgs.ok(s, note), **self._render(s, (heat, arrows, mani, layer))}

    def poll(self, s, heat, arrows, mani, layer, visibility=""):
        """The timer's frame; visibility: document.visibilityState ('' from API clients)."""
        visible = None if visibility not in ("visible", "hidden") else visibility == "visible"
        for j in s.jobs():
            j.watch(visible)
        if visible is False:   # nobody sees the page: no curves, no pictures, no training
            return self.stream.hidden_frame(s)
        return self.stream.render(s, heat, arrows, mani, layer)

    def on_visibility(self, s, heat, arrows, mani, layer, visibility=""):
        return self.poll(s, heat, arrows, mani, layer, visibility)

    def on_tab(self, s, heat, arrows, mani, layer, evt):
        """A tab was chosen: its pictures (compare, sweep) are drawn from now on."""
        tab = getattr(evt, "value", None)
        names = {"Watch": "watch", "Compare": "compare", "Sweep": "sweep",
                 "Draw your data": "draw"}
        s.tab = names.get(tab, tab if tab in names.values() else "watch")
        for k in ("compare", "sweep"):
            s.shown.pop(k, None)
        return self._render(s, (heat, arrows, mani, layer))

    def on_view(self, s, heat, arrows, mani, layer):
        """A view toggle or the layer menu changed: redraw now, even while paused."""
        return self._render(s, (heat, arrows, mani, layer))

    def edit(self, s, cfg: RunConfig, view, source: str | None = None, lead: str = "") -> dict:
        """The controls now say `cfg` (`source`: the field edited, if one). Live fields apply
        to the job at once (weights kept). Other fields rebuild the networks: at once while
        the job is still untouched at step 0 (so picking a dataset shows it immediately),
        otherwise at the next Train or Reset, and the note says so."""
        # A blur without a change must not wipe the last note; a fixed error is cleared.
        out = self.msgs.ok(s) if s.bad_field is not None else {}
        s.controls_dataset = cfg.dataset
        if source in self.ctl.log_sliders:
            pos = value_to_slider(self.ctl.specs[source], getattr(cfg, source))
            if pos is not None:
                out[self.ctl.log_sliders[source]] = gr.update(value=pos)
        job = s.job
        if job is None or job.state in ("stopped", "error"):
            return out
        change, before = plan_change(job.cfg, cfg), job.cfg
        snap = job.snapshot()
        untouched = job.state == "idle" and snap.step == 0
        # Every change is named with its new value, whatever happens to the run (a message
        # left from an earlier edit would show that edit's values).
        note = edit_note(job.cfg, cfg, snap.step, untouched, job.state == "done", lang_of(s))
        if change.rebuild and untouched:
            self.registry.ensure_job(s, cfg)
            s.shown.clear()
        elif change.live:   # valid unchecked: live fields from cfg, the rest the job's
            self.registry.check(live := dataclasses.replace(job.cfg, **change.live))
            job.update(live)
        note = " ".join(n for n in (note, self.dear_note(cfg, before)) if n)
        if note:
            out[self.page.msg] = html_box("note", run_message((lead + " " if lead else "")
                                                              + note, lang_of(s)))
        out.update(self.stream.render(s, *view, wait=bool(change.rebuild) and untouched))
        return out

    def on_edit(self, name: str):
        def handler(s, heat, arrows, mani, layer, *controls):
            if name != "dataset":
                cfg = self.ctl.to_config(list(controls))
                return self.edit(s, cfg, (heat, arrows, mani, layer), source=name)
            # A new dataset brings its own defaults to the fields still at the old one's (and
            # a random start for a trained one's), then the result is checked.
            cfg = RunConfig.from_dict(self.ctl.read(list(controls)), validate=False)
            if cfg.dataset == s.controls_dataset:
                # The menu fires twice for one pick; the second carries the other controls'
                # values from before the first's answer (the old dataset's defaults).
                return {}
            old = s.controls_dataset or (s.job.cfg.dataset if s.job else cfg.dataset)
            new = switch_dataset(cfg, old).validate()
            lead = ""
            if new != cfg:
                lead = (f"{shown_value('dataset', new.dataset)} brings its own defaults for "
                        "the settings you had not changed (yours are kept).")
            out = self.edit(s, new, (heat, arrows, mani, layer), source=name, lead=lead)
            if new != cfg:
                out.update(self.ctl.set_updates(new))
            return out

        return handler

    def on_log_slider(self, name: str):
        """The log10 slider of a log-scale field moved: show its value in the number box and
        treat it as an edit of that field (not of its slider, which stays where it was put)."""
        idx = self.ctl.names.index(name)

        def handler(s, pos, heat, arrows, mani, layer, *controls):
            values = list(controls)
            values[idx] = slider_to_value(self.ctl.specs[name], pos)
            out = self.edit(s, self.ctl.to_config(values), (heat, arrows, mani, layer))
            out[self.ctl.fields[name]] = gr.update(value=values[idx])
            return out

        return handler

    def on_preset(self, name: str):
        def handler(s, heat, arrows, mani, layer):
            return self.apply(s, preset_config(name),
                              f"**Preset “{name}”** loaded. {PRESETS[name]['description']} "
                              "Press **Train**.", heat, arrows, mani, layer)

        return handler

    def on_export(self, s, *controls):
        cfg = self.ctl.to_config(list(controls))
        return {self.page.cfg_json: cfg.to_json(),
                **self.msgs.ok(s, "Current settings shown as JSON below the button.")}

    def on_import(self, s, text):
        cfg = RunConfig.from_json(text or "{}")
        self.registry.check(cfg)
        out = self.ctl.set_updates(cfg)
        out[self.page.reg_help] = reg_teaching(cfg.reg)
        out.update(self.msgs.ok(s, "Settings loaded into the controls. Press **Train** or "
                                   "**Reset** to use them."))
        return out

    def on_unload(self, request: gr.Request):
        self.registry.drop(request.session_hash)   # its files go with it (_forget_files)

    def _forget_files(self, key: str) -> None:
        self.renderers.drop(key)
        self.files.drop(key)

    def close(self) -> None:
        """Stop every job, join the workers and the render process, remove the app's files.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.janitor is not None:
            self.janitor.stop()
        try:
            self.registry.close_all()
        finally:
            self.renderers.close()
            if getattr(self, "stream", None) is not None:
                self.stream.close()
            self.files.close()

    # ------------------------------------------------------------------------------------------
    # Building and wiring
    # ------------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        # delete_cache: uploads nobody used and downloads already served leave gradio's cache
        # after cache_age_s (checked every minute); CacheJanitor caps its size in between.
        age = self.registry.limits.cache_age_s
        with gr.Blocks(title="GAN Lab", delete_cache=(min(60, age), age)) as demo:
            self.page = build_page(self.ctl, self.registry.limits)
            self.msgs = Messages(self.page, self.ctl.fields, self.registry)
            self.stream = Stream(self.page, self.registry, self.renderers)
            self.transfers = Transfers(self.page, self.ctl, self.registry, self.files,
                                       self.stream, self.msgs, self.apply)
            self.compare = Compare(self.page, self.ctl, self.registry, self.msgs, self.apply)
            self.compare.render = self.stream.render
            self.sweep = Sweep(self.page, self.ctl, self.registry, self.msgs)
            self.saved = SavedRuns(self.page, self.stream, self.msgs, self.registry.limits)
            self.stream.extras += [self.compare.frame, self.sweep.frame, self.saved.frame]
            self.draw = Draw(self.page, self.ctl, self.registry, self.stream, self.msgs)
            self.lesson = LessonPanel(self.page, self.apply)
            wire(self, demo)
        return demo
