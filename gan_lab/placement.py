"""Where and how a Trainer runs: its device, its threads and a shared server's caps
(re-exported by gan_lab.trainer)."""

from __future__ import annotations

import os

import torch

from .config import ConfigError, RunConfig
from .cost import n_params as count_params


# --------------------------------------------------------------------------------------------
# Device and threads
# --------------------------------------------------------------------------------------------
def resolve_device(cfg: RunConfig) -> tuple[torch.device, str]:
    """(device, reason). An explicit device must exist; 'auto' prefers an accelerator except for
    tiny 2-D nets, where kernel-launch latency makes a GPU slower than one CPU core."""
    has_cuda = torch.cuda.is_available()
    has_mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if cfg.device == "cuda":
        if not has_cuda:
            raise ConfigError("device", "cuda was requested but no CUDA GPU is available here; "
                                        "use auto or cpu")
        return torch.device("cuda"), "requested"
    if cfg.device == "mps":
        if not has_mps:
            raise ConfigError("device", "mps was requested but Apple MPS is not available here; "
                                        "use auto or cpu")
        return torch.device("mps"), "requested"
    if cfg.device == "cpu":
        return torch.device("cpu"), "requested"
    if not (has_cuda or has_mps):
        return torch.device("cpu"), "auto: no GPU found"
    accel = torch.device("cuda" if has_cuda else "mps")
    # Work per step ~ batch * width^2 * depth. Below this a step is a few dozen tiny kernels whose
    # launch latency exceeds the CPU's compute time (see the bench command's cpu-vs-gpu table).
    work = cfg.batch_size * max(cfg.g_hidden, cfg.d_hidden) ** 2 * max(cfg.g_depth, cfg.d_depth)
    if not cfg.is_image and work < 256 * 256**2 * 3:
        return torch.device("cpu"), f"auto: CPU (a {accel.type} GPU is present, but this 2-D " \
                                    "net is too small to gain from it)"
    return accel, f"auto: {accel.type}"


def default_threads(cfg: RunConfig | None = None) -> int:
    """Intra-op threads for training. These nets are tiny: splitting a 256x128 matmul over
    threads costs more in synchronization than it saves, and on a shared 2-core box two threads
    per job oversubscribe the CPU (measured: 116 vs 5 steps/s under load). Conv MNIST is the one
    model big enough to gain from a second thread."""
    cores = os.cpu_count() or 1
    if cfg is not None and cfg.is_image and cfg.arch == "conv":
        return min(2, cores)
    return 1


def check_limits(cfg: RunConfig, max_steps: int | None = None,
                 max_params: int | None = None) -> None:
    """Per-session caps of a shared server, reported like any other bad field."""
    if max_steps is not None and cfg.steps > max_steps:
        raise ConfigError("steps", f"this server allows at most {max_steps:,} steps per run")
    if max_params is not None:
        # Counted on nets without storage (gan_lab.cost), never built: a refused config must
        # cost nothing (issue 18).
        total = count_params(cfg)
        if total > max_params:
            raise ConfigError("g_hidden", f"the model has {total:,} parameters; this server "
                                          f"allows {max_params:,}. Lower the widths or depths")
