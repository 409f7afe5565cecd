"""Slow motion: one training step (D's update, then G's) shown as its stages, for 2-D data.

Built on the real step: the caller snapshots the run, lets the job take one ordinary step
(Trainer._one_step, exactly as Step does) and snapshots it again. The stages are pictures of
the states in between, drawn by the ordinary samples plotter:

1. "see":      D (its heatmap) looks at real points and G's generated points, before the step;
2. "d_update": D after its update(s), G not yet moved: the heatmap has moved; the regularizer's
               part on D is said (proximal L1's exact zeros, HSN1R's flattening direction);
3. "g_push":   the same state with G's gradient arrows: where the updated D pushes each point;
4. "g_update": after G's update: the points have moved. This is the state after the step,
               the very snapshot a normal Step shows (tests/test_slowmo.py checks it).

No gradio or matplotlib here; texts go through the i18n catalog (gan_lab.i18n).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from .i18n import t
from .models import shown_weights
from .snapshot import Snapshot

STAGES = ("see", "d_update", "g_push", "g_update")


class Stage(NamedTuple):
    """One stage: its key, its sentence, the snapshot to draw and which overlays to draw."""

    key: str
    text: str
    snap: Snapshot
    heatmap: bool
    arrows: bool


def zeros(state: dict, reg_bias: bool) -> int:
    """Exact zeros among a network's regularized tensors (as sparsity counts them)."""
    return int(sum(int((w == 0).sum()) for _, w in shown_weights(state, reg_bias)))


def new_zeros(before: dict, after: dict, reg_bias: bool) -> int:
    """Weights that are exactly zero after the step and were not before it."""
    was = dict(shown_weights(before, reg_bias))
    return int(sum(int(((w == 0) & (was[k] != 0)).sum()) for k, w in
                   shown_weights(after, reg_bias) if k in was))


def _moved(before: dict, after: dict) -> float:
    """The size of an update: the norm of the weights' change."""
    sq = 0.0
    for k, w in after.items():
        if k in before and w.is_floating_point():
            sq += float(((w.float() - before[k].float()) ** 2).sum())
    return sq ** 0.5


def reg_sentence(cfg, net: str, before: dict, after: dict, lang: str = "en") -> str:
    """What the regularizer did to network `net` ("G" or "D") in this step ("" for none)."""
    targets = {"d": ("D",), "g": ("G",), "both": ("G", "D")}.get(cfg.reg_target, ())
    if cfg.reg == "none" or net not in targets:
        return ""
    if cfg.reg == "l1" and cfg.l1_mode == "proximal":
        return t("slow.reg.prox", lang, net=net, new=new_zeros(before, after, cfg.reg_bias),
                 total=zeros(after, cfg.reg_bias), lam=cfg.lam)
    if cfg.reg in ("l1", "l2"):
        return t(f"slow.reg.{cfg.reg}", lang, net=net, lam=cfg.lam)
    if cfg.reg == "hsn1r":
        return t("slow.reg.hsn1r", lang, net=net, lam=cfg.lam)
    return ""


def stages(before: Snapshot, after: Snapshot, lang: str = "en") -> list[Stage]:
    """The four stages of the step from `before` to `after` (2-D data; one step apart)."""
    if before.is_image or after.is_image:
        raise ValueError("slow motion shows 2-D data only")
    cfg = after.cfg
    base = before.weights_version * 8 + 1_000_000_000   # distinct picture keys per stage
    d_moved = dataclasses.replace(before, d_state=after.d_state, weights_version=base + 2)
    see = dataclasses.replace(before, weights_version=base + 1)
    d_text = t("slow.d_update", lang, n=cfg.d_steps, size=_moved(before.d_state,
                                                                   after.d_state))
    d_reg = reg_sentence(cfg, "D", before.d_state, after.d_state, lang)
    g_text = t("slow.g_update", lang, step=after.step)
    g_reg = reg_sentence(cfg, "G", before.g_state, after.g_state, lang)
    return [
        Stage("see", t("slow.see", lang, step=before.step), see, True, False),
        Stage("d_update", " ".join(x for x in (d_text, d_reg) if x), d_moved, True, False),
        Stage("g_push", t("slow.g_push", lang), d_moved, True, True),
        Stage("g_update", " ".join(x for x in (g_text, g_reg) if x), after, True, True),
    ]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
