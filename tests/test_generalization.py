"""D's generalization gap on MNIST (gan_lab.generalization): hand-built discriminators with known
outputs on known digits, the fixed split it reads (the GAN never trains on the held-out side),
and the metric in a run's evaluations, summary.json and metrics.csv."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab.cli import main
from gan_lab.config import RunConfig
from gan_lab.data import make_dataset, mnist
from gan_lab.generalization import GAP_TRAIN_EVERY, d_gap, gap_digits
from gan_lab.trainer import Trainer

EXACT = "donot_use_mm_for_euclid_dist"   # exact distances: 0 means the same digit


class MeanPixel(nn.Module):
    """D(x) = the mean pixel of x (a known function of the input)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.scale * x.flatten(1).mean(1)


class Memorizer(nn.Module):
    """D(x) = 5 on the digits it was shown, -1 on any other: a D that memorized its data."""

    def __init__(self, seen: torch.Tensor):
        super().__init__()
        self.seen = seen.flatten(1)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        hit = (torch.cdist(x.flatten(1), self.seen, compute_mode=EXACT) == 0).any(1)
        return torch.where(hit, 5.0, -1.0) + self.dummy


def test_hand_built_cases():
    ones, zeros = torch.ones(7, 1, 28, 28), -torch.ones(3, 1, 28, 28)
    assert d_gap(MeanPixel(), ones, zeros, batch=2) == pytest.approx(2.0)
    assert d_gap(MeanPixel(), zeros, ones) == pytest.approx(-2.0)
    x = torch.rand(10, 1, 28, 28)
    assert d_gap(MeanPixel(), x, x.clone(), batch=3) == pytest.approx(0.0, abs=1e-12)
    # Unequal sizes: means, not sums.
    a = torch.full((4, 1, 28, 28), 0.5)
    b = torch.cat([torch.full((1, 1, 28, 28), 0.2), torch.full((1, 1, 28, 28), -0.6)])
    assert d_gap(MeanPixel(), a, b) == pytest.approx(0.5 - (-0.2))
    train, held = gap_digits()
    assert d_gap(Memorizer(train), train, held) == pytest.approx(6.0)


def test_fixed_split_the_gan_never_trains_on():
    train, held = gap_digits()
    assert train.shape == held.shape == (2000, 1, 28, 28)
    assert float(train.min()) >= -1 and float(train.max()) <= 1
    split = mnist.split()
    images, _ = mnist.load_bundled()
    scaled = torch.tensor(images, dtype=torch.float32).div(127.5).sub(1.0).unsqueeze(1)
    assert torch.equal(held, scaled[torch.tensor(split.heldout)])
    assert torch.equal(train, scaled[torch.tensor(split.train[::GAP_TRAIN_EVERY])])
    assert not set(split.heldout) & set(split.train)
    # The training side is what the GAN samples from: every digit of it is in the dataset.
    data = make_dataset(RunConfig(dataset="mnist"))
    pool = data.sample(20000, torch.Generator().manual_seed(0))
    d_train = torch.cdist(train[:50].flatten(1), pool.flatten(1), compute_mode=EXACT).min(1).values
    d_held = torch.cdist(held[:50].flatten(1), pool.flatten(1), compute_mode=EXACT).min(1).values
    assert (d_train == 0).float().mean() > 0.8       # 20,000 draws from 8,000 hit most
    assert (d_held > 0).all()                        # held-out digits are never drawn


def test_in_evaluations_summary_and_metrics_csv(tmp_path):
    cfg = dict(dataset="mnist", latent_dim=8, g_hidden=32, d_hidden=32, batch_size=16,
               steps=20, eval_every=10, sharpness_every=0)
    tr = Trainer(RunConfig(**cfg))
    m = tr.evaluate()
    assert m["d_gap"] == pytest.approx(d_gap(tr.D, *gap_digits()))
    assert "d_gap" not in Trainer(RunConfig()).evaluate()     # MNIST only
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--quiet",
                 *[f"--{k}={v}" for k, v in cfg.items()]]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert np.isfinite(summary["final"]["d_gap"])
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    gaps = {int(r["step"]): r["d_gap"] for r in rows if r["d_gap"]}
    assert set(gaps) == {0, 10, 20}
    assert float(gaps[20]) == pytest.approx(summary["final"]["d_gap"], rel=1e-5)
