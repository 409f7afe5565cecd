"""The server as an attacker and a classroom meet it (issue 8): crafted session ids, killed
workers, a burst of Train presses with a short time-to-live, uploads, HTML in user text, crafted
checkpoint metadata, SIGTERM, and API clients sending values the widgets would never send.

The path-traversal and shutdown tests run `python app.py` as a child process whose TMPDIR and
GRADIO_TEMP_DIR point into a pytest tmp folder, so a regression can only delete that folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from helpers import start_app_py, wait_until

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SMALL = {"g_hidden": 32, "d_hidden": 32, "g_depth": 2, "d_depth": 2, "batch_size": 64}


def zombies(pid: int | None = None) -> list[int]:
    """Child processes of `pid` (default: this process) that exited and were never reaped."""
    pid = os.getpid() if pid is None else pid
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its last ')'
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state == "Z":
            out.append(int(d.name))
    return out


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --------------------------------------------------------------------------------------------
# python app.py in a sandboxed temp folder
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_proc(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    tmp, cache = base / "tmp", base / "gradio"
    tmp.mkdir()
    cache.mkdir()
    (tmp / "sentinel.txt").write_text("must survive")
    proc, url = start_app_py(tmp, cache, {"GRADIO_HEARTBEAT_INTERVAL": "0.5",
                                          "GAN_LAB_MAX_JOBS": "2", "GAN_LAB_MAX_RUNNING": "1"})
    yield {"url": url, "proc": proc, "tmp": tmp, "cache": cache}
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def export_root(tmp: Path) -> Path:
    roots = sorted(tmp.glob("gan-lab-*"))
    assert len(roots) == 1, roots
    return roots[0]


def hang_up_heartbeat(url: str, session_id: str) -> None:
    """Open a heartbeat stream for `session_id` (raw, percent-encoded) and drop it: gradio then
    runs the app's unload handler with that session id."""
    with httpx.stream("GET", f"{url}gradio_api/heartbeat/{session_id}", timeout=10) as r:
        assert r.status_code == 200
        next(r.iter_raw())


def test_crafted_session_ids_cannot_touch_files_outside_the_session(app_proc):
    url, tmp = app_proc["url"], app_proc["tmp"]
    victim = Client(url, verbose=False)
    try:
        victim.predict(api_name="/download_config")
        root = export_root(tmp)
        victim_files = [p for p in root.rglob("*") if p.is_file()]
        assert len(victim_files) == 1
        # Every per-session folder is a 32-hex keyed hash, never the client's text.
        assert re.fullmatch(r"[0-9a-f]{32}", victim_files[0].parent.name)

        for crafted in ("%2E%2E", "%2E"):   # the session ids '..' and '.' ('/' is not routed)
            hang_up_heartbeat(url, crafted)
        time.sleep(2.0)   # the unload handlers run in the background
        assert (tmp / "sentinel.txt").read_text() == "must survive"
        assert all(p.exists() for p in victim_files), "another session's download was deleted"

        # queue/join with session id '..': its download stays inside its own hashed folder.
        attacker = Client(url, verbose=False)
        attacker.session_hash = ".."
        attacker.predict(api_name="/download_config")
        attacker.close()
        assert not list(tmp.glob("gan-lab-*config*")), "a download was written into TMPDIR"
        for p in root.rglob("*"):
            if p.is_file():
                assert re.fullmatch(r"[0-9a-f]{32}", p.parent.name), p
                assert p.parent.parent == root / "exports", p
    finally:
        victim.close()


def test_sigterm_stops_everything_and_removes_the_temp_folder(app_proc):
    # Runs last in this module (pytest keeps file order): it ends the shared app.
    proc, tmp = app_proc["proc"], app_proc["tmp"]
    c = Client(app_proc["url"], verbose=False)
    c.predict(api_name="/train")          # a worker process with a running job
    kids = wait_until(lambda: [k for k in children(proc.pid) if alive(k)], 10, "child processes")
    root = export_root(tmp)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    took = time.monotonic() - t0
    out = proc.stdout.read()
    assert code == 0, out
    assert took < 5.0, f"shutdown took {took:.1f}s"
    assert "terminate called" not in out
    assert not root.exists(), "the app's temp folder was left behind"
    assert (tmp / "sentinel.txt").exists()
    wait_until(lambda: not any(alive(k) for k in kids), 3, "worker and render processes gone")


# --------------------------------------------------------------------------------------------
# An in-process app with small caps
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_app():
    os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gan_lab.ui import build_demo, launch_kwargs
    from gan_lab.ui.sessions import Limits, Registry

    limits = Limits(max_running=2, max_jobs=12, ttl_s=2.0, cache_age_s=2, max_params=200_000)
    demo = build_demo(Registry(limits))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs(limits))
    yield f"http://127.0.0.1:{port}/", demo
    demo.gan_lab.close()
    demo.close()


def session_of(demo, client: Client):
    from gan_lab.ui.storage import session_token

    return demo.gan_lab.registry._sessions[session_token(client.session_hash)]


def test_killed_workers_free_their_runs_and_are_reaped(small_app):
    url, demo = small_app
    pool = demo.gan_lab.registry.pool
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    try:
        for _ in range(3):
            a.predict(api_name="/train", **SMALL)
            job = session_of(demo, a).job
            pid = pool.pid_of(job)
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda j=job: j.state == "error", 20, "the job reports its dead worker")
            # Its run is freed and the process reaped before anyone touches the session.
            wait_until(lambda: pool.stats()["runs"] == 0, 5, "run freed")
            assert zombies() == []
            a.predict(api_name="/poll")
        # Each kill freed its run (checked above); both sessions still train.
        ra = a.predict(api_name="/train", **SMALL)
        rb = b.predict(api_name="/train", **SMALL)
        assert "Training" in ra[1] and "Training" in rb[1], (ra[0], rb[0])
        assert zombies() == [] and len(pool.pids()) <= pool.processes
    finally:
        for c in (a, b):
            c.predict(api_name="/pause")
            c.close()


def test_a_burst_of_train_presses_all_train_without_a_process_each(small_app):
    url, demo = small_app
    reg = demo.gan_lab.registry
    wait_until(lambda: reg.running() == 0, 10, "earlier jobs paused")
    clients = [Client(url, verbose=False) for _ in range(10)]
    before = {k for k in children(os.getpid()) if alive(k)}
    replies: list = [None] * len(clients)

    def press(i):
        replies[i] = clients[i].predict(api_name="/train", **SMALL)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(clients))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        msgs = [r[0] for r in replies]
        assert all("went wrong" not in m and "gl-err" not in m for m in msgs), msgs
        training = [i for i, r in enumerate(replies) if "Training" in r[1] or "Done" in r[1]]
        assert len(training) == 10, msgs
        # Ten runs, but only the pool's processes: no process was started for a session.
        assert len(reg.pool.pids()) <= reg.pool.processes
        assert {k for k in children(os.getpid()) if alive(k)} <= before
    finally:
        for c in clients:
            c.close()


def test_the_time_to_live_counts_from_a_ready_run():
    from gan_lab.config import RunConfig
    from gan_lab.jobs import ProcessJob, WorkerPool

    pool = WorkerPool(processes=1)
    try:
        pid = wait_until(lambda: pool.pids(), 60, "a warm worker")[0]
        os.kill(pid, signal.SIGKILL)               # the next run needs a cold start
        wait_until(lambda: not alive(pid), 10, "worker dead")
        job = ProcessJob(RunConfig(**SMALL), pool=pool, ttl_s=0.5)
        t0 = time.monotonic()
        job.start()                                # spawns a worker: longer than the ttl
        assert time.monotonic() - t0 > 0.5
        time.sleep(0.2)                            # well inside a ttl counted from now
        assert job.state == "running", job.snapshot().message
        job.stop()
    finally:
        pool.close()


def test_uploads_leave_the_cache_and_oversized_requests_are_refused(small_app, tmp_path):
    import gradio as gr

    from gan_lab.ui.transfer import upload_max_bytes

    url, demo = small_app
    cache = Path(gr.utils.get_upload_folder())
    # An upload that no event ever uses is deleted once it is older than cache_age_s (2 s).
    r = httpx.post(f"{url}gradio_api/upload", files={"files": ("unused.csv", b"1,2\n" * 1000)})
    assert r.status_code == 200, r.text
    unused = Path(r.json()[0])
    assert unused.exists()
    wait_until(lambda: not unused.exists(), 15, "unused upload deleted")

    # An upload that is used is deleted as soon as its handler has read it.
    pts = tmp_path / "pts.csv"
    pts.write_text("x,y\n" + "".join(f"{i % 7},{i % 5}\n" for i in range(50)))
    c = Client(url, verbose=False)
    try:
        before = {p for p in cache.rglob("*.csv")}
        out = c.predict(file=handle_file(str(pts)), api_name="/upload_points")
        assert "Loaded 50 points" in out[0]
        assert not ({p for p in cache.rglob("pts*.csv")} - before), "the used upload stayed"
    finally:
        c.close()

    cap = upload_max_bytes(demo.gan_lab.registry.limits)
    big = httpx.post(f"{url}gradio_api/upload",
                     files={"files": ("big.safetensors", b"\0" * (cap + 128 * 1024))})
    assert big.status_code == 413
    # Not an upload: a JSON body of 2 MiB to the queue is refused before gradio parses it.
    body = json.dumps({"data": ["x" * (2 * 1024 * 1024)], "fn_index": 0,
                       "session_hash": "abc"})
    r = httpx.post(f"{url}gradio_api/queue/join", content=body,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_cache_janitor_keeps_the_cache_under_its_cap(tmp_path):
    from gan_lab.ui.storage import CacheJanitor

    for i in range(10):
        d = tmp_path / f"h{i}"
        d.mkdir()
        f = d / "f.bin"
        f.write_bytes(b"\0" * 1000)
        os.utime(f, (1000 + i, 1000 + i))
    freed = CacheJanitor(tmp_path, max_bytes=4500).sweep()
    left = sorted(p.parent.name for p in tmp_path.rglob("f.bin"))
    assert freed == 6000 and left == ["h6", "h7", "h8", "h9"]   # the oldest went first


def test_user_text_is_escaped_and_cut_short(small_app):
    url, _ = small_app
    c = Client(url, verbose=False)
    try:
        link = '<a href="https://ex.co/phish">log in</a>'
        out = c.predict(settings=json.dumps({"dataset": link}), api_name="/load_settings")
        msg = out[0]
        assert "<a href" not in msg and "&lt;a href" in msg
        long = "9" * 10_000
        out = c.predict(settings=json.dumps({"seed": long + "x"}), api_name="/load_settings")
        assert len(out[0]) < 800 and "999…" in out[0]
    finally:
        c.close()


def test_checkpoint_metadata_is_checked(small_app, tmp_path):
    import torch
    from safetensors.torch import save_file

    from gan_lab.config import RunConfig
    from gan_lab.models import build_models

    url, demo = small_app
    cfg = RunConfig(**SMALL)
    G, D = build_models(cfg)
    tensors = {f"G.{k}": v.contiguous() for k, v in G.state_dict().items()}
    tensors.update({f"D.{k}": v.contiguous() for k, v in D.state_dict().items()})
    c = Client(url, verbose=False)
    try:
        c.predict(api_name="/reset", **SMALL)
        job = session_of(demo, c).job
        for name, meta, why in (
                ("huge.safetensors", {"step": "99999999999999999999"}, "step"),
                ("neg.safetensors", {"step": "-5"}, "step"),
                ("fmt.safetensors", {"format": "other"}, "format")):
            path = tmp_path / name
            save_file(tensors, str(path), metadata={"format": "gan-lab-checkpoint-v1",
                                                    "config": cfg.to_json(), "step": "3",
                                                    **meta})
            out = c.predict(file=handle_file(str(path)), api_name="/upload_checkpoint")
            assert "Checkpoint refused" in out[0] and why in out[0], out[0]
            assert job.snapshot().step == 0 and session_of(demo, c).job is job
        ints = {k: (v * 100).to(torch.int32) if k.endswith("weight") else v
                for k, v in tensors.items()}
        path = tmp_path / "ints.safetensors"
        save_file(ints, str(path), metadata={"config": cfg.to_json(), "step": "3"})
        out = c.predict(file=handle_file(str(path)), api_name="/upload_checkpoint")
        assert "Checkpoint refused" in out[0] and "not floats" in out[0], out[0]
    finally:
        c.close()


def test_api_clients_get_field_named_errors_for_menus_and_sliders(small_app):
    url, _ = small_app
    c = Client(url, verbose=False)
    try:
        for kw, label in (({"reg": "bogus"}, "Regularizer"), ({"d_steps": 99}, "D:G steps"),
                          ({"hsn_iters": "lots"}, "HSN1R iterations"),
                          ({"layer": "no-such-layer"}, None)):
            out = c.predict(api_name="/train", **SMALL, **kw)
            if label is None:   # a view option: an unknown layer falls back to "all"
                assert "Training" in out[1], out[0]
                c.predict(api_name="/pause")
                continue
            assert label in out[0] and "⚠️" in out[0], out[0]
    finally:
        c.close()


def test_log_slider_positions_off_the_slider_name_the_field():
    from gan_lab.config import ConfigError, spec
    from gan_lab.ui.controls import slider_to_value

    s = spec("lam")
    assert slider_to_value(s, -2) == 0.01
    for bad in (1e9, float("nan"), "x", None):
        with pytest.raises(ConfigError, match="lam: log10 slider position"):
            slider_to_value(s, bad)
