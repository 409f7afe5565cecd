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
    """Runs done / total, elapsed time and an ETA on stderr (tqdm): a bar redrawn in place on a
    terminal, else one line per finished run. Quiet when disabled."""

    FORMAT = "[{bar:30}] {n_fmt}/{total_fmt} runs  elapsed {elapsed}  ETA {remaining}{postfix}"

    def __init__(self, total: int, already: int, enabled: bool):
        from tqdm import tqdm

        self.total, self.already, self.n, self.failed = total, already, already, 0
        self.enabled, self.tty = enabled, enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.bar = tqdm(total=total, initial=already, file=sys.stderr, disable=not self.tty,
                        bar_format=self.FORMAT)

    def tick(self, what: str, error: str | None = None) -> None:
        self.n += 1
        if error is not None:
            self.failed += 1
            if self.enabled:
                self.bar.write(f"error: run {what} failed: {error}", file=sys.stderr)
            self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        self.bar.update()
        if self.enabled and not self.tty:
            print(f"{self.line()}  {what}", file=sys.stderr, flush=True)

    def line(self) -> str:
        return self.bar.format_meter(
            self.n, self.total, time.monotonic() - self.t0, bar_format=self.FORMAT,
            initial=self.already, postfix=f"{self.failed} failed" if self.failed else None)

    def close(self) -> None:
        self.bar.close()


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


def in_processes(fn, tasks: list, jobs: int, ordered: bool = True):
    """fn over tasks (yielding results): in this process with jobs 1, else in min(jobs, tasks)
    spawned processes, not forked (a forked child would inherit torch's thread pools
    mid-state); ordered=False yields each result as it comes."""
    if jobs <= 1:
        yield from map(fn, tasks)
        return
    with mp.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
        yield from (pool.imap if ordered else pool.imap_unordered)(fn, tasks)


def run_local(todo: list[Point], out: Path, jobs: int, png: bool,
              progress: SweepProgress, tensorboard: Path | None = None) -> None:
    if jobs > 1:
        todo = longest_first(todo)
    tasks = [(p.cfg.to_dict(), str(out / p.folder), png,
              None if tensorboard is None else str(Path(tensorboard) / p.folder)) for p in todo]
    names = {str(out / p.folder): p.folder for p in todo}
    for folder, err in in_processes(_run_one, tasks, jobs, ordered=False):
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


