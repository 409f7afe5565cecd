"""Snapshot: an immutable picture of a run, the one thing plots, exports and the UI read.

Jobs publish them (gan_lab.jobs); the CLI makes one of its finished Run for samples.png
(`snapshot_of`). A Snapshot holds CPU data only and is safe to read from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch

from .config import RunConfig


class JobState(str, Enum):
    """A job's state (gan_lab.jobs.base): idle -> running -> paused / done / diverged, and
    stopped or error for good. A str, so it equals its name in lower case ("running"): pages,
    JSON and older comparisons read it as the plain string it always was."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    DIVERGED = "diverged"
    STOPPED = "stopped"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__   # f"{state}" is "running" on every Python version


STATES = tuple(s.value for s in JobState)


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of a run.

    history: per-step curves (step, loss_d, loss_g, reg_d, reg_g), downsampled.
    metrics: evaluation curves (step, sparsity_*, zeros_*, modes, hq_frac, ..., sharpness_*).
    g_state/d_state: CPU copies of the weights (for histograms and for rebuilding the nets).
    samples: 2-D [N_VIEW_2D, 2] points or MNIST [64, 1, 28, 28] in [-1, 1], from fixed noise.
    weights_version bumps when g_state/d_state/samples change, so renderers can skip work.
    eta_s: seconds until a running run is done at its current share (None until measured).
    """

    version: int
    state: JobState | str
    message: str
    step: int
    steps_total: int
    steps_per_s: float
    device: str
    cfg: RunConfig
    history: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    latest: dict[str, float]
    g_state: dict[str, torch.Tensor] = field(repr=False)
    d_state: dict[str, torch.Tensor] = field(repr=False)
    samples: np.ndarray | None = field(repr=False)
    weights_version: int = 0
    is_image: bool = False
    bounds: tuple[float, float, float, float] | None = None
    modes: np.ndarray | None = field(default=None, repr=False)
    real: np.ndarray | None = field(default=None, repr=False)
    eta_s: float | None = None


def snapshot_of(run, *, version: int = 0, state: JobState = JobState.DONE,
                message: str = "") -> Snapshot:
    """A Snapshot of a gan_lab.run.Run as it is now (the CLI's samples.png)."""
    info = run.info()
    g, d, samples = run.view()
    latest = {k: v for k, v in run.metric_log.latest().items() if k != "step"}
    return Snapshot(version=version, state=state, message=message, step=run.step,
                    steps_total=run.cfg.steps, steps_per_s=0.0, device=info.device,
                    cfg=run.cfg, history=run.history.columns(), metrics=run.metric_log.columns(),
                    latest=latest, g_state=g, d_state=d, samples=samples, weights_version=1,
                    is_image=info.is_image, bounds=info.bounds, modes=info.modes,
                    real=info.real)
