"""Job: one run and where it trains. The one job lifecycle; kinds differ only in WHERE
`Run.advance()` runs (a thread here, a worker process, ZeroGPU chunks, a Ray actor).

States: idle -> start() -> running -> pause() -> paused -> start() -> ... -> done.
step(n) runs n steps from idle/paused/done and pauses again. A non-finite loss moves to
'diverged' (a pause: everything before the bad step is kept). stop() ends the job for good;
reset() rebuilds the networks from the seed (or a new config) at step 0. `ttl_s`: when nobody
calls snapshot() for that long (a closed tab), the job stops itself.

What the job shows lives here, in the server's process: the config, the curves (a History and
a MetricLog fed by the commits), the latest weights and samples, the step, state, message and
speed, published as immutable Snapshots. A job starts as a *preview*: its step-0 picture is
computed once per config in this process (`preview`, cached) and no run exists where it
trains until the first start/step; reset and load go back to a preview. This is what lets a
page show the untrained networks at once, and a class of 30 look without 30 runs.

Subclasses implement the hooks (see "Where the run lives"); `drive(seconds)` does one advance
and applies its commits, and each kind decides who calls it: its own thread (TrainingJob,
ChunkedRunner) or a worker pool's scheduler (ProcessJob).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

from .. import losses, placement
from ..checkpoint import save_checkpoint_bytes_from_states
from ..config import ConfigError, RunConfig
from ..logs import History, MetricLog
from ..run import Commit
from ..snapshot import JobState, Snapshot
from ..trainer import live_change
from .hooks import RunPlace
from .preview import Preview, preview
from .watch import Pace, Watched

log = logging.getLogger("gan_lab.jobs")

ENDED = (JobState.STOPPED, JobState.ERROR)
RESTING = tuple(s for s in JobState if s is not JobState.RUNNING)
DIVERGED_ADVICE = (" Paused; everything before it is kept. Lower the learning rate or lambda, "
                   "then press Train (or Reset).")


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------
class Job(RunPlace, Watched):
    """See the module docstring (the hooks a kind implements: jobs/hooks.py). Public: start,
    pause, step, stop, reset, update, load_weights, checkpoint_bytes, snapshot, touch, wait,
    cfg, state, points."""

    kind = "job"

    def __init__(self, cfg: RunConfig, points=None, *, ttl_s: float | None = None,
                 history_cap: int = 1000, owner: str | None = None):
        self.points = points
        self.owner = owner          # the session's key: caps count a session's runs by it
        self.ttl_s = ttl_s
        self.history_cap = history_cap
        # One re-entrant lock guards the job's state; an advance runs without it.
        self._cond = threading.Condition(threading.RLock())
        self._state = JobState.IDLE
        self._message = "Ready. Press Train."
        self._stop = False
        self._ended = False                 # stop() has run (once)
        self._closed = False
        self._budget: int | None = None     # steps left for step(n); None = run to cfg.steps
        self._busy = False                  # an advance of this job is in flight
        self._epoch = 0                     # bumps on reset/load: older commits are dropped
        self._version = 0
        self._weights_version = 0
        self._begin(cfg)
        self._publish()
        self._last_poll = time.monotonic()  # the time-to-live starts when the job is ready

    def _device_label(self) -> str:
        return str(placement.resolve_device(self._cfg)[0])

    # --- construction ----------------------------------------------------------------------
    def _begin(self, cfg: RunConfig, weights: tuple | None = None,
               pv: Preview | None = None) -> None:
        """Show the untrained run of cfg (or of loaded weights): no run exists until needed."""
        pv = pv or preview(cfg, self.points, weights)
        self._cfg = cfg
        self._info = pv.info
        self._device = self._device_label()
        self._created = False
        self._pending = weights
        self._resume = None                 # (TrainState, final_at) to continue from, if kept
        self._history = History(losses.LOSS_KEYS, self.history_cap)
        self._metric_log = MetricLog()
        for row in pv.evals:
            self._metric_log.add(row["step"], {k: v for k, v in row.items() if k != "step"})
        self._latest: dict[str, float] = {}
        self._note = ""                     # the run's last note (Commit.notes), shown after
        self._step = pv.step
        self._g, self._d, self._samples = pv.g_state, pv.d_state, pv.samples
        self._weights_version += 1
        self._rate, self._rate_t, self._rate_step = 0.0, time.monotonic(), pv.step
        self._pace = Pace()                 # the ETA's rate (jobs/watch.py)

    def _ensure_created(self) -> None:
        if not self._created:
            self._create(self._pending)
            self._created = True
            self._pending = None

    # --- public API --------------------------------------------------------------------------
    @property
    def cfg(self) -> RunConfig:
        return self._cfg

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def closed(self) -> bool:
        """True once stop() has finished (its run freed, its threads ended)."""
        return self._closed

    def snapshot(self) -> Snapshot:
        self._last_poll = time.monotonic()   # polling is what keeps a job alive (ttl_s)
        return self._snap

    def touch(self) -> None:
        """Its page is still open (any request of the session): renew the time-to-live."""
        self._last_poll = time.monotonic()

    def start(self) -> None:
        """Start, or resume after pause/step/divergence (a diverged run resumes only after the
        user changes something, but we let them try: the next NaN pauses it again)."""
        with self._cond:
            self._check_alive()
            if self._state == JobState.DONE:
                self._message = f"Finished {self._step} steps. Raise Steps to continue."
                self._publish()
                return
            self._ensure_created()
            self._before_run()
            self._last_poll = time.monotonic()   # creating the run may have taken a while
            self._budget = None
            self._pace.restart()
            self._set_state(JobState.RUNNING, "Training…")
        self._wake()

    def step(self, n: int = 1) -> None:
        """Run n steps, then pause (for studying training slowly)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError("n", "step count must be a whole number >= 1")
        with self._cond:
            self._check_alive()
            self._ensure_created()
            self._before_run()
            self._last_poll = time.monotonic()
            self._budget = n
            self._set_state(JobState.RUNNING, f"Stepping {n}…")
        self._wake()

    def pause(self) -> None:
        """Pause; when this returns, no step of this job is in flight (the step is final)."""
        with self._cond:
            if self._state != JobState.RUNNING:
                return
            self._set_state(JobState.PAUSED, "Pausing…")
            self._settle()
            if self._state == JobState.PAUSED:
                self._set_state(JobState.PAUSED, f"Paused at step {self._step}.")

    def stop(self, message: str = "Stopped.") -> None:
        """End the job for good (idempotent); its last snapshot stays readable."""
        with self._cond:
            first = not self._ended
            self._ended = self._stop = True
            if self._state != JobState.ERROR:
                self._set_state(JobState.STOPPED, message)
            self._settle(10.0)
            if first and self._created:
                try:
                    self._discard()
                except Exception:  # noqa: BLE001 - the run's host may be gone already
                    pass
                self._created = False
        if first:
            self._release()
            self._closed = True

    def reset(self, cfg: RunConfig | None = None) -> None:
        """Fresh weights from the seed (or a new config), back to step 0, idle."""
        cfg = cfg or self._cfg
        with self._cond:
            self._restart(cfg, None)
            if self._state != JobState.STOPPED:
                self._set_state(JobState.IDLE, f"Reset: fresh weights from seed {cfg.seed}. "
                                               "Press Train.")

    def load_weights(self, g_state: dict, d_state: dict, step: int = 0,
                     cfg: RunConfig | None = None) -> None:
        """Continue from checked checkpoint weights (see checkpoint.load_checkpoint), under
        `cfg` if given (the checkpoint's own): optimizer moments restart, the curves restart at
        `step`. Pauses. Nothing changes when the weights do not fit."""
        cfg = cfg or self._cfg
        with self._cond:
            self._restart(cfg, (g_state, d_state, int(step)))
            if self._state not in ENDED:
                self._set_state(JobState.PAUSED if step else JobState.IDLE,
                                f"Loaded weights (step {step}). Press Train to continue.")

    def update(self, new: RunConfig | None = None, /, **changes) -> RunConfig:
        """Apply LIVE_FIELDS at once (weights kept): `changes` (checked: ConfigError naming a
        bad field), or `new`, validated by the caller, differing in live fields only."""
        with self._cond:
            new = live_change(self._cfg, changes) if new is None else new
            if self._created:
                self._apply(new)
                self._cfg = new
            elif self._pending is None and self._step == 0:
                self._begin(new)        # a preview: show the new config's step 0
            else:
                self._cfg = new
            if self._state == JobState.DONE and self._step < new.steps:
                self._set_state(JobState.PAUSED, f"Steps raised to {new.steps}. Press Train.")
            self._publish()
            return new

    def checkpoint_bytes(self) -> bytes:
        """A safetensors checkpoint of the weights on screen (consistent with their step)."""
        with self._cond:
            return save_checkpoint_bytes_from_states(self._cfg, self._g, self._d, self._step)

    def wait(self, states=RESTING, timeout: float = 60.0) -> str:
        """Block until the job is in one of `states` (tests and the CLI use this)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{type(self).__name__} still {self._state} after "
                                       f"{timeout}s")
                self._cond.wait(min(left, 0.5))
            return self._state

    # --- driving -----------------------------------------------------------------------------
    def runnable(self) -> bool:
        """Running, and someone watches it (jobs/watch.py): a hidden page's run waits."""
        return self._state == JobState.RUNNING and not self._stop and self.watched()

    def expire_if_idle(self) -> bool:
        """Stop the job when nobody polled it for ttl_s (a closed tab). True if it stopped."""
        def expired():
            return (self.ttl_s is not None and not self._stop
                    and time.monotonic() - self._last_poll > self.ttl_s)

        if not expired():
            return False
        with self._cond:   # again under the lock: an action in progress (start) renews it
            if not expired():
                return False
            self.stop("Stopped: the page was closed or idle too long.")
        return True

    def drive(self, seconds: float) -> bool:
        """One advance of at most `seconds` if the job is running; its commits are applied as
        they arrive. Returns whether a commit arrived."""
        if self.expire_if_idle():
            return False
        with self._cond:
            if not self.runnable():
                return False
            budget, epoch = self._budget, self._epoch
            self._busy = True
        commits = None
        took = False
        try:
            commits = iter(self._advance(budget, seconds))
            for commit in commits:
                with self._cond:
                    if epoch != self._epoch:
                        break
                    took = True
                    self._take(commit)
                    if not self.runnable():
                        break
        except Exception as e:  # noqa: BLE001 - never die silently: the page shows it
            with self._cond:
                if epoch == self._epoch:
                    self._failed(e)
        finally:
            close = getattr(commits, "close", None)
            if close is not None:
                close()
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return took

    def _failed(self, e: Exception) -> None:
        """An advance raised: the job shows the error (a kind may choose to pause instead).
        The exception's text is for the server's log only: the page gets an incident id."""
        self._stop = True
        if isinstance(e, ConfigError):
            self._set_state(JobState.ERROR, f"Error: {e}. Press Reset.")
            return
        incident = secrets.token_hex(4)
        log.error("job %s failed (incident %s)", type(self).__name__, incident, exc_info=e)
        self._set_state(JobState.ERROR, f"Error: training failed (incident {incident}; the "
                                        "server's log has the details). Press Reset.")

    # --- internals ---------------------------------------------------------------------------
    def _check_alive(self) -> None:
        if self._state in ENDED or self._stop:
            raise RuntimeError(f"job is {self._state}; create a new one")

    def _settle(self, timeout: float = 30.0) -> None:
        """Under the lock: wait until no advance of this job is in flight."""
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            self._cond.wait(0.05)

    def _restart(self, cfg: RunConfig, weights: tuple | None) -> None:
        """Replace the run by a preview of cfg (and weights); an advance in flight is dropped.
        Everything that can fail (a bad config, weights that do not fit) fails before any of
        the job's state changes."""
        pv = preview(cfg, self.points, weights)     # builds (and so checks) before any change
        if self._state == JobState.RUNNING:
            self._state = JobState.PAUSED   # no new advance starts while we swap
        self._settle()
        self._epoch += 1
        if self._created:
            try:
                self._discard()
            except Exception:  # noqa: BLE001 - a dead host: the new run goes elsewhere
                pass
        self._budget = None
        self._begin(cfg, weights, pv)

    def _take(self, c: Commit) -> None:
        """Apply one commit: curves, weights, step, speed, and the state it leads to."""
        n = len(c.rows)
        first = c.step - n + 1
        for i in range(n):
            self._history.add(first + i, c.rows[i])
        for s, m in c.evals:
            self._metric_log.add(s, m)
        if n:
            self._latest = c.latest
        if c.notes:
            self._note = " " + c.notes[-1]
        done_steps = c.step - self._step
        self._step = c.step
        if c.g_state is not None:
            self._g, self._d, self._samples = c.g_state, c.d_state, c.samples
            self._weights_version += 1
        now = time.monotonic()
        self._pace.add(self._step, now)
        if now - self._rate_t >= 0.5:        # as the page sees it: sharing and waits included
            self._rate = (self._step - self._rate_step) / (now - self._rate_t)
            self._rate_t, self._rate_step = now, self._step
        if self._budget is not None:
            self._budget -= done_steps
        if c.diverged:
            self._budget = None
            self._set_state(JobState.DIVERGED, c.diverged + DIVERGED_ADVICE)
        elif c.done and self._state == JobState.RUNNING:
            self._set_state(JobState.DONE, f"Done: {self._step} steps.")
            self._on_done()
        elif self._budget is not None and self._budget <= 0 and self._state == JobState.RUNNING:
            self._budget = None
            self._set_state(JobState.PAUSED, f"Stepped to {self._step}.")
        else:
            self._publish()

    def _set_state(self, state: JobState, message: str) -> None:
        if state != JobState.RUNNING:
            self._rate = 0.0
        self._state = state
        self._message = message
        self._publish()
        self._cond.notify_all()

    def _publish(self) -> None:
        self._version += 1
        info = self._info
        latest = dict(self._latest)
        latest.update({k: v for k, v in self._metric_log.latest().items() if k != "step"})
        self._snap = Snapshot(
            version=self._version, state=self._state, message=self._message + self._note,
            step=self._step,
            steps_total=self._cfg.steps, steps_per_s=self._rate, device=self._device,
            cfg=self._cfg, history=self._history.columns(), metrics=self._metric_log.columns(),
            latest=latest, g_state=self._g, d_state=self._d, samples=self._samples,
            weights_version=self._weights_version, is_image=info.is_image, bounds=info.bounds,
            modes=info.modes, real=info.real, eta_s=self._pace.eta_s(self._step, self._cfg)
            if self._state == JobState.RUNNING and self._budget is None else None)
