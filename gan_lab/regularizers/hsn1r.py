"""HSN1R: lambda * the spectral norm of the Hessian of a network's own loss, by power iteration
with Hessian-vector products ('exact': double backprop; 'fd': finite differences of the
gradient along the kept vector, with piecewise activations held on their branch)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..hessian import dot, grads_with_graph, hvp, random_unit
from .base import Option, Regularizer, _check_lam

HSN_METHODS = ("exact", "fd")
# HSN1R 'fd' step scaling (see HSN1R.eps_for), tuned on ring8 / MNIST MLP / MNIST conv Ds.
FD_CURV = 4.0
FD_SCALE_MIN, FD_SCALE_MAX = 1 / 16, 2.5


# --- HSN1R 'fd': piecewise activations held on their branch ----------------------------------
# Autograd differentiates relu / leaky_relu / elu as the smooth piece the current weights lie in
# (relu'' = 0, the kink ignored). A finite difference at weights eps away instead sees every
# unit whose pre-activation crosses 0 in between as a jump in the gradient, divided by eps^2:
# measured on a leaky-ReLU ring8 D, 60% to 150x gradient error. So the nearby evaluations replay
# the branches the evaluation at w took: they evaluate that same smooth piece, and the difference
# converges to what double backprop computes. Two ways to catch the calls: patching `forward` of
# the activation modules of the nets given to HSN1R (as cheap as the activation itself), or a
# torch function mode that sees every call, however made (F.relu in the hinge loss included;
# it costs a few microseconds on every torch call in the closure, ~10% of a ring8 step). The
# mode is used when a graph has kinks the modules did not record. Other non-smooth ops (abs,
# clamp, max) are not held; fd is then inexact across their kinks.

_ACT_KINDS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu"}
_FN_KINDS = {F.relu: "relu", torch.relu: "relu", Tensor.relu: "relu",
             F.leaky_relu: "leaky_relu", F.elu: "elu"}
_KINK_NODES = ("ReluBackward", "LeakyReluBackward", "EluBackward")


class _KinkTape:
    """The branch of each activation call of one evaluation, replayed in call order later."""

    def __init__(self):
        self.masks: list[Tensor] = []
        self.graphed = 0   # recorded calls that put a node in the autograd graph
        self.replay = False
        self.i = 0

    def record(self, kind: str, x: Tensor, param: float) -> None:
        xd = x.detach()
        self.graphed += x.requires_grad and torch.is_grad_enabled()
        # relu / leaky_relu: autograd's slope on each entry (1 where x > 0, else the negative
        # slope), so a replay is one multiply, as cheap as the activation; sign(x) clamped
        # below at the slope is that, 5x faster here than a comparison. elu: which branch.
        if kind == "elu":
            self.masks.append(xd > 0)
        elif 0 <= param <= 1:
            self.masks.append(torch.sign(xd).clamp_(min=param))
        else:
            self.masks.append(F.threshold(torch.sign(xd), 0.0, param))

    def held(self, kind: str, x: Tensor, param: float) -> Tensor:
        """The activation on the recorded branch (the next recorded call's)."""
        i = self.i
        if i >= len(self.masks) or self.masks[i].shape != x.shape:
            raise RuntimeError("the closure took another path than when its activation branches "
                               "were recorded; it must recompute the same loss")
        self.i = i + 1
        m = self.masks[i]
        return torch.where(m, x, torch.expm1(x) * param) if kind == "elu" else x * m


@contextmanager
def _patched(acts: list[nn.Module], tape: _KinkTape):
    """Route these activation modules' calls through the tape (recording, or replaying when
    tape.replay is set on entry)."""
    for m in acts:
        kind = _ACT_KINDS[type(m)]
        param = (0.0 if kind == "relu" else m.negative_slope if kind == "leaky_relu"
                 else m.alpha)
        if tape.replay:
            def forward(x, kind=kind, param=param):
                return tape.held(kind, x, param)
        else:
            def forward(x, m=m, kind=kind, param=param, real=type(m).forward):
                tape.record(kind, x, param)
                return real(m, x)
        m.__dict__["forward"] = forward   # shadows the class's forward for this instance
    try:
        yield
    finally:
        for m in acts:
            m.__dict__.pop("forward", None)


class _KinkMode(TorchFunctionMode):
    """Route every relu / leaky_relu / elu call through the tape (thread-local, like every
    torch function mode, so other threads are untouched)."""

    def __init__(self, tape: _KinkTape):
        super().__init__()
        self.tape = tape

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _FN_KINDS.get(func)
        if kind is None:
            return func(*args, **kwargs)
        if kind == "relu":
            param = 0.0
        elif kind == "leaky_relu":
            param = kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01)
        else:
            param = kwargs.get("alpha", args[1] if len(args) > 1 else 1.0)
        if self.tape.replay:
            return self.tape.held(kind, args[0], param)
        self.tape.record(kind, args[0], param)
        return func(*args, **kwargs)


def _walk(loss: Tensor) -> tuple[list[Tensor], int]:
    """(the tensors loss.backward() would accumulate into, in a fixed order; the number of
    relu / leaky_relu / elu nodes in the graph)."""
    leaves: list[Tensor] = []
    kinks = 0
    fn = loss.grad_fn
    if fn is None:
        return ([loss] if loss.requires_grad else []), 0
    seen = {fn}
    stack = [fn]
    while stack:
        node = stack.pop()
        var = getattr(node, "variable", None)   # an AccumulateGrad node holds its leaf
        if var is not None:
            leaves.append(var)
            continue
        if node.name().startswith(_KINK_NODES):
            kinks += 1
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return leaves, kinks


def _unit(hv: list[Tensor], fallback: list[Tensor], host: bool) -> list[Tensor]:
    """hv / ||hv||, or `fallback` where hv is 0. host: read the norm (free on the CPU); else
    no host sync."""
    norms = torch._foreach_norm(hv)
    if host:
        n = math.sqrt(sum(x.item() ** 2 for x in norms))
        return torch._foreach_mul(hv, 1 / n) if n > 0 else list(fallback)
    n = torch.linalg.vector_norm(torch.stack(norms))
    ok = n > 0
    out = torch._foreach_mul(hv, torch.where(ok, 1 / n, 0.0))
    torch._foreach_add_(out, torch._foreach_mul(fallback, torch.where(ok, 0.0, 1.0)))
    return out


class HSN1R(Regularizer):
    """lambda * ||H||_2, H the Hessian of this network's own adversarial loss on the current
    batch with respect to its regularized weights.

    ||H||_2 is tracked by power iteration whose unit vector `v` persists across steps (as
    spectral normalization keeps its u), so `iters` HVPs per step suffice once warmed up. The
    term added is lambda * |v^T H v| with v detached; after the step v moves to Hv/||Hv||.

    Two ways to get the term's gradient (`method`):
    - 'exact': double backprop. The HVP is built with create_graph and the penalty is
      differentiated through it (a third-order backward). penalty() always works this way.
    - 'fd': finite differences of the gradient along v, in backward(closure, ...): with
      g(w) the gradient of the loss and eps small,
          H v            ~ (g(w + eps v) - g(w - eps v)) / (2 eps)
          grad(v^T H v)  ~ (g(w + eps v) + g(w - eps v) - 2 g(w)) / eps^2
      so one step costs three ordinary gradients (g(w) is the one training needs anyway) and
      no higher-order graph. Both errors are O(eps^2); eps (eps_for) balances that against
      rounding and shrinks as the curvature grows. The branches of relu / leaky_relu / elu are
      held where they were at w for the nearby evaluations (_KinkTape), so a piecewise-linear
      net gets the Hessian autograd defines instead of kink jumps / eps^2. `modules`: the nets
      the loss runs through (G and D), whose activation modules are caught cheaply; see above.
      Extra power iterations (iters > 1) cost two gradients each. Measured against 'exact' in
      tests/test_regularizers.py (float64 test nets: ~1e-7) and on trained float32 ring8 and
      MNIST Ds (value and gradient within 0.5%; only while v is still its random start, the
      first step or so, is the penalty's own gradient off by a few % in float32, the total
      gradient then still within 0.03% at lambda 0.5: that penalty gradient is small).

    Lazy: with every=k the term is added only when step % k == 0, with lambda*k, so its average
    over steps matches every=1. `value` logs lambda * |v^T H v| (not times k), so the curve does
    not jump when k changes.

    Caveat (from the definition): |v^T H v| is a Rayleigh quotient, so when the top eigenvalues
    have nearly equal magnitude and opposite signs it can sit well below ||H||_2.
    """

    kind = "hsn1r"
    options = {"hsn_every": Option("every", " every {}"),
               "hsn_iters": Option("iters", ", {} iterations"), "hsn_method": Option("method")}
    takes_modules = runs_loss = True

    def __init__(self, params: Sequence[nn.Parameter], iters: int = 1, every: int = 1,
                 seed: int = 0, method: str = "exact", fd_eps: float | None = None,
                 modules: Sequence[nn.Module] = ()):
        if iters < 1 or every < 1:
            raise ValueError(f"HSN1R needs iters >= 1 and every >= 1; got {iters}, {every}")
        if method not in HSN_METHODS:
            raise ValueError(f"HSN1R method must be one of {', '.join(HSN_METHODS)}; "
                             f"got {method!r}")
        if fd_eps is not None and not fd_eps > 0:
            raise ValueError(f"fd_eps must be > 0; got {fd_eps}")
        super().__init__(params)
        self.iters = int(iters)
        self.every = int(every)
        self.seed = seed
        self.method = method
        self.fd_eps = fd_eps
        # fd: the activation modules of the nets the loss runs through, caught by patching
        # (without them, by a slower torch function mode); see _KinkTape.
        acts = {id(m): m for net in modules for m in net.modules() if type(m) in _ACT_KINDS}
        self._acts = list(acts.values())
        self._host: bool | None = None
        self.v: list[Tensor] | None = None

    def _current_v(self, params: list[Tensor]) -> list[Tensor]:
        v = self.v
        if (v is None or len(v) != len(params)
                or any(x.shape != p.shape or x.dtype != p.dtype or x.device != p.device
                       for x, p in zip(v, params, strict=True))):
            v = random_unit(params, self.seed)
        return v

    def _active(self, lam: float, step: int) -> bool:
        _check_lam(lam)
        return lam != 0 and bool(self.params) and step % self.every == 0

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        """The exact (double-backprop) term, whatever `method` says."""
        if not self._active(lam, step):
            if lam == 0 or not self.params:
                self.value = 0.0
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

    def backward(self, closure: Callable[[], Tensor], lam: float,
                 step: int) -> tuple[Tensor, Tensor]:
        if self.method == "exact" or not self._active(lam, step):
            return super().backward(closure, lam, step)
        return self._fd_backward(closure, lam, step)

    def eps_for(self, lam: float, like: Tensor) -> float | Tensor:
        """The finite-difference step along the unit vector v: a float on the CPU, else a 0-d
        tensor on `like`'s device (no host sync).

        fd_eps when given. Else eps0 = finfo(dtype).eps ** 0.25 (0.019 in float32, 1.2e-4 in
        float64), which balances the O(eps^2) truncation error against rounding, scaled by
        sqrt(FD_CURV / c), c = |v.Hv| of the last step (value / lambda), clamped to
        [FD_SCALE_MIN, FD_SCALE_MAX]: the truncation error grows with the curvature (measured
        in float32 at eps 0.019: 0.03% at c = 2.6, 0.2% at c = 17, 2.7% at c = 54), and while v
        is still near its random start (c ~ 1e-4) rounding dominates and a larger step helps.
        c comes from the logged value, which chunked runs export, so resuming is bit-exact.
        """
        e0 = torch.finfo(like.dtype).eps ** 0.25
        if self._host_scalars(like):   # a float: reading a CPU scalar costs nothing
            if self.fd_eps is not None:
                return self.fd_eps
            c = float(self._value) / lam
            return e0 * (FD_SCALE_MAX if c <= 0 else
                         min(max(math.sqrt(FD_CURV / c), FD_SCALE_MIN), FD_SCALE_MAX))
        if self.fd_eps is not None:
            return torch.tensor(self.fd_eps, dtype=like.dtype, device=like.device)
        c = torch.as_tensor(self._value, dtype=like.dtype, device=like.device) / lam
        return e0 * torch.sqrt(FD_CURV / c).clamp(FD_SCALE_MIN, FD_SCALE_MAX)   # c = 0: max

    def _host_scalars(self, like: Tensor) -> bool:
        # CPU: the few scalars of a step (eps, v.Hv, ||Hv||) as Python floats. Elsewhere 0-d
        # tensors, so a GPU step never waits on the device. _host (tests) forces either way.
        return like.device.type == "cpu" if self._host is None else self._host

    def _fd_backward(self, closure: Callable[[], Tensor], lam: float,
                     step: int) -> tuple[Tensor, Tensor]:
        tape = _KinkTape()
        use_mode = not self._acts
        with _KinkMode(tape) if use_mode else _patched(self._acts, tape):
            loss = closure()
        leaves, n_kinks = _walk(loss)
        at = {id(t): j for j, t in enumerate(leaves)}
        params = self.params
        # Only weights the gradient is taken for are moved, as the exact HVP differentiates with
        # respect to those alone (Hv is 0 on the others, as there).
        moved = [i for i, p in enumerate(params) if id(p) in at]
        if not moved:   # no regularized weight in the graph: as the exact method does
            return Regularizer.backward(self, lambda: loss, lam, step)
        if not use_mode and n_kinks > tape.graphed:
            # Kinks outside the nets' activation modules (the hinge loss's relu): record every
            # branch again, with the mode, in one more forward.
            use_mode, tape = True, _KinkTape()
            with torch.no_grad(), _KinkMode(tape):
                closure()
        g0 = torch.autograd.grad(loss, leaves)
        mp = [params[i] for i in moved]
        mj = [at[id(p)] for p in mp]
        base = [p.data for p in mp]    # the weights' own storage, put back untouched at the end
        v = self._current_v(params)
        mv = [v[i] for i in moved]
        eps = self.eps_for(lam, base[0])
        host = not isinstance(eps, Tensor)   # CPU: scalars as Python floats, read for free
        tape.replay = True

        def grads_at(mv: list[Tensor], sign: float) -> list[Tensor]:
            # Swapping .data moves the weights without a copy and without touching `base`.
            if host:
                moved_w = torch._foreach_add(base, mv, alpha=sign * eps)
            else:
                moved_w = torch._foreach_add(base, torch._foreach_mul(mv, sign * eps))
            for p, w in zip(mp, moved_w, strict=True):
                p.data = w
            tape.i = 0
            with _KinkMode(tape) if use_mode else _patched(self._acts, tape):
                lp = closure()
            gs = torch.autograd.grad(lp, leaves, allow_unused=True)
            return [torch.zeros_like(t) if g is None else g for g, t in zip(gs, leaves)]

        def diff(gp: list[Tensor], gm: list[Tensor]) -> list[Tensor]:
            # g(w + eps v) - g(w - eps v) on the moved weights: 2 eps H v.
            return torch._foreach_sub([gp[j] for j in mj], [gm[j] for j in mj])

        try:
            for _ in range(self.iters - 1):
                mv = _unit(diff(grads_at(mv, 1.0), grads_at(mv, -1.0)), mv, host)
            gp, gm = grads_at(mv, 1.0), grads_at(mv, -1.0)
        finally:
            for p, w in zip(mp, base, strict=True):
                p.data = w
        d = diff(gp, gm)
        dots = [torch.dot(a.reshape(-1), b.reshape(-1)) for a, b in zip(mv, d)]
        if host:
            vhv = sum(x.item() for x in dots) / (2 * eps)
            sign = (vhv > 0) - (vhv < 0)
        else:
            vhv = torch.stack(dots).sum() / (2 * eps)
            sign = torch.sign(vhv)
        # d/dw (lam k |v.Hv|) = lam k sign(v.Hv) (g(w+eps v) + g(w-eps v) - 2 g(w)) / eps^2,
        # differences taken first (they are small next to g), then added to g(w).
        dp = torch._foreach_sub(gp, g0)
        torch._foreach_add_(dp, torch._foreach_sub(gm, g0))
        coef = (lam * self.every / eps ** 2) * sign
        if host:
            dp = torch._foreach_add(g0, dp, alpha=coef)
        else:
            torch._foreach_mul_(dp, coef)
            torch._foreach_add_(dp, g0)
        for t, g in zip(leaves, dp, strict=True):
            if t.grad is None:
                t.grad = g
            else:
                t.grad += g
        new_v = _unit(d, mv, host)
        if len(moved) < len(params):
            full = [torch.zeros_like(p) for p in params]
            for i, x in zip(moved, new_v, strict=True):
                full[i] = x
            new_v = full
        self.v = new_v
        vhv = abs(vhv)
        self.value = lam * vhv
        loss = loss.detach()
        return loss, loss + (lam * self.every) * vhv

    def state_dict(self) -> dict:
        return {**super().state_dict(), "v": self.v}

    def load_state_dict(self, st: dict | None) -> None:
        super().load_state_dict(st)
        v = st.get("v") if self.owns(st) else None
        self.v = v and [x.to(p.device, copy=True) for x, p in zip(v, self.params, strict=True)]

    @staticmethod
    def _normalized(hv: list[Tensor], fallback: list[Tensor]) -> list[Tensor]:
        # The exact method's normalizer is the fd method's (_unit), without host syncs: a zero
        # Hessian (e.g. an untouched network) leaves v where it was instead of collapsing it.
        return _unit(hv, fallback, host=False)

    def __repr__(self) -> str:
        return (f"HSN1R(iters={self.iters}, every={self.every}, method={self.method!r}, "
                f"{len(self.params)} tensors)")
