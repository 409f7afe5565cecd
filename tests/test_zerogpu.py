"""ZeroGPU support, tested on the CPU: the chunked path reproduces an uninterrupted run bit for
bit, keeps its state on the CPU between chunks, survives the process boundary ZeroGPU puts
between caller and chunk, and the decorator is the identity off ZeroGPU."""

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gan_lab import zerogpu
from gan_lab.config import ConfigError, RunConfig
from gan_lab.exports import checkpoint_bytes
from gan_lab.jobs import TrainingJob
from gan_lab.jobs.zerogpu import ChunkedRunner
from gan_lab.losses import LOSS_KEYS
from gan_lab.trainer import Trainer
from gan_lab.uploads import continue_from_checkpoint, import_checkpoint
from gan_lab.zerogpu import ChunkRequest, gpu_chunk, on_zerogpu, train_chunk

SMALL = dict(g_hidden=24, d_hidden=24, g_depth=2, d_depth=2, batch_size=48, eval_every=5,
             sharpness_every=10)
# Every kind of state that crosses a chunk boundary: Adam moments, the HSN1R power vector and
# its lazily-updated logged value, a step-dependent lr, two D steps per G step.
RICH = dict(SMALL, steps=41, reg="hsn1r", lam=0.02, hsn_every=3, reg_target="both",
            lr_schedule="cosine", d_steps=2)
DIVERGE = dict(optimizer="sgd", lr_g=1.0, lr_d=1.0, loss="lsgan", beta1=0.9)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def reference(cfg, points=None):
    """The unchunked paths: a plain Trainer loop for the weights, and a TrainingJob (the thread
    kind, advancing in slices) for the curves and the evaluation schedule."""
    tr = Trainer(cfg, points)
    tr.run_steps(cfg.steps)
    job = TrainingJob(cfg, points, history_cap=10_000)
    job.start()
    job.wait(timeout=120)
    snap = job.snapshot()
    job.stop()
    h = snap.history
    rows = np.stack([h[k] for k in LOSS_KEYS], axis=1)
    m = snap.metrics
    metrics = {int(s): {k: m[k][i] for k in m if k != "step" and np.isfinite(m[k][i])}
               for i, s in enumerate(m["step"])}
    return tr, rows, metrics


def assert_same_state(a, b):
    for x, y in ((a.g, b.g), (a.d, b.d)):
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    for x, y in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        assert x["state"].keys() == y["state"].keys()
        for i in x["state"]:
            for k, v in x["state"][i].items():
                assert torch.equal(v, y["state"][i][k]), (i, k)
    assert a.step == b.step
    assert a.rng[0] == b.rng[0] and torch.equal(a.rng[1], b.rng[1])
    for x, y in ((a.reg_g, b.reg_g), (a.reg_d, b.reg_d)):
        assert x["kind"] == y["kind"] and x["value"] == y["value"]
        assert (x["v"] is None) == (y["v"] is None)
        if x["v"] is not None:
            assert all(torch.equal(p, q) for p, q in zip(x["v"], y["v"]))


def assert_same_curves(snap, rows, metrics):
    h = snap.history
    got = np.stack([h[k] for k in LOSS_KEYS], axis=1)
    np.testing.assert_array_equal(got, rows)
    m = snap.metrics
    assert [int(s) for s in m["step"]] == sorted(metrics)
    for i, s in enumerate(m["step"]):
        got = {k: m[k][i] for k in m if k != "step" and np.isfinite(m[k][i])}
        assert got == metrics[int(s)], int(s)


def all_on_cpu(state):
    return all(t.device.type == "cpu" for t in state.tensors())


# --- the decorator and detection ---------------------------------------------------------------
def test_decorator_is_identity_off_zerogpu():
    assert on_zerogpu() is False

    def f(x):
        return x + 1

    assert gpu_chunk(f, 30) is f
    assert gpu_chunk(duration=5)(f) is f
    assert gpu_chunk(f, duration=lambda x: 10) is f
    assert zerogpu.train_chunk_gpu is train_chunk


def _probe(env_extra):
    code = ("from gan_lab import zerogpu; import torch, json; "
            "print(json.dumps([zerogpu.on_zerogpu(), "
            "zerogpu.train_chunk_gpu is zerogpu.train_chunk]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPACES_", "ZEROGPU"))}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_detection_is_the_spaces_packages_and_fails_safe():
    pytest.importorskip("spaces")
    # spaces' own config asserts when ZeroGPU is claimed without its device API; that must read
    # as "not on ZeroGPU"
    assert _probe({"SPACES_ZERO_GPU": "true"}) == "[false, true]"
    # With the device API as well, a CPU-only torch still fails inside spaces (it needs a CUDA
    # build): not on ZeroGPU. With a CUDA build (PyPI's torch, as scripts/check_py310.sh
    # installs) the configuration is complete: detected, and the chunk function is wrapped.
    on = torch.version.cuda is not None
    assert _probe({"SPACES_ZERO_GPU": "true",
                   "SPACES_ZERO_DEVICE_API_URL": "http://127.0.0.1:9"}) == (
        "[true, false]" if on else "[false, true]")


# --- state round trip --------------------------------------------------------------------------
def test_state_round_trip_is_exact_and_on_cpu():
    cfg = RunConfig(**RICH)
    a = Trainer(cfg)
    a.run_steps(9)
    st = a.export_state()
    assert all_on_cpu(st)
    assert st.reg_d["v"] is not None and st.opt_g["state"]     # there is state to carry
    b = Trainer(cfg)
    b.import_state(st)
    assert_same_state(b.export_state(), st)
    ra, rb = a.run_steps(6), b.run_steps(6)
    np.testing.assert_array_equal(ra, rb)
    assert_same_state(a.export_state(), b.export_state())


def test_import_does_not_alias_the_saved_state():
    cfg = RunConfig(**RICH)
    a = Trainer(cfg)
    a.run_steps(3)
    st = a.export_state()
    keep = pickle.loads(pickle.dumps(st))
    b = Trainer(cfg)
    b.import_state(st)
    b.run_steps(5)                      # must not write into `st`
    assert_same_state(st, keep)


# --- chunked == uninterrupted ------------------------------------------------------------------
@pytest.mark.parametrize("pattern", [(1,), (7, 3, 13), (100,)])
def test_chunked_run_is_bit_identical_to_an_uninterrupted_one(pattern):
    cfg = RunConfig(**RICH)
    tr, rows, metrics = reference(cfg)
    r = ChunkedRunner(cfg, device="cpu", publish_every_s=0.0, history_cap=10_000)
    i = 0
    while r.train_state.step < cfg.steps:
        before = r.train_state.step
        done = r.run_chunk(pattern[i % len(pattern)])
        i += 1
        assert done == r.train_state.step - before
        assert all_on_cpu(r.train_state)          # between chunks: nothing off the CPU
    assert r.state == "done"
    assert_same_state(r.train_state, tr.export_state())
    assert_same_curves(r.snapshot(), rows, metrics)
    np.testing.assert_array_equal(r.snapshot().samples, tr.sample(1000))


def test_background_runner_with_pauses_matches_too():
    cfg = RunConfig(**{**RICH, "steps": 120})
    tr, rows, metrics = reference(cfg)
    r = ChunkedRunner(cfg, device="cpu", publish_every_s=0.01, chunk_s=0.05,
                      history_cap=10_000)
    r.start()
    pauses = 0
    while True:
        time.sleep(0.01 * (pauses % 4))
        r.pause()
        if r.wait(timeout=60, states=("paused", "done")) == "done":
            break
        pauses += 1
        r.start()
    r.wait(("done",), timeout=60)
    assert pauses > 1
    assert_same_state(r.train_state, tr.export_state())
    assert_same_curves(r.snapshot(), rows, metrics)
    r.stop()
    assert not r._thread.is_alive()


def _child(conn, job_bytes):
    updates = list(train_chunk(pickle.loads(job_bytes)))
    conn.send_bytes(pickle.dumps(updates))
    conn.close()


def test_chunk_crosses_a_process_boundary_like_zerogpu():
    """ZeroGPU runs the decorated function in a forked worker and pickles its arguments and
    every yielded value both ways: do exactly that and get the same commits."""
    cfg = RunConfig(**RICH)
    host = Trainer(cfg)
    job = ChunkRequest(cfg=cfg, points=None, state=host.export_state(), device="cpu",
                   max_steps=17, budget_s=30, commit_s=0.0)
    here = list(train_chunk(job))
    ctx = mp.get_context("fork")
    rx, tx = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(tx, pickle.dumps(job)))
    p.start()
    there = pickle.loads(rx.recv_bytes())
    p.join(30)
    assert p.exitcode == 0
    # (where commits fall depends on timing; what they add up to does not)
    assert there[-1].final and there[-1].state.step == 17
    assert_same_state(here[-1].state, there[-1].state)
    np.testing.assert_array_equal(np.concatenate([u.rows for u in here]),
                                  np.concatenate([u.rows for u in there]))
    assert [e for u in here for e in u.evals] == [e for u in there for e in u.evals]


def test_every_commit_is_a_resumable_state():
    cfg = RunConfig(**RICH)
    tr, rows, _ = reference(cfg)
    host = Trainer(cfg)
    job = ChunkRequest(cfg=cfg, points=None, state=host.export_state(), device="cpu",
                   max_steps=cfg.steps, budget_s=30, commit_s=0.0)
    updates = list(train_chunk(job))
    assert len(updates) > 3 and all(all_on_cpu(u.state) for u in updates)
    got = np.concatenate([u.rows for u in updates])
    np.testing.assert_array_equal(got, rows)
    # resume from a commit in the middle: the rest of the run is the same
    mid = updates[len(updates) // 2].state
    job2 = ChunkRequest(cfg=cfg, points=None, state=mid, device="cpu", max_steps=cfg.steps,
                    budget_s=30, commit_s=10.0)
    last = list(train_chunk(job2))[-1]
    assert_same_state(last.state, tr.export_state())


def test_budget_and_deadline_bound_a_chunk():
    cfg = RunConfig(**{**SMALL, "steps": 100_000})
    host = Trainer(cfg)
    job = ChunkRequest(cfg=cfg, points=None, state=host.export_state(), device="cpu",
                   max_steps=23, budget_s=30)
    assert list(train_chunk(job))[-1].state.step == 23
    t = time.monotonic()
    job = ChunkRequest(cfg=cfg, points=None, state=host.export_state(), device="cpu",
                   max_steps=10**9, budget_s=0.3)
    ups = list(train_chunk(job))
    took = time.monotonic() - t
    assert ups[-1].final and 0 < ups[-1].state.step < 100_000
    assert took < 0.3 + 1.0          # one sub-chunk (~SUB_S) and one evaluation past it


# --- TrainingJob API parity --------------------------------------------------------------------
def test_divergence_matches_training_job():
    cfg = RunConfig(steps=300, **SMALL, **DIVERGE)
    job = TrainingJob(cfg)
    job.start()
    assert job.wait(timeout=60) == "diverged"
    r = ChunkedRunner(cfg, device="cpu")
    r.start()
    assert r.wait(timeout=60) == "diverged"
    assert r.snapshot().step == job.snapshot().step
    assert "Diverged at step" in r.snapshot().message
    g, _ = job.trainer.state_dicts()
    assert all(torch.equal(g[k], r.train_state.g[k]) for k in g)
    assert all(np.isfinite(v).all() for v in r.snapshot().history.values())
    job.stop()
    r.stop()


def test_step_pause_update_reset_and_errors():
    cfg = RunConfig(steps=10_000, **SMALL)
    r = ChunkedRunner(cfg, device="cpu", ttl_s=60)
    r.step(12)
    assert r.wait(timeout=60) == "paused" and r.snapshot().step == 12
    r.start()
    time.sleep(0.2)
    new = r.update(lam=0.05, reg="l2", reg_target="both")
    assert new.reg == "l2" and r.cfg.reg == "l2"
    time.sleep(0.2)
    r.pause()
    assert r.wait(timeout=60) == "paused"
    st = r.train_state
    assert st.reg_d["kind"] == "l2" and st.reg_g["kind"] == "l2"
    assert r.snapshot().cfg.reg == "l2" and r.snapshot().latest["reg_d"] > 0
    with pytest.raises(ConfigError) as ei:
        r.update(g_hidden=8)
    assert ei.value.field == "g_hidden"
    with pytest.raises(ConfigError):
        r.update(lam=5.0)
    r.reset()
    assert r.state == "idle" and r.snapshot().step == 0
    r.update(steps=30)
    r.start()
    assert r.wait(timeout=60) == "done" and r.snapshot().step == 30
    r.start()
    assert r.state == "done"
    r.update(steps=35)
    assert r.state == "paused"
    r.stop()
    with pytest.raises(RuntimeError):
        r.start()


def test_ttl_stops_an_abandoned_runner():
    r = ChunkedRunner(RunConfig(steps=1_000_000, **SMALL), device="cpu", ttl_s=0.5)
    r.start()
    assert r.wait(("stopped",), timeout=10) == "stopped"
    assert "closed" in r.snapshot().message


def test_checkpoint_export_and_continue_from_it():
    cfg = RunConfig(steps=20, **SMALL)
    r = ChunkedRunner(cfg, device="cpu")
    r.step(20)
    assert r.wait(timeout=60) == "done"
    data = checkpoint_bytes(r)
    cfg2, g, d, step = import_checkpoint(data)
    assert cfg2 == cfg and step == 20
    assert all(torch.equal(g[k], r.train_state.g[k]) for k in g)
    other = ChunkedRunner(RunConfig(g_hidden=8, d_hidden=8, steps=5), device="cpu")
    continue_from_checkpoint(other, data)
    assert other.cfg == cfg and other.snapshot().step == 20
    assert all(torch.equal(g[k], other.train_state.g[k]) for k in g)
    snap_before, state_before = other.snapshot(), other.train_state
    with pytest.raises(Exception, match="pickle"):
        continue_from_checkpoint(other, pickle.dumps({"x": 1}, protocol=4))
    assert other.snapshot() is snap_before and other.train_state is state_before
    other.update(steps=25)
    other.start()
    assert other.wait(timeout=60) == "done" and other.snapshot().step == 25


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_chunks_keep_state_on_cpu_and_match_an_uninterrupted_cuda_run():
    cfg = RunConfig(**{**RICH, "device": "cuda"})
    tr = Trainer(cfg)
    tr.run_steps(cfg.steps)
    r = ChunkedRunner(cfg, publish_every_s=0.0)
    assert r.device == "cuda"
    while r.train_state.step < cfg.steps:
        r.run_chunk(9)
        assert all_on_cpu(r.train_state)
    ref = tr.export_state()
    for k in ref.g:
        torch.testing.assert_close(r.train_state.g[k], ref.g[k], rtol=1e-5, atol=1e-6)
