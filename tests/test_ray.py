"""Ray (optional, requirements-ray.txt): the sweep's Ray backend gives the same folders and
tables as the local one, and RayJob drives a Run in an actor through the job API, bit for bit
like a TrainingJob. One local Ray instance with 2 CPUs serves the module (~8-10 s to start)."""

import csv
import json
import os

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed: pip install -r "
                                        "requirements-ray.txt")

from gan_lab.checkpoint import load_checkpoint  # noqa: E402
from gan_lab.cli import main  # noqa: E402
from gan_lab.config import ConfigError, RunConfig  # noqa: E402
from gan_lab.jobs import TrainingJob, make_job  # noqa: E402
from gan_lab.jobs.ray import RayJob, connect  # noqa: E402

TINY = dict(g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, batch_size=64, eval_every=20,
            sharpness_every=0, steps=40)
SETS = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
SAME = ("modes", "hq_frac", "rev_kl", "grid_kl", "sparsity_d", "zeros_d", "sparsity_g",
        "sharpness_d", "sharpness_g", "loss_d", "loss_g", "reg_d", "reg_g", "id", "steps")


@pytest.fixture(scope="module")
def local_ray():
    assert not ray.is_initialized()
    assert connect(num_cpus=2) is True          # a fresh local instance: ray.init(num_cpus=2)
    assert ray.cluster_resources()["CPU"] == 2
    yield
    ray.shutdown()


def rows(path):
    with open(path / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_ray_sweep_gives_the_local_backends_folders_and_tables(local_ray, tmp_path):
    args = ["sweep", "--grid", "reg=none,l1", "--grid", "lam=1e-3,1e-1", "--seeds", "0",
            "--quiet", *SETS]
    assert main([*args, "--backend", "ray", "--no-png", "--out", str(tmp_path / "ray")]) == 0
    assert main([*args, "--backend", "local", "--jobs", "1", "--no-png",
                 "--out", str(tmp_path / "local")]) == 0
    a, b = rows(tmp_path / "ray"), rows(tmp_path / "local")
    assert [r["folder"] for r in a] == ["reg=none/seed0", "reg=l1,lam=0.001/seed0",
                                        "reg=l1,lam=0.1/seed0"]
    assert [[r[k] for k in SAME] for r in a] == [[r[k] for k in SAME] for r in b]
    for r in a:   # the folder came back as bytes and was written here, whole
        folder = tmp_path / "ray" / r["folder"]
        assert set(os.listdir(folder)) == {"config.json", "metrics.csv",
                                           "checkpoint.safetensors", "samples.npy",
                                           "summary.json"}
        assert (folder / "metrics.csv").read_text() == \
            (tmp_path / "local" / r["folder"] / "metrics.csv").read_text()
        np.testing.assert_array_equal(np.load(folder / "samples.npy"),
                                      np.load(tmp_path / "local" / r["folder"] / "samples.npy"))
    doc = json.loads((tmp_path / "ray" / "results.json").read_text())
    assert doc["backend"] == "ray" and doc["finished"] == 3
    assert "--backend ray" in doc["command"]
    # Resuming with Ray skips the finished runs like the local backend does.
    assert main([*args, "--backend", "ray", "--no-png", "--out", str(tmp_path / "ray")]) == 0
    assert ray.is_initialized()                 # the fixture's instance was used, not shut


def test_rayjob_through_the_job_api_matches_a_thread_job(local_ray, monkeypatch):
    cfg = RunConfig.from_dict({**TINY, "steps": 120, "reg": "l1", "lam": 0.01})
    monkeypatch.setenv("GAN_LAB_RAY_ADDRESS", "auto")
    job = make_job(cfg, ttl_s=None, history_cap=1000)       # the app's factory picks Ray
    ref = TrainingJob(cfg)
    try:
        assert isinstance(job, RayJob) and job.kind == "ray"
        snap = job.snapshot()
        assert snap.state == "idle" and snap.step == 0 and snap.device.endswith("(Ray)")
        assert job._actor is None                            # a preview: no actor yet
        for j in (job, ref):
            j.step(25)
            assert j.wait(timeout=120) == "paused"
        assert job.snapshot().step == 25 and job._actor is not None
        for j in (job, ref):
            assert j.update(lam=0.1).lam == 0.1               # live change, in the actor
        with pytest.raises(ConfigError) as e:
            job.update(g_hidden=8)
        assert e.value.field == "g_hidden"
        job.start()
        job.pause()
        assert job.state == "paused"
        job.start()
        ref.start()
        for j in (job, ref):
            assert j.wait(timeout=120) == "done"
        a, b = job.snapshot(), ref.snapshot()
        assert a.step == b.step == 120 and a.cfg.lam == 0.1
        # The same run, bit for bit: weights, samples, losses and every evaluation.
        for k in b.g_state:
            assert np.array_equal(a.g_state[k].numpy(), b.g_state[k].numpy()), k
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.latest == b.latest
        np.testing.assert_array_equal(a.metrics["zeros_d"], b.metrics["zeros_d"])
        (ca, ga, da, sa), (cb, gb, db, sb) = (load_checkpoint(j.checkpoint_bytes())
                                              for j in (job, ref))
        assert (ca, sa) == (cb, sb) and all(np.array_equal(da[k], db[k]) for k in db)
        job.reset()
        assert job._actor is None and job.snapshot().step == 0
    finally:
        job.stop()
        ref.stop()
    assert job.closed
