"""Share links, downloads and uploads, through the launched app with gradio_client.

A share link is tested the way a browser opens it: the page's query travels with the page-load
event (gradio's page sends window.location.search with every event; here httpx sends the same
query), and the app reads it from request.query_params. Downloads are decoded with the real
readers (json, csv, Pillow, checkpoint.load_checkpoint). Uploads that must be refused are checked
to change nothing: the session's job (config, step, weights) is compared before and after.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from gan_lab.checkpoint import load_checkpoint
from gan_lab.config import RunConfig
from gan_lab.losses import LOSS_KEYS
from gan_lab.models import build_models

FRAME = ("status", "loss", "quality", "sparsity", "sharpness", "samples", "weights", "layer",
         "timer", "penalty")


def skipped(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update" and "value" not in v


def value(v):
    return v.get("value") if isinstance(v, dict) and v.get("__type__") == "update" else v


class Tab:
    """One gradio_client Client = one browser tab; `query` is the page URL's query."""

    def __init__(self, live_app, query: str | None = None):
        url, demo = live_app
        self.app = demo.gan_lab
        kw = {"httpx_kwargs": {"params": query}} if query else {}
        self.c = Client(url, verbose=False, **kw)

    def full(self, api: str, **kw) -> dict:
        """A handler whose outputs are (msg, *FRAME, *controls, ...): named by output."""
        res = self.c.predict(api_name=f"/{api}", **kw)
        names = ("msg", *FRAME, *self.app.ctl.names)
        return dict(zip(names, res))

    def controls(self, f: dict) -> dict:
        return {n: value(f[n]) for n in self.app.ctl.names}

    @property
    def session(self):
        return self.app.registry.get(self.c.session_hash)

    @property
    def job(self):
        return self.session.job

    def fingerprint(self):
        """What a refused upload must not change: config, step and weights of the job."""
        snap = self.job.snapshot()
        return (snap.cfg, snap.step, {k: v.clone() for k, v in snap.g_state.items()},
                {k: v.clone() for k, v in snap.d_state.items()})

    def poll_until(self, pred, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.c.predict(api_name="/poll")
            if pred(self.job.snapshot()):
                return
            time.sleep(0.1)
        raise AssertionError(f"not reached in {timeout}s: {self.job.snapshot().message}")

    def close(self):
        try:
            self.c.predict(api_name="/pause")
        finally:
            self.c.close()


def same(a, b) -> bool:
    return (a[0] == b[0] and a[1] == b[1]
            and all(torch.equal(a[2][k], b[2][k]) for k in a[2])
            and all(torch.equal(a[3][k], b[3][k]) for k in a[3]))


def settle(registry, timeout=15.0) -> None:
    """Wait until no job of any session trains: the server runs at most max_running at once,
    and an earlier test's closed tabs stop their jobs only when their unload arrives."""
    deadline = time.monotonic() + timeout
    while registry.running() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def tabs(live_app):
    registry = live_app[1].gan_lab.registry
    settle(registry)
    made: list[Tab] = []

    def make(query: str | None = None) -> Tab:
        t = Tab(live_app, query)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
    settle(registry)
    assert registry.running() == 0, "a test left a job running"


# Several fields from every group, so a link has to carry more than one kind of value.
LINK_CFG = dict(dataset="spiral", reg="l1", lam=0.02, reg_target="both", d_hidden=96,
                g_depth=3, lr_d=5e-4, batch_size=128, seed=7, steps=5000)


# ------------------------------------------------------------------------------------------------
# Share by link


def test_share_link_round_trip_sets_every_control(tabs):
    a = tabs()
    a.full("init")
    msg, link = a.c.predict(page_url="http://lab.example:8080/gan/?__sign=secret&lam=1",
                            api_name="/share_link", **LINK_CFG)
    assert "gl-err" not in msg, msg
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "lab.example:8080", "/gan/")
    assert "__sign" not in link, "the visitor's Space token must not be shared"
    want = RunConfig.from_dict(LINK_CFG)
    assert dict(parse_qsl(parts.query)).keys() == want.non_default().keys()

    b = tabs(parts.query)            # a new tab opened with the link
    f = b.full("init")
    assert "gl-err" not in f["msg"] and "Settings from the link" in f["msg"], f["msg"]
    assert b.controls(f) == {n: getattr(want, n) for n in b.app.ctl.names}
    assert b.job.cfg == want, "the job was not rebuilt for the link's config"


def test_bad_link_is_reported_and_nothing_applied(tabs):
    t = tabs("lam=5&d_hidden=abc&nope=1&utm_source=chat&reg=l1")
    f = t.full("init")
    msg = f["msg"]
    assert "gl-err" in msg and "not applied" in msg, msg
    for needle in ("Lambda", "[0, 1]", "D width", "whole number", "nope", "unknown setting"):
        assert needle in msg, (needle, msg)
    assert "utm_source" not in msg and "Traceback" not in msg
    # reg=l1 was valid but is not applied either: a link is all or nothing.
    assert all(skipped(f[n]) for n in t.app.ctl.names)
    assert t.job.cfg == RunConfig()


def test_link_over_the_server_caps_is_refused(tabs, live_app):
    limits = live_app[1].gan_lab.registry.limits
    t = tabs(f"steps={limits.max_steps + 1}")
    f = t.full("init")
    assert "not applied" in f["msg"] and "Steps" in f["msg"], f["msg"]
    assert t.job.cfg == RunConfig()


# ------------------------------------------------------------------------------------------------
# Downloads


def download(t: Tab, kind: str, **controls) -> tuple[str, Path | None]:
    msg, path = t.c.predict(api_name=f"/download_{kind}", **controls)
    return msg, (Path(path) if isinstance(path, str) and path else None)


def train_a_little(t: Tab, steps=200, **cfg) -> None:
    t.full("train", steps=steps, **cfg)
    t.poll_until(lambda s: s.state == "done")
    # A few more polls so the picture of the final state is drawn (and recorded).
    for _ in range(5):
        t.c.predict(api_name="/poll")
        time.sleep(0.1)


def test_downloads_decode(tabs):
    t = tabs()
    t.full("init")
    train_a_little(t, steps=300, eval_every=100, seed=3)

    msg, path = download(t, "config", steps=300, eval_every=100, seed=3)
    assert path.suffix == ".json", msg
    assert RunConfig.from_json(path.read_text()) == RunConfig(steps=300, eval_every=100, seed=3)

    msg, path = download(t, "metrics")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    n = 1 + len(LOSS_KEYS)
    assert rows[0][:n] == ["step", *LOSS_KEYS], rows[0]
    assert rows[0][n:] == sorted(rows[0][n:]) and "modes" in rows[0], rows[0]
    steps = [int(r[0]) for r in rows[1:]]
    assert steps == sorted(steps) and steps[-1] == 300 and len(steps) > 10

    msg, path = download(t, "samples")
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) > 200

    msg, path = download(t, "gif")
    assert path is not None, msg
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames > 1, (im.n_frames, msg)
        assert max(im.size) <= 256

    msg, path = download(t, "checkpoint")
    cfg, g_state, d_state, step = load_checkpoint(path)
    snap = t.job.snapshot()
    assert cfg == snap.cfg and step == snap.step == 300
    # The checkpoint reproduces the run's samples: the same noise through G built from the file
    # and from the job's own weights gives the same points.
    z = torch.randn(256, cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    outs = []
    for state in (g_state, snap.g_state):
        G, _ = build_models(cfg)
        G.load_state_dict(state)
        with torch.no_grad():
            outs.append(G.eval()(z))
    assert torch.equal(outs[0], outs[1])


def test_gif_needs_a_run_and_reset_clears_it(tabs):
    t = tabs()
    t.full("init")
    msg, path = download(t, "gif")
    assert path is None and "at least two" in msg, msg
    train_a_little(t, steps=150)
    assert len(t.session.recorder) > 1
    t.full("reset", steps=150)
    assert len(t.session.recorder) <= 1, "Reset kept the old run's GIF frames"


# ------------------------------------------------------------------------------------------------
# Uploads: checkpoints


@pytest.fixture
def checkpoint_file(tabs, tmp_path):
    """A real exported checkpoint of a short run with a non-default config."""
    a = tabs()
    a.full("init")
    train_a_little(a, steps=120, d_hidden=48, seed=5)
    _, path = download(a, "checkpoint")
    dest = tmp_path / "run.safetensors"
    dest.write_bytes(path.read_bytes())
    return dest


def test_continue_from_checkpoint(tabs, checkpoint_file):
    cfg, g_state, _, step = load_checkpoint(checkpoint_file)
    b = tabs()
    b.full("init")
    f = b.full("upload_checkpoint", file=handle_file(str(checkpoint_file)))
    assert "gl-err" not in f["msg"] and "loaded" in f["msg"], f["msg"]
    assert b.controls(f) == {n: getattr(cfg, n) for n in b.app.ctl.names}
    snap = b.job.snapshot()
    assert snap.step == step == 120 and snap.cfg == cfg
    assert all(torch.equal(snap.g_state[k], g_state[k]) for k in g_state)
    # Continue training past the checkpoint's step (the run had ended at cfg.steps).
    b.full("train", **{**cfg.to_dict(), "steps": 200})
    b.poll_until(lambda s: s.state == "done" and s.step == 200)


def _upload_refused(t: Tab, path: Path, *needles: str) -> None:
    before = t.fingerprint()
    f = t.full("upload_checkpoint", file=handle_file(str(path)))
    assert "gl-err" in f["msg"] and "Checkpoint refused" in f["msg"], f["msg"]
    for n in needles:
        assert n in f["msg"], (n, f["msg"])
    assert "Traceback" not in f["msg"]
    assert same(before, t.fingerprint()), "a refused checkpoint changed the job"


def test_refused_checkpoints_change_nothing(tabs, checkpoint_file, tmp_path):
    t = tabs()
    t.full("init")
    t.full("step")
    G, D = build_models(RunConfig())

    pkl = tmp_path / "pickled.safetensors"
    pkl.write_bytes(pickle.dumps({"G": G.state_dict(), "D": D.state_dict()}))
    _upload_refused(t, pkl, "pickle")

    ts = tmp_path / "torch_saved.safetensors"
    torch.save({"G": G.state_dict(), "D": D.state_dict()}, ts)
    _upload_refused(t, ts, "pickle")

    pt = tmp_path / "model.pt"
    torch.save(G.state_dict(), pt)
    _upload_refused(t, pt, "not a .safetensors file")

    data = checkpoint_file.read_bytes()
    cut = tmp_path / "truncated.safetensors"
    cut.write_bytes(data[: len(data) * 2 // 3])
    _upload_refused(t, cut, "damaged or truncated")

    # Shapes of a d_hidden=48 run under a header whose config says d_hidden=32.
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    cfg, *_ = load_checkpoint(checkpoint_file)
    bad = tmp_path / "mismatch.safetensors"
    bad.write_bytes(st_save(st_load(data), metadata={
        "format": "gan-lab-checkpoint-v1", "config": cfg.replace(d_hidden=32).to_json(),
        "step": "120"}))
    _upload_refused(t, bad, "has shape", "needs")


# ------------------------------------------------------------------------------------------------
# Uploads: config JSON and points


def test_upload_config(tabs, tmp_path):
    t = tabs()
    t.full("init")
    good = tmp_path / "good.json"
    want = RunConfig.from_dict(LINK_CFG)
    good.write_text(want.to_json())
    f = t.full("upload_config", file=handle_file(str(good)))
    assert "gl-err" not in f["msg"], f["msg"]
    assert t.controls(f) == {n: getattr(want, n) for n in t.app.ctl.names}
    assert t.job.cfg == want

    before = t.fingerprint()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lam": -1, "batch_size": "abc", "nope": 1}))
    f = t.full("upload_config", file=handle_file(str(bad)))
    for needle in ("not loaded", "3 problems", "Lambda", "Batch size", "nope"):
        assert needle in f["msg"], (needle, f["msg"])
    assert all(skipped(f[n]) for n in t.app.ctl.names)
    assert same(before, t.fingerprint())


def test_upload_points_selects_custom_and_trains(tabs, tmp_path):
    t = tabs()
    t.full("init")
    before = t.fingerprint()
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n0.1,0.2\n0.3,zero\n")
    f = t.full("upload_points", file=handle_file(str(bad)))
    assert "gl-err" in f["msg"] and "line 3" in f["msg"], f["msg"]
    assert same(before, t.fingerprint())
    assert t.session.points is None

    good = tmp_path / "pts.csv"
    good.write_text("x,y\n" + "\n".join(f"{i % 7 * 0.3:.2f},{i % 5 * -0.4:.2f}"
                                        for i in range(300)) + "\n")
    f = t.full("upload_points", file=handle_file(str(good)))
    assert "gl-err" not in f["msg"] and "300 points" in f["msg"], f["msg"]
    assert value(f["dataset"]) == "custom"
    assert t.job.cfg.dataset == "custom" and t.session.points.shape == (300, 2)
    # The menu now offers 'custom', so every later event accepts it as the dataset.
    f = t.full("train", dataset="custom", steps=50)
    assert "gl-err" not in f["msg"], f["msg"]
    t.poll_until(lambda s: s.state == "done" and s.step == 50)
    msg, _ = t.c.predict(page_url="", api_name="/share_link", dataset="custom")
    assert "cannot carry your uploaded points" in msg
