"""Load test: N simulated sessions press Train at once, poll like the page, and leave.

    python scripts/load_test.py --sessions 10            # starts `python app.py` itself
    python scripts/load_test.py --sessions 30 --duration 30 --kill-workers 2 --json out.json
    python scripts/load_test.py --url http://127.0.0.1:7860/ --pid 1234   # an existing server
    python scripts/load_test.py --sessions 10 --attacker auto   # the stall probe (issue 18)

Each session is one browser tab's worth of server state, by default a `LeanClient`
(scripts/lean_client.py: the page's requests at ~3 ms of CPU a poll; `--client gradio`: a
gradio_client Client, ~80 ms a poll, which crowds the very cores it measures): it presses
Train (all together, behind a barrier), then polls as the page's timer does (at the period the
server sets it to) for --duration seconds, then presses Pause and closes.
Meanwhile one thread GETs the page every 0.25 s, and a sampler reads the server's process tree
from /proc.

Printed (and written with --json): Train reply p50/p95/max, poll reply p50/p95, page GET
p50/p95, replies that were errors or "busy", how many sessions trained, the longest time a
training session's step did not advance as its client saw it, the same measured on the server
(the longest gap between two training slices of a job, from the pool's GAN_LAB_SLICE_LOG; only
when this script starts the server), the CPU the simulated browsers themselves used (they run
on the server's cores, real students' browsers do not), peak RSS of the server's whole process
tree, and processes/threads/open files of that tree before the load and after everyone left.
--kill-workers K SIGKILLs K training worker processes in the middle of the run and checks that
their sessions recover (the next Train works) and that no zombie process is left.

The stall probe (--attacker auto, or the JSON of a config): one more session presses Train
first on the dearest config the server's caps allow (`dearest_allowed`: by gan_lab.cost, every
step also measuring sharpness and quality), and the figures of the other sessions are given
without its job (identified in the slice log as the job that trained before they pressed
Train); its own longest gap is reported beside them. Issue 18's bar: with 10 sessions on 2
cores, the others' longest server-side gap stays <= 5 s.
Name the machine's CPU and its load beside the figures when you quote them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lean_client import Endpoints, LeanClient  # noqa: E402 - beside this script

POLL_S = 0.25
STEP_RE = re.compile(r"step \*\*([\d,]+)\*\*")


# --------------------------------------------------------------------------------------------
# The server's process tree, from /proc
# --------------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int] | None:
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return rest[0], int(rest[1])   # state, ppid


def tree(root: int) -> list[int]:
    """root and all its descendants."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st is not None:
                parent[int(d.name)] = st[1]
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def tree_stats(root: int) -> dict:
    rss = threads = fds = procs = zombies = 0
    for pid in tree(root):
        st = _stat(pid)
        if st is None:
            continue
        if st[0] == "Z":
            zombies += 1
            continue
        procs += 1
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    threads += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return {"processes": procs, "threads": threads, "fds": fds, "rss_mb": rss / 2**20,
            "zombies": zombies}


def _cpu_s(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def roles(root: int) -> dict[int, str]:
    """The server's processes by role: server, render, worker."""
    out = {}
    for pid in tree(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out[pid] = ("server" if pid == root else "render" if "render_worker" in cmd else
                    "worker" if "spawn_main" in cmd else "other")
    return out


class RoleCPU:
    """CPU-seconds of the server's processes by role between start() and stop()."""

    def __init__(self, root: int | None):
        self.root = root
        self.t0 = self.t1 = 0.0
        self.c0: dict[int, float] = {}
        self.cores: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {p: _cpu_s(p) for p in (roles(self.root) if self.root else {})}

    def stop(self):
        self.t1 = time.monotonic()
        wall = max(1e-6, self.t1 - self.t0)
        self.cpu_s = {}
        for pid, role in (roles(self.root) if self.root else {}).items():
            self.cpu_s[role] = self.cpu_s.get(role, 0.0) + _cpu_s(pid) - self.c0.get(pid, 0.0)
        self.cores = {k: round(v / wall, 3) for k, v in self.cpu_s.items()}
        return self


def profile(root: int, seconds: float, folder: Path, rate: int = 20) -> list:
    """py-spy record (raw collapsed stacks) of every process of the server for `seconds`; the
    files are summarised by `hot`. Needs py-spy (pip install py-spy) and ptrace rights."""
    folder.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid, role in roles(root).items():
        out = folder / f"{role}-{pid}.txt"
        procs.append((role, out, subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
             "--rate", str(rate), "--format", "raw", "--function", "--nonblocking",
             "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    for _, _, pr in procs:
        pr.wait(seconds + 60)
    return [(role, out) for role, out, _ in procs if out.exists()]


def hot(path: Path, top: int = 15) -> list[tuple[float, str]]:
    """The functions a py-spy raw profile spent its samples in (self and callees): the share
    of the samples with the function anywhere on the stack (py-spy leaves idle threads out)."""
    total, incl = 0, {}
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for f in set(stack.split(";")):
            incl[f] = incl.get(f, 0) + int(n)
    return sorted(((v / max(1, total), k) for k, v in incl.items()), reverse=True)[:top]


def worker_pids(root: int) -> list[int]:
    """Training worker processes (multiprocessing spawn children) of the server."""
    out = []
    for pid in tree(root)[1:]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "spawn_main" in cmd and _stat(pid) and _stat(pid)[0] != "Z":
            out.append(pid)
    return out


class Sampler(threading.Thread):
    def __init__(self, root: int | None, every: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak_rss_mb = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()

    def run(self):
        while self.root is not None and not self._stop.wait(self.every):
            s = tree_stats(self.root)
            self.peak_rss_mb = max(self.peak_rss_mb, s["rss_mb"])
            self.peak_processes = max(self.peak_processes, s["processes"])

    def stop(self):
        self._stop.set()


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]


class SessionRun:
    def __init__(self, url: str, settings: dict, endpoints=None):
        """endpoints: a lean_client.Endpoints of the app (the session is then a LeanClient);
        None: a full gradio_client Client."""
        if endpoints is not None:
            self.c = LeanClient(url, endpoints)
        else:
            from gradio_client import Client

            self.c = Client(url, verbose=False)
        self.settings = settings
        self.train_s: list[float] = []
        self.poll_s: list[float] = []
        self.errors: list[str] = []      # replies that were errors (handler failures)
        self.error_state = False         # the status showed its job in state "error"
        self.busy = 0
        self.trained = False
        self.status = ""
        self.steps: list[tuple[float, int]] = []
        self.recovered: bool | None = None   # after an error state: did Train work again?
        self.tick = POLL_S                   # the page's timer, as the server sets it
        self.pressed_at: float | None = None  # when its Train press was sent
        self.done_at: float | None = None     # the first reply that showed its run Done
        self.visibility: str | None = None    # sent with every poll when set (the page's)

    def _call(self, api: str, **kw):
        t = time.perf_counter()
        try:
            out = self.c.predict(api_name=api, **kw)
        except Exception as e:  # noqa: BLE001 - counted as an error reply
            self.errors.append(f"{api}: {type(e).__name__}: {e}")
            return None, time.perf_counter() - t
        dt = time.perf_counter() - t
        msg = out[0] if api != "/poll" else ""
        status = out[1] if api != "/poll" else out[0]
        timer = out[9] if api != "/poll" else out[8]   # the page's gr.Timer: its period
        if isinstance(timer, dict) and isinstance(timer.get("value"), (int, float)):
            self.tick = float(timer["value"])
        if isinstance(msg, str) and ("went wrong on the server" in msg or "gl-err" in msg):
            self.errors.append(f"{api}: {re.sub('<[^>]+>', '', msg)[:160]}")
        if isinstance(msg, str) and "Server busy" in msg:
            self.busy += 1
        if isinstance(status, str) and status:
            self.status = status
            if status.startswith("**Error**"):
                self.error_state = True
            m = STEP_RE.search(status)
            if m:
                self.steps.append((time.monotonic(), int(m.group(1).replace(",", ""))))
            if status.startswith("**Training**"):
                self.trained = True
            if status.startswith("**Done**") and self.done_at is None:
                self.done_at = time.monotonic()
        return out, dt

    def press_train(self):
        self.pressed_at = time.monotonic()
        _, dt = self._call("/train", **self.settings)
        self.train_s.append(dt)

    def poll_until_done(self, deadline: float, stop: threading.Event):
        """Poll at the page's rate until its run is Done (or an error, or the deadline)."""
        while self.done_at is None and not self.error_state and not stop.is_set() \
                and time.monotonic() < deadline:
            t = time.perf_counter()
            _, dt = self._call("/poll", **self._view())
            self.poll_s.append(dt)
            time.sleep(max(0.0, self.tick - (time.perf_counter() - t)))

    def steps_per_s(self) -> float | None:
        """Its run's steps over the time from the Train press to Done, as the page saw it."""
        if self.done_at is None or not self.steps:
            return None
        return self.steps[-1][1] / max(1e-6, self.done_at - self.pressed_at)

    def poll_for(self, seconds: float, stop: threading.Event):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not stop.is_set():
            t = time.perf_counter()
            _, dt = self._call("/poll", **self._view())
            self.poll_s.append(dt)
            if self.error_state and self.recovered is None:
                # Its worker was killed: press Train again, as a student would.
                self.recovered = False
                self.press_train()
                self.recovered = self.status.startswith("**Training**")
            time.sleep(max(0.0, self.tick - (time.perf_counter() - t)))

    def _view(self) -> dict:
        return {} if self.visibility is None else {"visibility": self.visibility}

    def max_stall_s(self) -> float:
        """Longest time between two moments the session saw its step grow (while training)."""
        gaps, last_t, last_s = [], None, None
        for t, s in self.steps:
            if last_s is None or s > last_s:
                if last_t is not None:
                    gaps.append(t - last_t)
                last_t, last_s = t, s
        return max(gaps) if gaps else float("nan")

    def close(self):
        try:
            self.c.predict(api_name="/pause")
        except Exception:  # noqa: BLE001
            pass
        self.c.close()


def page_gets(url: str, stop: threading.Event, out: list[float], every: float = POLL_S):
    while not stop.is_set():
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                r.read()
            out.append(time.perf_counter() - t)
        except OSError:
            out.append(float("inf"))
        stop.wait(every)


# --------------------------------------------------------------------------------------------
def start_server(env_extra: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", **env_extra}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start within 180 s")


ALONE = """
import json, sys, time, torch
torch.set_num_threads(1)
from gan_lab.config import RunConfig
from gan_lab.run import Run
cfg = RunConfig.from_dict(json.loads(sys.argv[1]))
run = Run(cfg)
t = time.process_time()
while not run.advance(seconds=0.25).done:
    pass
print(json.dumps({"steps": run.step, "cpu_s": time.process_time() - t}))
"""


def alone(settings: dict, nice: int = 5) -> dict:
    """One run of `settings` alone on one core, a plain loop (no server, no pictures), at the
    workers' niceness: its steps per CPU-second are what a worker's core could give."""
    fields = {k: v for k, v in settings.items() if not k.endswith("_log10")}
    out = subprocess.run(["nice", "-n", str(nice), sys.executable, "-c", ALONE,
                          json.dumps(fields)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["steps_per_cpu_s"] = r["steps"] / max(1e-9, r["cpu_s"])
    return r


def dearest_allowed() -> dict:
    """The Train inputs of the dearest config the default caps allow (gan_lab.cost): the
    longest piece of work a step makes, with sharpness and quality measured at every step."""
    sys.path.insert(0, str(ROOT))
    import itertools

    from gan_lab import cost
    from gan_lab.config import ConfigError, RunConfig

    def piece(c):
        return (cost.step_seconds(c) + cost.quality_gflop(c) / cost.EVAL_GFLOP_PER_S
                + cost.sharpness_gflop(c, cost.MID_SHARP_ITERS, cost.MID_SHARP_N)
                / cost.EVAL_GFLOP_PER_S)

    best, best_s = None, -1.0
    base = dict(dataset="mnist", arch="conv", latent_dim=128, g_norm="batch", g_ema=0.999,
                d_r1=1.0, eval_every=1, sharpness_every=1, steps=100000)
    for w, d_steps, bs, hsn in itertools.product((32, 48, 64, 80, 96, 112, 128), (1, 2, 5, 10),
                                                 (8, 16, 32, 64, 128, 256, 512, 1024),
                                                 (None, "fd", "exact")):
        f = {**base, "g_hidden": w, "d_hidden": w, "d_steps": d_steps, "batch_size": bs}
        if hsn:
            f.update(reg="hsn1r", lam=0.01, hsn_every=1, hsn_method=hsn, hsn_iters=3)
        c = RunConfig.from_dict(f)
        try:
            cost.check(c, cost.MAX_STEP_GFLOP, cost.MAX_EVAL_GFLOP, cost.MAX_STEP_MB)
        except ConfigError:
            continue
        if piece(c) > best_s:
            best, best_s = f, piece(c)
    return best


def slice_gaps(path: Path, t0: float, t1: float, exclude_before: float | None = None
               ) -> dict | None:
    """Server-side: for each job, the longest time in [t0, t1] without a step advance (its step
    advances at each training slice's end), from the pool's GAN_LAB_SLICE_LOG; the window's
    ends count, so a job that never advanced in it shows the whole window (every session
    trains throughout: the default 4,000 steps outlast it). Both clocks are the machine's
    CLOCK_MONOTONIC. Jobs with a slice that ended before `exclude_before` are left out (the
    stall probe's attacker)."""
    try:
        lines = [ln.split() for ln in path.read_text().splitlines()]
    except OSError:
        return None
    lines = [p for p in lines if len(p) == 5]
    early = {p[3] for p in lines if exclude_before is not None and float(p[2]) < exclude_before}
    ends: dict[str, list[float]] = {p[3]: [] for p in lines if p[3] not in early}
    for p in lines:
        if p[3] in ends and t0 < float(p[2]) < t1:
            ends[p[3]].append(float(p[2]))
    worst = [max(b - a for a, b in zip(v, v[1:])) for v in
             (sorted([t0, *e, t1]) for e in ends.values())]
    if not worst:
        return None
    return {"jobs": len(worst), "max": max(worst), "median_job": statistics.median(worst),
            "slices": sum(len(v) for v in ends.values())}


def run(args) -> dict:
    settings = json.loads(args.settings) if args.settings else {}
    if args.lesson:
        sys.path.insert(0, str(ROOT))
        from gan_lab.lessons import LESSONS

        settings = {**LESSONS[args.lesson - 1].fields, **settings}
    attacker_cfg = (dearest_allowed() if args.attacker == "auto" else
                    json.loads(args.attacker) if args.attacker else None)
    proc = None
    slice_log = None
    if args.url:
        url, root = args.url, args.pid
    else:
        env = dict(kv.split("=", 1) for kv in args.env)
        slice_log = Path(tempfile.mkdtemp(prefix="gan-lab-load-")) / "slices.txt"
        env.setdefault("GAN_LAB_SLICE_LOG", str(slice_log))
        proc, url = start_server(env)
        root = proc.pid
    if args.client_nice:
        # The simulated browsers run here, on the server's own cores; real students' browsers
        # run on their own machines. Niced, the clients take only what the server leaves.
        os.nice(args.client_nice)
    if args.client_idle:
        # Stricter: the clients get a core only when nothing of the server wants it (Linux
        # SCHED_IDLE; every thread they start inherits it). Their polls then starve while the
        # workers train (measured: 193 polls where a class makes ~2,000): a bound, not a class.
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    try:
        time.sleep(args.settle)
        before = tree_stats(root) if root else None
        sampler = Sampler(root)
        sampler.start()
        attacker, attacked_at = None, None
        endpoints = Endpoints(url) if args.client == "lean" else None
        if attacker_cfg is not None:
            # The stall probe: the dearest allowed run trains first, then everyone else.
            attacker = SessionRun(url, attacker_cfg, endpoints)
            attacker.press_train()
            deadline = time.monotonic() + 120
            # until its first step is in: its job is then in the slice log before the others'
            while not any(n > 0 for _, n in attacker.steps) and time.monotonic() < deadline:
                attacker._call("/poll")
                time.sleep(0.5)
            attacked_at = time.monotonic()
        others = args.sessions - (attacker is not None)
        sessions = [SessionRun(url, settings, endpoints) for _ in range(others)]
        stop = threading.Event()
        gets: list[float] = []
        # A page GET costs the server ~10x a poll: a class loads the page once per student, so
        # --until-done measures its latency only now and then (--page-get-s).
        every = args.page_get_s or (5.0 if args.until_done else POLL_S)
        getter = threading.Thread(target=page_gets, args=(url, stop, gets, every), daemon=True)
        barrier = threading.Barrier(len(sessions))

        until = time.monotonic() + args.timeout

        def life(s: SessionRun):
            barrier.wait()
            s.press_train()
            if args.until_done:
                s.poll_until_done(until, stop)
                s.poll_for(until - time.monotonic(), everyone_done)   # an open, done page
            else:
                s.poll_for(args.duration, stop)

        everyone_done = threading.Event()
        roles_cpu = RoleCPU(root)

        threads = [threading.Thread(target=life, args=(s,), daemon=True) for s in sessions]
        if attacker is not None:
            threads.append(threading.Thread(target=attacker.poll_for,
                                            args=(args.duration, stop), daemon=True))
        getter.start()
        t0 = time.monotonic()
        load0 = os.getloadavg()[0]     # the machine's load as the Train presses go out
        cpu0 = time.process_time()
        roles_cpu.start()
        for t in threads:
            t.start()
        profiled = []
        if args.profile and root:
            time.sleep(args.profile_after)
            profiled = [(role, str(f), hot(f)) for role, f in
                        profile(root, args.profile_s, Path(args.profile))]
        if args.until_done:
            while not all(x.done_at or x.error_state for x in sessions) \
                    and time.monotonic() < until:
                time.sleep(0.2)
            roles_cpu.stop()
            load1 = os.getloadavg()[0]
            everyone_done.set()
        killed = []
        if args.kill_workers and root:
            time.sleep(args.duration / 2)
            for pid in worker_pids(root)[: args.kill_workers]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        for t in threads:
            t.join((args.timeout if args.until_done else args.duration) + 120)
        stop.set()
        getter.join(5)
        if not args.until_done:
            roles_cpu.stop()
        wall = time.monotonic() - t0
        client_cpu = (time.process_time() - cpu0) / wall   # cores the simulated browsers used
        # With --until-done the gaps are counted while every run still trains (a finished
        # run's steps stand still for good).
        t_end = min([x.done_at for x in sessions if x.done_at] or [roles_cpu.t1]) \
            if args.until_done else t0 + args.duration
        for s in sessions + ([attacker] if attacker else []):
            s.close()
        time.sleep(args.settle)   # let the server notice closed sessions and clean up
        sampler.stop()
        after = tree_stats(root) if root else None
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "killed after 15 s"
    train = [x for s in sessions for x in s.train_s]
    polls = [x for s in sessions for x in s.poll_s]
    stalls = [s.max_stall_s() for s in sessions if s.trained]
    res = {
        "sessions": args.sessions, "duration_s": args.duration, "wall_s": round(wall, 1),
        "settings": settings, "lesson": args.lesson, "server_env": args.env,
        "client_nice": args.client_nice,
        "client_idle": args.client_idle,
        "client": args.client,
        "cpu": _cpu(), "cores": os.cpu_count(), "load_before": load0,
        "train_reply_s": {"p50": pct(train, 50), "p95": pct(train, 95), "max": max(train),
                          "all": sorted(round(x, 3) for x in train)},
        "poll_reply_s": {"p50": pct(polls, 50), "p95": pct(polls, 95)}, "polls": len(polls),
        "page_get_s": {"p50": pct(gets, 50), "p95": pct(gets, 95), "n": len(gets)},
        "error_replies": sum(len(s.errors) for s in sessions),
        "errors": [e for s in sessions for e in s.errors][:10],
        "busy_replies": sum(s.busy for s in sessions),
        "sessions_trained": sum(s.trained for s in sessions),
        "max_step_stall_s": max(stalls) if stalls else float("nan"),
        "median_step_stall_s": statistics.median(stalls) if stalls else float("nan"),
        # The same property on the server, without the clients' own latency: (the poll period
        # and the CPU the simulated browsers take from the server's cores, client_cores).
        "server_advance_gap_s": slice_gaps(slice_log, t0 + 5.0, t_end, attacked_at)
        if slice_log else None,
        "attacker": attacker_cfg,
        "attacker_steps": attacker.steps[-1][1] if attacker and attacker.steps else None,
        "attacker_stall_s": attacker.max_stall_s() if attacker else None,
        "attacker_errors": attacker.errors[:3] if attacker else None,
        "client_cores": round(client_cpu, 2),
        "peak_rss_mb": round(sampler.peak_rss_mb, 1),
        "peak_processes": sampler.peak_processes,
        "before": before, "after": after,
        "killed_workers": len(killed),
        "recovered_sessions": sum(1 for s in sessions if s.recovered),
        "sessions_hit_by_kill": sum(1 for s in sessions if s.error_state),
        "server_exit": code if proc is not None else None,
        # CPU of the server's processes by role, from the Train presses to the last run's
        # Done (--until-done) or to the end: cores (CPU-s / wall s) and CPU-seconds.
        "role_cores": roles_cpu.cores, "role_cpu_s": roles_cpu.cpu_s,
        "role_window_s": round(roles_cpu.t1 - roles_cpu.t0, 1),
        "profile": profiled,
    }
    if args.until_done:
        done = [x.done_at - t0 for x in sessions if x.done_at is not None]
        res.update({
            "done_runs": len(done),
            "last_done_s": max(done) if len(done) == len(sessions) else None,
            "median_done_s": statistics.median(done) if done else None,
            "done_s": sorted(round(d, 1) for d in done),
            "run_steps_per_s": sorted(round(r, 1) for x in sessions
                                      if (r := x.steps_per_s()) is not None),
            "load_end": load1,
        })
    # The steps the class trained (as its pages last saw them) per CPU-second of the workers,
    # against one run alone on a core: both modes (with --duration the runs are cut short, and
    # the alone run trains at most --alone-steps).
    trained = sum(x.steps[-1][1] for x in sessions if x.steps)
    worker_cpu = roles_cpu.cpu_s.get("worker", 0.0)
    res["class_steps"] = trained
    res["worker_steps_per_cpu_s"] = trained / worker_cpu if worker_cpu else None
    if args.alone:
        a = alone({**settings, "steps": min(int(settings.get("steps", 4000)), args.alone_steps)})
        res["alone"] = a
        if res["worker_steps_per_cpu_s"]:
            res["per_core_vs_alone"] = res["worker_steps_per_cpu_s"] / a["steps_per_cpu_s"]
    # The server's CPU per poll answered (it also drives the slices and answers Train): what
    # a watcher costs it, whatever rate a loaded machine let the clients poll at.
    if polls and roles_cpu.cpu_s.get("server"):
        res["server_ms_per_poll"] = 1e3 * roles_cpu.cpu_s["server"] / len(polls)
    return res


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def report(r: dict) -> str:
    f = lambda d: f"p50 {d['p50']:.3f} s, p95 {d['p95']:.3f} s"   # noqa: E731
    lines = [
        f"{r['sessions']} sessions, {r['duration_s']} s each, on {r['cpu']} ({r['cores']} "
        f"cores, load {r['load_before']:.1f} at start); server env {r['server_env'] or '-'}; "
        f"{r.get('client', 'gradio')} clients at nice {r['client_nice']}"
        + (" under SCHED_IDLE" if r.get("client_idle") else ""),
        f"Train reply: {f(r['train_reply_s'])}, max {r['train_reply_s']['max']:.3f} s",
        f"poll reply: {f(r['poll_reply_s'])}; page GET: {f(r['page_get_s'])}",
        f"error replies {r['error_replies']}, busy replies {r['busy_replies']}, sessions that "
        f"trained {r['sessions_trained']}/{r['sessions']}; longest step stall "
        f"{r['max_step_stall_s']:.1f} s (median session {r['median_step_stall_s']:.1f} s)",
        f"peak RSS of the server tree {r['peak_rss_mb']:.0f} MB, peak processes "
        f"{r['peak_processes']}",
        f"the simulated browsers used {r['client_cores']:.2f} of the {r['cores']} cores",
    ]
    if r.get("attacker"):
        lines.append(f"stall probe: one session trained {json.dumps(r['attacker'])}; it "
                     f"reached step {r['attacker_steps']} (longest stall it saw "
                     f"{r['attacker_stall_s']:.1f} s; errors {r['attacker_errors']}); the "
                     "figures above and below are the other sessions'")
    g = r.get("server_advance_gap_s")
    if g:
        lines.append(f"server side, from 5 s after the Train presses on: longest gap between "
                     f"two step advances {g['max']:.1f} s (median job {g['median_job']:.1f} s; "
                     f"{g['jobs']} jobs, {g['slices']} slices)")
    for k in ("before", "after"):
        s = r[k]
        if s:
            lines.append(f"{k}: {s['processes']} processes, {s['threads']} threads, "
                         f"{s['fds']} fds, {s['rss_mb']:.0f} MB, {s['zombies']} zombies")
    if r["killed_workers"]:
        lines.append(f"killed {r['killed_workers']} workers: {r['sessions_hit_by_kill']} "
                     f"sessions saw it, {r['recovered_sessions']} trained again")
    if r["errors"]:
        lines.append("first errors: " + " | ".join(r["errors"][:3]))
    if r.get("role_cores"):
        c = r["role_cores"]
        lines.append(f"CPU over {r['role_window_s']} s: server {c.get('server', 0):.2f} cores, "
                     f"render {c.get('render', 0):.2f}, workers {c.get('worker', 0):.2f}"
                     + (f"; {r['polls']} polls, server {r['server_ms_per_poll']:.1f} ms of CPU "
                        "per poll" if r.get("server_ms_per_poll") else ""))
    if "last_done_s" in r:
        rates = r["run_steps_per_s"]
        last = f"{r['last_done_s']:.1f} s" if r["last_done_s"] is not None else \
            f"never ({r['done_runs']}/{r['sessions']} done in {r['role_window_s']} s)"
        lines.append(f"until done: last run done {last} after the Train presses, median "
                     f"{r['median_done_s'] or float('nan'):.1f} s; a run's steps/s "
                     f"{min(rates, default=0):.0f}-{max(rates, default=0):.0f} (median "
                     f"{statistics.median(rates) if rates else 0:.0f}); load average "
                     f"{r['load_before']:.1f} at the start, {r['load_end']:.1f} at the end")
    if r.get("worker_steps_per_cpu_s"):
        a = r.get("alone")
        lines.append(f"workers trained {r['worker_steps_per_cpu_s']:.0f} steps per CPU-s"
                     + (f"; one run alone on a core {a['steps_per_cpu_s']:.0f} "
                        f"({a['steps']} steps in {a['cpu_s']:.1f} CPU-s): "
                        f"{100 * r['per_core_vs_alone']:.0f}% of it" if a else ""))
    for role, path, top in r.get("profile") or []:
        lines.append(f"profile of the {role} ({path}):")
        lines += [f"  {100 * share:5.1f}%  {name}" for share, name in top]
    if r["server_exit"] is not None:
        lines.append(f"server exit status after SIGTERM: {r['server_exit']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--duration", type=float, default=20.0, help="seconds each session polls")
    p.add_argument("--kill-workers", type=int, default=0)
    p.add_argument("--settings", default="", help='JSON of Train inputs, e.g. \'{"steps": 3000}\'')
    p.add_argument("--env", action="append", default=[],
                   help="NAME=VALUE for the server started here (repeatable)")
    p.add_argument("--url", help="test a running server instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's pid, for /proc figures")
    p.add_argument("--settle", type=float, default=3.0, help="seconds before and after")
    p.add_argument("--client-nice", type=int, default=0,
                   help="run the simulated sessions at this niceness (they share the server's "
                        "cores here; real browsers do not)")
    p.add_argument("--client", choices=("lean", "gradio"), default="lean",
                   help="the simulated browsers: lean (scripts/lean_client.py: the page's "
                        "requests, ~3 ms of CPU a poll) or gradio (gradio_client: ~80 ms a poll, "
                        "on the cores it measures)")
    p.add_argument("--client-idle", action="store_true",
                   help="run the simulated sessions under Linux's SCHED_IDLE: they use only the "
                        "CPU the server leaves idle, so their polls starve while every core "
                        "trains (a bound on the training side, not a class)")
    p.add_argument("--attacker", help="the stall probe: 'auto' (the dearest config the caps "
                                      "allow) or the JSON of Train inputs, trained by one of "
                                      "the --sessions, which starts first")
    p.add_argument("--until-done", action="store_true",
                   help="each session polls until its run is Done; reports the time until "
                        "the last and the median run was done (from the Train presses)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="with --until-done: give up after this many seconds")
    p.add_argument("--alone", action=argparse.BooleanOptionalAction, default=True,
                   help="also train one run alone on a core (a plain loop, after the class) "
                        "and compare the workers' steps per CPU-second")
    p.add_argument("--alone-steps", type=int, default=3000,
                   help="the alone run trains at most this many steps")
    p.add_argument("--page-get-s", type=float, default=None,
                   help="seconds between the page GETs that measure its latency (default 0.25, "
                        "5 with --until-done)")
    p.add_argument("--lesson", type=int, help="Train on lesson N's settings (its first step "
                                              "that trains), on top of --settings")
    p.add_argument("--profile", metavar="DIR",
                   help="py-spy record every process of the server into DIR (pip install "
                        "py-spy) and print their hottest functions")
    p.add_argument("--profile-after", type=float, default=5.0,
                   help="seconds after the Train presses the profile starts")
    p.add_argument("--profile-s", type=float, default=20.0, help="seconds profiled")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    res = run(args)
    print(report(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
