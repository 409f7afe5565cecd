"""Hugging Face ZeroGPU: train in bounded GPU calls, keep every tensor on the CPU in between.

How ZeroGPU works (read from the `spaces` package, 0.51): a ZeroGPU Space has no GPU attached
to its main process. Importing `spaces` there patches torch so that CUDA looks available, and a
function decorated with `@spaces.GPU(duration=...)` is, at each call, given a GPU and run in a
forked worker process: its arguments are pickled to the worker and its result (or every value
a generator yields) is pickled back; the call is cut off once it outlives `duration` seconds.
Whatever the function changes inside the worker, the caller never sees. Off ZeroGPU (where
`spaces.config.Config.zero_gpu` is false, or the package is absent) the decorator returns the
function unchanged.

So training is written as a pure generator over picklable values:
- `train_chunk(job: ChunkJob)` builds a Trainer on the chunk's device, loads the CPU state it
  was given (weights, optimizer moments, RNG, regularizer state, step), trains within a step
  budget and a deadline, and yields a `ChunkUpdate` holding the FULL state copied back to the
  CPU every `commit_s` seconds and at its end. Every yield is a commit point, so stopping the
  chunk after any of them (Pause, a live change, a closed tab) loses nothing.
- `ChunkedRunner` keeps that state on the CPU between chunks and runs chunks one after another:
  through the @spaces.GPU-decorated `train_chunk` when its device is CUDA on ZeroGPU, through
  the very same function called directly everywhere else (CPU, a local GPU). It has
  TrainingJob's API (start, pause, step, stop, reset, update, load_weights, snapshot, wait,
  cfg, state) plus checkpoint_bytes(), so the UI can use either class.

A chunk's result does not depend on where chunks begin and end: on the CPU a chunked run
gives bit-identical weights, optimizer state, losses and metrics to one uninterrupted Trainer
(tests/test_zerogpu.py checks it).
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .checkpoint import save_checkpoint_bytes
from .config import LIVE_FIELDS, ConfigError, RunConfig
from .trainer import (
    LOSS_KEYS,
    N_VIEW_2D,
    N_VIEW_MNIST,
    History,
    JobView,
    MetricLog,
    Trainer,
    resolve_device,
    snapshot_of,
    start_metrics,
)


# Seconds of GPU time requested per call. ZeroGPU queues shorter requests first and refuses
# ones beyond a visitor's remaining quota, so ask for little; the default for an undecorated
# duration is 60.
def _env_seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r} must be a whole number of seconds >= 1")
    return int(raw)


DEFAULT_DURATION_S = _env_seconds("GAN_LAB_GPU_DURATION_S", 20)
# Of that, the share planned for training; the rest covers what ZeroGPU counts before our code
# runs (forking the worker, CUDA start-up, unpickling the state) and returning the state.
SAFETY = 0.5
# Training time per chunk on a CPU: a chunk boundary only costs rebuilding a small Trainer
# (2-13 ms measured), so keep chunks short.
CPU_CHUNK_S = 2.0
# Between commits the page cannot update and Pause cannot take effect.
COMMIT_S = 0.25
# Steps between host syncs inside a chunk are sized to take about this long.
SUB_S = 0.05
REG_KEYS = ("reg", "reg_target", "l1_mode", "reg_bias", "hsn_iters", "hsn_every",
            "hsn_method")


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
# Trainer state as CPU tensors
# --------------------------------------------------------------------------------------------
def _cpu(x):
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", copy=True)
    if isinstance(x, dict):
        return {k: _cpu(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_cpu(v) for v in x)
    return x


@dataclass
class TrainState:
    """Everything a training step reads and changes, as CPU tensors (picklable).

    rng is (device type, generator state): CPU and CUDA generators have different states, so
    None means "the chunk's device starts its generator from the seed", as a new Trainer does.
    reg_g/reg_d: {"kind", "v", "value"}, or None for "fresh" (after a regularizer change)."""

    step: int
    g: dict[str, torch.Tensor]
    d: dict[str, torch.Tensor]
    opt_g: dict
    opt_d: dict
    rng: tuple[str, torch.Tensor] | None
    reg_g: dict | None
    reg_d: dict | None

    def tensors(self) -> Iterator[torch.Tensor]:
        """Every tensor held (for checks that all of them live on the CPU)."""
        def walk(x):
            if isinstance(x, torch.Tensor):
                yield x
            elif isinstance(x, dict):
                for v in x.values():
                    yield from walk(v)
            elif isinstance(x, (list, tuple)):
                for v in x:
                    yield from walk(v)
        yield from walk([self.g, self.d, self.opt_g, self.opt_d, self.rng, self.reg_g,
                         self.reg_d])


def _reg_state(reg) -> dict:
    v = getattr(reg, "v", None)
    return {"kind": reg.kind, "v": _cpu(v) if v is not None else None, "value": float(reg.value)}


def _load_reg(reg, st: dict | None) -> None:
    if st is None or st["kind"] != reg.kind:
        reg.value = 0.0
        if hasattr(reg, "v"):
            reg.v = None
        return
    reg.value = st["value"]
    if hasattr(reg, "v"):
        reg.v = (None if st["v"] is None else
                 [x.to(p.device, copy=True) for x, p in zip(st["v"], reg.params, strict=True)])


def export_state(tr: Trainer) -> TrainState:
    """A CPU copy of the trainer's full training state."""
    return TrainState(step=int(tr.step), g=_cpu(tr.G.state_dict()), d=_cpu(tr.D.state_dict()),
                      opt_g=_cpu(tr.opt_g.state_dict()), opt_d=_cpu(tr.opt_d.state_dict()),
                      rng=(tr.gen.device.type, tr.gen.get_state().clone()),
                      reg_g=_reg_state(tr.reg_g), reg_d=_reg_state(tr.reg_d))


def import_state(tr: Trainer, st: TrainState) -> None:
    """Load a TrainState into a Trainer built from the current config (on any device).

    The optimizers keep the hyperparameters the Trainer set from its config (a live change of
    lr or betas since the state was saved takes effect) and take the saved moments."""
    tr.G.load_state_dict(st.g)
    tr.D.load_state_dict(st.d)
    for opt, sd in ((tr.opt_g, st.opt_g), (tr.opt_d, st.opt_d)):
        hyper = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        # A copy: on the same device load_state_dict keeps the given tensors and the optimizer
        # would then update the caller's saved state in place.
        opt.load_state_dict(_cpu(sd) if tr.device.type == "cpu" else sd)
        for g, h in zip(opt.param_groups, hyper, strict=True):
            g.update(h)
    if st.rng is not None:
        kind, state = st.rng
        if kind != tr.gen.device.type:
            raise ValueError(f"the saved random state is for {kind}, this chunk runs on "
                             f"{tr.gen.device.type}")
        tr.gen.set_state(state)
    _load_reg(tr.reg_g, st.reg_g)
    _load_reg(tr.reg_d, st.reg_d)
    tr.step = int(st.step)


# --------------------------------------------------------------------------------------------
# One chunk (runs in the ZeroGPU worker, or in-process)
# --------------------------------------------------------------------------------------------
@dataclass
class ChunkJob:
    """What a chunk needs; crosses to the GPU worker by pickle.

    max_steps: at most this many steps; budget_s: stop starting new steps after this long;
    commit_s: yield the state at least this often; eval_start: evaluate before training (the
    first chunk after a reset on a GPU, so step 0 is measured like every other step);
    last_eval: (step, with sharpness) of the run's last evaluation, so the final one is not
    repeated; duration_s: the GPU time requested for this call."""

    cfg: RunConfig
    points: np.ndarray | None
    state: TrainState
    device: str
    max_steps: int
    budget_s: float
    commit_s: float = COMMIT_S
    eval_start: bool = False
    last_eval: tuple[int, bool] = (-1, False)
    duration_s: int = DEFAULT_DURATION_S


@dataclass
class ChunkUpdate:
    """A commit: the state after `state.step`, the loss rows and evaluations since the previous
    commit. rows[i] belongs to step `state.step - len(rows) + 1 + i` unless `diverged`, when
    the rows stop before the bad step and `state` is the last good one."""

    state: TrainState
    rows: np.ndarray
    evals: list[tuple[int, dict[str, float]]]
    seconds: float          # training time so far in this chunk
    final: bool = False
    diverged: str | None = None
    device: str = "cpu"


def _crossed(k: int, s: int, s0: int) -> bool:
    return k > 0 and s // k != s0 // k


def _to_boundary(k: int, s: int) -> int:
    return k - s % k if k > 0 else math.inf


def train_chunk(job: ChunkJob) -> Iterator[ChunkUpdate]:
    """Train one chunk; yields ChunkUpdates (see ChunkJob and the module docstring).

    Evaluations land exactly where an uninterrupted run makes them: at every multiple of
    eval_every and sharpness_every, and at the last step (with sharpness)."""
    t0 = time.monotonic()
    cfg = job.cfg
    tr = Trainer(dataclasses.replace(cfg, device=job.device), job.points)
    import_state(tr, job.state)
    rows: list[np.ndarray] = []
    evals: list[tuple[int, dict[str, float]]] = []
    last_eval = job.last_eval
    if job.eval_start:
        evals.append((tr.step, start_metrics(tr)))
        last_eval = (tr.step, False)
    target = min(cfg.steps, tr.step + max(0, job.max_steps))
    k = 1                      # steps per host sync; grows to about SUB_S of work
    t_train = 0.0
    last_commit = time.monotonic()

    def commit(final=False, diverged=None):
        nonlocal rows, evals, last_commit
        upd = ChunkUpdate(state=export_state(tr),
                          rows=np.concatenate(rows) if rows else np.zeros((0, len(LOSS_KEYS))),
                          evals=evals, seconds=t_train, final=final, diverged=diverged,
                          device=str(tr.device))
        rows, evals, last_commit = [], [], time.monotonic()
        return upd

    while tr.step < target and time.monotonic() - t0 < job.budget_s:
        s0 = tr.step
        n = int(min(k, target - s0, _to_boundary(cfg.eval_every, s0),
                    _to_boundary(cfg.sharpness_every, s0)))
        saved = None if tr.guard else _device_save(tr)
        t = time.monotonic()
        r = tr.run_steps(n)
        dt = time.monotonic() - t
        t_train += dt
        finite = np.isfinite(r).all(axis=1)
        if not finite.all():
            bad = int(np.argmin(finite))
            what = ", ".join(key for key, v in zip(LOSS_KEYS, r[bad]) if not np.isfinite(v))
            if saved is not None:      # a GPU runs on without checks: undo the whole sub-chunk
                _device_restore(tr, saved)
            else:                      # the CPU checked before each update: keep good rows
                rows.append(r[:bad])
                tr.step = s0 + bad
            value = r[bad][~np.isfinite(r[bad])][0]
            yield commit(final=True, diverged=f"Diverged at step {tr.step + 1}: {what} became "
                                              f"{value}.")
            return
        rows.append(r)
        k = max(1, min(256, int(k * 2 if dt < SUB_S / 2 else SUB_S / max(dt / n, 1e-9))))
        s = tr.step
        sharp = _crossed(cfg.sharpness_every, s, s0)
        if _crossed(cfg.eval_every, s, s0) or sharp or s >= cfg.steps:
            evals.append((s, tr.evaluate(sharp=sharp)))
            last_eval = (s, sharp)
        if time.monotonic() - last_commit >= job.commit_s and tr.step < target:
            yield commit()
    if tr.step >= cfg.steps and last_eval != (tr.step, True):
        # As TrainingJob._finish: the last step always gets the full-precision sharpness.
        evals.append((tr.step, tr.evaluate(sharp=True, final=True)))
    yield commit(final=True)


def _device_save(tr: Trainer):
    # On the trainer's device: a copy to the CPU each sub-chunk would cost a transfer per sync.
    regs = [(r, getattr(r, "v", None), r.value_tensor) for r in (tr.reg_g, tr.reg_d)]
    return tr.save_state(), tr.gen.get_state(), [(r, list(v) if v else v, val)
                                                  for r, v, val in regs]


def _device_restore(tr: Trainer, saved) -> None:
    st, rng, regs = saved
    tr.load_state(st)
    tr.gen.set_state(rng)
    for r, v, val in regs:
        if hasattr(r, "v"):
            r.v = v
        r.value = val


def _gpu_duration(job: ChunkJob) -> int:
    return int(job.duration_s)


# Decorated at import: ZeroGPU registers @spaces.GPU functions when the app launches.
train_chunk_gpu = gpu_chunk(train_chunk, duration=_gpu_duration)


# --------------------------------------------------------------------------------------------
# ChunkedRunner
# --------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """Book-keeping that a reset or load replaces wholesale."""

    host: Trainer
    cfg: RunConfig
    device: str
    state: TrainState
    history: History
    metric_log: MetricLog
    eval_start: bool
    reg_epoch: int = 0
    latest: dict = field(default_factory=dict)


class ChunkedRunner(JobView):
    """Train a config in bounded chunks (ZeroGPU-ready), with TrainingJob's API.

    Between chunks the whole training state lives on the CPU in `self.state` (TrainState);
    `self.host`, a CPU Trainer that never trains, holds the latest weights for samples,
    snapshots and checkpoints. start()/step(n) train on a background thread that carries the
    caller's context (on ZeroGPU that is the visitor's request, so GPU time is charged to the
    visitor's quota, not the Space's); run_chunk() trains one chunk in the calling thread.

    device: where chunks run (default chunk_device(cfg)); chunk_s: training time per chunk
    (default CPU_CHUNK_S on a CPU, duration_s * SAFETY on a GPU); duration_s: GPU seconds
    requested per chunk; publish_every_s: time between commits (page updates)."""

    def __init__(self, cfg: RunConfig, points: np.ndarray | None = None, *,
                 device: str | None = None, chunk_s: float | None = None,
                 duration_s: int = DEFAULT_DURATION_S, publish_every_s: float = COMMIT_S,
                 ttl_s: float | None = None, history_cap: int = 1000):
        if duration_s < 1:
            raise ValueError("duration_s must be at least 1 second")
        self.points = points
        self.duration_s = int(duration_s)
        self.commit_s = float(publish_every_s)
        self.ttl_s = ttl_s
        self.history_cap = history_cap
        self._device_arg = device
        self._chunk_s_arg = chunk_s
        self._cond = threading.Condition(threading.RLock())
        self._state = "idle"
        self._message = "Ready. Press Train."
        self._version = 0
        self._weights_version = 0
        self._budget: int | None = None
        self._interrupt = False
        self._want_pause = False
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self._gen_id = 0
        self._rate = 0.0           # steps/s as the page sees it (GPU scheduling included)
        self._train_rate = 0.0     # steps/s of training inside chunks (sizes the step budget)
        self._last_poll = time.monotonic()
        self._run = self._new_run(cfg)
        self._publish()

    # --- construction ----------------------------------------------------------------------
    def _new_run(self, cfg: RunConfig, weights: tuple | None = None) -> _Run:
        """Everything for a fresh run; raises (ConfigError, RuntimeError) before any of the
        runner's state changes."""
        cfg = cfg.validate()
        device = self._device_arg or chunk_device(cfg)
        host = Trainer(dataclasses.replace(cfg, device="cpu"), self.points)
        if weights is not None:
            host.load_weights(*weights)
        state = export_state(host)
        if device != "cpu":
            state.rng = None   # the device's own generator starts from the seed, as Trainer's
        run = _Run(host=host, cfg=cfg, device=device, state=state,
                   history=History(LOSS_KEYS, self.history_cap), metric_log=MetricLog(),
                   eval_start=device != "cpu")
        run.metric_log.add(host.step, start_metrics(host))
        return run

    def _chunk_s(self) -> float:
        if self._chunk_s_arg is not None:
            return self._chunk_s_arg
        return CPU_CHUNK_S if self._run.device == "cpu" else self.duration_s * SAFETY

    # --- TrainingJob API -------------------------------------------------------------------
    @property
    def cfg(self) -> RunConfig:
        return self._run.cfg

    @property
    def state(self) -> str:
        return self._state

    @property
    def device(self) -> str:
        return self._run.device

    @property
    def host(self) -> Trainer:
        return self._run.host

    @property
    def train_state(self) -> TrainState:
        """The committed training state (CPU tensors)."""
        return self._run.state

    def start(self) -> None:
        with self._cond:
            self._check_alive()
            if self._state == "done":
                self._message = f"Finished {self._run.state.step} steps. Raise Steps to continue."
                self._publish()
                return
            self._budget = None
            self._set_state("running", "Training…")
            self._ensure_thread()

    def step(self, n: int = 1) -> None:
        if not isinstance(n, int) or n < 1:
            raise ConfigError("n", "step count must be a whole number >= 1")
        with self._cond:
            self._check_alive()
            self._budget = n
            self._set_state("running", f"Stepping {n}…")
            self._ensure_thread()

    def pause(self) -> None:
        """Stop at the next commit (within publish_every_s); the state becomes 'paused' then."""
        with self._cond:
            if self._state == "running":
                if self._busy:
                    self._interrupt = self._want_pause = True
                    self._message = "Pausing…"
                    self._cond.notify_all()
                else:
                    self._set_state("paused", f"Paused at step {self._run.state.step}.")

    def stop(self, message: str = "Stopped.") -> None:
        with self._cond:
            self._stop = True
            self._interrupt = True
            if self._state != "error":
                self._set_state("stopped", message)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=30)

    def reset(self, cfg: RunConfig | None = None) -> None:
        with self._cond:
            self._replace_run(self._new_run(cfg or self._run.cfg))
            if self._state != "stopped":
                self._set_state("idle", "Reset: fresh weights from seed "
                                        f"{self._run.cfg.seed}. Press Train.")

    def load_weights(self, g_state: dict, d_state: dict, step: int = 0) -> None:
        """Continue from checked checkpoint weights (see checkpoint.load_checkpoint): optimizer
        moments restart, history restarts at `step`. Nothing changes if they do not fit."""
        with self._cond:
            self._replace_run(self._new_run(self._run.cfg, (g_state, d_state, step)))
            if self._state not in ("stopped", "error"):
                self._set_state("paused" if step else "idle",
                                f"Loaded weights (step {step}). Press Train to continue.")

    def update(self, **changes) -> RunConfig:
        """Apply LIVE_FIELDS (weights kept). A chunk in flight stops at its next commit and the
        next one trains with the new values."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ConfigError(bad[0], "cannot change during a run; press Reset to apply it")
        with self._cond:
            run = self._run
            new = run.cfg.replace(**changes)
            if any(getattr(new, k) != getattr(run.cfg, k) for k in REG_KEYS):
                run.reg_epoch += 1
                run.state = dataclasses.replace(run.state, reg_g=None, reg_d=None)
            run.cfg = new
            run.host.cfg = dataclasses.replace(new, device="cpu")
            if self._busy:
                self._interrupt = True
            if self._state == "done" and run.state.step < new.steps:
                self._set_state("paused", f"Steps raised to {new.steps}. Press Train.")
            self._publish()
            return new

    def checkpoint_bytes(self) -> bytes:
        with self._cond:
            run = self._run
            return save_checkpoint_bytes(run.host.G, run.host.D, run.cfg, run.state.step)

    # --- chunks ----------------------------------------------------------------------------
    def run_chunk(self, max_steps: int | None = None) -> int:
        """Train one chunk in the calling thread (a GPU call on ZeroGPU when the device is
        CUDA); returns the steps it did. Commits land in state, history and snapshot as they
        arrive; the chunk ends early at a commit when pause/update/reset/stop asks."""
        with self._cond:
            if self._busy:
                raise RuntimeError("a chunk is already running")
            run = self._run
            left = run.cfg.steps - run.state.step
            if max_steps is not None:
                left = min(left, max_steps)
            if self._train_rate > 0:   # a step budget from the measured speed, as a 2nd bound
                left = min(left, max(1, int(self._train_rate * self._chunk_s())))
            job = ChunkJob(cfg=run.cfg, points=self.points, state=run.state,
                           device=run.device, max_steps=max(0, left), budget_s=self._chunk_s(),
                           commit_s=self.commit_s, eval_start=run.eval_start,
                           last_eval=self._last_eval(run), duration_s=self.duration_s)
            self._busy, self._interrupt = True, False
            gen_id, epoch, step0 = self._gen_id, run.reg_epoch, run.state.step
        fn = train_chunk_gpu if run.device == "cuda" else train_chunk
        t0 = time.monotonic()
        done = 0
        it = fn(job)
        try:
            for upd in it:
                with self._cond:
                    if gen_id != self._gen_id:     # reset or loaded meanwhile: drop it
                        break
                    done += self._apply(run, upd, epoch, step0, t0)
                    if upd.final or self._interrupt:
                        break
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return done

    def _last_eval(self, run: _Run) -> tuple[int, bool]:
        rows = run.metric_log.rows
        if not rows:
            return (-1, False)
        return (int(rows[-1]["step"]), "sharpness_d" in rows[-1])

    def _apply(self, run: _Run, upd: ChunkUpdate, epoch: int, step0: int, t0: float
               ) -> int:
        st = upd.state
        n = len(upd.rows)
        first = st.step - n + 1
        for i in range(n):
            run.history.add(first + i, upd.rows[i])
        for s, vals in upd.evals:
            run.metric_log.add(s, vals)
        if n:
            run.latest = dict(zip(LOSS_KEYS, upd.rows[-1].tolist()))
        if run.reg_epoch != epoch:   # the regularizer changed mid-chunk: its state is stale
            st.reg_g = st.reg_d = None
        done = st.step - run.state.step
        run.state = st
        run.eval_start = False
        run.host.G.load_state_dict(st.g)
        run.host.D.load_state_dict(st.d)
        run.host.step = st.step
        if upd.seconds > 0 and st.step > step0:
            self._train_rate = (st.step - step0) / upd.seconds
            wall = time.monotonic() - t0
            if wall > 0:
                self._rate = (st.step - step0) / wall
        self._weights_version += 1
        if self._budget is not None and done:
            self._budget -= done
        if upd.diverged:
            self._budget = None
            self._set_state("diverged", upd.diverged + " Paused; everything before it is "
                                        "kept. Lower the learning rate or lambda, then press "
                                        "Train (or Reset).")
        elif st.step >= run.cfg.steps and self._state not in ("stopped", "error"):
            self._set_state("done", f"Done: {st.step} steps.")
        elif self._budget is not None and self._budget <= 0 and self._state == "running":
            self._budget = None
            self._interrupt = True
            self._set_state("paused", f"Stepped to {st.step}.")
        else:
            self._publish()
        return done

    # --- worker thread ---------------------------------------------------------------------
    def _check_alive(self):
        if self._state in ("stopped", "error") or self._stop:
            raise RuntimeError(f"job is {self._state}; create a new one")

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            ctx = contextvars.copy_context()   # carries the gradio request into GPU calls
            self._thread = threading.Thread(target=ctx.run, args=(self._loop,),
                                            name="gan-lab-chunks", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _loop(self):
        while True:
            with self._cond:
                if self._await_work():
                    return
                run = self._run
                if run.state.step >= run.cfg.steps and self._last_eval(run) == \
                        (run.state.step, True):
                    self._set_state("done", f"Done: {run.state.step} steps.")
                    continue
                budget = self._budget
            try:
                self.run_chunk(budget)
            except Exception as e:   # the committed state is intact: let the user retry
                with self._cond:
                    if self._state == "running":
                        self._set_state("paused", f"Paused: a training chunk failed "
                                                  f"({type(e).__name__}: {e}). Your run is "
                                                  "kept; press Train to retry.")
            with self._cond:
                if self._want_pause and self._state == "running":
                    self._set_state("paused", f"Paused at step {self._run.state.step}.")
                self._interrupt = self._want_pause = False

    def _ttl_expired(self) -> bool:
        return self.ttl_s is not None and time.monotonic() - self._last_poll > self.ttl_s

    # --- publishing ------------------------------------------------------------------------
    def _replace_run(self, run: _Run) -> None:
        self._run = run
        self._gen_id += 1
        self._interrupt = self._busy
        self._budget = None
        self._train_rate = 0.0
        self._weights_version += 1

    def _set_state(self, state: str, message: str) -> None:
        self._state = state
        self._message = message
        self._publish()
        self._cond.notify_all()

    def _publish(self) -> None:
        run = self._run
        self._version += 1
        host = run.host
        samples = host.sample(N_VIEW_MNIST if host.data.is_image else N_VIEW_2D)
        g, d = (run.state.g, run.state.d)
        snap = snapshot_of(host, run.history, run.metric_log, version=self._version,
                           state=self._state, message=self._message, steps_per_s=self._rate,
                           latest_losses=run.latest, g_state=g, d_state=d, samples=samples,
                           weights_version=self._weights_version)
        label = run.device + (" (ZeroGPU)" if run.device == "cuda" and on_zerogpu() else "")
        self._snap = dataclasses.replace(snap, cfg=run.cfg, steps_total=run.cfg.steps,
                                         device=label)
