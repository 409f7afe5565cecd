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
        wait_until(lambda: job.snapshot().eta_s is not None or job.state == "done", 30,
                   "an ETA", interval=0.02)
        snap, t = job.snapshot(), time.monotonic()
        if snap.state == "done":
            pytest.skip("the run finished before it could be measured (a very fast machine)")
        eta = snap.eta_s
        assert job.wait(("done",), timeout=120) == "done"
        took = time.monotonic() - t
        assert eta > 0 and took / 2 <= eta <= 2 * took + 0.5, (eta, took)
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
