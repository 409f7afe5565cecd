"""ChunkedRunner: the run's state on the CPU, trained in bounded chunks (ZeroGPU-ready).

Between chunks the whole training state lives here as a TrainState of CPU tensors; each chunk
(gan_lab.zerogpu.train_chunk) rebuilds the Run on its device, loads that state, advances it and
yields commits with the state after them. On ZeroGPU a chunk is a @spaces.GPU call (when the
run's device is CUDA); everywhere else the very same function is called directly. The driver is
a thread that carries the caller's context (on ZeroGPU that is the visitor's request, so GPU
time is charged to the visitor's quota, not the Space's). `run_chunk()` trains one chunk in the
calling thread.
"""

from __future__ import annotations

from ..regularizers import rebuild_fields
from ..snapshot import JobState
from ..trainer import Trainer
from ..zerogpu import (
    CPU_CHUNK_S,
    DEFAULT_DURATION_S,
    SAFETY,
    ChunkRequest,
    chunk_device,
    on_zerogpu,
    train_chunk,
    train_chunk_gpu,
)
from .thread import OwnThread


class ChunkedRunner(OwnThread):
    """device: where chunks run (default chunk_device(cfg)); chunk_s: training time per chunk
    (default CPU_CHUNK_S on a CPU, duration_s * SAFETY on a GPU); duration_s: GPU seconds
    requested per chunk; publish_every_s: time between commits (page updates)."""

    kind = "zerogpu"

    def __init__(self, cfg, points=None, *, device: str | None = None,
                 chunk_s: float | None = None, duration_s: int = DEFAULT_DURATION_S,
                 publish_every_s: float = 0.25, ttl_s: float | None = None,
                 history_cap: int = 1000,
                 owner: str | None = None):
        if duration_s < 1:
            raise ValueError("duration_s must be at least 1 second")
        self.duration_s = int(duration_s)
        self.commit_s = float(publish_every_s)
        self._device_arg = device
        self._chunk_s_arg = chunk_s
        self._tstate = None          # the committed TrainState (CPU), once the run exists
        self._final_at = -1
        self._reg_epoch = 0
        self._interrupt = False
        self._train_rate = 0.0       # steps/s inside chunks: sizes the next chunk's step budget
        super().__init__(cfg, points, ttl_s=ttl_s, history_cap=history_cap,
                         owner=owner)

    @property
    def device(self) -> str:
        return self._device_arg or chunk_device(self._cfg)

    @property
    def train_state(self):
        """The committed training state (CPU tensors)."""
        with self._cond:
            self._ensure_created()
            return self._tstate

    def _device_label(self) -> str:
        dev = self.device
        return dev + (" (ZeroGPU)" if dev == "cuda" and on_zerogpu() else "")

    def _chunk_s(self) -> float:
        if self._chunk_s_arg is not None:
            return self._chunk_s_arg
        return CPU_CHUNK_S if self.device == "cpu" else self.duration_s * SAFETY

    # --- where the run lives -----------------------------------------------------------------
    def _create(self, weights):
        host = Trainer(self._cfg.replace(device="cpu"), self.points)
        if weights is not None:
            host.load_weights(*weights)
        st = host.export_state()
        if self.device != "cpu":
            st.rng = None   # the device's own generator starts from the seed, as Trainer's
        self._tstate, self._final_at, self._train_rate = st, -1, 0.0

    def _advance(self, max_steps, seconds):
        with self._cond:
            left = self._cfg.steps - self._tstate.step
            if max_steps is not None:
                left = min(left, max_steps)
            if self._train_rate > 0:   # a step budget from the measured speed, as a 2nd bound
                left = min(left, max(1, int(self._train_rate * self._chunk_s())))
            req = ChunkRequest(cfg=self._cfg, points=self.points, state=self._tstate,
                               device=self.device, max_steps=max(0, left),
                               budget_s=self._chunk_s(), commit_s=self.commit_s,
                               final_at=self._final_at, duration_s=self.duration_s)
            epoch, self._interrupt = self._reg_epoch, False
        fn = train_chunk_gpu if req.device == "cuda" else train_chunk
        it = fn(req)
        try:
            for upd in it:
                with self._cond:
                    st = upd.state
                    if self._reg_epoch != epoch:   # the regularizer changed mid-chunk
                        st.reg_g = st.reg_d = None
                    step0 = self._tstate.step
                    self._tstate, self._final_at = st, upd.final_at
                    if upd.commit.seconds > 0 and st.step > step0:
                        self._train_rate = (st.step - step0) / upd.commit.seconds
                    stop = self._interrupt
                yield upd.commit
                if stop or upd.final:
                    break
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def _apply(self, new):
        """Changes reach the next chunk; one in flight stops at its next commit."""
        if any(getattr(new, k) != getattr(self._cfg, k) for k in rebuild_fields()):
            self._reg_epoch += 1
            if self._tstate is not None:
                self._tstate.reg_g = self._tstate.reg_d = None
        self._interrupt = True

    def _discard(self):
        self._tstate = None
        self._interrupt = True

    def _failed(self, e):
        # The committed state is intact: let the user retry.
        if self._state == JobState.RUNNING:
            self._set_state(JobState.PAUSED, f"Paused: a training chunk failed "
                                             f"({type(e).__name__}: {e}). Your run is kept; "
                                             "press Train to retry.")

    def run_chunk(self, max_steps: int | None = None) -> int:
        """Train one chunk (at most max_steps) in the calling thread; returns the steps done.
        Commits land in the snapshot as they arrive."""
        with self._cond:
            self._check_alive()
            self._ensure_created()
            if self._busy:
                raise RuntimeError("a chunk is already running")
            step0 = self._step
            self._budget = max_steps
            self._set_state(JobState.RUNNING, "Training…")
        self.drive(self._chunk_s())
        with self._cond:
            if self._state == JobState.RUNNING and (self._thread is None
                                             or not self._thread.is_alive()):
                self._set_state(JobState.PAUSED, f"Paused at step {self._step}.")
            return self._step - step0

    def _slice_s(self) -> float:
        return self._chunk_s()
