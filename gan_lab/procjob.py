"""ProcessJob: the TrainingJob API with the trainer in a worker process.

Why a process: these networks are so small that a training step is mostly Python (autograd
bookkeeping, optimizer loops) holding the GIL. Rendering matplotlib frames and serving the page
are Python too. In one process the two take turns on the GIL, so every millisecond of rendering
is a millisecond of training lost (measured: a thread job with frames rendered beside it ran at
0.39x of a plain loop on a loaded 2-core box). In a worker process the trainer has its own
interpreter and core; the server only unpickles snapshots.

Design:
- A worker runs an ordinary thread-based TrainingJob; the parent sends commands over a pipe and
  gets a reply (the fresh Snapshot included, so `step(); wait()` never sees a stale state).
- A publisher thread in the worker sends each new Snapshot (pickled; our own processes only,
  never user files) at the job's publish rate; a receiver thread in the parent keeps the latest.
- `WorkerPool` keeps warm workers (torch already imported) so pressing Train starts in
  milliseconds, caps how many exist at once (the server's memory budget), and reuses them.
- A worker that dies (out of memory, killed) turns its job into state "error" with a message.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import threading
import time
import traceback

from .config import ConfigError, RunConfig

_CTX = mp.get_context("spawn")   # fork with a threaded server (and torch) is unsafe


class PoolBusy(RuntimeError):
    """Every worker slot is in use."""


class WorkerDied(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------
def _worker_main(cmd_conn, snap_conn, threads: int) -> None:
    import torch

    from .checkpoint import save_checkpoint_bytes
    from .trainer import TrainingJob

    torch.set_num_threads(threads)
    # gen numbers the jobs this worker has hosted; each snapshot message carries it so a parent
    # never mistakes a previous job's last snapshot (still in the pipe) for its own.
    state = {"job": None, "sent": -1, "gen": 0}
    send_lock = threading.Lock()

    def send_snapshot(force: bool = False):
        job = state["job"]
        if job is None:
            return
        snap = job.snapshot()
        if force or snap.version != state["sent"]:
            data = pickle.dumps((state["gen"], snap), protocol=pickle.HIGHEST_PROTOCOL)
            with send_lock:
                snap_conn.send_bytes(data)
            state["sent"] = snap.version

    def publisher():
        while True:
            time.sleep(0.02)
            try:
                send_snapshot()
            except (BrokenPipeError, EOFError, OSError):
                return

    threading.Thread(target=publisher, daemon=True).start()
    while True:
        try:
            op, args, kwargs = cmd_conn.recv()
        except (EOFError, OSError):
            break
        try:
            job = state["job"]
            result = None
            if op == "create":
                if job is not None:
                    job.stop()
                cfg = RunConfig.from_dict(args[0])
                state["job"] = None
                state["gen"] += 1
                state["job"] = job = TrainingJob(cfg, args[1], **kwargs)
                state["sent"] = -1
                result = state["gen"]
            elif op == "close":
                if job is not None:
                    job.stop()
                state["job"] = None
            elif op == "exit":
                if job is not None:
                    job.stop()
                cmd_conn.send(("ok", None, None))
                break
            elif op == "ping":
                result = "pong"
            elif job is None:
                raise RuntimeError("no job in this worker")
            elif op == "reset":
                job.reset(RunConfig.from_dict(args[0]) if args and args[0] else None)
            elif op == "update":
                result = job.update(**kwargs).to_dict()
            elif op == "checkpoint":
                tr = job.trainer
                result = save_checkpoint_bytes(tr.G, tr.D, tr.cfg, tr.step)
            elif op == "load_weights":
                job.load_weights(*args)
            elif op in ("start", "pause", "step", "stop"):
                getattr(job, op)(*args)
            else:
                raise ValueError(f"unknown op {op!r}")
            snap = state["job"].snapshot() if state["job"] is not None else None
            cmd_conn.send(("ok", result, pickle.dumps(snap) if snap is not None else None))
        except ConfigError as e:
            cmd_conn.send(("config_error", (e.field, str(e).split(": ", 1)[-1]), None))
        except Exception as e:  # reported to the parent; the worker lives on
            cmd_conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}", None))


_start_lock = threading.Lock()


class _main_script_hidden:
    """spawn re-runs the parent's main *script* (python app.py) in the child, which would
    import gradio and the whole UI into every trainer process (~100 MB, seconds of start-up).
    The child needs only gan_lab, so the script's path is hidden while the child is prepared.
    (`python -m pkg` mains are looked up by module name and skipped for `__main__` already.)"""

    def __enter__(self):
        import sys

        _start_lock.acquire()
        self.main = sys.modules.get("__main__")
        self.path = getattr(self.main, "__file__", None)
        if self.path is not None and getattr(self.main, "__spec__", None) is None:
            del self.main.__file__
        else:
            self.path = None

    def __exit__(self, *exc):
        if self.path is not None:
            self.main.__file__ = self.path
        _start_lock.release()


class Worker:
    """One worker process and its two pipes."""

    def __init__(self, threads: int = 1):
        self.cmd, child_cmd = _CTX.Pipe()
        self.snap_rx, child_snap = _CTX.Pipe(duplex=False)
        self.proc = _CTX.Process(target=_worker_main, args=(child_cmd, child_snap, threads),
                                 daemon=True, name="gan-lab-worker")
        with _main_script_hidden():
            self.proc.start()
        child_cmd.close()
        child_snap.close()
        self._lock = threading.Lock()

    def call(self, op: str, *args, timeout: float = 120.0, **kwargs):
        with self._lock:
            if not self.proc.is_alive():
                raise WorkerDied("the training process has exited")
            try:
                self.cmd.send((op, args, kwargs))
                if not self.cmd.poll(timeout):
                    raise WorkerDied(f"the training process did not answer {op!r} in {timeout}s")
                status, payload, snap = self.cmd.recv()
            except (EOFError, BrokenPipeError, OSError) as e:
                raise WorkerDied(f"the training process exited ({e})") from None
        if status == "config_error":
            raise ConfigError(*payload)
        if status == "error":
            raise RuntimeError(payload.splitlines()[0])
        return payload, (pickle.loads(snap) if snap is not None else None)

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        """End the process and reap it (a dead one is only joined)."""
        try:
            if self.proc.is_alive():
                self.call("exit", timeout=2)
        except Exception:
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)
        for c in (self.cmd, self.snap_rx):
            c.close()


class WorkerPool:
    """Warm workers, at most `max_workers` alive at once. acquire() raises PoolBusy when all are
    taken; release() returns a worker (its job closed) for the next user."""

    def __init__(self, max_workers: int = 4, warm: int = 1, threads: int = 1):
        self.max_workers = max_workers
        self.threads = threads
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._warm = min(warm, max_workers)
        self._prewarm()

    def _prewarm(self):
        def spawn():
            with self._lock:
                need = self._warm - len(self._idle) - len(self._busy)
                need = min(need, self._warm - len(self._idle))
                if self._closed or need <= 0 or \
                        len(self._idle) + len(self._busy) >= self.max_workers:
                    return
            w = Worker(self.threads)
            with self._lock:
                if self._closed:
                    w.kill()
                    return
                self._idle.append(w)
        threading.Thread(target=spawn, daemon=True).start()

    def acquire(self) -> Worker:
        dead = []
        with self._lock:
            if self._closed:
                raise PoolBusy("the server is shutting down")
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    self._busy.add(w)
                    break
                dead.append(w)
            else:
                if len(self._busy) >= self.max_workers:
                    raise PoolBusy(f"all {self.max_workers} training slots are in use")
                w = None
        for d in dead:   # an idle worker that died (killed): reap it, never leave a zombie
            d.kill()
        if w is None:
            w = Worker(self.threads)   # slower path: spawn now (imports torch, ~1-2 s)
            with self._lock:
                self._busy.add(w)
        self._prewarm()
        return w

    def release(self, w: Worker) -> None:
        with self._lock:
            self._busy.discard(w)
        ok = False
        if w.alive():
            try:
                w.call("close", timeout=10)
                ok = True
            except Exception:
                ok = False
        with self._lock:
            if ok and not self._closed and len(self._idle) < self._warm:
                self._idle.append(w)
                return
        w.kill()

    def stats(self) -> dict:
        with self._lock:
            return {"idle": len(self._idle), "busy": len(self._busy), "max": self.max_workers}

    def close(self, timeout: float = 3.0) -> None:
        """End every worker within about `timeout` seconds: all are asked to exit at once, then
        joined; stragglers are killed."""
        with self._lock:
            self._closed = True
            ws = self._idle + list(self._busy)
            self._idle, self._busy = [], set()
        threads = [threading.Thread(target=w.kill, daemon=True) for w in ws]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for w in ws:
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(1)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------
class ProcessJob:
    """Same public API as trainer.TrainingJob (start, pause, step, stop, reset, update,
    snapshot, wait, cfg, state), plus checkpoint_bytes() and load_weights().

    pool: a WorkerPool to take a worker from (PoolBusy if none is free); None spawns a private
    worker. ttl_s: stop and release the worker when nobody called snapshot() for that long."""

    def __init__(self, cfg: RunConfig, points=None, *, pool: WorkerPool | None = None,
                 ttl_s: float | None = None, publish_every_s: float = 0.1,
                 history_cap: int = 1000):
        cfg.validate()
        self._pool = pool
        self._worker = pool.acquire() if pool is not None else Worker()
        self.ttl_s = ttl_s
        self._last_poll = time.monotonic()
        self._cond = threading.Condition()
        self._closed = False
        self._dead = False
        self._snap = None
        try:
            self._gen, snap = self._worker.call("create", cfg.to_dict(), points,
                                                publish_every_s=publish_every_s,
                                                history_cap=history_cap)
        except BaseException:
            self._give_back()
            raise
        self._set_snap(snap)
        # The time-to-live starts when the job is ready: a worker that took seconds to start
        # must not have used up a short ttl before the user could look at the job.
        self._last_poll = time.monotonic()
        self._rx = threading.Thread(target=self._receive, daemon=True, name="gan-lab-rx")
        self._rx.start()

    # --- plumbing ------------------------------------------------------------------------------
    def _set_snap(self, snap) -> None:
        with self._cond:
            if snap is not None and (self._snap is None or snap.version >= self._snap.version):
                self._snap = snap
            self._cond.notify_all()

    def _receive(self):
        conn = self._worker.snap_rx
        while not self._closed:
            # Checked every pass: while training, snapshots arrive every 0.1 s, so a check that
            # ran only on a quiet pipe would never fire for an abandoned running job.
            if self.ttl_s is not None and time.monotonic() - self._last_poll > self.ttl_s:
                self.stop("Stopped: the page was closed or idle too long.")
                return
            try:
                if not conn.poll(0.5):
                    continue
                data = conn.recv_bytes()
            except (EOFError, OSError):
                break
            gen, snap = pickle.loads(data)
            if gen == self._gen:
                self._set_snap(snap)
        if not self._closed:
            self._died("the training process exited unexpectedly (out of memory?)")

    def _died(self, why: str):
        """The worker is gone: the job turns into state 'error' (its last snapshot stays
        readable) and its slot is released at once, reaping the dead process."""
        import dataclasses

        with self._cond:
            if self._dead:
                return
            self._dead = True
            if self._snap is not None:
                self._snap = dataclasses.replace(self._snap, state="error",
                                                 message=f"Error: {why}. Press Reset.",
                                                 version=self._snap.version + 1)
            self._cond.notify_all()
        self._give_back()

    def _call(self, op, *args, **kwargs):
        w = self._worker
        if self._closed or self._dead or w is None:
            raise RuntimeError(f"job is {self.state}; create a new one")
        try:
            result, snap = w.call(op, *args, **kwargs)
        except WorkerDied as e:
            self._died(str(e))
            raise RuntimeError(str(e)) from None
        self._set_snap(snap)
        return result

    def _give_back(self):
        with self._cond:
            w, self._worker = self._worker, None
        if w is None:
            return
        if self._pool is not None:
            self._pool.release(w)
        else:
            w.kill()

    # --- TrainingJob API -----------------------------------------------------------------------
    @property
    def cfg(self) -> RunConfig:
        return self._snap.cfg

    @property
    def state(self) -> str:
        return self._snap.state

    def start(self) -> None:
        self._call("start")

    def pause(self) -> None:
        if self._closed or self._dead:   # as TrainingJob: pausing an ended job does nothing
            return
        self._call("pause")

    def step(self, n: int = 1) -> None:
        if not isinstance(n, int) or n < 1:
            raise ConfigError("n", "step count must be a whole number >= 1")
        self._call("step", n)

    def reset(self, cfg: RunConfig | None = None) -> None:
        self._call("reset", cfg.validate().to_dict() if cfg is not None else None)

    def update(self, **changes) -> RunConfig:
        return RunConfig.from_dict(self._call("update", **changes))

    def load_weights(self, g_state, d_state, step: int = 0) -> None:
        self._call("load_weights", g_state, d_state, step)

    def checkpoint_bytes(self) -> bytes:
        return self._call("checkpoint")

    def snapshot(self):
        self._last_poll = time.monotonic()
        return self._snap

    def wait(self, states=("paused", "done", "diverged", "stopped", "error", "idle"),
             timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._snap.state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"job still {self._snap.state} after {timeout}s")
                self._cond.wait(min(left, 0.5))
            return self._snap.state

    def stop(self, message: str = "Stopped.") -> None:
        """End the job and hand its worker back. Idempotent; the last snapshot stays readable."""
        import dataclasses

        with self._cond:
            if self._closed:
                return
            self._closed = True
            if self._snap is not None and self._snap.state != "error":
                self._snap = dataclasses.replace(self._snap, state="stopped", message=message,
                                                 version=self._snap.version + 1)
            self._cond.notify_all()
        # One reader per pipe: the receiver must be gone before the worker serves another job.
        rx = getattr(self, "_rx", None)
        if rx is not None and rx is not threading.current_thread():
            rx.join(5)
        self._give_back()

    @property
    def closed(self) -> bool:
        return self._closed
