"""L1 (as a penalty or a proximal soft-threshold) and L2."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import Option, Regularizer, _check_lam

L1_MODES = ("penalty", "proximal")


def _sum_abs(params: Sequence[Tensor]) -> Tensor:
    return torch.stack([p.abs().sum() for p in params]).sum()


class L1(Regularizer):
    """lambda * sum |w|.

    mode 'penalty': the term goes through the loss (its subgradient sign(w) joins the optimizer's
    gradient; with Adam that is rescaled like any gradient, so weights get small but seldom 0).
    mode 'proximal': nothing is added to the loss; after each optimizer step the weights are
    soft-thresholded, w <- sign(w) * max(|w| - lr*lambda, 0), which gives exact zeros (LASSO).
    """

    kind = "l1"
    options = {"l1_mode": Option("mode", " ({})", near_label=True)}

    def __init__(self, params: Sequence[nn.Parameter], mode: str = "proximal"):
        if mode not in L1_MODES:
            raise ValueError(f"L1 mode must be one of {', '.join(L1_MODES)}; got {mode!r}")
        super().__init__(params)
        self.mode = mode

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        _check_lam(lam)
        if lam == 0 or not self.params:
            self.value = 0.0
            return None
        if self.mode == "proximal":
            # Logged all the same, so proximal and penalty runs can be compared on one chart.
            with torch.no_grad():
                self.value = lam * _sum_abs(self.params)
            return None
        pen = lam * _sum_abs(self.params)
        self.value = pen
        return pen

    def after_step(self, lam: float, lr: float) -> None:
        _check_lam(lam)
        if self.mode != "proximal" or lam == 0 or lr == 0:
            return
        t = lr * lam
        with torch.no_grad():
            for p in self.params:
                # where() rather than sign(w) * clamp(|w| - t, 0) so thresholded entries are +0.0,
                # not -0.0 (identical arithmetic elsewhere: w - t*sign(w) == sign(w)*(|w| - t)).
                p.copy_(torch.where(p.abs() > t, p - t * p.sign(), torch.zeros_like(p)))

    def __repr__(self) -> str:
        return f"L1(mode={self.mode!r}, {len(self.params)} tensors)"


class L2(Regularizer):
    """(lambda / 2) * sum w^2 (its gradient is lambda * w)."""

    kind = "l2"

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        _check_lam(lam)
        if lam == 0 or not self.params:
            self.value = 0.0
            return None
        pen = 0.5 * lam * torch.stack([p.pow(2).sum() for p in self.params]).sum()
        self.value = pen
        return pen
