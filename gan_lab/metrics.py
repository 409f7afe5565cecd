"""Quality and weight metrics. Pure functions of tensors/arrays (numpy + torch only).

Definitions follow DESIGN.md "Metrics (exact)". KL values are in nats everywhere.

- `sparsity(named_params, eps)`: share of weights with |w| <= eps and exactly 0, overall and per
  tensor.
- `mode_stats(samples, modes, std)`: PacGAN mode coverage for ring8 / grid25.
- `grid_kl_js(real, fake, bounds, bins)`: GAN Lab's grid-histogram KL(real || fake) and JS.
- `sharpness(loss_fn, params)`, `gan_sharpness(G, D, loss_kind, real, z)`: the largest absolute
  Hessian eigenvalue of a loss (via gan_lab.hessian's power iteration).
- `mnist_metrics(images, clf, ref_stats)`, `reference_stats(clf)`, `real_reference_metrics()`:
  digits covered, class KL, classifier inception score and Frechet classifier distance (FCD),
  measured with the bundled classifier (gan_lab.classifier, assets/CLASSIFIER.md).
D's generalization gap on MNIST is gan_lab.generalization.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .hessian import spectral_norm
from .losses import d_loss_on, g_loss

# ------------------------------------------------------------------------------------------------
# Sparsity


def sparsity(named_params: Sequence[tuple[str, torch.Tensor]], eps: float = 1e-3) -> dict:
    """Fraction of weights with |w| <= eps (`frac_small`) and with w == 0 (`frac_zero`).

    Returns {"n", "frac_small", "frac_zero", "layers": [{"name", "n", "frac_small",
    "frac_zero"}, ...]}; the overall fractions weight every scalar equally (not every layer).
    An empty tensor list gives n == 0 and fractions 0.0.
    """
    layers = []
    tot = small_tot = zero_tot = 0
    with torch.no_grad():
        for name, p in named_params:
            a = p.detach().abs()
            n = a.numel()
            small = int((a <= eps).sum().item())
            zero = int((a == 0).sum().item())
            layers.append(dict(name=name, n=n, frac_small=small / n if n else 0.0,
                               frac_zero=zero / n if n else 0.0))
            tot += n
            small_tot += small
            zero_tot += zero
    return dict(n=tot, frac_small=small_tot / tot if tot else 0.0,
                frac_zero=zero_tot / tot if tot else 0.0, layers=layers)


# ------------------------------------------------------------------------------------------------
# Mode coverage (PacGAN protocol)

HQ_STD = 3.0  # a sample is high quality when its nearest mode is under 3 standard deviations away


def mode_stats(samples: np.ndarray, modes: np.ndarray, std: float) -> dict:
    """PacGAN (Lin et al. 2018) mode coverage of 2-D samples.

    Each sample goes to its nearest mode; its distance is measured in units of the mode std
    (all modes share one isotropic std, so "nearest" is the same in both units). It is high
    quality (HQ) when that distance is strictly under 3. A mode is captured when at least one
    HQ sample is assigned to it.

    Returns {"modes": captured count, "hq_frac": HQ samples / all samples,
    "rev_kl": KL(p || uniform) in nats, where p is the histogram of HQ samples over the K modes,
    "min_mode_frac": the smallest mode's share of the HQ samples relative to its fair share}.
    rev_kl is 0 for a perfectly even spread and log K when every HQ sample sits on one mode.
    min_mode_frac = K * min_k c_k / n_hq, where c_k is the number of HQ samples assigned to mode
    k (every one of the K modes counts, captured or not) and n_hq = sum_k c_k: 1.0 when every
    mode holds exactly n_hq / K, 0.0 when some mode holds none (so it is 0 whenever modes < K),
    0.25 when the emptiest mode holds a quarter of its fair share. It shows what the mode count
    hides: a mode "captured" by 1 sample of 2,500 counts as a mode but scores K / 2,500 here.
    With no HQ sample p is undefined; rev_kl is then log K, the largest value a histogram can
    reach, so a collapsed or diverged generator never scores better than one that found a single
    mode, and min_mode_frac is 0.0. With no samples at all, hq_frac is 0.0 as well.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(modes, dtype=np.float64).reshape(-1, 2)
    k = len(m)
    if len(x) == 0:
        return dict(modes=0, hq_frac=0.0, rev_kl=math.log(k), min_mode_frac=0.0)
    # ||x - m||^2 = |x|^2 - 2 x.m + |m|^2: one [N, K] matrix product instead of an [N, K, 2] array.
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ m.T + (m * m).sum(1)[None, :]
    nearest = d2.argmin(1)
    dist = np.sqrt(np.maximum(d2[np.arange(len(x)), nearest], 0.0)) / std
    hq = dist < HQ_STD
    counts = np.bincount(nearest[hq], minlength=k)
    n_hq = int(hq.sum())
    if n_hq == 0:
        rev_kl = math.log(k)
        min_frac = 0.0
    else:
        p = counts[counts > 0] / n_hq  # 0 log 0 = 0
        rev_kl = float(np.sum(p * np.log(p * k)))
        min_frac = float(k * counts.min() / n_hq)
    return dict(modes=int((counts > 0).sum()), hq_frac=n_hq / len(x), rev_kl=max(rev_kl, 0.0),
                min_mode_frac=min_frac)


# ------------------------------------------------------------------------------------------------
# Grid KL / JS (GAN Lab style)


def _grid_hist(x: np.ndarray, bounds, bins: int) -> np.ndarray:
    xmin, xmax, ymin, ymax = bounds
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    # Points outside the box are clipped into the border cells rather than dropped: a generator
    # that throws samples far away must be penalized, not have those samples ignored.
    ix = np.clip(((x[:, 0] - xmin) / (xmax - xmin) * bins).astype(np.int64), 0, bins - 1)
    iy = np.clip(((x[:, 1] - ymin) / (ymax - ymin) * bins).astype(np.int64), 0, bins - 1)
    h = np.bincount(iy * bins + ix, minlength=bins * bins).astype(np.float64)
    return h


def grid_kl_js(real: np.ndarray, fake: np.ndarray, bounds, bins: int = 20,
               eps: float = 1e-10) -> tuple[float, float]:
    """(KL(real || fake), JS(real, fake)) in nats between 2-D histograms on a bins x bins grid.

    bounds = (xmin, xmax, ymin, ymax) fixes the grid, so numbers from different steps of a run
    are comparable. The direction follows GAN Lab: KL(real || fake) grows when the generator
    leaves real mass uncovered (mode dropping) and barely notices generated mass where there
    is no real data. eps is added to every cell (then renormalized) so empty generated cells
    give a large finite KL instead of infinity; identical histograms give exactly 0.
    JS is symmetric and bounded by log 2.
    GAN Lab itself reports bits with eps 1e-4 and no renormalization; values here are nats.
    """
    p = _grid_hist(real, bounds, bins)
    q = _grid_hist(fake, bounds, bins)
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("grid_kl_js needs at least one real and one generated sample")
    p = p / p.sum()
    q = q / q.sum()
    ps = (p + eps) / (1 + eps * p.size)
    qs = (q + eps) / (1 + eps * q.size)
    kl = float(np.sum(ps * np.log(ps / qs)))
    mid = 0.5 * (p + q)
    js = 0.0
    for a in (p, q):
        nz = a > 0  # 0 log 0 = 0; mid > 0 wherever a > 0, so no smoothing is needed for JS
        js += 0.5 * float(np.sum(a[nz] * np.log(a[nz] / mid[nz])))
    return max(kl, 0.0), min(max(js, 0.0), math.log(2))


# ------------------------------------------------------------------------------------------------
# Sharpness


def weight_params(net: nn.Module) -> list[nn.Parameter]:
    """Weight matrices and conv kernels (dim >= 2), the regularizers' default target."""
    return [p for p in net.parameters() if p.dim() >= 2]


def sharpness(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
              iters: int = 20, tol: float = 1e-3, v0=None) -> float:
    """Largest |eigenvalue| of the Hessian of loss_fn() w.r.t. params (power iteration).

    loss_fn must build a fresh loss with its graph, because HVPs differentiate it twice.
    """
    params = list(params)
    with torch.enable_grad():
        loss = loss_fn()
        if v0 is None:
            return float(spectral_norm(loss, params, iters=iters, tol=tol))
        return float(spectral_norm(loss, params, iters=iters, tol=tol, v0=v0))


def gan_sharpness(G: nn.Module, D: nn.Module, loss_kind: str, real: torch.Tensor,
                  z: torch.Tensor, iters: int = 20, tol: float = 1e-3,
                  params: Callable[[nn.Module], list[nn.Parameter]] = weight_params,
                  ) -> tuple[float, float]:
    """(sharp_d, sharp_g): top |Hessian eigenvalue| of each network's own adversarial loss.

    D: d_loss(kind, D(real), D(G(z).detach())) w.r.t. params(D).
    G: g_loss(kind, D(G(z))) w.r.t. params(G).
    params selects the tensors (default: weights with dim >= 2, as the regularizers do).
    Both use the same real batch and z, so two runs measured with the same tensors compare.
    """
    def loss_d():
        with torch.no_grad():
            fake = G(z)
        return d_loss_on(loss_kind, D, real, fake)

    def loss_g():
        return g_loss(loss_kind, D(G(z)))

    sharp_d = sharpness(loss_d, params(D), iters=iters, tol=tol)
    sharp_g = sharpness(loss_g, params(G), iters=iters, tol=tol)
    return sharp_d, sharp_g


# ------------------------------------------------------------------------------------------------
# MNIST classifier metrics

N_CLASSES = 10
COVER_FRAC = 0.01  # a digit is covered when at least 1% of the samples are predicted as it


def _as_images(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        # from_numpy shares memory and warns on read-only arrays; copy those instead.
        x = torch.from_numpy(x) if x.flags.writeable else torch.tensor(x)
    return x.detach().float().reshape(-1, 1, 28, 28)


@torch.no_grad()
def classify(images: torch.Tensor, clf: nn.Module, batch: int = 1000
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(probs [N, 10] float64, features [N, F] float64) on the CPU, for images in [-1, 1]."""
    dev = next(clf.parameters()).device
    x = _as_images(images)
    probs, feats = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(dev)
        f = clf.features(xb)
        probs.append(torch.softmax(clf.head(f), 1).double().cpu())
        feats.append(f.double().cpu())
    return torch.cat(probs), torch.cat(feats)


def gaussian_stats(feats: torch.Tensor | np.ndarray) -> dict:
    """Mean and (unbiased) covariance of [N, F] features, as float64 numpy arrays."""
    f = np.asarray(feats.cpu() if isinstance(feats, torch.Tensor) else feats, dtype=np.float64)
    mu = f.mean(0)
    c = f - mu
    return dict(mu=mu, cov=c.T @ c / max(len(f) - 1, 1), n=len(f))


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (a + a.T))
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(s1: dict, s2: dict) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussian fits {mu, cov}.

    tr((S1 S2)^(1/2)) is computed as tr((S2^1/2 S1 S2^1/2)^(1/2)): the matrices are similar and
    the second is symmetric PSD, so float64 eigh gives it stably without scipy.linalg.sqrtm.
    s2 may carry a precomputed "cov_sqrt" (reference_stats does), which saves one eigh per call.
    numpy's eigh, not torch's: on a busy shared CPU torch's multithreaded LAPACK call for a
    128x128 matrix was measured at ~1 s, numpy's at ~0.01-0.04 s.
    """
    mu1, mu2 = np.asarray(s1["mu"], np.float64), np.asarray(s2["mu"], np.float64)
    c1, c2 = np.asarray(s1["cov"], np.float64), np.asarray(s2["cov"], np.float64)
    r2 = s2["cov_sqrt"] if "cov_sqrt" in s2 else _sqrt_psd(c2)
    m = r2 @ c1 @ r2
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (m + m.T)), 0, None)).sum()
    d = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * tr_sqrt
    return max(float(d), 0.0)


def class_metrics(probs: torch.Tensor) -> dict:
    """digits_covered, min_digit_frac, class_kl and cls_is from class probabilities p(y|x)
    [N, 10]. min_digit_frac: the share of samples of the rarest predicted digit (0.1 = even)."""
    p = probs.double()
    n = len(p)
    counts = torch.bincount(p.argmax(1), minlength=N_CLASSES).double()
    h = counts / n
    nz = h > 0
    class_kl = float((h[nz] * torch.log(h[nz] * N_CLASSES)).sum())
    py = p.mean(0, keepdim=True)
    # E_x KL(p(y|x) || p(y)); the tiny floor only matters for exact zeros, where p log p -> 0.
    lp = torch.log(p.clamp_min(1e-30))
    kl = (p * (lp - torch.log(py.clamp_min(1e-30)))).sum(1).mean()
    return dict(digits_covered=int((h >= COVER_FRAC).sum()), min_digit_frac=float(h.min()),
                class_kl=max(class_kl, 0.0), cls_is=float(torch.exp(kl)))


_ref_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ref_lock = threading.Lock()


def reference_stats(clf: nn.Module | None = None) -> dict:
    """Gaussian fit {mu, cov, cov_sqrt, n} of clf's penultimate features on the 2,000 held-out
    real digits.

    Cached in memory per classifier object (several live runs share one computation).
    """
    from .classifier import load_classifier

    clf = clf if clf is not None else load_classifier()
    with _ref_lock:
        hit = _ref_cache.get(clf)
        if hit is None:
            _, held = _real_splits()
            _, feats = classify(held, clf)
            hit = gaussian_stats(feats)
            hit["cov_sqrt"] = _sqrt_psd(hit["cov"])
            _ref_cache[clf] = hit
        return hit


def mnist_metrics(images: torch.Tensor | np.ndarray, clf: nn.Module | None = None,
                  ref_stats: dict | None = None) -> dict:
    """Classifier metrics of a batch of digits [N, 1, 28, 28] (or [N, 784]) in [-1, 1].

    - digits_covered: classes (argmax predictions) holding >= 1% of the samples (0..10)
    - class_kl: KL(predicted class histogram || uniform) in nats (0 = balanced, log 10 = one class)
    - cls_is: classifier inception score exp(E_x KL(p(y|x) || p(y))) (1..10)
    - fcd: Frechet distance between Gaussian fits of the penultimate features of these images
      and of the 2,000 held-out real digits (ref_stats; reference_stats(clf) when None).
    FCD is biased upward for small N, so compare numbers measured with the same N
    (real_reference_metrics(n) gives the real-data baseline for a given N).
    """
    from .classifier import load_classifier

    clf = clf if clf is not None else load_classifier()
    ref = ref_stats if ref_stats is not None else reference_stats(clf)
    x = _as_images(images)
    if len(x) < 2:
        raise ValueError("mnist_metrics needs at least 2 images")
    probs, feats = classify(x, clf)
    out = class_metrics(probs)
    out["fcd"] = frechet_distance(gaussian_stats(feats), ref)
    return out


def _real_splits() -> tuple[torch.Tensor, torch.Tensor]:
    """(train-split digits, held-out digits) as float32 [N, 1, 28, 28] in [-1, 1]."""
    from .data import mnist

    images, _labels = mnist.load_bundled()
    train_idx, held_idx = mnist.split()
    # torch.tensor copies: the loader's arrays are read-only and shared.
    x = torch.tensor(images, dtype=torch.float32).div(127.5).sub(1.0).reshape(-1, 1, 28, 28)
    return x[torch.tensor(train_idx)], x[torch.tensor(held_idx)]


_real_ref_cache: dict = {}


def real_reference_metrics(n: int = 1000, clf: nn.Module | None = None, seed: int = 0) -> dict:
    """The real-data row to compare generated digits against.

    digits_covered, class_kl and cls_is are those of the 2,000 held-out real digits (digits the
    classifier never trained on, like a generator's). FCD of the held-out set against itself
    would be 0 by construction, so fcd is that of n train-split real digits (a fixed random
    subset drawn with `seed`) against the held-out set: the FCD a generator reproducing the
    training data would get with n samples. Cached per (n, seed, classifier).
    """
    from .classifier import load_classifier

    clf = clf if clf is not None else load_classifier()
    key = (id(clf), n, seed)
    with _ref_lock:
        hit = _real_ref_cache.get(key)
    if hit is not None and hit[0]() is clf:
        return dict(hit[1])
    train, held = _real_splits()
    probs, _ = classify(held, clf)
    out = class_metrics(probs)
    g = torch.Generator().manual_seed(seed)
    sub = train[torch.randperm(len(train), generator=g)[:n]]
    _, feats = classify(sub, clf)
    out["fcd"] = frechet_distance(gaussian_stats(feats), reference_stats(clf))
    out["n"] = int(len(sub))
    with _ref_lock:
        _real_ref_cache[key] = (weakref.ref(clf), dict(out))
    return out
