"""Hessian-vector products, power iteration for the Hessian spectral norm, exact Hessians.

Everything works on a scalar `loss` whose autograd graph is intact and a list of parameter
tensors. Vectors in parameter space are lists of tensors shaped like the parameters, so nothing
is flattened on the hot path. Parameters that do not require grad (or that the loss does not
touch) have zero gradient and zero Hessian rows, rather than raising as autograd would.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _needs_grad(params: Sequence[Tensor]) -> list[int]:
    return [i for i, p in enumerate(params) if p.requires_grad]


def grads_with_graph(loss: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
    """d loss / d params with create_graph=True, so they can be differentiated again (HVPs)."""
    params = list(params)
    out = [torch.zeros_like(p) for p in params]
    idx = _needs_grad(params)
    if not idx or not loss.requires_grad:
        return out
    gs = torch.autograd.grad(loss, [params[i] for i in idx], create_graph=True, allow_unused=True)
    for i, g in zip(idx, gs, strict=True):
        if g is not None:
            out[i] = g
    return out


def dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
    """Inner product of two parameter-space vectors, as a 0-d tensor (no host sync)."""
    return torch.stack([(x * y).sum() for x, y in zip(a, b, strict=True)]).sum()


def norm(a: Sequence[Tensor]) -> Tensor:
    return torch.stack([x.pow(2).sum() for x in a]).sum().sqrt()


def hvp(grads: Sequence[Tensor], params: Sequence[Tensor], v: Sequence[Tensor],
        create_graph: bool = False) -> list[Tensor]:
    """H v by double backprop: the gradient of (grads . v) with respect to params.

    `grads` must come from grads_with_graph (create_graph=True). The graph is always retained so
    the same grads serve many HVPs (power iteration). With create_graph=True the result can itself
    be differentiated with respect to params (HSN1R's penalty). `v` is used as given; detach it
    first unless you want gradients through it.
    """
    params = list(params)
    out = [torch.zeros_like(p) for p in params]
    # A gradient that does not depend on any parameter (the loss is linear in it, or it is one of
    # our zero fills) contributes nothing to H v and cannot be differentiated.
    terms = [(g * vi).sum() for g, vi in zip(grads, v, strict=True) if g.requires_grad]
    idx = _needs_grad(params)
    if not terms or not idx:
        return out
    gv = torch.stack(terms).sum()
    hs = torch.autograd.grad(gv, [params[i] for i in idx], retain_graph=True,
                             create_graph=create_graph, allow_unused=True)
    for i, h in zip(idx, hs, strict=True):
        if h is not None:
            out[i] = h
    return out


def random_unit(params: Sequence[Tensor], seed: int = 0) -> list[Tensor]:
    """A unit vector shaped like params, from a local generator so the global RNG is untouched
    (a sharpness measurement must not change the course of a seeded training run)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
    n = norm(v)
    return [x / n for x in v]


def _as_vector_list(v0, params: Sequence[Tensor]) -> list[Tensor]:
    if isinstance(v0, Tensor):
        # A flat vector of length P, in the order of params.
        v0 = list(torch.split(v0.reshape(-1), [p.numel() for p in params]))
        v0 = [x.reshape(p.shape) for x, p in zip(v0, params, strict=True)]
    v = [x.detach().to(device=p.device, dtype=p.dtype) for x, p in zip(v0, params, strict=True)]
    n = norm(v)
    if float(n) == 0.0:
        raise ValueError("v0 must be non-zero")
    return [x / n for x in v]


def spectral_norm(loss: Tensor, params: Sequence[Tensor], iters: int = 100, tol: float = 1e-4,
                  v0=None, seed: int = 0) -> float:
    """Largest absolute eigenvalue of the Hessian of `loss` with respect to `params`.

    Power iteration with HVPs. Iterating with H (not H^2) still converges to the eigenvector of
    the largest-|eigenvalue|, whatever its sign. The estimate is ||H v|| for unit v, i.e. the
    square root of the Rayleigh quotient of H^2: it is a lower bound on |lambda|max that converges
    to it, and unlike the Rayleigh quotient v.Hv of H it does not stall when the top eigenvalues
    have nearly equal magnitude and opposite signs (v.Hv then cancels towards 0). Stops when the
    relative change of the estimate drops below `tol`, or after `iters` HVPs.

    v0: starting vector (list shaped like params, or a flat [P] tensor); default a random unit
    vector from a local generator seeded with `seed`, so results are deterministic and the
    global RNG is untouched. Returns a Python float (one host sync per iteration, for the
    stopping test; this is a measurement, not the training hot path).
    """
    params = list(params)
    grads = grads_with_graph(loss, params)
    v = random_unit(params, seed) if v0 is None else _as_vector_list(v0, params)
    est = 0.0
    for _ in range(iters):
        hv = [h.detach() for h in hvp(grads, params, v)]
        n = float(norm(hv))
        if n == 0.0:
            return 0.0
        v = [h / n for h in hv]
        if abs(n - est) <= tol * n:
            return n
        est = n
    return est


def exact_hessian(loss: Tensor, params: Sequence[Tensor]) -> Tensor:
    """The full [P, P] Hessian (P = total number of parameter entries, in the order of params,
    each flattened row-major). One backward pass per row: for small nets, tests and teaching."""
    params = list(params)
    grads = grads_with_graph(loss, params)
    flat = torch.cat([g.reshape(-1) for g in grads])
    total = flat.numel()
    dtype = flat.dtype
    hess = torch.zeros(total, total, dtype=dtype, device=flat.device)
    idx = _needs_grad(params)
    if not flat.requires_grad or not idx:
        return hess
    sub = [params[i] for i in idx]
    offsets = [0]
    for p in params:
        offsets.append(offsets[-1] + p.numel())
    for r in range(total):
        rows = torch.autograd.grad(flat[r], sub, retain_graph=True, allow_unused=True)
        for i, h in zip(idx, rows, strict=True):
            if h is not None:
                hess[r, offsets[i]:offsets[i + 1]] = h.reshape(-1)
    return hess
