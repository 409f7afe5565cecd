"""Runs on disk (gan_lab.runs): ids, readable names, atomic folders, reading runs back, and a
run saved from a job's snapshot with the CLI's files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gan_lab import runs
from gan_lab.checkpoint import load_checkpoint
from gan_lab.cli import main
from gan_lab.config import RunConfig
from gan_lab.jobs import TrainingJob

TINY = dict(g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, batch_size=64, eval_every=20,
            sharpness_every=0)
TINY_FLAGS = [f"--{k}={v}" for k, v in TINY.items()]


def test_run_names_say_what_differs_from_the_defaults():
    assert runs.run_name(RunConfig.from_dict({})) == "ring8"
    assert runs.run_name(RunConfig.from_dict({"reg": "l1", "lam": 0.1})) == \
        "ring8 · L1 0.1 on D"
    cfg = RunConfig.from_dict({"dataset": "grid25", "reg": "hsn1r", "lam": 0.01,
                               "hsn_every": 4, "seed": 2, "device": "cpu"})
    assert runs.run_name(cfg) == "grid25 · HSN1R 0.01 on D every 4 · Seed 2"
    # reg=none hides every regularizer field: lambda means nothing without a regularizer.
    cfg = RunConfig.from_dict({"reg": "none", "lam": 0.1, "reg_target": "g", "lr_g": 3e-3,
                               "lr_schedule": "constant"})
    assert runs.run_name(cfg) == "ring8 · G learning rate 0.003 · LR schedule constant"
    cfg = RunConfig.from_dict({"reg": "l1", "l1_mode": "penalty", "reg_target": "both"})
    assert runs.run_name(cfg) == "ring8 · L1 (penalty) 0.001 on G and D"
    assert runs.slug("ring8 · L1 0.1 on D") == "ring8-l1-0.1-on-d"


def test_ids_are_short_and_stable_for_the_same_inputs():
    a = RunConfig.from_dict({"reg": "l1"})
    assert runs.config_id(a) == runs.config_id(RunConfig.from_dict({"reg": "l1"}))
    assert len(runs.config_id(a)) == 8 and int(runs.config_id(a), 16) >= 0
    assert runs.config_id(a) != runs.config_id(a.replace(seed=1))
    pts = np.zeros((5, 2))
    assert runs.config_id(a, pts) != runs.config_id(a)
    assert runs.config_id(a, init=b"x") != runs.config_id(a, init=b"y")
    assert runs.new_run_id() != runs.new_run_id()


def test_atomic_dir_appears_whole_or_not_at_all(tmp_path):
    dest = tmp_path / "a" / "run"
    with pytest.raises(RuntimeError):
        with runs.atomic_dir(dest) as tmp:
            assert tmp.parent == dest.parent and tmp.name.startswith(runs.PARTIAL)
            (tmp / "config.json").write_text("{}")
            raise RuntimeError("crash")
    assert list((tmp_path / "a").iterdir()) == []          # nothing at dest, no partial left
    runs.write_run_files(dest, {"summary.json": b"{}", "config.json": b"{}"})
    assert runs.is_complete(dest) and sorted(os.listdir(dest)) == ["config.json",
                                                                     "summary.json"]
    # An existing folder with other files: ours replace theirs one by one, the rest stays.
    (dest / "notes.txt").write_text("mine")
    runs.write_run_files(dest, {"config.json": b"{\"a\": 1}", "summary.json": b"{}"})
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "config.json").read_text() == "{\"a\": 1}"
    assert [p.name for p in dest.parent.iterdir()] == ["run"]


def test_stale_partials_are_removed_live_ones_kept(tmp_path):
    host = runs._host()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / "p" / f"{runs.PARTIAL}seed0.{host}.{dead}.abc123"
    live = tmp_path / f"{runs.PARTIAL}seed1.{host}.{os.getpid()}.abc123"
    other = tmp_path / f"{runs.PARTIAL}seed2.otherhost.{dead}.abc123"
    for p in (stale, live, other):
        p.mkdir(parents=True)
    assert runs.remove_stale_partials(tmp_path) == [stale]
    assert live.is_dir() and other.is_dir() and not stale.exists()


def test_cli_train_writes_atomically_and_list_and_load_read_it_back(tmp_path):
    out = tmp_path / "runs" / "a"
    assert main(["train", "--steps", "40", "--reg", "l1", "--lam", "0.1", "--out", str(out),
                 "--quiet", *TINY_FLAGS]) == 0
    assert sorted(os.listdir(tmp_path / "runs")) == ["a"]    # no partial left behind
    s = json.loads((out / "summary.json").read_text())
    cfg = RunConfig.from_json((out / "config.json").read_text())
    assert s["id"] == runs.config_id(cfg) and s["name"].startswith("ring8 · L1 0.1 on D")
    for k in ("wall_s", "cpu_s", "total_wall_s", "total_cpu_s"):
        assert s[k] >= 0, k
    assert s["total_wall_s"] >= s["wall_s"]
    # A second run of the same config into a folder of other files keeps them.
    (tmp_path / "runs" / "b").mkdir()
    (tmp_path / "runs" / "b" / "notes.txt").write_text("mine")
    assert main(["train", "--config", str(out / "config.json"), "--out",
                 str(tmp_path / "runs" / "b"), "--quiet"]) == 0
    assert (tmp_path / "runs" / "b" / "notes.txt").read_text() == "mine"
    (tmp_path / "runs" / f"{runs.PARTIAL}c.{runs._host()}.1.abcdef").mkdir()   # ignored

    listed = runs.list_runs(tmp_path / "runs")
    assert [r.path.name for r in listed] == ["a", "b"]
    assert listed[0].id == listed[1].id == s["id"] and listed[0].metrics is None
    run = runs.load_run(out)
    assert run.cfg == cfg and run.final == s["final"]
    m = run.metrics
    assert m["step"][0] == 0 and m["step"][-1] == 40 and np.all(np.diff(m["step"]) > 0)
    assert set(m) >= {"loss_d", "loss_g", "reg_d", "modes", "zeros_d"}
    assert np.isfinite(m["loss_d"][1:]).all() and np.isnan(m["loss_d"][0])   # step 0: no loss
    assert m["zeros_d"][-1] == pytest.approx(s["final"]["zeros_d"])
    with pytest.raises(FileNotFoundError):
        runs.load_run(tmp_path / "runs")


def test_runs_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(runs.RUNS_DIR_ENV, raising=False)
    assert runs.runs_dir() == runs.Path("runs")
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(tmp_path))
    assert runs.runs_dir() == tmp_path
    assert runs.list_runs() == []


@pytest.mark.parametrize("png", [True, False])
def test_save_snapshot_run_writes_the_cli_files(tmp_path, png):
    cfg = RunConfig.from_dict({**TINY, "steps": 200, "reg": "l1", "lam": 0.1})
    job = TrainingJob(cfg)
    try:
        job.step(30)
        assert job.wait(timeout=60) == "paused"
        snap = job.snapshot()
        path = runs.save_snapshot_run(tmp_path, snap, job.checkpoint_bytes(), png=png)
    finally:
        job.stop()
    assert path.parent == tmp_path
    assert path.name.startswith(f"{runs.load_run(path).id}-ring8-l1-0.1-on-d-")
    names = {"config.json", "metrics.csv", "checkpoint.safetensors", "samples.npy",
             "summary.json"} | ({"samples.png"} if png else set())
    assert set(os.listdir(path)) == names
    if png:
        assert (path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = runs.load_run(path)
    assert run.cfg == cfg and run.summary["source"] == "app" and run.summary["steps"] == 30
    assert len(run.id) == 8 and run.name == runs.run_name(cfg)
    assert run.final["zeros_d"] == snap.latest["zeros_d"]
    cfg2, g, _d, step = load_checkpoint(path / "checkpoint.safetensors")
    assert cfg2 == cfg and step == 30
    assert all(np.array_equal(g[k].numpy(), snap.g_state[k].numpy()) for k in g)
    assert np.array_equal(np.load(path / "samples.npy"), snap.samples.astype(np.float32))
    assert run.metrics["step"][-1] == 30
    assert [r.path for r in runs.list_runs(tmp_path)] == [path]


def test_run_writer_logs_window_means_and_writes_every_value_exactly():
    """The one writer of run folders (train, eval, sweep and the app's Save): each logged loss
    row is the mean of the log_every steps it ends (and the last step is always logged);
    metrics.csv reads back exactly (repr precision), steps in order, evaluations merged."""
    from gan_lab.trainer import LOSS_KEYS

    cfg = RunConfig.from_dict({"steps": 5})
    w = runs.RunWriter(cfg, log_every=2)
    rows = np.random.default_rng(0).random((5, len(LOSS_KEYS)))
    assert w.add_rows(3, rows[:3]) == [2]            # steps 1..3 arrive, 2 is logged
    assert w.add_rows(5, rows[3:]) == [4, 5]         # 4 (mean of 3, 4) and the last step
    assert w.losses[2]["loss_d"] == rows[:2, 0].mean()
    assert w.losses[4]["loss_g"] == rows[2:4, 1].mean() and w.losses[5]["loss_d"] == rows[4, 0]
    evals = {0: {"step": 0, "modes": np.float64(3.0)}, 4: {"step": 4, "modes": 7.0,
                                                           "rev_kl": 1 / 3}}
    files = w.finish({"id": "x", "final": {"modes": np.float32(7)}}, evals, b"ckpt")
    assert list(files)[-1] == runs.SUMMARY and json.loads(files[runs.SUMMARY]) == \
        {"id": "x", "final": {"modes": 7.0}}
    assert RunConfig.from_json(files["config.json"].decode()) == cfg
    cols = runs.read_metrics_csv(files["metrics.csv"].decode())
    assert cols["step"].tolist() == [0, 2, 4, 5]
    assert np.isnan(cols["loss_d"][0]) and cols["loss_d"][1] == rows[:2, 0].mean()
    assert cols["rev_kl"][2] == 1 / 3 and np.isnan(cols["rev_kl"][[0, 1, 3]]).all()
    assert cols["modes"][0] == 3.0

