"""Spectral normalization (Miyato et al. 2018; RunConfig.spectral_norm): every weight matrix and
conv kernel of the chosen networks is used as W / sigma(W), sigma its largest singular value.

sigma is estimated as torch.nn.utils.parametrizations.spectral_norm does, with the same
arithmetic and the same tensor names: the kernel is read as a matrix (out x in*kh*kw; dim 1 of a
transposed conv's (in, out, kh, kw) kernel is its "out"), two unit vectors u and v are kept as
buffers, and sigma = u . (W v) with u and v held constant for the gradient. Registered with
torch's parametrize, so the trained tensor is `<layer>.parametrizations.weight.original` and the
vectors are `<layer>.parametrizations.weight.0._u` / `._v`: a state dict (a checkpoint) loads
into a layer wrapped by torch's own spectral_norm, and back (tests/test_spectral.py).

One difference, on purpose: torch runs its power iteration inside every forward in training
mode; here it runs once per update of the network, in `power_step`, which the Trainer calls
before each of that network's optimizer steps. Within a step D is evaluated several times (real
and fake batches, R1 and WGAN-GP penalties, HSN1R's finite differences at w and w +- eps v,
sharpness and the plots between steps); with torch's rule each of those would move u, so the
evaluations of one step would see different functions and measuring a run would change it.
Here they all see the same sigma, and u moves exactly once per update.

The optimizer, L1 / L2 / HSN1R and G's weight average act on the underlying W (`original`); the
weight histograms, the sparsity metrics and `weight_spectra` read the effective weights
W / sigma (`effective_state`), the ones the network computes with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)
INIT_ITERS = 15          # power iterations at registration, as torch's spectral_norm
EPS = 1e-12              # torch's default eps of F.normalize in spectral_norm
_ORIG = "parametrizations.weight.original"
_VEC = "parametrizations.weight.0._"


def _dim_of(layer: nn.Module) -> int:
    return 1 if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d,
                                   nn.ConvTranspose3d)) else 0


def as_matrix(w: Tensor, dim: int = 0) -> Tensor:
    """A kernel as the matrix whose spectral norm is taken: dim `dim` becomes the rows."""
    return (w.movedim(dim, 0) if dim else w).flatten(1)


class SpectralNorm(nn.Module):
    """The parametrization W -> W / sigma(W). See the module docstring."""

    def __init__(self, w: Tensor, dim: int = 0):
        super().__init__()
        self.dim = dim
        m = as_matrix(w.detach(), dim)
        self.register_buffer("_u", F.normalize(m.new_empty(m.shape[0]).normal_(0, 1), dim=0,
                                               eps=EPS))
        self.register_buffer("_v", F.normalize(m.new_empty(m.shape[1]).normal_(0, 1), dim=0,
                                               eps=EPS))
        self.power_step(w, INIT_ITERS)

    @torch.no_grad()
    def power_step(self, w: Tensor, iters: int = 1) -> None:
        """Move u and v one (or `iters`) power iteration(s) toward W's top singular vectors,
        in place (torch's _power_method)."""
        m = as_matrix(w.detach(), self.dim)
        for _ in range(iters):
            F.normalize(torch.mv(m, self._v), dim=0, eps=EPS, out=self._u)
            F.normalize(torch.mv(m.H, self._u), dim=0, eps=EPS, out=self._v)

    def forward(self, w: Tensor) -> Tensor:
        return w / torch.vdot(self._u, torch.mv(as_matrix(w, self.dim), self._v))


def wants(choice: str, tag: str) -> bool:
    """Whether RunConfig.spectral_norm `choice` normalizes network `tag` ('g' or 'd')."""
    return choice == "both" or choice == tag


def apply(net: nn.Module) -> nn.Module:
    """Spectral-normalize every Linear / conv weight of `net` in place (u and v drawn from the
    global torch RNG, like torch's); returns net."""
    for layer in [m for m in net.modules() if isinstance(m, LAYERS)]:
        parametrize.register_parametrization(layer, "weight",
                                             SpectralNorm(layer.weight, _dim_of(layer)))
    return net


def layers(net: nn.Module) -> list[tuple[SpectralNorm, nn.Parameter]]:
    """(parametrization, underlying weight) of each normalized layer of net, in module order."""
    out = []
    for m in net.modules():
        if parametrize.is_parametrized(m, "weight"):
            p = m.parametrizations.weight
            out += [(sn, p.original) for sn in p if isinstance(sn, SpectralNorm)]
    return out


def power_step(pairs: list[tuple[SpectralNorm, nn.Parameter]]) -> None:
    """One power iteration of every normalized layer (pairs from `layers`): once per update."""
    for sn, w in pairs:
        sn.power_step(w)


# --- effective weights ----------------------------------------------------------------------
def _sigma(w: Tensor, u: Tensor, v: Tensor) -> Tensor:
    # The state dict does not say which dim a kernel's rows are: dim 0 unless only dim 1 fits
    # u's and v's lengths (a transposed conv). Where both fit with shape[0] == shape[1] > 1 the
    # two readings differ; no GAN Lab model has such a transposed conv (its channels halve).
    dim = 1 if w.dim() > 2 and w.shape[0] != u.numel() and w.shape[1] == u.numel() else 0
    m = as_matrix(w, dim)
    if m.shape != (u.numel(), v.numel()):
        raise ValueError(f"spectral norm vectors of lengths {u.numel()}, {v.numel()} do not "
                         f"fit a kernel of shape {tuple(w.shape)}")
    return torch.vdot(u, torch.mv(m, v))


def shown_name(key: str) -> str | None:
    """The name effective_state gives state-dict key `key` (None: a spectral norm vector)."""
    if key.endswith(_ORIG):
        return key[: -len(_ORIG)] + "weight"
    return None if _VEC in key else key


@torch.no_grad()
def effective_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A state dict with each spectral-normalized layer's `parametrizations.weight.original`,
    `._u` and `._v` replaced by `weight` = W / sigma, the weight the layer computes with (as the
    layer's own forward gives it). Everything else is passed through; a state dict without
    spectral norm comes back as it is."""
    if not any(k.endswith(_ORIG) for k in state):
        return state
    out = {}
    for k, t in state.items():
        if k.endswith(_ORIG):
            base = k[: -len(_ORIG)]
            out[base + "weight"] = t / _sigma(t, state[base + _VEC + "u"],
                                              state[base + _VEC + "v"])
        elif _VEC not in k:
            out[k] = t
    return out


@torch.no_grad()
def weight_spectra(net: nn.Module) -> list[float]:
    """The largest singular value of each Linear / conv layer's effective weight (the matrix
    read as spectral norm reads it), exactly (torch.linalg.matrix_norm, ord 2)."""
    # On the CPU in float64 (MPS has no float64; the matrices are small).
    return [float(torch.linalg.matrix_norm(as_matrix(m.weight.detach().cpu().double(),
                                                     _dim_of(m)), ord=2))
            for m in net.modules() if isinstance(m, LAYERS)]


def spectra_product(net: nn.Module) -> float:
    """The product of weight_spectra(net): for an MLP with 1-Lipschitz activations an upper bound
    on its Lipschitz constant (spectral norm on every layer holds it near 1)."""
    return float(math.prod(weight_spectra(net)))
