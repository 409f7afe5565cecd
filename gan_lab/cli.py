"""Headless command line: `python -m gan_lab train|bench|eval|sweep ...`.

`train` flags are derived from RunConfig's declarations (one flag per field, `--lr_g` or
`--lr-g`), so a new hyperparameter appears here without editing this file. Bad flags or values
exit with status 2 and one line naming the field.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from .config import ConfigError, RunConfig, coerce, spec, specs
from .presets import by_slug, preset_fields, preset_list

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage + error on two lines; we promise one line naming the problem."""

    def error(self, message):
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def add_config_flags(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per RunConfig field, except `skip` (fields a command declares itself)."""
    g = p.add_argument_group("hyperparameters (defaults from RunConfig)")
    for s in specs():
        if s["name"] in skip:
            continue
        flags = [f"--{s['name']}"]
        if "_" in s["name"]:
            flags.append(f"--{s['name'].replace('_', '-')}")
        rng = (f" {{{','.join(map(str, s['choices']))}}}" if s["choices"] else
               f" [{s['lo']:g}, {s['hi']:g}]" if s["lo"] is not None else "")
        g.add_argument(*flags, dest=s["name"], default=None, metavar=s["type"].upper(),
                       # argparse expands %-formats in help ("within 1% of exact")
                       help=f"{s['help']}{rng} (default {s['default']!r})".replace("%", "%%"))


def add_preset_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", metavar="NAME",
                   help="start from a named experiment (the app's presets): "
                        + ", ".join(by_slug()) + "; `--preset list` describes them. "
                        "--config and flags override it")


def init_path(args: argparse.Namespace) -> str | None:
    """train's --init as a checkpoint file, or None when it is not given or is one of
    RunConfig.init's choices (random, trained: the field; a file named so is ./trained)."""
    v = getattr(args, "init", None)
    return None if v is None or v.strip() in spec("init")["choices"] else v


def config_fields(args: argparse.Namespace, skip=frozenset()) -> dict:
    """The fields the user set, lowest precedence first: --preset NAME, then --config FILE
    (the fields it sets apart from its dataset's defaults), then every flag. Fields set nowhere
    take their dataset's defaults (RunConfig.from_dict). `skip`: fields the preset and the
    config file may not set (a sweep's gridded fields and its seed)."""
    base: dict = {}
    if getattr(args, "preset", None):
        base.update(preset_fields(args.preset))
    if getattr(args, "config", None):
        from .config_json import read_file

        cfg = RunConfig.from_json(read_file(args.config, "--config"), "--config")
        base.update({"dataset": cfg.dataset, **cfg.non_default()})
    base = {k: v for k, v in base.items() if k not in skip}
    for s in specs():
        v = getattr(args, s["name"], None)
        if v is not None and not (s["name"] == "init" and init_path(args)):
            base[s["name"]] = coerce(s["name"], v)
    return base


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """--preset, then --config FILE, then every flag given on top; coerced and validated."""
    return RunConfig.from_dict(config_fields(args))


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------
class Progress:
    """A one-line terminal progress bar (steps/s and losses), quiet when not wanted."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.t0 = time.monotonic()
        self.last = 0.0

    def update(self, step: int, losses: dict, force: bool = False):
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.2):
            return
        self.last = now
        frac = step / max(1, self.total)
        bar = "#" * int(frac * 30)
        rate = step / max(1e-9, now - self.t0)
        print(f"\r[{bar:<30}] {step}/{self.total} {rate:6.0f} steps/s  "
              f"D {losses.get('loss_d', float('nan')):.3f}  "
              f"G {losses.get('loss_g', float('nan')):.3f}", end="", file=sys.stderr, flush=True)

    def close(self):
        if self.enabled:
            print(file=sys.stderr)


def train(cfg: RunConfig, out: Path, points: np.ndarray | None = None,
          init: str | None = None, log_every: int | None = None, quiet: bool = False,
          png: bool = True, threads: int | None = None,
          tensorboard: str | Path | None = None) -> dict:
    """Train cfg to completion, writing config.json, metrics.csv, checkpoint.safetensors,
    samples.npy, samples.png (unless png=False) and, last, summary.json into the run folder
    `out`, atomically (gan_lab.runs.atomic_dir: nothing appears at `out` until the run is
    complete; a crash leaves a .partial-* sibling). Returns the summary.

    threads: torch intra-op threads. Default: 1 inside a multiprocessing worker (eval and sweep
    train several runs side by side: conv runs with two threads each beside other runs on 2
    cores took 0.12-0.35 s of CPU per step against 0.034 s with one thread, oversubscription
    measured 2026-11-29 on a 2-core AMD EPYC), else placement.default_threads (2 for conv MNIST,
    else 1). tensorboard: a folder for the run's TensorBoard event files (gan_lab.tblog)."""
    from . import runs

    with runs.atomic_dir(out) as tmp:
        return _train_into(cfg, tmp, points, init, log_every, quiet, png, threads, tensorboard)


def _train_into(cfg: RunConfig, out: Path, points, init, log_every, quiet, png,
                threads: int | None = None, tensorboard=None) -> dict:
    import torch

    from . import runs, time_to_quality
    from .checkpoint import load_checkpoint, save_checkpoint
    from .losses import LOSS_KEYS
    from .placement import default_threads
    from .run import Run
    from .snapshot import snapshot_of

    w_start, c_start = time.perf_counter(), time.process_time()
    if threads is None:
        threads = 1 if mp.parent_process() is not None else default_threads(cfg)
    torch.set_num_threads(threads)
    (out / "config.json").write_text(cfg.to_json() + "\n")
    weights = None
    if init:
        _, g_state, d_state, _step = load_checkpoint(init, cfg)
        weights = (g_state, d_state, 0)
    run = Run(cfg, points, weights=weights, metric_cap=10**9, start_eval="full")
    tr = run.trainer
    log_every = log_every or max(1, cfg.steps // 2000)
    rows_out: list[dict] = []
    window = np.zeros(len(LOSS_KEYS))
    wn = 0
    recent: list[np.ndarray] = []
    bar = Progress(cfg.steps, not quiet and sys.stderr.isatty())
    diverged = None
    tb = None
    if tensorboard is not None:
        from .tblog import TensorBoardLog
        tb = TensorBoardLog(tensorboard)
        tb.weights(tr.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        # 0.2 s: how often the progress bar moves. With TensorBoard each advance also stops at
        # the next evaluation, so the weight histograms are those of the evaluated step.
        c = run.advance(seconds=0.2, view=False, max_steps=None if tb is None else
                        cfg.eval_every - tr.step % cfg.eval_every)
        for i, r in enumerate(c.rows):
            s = c.step - len(c.rows) + 1 + i
            window += r
            wn += 1
            recent.append(r)
            if s % log_every == 0 or s == cfg.steps:
                rows_out.append({"step": s, **dict(zip(LOSS_KEYS, window / wn))})
                if tb is not None:
                    tb.losses(s, rows_out[-1], tr.lam)
                window[:] = 0
                wn = 0
        if tb is not None:
            for s, m in dict(c.evals).items():   # the final evaluation replaces its step's
                tb.metrics(s, m)
            if c.evals and c.evals[-1][0] == c.step:
                tb.weights(c.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
        recent = recent[-100:]
        if len(c.rows):
            bar.update(c.step, c.latest)
        if c.diverged:
            diverged = c.diverged[0].lower() + c.diverged[1:]
            break
        if c.done:
            break
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bar.update(tr.step, dict(zip(LOSS_KEYS, recent[-1])) if recent else {}, force=True)
    bar.close()
    if diverged:   # a finished run made its final evaluation in advance(); a diverged one not
        run.metric_log.add(tr.step, tr.evaluate(sharp=True, final=True))
        if tb is not None:
            tb.metrics(tr.step, run.metric_log.rows[-1])
            tb.weights(tr.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
    if tb is not None:
        tb.close()
    final_metrics = {k: v for k, v in run.metric_log.rows[-1].items() if k != "step"}

    # metrics.csv: one row per logged step; metric columns filled where an evaluation ran.
    metric_log = run.metric_log
    by_step = {int(r["step"]): r for r in metric_log.rows}
    mkeys = sorted({k for r in metric_log.rows for k in r if k != "step"})
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", *LOSS_KEYS, *mkeys])
        logged = {r["step"] for r in rows_out}
        for r in rows_out:
            m = by_step.get(r["step"], {})
            w.writerow([r["step"], *(f"{r[k]:.6g}" for k in LOSS_KEYS),
                        *(_fmt(m.get(k)) for k in mkeys)])
        for s in sorted(set(by_step) - logged):   # evaluations between logged rows (e.g. step 0)
            m = by_step[s]
            w.writerow([s, *([""] * len(LOSS_KEYS)), *(_fmt(m.get(k)) for k in mkeys)])

    save_checkpoint(out / "checkpoint.safetensors", tr.G, tr.D, tr.cfg, tr.step)
    (out / "samples.npy").write_bytes(runs.samples_npy(tr.sample(), tr.data.is_image))
    if png:
        try:
            from .plots import save_samples_png
            save_samples_png(snapshot_of(run), out / "samples.png")
        except ImportError as e:  # matplotlib missing: everything else is still written
            print(f"warning: samples.png not written ({e})", file=sys.stderr)

    tail = np.mean(recent, axis=0) if recent else np.full(len(LOSS_KEYS), np.nan)
    final = dict(zip(LOSS_KEYS, (float(x) for x in tail)))
    final.update({k: float(v) for k, v in final_metrics.items()})
    # wall_s/cpu_s: the training loop (evaluations on its way included); total_*: the whole
    # call (building the nets, the loop, the final evaluation, writing the files).
    summary = {
        "id": runs.config_id(cfg, points, init), "name": runs.run_name(cfg),
        "config": cfg.to_dict(), "steps": tr.step, "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "steps_per_s": round(tr.step / wall, 2) if wall > 0 else None,
        "device": str(tr.device), "device_reason": tr.device_reason,
        "final": final, "diverged": diverged, "notes": run.notes,
        # Training steps and evaluations apart (thread CPU, one torch thread); the first step
        # from which the run holds its dataset's quality bar (gan_lab.time_to_quality).
        "cpu_train_s": round(run.cpu_train, 3), "cpu_eval_s": round(run.cpu_eval, 3),
        "time_to_quality": None if diverged else time_to_quality.result(
            run.metric_log.rows, cfg.dataset, run.train_cpu_at),
    }
    for note in run.notes:   # e.g. an adaptive lambda's goal found unreachable
        print(f"note: {note}", file=sys.stderr)
    summary["total_wall_s"] = round(time.perf_counter() - w_start, 3)
    summary["total_cpu_s"] = round(time.process_time() - c_start, 3)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return summary


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.6g}"


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)


def check_train_inputs(args, cfg: RunConfig) -> None:
    """Everything about --out and --init that can be checked before training: a run of hours
    must not end in a refusal (ConfigError naming the flag)."""
    from . import runs
    from .checkpoint import CheckpointError, load_checkpoint

    out = Path(args.out)
    runs.check_run_dest(out, "--out")
    ours = {out.resolve() / n for n in runs.RUN_FILES}
    for flag in ("config", "points", "init"):
        given = init_path(args) if flag == "init" else getattr(args, flag, None)
        if given and Path(given).resolve() in ours:
            raise ConfigError("--out", f"--{flag} {given} is a file the run would write in "
                                       f"--out {out}: choose another --out")
    if init_path(args):
        init = Path(args.init)
        if not init.is_file():
            raise ConfigError("--init", f"{args.init} " + ("is not a file" if init.exists()
                                                          else "does not exist") + "; or "
                                        "--init trained (a shipped trained GAN) or random")
        try:
            load_checkpoint(init, cfg)
        except CheckpointError as e:
            raise ConfigError("--init", str(e)) from None
        except OSError as e:
            raise ConfigError("--init", f"cannot read {args.init}: {e.strerror}") from None


def cmd_train(args) -> int:
    from .checkpoint import CheckpointError
    from .data import toy2d

    try:
        cfg = config_from_args(args)
        points = None
        if args.points:
            try:
                points = toy2d.load_points_csv(args.points)
            except (OSError, ValueError) as e:
                raise ConfigError("--points", str(e)) from None
            if cfg.dataset != "custom":
                cfg = cfg.replace(dataset="custom")
        from .placement import resolve_device
        resolve_device(cfg)
        check_train_inputs(args, cfg)
        tb_dir = None
        if args.tensorboard is not None:
            from .tblog import log_dir
            tb_dir = log_dir(args.tensorboard, Path(args.out).resolve().name)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        summary = train(cfg, Path(args.out), points, init=init_path(args), log_every=args.log_every,
                        quiet=args.quiet, tensorboard=tb_dir)
    except (CheckpointError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    f = summary["final"]
    keys = [k for k in ("modes", "hq_frac", "rev_kl", "min_mode_frac", "digits_covered", "cls_is",
                        "fcd", "sparsity_d", "zeros_d", "sharpness_d") if k in f]
    print(f"{summary['steps']} steps in {summary['wall_s']:.1f}s "
          f"({summary['steps_per_s']} steps/s on {summary['device']}); "
          + ", ".join(f"{k}={f[k]:.4g}" for k in keys) + f"; wrote {args.out}")
    if summary["diverged"]:
        print(f"warning: {summary['diverged']}; outputs hold the run up to that step",
              file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m gan_lab", description="GAN Lab headless runs.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=OneLineParser)
    t = sub.add_parser("train", help="train one GAN and write its outputs")
    t.add_argument("--config", help="a RunConfig JSON file (e.g. exported from the app); "
                                    "flags given as well override it")
    t.add_argument("--out", help="output directory (required)")
    t.add_argument("--points", help="CSV of x,y rows to train on (sets dataset=custom)")
    t.add_argument("--init", metavar="trained|random|FILE",
                   help="'trained': start from the trained GAN shipped for this dataset and "
                        "architecture (assets/warm: --preset mnist and mnist-conv); 'random' "
                        "(default): random weights; else a checkpoint.safetensors to start "
                        "from (shapes must match)")
    t.add_argument("--log_every", "--log-every", type=int, default=None,
                   help="write a metrics.csv row every N steps (default: steps/2000, at least 1)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--tensorboard", metavar="DIR",
                   help="also write TensorBoard event files (losses, penalties, lambda, "
                        "metrics, weight histograms) into DIR/<name of --out>; needs the "
                        "optional tensorboard package (requirements-tensorboard.txt)")
    add_preset_flag(t)
    add_config_flags(t, skip=("init",))
    t.set_defaults(func=cmd_train)
    for name, mod in (("bench", "bench"), ("eval", "evaluate"), ("sweep", "sweep")):
        _add_optional_command(sub, name, mod)
    return p


def _add_optional_command(sub, name: str, module: str) -> None:
    """bench/eval/sweep live in their own modules (they import more); each exposes
    add_parser(sub)."""
    import importlib

    try:
        m = importlib.import_module(f"gan_lab.{module}")
    except ImportError:
        return
    m.add_parser(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "preset", None) == "list":
        print(preset_list())
        return 0
    if args.cmd == "train" and not args.out:
        print("error: --out is required (the folder the run's files go to)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.cmd == "train" and args.log_every is not None and args.log_every < 1:
        print("error: --log_every must be a whole number >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    return args.func(args)
