"""ProcessJob: the run in a worker process of a WorkerPool, driven by the pool's scheduler.

The app's default kind (see gan_lab/jobs/workers.py for why processes, and why few). The job's
curves, weights on screen and state live here in the server; the run itself (Trainer, optimizer
state) lives in a worker process shared with other sessions' runs, created at the first Train
or Step, and the scheduler advances it in turns with the other running jobs there.
"""

from __future__ import annotations

from .base import Job
from .workers import WorkerDied, WorkerPool


class ProcessJob(Job):
    kind = "process"

    def __init__(self, cfg, points=None, *, pool: WorkerPool, ttl_s: float | None = None,
                 history_cap: int = 1000):
        self._pool = pool
        self._slot = self._rid = None
        super().__init__(cfg, points, ttl_s=ttl_s, history_cap=history_cap)
        pool.register(self)

    # --- where the run lives -----------------------------------------------------------------
    def _create(self, weights):
        self._pool.place(self, weights=weights)

    def _before_run(self):
        self._pool.rebalance(self)

    def _advance(self, max_steps, seconds):
        # An evaluation at a boundary (MNIST's classifier) may add seconds to a slice.
        yield self._pool.call(self, "advance", self._rid, max_steps, seconds,
                              timeout=seconds + 120)

    def _apply(self, changes):
        self._settle()
        self._pool.call(self, "apply", self._rid, changes)

    def _discard(self):
        self._pool.unplace(self)

    def _wake(self):
        self._pool.wake()

    def _release(self):
        self._pool.unregister(self)

    def _failed(self, e):
        if isinstance(e, WorkerDied):
            self.host_lost("the training process exited unexpectedly (out of memory?)")
        else:
            super()._failed(e)

    def host_lost(self, why: str) -> None:
        """The worker process died: the job shows it (its last snapshot stays readable)."""
        with self._cond:
            self._created = False
            if self._stop:
                return
            self._stop = True
            self._set_state("error", f"Error: {why}. Press Reset.")

    @property
    def sharing(self) -> int:
        """Running jobs taking turns on this job's worker process, itself included."""
        return self._pool.running_on(self)
