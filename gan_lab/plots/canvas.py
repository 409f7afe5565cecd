"""Matplotlib plumbing shared by the figures: a canvas that redraws only what changes, a fast
raster artist, figure helpers, the palette, and the one thread that does renderers' torch work.

Figures are plain `matplotlib.figure.Figure`s on an Agg canvas, never pyplot's global figure
manager: many sessions render at once on a shared server, and pyplot's state is global.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import matplotlib
import matplotlib.image
import numpy as np
import PIL.Image
import torch
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

# GAN Lab's palette is declared once, in palette.py (G purple, D orange, real green).
from .fonts import use_cjk
from .palette import (  # noqa: F401 - re-exported for the figures
    ARROW_COLOR,
    BAND_COLOR,
    D_COLOR,
    FAKE_COLOR,
    G_COLOR,
    MANIFOLD_COLOR,
    MUTED_TEXT,
    REAL_COLOR,
    TEXT_COLOR,
    ZERO_COLOR,
)

# PRGn trimmed at both ends: the full map is too dark for points drawn on top of it.
HEAT_CMAP = ListedColormap(matplotlib.colormaps["PRGn"](np.linspace(0.12, 0.88, 256)),
                            name="gan_lab_d")
IMG_CMAP = matplotlib.colormaps["gray"].with_extremes(bad=ZERO_COLOR)
IMG_NORM = Normalize(-1.0, 1.0, clip=True)


class FastCanvas(FigureCanvasAgg):
    """An Agg canvas that redraws only what changes between frames.

    Axes frames, ticks, labels, colour bar and legend are most of a figure's draw time (text is
    slow) yet rarely change. The canvas draws them once into a cached background with the
    `dynamic` artists hidden, then each draw restores that background and draws only the dynamic
    artists: matplotlib's blitting, applied to whole-figure draws, so `savefig` (what gr.Plot
    calls) and `figure_to_array` get it too. The cache is keyed on every axes' visibility and
    limits, the figure size and dpi, and `static_key` (the renderer's name for anything else
    static it changes), so a stale background cannot be reused. Static artists stay visible in
    the figure model, so any other output path (another dpi or format) draws everything.
    """

    def __init__(self, figure: Figure):
        super().__init__(figure)
        self.dynamic: list = []
        self.static_key = None
        self._bg = None

    def _bg_key(self):
        axes = tuple((a.get_visible(), a.get_xlim(), a.get_ylim()) for a in self.figure.axes)
        return (self.static_key, axes, self.figure.dpi, self.get_width_height(physical=True))

    def draw(self):
        if not self.dynamic:
            return super().draw()
        key = self._bg_key()
        if self._bg is None or self._bg[0] != key:
            shown = [a for a in self.dynamic if a.get_visible()]
            for a in shown:
                a.set_visible(False)
            try:
                super().draw()
            finally:
                for a in shown:
                    a.set_visible(True)
            self._bg = (key, self.copy_from_bbox(self.figure.bbox))
        renderer = self.get_renderer()
        renderer.restore_region(self._bg[1])
        # Stable sort: equal zorders keep their registration order, as in a full draw.
        for a in sorted((a for a in self.dynamic if a.get_visible()), key=lambda a: a.zorder):
            a.draw(renderer)

    # savefig lands in these. FigureCanvasAgg's own versions call its full draw by name, which
    # would skip the cached background. print_figure also passes dpi, facecolor and the like;
    # it has already applied them to the figure, so they are ignored here.
    def print_png(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_applied):
        # zlib level 1: level 6 (the default) took longer than drawing the figure, for files
        # only ~10% smaller.
        self._print_pil_fast(filename_or_obj, "png", metadata,
                             {"compress_level": 1, **(pil_kwargs or {})})

    def print_webp(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_applied):
        # method 0 (fastest): half the encode time of the default 4 for files ~20% larger,
        # still about a third of a PNG's size.
        self._print_pil_fast(filename_or_obj, "webp", metadata,
                             {"method": 0, **(pil_kwargs or {})})

    def _print_pil_fast(self, filename_or_obj, fmt, metadata, pil_kwargs):
        self.draw()
        matplotlib.image.imsave(filename_or_obj, self.buffer_rgba(), format=fmt,
                                origin="upper", dpi=self.figure.dpi, metadata=metadata,
                                pil_kwargs=pil_kwargs)


class Raster(Artist):
    """An RGBA image (rows top to bottom) filling its axes, resized by PIL at draw time.

    Replaces imshow for the D(x) heatmap and the digit grid: imshow resamples through float
    arrays and took ~6 ms per frame for a 48x48 grid; PIL's resize plus a direct pixel copy
    takes under 1 ms. smooth: bilinear (heatmap) or nearest (pixels stay crisp). The image is
    stretched over the axes when smooth, else fitted inside them keeping its aspect."""

    def __init__(self, ax, smooth: bool, zorder: float = 0):
        super().__init__()
        self.smooth = smooth
        self.rgba: np.ndarray | None = None
        self.set_zorder(zorder)
        ax.add_artist(self)

    def set_rgba(self, rgba: np.ndarray) -> None:
        self.rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
        self.stale = True

    def draw(self, renderer):
        if not self.get_visible() or self.rgba is None or self.rgba.size == 0:
            return
        bb = self.axes.bbox
        x0, y0 = round(bb.x0), round(bb.y0)
        w, h = round(bb.x1) - x0, round(bb.y1) - y0
        ih, iw = self.rgba.shape[:2]
        if not self.smooth:
            s = min(w / iw, h / ih)
            x0, y0 = x0 + round((w - iw * s) / 2), y0 + round((h - ih * s) / 2)
            w, h = round(iw * s), round(ih * s)
        if w < 1 or h < 1:
            return
        method = PIL.Image.Resampling.BILINEAR if self.smooth else PIL.Image.Resampling.NEAREST
        img = np.array(PIL.Image.fromarray(self.rgba, "RGBA").resize((w, h), method))
        gc = renderer.new_gc()
        # draw_image puts the array's first row at the bottom (y0 is the image's lower edge);
        # our rows run top to bottom.
        renderer.draw_image(gc, x0, y0, np.ascontiguousarray(img[::-1]))
        gc.restore()
        self.stale = False


# Figure text sizes, in points. A figure w inches wide shown w_px pixels wide draws a pt-point
# text pt * w_px / (72 * w) pixels high: at 1280x720 the samples (5 in) and weights (5 in)
# figures are shown about 440 px wide, so 10 pt is about 12 px on the projector.
FONT_PT = 10.0
TITLE_PT = 11.0


def title_text(ax, size: float, offset: float = 4):
    # A text `offset` points above the axes rather than ax.set_title: Axes.draw repositions its
    # title, and FastCanvas's fast path draws dynamic artists without Axes.draw.
    return ax.annotate("", (0.5, 1.0), xycoords="axes fraction", xytext=(0, offset),
                       textcoords="offset points", ha="center", va="bottom", fontsize=size,
                       linespacing=1.35)


def new_figure(w: float, h: float, dpi: float) -> Figure:
    use_cjk()   # before any text is made: Chinese glyphs need the CJK font (plots/fonts.py)
    fig = Figure(figsize=(w, h), dpi=dpi)
    FastCanvas(fig)
    return fig


def finite_rows(x) -> np.ndarray:
    if x is None:
        return np.zeros((0, 2))
    a = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    return a[np.isfinite(a).all(axis=1)]


_TORCH_THREAD = "gan-lab-plots-torch"
_torch_lock = threading.Lock()
_torch_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child has no
                                                           # pool thread and makes its own


def _single_intraop_thread():
    # get_num_threads first: ATen sets up each thread's count lazily, from the process default,
    # at its first call; a count set before that would be overwritten by the restored default.
    torch.get_num_threads()
    torch.set_num_threads(1)


def in_torch_thread(fn):
    """fn() run on the one thread that does every renderer's torch work, which uses a single
    intra-op thread.

    The work is a few milliseconds of small matrix products. Split over OpenMP threads on a
    2-core machine that is also training, those threads spin-wait for a busy core: a frame's
    torch work took ~210 ms instead of ~12 ms. Why a thread of its own rather than
    torch.set_num_threads(1) around each render: that call also sets the default every thread
    adopts at its first parallel op, so a trainer thread starting during a render would keep one
    thread for good. Here it is set once, on this thread, and the default restored at once."""
    global _torch_pool
    if threading.current_thread().name.startswith(_TORCH_THREAD):
        return fn()
    with _torch_lock:
        if _torch_pool is None or _torch_pool[0] != os.getpid():
            n = torch.get_num_threads()
            pool = ThreadPoolExecutor(1, thread_name_prefix=_TORCH_THREAD)
            pool.submit(_single_intraop_thread).result()
            torch.set_num_threads(n)
            _torch_pool = (os.getpid(), pool)
        pool = _torch_pool[1]
    return pool.submit(fn).result()


def figure_to_array(fig: Figure) -> np.ndarray:
    """The figure rendered to an H x W x 3 uint8 RGB array (a copy)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
