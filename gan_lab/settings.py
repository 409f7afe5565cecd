"""Every `GAN_LAB_*` environment variable, declared once: name, type, default, allowed range and
help. `get(name)` reads one, validated (a bad value raises SettingError naming the variable and
what it allows); `check()` validates them all, which the server does once at start
(Limits.from_env). README's table of variables lists the same names, defaults and ranges
(tests/test_settings.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any


class SettingError(ValueError):
    """A GAN_LAB_* variable holds a value it does not allow."""


@dataclass(frozen=True)
class Var:
    name: str
    type: type           # int, float, bool (0 or 1) or str
    default: Any         # None: unset
    help: str
    lo: float | None = None      # smallest allowed value
    hi: float | None = None      # largest allowed value
    above: float | None = None   # values must be greater than this

    def allowed(self) -> str:
        """The allowed values in words ("a whole number >= 1", "0 or 1", ...)."""
        if self.type is bool:
            return "0 or 1"
        if self.type is str:
            return "any text"
        what = "a whole number" if self.type is int else "a number"
        if self.lo is not None and self.hi is not None:
            return f"{what} from {self.lo:g} to {self.hi:g}"
        if self.above is not None:
            return f"{what} > {self.above:g}"
        return f"{what} >= {self.lo:g}" if self.lo is not None else what

    def parse(self, raw: str):
        bad = SettingError(f"{self.name}={raw!r}: must be {self.allowed()}")
        if self.type is str:
            return raw
        if self.type is bool:
            if raw not in ("0", "1"):
                raise bad
            return raw == "1"
        try:
            v = self.type(raw)
        except ValueError:
            raise bad from None
        if not math.isfinite(v) or (self.lo is not None and v < self.lo) or \
                (self.hi is not None and v > self.hi) or \
                (self.above is not None and v <= self.above):
            raise bad
        return v


def _v(name, type_, default, help_, **rng) -> Var:
    return Var(f"GAN_LAB_{name}", type_, default, help_, **rng)


VARS = (
    _v("MAX_RUNNING", int, 2, "worker processes, i.e. runs training at the same instant (one per "
       "core); more running runs take turns", lo=1),
    _v("MAX_JOBS", int, 64, "runs alive at once (running or paused), server-wide: the memory cap",
       lo=1),
    _v("MAX_STEPS", int, 100_000, "steps per run", lo=1),
    _v("MAX_PARAMS", int, 3_000_000, "G + D parameters per run (also sizes the checkpoint "
       "upload cap)", lo=1),
    _v("MAX_STEP_GFLOP", float, 10.0, "what one training step may cost (`gan_lab/cost.py`'s "
       "estimate; at 10, 0.1-0.55 s of one core measured)", above=0),
    _v("MAX_EVAL_GFLOP", float, 1000.0, "what the evaluation at a run's end may cost (quality "
       "metrics and sharpness; at 1000, 3-17 s of one core)", above=0),
    _v("MAX_STEP_MB", float, 512.0, "peak activation memory of a step or of that evaluation",
       above=0),
    _v("RUNS_PER_SESSION", int, 4, "runs one page may have in the workers at once: its run, "
       "run A and sweep runs (finished runs hold none)", lo=1),
    _v("JOB_TTL_S", float, 120.0, "the runs of a page that stopped polling for this long are "
       "stopped", above=0),
    _v("TORCH_THREADS", int, 1, "torch threads of the server process", lo=1),
    _v("PROCESS_JOBS", bool, True, "0 trains in threads of the server process (debugging)"),
    _v("RENDER_PROCESS", bool, True, "0 draws plots in the server process"),
    _v("CACHE_MB", int, 512, "gradio's upload/download cache is kept under this size", lo=1),
    _v("CACHE_AGE_S", int, 600, "unused uploads and served downloads are deleted after this",
       lo=1),
    _v("GPU_DURATION_S", int, 20, "ZeroGPU only: GPU seconds per training chunk", lo=1),
    _v("WORKER_NICE", int, 5, "niceness of the training processes: page and poll requests get "
       "the CPU first", lo=0, hi=19),
    _v("RUNS_DIR", str, "runs", "where runs go: saved runs in `<dir>/app/<session token>/`, "
       "sweeps in `<dir>/sweep` by default"),
    _v("SAVED_PER_SESSION", int, 8, "runs one session may save", lo=1),
    _v("SAVED_MAX", int, 500, "saved runs on the server in all", lo=1),
    _v("SAVED_MB_PER_SESSION", float, 100.0, "MB of saved runs per session", above=0),
    _v("SAVED_MB", float, 2048.0, "MB of saved runs on the server in all (earlier starts' "
       "included)", above=0),
    _v("RAY_ADDRESS", str, None, "train every session's run as a Ray actor on this cluster "
       "(`auto`, an address, or `local`); see [docs/SWEEPS.md](docs/SWEEPS.md)"),
    _v("RAY_CPUS_PER_RUN", float, 1.0, "with `GAN_LAB_RAY_ADDRESS`: CPUs each run's actor "
       "reserves", above=0),
    _v("RAY_GPUS_PER_RUN", float, 0.0, "with `GAN_LAB_RAY_ADDRESS`: GPUs each run's actor "
       "reserves, e.g. 0.25", lo=0),
    _v("RAY_SHIP_CODE", bool, True, "0: Ray workers import gan_lab from their own install "
       "instead of the code shipped from here"),
    _v("SLICE_LOG", str, None, "a file the worker pool appends one line per training slice to "
       "(load measurements)"),
)
BY_NAME = {v.name: v for v in VARS}


def default(name: str):
    return BY_NAME[name].default


def get(name: str, env=None):
    """The value of GAN_LAB_* variable `name` (os.environ, or env); its default when unset or
    blank. SettingError for a value it does not allow."""
    var = BY_NAME[name]
    raw = (os.environ if env is None else env).get(name, "").strip()
    return var.parse(raw) if raw else var.default


def check(env=None) -> dict[str, Any]:
    """Every variable's value, each validated (SettingError for the first bad one)."""
    return {name: get(name, env) for name in BY_NAME}
