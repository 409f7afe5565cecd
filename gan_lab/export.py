"""Export and import: config JSON, metrics CSV, checkpoints, user points, samples PNG and GIF.

Pure functions over RunConfig, Snapshot, Trainer and the job classes; no gradio. Every import
checks size first, then format, then content, and raises before anything is changed:
- config JSON: `ConfigErrors` (a ConfigError) listing every bad field, JSON errors with line;
- checkpoints: `checkpoint.CheckpointError` (safetensors only, names and shapes checked);
- points CSV: ConfigError on the pseudo-field "points", naming the line.

Uploads arrive as bytes or text (content) or as a `pathlib.Path` (a file to read). A plain
`str` is content for config JSON and points CSV, and a file path for checkpoints (which are
binary), so wrap a gradio filepath in Path() for the first two.

Plotting (samples PNG, GIF frames) imports gan_lab.plots, and so matplotlib, only when called.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .checkpoint import MAX_BYTES as CHECKPOINT_MAX_BYTES
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint_bytes
from .config import ConfigError, RunConfig, brief
from .share import ConfigErrors, validate_all
from .trainer import LOSS_KEYS, Snapshot, Trainer, TrainingJob, check_limits

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CONFIG_MAX_BYTES = 64 * 1024
POINTS_MAX_BYTES = 2 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Reading uploads
# --------------------------------------------------------------------------------------------
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
    try:
        return raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as e:
        raise ConfigError(field, f"the {what} is not UTF-8 text (byte {e.start})") from None


# --------------------------------------------------------------------------------------------
# Config JSON
# --------------------------------------------------------------------------------------------
def config_json(cfg: RunConfig) -> str:
    """The whole config as JSON (every field, defaults included, so the file stays valid if a
    default changes later). `python -m gan_lab train --config FILE` reads it."""
    return cfg.validate().to_json() + "\n"


def parse_config(data: bytes | str | os.PathLike, max_bytes: int = CONFIG_MAX_BYTES
                 ) -> tuple[RunConfig | None, list[ConfigError]]:
    """Read an uploaded config JSON. (cfg, []) when valid, else (None, errors): every problem,
    each a ConfigError naming its field ("config" for the file as a whole). Missing fields keep
    their defaults; unknown fields, bad values and a key given twice are errors."""
    try:
        text = _text(_read(data, max_bytes, "config", "config file"), "config", "config file")
    except ConfigError as e:
        return None, [e]
    dupes: list[ConfigError] = []

    def pairs_hook(pairs):
        d: dict[str, Any] = {}
        for k, v in pairs:
            if k in d and d[k] != v:
                dupes.append(ConfigError(k, f"appears twice with different values "
                                            f"({brief(d[k])} and {brief(v)})"))
            d[k] = v
        return d

    try:
        # NaN and Infinity parse as floats here and are then refused as out of range.
        obj = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as e:
        return None, [ConfigError("config", f"not valid JSON: {e.msg} at line {e.lineno}, "
                                            f"column {e.colno}")]
    except RecursionError:
        return None, [ConfigError("config", "not valid JSON: nested too deeply")]
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


# --------------------------------------------------------------------------------------------
# Metrics CSV
# --------------------------------------------------------------------------------------------
def metrics_csv(snap: Snapshot) -> str:
    """The run's curves as CSV text, one row per step that has data, in step order.

    Columns: step, loss_d, loss_g, reg_d, reg_g, then every metric the run evaluated, sorted by
    name (the same columns as the CLI's metrics.csv), for example grid_js, grid_kl, hq_frac,
    modes, rev_kl, sharpness_d, sharpness_g, sparsity_d, sparsity_g, zeros_d, zeros_g.

    Loss rows come from Snapshot.history, which is downsampled: a row at step s is the mean of
    its bucket of steps ending at s (bucket size doubles as the run grows, see History).
    Metric values come from Snapshot.metrics at the steps where an evaluation ran (every
    eval_every steps, step 0 and the last step). A step with both gets one row; an empty cell
    means "not measured at this step". Values are written with repr precision."""
    hist = snap.history or {}
    mets = snap.metrics or {}
    mkeys = sorted(k for k in mets if k != "step")
    rows: dict[int, dict[str, float]] = {}
    if "step" in hist:
        for i, s in enumerate(np.asarray(hist["step"]).tolist()):
            rows.setdefault(int(s), {}).update({k: hist[k][i] for k in LOSS_KEYS if k in hist})
    if "step" in mets:
        for i, s in enumerate(np.asarray(mets["step"]).tolist()):
            rows.setdefault(int(s), {}).update({k: mets[k][i] for k in mkeys})
    out = io.StringIO()
    out.write(",".join(["step", *LOSS_KEYS, *mkeys]) + "\n")
    for s in sorted(rows):
        r = rows[s]
        out.write(",".join([str(s), *(_cell(r.get(k)) for k in (*LOSS_KEYS, *mkeys))]) + "\n")
    return out.getvalue()


def _cell(v) -> str:
    if v is None:
        return ""
    v = float(v)
    return repr(v) if math.isfinite(v) else ""


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
def _job_lock(obj):
    # TrainingJob's re-entrant lock: held, its worker thread cannot be inside a step.
    return obj._cond if isinstance(obj, TrainingJob) else contextlib.nullcontext()


def checkpoint_bytes(source) -> bytes:
    """A safetensors checkpoint (G and D weights, the config and step in its metadata) of a
    Trainer, a TrainingJob (read under its lock, so weights and step agree), any job with its
    own checkpoint_bytes() (ProcessJob, zerogpu.ChunkedRunner), or a Snapshot."""
    if hasattr(source, "checkpoint_bytes"):
        return source.checkpoint_bytes()
    if isinstance(source, TrainingJob):
        with _job_lock(source):
            tr = source.trainer
            return save_checkpoint_bytes(tr.G, tr.D, tr.cfg, tr.step)
    if isinstance(source, Trainer):
        return save_checkpoint_bytes(source.G, source.D, source.cfg, source.step)
    if isinstance(source, Snapshot):
        return _snapshot_checkpoint(source)
    raise TypeError(f"cannot export a checkpoint of a {type(source).__name__}")


def _snapshot_checkpoint(snap: Snapshot) -> bytes:
    import torch

    from .models import build_models

    with torch.random.fork_rng(devices=[]):   # building draws init weights; keep RNG intact
        G, D = build_models(snap.cfg)
    G.load_state_dict(snap.g_state)
    D.load_state_dict(snap.d_state)
    return save_checkpoint_bytes(G, D, snap.cfg, snap.step)


def export_checkpoint(source, path: str | os.PathLike) -> Path:
    """Write checkpoint_bytes(source) to `path` (atomically: a reader never sees half a file)."""
    data = checkpoint_bytes(source)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ckpt-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def import_checkpoint(data: bytes | str | os.PathLike, max_bytes: int = CHECKPOINT_MAX_BYTES,
                      max_steps: int | None = None):
    """Read and check an uploaded checkpoint: (cfg, g_state, d_state, step).

    safetensors only (a pickle or torch.save file is refused: it could run code), at most
    max_bytes, the stored config valid, its step in [0, max_steps], every tensor name and shape
    what that config builds, every value a finite float. Raises CheckpointError with the
    reason; nothing is changed."""
    src = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else Path(data)
    try:
        return load_checkpoint(src, max_bytes=max_bytes, max_steps=max_steps)
    except CheckpointError:
        raise
    except OSError as e:
        raise CheckpointError(f"cannot read the checkpoint: {e.strerror}") from None
    except Exception as e:   # anything else a crafted file provokes is still a refused file
        raise CheckpointError(f"the checkpoint cannot be used ({type(e).__name__}: "
                              f"{str(e)[:120]})") from None


def continue_from_checkpoint(job, data: bytes | str | os.PathLike, *,
                             max_bytes: int = CHECKPOINT_MAX_BYTES, max_steps: int | None = None,
                             max_params: int | None = None) -> RunConfig:
    """Load an uploaded checkpoint into a job (TrainingJob, ProcessJob or ChunkedRunner) so
    Train continues from its weights: the job takes the checkpoint's config (reset), then its
    weights and step. Optimizer moments restart from zero (checkpoints hold weights only).

    Everything that can refuse the file runs before the job is touched: the checkpoint checks,
    the server's caps (max_steps, max_params, as check_limits reports them) and building the
    networks for that config (reset builds before it replaces). Returns the new config."""
    cfg, g_state, d_state, step = import_checkpoint(data, max_bytes, max_steps)
    check_limits(cfg, max_steps, max_params)
    if cfg.dataset == "custom" and getattr(job, "points", True) is None:
        raise ConfigError("dataset", "this checkpoint was trained on custom points; upload "
                                     "the points CSV first, then the checkpoint")
    with _job_lock(job):
        job.reset(cfg)
        job.load_weights(g_state, d_state, step)
    return cfg


# --------------------------------------------------------------------------------------------
# User points
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Images: samples PNG, GIF of the run
# --------------------------------------------------------------------------------------------
def samples_png(snap: Snapshot, dpi: float = 100) -> bytes:
    """The samples figure (all overlays on) as PNG bytes."""
    from . import plots

    buf = io.BytesIO()
    plots.save_samples_png(snap, buf, dpi=dpi)
    return buf.getvalue()


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """An H x W x 3 uint8 image shrunk (area-averaged, aspect kept) so its longer side is at
    most max_side. Always a new array, so a recorded frame never changes under us."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return np.array(rgb, dtype=np.uint8, copy=True)
    k = max_side / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
                      .resize(size, Image.Resampling.BOX))


class FrameRecorder:
    """Frames of the samples figure captured during a run, for an animated GIF.

    Memory is bounded: at most `max_frames` frames of at most `max_side` pixels per side
    (60 x 256 x 256 x 3 bytes = 11.8 MB at the defaults). When full, every other frame is
    dropped and the spacing between frames doubles, so the frames always span the whole run
    evenly, however long it gets.

    Call `maybe_add(snap)` as often as you like (e.g. with every UI frame); it records only
    when the run has advanced `interval` steps since the last frame and the weights changed.
    Pass the figure you already drew as `fig=` to avoid drawing it twice. `add(snap)` records
    unconditionally (e.g. the last frame when the run ends). Thread-safe.
    """

    def __init__(self, max_frames: int = 60, min_interval_steps: int = 1, max_side: int = 256):
        if max_frames < 2:
            raise ValueError("max_frames must be at least 2")
        if min_interval_steps < 1:
            raise ValueError("min_interval_steps must be at least 1")
        import threading

        self.max_frames = int(max_frames)
        self.min_interval_steps = int(min_interval_steps)
        self.max_side = int(max_side)
        self._lock = threading.Lock()
        self._renderer = None
        self.clear()

    def clear(self) -> None:
        """Forget every frame (call it when the run is reset)."""
        with self._lock:
            self.frames: list[np.ndarray] = []
            self.steps: list[int] = []
            self.interval = self.min_interval_steps
            self._last_key = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.frames)

    def due(self, snap: Snapshot) -> bool:
        """Whether maybe_add would record this snapshot."""
        if not self.steps:
            return True
        if (snap.step, snap.weights_version) == self._last_key:
            return False
        return snap.step - self.steps[-1] >= self.interval

    def maybe_add(self, snap: Snapshot, fig: Figure | None = None) -> bool:
        """Record a frame if one is due (see the class docstring). True when one was added."""
        if not self.due(snap):
            return False
        self.add(snap, fig)
        return True

    def add(self, snap: Snapshot, fig: Figure | None = None,
            frame: np.ndarray | None = None) -> None:
        """Record a frame now (a frame at the same step as the last one replaces it). `frame`,
        an H x W x 3 uint8 picture of this snapshot drawn elsewhere (the app's render
        process), is used as it is (shrunk to max_side) instead of drawing one."""
        frame = self._render(snap, fig) if frame is None else downscale(frame, self.max_side)
        with self._lock:
            self._last_key = (snap.step, snap.weights_version)
            if self.steps and snap.step <= self.steps[-1]:
                self.frames[-1], self.steps[-1] = frame, snap.step
                return
            if len(self.frames) >= self.max_frames:
                self._thin()
            self.frames.append(frame)
            self.steps.append(int(snap.step))

    def _thin(self) -> None:
        # Keep frames 0, 2, 4, ...: the first frame (the untrained net) always survives.
        self.frames = self.frames[::2]
        self.steps = self.steps[::2]
        self.interval *= 2

    def _render(self, snap: Snapshot, fig: Figure | None) -> np.ndarray:
        from . import plots

        if fig is None:
            if self._renderer is None:
                self._renderer = plots.Renderer()
            fig = self._renderer.samples(snap, heatmap=True, arrows=True, manifold=True)
        return downscale(plots.figure_to_array(fig), self.max_side)

    def to_gif(self, dest: str | os.PathLike | io.IOBase | None = None, fps: float = 8.0,
               hold_last_s: float = 1.5) -> bytes:
        """The frames as an animated GIF that loops forever; also written to `dest` (a path or
        a binary file object) when given. One palette optimized over all frames, so colours do
        not flicker between frames and unchanged regions compress away. The last frame is held
        for `hold_last_s` so the final state can be seen before the loop restarts."""
        from PIL import Image

        with self._lock:
            frames = list(self.frames)
        if not frames:
            raise ValueError("no frames recorded yet; train for a while first")
        if not 0 < fps <= 50:
            raise ValueError("fps must be in (0, 50]")
        h, w = frames[0].shape[:2]
        imgs = [Image.fromarray(f) if f.shape[:2] == (h, w)
                else Image.fromarray(f).resize((w, h), Image.Resampling.BOX) for f in frames]
        palette = _shared_palette(imgs)
        pal = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in imgs]
        ms = max(20, round(1000 / fps))   # browsers treat < 20 ms as 100 ms
        durations = [ms] * len(pal)
        durations[-1] = max(ms, round(hold_last_s * 1000))
        buf = io.BytesIO()
        pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], loop=0,
                    duration=durations, optimize=True, disposal=1)
        data = buf.getvalue()
        if dest is not None:
            if hasattr(dest, "write"):
                dest.write(data)
            else:
                Path(dest).write_bytes(data)
        return data


def _shared_palette(imgs):
    """A 256-colour palette fitted to a sample of every frame's pixels."""
    from PIL import Image

    step = max(1, len(imgs) // 16)
    sample = imgs[::step]
    w, h = sample[0].size
    sheet = Image.new("RGB", (w, h * len(sample)))
    for i, im in enumerate(sample):
        sheet.paste(im, (0, i * h))
    # Median cut keeps the few saturated plot colours (points, arrows) that a frequency-based
    # method would merge into the large pale background.
    return sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
