"""G's weight average (RunConfig.g_ema, issue 12): the update rule, sampling from it, and that it
travels with G's weights (checkpoints, TrainState, runs cut into advances) while the weight
histograms, the optimizer and the regularizers see only G's trained parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_lab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint_bytes
from gan_lab.config import ConfigError, RunConfig
from gan_lab.models import average_keys, build_models, has_average, is_average_key
from gan_lab.plots.curves import layer_names
from gan_lab.plots.renderer import FigureRenderer
from gan_lab.plots.samples import MANIFOLD_RANGE, _manifold
from gan_lab.plots.weights import _tensors as weights_tensors
from gan_lab.run import Run
from gan_lab.snapshot import snapshot_of
from gan_lab.trainer import Trainer

TOY = dict(dataset="ring8", g_hidden=16, d_hidden=16, batch_size=32, steps=40, eval_every=20,
           sharpness_every=0)


def test_field_bounds_and_no_average_by_default():
    assert RunConfig().g_ema == 0.0
    g, _ = build_models(RunConfig(**TOY))
    assert not has_average(g) and not any(is_average_key(k) for k in g.state_dict())
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ConfigError) as e:
            RunConfig.from_dict({**TOY, "g_ema": bad})
        assert e.value.field == "g_ema"


def test_one_update_follows_the_ramped_decay():
    tr = Trainer(RunConfig(**TOY, g_ema=0.999))
    before = {n: p.detach().clone() for n, p in tr.G.named_parameters()}
    avg0 = {n: t.clone() for n, t in tr.G.ema.tensors().items()}
    for n in before:                      # the average starts equal to G
        torch.testing.assert_close(avg0[n], before[n], rtol=0, atol=0)
    tr.run_steps(1)
    # Step 0's decay is min(0.999, 1/10) = 0.1: the average moves 90% of the way to new G.
    for n, p in tr.G.named_parameters():
        want = 0.1 * before[n] + 0.9 * p.detach()
        torch.testing.assert_close(tr.G.ema.tensors()[n], want, rtol=1e-6, atol=1e-7)
        assert not torch.equal(p.detach(), before[n])
    # The optimizer holds G's parameters only, never the average's buffers.
    opt_ids = {id(p) for g in tr.opt_g.param_groups for p in g["params"]}
    assert opt_ids == {id(p) for p in tr.G.parameters()}


def test_samples_and_metrics_come_from_the_average():
    tr = Trainer(RunConfig(**TOY, g_ema=0.99))
    tr.run_steps(30)
    z = tr.z_eval[:64]
    with torch.no_grad():
        raw = tr.G(z).numpy()
        avg = torch.func.functional_call(tr.G, tr.G.ema.tensors(), (z,)).numpy()
    got = tr.sample(64)
    np.testing.assert_array_equal(got, avg)
    assert not np.allclose(got, raw)
    # The same seed without the average trains the same G (the average never feeds back).
    plain = Trainer(RunConfig(**TOY))
    plain.run_steps(30)
    for (n, p), q in zip(tr.G.named_parameters(), plain.G.parameters(), strict=True):
        assert torch.equal(p, q), n
    np.testing.assert_array_equal(plain.sample(64), raw)


def test_checkpoint_carries_the_average_and_fits_either_config():
    cfg = RunConfig(**TOY, g_ema=0.99)
    tr = Trainer(cfg)
    tr.run_steps(20)
    data = save_checkpoint_bytes(tr.G, tr.D, cfg, tr.step)
    cfg2, g, d, step = load_checkpoint(data)
    assert cfg2.g_ema == 0.99 and step == 20
    assert set(average_keys(tr.G)) <= set(g)
    back = Trainer(cfg2)
    back.load_weights(g, d, step)
    np.testing.assert_array_equal(back.sample(100), tr.sample(100))
    # Read under g_ema 0 the average is dropped; a file without one starts it at G's weights.
    _, g0, _, _ = load_checkpoint(data, cfg.replace(g_ema=0.0))
    assert not any(is_average_key(k) for k in g0)
    plain = Trainer(cfg.replace(g_ema=0.0))
    _, g1, _, _ = load_checkpoint(save_checkpoint_bytes(plain.G, plain.D, plain.cfg, 0), cfg)
    for k, name in average_keys(tr.G).items():
        assert torch.equal(g1[k], g1[name])


def test_a_damaged_average_is_refused():
    cfg = RunConfig(**TOY, g_ema=0.99)
    tr = Trainer(cfg)
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save
    tensors = st_load(save_checkpoint_bytes(tr.G, tr.D, cfg, 0))
    meta = {"format": "gan-lab-checkpoint-v1", "config": cfg.to_json(), "step": "0"}
    key = next(k for k in tensors if k.startswith("G.ema."))
    nan = dict(tensors)
    nan[key] = torch.full_like(tensors[key], float("nan"))
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(st_save(nan, metadata=meta))
    partial = {k: v for k, v in tensors.items() if k != key}
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(st_save(partial, metadata=meta))
    wrong = dict(tensors)
    wrong[key] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(st_save(wrong, metadata=meta))


def test_runs_cut_into_advances_and_moved_by_state_match():
    cfg = RunConfig(**TOY, g_ema=0.95)
    whole = Run(cfg)
    whole.advance()
    cut = Run(cfg)
    cut.advance(max_steps=7)
    moved = Run(cfg, start_eval=None)
    moved.import_state(cut.export_state())
    moved.advance(max_steps=13)
    cut.import_state(moved.export_state())
    c = cut.advance()
    assert c.done and c.step == 40
    np.testing.assert_array_equal(cut.trainer.sample(), whole.trainer.sample())
    g_whole, _ = whole.trainer.state_dicts()
    for k, v in cut.trainer.state_dicts()[0].items():
        assert torch.equal(v, g_whole[k]), k


def test_weight_plots_leave_the_average_out():
    run = Run(RunConfig(**TOY, g_ema=0.99))
    run.advance(max_steps=5)
    snap = snapshot_of(run)
    assert any(is_average_key(k) for k in snap.g_state)
    names = layer_names(snap)
    assert names[0] == "all" and not any("ema" in n for n in names)
    assert {n.split(" ", 1)[1] for n in names if n.startswith("G ")} == \
        {k for k, v in snap.g_state.items() if v.dim() >= 2 and not is_average_key(k)}
    # The histogram counts G's trained weights only: the same totals as without an average.
    shown, _ = weights_tensors(snap, "all")
    n_g = sum(t.numel() for t in shown["G"])
    assert n_g == sum(p.numel() for p in run.trainer.G.parameters() if p.dim() >= 2)
    # The renderer's warped latent grid (2-D) is drawn from the average as well.
    G, _ = FigureRenderer()._nets(snap)
    assert has_average(G)
    lines = _manifold(G, run.cfg.latent_dim)
    z = torch.zeros(len(lines[0]), run.cfg.latent_dim)
    z[:, 0] = torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, len(lines[0]))
    z[:, 1] = -MANIFOLD_RANGE
    with torch.no_grad():
        avg = torch.func.functional_call(G, G.ema.tensors(), (z,)).double().numpy()
        raw = G(z).double().numpy()
    np.testing.assert_allclose(lines[0], avg, rtol=1e-6)
    assert not np.allclose(lines[0], raw)
