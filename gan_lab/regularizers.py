"""Weight regularizers behind one small interface (definitions: shared/DESIGN.md, "Regularizers").

The Trainer owns one Regularizer per regularized network and, each step, does

    pen = reg.penalty(adv_loss, lam, step)          # adv_loss: that network's loss, graph intact
    (adv_loss if pen is None else adv_loss + pen).backward()
    opt.step()
    reg.after_step(lam, lr)

The penalty is always ADDED to the loss: a subtracted penalty would reward growing weights.
`value` is for logging only; it is kept as a detached tensor and turned into a float when read,
so a GPU run does not wait on the device every step just to log it (`value_tensor` hands over
the tensor itself, for a logger that syncs once per batch of steps).

`REGISTRY` maps each kind (RunConfig.reg) to its class, label, formula, help and teaching text;
RunConfig's choices, the CLI help, the UI's labels and explanations are read from it. Adding a
regularizer is one Regularizer subclass and one `register(...)` call at the end of this file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .hessian import dot, grads_with_graph, hvp, norm, random_unit

L1_MODES = ("penalty", "proximal")


def reg_params(net: nn.Module, reg_bias: bool) -> list[nn.Parameter]:
    """Weight matrices and conv kernels (dim >= 2); biases and other 1-D (or 0-d) parameters
    only when reg_bias."""
    return [p for p in net.parameters() if p.dim() >= 2 or reg_bias]


def _check_lam(lam: float) -> None:
    if lam < 0:
        raise ValueError(f"lambda must be >= 0 (the penalty is added, never subtracted); got {lam}")


class Regularizer:
    """Base class and the interface the Trainer uses. See the module docstring."""

    kind = "none"

    def __init__(self, params: Sequence[nn.Parameter]):
        self.params = list(params)
        self._value: Tensor | float = 0.0

    @property
    def value(self) -> float:
        """The last penalty value, lambda included (0.0 before the first step)."""
        if isinstance(self._value, Tensor):
            self._value = float(self._value)  # the one host sync, paid only when read
        return self._value

    @value.setter
    def value(self, v: Tensor | float) -> None:
        self._value = v.detach() if isinstance(v, Tensor) else float(v)

    @property
    def value_tensor(self) -> Tensor | float:
        """The same value without a host sync: a detached 0-d tensor on the weights' device when
        the last step computed one, else a float. For loggers that batch their syncs."""
        return self._value

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        """The term to ADD to the network's loss, or None when nothing is added this step."""
        _check_lam(lam)
        self.value = 0.0
        return None

    def after_step(self, lam: float, lr: float) -> None:
        """Called after optimizer.step()."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} tensors)"


class NoReg(Regularizer):
    kind = "none"


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


class HSN1R(Regularizer):
    """lambda * ||H||_2, H the Hessian of this network's own adversarial loss on the current
    batch with respect to its regularized weights.

    ||H||_2 is tracked by power iteration whose unit vector `v` persists across steps (as
    spectral normalization keeps its u), so `iters` HVPs per step suffice once warmed up. The
    term added is lambda * |v^T H v| with v detached, differentiated by double backprop. With
    iters=1 a step costs exactly one HVP (built with create_graph so the penalty is
    differentiable); v then moves to Hv/||Hv|| for the next step.

    Lazy: with every=k the term is added only when step % k == 0, with lambda*k, so its average
    over steps matches every=1. `value` logs lambda * |v^T H v| (not times k), so the curve does
    not jump when k changes.

    Caveat (from the definition): |v^T H v| is a Rayleigh quotient, so when the top eigenvalues
    have nearly equal magnitude and opposite signs it can sit well below ||H||_2.
    """

    kind = "hsn1r"

    def __init__(self, params: Sequence[nn.Parameter], iters: int = 1, every: int = 1,
                 seed: int = 0):
        if iters < 1 or every < 1:
            raise ValueError(f"HSN1R needs iters >= 1 and every >= 1; got {iters}, {every}")
        super().__init__(params)
        self.iters = int(iters)
        self.every = int(every)
        self.seed = seed
        self.v: list[Tensor] | None = None

    def _current_v(self, params: list[Tensor]) -> list[Tensor]:
        v = self.v
        if (v is None or len(v) != len(params)
                or any(x.shape != p.shape or x.dtype != p.dtype or x.device != p.device
                       for x, p in zip(v, params, strict=True))):
            v = random_unit(params, self.seed)
        return v

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        _check_lam(lam)
        if lam == 0 or not self.params:
            self.value = 0.0
            return None
        if step % self.every != 0:
            return None
        params = self.params
        grads = grads_with_graph(loss, params)
        v = self._current_v(params)
        for _ in range(self.iters - 1):
            v = self._normalized([h.detach() for h in hvp(grads, params, v)], v)
        hv = hvp(grads, params, v, create_graph=True)
        vhv = dot(v, hv).abs()
        self.v = self._normalized([h.detach() for h in hv], v)
        self.value = lam * vhv
        return (lam * self.every) * vhv

    @staticmethod
    def _normalized(hv: list[Tensor], fallback: list[Tensor]) -> list[Tensor]:
        # torch.where instead of an `if n > 0` keeps this free of host syncs; a zero Hessian
        # (e.g. an untouched network) leaves v where it was instead of collapsing it to 0.
        n = norm(hv)
        ok = n > 0
        safe = torch.where(ok, n, torch.ones_like(n))
        return [torch.where(ok, h / safe, f) for h, f in zip(hv, fallback, strict=True)]

    def __repr__(self) -> str:
        return f"HSN1R(iters={self.iters}, every={self.every}, {len(self.params)} tensors)"


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegKind:
    """One regularizer choice. make(params, cfg) builds it for one network's reg_params, reading
    its options from the RunConfig."""

    name: str
    label: str
    formula: str          # one line for the CLI and control help, e.g. "lambda*sum|w|"
    teaching: str         # markdown shown beside the regularizer menu
    make: Callable[[Sequence[nn.Parameter], object], Regularizer]


REGISTRY: dict[str, RegKind] = {}


def register(name: str, make: Callable[[Sequence[nn.Parameter], object], Regularizer], *,
             label: str, formula: str, teaching: str) -> RegKind:
    kind = RegKind(name, label, formula, teaching, make)
    REGISTRY[name] = kind
    return kind


# Options of make_regularizer when no RunConfig is given (direct use, tests).
MAKE_DEFAULTS = {"l1_mode": "proximal", "hsn_iters": 1, "hsn_every": 1}


class _Options:
    """`overrides` first, then `base` (a RunConfig, or MAKE_DEFAULTS)."""

    def __init__(self, base, overrides: dict):
        self._base, self._over = base, overrides

    def __getattr__(self, name):
        if name in self._over:
            return self._over[name]
        if isinstance(self._base, dict):
            return self._base[name]
        return getattr(self._base, name)


def make_regularizer(kind: str, params: Sequence[nn.Parameter], cfg=None,
                     **options) -> Regularizer:
    """The regularizer named by RunConfig.reg for one network's reg_params. Its options come
    from `cfg` (a RunConfig; None = MAKE_DEFAULTS), with `options` (RunConfig field names such
    as l1_mode=..., hsn_iters=...) on top."""
    if kind not in REGISTRY:
        raise ValueError(f"unknown regularizer {kind!r}; expected one of {', '.join(REGISTRY)}")
    return REGISTRY[kind].make(params, _Options(MAKE_DEFAULTS if cfg is None else cfg, options))


register("none", lambda params, cfg: NoReg(params), label="none", formula="nothing added",
         teaching="**No regularizer.** Each network minimizes only its adversarial loss. Use "
                  "this as the baseline to compare against.")
register("l1", lambda params, cfg: L1(params, mode=cfg.l1_mode), label="L1",
         formula="lambda*sum|w|",
         teaching="**L1**: adds **lambda * sum |w|** to the target network's loss.  \n"
                  "*proximal* mode (default): after each optimizer step every weight is "
                  "soft-thresholded, w <- sign(w) * max(|w| - lr * lambda, 0), so small weights "
                  "become **exactly 0** (the LASSO effect): watch the exact-zero % and the "
                  "sparsity curve climb.  \n*penalty* mode: the subgradient goes through the "
                  "loss; weights get small but rarely exactly zero. Too large a lambda zeroes "
                  "whole layers and training stalls.")
register("l2", lambda params, cfg: L2(params), label="L2", formula="(lambda/2)*sum w^2",
         teaching="**L2** (weight decay): adds **(lambda / 2) * sum w^2**. It shrinks **all** "
                  "weights in proportion to their size, so the histogram shifts left as a "
                  "whole, but weights almost never reach exactly zero. A smoother, "
                  "smaller-weight discriminator often trains more stably.")
register("hsn1r", lambda params, cfg: HSN1R(params, iters=cfg.hsn_iters, every=cfg.hsn_every),
         label="HSN1R", formula="lambda * Hessian spectral norm",
         teaching="**HSN1R** (Hessian spectral-norm regularization): adds **lambda * ||H||_2**, "
                  "where H is the Hessian of the target network's own adversarial loss with "
                  "respect to its weights and **||H||_2 is its spectral norm = the largest "
                  "|eigenvalue|** (some source texts call it a sum of eigenvalues or write a "
                  "1-norm; we use the spectral norm). It is estimated by power iteration with "
                  "Hessian-vector products, keeping the vector between steps, and "
                  "differentiated by double backpropagation. Expect a **lower sharpness** curve "
                  "and a flatter, smoother D(x) heatmap. A regularized step costs about 3.5x a "
                  "plain one; *HSN1R every k* = 8 applies it every 8th step with 8x lambda for "
                  "~1.3x.")
