"""ProcessJob: the run in a worker process of a WorkerPool, driven by the pool's scheduler.

The app's default kind (see gan_lab/jobs/workers.py for why processes, and why few). The job's
curves, weights on screen and state live here in the server; the run itself (Trainer, optimizer
state) lives in a worker process shared with other sessions' runs, created at the first Train
or Step, and the scheduler advances it in turns with the other running jobs there.

A finished run gives its place back (issue 18): at "done" its full TrainState comes to the
server and its run is dropped from the worker, so a sweep's finished runs hold no slot; what
the page shows stays, and raising Steps and pressing Train places it again from that state
(optimizer moments included), bit for bit as if it had never left.
"""

from __future__ import annotations

import time

from .. import cost
from ..config import LIVE_FIELDS
from ..snapshot import JobState
from .base import Job
from .host import GRACE_S, PENDING
from .workers import PENDING_POLL_S, WorkerDied, WorkerPool

# A piece of work in progress aside longer than this many times its estimated upper bound
# (gan_lab.cost, one unloaded core), plus HANG_FLOOR_S, is hung: a loaded server can be a few
# times slower than the estimate, never this much.
HANG_TIMES = 4.0
HANG_FLOOR_S = 60.0
# Runs whose step and final evaluation take longer than this (estimated, one core) may have a
# piece of work set aside in their worker (jobs/host.py); cheaper ones are always waited for.
ASIDE_S = 0.5


class ProcessJob(Job):
    kind = "process"

    def __init__(self, cfg, points=None, *, pool: WorkerPool, ttl_s: float | None = None,
                 history_cap: int = 1000, owner: str | None = None):
        self._pool = pool
        self._pending_since: float | None = None   # its piece is in progress aside since
        self._poll_at = 0.0                        # the scheduler asks again from then on
        super().__init__(cfg, points, ttl_s=ttl_s, history_cap=history_cap, owner=owner)
        pool.register(self)

    # --- where the run lives -----------------------------------------------------------------
    def _create(self, weights):
        resume, self._resume = self._resume, None
        if resume is not None:   # a finished run continues from its exported state
            self._device = self._pool.place(self, state=resume[0], final_at=resume[1])
        else:
            self._device = self._pool.place(self, weights=weights)

    @property
    def _slot(self) -> int | None:
        """The slot of the worker process hosting this job's run (the pool's Placement)."""
        return self._pool.slot_of(self)

    def _before_run(self):
        self._pool.rebalance(self)

    def hang_s(self) -> float:
        """How long a piece of work of this run may take before it counts as hung."""
        if self._pool.hang_s is not None:
            return self._pool.hang_s
        return HANG_FLOOR_S + HANG_TIMES * cost.piece_seconds(self._cfg)

    def hung(self, hang_s: float | None = None) -> str | None:
        """'N s' when the run's piece of work in progress aside has taken longer than allowed."""
        since = self._pending_since
        limit = hang_s if hang_s is not None else self.hang_s()
        if since is not None and time.monotonic() - since > limit:
            return f"{limit:.0f} s"
        return None

    def _advance(self, max_steps, seconds):
        # A dear run's worker answers within the slice plus GRACE_S (a longer piece goes on
        # aside and it answers PENDING), unless it already has its most pieces aside.
        aside = cost.piece_seconds(self._cfg) > ASIDE_S
        out = self._pool.advance(self, max_steps, seconds, aside,
                                 timeout=seconds + GRACE_S + self.hang_s())
        if out == PENDING:
            if self._pending_since is None:
                self._pending_since = time.monotonic()
            self._poll_at = time.monotonic() + PENDING_POLL_S
            return
        self._pending_since, self._poll_at = None, 0.0
        yield out.restored()     # its weights came as numpy (Commit.portable)

    def _apply(self, new):
        self._settle()
        self._pool.apply(self, {k: getattr(new, k) for k in LIVE_FIELDS}, timeout=self.hang_s())

    def _on_done(self):
        """Give the worker's slot back, keeping the full state to continue from."""
        try:
            self._resume = self._pool.export(self, timeout=self.hang_s())
        except Exception:  # noqa: BLE001 - without it, a continued run restarts its moments
            self._resume = None
        self._pool.unplace(self)
        self._created = False
        if self._resume is None:
            self._pending = (self._g, self._d, self._step)

    def _discard(self):
        self._pool.unplace(self)
        self._pending_since, self._poll_at = None, 0.0

    def _wake(self):
        self._pool.wake()

    def _release(self):
        self._pool.unregister(self)

    def _failed(self, e):
        if isinstance(e, WorkerDied):
            self.host_lost("the training process exited unexpectedly (out of memory?)")
        else:
            super()._failed(e)
            self._discard()
            self._created = False

    def host_lost(self, why: str) -> None:
        """The worker process died with this run as its suspect (or this run could not be
        placed again): the job shows it (its last snapshot stays readable)."""
        with self._cond:
            self._created = False
            self._pending_since = None
            if self._stop:
                return
            self._stop = True
            self._set_state(JobState.ERROR, f"Error: {why}. Press Reset.")

    def place_again(self) -> None:
        """The worker process died with another run as its suspect: go on from this job's last
        commit (weights and step, as on screen) on another process, fresh optimizer moments."""
        with self._cond:
            self._pending_since, self._poll_at = None, 0.0
            if self._stop or not self._created:
                return
            step = self._step
            try:
                self._device = self._pool.place(self, weights=(self._g, self._d, step),
                                                again=True)
            except Exception:  # noqa: BLE001 - nowhere to go: this job ends with a message
                self._created = False
                self._stop = True
                self._set_state(JobState.ERROR, "Error: the training process of this run was "
                                                "lost and no other could take it. Press Reset.")
                return
            note = (f"The training process this run shared with other runs failed; it goes on "
                    f"from step {step:,} on another one (optimizer moments restarted).")
            self._set_state(self._state, f"Training… {note}" if self._state == JobState.RUNNING
                            else note)
        self._wake()

    @property
    def sharing(self) -> int:
        """Running jobs taking turns on this job's worker process, itself included."""
        return self._pool.running_on(self)
