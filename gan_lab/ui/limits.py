"""Server-wide limits that keep a shared box usable, read from the environment (README,
"Serving a class"). Re-exported by gan_lab.ui.sessions."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from .. import cost


def _env_num(env, name: str, default, cast=int, allow_zero: bool = False):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        v = cast(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{name}={raw!r} must be a finite number")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}={raw!r} must be {'>= 0' if allow_zero else 'positive'}")
    return v


@dataclass
class Limits:
    """Server-wide caps, read from the environment so a deployment can tune them without code.

    GAN_LAB_MAX_RUNNING  runs training at the same instant, one per worker process (default 2:
                         one per core of a 2-vCPU box); more running runs take turns on them
    GAN_LAB_MAX_JOBS     runs alive at once (running or paused), server-wide: the memory cap
                         (a 2-D run holds a few MB, an MNIST conv run tens of MB)
    GAN_LAB_MAX_STEPS    steps per run per session
    GAN_LAB_MAX_PARAMS   G + D parameters per session
    GAN_LAB_MAX_STEP_GFLOP  the most one training step may cost (gan_lab.cost's estimate;
                         default 10: 0.1-0.55 s of one core): a worker cannot interrupt a
                         step, so this bounds how long one run keeps a core from the others
    GAN_LAB_MAX_EVAL_GFLOP  the most the evaluation at the end of a run may cost (default
                         1000: 3-17 s of one core, quality metrics and sharpness)
    GAN_LAB_MAX_STEP_MB  peak activation memory of a step or of that evaluation (default 512)
    GAN_LAB_RUNS_PER_SESSION  runs one session may hold in the workers at once: its run, run A
                         of a comparison and its sweep's runs (default 4; finished runs hold
                         none)
    GAN_LAB_JOB_TTL_S    a job nobody polled for this long stops itself (closed or lost tab)
    GAN_LAB_TORCH_THREADS  torch intra-op threads of the server process
    GAN_LAB_PROCESS_JOBS 0 trains in threads of the server process instead (slower while the
                         page renders, since they share the GIL; for debugging)
    GAN_LAB_CACHE_MB     gradio's upload/download cache is kept under this size (oldest
                         files deleted first)
    GAN_LAB_CACHE_AGE_S  cached files (unused uploads, served downloads) are deleted after this
    GAN_LAB_WORKER_NICE  niceness of the training processes (0-19; default 5): the page's
                         processes answer first, training takes the rest of the cores
    GAN_LAB_SAVED_PER_SESSION  runs one session may save (Save the run on screen; default 8)
    GAN_LAB_SAVED_MAX    saved runs in $GAN_LAB_RUNS_DIR/app in all (default 500)
    GAN_LAB_SAVED_MB_PER_SESSION  MB of saved runs per session (default 100)
    GAN_LAB_SAVED_MB     MB of saved runs in $GAN_LAB_RUNS_DIR/app in all, earlier server
                         starts' included (default 2048)
    """

    max_running: int = 2
    max_steps: int = 100_000
    max_params: int = 3_000_000
    ttl_s: float = 120.0
    torch_threads: int | None = None
    max_jobs: int = 64
    process_jobs: bool = True
    cache_mb: int = 512
    cache_age_s: int = 600
    worker_nice: int = 5
    saved_per_session: int = 8
    saved_total: int = 500
    max_step_gflop: float = cost.MAX_STEP_GFLOP
    max_eval_gflop: float = cost.MAX_EVAL_GFLOP
    max_step_mb: float = cost.MAX_STEP_MB
    runs_per_session: int = 4
    saved_mb_per_session: float = 100.0
    saved_mb: float = 2048.0

    @classmethod
    def from_env(cls, env=None) -> "Limits":
        env = os.environ if env is None else env
        d = cls()
        return cls(
            max_running=_env_num(env, "GAN_LAB_MAX_RUNNING", d.max_running),
            max_steps=_env_num(env, "GAN_LAB_MAX_STEPS", d.max_steps),
            max_params=_env_num(env, "GAN_LAB_MAX_PARAMS", d.max_params),
            ttl_s=_env_num(env, "GAN_LAB_JOB_TTL_S", d.ttl_s, float),
            torch_threads=_env_num(env, "GAN_LAB_TORCH_THREADS", None),
            max_jobs=_env_num(env, "GAN_LAB_MAX_JOBS", d.max_jobs),
            process_jobs=env.get("GAN_LAB_PROCESS_JOBS", "1").strip() != "0",
            cache_mb=_env_num(env, "GAN_LAB_CACHE_MB", d.cache_mb),
            cache_age_s=_env_num(env, "GAN_LAB_CACHE_AGE_S", d.cache_age_s),
            worker_nice=_env_num(env, "GAN_LAB_WORKER_NICE", d.worker_nice, allow_zero=True),
            saved_per_session=_env_num(env, "GAN_LAB_SAVED_PER_SESSION", d.saved_per_session),
            saved_total=_env_num(env, "GAN_LAB_SAVED_MAX", d.saved_total),
            max_step_gflop=_env_num(env, "GAN_LAB_MAX_STEP_GFLOP", d.max_step_gflop, float),
            max_eval_gflop=_env_num(env, "GAN_LAB_MAX_EVAL_GFLOP", d.max_eval_gflop, float),
            max_step_mb=_env_num(env, "GAN_LAB_MAX_STEP_MB", d.max_step_mb, float),
            runs_per_session=_env_num(env, "GAN_LAB_RUNS_PER_SESSION", d.runs_per_session),
            saved_mb_per_session=_env_num(env, "GAN_LAB_SAVED_MB_PER_SESSION",
                                          d.saved_mb_per_session, float),
            saved_mb=_env_num(env, "GAN_LAB_SAVED_MB", d.saved_mb, float),
        )

    def threads(self) -> int:
        """Intra-op threads of the server process (previews, drawing helpers): the cores belong
        to the worker processes, so one unless set."""
        return self.torch_threads or 1


def configure_torch(limits: Limits) -> None:
    torch.set_num_threads(limits.threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; harmless when already fixed
