"""One training job per browser session, and the server-wide limits that keep a shared box usable.

A session is keyed by `storage.session_token(request.session_hash)`: gradio's session id (one
per open tab, and one per gradio_client.Client) is client text, so only its keyed hash is kept
and used (Session.key). The registry owns the jobs: it builds them within the per-session caps,
starts them only while fewer than `max_running` jobs of the whole server are running (a session
that cannot run is told so before any worker is taken for it), and stops them when a tab closes
(gradio's unload) or when nobody has looked at them for `ttl_s` (the job's own backstop, for
tabs whose unload never arrives). Every path that drops a job stops it, which hands its worker
back to the pool (and reaps a dead one).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import LIVE_FIELDS, RunConfig
from ..procjob import PoolBusy, WorkerPool
from ..trainer import TrainingJob, check_limits
from .controls import label_of
from .jobs import make_job
from .storage import session_token


class ServerBusy(Exception):
    """Too many jobs running on this server; the message says so in a user's words."""


def _env_num(env, name: str, default, cast=int):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        v = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if v <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return v


@dataclass
class Limits:
    """Server-wide caps, read from the environment so a deployment can tune them without code.

    GAN_LAB_MAX_RUNNING  jobs training at once, server-wide (default 2: one per core of a
                         2-vCPU box; more would only slow every job down)
    GAN_LAB_MAX_STEPS    steps per run per session
    GAN_LAB_MAX_PARAMS   G + D parameters per session
    GAN_LAB_JOB_TTL_S    a job nobody polled for this long stops itself (closed or lost tab)
    GAN_LAB_TORCH_THREADS  torch intra-op threads for the whole process
    GAN_LAB_MAX_JOBS     training processes alive at once, running or paused (default 8: each
                         holds ~200 MB; a session's job keeps its process until the tab closes)
    GAN_LAB_PROCESS_JOBS 0 trains in threads of the server process instead (slower while the
                         page renders, since they share the GIL; for debugging)
    GAN_LAB_CACHE_MB     gradio's upload/download cache is kept under this size (oldest
                         files deleted first)
    GAN_LAB_CACHE_AGE_S  cached files (unused uploads, served downloads) are deleted after this
    """

    max_running: int = 2
    max_steps: int = 100_000
    max_params: int = 3_000_000
    ttl_s: float = 120.0
    torch_threads: int | None = None
    max_jobs: int = 8
    process_jobs: bool = True
    cache_mb: int = 512
    cache_age_s: int = 600

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
        )

    def threads(self) -> int:
        """Intra-op threads per torch op. The small nets of this app gain little from more than
        one thread, and with `max_running` jobs plus the web server sharing the cores,
        oversubscription would make every job slower."""
        if self.torch_threads:
            return self.torch_threads
        cores = os.cpu_count() or 1
        return max(1, cores // (self.max_running + 1))


def configure_torch(limits: Limits) -> None:
    torch.set_num_threads(limits.threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; harmless when already fixed


@dataclass
class Session:
    key: str            # session_token(session_hash): safe in names, logs and file paths
    job: TrainingJob | None = None
    # What the page currently shows, so a poll sends only what changed.
    shown: dict[str, Any] = field(default_factory=dict)
    # Pictures being drawn in the background: kind -> (what they show, Future).
    draws: dict[str, Any] = field(default_factory=dict)
    bad_field: str | None = None
    # The N x 2 points of the user's uploaded CSV (dataset 'custom'); every job built for this
    # session must get them, since a job cannot take points after it is made.
    points: Any = None
    # export.FrameRecorder of the current run (frames for the GIF download); a new one per run.
    recorder: Any = None
    last_seen: float = field(default_factory=time.monotonic)
    # Serializes this session's handlers: a poll never renders while Reset swaps the job.
    lock: threading.RLock = field(default_factory=threading.RLock)


class Registry:
    def __init__(self, limits: Limits | None = None, *, history_cap: int = 400):
        self.limits = limits or Limits.from_env()
        self.history_cap = history_cap
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        # Sessions between "may start" and "started" (building a job can take a moment);
        # they count against max_running so two cannot both take the last slot.
        self._starting = 0
        # Warm trainer processes (torch imported) so Train starts in milliseconds; the pool's
        # size is the server-wide cap on live jobs.
        self.pool = (WorkerPool(self.limits.max_jobs, warm=min(2, self.limits.max_running))
                     if self.limits.process_jobs else None)

    # --- sessions ------------------------------------------------------------------------------
    def get(self, session_hash: str | None) -> Session:
        key = session_token(session_hash)
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self._sessions[key] = Session(key)
            s.last_seen = time.monotonic()
        self.sweep()
        return s

    def drop(self, session_hash: str | None) -> Session | None:
        """The tab closed: stop its job and forget it. Returns the session (None if unknown)."""
        with self._lock:
            s = self._sessions.pop(session_token(session_hash), None)
        if s is not None and s.job is not None:
            s.job.stop("Stopped: the page was closed.")
        return s

    def sweep(self) -> None:
        """Forget sessions nobody has touched for a while. An open tab polls at least every few
        seconds (slower in a hidden tab, which browsers throttle to about once a minute), so
        silence for `forget_after_s` means the tab is gone and its unload never arrived. A job
        that never started has no thread, so its own ttl never fires: this is its backstop."""
        now = time.monotonic()
        forget = max(4 * self.limits.ttl_s, 600.0)
        with self._lock:
            stale = [k for k, s in self._sessions.items() if now - s.last_seen > forget]
            gone = [self._sessions.pop(k) for k in stale]
        for s in gone:
            if s.job is not None:
                s.job.stop("Stopped: the page was closed.")

    def close_all(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            if s.job is not None:
                s.job.stop("Stopped: the server is shutting down.")
        if self.pool is not None:
            self.pool.close()

    def running(self, exclude: Session | None = None) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values()
                       if s is not exclude and s.job is not None and s.job.state == "running")

    def stats(self) -> dict[str, int]:
        with self._lock:
            jobs = [s.job for s in self._sessions.values() if s.job is not None]
        return {"sessions": len(self._sessions), "jobs": len(jobs),
                "running": sum(j.state == "running" for j in jobs)}

    # --- jobs ------------------------------------------------------------------------------------
    def check(self, cfg: RunConfig) -> None:
        check_limits(cfg, self.limits.max_steps, self.limits.max_params)

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
                # Idempotent; for a job whose worker died this is what releases its slot and
                # reaps the process.
                job.stop()
                s.job = None
            try:
                s.job = make_job(cfg, s.points if cfg.dataset == "custom" else None,
                                 ttl_s=self.limits.ttl_s, history_cap=self.history_cap,
                                 pool=self.pool)
            except PoolBusy:
                raise ServerBusy(
                    f"Server busy: all {self.limits.max_jobs} training slots are held by open "
                    "sessions. Try again shortly; your settings are kept.") from None
            s.shown.clear()
            return note
        old = job.cfg.to_dict()
        new = cfg.to_dict()
        changed = [k for k in new if new[k] != old[k]]
        rebuild = [k for k in changed if k not in LIVE_FIELDS]
        if rebuild:
            untouched = job.state == "idle" and job.snapshot().step == 0
            was_running = job.state == "running"
            job.pause()
            job.reset(cfg)
            s.shown.clear()
            if untouched:  # nothing was lost, so nothing to explain
                return ""
            what = ", ".join(label_of(k) for k in rebuild)
            return (f"Rebuilt the networks for the new {what} (fresh weights from seed "
                    f"{cfg.seed}, step 0)." + (" The old run was discarded." if was_running
                                               else ""))
        if changed:
            job.update(**{k: new[k] for k in changed})
        return ""

    def start(self, s: Session, cfg: RunConfig) -> str:
        """Make the session's job match `cfg` and start or resume it, unless the server is at
        its running cap. The cap is checked before a job is built, so a session that will be
        told "busy" never takes a worker. Returns ensure_job's note."""
        with self._lock:
            if s.job is None or s.job.state != "running":
                n = self._starting + sum(
                    1 for o in self._sessions.values()
                    if o is not s and o.job is not None and o.job.state == "running")
                if n >= self.limits.max_running:
                    raise ServerBusy(
                        f"Server busy: {n} jobs running (the limit is "
                        f"{self.limits.max_running}). Try again shortly; your settings are kept. "
                        "Step still works.")
            self._starting += 1
        try:
            note = self.ensure_job(s, cfg)
            s.job.start()
            return note
        finally:
            with self._lock:
                self._starting -= 1
