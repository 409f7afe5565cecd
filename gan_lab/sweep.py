"""`python -m gan_lab sweep`: many runs over a grid of RunConfig values (issue 10).

    python -m gan_lab sweep --dataset ring8 --grid reg=none,l1,l2,hsn1r \\
        --grid lam=1e-4,1e-3,1e-2,1e-1 --seeds 0,1,2 --jobs 2 --out runs/sweep

Any RunConfig field can be gridded (`--grid field=v1,v2,...`, repeatable) or fixed (`--set
field=value`, the train command's `--field value` flags, or `--config FILE`). Every grid point
is coerced and validated before anything runs; a bad name or value exits with status 2 and one
line naming the field.

Each run is an ordinary `gan_lab.cli.train` run in its own folder, named from the grid point
and the seed: `OUT/reg=l1,lam=0.01/seed0` (`Point.folder`). Folders are written atomically
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
table, gan_lab.evaluate's format) and `tradeoff.png` (quality against D's sparsity and
sharpness along lambda, one line per regularizer).

Backends: `local` (default; --jobs processes, spawned, one torch thread each; --jobs 1 trains
in this process) and `ray` (each run a Ray task: on a cluster at --address or RAY_ADDRESS, else
a local instance with --jobs CPUs). A Ray task trains into a temporary folder on its worker and
returns the folder's files as bytes; this process writes them, so no shared filesystem is
needed. ray is imported only by that backend (and gan_lab/jobs/ray.py).
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import evaluate, runs
from .config import ConfigError, RunConfig, coerce, field_map, spec
from .errors import brief

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

# Preferred order of the final metrics in results.csv (others follow, sorted).
METRIC_ORDER = ("modes", "hq_frac", "rev_kl", "grid_kl", "grid_js", "digits_covered",
                "class_kl", "cls_is", "fcd", "sparsity_d", "zeros_d", "sparsity_g", "zeros_g",
                "sharpness_d", "sharpness_g", "loss_d", "loss_g", "reg_d", "reg_g")
TIME_KEYS = ("wall_s", "cpu_s", "loop_wall_s", "loop_cpu_s")


# --------------------------------------------------------------------------------------------
# Parsing and planning
# --------------------------------------------------------------------------------------------
def field_name(raw: str, flag: str) -> str:
    """A RunConfig field from user text (`lr-g` or `lr_g`)."""
    name = raw.strip().replace("-", "_")
    if not name:
        raise ConfigError(flag, "expected field=value")
    if name not in field_map():
        raise ConfigError(name, f"unknown field in {flag}")
    if name == "seed":
        raise ConfigError("seed", "use --seeds to choose the seeds of a sweep")
    return name


def _split(item: str, flag: str) -> tuple[str, str]:
    name, eq, values = item.partition("=")
    if not eq:
        raise ConfigError(flag, f"expected field=value, got {brief(item)}")
    return field_name(name, flag), values


def parse_grid(items: list[str]) -> dict[str, list]:
    """["reg=none,l1", "lam=1e-3,1e-2"] -> {"reg": ["none", "l1"], "lam": [0.001, 0.01]},
    each value coerced to the field's type (ConfigError naming the field otherwise)."""
    grid: dict[str, list] = {}
    for item in items:
        name, text = _split(item, "--grid")
        if name in grid:
            raise ConfigError(name, "gridded twice; give all its values in one --grid")
        raw = [v.strip() for v in text.split(",")]
        if not any(raw):
            raise ConfigError(name, "--grid has no values (use --grid name=v1,v2,...)")
        if not all(raw):
            raise ConfigError(name, f"--grid has an empty value in {brief(text)}")
        values = [coerce(name, v) for v in raw]
        if len(set(values)) != len(values):
            raise ConfigError(name, f"--grid repeats a value in {brief(text)}")
        grid[name] = values
    return grid


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, text = _split(item, "--set")
        out[name] = coerce(name, text)
    return out


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in (x.strip() for x in text.split(",")) if s]
    except ValueError:
        raise ConfigError("--seeds", f"must be whole numbers separated by commas; got "
                                     f"{brief(text)}") from None
    if not seeds:
        raise ConfigError("--seeds", "give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("--seeds", "a seed is repeated")
    for s in seeds:
        RunConfig.from_dict({"seed": s})   # range check, naming "seed"
    return seeds


def fmt_value(v) -> str:
    """A grid value as it appears in folder names and tables (exact: floats by repr)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in text)


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its grid values (collapsed fields left out), seed and config."""

    values: tuple[tuple[str, Any], ...]
    seed: int
    cfg: RunConfig

    @property
    def slug(self) -> str:
        return ",".join(f"{k}={_safe(fmt_value(v))}" for k, v in self.values) or "base"

    @property
    def folder(self) -> str:
        """The run folder, relative to the sweep's --out."""
        return f"{self.slug}/seed{self.seed}"


def plan(fixed: dict[str, Any], grid: dict[str, list], seeds: list[int]) -> list[Point]:
    """Every run of the sweep, in grid order (the first --grid varies slowest), seeds innermost.
    Each point is validated here (ConfigError naming the field and the point). Points with
    reg=none drop their gridded regularizer fields (runs.REG_ONLY) and so merge."""
    for k in fixed:
        if k in grid:
            raise ConfigError(k, "is both fixed (--set or a flag) and gridded (--grid)")
    points: list[Point] = []
    seen = set()
    names = list(grid)
    for combo in itertools.product(*(grid[k] for k in names)):
        values = dict(zip(names, combo))
        for seed in seeds:
            try:
                cfg = RunConfig.from_dict({**fixed, **values, "seed": seed})
            except ConfigError as e:
                where = ",".join(f"{k}={fmt_value(v)}" for k, v in values.items())
                msg = str(e)[len(e.field) + 2:]
                raise ConfigError(e.field, f"{msg} (grid point {where})") from None
            if cfg.dataset == "custom":
                raise ConfigError("dataset", "custom needs the user's points; sweeps train "
                                             "the built-in datasets")
            kept = values
            if cfg.reg == "none":
                kept = {k: v for k, v in values.items() if k not in runs.REG_ONLY}
                cfg = RunConfig.from_dict({**fixed, **kept, "seed": seed})
            key = (tuple(kept.items()), seed)
            if key in seen:
                continue
            seen.add(key)
            points.append(Point(tuple(kept.items()), seed, cfg))
    return points


def check_out(out: Path, points: list[Point]) -> tuple[list[Point], list[Point]]:
    """(finished, to do). A finished folder must hold the planned config: ConfigError("--out")
    naming the first differing field otherwise (before anything runs)."""
    done, todo = [], []
    for p in points:
        folder = out / p.folder
        if not runs.is_complete(folder):
            todo.append(p)
            continue
        try:
            old = json.loads((folder / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            todo.append(p)      # unreadable: redo it
            continue
        new = p.cfg.to_dict()
        diff = [k for k in new if old.get(k) != new[k]]
        if diff:
            k = diff[0]
            raise ConfigError("--out", f"{folder} holds a finished run of another config "
                                       f"({k}: {old.get(k)!r} there, {new[k]!r} now); use "
                                       "another --out or delete that folder")
        done.append(p)
    return done, todo


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


def _run_one(task: tuple[dict, str, bool]) -> tuple[str, str | None]:
    """Train one config into its folder (a worker process's entry point): (folder, error)."""
    from .cli import train

    cfg_dict, folder, png = task
    try:
        train(RunConfig.from_dict(cfg_dict), Path(folder), quiet=True, png=png)
        return folder, None
    except Exception as e:  # noqa: BLE001 - reported per run; the sweep goes on
        return folder, f"{type(e).__name__}: {e}"


def train_files(cfg_dict: dict, png: bool = True) -> dict[str, bytes]:
    """Train one config into a temporary folder and return its files (name -> bytes): what a
    Ray task sends back to the driver, which writes the run folder itself."""
    from .cli import train

    tmp = Path(tempfile.mkdtemp(prefix="gan-lab-run-"))
    try:
        train(RunConfig.from_dict(cfg_dict), tmp / "run", quiet=True, png=png)
        return runs.read_run_files(tmp / "run")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_local(todo: list[Point], out: Path, jobs: int, png: bool,
              progress: SweepProgress) -> None:
    tasks = [(p.cfg.to_dict(), str(out / p.folder), png) for p in todo]
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
            cpus_per_run: float, gpus_per_run: float, progress: SweepProgress) -> None:
    """Each run a Ray task returning its folder's files; written here as they arrive."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend", "ray is not installed (pip install -r "
                                       "requirements-ray.txt)") from None
    from .jobs.ray import connect

    started = connect(address, num_cpus=jobs)
    try:
        task = ray.remote(train_files).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run)
        refs = {task.remote(p.cfg.to_dict(), png): p for p in todo}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                p = refs[ready[0]]
                try:
                    runs.write_run_files(out / p.folder, ray.get(ready[0]))
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


# --------------------------------------------------------------------------------------------
# Results: read back from the folders
# --------------------------------------------------------------------------------------------
def gather(out: Path, points: list[Point], grid_names: list[str]) -> list[dict]:
    """One record per finished run folder of the plan: folder, grid values (None where
    collapsed), seed, id, steps, device, diverged, and metrics (summary "final" plus times)."""
    records = []
    for p in points:
        folder = out / p.folder
        if not runs.is_complete(folder):
            continue
        s = json.loads((folder / runs.SUMMARY).read_text())
        values = dict(p.values)
        m = dict(s.get("final", {}))
        m["wall_s"] = s.get("total_wall_s", s.get("wall_s"))
        m["cpu_s"] = s.get("total_cpu_s", s.get("cpu_s"))
        m["loop_wall_s"] = s.get("wall_s")
        m["loop_cpu_s"] = s.get("cpu_s")
        records.append({"folder": p.folder, **{k: values.get(k) for k in grid_names},
                        "seed": p.seed, "id": s.get("id"), "steps": s.get("steps"),
                        "device": s.get("device"), "diverged": s.get("diverged"),
                        "metrics": {k: v for k, v in m.items() if v is not None}})
    return records


def metric_keys(records: list[dict]) -> list[str]:
    seen = {k for r in records for k in r["metrics"] if k not in TIME_KEYS}
    first = [k for k in METRIC_ORDER if k in seen]
    return first + sorted(seen - set(first)) + list(TIME_KEYS)


def results_csv(records: list[dict], grid_names: list[str]) -> str:
    import csv
    import io

    keys = metric_keys(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["folder", *grid_names, "seed", "id", "steps", "device", "diverged", *keys])
    for r in records:
        w.writerow([r["folder"], *("" if r[k] is None else fmt_value(r[k]) for k in grid_names),
                    r["seed"], r["id"], r["steps"], r["device"], r["diverged"] or "",
                    *(_cell(r["metrics"].get(k)) for k in keys)])
    return buf.getvalue()


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


def table_columns(points: list[Point]) -> list[tuple[str, str, float, int | None]]:
    images = {p.cfg.is_image for p in points}
    cols = []
    if False in images:
        cols += evaluate.TOY_COLUMNS
    if True in images:
        cols += evaluate.MNIST_COLUMNS
    return cols + evaluate.COMMON_COLUMNS


def markdown(doc: dict) -> str:
    grid_names = list(doc["grid"])
    cols = [tuple(c) for c in doc["columns"]]
    dev = doc["device"]
    lines = [f"## GAN Lab sweep: {doc['out']}", "",
             f"Command: `{doc['command']}`", "",
             f"Device: {', '.join(dev['train_device']) or 'n/a'} ({dev['cpu_model']}, "
             f"{dev['cpu_cores']} cores; backend {doc['backend']}, "
             f"{dev['parallel_runs']} run(s) at a time, torch {dev['torch']})", "",
             f"Seeds {', '.join(map(str, doc['seeds']))}; mean ± standard error over seeds "
             f"(n runs per row); {doc['finished']} of {doc['planned']} runs finished.", ""]
    head = [*grid_names, "n", "Diverged", *(c[1] for c in cols)]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for row in doc["points"]:
        cells = ["–" if row[k] is None else fmt_value(row[k]) for k in grid_names]
        cells += [str(row["n"]), str(row["diverged"])]
        for key, _title, scale, dec in cols:
            v = row.get(key) or {"mean": None, "se": None}
            cells.append(evaluate.fmt_mean_se(evaluate._nan(v["mean"]), evaluate._nan(v["se"]),
                                              scale, dec))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Fixed settings: " + (evaluate._fields_str(doc["fixed"]) if doc["fixed"]
                                          else "(defaults)"), ""]
    notes = []
    if doc["collapsed"]:
        notes.append("reg=none ignores " + ", ".join(doc["collapsed"]) + ": its runs would be "
                     "identical along those fields, so each seed runs once and its row shows "
                     "– there (in tradeoff.png: a dashed reference line).")
    notes.append("Wall s and CPU s: the whole run (building the nets, training, evaluations, "
                 "writing the folder); results.csv also has loop_wall_s and loop_cpu_s, the "
                 "training loop alone. CPU s is the better speed figure on a shared machine.")
    notes.append("Every number is read back from the run folders (OUT/<grid point>/seed<k>/"
                 "summary.json); results.csv has one row per run.")
    lines += ["Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _fmt_command(fixed, grid, seeds, jobs, backend, out, address, cpus, gpus, png) -> str:
    parts = ["python -m gan_lab sweep"]
    parts += [f"--set {k}={fmt_value(v)}" for k, v in fixed.items()]
    parts += [f"--grid {k}={','.join(fmt_value(v) for v in vs)}" for k, vs in grid.items()]
    parts += [f"--seeds {','.join(map(str, seeds))}", f"--jobs {jobs}", f"--backend {backend}"]
    if address:
        parts.append(f"--address {address}")
    if cpus != 1:
        parts.append(f"--cpus-per-run {cpus:g}")
    if gpus:
        parts.append(f"--gpus-per-run {gpus:g}")
    if not png:
        parts.append("--no-png")
    parts.append(f"--out {out}")
    return " ".join(parts)


def write_results(out: Path, points: list[Point], fixed: dict, grid: dict, seeds: list[int],
                  *, command: str, backend: str, jobs: int, png_plot: bool = True) -> dict:
    """Gather the finished folders and write results.csv, results.json, summary.md and
    tradeoff.png into out. Returns the results document."""
    grid_names = list(grid)
    records = gather(out, points, grid_names)
    cols = table_columns(points)
    keys = sorted({k for r in records for k in r["metrics"]} | {c[0] for c in cols})
    collapsed = [k for k in grid_names if k in runs.REG_ONLY
                 and any(p.cfg.reg == "none" for p in points)]
    doc = {
        "out": str(out), "command": command, "backend": backend,
        "device": evaluate.device_info(records, jobs),
        "grid": {k: list(v) for k, v in grid.items()}, "fixed": fixed,
        "seeds": list(seeds), "collapsed": collapsed,
        "planned": len(points), "finished": len(records),
        "columns": [list(c) for c in cols],
        "points": evaluate.aggregate(records, keys, by=tuple(grid_names)),
        "runs": records,
    }
    (out / "results.csv").write_text(results_csv(records, grid_names))
    (out / "results.json").write_text(json.dumps(doc, indent=2, default=evaluate._jsonable)
                                      + "\n")
    (out / "summary.md").write_text(markdown(doc))
    if png_plot and records:
        try:
            tradeoff_png(doc, out / "tradeoff.png")
        except ImportError as e:
            print(f"warning: tradeoff.png not written ({e})", file=sys.stderr)
    return doc


# --------------------------------------------------------------------------------------------
# The trade-off figure
# --------------------------------------------------------------------------------------------
def tradeoff_png(doc: dict, path: Path) -> None:
    """Quality (rows: the dataset's two headline metrics) against D's sparsity and sharpness
    (columns), one line per regularizer through its lambda values (labelled), mean +- SE over
    seeds; reg=none as a dashed reference line. Drawn with matplotlib's Agg canvas (no pyplot
    state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = doc["points"]
    image = any(c[0] == "digits_covered" for c in doc["columns"]) and \
        not any(c[0] == "modes" for c in doc["columns"])
    quality = [("digits_covered", "Digits covered", 1), ("fcd", "FCD (lower is better)", 1)] \
        if image else [("modes", "Modes covered", 1), ("hq_frac", "High-quality samples %", 100)]
    target = "g" if rows and all(_target_of(doc, r) == "g" for r in rows
                                 if r.get("reg") not in (None, "none")) else "d"
    xs = [(f"sparsity_{target}", f"{target.upper()} |w| <= eps %", 100, "linear"),
          (f"sharpness_{target}", f"{target.upper()} sharpness (top |Hessian eigenvalue|)", 1,
           "log")]
    series: dict[str, list[dict]] = {}
    for r in rows:
        series.setdefault(str(r.get("reg", "all")), []).append(r)
    fig = Figure(figsize=(10, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    lam_gridded = "lam" in doc["grid"]
    for i, (qk, qlabel, qs) in enumerate(quality):
        for j, (xk, xlabel, xscale_k, scale) in enumerate(xs):
            ax = axes[i][j]
            for n, (reg, rs) in enumerate(series.items()):
                pts = [(r[xk]["mean"], r[xk]["se"], r[qk]["mean"], r[qk]["se"], r)
                       for r in rs if r.get(xk) and r.get(qk) and r[xk]["mean"] is not None
                       and r[qk]["mean"] is not None]
                if not pts:
                    continue
                if lam_gridded:
                    pts.sort(key=lambda t: (t[4].get("lam") is None, t[4].get("lam") or 0))
                x = [p[0] * xscale_k for p in pts]
                y = [p[2] * qs for p in pts]
                xe = [(p[1] or 0) * xscale_k for p in pts]
                ye = [(p[3] or 0) * qs for p in pts]
                color = f"C{n}"
                if reg == "none" and len(pts) == 1:
                    ax.axhline(y[0], color="0.4", ls="--", lw=1, label="none")
                    ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="*", color="0.4", ms=10)
                    continue
                ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="-o", color=color, ms=4, capsize=2,
                            label=reg)
                if lam_gridded:
                    for p, xi, yi in zip(pts, x, y):
                        if p[4].get("lam") is not None:
                            ax.annotate(f"{p[4]['lam']:g}", (xi, yi), fontsize=7,
                                        textcoords="offset points", xytext=(3, 3), color=color)
            ax.set_xscale(scale)
            if qk in ("modes", "digits_covered"):
                ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(qlabel)
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][0].legend(handles, labels, fontsize=8, title="regularizer" if "reg" in
                          doc["grid"] else None)
    seeds = len(doc["seeds"])
    fig.suptitle(f"Trade-off along lambda (labels), mean ± SE over {seeds} seed(s): "
                 f"{doc['out']}", fontsize=10)
    fig.savefig(path, format="png")


def _target_of(doc: dict, row: dict) -> str:
    if "reg_target" in doc["grid"] and row.get("reg_target"):
        return row["reg_target"]
    return doc["fixed"].get("reg_target", spec("reg_target")["default"])


# --------------------------------------------------------------------------------------------
# The whole sweep
# --------------------------------------------------------------------------------------------
def run_sweep(fixed: dict, grid: dict, seeds: list[int], out: Path, *, jobs: int = 1,
              backend: str = "local", address: str | None = None, cpus_per_run: float = 1,
              gpus_per_run: float = 0, png: bool = True, progress: bool = False,
              log=None) -> tuple[dict, int]:
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
        from .trainer import resolve_device

        for p in points:
            resolve_device(p.cfg)    # device=cuda without a GPU: refused now, not per run
    out = Path(out)
    runs.remove_stale_partials(out)
    done, todo = check_out(out, points)
    if log:
        log(f"{len(points)} runs planned ({len(done)} finished before, {len(todo)} to do) "
            f"in {out}")
    out.mkdir(parents=True, exist_ok=True)
    command = _fmt_command(fixed, grid, seeds, jobs, backend, out, address, cpus_per_run,
                           gpus_per_run, png)
    bar = SweepProgress(len(points), len(done), progress)
    try:
        if todo and backend == "local":
            run_local(todo, out, jobs, png, bar)
        elif todo:
            run_ray(todo, out, jobs=jobs, address=address, png=png, cpus_per_run=cpus_per_run,
                    gpus_per_run=gpus_per_run, progress=bar)
    finally:
        bar.close()
    doc = write_results(out, points, fixed, grid, seeds, command=command, backend=backend,
                        jobs=jobs)
    return doc, bar.failed


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def fixed_from_args(args, grid: dict) -> dict[str, Any]:
    """--config FILE, then the train-style flags, then --set: the fields every run shares (only
    those that differ from the defaults: fields left out take their dataset's defaults per
    grid point). A gridded field overrides the config file's value."""
    fixed: dict[str, Any] = {}
    if args.config:
        try:
            text = Path(args.config).read_text()
        except OSError as e:
            raise ConfigError("--config", f"cannot read {args.config}: {e.strerror}") from None
        base = RunConfig.from_json(text).non_default()
        fixed.update({k: v for k, v in base.items() if k not in grid and k != "seed"})
    for name in field_map():
        v = getattr(args, name, None)
        if v is not None:
            if name == "seed":
                raise ConfigError("seed", "use --seeds to choose the seeds of a sweep")
            fixed[name] = coerce(name, v)
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
                                progress=not args.quiet, log=log)
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
    from .cli import add_config_flags

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
    s.add_argument("--dry-run", action="store_true",
                   help="list the runs and whether each is finished; train nothing")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(s)
    s.set_defaults(func=cmd_sweep)
