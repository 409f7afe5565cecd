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


# --------------------------------------------------------------------------------------------
# Issue 18: the CLI never deletes what it did not write; every bad input exits 2, one line
# --------------------------------------------------------------------------------------------
def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-2000:]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_a_folder_in_the_way_is_refused_never_deleted(tmp_path):
    out = tmp_path / "out"
    (out / "metrics.csv").mkdir(parents=True)
    (out / "metrics.csv" / "inner").write_text("x")
    r = _cli("train", "--out", str(out), "--steps", "5", *SMALL)
    one_line_error(r, "--out", "metrics.csv is a folder", "never deletes")
    assert (out / "metrics.csv" / "inner").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # nothing trained, no partial


def test_out_and_init_are_checked_before_training(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    one_line_error(_cli("train", "--out", str(afile), "--steps", "5", *SMALL), "--out",
                   "is a file")
    one_line_error(_cli("train", "--out", str(afile / "sub"), "--steps", "5", *SMALL), "--out",
                   "is a file, so")
    assert afile.read_text() == "mine"
    one_line_error(_cli("train", "--out", str(tmp_path / "r"), "--init",
                        str(tmp_path / "missing.safetensors"), *SMALL), "--init",
                   "does not exist")
    one_line_error(_cli("train", "--out", str(tmp_path / "r"), "--init", str(tmp_path),
                        *SMALL), "--init", "is not a file")
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04not a checkpoint")
    one_line_error(_cli("train", "--out", str(tmp_path / "r"), "--init",
                        str(tmp_path / "bad.safetensors"), *SMALL), "--init", "pickle")
    # a folder holding a file of the user's named like a run file, not a run's folder
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"note": "my own file"}')
    one_line_error(_cli("train", "--out", str(mine), "--steps", "5", *SMALL), "--out",
                   "not a run's folder")
    assert (mine / "config.json").read_text() == '{"note": "my own file"}'
    assert not (tmp_path / "r").exists()
    # the run's own config, given as --config inside --out, would be replaced by the run
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "3", "--quiet", *SMALL]) == 0
    one_line_error(_cli("train", "--config", str(run / "config.json"), "--out", str(run)),
                   "--out", "would write")
    # ... but running again into a finished run's folder replaces its files, as before
    assert main(["train", "--out", str(run), "--steps", "4", "--quiet", *SMALL]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 4


@pytest.mark.parametrize("text, words", [
    ("[" * 200_000 + "]" * 200_000, ("--config", "larger than 64 KiB")),   # the issue's
    ("[" * 30_000 + "]" * 30_000, ("--config", "nested too deeply")),
    ('{"steps": ' + "9" * 5000 + "}", ("steps", "5,000-digit number")),
    ('{"steps": 10, "steps": 20}', ("steps", "appears twice")),
    (b'{"steps": 10, "reg": "\xff\xfe"}', ("--config", "not UTF-8")),
    ("[1, 2]", ("--config", "JSON object")),
], ids=["huge-deep", "deep", "huge-int", "duplicate", "not-utf8", "not-an-object"])
def test_hostile_config_files_exit_2_with_one_line(tmp_path, text, words):
    p = tmp_path / "c.json"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    one_line_error(_cli("train", "--config", str(p), "--out", str(tmp_path / "o")), *words)
    one_line_error(_cli("sweep", "--config", str(p), "--grid", "lam=0.1,0.2", "--out",
                        str(tmp_path / "s")), *words)


def test_sweep_eval_and_bench_refuse_an_out_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    one_line_error(_cli("sweep", "--grid", "lam=0.1,0.2", "--out", str(afile)), "--out",
                   "is a file")
    one_line_error(_cli("eval", "--suite", "toy", "--out", str(afile)), "--out", "is a file")
    one_line_error(_cli("bench", "--quick", "--out", str(afile / "b.json")), "--out",
                   "is a file")
    one_line_error(_cli("bench", "--quick", "--datasets", "ring9"), "--datasets", "ring9")
    assert afile.read_text() == "mine"


def test_bench_draws_every_chart_kind_the_page_draws():
    """The bench's UI frame (bench.FrameConsumer) draws every kind in plots.METRIC_SERIES, the
    plots' one list; the page's charts (ui/stream.py) are kinds of that list, so a chart kind
    the page gains cannot be missing from the bench (it once crashed on a renamed kind). The
    bench itself runs end to end in tests/test_readme_commands.py (bench --quick --datasets
    ring8)."""
    from gan_lab import plots
    from gan_lab.bench import FrameConsumer
    from gan_lab.ui.layout import QUALITY_CHARTS

    assert {kind for _, kind, _ in QUALITY_CHARTS} | {"lambda"} <= set(plots.METRIC_SERIES)
    from gan_lab.jobs import TrainingJob

    job = TrainingJob(RunConfig(g_hidden=16, d_hidden=16, steps=20, eval_every=5,
                                sharpness_every=0))
    try:
        job.step(10)
        assert job.wait(timeout=60) == "paused"
        assert FrameConsumer().render(job.snapshot()) > 0
    finally:
        job.stop()
