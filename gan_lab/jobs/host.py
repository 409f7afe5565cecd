"""A worker process hosting many Runs (`_host_main`) and its handle in the server (`Host`):
request/reply over one pipe, see jobs/workers.py for the protocol and the scheduler.

Inside a worker every advance runs on a thread of its own (`Pieces`). For a run whose pieces of
work can be long (the server says so: gan_lab.cost's estimate of its step and evaluation) the
main thread waits for it for the slice's length plus GRACE_S and, when it is not back by then
(a dear step, or the evaluation at an evaluation step: the final sharpness of the MNIST conv
preset takes ~5 s of a core), answers PENDING and serves the other runs while that piece
finishes beside them; the next advance of that run collects its commit. A cheap run's advance
is always waited for (on a loaded machine its slice may overrun too, and setting it aside would
only cost it its next turn). So one run's long piece of work never holds up
the runs sharing its process: they keep getting their turns (the OS shares the core between
the piece's thread and theirs). A run with a piece in progress answers RETRY to apply and
export (the server asks again), and drop forgets it at once.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import threading
import time
import traceback
from concurrent import futures

from ..errors import ConfigError
from .protocol import CONTROLS, PENDING, Advance, Apply, Create, Drop, Exit, Export, Ping, handle

_CTX = mp.get_context("spawn")   # fork with a threaded server (and torch) is unsafe
log = logging.getLogger("gan_lab.jobs")

GRACE_S = 0.3            # an advance may overrun its slice by this before it goes on aside
MAX_PENDING = 3          # pieces in progress aside at once per process (each holds its memory)
RETRY_S = 0.05           # how often a control request for a busy run is asked again


class WorkerDied(RuntimeError):
    """The process is gone, its pipe broke, or it did not answer in time. `during`: it died
    (or timed out) while serving this very request."""

    def __init__(self, message: str, during: bool = False):
        super().__init__(message)
        self.during = during


class RunBusy(RuntimeError):
    """A control request found the run busy with a long piece of work for longer than its
    time-out."""


# --------------------------------------------------------------------------------------------
# Inside a worker process
# --------------------------------------------------------------------------------------------
def _host_main(conn, threads: int, nice: int = 0) -> None:
    import os

    import torch

    from ..config import RunConfig
    from ..run import Run

    if nice:
        # Training uses the cores the page does not need: the server and the render process
        # answer first, so a class's clicks stay quick while every core trains.
        os.nice(nice)
    torch.set_num_threads(threads)
    # Pay the one-off costs (autograd and optimizer set-up, kernels, the metrics' imports) now,
    # so a student's first Train answers as fast as every later one.
    Run(RunConfig(steps=3, sharpness_every=2), start_eval="cheap").advance(view=True)
    runs: dict[int, Run] = {}
    pieces = Pieces(threads)
    while True:
        try:
            req = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            break
        try:
            if isinstance(req, CONTROLS) and pieces.busy(req.rid):
                conn.send_bytes(pickle.dumps(("retry", None)))
                continue
            if isinstance(req, Exit):
                conn.send_bytes(pickle.dumps(("ok", None)))
                break
            reply = ("ok", handle(req, runs, pieces))
        except ConfigError as e:
            reply = ("config_error", (e.field, str(e).split(": ", 1)[-1]))
        except Exception as e:  # reported to the server; the process lives on
            reply = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    # Pieces still in progress aside would keep the interpreter from exiting: nothing of a
    # worker needs cleaning up.
    os._exit(0)


class Pieces:
    """The worker's advances, each on a thread (see the module docstring)."""

    def __init__(self, threads: int):
        import torch

        # One thread more than may be in progress aside, so a new advance always has one.
        # OpenMP's thread count is per OS thread: each pool thread sets it once.
        self._pool = futures.ThreadPoolExecutor(MAX_PENDING + 1, "gan-lab-piece",
                                                initializer=torch.set_num_threads,
                                                initargs=(threads,))
        self._aside: dict[int, futures.Future] = {}

    def busy(self, rid: int) -> bool:
        f = self._aside.get(rid)
        return f is not None and not f.done()

    def advance(self, rid: int, run, max_steps, seconds, aside: bool = True):
        """The run's Commit, or PENDING while its piece is still in progress. aside=False: wait
        for it, however long."""
        f = self._aside.pop(rid, None)
        if f is not None:                     # collect a piece started earlier
            if f.done():
                return f.result()
            self._aside[rid] = f
            return PENDING
        f = self._pool.submit(run.advance, max_steps, seconds)
        in_progress = sum(not x.done() for x in self._aside.values())
        wait = None if in_progress >= MAX_PENDING or not aside else (seconds or 0.0) + GRACE_S
        try:
            return f.result(timeout=wait)
        except futures.TimeoutError:
            self._aside[rid] = f
            return PENDING

    def forget(self, rid: int) -> None:
        """The run was dropped: a piece still in progress finishes unseen."""
        self._aside.pop(rid, None)


_start_lock = threading.Lock()


class _main_script_hidden:
    """spawn re-runs the parent's main *script* (python app.py) in the child, which would
    import gradio and the whole UI into every worker (~100 MB, seconds of start-up). The child
    needs only gan_lab, so the script's path is hidden while the child is prepared.
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


class Host:
    """One worker process and its pipe. call() is one request/reply, serialized."""

    def __init__(self, threads: int = 1, nice: int = 0):
        self.conn, child = _CTX.Pipe()
        self.proc = _CTX.Process(target=_host_main, args=(child, threads, nice), daemon=True,
                                 name="gan-lab-worker")
        with _main_script_hidden():
            self.proc.start()
        child.close()
        self._lock = threading.Lock()
        # Control requests (create, apply, export, drop) go before the next training slice: a
        # student's click waits for at most the slice in flight, not for a queue of slices.
        self._turn = threading.Condition()
        self._controls = 0

    # --- the typed client: one method per request (jobs/protocol.py) ----------------------------
    def create(self, rid: int, cfg, points=None, weights=None, state=None, final_at: int = -1,
               timeout: float = 120.0) -> str:
        """Build run `rid` of `cfg` (a RunConfig) here; returns its device."""
        return self.call(Create(rid, cfg.to_dict(), points, weights, state, final_at), timeout)

    def advance(self, rid: int, max_steps: int | None, seconds: float | None,
                aside: bool = True, timeout: float = 120.0):
        """A Commit (its weights as numpy: Commit.restored), or PENDING."""
        return self.call(Advance(rid, max_steps, seconds, aside), timeout)

    def apply(self, rid: int, changes: dict, timeout: float = 120.0) -> dict:
        return self.call(Apply(rid, changes), timeout)

    def export(self, rid: int, timeout: float = 120.0) -> tuple:
        """(TrainState, step of its final evaluation)."""
        return self.call(Export(rid), timeout)

    def drop(self, rid: int, timeout: float = 120.0) -> None:
        self.call(Drop(rid), timeout)

    def ping(self, timeout: float = 120.0) -> int:
        return self.call(Ping(), timeout)

    def call(self, req, timeout: float = 120.0):
        """One request (jobs/protocol.py) and its answer. A control request for a run whose
        piece of work is still in progress (RETRY) is asked again every RETRY_S, giving
        training slices their turns in between, until `timeout` (RunBusy)."""
        deadline = time.monotonic() + timeout
        while True:
            status, payload = self._prioritized(req, timeout)
            if status != "retry":
                break
            if time.monotonic() + RETRY_S > deadline:
                raise RunBusy(f"the run was still busy with a long step after {timeout:.0f} s")
            time.sleep(RETRY_S)
        if status == "config_error":
            raise ConfigError(*payload)
        if status == "error":
            # The worker's traceback goes to the server's log, never to a page.
            log.error("training process error in %s: %s", type(req).__name__, payload)
            raise RuntimeError(payload.splitlines()[0])
        return payload

    def _prioritized(self, req, timeout: float):
        control = not isinstance(req, Advance)
        with self._turn:
            if control:
                self._controls += 1
            else:
                while self._controls:
                    self._turn.wait(0.05)
        try:
            return self._call(req, timeout)
        finally:
            if control:
                with self._turn:
                    self._controls -= 1
                    self._turn.notify_all()

    def _call(self, req, timeout: float):
        with self._lock:
            if not self.proc.is_alive():
                raise WorkerDied("the training process has exited")
            try:
                self.conn.send_bytes(pickle.dumps(req, protocol=pickle.HIGHEST_PROTOCOL))
            except (BrokenPipeError, OSError) as e:
                raise WorkerDied(f"the training process exited ({e})") from None
            try:
                if not self.conn.poll(timeout):
                    raise WorkerDied(f"the training process did not answer "
                                     f"{type(req).__name__} in {timeout:.0f}s", during=True)
                return pickle.loads(self.conn.recv_bytes())
            except (EOFError, BrokenPipeError, OSError) as e:
                raise WorkerDied(f"the training process exited ({e})", during=True) from None

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self, timeout: float = 2.0) -> None:
        """End the process and reap it (a dead one is only joined)."""
        try:
            if self.proc.is_alive():
                self.call(Exit(), timeout)
        except Exception:  # noqa: BLE001
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout)
        self.conn.close()


# --------------------------------------------------------------------------------------------
# The pool and its scheduler (in the server process)
# --------------------------------------------------------------------------------------------
