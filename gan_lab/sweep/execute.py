"""Sweep execution: the progress bar and the two backends (a local process pool, Ray tasks).
Each run is an ordinary `train` run (gan_lab.headless) written atomically into its folder."""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

from .. import runs
from ..config import ConfigError, RunConfig
from ..tblog import split_files, write_event_files
from .plan import Point


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
class SweepProgress:
    """Runs done / total and an ETA on stderr: a bar redrawn in place on a terminal, else one
    line per finished run. Quiet when disabled."""

    def __init__(self, total: int, already: int, enabled: bool):
        self.total, self.already, self.enabled = total, already, enabled
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.tty = enabled and sys.stderr.isatty()
        self.show()

    def tick(self, what: str, error: str | None = None) -> None:
        self.done += 1
        self.failed += error is not None
        if not self.enabled:
            return
        if error is not None:
            if self.tty:
                print(file=sys.stderr)
            print(f"error: run {what} failed: {error}", file=sys.stderr, flush=True)
        self.show(what)

    def line(self) -> str:
        n = self.already + self.done
        elapsed = time.monotonic() - self.t0
        left = self.total - n
        eta = "?" if self.done == 0 else _clock(elapsed / self.done * left)
        bar = "#" * int(30 * n / max(1, self.total))
        return (f"[{bar:<30}] {n}/{self.total} runs  elapsed {_clock(elapsed)}  ETA {eta}"
                + (f"  ({self.failed} failed)" if self.failed else ""))

    def show(self, what: str | None = None) -> None:
        if not self.enabled:
            return
        if self.tty:
            print("\r" + self.line(), end="", file=sys.stderr, flush=True)
        elif what is not None:
            print(f"{self.line()}  {what}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _clock(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _run_one(task: tuple[dict, str, bool, str | None]) -> tuple[str, str | None]:
    """Train one config into its folder (a worker process's entry point): (folder, error)."""
    from ..headless import train

    cfg_dict, folder, png, tb = task
    try:
        train(RunConfig.from_dict(cfg_dict), Path(folder), quiet=True, png=png, tensorboard=tb)
        return folder, None
    except Exception as e:  # noqa: BLE001 - reported per run; the sweep goes on
        return folder, f"{type(e).__name__}: {e}"


def train_files(cfg_dict: dict, png: bool = True, threads: int | None = None,
                tensorboard: bool = False) -> dict[str, bytes]:
    """Train one config and return its run folder's files (name -> bytes): what a
    Ray task sends back to the driver, which writes the run folder itself. threads: the CPUs
    the task reserved (--cpus-per-run). tensorboard: the run's TensorBoard event files come
    along, named with tblog.FILE_PREFIX (tblog.split_files separates them)."""
    from ..headless import run_files
    from ..tblog import event_files

    cfg = RunConfig.from_dict(cfg_dict)
    if not tensorboard:
        return run_files(cfg, quiet=True, png=png, threads=threads)[1]
    with tempfile.TemporaryDirectory(prefix="gan-lab-tb-") as tb:
        files = run_files(cfg, quiet=True, png=png, threads=threads, tensorboard=tb)[1]
        return {**files, **event_files(tb)}


def est_cost(cfg: RunConfig) -> float:
    """A run's estimated cost (GFLOP: gan_lab.cost, the server's cost model). Only its order
    matters here (longest_first)."""
    from .. import cost

    return cost.run_gflop(cfg)


def longest_first(todo: list[Point]) -> list[Point]:
    """The runs in decreasing estimated cost (stable for ties): with several at a time, the long
    ones start first and the short ones fill the gaps, so the last seconds of a sweep are not one
    long run with the other workers idle (longest-processing-time-first scheduling)."""
    costs = {id(p): est_cost(p.cfg) for p in todo}
    return sorted(todo, key=lambda p: -costs[id(p)])


def run_local(todo: list[Point], out: Path, jobs: int, png: bool,
              progress: SweepProgress, tensorboard: Path | None = None) -> None:
    if jobs > 1:
        todo = longest_first(todo)
    tasks = [(p.cfg.to_dict(), str(out / p.folder), png,
              None if tensorboard is None else str(Path(tensorboard) / p.folder)) for p in todo]
    names = {str(out / p.folder): p.folder for p in todo}
    if jobs <= 1:
        for t in tasks:
            folder, err = _run_one(t)
            progress.tick(names[folder], err)
        return
    # spawn, not fork: a forked child would inherit torch's thread pools mid-state.
    with mp.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
        for folder, err in pool.imap_unordered(_run_one, tasks):
            progress.tick(names[folder], err)


def run_ray(todo: list[Point], out: Path, *, jobs: int, address: str | None, png: bool,
            cpus_per_run: float, gpus_per_run: float, progress: SweepProgress,
            tensorboard: Path | None = None) -> None:
    """Each run a Ray task returning its folder's files; written here as they arrive."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend", "ray is not installed (pip install -r "
                                       "requirements-ray.txt)") from None
    from ..jobs.ray import connect

    started = connect(address, num_cpus=jobs)
    try:
        task = ray.remote(train_files).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run)
        threads = max(1, int(cpus_per_run))
        refs = {task.remote(p.cfg.to_dict(), png, threads, tensorboard is not None): p
                for p in longest_first(todo)}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                p = refs[ready[0]]
                try:
                    files, events = split_files(ray.get(ready[0]))
                    if tensorboard is not None:
                        write_event_files(Path(tensorboard) / p.folder, events)
                    runs.write_run_files(out / p.folder, files)
                    progress.tick(p.folder)
                except Exception as e:  # noqa: BLE001 - reported per run
                    progress.tick(p.folder, f"{type(e).__name__}: {e}")
        except BaseException:
            for r in pending:
                ray.cancel(r, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


