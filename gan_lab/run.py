"""Run: a Trainer, its logs, and THE training loop.

Every place that trains calls `Run.advance()`: the CLI's `train` (and so `eval` and sweeps),
the thread job, the worker processes behind the app, ZeroGPU chunks, Ray actors and the bench.
It lives here once:

- the evaluation schedule: an evaluation at every multiple of eval_every and sharpness_every
  (with sharpness at the latter), and at the last step a full-precision one with sharpness;
  evaluations land on the same steps however a run is cut into advances;
- divergence: on the CPU each loss is checked before its update, so the bad update is skipped
  and the good steps before it are kept; on a GPU a sub-chunk runs unchecked and, if any of its
  losses is not finite, the whole sub-chunk is rolled back (weights, optimizer moments, noise
  generator and regularizer state). Either way the run stops at the last good state and the
  Commit says where and why;
- steps between host syncs: sub-chunks sized to about SUB_S seconds of work, never crossing an
  evaluation step.

`advance(max_steps, seconds)` returns a `Commit`: the loss rows and evaluations since the last
commit and, unless view=False, what a page shows of the run now (CPU weights and samples). A
run cut into advances of any sizes gives bit-identical weights, curves and metrics on the CPU
to one uninterrupted advance (tests/test_run.py).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import RunConfig
from .logs import History, MetricLog
from .losses import LOSS_KEYS
from .state import TrainState
from .trainer import Trainer

SUB_S = 0.05        # seconds of training between host syncs (and deadline checks)
MAX_SUB = 256       # steps per sub-chunk at most


@dataclass
class RunInfo:
    """What does not change during a run (until a reset): for plots and the status line."""

    device: str
    device_reason: str
    is_image: bool
    bounds: tuple[float, float, float, float] | None
    modes: np.ndarray | None = field(default=None, repr=False)
    real: np.ndarray | None = field(default=None, repr=False)   # real points shown (2-D)


@dataclass
class Commit:
    """What one advance did. rows[i] belongs to step `step - len(rows) + 1 + i`; every row is
    finite. evals: (step, metrics) measured since the previous commit. done: the run reached
    cfg.steps and made its final evaluation. diverged: why it stopped early (the run is at its
    last good state). g_state, d_state (CPU tensors) and samples: the run as a page shows it
    now, or None when the advance was asked for no view. notes: reports made on the way (an
    adaptive lambda's goal found unreachable)."""

    step: int
    rows: np.ndarray
    evals: list[tuple[int, dict[str, float]]]
    seconds: float
    done: bool = False
    diverged: str | None = None
    g_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    d_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    samples: np.ndarray | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)   # e.g. an adaptive lambda's unreachable goal

    def portable(self) -> Commit:
        """This commit with its weights as numpy arrays, for another process: plain pickle
        writes and reads them ~10x and ~25x faster than torch tensors (whose reducer rebuilds
        each storage), ~1.6 ms less per slice on this CPU for the default 2-D nets."""
        if self.g_state is None:
            return self
        return dataclasses.replace(self, g_state=_to_numpy(self.g_state),
                                   d_state=_to_numpy(self.d_state))

    def restored(self) -> Commit:
        """The inverse of portable (torch tensors sharing the arrays' memory)."""
        if self.g_state is None:
            return self
        return dataclasses.replace(self, g_state=_to_torch(self.g_state),
                                   d_state=_to_torch(self.d_state))

    @property
    def latest(self) -> dict[str, float]:
        """The last loss row by name (empty when the commit trained no step)."""
        return dict(zip(LOSS_KEYS, self.rows[-1].tolist())) if len(self.rows) else {}


def _to_numpy(state: dict) -> dict:
    out = {}
    for k, v in state.items():
        try:
            out[k] = v.numpy()
        except (TypeError, RuntimeError):   # a dtype numpy lacks (bfloat16): as it is
            out[k] = v
    return out


def _to_torch(state: dict) -> dict:
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}


def start_metrics(tr: Trainer) -> dict[str, float]:
    """The evaluation a job starts with: cheap, so a job is ready at once. For 2-D data it
    includes sharpness (~0.1 s; the curve needs a starting point); for MNIST, sharpness and the
    classifier (~0.5-5 s) first run at their intervals."""
    two_d = not tr.data.is_image
    return tr.evaluate(sharp=two_d and tr.cfg.sharpness_every > 0, quality=two_d)


def _crossed(k: int, s: int, s0: int) -> bool:
    return k > 0 and s // k != s0 // k


def _to_boundary(k: int, s: int) -> float:
    return k - s % k if k > 0 else float("inf")


class Run:
    """A Trainer with its logs. See the module docstring.

    weights: (g_state, d_state, step) to continue from (optimizer moments start fresh).
    start_eval: "cheap" (start_metrics, what jobs show at step 0), "full" (the CLI's: quality
    and sharpness) or None (no evaluation at the start, e.g. a run resumed from a TrainState).
    device: overrides cfg.device (a ZeroGPU chunk or a worker decides where it trains)."""

    def __init__(self, cfg: RunConfig, points: np.ndarray | None = None, *,
                 weights: tuple | None = None, history_cap: int = 1000,
                 metric_cap: int = 500, start_eval: str | None = "cheap",
                 device: str | None = None):
        if device is not None and device != cfg.device:
            cfg = dataclasses.replace(cfg, device=device)
        self.trainer = tr = Trainer(cfg, points)
        if weights is not None:
            tr.load_weights(*weights)
        self.history = History(LOSS_KEYS, history_cap)
        self.metric_log = MetricLog(metric_cap)
        self._evals: list[tuple[int, dict[str, float]]] = []   # not yet committed
        self._final_at = -1      # step of the last full-precision final evaluation
        self._k = 1              # steps per sub-chunk; grows to about SUB_S of work
        self.notes: list[str] = []   # every note of the run; Commit.notes: the new ones
        self._new_notes: list[str] = []
        # CPU-seconds of this thread (time.thread_time; one torch thread) in training steps and
        # in evaluations, and the training CPU-seconds at each evaluation's step.
        self.cpu_train = self.cpu_eval = 0.0
        self.train_cpu_at: dict[int, float] = {}
        if start_eval is not None:
            if start_eval == "cheap":
                self._evaluate(start_metrics, tr)
            else:
                self._evaluate(tr.evaluate, sharp=tr.cfg.sharpness_every > 0)

    # --- what it is ------------------------------------------------------------------------
    @property
    def cfg(self) -> RunConfig:
        return self.trainer.cfg

    @property
    def step(self) -> int:
        return self.trainer.step

    def info(self) -> RunInfo:
        tr = self.trainer
        two_d = not tr.data.is_image
        return RunInfo(device=str(tr.device), device_reason=tr.device_reason,
                       is_image=tr.data.is_image, bounds=tr.data.bounds if two_d else None,
                       modes=tr.data.modes,
                       real=tr.eval_real[:tr.kind.n_view].cpu().numpy() if two_d else None)

    def view(self) -> tuple[dict, dict, np.ndarray]:
        """(G weights, D weights, samples) on the CPU: what a page shows of the run now."""
        g, d = self.trainer.state_dicts()
        return g, d, self.trainer.view_samples()

    def apply(self, new: RunConfig | None = None, /, **changes) -> RunConfig:
        """Change live fields in place, weights and optimizer moments kept (Trainer.apply)."""
        return self.trainer.apply(new, **changes)

    def export_state(self) -> TrainState:
        return self.trainer.export_state("cpu")

    def import_state(self, st: TrainState, final_at: int = -1) -> None:
        """Continue from a TrainState (e.g. the previous ZeroGPU chunk's). final_at: the step
        of the run's final evaluation if it already made one there."""
        self.trainer.import_state(st)
        self._final_at = final_at

    @property
    def final_at(self) -> int:
        return self._final_at

    # --- the loop --------------------------------------------------------------------------
    def _evaluate(self, measure, *args, **kwargs) -> None:
        c = time.thread_time()
        m = measure(*args, **kwargs)
        self.cpu_eval += time.thread_time() - c
        step = self.trainer.step
        self.train_cpu_at[step] = self.cpu_train
        self.metric_log.add(step, m)
        self._evals.append((step, m))

    def _scheduled(self, sharp: bool) -> dict[str, float]:
        """An evaluation of the schedule, and the adaptive lambda's measurement on it."""
        tr = self.trainer
        m = tr.evaluate(sharp=sharp)
        note = tr.adapt(m, sharp)    # gan_lab.adaptive
        if note:
            self.notes.append(note)
            self._new_notes.append(note)
        return m

    def advance(self, max_steps: int | None = None, seconds: float | None = None, *,
                view: bool = True) -> Commit:
        """Train until `max_steps` more steps are done, `seconds` have passed (checked after
        each sub-chunk of about SUB_S: at least one sub-chunk runs), cfg.steps is reached or a
        loss diverges."""
        tr = self.trainer
        cfg = tr.cfg
        t0 = time.monotonic()
        target = cfg.steps if max_steps is None else min(cfg.steps, tr.step + max(0, max_steps))
        rows: list[np.ndarray] = []
        t_train = 0.0
        diverged = None
        while tr.step < target:
            s0 = tr.step
            n = int(min(self._k, target - s0, _to_boundary(cfg.eval_every, s0),
                        _to_boundary(cfg.sharpness_every, s0)))
            saved = None if tr.checks_each_step else tr.export_state(to=None)
            t, c = time.monotonic(), time.thread_time()
            r = tr.run_steps(n)
            dt = time.monotonic() - t
            self.cpu_train += time.thread_time() - c
            t_train += dt
            ok = np.isfinite(r).all(axis=1)
            if not ok.all():
                bad = int(np.argmin(ok))
                what = ", ".join(k for k, v in zip(LOSS_KEYS, r[bad]) if not np.isfinite(v))
                value = r[bad][~np.isfinite(r[bad])][0]
                if saved is not None:      # unchecked (GPU): undo the whole sub-chunk
                    tr.import_state(saved)
                else:                      # checked before each update: keep the good rows
                    rows.append(r[:bad])
                    tr.step = s0 + bad
                diverged = f"Diverged at step {tr.step + 1}: {what} became {value}."
                break
            rows.append(r)
            self._k = max(1, min(MAX_SUB, int(self._k * 2 if dt < SUB_S / 2
                                              else SUB_S / max(dt / n, 1e-9))))
            s = tr.step
            sharp = _crossed(cfg.sharpness_every, s, s0)
            if _crossed(cfg.eval_every, s, s0) or sharp:
                self._evaluate(self._scheduled, sharp)
            if seconds is not None and time.monotonic() - t0 >= seconds:
                break
        done = diverged is None and tr.step >= cfg.steps
        if done and self._final_at != tr.step:
            # The last step always gets a full-precision evaluation with sharpness.
            self._evaluate(tr.evaluate, sharp=True, final=True)
            self._final_at = tr.step
        out = np.concatenate(rows) if rows else np.zeros((0, len(LOSS_KEYS)))
        for i, row in enumerate(out):
            self.history.add(tr.step - len(out) + 1 + i, row)
        evals, self._evals = self._evals, []
        commit = Commit(step=tr.step, rows=out, evals=evals, seconds=t_train, done=done,
                        diverged=diverged, notes=self._new_notes)
        self._new_notes = []
        if view:
            commit.g_state, commit.d_state, commit.samples = self.view()
        return commit
