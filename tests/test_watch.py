"""The CPU goes to runs someone watches (issue 19 item 5), and the ETA (item 6).

A hidden page's run gets no training slices (the pool's slice log says so) and resumes exactly
where it was when shown; a page that stops polling stops training; a client that never says
keeps training. The ETA of a running run is present and within 2x of the time it then took.
"""

import time

import numpy as np
import pytest
from helpers import wait_until

from gan_lab import estimate
from gan_lab.config import RunConfig
from gan_lab.jobs import ProcessJob, TrainingJob, WorkerPool, watch
from gan_lab.presets import preset_config

SMALL = dict(g_hidden=16, d_hidden=16, g_depth=1, d_depth=1, batch_size=32, eval_every=50,
             sharpness_every=0)


def _slices(log, job) -> list[tuple[float, float]]:
    out = []
    for line in log.read_text().splitlines():
        p = line.split()
        if p[3] == str(id(job)):
            out.append((float(p[1]), float(p[2])))
    return out


def test_a_hidden_page_gets_no_slices_and_resumes_where_it_was(tmp_path, monkeypatch):
    log = tmp_path / "slices.txt"
    monkeypatch.setenv("GAN_LAB_SLICE_LOG", str(log))
    pool = WorkerPool(processes=1, max_runs=4, period_s=0.5)
    seen, hidden = (ProcessJob(RunConfig(steps=1_000_000, seed=i, **SMALL), pool=pool)
                    for i in (1, 2))
    try:
        for j in (seen, hidden):
            j.watch(True)                   # both pages report their visibility
            j.start()
        wait_until(lambda: hidden.snapshot().step > 0 and seen.snapshot().step > 0, 30,
                   "both train")
        hidden.watch(False)
        time.sleep(0.4)                     # a slice in flight when it hid may still land
        at, t_hid = hidden.snapshot().step, time.monotonic()
        seen_at = seen.snapshot().step
        while time.monotonic() - t_hid < 2.0:
            seen.watch(True)
            time.sleep(0.1)
        assert hidden.snapshot().step == at, "a hidden page's run advanced"
        assert hidden.state == "running" and not hidden.runnable()
        assert seen.snapshot().step > seen_at, "the visible run did not train meanwhile"
        assert not [s for s in _slices(log, hidden) if s[0] > t_hid], "slices while hidden"
        assert pool.stats()["running"] == 1
        # Shown again: it resumes from the very step it stopped at (nothing lost).
        t_shown = time.monotonic()
        hidden.watch(True)
        wait_until(lambda: hidden.snapshot().step > at, 10, "resumed", interval=0.02)
        assert [s for s in _slices(log, hidden) if s[0] >= t_shown]
        rows = hidden.snapshot().history["step"]
        assert np.all(np.diff(rows) > 0)     # one continuous run, no step twice
    finally:
        for j in (seen, hidden):
            j.stop()
        pool.close()


def test_a_page_that_stops_polling_stops_training_and_api_clients_never_do(monkeypatch):
    monkeypatch.setattr(watch, "UNWATCHED_S", 0.5)
    page = TrainingJob(RunConfig(steps=1_000_000, seed=3, **SMALL))
    api = TrainingJob(RunConfig(steps=1_000_000, seed=4, **SMALL))
    try:
        page.watch(True)          # a page: it reported visibility once, then went silent
        api.watch(None)           # a client that never says (gradio_client, scripts)
        page.start()
        api.start()
        wait_until(lambda: not page.runnable(), 5, "the silent page stops", interval=0.02)
        time.sleep(0.3)
        at, api_at = page.snapshot().step, api.snapshot().step
        time.sleep(0.8)
        assert page.snapshot().step == at and page.state == "running"
        assert api.snapshot().step > api_at and api.runnable()
        page.watch(True)          # it polls again
        wait_until(lambda: page.snapshot().step > at, 10, "resumed", interval=0.02)
    finally:
        page.stop()
        api.stop()


def test_eta_is_present_and_within_2x_of_the_time_it_took():
    job = TrainingJob(RunConfig(steps=1500, seed=5, **SMALL), publish_every_s=0.05)
    try:
        # The first seconds of a run say nothing: too little to measure a rate by.
        assert job.snapshot().eta_s is None
        job.start()
        # ETAs read over the middle of the run (a crowded test machine's load swings within
        # seconds: the median reading is compared, not one); the final evaluation's sharpness
        # is part of what they must foresee.
        readings = []
        while job.state == "running":
            snap = job.snapshot()
            if snap.eta_s is not None and 300 <= snap.step <= 1200:
                readings.append((time.monotonic(), snap.eta_s))
            time.sleep(0.05)
        assert job.wait(("done",), timeout=120) == "done"
        end = time.monotonic()
        if len(readings) < 3:
            pytest.skip("the run finished before it could be measured (a very fast machine)")
        ratios = sorted(eta / (end - t) for t, eta in readings)
        median = ratios[len(ratios) // 2]
        assert all(eta > 0 for _, eta in readings)
        assert 0.5 <= median <= 2.0, (median, ratios[0], ratios[-1])
        assert job.snapshot().eta_s is None          # a finished run has none
    finally:
        job.stop()


def test_the_mnist_conv_preset_says_it_is_long_before_train():
    cfg = preset_config("MNIST conv")
    note = estimate.warning(cfg, running=29, cores=2)
    assert "min" in note and "one screen" in note and "29 other runs" in note
    # the estimate grows with the share, and the default 2-D run is not worth a warning
    assert estimate.run_seconds(cfg) > 10 * estimate.run_seconds(RunConfig())
    assert estimate.warning(RunConfig(), running=29, cores=2) == ""
    assert estimate.fmt_duration(40) == "~40 s" and estimate.fmt_duration(420) == "~7 min"


def test_when_runs_finish_or_hide_unevenly_a_busier_process_hands_one_over():
    pool = WorkerPool(processes=2, max_runs=6, period_s=0.5)
    jobs = [ProcessJob(RunConfig(steps=1_000_000, seed=10 + i, **SMALL), pool=pool)
            for i in range(4)]
    try:
        for j in jobs:
            j.start()
        wait_until(lambda: all(j.snapshot().step > 0 for j in jobs), 60, "all train")
        slots = [j._slot for j in jobs]
        assert sorted(slots) == [0, 0, 1, 1], slots
        # Both runs of one process hide: the other process has two running, this one none.
        gone = [j for j in jobs if j._slot == 1]
        for j in gone:
            j.watch(False)
        stay = [j for j in jobs if j not in gone]
        wait_until(lambda: {j._slot for j in stay} == {0, 1}, 30, "one run handed over",
                   interval=0.05)
        moved = next(j for j in stay if j._slot == 1)
        at = moved.snapshot().step
        wait_until(lambda: moved.snapshot().step > at, 30, "the moved run trains on")
        assert np.all(np.diff(moved.snapshot().history["step"]) > 0)   # no step lost or twice
        assert all(j.state == "running" for j in jobs)
    finally:
        for j in jobs:
            j.stop()
        pool.close()


def test_the_status_line_says_when_the_run_will_be_done():
    import dataclasses
    from types import SimpleNamespace

    from gan_lab.ui.stream import Stream

    registry = SimpleNamespace(describe=lambda me: "sharing the server with 29 other runs")
    stream = Stream(SimpleNamespace(), registry, renderers=None)
    snap = TrainingJob(RunConfig(steps=100, **SMALL)).snapshot()
    running = dataclasses.replace(snap, state="running", steps_per_s=50.0, eta_s=40.2)
    text = stream.status_text(running)
    assert "done in ~40 s" in text and "29 other runs" in text
    assert "done in" not in stream.status_text(dataclasses.replace(running, eta_s=None))
    assert "done in" not in stream.status_text(dataclasses.replace(running, state="paused"))
    stream.close()


def test_the_load_tests_profile_summary_and_until_done_report(tmp_path):
    from test_procjob import _load_test

    lt = _load_test()
    raw = tmp_path / "server-1.txt"
    raw.write_text("main (a.py);poll (b.py);render (c.py) 30\nmain (a.py);drive (d.py) 10\n")
    top = dict((name, share) for share, name in lt.hot(raw))
    assert top["main (a.py)"] == 1.0 and top["render (c.py)"] == 0.75
    assert top["drive (d.py)"] == 0.25
    r = {"sessions": 2, "duration_s": 20, "cpu": "x", "cores": 2, "load_before": 3.0,
         "server_env": [], "client_nice": 0, "train_reply_s": {"p50": 1, "p95": 1, "max": 1},
         "poll_reply_s": {"p50": 1, "p95": 1}, "page_get_s": {"p50": 1, "p95": 1},
         "error_replies": 0, "busy_replies": 0, "sessions_trained": 2, "max_step_stall_s": 1,
         "median_step_stall_s": 1, "peak_rss_mb": 1, "peak_processes": 1, "client_cores": 0.1,
         "before": None, "after": None, "killed_workers": 0, "errors": [], "server_exit": 0,
         "role_cores": {"server": 0.1, "render": 0.05, "worker": 1.8}, "role_window_s": 30,
         "last_done_s": 30.5, "median_done_s": 20.0, "done_runs": 2, "run_steps_per_s": [100, 150],
         "load_end": 2.0, "worker_steps_per_cpu_s": 900.0, "per_core_vs_alone": 0.9,
         "alone": {"steps": 3000, "cpu_s": 3.0, "steps_per_cpu_s": 1000.0}}
    text = lt.report(r)
    assert "last run done 30.5 s" in text and "median 20.0 s" in text and "90% of it" in text
    assert "server 0.10 cores, render 0.05" in text


def test_a_class_poll_sends_half_the_loss_rows_and_no_hidden_chart():
    """Issue 19 item 3: what a poll costs the server. A 2-D run's poll never updates the
    digits-only chart (its title would change every evaluation, and each new title is a
    component gradio rebuilds), and while a class shares the server the loss chart carries
    CLASS_ROWS_PER_SERIES rows a series."""
    import dataclasses
    from types import SimpleNamespace

    from gan_lab.plots import curves
    from gan_lab.ui.layout import QUALITY_CHARTS
    from gan_lab.ui.stream import Stream

    names = [n for n, _, _ in QUALITY_CHARTS] + ["loss_plot", "pen_plot", "sparsity_plot",
                                                 "sharp_plot", "spec_plot", "gap_plot",
                                                 "lam_plot"]
    page = SimpleNamespace(**{n: object() for n in names})
    stream = Stream(page, SimpleNamespace(), renderers=None)
    job = TrainingJob(RunConfig(steps=120, **SMALL))
    job.start()
    wait_until(lambda: job.snapshot().state == "done", timeout=120)
    snap = job.snapshot()
    n = 3000
    hist = {"step": np.arange(1, n + 1), "loss_d": np.linspace(1, 2, n),
            "loss_g": np.linspace(2, 1, n)}
    long = dataclasses.replace(snap, history=hist)
    s = SimpleNamespace(shown={}, lang="en")
    out = stream._curves(s, long)
    assert page.gap_plot not in out and page.sparsity_plot in out
    rows = out[page.loss_plot]
    rows = rows["value"] if isinstance(rows, dict) else rows
    assert (rows["series"] == "D loss").sum() > curves.CLASS_ROWS_PER_SERIES
    s.shown.pop("metrics")   # as if an evaluation came in
    out = stream._curves(s, long, crowded=True)
    assert page.gap_plot not in out
    assert (out[page.loss_plot]["series"] == "D loss").sum() <= curves.CLASS_ROWS_PER_SERIES
    digits = dataclasses.replace(long, cfg=RunConfig(dataset="mnist", steps=120))
    s = SimpleNamespace(shown={}, lang="en")
    assert page.gap_plot in stream._curves(s, digits)
    stream.close()
