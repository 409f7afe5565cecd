"""Uploads: config JSON, checkpoints to continue from, and the user's own 2-D points.

Pure functions over bytes, text or a file path; no gradio. Every import checks size first,
then format, then content, and raises before anything is changed:
- config JSON: `ConfigErrors` (a ConfigError) listing every bad field, JSON errors with line;
- checkpoints: `checkpoint.CheckpointError` (safetensors only, metadata, names and shapes
  checked);
- points CSV: ConfigError on the pseudo-field "points", naming the line.

Uploads arrive as bytes or text (content) or as a `pathlib.Path` (a file to read). A plain
`str` is content for config JSON and points CSV, and a file path for checkpoints (which are
binary), so wrap a gradio filepath in Path() for the first two.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import numpy as np

from . import config_json
from .checkpoint import MAX_BYTES as CHECKPOINT_MAX_BYTES
from .checkpoint import CheckpointError, load_checkpoint
from .config import ConfigError, RunConfig
from .data import needs_points
from .placement import check_limits
from .share import ConfigErrors, validate_all

log = logging.getLogger("gan_lab")
CONFIG_MAX_BYTES = config_json.MAX_FILE_BYTES
POINTS_MAX_BYTES = 2 * 1024 * 1024


def _read(data: bytes | str | os.PathLike, max_bytes: int, field: str, what: str) -> bytes:
    """Upload content as bytes, refusing more than max_bytes before reading it all."""
    if isinstance(data, os.PathLike):
        p = Path(data)
        try:
            size = p.stat().st_size
            if size > max_bytes:
                raise ConfigError(field, f"the {what} is {_size(size)}; the limit is "
                                         f"{_size(max_bytes)}")
            with open(p, "rb") as f:
                raw = f.read(max_bytes + 1)
        except OSError as e:
            raise ConfigError(field, f"cannot read the {what}: {e.strerror}") from None
    elif isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise ConfigError(field, f"expected the {what} as bytes, text or a file path, got "
                                 f"{type(data).__name__}")
    if len(raw) > max_bytes:
        raise ConfigError(field, f"the {what} is {_size(len(raw))}; the limit is "
                                 f"{_size(max_bytes)}")
    return raw


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"


def _text(raw: bytes, field: str, what: str) -> str:
    return config_json.decode(raw, field, what)


def parse_config(data: bytes | str | os.PathLike, max_bytes: int = CONFIG_MAX_BYTES
                 ) -> tuple[RunConfig | None, list[ConfigError]]:
    """Read an uploaded config JSON. (cfg, []) when valid, else (None, errors): every problem,
    each a ConfigError naming its field ("config" for the file as a whole). Missing fields keep
    their defaults; unknown fields, bad values and a key given twice are errors."""
    try:
        text = _text(_read(data, max_bytes, "config", "config file"), "config", "config file")
        obj, dupes = config_json.loads(text)
    except ConfigError as e:
        return None, [e]
    if not isinstance(obj, dict):
        return None, [ConfigError("config", "must be a JSON object of field: value pairs, "
                                            f"got {type(obj).__name__}")]
    bad = {e.field for e in dupes}
    cfg, errors = validate_all({k: v for k, v in obj.items() if k not in bad})
    errors = dupes + errors
    return (cfg, []) if not errors else (None, errors)


def import_config(data: bytes | str | os.PathLike, max_bytes: int = CONFIG_MAX_BYTES
                  ) -> RunConfig:
    """The config in an uploaded JSON file; raises ConfigErrors listing every bad field."""
    cfg, errors = parse_config(data, max_bytes)
    if errors:
        raise ConfigErrors(errors, "config file")
    return cfg


def import_checkpoint(data: bytes | str | os.PathLike, max_bytes: int = CHECKPOINT_MAX_BYTES,
                      max_steps: int | None = None, check=None):
    """Read and check an uploaded checkpoint: (cfg, g_state, d_state, step).

    safetensors only (a pickle or torch.save file is refused: it could run code), at most
    max_bytes, the stored config valid, its step in [0, max_steps], every tensor name and shape
    what that config builds, every value a finite float. check(cfg): the server's caps,
    applied to the stored config before anything is built (a ConfigError passes through).
    Raises CheckpointError with the reason; nothing is changed."""
    src = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else Path(data)
    try:
        return load_checkpoint(src, max_bytes=max_bytes, max_steps=max_steps, check=check)
    except (CheckpointError, ConfigError):
        raise
    except OSError as e:
        raise CheckpointError(f"cannot read the checkpoint: {e.strerror}") from None
    except Exception:   # anything else a crafted file provokes is still a refused file
        incident = secrets.token_hex(4)
        log.exception("checkpoint refused (incident %s)", incident)
        raise CheckpointError(f"the checkpoint cannot be used: it is damaged or not a GAN Lab "
                              f"checkpoint (incident {incident})") from None


def continue_from_checkpoint(job, data: bytes | str | os.PathLike, *,
                             max_bytes: int = CHECKPOINT_MAX_BYTES, max_steps: int | None = None,
                             max_params: int | None = None, check=None) -> RunConfig:
    """Load an uploaded checkpoint into a job (TrainingJob, ProcessJob or ChunkedRunner) so
    Train continues from its weights: the job takes the checkpoint's config (reset), then its
    weights and step. Optimizer moments restart from zero (checkpoints hold weights only).

    Everything that can refuse the file runs before the job is touched: the checkpoint checks,
    the server's caps (max_steps, max_params, as check_limits reports them) and building the
    networks for that config (reset builds before it replaces). Returns the new config."""
    cfg, g_state, d_state, step = import_checkpoint(
        data, max_bytes, max_steps,
        check=check or (lambda c: check_limits(c, max_steps, max_params)))
    if needs_points(cfg.dataset) and getattr(job, "points", True) is None:
        raise ConfigError("dataset", "this checkpoint was trained on custom points; upload "
                                     "the points CSV first, then the checkpoint")
    job.load_weights(g_state, d_state, step, cfg=cfg)
    return cfg


def import_points_csv(data: bytes | str | os.PathLike, max_bytes: int = POINTS_MAX_BYTES,
                      name: str = "CSV") -> np.ndarray:
    """An N x 2 float64 array from an uploaded CSV of x,y rows (see toy2d.parse_points_csv for
    the accepted separators, comments and header). Raises ConfigError on the field "points"
    whose message names the bad line, e.g. "points: CSV line 7: expected two numbers x,y"."""
    from .data import toy2d

    if isinstance(data, os.PathLike):
        name = Path(data).name
    if len(name) > 60:   # a client's file name is quoted in messages: keep it short
        name = name[:59] + "…"
    text = _text(_read(data, max_bytes, "points", "points file"), "points", "points file")
    try:
        return toy2d.parse_points_csv(text, source=name)
    except ValueError as e:
        raise ConfigError("points", str(e)) from None
