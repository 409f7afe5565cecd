"""Export and import: config JSON, metrics CSV, checkpoints, points CSV, samples PNG and GIF."""

import csv
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.checkpoint import CheckpointError, save_checkpoint_bytes
from gan_lab.config import ConfigError, RunConfig
from gan_lab.exports import (
    FrameRecorder,
    checkpoint_bytes,
    config_json,
    downscale,
    export_checkpoint,
    metrics_csv,
    samples_png,
)
from gan_lab.jobs import TrainingJob
from gan_lab.losses import LOSS_KEYS
from gan_lab.share import ConfigErrors
from gan_lab.trainer import Trainer
from gan_lab.uploads import (
    continue_from_checkpoint,
    import_checkpoint,
    import_config,
    import_points_csv,
    parse_config,
)

SMALL = dict(g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, batch_size=32, eval_every=5,
             sharpness_every=10)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def done_job():
    torch.set_num_threads(1)
    job = TrainingJob(RunConfig(steps=23, **SMALL))
    job.start()
    assert job.wait(timeout=60) == "done"
    yield job
    job.stop()


# --- config JSON ------------------------------------------------------------------------------
def test_config_json_round_trip_and_cli_reads_it(tmp_path):
    cfg = RunConfig(reg="hsn1r", lam=0.0123, seed=7, **SMALL)
    text = config_json(cfg)
    assert import_config(text) == cfg
    assert import_config(text.encode()) == cfg
    p = tmp_path / "exported.json"
    p.write_text(text)
    assert import_config(p) == cfg
    assert RunConfig.from_json(text) == cfg   # what `train --config` uses


def test_config_import_reports_every_bad_field():
    bad = {"lr_g": 5, "seed": -1, "reg": "L1", "reg_bias": "maybe", "widht": 3, "steps": 1.5}
    cfg, errors = parse_config(json.dumps(bad))
    assert cfg is None
    assert [e.field for e in errors] == ["lr_g", "steps", "seed", "reg", "reg_bias", "widht"]
    with pytest.raises(ConfigErrors) as ei:
        import_config(json.dumps(bad))
    assert ei.value.field == "lr_g" and len(ei.value.errors) == 6


def test_config_import_json_error_names_the_line():
    text = '{\n  "lam": 0.1,\n  "seed": 3,,\n}'
    with pytest.raises(ConfigError) as ei:
        import_config(text)
    assert ei.value.field == "config" and "line 3" in str(ei.value)


def test_config_import_refuses_non_objects_nan_duplicates_and_size():
    for text, field in (("[1, 2]", "config"), ('{"lam": NaN}', "lam"),
                        ('{"lam": Infinity}', "lam"), ('{"lam": 0.1, "lam": 0.2}', "lam"),
                        (b"\xff\xfe{}", "config")):
        cfg, errors = parse_config(text)
        assert cfg is None and errors[0].field == field, (text, errors)
    big = '{"lam": 0.1' + " " * (70 * 1024) + "}"
    cfg, errors = parse_config(big)
    assert cfg is None and "limit" in str(errors[0])
    assert parse_config('{"lam": 0.1, "lam": 0.1}')[0] == RunConfig(lam=0.1)   # same value twice


# --- metrics CSV ------------------------------------------------------------------------------
def test_metrics_csv_has_documented_columns(done_job):
    snap = done_job.snapshot()
    rows = list(csv.reader(io.StringIO(metrics_csv(snap))))
    header = rows[0]
    assert header[:5] == ["step", "loss_d", "loss_g", "reg_d", "reg_g"]
    assert header[1:1 + len(LOSS_KEYS)] == list(LOSS_KEYS)   # gp_d, the extra regularizers'
    mcols = header[1 + len(LOSS_KEYS):]
    assert mcols == sorted(mcols)
    for k in ("modes", "hq_frac", "rev_kl", "grid_kl", "grid_js", "sparsity_d", "sparsity_g",
              "zeros_d", "zeros_g", "sharpness_d", "sharpness_g"):
        assert k in mcols, k
    body = {int(r[0]): dict(zip(header, r)) for r in rows[1:]}
    steps = [int(r[0]) for r in rows[1:]]
    assert steps == sorted(set(steps))
    # step 0 is an evaluation only (no training step yet); eval steps carry metric values
    assert body[0]["loss_d"] == "" and body[0]["modes"] != ""
    for s in (5, 10, 15, 20, 23):
        assert body[s]["modes"] != "", s
    assert body[10]["sharpness_d"] != "" and body[5]["sharpness_d"] == ""
    # every training step is a history row here (23 steps < the history cap)
    for s in range(1, 24):
        assert body[s]["loss_d"] != "" and body[s]["loss_g"] != ""
    h = snap.history
    i = list(h["step"]).index(7)
    assert float(body[7]["loss_g"]) == h["loss_g"][i]   # repr precision: exact
    assert body[7]["modes"] == ""


# --- checkpoints ------------------------------------------------------------------------------
def _weights(job):
    with job._cond:
        g, d = job.trainer.state_dicts()
        return g, d, job.trainer.step, job.trainer.cfg


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_export_import_reproduces_samples(done_job, tmp_path):
    data = checkpoint_bytes(done_job)
    cfg, g, d, step = import_checkpoint(data)
    assert cfg == done_job.cfg and step == 23
    tr = Trainer(cfg)
    tr.load_weights(g, d, step)
    np.testing.assert_array_equal(tr.sample(), done_job.trainer.sample())
    # the same through a file, and from the other sources
    # (safetensors' header order varies between saves, so compare what the files hold)
    p = export_checkpoint(done_job, tmp_path / "run.safetensors")
    for other in (p, str(p), checkpoint_bytes(done_job.trainer),
                  checkpoint_bytes(done_job.snapshot())):
        cfg2, g2, d2, step2 = import_checkpoint(other)
        assert cfg2 == cfg and step2 == step and _same(g2, g) and _same(d2, d)


def test_continue_training_from_checkpoint(done_job):
    data = checkpoint_bytes(done_job)
    job = TrainingJob(RunConfig(steps=5, seed=99, g_hidden=8, d_hidden=8))
    try:
        cfg = continue_from_checkpoint(job, data)
        assert cfg == done_job.cfg and job.cfg == cfg
        g, d, step, _ = _weights(job)
        g0, d0, _, _ = _weights(done_job)
        assert step == 23 and _same(g, g0) and _same(d, d0)
        assert job.snapshot().step == 23
        job.update(steps=30)
        job.start()
        assert job.wait(timeout=60) == "done"
        assert job.snapshot().step == 30
    finally:
        job.stop()


@pytest.fixture
def victim():
    """A job part-way through its own run, to check refused imports change nothing."""
    job = TrainingJob(RunConfig(steps=100, seed=5, **SMALL))
    job.step(7)
    assert job.wait(timeout=60) == "paused"
    yield job
    job.stop()


def _refused(job, data, match, **kw):
    before = _weights(job)
    snap = job.snapshot()
    with pytest.raises((CheckpointError, ConfigError), match=match):
        continue_from_checkpoint(job, data, **kw)
    after = _weights(job)
    assert after[2] == before[2] == 7 and after[3] == before[3]
    assert _same(after[0], before[0]) and _same(after[1], before[1])
    assert job.snapshot() is snap and job.state == "paused"


def test_refuses_pickles_and_changes_nothing(victim, tmp_path):
    p = tmp_path / "evil.pt"
    torch.save(victim.trainer.G.state_dict(), p)    # zip-based pickle
    _refused(victim, p.read_bytes(), "pickle")
    _refused(victim, p, "pickle")

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    for proto in (2, 4, 5):
        _refused(victim, pickle.dumps({"G": Boom()}, protocol=proto), "pickle")
    _refused(victim, pickle.dumps({"x": 1}, protocol=0), "safetensors")


def test_refuses_truncated_and_garbage(victim, done_job):
    data = checkpoint_bytes(done_job)
    for cut in (len(data) - 1, len(data) // 2, 100, 7, 0):
        _refused(victim, data[:cut], "truncated|too short|header|not a safetensors")
    _refused(victim, b"\x00" * 64, "not a safetensors")
    _refused(victim, data, "limit", max_bytes=len(data) - 1)


def test_refuses_mismatched_shapes(victim):
    small = RunConfig(**{**SMALL, "g_hidden": 8})
    big = RunConfig(**{**SMALL, "g_hidden": 12})
    tr = Trainer(big)
    bad = save_checkpoint_bytes(tr.G, tr.D, small, 3)     # tensors do not fit the stored config
    _refused(victim, bad, "shape")


def test_refuses_caps_and_missing_points(victim, done_job):
    data = checkpoint_bytes(done_job)
    _refused(victim, data, "at most 10 steps", max_steps=10)
    cfg = RunConfig(dataset="custom", **SMALL)
    pts = np.random.default_rng(0).normal(size=(50, 2))
    tr = Trainer(cfg, pts)
    _refused(victim, save_checkpoint_bytes(tr.G, tr.D, cfg, 2), "custom points")


# --- points CSV -------------------------------------------------------------------------------
def test_points_csv_reads_and_names_bad_line(tmp_path):
    pts = import_points_csv(b"x,y\n1,2\n# note\n3;4\n\n5\t6\n")
    np.testing.assert_array_equal(pts, [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(ConfigError) as ei:
        import_points_csv("x,y\n1,2\n3,4\nfive,6\n7,8\n")
    assert ei.value.field == "points" and "line 4" in str(ei.value) and "five" in str(ei.value)
    p = tmp_path / "mine.csv"
    p.write_text("0,0\n1,1\n2,oops\n")
    with pytest.raises(ConfigError, match=r"mine\.csv line 3"):
        import_points_csv(p)
    with pytest.raises(ConfigError, match="limit"):
        import_points_csv(b"1,2\n" * 1000, max_bytes=1000)
    with pytest.raises(ConfigError, match="UTF-8"):
        import_points_csv(b"1,2\n\xff\xfe\n")


# --- images -----------------------------------------------------------------------------------
def test_samples_png(done_job):
    data = samples_png(done_job.snapshot())
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.size[0] > 100


def test_downscale_keeps_aspect():
    img = np.zeros((300, 600, 3), np.uint8)
    assert downscale(img, 200).shape == (100, 200, 3)
    assert downscale(img, 1000) is not img and downscale(img, 1000).shape == img.shape


def test_gif_from_a_real_run_decodes_with_frames(tmp_path):
    job = TrainingJob(RunConfig(steps=40, **SMALL))
    rec = FrameRecorder(max_frames=10, min_interval_steps=4, max_side=160)
    try:
        rec.add(job.snapshot())
        while True:
            job.step(4)
            state = job.wait(timeout=60)
            assert rec.maybe_add(job.snapshot())
            if state == "done":
                break
    finally:
        job.stop()
    assert 2 < len(rec) <= 10 and rec.steps[0] == 0 and rec.steps[-1] == 40
    assert max(rec.frames[0].shape[:2]) == 160
    data = rec.to_gif(tmp_path / "run.gif", fps=5)
    assert (tmp_path / "run.gif").read_bytes() == data
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF" and im.n_frames == len(rec) and im.info.get("loop") == 0
    im.seek(im.n_frames - 1)
    last = np.asarray(im.convert("RGB"), dtype=float)
    # the decoded last frame is the recorded one, up to palette rounding
    assert np.abs(last - rec.frames[-1]).mean() < 8


def _fake_snap(step, version):
    from types import SimpleNamespace
    return SimpleNamespace(step=step, weights_version=version)


class _ArrayRecorder(FrameRecorder):
    """Frames from numbers instead of matplotlib, to test the bookkeeping alone fast."""

    def _render(self, snap, fig):
        return np.full((20, 30, 3), snap.step % 256, np.uint8)


def test_recorder_memory_is_bounded_and_spans_the_run():
    rec = _ArrayRecorder(max_frames=8, min_interval_steps=1)
    for s in range(0, 10_000):
        rec.maybe_add(_fake_snap(s, s))
    assert len(rec) <= 8 and rec.nbytes <= 8 * 20 * 30 * 3
    assert rec.steps[0] == 0 and rec.steps[-1] > 8000
    gaps = np.diff(rec.steps)
    assert gaps.min() >= gaps.max() / 2     # evenly spread, not bunched at one end
    assert rec.interval > 1000
    assert not rec.maybe_add(_fake_snap(rec.steps[-1], rec.steps[-1]))   # nothing new: skip
    rec.clear()
    assert len(rec) == 0 and rec.interval == 1


def test_recorder_gif_uses_one_palette_and_loops(tmp_path):
    rec = _ArrayRecorder(max_frames=5)
    for s in range(5):
        rec.add(_fake_snap(s * 40, s))
    buf = io.BytesIO()
    data = rec.to_gif(buf, fps=10)
    assert buf.getvalue() == data
    im = Image.open(io.BytesIO(data))
    assert im.n_frames == 5 and im.info["loop"] == 0
    with pytest.raises(ValueError, match="no frames"):
        FrameRecorder().to_gif()


def test_paths_are_files_and_str_is_content(tmp_path):
    p = tmp_path / "cfg.json"
    p.write_text('{"seed": 4}')
    assert import_config(Path(p)).seed == 4
    with pytest.raises(ConfigError, match="line 1"):
        import_config(str(p))     # a str is JSON text, which a path is not
