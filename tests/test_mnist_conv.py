"""The MNIST conv preset's pieces (issue 12): batch norm in the conv generator (RunConfig.g_norm),
the rarest-digit metric, and the preset itself. Its quality is measured by
`python -m gan_lab eval --suite mnist-conv`, not asserted here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_lab import metrics
from gan_lab.checkpoint import load_checkpoint, save_checkpoint
from gan_lab.config import ConfigError, RunConfig
from gan_lab.models import build_models
from gan_lab.placement import check_limits
from gan_lab.presets import preset_config
from gan_lab.trainer import Trainer

SMALL = dict(dataset="mnist", arch="conv", g_hidden=8, d_hidden=8, g_norm="batch", steps=3,
             batch_size=8, sharpness_every=0)


def test_g_norm_is_for_the_conv_generator_only():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({"dataset": "mnist", "g_norm": "batch"})
    assert e.value.field == "g_norm" and "conv" in str(e.value)
    with pytest.raises(ConfigError):
        RunConfig.from_dict({"g_norm": "layer"})
    g, d = build_models(RunConfig(**SMALL))
    kinds = {type(m).__name__ for m in g.modules()}
    assert "BatchNorm2d" in kinds and "BatchNorm2d" not in {type(m).__name__ for m in d.modules()}
    # Batch statistics only: no running averages in the state (nothing for sampling to change).
    assert not any("running" in k or "num_batches" in k for k in g.state_dict())
    g0, _ = build_models(RunConfig(**{**SMALL, "g_norm": "none"}))
    assert "BatchNorm2d" not in {type(m).__name__ for m in g0.modules()}


def test_batch_norm_generator_trains_samples_and_round_trips(tmp_path):
    cfg = RunConfig(**SMALL)
    tr = Trainer(cfg)
    tr.run_steps(3)
    z = torch.randn(16, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    a = tr.sample(z=z)
    assert np.isfinite(a).all() and a.shape == (16, 1, 28, 28)
    # Sampling twice gives the same pictures (no state changed by sampling), in either mode.
    np.testing.assert_array_equal(a, tr.sample(z=z))
    tr.G.eval()
    np.testing.assert_array_equal(a, tr.sample(z=z))
    tr.G.train()
    path = save_checkpoint(tmp_path / "bn.safetensors", tr.G, tr.D, cfg, tr.step)
    cfg2, g, d, step = load_checkpoint(path)
    assert cfg2.g_norm == "batch" and step == 3
    tr2 = Trainer(cfg2)
    tr2.load_weights(g, d, step)
    np.testing.assert_array_equal(a, tr2.sample(z=z))


def test_rarest_digit_share():
    p = torch.zeros(100, 10)
    p[:50, 3] = 1          # half are 3s
    p[50:, 7] = 1          # half are 7s
    m = metrics.class_metrics(p)
    assert m["digits_covered"] == 2 and m["min_digit_frac"] == 0.0
    even = torch.eye(10).repeat(10, 1)
    assert metrics.class_metrics(even)["min_digit_frac"] == pytest.approx(0.1)


def test_mnist_conv_preset():
    cfg = preset_config("MNIST conv")
    assert (cfg.dataset, cfg.arch, cfg.g_norm) == ("mnist", "conv", "batch")
    assert cfg.lr_g == 2 * cfg.lr_d and cfg.batch_size == 32
    # Samples from G's weight average, 8-d noise (tuned on seeds 0-2, docs/RESULTS.md).
    assert cfg.g_ema == 0.999 and cfg.latent_dim == 8 and cfg.lr_schedule == "constant"
    assert cfg.d_r1 == 1.0
    tr = Trainer(cfg.replace(g_hidden=8, d_hidden=8, steps=2))
    tr.run_steps(2)
    assert tr.sample(4).shape == (4, 1, 28, 28)


def test_mnist_conv_long_preset_is_the_conv_preset_with_more_steps():
    short, long = preset_config("MNIST conv"), preset_config("MNIST conv, long")
    differ = {k for k, v in long.to_dict().items() if short.to_dict()[k] != v}
    assert differ == {"steps", "eval_every", "sharpness_every"}
    assert long.d_r1 > 0 and long.steps > short.steps    # R1 lets long runs keep improving
    check_limits(long)        # inside the app's default caps (steps, parameters)
