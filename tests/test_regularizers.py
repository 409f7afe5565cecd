"""regularizers.py: exact definitions, gradients by finite differences, and their effect in a
short real GAN run (ring8, tiny MLPs) on both G and D."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab.config import RunConfig
from gan_lab.hessian import exact_hessian, grads_with_graph, hvp, spectral_norm
from gan_lab.losses import d_loss, g_loss
from gan_lab.models import build_models
from gan_lab.regularizers import (
    HSN1R,
    L1,
    L2,
    NoReg,
    Regularizer,
    make_regularizer,
    reg_params,
)

# HSN1R every step by double backprop (RunConfig's defaults are every 8, 'fd').
EXACT = dict(hsn_method="exact", hsn_every=1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny nets on 2 shared cores: a second intra-op thread only adds contention.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _tiny(seed=0, dtype=torch.float64, act=nn.Tanh):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 4), act(), nn.Linear(4, 3), act(), nn.Linear(3, 1))
    return net.to(dtype)


def _dloss(net, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed + 50)
    real = torch.randn(32, 2, generator=g, dtype=dtype)
    fake = 1.5 + 0.5 * torch.randn(32, 2, generator=g, dtype=dtype)
    return d_loss("ns", net(real).squeeze(1), net(fake).squeeze(1))


def _flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


# --- selection and factory -------------------------------------------------------------------

def test_reg_params_weights_only_unless_biases_asked():
    net = _tiny()
    w = reg_params(net, reg_bias=False)
    assert [tuple(p.shape) for p in w] == [(4, 2), (3, 4), (1, 3)]
    allp = reg_params(net, reg_bias=True)
    assert len(allp) == 6 and all(any(p is q for q in net.parameters()) for p in allp)


def test_reg_params_include_conv_kernels():
    G, D = build_models(RunConfig(dataset="mnist", arch="conv", g_hidden=4, d_hidden=4))
    dims = {p.dim() for p in reg_params(D, False)}
    assert 4 in dims and 1 not in dims


def test_make_regularizer_kinds_and_errors():
    ps = reg_params(_tiny(), False)
    assert type(make_regularizer("none", ps)) is NoReg
    assert make_regularizer("l1", ps).mode == "proximal"
    assert make_regularizer("l1", ps, l1_mode="penalty").mode == "penalty"
    assert type(make_regularizer("l2", ps)) is L2
    h = make_regularizer("hsn1r", ps, hsn_iters=3, hsn_every=2)
    assert isinstance(h, HSN1R) and (h.iters, h.every) == (3, 2)
    for r in (h, NoReg(ps)):
        assert isinstance(r, Regularizer)
    with pytest.raises(ValueError):
        make_regularizer("l3", ps)
    with pytest.raises(ValueError):
        make_regularizer("l1", ps, l1_mode="sideways")


@pytest.mark.parametrize("kind", ["none", "l1", "l2", "hsn1r"])
def test_negative_lambda_is_refused_and_zero_adds_nothing(kind):
    net = _tiny()
    reg = make_regularizer(kind, reg_params(net, False), l1_mode="penalty", **EXACT)
    loss = _dloss(net)
    with pytest.raises(ValueError):
        reg.penalty(loss, -0.1, 0)
    assert reg.penalty(loss, 0.0, 0) is None
    assert reg.value == 0.0


# --- exact values and gradients --------------------------------------------------------------

def _fd_grad(f, params, eps=1e-6):
    """Central finite differences of scalar f() with respect to every entry of params."""
    out = []
    for p in params:
        g = torch.zeros(p.shape, dtype=p.dtype)
        flat = p.view(-1)
        for i in range(p.numel()):
            old = flat[i].item()
            vals = []
            for x in (old + eps, old - eps):
                with torch.no_grad():
                    flat[i] = x
                vals.append(f().detach().item())  # f itself may need autograd (HSN1R)
            with torch.no_grad():
                flat[i] = old
            g.view(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
        out.append(g)
    return out


def test_l1_penalty_value_and_gradient():
    net = _tiny()
    ps = reg_params(net, False)
    with torch.no_grad():
        for p in ps:  # keep every weight well away from the kink at 0
            p.copy_(p.sign() * (p.abs() + 0.1))
    reg = L1(ps, mode="penalty")
    lam = 0.3
    pen = reg.penalty(_dloss(net), lam, 0)
    assert pen.item() == pytest.approx(lam * sum(p.abs().sum().item() for p in ps), rel=1e-12)
    assert reg.value == pytest.approx(pen.item())
    got = torch.autograd.grad(pen, ps)
    ref = _fd_grad(lambda: L1(ps, mode="penalty").penalty(None, lam, 0), ps)
    assert torch.allclose(_flat(got), _flat(ref), atol=1e-7)
    assert torch.equal(_flat(got), lam * _flat(ps).sign())


def test_l2_penalty_value_and_gradient():
    net = _tiny()
    ps = reg_params(net, True)
    lam = 0.7
    pen = L2(ps).penalty(_dloss(net), lam, 0)
    assert pen.item() == pytest.approx(0.5 * lam * (_flat(ps) ** 2).sum().item(), rel=1e-12)
    got = torch.autograd.grad(pen, ps)
    ref = _fd_grad(lambda: L2(ps).penalty(None, lam, 0), ps)
    assert torch.allclose(_flat(got), _flat(ref), atol=1e-7)
    assert torch.allclose(_flat(got), lam * _flat(ps).detach(), atol=1e-12)


def test_hsn1r_penalty_gradient_matches_finite_differences_with_v_fixed():
    net = _tiny(seed=1)
    ps = reg_params(net, False)
    g = torch.Generator().manual_seed(3)
    v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in ps]
    n = _flat(v).norm()
    v = [x / n for x in v]
    lam = 1.0

    def pen_with_fixed_v():
        reg = HSN1R(ps)
        reg.v = [x.clone() for x in v]
        return reg.penalty(_dloss(net), lam, 0)

    pen = pen_with_fixed_v()
    h = exact_hessian(_dloss(net), ps)
    vf = _flat(v)
    assert pen.item() == pytest.approx(abs((vf @ h @ vf).item()), rel=1e-10)
    got = torch.autograd.grad(pen, ps)
    ref = _fd_grad(pen_with_fixed_v, ps)
    assert _flat(got).abs().max() > 1e-3  # a non-trivial gradient, so the match means something
    assert torch.allclose(_flat(got), _flat(ref), rtol=1e-5, atol=1e-8)


def test_proximal_l1_soft_thresholds_exactly():
    net = _tiny()
    ps = reg_params(net, False)
    before = [p.detach().clone() for p in ps]
    lam, lr = 0.5, 0.4  # threshold 0.2 zeroes a good share of these weights
    reg = L1(ps, mode="proximal")
    assert reg.penalty(_dloss(net), lam, 0) is None  # nothing goes through the loss
    assert reg.value == pytest.approx(lam * sum(b.abs().sum().item() for b in before))
    reg.after_step(lam, lr)
    n_zero = 0
    for p, b in zip(ps, before):
        expect = torch.sign(b) * torch.clamp(b.abs() - lr * lam, min=0)
        assert torch.equal(p.detach(), expect)
        assert torch.equal(p.detach() == 0, b.abs() <= lr * lam)
        assert not torch.signbit(p.detach()[p.detach() == 0]).any()  # +0.0, not -0.0
        n_zero += int((p == 0).sum())
    assert 0 < n_zero < sum(p.numel() for p in ps)


def test_penalty_mode_l1_has_no_after_step_effect():
    net = _tiny()
    ps = reg_params(net, False)
    before = _flat(ps).detach().clone()
    L1(ps, mode="penalty").after_step(1.0, 1.0)
    L2(ps).after_step(1.0, 1.0)
    assert torch.equal(_flat(ps).detach(), before)


# --- HSN1R power iteration -------------------------------------------------------------------

def _normalize(x):
    return x / x.norm()


@pytest.mark.parametrize("iters", [1, 3])
def test_hsn1r_does_iters_power_steps_per_call_and_keeps_v(iters):
    net = _tiny(seed=2)
    ps = reg_params(net, False)
    h = exact_hessian(_dloss(net), ps)
    reg = HSN1R(ps, iters=iters)
    assert reg.v is None
    lam = 0.5
    v0 = _flat(reg._current_v(ps))  # the fixed-seed start the first call will use
    pen1 = reg.penalty(_dloss(net), lam, 0)
    # The penalty uses v after iters-1 cheap steps; v then takes one more step.
    u = v0
    for _ in range(iters - 1):
        u = _normalize(h @ u)
    assert pen1.item() == pytest.approx(lam * abs((u @ h @ u).item()), rel=1e-9)
    assert reg.value == pytest.approx(pen1.item())
    v1 = _flat(reg.v)
    assert torch.allclose(v1, _normalize(h @ u), atol=1e-10)
    assert not any(x.requires_grad for x in reg.v)
    # The next call continues from the kept v, not from a fresh start.
    pen2 = reg.penalty(_dloss(net), lam, 1)
    u = v1
    for _ in range(iters - 1):
        u = _normalize(h @ u)
    assert pen2.item() == pytest.approx(lam * abs((u @ h @ u).item()), rel=1e-9)


def test_hsn1r_start_is_deterministic_and_global_rng_untouched():
    net = _tiny(seed=2)
    ps = reg_params(net, False)
    state = torch.get_rng_state()
    a, b = HSN1R(ps), HSN1R(ps)
    pa, pb = a.penalty(_dloss(net), 1.0, 0), b.penalty(_dloss(net), 1.0, 0)
    assert torch.equal(state, torch.get_rng_state())
    assert pa.item() == pb.item()
    assert torch.equal(_flat(a.v), _flat(b.v))


def test_hsn1r_reinitializes_v_when_shapes_change():
    net = _tiny(seed=2)
    ps = reg_params(net, False)
    reg = HSN1R(ps)
    reg.v = [torch.ones(5, dtype=torch.float64)]  # stale, from some other parameter set
    fresh = HSN1R(ps)
    assert reg.penalty(_dloss(net), 1.0, 0).item() == fresh.penalty(_dloss(net), 1.0, 0).item()
    assert [x.shape for x in reg.v] == [p.shape for p in ps]


def test_hsn1r_converges_to_spectral_norm_on_a_fixed_loss():
    net = _tiny(seed=4)
    ps = reg_params(net, False)
    loss = _dloss(net)
    ev = torch.linalg.eigvalsh(exact_hessian(loss, ps)).abs().sort(descending=True).values
    assert ev[1] < 0.9 * ev[0]  # a gap, so a Rayleigh quotient converges in a few hundred steps
    reg = HSN1R(ps)
    lam = 0.1
    first = None
    for step in range(300):
        reg.penalty(loss, lam, step)  # the same graph again and again: HVPs retain it
        if first is None:
            first = reg.value / lam
    est = reg.value / lam
    assert abs(first - ev[0].item()) > 0.02 * ev[0].item()  # it really had to converge
    assert est == pytest.approx(ev[0].item(), rel=1e-2)
    assert est == pytest.approx(spectral_norm(loss, ps), rel=1e-2)


def test_hsn1r_lazy_every_k():
    net = _tiny(seed=2)
    ps = reg_params(net, False)
    lam, k = 0.2, 3
    lazy, eager = HSN1R(ps, every=k), HSN1R(ps, every=1)
    e0 = eager.penalty(_dloss(net), lam, 0)
    e1 = eager.penalty(_dloss(net), lam, 1)
    l0 = lazy.penalty(_dloss(net), lam, 0)
    assert l0.item() == pytest.approx(k * e0.item(), rel=1e-12)
    assert lazy.value == pytest.approx(e0.item(), rel=1e-12)  # logged without the k
    v_after_0 = _flat(lazy.v).clone()
    for step in (1, 2):
        assert lazy.penalty(_dloss(net), lam, step) is None
        assert torch.equal(_flat(lazy.v), v_after_0)  # off-steps cost nothing, move nothing
        assert lazy.value == pytest.approx(e0.item(), rel=1e-12)
    l3 = lazy.penalty(_dloss(net), lam, 3)
    assert l3.item() == pytest.approx(k * e1.item(), rel=1e-12)


def test_hsn1r_value_is_a_lazy_float():
    net = _tiny(seed=2)
    reg = HSN1R(reg_params(net, False))
    pen = reg.penalty(_dloss(net), 0.5, 0)
    # Stored as a detached tensor until read, so training on a GPU does not sync to log it.
    t = reg.value_tensor
    assert isinstance(t, torch.Tensor) and t.dim() == 0 and not t.requires_grad
    assert isinstance(reg.value, float) and reg.value == pytest.approx(pen.item())
    assert reg.value == pytest.approx(t.item())


def test_hsn1r_parameter_not_in_the_loss_is_harmless():
    w = nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
    loss = (w.sum() - 1) ** 2 * 0 + (torch.zeros(3, 3, dtype=torch.float64) * 2).sum()
    reg = HSN1R([w])
    pen = reg.penalty(loss, 1.0, 0)
    assert pen.item() == 0.0
    assert math.isclose(_flat(reg.v).norm().item(), 1.0)  # v did not collapse to 0


# --- a short real GAN run --------------------------------------------------------------------

CFG = RunConfig(g_hidden=16, g_depth=2, d_hidden=16, d_depth=2, batch_size=64)
STEPS = 100
LR = 1e-3


def _ring8(n, gen):
    k = torch.randint(0, 8, (n,), generator=gen)
    ang = 2 * math.pi * k / 8
    return torch.stack([ang.cos(), ang.sin()], 1) + 0.01 * torch.randn(n, 2, generator=gen)


def _eval_dloss(G, D):
    gen = torch.Generator().manual_seed(999)
    real = _ring8(512, gen)
    z = torch.randn(512, CFG.latent_dim, generator=gen)
    return d_loss("ns", D(real), D(G(z).detach()))


def _train(kind, lam, l1_mode="proximal", seed=0):
    """Alternating D/G updates with the regularizer on both networks, as the Trainer does."""
    torch.manual_seed(seed)
    G, D = build_models(CFG)
    gen = torch.Generator().manual_seed(seed + 1)
    regs = {n: make_regularizer(kind, reg_params(m, False), l1_mode=l1_mode, **EXACT) for n, m in
            (("g", G), ("d", D))}
    opt_g = torch.optim.Adam(G.parameters(), LR, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), LR, betas=(0.5, 0.999))
    b = CFG.batch_size

    def update(net, opt, adv, step):
        pen = regs[net].penalty(adv, lam, step)
        opt.zero_grad(set_to_none=True)
        (adv if pen is None else adv + pen).backward()
        opt.step()
        regs[net].after_step(lam, LR)

    for step in range(STEPS):
        real = _ring8(b, gen)
        fake = G(torch.randn(b, CFG.latent_dim, generator=gen)).detach()
        update("d", opt_d, d_loss("ns", D(real), D(fake)), step)
        z = torch.randn(b, CFG.latent_dim, generator=gen)
        update("g", opt_g, g_loss("ns", D(G(z))), step)
    return G, D, regs


@pytest.fixture(scope="module")
def baseline():
    return _train("none", 0.0)


def _l1(net):
    return sum(p.abs().sum().item() for p in reg_params(net, False))


def _l2(net):
    return sum(p.pow(2).sum().item() for p in reg_params(net, False))


@pytest.mark.parametrize("kind,lam,mode,measure", [
    ("l1", 0.5, "penalty", _l1),
    ("l1", 1.0, "proximal", _l1),
    ("l2", 0.5, "penalty", _l2),
], ids=["l1-penalty", "l1-proximal", "l2"])
def test_large_lambda_shrinks_both_networks(baseline, kind, lam, mode, measure):
    G0, D0, _ = baseline
    G, D, regs = _train(kind, lam, mode)
    # A sign error (penalty subtracted) would grow the weights instead.
    assert measure(G) < 0.8 * measure(G0)
    assert measure(D) < 0.8 * measure(D0)
    assert regs["g"].value > 0 and regs["d"].value > 0


def test_proximal_l1_gives_exact_zeros_in_training(baseline):
    G, D, _ = _train("l1", 1.0, "proximal")
    for net, net0 in ((G, baseline[0]), (D, baseline[1])):
        zeros = sum(int((p == 0).sum()) for p in reg_params(net, False))
        zeros0 = sum(int((p == 0).sum()) for p in reg_params(net0, False))
        assert zeros0 == 0 and zeros > 0


def test_hsn1r_lowers_discriminator_sharpness(baseline):
    # Observed over seeds 0-3 and leaky_relu/tanh: lambda=1 cut the D-loss sharpness to
    # 0.18-0.39 of the unregularized run's after 100 steps. Asserted with margin for seed 0.
    G0, D0, _ = baseline
    G, D, regs = _train("hsn1r", 1.0)
    s0 = spectral_norm(_eval_dloss(G0, D0), reg_params(D0, False))
    s = spectral_norm(_eval_dloss(G, D), reg_params(D, False))
    assert s < 0.6 * s0
    assert regs["d"].v is not None and regs["d"].value > 0


def test_hvp_of_gan_losses_runs_for_g_through_d():
    # G's Hessian is taken through D (D's params get gradients but are not regularized here).
    G, D = build_models(CFG)
    z = torch.randn(8, CFG.latent_dim)
    loss = g_loss("ns", D(G(z)))
    ps = reg_params(G, False)
    grads = grads_with_graph(loss, ps)
    hv = hvp(grads, ps, [torch.ones_like(p) for p in ps])
    assert all(h.shape == p.shape and torch.isfinite(h).all() for h, p in zip(hv, ps))


# --- Regularizer.backward and HSN1R's finite-difference method --------------------------------

def _grads(params):
    return _flat([torch.zeros_like(p) if p.grad is None else p.grad for p in params])


def _clear(params):
    for p in params:
        p.grad = None


@pytest.mark.parametrize("kind,mode", [("none", "proximal"), ("l1", "penalty"),
                                       ("l1", "proximal"), ("l2", "proximal"),
                                       ("hsn1r", "proximal")])
def test_default_backward_is_loss_plus_penalty_backward(kind, mode):
    # What the Trainer did before backward() existed, bit for bit, for every regularizer.
    net = _tiny(seed=3)
    allp = list(net.parameters())
    a, b = (make_regularizer(kind, reg_params(net, False), l1_mode=mode, **EXACT)
            for _ in range(2))
    loss = _dloss(net)
    pen = a.penalty(loss, 0.3, 0)
    total = loss if pen is None else loss + pen
    _clear(allp)
    total.backward()
    ref = _grads(allp)
    _clear(allp)
    got_loss, got_total = b.backward(lambda: _dloss(net), 0.3, 0)
    assert torch.equal(_grads(allp), ref)
    assert got_loss.item() == loss.item() and got_total.item() == total.item()
    assert not got_loss.requires_grad and not got_total.requires_grad


def _softplus_dloss(net, seed):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(32, 2, generator=g, dtype=torch.float64)
    fake = 1.5 + 0.5 * torch.randn(32, 2, generator=g, dtype=torch.float64)
    return lambda: d_loss("ns", net(real).squeeze(1), net(fake).squeeze(1))


def _fd_cases():
    """(name, build) -> (net, closure, modules): small float64 nets, smooth and piecewise, D
    losses with and without a kink of their own (hinge), and a regression loss."""
    def d_net(act, seed, loss="ns", width=6):
        def build():
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(2, width), act(), nn.Linear(width, width), act(),
                                nn.Linear(width, 1)).double()
            g = torch.Generator().manual_seed(seed + 50)
            real = torch.randn(48, 2, generator=g, dtype=torch.float64)
            fake = 1.5 + 0.5 * torch.randn(48, 2, generator=g, dtype=torch.float64)
            return net, lambda: d_loss(loss, net(real).squeeze(1), net(fake).squeeze(1))
        return build

    def mse(act, seed):
        def build():
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(3, 5), act(), nn.Linear(5, 4), act(),
                                nn.Linear(4, 1)).double()
            g = torch.Generator().manual_seed(seed + 100)
            x = torch.randn(16, 3, generator=g, dtype=torch.float64)
            y = torch.randn(16, 1, generator=g, dtype=torch.float64)
            return net, lambda: ((net(x) - y) ** 2).mean()
        return build

    return [("mse-tanh", mse(nn.Tanh, 0)), ("mse-softplus", mse(nn.Softplus, 1)),
            ("mse-silu", mse(nn.SiLU, 2)), ("dloss-tanh", d_net(nn.Tanh, 3)),
            ("dloss-elu", d_net(nn.ELU, 4)), ("dloss-relu", d_net(nn.ReLU, 5)),
            ("dloss-leaky", d_net(lambda: nn.LeakyReLU(0.2), 6)),
            ("hinge-leaky", d_net(lambda: nn.LeakyReLU(0.2), 7, loss="hinge")),
            ("lsgan-leaky", d_net(lambda: nn.LeakyReLU(0.2), 8, loss="lsgan"))]


FD_CASES = _fd_cases()


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _penalty_by(method, net, closure, v, lam, iters=1, modules=()):
    """(value, gradient of the penalty alone over all params, next v, full gradient) of one
    HSN1R step with the given starting v."""
    allp = list(net.parameters())
    ps = reg_params(net, False)
    _clear(allp)
    closure().backward()
    plain = _grads(allp)
    reg = HSN1R(ps, iters=iters, method=method, modules=modules)
    reg.v = [x.clone() for x in v]
    _clear(allp)
    reg.backward(closure, lam, 0)
    full = _grads(allp)
    _clear(allp)
    return reg.value, full - plain, _flat(reg.v), full


@pytest.mark.parametrize("name,build", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_hsn1r_fd_matches_exact_value_and_gradient(name, build):
    net, closure = build()
    ps = reg_params(net, False)
    h = exact_hessian(closure(), ps)
    # v a few power steps from random (as training keeps it): its Rayleigh quotient is then
    # well away from 0, so a relative error means something.
    v = _flat(HSN1R(ps)._current_v(ps))
    for _ in range(5):
        v = _normalize(h @ v)
    v = list(torch.split(v, [p.numel() for p in ps]))
    v = [x.reshape(p.shape) for x, p in zip(v, ps)]
    lam = 0.7
    ex_val, ex_grad, ex_v, ex_full = _penalty_by("exact", net, closure, v, lam)
    vf = _flat(v)
    assert ex_val == pytest.approx(lam * abs((vf @ h @ vf).item()), rel=1e-9)
    assert ex_grad.abs().max() > 1e-4   # a non-trivial penalty gradient to compare
    for modules in ((), (net,)):   # caught by the torch function mode / by module patching
        val, grad, nv, full = _penalty_by("fd", net, closure, v, lam, modules=modules)
        assert abs(val - ex_val) / ex_val < 1e-2
        assert _rel(grad, ex_grad) < 1e-2
        assert _rel(nv, ex_v) < 1e-2
        assert _rel(full, ex_full) < 1e-2


def test_hsn1r_fd_error_is_far_below_one_percent_in_float64():
    # The 1% bound above has a wide margin: eps = finfo(float64).eps ** 0.25 = 1.2e-4.
    net, closure = FD_CASES[6][1]()   # leaky ReLU D
    ps = reg_params(net, False)
    v = HSN1R(ps)._current_v(ps)
    ex = _penalty_by("exact", net, closure, v, 1.0)
    fd = _penalty_by("fd", net, closure, v, 1.0, modules=(net,))
    assert abs(fd[0] - ex[0]) / ex[0] < 1e-6 and _rel(fd[1], ex[1]) < 1e-5


def test_hsn1r_fd_with_unfrozen_kinks_would_be_far_off():
    # Why the branches are held: a plain finite difference across leaky-ReLU kinks.
    net, closure = FD_CASES[6][1]()
    ps = reg_params(net, False)
    v = HSN1R(ps)._current_v(ps)
    _, ex_grad, _, _ = _penalty_by("exact", net, closure, v, 1.0)
    reg = HSN1R(ps, method="fd", fd_eps=0.05)
    reg.v = [x.clone() for x in v]
    held = _penalty_by("fd", net, closure, v, 1.0)[1]
    import gan_lab.regularizers.hsn1r as R
    old = R._KinkMode.__torch_function__
    try:   # a mode that records nothing and replays nothing: plain finite differences
        R._KinkMode.__torch_function__ = lambda self, func, types, args=(), kwargs=None: \
            func(*args, **(kwargs or {}))
        allp = list(net.parameters())
        _clear(allp)
        closure().backward()
        plain = _grads(allp)
        _clear(allp)
        reg.backward(closure, 1.0, 0)
        loose = _grads(allp) - plain
    finally:
        R._KinkMode.__torch_function__ = old
    assert _rel(held, ex_grad) < 1e-2
    assert _rel(loose, ex_grad) > 0.1


@pytest.mark.parametrize("iters", [2, 3])
def test_hsn1r_fd_extra_power_iterations(iters):
    net, closure = FD_CASES[3][1]()   # tanh D
    ps = reg_params(net, False)
    v = HSN1R(ps)._current_v(ps)
    ex = _penalty_by("exact", net, closure, v, 0.5, iters=iters)
    fd = _penalty_by("fd", net, closure, v, 0.5, iters=iters, modules=(net,))
    assert abs(fd[0] - ex[0]) / ex[0] < 1e-2
    assert _rel(fd[1], ex[1]) < 1e-2 and _rel(fd[2], ex[2]) < 1e-2


def test_hsn1r_fd_float32_on_the_default_ring8_discriminator():
    # Training runs in float32 (eps = 0.019 there). The default D (3 x 128 leaky ReLU) with v
    # moved towards the top eigenvector, as training keeps it: measured errors ~3e-4.
    cfg = RunConfig()
    torch.manual_seed(0)
    G, D = build_models(cfg)
    gen = torch.Generator().manual_seed(1)
    real = _ring8(256, gen)
    with torch.no_grad():
        fake = G(torch.randn(256, cfg.latent_dim, generator=gen))
    closure = lambda: d_loss("ns", D(real), D(fake))   # noqa: E731
    ps = reg_params(D, False)
    grads = grads_with_graph(closure(), ps)
    v = HSN1R(ps)._current_v(ps)
    for _ in range(20):
        hv = [h.detach() for h in hvp(grads, ps, v)]
        n = _flat(hv).norm()
        v = [h / n for h in hv]
    ex = _penalty_by("exact", D, closure, v, 1.0)
    fd = _penalty_by("fd", D, closure, v, 1.0, modules=(G, D))
    assert abs(fd[0] - ex[0]) / ex[0] < 1e-2
    assert _rel(fd[1], ex[1]) < 1e-2 and _rel(fd[3], ex[3]) < 1e-2


def test_hsn1r_fd_module_patching_and_mode_agree_and_clean_up():
    net, closure = FD_CASES[7][1]()   # leaky D + hinge loss: a kink outside the modules too
    ps = reg_params(net, False)
    v = HSN1R(ps)._current_v(ps)
    a = _penalty_by("fd", net, closure, v, 1.0)
    b = _penalty_by("fd", net, closure, v, 1.0, modules=(net,))
    assert a[0] == b[0] and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    assert all("forward" not in m.__dict__ for m in net.modules())
    # The weights are back exactly, and the closure is unchanged afterwards.
    before = _flat([p.detach().clone() for p in net.parameters()])
    _penalty_by("fd", net, closure, v, 1.0, modules=(net,))
    assert torch.equal(_flat([p.detach() for p in net.parameters()]), before)


def test_hsn1r_fd_lazy_zero_lambda_and_state():
    net, closure = FD_CASES[3][1]()
    ps = reg_params(net, False)
    allp = list(net.parameters())
    reg = HSN1R(ps, every=2, method="fd", modules=(net,))
    _clear(allp)
    reg.backward(closure, 0.4, 0)
    assert reg.value > 0 and len(reg.v) == len(ps)
    assert all(x.shape == p.shape and not x.requires_grad for x, p in zip(reg.v, ps))
    v0, value0 = _flat(reg.v).clone(), reg.value
    for lam, step in ((0.4, 1), (0.0, 2)):   # an off step; lambda 0
        _clear(allp)
        loss, total = reg.backward(closure, lam, step)
        _clear(allp)
        closure().backward()
        plain = _grads(allp)
        _clear(allp)
        reg.backward(closure, lam, step)
        assert torch.equal(_grads(allp), plain) and total.item() == loss.item()
        assert torch.equal(_flat(reg.v), v0)
    assert value0 > 0 and reg.value == 0.0
    with pytest.raises(ValueError):
        reg.backward(closure, -1.0, 0)


def test_hsn1r_fd_accumulates_into_existing_grads():
    net, closure = FD_CASES[3][1]()
    ps = reg_params(net, False)
    allp = list(net.parameters())
    v = HSN1R(ps)._current_v(ps)
    _, _, _, full = _penalty_by("fd", net, closure, v, 0.5, modules=(net,))
    reg = HSN1R(ps, method="fd", modules=(net,))
    reg.v = [x.clone() for x in v]
    for p in allp:
        p.grad = torch.ones_like(p)
    reg.backward(closure, 0.5, 0)
    assert torch.allclose(_grads(allp), full + 1, atol=1e-12)


def test_hsn1r_fd_parameter_not_in_the_loss_is_harmless():
    w = nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
    u = nn.Parameter(torch.randn(3, dtype=torch.float64))
    v = HSN1R([w, u])._current_v([w, u])
    reg = HSN1R([w, u], method="fd")
    reg.v = [x.clone() for x in v]
    b = nn.Parameter(torch.zeros(4, dtype=torch.float64))   # linear: autograd hands back a
    reg.backward(lambda: (u ** 3).sum() + b.sum(), 1.0, 0)   # stride-0 gradient, left alone
    assert torch.equal(b.grad, torch.ones(4, dtype=torch.float64))   # w unused: not moved
    # H = diag(6u) on u, so v.Hv = sum 6 u v_u^2 and its gradient is 6 v_u^2 (times the sign).
    vhv = (6 * u.detach() * v[1] ** 2).sum()
    assert reg.value == pytest.approx(abs(vhv.item()), rel=1e-6)
    expect = 3 * u.detach() ** 2 + vhv.sign() * 6 * v[1] ** 2
    assert torch.allclose(u.grad, expect, rtol=1e-6)
    assert w.grad is None
    assert torch.equal(reg.v[0], torch.zeros(3, 3, dtype=torch.float64))
    assert math.isclose(_flat(reg.v).norm().item(), 1.0)


def test_hsn1r_fd_closure_must_repeat_itself():
    net, _ = FD_CASES[6][1]()
    ps = reg_params(net, False)
    calls = []
    x = torch.randn(8, 2, dtype=torch.float64)

    def closure():   # a different number of rows on every call: not the same loss
        calls.append(1)
        return net(x[:9 - len(calls)]).pow(2).mean()

    with pytest.raises(RuntimeError, match="same loss"):
        HSN1R(ps, method="fd", modules=(net,)).backward(closure, 1.0, 0)
    assert all("forward" not in m.__dict__ for m in net.modules())


def test_hsn1r_method_is_checked_and_passed_through():
    ps = reg_params(_tiny(), False)
    assert make_regularizer("hsn1r", ps).method == RunConfig().hsn_method   # the config's default
    assert make_regularizer("hsn1r", ps, hsn_method="exact").method == "exact"
    assert make_regularizer("hsn1r", ps, hsn_method="fd").method == "fd"
    with pytest.raises(ValueError):
        HSN1R(ps, method="sideways")
    with pytest.raises(ValueError):
        HSN1R(ps, method="fd", fd_eps=0.0)


# --- in the Trainer ---------------------------------------------------------------------------

TR_SMALL = dict(g_hidden=32, d_hidden=32, g_depth=2, d_depth=2, batch_size=64, eval_every=10**5,
                sharpness_every=0, reg="hsn1r", lam=0.05, hsn_every=1, reg_target="both")


def test_trainer_fd_follows_the_exact_run():
    from gan_lab.trainer import Trainer

    ex = Trainer(RunConfig(**TR_SMALL, hsn_method="exact"))
    fd = Trainer(RunConfig(**TR_SMALL, hsn_method="fd"))
    assert fd.reg_d.method == "fd" and fd.reg_g.method == "fd" and ex.reg_d.method == "exact"
    a, b = ex.run_steps(5), fd.run_steps(5)
    # Same batches, same start: the losses agree closely, the logged penalties within 1% (in
    # float32 the fd value's error is largest while v is still near its random start, as here).
    np.testing.assert_allclose(b[:, :2], a[:, :2], rtol=1e-5)
    np.testing.assert_allclose(b[:, 2:4], a[:, 2:4], rtol=1e-2)
    assert (a[:, 2:4] > 0).all()
    wa = _flat([p.detach() for p in ex.D.parameters()])
    wb = _flat([p.detach() for p in fd.D.parameters()])
    assert _rel(wb, wa) < 1e-4


def test_trainer_switches_method_live():
    from gan_lab.trainer import Trainer

    tr = Trainer(RunConfig(**TR_SMALL))
    tr.run_steps(2)
    tr.apply(hsn_method="fd")
    assert tr.reg_d.method == "fd" and tr.reg_g.method == "fd"
    assert np.isfinite(tr.run_steps(2)).all()


def test_trainer_fd_state_export_resumes_bit_identically():
    # What the ZeroGPU chunks do: the kept vector v crosses a chunk boundary as exported state.
    from gan_lab.trainer import Trainer

    cfg = RunConfig(**TR_SMALL, hsn_method="fd")
    whole = Trainer(cfg)
    whole.run_steps(9)
    first = Trainer(cfg)
    first.run_steps(4)
    st = first.export_state()
    assert st.reg_d["v"] is not None and st.reg_g["v"] is not None
    second = Trainer(cfg)
    second.import_state(st)
    second.run_steps(5)
    for net in ("G", "D"):
        for p, q in zip(getattr(whole, net).parameters(), getattr(second, net).parameters()):
            assert torch.equal(p, q)
    assert all(torch.equal(x, y) for x, y in zip(whole.reg_d.v, second.reg_d.v))


def test_state_dict_round_trips_and_reads_the_older_format():
    # A regularizer's kept state is its state_dict(); a state saved before state_dict existed
    # ({"kind", "v", "value"} for every kind, v None but for HSN1R) loads the same way.
    net = _tiny()
    ps = reg_params(net, False)
    a, b = HSN1R(ps), HSN1R(ps)
    a.penalty(_dloss(net), 0.2, 0)
    b.load_state_dict(a.state_dict())
    assert b.value == a.value > 0 and all(torch.equal(x, y) for x, y in zip(a.v, b.v))
    old = {"kind": "hsn1r", "v": [x.clone() for x in a.v], "value": 0.5}
    b.load_state_dict(old)
    assert b.value == 0.5 and all(torch.equal(x, y) for x, y in zip(a.v, b.v))
    b.load_state_dict({"kind": "l1", "v": None, "value": 0.1})   # another kind's: fresh
    assert b.value == 0.0 and b.v is None
    l1 = L1(ps)
    l1.load_state_dict({"kind": "l1", "v": None, "value": 0.1})
    assert l1.value == 0.1 and l1.state_dict() == {"kind": "l1", "value": 0.1}


def test_hsn1r_fd_uses_the_torch_function_mode_only_when_needed(monkeypatch):
    # The mode costs a few microseconds per torch call (~10% of a ring8 step): with the nets
    # given, a loss whose only kinks are activation modules never enters it; the hinge loss's
    # own relu does.
    import gan_lab.regularizers.hsn1r as R

    made = []
    real_init = R._KinkMode.__init__
    monkeypatch.setattr(R._KinkMode, "__init__",
                        lambda self, tape: (made.append(1), real_init(self, tape))[1])
    for name, uses in (("dloss-leaky", False), ("hinge-leaky", True)):
        net, closure = dict(FD_CASES)[name]()
        made.clear()
        HSN1R(reg_params(net, False), method="fd", modules=(net,)).backward(closure, 1.0, 0)
        assert bool(made) == uses, name


def test_hsn1r_fd_step_shrinks_with_the_curvature():
    from gan_lab.regularizers import FD_CURV, FD_SCALE_MAX, FD_SCALE_MIN

    w = torch.zeros(3, requires_grad=True)
    e0 = torch.finfo(torch.float32).eps ** 0.25
    for host in (True, False):   # CPU floats / device tensors (no host sync)
        reg = HSN1R([w], method="fd")
        reg._host = host
        assert float(reg.eps_for(0.5, w)) == pytest.approx(e0 * FD_SCALE_MAX)   # none logged
        steps = []
        for curv in (FD_CURV / 100, FD_CURV, 4 * FD_CURV, 1e6):
            reg.value = 0.5 * curv   # the logged value is lambda * |v.Hv|
            steps.append(float(reg.eps_for(0.5, w)))
        assert steps == pytest.approx([e0 * FD_SCALE_MAX, e0, e0 / 2, e0 * FD_SCALE_MIN])
        assert isinstance(reg.eps_for(0.5, w), float) == host
        fixed = HSN1R([w], method="fd", fd_eps=0.1)
        fixed._host = host
        assert float(fixed.eps_for(0.5, w)) == pytest.approx(0.1)
    assert float(HSN1R([w.double()], method="fd").eps_for(0.5, w.double())) == pytest.approx(
        torch.finfo(torch.float64).eps ** 0.25 * FD_SCALE_MAX)


@pytest.mark.parametrize("name", ["dloss-leaky", "hinge-leaky", "mse-tanh"])
def test_hsn1r_fd_device_path_matches_the_cpu_path(name):
    # Off the CPU the scalars stay 0-d tensors (no host sync); same numbers up to rounding.
    net, closure = dict(FD_CASES)[name]()
    ps = reg_params(net, False)
    allp = list(net.parameters())
    out = []
    for host in (True, False):
        reg = HSN1R(ps, iters=2, method="fd", modules=(net,))
        reg._host = host
        _clear(allp)
        for step in range(3):
            reg.backward(closure, 0.6, step)
        out.append((reg.value, _grads(allp), _flat(reg.v)))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-9)
    assert torch.allclose(out[1][1], out[0][1], rtol=1e-9, atol=1e-12)
    assert torch.allclose(out[1][2], out[0][2], rtol=1e-9, atol=1e-12)
