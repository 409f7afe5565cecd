"""metrics.py against hand-computed answers, exact Hessians and the bundled real digits."""

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import metrics
from gan_lab.classifier import load_classifier
from gan_lab.data import mnist, toy2d
from gan_lab.hessian import exact_hessian

RING = np.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])
STD = 0.01


# --- mode_stats --------------------------------------------------------------------------------

def test_mode_stats_three_of_eight_modes():
    # 10 samples exactly on mode 0, 20 on mode 3, 30 on mode 5 (plus offsets well inside 3 std).
    rng = np.random.default_rng(0)
    x = np.concatenate([RING[0] + rng.uniform(-1, 1, (10, 2)) * STD,
                        RING[3] + rng.uniform(-1, 1, (20, 2)) * STD,
                        RING[5] + rng.uniform(-1, 1, (30, 2)) * STD])
    s = metrics.mode_stats(x, RING, STD)
    assert s["modes"] == 3
    assert s["hq_frac"] == 1.0
    p = np.array([10, 20, 30]) / 60
    assert s["rev_kl"] == pytest.approx(float(np.sum(p * np.log(p * 8))), rel=1e-12)
    assert s["min_mode_frac"] == 0.0  # five modes hold nothing


def test_mode_stats_far_samples_are_not_hq_and_capture_nothing():
    far = np.array([[0.0, 0.0], [5.0, 5.0], [0.5, 0.5]])  # all > 30 std from every mode
    near = np.repeat(RING[2:3], 3, axis=0)
    s = metrics.mode_stats(np.concatenate([far, near]), RING, STD)
    assert s["modes"] == 1 and s["hq_frac"] == 0.5
    assert s["rev_kl"] == pytest.approx(math.log(8))  # one captured mode: the largest KL
    none = metrics.mode_stats(far, RING, STD)
    assert none == dict(modes=0, hq_frac=0.0, rev_kl=pytest.approx(math.log(8)),
                        min_mode_frac=0.0)


def test_mode_stats_boundary_is_strictly_under_three_std():
    # Along the radial direction of mode 1 (no other mode is nearer at these distances).
    u = RING[1] / np.linalg.norm(RING[1])
    inside = RING[1] + u * 2.999 * STD
    on = RING[1] + u * 3.0 * STD * (1 + 1e-9)
    assert metrics.mode_stats(inside[None], RING, STD)["hq_frac"] == 1.0
    assert metrics.mode_stats(on[None], RING, STD)["hq_frac"] == 0.0


def test_mode_stats_uniform_histogram_has_zero_kl_and_real_data_matches_theory():
    s = metrics.mode_stats(np.repeat(RING, 5, axis=0), RING, STD)
    assert s == dict(modes=8, hq_frac=1.0, rev_kl=pytest.approx(0.0, abs=1e-12),
                     min_mode_frac=1.0)
    # Real ring8 data: the radial distance in std of a 2-D isotropic Gaussian is Rayleigh, so
    # P(HQ) = 1 - exp(-9/2) = 0.9889. 20,000 samples put the estimate within ~0.003.
    x = toy2d.sample("ring8", 20000, torch.Generator().manual_seed(0)).numpy()
    s = metrics.mode_stats(x, toy2d.modes("ring8"), toy2d.mode_std("ring8"))
    assert s["modes"] == 8
    assert s["hq_frac"] == pytest.approx(1 - math.exp(-4.5), abs=0.004)
    assert s["rev_kl"] < 0.002
    assert 0.9 < s["min_mode_frac"] <= 1.0  # ~2,470 HQ samples a mode: within a few percent


def _on_modes(modes: np.ndarray, counts, rng) -> np.ndarray:
    """counts[k] samples on mode k, each offset by less than 1 std (all HQ, all nearest to k)."""
    return np.concatenate([modes[i] + rng.uniform(-0.5, 0.5, (c, 2)) * STD
                           for i, c in enumerate(counts) if c > 0])


def test_mode_stats_min_mode_frac_is_the_emptiest_modes_share_of_its_fair_share():
    rng = np.random.default_rng(3)
    # Exactly a quarter: 7 modes with 31 samples and one with 7; fair share 224 / 8 = 28.
    s = metrics.mode_stats(_on_modes(RING, [31] * 7 + [7], rng), RING, STD)
    assert s["modes"] == 8 and s["min_mode_frac"] == pytest.approx(0.25, rel=1e-12)
    # A nominal 8/8: one mode holds 1 sample of 2,500 (the other 2,499 spread over 7 modes).
    nominal = metrics.mode_stats(_on_modes(RING, [357] * 7 + [1], rng), RING, STD)
    assert nominal["modes"] == 8
    assert nominal["min_mode_frac"] == pytest.approx(8 * 1 / 2500, rel=1e-12)
    # Samples that are not HQ count for nothing: neither the numerator nor the fair share.
    far = np.array([[0.0, 0.0], [0.5, 0.5], [5.0, -5.0]] * 10)   # 30 samples, all > 30 std away
    hq = _on_modes(RING, [10, 10, 10, 10, 10, 10, 10, 3], rng)    # 73 HQ samples
    s = metrics.mode_stats(np.concatenate([far, hq]), RING, STD)
    assert s["hq_frac"] == pytest.approx(73 / 103)
    assert s["min_mode_frac"] == pytest.approx(8 * 3 / 73, rel=1e-12)
    # A missing mode gives 0 however even the rest is; so does the three-of-eight case.
    assert metrics.mode_stats(_on_modes(RING, [5] * 7 + [0], rng), RING, STD)[
        "min_mode_frac"] == 0.0
    # 25 modes: each mode's fair share is n_hq / 25.
    grid = np.array([[i, j] for i in range(-2, 3) for j in range(-2, 3)], dtype=np.float64)
    counts = [4] * 24 + [2]
    s = metrics.mode_stats(_on_modes(grid, counts, rng), grid, STD)
    assert s["modes"] == 25 and s["min_mode_frac"] == pytest.approx(25 * 2 / 98, rel=1e-12)


def test_mode_stats_is_fast_on_grid25():
    x = toy2d.sample("grid25", 2500, torch.Generator().manual_seed(1)).numpy()
    t = time.perf_counter()
    s = metrics.mode_stats(x, toy2d.modes("grid25"), toy2d.mode_std("grid25"))
    assert time.perf_counter() - t < 0.05
    assert s["modes"] == 25 and s["hq_frac"] > 0.97


# --- sparsity ----------------------------------------------------------------------------------

def test_sparsity_counts():
    a = torch.tensor([[0.0, 1e-4, -1e-3, 0.5], [2.0, -0.0, 1e-3 * 1.01, -3.0]])
    b = torch.tensor([[0.0, 0.0], [1.0, -1e-5]])
    s = metrics.sparsity([("a", a), ("b", b)], eps=1e-3)
    # a: small = 0, 1e-4, -1e-3, -0 -> 4 of 8; zero = 0, -0 -> 2. b: small 3 of 4, zero 2.
    assert s["layers"] == [dict(name="a", n=8, frac_small=0.5, frac_zero=0.25),
                           dict(name="b", n=4, frac_small=0.75, frac_zero=0.5)]
    assert s["n"] == 12
    assert s["frac_small"] == pytest.approx(7 / 12) and s["frac_zero"] == pytest.approx(4 / 12)
    assert metrics.sparsity([], 1e-3) == dict(n=0, frac_small=0.0, frac_zero=0.0, layers=[])


# --- grid KL / JS ------------------------------------------------------------------------------

def test_grid_kl_js_identical_zero_different_positive():
    bounds = (-1.5, 1.5, -1.5, 1.5)
    x = toy2d.sample("ring8", 2000, torch.Generator().manual_seed(2)).numpy()
    kl, js = metrics.grid_kl_js(x, x.copy(), bounds)
    assert kl == pytest.approx(0.0, abs=1e-12) and js == pytest.approx(0.0, abs=1e-12)
    # Generated mass on half the modes: real mass is missed, so KL(real || fake) is large.
    half = x[np.arctan2(x[:, 1], x[:, 0]) > 0]
    kl2, js2 = metrics.grid_kl_js(x, half, bounds)
    assert kl2 > 5 and 0.2 < js2 <= math.log(2)
    # Disjoint supports: JS reaches its bound log 2.
    _, js3 = metrics.grid_kl_js(x, np.full((50, 2), 1.4), bounds)
    assert js3 == pytest.approx(math.log(2), abs=1e-9)


def test_grid_kl_counts_points_outside_the_box():
    bounds = (0.0, 1.0, 0.0, 1.0)
    real = np.array([[0.05, 0.05], [0.95, 0.95]])
    kl_in, _ = metrics.grid_kl_js(real, real, bounds, bins=2)
    kl_out, js_out = metrics.grid_kl_js(real, np.array([[-9.0, -9.0], [9.0, 9.0]]), bounds, bins=2)
    assert kl_in == pytest.approx(0.0, abs=1e-12)
    assert kl_out == pytest.approx(0.0, abs=1e-9)  # clipped into the same two corner cells
    kl_drop, _ = metrics.grid_kl_js(real, np.array([[9.0, 9.0], [9.0, 9.0]]), bounds, bins=2)
    assert kl_drop > 1  # all generated mass in one corner: half the real mass is missed
    assert js_out == pytest.approx(0.0, abs=1e-12)


# --- sharpness ---------------------------------------------------------------------------------

def _tiny_gan(seed):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    D = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1), nn.Flatten(0)).double()
    real = torch.randn(32, 2, dtype=torch.float64)
    z = torch.randn(32, 2, dtype=torch.float64)
    return G, D, real, z


def _exact_top(loss, params):
    ev = torch.linalg.eigvalsh(exact_hessian(loss, params))
    return float(ev.abs().max()), ev


@pytest.mark.parametrize("kind", ["ns", "lsgan"])
def test_gan_sharpness_matches_exact_hessian(kind):
    from gan_lab.losses import d_loss, g_loss

    G, D, real, z = _tiny_gan(3)
    wd = [p for p in D.parameters() if p.dim() >= 2]
    wg = [p for p in G.parameters() if p.dim() >= 2]
    top_d, ev_d = _exact_top(d_loss(kind, D(real), D(G(z).detach())), wd)
    top_g, ev_g = _exact_top(g_loss(kind, D(G(z))), wg)
    sd, sg = metrics.gan_sharpness(G, D, kind, real, z, iters=3000, tol=1e-12)
    assert sd == pytest.approx(top_d, rel=1e-4)
    assert sg == pytest.approx(top_g, rel=1e-4)
    # Only weights count: the bias-inclusive Hessian has a different top eigenvalue.
    top_all, _ = _exact_top(d_loss(kind, D(real), D(G(z).detach())), list(D.parameters()))
    sd_all, _ = metrics.gan_sharpness(G, D, kind, real, z, iters=3000, tol=1e-12,
                                      params=lambda net: list(net.parameters()))
    assert abs(top_all - top_d) > 1e-3 * top_d
    assert sd_all == pytest.approx(top_all, rel=1e-4)


def test_sharpness_of_quadratic_and_no_grad_context():
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([1.0, -7.0, 2.0], dtype=torch.float64)
    with torch.no_grad():  # the trainer may measure from inside no_grad; the loss needs a graph
        s = metrics.sharpness(lambda: 0.5 * (a * w * w).sum(), [w], iters=500, tol=1e-12)
    assert s == pytest.approx(7.0, rel=1e-6)


# --- MNIST -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    images, labels = mnist.load_bundled()
    _, held = mnist.split()
    x = torch.tensor(images[held], dtype=torch.float32).div(127.5).sub(1).reshape(-1, 1, 28, 28)
    return x, torch.tensor(labels[held], dtype=torch.long)


@pytest.fixture(scope="module")
def clf():
    return load_classifier()


def test_classifier_asset_accuracy_on_heldout(clf, digits):
    x, y = digits
    assert len(x) == 2000
    with torch.no_grad():
        acc = float((clf(x).argmax(1) == y).float().mean())
    assert acc >= 0.97
    assert clf.features(x[:4]).shape == (4, 128)
    assert load_classifier() is clf  # cached


def test_mnist_metrics_real_degenerate_noise(clf, digits):
    x, y = digits
    real = metrics.mnist_metrics(x, clf)
    assert real["digits_covered"] == 10 and 0.07 < real["min_digit_frac"] <= 0.1
    assert real["cls_is"] > 9.0 and real["class_kl"] < 0.02
    assert real["fcd"] == pytest.approx(0.0, abs=1e-6)  # the held-out set is the reference

    threes = x[y == 3][:1].repeat(500, 1, 1, 1)
    one = metrics.mnist_metrics(threes, clf)
    assert one["digits_covered"] == 1 and one["min_digit_frac"] == 0.0
    assert one["class_kl"] == pytest.approx(math.log(10), abs=1e-9)
    assert one["cls_is"] == pytest.approx(1.0, abs=1e-6)
    assert one["fcd"] > 10 * metrics.real_reference_metrics(1000, clf)["fcd"]

    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    nm = metrics.mnist_metrics(noise.numpy(), clf)  # numpy input, as the trainer passes it
    assert nm["fcd"] > 100 * metrics.real_reference_metrics(1000, clf)["fcd"]
    assert nm["cls_is"] < 2


def test_real_reference_row(clf, digits):
    ref = metrics.real_reference_metrics(1000, clf)
    assert ref["digits_covered"] == 10 and ref["cls_is"] > 9.0 and ref["n"] == 1000
    # Train-split real digits are the same distribution: small FCD, shrinking with more samples.
    more = metrics.real_reference_metrics(4000, clf)
    assert 0 < more["fcd"] < ref["fcd"] < 20
    assert metrics.real_reference_metrics(1000, clf) == ref  # cached, same numbers


def test_frechet_distance_closed_form():
    # Diagonal covariances: FD = |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    s1 = dict(mu=torch.tensor([0.0, 1.0]), cov=torch.diag(torch.tensor([4.0, 1.0])))
    s2 = dict(mu=torch.tensor([3.0, 1.0]), cov=torch.diag(torch.tensor([1.0, 9.0])))
    assert metrics.frechet_distance(s1, s2) == pytest.approx(9 + 1 + 4, rel=1e-12)
    # A rotated (non-commuting) pair against a brute-force sqrtm of S1 S2 via eigendecomposition.
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    b = torch.randn(6, 6, generator=g, dtype=torch.float64)
    c1, c2 = a @ a.T, b @ b.T
    w, v = torch.linalg.eig(c1 @ c2)  # eigenvalues of S1 S2 are real and >= 0
    tr = float(w.real.clamp_min(0).sqrt().sum())
    z = torch.zeros(6, dtype=torch.float64)
    expect = float(torch.trace(c1) + torch.trace(c2)) - 2 * tr
    assert metrics.frechet_distance(dict(mu=z, cov=c1), dict(mu=z, cov=c2)) == pytest.approx(
        expect, rel=1e-9)


def test_mnist_metrics_speed(clf, digits):
    x, _ = digits
    metrics.mnist_metrics(x[:1000], clf)  # warm-up: reference statistics, thread pools
    # CPU seconds of this process, not wall time: on a shared machine wall time mostly measures
    # the neighbours. About 0.2 s here; a second of CPU means something got much slower.
    t = time.process_time()
    metrics.mnist_metrics(x[:1000], clf)
    assert time.process_time() - t < 1.0
