"""WGAN-GP (loss wgan-gp, RunConfig.gp_weight): the penalty and its gradient against a hand-written
computation, the losses, determinism (the interpolation weights come from the training noise
generator), the logged penalty, and the plots that would otherwise read a probability."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gan_lab.config import LIVE_FIELDS, ConfigError, RunConfig
from gan_lab.losses import LOSS_KEYS, LOSSES, d_loss, g_loss
from gan_lab.penalties import gp_backward, interpolation_weights
from gan_lab.trainer import Trainer

TOY = dict(dataset="ring8", batch_size=64, g_hidden=16, d_hidden=16, seed=3)
GP = LOSS_KEYS.index("gp_d")


def test_fields():
    assert "wgan-gp" in LOSSES and RunConfig.from_dict({"loss": "wgan-gp"}).loss == "wgan-gp"
    assert RunConfig().gp_weight == 10.0 and "gp_weight" in LIVE_FIELDS
    for bad in (-1.0, 1001.0, float("inf")):
        with pytest.raises(ConfigError) as e:
            RunConfig.from_dict({"loss": "wgan-gp", "gp_weight": bad})
        assert e.value.field == "gp_weight"


def test_losses():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5, 0.0])
    assert float(d_loss("wgan-gp", real, fake)) == pytest.approx(-0.5 - 2.0)
    assert float(g_loss("wgan-gp", fake)) == pytest.approx(0.5)


@pytest.mark.parametrize("dataset,extra", [("ring8", {}),
                                           ("mnist", {"arch": "conv", "g_hidden": 8,
                                                      "d_hidden": 8, "latent_dim": 4})])
def test_penalty_matches_hand_written(dataset, extra):
    w = 7.0
    tr = Trainer(RunConfig(**{**TOY, "dataset": dataset, **extra}, loss="wgan-gp",
                           gp_weight=w))
    D = tr.D
    gen = torch.Generator().manual_seed(0)
    real = tr.data.sample(16, gen, tr.device)
    fake = torch.randn_like(real)
    e = interpolation_weights(real, torch.Generator().manual_seed(5))
    assert e.shape == (16,) + (1,) * (real.dim() - 1) and (e >= 0).all() and (e < 1).all()
    ref = copy.deepcopy(D)

    D.zero_grad(set_to_none=True)
    d_loss("wgan-gp", D(real), D(fake)).backward()
    pen = gp_backward(D, real, fake, e, w)

    # By hand: one interpolate per sample, its input gradient by autograd with a graph, the
    # 2-norm written out, (norm - 1)^2 averaged, weighted, added to the critic's loss.
    ref.zero_grad(set_to_none=True)
    x_hat = torch.stack([e[i] * real[i] + (1 - e[i]) * fake[i] for i in range(16)])
    x_hat.requires_grad_(True)
    (gx,) = torch.autograd.grad(ref(x_hat).sum(), x_hat, create_graph=True)
    norms = torch.sqrt((gx.reshape(16, -1) ** 2).sum(dim=1))
    want = w * ((norms - 1) ** 2).sum() / 16
    (ref(fake).mean() - ref(real).mean() + want).backward()

    assert float(pen) == pytest.approx(float(want.detach()), rel=1e-5)
    assert float(pen) > 0
    for (name, p), q in zip(D.named_parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), name


def test_training_logs_the_penalty_and_is_deterministic():
    cfg = RunConfig(**TOY, loss="wgan-gp", d_steps=3, beta2=0.9)
    a, b = Trainer(cfg), Trainer(cfg)
    ra, rb = a.run_steps(8), b.run_steps(8)
    assert np.array_equal(ra, rb)
    assert (ra[:, GP] > 0).all() and np.isfinite(ra).all()
    # gp_weight 0: no penalty, and no interpolation weights drawn (the noise stream differs).
    c = Trainer(cfg.replace(gp_weight=0.0))
    rc = c.run_steps(8)
    assert (rc[:, GP] == 0).all() and not np.array_equal(rc[:, :2], ra[:, :2])
    # Live: the weight changes in place.
    a.apply(gp_weight=100.0)
    ra2, rb2 = a.run_steps(3), b.run_steps(3)
    assert ra2[0, GP] > rb2[0, GP]


def test_other_losses_log_r1_as_d_gradient_penalty_and_nothing_else():
    r = Trainer(RunConfig(**TOY)).run_steps(3)
    assert (r[:, GP] == 0).all()
    r = Trainer(RunConfig(**TOY, d_r1=1.0)).run_steps(3)
    assert (r[:, GP] > 0).all()


def test_heatmap_shows_the_critic_score_scaled():
    pytest.importorskip("matplotlib")
    from gan_lab.plots import FigureRenderer
    from gan_lab.plots import samples as samples_mod
    from gan_lab.run import Run
    from gan_lab.snapshot import snapshot_of

    run = Run(RunConfig(**TOY, loss="wgan-gp", d_steps=2, steps=20))
    run.advance()
    b = (-2.0, 2.0, -2.0, 2.0)
    grid = samples_mod._d_grid(run.trainer.D.cpu(), b, critic=True)
    assert np.nanmin(grid) == pytest.approx(0.0) and np.nanmax(grid) == pytest.approx(1.0)
    with torch.no_grad():
        raw = run.trainer.D(torch.from_numpy(samples_mod._grid_centres(b, 48)).float())
    assert raw.min() < 0 or raw.max() > 1       # an unbounded score, so scaling is needed
    r = FigureRenderer()
    r.samples(snapshot_of(run))
    assert r._points["cb"].ax.get_ylabel() == samples_mod.HEAT_LABEL_CRITIC
    run2 = Run(RunConfig(**TOY, steps=5))
    run2.advance()
    r.samples(snapshot_of(run2))
    assert r._points["cb"].ax.get_ylabel() == samples_mod.HEAT_LABEL


def test_cli_preset(tmp_path):
    import json

    from gan_lab.cli import main
    from gan_lab.presets import preset_fields

    out = tmp_path / "w"
    assert main(["train", "--preset", "wgan-gp", "--steps", "10", "--eval_every", "5",
                 "--sharpness_every", "10", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    want = preset_fields("wgan-gp")
    assert {k: summary["config"][k] for k in want} == want
    assert summary["config"]["loss"] == "wgan-gp" and summary["config"]["d_steps"] == 5
    assert summary["final"]["gp_d"] > 0 and np.isfinite(summary["final"]["sharpness_d"])
