"""Sweep parsing and planning: --grid/--set/--seeds into validated grid points (Point), each
with its run folder; check_out sorts them into finished and to do."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import runs
from ..config import ConfigError, RunConfig, coerce, field_map
from ..data import needs_points
from ..errors import brief

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

# Preferred order of the final metrics in results.csv (others follow, sorted).
METRIC_ORDER = ("modes", "hq_frac", "rev_kl", "min_mode_frac", "grid_kl", "grid_js",
                "digits_covered", "min_digit_frac", "class_kl", "cls_is", "fcd", "d_gap",
                "sparsity_d", "zeros_d", "sparsity_g", "zeros_g", "sharpness_d", "sharpness_g",
                "wspec_d", "wspec_g", "loss_d", "loss_g", "reg_d", "reg_g", "gp_d")
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
            if needs_points(cfg.dataset):
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


