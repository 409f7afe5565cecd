"""Trainer and TrainingJob: determinism, divergence pause, controls, live updates, memory."""

import threading

import numpy as np
import pytest
import torch

from gan_lab.config import ConfigError, RunConfig
from gan_lab.jobs import TrainingJob
from gan_lab.logs import History, MetricLog
from gan_lab.placement import check_limits
from gan_lab.trainer import Trainer

SMALL = dict(g_hidden=32, d_hidden=32, g_depth=2, d_depth=2, batch_size=64, eval_every=10,
             sharpness_every=20)
DIVERGE = dict(optimizer="sgd", lr_g=1.0, lr_d=1.0, loss="lsgan", beta1=0.9)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_same_seed_same_metrics_on_cpu():
    runs = []
    for _ in range(2):
        tr = Trainer(RunConfig(steps=40, seed=3, reg="hsn1r", lam=0.01, **SMALL))
        rows = tr.run_steps(40)
        runs.append((rows, tr.evaluate(sharp=True), tr.sample(50)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    other = Trainer(RunConfig(steps=40, seed=4, **SMALL)).run_steps(40)
    assert not np.array_equal(other, runs[0][0])


def test_evaluating_does_not_change_the_trajectory():
    a, b = Trainer(RunConfig(**SMALL)), Trainer(RunConfig(**SMALL))
    for _ in range(4):
        a.run_steps(5)
        a.evaluate(sharp=True)
    b.run_steps(20)
    np.testing.assert_array_equal(a.sample(20), b.sample(20))


def test_trainer_divergence_skips_the_bad_update():
    tr = Trainer(RunConfig(steps=200, **SMALL, **{k: v for k, v in DIVERGE.items()}))
    rows = tr.run_steps(200)
    assert not np.isfinite(rows[-1]).all()
    assert len(rows) < 200 and tr.step == len(rows) - 1
    for p in list(tr.G.parameters()) + list(tr.D.parameters()):
        assert torch.isfinite(p).all()


def test_job_nan_pauses_with_reason_and_keeps_history():
    job = TrainingJob(RunConfig(steps=500, **SMALL, **DIVERGE))
    try:
        job.start()
        assert job.wait(timeout=60) == "diverged"
        snap = job.snapshot()
        assert "Diverged at step" in snap.message and "not finite" not in snap.message
        assert "lower the learning rate" in snap.message.lower()
        assert snap.step > 0 and len(snap.history["step"]) == snap.step
        assert np.isfinite(snap.history["loss_d"]).all()
        assert np.isfinite(snap.samples).all()
        assert all(torch.isfinite(v).all() for v in snap.g_state.values())
        # Trying again without changes diverges again at once, losing nothing.
        job.step(1)
        assert job.wait(timeout=30) == "diverged"
        again = job.snapshot()
        assert again.step == snap.step and len(again.history["step"]) == snap.step
        # Reset recovers with fresh weights, and a sane lr trains on.
        job.reset(job.cfg.replace(lr_g=1e-3, lr_d=1e-3))
        job.step(5)
        assert job.wait(timeout=30) == "paused"
        assert job.snapshot().step == 5
    finally:
        job.stop()


def test_job_start_pause_step_reset_and_live_update():
    job = TrainingJob(RunConfig(steps=100_000, **SMALL))
    try:
        s0 = job.snapshot()
        assert s0.state == "idle" and s0.step == 0 and s0.samples.shape == (1000, 2)
        job.step(3)
        assert job.wait(timeout=30) == "paused"
        assert job.snapshot().step == 3
        job.start()
        deadline = threading.Event()
        for _ in range(200):
            if job.snapshot().step > 30:
                break
            deadline.wait(0.05)
        job.pause()
        assert job.wait(timeout=10) == "paused"
        paused_at = job.snapshot().step
        assert paused_at > 30
        deadline.wait(0.3)
        assert job.snapshot().step == paused_at  # really paused
        # Live update: regularizer and lambda change, weights are NOT re-initialized.
        w_before = {k: v.clone() for k, v in job.trainer.G.state_dict().items()}
        cfg = job.update(reg="l1", lam=0.05, lr_d=5e-4, reg_target="both")
        assert cfg.reg == "l1"
        assert job.trainer.opt_d.param_groups[0]["lr"] == \
            pytest.approx(5e-4 * job.trainer.lr_scale())   # the default schedule decays
        for k, v in job.trainer.G.state_dict().items():
            assert torch.equal(v, w_before[k])
        job.step(5)
        job.wait(timeout=30)
        snap = job.snapshot()
        assert snap.step == paused_at + 5 and snap.latest["reg_d"] > 0
        with pytest.raises(ConfigError, match="latent_dim"):
            job.update(latent_dim=8)
        with pytest.raises(ConfigError, match="lam"):
            job.update(lam=-1)
        job.reset()
        snap = job.snapshot()
        assert snap.state == "idle" and snap.step == 0 and len(snap.history["step"]) == 0
        fresh = TrainingJob(RunConfig(steps=100_000, **SMALL))
        np.testing.assert_array_equal(snap.samples, fresh.snapshot().samples)
        assert snap.cfg.reg == "l1"   # reset keeps the user's settings, fresh weights
    finally:
        job.stop()


def test_job_runs_to_done_with_metrics():
    job = TrainingJob(RunConfig(steps=60, **SMALL))
    job.start()
    assert job.wait(timeout=60) == "done"
    snap = job.snapshot()
    assert snap.step == 60
    m = snap.metrics
    assert m["step"][0] == 0 and m["step"][-1] == 60
    for k in ("modes", "hq_frac", "rev_kl", "sparsity_d", "zeros_g", "sharpness_d"):
        assert k in m, k
    assert np.isfinite(m["sharpness_d"][-1]) and m["sharpness_d"][-1] > 0
    job.stop()
    assert not job._thread.is_alive()


def test_no_threads_leak_after_many_cycles():
    before = threading.active_count()
    for _ in range(15):
        job = TrainingJob(RunConfig(steps=10_000, **SMALL))
        job.start()
        job.pause()
        job.stop()
    assert threading.active_count() <= before


def test_ttl_stops_an_abandoned_job():
    job = TrainingJob(RunConfig(steps=1_000_000, **SMALL), ttl_s=0.5)
    job.start()
    assert job.wait(states=("stopped",), timeout=10) == "stopped"
    assert "closed or idle" in job.snapshot().message
    job._thread.join(5)
    assert not job._thread.is_alive()


def test_history_is_bounded_and_averaged():
    h = History(("a",), cap=64)
    for s in range(1, 100_001):
        h.add(s, np.array([float(s)]))
    cols = h.columns()
    assert len(cols["step"]) <= 65
    assert cols["step"][-1] == 100_000
    # Buckets are means of consecutive steps: each value lies within its bucket's step range.
    assert np.all(np.diff(cols["step"]) > 0)
    assert abs(cols["a"][-1] - cols["step"][-1]) < h.stride
    m = MetricLog(cap=50)
    for s in range(1000):
        m.add(s, {"x": s})
    assert len(m.rows) <= 51 and m.rows[-1]["step"] == 999


def test_session_limits():
    with pytest.raises(ConfigError, match="steps"):
        check_limits(RunConfig(steps=50_000), max_steps=20_000)
    with pytest.raises(ConfigError, match="parameters"):
        check_limits(RunConfig(g_hidden=1024, d_hidden=1024, g_depth=8), max_params=500_000)
    check_limits(RunConfig(), max_steps=20_000, max_params=500_000)


def test_foreach_adam_gives_the_same_weights_as_the_per_tensor_loop(monkeypatch):
    # The trainer's Adam runs over all of a network's tensors at once (foreach, issue 19);
    # it must train exactly as torch's per-tensor default on the CPU.
    cfg = RunConfig(steps=30, seed=5, **SMALL)
    fast = Trainer(cfg)
    fast.run_steps(30)
    assert all(g.get("foreach") for o in (fast.opt_g, fast.opt_d) for g in o.param_groups)

    def per_tensor(self, net, lr):
        return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.cfg.beta1, self.cfg.beta2),
                                foreach=False)

    monkeypatch.setattr(Trainer, "_make_opt", per_tensor)
    slow = Trainer(cfg)
    slow.run_steps(30)
    for a, b in zip([*fast.G.parameters(), *fast.D.parameters()],
                    [*slow.G.parameters(), *slow.D.parameters()], strict=True):
        assert torch.equal(a, b)
