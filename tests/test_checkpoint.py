"""Checkpoints: safetensors round trip reproduces samples; bad files are refused unchanged."""

import pickle

import numpy as np
import pytest
import torch

from gan_lab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gan_lab.config import RunConfig
from gan_lab.trainer import Trainer


def _trained(tmp_path, **kw):
    cfg = RunConfig(steps=20, g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, **kw)
    tr = Trainer(cfg)
    tr.run_steps(20)
    path = save_checkpoint(tmp_path / "ck.safetensors", tr.G, tr.D, cfg, tr.step)
    return cfg, tr, path


def test_round_trip_restores_identical_samples(tmp_path):
    cfg, tr, path = _trained(tmp_path)
    cfg2, g, d, step = load_checkpoint(path)
    assert cfg2 == cfg and step == 20
    tr2 = Trainer(cfg2)
    tr2.load_weights(g, d, step)
    z = torch.randn(300, cfg.latent_dim, generator=torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(tr.sample(z=z), tr2.sample(z=z))


def test_round_trip_mnist_conv(tmp_path):
    cfg = RunConfig(dataset="mnist", arch="conv", g_hidden=8, d_hidden=8, steps=2,
                    batch_size=8, sharpness_every=0)
    tr = Trainer(cfg)
    tr.run_steps(2)
    path = save_checkpoint(tmp_path / "m.safetensors", tr.G, tr.D, cfg, tr.step)
    cfg2, g, d, _ = load_checkpoint(path)
    tr2 = Trainer(cfg2)
    tr2.load_weights(g, d)
    z = torch.randn(4, cfg.latent_dim)
    np.testing.assert_array_equal(tr.sample(z=z), tr2.sample(z=z))


def test_pickle_file_is_refused(tmp_path):
    cfg, tr, _ = _trained(tmp_path)
    p = tmp_path / "evil.pt"
    torch.save(tr.G.state_dict(), p)      # a zip-based pickle
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(p)
    p2 = tmp_path / "evil.pkl"
    p2.write_bytes(pickle.dumps({"x": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(p2)


def test_truncated_file_is_refused(tmp_path):
    _, _, path = _trained(tmp_path)
    data = path.read_bytes()
    with pytest.raises(CheckpointError):
        load_checkpoint(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(data[:5])


def test_mismatched_shapes_are_refused(tmp_path):
    _, _, path = _trained(tmp_path)
    other = RunConfig(steps=20, g_hidden=32, d_hidden=16, g_depth=2, d_depth=2)
    with pytest.raises(CheckpointError, match=r"G\..* shape"):
        load_checkpoint(path, other)
    deeper = RunConfig(steps=20, g_hidden=16, d_hidden=16, g_depth=3, d_depth=2)
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(path, deeper)


def test_size_cap(tmp_path):
    _, _, path = _trained(tmp_path)
    with pytest.raises(CheckpointError, match="limit"):
        load_checkpoint(path, max_bytes=100)
