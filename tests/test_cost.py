"""gan_lab.cost: parameter counts equal to the built networks', a step's cost term by term, and
the server's refusal of a dear config before anything is built (issue 18)."""

from __future__ import annotations

import itertools
import resource
import time

import pytest

from gan_lab import cost
from gan_lab.config import ConfigError, RunConfig
from gan_lab.models import build_models, n_params
from gan_lab.presets import PRESETS, preset_config

CONFIGS = [RunConfig.from_dict(d) for d in (
    *({"g_hidden": w, "d_hidden": v, "g_depth": gd, "d_depth": dd, "latent_dim": z}
      for w, v, gd, dd, z in itertools.product((1, 7, 128), (3, 256), (1, 4), (2, 8), (1, 16))),
    *({"dataset": "mnist", "g_hidden": w, "d_hidden": v, "latent_dim": z, "g_ema": e}
      for w, v, z, e in itertools.product((16, 300), (32, 257), (2, 128), (0.0, 0.999))),
    *({"dataset": "mnist", "arch": "conv", "g_hidden": w, "d_hidden": v, "latent_dim": z,
       "g_norm": norm, "g_ema": e}
      for w, v, z, norm, e in itertools.product((1, 3, 64), (2, 65), (1, 8), ("none", "batch"),
                                                 (0.0, 0.99))),
)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.dataset}-{c.arch}-{c.g_hidden}x"
                         f"{c.g_depth}-{c.d_hidden}x{c.d_depth}-z{c.latent_dim}-{c.g_norm}-"
                         f"ema{c.g_ema}")
def test_counts_equal_the_built_networks(cfg):
    G, D = build_models(cfg)
    assert cost.param_counts(cfg) == (n_params(G), n_params(D))
    ema = sum(b.numel() for b in G.buffers())
    net = cost.net_cost(cfg)
    assert net.G.buffer_floats == ema and (ema > 0) == (cfg.g_ema > 0)
    # float32 weights and buffers (the weight average too), as a checkpoint holds them
    assert cost.checkpoint_bytes(cfg) >= 4 * (n_params(G) + n_params(D) + ema)


def test_counting_builds_nothing():
    """The issue's refused config (23M parameters) is counted in milliseconds, without the
    ~190 MB its networks take."""
    cfg = RunConfig.from_dict({"dataset": "mnist", "arch": "conv", "g_hidden": 1024,
                               "d_hidden": 1024, "latent_dim": 128, "g_ema": 0.999})
    cost.net_cost(RunConfig())          # the process's first meta forward (~1.5 s, once)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    assert cost.n_params(cfg) > 20_000_000
    assert time.perf_counter() - t0 < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 20_000   # KiB


def test_every_term_grows_with_what_drives_it():
    base = RunConfig(batch_size=64)
    t = cost.step_terms(base)
    assert t["R1 penalty"] == 0 and t["HSN1R"] == 0 and t["G weight average"] == 0
    assert cost.step_terms(base.replace(d_r1=1.0))["R1 penalty"] > 0
    hsn = base.replace(reg="hsn1r", lam=0.01)
    assert cost.step_terms(hsn)["HSN1R"] > 0
    assert cost.step_terms(hsn.replace(hsn_method="exact"))["HSN1R"] > \
        cost.step_terms(hsn)["HSN1R"]
    assert cost.step_terms(hsn.replace(hsn_iters=3))["HSN1R"] == \
        pytest.approx(3 * cost.step_terms(hsn)["HSN1R"])
    assert cost.step_terms(base.replace(g_ema=0.999))["G weight average"] > 0
    assert cost.step_gflop(base.replace(batch_size=128)) > 1.9 * cost.step_gflop(base)
    assert cost.step_terms(base.replace(d_steps=5))["D updates"] == \
        pytest.approx(5 * t["D updates"])
    assert cost.step_gflop(base.replace(g_hidden=256)) > cost.step_gflop(base)
    assert cost.train_mb(base.replace(batch_size=4096)) > 10 * cost.train_mb(base)
    assert cost.train_mb(base.replace(d_r1=1.0)) > cost.train_mb(base)
    assert cost.eval_gflop(base.replace(d_hidden=512)) > cost.eval_gflop(base)
    # the evaluation's batch is fixed: the training batch does not change its cost
    assert cost.eval_gflop(base.replace(batch_size=4096)) == cost.eval_gflop(base)
    assert t["WGAN-GP penalty"] == 0 and t["spectral norm"] == 0
    gp = base.replace(loss="wgan-gp")
    assert cost.step_terms(gp)["WGAN-GP penalty"] > 0
    assert cost.step_terms(gp.replace(gp_weight=0.0))["WGAN-GP penalty"] == 0
    assert cost.train_mb(gp) > cost.train_mb(base)
    sn = cost.step_terms(base.replace(spectral_norm="d"))["spectral norm"]
    assert 0 < sn < cost.step_terms(base.replace(spectral_norm="both"))["spectral norm"]


def test_a_parametrization_is_not_counted_as_an_activation():
    # spectral norm's W / sigma is a weight, computed once per forward, not per sample
    base = RunConfig(batch_size=256)
    for sn in ("d", "g", "both"):
        c = base.replace(spectral_norm=sn)
        assert cost.train_mb(c) == pytest.approx(cost.train_mb(base))
        assert cost.step_gflop(c) < 1.05 * cost.step_gflop(base)


def test_presets_cost_a_fraction_of_the_default_caps():
    for name in PRESETS:
        cfg = preset_config(name)
        assert cost.step_gflop(cfg) <= cost.MAX_STEP_GFLOP / 4, name
        assert cost.eval_gflop(cfg) <= cost.MAX_EVAL_GFLOP / 2, name
        assert cost.step_mb(cfg) <= cost.MAX_STEP_MB / 2, name
        cost.check(cfg, cost.MAX_STEP_GFLOP, cost.MAX_EVAL_GFLOP, cost.MAX_STEP_MB)


def test_the_issues_config_is_refused_naming_the_fields_and_the_limit():
    attack = RunConfig.from_dict({
        "dataset": "mnist", "arch": "conv", "g_hidden": 256, "d_hidden": 256,
        "latent_dim": 128, "g_ema": 0.999, "d_r1": 1.0, "g_norm": "batch",
        "batch_size": 4096, "d_steps": 9})
    with pytest.raises(ConfigError) as e:
        cost.check(attack, cost.MAX_STEP_GFLOP, cost.MAX_EVAL_GFLOP, cost.MAX_STEP_MB)
    msg = str(e.value)
    assert e.value.field == "batch_size"
    for words in ("Batch size 4,096", "D:G steps 9", "G width 256", "R1 penalty",
                  f"allows {cost.MAX_STEP_GFLOP:g} GFLOP per step", "GAN_LAB_MAX_STEP_GFLOP"):
        assert words in msg, msg
    # the same net at batch 8 passes the step cap but not the evaluation's: widths named
    with pytest.raises(ConfigError) as e:
        cost.check(attack.replace(batch_size=8, d_steps=1), cost.MAX_STEP_GFLOP,
                   cost.MAX_EVAL_GFLOP)
    assert e.value.field == "g_hidden" and "GAN_LAB_MAX_EVAL_GFLOP" in str(e.value)
    with pytest.raises(ConfigError) as e:
        cost.check(RunConfig(batch_size=4096, g_hidden=1024, d_hidden=1024), max_mb=100)
    assert e.value.field == "batch_size" and "MB" in str(e.value)


def test_time_estimates_bound_a_real_step():
    """On an unloaded core the estimate is an upper bound (it is used for time-outs)."""
    import torch

    from gan_lab.trainer import Trainer

    torch.set_num_threads(1)
    cfg = RunConfig(batch_size=1024, g_hidden=256, d_hidden=256)
    tr = Trainer(cfg)
    tr.run_steps(2)
    t = time.process_time()
    tr.run_steps(5)
    per = (time.process_time() - t) / 5
    assert per < 3 * cost.step_seconds(cfg), (per, cost.step_seconds(cfg))
