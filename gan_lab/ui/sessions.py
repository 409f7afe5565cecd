"""One training job per browser session, and the server-wide limits that keep a shared box usable.

A session is keyed by `storage.session_token(request.session_hash)`: gradio's session id (one
per open tab, and one per gradio_client.Client) is client text, so only its keyed hash is kept
and used (Session.key). The registry owns the jobs: a session's job starts as a preview (the
untrained networks on screen, no run anywhere), its run is created in the worker pool at the
first Train or Step, and every running run takes turns with the others on the pool's processes
(gan_lab/jobs/workers.py), so nobody is turned away while the run cap (memory) allows. Jobs stop
when a tab closes (gradio's unload) or when nobody has looked at them for `ttl_s` (the pool's
backstop, for tabs whose unload never arrives); every path that drops a job stops it, which
frees its run. A page that holds a resume token (ui/resume.py) is parked instead when its tab
goes away, its runs paused, for `ttl_s`: a reload of that tab takes the session back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import cost
from ..config import ConfigError, RunConfig, plan_change
from ..data import needs_points
from ..i18n import t
from ..jobs import Job, OwnerBusy, PoolBusy, WorkerPool, make_job
from ..placement import check_limits
from . import resume
from .limits import Limits, configure_torch  # noqa: F401 - re-exported
from .messages import ServerBusy, lang_of
from .notes import changes
from .storage import session_token

log = logging.getLogger("gan_lab.ui")


@dataclass
class Session:
    key: str            # session_token(session_hash): safe in names, logs and file paths
    job: Job | None = None
    # What the page currently shows, so a poll sends only what changed.
    shown: dict[str, Any] = field(default_factory=dict)
    # Pictures being drawn in the background: kind -> (what they show, Future).
    draws: dict[str, Any] = field(default_factory=dict)
    bad_field: str | None = None
    # The N x 2 points of the user's uploaded CSV (dataset 'custom'); every job built for this
    # session must get them, since a job cannot take points after it is made.
    points: Any = None
    # exports.FrameRecorder of the current run (frames for the GIF download); a new one per run.
    recorder: Any = None
    last_seen: float = field(default_factory=time.monotonic)
    # Serializes this session's handlers: a poll never renders while Reset swaps the job.
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Run A of a comparison (the session's `job` is run B while one is set up).
    job_a: Job | None = None
    # ui.many.SweepState of the session's sweep, if any.
    sweep: Any = None
    # The painted distribution: data.drawing counts, and the clicks that made it (for Undo).
    drawing: Any = None
    strokes: list = field(default_factory=list)
    points_drawn: bool = False      # `points` came from the drawing (so a link can carry it)
    # The page's selected tab ("watch", "compare", ...): pictures of hidden tabs wait.
    tab: str = "watch"
    # The dataset the controls show (a dataset change swaps that dataset's defaults for the new
    # one's: config.switch_dataset).
    controls_dataset: str | None = None
    # Runs saved by this session (ui.saved.Saved), the ids chosen to overlay, and the overlay
    # shown: (ids, the runs' curves).
    saved: list = field(default_factory=list)
    saved_pick: list = field(default_factory=list)
    saved_view: Any = None
    # The guided lesson on screen (an index into lessons.LESSONS), if any.
    lesson: int | None = None
    # The page's resume token (ui/resume.py): a reload of the tab gets this session back.
    resume: str | None = None

    def jobs(self) -> list[Job]:
        """Every job of the session: its run, run A of a comparison, its sweep's runs."""
        out = [j for j in (self.job, self.job_a) if j is not None]
        if self.sweep is not None:
            out += [j for j in self.sweep.jobs if j is not None]
        return out

    def stop_all(self, message: str) -> None:
        for j in self.jobs():
            j.stop(message)


class Registry:
    def __init__(self, limits: Limits | None = None, *, history_cap: int = 400):
        self.limits = limits or Limits.from_env()
        self.history_cap = history_cap
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        # Called with a session's key when it is forgotten (tab closed, or silent too long):
        # the app drops the session's downloads and pictures there.
        self.on_forget: list = []
        # Sessions of closed or reloading tabs, by resume token, for the runs' time-to-live.
        self.parking = resume.Parking(self.limits.ttl_s)
        # Warm worker processes (torch imported), one per core, hosting every session's run.
        self.pool = (WorkerPool(processes=self.limits.max_running,
                                max_runs=self.limits.max_jobs, nice=self.limits.worker_nice,
                                per_owner=self.limits.runs_per_session)
                     if self.limits.process_jobs else None)
        cost.net_cost(RunConfig())   # the first meta-device forward of a process takes ~1.5 s

    # --- sessions ------------------------------------------------------------------------------
    def get(self, session_hash: str | None) -> Session:
        key = session_token(session_hash)
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self._sessions[key] = Session(key)
            s.last_seen = time.monotonic()
        # Liveness is the page's: any request of it (a poll, whichever tab is shown) keeps
        # every run of the session alive, run A and the sweep's runs included.
        for j in s.jobs():
            j.touch()
        self.sweep()
        return s

    def drop(self, session_hash: str | None) -> Session | None:
        """The tab closed: stop its job and forget it, or, when its page holds a resume token,
        pause its runs and park it for their time-to-live (a reload takes it back: `resume`).
        Returns the session (None if unknown)."""
        with self._lock:
            s = self._sessions.pop(session_token(session_hash), None)
            if s is not None and any(v is s for v in self._sessions.values()):
                return s   # a reload already took it over under its new id
        if s is not None and s.resume is not None:
            for j in s.jobs():
                if j.state == "running":
                    j.pause()
            self.parking.park(s.resume, s)
        elif s is not None:
            self._forget(s, "Stopped: the page was closed.")
        return s

    def resume(self, session_hash: str | None, token) -> Session | None:
        """The session a reloaded page's resume token names, now under the page's new id
        (None for an unknown, stale or forged token: the page gets a fresh session)."""
        if not resume.valid(token):
            return None
        key = session_token(session_hash)
        with self._lock:
            s = self.parking.take(token)
            if s is None:   # its old page's unload has not arrived yet (gradio waits for it)
                s = next((v for v in self._sessions.values() if v.resume == token), None)
            if s is None:
                return None
            for k in [k for k, v in self._sessions.items() if v is s]:
                del self._sessions[k]
            self._sessions[key] = s
            s.last_seen = time.monotonic()
        for j in s.jobs():
            j.touch()
        return s

    def issue(self, s: Session) -> str:
        """The session's resume token (made once, by the server)."""
        if s.resume is None:
            s.resume = resume.new_token()
        return s.resume

    def _forget(self, s: Session, message: str) -> None:
        s.stop_all(message)
        for fn in self.on_forget:
            try:
                fn(s.key)
            except Exception:  # noqa: BLE001 - forgetting one session must not stop the rest
                log.exception("forgetting a session's files failed")

    def sweep(self) -> None:
        """Forget sessions nobody has touched for a while. An open tab polls at least every few
        seconds (slower in a hidden tab, which browsers throttle to about once a minute), so
        silence for `forget_after_s` means the tab is gone and its unload never arrived."""
        now = time.monotonic()
        forget = max(4 * self.limits.ttl_s, 600.0)
        with self._lock:
            stale = [k for k, s in self._sessions.items() if now - s.last_seen > forget]
            gone = [self._sessions.pop(k) for k in stale]
        for s in gone + self.parking.expired():
            self._forget(s, "Stopped: the page was closed.")

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions + self.parking.all():
            s.stop_all("Stopped: the server is shutting down.")
        if self.pool is not None:
            self.pool.close()

    def running(self, exclude: Session | None = None) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if s is not exclude
                       for j in s.jobs() if j.state == "running")

    def stats(self) -> dict[str, int]:
        with self._lock:
            jobs = [j for s in self._sessions.values() for j in s.jobs()]
        # "running": the runs taking turns now (a hidden page's run waits: jobs/watch.py)
        return {"sessions": len(self._sessions), "jobs": len(jobs),
                "running": sum(j.runnable() for j in jobs)}

    def describe(self, me_running: bool) -> str:
        """The server's load in a student's words, for the status line."""
        n = self.stats()["running"]
        cores = self.limits.max_running if self.pool is not None else 1
        others = n - 1 if me_running else n
        if others <= 0:
            return "server: no other run training"
        if n <= cores:
            return f"server: {others} other run{'s' * (others != 1)} training"
        return (f"sharing the server with {others} other run{'s' * (others != 1)} "
                f"({n} runs take turns on {cores} core{'s' * (cores != 1)})")

    # --- jobs ------------------------------------------------------------------------------------
    def check(self, cfg: RunConfig) -> None:
        """This server's caps, before anything is built: steps, parameters, and the cost of a
        step and of the final evaluation (gan_lab.cost)."""
        lim = self.limits
        check_limits(cfg, lim.max_steps, lim.max_params)
        cost.check(cfg, lim.max_step_gflop, lim.max_eval_gflop, lim.max_step_mb)

    def usable(self, s: Session, cfg: RunConfig) -> list[ConfigError]:
        """What stops a valid config from being used on this server by this session."""
        if needs_points(cfg.dataset) and s.points is None:
            return [ConfigError("dataset", "'custom' needs your points, which a link or "
                                           "config file cannot carry; upload your points CSV "
                                           "first, or choose another dataset")]
        try:
            self.check(cfg)
        except ConfigError as e:
            return [e]
        return []

    def new_job(self, s: Session, cfg: RunConfig) -> None:
        """Give the session a fresh job on `cfg` (a preview: cheap), stopping its old one."""
        self.check(cfg)
        job = self.make_job(s, cfg)
        old, s.job = s.job, job
        if old is not None:
            # Idempotent; for a job whose worker died this is what frees its run.
            old.stop("Replaced by a new run.")
        s.shown.clear()

    def make_job(self, s: Session, cfg: RunConfig) -> Job:
        """A job for one of the session's runs (a preview until it trains), on the session's
        points when cfg's dataset needs them."""
        return make_job(cfg, s.points if needs_points(cfg.dataset) else None,
                        ttl_s=self.limits.ttl_s, history_cap=self.history_cap, pool=self.pool,
                        owner=s.key)

    def ensure_job(self, s: Session, cfg: RunConfig) -> str:
        """Make the session's job match `cfg`; returns a note for the user ('' when nothing
        visible happened). Live fields are applied in place; any other change rebuilds the
        networks from cfg.seed (a new run from step 0)."""
        self.check(cfg)
        job = s.job
        if job is None or job.state in ("stopped", "error"):
            note = ""
            if job is not None:
                note = f"The previous run had {job.state} ({job.snapshot().message}); " \
                       "started a fresh one."
            self.new_job(s, cfg)
            return note
        change = plan_change(job.cfg, cfg)
        if change.rebuild:
            untouched = job.state == "idle" and job.snapshot().step == 0
            was_running = job.state == "running"
            lang = lang_of(s)
            what = changes(job.cfg, cfg, change.rebuild, lang)
            job.reset(cfg)
            s.shown.clear()
            if untouched:  # nothing was lost, so nothing to explain
                return ""
            return (t("note.rebuilt_run", lang, what=what, seed=cfg.seed)
                    + (t("note.discarded", lang) if was_running else ""))
        if change.live:   # only live fields differ: cfg (validated) is the job's new config
            job.update(cfg)
        return ""

    def start(self, s: Session, cfg: RunConfig) -> str:
        """Make the session's job match `cfg` and start or resume it. Returns ensure_job's
        note; ServerBusy when the server holds as many runs as it allows."""
        note = self.ensure_job(s, cfg)
        with self._busy_is_a_message():
            s.job.start()
        return note

    def step(self, s: Session, cfg: RunConfig, n: int = 1) -> str:
        note = self.ensure_job(s, cfg)
        with self._busy_is_a_message():
            s.job.step(n)
        return note

    @contextlib.contextmanager
    def _busy_is_a_message(self):
        try:
            yield
        except PoolBusy as e:
            raise ServerBusy(self.busy_text(e)) from None

    def busy_text(self, e: PoolBusy) -> str:
        if isinstance(e, OwnerBusy):
            return (f"This page already holds {self.limits.runs_per_session} runs in training "
                    "(its run, run A and sweep runs together; finished ones do not count), the "
                    "most one page may: stop the sweep or reset a run first. Your settings are "
                    "kept.")
        return (f"Server busy: it holds {self.limits.max_jobs} runs already, the most it "
                "allows. Try again shortly; your settings are kept.")
