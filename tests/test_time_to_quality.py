"""Time to quality (issue 19): the first evaluation step from which a run holds its bar, the
training CPU-seconds a Run records, summary.json's time_to_quality and the eval suite."""

from __future__ import annotations

import json

import pytest
import torch

from gan_lab import time_to_quality as ttq
from gan_lab.cli import main, train
from gan_lab.config import RunConfig
from gan_lab.run import Run

RING = ttq.BARS["ring8"]


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def good(**kw):
    return {"modes": 8, "hq_frac": 0.97, "min_mode_frac": 0.6, **kw}


def test_first_step_at_bar_on_hand_built_histories():
    h = [(0, good(modes=1)), (100, good()), (200, good(hq_frac=0.9)), (300, good()),
         (400, good())]
    assert ttq.first_step_at_bar(h, RING) == 300          # 100 met it, but 200 fell below
    assert ttq.first_step_at_bar(h[:3], RING) is None     # ends below the bar
    assert ttq.first_step_at_bar([], RING) is None
    assert ttq.first_step_at_bar([(0, good())], RING) == 0
    # Each part of the bar counts: the emptiest mode, the HQ share, the mode count.
    for bad in (good(min_mode_frac=0.2), good(hq_frac=0.949), good(modes=7)):
        assert ttq.first_step_at_bar([(0, good()), (100, bad)], RING) is None
    # grid25 has no emptiest-mode condition and allows one missing mode.
    grid = ttq.BARS["grid25"]
    assert ttq.first_step_at_bar([(0, {"modes": 24, "hq_frac": 0.9, "min_mode_frac": 0})],
                                 grid) == 0
    # MetricLog rows (dicts with "step"), out of order; a later row of the same step (the
    # final evaluation) replaces the earlier one; rows without quality metrics are ignored.
    rows = [{"step": 200, **good()}, {"step": 100, **good()}, {"step": 150, "sharpness_d": 3.0},
            {"step": 0, **good(modes=2)}, {"step": 200, "hq_frac": 0.5}]
    assert ttq.first_step_at_bar(rows, RING) is None
    assert ttq.first_step_at_bar(rows[:4], RING) == 100
    # A missing or non-finite metric fails.
    assert not ttq.meets({"modes": 8, "hq_frac": float("nan"), "min_mode_frac": 1}, RING)
    assert not ttq.meets({"modes": 8, "hq_frac": 1.0}, RING)


def _naive(rows, bar):
    steps = sorted(rows)
    for i, s in enumerate(steps):
        if all(ttq.meets(rows[t], bar) for t in steps[i:]):
            return s
    return None


def test_a_short_run_records_train_cpu_and_finds_its_first_step_at_a_bar():
    cfg = RunConfig.from_dict({"dataset": "ring8", "steps": 300, "eval_every": 25,
                               "sharpness_every": 0, "seed": 3, "g_hidden": 64,
                               "d_hidden": 64, "batch_size": 128})
    run = Run(cfg, start_eval="full")
    while not run.advance(view=False).done:
        pass
    rows = {int(r["step"]): r for r in run.metric_log.rows}
    assert sorted(rows) == list(range(0, 301, 25))
    assert sorted(run.train_cpu_at) == sorted(rows)
    cpu = [run.train_cpu_at[s] for s in sorted(rows)]
    assert cpu[0] == 0.0 and cpu == sorted(cpu) and cpu[-1] == run.cpu_train > 0
    assert run.cpu_eval > 0
    # A bar this run reaches part-way: as many modes as it ends with (it starts with fewer).
    end = rows[300]["modes"]
    bar = {"modes": end}
    assert rows[0]["modes"] < end
    s = ttq.first_step_at_bar(run.metric_log.rows, bar)
    assert s is not None and 0 < s <= 300 and s == _naive(rows, bar)
    assert all(rows[t]["modes"] >= end for t in rows if t >= s)
    assert rows[max(t for t in rows if t < s)]["modes"] < end
    # A bar it never reaches.
    assert ttq.first_step_at_bar(run.metric_log.rows, {"modes": 9}) is None
    res = ttq.result(run.metric_log.rows, "ring8", run.train_cpu_at)
    assert res is None or res["train_cpu_s"] == pytest.approx(run.train_cpu_at[res["step"]],
                                                              abs=1e-3)
    assert ttq.result(run.metric_log.rows, "moons", run.train_cpu_at) is None


def test_summary_has_cpu_split_and_time_to_quality(tmp_path):
    cfg = RunConfig.from_dict({"dataset": "ring8", "steps": 40, "eval_every": 20, "seed": 1})
    s = train(cfg, tmp_path / "run", quiet=True, png=False)
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["cpu_train_s"] == s["cpu_train_s"] > 0
    assert on_disk["cpu_eval_s"] > 0
    assert on_disk["cpu_train_s"] + on_disk["cpu_eval_s"] <= on_disk["total_cpu_s"] + 0.05
    assert "time_to_quality" in on_disk and on_disk["time_to_quality"] is None   # 40 steps


def test_time_to_quality_suite_writes_its_table(tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--suite", "time-to-quality", "--seeds", "0,1", "--steps", "20",
                 "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "table_time-to-quality.json").read_text())
    assert [r["dataset"] for r in doc["rows"]] == ["ring8", "grid25"]
    for r in doc["rows"]:
        assert r["n"] == 2 and r["seeds"] == [0, 1] and r["reached"] == 0   # 20 steps
        assert r["step_at_bar"]["mean"] is None
        assert r["steps"]["mean"] == 20 and r["train_cpu_s"]["mean"] > 0
    md = (out / "table_time-to-quality.md").read_text()
    assert doc["command"] in md and doc["device"]["cpu_model"] in md
    assert "| ring8 | modes >= 8, HQ >= 95%" in md and "0/2" in md and "not reached" in md
