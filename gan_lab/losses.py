"""Adversarial losses, all on raw discriminator logits (no sigmoid in the model).

d_loss(kind, real_logits, fake_logits) -> scalar the discriminator minimizes.
g_loss(kind, fake_logits)              -> scalar the generator minimizes.

wgan-gp (Gulrajani et al. 2017): D is a critic whose unbounded score estimates the Wasserstein
distance; d_loss is its E[D(fake)] - E[D(real)] alone. The gradient penalty on interpolates
(RunConfig.gp_weight) is a second backward beside it (gan_lab.penalties), as R1's is, so HSN1R
and sharpness see the critic's loss without it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .regularizers import extra_keys

# The choices of RunConfig.loss, each with how its help text names it.
LOSSES = {"ns": "non-saturating (ns)", "minimax": "minimax", "lsgan": "least-squares (lsgan)",
          "hinge": "hinge", "wgan-gp": "wgan-gp (D a critic with unbounded score and a gradient "
                                       "penalty; see --preset wgan-gp)"}
HELP = f"Adversarial loss: {', '.join(list(LOSSES.values())[:-1])} or {list(LOSSES.values())[-1]}."
# The columns of a training step's row (Trainer.run_steps). gp_d: D's gradient penalties (R1
# and WGAN-GP), weights included; the last D step's. reg_d / reg_g: the primary regularizer's
# penalty; extra_<kind>_<net>: each extra one's (RunConfig.extra_regs; 0 where that kind is not
# an extra on that network).
LOSS_KEYS = ("loss_d", "loss_g", "reg_d", "reg_g", "gp_d", *extra_keys())
# Losses whose D output is a score, not the logit of a probability (plots say so).
CRITICS = ("wgan-gp",)


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind in ("ns", "minimax"):
        # -log sigmoid(r) - log(1 - sigmoid(f)), written with softplus for stability.
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {kind!r}")


def d_loss_on(kind: str, D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """d_loss of D on real and fake samples in one forward pass over both (D has no batch
    statistics, so the scores are the ones two passes give): one pass of D's layers instead of
    two is ~15% of a small 2-D step, where per-call overhead, not arithmetic, dominates."""
    out = D(torch.cat((real, fake)))
    return d_loss(kind, out[:real.shape[0]], out[real.shape[0]:])


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "ns":
        return F.softplus(-fake).mean()  # -log D(G(z)): strong gradients early on
    if kind == "minimax":
        return -F.softplus(fake).mean()  # log(1 - D(G(z))): the original saturating game
    if kind == "lsgan":
        return 0.5 * (fake - 1).pow(2).mean()
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}")
