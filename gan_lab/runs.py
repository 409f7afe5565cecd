"""Runs on disk: one folder per run, the same files whoever trained it.

A run folder holds what `python -m gan_lab train` writes:

    config.json              the whole RunConfig (every field, defaults included)
    metrics.csv              loss curves and evaluations, one row per step
    checkpoint.safetensors   G and D weights (config and step in its metadata)
    samples.npy              the final samples (2-D: float32 [N, 2]; MNIST: uint8 [N, 28, 28])
    samples.png              the samples figure (skipped without matplotlib, or when asked)
    summary.json             written LAST: steps, times, final metrics, divergence, id, name

Folders are written atomically and never over anything the program did not write: see
gan_lab/rundirs.py (`atomic_dir`, `check_run_dest`, ...), whose names this module re-exports.

Run ids (8 hex digits):
- `config_id(cfg, points, init)`: a hash of the whole config (seed included), the custom points
  and the starting checkpoint. CLI, eval and sweep runs use it: on the CPU the same config and
  seed train bit-identical runs, so the same id means the same run, however often it is redone.
- `new_run_id()`: random. Runs saved from the app use it: a session can save the same config
  several times (at different steps, or after moving a live slider mid-run, when the config no
  longer describes the whole history), and each save is a run of its own.

`run_name(cfg)` is a readable name from what differs from the defaults ("ring8 · L1 0.1 on D").
The runs folder is `GAN_LAB_RUNS_DIR` (default `runs/`, relative to the working directory).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import settings
from .config import ConfigError, RunConfig, spec, specs
from .regularizers import REGISTRY, extras_of
from .rundirs import (  # noqa: F401 - the run folder API, re-exported
    PARTIAL,
    RUN_FILES,
    SUMMARY,
    _host,
    atomic_dir,
    check_out_dir,
    check_run_dest,
    field_message,
    is_complete,
    read_run_files,
    remove_stale_partials,
    write_run_files,
)

RUNS_DIR_ENV = "GAN_LAB_RUNS_DIR"
DEFAULT_RUNS_DIR = settings.default(RUNS_DIR_ENV)
SEP = " · "
# Regularizer fields that mean nothing when reg is "none" (every field of the "regularization"
# group but reg itself and the extra regularizers): the name leaves them out, and a sweep
# collapses them (gan_lab/sweep/).
REG_ONLY = tuple(s["name"] for s in specs() if s["group"] == "regularization"
                 and s["name"] not in ("reg", "extra_regs"))
TARGETS = {"d": "D", "g": "G", "both": "G and D"}


def runs_dir() -> Path:
    """The runs folder: $GAN_LAB_RUNS_DIR, default runs/ (not created here)."""
    return Path(settings.get(RUNS_DIR_ENV))


# --------------------------------------------------------------------------------------------
# Ids and names
# --------------------------------------------------------------------------------------------
def config_id(cfg: RunConfig, points: np.ndarray | None = None,
              init: bytes | str | os.PathLike | None = None) -> str:
    """8 hex digits of a SHA-256 of the config (seed included), the custom points if any and
    the starting checkpoint's bytes if any: the same inputs give the same id."""
    h = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    if points is not None:
        p = np.ascontiguousarray(points, dtype=np.float64)
        h.update(b"points" + str(p.shape).encode() + p.tobytes())
    if init is not None:
        data = init if isinstance(init, bytes) else Path(init).read_bytes()
        h.update(b"init" + hashlib.sha256(data).digest())
    return h.hexdigest()[:8]


def new_run_id() -> str:
    """8 random hex digits (a run saved from the app)."""
    return secrets.token_hex(4)


def _value(name: str, v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(spec(name)["labels"].get(v, v)) if isinstance(v, str) else str(v)


def run_name(cfg: RunConfig) -> str:
    """A readable name from what differs from the defaults of cfg's dataset, e.g.
    "ring8 · L1 0.1 on D" or "grid25 · HSN1R 0.01 on D every 4 · Seed 2": the dataset, then
    the regularizer with lambda and target (reg="none" hides every regularizer field), then
    each other changed field as "<label> <value>" in declaration order (device left out: it
    says where a run trained, not what it is)."""
    diff = cfg.non_default()
    parts = [cfg.dataset]
    if cfg.reg != "none":
        shown = [(o, getattr(cfg, f)) for f, o in REGISTRY[cfg.reg].cls.options.items()
                 if o.shown and f in diff]   # the kind's options that differ, as it shows them
        reg = spec("reg")["labels"].get(cfg.reg, cfg.reg)
        reg += "".join(o.shown.format(v) for o, v in shown if o.near_label)
        s = f"{reg} {cfg.lam:g} on {TARGETS.get(cfg.reg_target, cfg.reg_target)}"
        if cfg.reg_bias:
            s += " and biases"
        s += "".join(o.shown.format(v) for o, v in shown if not o.near_label)
        if cfg.lam_goal > 0:
            s += f" (adaptive, goal {cfg.lam_goal:g})"
        parts.append(s)
    for e in extras_of(cfg):   # "+ L2 0.001 on D"
        label = spec("reg")["labels"].get(e.kind, e.kind)
        parts.append(f"+ {label} {e.lam:g} on {TARGETS.get(e.target, e.target)}")
    skip = {"dataset", "device", "reg", "extra_regs", *REG_ONLY}
    for k, v in diff.items():
        if k not in skip:
            parts.append(f"{spec(k)['label'] or k} {_value(k, v)}")
    return SEP.join(parts)


def slug(text: str, max_len: int = 48) -> str:
    """A file-name-safe lowercase form of a name ("ring8 · L1 0.1 on D" -> "ring8-l1-0.1-on-d")."""
    s = re.sub(r"[^a-z0-9.=,+_-]+", "-", text.lower()).strip("-.")
    return s[:max_len].rstrip("-.") or "run"


# --------------------------------------------------------------------------------------------
# Reading runs
# --------------------------------------------------------------------------------------------
@dataclass
class SavedRun:
    """A run folder read back. metrics: metrics.csv as columns (step, loss_d, ..., one array
    per column, nan where a cell is empty), or None when not loaded (list_runs)."""

    path: Path
    id: str
    name: str
    cfg: RunConfig
    summary: dict
    metrics: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def final(self) -> dict[str, float]:
        return self.summary.get("final", {})


def read_metrics_csv(text: str) -> dict[str, np.ndarray]:
    """metrics.csv (the CLI's or exports.metrics_csv's) as float columns; empty cells are nan."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return {}
    head, body = rows[0], rows[1:]
    cols = {k: np.full(len(body), np.nan) for k in head}
    for i, r in enumerate(body):
        for k, v in zip(head, r):
            if v != "":
                cols[k][i] = float(v)
    if "step" in cols:
        order = np.argsort(cols["step"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        cols["step"] = cols["step"].astype(np.int64)
    return cols


def load_run(path: str | os.PathLike, metrics: bool = True) -> SavedRun:
    """Read a finished run folder. Raises FileNotFoundError when it is not complete, and
    ConfigError when its config is not valid here (e.g. written by another version)."""
    p = Path(path)
    if not is_complete(p):
        raise FileNotFoundError(f"{p} is not a finished run folder (no {SUMMARY})")
    try:
        summary = json.loads((p / SUMMARY).read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(SUMMARY, f"not valid JSON ({e.msg})") from None
    cfg = RunConfig.from_json((p / "config.json").read_text())
    run = SavedRun(path=p, id=summary.get("id") or config_id(cfg),
                   name=summary.get("name") or run_name(cfg), cfg=cfg, summary=summary)
    if metrics and (p / "metrics.csv").is_file():
        run.metrics = read_metrics_csv((p / "metrics.csv").read_text())
    return run


def list_runs(root: str | os.PathLike | None = None) -> list[SavedRun]:
    """Every finished run folder under root (default runs_dir()), at any depth (a sweep nests
    them), sorted by path, without their metrics (load_run reads those). Folders that cannot be
    read are left out."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    out = []
    for s in sorted(root.rglob(SUMMARY)):
        p = s.parent
        if any(part.startswith(PARTIAL) for part in p.relative_to(root).parts):
            continue
        try:
            out.append(load_run(p, metrics=False))
        except (OSError, ValueError, ConfigError):
            continue
    return out


# --------------------------------------------------------------------------------------------
# Saving a run from a job's Snapshot (the app)
# --------------------------------------------------------------------------------------------
def samples_npy(samples: np.ndarray, is_image: bool) -> bytes:
    """samples.npy as the CLI writes it: 2-D float32 points, or MNIST uint8 [N, 28, 28]."""
    a = np.asarray(samples)
    if is_image:
        a = a[:, 0] if a.ndim == 4 else a
        a = np.clip(np.rint((a + 1) * 127.5), 0, 255).astype(np.uint8)
    else:
        a = a.astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    raise TypeError(type(o).__name__)


def to_json(obj) -> str:
    """Indented JSON ending in a newline, numpy numbers as plain ones: every JSON document a
    run, an eval suite or a sweep writes."""
    return json.dumps(obj, indent=2, default=_jsonable) + "\n"


# The final metrics a one-line report of a run names (train's last line, eval's per-run lines).
HEADLINE = ("modes", "hq_frac", "rev_kl", "min_mode_frac", "digits_covered", "cls_is", "fcd",
            "sparsity_d", "zeros_d", "sharpness_d")


def headline(final: dict) -> str:
    """ "modes=8, hq_frac=0.91, ...": the HEADLINE metrics a run has, 4 significant digits."""
    return ", ".join(f"{k}={final[k]:.4g}" for k in HEADLINE if k in final)


def metrics_csv(losses: dict[int, dict], evals: dict[int, dict]) -> str:
    """metrics.csv: one row per step with losses or an evaluation, in step order. Columns:
    step, losses.LOSS_KEYS, then every evaluated metric sorted by name; an empty cell means
    "not measured at this step"; values with repr precision (read back exactly)."""
    from .losses import LOSS_KEYS

    mkeys = sorted({k for m in evals.values() for k in m if k != "step"})
    lines = [",".join(["step", *LOSS_KEYS, *mkeys])]
    for s in sorted({*losses, *evals}):
        r = {**losses.get(s, {}), **evals.get(s, {})}
        lines.append(",".join([str(s), *(_cell(r.get(k)) for k in (*LOSS_KEYS, *mkeys))]))
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    return "" if v is None or not math.isfinite(float(v)) else repr(float(v))


class RunWriter:
    """One run folder's files (RUN_FILES), gathered in memory: what `train` (gan_lab.headless:
    the CLI, eval and sweep) and the app's Save (snapshot_files) write. A run's loss rows come
    in as its Commits deliver them (add_rows: each logged row is the mean of the log_every
    steps it ends) or whole (`losses`, step -> {loss key: value}); finish() adds the rest."""

    def __init__(self, cfg: RunConfig, log_every: int = 1):
        self.cfg, self.log_every = cfg, log_every
        self.losses: dict[int, dict[str, float]] = {}
        self._sum, self._n = 0.0, 0

    def add_rows(self, last_step: int, rows) -> list[int]:
        """A Commit's loss rows (one per step, the last at last_step): the steps logged."""
        from .losses import LOSS_KEYS

        logged = []
        for i, r in enumerate(rows):
            s = last_step - len(rows) + 1 + i
            self._sum, self._n = self._sum + np.asarray(r, dtype=np.float64), self._n + 1
            if s % self.log_every == 0 or s == self.cfg.steps:
                self.losses[s] = dict(zip(LOSS_KEYS, (self._sum / self._n).tolist()))
                self._sum, self._n = 0.0, 0
                logged.append(s)
        return logged

    def finish(self, summary: dict, evals: dict[int, dict], checkpoint: bytes,
               samples_npy: bytes | None = None, png: bytes | None = None) -> dict[str, bytes]:
        """The files: evals (step -> metrics), the checkpoint's and samples.npy's bytes, the
        samples.png bytes if any, and summary.json (last)."""
        files = {"config.json": (self.cfg.to_json() + "\n").encode(),
                 "metrics.csv": metrics_csv(self.losses, evals).encode(),
                 "checkpoint.safetensors": bytes(checkpoint)}
        if samples_npy is not None:
            files["samples.npy"] = samples_npy
        if png is not None:
            files["samples.png"] = bytes(png)
        files[SUMMARY] = to_json(summary).encode()
        return files


def save_snapshot_run(root: str | os.PathLike, snap, checkpoint_bytes: bytes,
                      name: str | None = None, *, png: bool | bytes = True,
                      run_id: str | None = None) -> Path:
    """Save a job's Snapshot (and the job's checkpoint_bytes() of the same weights) as a run
    folder `<root>/<id>-<slug of name>` with the CLI's files; returns its path.

    name: default run_name(snap.cfg); run_id: default new_run_id(); png: draw samples.png
    (needs matplotlib: call it from the render process, or pass png=False). metrics.csv holds
    the downsampled curves the page shows (exports.metrics_csv); samples.npy holds the samples
    on screen (2-D: the view's points; MNIST: the 64 digits on screen), not the CLI's 2,500.
    png may also be the samples.png bytes, drawn elsewhere (the app's render process)."""
    run_id = run_id or new_run_id()
    name = name or run_name(snap.cfg)
    files = snapshot_files(snap, checkpoint_bytes, name, png=png, run_id=run_id)
    return write_run_files(Path(root) / f"{run_id}-{slug(name)}", files)


def snapshot_files(snap, checkpoint_bytes: bytes, name: str, *, png: bool | bytes,
                   run_id: str) -> dict[str, bytes]:
    """The files of save_snapshot_run, in memory (so their size is known before writing)."""
    from .exports import snapshot_curves

    cfg = snap.cfg
    final = {k: float(v) for k, v in snap.latest.items()
             if isinstance(v, (int, float)) and math.isfinite(float(v))}
    summary = {
        "id": run_id, "name": name, "source": "app", "state": snap.state,
        "config": cfg.to_dict(), "steps": int(snap.step), "device": snap.device,
        "final": final, "diverged": snap.message if snap.state == "diverged" else None,
    }
    if png is True:
        from .exports import samples_png

        png = samples_png(snap)
    writer = RunWriter(cfg)
    writer.losses, evals = snapshot_curves(snap)
    return writer.finish(summary, evals, checkpoint_bytes,
                         None if snap.samples is None else samples_npy(snap.samples,
                                                                       snap.is_image),
                         png or None)


def folder_bytes(root: str | os.PathLike) -> tuple[int, int]:
    """(bytes of every file under root, finished run folders under it); (0, 0) if absent."""
    total = runs = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                continue
            runs += n == SUMMARY and PARTIAL not in dirpath
    return total, runs
