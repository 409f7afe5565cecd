"""Headless command line: `python -m gan_lab train|bench|eval|sweep ...`.

`train` flags are derived from RunConfig's declarations (one flag per field, `--lr_g` or
`--lr-g`), so a new hyperparameter appears here without editing this file. Bad flags or values
exit with status 2 and one line naming the field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, RunConfig, coerce, spec, specs
from .headless import train  # noqa: F401 - cli.train, as scripts and tests call it
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
    from .data import USER_POINTS, needs_points, toy2d

    try:
        cfg = config_from_args(args)
        points = None
        if args.points:
            try:
                points = toy2d.load_points_csv(args.points)
            except (OSError, ValueError) as e:
                raise ConfigError("--points", str(e)) from None
            if not needs_points(cfg.dataset):
                cfg = cfg.replace(dataset=USER_POINTS)
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
    from .runs import headline

    print(f"{summary['steps']} steps in {summary['wall_s']:.1f}s "
          f"({summary['steps_per_s']} steps/s on {summary['device']}); "
          f"{headline(summary['final'])}; wrote {args.out}")
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
