"""The sweep command (local backend): files and tables, resuming after a crash, refusing bad
grids before anything runs, reg=none collapsing along lambda, and runs identical to `train`."""

import csv
import json
import os
import subprocess
import sys

import pytest

from gan_lab import runs, sweep
from gan_lab.cli import main
from gan_lab.config import ConfigError, RunConfig

TINY = dict(g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, batch_size=64, eval_every=20,
            sharpness_every=0, steps=40)
SETS = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
GRID = ["--grid", "reg=l1,l2", "--grid", "lam=1e-3,1e-1"]
FOLDERS = ["reg=l1,lam=0.001/seed0", "reg=l1,lam=0.1/seed0", "reg=l2,lam=0.001/seed0",
           "reg=l2,lam=0.1/seed0"]
METRICS = ("modes", "hq_frac", "rev_kl", "sparsity_d", "zeros_d", "sharpness_d", "loss_d")


def read_rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_sweep_writes_tables_resumes_and_matches_train(tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["sweep", "--dataset", "ring8", *GRID, "--seeds", "0", "--out", str(out),
            "--no-png", *SETS]
    assert main([*args, "--jobs", "2"]) == 0
    err = capsys.readouterr().err
    assert "4 runs planned (0 finished before, 4 to do)" in err
    assert "4/4 runs" in err and "ETA" in err              # the progress lines (stderr)
    rows = read_rows(out)
    assert [r["folder"] for r in rows] == FOLDERS
    assert [(r["reg"], r["lam"], r["seed"]) for r in rows] == \
        [("l1", "0.001", "0"), ("l1", "0.1", "0"), ("l2", "0.001", "0"), ("l2", "0.1", "0")]
    for r in rows:
        s = json.loads((out / r["folder"] / "summary.json").read_text())
        assert r["id"] == s["id"] and int(r["steps"]) == 40
        for k in METRICS:
            assert float(r[k]) == s["final"][k], k
        assert float(r["wall_s"]) == s["total_wall_s"] and float(r["cpu_s"]) == s["total_cpu_s"]
        assert set(os.listdir(out / r["folder"])) == {
            "config.json", "metrics.csv", "checkpoint.safetensors", "samples.npy",
            "summary.json"}                                 # --no-png
    # Each run got its own lambda: a stronger L1 leaves more of D's weights near 0.
    by = {r["folder"]: r for r in rows}
    assert float(by["reg=l1,lam=0.1/seed0"]["sparsity_d"]) > \
        float(by["reg=l1,lam=0.001/seed0"]["sparsity_d"])
    doc = json.loads((out / "results.json").read_text())
    assert doc["planned"] == doc["finished"] == 4 and len(doc["runs"]) == 4
    assert [(p["reg"], p["lam"], p["n"]) for p in doc["points"]] == \
        [("l1", 0.001, 1), ("l1", 0.1, 1), ("l2", 0.001, 1), ("l2", 0.1, 1)]
    assert doc["command"].startswith("python -m gan_lab sweep --set dataset=ring8")
    md = (out / "summary.md").read_text()
    assert "| reg | lam | n | Diverged | Modes | HQ % | Reverse KL |" in md
    assert len([line for line in md.splitlines() if line.startswith("| l")]) == 4
    assert (out / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"

    # A fresh `train` of one grid point gives the very same final metrics.
    cfg = RunConfig.from_json((out / FOLDERS[1] / "config.json").read_text())
    assert (cfg.reg, cfg.lam, cfg.seed, cfg.g_hidden) == ("l1", 0.1, 0, 16)
    assert main(["train", "--config", str(out / FOLDERS[1] / "config.json"), "--out",
                 str(tmp_path / "again"), "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text())["final"]
    assert again == json.loads((out / FOLDERS[1] / "summary.json").read_text())["final"]

    # Resume: the same command skips every finished run.
    stamp = {f: os.stat(out / f / "summary.json").st_mtime_ns for f in FOLDERS}
    assert main([*args, "--jobs", "2", "--quiet"]) == 0
    assert {f: os.stat(out / f / "summary.json").st_mtime_ns for f in FOLDERS} == stamp
    # A run whose summary.json is gone, and one that crashed mid-write (only its partial
    # folder is left, its writer dead) are redone; the others are not touched.
    os.remove(out / FOLDERS[0] / "summary.json")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    partial = out / "reg=l2,lam=0.1" / f"{runs.PARTIAL}seed0.{runs._host()}.{dead}.abcdef"
    os.rename(out / FOLDERS[3], partial)
    assert main([*args, "--jobs", "1"]) == 0
    assert "4 runs planned (2 finished before, 2 to do)" in capsys.readouterr().err
    assert not partial.exists()
    now = {f: os.stat(out / f / "summary.json").st_mtime_ns for f in FOLDERS}
    assert [now[f] == stamp[f] for f in FOLDERS] == [False, True, True, False]
    redone = read_rows(out)
    for a, b in zip(rows, redone):                         # redone runs: identical results
        assert [a[k] for k in METRICS] == [b[k] for k in METRICS]

    # The same folder with another fixed setting is refused before anything runs.
    assert main([*args[:-2], "--set", "steps=41", "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("extra, field", [
    (["--grid", "lamda=1e-3,1e-2"], "lamda"),              # unknown field
    (["--grid", "lam=1e-3,abc"], "lam"),                   # not a number
    (["--grid", "lam=1e-3,5"], "lam"),                     # out of range (validated)
    (["--grid", "reg=l1,l3"], "reg"),                      # not a choice
    (["--grid", "lam="], "lam"),                           # empty grid
    (["--grid", "lam=1e-3,,1e-2"], "lam"),                 # empty value
    (["--grid", "lam=0.1,0.1"], "lam"),                    # repeated value
    (["--grid", "lam"], "--grid"),                         # no '='
    (["--grid", "lam=0.1", "--grid", "lam=0.2"], "lam"),   # gridded twice
    (["--grid", "seed=1,2"], "seed"),                      # seeds have their own flag
    (["--grid", "steps=10", "--set", "steps=20"], "steps"),  # fixed and gridded
    (["--set", "g_hidden=0"], "g_hidden"),
    (["--set", "bogus=1"], "bogus"),
    (["--seeds", "0,x"], "--seeds"),
    (["--seeds", ""], "--seeds"),
    (["--seed", "3"], "seed"),
    (["--jobs", "0"], "--jobs"),
    (["--device", "cuda"], "device"),                      # no GPU here: refused up front
])
def test_bad_grids_are_refused_naming_the_field_before_anything_runs(tmp_path, capsys,
                                                                     extra, field):
    if field == "device":
        import torch
        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    out = tmp_path / "sw"
    rc = main(["sweep", "--grid", "reg=l1,l2", "--out", str(out), "--quiet", *SETS, *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and field in err and "Traceback" not in err, err
    assert not out.exists()


def test_reg_none_collapses_its_regularizer_fields():
    points = sweep.plan(TINY, sweep.parse_grid(["reg=none,l1", "lam=1e-3,1e-1",
                                                "reg_target=d,g"]), [0, 1])
    assert [p.folder for p in points if p.seed == 0] == [
        "reg=none/seed0", "reg=l1,lam=0.001,reg_target=d/seed0",
        "reg=l1,lam=0.001,reg_target=g/seed0", "reg=l1,lam=0.1,reg_target=d/seed0",
        "reg=l1,lam=0.1,reg_target=g/seed0"]
    assert len(points) == 10
    none = points[0].cfg
    assert (none.reg, none.lam, none.reg_target) == ("none", RunConfig().lam, "d")
    assert sweep.plan({}, {}, [3])[0].folder == "base/seed3"
    with pytest.raises(ConfigError) as e:
        sweep.plan({}, sweep.parse_grid(["lam=0.5,2"]), [0])
    assert e.value.field == "lam" and "grid point lam=2.0" in str(e.value)


def test_reg_none_ignores_lambda_so_collapsing_loses_nothing(tmp_path):
    """Why the sweep collapses reg=none along lambda: the runs are identical."""
    from gan_lab.cli import train

    a = train(RunConfig.from_dict({**TINY, "reg": "none", "lam": 1e-4, "reg_target": "g"}),
              tmp_path / "a", quiet=True, png=False)["final"]
    b = train(RunConfig.from_dict({**TINY, "reg": "none", "lam": 0.5}), tmp_path / "b",
              quiet=True, png=False)["final"]
    assert a == b


def test_dry_run_lists_the_plan_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", "--grid", "reg=none,l1", "--grid", "lam=1e-3,1e-1", "--seeds", "0,1",
                 "--out", str(out), "--dry-run", *SETS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "6 runs: 0 finished, 6 to do"
    assert lines[0].startswith(f"todo  {out}/reg=none/seed0  ring8")
    assert not out.exists()


def test_longest_runs_start_first():
    """With several runs at a time the long ones are handed out first (LPT), so a sweep does not
    end with one long run and idle workers. Ties keep the plan's order."""
    from gan_lab.sweep.execute import est_cost, longest_first

    fixed = {k: v for k, v in TINY.items() if k != "steps"}
    points = sweep.plan(fixed, sweep.parse_grid(["reg=l1,hsn1r", "steps=40,80"]), [0, 1])
    order = [(p.cfg.reg, p.cfg.steps, p.seed) for p in longest_first(points)]
    assert order == [("hsn1r", 80, 0), ("hsn1r", 80, 1), ("l1", 80, 0), ("l1", 80, 1),
                     ("hsn1r", 40, 0), ("hsn1r", 40, 1), ("l1", 40, 0), ("l1", 40, 1)]
    base = RunConfig.from_dict(TINY)
    assert est_cost(base.replace(batch_size=128)) > est_cost(base)
    assert est_cost(base.replace(g_hidden=64)) > est_cost(base)
    hsn = base.replace(reg="hsn1r", hsn_every=1)
    assert est_cost(hsn) > est_cost(base.replace(reg="hsn1r", hsn_every=8)) > est_cost(base)
    assert est_cost(base.replace(d_r1=1.0)) > est_cost(base)


def test_progress_lines_count_runs_and_failures_when_not_a_terminal(capsys):
    from gan_lab.sweep import SweepProgress

    bar = SweepProgress(3, 1, True)          # one run finished before
    bar.tick("reg=l1/seed0")
    bar.tick("reg=l2/seed0", "ValueError: boom")
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("reg=l1/seed0") and "2/3 runs" in lines[0] and "ETA" in lines[0]
    assert lines[1] == "error: run reg=l2/seed0 failed: ValueError: boom"
    assert "3/3 runs" in lines[2] and "1 failed" in lines[2] and bar.failed == 1
    quiet = SweepProgress(2, 0, False)
    quiet.tick("a", "boom")
    quiet.close()
    assert capsys.readouterr().err == "" and quiet.failed == 1
