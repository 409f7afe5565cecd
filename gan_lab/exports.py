"""Exports: config JSON, metrics CSV, checkpoints, the samples PNG and a GIF of the run.

Pure functions over RunConfig, Snapshot and the job classes; no gradio. Plotting (samples PNG,
GIF frames drawn here) imports gan_lab.plots' figures, and so matplotlib, only when called.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .checkpoint import save_checkpoint_bytes, save_checkpoint_bytes_from_states
from .config import RunConfig
from .losses import LOSS_KEYS
from .snapshot import Snapshot
from .trainer import Trainer

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def config_json(cfg: RunConfig) -> str:
    """The whole config as JSON (every field, defaults included, so the file stays valid if a
    default changes later). `python -m gan_lab train --config FILE` reads it."""
    return cfg.validate().to_json() + "\n"


def metrics_csv(snap: Snapshot) -> str:
    """The run's curves as CSV text, one row per step that has data, in step order.

    Columns: step, loss_d, loss_g, reg_d, reg_g, gp_d, the extra regularizers' penalties
    (extra_<kind>_<net>, losses.LOSS_KEYS), then every metric the run evaluated, sorted by
    name (the same columns as the CLI's metrics.csv), for example grid_js, grid_kl, hq_frac,
    modes, rev_kl, sharpness_d, sharpness_g, sparsity_d, sparsity_g, zeros_d, zeros_g.

    Loss rows come from Snapshot.history, which is downsampled: a row at step s is the mean of
    its bucket of steps ending at s (bucket size doubles as the run grows, see History).
    Metric values come from Snapshot.metrics at the steps where an evaluation ran (every
    eval_every steps, step 0 and the last step). A step with both gets one row; an empty cell
    means "not measured at this step". Values are written with repr precision."""
    from .runs import metrics_csv

    return metrics_csv(*snapshot_curves(snap))


def snapshot_curves(snap: Snapshot) -> tuple[dict[int, dict], dict[int, dict]]:
    """(losses, evaluations) of a Snapshot, each step -> {column: value} (runs.metrics_csv)."""
    hist, mets = snap.history or {}, snap.metrics or {}

    def by_step(d: dict, keys) -> dict[int, dict]:
        return {int(s): {k: d[k][i] for k in keys if k in d}
                for i, s in enumerate(np.asarray(d.get("step", [])).tolist())}

    return by_step(hist, LOSS_KEYS), by_step(mets, [k for k in mets if k != "step"])


def checkpoint_bytes(source) -> bytes:
    """A safetensors checkpoint (G and D weights, the config and step in its metadata) of a
    job (its checkpoint_bytes(): the weights on screen, consistent with their step), a Run or
    Trainer, or a Snapshot."""
    if hasattr(source, "checkpoint_bytes"):
        return source.checkpoint_bytes()
    trainer = getattr(source, "trainer", source)
    if isinstance(trainer, Trainer):
        return save_checkpoint_bytes(trainer.G, trainer.D, trainer.cfg, trainer.step)
    if isinstance(source, Snapshot):
        return save_checkpoint_bytes_from_states(source.cfg, source.g_state, source.d_state,
                                                 source.step)
    raise TypeError(f"cannot export a checkpoint of a {type(source).__name__}")


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


def samples_png(snap: Snapshot, dpi: float = 100) -> bytes:
    """The samples figure (all overlays on) as PNG bytes."""
    from .plots import save_samples_png

    buf = io.BytesIO()
    save_samples_png(snap, buf, dpi=dpi)
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
        from .plots import FigureRenderer, figure_to_array

        if fig is None:
            if self._renderer is None:
                self._renderer = FigureRenderer()
            fig = self._renderer.samples(snap, heatmap=True, arrows=True, manifold=True)
        return downscale(figure_to_array(fig), self.max_side)

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
