"""A worker process hosting many Runs (`_host_main`) and its handle in the server (`Host`):
request/reply over one pipe, see jobs/workers.py for the protocol and the scheduler."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import threading
import traceback

from ..errors import ConfigError

_CTX = mp.get_context("spawn")   # fork with a threaded server (and torch) is unsafe


class WorkerDied(RuntimeError):
    pass


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
    while True:
        try:
            op, args = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            break
        try:
            if op == "create":
                rid, cfg_dict, points, weights, state, final_at = args
                run = Run(RunConfig.from_dict(cfg_dict), points, weights=weights,
                          start_eval=None, history_cap=2)
                if state is not None:
                    run.import_state(state, final_at)
                runs[rid] = run
                out = str(run.trainer.device)
            elif op == "advance":
                rid, max_steps, seconds = args
                out = runs[rid].advance(max_steps, seconds)
            elif op == "apply":
                rid, changes = args
                out = runs[rid].apply(**changes).to_dict()
            elif op == "export":
                out = (runs[args[0]].export_state(), runs[args[0]].final_at)
            elif op == "drop":
                runs.pop(args[0], None)
                out = None
            elif op == "ping":
                out = len(runs)
            elif op == "exit":
                conn.send_bytes(pickle.dumps(("ok", None)))
                break
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = ("ok", out)
        except ConfigError as e:
            reply = ("config_error", (e.field, str(e).split(": ", 1)[-1]))
        except Exception as e:  # reported to the server; the process lives on
            reply = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


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

    def call(self, op: str, *args, timeout: float = 120.0):
        control = op != "advance"
        with self._turn:
            if control:
                self._controls += 1
            else:
                while self._controls:
                    self._turn.wait(0.05)
        try:
            return self._call(op, *args, timeout=timeout)
        finally:
            if control:
                with self._turn:
                    self._controls -= 1
                    self._turn.notify_all()

    def _call(self, op: str, *args, timeout: float = 120.0):
        with self._lock:
            if not self.proc.is_alive():
                raise WorkerDied("the training process has exited")
            try:
                self.conn.send_bytes(pickle.dumps((op, args), protocol=pickle.HIGHEST_PROTOCOL))
                if not self.conn.poll(timeout):
                    raise WorkerDied(f"the training process did not answer {op!r} in "
                                     f"{timeout:.0f}s")
                status, payload = pickle.loads(self.conn.recv_bytes())
            except (EOFError, BrokenPipeError, OSError) as e:
                raise WorkerDied(f"the training process exited ({e})") from None
        if status == "config_error":
            raise ConfigError(*payload)
        if status == "error":
            raise RuntimeError(payload.splitlines()[0])
        return payload

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self, timeout: float = 2.0) -> None:
        """End the process and reap it (a dead one is only joined)."""
        try:
            if self.proc.is_alive():
                self.call("exit", timeout=timeout)
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
