"""Many runs per session through the launched app (gradio_client): a comparison where A and B
both train, a sweep that fills its table and trade-off plot, and a guided lesson."""

from __future__ import annotations

import pytest
from gradio_client import Client
from helpers import wait_until

from gan_lab.ui.storage import session_token

SMALL = dict(g_hidden=32, d_hidden=32, g_depth=2, d_depth=2, batch_size=64, eval_every=20,
             sharpness_every=40)
# /poll's outputs as a client sees them (layout blocks carry no value): status, loss, quality,
# sparsity, sharpness, samples, weights, layer, timer, penalty, then the views added since.
POLL = ("status", "loss", "quality", "sparsity", "sharpness", "samples", "weights", "layer",
        "timer", "penalty", "fidelity", "divergence", "a_samples", "b_samples", "overlay",
        "a_weights", "b_weights", "compare_status", "sweep_table", "sweep_plot", "saved_plot",
        "spectrum", "gap", "lambda")


def poll(c) -> dict:
    r = c.predict(api_name="/poll")
    assert len(r) == len(POLL)
    return dict(zip(POLL, r))


def image(v) -> bool:
    return isinstance(v, dict) and str(v.get("plot", "")).startswith("data:image/")


def session(demo, client):
    return demo.gan_lab.registry._sessions[session_token(client.session_hash)]


@pytest.fixture
def client(live_app):
    url, demo = live_app
    c = Client(url, verbose=False)
    yield c, demo
    s = demo.gan_lab.registry._sessions.get(session_token(c.session_hash))
    if s is not None:
        for j in s.jobs():
            j.pause()
    c.close()


def test_compare_trains_a_and_b_side_by_side(client):
    c, demo = client
    c.predict(api_name="/reset", steps=120, **SMALL)
    out = c.predict(api_name="/with_without", steps=120, **SMALL)
    assert "A: no regularizer" in out[0] and "same seed" in out[0].lower(), out[0]
    s = session(demo, c)
    assert s.job_a.cfg.reg == "none" and s.job.cfg.reg == "l1"
    assert s.job_a.cfg.seed == s.job.cfg.seed
    # The controls now show B's settings; Train B beside A trains both.
    cfg_b = s.job.cfg
    out = c.predict(api_name="/train_ab", **{**SMALL, "steps": 120, "reg": "l1",
                                            "lam": cfg_b.lam, "l1_mode": cfg_b.l1_mode})
    assert "side by side" in out[0], out[0]
    wait_until(lambda: s.job_a.snapshot().step > 10 and s.job.snapshot().step > 10, 60,
             "both runs advancing")
    s.tab = "compare"   # what the page's tab switch does
    s.shown.pop("compare", None)
    seen = set()

    status = []

    def pictures():
        f = poll(c)
        seen.update(k for k in ("a_samples", "b_samples", "overlay", "a_weights", "b_weights")
                    if image(f[k]))
        if isinstance(f["compare_status"], str):
            status.append(f["compare_status"])
        return seen >= {"a_samples", "b_samples", "overlay", "a_weights", "b_weights"}

    wait_until(pictures, 90, "both runs' pictures and the overlay")
    assert status and "**A**" in status[0] and "**B**" in status[0], status


def test_keep_as_a_pins_the_run_and_b_gets_as_seed(client):
    c, demo = client
    c.predict(api_name="/step", steps=500, seed=3, **SMALL)
    out = c.predict(api_name="/keep_a", steps=500, seed=3, **SMALL)
    assert "Run A pinned at step 1" in out[0], out[0]
    s = session(demo, c)
    a = s.job_a
    out = c.predict(api_name="/train_ab", steps=500, seed=9, lr_d=5e-4, **SMALL)
    assert "uses A's seed (3)" in out[0], out[0]
    assert s.job.cfg.seed == 3 and s.job.cfg.lr_d == 5e-4 and s.job_a is a


def test_a_sweep_fills_its_table_and_plot(client):
    c, demo = client
    out = c.predict(api_name="/sweep", field="lam", values="0.001, 0.01, 0.1",
                    **{**SMALL, "steps": 60, "reg": "l2"})
    assert "Sweep of <b>Lambda</b> over 3 values" in out[0], out[0]
    s = session(demo, c)
    assert [j.cfg.lam for j in s.sweep.jobs] == [0.001, 0.01, 0.1]
    s.tab = "sweep"
    table, plot, titles = {}, {}, []

    def finished():
        f = poll(c)
        t = f["sweep_table"]
        if isinstance(t, dict) and t.get("__type__") == "update":
            titles.append(t.get("label"))
            t = t.get("value")
        if isinstance(t, dict) and t.get("data"):
            table.update(t)
        if image(f["sweep_plot"]):
            plot.update(f["sweep_plot"])
        done = all(j.state == "done" for j in s.sweep.jobs)
        return done and table and plot and all(r[1] == "done" for r in table["data"])

    wait_until(finished, 120, "the sweep's three runs")
    rows = table["data"]
    assert len(rows) == 3
    assert table["headers"][0] == "Lambda" and "D sparse %" in table["headers"]
    # at most two of a session's sweep runs trained at once
    assert max(sum(j.state == "running" for j in s.sweep.jobs), 0) <= 2
    # the table's title says how far the sweep is, and then that it finished
    assert any(t and "sweep is running" in t for t in titles), titles
    wait_until(lambda: any(t and "the sweep finished" in t for t in titles) or
               finished() and False, 20, "the finished title")
    assert any("the sweep finished, 3 of 3 runs done" in t for t in titles if t), titles
    for row in rows:   # numbers rounded for reading: at most 3 significant digits
        for v in row[2:]:
            if isinstance(v, float):
                assert len(f"{v:g}".replace("-", "").replace(".", "").lstrip("0")) <= 3, row


def test_sweeping_lambda_without_a_regularizer_warns(client):
    c, _demo = client
    out = c.predict(api_name="/sweep", field="lam", values="0.001, 0.01",
                    **{**SMALL, "steps": 20, "reg": "none"})
    assert "Sweep of <b>Lambda</b>" in out[0] and "has no effect" in out[0], out[0]
    out = c.predict(api_name="/sweep", field="lam", values="0.001, 0.01",
                    **{**SMALL, "steps": 20, "reg": "l1"})
    assert "has no effect" not in out[0], out[0]
    c.predict(api_name="/sweep_stop")


def test_bad_sweeps_name_the_problem(client):
    c, _ = client
    out = c.predict(api_name="/sweep", field="lam", values="0.1", **SMALL)
    assert "2 to 6 different values" in out[0], out[0]
    out = c.predict(api_name="/sweep", field="lam", values="0.1, 7", **SMALL)
    assert "Lambda" in out[0] and "[0, 1]" in out[0], out[0]
    out = c.predict(api_name="/sweep", field="nope", values="1,2", **SMALL)
    assert "choose the field" in out[0], out[0]


def test_a_lesson_sets_up_its_preset_and_text(client):
    c, demo = client
    out = c.predict(api_name="/lesson", lesson=3)
    assert "Lesson 3" in out[0], out[0]
    s = session(demo, c)
    assert s.lesson == 2 and s.job.cfg.reg == "l1" and s.job.cfg.l1_mode == "proximal"
    # the lesson box's text is among the outputs
    assert any(isinstance(v, str) and "What to watch" in v for v in out)


def test_the_trained_start_lesson_shows_the_shipped_gan_at_step_0(client):
    import torch
    from safetensors.torch import load_file

    from gan_lab import warm

    c, demo = client
    out = c.predict(api_name="/lesson", lesson=8)
    assert "Lesson 8" in out[0] and "trained" in out[0], out[0]
    s = session(demo, c)
    assert s.job.cfg.init == "trained" and s.job.cfg.reg == "l1"
    wait_until(lambda: s.job.snapshot().d_state is not None, 30)
    snap = s.job.snapshot()
    shipped = load_file(str(warm.ASSETS / warm.manifest()["mnist"]["file"]))
    assert snap.step == 0
    assert all(torch.equal(v, shipped[f"D.{k}"].float()) for k, v in snap.d_state.items())


def test_saved_runs_are_run_folders_and_overlay_up_to_four(client):
    from safetensors.numpy import load_file

    from gan_lab import runs

    c, demo = client
    out = c.predict(api_name="/save_run")
    assert "Nothing to save yet" in out[0], out[0]
    ids = []
    for lr in (1e-3, 5e-4):
        c.predict(api_name="/step", steps=400, lr_d=lr, **SMALL)
        out = c.predict(api_name="/save_run")
        assert "Saved as" in out[0], out[0]
        ids.append(out[1]["choices"][-1][1])
    s = session(demo, c)
    assert [r.id for r in s.saved] == ids and len(set(ids)) == 2
    # Each is a folder with the CLI's files, under this session's hashed token.
    for r in s.saved:
        assert r.path.parent.name == s.key and r.path.parent.parent.name == "app"
        assert {"config.json", "metrics.csv", "summary.json", "checkpoint.safetensors",
                "samples.npy", "samples.png"} <= {f.name for f in r.path.iterdir()}
        assert (r.path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert any(k.startswith("G.") or k.startswith("D.") or "weight" in k
                   for k in load_file(str(r.path / "checkpoint.safetensors")))
        run = runs.load_run(r.path)
        assert run.cfg.steps == 400 and run.metrics["step"].size > 0
    # Hostile choices are refused without touching the disk; more than four is refused.
    out = c.predict(api_name="/overlay_saved", runs=["../../etc"])
    assert "only this session's saved runs" in out[0], out[0]
    out = c.predict(api_name="/overlay_saved", runs=[])
    assert "tick one to four" in out[0], out[0]
    s.tab = "compare"
    out = c.predict(api_name="/overlay_saved", runs=ids)
    assert "Overlaid 2 saved run(s)" in out[0], out[0]
    assert image(dict(zip(POLL, out[1:]))["saved_plot"]), "the overlay of the two saved runs"
    # Another session cannot overlay them: its list is its own.
    other = Client(c.src, verbose=False)
    try:
        out = other.predict(api_name="/overlay_saved", runs=ids)
        assert "only this session's saved runs" in out[0], out[0]
    finally:
        other.close()


def test_saved_runs_stop_at_the_session_cap(client):
    c, demo = client
    limits = demo.gan_lab.registry.limits
    c.predict(api_name="/step", steps=100, **SMALL)
    s = session(demo, c)
    for _ in range(limits.saved_per_session - len(s.saved)):
        assert "Saved as" in c.predict(api_name="/save_run")[0]
    out = c.predict(api_name="/save_run")
    assert f"the most it may keep ({limits.saved_per_session})" in out[0], out[0]
    assert len(s.saved) == limits.saved_per_session
