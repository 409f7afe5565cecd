"""Weight regularizers behind one small interface (definitions: shared/DESIGN.md, "Regularizers").

The Trainer owns one Regularizer per regularized network and, each step, does

    opt.zero_grad()
    loss, total = reg.backward(closure, lam, step)  # closure() -> that network's loss
    opt.step()                                      # (total = loss + penalty, detached:
    reg.after_step(lam, lr)                         #  logged and checked for NaN)

backward() owns the forward and the backward of the step, so that a regularizer may evaluate the
loss more than once (HSN1R's 'fd' method evaluates it at w and w +- eps v). The closure must
recompute the same loss on the same batch each call. The default backward() is what the Trainer
did before it existed, bit for bit:

    loss = closure()
    pen = reg.penalty(loss, lam, step)              # loss's graph intact; None = nothing added
    (loss if pen is None else loss + pen).backward()

so a regularizer that only needs the loss's graph overrides penalty() alone (L1, L2, HSN1R's
'exact' method). penalty() stays public: it is the term itself, for callers that do their own
backward.

The penalty is always ADDED to the loss: a subtracted penalty would reward growing weights.
`value` is for logging only; it is kept as a detached tensor and turned into a float when read,
so a GPU run does not wait on the device every step just to log it (`value_tensor` hands over
the tensor itself, for a logger that syncs once per batch of steps).

`REGISTRY` maps each kind (RunConfig.reg) to its class, label, formula, help and teaching text;
RunConfig's choices, the CLI help, the UI's labels and explanations are read from it. A class
declares the RunConfig fields it reads (`options`) and its kept state (`state_dict`); the
trainer's rebuild rule, run names and the checkpoints of training state derive from them.
Adding a regularizer is one Regularizer subclass (a module of this package), its option fields
in RunConfig and one `register(...)` call at the end of this file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from torch import nn

from .base import NoReg, Option, Regularizer, reg_params
from .combo import Combined, Extra, check_combination, extra_key, parse_extras
from .hsn1r import FD_CURV, FD_SCALE_MAX, FD_SCALE_MIN, HSN1R, HSN_METHODS
from .norms import L1, L1_MODES, L2

__all__ = ["Regularizer", "NoReg", "L1", "L2", "HSN1R", "L1_MODES", "HSN_METHODS", "FD_CURV",
           "FD_SCALE_MIN", "FD_SCALE_MAX", "REGISTRY", "RegKind", "register", "make_regularizer",
           "reg_params", "Option", "option_fields", "rebuild_fields", "Combined", "Extra",
           "extra_key", "extras_of", "active_regs", "extra_keys", "check_combination",
           "parse_extras"]


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegKind:
    """One regularizer choice: its class (which declares the RunConfig fields it reads in
    `options`) and the texts shown for it."""

    name: str
    label: str
    formula: str          # one line for the CLI and control help, e.g. "lambda*sum|w|"
    teaching: str         # markdown shown beside the regularizer menu
    cls: type[Regularizer]


REGISTRY: dict[str, RegKind] = {}
# Fields every kind reads (which kind, where, on which tensors, which extras), before the
# kinds' own options (rebuild_fields).
_COMMON_FIELDS = ("reg", "reg_target", "reg_bias", "extra_regs")


def register(cls: type[Regularizer], *, label: str, formula: str, teaching: str) -> RegKind:
    kind = RegKind(cls.kind, label, formula, teaching, cls)
    REGISTRY[cls.kind] = kind
    return kind


def option_fields() -> tuple[str, ...]:
    """Every RunConfig field some registered kind reads, in registry order."""
    return tuple(dict.fromkeys(f for k in REGISTRY.values() for f in k.cls.options))


def rebuild_fields() -> tuple[str, ...]:
    """The fields whose change means new regularizer objects (their kept state starts over)."""
    return _COMMON_FIELDS + option_fields()


def make_regularizer(kind: str, params: Sequence[nn.Parameter], cfg=None,
                     modules: Sequence[nn.Module] = (), **options) -> Regularizer:
    """The regularizer named by RunConfig.reg for one network's reg_params. The fields its
    class declares come from `options` (RunConfig field names such as l1_mode=...; others are
    ignored), then `cfg` (a RunConfig; None = RunConfig's defaults). modules: the nets the
    losses run through, for a kind that takes them."""
    if kind not in REGISTRY:
        raise ValueError(f"unknown regularizer {kind!r}; expected one of {', '.join(REGISTRY)}")
    cls = REGISTRY[kind].cls
    if cfg is None:
        from ..config import defaults_for
        cfg = SimpleNamespace(**defaults_for(None))
    kw = {o.arg: options[f] if f in options else getattr(cfg, f) for f, o in cls.options.items()}
    return cls(params, **kw, **({"modules": modules} if cls.takes_modules else {}))


def extras_of(cfg) -> list[Extra]:
    """The parsed RunConfig.extra_regs (ConfigError naming the field when malformed)."""
    return parse_extras(cfg.extra_regs, tuple(REGISTRY))


def active_regs(cfg) -> list[tuple[str, str, float]]:
    """(kind, network g/d, lambda) of every regularizer that adds something: the primary and
    the extra ones with lambda > 0 (for the cost model and summaries)."""
    out = [(cfg.reg, n, cfg.lam) for n in ("g", "d")
           if cfg.reg != "none" and cfg.lam > 0 and cfg.reg_target in (n, "both")]
    return out + [(e.kind, n, e.lam) for e in extras_of(cfg) if e.lam > 0 for n in e.nets]


def extra_keys() -> tuple[str, ...]:
    """The loss-row columns of the extra regularizers' penalties, one per kind and network."""
    return tuple(extra_key(k, n) for k in REGISTRY if k != "none" for n in ("d", "g"))


register(NoReg, label="none", formula="nothing added",
         teaching="**No regularizer.** Each network minimizes only its adversarial loss. Use "
                  "this as the baseline to compare against.")
register(L1, label="L1",
         formula="lambda*sum|w|",
         teaching="**L1**: adds **lambda * sum |w|** to the target network's loss.  \n"
                  "*proximal* mode (default): after each optimizer step every weight is "
                  "soft-thresholded, w <- sign(w) * max(|w| - lr * lambda, 0), so small weights "
                  "become **exactly 0** (the LASSO effect): watch the exact-zero % and the "
                  "sparsity curve climb.  \n*penalty* mode: the subgradient goes through the "
                  "loss; weights get small but rarely exactly zero. Too large a lambda zeroes "
                  "whole layers and training stalls.")
register(L2, label="L2", formula="(lambda/2)*sum w^2",
         teaching="**L2** (weight decay): adds **(lambda / 2) * sum w^2**. It shrinks **all** "
                  "weights in proportion to their size, so the histogram shifts left as a "
                  "whole, but weights almost never reach exactly zero. A smoother, "
                  "smaller-weight discriminator often trains more stably.")
register(HSN1R, label="HSN1R", formula="lambda * Hessian spectral norm",
         teaching="**HSN1R** (Hessian spectral-norm regularization): adds **lambda * ||H||_2**, "
                  "where H is the Hessian of the target network's own adversarial loss with "
                  "respect to its weights and **||H||_2 is its spectral norm = the largest "
                  "|eigenvalue|** (some source texts call it a sum of eigenvalues or write a "
                  "1-norm; we use the spectral norm). It is estimated by power iteration with "
                  "Hessian-vector products, keeping the vector between steps. *HSN1R method* "
                  "**fd** (default) gets the penalty's gradient from finite differences of the "
                  "ordinary gradient along that vector (within 1% of the exact value); **exact** "
                  "uses double backpropagation. Expect a **lower sharpness** curve and a "
                  "flatter, smoother D(x) heatmap. On a 2-core CPU a regularized ring8 step "
                  "costs about 1.9x a plain one with fd (3.7x exact); *HSN1R every k* = 8 "
                  "applies it every 8th step with 8x lambda for ~1.15x.")
