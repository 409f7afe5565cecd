"""The eval command (quality tables) and the presets it is built on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gan_lab import evaluate
from gan_lab.cli import main
from gan_lab.config import ConfigError, RunConfig
from gan_lab.presets import PRESETS, REG_SETTINGS, preset_config


def test_mean_se_on_hand_made_numbers():
    # mean 2.5; sample std sqrt(((1.5^2 + 0.5^2) * 2) / 3) = sqrt(5/3); se = that / 2
    m, se = evaluate.mean_se([1.0, 2.0, 3.0, 4.0])
    assert m == pytest.approx(2.5)
    assert se == pytest.approx(math.sqrt(5 / 3) / 2)
    m, se = evaluate.mean_se([8, 8, 8])
    assert (m, se) == (8.0, 0.0)
    # A diverged run's missing metric is left out, not averaged in as 0 or nan.
    m, se = evaluate.mean_se([0.9, float("nan"), 0.7, None])
    assert m == pytest.approx(0.8)
    assert se == pytest.approx(math.sqrt(0.02) / math.sqrt(2))
    m, se = evaluate.mean_se([5.0])
    assert m == 5.0 and math.isnan(se)
    assert all(math.isnan(v) for v in evaluate.mean_se([]))


def test_format_mean_se():
    assert evaluate.fmt_mean_se(0.9512, 0.0123, 100, 1) == "95.1 ± 1.2"
    assert evaluate.fmt_mean_se(7.0, math.nan) == "7.00"
    assert evaluate.fmt_mean_se(math.nan, math.nan) == "n/a"
    # decimals=None: three significant digits of the mean, the se to the same place
    assert evaluate.fmt_mean_se(157.347, 35.53, 1, None) == "157 ± 36"
    assert evaluate.fmt_mean_se(9.341, 7.612, 1, None) == "9.34 ± 7.61"
    assert evaluate.fmt_mean_se(0.0372, 0.0108, 1, None) == "0.037 ± 0.011"
    assert evaluate.fmt_mean_se(0.0, 0.0, 1, None) == "0.000 ± 0.000"


def test_aggregate_groups_by_dataset_and_regularizer():
    runs = [{"dataset": "ring8", "reg": "none", "seed": s, "diverged": None,
             "metrics": {"modes": m, "hq_frac": h}}
            for s, m, h in ((0, 8, 0.9), (1, 6, 0.7), (2, 7, 0.8))]
    runs.append({"dataset": "ring8", "reg": "l1", "seed": 0, "diverged": "diverged at step 9",
                 "metrics": {"modes": 3}})
    rows = evaluate.aggregate(runs, ["modes", "hq_frac"])
    assert [(r["dataset"], r["reg"], r["n"], r["diverged"]) for r in rows] == \
        [("ring8", "none", 3, 0), ("ring8", "l1", 1, 1)]
    assert rows[0]["modes"]["mean"] == pytest.approx(7.0)
    assert rows[0]["modes"]["se"] == pytest.approx(np.std([8, 6, 7], ddof=1) / math.sqrt(3))
    assert rows[0]["hq_frac"]["mean"] == pytest.approx(0.8)
    assert rows[1]["hq_frac"] == {"mean": None, "se": None}
    assert rows[1]["modes"] == {"mean": 3.0, "se": None}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate(name):
    p = PRESETS[name]
    assert set(p) == {"slug", "fields", "description"}
    assert p["slug"] == p["slug"].lower() and " " not in p["slug"]
    assert p["description"] and "\n" not in p["description"]
    cfg = RunConfig.from_dict(p["fields"])
    assert cfg == preset_config(name)
    for k, v in p["fields"].items():
        assert getattr(cfg, k) == v


def test_required_presets_exist():
    for name in ("Default 2-D", "Mode collapse", "L1 makes D sparse", "HSN1R flattens D",
                 "MNIST digits"):
        assert name in PRESETS
    # The default 2-D preset is RunConfig's defaults, so the app's first screen is the tuned run.
    assert preset_config("Default 2-D").non_default() == {}
    l1 = preset_config("L1 makes D sparse")
    assert (l1.reg, l1.l1_mode, l1.dataset) == ("l1", "proximal", "ring8")


@pytest.mark.parametrize("reg", sorted(REG_SETTINGS))
def test_regularizer_settings_validate(reg):
    cfg = RunConfig.from_dict(REG_SETTINGS[reg]["fields"])
    assert cfg.reg == reg


def test_tiny_toy_suite_writes_tables(tmp_path):
    out = tmp_path / "eval"
    rc = main(["eval", "--suite", "toy", "--seeds", "0", "--regs", "none,l1", "--steps", "30",
               "--out", str(out), "--quiet"])
    assert rc == 0
    doc = json.loads((out / "table_toy.json").read_text())
    assert doc["suite"] == "toy"
    assert doc["command"].startswith("python -m gan_lab eval --suite toy")
    assert doc["device"]["cpu_cores"] >= 1 and doc["device"]["cpu_model"]
    assert [(r["dataset"], r["reg"]) for r in doc["rows"]] == \
        [("ring8", "none"), ("ring8", "l1"), ("grid25", "none"), ("grid25", "l1")]
    assert len(doc["runs"]) == 4
    for run in doc["runs"]:
        summary = json.loads((Path(run["out"]) / "summary.json").read_text())
        assert summary["steps"] == 30
        assert summary["config"]["seed"] == 0
        for key in ("modes", "hq_frac", "rev_kl", "zeros_d", "sparsity_g"):
            assert run["metrics"][key] == summary["final"][key]
    # One seed: each cell is that run's value and its standard error is undefined.
    for row in doc["rows"]:
        run = next(r for r in doc["runs"]
                   if (r["dataset"], r["reg"]) == (row["dataset"], row["reg"]))
        for key, *_ in evaluate.columns("toy"):
            assert row[key]["mean"] == pytest.approx(run["metrics"][key])
            assert row[key]["se"] is None
    # Proximal L1 on D leaves exact zeros in D only; the unregularized run has none.
    by = {(r["dataset"], r["reg"]): r for r in doc["runs"]}
    assert by[("ring8", "l1")]["metrics"]["zeros_d"] > 0
    assert by[("ring8", "none")]["metrics"]["zeros_d"] == 0
    assert by[("ring8", "l1")]["metrics"]["zeros_g"] == 0

    md = (out / "table_toy.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Dataset"))
    for _key, title, *_ in evaluate.columns("toy"):
        assert title in header
    assert "Modes" in header and "HQ %" in header and "Reverse KL" in header
    assert doc["device"]["cpu_model"] in md and doc["command"] in md
    body = [line for line in md.splitlines() if line.startswith("| ring8") or
            line.startswith("| grid25")]
    assert len(body) == 4


def test_bad_options_exit_2_naming_them(tmp_path, capsys):
    assert main(["eval", "--suite", "toy", "--regs", "l3", "--out", str(tmp_path)]) == 2
    assert "--regs" in capsys.readouterr().err
    assert main(["eval", "--suite", "toy", "--seeds", "a", "--out", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["eval", "--suite", "toy", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "steps" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        evaluate.run_suite("cifar", tmp_path)
    assert not list(tmp_path.glob("table_*"))


@pytest.mark.parametrize("dataset,arch", [("ring8", "mlp"), ("mnist", "mlp"), ("mnist", "conv")])
def test_d_activation_sets_only_the_discriminator(dataset, arch):
    from torch import nn

    from gan_lab.models import build_models

    def acts(net):
        return {type(m) for m in net.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh))}

    g, d = build_models(RunConfig(dataset=dataset, arch=arch, activation="relu",
                                  d_activation="tanh"))
    assert acts(g) <= {nn.ReLU, nn.Tanh} and nn.ReLU in acts(g)   # conv/MNIST G ends in tanh
    assert acts(d) == {nn.Tanh}
    g, d = build_models(RunConfig(dataset=dataset, arch=arch, activation="relu",
                                  d_activation="same"))
    assert acts(d) == {nn.ReLU}
