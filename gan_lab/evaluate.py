"""`python -m gan_lab eval --suite toy|mnist|mnist-conv|mnist-conv-long|time-to-quality`.

Every run is an ordinary `train` run (gan_lab.headless; its files land under OUT/runs/...),
built from a preset in gan_lab.presets plus one row's settings (presets.TABLE_ROWS: a
regularizer's, or spectral norm's or WGAN-GP's) and a seed. The quality tables aggregate the
runs' summary.json "final" values over seeds as mean +- standard error in the layout of
PacGAN's Table 1 (modes, HQ %, reverse KL) with sparsity, sharpness and time columns;
time-to-quality tabulates the steps and CPU-seconds to each dataset's bar (gan_lab.time_to_quality).
Each writes table_<suite>.md and .json; every run records its process's CPU seconds (one
thread: wall time on a shared machine says more about the neighbours than about the run).
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .config import ConfigError, RunConfig
from .presets import PRESETS, REG_SETTINGS, TABLE_ROWS
from .runs import check_out_dir, headline, to_json

SUITES = {
    # suite: (base preset, datasets)
    "toy": ("Default 2-D", ("ring8", "grid25")),
    "mnist": ("MNIST digits", ("mnist",)),
    "mnist-conv": ("MNIST conv", ("mnist",)),
    "mnist-conv-long": ("MNIST conv, long", ("mnist",)),
    "time-to-quality": ("Default 2-D", ("ring8", "grid25")),   # gan_lab.time_to_quality
}
DEFAULT_SEEDS = (0, 1, 2)
# The rows a suite runs unless --regs says otherwise: the toy table has every row; the MNIST
# tables the regularizers (spectral norm and WGAN-GP were measured on the 2-D data only).
DEFAULT_ROWS = {"toy": tuple(TABLE_ROWS), "time-to-quality": ("none",)}

# (summary "final" key, column title, scale for display, decimals; None = 3 significant digits,
# for sharpness, which spans 0.1 to 1000 across regularizers)
TOY_COLUMNS = [
    ("modes", "Modes", 1, 2),
    ("hq_frac", "HQ %", 100, 1),
    ("rev_kl", "Reverse KL", 1, 3),
    ("min_mode_frac", "Min mode share", 1, 2),   # emptiest mode / fair share (metrics.mode_stats)
]
MNIST_COLUMNS = [
    ("digits_covered", "Digits covered", 1, 2),
    ("min_digit_frac", "Rarest digit %", 100, 1),   # share of the rarest predicted digit
    ("class_kl", "Class KL", 1, 3),
    ("cls_is", "Classifier IS", 1, 2),
    ("fcd", "FCD", 1, 2),
    ("d_gap", "D gap", 1, 3),    # mean D logit, training minus held-out digits (generalization)
]
COMMON_COLUMNS = [
    ("sparsity_d", "D \\|w\\|<=eps %", 100, 1),
    ("zeros_d", "D zeros %", 100, 1),
    ("sparsity_g", "G \\|w\\|<=eps %", 100, 1),
    ("zeros_g", "G zeros %", 100, 1),
    ("sharpness_d", "Sharpness D", 1, None),
    ("sharpness_g", "Sharpness G", 1, None),
    ("wspec_d", "D weight σ", 1, None),   # product of D's layers' top singular values
    ("wall_s", "Wall s", 1, 1),
    ("cpu_s", "CPU s", 1, 1),
]


def columns(suite: str) -> list[tuple[str, str, float, int]]:
    return (TOY_COLUMNS if suite == "toy" else MNIST_COLUMNS) + COMMON_COLUMNS


# --- Aggregation --------------------------------------------------------------------------
def mean_se(values) -> tuple[float, float]:
    """(mean, standard error of the mean) of the finite values: se = sample std (ddof=1) / sqrt(n).

    Non-finite values (a diverged run's missing metric) are left out rather than poisoning the
    mean; the table's n column says how many runs a cell stands on. With one value the standard
    error is undefined (nan); with none, both are nan.
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) == 1:
        return float(x[0]), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def fmt_mean_se(mean: float, se: float, scale: float = 1.0, decimals: int | None = 2) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if decimals is None:
        big = abs(mean * scale)
        decimals = 3 if big == 0 else min(3, max(0, 2 - math.floor(math.log10(big))))
    m = f"{mean * scale:.{decimals}f}"
    return m if not math.isfinite(se) else f"{m} ± {se * scale:.{decimals}f}"


def aggregate(runs: list[dict], keys: list[str], by=("dataset", "reg")) -> list[dict]:
    """One row per value of the `by` fields (default: per (dataset, reg)), in first-seen
    order: those fields, n, seeds, diverged count, and for each key a {"mean", "se"} pair over
    the runs' values (r["metrics"][key])."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    rows = []
    for group, rs in groups.items():
        row = {**dict(zip(by, group)), "n": len(rs),
               "seeds": [r["seed"] for r in rs],
               "diverged": sum(1 for r in rs if r.get("diverged"))}
        for k in keys:
            m, s = mean_se([r["metrics"].get(k, math.nan) for r in rs])
            row[k] = {"mean": _num(m), "se": _num(s)}
        rows.append(row)
    return rows


def _num(v: float):
    return v if math.isfinite(v) else None


# --- Runs ---------------------------------------------------------------------------------
def run_config(suite: str, dataset: str, reg: str, seed: int, steps: int | None) -> RunConfig:
    base, _ = SUITES[suite]
    d = {**PRESETS[base]["fields"], **TABLE_ROWS[reg]["fields"], "dataset": dataset,
         "seed": seed}
    if steps is not None:
        d["steps"] = steps
    return RunConfig.from_dict(d)


def _one_run(job: tuple[dict, str, str]) -> dict:
    """Train one config (headless.train; a worker process's entry point); `reg` is the table
    row's name (presets.TABLE_ROWS)."""
    from .headless import train

    cfg_dict, out, row = job
    cfg = RunConfig.from_dict(cfg_dict)
    c0, w0 = time.process_time(), time.perf_counter()
    summary = train(cfg, Path(out), quiet=True)   # one thread in a --jobs worker (headless)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"dataset": cfg.dataset, "reg": row, "seed": cfg.seed, "out": out,
            "steps": summary["steps"], "device": summary["device"],
            "diverged": summary["diverged"], "time_to_quality": summary["time_to_quality"],
            "cpu_train_s": summary["cpu_train_s"], "cpu_eval_s": summary["cpu_eval_s"],
            "metrics": {**summary["final"],
                        "loop_s": summary["wall_s"], "wall_s": round(wall, 3),
                        "cpu_s": round(cpu, 3)}}


def run_suite(suite: str, out: Path, seeds=DEFAULT_SEEDS, regs=None, steps: int | None = None,
              jobs: int = 1, log=None) -> dict:
    """Run the suite, write table_<suite>.md/.json into `out`, return the JSON document."""
    if suite not in SUITES:
        raise ConfigError("--suite", f"must be one of {', '.join(SUITES)}; got {suite!r}")
    regs = list(regs or DEFAULT_ROWS.get(suite, REG_SETTINGS))
    for r in regs:
        if r not in TABLE_ROWS:
            raise ConfigError("--regs", f"unknown row {r!r}; use {', '.join(TABLE_ROWS)}")
    _, datasets = SUITES[suite]
    todo = []
    for ds in datasets:
        for reg in regs:
            for seed in seeds:
                cfg = run_config(suite, ds, reg, seed, steps)   # validates before any run starts
                todo.append((cfg.to_dict(), str(out / "runs" / suite / ds / reg / f"seed{seed}"),
                             reg))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from .sweep.execute import in_processes

    runs = []
    for i, r in enumerate(in_processes(_one_run, todo, jobs)):
        runs.append(r)
        _log_run(log, i + 1, len(todo), r)
    keys = [k for k, *_ in columns(suite)]
    doc = {
        "suite": suite,
        "command": canonical_command(suite, out, seeds, regs, steps, jobs),
        "device": device_info(runs, jobs),
        "base_preset": SUITES[suite][0],
        "base_config": {k: v for k, v in
                        run_config(suite, datasets[0], "none", seeds[0], steps).to_dict().items()
                        if k not in {"dataset", "seed", *(k for r in REG_SETTINGS.values()
                                                          for k in r["fields"])}},
        "regularizers": {r: TABLE_ROWS[r] for r in regs},
        "seeds": list(seeds),
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "rows": aggregate(runs, keys),
        "runs": runs,
    }
    if suite == "time-to-quality":   # its own rows: steps and CPU-seconds to the bar
        from . import time_to_quality as ttq
        doc["rows"] = ttq.table_rows(runs)
        md = ttq.markdown(doc, device_line(doc["device"]))
    else:
        md = markdown(doc)
    if suite not in ("toy", "time-to-quality"):
        from . import metrics
        from .data import KINDS

        doc["reference"] = {"what": "real held-out MNIST digits (metrics.real_reference_metrics)",
                            **metrics.real_reference_metrics(n=KINDS["mnist"].n_eval)}
    (out / f"table_{suite}.json").write_text(to_json(doc))
    (out / f"table_{suite}.md").write_text(md)
    return doc


def _log_run(log, i: int, n: int, r: dict) -> None:
    if log is None:
        return
    m = r["metrics"]
    log(f"[{i}/{n}] {r['dataset']} {r['reg']} seed {r['seed']}: {headline(m)}"
        + f"; {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU"
        + (f"; {r['diverged']}" if r["diverged"] else ""))


def canonical_command(suite, out, seeds, regs, steps, jobs) -> str:
    """The command that reproduces this table (every option spelled out)."""
    parts = ["python -m gan_lab eval", f"--suite {suite}",
             f"--seeds {','.join(map(str, seeds))}", f"--regs {','.join(regs)}"]
    if steps is not None:
        parts.append(f"--steps {steps}")
    parts += [f"--jobs {jobs}", f"--out {out}"]
    return " ".join(parts)


def cpu_model() -> str:
    """The CPU's model name, with family/model/clock from /proc/cpuinfo: some VMs report only
    a bare brand ("AMD EPYC"), and the numbers still tell the generation."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or platform.machine()
    name = info.get("model name") or platform.processor() or platform.machine()
    extra = [f"{k} {info[k]}" for k in ("cpu family", "model") if k in info]
    if "cpu MHz" in info:
        extra.append(f"{float(info['cpu MHz']):.0f} MHz")
    return f"{name} ({', '.join(extra)})" if extra else name


def device_info(runs: list[dict], jobs: int) -> dict:
    import torch

    return {"train_device": sorted({r["device"] for r in runs}),
            "cpu_model": cpu_model(), "cpu_cores": os.cpu_count(),
            "intra_op_threads_per_run": 1 if all(r["device"] == "cpu" for r in runs) else None,
            "parallel_runs": jobs, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


# --- Markdown -----------------------------------------------------------------------------
def device_line(dev: dict, backend: str | None = None) -> str:
    """The "Device: ..." line of a table (also the sweep's, with its backend)."""
    how = f"backend {backend}, " if backend else ""
    return (f"Device: {', '.join(dev['train_device']) or 'n/a'} ({dev['cpu_model']}, "
            f"{dev['cpu_cores']} cores; {how}{dev['parallel_runs']} run(s) at a time, "
            f"torch {dev['torch']})")


def markdown(doc: dict) -> str:
    suite = doc["suite"]
    cols = columns(suite)
    lines = [f"## GAN Lab quality table: {suite} suite", "",
             f"Command: `{doc['command']}`", "", device_line(doc["device"]), "",
             f"Base preset: {doc['base_preset']!r}; seeds {', '.join(map(str, doc['seeds']))}; "
             f"mean ± standard error over seeds (n runs per row).", ""]
    head = ["Dataset", "Regularizer", "n", "Diverged"] + [c[1] for c in cols]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for row in doc["rows"]:
        cells = [row["dataset"], row["reg"], str(row["n"]), str(row["diverged"])]
        for key, _title, scale, dec in cols:
            v = row[key]
            cells.append(fmt_mean_se(_nan(v["mean"]), _nan(v["se"]), scale, dec))
        lines.append("| " + " | ".join(cells) + " |")
    ref = doc.get("reference")
    if ref:
        cells = ["real held-out digits", "-", "-", "-"]
        for key, _title, scale, dec in cols:
            cells.append(fmt_mean_se(float(ref[key]), math.nan, scale, dec) if key in ref
                         else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Regularizer settings: " + "; ".join(
        f"{name}: {_fields_str(r['fields'])}" for name, r in doc["regularizers"].items()), "",
        "Base config: " + _fields_str(doc["base_config"]), ""]
    lines += _notes(suite)
    return "\n".join(lines) + "\n"


def _fields_str(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "(defaults)"


def _nan(v):
    return math.nan if v is None else float(v)


def _notes(suite: str) -> list[str]:
    notes = ["Sparsity columns: share of regularized weights (weight matrices, biases excluded) "
             "with |w| <= sparsity_eps and exactly 0. Sharpness: largest |Hessian eigenvalue| of "
             "each network's own loss at the end (20 power iterations, fixed 256-sample batch; "
             "for wgan-gp the critic's loss without its penalty). D weight σ: the product of "
             "the largest singular values of D's layers' effective weights (spectral norm holds "
             "each near 1). "
             "Wall s: the whole run (building the nets, training, periodic and final "
             "evaluation, writing its files); CPU s: the CPU time of that, one intra-op thread, "
             "the better speed figure on a shared machine. table JSON also has loop_s, the "
             "training loop alone."]
    if suite == "toy":
        notes.insert(0, "Modes, HQ % and reverse KL follow PacGAN (Lin et al. 2018) Table 1: "
                        "2,500 samples; HQ = within 3 standard deviations of the nearest mode; "
                        "a mode is captured with at least one HQ sample; reverse KL = "
                        "KL(HQ mode histogram || uniform) in nats. Min mode share: HQ "
                        "samples of the emptiest mode / (HQ samples / modes), 1 = even, "
                        "0 = a mode is empty.")
    else:
        notes.insert(0, "Digits covered: classes holding >= 1% of 1,000 samples; class KL to "
                        "uniform in nats; classifier IS and FCD (Frechet classifier distance to "
                        "the 2,000 held-out digits) from the bundled classifier. The reference "
                        "row's FCD is 1,000 real train-split digits against the held-out set. "
                        "D gap: D's mean logit on 2,000 of its training digits minus on the "
                        "2,000 held-out ones (gan_lab.generalization).")
    return ["Notes:", ""] + [f"- {n}" for n in notes]


# --- CLI ----------------------------------------------------------------------------------
def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def cmd_eval(args) -> int:
    try:
        from .sweep.plan import parse_seeds

        seeds = parse_seeds(args.seeds)
        regs = _csv(args.regs) if args.regs else None
        if args.jobs < 1:
            raise ConfigError("--jobs", "must be a whole number >= 1")
        out = Path(args.out)
        check_out_dir(out, "--out")
        run_suite(args.suite, out, seeds, regs, args.steps, args.jobs,
                        log=None if args.quiet else lambda s: print(s, file=sys.stderr,
                                                                    flush=True))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((out / f"table_{args.suite}.md").read_text(), end="")
    print(f"wrote {out / f'table_{args.suite}.md'} and {out / f'table_{args.suite}.json'}")
    return 0


def add_parser(sub) -> None:
    e = sub.add_parser("eval", help="quality tables: run a suite of seeds x regularizers")
    e.add_argument("--suite", required=True, choices=tuple(SUITES),
                   help="toy: ring8 and grid25 with the default 2-D preset; mnist: the MNIST "
                        "digits preset (MLP); mnist-conv: the MNIST conv preset; "
                        "mnist-conv-long: the same for 60,000 steps (~40 min of a core per run); "
                        "time-to-quality: steps and CPU-seconds until the 2-D defaults reach "
                        "ring8's and grid25's quality bars")
    e.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                   help="comma-separated seeds (default 0,1,2)")
    e.add_argument("--regs", default=None,
                   help=f"comma-separated subset of the rows {','.join(TABLE_ROWS)} (default: "
                        f"all for toy, {','.join(REG_SETTINGS)} for the MNIST suites)")
    e.add_argument("--steps", type=int, default=None,
                   help="override every run's steps (default: the preset's)")
    e.add_argument("--jobs", type=int, default=1,
                   help="runs in parallel processes, one thread each (default 1)")
    e.add_argument("--out", default="eval_out", help="output directory (default eval_out)")
    e.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    e.set_defaults(func=cmd_eval)
