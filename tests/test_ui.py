"""The launched GAN Lab app, driven over HTTP with gradio_client exactly as the page drives it.

The page's gr.Timer calls the public "poll" endpoint; these tests call it the same way. Outputs
that did not change since the session's previous frame come back as gradio's skip marker
({"__type__": "update"}), which is how the browser receives them too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from gan_lab.config import RunConfig, specs
from gan_lab.placement import check_limits
from gan_lab.presets import PRESETS
from gan_lab.ui.controls import md_escape
from gan_lab.ui.sessions import Limits

ROOT = Path(__file__).resolve().parents[1]
# The client gets no value for layout blocks, so the page's 2-D toggles row is not among these.
FRAME = ("status", "loss", "quality", "sparsity", "sharpness", "samples", "weights", "layer",
         "timer", "penalty")


def skipped(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update"


def frame_of(result, *, with_msg: bool) -> dict:
    """Name the leading outputs: control handlers return (msg, *FRAME, *controls...), poll
    returns FRAME."""
    names = (("msg",) if with_msg else ()) + FRAME
    return dict(zip(names, result))


def status_step(status: str) -> int:
    # "**Training** · step **123** / 3,000 · ..."
    return int(status.split("step **", 1)[1].split("**", 1)[0].replace(",", ""))


def rows(lineplot) -> list:
    # A chart whose title changes in the same frame (an empty chart's "waiting" title giving
    # way to its data) comes as an update holding the data as its value.
    if isinstance(lineplot, dict) and isinstance(lineplot.get("value"), dict):
        lineplot = lineplot["value"]
    return lineplot["data"] if isinstance(lineplot, dict) and "data" in lineplot else []


def image_len(plot) -> int:
    if isinstance(plot, dict) and isinstance(plot.get("plot"), str):
        return len(plot["plot"]) if plot["plot"].startswith("data:image/") else 0
    return 0


class Session:
    """One gradio_client Client = one browser session on the server."""

    def __init__(self, url: str):
        self.c = Client(url, verbose=False)
        self.status = ""
        self.loss: list = []
        self.penalty: list = []

    def call(self, api: str, **kw) -> dict:
        f = frame_of(self.c.predict(api_name=f"/{api}", **kw), with_msg=api != "poll")
        self._note(f)
        return f

    def _note(self, f: dict) -> None:
        if not skipped(f.get("status")) and f.get("status"):
            self.status = f["status"]
        if rows(f.get("loss")):
            self.loss = rows(f["loss"])
        pen = f.get("penalty")
        if isinstance(pen, dict) and rows(pen.get("value")):
            self.penalty = rows(pen["value"])

    def poll_until(self, pred, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.call("poll")
            if pred(self):
                return f
            time.sleep(0.1)
        raise AssertionError(f"condition not reached in {timeout}s; last status: {self.status}")

    @property
    def step(self) -> int:
        return status_step(self.status)

    def close(self) -> None:
        try:
            self.c.predict(api_name="/pause")
        finally:
            self.c.close()


@pytest.fixture
def sessions(live_app):
    url, demo = live_app
    made: list[Session] = []

    def make() -> Session:
        s = Session(url)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    reg = demo.gan_lab.registry
    deadline = time.monotonic() + 10
    while reg.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reg.running() == 0, "a test left a job running"


# ------------------------------------------------------------------------------------------------
# Streaming and controls


def test_train_streams_updates_with_plots(sessions):
    s = sessions()
    s.call("init")
    t0 = time.monotonic()
    first = s.call("train", steps=3000)
    latency = time.monotonic() - t0
    assert first["msg"] == "" or "gl-err" not in first["msg"], first["msg"]
    assert "Training" in first["status"]
    # The Train answer is itself the first frame: status and curves, no tick needed.
    assert not skipped(first["loss"])
    print(f"\nTrain -> first frame: {latency * 1000:.0f} ms")
    assert latency < 3.0

    updates, steps, t_start = [], [], time.monotonic()
    while len(updates) < 3 and time.monotonic() - t_start < 20:
        f = s.call("poll")
        if not skipped(f["status"]) and rows(f["loss"]) and image_len(f["samples"]) > 1000:
            updates.append(f)
            steps.append(s.step)
        time.sleep(0.2)
    assert len(updates) >= 3, "fewer than 3 streamed updates with plots in 20 s"
    assert steps == sorted(steps) and steps[-1] > steps[0], steps
    assert {r[2] for r in s.loss} >= {"D loss", "G loss"}
    # The histogram and metric charts arrive too (at their own, slower pace).
    s.poll_until(lambda _: True)
    f = s.call("pause")
    assert "Paused" in f["status"]


def test_stream_rate(sessions):
    """Poll like the page's timer does and count frames that carry a new picture."""
    s = sessions()
    s.call("train", steps=100_000)
    t0, frames = time.monotonic(), 0
    while time.monotonic() - t0 < 4.0:
        f = s.call("poll")
        frames += image_len(f["samples"]) > 0
    rate = frames / (time.monotonic() - t0)
    step0 = s.step
    time.sleep(1.0)
    s.call("poll")
    print(f"\nsample frames/s at the client: {rate:.1f}; training at step {s.step} "
          f"({s.step - step0} steps in ~1 s of idle polling); load {os.getloadavg()[0]:.1f}")
    # >= 2/s is the target on a 2-core box running this alone; an oversubscribed CPU (other
    # jobs, load above 1.5 per core) only supports a lower floor.
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    assert rate >= (2.0 if load < 1.5 else 1.0)


def test_pause_step_reset(sessions):
    s = sessions()
    s.call("train", steps=100_000)
    s.poll_until(lambda x: x.step >= 20)
    f = s.call("pause")
    assert "Paused" in f["status"]
    paused_at = s.step
    time.sleep(0.5)
    s.call("poll")
    assert s.step == paused_at, "training went on after Pause"

    f = s.call("step", steps=100_000)
    assert s.step == paused_at + 1, f["status"]
    assert "Paused" in f["status"]

    f = s.call("reset", steps=100_000)
    assert s.step == 0
    assert "Reset" in f["msg"] and "seed 0" in f["msg"]
    assert image_len(f["samples"]) > 1000, "reset did not redraw the samples"


def test_live_change_keeps_weights_and_rebuild_says_so(sessions):
    s = sessions()
    s.call("train", steps=100_000, reg="none")
    s.poll_until(lambda x: x.step >= 30)
    before = s.step
    f = s.call("train", steps=100_000, reg="l1", lam=0.05, lr_d=5e-4)
    assert "Rebuilt" not in f["msg"], f["msg"]
    assert s.step >= before, "changing lambda/regularizer/lr reset the run"
    s.poll_until(lambda x: any(r[2] == "D penalty" for r in x.penalty))

    f = s.call("train", steps=100_000, reg="l1", lam=0.05, lr_d=5e-4, d_hidden=48)
    assert "Rebuilt the networks" in f["msg"] and "D width" in f["msg"], f["msg"]
    assert s.step < before + 50


def test_two_clients_are_independent(sessions):
    a, b = sessions(), sessions()
    a.call("train", steps=150, seed=0)
    b.call("train", steps=150, seed=1)
    a.poll_until(lambda x: "Done" in x.status, timeout=30)
    b.poll_until(lambda x: "Done" in x.status, timeout=30)
    assert a.step == b.step == 150
    la = [r[1] for r in a.loss if r[2] == "D loss"]
    lb = [r[1] for r in b.loss if r[2] == "D loss"]
    assert la and lb and la != lb, "different seeds gave identical losses: sessions are shared"

    a.call("train", steps=100_000, seed=0)
    b.call("train", steps=100_000, seed=1)
    a.poll_until(lambda x: x.step > 170)
    a.call("pause")
    b_before = b.step
    b.poll_until(lambda x: x.step > b_before + 20)
    assert "Training" in b.status, "one session's Pause paused another"
    a.call("poll")
    assert "Paused" in a.status


def test_bad_input_is_reported_and_app_keeps_serving(sessions):
    s = sessions()
    cases = [
        (dict(lam=-1), ("Lambda", "[0, 1]")),
        (dict(d_hidden=0), ("D width", "[1, 1024]")),
        (dict(batch_size=0), ("Batch size", "[1, 4096]")),
        (dict(batch_size="abc"), ("Batch size", "whole number")),
        (dict(lr_g="fast"), ("G learning rate", "finite number")),
    ]
    for kw, needles in cases:
        f = s.call("train", **kw)
        assert "gl-err" in f["msg"], (kw, f["msg"])
        for n in needles:
            assert n in f["msg"], (kw, f["msg"])
        assert "Traceback" not in f["msg"]
    # Step and Reset validate too, and nothing was started by the bad calls.
    assert "Lambda" in s.call("step", lam=2)["msg"]
    assert "Steps" in s.call("reset", steps=0)["msg"]
    f = s.call("train", steps=2000)
    assert "gl-err" not in f["msg"]
    s.poll_until(lambda x: x.step > 5)
    assert "Training" in s.status


def test_more_sessions_than_cores_all_train_and_say_they_share(sessions, live_app):
    _, demo = live_app
    limits = demo.gan_lab.registry.limits
    clients = [sessions() for _ in range(limits.max_running + 2)]
    for c in clients:
        f = c.call("train", steps=100_000)
        assert "busy" not in f["msg"] and "gl-err" not in f["msg"], f["msg"]
    # Every one of them advances (they take turns on the worker processes) ...
    for c in clients:
        first = c.step
        c.poll_until(lambda x, first=first: x.step > first + 5, timeout=30)
    # ... and the status line tells a student the server is shared.
    assert "sharing the server with" in clients[-1].status, clients[-1].status
    # Per-session caps come back as field errors.
    c = clients[0]
    f = c.call("train", steps=limits.max_steps + 1)
    assert "Steps" in f["msg"] and f"{limits.max_steps:,}" in f["msg"], f["msg"]
    f = c.call("train", g_hidden=1024, d_hidden=1024, g_depth=8, d_depth=8)
    assert "parameters" in f["msg"], f["msg"]


def poll_charts(s: Session, timeout: float = 60) -> dict:
    """Poll until the run is done; the last charts each poll sent, by name. The last three
    outputs of a poll are the weight-spectrum, D's generalization-gap and the adaptive lambda's
    charts."""
    charts: dict = {}
    deadline = time.monotonic() + timeout
    while "Done" not in s.status and time.monotonic() < deadline:
        raw = s.c.predict(api_name="/poll")
        s._note(frame_of(raw, with_msg=False))
        for name, v in (("spectrum", raw[-3]), ("gap", raw[-2]), ("lambda", raw[-1])):
            value = v.get("value", v) if isinstance(v, dict) else v
            if rows(value):
                charts[name] = value
        time.sleep(0.1)
    return charts


def test_combined_regularizers_and_adaptive_lambda_in_the_app(sessions):
    s = sessions()
    f = s.call("train", reg="l1", lam=0.001, extra_regs="l2:d", g_hidden=32, d_hidden=32,
               steps=60, eval_every=20, sharpness_every=0)
    assert "Extra regularizers" in f["msg"] and "kind:target:lambda" in f["msg"], f["msg"]
    f = s.call("train", reg="l1", lam=0.001, extra_regs="l2:d:0.01", lam_goal=0.5,
               g_hidden=32, d_hidden=32, steps=60, eval_every=20, sharpness_every=0)
    assert "gl-err" not in f["msg"], f["msg"]
    charts = poll_charts(s)
    assert "Done" in s.status, s.status
    assert {"D penalty", "D L2 (extra)"} <= {r[2] for r in s.penalty}   # step, value, series
    lams = [r[1] for r in rows(charts["lambda"])]
    assert {r[2] for r in rows(charts["lambda"])} == {"lambda"} and max(lams) > 0.001


def test_mnist_run_streams_digit_grid(sessions):
    s = sessions()
    f = s.call("train", dataset="mnist", latent_dim=64, g_hidden=64, d_hidden=64, batch_size=32,
               steps=40, eval_every=20, sharpness_every=0)
    assert "gl-err" not in f["msg"], f["msg"]
    charts = poll_charts(s)
    assert "Done" in s.status, s.status
    assert "digits" in s.status and "D gap" in s.status, s.status
    # Rows are (step, value, series).
    assert {r[2] for r in rows(charts["gap"])} == {"D gap (train - held-out)"}
    assert {r[2] for r in rows(charts["spectrum"])} == {"D", "G"}
    f = s.call("reset", dataset="mnist", latent_dim=64, g_hidden=64, d_hidden=64,
               batch_size=32, steps=40, eval_every=20, sharpness_every=0)
    assert image_len(f["samples"]) > 1000


def test_spectral_norm_and_wgan_gp_train_in_the_app(sessions):
    s = sessions()
    f = s.call("train", spectral_norm="d", loss="wgan-gp", d_steps=2, g_hidden=32, d_hidden=32,
               steps=60, eval_every=30, sharpness_every=0)
    assert "gl-err" not in f["msg"], f["msg"]
    s.poll_until(lambda x: "Done" in x.status and x.penalty, timeout=60)
    assert "D gradient penalty (R1 / WGAN-GP)" in {r[2] for r in s.penalty}   # step, value, series


def test_drawing_survives_a_dead_render_process(sessions, live_app):
    _, demo = live_app
    r = demo.gan_lab.renderers
    if not r.use_process:
        pytest.skip("this server draws in-process (the render child could not start)")
    s = sessions()
    s.call("init")
    r._proc.kill()
    r._proc.wait(timeout=10)
    f = s.call("reset")
    assert "gl-err" not in f["msg"], f["msg"]
    assert image_len(f["samples"]) > 1000


def test_settings_export_and_load(sessions):
    s = sessions()
    out = s.c.predict(lam=0.02, reg="l2", api_name="/export")
    text = out[-1]
    assert json.loads(text)["lam"] == 0.02 and json.loads(text)["reg"] == "l2"
    f = frame_of(s.c.predict(settings=text, api_name="/load_settings"), with_msg=True)
    assert "loaded" in f["msg"]
    for bad, needles in (('{"batch_size": "abc"}', ("Batch size", "whole number")),
                         ('{"nope": 1}', ("nope", "unknown field")),
                         ("{not json", ("config", "not valid JSON"))):
        f = frame_of(s.c.predict(settings=bad, api_name="/load_settings"), with_msg=True)
        for n in needles:
            assert n in f["msg"], (bad, f["msg"])


def job_threads() -> int:
    return sum(t.name == "gan-lab-thread" for t in threading.enumerate())


def test_no_thread_leak_after_many_sessions(live_app):
    url, demo = live_app
    reg = demo.gan_lab.registry

    def cycle(i: int) -> None:
        s = Session(url)
        s.call("train", steps=100_000, seed=i)
        s.poll_until(lambda x: x.step > 3)
        s.call("pause")
        s.call("train", steps=100_000, seed=i)
        s.call("reset", steps=100_000, seed=i)
        s.call("train", steps=100_000, seed=i)
        # No Pause here: closing the tab (heartbeat gone -> unload) must stop a running job.
        s.c.close()

    def settle() -> None:
        deadline = time.monotonic() + 20
        while (job_threads() or reg.running()) and time.monotonic() < deadline:
            time.sleep(0.2)

    # Two warm-up cycles first: the web server's worker pool grows to its working size on
    # first use, and that is a pool, not a leak.
    for i in range(2):
        cycle(i)
    settle()
    base_all = threading.active_count()
    for i in range(2, 10):
        cycle(i)
    settle()
    # Threads of the closed sessions' last requests (gradio's handler pool, heartbeats) may take
    # a few seconds to finish after a busy stretch; a leak would never come down.
    deadline = time.monotonic() + 15
    while threading.active_count() > base_all + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"\njob threads left: {job_threads()}, all threads {base_all} -> "
          f"{threading.active_count()} after 8 more sessions")
    assert job_threads() == 0, "job threads outlived their closed sessions"
    assert reg.running() == 0
    assert threading.active_count() <= base_all + 3


# ------------------------------------------------------------------------------------------------
# Declarations: controls and presets derive from RunConfig


def test_controls_come_from_runconfig(live_app):
    _, demo = live_app
    ctl = demo.gan_lab.ctl
    for s in specs():
        if not s["ui"]:
            continue
        comp = ctl.fields[s["name"]]
        assert md_escape(s["help"]) in comp.info, s["name"]
        assert comp.label == (s["label"] or s["name"])
        if s["choices"] is not None:
            assert {c[1] for c in comp.choices} <= set(s["choices"])
        assert comp.value == s["default"], s["name"]
    lam = ctl.log_sliders["lam"]
    assert (lam.minimum, lam.maximum) == (-6.0, 0.0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_configs(name):
    cfg = RunConfig.from_dict(PRESETS[name]["fields"])
    lim = Limits()
    check_limits(cfg, lim.max_steps, lim.max_params)
    assert PRESETS[name]["description"]


def test_app_py_honours_gradio_env(free_port):
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    p = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert p.poll() is None, p.stdout.read().decode(errors="replace")[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    assert b"GAN Lab" in r.read()
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("app.py did not serve on GRADIO_SERVER_PORT within 90 s")
    finally:
        p.terminate()
        p.wait(timeout=20)
