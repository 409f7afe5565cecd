"""TrainingJob: the run in this process, driven by its own thread.

The simplest kind: tests, the bench, debugging (GAN_LAB_PROCESS_JOBS=0), and the reference the
other kinds are checked against. In the app's server process a thread job would share the GIL
with drawing and serving the page (see gan_lab/jobs/workers.py for why the app uses workers).
`OwnThread` is the driver it shares with ChunkedRunner.
"""

from __future__ import annotations

import contextvars
import threading

import torch

from ..run import Run
from .base import Job


class OwnThread(Job):
    """A job kind driven by a thread of its own (started at the first start or step), which
    carries the starting caller's context (on ZeroGPU: the visitor's request, so GPU time is
    charged to the visitor's quota) and the caller's torch thread count: OpenMP's count is per
    OS thread and a new thread starts from the default (all cores), which would oversubscribe
    the cores for these tiny nets (measured 116 vs 5 steps/s under load)."""

    _thread: threading.Thread | None = None

    def _slice_s(self) -> float:
        """Seconds of training per advance."""
        raise NotImplementedError

    def _wake(self):
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                ctx = contextvars.copy_context()
                self._thread = threading.Thread(target=ctx.run,
                                                args=(self._loop, torch.get_num_threads()),
                                                name=f"gan-lab-{self.kind}", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _release(self):
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=30)

    def _loop(self, threads: int):
        torch.set_num_threads(threads)
        while True:
            with self._cond:
                while not self.runnable() and not self._stop:
                    self._cond.wait(0.5)
                    if self.expire_if_idle():
                        return
                if self._stop:
                    return
            self.drive(self._slice_s())


class TrainingJob(OwnThread):
    """A Run on a background thread. `publish_every_s`: the length of one advance, and so the
    time between snapshots and the longest a pause, update or reset waits."""

    kind = "thread"

    def __init__(self, cfg, points=None, *, publish_every_s: float = 0.1,
                 ttl_s: float | None = None, history_cap: int = 1000,
                 owner: str | None = None):
        self.publish_every_s = publish_every_s
        self._run: Run | None = None
        super().__init__(cfg, points, ttl_s=ttl_s, history_cap=history_cap,
                         owner=owner)

    @property
    def trainer(self):
        """The Trainer (built at the first start or step)."""
        with self._cond:
            self._ensure_created()
            return self._run.trainer

    def _slice_s(self) -> float:
        return self.publish_every_s

    # --- where the run lives -----------------------------------------------------------------
    def _create(self, weights):
        self._run = Run(self._cfg, self.points, weights=weights, start_eval=None,
                        history_cap=2)

    def _advance(self, max_steps, seconds):
        yield self._run.advance(max_steps, seconds)

    def _apply(self, new):
        self._settle()
        self._run.apply(new)

    def _discard(self):
        self._run = None
