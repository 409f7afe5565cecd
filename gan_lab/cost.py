"""What a config costs before anything is built: parameters, FLOPs of one training step, the
worst step's peak activation memory, and so the seconds a step takes on one core.

The server refuses a config whose step would cost more than it allows (`check`, with
GAN_LAB_MAX_STEP_GFLOP and GAN_LAB_MAX_STEP_MB): a worker process cannot interrupt a step, so
the cost of the dearest step bounds how long one student's run can hold the other runs on its
process. The same numbers size the worker's time-outs (`step_seconds`) and order a
sweep's runs (gan_lab.sweep.execute.est_cost).

How it counts. G and D are built by models.build_models itself, on PyTorch's "meta" device:
modules whose tensors have shapes but no storage, so a 23M-parameter net costs ~3 ms and no
memory, and the counts can never drift from the real architecture (a new layer or
parametrization in models.py is counted the day it lands; an arithmetic copy of the layers here
would have to be kept in step by hand). One forward of a one-sample batch on meta tensors, with
forward hooks, gives each net's FLOPs and activation floats per sample (`net_cost`). The first
meta forward of a process costs ~1.5 s (PyTorch loads its meta kernels); later ones ~5 ms, and
results are cached per architecture.

A step is then composed term by term, one function per term (`TERMS`): D's updates, G's update,
D's R1 and WGAN-GP penalties, spectral norm, HSN1R's extra gradients on the steps it applies,
L1 and L2 (each regularizer of a combination), the optimizer and G's weight average.
`worst_step_gflop` adds the last step's evaluation (quality and sharpness at full precision),
the longest piece of work a run does without returning to its scheduler. Factors (a backward
~2 forwards, R1 ~6, an HVP ~5), checked by scripts/calibrate_cost.py: the measured CPU-seconds
per estimated GFLOP of real steps on one core set GFLOP_PER_S and the default caps
(docs/results/step_cost.json).

To add a cost (a new penalty, a new loss): one function `(cfg, nets) -> GFLOP` in TERMS, and
its memory in `step_mb` if it keeps graphs alive.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from . import settings
from .config import NET_FIELDS, ConfigError, RunConfig
from .data import kind_of
from .regularizers import active_regs

BWD = 2.0   # one backward pass costs about two forwards (gradients w.r.t. inputs and weights)
# R1 on a real batch: D's forward with a graph (1), the input gradient built for double
# backpropagation (~1), and the backward through both (~4).
R1_TIMES = 6.0
# A Hessian-vector product by double backpropagation (sharpness, HSN1R exact): ~5 forwards.
HVP_TIMES = 5.0
# HSN1R's extra work per power iteration, in units of that network's plain update ('fd': two
# more gradients and the kink replay; 'exact': a double backward): the bench's 1.85x / 3.6x.
HSN_EXTRA = {"fd": 1.4, "exact": 4.3}
ADAM_FLOP = 12.0         # per parameter and update
SHARP_ITERS, SHARP_N = 20, 256         # the final sharpness (trainer.Trainer.sharpness)
MID_SHARP_ITERS, MID_SHARP_N = 10, 128  # sharpness during a run (Trainer.evaluate)
# One core of a 2-core AMD EPYC (cpu family 25, model 17; shared) ran the steps of
# scripts/calibrate_cost.py at 18-82 GFLOP/s by this model's count and the final evaluations at
# 54-300 (docs/results/step_cost*.json): seconds are estimated below the slow end, so they are
# upper bounds for an unloaded core.
STEP_GFLOP_PER_S = 15.0
EVAL_GFLOP_PER_S = 40.0
STEP_OVERHEAD_S = 0.002   # Python and autograd bookkeeping of one step (tiny 2-D nets)
# Default caps for a 2-core server (Limits: GAN_LAB_MAX_STEP_GFLOP, GAN_LAB_MAX_EVAL_GFLOP,
# GAN_LAB_MAX_STEP_MB): a training step of 0.1-0.55 s of one core at the cap (at the measured
# rates), a final evaluation of 3-17 s, 512 MB of activations at the peak of either. The
# presets and lessons cost at most a quarter of the step cap and half of the evaluation cap.
MAX_STEP_GFLOP = settings.default("GAN_LAB_MAX_STEP_GFLOP")
MAX_EVAL_GFLOP = settings.default("GAN_LAB_MAX_EVAL_GFLOP")
MAX_STEP_MB = settings.default("GAN_LAB_MAX_STEP_MB")


@dataclass(frozen=True)
class NetCost:
    params: int            # trainable parameters
    buffer_floats: int     # buffers (G's weight average)
    flop: float            # FLOPs of a forward pass, per sample
    act: float             # floats of the leaf modules' outputs, per sample (what autograd keeps)
    out: int               # floats of the net's output, per sample


@dataclass(frozen=True)
class Nets:
    G: NetCost
    D: NetCost
    clf_flop: float        # the MNIST classifier's forward per image (0 for 2-D data)


def _key(cfg: RunConfig) -> tuple:
    return tuple(getattr(cfg, k) for k in NET_FIELDS)


def net_cost(cfg: RunConfig) -> Nets:
    """Parameters, FLOPs and activations of cfg's G and D (cached per architecture)."""
    return _nets(_key(cfg))


@functools.lru_cache(maxsize=512)
def _nets(key: tuple) -> Nets:
    import torch

    from .models import build_models

    cfg = RunConfig(**dict(zip(NET_FIELDS, key))).validate()
    with torch.device("meta"):
        G, D = build_models(cfg)
        z = torch.empty(1, cfg.latent_dim)
        x = torch.empty(1, *kind_of(cfg.dataset).shape)
        g, d = _measure(G, z), _measure(D, x)
        clf = 0.0
        if kind_of(cfg.dataset).digits:
            from .classifier import DigitCNN

            clf = _measure(DigitCNN(), x).flop
    return Nets(g, d, clf)


def _measure(net, x) -> NetCost:
    import torch
    from torch import nn

    flop, act = [0.0], [0.0]
    # A parametrization (spectral norm) outputs a weight, not a per-sample activation; the
    # layer it belongs to is still a leaf.
    skip = {id(p) for m in net.modules() if hasattr(m, "parametrizations")
            for p in m.parametrizations.modules()}
    leaf = lambda m: all(id(c) in skip for c in m.children())   # noqa: E731

    def hook(m, inputs, out):
        w = getattr(m, "weight", None)
        if isinstance(m, nn.Linear):
            flop[0] += 2.0 * m.in_features * m.out_features
        elif isinstance(m, nn.Conv2d):
            flop[0] += 2.0 * w.numel() * out.shape[-2] * out.shape[-1]
        elif isinstance(m, nn.ConvTranspose2d):
            flop[0] += 2.0 * w.numel() * inputs[0].shape[-2] * inputs[0].shape[-1]
        elif leaf(m) and isinstance(out, torch.Tensor):
            flop[0] += 4.0 * out.numel()      # activations and norms: a few ops per entry
        if leaf(m) and isinstance(out, torch.Tensor):
            act[0] += out.numel()

    hooks = [m.register_forward_hook(hook) for m in net.modules() if id(m) not in skip]
    try:
        with torch.no_grad():
            y = net(x)
    finally:
        for h in hooks:
            h.remove()
    return NetCost(params=sum(p.numel() for p in net.parameters()),
                   buffer_floats=sum(b.numel() for b in net.buffers()),
                   flop=flop[0], act=act[0], out=int(y[0].numel()))


def param_counts(cfg: RunConfig) -> tuple[int, int]:
    """(G's parameters, D's parameters), as models.build_models would make them."""
    n = net_cost(cfg)
    return n.G.params, n.D.params


def n_params(cfg: RunConfig) -> int:
    """G + D parameters (what GAN_LAB_MAX_PARAMS caps)."""
    return sum(param_counts(cfg))


def checkpoint_bytes(cfg: RunConfig) -> int:
    """About what checkpoint.safetensors of cfg weighs: float32 weights and buffers (G's weight
    average included) plus its header."""
    n = net_cost(cfg)
    floats = n.G.params + n.G.buffer_floats + n.D.params + n.D.buffer_floats
    return 4 * floats + 16 * 1024


# --------------------------------------------------------------------------------------------
# One training step, term by term (GFLOP)
# --------------------------------------------------------------------------------------------
def _d_updates(cfg: RunConfig, n: Nets) -> float:
    """d_steps x (G's forward without a graph, D on the real and the fake batch, D's
    backward)."""
    per = n.G.flop + 2 * n.D.flop * (1 + BWD)
    return cfg.d_steps * cfg.batch_size * per / 1e9


def _g_update(cfg: RunConfig, n: Nets) -> float:
    """G's forward, D's forward, the backward through D (input gradients only) and G."""
    per = n.G.flop * (1 + BWD) + n.D.flop * (1 + BWD / 2)
    return cfg.batch_size * per / 1e9


def _r1(cfg: RunConfig, n: Nets) -> float:
    """D's R1 gradient penalty: a double backward through D on each real batch."""
    return cfg.d_steps * cfg.batch_size * R1_TIMES * n.D.flop / 1e9 if cfg.d_r1 > 0 else 0.0


def _wgan_gp(cfg: RunConfig, n: Nets) -> float:
    """WGAN-GP's penalty: D on the interpolates and a double backward, each critic step."""
    on = cfg.loss == "wgan-gp" and cfg.gp_weight > 0
    return cfg.d_steps * cfg.batch_size * (1 + R1_TIMES) * n.D.flop / 1e9 if on else 0.0


def _spectral_norm(cfg: RunConfig, n: Nets) -> float:
    """Spectral norm: a power step and the division by sigma, ~10 flops per weight an update."""
    nets = {"none": 0, "d": n.D.params, "g": n.G.params}.get(cfg.spectral_norm,
                                                               n.D.params + n.G.params)
    return 10.0 * nets * (cfg.d_steps + 1) / 1e9


def _on(cfg: RunConfig, kinds: tuple[str, ...]) -> list[str]:   # extra_regs' included
    return [net for kind, net, _lam in active_regs(cfg) if kind in kinds]


def _hsn1r(cfg: RunConfig, n: Nets) -> float:
    """HSN1R's extra gradients on a step where it applies (every hsn_every steps; the dearest
    step is one of those)."""
    extra = HSN_EXTRA.get(cfg.hsn_method, max(HSN_EXTRA.values())) * cfg.hsn_iters
    return sum((_d_updates if net == "d" else _g_update)(cfg, n) * extra
               for net in _on(cfg, ("hsn1r",)))


def _weight_penalties(cfg: RunConfig, n: Nets) -> float:
    """L1 and L2: ~4 flops per weight an update (term and gradient, or the soft-threshold)."""
    return sum(4.0 * (cfg.d_steps * n.D.params if net == "d" else n.G.params)
               for net in _on(cfg, ("l1", "l2"))) / 1e9


def _optimizer(cfg: RunConfig, n: Nets) -> float:
    return ADAM_FLOP * (cfg.d_steps * n.D.params + n.G.params) / 1e9


def _g_average(cfg: RunConfig, n: Nets) -> float:
    return 3.0 * n.G.params / 1e9 if cfg.g_ema > 0 else 0.0


TERMS = {"D updates": _d_updates, "G update": _g_update, "R1 penalty": _r1,
         "WGAN-GP penalty": _wgan_gp, "spectral norm": _spectral_norm, "HSN1R": _hsn1r,
         "L1 / L2": _weight_penalties, "optimizer": _optimizer, "G weight average": _g_average}


def step_terms(cfg: RunConfig) -> dict[str, float]:
    """GFLOP of the dearest training step, by term."""
    n = net_cost(cfg)
    return {name: f(cfg, n) for name, f in TERMS.items()}


def step_gflop(cfg: RunConfig) -> float:
    """GFLOP of the dearest training step (without evaluation)."""
    return sum(step_terms(cfg).values())


def quality_gflop(cfg: RunConfig) -> float:
    """GFLOP of a quality evaluation: its samples (and the MNIST classifier on them) and the
    samples on screen."""
    n, kind = net_cost(cfg), kind_of(cfg.dataset)   # its sample counts (gan_lab.data)
    return (kind.n_eval * (n.G.flop + n.clf_flop) + kind.n_view * n.G.flop) / 1e9


def sharpness_gflop(cfg: RunConfig, iters: int = SHARP_ITERS, n_samples: int = SHARP_N) -> float:
    """GFLOP of a sharpness measurement: power iterations of HVPs of D's and G's losses."""
    n = net_cost(cfg)
    per = (n.G.flop + 2 * n.D.flop) + (n.G.flop + n.D.flop)
    return iters * n_samples * HVP_TIMES * per / 1e9


def eval_gflop(cfg: RunConfig) -> float:
    """GFLOP of the final evaluation: quality metrics and sharpness at full precision."""
    return quality_gflop(cfg) + sharpness_gflop(cfg)


def run_gflop(cfg: RunConfig) -> float:
    """GFLOP of a whole run: its steps (HSN1R where it applies), the evaluations on the way
    and the final one. For ETAs and for ordering a sweep's runs."""
    terms = step_terms(cfg)
    hsn = terms.pop("HSN1R")
    steps = cfg.steps * (sum(terms.values()) + hsn / max(1, cfg.hsn_every))
    evals = cfg.steps // max(1, cfg.eval_every) * quality_gflop(cfg)
    if cfg.sharpness_every > 0:
        evals += cfg.steps // cfg.sharpness_every * sharpness_gflop(cfg, MID_SHARP_ITERS,
                                                                    MID_SHARP_N)
    return steps + evals + eval_gflop(cfg)


def step_seconds(cfg: RunConfig) -> float:
    """Estimated seconds of one dearest training step on one unloaded core (an upper bound)."""
    return STEP_OVERHEAD_S + step_gflop(cfg) / STEP_GFLOP_PER_S


def eval_seconds(cfg: RunConfig) -> float:
    """Estimated seconds of the final evaluation on one unloaded core (an upper bound)."""
    return eval_gflop(cfg) / EVAL_GFLOP_PER_S


def piece_seconds(cfg: RunConfig) -> float:
    """The longest a run works without returning to its scheduler: a step with the final
    evaluation (seconds on one unloaded core, an upper bound)."""
    return step_seconds(cfg) + eval_seconds(cfg)


# --------------------------------------------------------------------------------------------
# Peak memory (MB)
# --------------------------------------------------------------------------------------------
# What autograd keeps alive, times this for the gradients of those activations during the
# backward pass and the allocator's slack (scripts/calibrate_cost.py: measured peaks were
# 1.1-1.4x the activations kept, plus a few MB of fixed overhead).
MEM_TIMES = 2.5
# HSN1R keeps more graphs on the steps it applies: 'fd' one more gradient's, 'exact' the
# graph of a double backward (measured ~2x and ~5x a plain step's peak on ring8).
HSN_MEM = {"fd": 1.0, "exact": 4.0}


def train_mb(cfg: RunConfig) -> float:
    """Peak activation memory of the dearest training step, in MB. Weights, gradients and
    optimizer moments are not included (they are there between steps too; GAN_LAB_MAX_PARAMS
    caps them)."""
    n = net_cost(cfg)
    d_phase = 2 * n.D.act + n.G.out            # D's graphs on the real and the fake batch
    if cfg.d_r1 > 0 or (cfg.loss == "wgan-gp" and cfg.gp_weight > 0):
        d_phase += 2 * n.D.act                 # R1's / WGAN-GP's graph of the input gradient
    g_phase = n.G.act + n.D.act
    extra = 1 + HSN_MEM.get(cfg.hsn_method, max(HSN_MEM.values()))
    nets = _on(cfg, ("hsn1r",))
    d_phase *= extra if "d" in nets else 1
    g_phase *= extra if "g" in nets else 1
    return 4 * cfg.batch_size * max(d_phase, g_phase) * MEM_TIMES / 2**20


# Sharpness's double backward keeps about this many times the activations of its losses on
# its batch (measured 0.8-2.4x with SHARP_MEM 1, the MNIST classifier's fixed ~150 MB aside).
SHARP_MEM = 2.5


def eval_mb(cfg: RunConfig) -> float:
    """Peak activation memory of the final evaluation (sharpness's double backward on its
    batch; the quality samples are generated without a graph), in MB."""
    n = net_cost(cfg)
    sharp = SHARP_N * (n.G.act + 2 * n.D.act) * SHARP_MEM
    gen = kind_of(cfg.dataset).n_eval * (n.G.out + n.G.act / 2) * MEM_TIMES
    return 4 * max(sharp, gen) / 2**20


def step_mb(cfg: RunConfig) -> float:
    """The peak of a training step or of the final evaluation, whichever is larger (MB)."""
    return max(train_mb(cfg), eval_mb(cfg))


# --------------------------------------------------------------------------------------------
# The server's check
# --------------------------------------------------------------------------------------------
def _drivers(cfg: RunConfig) -> str:
    """The fields that make a step dear, in the controls' words."""
    from .config import spec

    parts = [f"{spec('batch_size')['label']} {cfg.batch_size:,}"]
    if cfg.d_steps > 1:
        parts.append(f"{spec('d_steps')['label']} {cfg.d_steps}")
    parts.append(f"{spec('g_hidden')['label']} {cfg.g_hidden}, {spec('d_hidden')['label']} "
                 f"{cfg.d_hidden}")
    if cfg.arch == "conv":
        parts.append("conv")
    elif max(cfg.g_depth, cfg.d_depth) > 3:
        parts.append(f"depths {cfg.g_depth}/{cfg.d_depth}")
    if cfg.d_r1 > 0:
        parts.append("R1 penalty on")
    if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
        parts.append("WGAN-GP penalty on")
    if _on(cfg, ("hsn1r",)):
        parts.append(f"HSN1R {cfg.hsn_method}, {cfg.hsn_iters} iteration(s)")
    return ", ".join(parts)


def check(cfg: RunConfig, max_step_gflop: float | None = None,
          max_eval_gflop: float | None = None, max_mb: float | None = None) -> None:
    """Refuse (ConfigError) a config that costs more than this server allows, before anything
    is built: its dearest training step (GFLOP), its final evaluation (GFLOP) or the peak
    memory of either (MB). The field named is the one that usually helps most: the batch size
    for a dear step, the wider network for a dear evaluation (whose batch is fixed)."""
    wide = "g_hidden" if cfg.g_hidden >= cfg.d_hidden else "d_hidden"
    if max_step_gflop is not None:
        step = step_gflop(cfg)
        if step > max_step_gflop:
            raise ConfigError("batch_size" if cfg.batch_size > 1 else wide,
                              f"one training step of this config costs about {step:,.1f} "
                              f"GFLOP ({_drivers(cfg)}); this server allows "
                              f"{max_step_gflop:g} GFLOP per step (GAN_LAB_MAX_STEP_GFLOP), so "
                              "that no run holds up the others. Lower the batch size, D:G "
                              "steps or the widths")
    if max_eval_gflop is not None:
        ev = eval_gflop(cfg)
        if ev > max_eval_gflop:
            raise ConfigError(wide, f"the evaluation at the end of a run of this config costs "
                                    f"about {ev:,.0f} GFLOP (the quality metrics and "
                                    f"sharpness of G {cfg.g_hidden} and D {cfg.d_hidden} wide"
                                    f"{', conv' if cfg.arch == 'conv' else ''}); this server "
                                    f"allows {max_eval_gflop:g} GFLOP (GAN_LAB_MAX_EVAL_GFLOP)."
                                    " Lower the widths or depths")
    if max_mb is not None:
        mb, ev_mb = train_mb(cfg), eval_mb(cfg)
        if max(mb, ev_mb) > max_mb:
            field = "batch_size" if mb >= ev_mb and cfg.batch_size > 1 else wide
            raise ConfigError(field, f"a training step of this config needs about "
                                     f"{max(mb, ev_mb):,.0f} MB of memory ({_drivers(cfg)}); "
                                     f"this server allows {max_mb:g} MB per step "
                                     "(GAN_LAB_MAX_STEP_MB). Lower the batch size or the "
                                     "widths")
