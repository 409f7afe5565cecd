"""ProcessJob on a WorkerPool: the job API across a process boundary, many runs per process
taking turns, moving a run between processes exactly, the run cap, worker death, time-to-live."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from helpers import wait_until
from test_server_hardening import zombies

from gan_lab.checkpoint import load_checkpoint
from gan_lab.config import ConfigError, RunConfig
from gan_lab.jobs import PoolBusy, ProcessJob, TrainingJob, WorkerPool

SMALL = dict(g_hidden=32, d_hidden=32, g_depth=2, d_depth=2, batch_size=64, eval_every=10,
             sharpness_every=0)


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(processes=2, max_runs=4)
    yield p
    p.close()


def test_controls_and_snapshots_cross_the_process_boundary(pool):
    job = ProcessJob(RunConfig(steps=100_000, seed=1, **SMALL), pool=pool)
    try:
        snap = job.snapshot()
        assert snap.state == "idle" and snap.step == 0 and snap.samples.shape == (1000, 2)
        assert pool.stats()["runs"] == 0          # looking at a job creates no run
        job.step(4)
        assert job.wait(timeout=30) == "paused"
        assert job.snapshot().step == 4 and pool.stats()["runs"] == 1
        job.start()
        wait_until(lambda: job.snapshot().step >= 40, 30, "40 steps", interval=0.02)
        job.pause()
        at = job.snapshot().step
        assert job.state == "paused" and at >= 40 and len(job.snapshot().history["step"]) > 0
        time.sleep(0.3)
        assert job.snapshot().step == at           # when pause() returns, the step is final
        cfg = job.update(lam=0.1, reg="l2")
        assert cfg.reg == "l2" and job.cfg.lam == 0.1
        with pytest.raises(ConfigError) as e:
            job.update(lam=-3)
        assert e.value.field == "lam"
        cfg2, g, d, step = load_checkpoint(job.checkpoint_bytes())
        assert step == at and cfg2.reg == "l2"
        job.reset()
        assert job.snapshot().step == 0 and job.state == "idle"
        assert pool.stats()["runs"] == 0          # reset went back to a preview
        job.load_weights(g, d, step)
        assert job.snapshot().step == at
    finally:
        job.stop()
    assert job.snapshot().state == "stopped" and pool.stats()["runs"] == 0


def test_same_results_as_in_process(pool):
    cfg = RunConfig(steps=30, seed=2, **SMALL)
    pj = ProcessJob(cfg, pool=pool)
    tj = TrainingJob(cfg)
    try:
        for j in (pj, tj):
            j.start()
            assert j.wait(timeout=60) == "done"
        np.testing.assert_array_equal(pj.snapshot().samples, tj.snapshot().samples)
        np.testing.assert_array_equal(pj.snapshot().history["loss_d"],
                                      tj.snapshot().history["loss_d"])
        assert pj.snapshot().metrics.keys() == tj.snapshot().metrics.keys()
    finally:
        pj.stop()
        tj.stop()


def test_more_running_jobs_than_processes_all_advance_in_turns(tmp_path, monkeypatch):
    log = tmp_path / "slices.txt"
    monkeypatch.setenv("GAN_LAB_SLICE_LOG", str(log))   # the load test's server-side view
    pool = WorkerPool(processes=1, max_runs=8, period_s=1.0)
    jobs = [ProcessJob(RunConfig(steps=1_000_000, seed=i, **SMALL), pool=pool)
            for i in range(5)]
    try:
        for j in jobs:
            j.start()
        # One process, five running jobs: every one gets a slice at least every period_s.
        t0 = time.monotonic()
        seen = {id(j): [] for j in jobs}
        while time.monotonic() - t0 < 4.0:
            for j in jobs:
                seen[id(j)].append((time.monotonic(), j.snapshot().step))
            time.sleep(0.05)
        for j in jobs:
            steps = [s for _, s in seen[id(j)]]
            assert steps[-1] > 0, "a job never advanced"
            # the longest time its step stood still, after its first move
            moves = [t for (t, s), (_, s0) in zip(seen[id(j)][1:], seen[id(j)]) if s > s0]
            assert moves and max(np.diff(moves), default=0) < 2.5
        assert pool.stats()["running"] == 5
    finally:
        for j in jobs:
            j.stop()
        pool.close()
    # The slice log says the same from the pool's side: five jobs, each advanced within 2.5 s.
    gaps = _load_test().slice_gaps(log, t0, t0 + 4.0)
    assert gaps["jobs"] == 5 and 0 < gaps["max"] < 2.5 and gaps["slices"] >= 10
    assert all(len(line.split()) == 5 for line in log.read_text().splitlines())


def _load_test():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "load_test.py"
    spec = importlib.util.spec_from_file_location("load_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_run_moved_to_a_less_busy_process_goes_on_bit_for_bit():
    cfg = RunConfig(steps=40, seed=5, reg="hsn1r", lam=0.02, hsn_every=3, **SMALL)
    ref = TrainingJob(cfg)
    ref.start()
    assert ref.wait(timeout=60) == "done"
    pool = WorkerPool(processes=2, max_runs=8)
    # The move at start, not a busier process handing a running one over (which would even
    # out the two processes before the job starts; tests/test_watch.py tests that one).
    pool._busier = lambda slot: False
    job = ProcessJob(cfg, pool=pool)
    others = [ProcessJob(RunConfig(steps=1_000_000, **SMALL), pool=pool) for _ in range(4)]
    try:
        job.step(13)
        job.wait(timeout=30)
        here = job._slot
        for o in others:
            o.start()                      # placed evenly: two on each process
        for o in others:
            if o._slot != here:
                o.stop()                   # now its process runs two, the other none
        job.start()
        assert job._slot != here
        assert job.wait(timeout=60) == "done"
        np.testing.assert_array_equal(job.snapshot().samples, ref.snapshot().samples)
        np.testing.assert_array_equal(job.snapshot().history["loss_d"],
                                      ref.snapshot().history["loss_d"])
    finally:
        for o in [job, ref, *others]:
            o.stop()
        pool.close()


def test_run_cap(pool):
    jobs = [ProcessJob(RunConfig(**SMALL), pool=pool) for _ in range(5)]
    try:
        for j in jobs[:4]:
            j.step(1)
        with pytest.raises(PoolBusy):
            jobs[4].step(1)
        assert jobs[4].state == "idle"
        jobs[0].stop()                       # its run is freed
        jobs[4].step(1)
        assert jobs[4].wait(timeout=30) == "paused"
    finally:
        for j in jobs:
            j.stop()
    assert pool.stats()["runs"] == 0


def test_bad_config_is_refused_before_anything_is_taken(pool):
    with pytest.raises(ConfigError):
        ProcessJob(RunConfig(dataset="custom"), pool=pool)   # custom needs points
    assert pool.stats()["runs"] == 0


# A 2-D config whose steps take ~0.7 s on one unloaded core: its pieces of work go on aside.
SLOW = dict(g_hidden=1024, d_hidden=1024, g_depth=4, d_depth=4, batch_size=1024,
            eval_every=10**5, sharpness_every=0)


def advances(job, seconds: float) -> list[float]:
    """Seconds between the job's step advances over `seconds` (as its page would see them)."""
    gaps, last, t_last = [], job.snapshot().step, time.monotonic()
    end = t_last + seconds
    while time.monotonic() < end:
        time.sleep(0.02)
        step = job.snapshot().step
        if step != last:
            now = time.monotonic()
            gaps.append(now - t_last)
            last, t_last = step, now
    gaps.append(time.monotonic() - t_last)
    return gaps


def test_a_killed_worker_ends_only_its_suspect_the_others_go_on():
    """SIGKILL while a slow run's step is in progress on the process: that run (the suspect)
    shows the error; the other run of that process goes on from its last commit on a new one."""
    pool = WorkerPool(processes=1, max_runs=4)
    try:
        slow = ProcessJob(RunConfig(steps=100_000, **SLOW), pool=pool)
        fast = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
        fast.start()
        slow.start()
        wait_until(lambda: slow._pending_since is not None, 60, "the slow step going on aside")
        step = fast.snapshot().step
        pid = pool.pids()[0]
        os.kill(pid, signal.SIGKILL)
        assert slow.wait(states=("error",), timeout=20) == "error"
        assert "exited unexpectedly while it ran this run" in slow.snapshot().message
        wait_until(lambda: fast.snapshot().step > step + 50, 60, "the other run training on")
        assert fast.state == "running"
        assert "goes on from step" in fast.snapshot().message
        assert "optimizer moments restarted" in fast.snapshot().message
        assert pool.stats()["runs"] == 1 and pool.pids() and pool.pids()[0] != pid
        wait_until(lambda: zombies() == [], 5, "the killed process reaped")
    finally:
        pool.close()


def test_a_killed_idle_worker_puts_every_run_on_a_new_one():
    """Killed while nothing runs there: nobody is suspected; paused runs stay paused, at their
    step, on a fresh process, and Step trains them."""
    pool = WorkerPool(processes=1, max_runs=4)
    try:
        a = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
        b = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
        for j in (a, b):
            j.step(3)
            j.wait(timeout=30)
        pid = pool.pids()[0]
        os.kill(pid, signal.SIGKILL)
        for j in (a, b):
            wait_until(lambda j=j: "goes on from step 3" in j.snapshot().message, 30,
                       "placed again")
            assert j.state == "paused"
            j.step(2)
            assert j.wait(timeout=30) == "paused" and j.snapshot().step == 5
        assert pool.stats()["runs"] == 2 and pool.pids()[0] != pid
    finally:
        pool.close()


def test_a_slow_run_never_holds_up_the_runs_of_its_process():
    """Its steps go on aside: the fast run on the same (single) process keeps advancing in its
    turns while a slow step is in progress, never waiting for it to end."""
    pool = WorkerPool(processes=1, max_runs=4)
    try:
        fast = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
        slow = ProcessJob(RunConfig(steps=100_000, **SLOW), pool=pool)
        fast.start()
        slow.start()
        aside = []
        sampler = threading.Thread(target=lambda: aside.extend(
            (time.sleep(0.05), slow._pending_since is not None)[1] for _ in range(160)))
        sampler.start()
        gaps = advances(fast, 8.0)
        sampler.join()
        assert sum(aside) * 0.05 > 2.0, "the slow run had no long piece in progress aside"
        assert max(gaps) < 1.5, gaps
        assert slow.state == "running" and fast.state == "running"
    finally:
        pool.close()


def test_a_hung_run_is_ended_and_its_process_replaced_the_others_go_on():
    """A piece of work past its time-out (here 3 s; by default from the cost estimate): its
    process is killed, that run shows why, the other run goes on on a new process."""
    pool = WorkerPool(processes=1, max_runs=4, hang_s=3.0)
    try:
        fast = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
        slow = ProcessJob(RunConfig(steps=100_000, **{**SLOW, "batch_size": 4096}), pool=pool)
        fast.start()
        slow.start()
        pid = pool.pids()[0]
        assert slow.wait(states=("error",), timeout=60) == "error"
        assert "a step of this run took longer than 3 s" in slow.snapshot().message
        step = fast.snapshot().step
        wait_until(lambda: fast.snapshot().step > step + 50, 60, "the other run training on")
        assert fast.state == "running" and pool.pids()[0] != pid
    finally:
        pool.close()


def test_ttl_releases_an_abandoned_job(pool):
    job = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool, ttl_s=1.0)
    job.start()
    t0 = time.monotonic()
    while not job.closed and time.monotonic() - t0 < 20:
        time.sleep(0.1)   # not snapshot(): polling it is what keeps a job alive
    assert job.closed and job._snap.state == "stopped"
    assert "closed or idle" in job._snap.message
    assert pool.stats()["runs"] == 0


def test_a_commit_crosses_processes_as_numpy_and_comes_back_as_the_same_tensors():
    import pickle

    import torch

    from gan_lab.run import Run

    c = Run(RunConfig(steps=5, seed=2, **SMALL), start_eval=None).advance(3)
    far = pickle.loads(pickle.dumps(c.portable()))
    assert all(isinstance(v, np.ndarray) for v in far.g_state.values())
    back = far.restored()
    for mine, theirs in ((c.g_state, back.g_state), (c.d_state, back.d_state)):
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert back.step == c.step and np.array_equal(back.rows, c.rows)
    bare = Run(RunConfig(steps=5, seed=2, **SMALL), start_eval=None).advance(2, view=False)
    assert bare.portable() is bare and bare.restored() is bare


def test_job_states_are_an_enum_equal_to_their_names():
    import json

    from gan_lab.snapshot import STATES, JobState

    assert JobState.RUNNING == "running" and f"{JobState.DONE}" == "done"
    assert str(JobState.ERROR) == "error" and json.dumps(JobState.IDLE) == '"idle"'
    assert STATES == tuple(s.value for s in JobState)
    job = TrainingJob(RunConfig(steps=2, **SMALL))
    try:
        assert job.state is JobState.IDLE
    finally:
        job.stop()


def test_the_worker_answers_typed_requests_and_refuses_an_unknown_one():
    from gan_lab.jobs.host import Host

    h = Host(1)
    try:
        assert h.ping() == 0
        assert h.create(7, RunConfig(steps=20, **SMALL)) == "cpu"
        c = h.advance(7, 5, None, aside=False)
        assert c.step == 5 and isinstance(next(iter(c.g_state.values())), np.ndarray)
        assert h.apply(7, {"lam": 0.25})["lam"] == 0.25
        with pytest.raises(ConfigError, match="steps"):
            h.apply(7, {"steps": -1})
        with pytest.raises(RuntimeError, match="unknown request"):
            h.call(object())
        h.drop(7)
        assert h.ping() == 0
    finally:
        h.kill()


def test_slow_motion_gets_a_worker_runs_exact_state_through_the_typed_export(pool):
    from gan_lab.state import TrainState
    from gan_lab.ui.slowmo import train_state

    job = ProcessJob(RunConfig(steps=100_000, seed=5, **SMALL), pool=pool)
    try:
        assert train_state(job) is None           # no run built yet
        job.step(3)
        assert job.wait(timeout=30) == "paused"
        st = train_state(job)
        assert isinstance(st, TrainState) and st.step == 3
    finally:
        job.stop()
