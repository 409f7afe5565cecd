"""The headless CLI: files written, summary consistent with samples, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gan_lab import metrics
from gan_lab.cli import main
from gan_lab.config import RunConfig
from gan_lab.data import toy2d

SMALL = ["--g_hidden", "32", "--d_hidden", "32", "--g_depth", "2", "--d_depth", "2",
         "--batch_size", "64", "--eval_every", "20", "--sharpness_every", "40"]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gan_lab", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_train_writes_every_file_and_summary_matches_samples(tmp_path):
    out = tmp_path / "a"
    r = _cli("train", "--dataset", "ring8", "--steps", "80", "--seed", "0", "--out", str(out),
             *SMALL)
    assert r.returncode == 0, r.stderr
    for f in ("config.json", "metrics.csv", "summary.json", "checkpoint.safetensors",
              "samples.png", "samples.npy"):
        assert (out / f).stat().st_size > 0, f
    s = json.loads((out / "summary.json").read_text())
    for k in ("config", "steps", "wall_s", "steps_per_s", "device", "final"):
        assert k in s
    for k in ("loss_d", "loss_g", "reg_d", "reg_g", "sparsity_d", "sparsity_g", "zeros_d",
              "zeros_g", "sharpness_d", "sharpness_g", "modes", "hq_frac", "rev_kl"):
        assert k in s["final"], k
    assert s["steps"] == 80
    samples = np.load(out / "samples.npy")
    assert samples.shape == (2500, 2) and samples.dtype == np.float32
    again = metrics.mode_stats(samples, toy2d.modes("ring8"), toy2d.mode_std("ring8"))
    assert again["modes"] == s["final"]["modes"]
    assert again["hq_frac"] == pytest.approx(s["final"]["hq_frac"])
    assert RunConfig.from_json((out / "config.json").read_text()).steps == 80
    lines = (out / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:5] == ["step", "loss_d", "loss_g", "reg_d", "reg_g"]
    assert "modes" in header and "sharpness_d" in header
    assert len(lines) - 1 >= 80  # one row per logged step (log_every=1 here) + step 0


def test_same_config_same_summary_and_config_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "--steps", "30", "--seed", "5", "--out", str(a), "--quiet",
                 *SMALL]) == 0
    # Reproduce from the written config file alone.
    assert main(["train", "--config", str(a / "config.json"), "--out", str(b), "--quiet"]) == 0
    fa = json.loads((a / "summary.json").read_text())["final"]
    fb = json.loads((b / "summary.json").read_text())["final"]
    assert fa == fb
    np.testing.assert_array_equal(np.load(a / "samples.npy"), np.load(b / "samples.npy"))


@pytest.mark.parametrize("args, field", [
    (["--lam", "-1"], "lam"),
    (["--batch_size", "0"], "batch_size"),
    (["--g_hidden", "abc"], "g_hidden"),
    (["--dataset", "ring9"], "dataset"),
    (["--steps", "2.5"], "steps"),
    (["--bogus", "1"], "--bogus"),
])
def test_bad_input_is_one_line_naming_it(tmp_path, args, field):
    r = _cli("train", "--out", str(tmp_path / "x"), *args)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert field in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_mnist_run_writes_uint8_digits(tmp_path):
    out = tmp_path / "m"
    rc = main(["train", "--dataset", "mnist", "--steps", "5", "--batch_size", "16",
               "--g_hidden", "32", "--d_hidden", "32", "--g_depth", "1", "--d_depth", "1",
               "--sharpness_every", "0", "--out", str(out), "--quiet"])
    assert rc == 0
    imgs = np.load(out / "samples.npy")
    assert imgs.shape == (1000, 28, 28) and imgs.dtype == np.uint8
    final = json.loads((out / "summary.json").read_text())["final"]
    for k in ("digits_covered", "class_kl", "cls_is", "fcd"):
        assert k in final


def test_divergence_exits_nonzero_and_keeps_outputs(tmp_path):
    out = tmp_path / "d"
    rc = main(["train", "--steps", "300", "--optimizer", "sgd", "--lr_g", "1", "--lr_d", "1",
               "--loss", "lsgan", "--beta1", "0.9", "--out", str(out), "--quiet", *SMALL])
    assert rc == 3
    s = json.loads((out / "summary.json").read_text())
    assert s["diverged"] and s["steps"] < 300
    assert np.isfinite(np.load(out / "samples.npy")).all()


@pytest.mark.parametrize("cmd", [[], ["train"], ["sweep"], ["eval"], ["bench"]])
def test_help_lists_every_flag(cmd, capsys):
    """--help prints (argparse %-expands help text: a field help with "1%" once crashed it)."""
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    if cmd in (["train"], ["sweep"]):
        for name in ("--hsn-method", "--g-ema", "--lam", "--dataset"):
            assert name in out
        assert "within 1% of exact" in out
