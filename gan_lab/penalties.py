"""D's gradient penalties: penalties on the gradient of D's output with respect to its input
(not on its weights, which is what gan_lab.regularizers do). Each is a second backward beside the
adversarial loss's, accumulating into D's .grad, and returns its value (weight included,
detached) for the loss row's `gp_d`.

- R1 (RunConfig.d_r1, Mescheder et al. 2018): gamma/2 * E||grad_x D(x)||^2 on the real batch.
- WGAN-GP (loss wgan-gp, RunConfig.gp_weight, Gulrajani et al. 2017):
  gp * E[(||grad_x D(x_hat)||_2 - 1)^2] on x_hat = e*real + (1-e)*fake, e ~ U(0, 1) per sample.
  e is drawn by the caller from the training noise generator (`interpolation_weights`), so a run
  stays deterministic and a closure evaluated twice sees the same interpolates.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def r1_backward(D: nn.Module, real: Tensor, gamma: float) -> Tensor:
    """Accumulate the gradient of gamma/2 * mean_i ||d D(x_i) / d x_i||^2 on the real batch into
    D's .grad; return the penalty, detached."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    pen = 0.5 * gamma * grad.pow(2).flatten(1).sum(1).mean()
    pen.backward()
    return pen.detach()


def interpolation_weights(real: Tensor, gen: torch.Generator) -> Tensor:
    """e ~ U(0, 1), one per sample, shaped to broadcast over a sample ([N, 1] or [N, 1, 1, 1])."""
    return torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=gen,
                      device=real.device, dtype=real.dtype)


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, e: Tensor) -> Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = e*real + (1-e)*fake, with its graph (so it
    can be differentiated with respect to D's weights)."""
    x = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return (torch.linalg.vector_norm(grad.flatten(1), dim=1) - 1).pow(2).mean()


def gp_backward(D: nn.Module, real: Tensor, fake: Tensor, e: Tensor, weight: float) -> Tensor:
    """Accumulate the gradient of weight * gradient_penalty(...) into D's .grad; return the
    penalty (weight included), detached."""
    pen = weight * gradient_penalty(D, real, fake, e)
    pen.backward()
    return pen.detach()
