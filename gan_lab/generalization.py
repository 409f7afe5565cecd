"""D's generalization gap on MNIST (DESIGN.md, "Metrics"): the mean D logit on training digits
minus that on held-out digits the GAN never trains on. A growing gap is D memorizing its
training set: what "overfitting" (and "prevents overfitting") can mean for a GAN.

The split is mnist.split(): the GAN trains on its 8,000 `train` digits; the 2,000 `heldout`
digits (every 5th of the class-ordered file) are never trained on by the GAN (the evaluation
classifier's held-out accuracy and FCD's reference use them too).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from .metrics import _real_splits

GAP_TRAIN_EVERY = 4   # every 4th digit of the 8,000 the GAN trains on: 2,000, as many as held out


@lru_cache(maxsize=1)
def gap_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """(2,000 training digits, the 2,000 held-out digits) as float32 [N, 1, 28, 28] in [-1, 1],
    on the CPU, once per process. The GAN trains on the 8,000 digits of mnist.split().train;
    the training side here is every GAP_TRAIN_EVERY-th of them (a fixed subset, as many as the
    other side, so both means carry the same noise). The held-out side is mnist.split().heldout,
    which the GAN never sees (the classifier's held-out accuracy and FCD's reference use it too).
    """
    train, held = _real_splits()
    return train[::GAP_TRAIN_EVERY].contiguous(), held


@torch.no_grad()
def d_gap(D: nn.Module, train: torch.Tensor, held: torch.Tensor, batch: int = 500) -> float:
    """D's generalization gap: mean D(x) over `train` minus mean D(x) over `held` (raw logits,
    or critic scores for wgan-gp). Near 0 while D judges digits it trained on like new ones; a
    growing gap is D memorizing its training set (what "overfitting" means for a GAN)."""
    dev = next(D.parameters()).device

    def mean(x: torch.Tensor) -> float:
        total = sum(float(D(x[i:i + batch].to(dev)).double().sum())
                    for i in range(0, len(x), batch))
        return total / len(x)

    return mean(train) - mean(held)
