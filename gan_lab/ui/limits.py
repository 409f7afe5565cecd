"""Server-wide limits that keep a shared box usable, read from the environment (README,
"Serving a class"). Re-exported by gan_lab.ui.sessions."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import settings

# Limits field -> its GAN_LAB_* variable (gan_lab.settings declares each: default, range, help).
ENV = {"max_running": "MAX_RUNNING", "max_steps": "MAX_STEPS", "max_params": "MAX_PARAMS",
       "ttl_s": "JOB_TTL_S", "torch_threads": "TORCH_THREADS", "max_jobs": "MAX_JOBS",
       "process_jobs": "PROCESS_JOBS", "cache_mb": "CACHE_MB", "cache_age_s": "CACHE_AGE_S",
       "worker_nice": "WORKER_NICE", "saved_per_session": "SAVED_PER_SESSION",
       "saved_total": "SAVED_MAX", "max_step_gflop": "MAX_STEP_GFLOP",
       "max_eval_gflop": "MAX_EVAL_GFLOP", "max_step_mb": "MAX_STEP_MB",
       "runs_per_session": "RUNS_PER_SESSION", "saved_mb_per_session": "SAVED_MB_PER_SESSION",
       "saved_mb": "SAVED_MB"}


def _default(field: str):
    return settings.default(f"GAN_LAB_{ENV[field]}")


@dataclass
class Limits:
    """Server-wide caps, read from the environment so a deployment can tune them without code:
    each field's variable (ENV), default, range and meaning are declared in gan_lab.settings
    (README's table lists them)."""

    max_running: int = _default("max_running")
    max_steps: int = _default("max_steps")
    max_params: int = _default("max_params")
    ttl_s: float = _default("ttl_s")
    torch_threads: int = _default("torch_threads")
    max_jobs: int = _default("max_jobs")
    process_jobs: bool = _default("process_jobs")
    cache_mb: int = _default("cache_mb")
    cache_age_s: int = _default("cache_age_s")
    worker_nice: int = _default("worker_nice")
    saved_per_session: int = _default("saved_per_session")
    saved_total: int = _default("saved_total")
    max_step_gflop: float = _default("max_step_gflop")
    max_eval_gflop: float = _default("max_eval_gflop")
    max_step_mb: float = _default("max_step_mb")
    runs_per_session: int = _default("runs_per_session")
    saved_mb_per_session: float = _default("saved_mb_per_session")
    saved_mb: float = _default("saved_mb")

    @classmethod
    def from_env(cls, env=None) -> "Limits":
        """The caps from the environment (os.environ, or env), every GAN_LAB_* variable
        validated on the way (settings.SettingError names a bad one and its range)."""
        values = settings.check(env)
        return cls(**{f: values[f"GAN_LAB_{v}"] for f, v in ENV.items()})

    def threads(self) -> int:
        """Intra-op threads of the server process (previews, drawing helpers): the cores belong
        to the worker processes, so one unless set."""
        return self.torch_threads


def configure_torch(limits: Limits) -> None:
    torch.set_num_threads(limits.threads())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; harmless when already fixed
