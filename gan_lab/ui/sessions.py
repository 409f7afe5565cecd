"""One training job per browser session, and the server-wide limits that keep a shared box usable.

A session is keyed by `storage.session_token(request.session_hash)`: gradio's session id (one
per open tab, and one per gradio_client.Client) is client text, so only its keyed hash is kept
and used (Session.key). The registry owns the jobs: a session's job starts as a preview (the
untrained networks on screen, no run anywhere), its run is created in the worker pool at the
first Train or Step, and every running run takes turns with the others on the pool's processes
(gan_lab/jobs/workers.py), so nobody is turned away while the run cap (memory) allows. Jobs stop
when a tab closes (gradio's unload) or when nobody has looked at them for `ttl_s` (the pool's
backstop, for tabs whose unload never arrives); every path that drops a job stops it, which
frees its run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import cost
from ..config import ConfigError, RunConfig, plan_change
from ..jobs import Job, OwnerBusy, PoolBusy, WorkerPool, make_job
from ..trainer import check_limits
from .controls import label_of
from .messages import ServerBusy
from .storage import session_token

log = logging.getLogger("gan_lab.ui")


def _env_num(env, name: str, default, cast=int, allow_zero: bool = False):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        v = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{name}={raw!r} must be a finite number")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}={raw!r} must be {'>= 0' if allow_zero else 'positive'}")
    return v


@dataclass
class Limits:
    """Server-wide caps, read from the environment so a deployment can tune them without code.

    GAN_LAB_MAX_RUNNING  runs training at the same instant, one per worker process (default 2:
                         one per core of a 2-vCPU box); more running runs take turns on them
    GAN_LAB_MAX_JOBS     runs alive at once (running or paused), server-wide: the memory cap
                         (a 2-D run holds a few MB, an MNIST conv run tens of MB)
    GAN_LAB_MAX_STEPS    steps per run per session
    GAN_LAB_MAX_PARAMS   G + D parameters per session
    GAN_LAB_MAX_STEP_GFLOP  the most one training step may cost (gan_lab.cost's estimate;
                         default 10: 0.1-0.55 s of one core): a worker cannot interrupt a
                         step, so this bounds how long one run keeps a core from the others
    GAN_LAB_MAX_EVAL_GFLOP  the most the evaluation at the end of a run may cost (default
                         1000: 3-17 s of one core, quality metrics and sharpness)
    GAN_LAB_MAX_STEP_MB  peak activation memory of a step or of that evaluation (default 512)
    GAN_LAB_RUNS_PER_SESSION  runs one session may hold in the workers at once: its run, run A
                         of a comparison and its sweep's runs (default 4; finished runs hold
                         none)
    GAN_LAB_JOB_TTL_S    a job nobody polled for this long stops itself (closed or lost tab)
    GAN_LAB_TORCH_THREADS  torch intra-op threads of the server process
    GAN_LAB_PROCESS_JOBS 0 trains in threads of the server process instead (slower while the
                         page renders, since they share the GIL; for debugging)
    GAN_LAB_CACHE_MB     gradio's upload/download cache is kept under this size (oldest
                         files deleted first)
    GAN_LAB_CACHE_AGE_S  cached files (unused uploads, served downloads) are deleted after this
    GAN_LAB_WORKER_NICE  niceness of the training processes (0-19; default 5): the page's
                         processes answer first, training takes the rest of the cores
    GAN_LAB_SAVED_PER_SESSION  runs one session may save (Save the run on screen; default 8)
    GAN_LAB_SAVED_MAX    saved runs in $GAN_LAB_RUNS_DIR/app in all (default 500)
    GAN_LAB_SAVED_MB_PER_SESSION  MB of saved runs per session (default 100)
    GAN_LAB_SAVED_MB     MB of saved runs in $GAN_LAB_RUNS_DIR/app in all, earlier server
                         starts' included (default 2048)
    """

    max_running: int = 2
    max_steps: int = 100_000
    max_params: int = 3_000_000
    ttl_s: float = 120.0
    torch_threads: int | None = None
    max_jobs: int = 64
    process_jobs: bool = True
    cache_mb: int = 512
    cache_age_s: int = 600
    worker_nice: int = 5
    saved_per_session: int = 8
    saved_total: int = 500
    max_step_gflop: float = cost.MAX_STEP_GFLOP
    max_eval_gflop: float = cost.MAX_EVAL_GFLOP
    max_step_mb: float = cost.MAX_STEP_MB
    runs_per_session: int = 4
    saved_mb_per_session: float = 100.0
    saved_mb: float = 2048.0

    @classmethod
    def from_env(cls, env=None) -> "Limits":
        env = os.environ if env is None else env
        d = cls()
        return cls(
            max_running=_env_num(env, "GAN_LAB_MAX_RUNNING", d.max_running),
            max_steps=_env_num(env, "GAN_LAB_MAX_STEPS", d.max_steps),
            max_params=_env_num(env, "GAN_LAB_MAX_PARAMS", d.max_params),
            ttl_s=_env_num(env, "GAN_LAB_JOB_TTL_S", d.ttl_s, float),
            torch_threads=_env_num(env, "GAN_LAB_TORCH_THREADS", None),
            max_jobs=_env_num(env, "GAN_LAB_MAX_JOBS", d.max_jobs),
            process_jobs=env.get("GAN_LAB_PROCESS_JOBS", "1").strip() != "0",
            cache_mb=_env_num(env, "GAN_LAB_CACHE_MB", d.cache_mb),
            cache_age_s=_env_num(env, "GAN_LAB_CACHE_AGE_S", d.cache_age_s),
            worker_nice=_env_num(env, "GAN_LAB_WORKER_NICE", d.worker_nice, allow_zero=True),
            saved_per_session=_env_num(env, "GAN_LAB_SAVED_PER_SESSION", d.saved_per_session),
            saved_total=_env_num(env, "GAN_LAB_SAVED_MAX", d.saved_total),
            max_step_gflop=_env_num(env, "GAN_LAB_MAX_STEP_GFLOP", d.max_step_gflop, float),
            max_eval_gflop=_env_num(env, "GAN_LAB_MAX_EVAL_GFLOP", d.max_eval_gflop, float),
            max_step_mb=_env_num(env, "GAN_LAB_MAX_STEP_MB", d.max_step_mb, float),
            runs_per_session=_env_num(env, "GAN_LAB_RUNS_PER_SESSION", d.runs_per_session),
            saved_mb_per_session=_env_num(env, "GAN_LAB_SAVED_MB_PER_SESSION",
                                          d.saved_mb_per_session, float),
            saved_mb=_env_num(env, "GAN_LAB_SAVED_MB", d.saved_mb, float),
        )

    def threads(self) -> int:
        """Intra-op threads of the server process (previews, drawing helpers): the cores belong
        to the worker processes, so one unless set."""
        return self.torch_threads or 1


def configure_torch(limits: Limits) -> None:
    torch.set_num_threads(limits.threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; harmless when already fixed


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
        """The tab closed: stop its job and forget it. Returns the session (None if unknown)."""
        with self._lock:
            s = self._sessions.pop(session_token(session_hash), None)
        if s is not None:
            self._forget(s, "Stopped: the page was closed.")
        return s

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
        for s in gone:
            self._forget(s, "Stopped: the page was closed.")

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
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
        if cfg.dataset == "custom" and s.points is None:
            return [ConfigError("dataset", "'custom' needs your points, which a link or "
                                           "config file cannot carry; upload your points CSV "
                                           "first, or choose another dataset")]
        try:
            self.check(cfg)
        except ConfigError as e:
            return [e]
        return []

    def new_job(self, s: Session, cfg: RunConfig, points: Any = None) -> None:
        """Give the session a fresh job on `cfg` (a preview: cheap), stopping its old one."""
        self.check(cfg)
        job = self.make_job(s, cfg, points)
        old, s.job = s.job, job
        if old is not None:
            # Idempotent; for a job whose worker died this is what frees its run.
            old.stop("Replaced by a new run.")
        s.shown.clear()

    def make_job(self, s: Session, cfg: RunConfig, points: Any = None) -> Job:
        """A job for one of the session's runs (a preview until it trains)."""
        return make_job(cfg, points, ttl_s=self.limits.ttl_s, history_cap=self.history_cap,
                        pool=self.pool, owner=s.key)

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
            self.new_job(s, cfg, s.points if cfg.dataset == "custom" else None)
            return note
        change = plan_change(job.cfg, cfg)
        if change.rebuild:
            untouched = job.state == "idle" and job.snapshot().step == 0
            was_running = job.state == "running"
            job.reset(cfg)
            s.shown.clear()
            if untouched:  # nothing was lost, so nothing to explain
                return ""
            what = ", ".join(label_of(k) for k in change.rebuild)
            return (f"Rebuilt the networks for the new {what} (fresh weights from seed "
                    f"{cfg.seed}, step 0)." + (" The old run was discarded." if was_running
                                               else ""))
        if change.live:
            job.update(**change.live)
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
