"""ProcessJob: the TrainingJob API across a process boundary, pool caps, worker death."""

import os
import signal
import time

import numpy as np
import pytest

from gan_lab.checkpoint import load_checkpoint
from gan_lab.config import ConfigError, RunConfig
from gan_lab.procjob import PoolBusy, ProcessJob, WorkerPool

SMALL = dict(g_hidden=32, d_hidden=32, g_depth=2, d_depth=2, batch_size=64, eval_every=10,
             sharpness_every=0)


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(max_workers=2, warm=2)
    yield p
    p.close()


def test_controls_and_snapshots_cross_the_process_boundary(pool):
    job = ProcessJob(RunConfig(steps=100_000, seed=1, **SMALL), pool=pool)
    try:
        snap = job.snapshot()
        assert snap.state == "idle" and snap.step == 0 and snap.samples.shape == (1000, 2)
        job.step(4)
        assert job.wait(timeout=30) == "paused"
        assert job.snapshot().step == 4
        job.start()
        t0 = time.monotonic()
        while job.snapshot().step < 40 and time.monotonic() - t0 < 30:
            time.sleep(0.02)
        job.pause()
        assert job.wait(timeout=10) == "paused"
        at = job.snapshot().step
        assert at >= 40 and len(job.snapshot().history["step"]) > 0
        cfg = job.update(lam=0.1, reg="l2")
        assert cfg.reg == "l2" and job.cfg.lam == 0.1
        with pytest.raises(ConfigError) as e:
            job.update(lam=-3)
        assert e.value.field == "lam"
        ck = job.checkpoint_bytes()
        cfg2, g, d, step = load_checkpoint(ck)
        assert step == at and cfg2.reg == "l2"
        job.reset()
        assert job.snapshot().step == 0 and job.state == "idle"
        job.load_weights(g, d, step)
        assert job.snapshot().step == at
    finally:
        job.stop()
    assert job.snapshot().state == "stopped"


def test_same_results_as_in_process(pool):
    from gan_lab.trainer import TrainingJob

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
    finally:
        pj.stop()
        tj.stop()


def test_pool_cap_and_reuse(pool):
    a = ProcessJob(RunConfig(**SMALL), pool=pool)
    b = ProcessJob(RunConfig(**SMALL), pool=pool)
    with pytest.raises(PoolBusy):
        ProcessJob(RunConfig(**SMALL), pool=pool)
    pid_a = a._worker.proc.pid
    a.stop()
    c = ProcessJob(RunConfig(seed=9, **SMALL), pool=pool)   # a's slot is free again
    assert c.snapshot().cfg.seed == 9
    assert c._worker.proc.pid == pid_a                      # warm worker reused
    b.stop()
    c.stop()
    assert pool.stats()["busy"] == 0


def test_bad_config_is_reported_and_frees_the_slot(pool):
    with pytest.raises(ConfigError):
        ProcessJob(RunConfig(dataset="custom"), pool=pool)   # custom needs points
    assert pool.stats()["busy"] == 0


def test_worker_death_becomes_a_visible_error(pool):
    job = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool)
    job.start()
    os.kill(job._worker.proc.pid, signal.SIGKILL)
    assert job.wait(states=("error",), timeout=20) == "error"
    assert "exited" in job.snapshot().message
    job.stop()
    assert pool.stats()["busy"] == 0


def test_ttl_releases_an_abandoned_job(pool):
    job = ProcessJob(RunConfig(steps=100_000, **SMALL), pool=pool, ttl_s=1.0)
    job.start()
    t0 = time.monotonic()
    while not job.closed and time.monotonic() - t0 < 20:
        time.sleep(0.1)   # not snapshot(): polling it is what keeps a job alive
    assert job.closed and job._snap.state == "stopped"
    assert "closed or idle" in job._snap.message
    assert pool.stats()["busy"] == 0
