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

The exact batch: `replay` takes the step again from the run's full training state just before
it (weights, optimizer moments, the noise generator, HSN1R's vector) and records the real and
generated points it used and HSN1R's power-iteration direction. Only when the replay's weights
equal the job's after the step, bit for bit (`Batch.exact`), do the stages show that batch;
otherwise they show the fixed view points, as the sentences then say.

No gradio or matplotlib here; texts go through the i18n catalog (gan_lab.i18n).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import torch

from .i18n import t
from .models import shown_weights
from .snapshot import Snapshot
from .state import TrainState

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


def reg_sentence(cfg, net: str, before: dict, after: dict, lang: str = "en",
                 hsn: dict | None = None) -> str:
    """What the regularizer did to network `net` ("G" or "D") in this step ("" for none);
    hsn: HSN1R's direction (Batch.hsn), told in words."""
    targets = {"d": ("D",), "g": ("G",), "both": ("G", "D")}.get(cfg.reg_target, ())
    if cfg.reg == "none" or net not in targets:
        return ""
    if cfg.reg == "l1" and cfg.l1_mode == "proximal":
        return t("slow.reg.prox", lang, net=net, new=new_zeros(before, after, cfg.reg_bias),
                 total=zeros(after, cfg.reg_bias), lam=cfg.lam)
    if cfg.reg in ("l1", "l2"):
        return t(f"slow.reg.{cfg.reg}", lang, net=net, lam=cfg.lam)
    if cfg.reg == "hsn1r":
        if not (hsn and hsn["net"] == net):
            return t("slow.reg.hsn1r", lang, net=net, lam=cfg.lam)
        return direction_sentence(hsn, cfg, lang)
    return ""


def direction_sentence(hsn: dict, cfg, lang: str = "en") -> str:
    """HSN1R's direction in words: where in the network it lies, and the loss's bend along it."""
    shares = hsn["shares"]
    top = max(range(len(shares)), key=shares.__getitem__)
    parts = ("、" if lang == "zh" else ", ").join(t("slow.hsn.layer", lang, i=i + 1,
                                                        share=f"{x:.0%}")
                      for i, x in enumerate(shares))
    key = "slow.hsn.dir" if hsn["active"] else "slow.hsn.idle"
    return t(key, lang, net=hsn["net"], top=top + 1, n=len(shares), share=f"{shares[top]:.0%}",
             parts=parts, curv=f"{hsn['curv']:.3g}", every=cfg.hsn_every, lam=cfg.lam)


def stages(before: Snapshot, after: Snapshot, lang: str = "en",
           batch: Batch | None = None) -> list[Stage]:
    """The four stages of the step from `before` to `after` (2-D data; one step apart).
    With an exact `batch` (replay) the stages show the points the step used; otherwise the
    fixed view points."""
    if before.is_image or after.is_image:
        raise ValueError("slow motion shows 2-D data only")
    cfg = after.cfg
    base = before.weights_version * 8 + 1_000_000_000   # distinct picture keys per stage
    exact = batch is not None and batch.exact
    hsn = batch.hsn if batch is not None else None
    see = dataclasses.replace(before, weights_version=base + 1)
    d_moved = dataclasses.replace(before, d_state=after.d_state, weights_version=base + 2)
    push, done = d_moved, after
    if exact:
        see = dataclasses.replace(see, real=batch.real, samples=batch.fake)
        d_moved = dataclasses.replace(d_moved, real=batch.real, samples=batch.fake)
        push = dataclasses.replace(d_moved, samples=batch.g_before, weights_version=base + 3)
        done = dataclasses.replace(after, samples=batch.g_after, weights_version=base + 4)
    n = len(batch.real) if exact else 0
    see_text = t("slow.see", lang, step=before.step) + (
        " " + t("slow.batch", lang, n=n) if exact else " " + t("slow.view", lang))
    d_text = t("slow.d_update", lang, n=cfg.d_steps, size=_moved(before.d_state,
                                                                   after.d_state))
    d_reg = reg_sentence(cfg, "D", before.d_state, after.d_state, lang, hsn)
    g_text = t("slow.g_update", lang, step=after.step)
    g_reg = reg_sentence(cfg, "G", before.g_state, after.g_state, lang, hsn)
    push_text = t("slow.g_push", lang) + (" " + t("slow.g_batch", lang, n=len(batch.g_before))
                                          if exact else "")
    return [
        Stage("see", see_text, see, True, False),
        Stage("d_update", " ".join(x for x in (d_text, d_reg) if x), d_moved, True, False),
        Stage("g_push", push_text, push, True, True),
        Stage("g_update", " ".join(x for x in (g_text, g_reg) if x), done, True, True),
    ]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Batch(NamedTuple):
    """What one step used, from its replay: D's (last) batch of real and generated points,
    the points of G's update before and after it (the same noise), the HSN1R direction's
    layout ({"net", "shares", "curv", "active"}, or None) and whether the replay is exact."""

    real: np.ndarray
    fake: np.ndarray
    g_before: np.ndarray
    g_after: np.ndarray
    hsn: dict | None
    exact: bool


class _Recorder:
    """A dataset whose sample() also keeps what it returned (the rest is the dataset's)."""

    def __init__(self, data, out: list):
        self._data, self._out = data, out

    def sample(self, *a, **kw):
        x = self._data.sample(*a, **kw)
        self._out.append(x.detach().cpu())
        return x

    def __getattr__(self, name):
        return getattr(self._data, name)


def _direction(tr, cfg, step: int) -> dict | None:
    """How HSN1R's power-iteration vector (a unit direction in the target network's weights)
    is spread over the network's layers, and the loss's curvature along it."""
    tag = {"d": "d", "g": "g"}.get(cfg.reg_target, "d")
    reg = getattr(tr, f"reg_{tag}", None)
    v = getattr(reg, "v", None)
    if getattr(reg, "kind", "") != "hsn1r" or not v:
        return None
    net = tr.D if tag == "d" else tr.G
    names = {id(q): n for n, q in net.named_parameters()}
    layers: dict[str, float] = {}
    for q, x in zip(reg.params, v, strict=True):
        layer = names.get(id(q), "?").rsplit(".", 1)[0]
        layers[layer] = layers.get(layer, 0.0) + float((x.float() ** 2).sum())
    total = sum(layers.values()) or 1.0
    curv = float(reg.value) / cfg.lam if cfg.lam else 0.0
    return {"net": tag.upper(), "shares": [x / total for x in layers.values()], "curv": curv,
            "active": reg._active(cfg.lam, step)}


def replay(cfg, state: TrainState | None, points=None, after: Snapshot | None = None) -> Batch:
    """Take the step again from `state` (None: a new run's, from the seed) and record it."""
    from .run import Run  # lazily: run imports the trainer and the data

    run = Run(cfg, points, start_eval=None, history_cap=2, device="cpu")
    tr = run.trainer
    if state is not None:
        run.import_state(state)
    step, reals, ins, outs = tr.step, [], [], []
    data, tr.data = tr.data, _Recorder(tr.data, reals)

    def keep(_m, i, o):   # returns None: the output stays G's own
        ins.append(i[0].detach().cpu())
        outs.append(o.detach().cpu())

    hook = tr.G.register_forward_hook(keep)
    try:
        tr.run_steps(1)
    finally:
        hook.remove()
        tr.data = data
    k = cfg.d_steps
    with torch.no_grad():
        g_after = tr.G(ins[k].to(tr.device)).cpu()
    g, d = tr.state_dicts()
    exact = (after is not None and tr.step == after.step and same_weights(g, after.g_state)
             and same_weights(d, after.d_state))
    return Batch(reals[k - 1].numpy(), outs[k - 1].numpy(), outs[k].numpy(), g_after.numpy(),
                 _direction(tr, cfg, step), bool(exact))
