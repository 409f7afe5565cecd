"""`python -m gan_lab sweep`: many runs over a grid of RunConfig values (issue 10).

    python -m gan_lab sweep --dataset ring8 --grid reg=none,l1,l2,hsn1r \\
        --grid lam=1e-4,1e-3,1e-2,1e-1 --seeds 0,1,2 --jobs 2 --out runs/sweep

Any RunConfig field can be gridded (`--grid field=v1,v2,...`, repeatable) or fixed (`--set
field=value`, the train command's `--field value` flags, or `--config FILE`). Every grid point
is coerced and validated before anything runs; a bad name or value exits with status 2 and one
line naming the field.

Each run is an ordinary `train` run (gan_lab.headless) in its own folder, named from the grid
point and the seed: `OUT/reg=l1,lam=0.01/seed0` (`Point.folder`). Folders are written atomically
(gan_lab.runs): a folder with a summary.json is finished, so running the same command again
skips the finished runs and redoes the rest (after Ctrl-C, a crash, or a folder whose
summary.json was deleted). A finished folder whose config.json differs from the planned one
stops the sweep before it starts (name the difference; use another --out).

reg=none ignores lambda and every other regularizer field (runs.REG_ONLY): its grid points
along those fields would be identical runs, so they are collapsed into one (`reg=none/seed0`),
shown once in the tables and as a horizontal reference line in the plot.

Results are read back from the run folders only, never from the executor's memory, so every
backend gives the same tables: `results.csv` (one row per run), `results.json` (the runs, the
per-point mean +- standard error, the command and the machine), `summary.md` (the PacGAN-style
table, gan_lab.evaluate's format) and `tradeoff.png` (the Sweep tab's figure,
plots.overlay.tradeoff_figure: quality, D sparsity and D sharpness against lambda, one line
per regularizer).

Backends: `local` (default; --jobs processes, spawned, one torch thread each; --jobs 1 trains
in this process) and `ray` (each run a Ray task: on a cluster at --address or RAY_ADDRESS, else
a local instance with --jobs CPUs). A Ray task trains in memory on its worker and returns
the run folder's files as bytes; this process writes them, so no shared filesystem is
needed. ray is imported only by that backend (and gan_lab/jobs/ray.py).

`--tensorboard DIR` also writes each run's TensorBoard event files into DIR/<run folder>
(gan_lab.tblog; a Ray task sends them back with the run's files). Runs finished before are
skipped, so their event files are those of the invocation that trained them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .. import runs
from ..config import ConfigError
from ..errors import brief
from .execute import SweepProgress, run_local, run_ray, train_files
from .plan import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Point,
    check_out,
    parse_grid,
    parse_seeds,
    parse_sets,
    plan,
)
from .report import command_line, gather, markdown, results_csv, tradeoff_png, write_results

__all__ = ["Point", "SweepProgress", "add_parser", "check_out", "cmd_sweep", "gather", "markdown",
           "parse_grid", "parse_seeds", "parse_sets", "plan", "results_csv", "run_local", "run_ray",
           "run_sweep", "tradeoff_png", "train_files", "write_results"]


# --------------------------------------------------------------------------------------------
# The whole sweep
# --------------------------------------------------------------------------------------------
def run_sweep(fixed: dict, grid: dict, seeds: list[int], out: Path, *, jobs: int = 1,
              backend: str = "local", address: str | None = None, cpus_per_run: float = 1,
              gpus_per_run: float = 0, png: bool = True, progress: bool = False,
              log=None, tensorboard: str | Path | None = None) -> tuple[dict, int]:
    """Plan (validating every point), skip finished runs, train the rest, write the results.
    Returns (results document, failed run count). Raises ConfigError before anything runs."""
    if backend not in ("local", "ray"):
        raise ConfigError("--backend", f"must be local or ray; got {brief(backend)}")
    if jobs < 1:
        raise ConfigError("--jobs", "must be a whole number >= 1")
    if cpus_per_run <= 0 or gpus_per_run < 0:
        raise ConfigError("--cpus-per-run" if cpus_per_run <= 0 else "--gpus-per-run",
                          "must be positive")
    points = plan(fixed, grid, seeds)
    if backend == "local":
        from ..placement import resolve_device

        for p in points:
            resolve_device(p.cfg)    # device=cuda without a GPU: refused now, not per run
    out = Path(out)
    runs.remove_stale_partials(out)
    done, todo = check_out(out, points)
    if log:
        log(f"{len(points)} runs planned ({len(done)} finished before, {len(todo)} to do) "
            f"in {out}")
    out.mkdir(parents=True, exist_ok=True)
    command = command_line(fixed, grid, seeds, jobs, backend, out, address, cpus_per_run,
                           gpus_per_run, png)
    bar = SweepProgress(len(points), len(done), progress)
    try:
        if todo and backend == "local":
            run_local(todo, out, jobs, png, bar, tensorboard=tensorboard)
        elif todo:
            run_ray(todo, out, jobs=jobs, address=address, png=png, cpus_per_run=cpus_per_run,
                    gpus_per_run=gpus_per_run, progress=bar, tensorboard=tensorboard)
    finally:
        bar.close()
    doc = write_results(out, points, fixed, grid, seeds, command=command, backend=backend,
                        jobs=jobs)
    return doc, bar.failed



# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def fixed_from_args(args, grid: dict) -> dict[str, Any]:
    """--preset NAME, --config FILE, then the train-style flags, then --set: the fields every
    run shares (only those that differ from the defaults: fields left out take their dataset's
    defaults per grid point). A gridded field overrides the preset and the config file; as a
    flag or --set as well it is refused (plan)."""
    from ..cli import config_fields

    fixed = config_fields(args, skip={*grid, "seed"})
    if getattr(args, "seed", None) is not None:
        raise ConfigError("seed", "use --seeds to choose the seeds of a sweep")
    fixed.update(parse_sets(args.set or []))
    return fixed


def cmd_sweep(args) -> int:
    def log(s):
        if not args.quiet:
            print(s, file=sys.stderr, flush=True)

    try:
        grid = parse_grid(args.grid or [])
        fixed = fixed_from_args(args, grid)
        seeds = parse_seeds(args.seeds)
        out = Path(args.out) if args.out else runs.runs_dir() / "sweep"
        runs.check_out_dir(out, "--out")
        tb_dir = None
        if args.tensorboard is not None:
            from ..tblog import log_dir
            tb_dir = log_dir(args.tensorboard, "")
        if args.dry_run:
            points = plan(fixed, grid, seeds)
            done, todo = check_out(out, points)
            for p in points:
                print(f"{'done' if p in done else 'todo'}  {out / p.folder}  "
                      f"{runs.run_name(p.cfg)}")
            print(f"{len(points)} runs: {len(done)} finished, {len(todo)} to do")
            return 0
        doc, failed = run_sweep(fixed, grid, seeds, out, jobs=args.jobs, backend=args.backend,
                                address=args.address, cpus_per_run=args.cpus_per_run,
                                gpus_per_run=args.gpus_per_run, png=not args.no_png,
                                progress=not args.quiet, log=log, tensorboard=tb_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are kept; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(markdown(doc), end="")
    print(f"wrote {out / 'results.csv'}, results.json, summary.md and tradeoff.png")
    if failed:
        print(f"error: {failed} run(s) failed (see above); run the same command again to "
              "retry them", file=sys.stderr)
        return EXIT_FAILED
    return 0


def add_parser(sub) -> None:
    from ..cli import add_config_flags, add_preset_flag

    s = sub.add_parser("sweep", help="many runs over a grid of settings and seeds; resumable")
    s.add_argument("--grid", action="append", metavar="FIELD=V1,V2,...",
                   help="a field and its values, e.g. reg=none,l1 or lam=1e-3,1e-2 "
                        "(repeatable; runs = product of the grids x seeds)")
    s.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="a field every run shares, e.g. steps=1500 (repeatable; the train "
                        "command's --FIELD VALUE flags work too)")
    s.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    s.add_argument("--config", help="a RunConfig JSON file every run starts from (its seed "
                                    "is ignored: --seeds)")
    s.add_argument("--out", default=None,
                   help=f"sweep folder (default $GAN_LAB_RUNS_DIR/sweep, i.e. "
                        f"{runs.DEFAULT_RUNS_DIR}/sweep)")
    s.add_argument("--jobs", type=int, default=1,
                   help="runs at a time: local processes, or a local Ray instance's CPUs "
                        "(default 1)")
    s.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: a process pool here; ray: Ray tasks (pip install -r "
                        "requirements-ray.txt)")
    s.add_argument("--address", default=None,
                   help="Ray cluster address (default $RAY_ADDRESS, else a local instance)")
    s.add_argument("--cpus-per-run", "--cpus_per_run", dest="cpus_per_run", type=float,
                   default=1.0, help="Ray: CPUs reserved per run (default 1)")
    s.add_argument("--gpus-per-run", "--gpus_per_run", dest="gpus_per_run", type=float,
                   default=0.0, help="Ray: GPUs reserved per run, e.g. 0.25 (default 0)")
    s.add_argument("--no-png", action="store_true", help="no samples.png per run (faster)")
    s.add_argument("--tensorboard", metavar="DIR",
                   help="also write each run's TensorBoard event files into DIR/<run folder>; "
                        "needs the optional tensorboard package (requirements-tensorboard.txt)")
    s.add_argument("--dry-run", action="store_true",
                   help="list the runs and whether each is finished; train nothing")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    add_preset_flag(s)
    add_config_flags(s)
    s.set_defaults(func=cmd_sweep)
