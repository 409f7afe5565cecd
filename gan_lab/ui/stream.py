"""Streaming a session's run to its page: what changed since the last frame, pictures drawn
one poll ahead in the render process, and the status line.

A gr.Timer calls the public "poll" endpoint every FAST_TICK_S while the job runs and every
SLOW_TICK_S otherwise (the slow tick keeps a paused job's time-to-live fresh while its tab is
open). A poll sends only what changed since the session's previous frame (gr.skip() for the
rest), so an idle or paused page costs almost nothing. Pictures are drawn by a child process
(render_worker) one poll ahead: a poll hands over the picture finished since the last one and
starts the next, so no tick waits for matplotlib. Button handlers instead wait (at most
DRAW_WAIT_S) for pictures of exactly the state they produced.
"""

from __future__ import annotations

import base64
import threading
import time
from concurrent import futures
from typing import Any, NamedTuple

import gradio as gr

from .. import plots
from ..data import kind_of
from ..exports import FrameRecorder
from ..i18n import t
from ..i18n.runtext import axis_title
from ..plots.curves import CLASS_ROWS_PER_SERIES, MAX_ROWS_PER_SERIES
from ..snapshot import JobState
from . import compat, runaway, status, watching
from .lang import metric_title
from .layout import FAST_TICK_S, QUALITY_CHARTS, SLOW_TICK_S
from .messages import lang_of
from .render_worker import IMAGE_FORMAT, RenderService
from .sessions import Session
from .waiting import waiting_text

# The render process's share of a core that watchers' pictures may take while runs train: with
# many watchers each session's pictures come less often, so the class's pictures together cost
# about this much (the time a picture takes is measured as they are drawn).
RENDER_CORES = 0.15
# The histogram changes slowly and costs as much to encode as the samples; refreshing it at most
# this often leaves the CPU to training.
WEIGHTS_MIN_INTERVAL_S = 1.0
# A button's answer waits this long in all for its pictures; a later poll delivers the rest.
# With more than BUSY_DRAWS pictures queued for the render process it waits BUSY_DRAW_WAIT_S.
DRAW_WAIT_S = 5.0
BUSY_DRAWS = 4
BUSY_DRAW_WAIT_S = 0.3
# With N runs taking turns on K worker processes a run's new state arrives about every
# N/K x 0.2 s (one training slice each, jobs/workers.py): the page polls FAST_TICK_S x N/K apart,
# at most this many times FAST_TICK_S (4 s), so polls that would fetch nothing new do not cost
# the shared server (each poll is a whole gradio request, ~30 ms of the server's CPU with its
# charts). A class of 30 on 2 cores: a run moves every ~3 s, its page polls every 3.75 s (the
# cap was 2 s until issue 19: a third of the class's polls fetched nothing new).
MAX_SLOWDOWN = 16.0
# GIF of the run: at most this many frames of at most this many pixels a side (60 x 256 x 256 x 3
# bytes = 11.8 MB per session at most; the recorder thins frames as the run grows).
GIF_MAX_FRAMES = 60
GIF_MAX_SIDE = 256

PENALTY_NAMES = tuple(name for _, name in plots.PENALTY_SERIES)
def _plot_data(image: bytes):
    data = base64.b64encode(image).decode("ascii")
    return compat.plot_data(f"data:image/{IMAGE_FORMAT};base64,{data}")


def _frame_or_none(df):
    """None clears a chart; an empty frame would make gradio's LinePlot lay itself out at zero
    height and stay blank after data arrives (seen after page load, before the first step)."""
    return df if len(df) else None


class Picture(NamedTuple):
    """A picture a frame wants: drawn by `op` in the render process (renderer key `rkey`) from
    `payload`, shown in `comp`; redrawn when `key` changes. `record`: also a GIF frame."""

    name: str
    comp: Any
    key: Any
    op: str
    rkey: str
    payload: Any
    opts: dict
    record: bool = False


class Stream:
    """Renders sessions' frames (see the module docstring). `page` holds the components."""

    def __init__(self, page, registry, renderers: RenderService):
        self.page = page
        self.registry = registry
        self.renderers = renderers
        # Extra views (compare, sweep): fn(session, out) -> [Picture], may add to `out`.
        self.extras: list = []
        self._inflight = 0            # pictures queued or being drawn, all sessions
        self._count_lock = threading.Lock()
        self._draw_s = 0.02           # seconds a picture takes to draw (running mean)
        # One drawing thread: the child process draws one picture at a time anyway.
        self._draw_pool = futures.ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="gan-lab-draw")

    def close(self) -> None:
        self._draw_pool.shutdown(wait=False, cancel_futures=True)

    def _drawn(self, _fut) -> None:
        with self._count_lock:
            self._inflight -= 1

    def status_text(self, snap, warning: str = "", lang: str = "en") -> str:
        """The status line (ui/status.py), with the server's share in it."""
        return status.status_text(snap, self.registry.describe(snap.state == JobState.RUNNING),
                                  warning, lang)

    def render(self, s: Session, heat: bool, arrows: bool, mani: bool, layer: str,
               wait: bool = False) -> dict:
        """The parts of the page that changed since this session's last frame.

        wait=False (the timer): pictures are drawn in the background and delivered by a later
        poll, so a frame never waits for matplotlib. wait=True (buttons): the answer carries
        pictures of exactly the state the button produced (within DRAW_WAIT_S)."""
        p = self.page
        job = s.job
        if job is None:   # only a sweep, say: its view still updates
            out: dict = {}
            self._pictures(s, out, [w for extra in self.extras for w in extra(s, out)],
                                  wait)
            return out or {p.status: gr.skip()}
        # View inputs come from the client: anything unexpected means the default view.
        layer = layer if isinstance(layer, str) else "all"
        heat, arrows, mani = (v is not False for v in (heat, arrows, mani))
        out: dict = {}
        snap = job.snapshot()
        sh = s.shown
        if "version" not in sh or s.recorder is None:
            # shown is cleared exactly when a run starts over (new tab, Reset, rebuild, a
            # loaded checkpoint or points), so the GIF starts over with it.
            s.recorder = FrameRecorder(GIF_MAX_FRAMES, max_side=GIF_MAX_SIDE)
        kind = (snap.is_image, kind_of(snap.cfg.dataset).digits, snap.modes is not None)
        layout = {}
        if sh.get("kind") != kind:
            sh["kind"] = kind
            layout = self._chart_layout(snap, lang_of(s))
        fast = self.fast_tick()   # once per frame: it counts the running jobs of all sessions
        if sh.get("version") != snap.version:
            sh["version"] = snap.version
            out.update(self._curves(s, snap, crowded=fast >= 4 * FAST_TICK_S))
            out[p.status] = self.status_text(snap, sh.get("runaway", ""), lang_of(s))
        for comp, update in layout.items():
            # A chart's new title and its data in one update: a plain value for the same
            # component would replace the title (MNIST pages kept the 2-D chart titles).
            if comp not in out:
                out[comp] = update
            elif isinstance(out[comp], dict):   # the curves' own update (a waiting title)
                out[comp] = {**update, **out[comp]}
            else:
                out[comp] = {**update, "value": out[comp]}
        names = plots.layer_names(snap)
        if sh.get("layers") != names:
            sh["layers"] = names
            if layer not in names:
                layer = "all"
            out[p.layer] = gr.update(choices=names, value=layer)
        elif layer not in names:
            layer = "all"
        # The run's pictures live on the Watch tab: another tab's page draws none of them (the
        # first frame back on Watch draws what is out of date).
        wants = (self._main_pictures(s, snap, heat, arrows, mani, layer, wait, fast)
                 if getattr(s, "tab", "watch") == "watch" else [])
        for extra in self.extras:   # compare and sweep views (ui/many.py)
            wants += extra(s, out)
        busy = self._pictures(s, out, wants, wait)
        running = any(j.state == JobState.RUNNING for j in s.jobs())
        tick = fast if running or busy else SLOW_TICK_S
        if sh.get("tick") != tick:
            sh["tick"] = tick
            out[p.timer] = gr.Timer(value=tick, active=True)
        if not out:
            # gradio reads an empty dict as one (missing) value, not as "nothing changed"
            out[p.status] = gr.skip()
        return out

    def hidden_frame(self, s: Session) -> dict:
        return watching.hidden_frame(self.page, s)

    def fast_tick(self) -> float:
        """The poll period while a run trains: FAST_TICK_S, longer when more runs take turns
        than there are cores (each run then advances only in its turns, so polling faster
        would fetch nothing new and cost the shared server)."""
        share = self.registry.stats()["running"] / max(1, self.registry.limits.max_running)
        return FAST_TICK_S * min(MAX_SLOWDOWN, max(1.0, round(share)))

    def _chart_layout(self, snap, lang: str = "en") -> dict:
        """Titles and visibility of the charts for this kind of data: 2-D with modes (modes,
        high-quality %), other 2-D shapes (divergence only), images (digits, inception score,
        FCD). The heatmap, arrows and noise grid toggles are 2-D only."""
        p = self.page
        digits = kind_of(snap.cfg.dataset).digits
        shown = {kind for _, kind in self._shown_charts(snap)}
        out = {p.view_row: gr.update(visible=not snap.is_image)}
        for name, kind, _elem in QUALITY_CHARTS:
            out[getattr(p, name)] = gr.update(label=metric_title(kind, digits, lang),
                                              visible=kind in shown)
        out[p.gap_box] = gr.update(visible="generalization" in shown)   # D's held-out gap
        return out

    def _curves(self, s: Session, snap, crowded: bool = False) -> dict:
        """The charts' updates. crowded: a class shares the server (about four runs or more per
        training process): the loss chart gets half the rows."""
        p = self.page
        sh = s.shown
        out: dict = {}
        df = plots.loss_frame(snap, CLASS_ROWS_PER_SERIES if crowded
                              else MAX_ROWS_PER_SERIES)
        # Penalties get their own chart: lambda * sum|w| is often 10-100x the adversarial
        # losses and would flatten them into a line at the bottom of a shared axis.
        is_pen = df["series"].isin(PENALTY_NAMES)
        losses, warning = runaway.check(df[~is_pen])
        sh["runaway"] = warning
        lang = lang_of(s)
        label = t("plot.losses.log" if warning else "plot.losses" if len(losses)
                  else "plot.losses.wait", lang)
        value = _frame_or_none(losses)
        if sh.get("loss_label") != label:
            sh["loss_label"] = label
            value = gr.update(value=value, label=label,
                              y_title=runaway.Y_TITLE if warning else axis_title("loss", lang))
        out[p.loss_plot] = value
        pen = df[is_pen]
        if len(pen):
            out[p.pen_plot] = gr.update(value=pen, visible=True)
            sh["pen"] = True
        elif sh.get("pen", True):
            out[p.pen_plot] = gr.update(value=None, visible=False)
            sh["pen"] = False
        mcols = snap.metrics or {}
        mkey = (len(mcols.get("step", ())), tuple(mcols),
                tuple(float(mcols[k][-1]) for k in mcols if len(mcols[k])))
        if sh.get("metrics") != mkey:
            sh["metrics"] = mkey
            for comp, kind in self._shown_charts(snap):
                out[comp] = self._metric_chart(sh, comp, kind, snap, lang)
            lam = plots.metric_frame(snap, "lambda")   # an adaptive lambda's curve
            if len(lam) or sh.get("lam"):
                out[p.lam_plot] = gr.update(value=_frame_or_none(lam), visible=bool(len(lam)))
                sh["lam"] = bool(len(lam))
        return out

    def _shown_charts(self, snap) -> list[tuple[Any, str]]:
        """The metric charts this kind of data shows: 2-D with modes the quality charts, other
        2-D shapes divergence only, digits also D's held-out gap. `_chart_layout` hides the
        others and `_curves` does not update them (a hidden chart's new title would only cost
        the server: each is a component rebuilt by gradio)."""
        p = self.page
        digits = kind_of(snap.cfg.dataset).digits
        with_modes = digits or snap.modes is not None
        charts = [(getattr(p, name), kind) for name, kind, _ in QUALITY_CHARTS
                  if with_modes or kind == "divergence"]
        charts += [(p.sparsity_plot, "sparsity"), (p.sharp_plot, "sharpness"),
                   (p.spec_plot, "spectrum")]
        if digits:
            charts.append((p.gap_plot, "generalization"))
        return charts

    @staticmethod
    def _metric_chart(sh: dict, comp, kind: str, snap, lang: str = "en"):
        """A metric chart's data; while it has none, its title says what it waits for (the
        step of its first measurement). The title is sent only when it changes."""
        df = plots.metric_frame(snap, kind)
        title = metric_title(kind, kind_of(snap.cfg.dataset).digits, lang)
        if not len(df):
            title += " · " + waiting_text(kind, snap, lang)
        labels = sh.setdefault("labels", {})
        if labels.get(id(comp)) == title:
            return _frame_or_none(df)
        labels[id(comp)] = title
        return gr.update(value=_frame_or_none(df), label=title)

    def _main_pictures(self, s: Session, snap, heat, arrows, mani, layer,
                       wait: bool, fast: float) -> list[Picture]:
        p = self.page
        sh = s.shown
        jid = id(s.job)   # a rebuilt job counts weights_version from 1 again
        now = time.monotonic()
        # Pictures cost the shared cores what training needs: while more runs take turns than
        # there are cores, each session's pictures are redrawn less often (by the same factor
        # as its poll period).
        slow = fast / FAST_TICK_S
        out = []
        running = snap.state == JobState.RUNNING
        # ... and never more often than the render process can draw every watcher's pictures
        # in RENDER_CORES of a core (samples and histogram: two pictures a session).
        budget = 2 * self._draw_s * self.registry.stats()["running"] / RENDER_CORES
        skey = (jid, snap.weights_version, heat, arrows, mani, lang_of(s))
        if self._paced(s, "samples", skey, max(FAST_TICK_S * slow, budget), now,
                       wait or not running
                       or slow <= 1 or sh.get("samples") is None):
            out.append(Picture("samples", p.samples_plot, skey, "samples", s.key, snap,
                               dict(heatmap=heat, arrows=arrows, manifold=mani, lang=skey[-1]),
                               record=self._frame_due(s, snap)))
        wkey = (jid, snap.weights_version, layer, snap.cfg.sparsity_eps, snap.cfg.reg_bias,
                skey[-1])
        # The histogram changes slowly and costs as much to encode as the samples: while a run
        # trains it is redrawn at most every WEIGHTS_MIN_INTERVAL_S (times the slow-down).
        if self._paced(s, "weights", wkey, max(WEIGHTS_MIN_INTERVAL_S * slow, 2 * budget), now,
                       wait or not running or sh.get("weights_layer") != layer,
                       weights_layer=layer):
            out.append(Picture("weights", p.weights_plot, wkey, "weights", s.key, snap,
                               dict(layer=layer, lang=skey[-1])))
        return out

    @staticmethod
    def _paced(s: Session, name: str, key, interval: float, now: float, force: bool,
               **started) -> bool:
        """Whether picture `name` (showing `key`) is asked for in this frame: when `force`d, or
        `interval` s after its last new drawing began (then `started` is recorded with the
        time). A picture held back is remembered as pending, so the timer keeps ticking."""
        sh = s.shown
        if force or now - sh.get(f"{name}_t", 0.0) >= interval:
            if sh.get(name) != key and name not in s.draws:
                sh[f"{name}_t"] = now
                sh.update(started)
            return True
        if sh.get(name) != key:
            sh["picture_pending"] = True
        return False

    def _pictures(self, s: Session, out: dict, wants: list[Picture], wait: bool) -> bool:
        """Start drawing the pictures that are out of date; put finished ones in `out`.
        Returns whether a picture is still pending (the timer then keeps ticking fast)."""
        sh = s.shown
        comp_of = {w.name: w.comp for w in wants}
        # A button's answer waits for its pictures, but not beyond DRAW_WAIT_S in all, and
        # hardly at all while the render process has other sessions' pictures queued (a class
        # pressing Train together): a later poll delivers them instead.
        budget = DRAW_WAIT_S if self._inflight <= BUSY_DRAWS else BUSY_DRAW_WAIT_S
        deadline = time.monotonic() + budget
        for _ in range(3 if wait else 1):
            # Collect first, then submit: a picture finished since the last poll is shown now
            # and the next one starts drawing in the same poll.
            for name, (key, comp, fut) in list(s.draws.items()):
                if wait:
                    futures.wait([fut], timeout=max(0.0, deadline - time.monotonic()))
                if fut.done():
                    del s.draws[name]
                    try:
                        target = comp_of.get(name, comp)
                        prev = out.get(target)   # a label set in the same frame stays
                        data = _plot_data(fut.result())
                        out[target] = {**prev, "value": data} if isinstance(prev, dict) \
                            else data
                        sh[name] = key
                    except Exception:  # noqa: BLE001 - one failed picture is redrawn later
                        sh.pop(name, None)
            todo = [w for w in wants if sh.get(w.name) != w.key and w.name not in s.draws]
            for w in todo:   # one drawing per picture in flight; the newest wins next time
                rec = s.recorder if w.record else None
                fut = self._draw_pool.submit(self._draw, w.op, w.rkey, w.payload, w.opts, rec)
                with self._count_lock:
                    self._inflight += 1
                fut.add_done_callback(self._drawn)
                s.draws[w.name] = (w.key, w.comp, fut)
            if not wait or not (todo or s.draws):
                break
        return bool(s.draws) or bool(sh.pop("picture_pending", False))

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
        return snap.state != JobState.RUNNING and bool(rec.steps) and snap.step > rec.steps[-1]

    def _draw(self, op: str, key: str, payload, opts: dict, rec) -> bytes:
        """Draw in the render process. With a recorder, the render process also returns the
        same picture as a small RGB array, which becomes a GIF frame: the frames are exactly
        what the page showed, drawn once. A recorder replaced meanwhile (Reset) just gets a
        frame nobody reads."""
        t = time.monotonic()
        if rec is None:
            image = self.renderers.draw(op, key, payload, **opts)
        else:
            image, frame = self.renderers.draw(op, key, payload, frame_side=rec.max_side,
                                               **opts)
            rec.add(payload, frame=frame)
        if op in ("samples", "weights"):   # the pacing's measure (_main_pictures)
            self._draw_s += 0.1 * (time.monotonic() - t - self._draw_s)
        return image
