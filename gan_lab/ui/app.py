"""Layout and event wiring of the GAN Lab web app.

No training math and no plotting math here: the TrainingJob trains on its own thread and publishes
Snapshots; gan_lab.plots turns a Snapshot into data frames and figures; this module decides what
to show where and when.

Streaming: a gr.Timer calls `poll` (api_name "poll", so gradio_client can poll it like the page
does) every FAST_TICK_S while the job runs and every SLOW_TICK_S otherwise (the slow tick keeps a
paused job's time-to-live fresh while its tab is open). A poll sends only what changed since the
session's previous frame (gr.skip() for the rest), so an idle or paused page costs almost nothing.
Pictures are drawn by a child process (render_worker) one poll ahead: a poll hands over the
picture finished since the last one and starts the next, so no tick waits for matplotlib. Button
handlers instead wait for pictures of exactly the state they produced.
"""

from __future__ import annotations

import base64
import functools
import html
import inspect
import logging
import math
import os
import re
import signal
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
from gradio.components.plot import PlotData

from .. import export, plots, share
from ..checkpoint import CheckpointError, max_bytes_for
from ..config import LIVE_FIELDS, ConfigError, RunConfig
from ..procjob import PoolBusy
from . import teaching
from .controls import (
    CHOICE_LABELS,
    PROMINENT,
    Controls,
    accordion_groups,
    label_of,
    slider_to_value,
    value_to_slider,
)
from .jobs import make_job
from .presets import PRESETS, preset_config
from .render_worker import IMAGE_FORMAT, Renderers
from .sessions import Limits, Registry, ServerBusy, Session, configure_torch
from .storage import AppFiles, BodyLimit, CacheJanitor, discard_upload

log = logging.getLogger("gan_lab.ui")

FAST_TICK_S = 0.25
SLOW_TICK_S = 5.0
# The histogram changes slowly and costs as much to encode as the samples; refreshing it at most
# this often leaves the CPU to training.
WEIGHTS_MIN_INTERVAL_S = 1.0
STEP_WAIT_S = 15.0
DRAW_WAIT_S = 5.0
FIRST_FRAME_WAIT_S = 0.3
# GIF of the run: at most this many frames of at most this many pixels a side (60 x 256 x 256 x 3
# bytes = 11.8 MB per session at most; the recorder thins frames as the run grows).
GIF_MAX_FRAMES = 60
GIF_MAX_SIDE = 256
# A shutdown (SIGTERM, Ctrl-C) must finish within this: jobs stopped, workers and the render
# process joined, the app's temp folder removed.
SHUTDOWN_S = 4.0
# (kind, button label): the downloads of the export section.
DOWNLOADS = (("config", "Config JSON"), ("checkpoint", "Checkpoint"), ("metrics", "Metrics CSV"),
             ("samples", "Samples PNG"), ("gif", "GIF of the run"))
# Fills the hidden page-URL input with the address in the browser's bar (the only place that
# knows it exactly, proxies and mount paths included).
PAGE_URL_JS = "(u, ...rest) => [window.location.href, ...rest]"
# Clipboard writes can be refused (plain http on another host, no focus); the link stays in
# its text box to be copied by hand then.
COPY_JS = "(link) => { if (link && navigator.clipboard) navigator.clipboard.writeText(link)" \
          ".catch(() => {}); }"

PENALTY_NAMES = tuple(name for _, name in plots.PENALTY_SERIES)
STATE_BADGES = {
    "idle": "Ready", "running": "Training", "paused": "Paused", "done": "Done",
    "diverged": "Diverged (paused)", "stopped": "Stopped", "error": "Error",
}
# (metric key, label, formatter) for the status line; keys a run lacks are left out.
STATUS_METRICS = (
    ("modes", "modes", lambda v, snap: f"{v:.0f}/{len(snap.modes)}" if snap.modes is not None
     else f"{v:.0f}"),
    ("hq_frac", "high-quality", lambda v, snap: f"{100 * v:.0f}%"),
    ("digits_covered", "digits", lambda v, snap: f"{v:.0f}/10"),
    ("cls_is", "IS", lambda v, snap: f"{v:.2f}"),
    ("grid_js", "grid JS", lambda v, snap: f"{v:.3f}"),
    ("sparsity_d", "D sparse", lambda v, snap: f"{100 * v:.1f}%"),
    ("zeros_d", "D zeros", lambda v, snap: f"{100 * v:.1f}%"),
    ("sparsity_g", "G sparse", lambda v, snap: f"{100 * v:.1f}%"),
    ("sharpness_d", "D sharpness", lambda v, snap: f"{v:.3g}"),
)

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


def upload_max_bytes(limits: Limits) -> int:
    """The largest file the app can use: a checkpoint of the largest model the server allows,
    or a points CSV or config, whichever is larger."""
    return max(max_bytes_for(limits.max_params), export.POINTS_MAX_BYTES,
               export.CONFIG_MAX_BYTES)


def launch_kwargs(limits: Limits | None = None) -> dict[str, Any]:
    """Theme and CSS go to launch() in gradio 6; so do the request caps: gradio refuses an
    oversized upload before writing it to disk, and BodyLimit refuses any request larger than
    the app can use before gradio reads it."""
    from starlette.middleware import Middleware

    limits = limits or Limits.from_env()
    cap = upload_max_bytes(limits)
    return dict(css=CSS, theme=gr.themes.Soft(), max_file_size=cap,
                app_kwargs={"middleware": [Middleware(BodyLimit, max_upload_bytes=cap)]})


def _html_class(kind: str, text: str) -> str:
    """A styled message box. Markdown is not parsed inside an HTML block, so the little of it
    that messages use (**bold**, `code`) becomes tags here; everything else is escaped, since
    messages quote user input."""
    if not text:
        return ""
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    return f'<div class="gl-{kind}">{text}</div>'


def _plot_data(image: bytes) -> PlotData:
    data = base64.b64encode(image).decode("ascii")
    return PlotData(type="matplotlib", plot=f"data:image/{IMAGE_FORMAT};base64,{data}")


def _frame_or_none(df):
    """None clears a chart; an empty frame would make gradio's LinePlot lay itself out at zero
    height and stay blank after data arrives (seen after page load, before the first step)."""
    return df if len(df) else None


def _shown_value(name: str, v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(CHOICE_LABELS.get(name, {}).get(v, v))


def _fmt_rate(r: float) -> str:
    return f"{r:,.0f}" if r >= 10 else f"{r:.1f}"


def _field_error(e: ConfigError) -> tuple[str, str]:
    """(field, message without the 'field: ' prefix) of a ConfigError."""
    text = str(e)
    prefix = f"{e.field}: "
    return e.field, text[len(prefix):] if text.startswith(prefix) else text


def _errors_html(head: str, errors: list[ConfigError]) -> str:
    """An error box listing every bad field with its label, name and what is allowed."""
    items = []
    for e in errors:
        field, text = _field_error(e)
        label = label_of(field)
        name = (f"<b>{html.escape(label)}</b> (<code>{html.escape(field)}</code>)"
                if label != field else f"<b>{html.escape(field)}</b>")
        items.append(f"<li>{name}: {html.escape(text)}</li>")
    return f'<div class="gl-err">{html.escape(head)}<ul>{"".join(items)}</ul></div>'


HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
                  r"(?::[0-9]{1,5})?")


def _web_url(url: Any) -> bool:
    """An http(s) address with a plain host name: the only kind a share link may be built on."""
    if not isinstance(url, str) or len(url) > 2048 or not url.startswith(("http://", "https://")):
        return False
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    return bool(HOST.fullmatch(netloc))


def _upload_path(file) -> str | None:
    """The server-side path of an uploaded file as an un-preprocessed handler receives it: a
    FileData dict whose path gradio has checked and moved into its cache."""
    if isinstance(file, dict):
        file = file.get("path")
    return file if isinstance(file, str) and file else None


def _toast(text: str) -> str:
    """Toast text: gradio renders it as HTML (after its sanitizer, which keeps links), and it
    quotes user input, so it is escaped."""
    return html.escape(text, quote=False)


def _expose(fn, names: list[str]):
    """Give a (*values, request) handler a signature with one named parameter per input, so
    gradio injects the request and gradio_client can pass inputs by field name."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=gr.Request))
    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = {"request": gr.Request}
    return fn


class GanLabApp:
    def __init__(self, registry: Registry | None = None, renderers: Renderers | None = None):
        self.registry = registry or Registry()
        self.renderers = renderers or Renderers()
        # One drawing thread: the child process draws one picture at a time anyway.
        self._draw_pool = futures.ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="gan-lab-draw")
        self.ctl = Controls()
        # Downloads are written here (one folder per session token, removed when its tab
        # closes; the whole folder at shutdown); gradio copies them into its own cache to serve
        # them. Nothing is written elsewhere.
        self.files = AppFiles()
        self.janitor: CacheJanitor | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------------------------------
    def status_text(self, snap) -> str:
        badge = STATE_BADGES.get(snap.state, snap.state)
        parts = [f"**{badge}**", f"step **{snap.step:,}** / {snap.steps_total:,}"]
        if snap.state == "running" and snap.steps_per_s > 0:  # 0 until the first 0.5 s
            parts.append(f"{_fmt_rate(snap.steps_per_s)} steps/s")
        parts.append(f"device {snap.device}")
        lat = snap.latest
        for key, label, fmt in STATUS_METRICS:
            v = lat.get(key)
            if v is not None and math.isfinite(v):
                parts.append(f"{label} {fmt(v, snap)}")
        stats = self.registry.stats()
        line1 = " · ".join(parts)
        line2 = snap.message
        server = (f"server: {stats['running']}/{self.registry.limits.max_running} "
                  "training jobs running")
        if snap.state in ("diverged", "error"):
            line2 = f"⚠️ {line2}"
        line2 = html.escape(line2, quote=False)   # messages can quote errors and file names
        return f"{line1}  \n{line2} <span style='opacity:.6'>· {server}</span>"

    def render(self, s: Session, heat: bool, arrows: bool, mani: bool, layer: str,
               wait: bool = False) -> dict:
        """The parts of the page that changed since this session's last frame.

        wait=False (the timer): pictures are drawn in the background and delivered by a later
        poll, so a frame never waits for matplotlib. wait=True (buttons): the answer carries
        pictures of exactly the state the button produced."""
        job = s.job
        if job is None:
            return {self.status: gr.skip()}
        # View inputs come from the client: anything unexpected means the default view.
        layer = layer if isinstance(layer, str) else "all"
        heat, arrows, mani = (v is not False for v in (heat, arrows, mani))
        out: dict = {}
        snap = job.snapshot()
        sh = s.shown
        if "version" not in sh or s.recorder is None:
            # shown is cleared exactly when a run starts over (new tab, Reset, rebuild, a
            # loaded checkpoint or points), so the GIF starts over with it.
            s.recorder = export.FrameRecorder(GIF_MAX_FRAMES, max_side=GIF_MAX_SIDE)
        if sh.get("version") != snap.version:
            sh["version"] = snap.version
            out[self.status] = self.status_text(snap)
            df = plots.loss_frame(snap)
            # Penalties get their own chart: lambda * sum|w| is often 10-100x the adversarial
            # losses and would flatten them into a line at the bottom of a shared axis.
            is_pen = df["series"].isin(PENALTY_NAMES)
            out[self.loss_plot] = _frame_or_none(df[~is_pen])
            pen = df[is_pen]
            if len(pen):
                out[self.pen_plot] = gr.update(value=pen, visible=True)
                sh["pen"] = True
            elif sh.get("pen", True):
                out[self.pen_plot] = gr.update(value=None, visible=False)
                sh["pen"] = False
            mcols = snap.metrics or {}
            mkey = (len(mcols.get("step", ())), tuple(mcols),
                    tuple(float(mcols[k][-1]) for k in mcols if len(mcols[k])))
            if sh.get("metrics") != mkey:
                sh["metrics"] = mkey
                for comp, kind in ((self.quality_plot, "quality"),
                                   (self.sparsity_plot, "sparsity"),
                                   (self.sharp_plot, "sharpness")):
                    out[comp] = _frame_or_none(plots.metric_frame(snap, kind))
        if sh.get("is_image") != snap.is_image:
            sh["is_image"] = snap.is_image  # heatmap, arrows and noise grid are 2-D only
            out[self.view_row] = gr.update(visible=not snap.is_image)
        names = plots.layer_names(snap)
        if sh.get("layers") != names:
            sh["layers"] = names
            if layer not in names:
                layer = "all"
            out[self.layer] = gr.update(choices=names, value=layer)
        elif layer not in names:
            layer = "all"
        busy = self._figures(s, snap, out, heat, arrows, mani, layer, wait)
        tick = FAST_TICK_S if snap.state == "running" or busy else SLOW_TICK_S
        if sh.get("tick") != tick:
            sh["tick"] = tick
            out[self.timer] = gr.Timer(value=tick, active=True)
        if not out:
            # gradio reads an empty dict as one (missing) value, not as "nothing changed"
            out[self.status] = gr.skip()
        return out

    def _figures(self, s: Session, snap, out: dict, heat, arrows, mani, layer,
                 wait: bool) -> bool:
        """Start drawing pictures that are out of date; put finished ones in `out`. Returns
        whether a picture is still pending (the timer then keeps ticking fast)."""
        sh = s.shown
        plot_of = {"samples": self.samples_plot, "weights": self.weights_plot}
        # A button's answer waits for its pictures, but not beyond DRAW_WAIT_S in all: on a
        # busy server a later poll delivers them instead.
        deadline = time.monotonic() + DRAW_WAIT_S
        for _ in range(3 if wait else 1):
            # Collect first, then submit: a picture finished since the last poll is shown now
            # and the next one starts drawing in the same poll.
            for kind, (key, fut) in list(s.draws.items()):
                if wait:
                    futures.wait([fut], timeout=max(0.0, deadline - time.monotonic()))
                if fut.done():
                    del s.draws[kind]
                    out[plot_of[kind]] = _plot_data(fut.result())
                    sh[kind] = key
            now = time.monotonic()
            want = {}
            # id(job): a rebuilt job counts weights_version from 1 again
            jid = id(s.job)
            skey = (jid, snap.weights_version, bool(heat), bool(arrows), bool(mani))
            if sh.get("samples") != skey:
                want["samples"] = (skey, dict(heatmap=bool(heat), arrows=bool(arrows),
                                              manifold=bool(mani)))
            wkey = (jid, snap.weights_version, layer, snap.cfg.sparsity_eps, snap.cfg.reg_bias)
            if sh.get("weights") != wkey and (
                    wait or snap.state != "running" or sh.get("weights_layer") != layer
                    or now - sh.get("weights_t", 0.0) >= WEIGHTS_MIN_INTERVAL_S):
                want["weights"] = (wkey, dict(layer=layer))
            for kind, (key, opts) in want.items():
                if kind not in s.draws:  # one drawing per picture in flight; newest wins next
                    rec = s.recorder if kind == "samples" and self._frame_due(s, snap) \
                        else None
                    fut = self._draw_pool.submit(self._draw, kind, s.key, snap, opts, rec)
                    s.draws[kind] = (key, fut)
                    if kind == "weights":
                        sh["weights_t"], sh["weights_layer"] = now, layer
            if not wait or not (want or s.draws):
                break
        return bool(s.draws) or sh.get("weights") != wkey

    @staticmethod
    def _frame_due(s: Session, snap) -> bool:
        """Whether this samples picture should also become a GIF frame: at the recorder's
        interval, and always for the picture a run stops on (paused, done, diverged), so the
        GIF ends where the page does."""
        rec = s.recorder
        if rec is None:
            return False
        if rec.due(snap):
            return True
        return snap.state != "running" and bool(rec.steps) and snap.step > rec.steps[-1]

    def _draw(self, kind: str, key: str, snap, opts: dict, rec) -> bytes:
        """Draw in the render process. With a recorder, the render process also returns the
        same picture as a small RGB array, which becomes a GIF frame: the frames are exactly
        what the page showed, drawn once. A recorder replaced meanwhile (Reset) just gets a
        frame nobody reads."""
        if rec is None:
            return self.renderers.draw(kind, key, snap, **opts)
        image, frame = self.renderers.draw(kind, key, snap, frame_side=rec.max_side, **opts)
        rec.add(snap, frame=frame)
        return image

    # ------------------------------------------------------------------------------------------
    # Messages
    # ------------------------------------------------------------------------------------------
    def _clear_bad(self, s: Session, out: dict) -> None:
        if s.bad_field is not None:
            comp = self.ctl.fields.get(s.bad_field)
            if comp is not None:
                out[comp] = gr.update(elem_classes=[])
            s.bad_field = None

    def _config_error(self, s: Session | None, e: ConfigError, outline: bool = True) -> dict:
        field, text = _field_error(e)
        label = label_of(field)
        name = f"**{label}** (`{field}`)" if label != field else f"**{field}**"
        msg = f"⚠️ {name}: {text}"
        out = {self.msg: _html_class("err", msg)}
        # Only handlers with the controls among their outputs can outline one.
        if s is not None and outline:
            self._clear_bad(s, out)
            comp = self.ctl.fields.get(field)
            if comp is not None:
                out[comp] = gr.update(elem_classes=["gl-bad"])
                s.bad_field = field
        gr.Warning(_toast(f"{label}: {text}"))
        return out

    def guarded(self, fn, has_msg: bool = True, with_request: bool = False,
                outline: bool = True):
        """Every handler's safety net: bad input, a busy server or a bug becomes a message on the
        page, never a traceback, a dead event or a stuck job. Handlers without the message area
        among their outputs (the timer's poll) report in the status line instead."""

        def report(kind: str, text: str) -> dict:
            if has_msg:
                return {self.msg: _html_class(kind, text)}
            return {self.status: text}

        @functools.wraps(fn)
        def inner(*args):
            request = args[-1]
            s = None
            try:
                s = self.registry.get(request.session_hash)
                with s.lock:
                    out = fn(s, *args[:-1], request=request) if with_request \
                        else fn(s, *args[:-1])
                # gradio reads an empty dict as one missing value, not as "nothing changed"
                return out or {self.status: gr.skip()}
            except ConfigError as e:
                if has_msg:
                    return self._config_error(s, e, outline)
                return report("err", f"⚠️ {e}")
            except ServerBusy as e:
                return report("busy", f"⏳ {e}")
            except CheckpointError as e:
                return report("err", f"⚠️ Checkpoint refused: {e}. Nothing was changed.")
            except Exception as e:
                log.exception("handler %s failed", fn.__name__)
                return report("err", f"⚠️ Unexpected error: {type(e).__name__}: {e}. Your "
                                     "settings are kept; press Reset to start over.")

        return inner

    # ------------------------------------------------------------------------------------------
    # Handlers: each takes (session, *inputs) and returns {component: update}
    # ------------------------------------------------------------------------------------------
    def _view(self, values) -> tuple[list, list]:
        return values[:4], values[4:]

    def _note(self, text: str) -> dict:
        """A message for handlers whose outputs are the message area and a file or text box,
        not the controls (so a field's error outline is left for a control handler to clear)."""
        return {self.msg: _html_class("note", text)}

    def _ok(self, s: Session, note: str = "", kind: str = "note") -> dict:
        out = {self.msg: _html_class(kind, note)}
        self._clear_bad(s, out)
        return out

    def on_load(self, s, heat, arrows, mani, layer, *controls, request=None):
        """A new tab: build its (idle) job so the untrained generator is on screen at once.

        A share link's settings (the page URL's query) are applied to every control and the
        job when all of them are valid; otherwise nothing of the link is applied and the
        message lists every bad field with what it allows."""
        query = getattr(request, "query_params", None)
        link, errors = share.parse_query(query) if query else (None, [])
        if link is not None and not link.non_default():
            link = None   # only platform or tracking keys (__theme, __sign, utm_...)
        if link is not None:
            errors = self._usable(s, link)
        if errors:
            cfg = self.ctl.to_config(list(controls))
            note = self.registry.ensure_job(s, cfg)
            s.shown.clear()
            n = len(errors)
            out = {self.msg: _errors_html(
                f"⚠️ The settings in this link were not applied ({n} problem"
                f"{'s' if n > 1 else ''}); the page shows the defaults.", errors)}
            self._clear_bad(s, out)
            return {**out, **self.render(s, heat, arrows, mani, layer, wait=True)}
        if link is None:
            cfg = self.ctl.to_config(list(controls))
            note = self.registry.ensure_job(s, cfg)
            s.shown.clear()
            return {**self._ok(s, note), **self.render(s, heat, arrows, mani, layer, wait=True)}
        shown = ", ".join(f"{label_of(k)} = {_shown_value(k, v)}"
                          for k, v in link.non_default().items())
        return self._apply(s, link, f"Settings from the link: {shown}. Press **Train**.",
                           heat, arrows, mani, layer)

    def _usable(self, s: Session, cfg: RunConfig) -> list[ConfigError]:
        """What stops a valid config from being used on this server by this session."""
        if cfg.dataset == "custom" and s.points is None:
            return [ConfigError("dataset", "'custom' needs your points, which a link or "
                                           "config file cannot carry; upload your points CSV "
                                           "first, or choose another dataset")]
        try:
            self.registry.check(cfg)
        except ConfigError as e:
            return [e]
        return []

    def _apply(self, s, cfg: RunConfig, note: str, heat, arrows, mani, layer) -> dict:
        """Make the controls and the session's job show `cfg`, as a fresh run from step 0."""
        self.registry.ensure_job(s, cfg)
        if s.job.state != "idle" or s.job.snapshot().step != 0:
            s.job.pause()   # ensure_job keeps a run going when only live fields differ
            s.job.reset(cfg)
        s.shown.clear()
        out = self.ctl.set_updates(cfg)
        out[self.reg_help] = teaching.REGULARIZERS[cfg.reg]
        out.update(self._ok(s, note))
        out.update(self.render(s, heat, arrows, mani, layer, wait=True))
        return out

    def on_train(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        before = s.job.snapshot().weights_version if s.job is not None else -1
        note = self.registry.start(s, cfg)
        # The job publishes new weights within ~0.1 s; waiting that long lets this answer carry
        # a picture of the moving run instead of leaving it to the second timer tick.
        deadline = time.monotonic() + FIRST_FRAME_WAIT_S
        while s.job.snapshot().weights_version == before and time.monotonic() < deadline \
                and s.job.state == "running":
            time.sleep(0.01)
        snap = s.job.snapshot()
        if snap.state == "done":
            note = (note + " " if note else "") + snap.message
        # wait=True: the answer to Train already carries a picture of the run under way.
        return {**self._ok(s, note), **self.render(s, heat, arrows, mani, layer, wait=True)}

    def on_pause(self, s, heat, arrows, mani, layer):
        if s.job is not None:
            s.job.pause()
        return {**self._ok(s), **self.render(s, heat, arrows, mani, layer, wait=True)}

    def on_step(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        note = self.registry.ensure_job(s, cfg)
        job = s.job
        if job.state == "done":
            return {**self._ok(s, job.snapshot().message),
                    **self.render(s, heat, arrows, mani, layer, wait=True)}
        job.step(1)
        job.wait(timeout=STEP_WAIT_S)
        note = note or f"One step: D updated {cfg.d_steps}x, then G once."
        return {**self._ok(s, note), **self.render(s, heat, arrows, mani, layer, wait=True)}

    def on_reset(self, s, heat, arrows, mani, layer, *controls):
        cfg = self.ctl.to_config(list(controls))
        rebuilt = self.registry.ensure_job(s, cfg)
        if not rebuilt:
            s.job.pause()
            s.job.reset(cfg)
        s.shown.clear()
        note = rebuilt or f"Reset: fresh weights from seed {cfg.seed}, step 0. Press Train."
        return {**self._ok(s, note), **self.render(s, heat, arrows, mani, layer, wait=True)}

    def poll(self, s, heat, arrows, mani, layer):
        return self.render(s, heat, arrows, mani, layer)

    def on_view(self, s, heat, arrows, mani, layer):
        """A view toggle or the layer menu changed: redraw now, even while paused."""
        return self.render(s, heat, arrows, mani, layer, wait=True)

    def on_edit(self, source: str):
        """A control changed. Live fields apply to the running job at once (weights kept).
        Other fields rebuild the networks: at once while the job is still untouched at step 0
        (so picking a dataset shows it immediately), otherwise at the next Train or Reset, and
        the note says so."""

        def handler(s, heat, arrows, mani, layer, *controls):
            cfg = self.ctl.to_config(list(controls))
            # A blur without a change must not wipe the last note; a fixed error is cleared.
            out = self._ok(s) if s.bad_field is not None else {}
            if source in self.ctl.log_sliders:
                pos = value_to_slider(self.ctl.specs[source], getattr(cfg, source))
                if pos is not None:
                    out[self.ctl.log_sliders[source]] = gr.update(value=pos)
            job = s.job
            if job is None or job.state in ("stopped", "error"):
                return out
            old, new = job.cfg.to_dict(), cfg.to_dict()
            live = {k: new[k] for k in new if new[k] != old[k] and k in LIVE_FIELDS}
            pending = [k for k in new if new[k] != old[k] and k not in LIVE_FIELDS]
            untouched = job.state == "idle" and job.snapshot().step == 0
            notes = []
            if pending and untouched:
                notes.append(self.registry.ensure_job(s, cfg))
                s.shown.clear()
            elif live:
                self.registry.check(job.cfg.replace(**live))
                job.update(**live)
                shown = ", ".join(f"{label_of(k)} = {_shown_value(k, live[k])}" for k in live)
                notes.append(f"Applied live at step {job.snapshot().step:,}: {shown} "
                             "(weights kept).")
            if pending and not untouched:
                what = ", ".join(label_of(k) for k in pending)
                notes.append(f"**{what}**: takes effect when you press **Train** or **Reset** "
                             "(the networks are rebuilt from step 0).")
            if any(notes):
                out[self.msg] = _html_class("note", " ".join(n for n in notes if n))
            out.update(self.render(s, heat, arrows, mani, layer, wait=bool(pending) and untouched))
            return out

        return handler

    def on_log_slider(self, name: str):
        """The log10 slider of a log-scale field moved: show its value in the number box and
        treat it as an edit of that field."""
        idx = self.ctl.names.index(name)

        def handler(s, pos, heat, arrows, mani, layer, *controls):
            values = list(controls)
            values[idx] = slider_to_value(self.ctl.specs[name], pos)
            out = self.on_edit("")(s, heat, arrows, mani, layer, *values)
            out[self.ctl.fields[name]] = gr.update(value=values[idx])
            return out

        return handler

    def on_preset(self, name: str):
        def handler(s, heat, arrows, mani, layer):
            cfg = preset_config(name)
            self.registry.ensure_job(s, cfg)
            if s.job.state != "idle":  # ensure_job only applied live fields; start clean
                s.job.pause()
                s.job.reset(cfg)
            s.shown.clear()
            out = self.ctl.set_updates(cfg)
            out[self.reg_help] = teaching.REGULARIZERS[cfg.reg]
            out.update(self._ok(s, f"**Preset “{name}”** loaded. {PRESETS[name]['description']} "
                                   "Press **Train**."))
            out.update(self.render(s, heat, arrows, mani, layer, wait=True))
            return out

        return handler

    def on_export(self, s, *controls):
        cfg = self.ctl.to_config(list(controls))
        return {self.cfg_json: cfg.to_json(), **self._ok(s, "Current settings shown as JSON "
                                                           "below the button.")}

    def on_import(self, s, text):
        cfg = RunConfig.from_json(text or "{}")
        self.registry.check(cfg)
        out = self.ctl.set_updates(cfg)
        out[self.reg_help] = teaching.REGULARIZERS[cfg.reg]
        out.update(self._ok(s, "Settings loaded into the controls. Press **Train** or "
                               "**Reset** to use them."))
        return out

    # --- share link --------------------------------------------------------------------------
    def on_share(self, s, page_url, *controls, request=None):
        """The page's address with the current controls' settings as its query."""
        cfg = self.ctl.to_config(list(controls))
        if cfg.dataset == "custom":
            raise ConfigError("dataset", "a link cannot carry your uploaded points; share the "
                                         "config JSON and your CSV instead, or pick another "
                                         "dataset")
        link = share.share_url(self._page_base(page_url, request), cfg)
        return {self.share_box: link,
                **self._note("Share link below (also copied to your clipboard where the "
                              "browser allows it). Opening it sets every control to these "
                              "settings.")}

    @staticmethod
    def _page_base(page_url: str | None, request) -> str:
        """Where a share link should point. On a Hugging Face Space, the Space's page: its
        query is handed to the app inside it on load (Hub docs, 'How to handle URL parameters
        in Spaces'), and it is the address people know. Elsewhere the address the browser
        shows (sent by the button's js), else what the request says (API clients)."""
        space = os.environ.get("SPACE_ID", "").strip()
        if re.fullmatch(r"[\w.-]+/[\w.-]+", space):
            return f"https://huggingface.co/spaces/{space}"
        if _web_url(page_url):
            return page_url
        headers = getattr(request, "headers", None) or {}
        if _web_url(headers.get("referer")):
            return headers["referer"]
        # Client-sent headers: used only when they look like a host name and a scheme.
        host = headers.get("x-forwarded-host") or headers.get("host") or ""
        host = host if HOST.fullmatch(host) else "127.0.0.1:7860"
        proto = headers.get("x-forwarded-proto") or "http"
        proto = proto if proto in ("http", "https") else "http"
        return f"{proto}://{host}/"

    # --- downloads ---------------------------------------------------------------------------
    def on_download(self, kind: str):
        def handler(s, *controls):
            if kind == "config":
                cfg = self.ctl.to_config(list(controls))
                return self._file(s, f"gan-lab-{cfg.dataset}-config.json",
                                  export.config_json(cfg).encode(),
                                  "Config JSON of the current controls. `python -m gan_lab "
                                  "train --config FILE` runs it; **Upload config** loads it.")
            job = s.job
            if job is None:
                return self._note("Nothing to download yet: press **Train** first.")
            snap = job.snapshot()
            stem = f"gan-lab-{snap.cfg.dataset}-step{snap.step}"
            if kind == "checkpoint":
                return self._file(s, f"{stem}.safetensors", export.checkpoint_bytes(job),
                                  f"Checkpoint at step {snap.step:,} (G and D weights, the "
                                  "config in its metadata). **Upload checkpoint** continues "
                                  "from it.")
            if kind == "metrics":
                return self._file(s, f"{stem}-metrics.csv", export.metrics_csv(snap).encode(),
                                  "Metrics CSV: step, losses, penalties, then every metric "
                                  "(empty cell = not measured at that step).")
            if kind == "samples":
                return self._file(s, f"{stem}-samples.png", export.samples_png(snap),
                                  f"Samples at step {snap.step:,}.")
            rec = s.recorder
            if rec is None or len(rec) < 2:
                return self._note("The GIF needs at least two recorded pictures: press "
                                   "**Train** and let it run a little first.")
            data = rec.to_gif()
            return self._file(s, f"{stem}.gif", data,
                              f"GIF of this run: {len(rec)} frames from step {rec.steps[0]:,} "
                              f"to {rec.steps[-1]:,}.")

        return handler

    def _file(self, s: Session, name: str, data: bytes, note: str) -> dict:
        path = self.files.write(s.key, name, data)
        return {self.download: str(path), **self._note(note)}

    # --- uploads -----------------------------------------------------------------------------
    @staticmethod
    def _consuming(fn):
        """An upload handler that deletes the uploaded file from gradio's cache once it has
        been read, whatever the outcome (the app keeps what it needs in memory)."""
        cache = gr.utils.get_upload_folder()

        @functools.wraps(fn)
        def handler(s, file, *rest):
            path = _upload_path(file)
            try:
                return fn(s, path, *rest)
            finally:
                discard_upload(path, cache)

        return handler

    def on_upload_config(self, s, file, heat, arrows, mani, layer, *controls):
        if not file:
            return {}
        # Path(): export reads a plain str as the JSON text itself.
        cfg, errors = export.parse_config(Path(file))
        if cfg is not None:
            errors = self._usable(s, cfg)
        if errors:
            n = len(errors)
            return {self.msg: _errors_html(
                f"⚠️ {Path(file).name} was not loaded ({n} problem{'s' if n > 1 else ''}); "
                "nothing was changed.", errors)}
        return self._apply(s, cfg, f"Settings loaded from **{Path(file).name}**: a fresh run "
                                   f"from seed {cfg.seed}. Press **Train**.",
                           heat, arrows, mani, layer)

    def on_upload_checkpoint(self, s, file, heat, arrows, mani, layer, *controls):
        """Continue training from an uploaded safetensors checkpoint. Every check (format,
        size, names and shapes for its config, server caps) runs before the job is touched."""
        if not file:
            return {}
        path = Path(file)
        if path.suffix.lower() != ".safetensors":
            raise CheckpointError(f"{path.name} is not a .safetensors file; only safetensors "
                                  "checkpoints are accepted (.pt, .pth, .ckpt and .bin files "
                                  "are pickles, which can run code when loaded)")
        limits = self.registry.limits
        cap = max_bytes_for(limits.max_params)
        cfg = export.import_checkpoint(path, max_bytes=cap, max_steps=limits.max_steps)[0]
        if cfg.dataset == "custom" and s.points is None:
            raise ConfigError("dataset", "this checkpoint was trained on custom points; upload "
                                         "the points CSV first, then the checkpoint")
        self.registry.check(cfg)
        if s.job is None or s.job.state in ("stopped", "error"):
            self.registry.ensure_job(s, cfg)
        elif s.job.state == "running":
            s.job.pause()
        cfg = export.continue_from_checkpoint(
            s.job, path, max_bytes=cap, max_steps=limits.max_steps,
            max_params=limits.max_params)
        s.shown.clear()
        step = s.job.snapshot().step
        more = (f"Press **Train** to continue from step {step:,} to {cfg.steps:,}"
                if step < cfg.steps else f"Raise **Steps** above {step:,} and press **Train** "
                                         "to continue")
        out = self.ctl.set_updates(cfg)
        out[self.reg_help] = teaching.REGULARIZERS[cfg.reg]
        out.update(self._ok(s, f"Checkpoint **{path.name}** loaded: step {step:,}, its settings "
                               f"are in the controls. {more} (optimizer state starts fresh)."))
        out.update(self.render(s, heat, arrows, mani, layer, wait=True))
        return out

    def on_upload_points(self, s, file, heat, arrows, mani, layer, *controls):
        """Your own 2-D points: a new job on them, with the 'custom' dataset selected."""
        if not file:
            return {}
        path = Path(file)
        pts = export.import_points_csv(path)   # ConfigError naming the bad line
        cfg = self.ctl.to_config(list(controls)).replace(dataset="custom")
        self.registry.check(cfg)
        limits = self.registry.limits

        def build():
            return make_job(cfg, pts, ttl_s=limits.ttl_s, history_cap=self.registry.history_cap,
                            pool=getattr(self.registry, "pool", None))

        old = s.job
        try:
            new = build()
        except PoolBusy:
            # Every training slot is taken, this session's own included: give its slot to the
            # new run (the old one is being replaced anyway).
            if old is None:
                raise ServerBusy("Server busy: every training slot is held by open sessions. "
                                 "Try again shortly.") from None
            old.stop("Replaced by a run on your points.")
            old = None
            try:
                new = build()
            except PoolBusy:
                raise ServerBusy("Server busy: every training slot is held by open sessions. "
                                 "Try again shortly.") from None
        if old is not None:
            old.stop("Replaced by a run on your points.")
        s.job, s.points = new, pts
        s.shown.clear()
        out = {self.ctl.fields["dataset"]: gr.update(choices=self.ctl.choices("dataset",
                                                                              hidden=()),
                                                      value="custom")}
        out.update(self._ok(s, f"Loaded {len(pts):,} points from **{path.name}**; dataset set "
                               "to **custom**. Press **Train**."))
        out.update(self.render(s, heat, arrows, mani, layer, wait=True))
        return out

    def on_unload(self, request: gr.Request):
        s = self.registry.drop(request.session_hash)
        if s is not None:
            self.renderers.drop(s.key)
            self.files.drop(s.key)

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
            self._draw_pool.shutdown(wait=False, cancel_futures=True)
            self.files.close()

    # ------------------------------------------------------------------------------------------
    # Layout
    # ------------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        ctl = self.ctl
        # delete_cache: uploads nobody used and downloads already served leave gradio's cache
        # after cache_age_s (checked every minute); CacheJanitor caps its size in between.
        age = self.registry.limits.cache_age_s
        with gr.Blocks(title="GAN Lab", delete_cache=(min(60, age), age)) as demo:
            gr.Markdown("## GAN Lab: watch a GAN learn, and see what regularizers do to it")
            gr.Markdown(teaching.INTRO)
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=340):
                    with gr.Row(elem_classes=["gl-buttons"]):
                        self.train_btn = gr.Button("▶ Train", variant="primary",
                                                   elem_id="btn-train", min_width=60)
                        self.pause_btn = gr.Button("Pause", elem_id="btn-pause", min_width=60)
                        self.step_btn = gr.Button("Step", elem_id="btn-step", min_width=60)
                        self.reset_btn = gr.Button("Reset", elem_id="btn-reset", min_width=60)
                    self.msg = gr.Markdown(elem_id="gl-msg", elem_classes=["gl-msg-box"])
                    gr.Markdown("**Presets** (one click sets every control):")
                    with gr.Row(elem_classes=["gl-presets"]):
                        self.preset_btns = {
                            name: gr.Button(name, size="sm", min_width=120,
                                            elem_id=f"preset-{i}")
                            for i, name in enumerate(PRESETS)}
                    ctl.render("dataset")
                    for name in PROMINENT:
                        ctl.render(name)
                    with gr.Accordion("What does this regularizer do?", open=False):
                        self.reg_help = gr.Markdown(
                            teaching.REGULARIZERS[ctl.specs["reg"]["default"]])
                    ctl.render_group("basic", skip=("dataset",))
                    for group, title in accordion_groups().items():
                        with gr.Accordion(title, open=False):
                            ctl.render_group(group, skip=PROMINENT)
                    with gr.Accordion("Share or load settings (JSON)", open=False):
                        with gr.Row():
                            self.export_btn = gr.Button("Show current settings", size="sm")
                            self.import_btn = gr.Button("Load settings", size="sm")
                        self.cfg_json = gr.Code(language="json", label="Settings",
                                                interactive=True, lines=6)
                    self._share_section()
                with gr.Column(scale=3, min_width=480):
                    self.status = gr.Markdown("**Ready** · press **Train**", elem_id="gl-status")
                    with gr.Row(equal_height=False):
                        with gr.Column(min_width=320):
                            self.samples_plot = gr.Plot(label="Samples", elem_id="plot-samples",
                                                        format="webp", show_label=False)
                            with gr.Row() as self.view_row:
                                self.heat = gr.Checkbox(True, label="D(x) heatmap",
                                                        min_width=100)
                                self.arrows = gr.Checkbox(True, label="G gradient arrows",
                                                          min_width=100)
                                self.mani = gr.Checkbox(True, label="Noise grid (manifold)",
                                                        min_width=100)
                            self._explain("samples")
                        with gr.Column(min_width=320):
                            self.loss_plot = self._line("Losses", "plot-loss", "loss")
                            self.pen_plot = self._line("Regularization penalty (lambda "
                                                       "included)", "plot-penalty", "penalty",
                                                       visible=False)
                            self._explain("losses")
                    with gr.Row(equal_height=False):
                        with gr.Column(min_width=320):
                            self.weights_plot = gr.Plot(label="Weight magnitudes (log10 |w|)",
                                                        elem_id="plot-weights", format="webp",
                                                        show_label=False)
                            self.layer = gr.Dropdown(["all"], value="all", label="Layer",
                                                     info="All weight tensors, or one layer.",
                                                     elem_id="ctl-layer")
                            self._explain("weights")
                        with gr.Column(min_width=320):
                            self.sparsity_plot = self._line("Sparsity over time (%)",
                                                            "plot-sparsity", "%")
                            self._explain("sparsity")
                    with gr.Row(equal_height=False):
                        with gr.Column(min_width=320):
                            self.quality_plot = self._line("Sample quality", "plot-quality",
                                                           "value")
                            self._explain("quality")
                        with gr.Column(min_width=320):
                            self.sharp_plot = self._line("Sharpness (top |Hessian eigenvalue|)",
                                                         "plot-sharpness", "|λ| max")
                            self._explain("sharpness")
            self.timer = gr.Timer(SLOW_TICK_S)
            self._wire(demo)
        return demo

    def _share_section(self) -> None:
        with gr.Accordion("Share link, downloads, uploads", open=False, elem_id="acc-share"):
            self.share_btn = gr.Button("🔗 Copy share link", size="sm", elem_id="btn-share")
            self.share_box = gr.Textbox(label="Share link", interactive=False, max_lines=3,
                                        buttons=["copy"], elem_id="share-link",
                                        placeholder="Press “Copy share link”")
            # Filled by PAGE_URL_JS with the browser's address when the button is pressed.
            self.page_url = gr.Textbox(visible=False, elem_id="page-url")
            gr.Markdown("**Download** (of the run on screen; the config of the controls)")
            with gr.Row(elem_classes=["gl-buttons"]):
                self.dl_btns = {kind: gr.Button(label, size="sm", min_width=90,
                                                elem_id=f"btn-dl-{kind}")
                                for kind, label in DOWNLOADS}
            self.download = gr.File(label="Your download", interactive=False,
                                    elem_id="dl-file")
            gr.Markdown(f"**Upload** (limits: config {export.CONFIG_MAX_BYTES // 1024} KiB, "
                        f"points CSV {export.POINTS_MAX_BYTES // (1024 * 1024)} MiB, "
                        f"checkpoint {max_bytes_for(self.registry.limits.max_params) / 2**20:.0f}"
                        " MiB, "
                        "safetensors only). See docs/SHARING.md for the formats.")
            with gr.Row():
                self.up_config = gr.File(label="Config JSON", file_types=[".json"],
                                         elem_id="up-config", height=110)
                # No file_types on these two: gradio would refuse other names with its own
                # generic toast; on_upload_checkpoint explains why only safetensors is taken,
                # and points are judged by their content, whatever the file is called.
                self.up_ckpt = gr.File(label="Checkpoint (.safetensors)", elem_id="up-ckpt",
                                       height=110)
                self.up_points = gr.File(label="Your 2-D points (CSV: x,y per row)",
                                         elem_id="up-points", height=110)

    @staticmethod
    def _explain(plot: str) -> None:
        with gr.Accordion("What am I looking at?", open=False):
            gr.Markdown(teaching.PLOTS[plot])

    def _line(self, label: str, elem_id: str, y_title: str, **kw) -> gr.LinePlot:
        return gr.LinePlot(x="step", y="value", color="series", label=label, elem_id=elem_id,
                           x_title="step", y_title=y_title, tooltip="all", **kw)

    # ------------------------------------------------------------------------------------------
    # Wiring
    # ------------------------------------------------------------------------------------------
    def _wire(self, demo: gr.Blocks) -> None:
        ctl = self.ctl
        view_in = [self.heat, self.arrows, self.mani, self.layer]
        view_names = ["heatmap", "arrows", "manifold", "layer"]
        frame = [self.status, self.loss_plot, self.quality_plot, self.sparsity_plot,
                 self.sharp_plot, self.samples_plot, self.weights_plot, self.layer, self.timer,
                 self.view_row, self.pen_plot]
        full = [self.msg, *frame, *ctl.components, *ctl.log_sliders.values(), self.reg_help]
        # preprocess=False: values reach the handlers as the client sent them. Gradio's own
        # checks (a dropdown value not among the choices, a slider value out of range) would
        # refuse an API client's value with a generic error before any handler runs;
        # RunConfig's validation names the field and what it allows. Files are still checked
        # and moved into gradio's cache; they arrive as FileData dicts (see _upload_path).
        opts = dict(show_progress="hidden", concurrency_limit=None, preprocess=False)

        def on(trigger, fn, inputs, names, outputs, api_name=None, with_request=False, **kw):
            handler = _expose(self.guarded(fn, has_msg=self.msg in outputs,
                                           outline=ctl.components[0] in outputs,
                                           with_request=with_request), names)
            vis = "public" if api_name else "private"
            return trigger(handler, inputs, outputs, api_name=api_name, api_visibility=vis,
                           **opts, **kw)

        ctrl_names = ctl.names
        on(self.train_btn.click, self.on_train, view_in + ctl.components,
           view_names + ctrl_names, full, "train")
        on(self.pause_btn.click, self.on_pause, view_in, view_names, full, "pause")
        on(self.step_btn.click, self.on_step, view_in + ctl.components,
           view_names + ctrl_names, full, "step")
        on(self.reset_btn.click, self.on_reset, view_in + ctl.components,
           view_names + ctrl_names, full, "reset")
        # The timer's poll is public so gradio_client can stream exactly as the page does.
        on(self.timer.tick, self.poll, view_in, view_names, frame, "poll")
        for comp in (self.heat, self.arrows, self.mani, self.layer):
            on(comp.input, self.on_view, view_in, view_names, frame)
        # The page's own query (a share link) reaches on_load as request.query_params: gradio's
        # page sends window.location.search along with every event.
        on(demo.load, self.on_load, view_in + ctl.components, view_names + ctrl_names, full,
           "init", with_request=True)

        for name, comp in ctl.fields.items():
            handler = self.on_edit(name)
            handler.__name__ = f"edit_{name}"
            events = [comp.submit, comp.blur] if isinstance(comp, gr.Number) else \
                [comp.release] if isinstance(comp, gr.Slider) else [comp.input]
            for ev in events:
                on(ev, handler, view_in + ctl.components, view_names + ctrl_names, full)
        for name, slider in ctl.log_sliders.items():
            handler = self.on_log_slider(name)
            handler.__name__ = f"slide_{name}"
            on(slider.release, handler, [slider, *view_in, *ctl.components],
               [f"{name}_log10", *view_names, *ctrl_names], full)
        self.ctl.fields["reg"].change(lambda r: teaching.REGULARIZERS.get(r, ""),
                                      self.ctl.fields["reg"], self.reg_help,
                                      show_progress="hidden", api_visibility="private",
                                      queue=False)
        for name, btn in self.preset_btns.items():
            handler = self.on_preset(name)
            handler.__name__ = f"preset_{name}"
            on(btn.click, handler, view_in, view_names, full)
        on(self.export_btn.click, self.on_export, ctl.components, ctrl_names,
           [*full, self.cfg_json], "export")
        on(self.import_btn.click, self.on_import, [self.cfg_json], ["settings"], full,
           "load_settings")
        on(self.share_btn.click, self.on_share, [self.page_url, *ctl.components],
           ["page_url", *ctrl_names], [self.msg, self.share_box], "share_link",
           with_request=True, js=PAGE_URL_JS).then(
            None, [self.share_box], None, js=COPY_JS, show_progress="hidden",
            api_visibility="private", queue=False)
        for kind, btn in self.dl_btns.items():
            handler = self.on_download(kind)
            handler.__name__ = f"download_{kind}"
            on(btn.click, handler, ctl.components, ctrl_names, [self.msg, self.download],
               f"download_{kind}")
        for comp, fn, api in ((self.up_config, self.on_upload_config, "upload_config"),
                              (self.up_ckpt, self.on_upload_checkpoint, "upload_checkpoint"),
                              (self.up_points, self.on_upload_points, "upload_points")):
            on(comp.upload, self._consuming(fn), [comp, *view_in, *ctl.components],
               ["file", *view_names, *ctrl_names], full, api)
        demo.unload(self.on_unload)


def warm_up(renderers: Renderers) -> None:
    """Pay the one-off costs (torch kernels, matplotlib fonts, image codecs, the render child's
    start) at startup, so the first student's Train answers as fast as everyone else's."""
    from ..trainer import TrainingJob

    renderers.start()
    job = TrainingJob(RunConfig(), ttl_s=None)
    try:
        job.step(3)
        job.wait(timeout=30)
        snap = job.snapshot()
        renderers.draw("samples", "warm-up", snap)
        renderers.draw("weights", "warm-up", snap)
        renderers.drop("warm-up")
        plots.loss_frame(snap)
    finally:
        job.stop()


def build_demo(registry: Registry | None = None, *, renderers: Renderers | None = None,
               warm: bool = True) -> gr.Blocks:
    app = GanLabApp(registry, renderers)
    configure_torch(app.registry.limits)
    if warm:
        warm_up(app.renderers)
    demo = app.build()
    demo.queue(default_concurrency_limit=None)
    app.janitor = CacheJanitor(gr.utils.get_upload_folder(),
                               app.registry.limits.cache_mb * 1024 * 1024).start()
    demo.gan_lab = app  # tests and app.py reach the registry through this
    return demo


def serve(demo: gr.Blocks, **launch_kw) -> int:
    """Launch and serve until SIGTERM or SIGINT (Ctrl-C), then shut down in order: jobs
    stopped, workers and the render process joined, the app's temp folder and gradio's cache
    removed. Returns the exit status (0 for an orderly stop within SHUTDOWN_S)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    demo.launch(prevent_thread_lock=True, **launch_kw)
    while not stop.wait(0.5):
        pass
    log.warning("GAN Lab: shutting down")
    done = threading.Event()

    def shut():
        try:
            demo.gan_lab.close()
            demo.close()
        finally:
            done.set()

    threading.Thread(target=shut, name="gan-lab-shutdown", daemon=True).start()
    if not done.wait(SHUTDOWN_S):
        log.error("GAN Lab: shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_S)
        return 1
    return 0
