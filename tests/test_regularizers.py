"""regularizers.py: exact definitions, gradients by finite differences, and their effect in a
short real GAN run (ring8, tiny MLPs) on both G and D."""

import math

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
    reg = make_regularizer(kind, reg_params(net, False), l1_mode="penalty")
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
    regs = {n: make_regularizer(kind, reg_params(m, False), l1_mode=l1_mode) for n, m in
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
