"""TrainState: everything a training step reads and changes, as one picklable value.

Trainer.export_state() / import_state() move it: to the CPU between ZeroGPU chunks and worker
processes (a run moved to a less busy process goes on bit for bit), or as a device-side copy for
rolling back a diverged chunk on a GPU (weights, optimizer moments, the noise generator and the
regularizers' kept state together, so nothing drifts).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass
class TrainState:
    """Everything a training step reads and changes: weights, optimizer moments, the noise
    generator, the regularizers' kept state and the step. Picklable when on the CPU.

    rng is (device type, generator state): CPU and CUDA generators have different states, so
    None means "the trainer's device starts its generator from the seed", as a new Trainer does.
    reg_g/reg_d: each regularizer's state_dict() ({"kind", "value"}, HSN1R's "v" too; a
    combination's: {"kind", "members"}), or None for "fresh" (after a regularizer change).
    lam_ctl: the adaptive lambda's controller (gan_lab.adaptive; None = from the config)."""

    step: int
    g: dict[str, torch.Tensor]
    d: dict[str, torch.Tensor]
    opt_g: dict
    opt_d: dict
    rng: tuple[str, torch.Tensor] | None
    reg_g: dict | None
    reg_d: dict | None
    lam_ctl: dict | None = None

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


def copied(x, to: str | None):
    """A deep copy of tensors in nested containers, moved to `to` (None: same device)."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return x.to("cpu", copy=True) if to == "cpu" else x.clone()
    if isinstance(x, dict):
        return {k: copied(v, to) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(copied(v, to) for v in x)
    return copy.deepcopy(x)


def reg_state(reg, to: str | None) -> dict:
    """reg.state_dict() copied to `to`; to the CPU with each logged value as a float."""
    def floats(st: dict) -> dict:
        return {k: [floats(m) for m in v] if k == "members" else float(v) if k == "value" else v
                for k, v in st.items()}
    st = copied(reg.state_dict(), to)
    return floats(st) if to == "cpu" else st
