"""Spectral normalization (RunConfig.spectral_norm, gan_lab.spectral): torch's arithmetic and
tensor names, every normalized layer at spectral norm ~1 after training (measured here with
torch.linalg), checkpoints, a run moved between processes (TrainState) going on bit for bit, and
how it combines with L1, HSN1R, G's weight average, sharpness and the weight histograms."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import spectral
from gan_lab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint_bytes
from gan_lab.config import LIVE_FIELDS, NET_FIELDS, RunConfig, plan_change
from gan_lab.hessian import exact_hessian
from gan_lab.losses import d_loss
from gan_lab.models import build_models, generate, shown_weights
from gan_lab.regularizers import HSN1R, reg_params
from gan_lab.trainer import Trainer

TOY = dict(dataset="ring8", batch_size=64, g_hidden=16, d_hidden=16, seed=3)
CONV = dict(dataset="mnist", arch="conv", g_hidden=8, d_hidden=8, latent_dim=4, batch_size=16,
            g_norm="batch", seed=1)


def _layers(net):
    return [m for m in net.modules() if isinstance(m, spectral.LAYERS)]


def _sigma_max(layer) -> float:
    """The largest singular value of a layer's effective weight, computed here: the kernel as
    an out x (in*kh*kw) matrix (a transposed conv's (in, out, kh, kw) kernel has out at dim 1)."""
    w = layer.weight.detach().double()
    if isinstance(layer, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return float(torch.linalg.svdvals(w.reshape(w.shape[0], -1))[0])


def test_field_is_a_rebuild_field_of_the_networks():
    assert RunConfig().spectral_norm == "none"
    assert "spectral_norm" not in LIVE_FIELDS and "spectral_norm" in NET_FIELDS
    assert plan_change(RunConfig(), RunConfig(spectral_norm="d")).rebuild == ("spectral_norm",)
    ng, nd = RunConfig().g_depth + 1, RunConfig().d_depth + 1   # hidden layers + output
    for choice, g, d in (("none", 0, 0), ("g", ng, 0), ("d", 0, nd), ("both", ng, nd)):
        G, D = build_models(RunConfig(spectral_norm=choice))
        assert (len(spectral.layers(G)), len(spectral.layers(D))) == (g, d), choice


def test_same_initial_weights_with_and_without():
    torch.manual_seed(0)
    G0, D0 = build_models(RunConfig(**TOY))
    torch.manual_seed(0)
    G1, D1 = build_models(RunConfig(**TOY, spectral_norm="both"))
    for a, b in ((G0, G1), (D0, D1)):
        for la, lb in zip(_layers(a), _layers(b), strict=True):
            assert torch.equal(la.weight, lb.parametrizations.weight.original)


@pytest.mark.parametrize("make", [lambda: nn.Linear(7, 5), lambda: nn.Conv2d(3, 6, 4, 2, 1),
                                  lambda: nn.ConvTranspose2d(6, 3, 4, 2, 1)])
def test_same_arithmetic_and_names_as_torch(make):
    torch.manual_seed(0)
    ours, theirs = make(), make()
    theirs.load_state_dict(ours.state_dict())
    spectral.apply(ours)
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())          # our vectors in torch's layer
    theirs.eval()                                      # eval: torch uses u, v as they are
    assert torch.allclose(ours.weight, theirs.weight, rtol=1e-6, atol=1e-7)
    # One of our power steps is one of torch's training-mode forwards.
    theirs.train()
    with torch.no_grad():
        theirs.weight                                 # noqa: B018 - runs torch's power iteration
    spectral.power_step(spectral.layers(ours))
    for k, v in ours.state_dict().items():
        assert torch.allclose(v, theirs.state_dict()[k], rtol=1e-5, atol=1e-6), k


@pytest.mark.parametrize("cfg", [
    dict(TOY, spectral_norm="both", steps=300),
    dict(dataset="mnist", latent_dim=16, g_hidden=64, d_hidden=64, batch_size=32,
         spectral_norm="d", steps=150, lr_schedule="linear"),
    dict(CONV, spectral_norm="both", steps=150, lr_schedule="linear"),
], ids=["ring8-mlp", "mnist-mlp", "mnist-conv"])
def test_every_normalized_layer_ends_at_spectral_norm_one(cfg):
    tr = Trainer(RunConfig(**cfg))
    tr.run_steps(tr.cfg.steps)
    for tag in ("g", "d"):
        net = tr.G if tag == "g" else tr.D
        layers = _layers(net)
        assert layers
        for layer in layers:
            s = _sigma_max(layer)
            if spectral.wants(tr.cfg.spectral_norm, tag):
                assert abs(s - 1) < 0.05, (tag, layer, s)
        if spectral.wants(tr.cfg.spectral_norm, tag):
            # The logged metric is the product of these.
            assert tr.evaluate(quality=False)[f"wspec_{tag}"] == pytest.approx(
                float(np.prod([_sigma_max(m) for m in layers])), rel=1e-6)


def test_checkpoint_round_trip_and_torch_names():
    cfg = RunConfig(**CONV, spectral_norm="both", g_ema=0.9)
    tr = Trainer(cfg)
    tr.run_steps(5)
    data = save_checkpoint_bytes(tr.G, tr.D, cfg, tr.step)
    cfg2, g, d, step = load_checkpoint(data)
    assert cfg2 == cfg and step == 5
    assert "net.0.parametrizations.weight.original" in d
    assert "net.0.parametrizations.weight.0._u" in d and "net.0.parametrizations.weight.0._v" in d
    for ours, got in ((tr.G.state_dict(), g), (tr.D.state_dict(), d)):
        assert set(ours) == set(got)
        assert all(torch.equal(ours[k], got[k]) for k in ours)
    # Continuing from it: the same function (u and v came along).
    tr2 = Trainer(cfg)
    tr2.load_weights(g, d, step)
    x = tr.eval_real[:8]
    with torch.no_grad():
        assert torch.equal(tr.D(x), tr2.D(x))
        assert torch.equal(generate(tr.G, tr.z_eval[:8]), generate(tr2.G, tr2.z_eval[:8]))


def test_old_checkpoints_load_and_a_mismatch_says_why():
    cfg = RunConfig(**TOY)
    tr = Trainer(cfg)
    tr.run_steps(2)
    data = save_checkpoint_bytes(tr.G, tr.D, cfg, 2)
    # A file from before the field existed: its stored config has no spectral_norm.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    stored = json.loads(header["__metadata__"]["config"])
    del stored["spectral_norm"]
    header["__metadata__"]["config"] = json.dumps(stored)
    raw = json.dumps(header).encode()
    raw += b" " * (n - len(raw)) if len(raw) <= n else b""
    assert len(raw) == n
    old = data[:8] + raw + data[8 + n:]
    cfg_old, g, d, _ = load_checkpoint(old)
    assert cfg_old.spectral_norm == "none" and set(d) == set(tr.D.state_dict())
    with pytest.raises(CheckpointError, match="spectral_norm"):
        load_checkpoint(old, RunConfig(**TOY, spectral_norm="d"))


def test_moved_run_goes_on_bit_for_bit():
    """A worker process moving a run (TrainState over a pipe), or ZeroGPU chunks: u and v move
    with it, with HSN1R's vector, G's average and the WGAN-GP noise stream."""
    cfg = RunConfig(**TOY, spectral_norm="both", reg="hsn1r", lam=0.01, hsn_method="fd",
                    g_ema=0.99, loss="wgan-gp", d_steps=2)
    whole = Trainer(cfg)
    rows_whole = whole.run_steps(12)
    first = Trainer(cfg)
    rows_a = first.run_steps(5)
    st = pickle.loads(pickle.dumps(first.export_state("cpu")))
    assert any(k.endswith("_u") for k in st.d) and any(k.endswith("_v") for k in st.g)
    second = Trainer(cfg)
    second.import_state(st)
    rows_b = second.run_steps(7)
    assert np.array_equal(rows_whole, np.concatenate([rows_a, rows_b]))
    for a, b in ((whole.G, second.G), (whole.D, second.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_proximal_l1_zeros_the_underlying_weights():
    cfg = RunConfig(**TOY, spectral_norm="d", reg="l1", l1_mode="proximal", lam=0.2,
                    reg_target="d")
    tr = Trainer(cfg)
    tr.run_steps(150)
    zeros = [int((w == 0).sum()) for _, w in spectral.layers(tr.D)]
    assert sum(zeros) > 0
    # The same entries are 0 in the effective weights, and the metric counts them.
    eff = dict(shown_weights(tr.D.state_dict(), False))
    assert sum(int((t == 0).sum()) for t in eff.values()) == sum(zeros)
    n = sum(t.numel() for t in eff.values())
    assert tr.evaluate(quality=False)["zeros_d"] == pytest.approx(sum(zeros) / n)


def test_effective_weights_from_a_state_dict_match_the_layers():
    for cfg in (RunConfig(**TOY, spectral_norm="both"), RunConfig(**CONV, spectral_norm="both")):
        G, D = build_models(cfg)
        for net in (G, D):
            eff = spectral.effective_state(net.state_dict())
            names = [n for n, m in net.named_modules() if isinstance(m, spectral.LAYERS)]
            for name, layer in zip(names, _layers(net), strict=True):
                assert torch.allclose(eff[f"{name}.weight"], layer.weight, rtol=1e-6)
            assert not any("parametrizations" in k for k in eff)
    _, D = build_models(RunConfig(**TOY))
    sd = D.state_dict()
    assert spectral.effective_state(sd) is sd      # without spectral norm: passed through


def test_hsn1r_through_the_normalized_weights_exact_and_fd():
    """HSN1R on a spectral-normalized D: its Hessian is that of the loss w.r.t. the underlying
    weights; the double-backprop value is v.Hv of the exact Hessian, and the fd method (which
    moves the underlying weights and re-evaluates the closure) matches double backprop."""
    torch.manual_seed(0)
    net = spectral.apply(nn.Sequential(nn.Linear(2, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6),
                                       nn.LeakyReLU(0.2), nn.Linear(6, 1)).double())
    g = torch.Generator().manual_seed(1)
    real = torch.randn(48, 2, generator=g, dtype=torch.float64)
    fake = 1.5 + 0.5 * torch.randn(48, 2, generator=g, dtype=torch.float64)
    closure = lambda: d_loss("ns", net(real).squeeze(1), net(fake).squeeze(1))  # noqa: E731
    ps = reg_params(net, False)
    assert all(p is w for p, (_, w) in zip(ps, spectral.layers(net), strict=True))
    h = exact_hessian(closure(), ps)
    v = torch.cat([x.reshape(-1) for x in HSN1R(ps)._current_v(ps)])
    for _ in range(5):
        v = h @ v
        v = v / v.norm()
    v_list = [x.reshape(p.shape) for x, p in zip(torch.split(v, [p.numel() for p in ps]), ps)]
    allp = list(net.parameters())
    out = {}
    for method in ("exact", "fd"):
        for p in allp:
            p.grad = None
        reg = HSN1R(ps, method=method, modules=(net,))
        reg.v = [x.clone() for x in v_list]
        reg.backward(closure, 0.7, 0)
        out[method] = (reg.value, torch.cat([p.grad.reshape(-1) for p in allp]))
    assert out["exact"][0] == pytest.approx(0.7 * abs(float(v @ h @ v)), rel=1e-9)
    assert out["fd"][0] == pytest.approx(out["exact"][0], rel=1e-2)
    diff = (out["fd"][1] - out["exact"][1]).norm() / out["exact"][1].norm()
    assert diff < 1e-2
    # And in a training run (float32, the fd default) the penalty is logged and the run goes on.
    tr = Trainer(RunConfig(**TOY, spectral_norm="d", reg="hsn1r", lam=0.05, hsn_every=1))
    rows = tr.run_steps(10)
    assert np.isfinite(rows).all() and (rows[:, 2] > 0).all()


def test_g_average_samples_use_the_averaged_underlying_weights():
    cfg = RunConfig(**TOY, spectral_norm="g", g_ema=0.9)
    tr = Trainer(cfg)
    tr.run_steps(20)
    ref = copy.deepcopy(tr.G)
    del ref.ema
    avg = tr.G.ema.tensors()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(avg[name])
        z = tr.z_eval[:16]
        assert torch.allclose(generate(tr.G, z), ref(z), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(generate(tr.G, z), tr.G(z))


def test_sharpness_and_measurements_leave_the_run_unchanged():
    cfg = RunConfig(**TOY, spectral_norm="both")
    a, b = Trainer(cfg), Trainer(cfg)
    a.run_steps(10)
    b.run_steps(10)
    m = b.evaluate(sharp=True)            # many forwards of D and G: u must not move
    assert m["sharpness_d"] > 0 and np.isfinite(m["sharpness_g"])
    assert np.array_equal(a.run_steps(10), b.run_steps(10))


def test_weight_histograms_and_layer_menu_show_effective_weights():
    pytest.importorskip("matplotlib")
    from gan_lab.plots import FigureRenderer, layer_names
    from gan_lab.run import Run
    from gan_lab.snapshot import snapshot_of

    run = Run(RunConfig(**TOY, spectral_norm="d", steps=20))
    run.advance()
    snap = snapshot_of(run)
    names = layer_names(snap)
    assert "D net.0.weight" in names and "G net.0.weight" in names
    assert not any("parametrizations" in n for n in names)
    r = FigureRenderer()
    r.weights(snap, "all")
    sup = r._w["sup"].get_text()
    assert "effective W / sigma" in sup
    r.weights(snap, "D net.0.weight")
    head = r._w["panels"]["one"]["head"].get_text()
    assert head.startswith("D") and "weights" in head


def test_cli_preset(tmp_path):
    from gan_lab.cli import main

    out = tmp_path / "sn"
    assert main(["train", "--preset", "sn-vs-hsn1r", "--steps", "40", "--eval_every", "20",
                 "--sharpness_every", "40", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["spectral_norm"] == "d" and summary["config"]["reg"] == "none"
    assert summary["final"]["wspec_d"] == pytest.approx(1.0, abs=0.1)
    _, _, d, _ = load_checkpoint(out / "checkpoint.safetensors")
    assert "net.0.parametrizations.weight.0._u" in d
