"""Hugging Face ZeroGPU: train in bounded GPU calls, keep every tensor on the CPU in between.

How ZeroGPU works (read from the `spaces` package, 0.51): a ZeroGPU Space has no GPU attached
to its main process. Importing `spaces` there patches torch so that CUDA looks available, and a
function decorated with `@spaces.GPU(duration=...)` is, at each call, given a GPU and run in a
forked worker process: its arguments are pickled to the worker and its result (or every value
a generator yields) is pickled back; the call is cut off once it outlives `duration` seconds.
Whatever the function changes inside the worker, the caller never sees. Off ZeroGPU (where
`spaces.config.Config.zero_gpu` is false, or the package is absent) the decorator returns the
function unchanged.

So a chunk is a pure generator over picklable values: `train_chunk(ChunkRequest)` builds a Run on
the chunk's device, loads the CPU TrainState it was given, advances it (gan_lab.run: the one
training loop) within a step budget and a deadline, and yields a `ChunkUpdate` holding the
commit and the FULL state copied back to the CPU every `commit_s` seconds and at its end. Every
yield is a commit point, so stopping the chunk after any of them (Pause, a live change, a
closed tab) loses nothing. gan_lab.jobs.zerogpu.ChunkedRunner is the job that runs chunks one
after another. A chunked run is bit-identical on the CPU to an uninterrupted one.
"""


from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import settings
from .config import RunConfig
from .placement import resolve_device
from .run import Commit, Run
from .state import TrainState

# Seconds of GPU time requested per call. ZeroGPU queues shorter requests first and refuses
# ones beyond a visitor's remaining quota, so ask for little; the default for an undecorated
# duration is 60.
DEFAULT_DURATION_S = settings.get("GAN_LAB_GPU_DURATION_S")
# Of that, the share planned for training; the rest covers what ZeroGPU counts before our code
# runs (forking the worker, CUDA start-up, unpickling the state) and returning the state.
SAFETY = 0.5
# Training time per chunk on a CPU: a chunk boundary only costs rebuilding a small Trainer
# (2-13 ms measured), so keep chunks short.
CPU_CHUNK_S = 2.0
# Between commits the page cannot update and Pause cannot take effect.
COMMIT_S = 0.25


# --------------------------------------------------------------------------------------------
# Detecting ZeroGPU, and the decorator
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def on_zerogpu() -> bool:
    """True only when the `spaces` package says this process runs on ZeroGPU hardware.

    Importing `spaces` on ZeroGPU patches torch, which must happen before CUDA is touched; the
    app imports this module first thing for that reason."""
    try:
        import spaces  # noqa: F401
        from spaces.config import Config
    except Exception:   # not installed; or ZeroGPU half-configured (its config asserts)
        return False
    return bool(Config.zero_gpu)


def gpu_chunk(fn: Callable | None = None, duration: int | Callable = DEFAULT_DURATION_S):
    """`spaces.GPU(duration=duration)` on ZeroGPU, the function itself anywhere else.

    Use as `gpu_chunk(fn, 30)` or `@gpu_chunk(duration=30)`. `duration` may be a callable
    taking the function's arguments (spaces' dynamic duration). Apply it at import time: ZeroGPU
    registers decorated functions when the app starts."""
    if fn is None:
        return functools.partial(gpu_chunk, duration=duration)
    if not on_zerogpu():
        return fn
    import spaces

    return spaces.GPU(fn, duration=duration)


def chunk_device(cfg: RunConfig) -> str:
    """Where chunks of this config train: Trainer's own choice (resolve_device). On ZeroGPU
    `spaces` makes CUDA look available here, so 'auto' picks the GPU for MNIST and large nets
    and keeps the tiny 2-D nets on the CPU, where they run faster and spend no GPU quota."""
    on_zerogpu()   # import spaces first, so its CUDA patch is in place when we ask torch
    return resolve_device(cfg)[0].type


# --------------------------------------------------------------------------------------------
# One chunk (runs in the ZeroGPU worker, or in-process)
# --------------------------------------------------------------------------------------------
@dataclass
class ChunkRequest:
    """What a chunk needs; crosses to the GPU worker by pickle.

    max_steps: at most this many steps; budget_s: stop starting new steps after this long;
    commit_s: yield the state at least this often; final_at: the step of the run's final
    evaluation if it made one (so it is not repeated); duration_s: the GPU time requested."""

    cfg: RunConfig
    points: np.ndarray | None
    state: TrainState
    device: str
    max_steps: int
    budget_s: float
    commit_s: float = COMMIT_S
    final_at: int = -1
    duration_s: int = DEFAULT_DURATION_S


@dataclass
class ChunkUpdate:
    """A commit point: the run's Commit (rows, evaluations, view) and its full state after it,
    on the CPU. `final`: the chunk's last update."""

    state: TrainState
    commit: Commit
    final_at: int
    final: bool = False
    device: str = "cpu"

    @property
    def rows(self) -> np.ndarray:
        return self.commit.rows

    @property
    def evals(self) -> list:
        return self.commit.evals


def train_chunk(req: ChunkRequest) -> Iterator[ChunkUpdate]:
    """Train one chunk; yields ChunkUpdates (see ChunkRequest and the module docstring)."""
    t0 = time.monotonic()
    run = Run(req.cfg, req.points, start_eval=None, device=req.device, history_cap=2)
    run.import_state(req.state, req.final_at)
    left = max(0, req.max_steps)
    while True:
        step0 = run.step
        budget = req.budget_s - (time.monotonic() - t0)
        c = run.advance(left, max(0.0, min(req.commit_s, budget)))
        left -= c.step - step0
        final = (c.done or c.diverged is not None or left <= 0
                 or time.monotonic() - t0 >= req.budget_s)
        yield ChunkUpdate(state=run.export_state(), commit=c, final_at=run.final_at,
                          final=final, device=str(run.trainer.device))
        if final:
            return


def _gpu_duration(req: ChunkRequest) -> int:
    return int(req.duration_s)


# Decorated at import: ZeroGPU registers @spaces.GPU functions when the app launches.
train_chunk_gpu = gpu_chunk(train_chunk, duration=_gpu_duration)
