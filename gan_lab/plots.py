"""Renderers from a trainer.Snapshot to a matplotlib Figure or a pandas DataFrame.

- `loss_frame(snap)`, `metric_frame(snap, kind)`: long-format frames (step, value, series) for
  native Gradio line plots, which are cheaper and more interactive than matplotlib curves.
- `layer_names(snap)`: choices for the weight-histogram layer picker.
- `Renderer`: one per browser session. It keeps its Figures and artists and only swaps their data
  each frame, because building a figure costs several times more than updating one, and it
  returns the cached figure untouched while the weights and options are unchanged.
- `save_samples_png(snap, path)` (CLI) and `figure_to_array(fig)` (GIF export).

Figures are plain `matplotlib.figure.Figure`s on an Agg canvas, never pyplot's global figure
manager: many sessions render at once on a shared server, and pyplot's state is global.
Nothing here raises on non-finite weights or samples; those values are skipped and counted.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.image
import numpy as np
import pandas as pd
import PIL.Image
import torch
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .losses import g_loss
from .models import build_models

if TYPE_CHECKING:  # trainer pulls in data/metrics/regularizers; plots only reads its Snapshot
    from .trainer import Snapshot

# GAN Lab's palette: green is "real", purple is "generated"; the D(x) heatmap uses the same
# two hues, so a purple region reads "D thinks this is fake".
REAL_COLOR = "#1b7837"
FAKE_COLOR = "#762a83"
ARROW_COLOR = "#e08214"
MANIFOLD_COLOR = "#9970ab"
G_COLOR = "#8073ac"
D_COLOR = "#35978f"
ZERO_COLOR = "#b2182b"

HEAT_RES = 48          # D(x) grid cells per side
N_ARROWS = 100         # generated points that get a gradient arrow
MANIFOLD_LINES = 11    # latent grid lines per direction
MANIFOLD_PTS = 41      # points along each latent grid line
MANIFOLD_RANGE = 2.0   # latent values in [-2, 2]: ~95% of z ~ N(0, 1) per dimension
HIST_BINS = 60
HIST_DECADES_BELOW_EPS = 3  # smaller magnitudes are counted in the first bin
MAX_ROWS_PER_SERIES = 1000

LOSS_SERIES = (("loss_d", "D loss"), ("loss_g", "G loss"))
PENALTY_SERIES = (("reg_d", "D penalty"), ("reg_g", "G penalty"))
# kind -> ((metrics key, series name, scale), ...); keys absent from the run are left out.
METRIC_SERIES = {
    "quality": (("modes", "modes", 1.0), ("hq_frac", "HQ %", 100.0),
                ("digits_covered", "digits covered", 1.0), ("cls_is", "classifier IS", 1.0),
                ("fcd", "FCD", 1.0), ("class_kl", "class KL", 1.0)),
    "sparsity": (("sparsity_g", "G sparse %", 100.0), ("sparsity_d", "D sparse %", 100.0),
                 ("zeros_g", "G zeros %", 100.0), ("zeros_d", "D zeros %", 100.0)),
    "sharpness": (("sharpness_d", "D sharpness", 1.0), ("sharpness_g", "G sharpness", 1.0)),
}
# Shapes without mode centres (spiral, moons, custom, ...) have no mode coverage; their quality
# curve is GAN Lab's grid divergence instead, so the chart is never blank for a 2-D run.
GRID_SERIES = (("grid_kl", "grid KL", 1.0), ("grid_js", "grid JS", 1.0))

ARCH_FIELDS = ("dataset", "arch", "latent_dim", "g_hidden", "g_depth", "d_hidden", "d_depth",
               "activation", "d_activation")

# PRGn trimmed at both ends: the full map is too dark for points drawn on top of it.
_HEAT_CMAP = ListedColormap(matplotlib.colormaps["PRGn"](np.linspace(0.12, 0.88, 256)),
                            name="gan_lab_d")
_IMG_CMAP = matplotlib.colormaps["gray"].with_extremes(bad=ZERO_COLOR)
_IMG_NORM = Normalize(-1.0, 1.0, clip=True)


# ------------------------------------------------------------------------------------------------
# Data frames for gr.LinePlot


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64"),
                         "series": pd.Series(dtype="str")})


def _thin(n: int, cap: int) -> np.ndarray:
    """Indices of at most cap evenly spread rows, first and last always kept."""
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64))


def _long(cols: dict, series: list[tuple[str, str, float]]) -> pd.DataFrame:
    steps = np.asarray(cols.get("step", ()), dtype=np.float64).reshape(-1)
    parts = []
    for key, name, scale in series:
        v = np.asarray(cols[key], dtype=np.float64).reshape(-1)[: len(steps)] * scale
        s = steps[: len(v)]
        ok = np.isfinite(v) & np.isfinite(s)
        v, s = v[ok], s[ok]
        keep = _thin(len(v), MAX_ROWS_PER_SERIES)
        parts.append(pd.DataFrame({"step": s[keep].astype(np.int64), "value": v[keep],
                                   "series": name}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_frame()
    return pd.concat(parts, ignore_index=True)


def _has_finite(cols: dict, key: str, nonzero: bool = False) -> bool:
    if key not in cols:
        return False
    v = np.asarray(cols[key], dtype=np.float64)
    ok = np.isfinite(v)
    if nonzero:
        ok &= v != 0
    return bool(ok.any())


def loss_frame(snap: Snapshot) -> pd.DataFrame:
    """Loss curves in long format: step (int), value (float), series ("D loss", "G loss", and
    "D penalty" / "G penalty" when that penalty was ever non-zero). Non-finite values dropped."""
    cols = snap.history or {}
    series = [(k, name, 1.0) for k, name in LOSS_SERIES if k in cols]
    series += [(k, name, 1.0) for k, name in PENALTY_SERIES if _has_finite(cols, k, nonzero=True)]
    return _long(cols, series)


def metric_frame(snap: Snapshot, kind: str) -> pd.DataFrame:
    """Evaluation curves in the same long format as loss_frame.

    kind "quality": modes and HQ % (ring8/grid25), grid KL/JS (other 2-D shapes), digits covered,
    classifier IS, FCD and class KL (MNIST), whichever the run measured; "sparsity": G/D sparse %
    and exact-zero %; "sharpness": D and G sharpness (top |Hessian eigenvalue|)."""
    if kind not in METRIC_SERIES:
        raise ValueError(f"unknown metric kind {kind!r}; one of {', '.join(METRIC_SERIES)}")
    cols = snap.metrics or {}
    series = [s for s in METRIC_SERIES[kind] if _has_finite(cols, s[0])]
    if kind == "quality" and not series:
        series = [s for s in GRID_SERIES if _has_finite(cols, s[0])]
    return _long(cols, series)


# ------------------------------------------------------------------------------------------------
# Weight tensors


def _shown(name: str, t: torch.Tensor, reg_bias: bool) -> bool:
    # The same tensors gan_lab.regularizers.reg_params selects, so the histogram's sparsity text
    # agrees with the sparsity curve the trainer logs.
    return t.dim() >= 2 or reg_bias


def layer_names(snap: Snapshot) -> list[str]:
    """"all", then every weight tensor (dim >= 2) as "G <name>" / "D <name>"."""
    out = ["all"]
    for tag, state in (("G", snap.g_state), ("D", snap.d_state)):
        out += [f"{tag} {k}" for k, v in (state or {}).items() if v.dim() >= 2]
    return out


def _tensors(snap: Snapshot, layer: str) -> tuple[dict[str, list[torch.Tensor]], str | None]:
    """{"G": [...], "D": [...]} tensors for `layer`, and the layer picked (None for all). An
    unknown layer (a stale UI choice after the architecture changed) falls back to all."""
    states = {"G": snap.g_state or {}, "D": snap.d_state or {}}
    if layer and layer != "all":
        tag, _, name = layer.partition(" ")
        t = states.get(tag, {}).get(name)
        if t is not None:
            return {tag: [t.detach()]}, layer
    reg_bias = bool(getattr(snap.cfg, "reg_bias", False))
    return {tag: [t.detach() for k, t in st.items() if _shown(k, t, reg_bias)]
            for tag, st in states.items()}, None


def _pct(x: float) -> str:
    """A percentage that never rounds a non-zero share to "0.0%" or a partial one to 100%."""
    if x == 0 or x == 100:
        return f"{x:.0f}%"
    if x < 0.1:
        return f"{x:.2g}%"
    if x > 99.9:
        return f"{x:.3f}%"
    return f"{x:.1f}%"


# ------------------------------------------------------------------------------------------------
# Renderer


class _Canvas(FigureCanvasAgg):
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


class _Raster(Artist):
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
        renderer.draw_image(gc, x0, y0, img)
        gc.restore()
        self.stale = False


def _title(ax, size: float, offset: float = 4):
    # A text `offset` points above the axes rather than ax.set_title: Axes.draw repositions its
    # title, and _Canvas's fast path draws dynamic artists without Axes.draw.
    return ax.annotate("", (0.5, 1.0), xycoords="axes fraction", xytext=(0, offset),
                       textcoords="offset points", ha="center", va="bottom", fontsize=size,
                       linespacing=1.35)


def _new_figure(w: float, h: float, dpi: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=dpi)
    _Canvas(fig)
    return fig


def _finite_rows(x) -> np.ndarray:
    if x is None:
        return np.zeros((0, 2))
    a = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    return a[np.isfinite(a).all(axis=1)]


class Renderer:
    """Figures for one browser session, reused across frames (see the module docstring).

    A lock serializes calls, since Gradio may run two events of one session at once and
    matplotlib artists are not thread-safe; save or draw a returned figure before another thread
    calls again. `last_changed` tells whether the last call changed anything, so a caller may
    skip re-sending an unchanged figure.
    """

    def __init__(self, dpi: float = 100):
        self.dpi = dpi
        self.last_changed = False
        self._lock = threading.RLock()
        self._arch = None
        self._G = self._D = None
        self._loaded: tuple = (None, None)
        self._s2d: dict | None = None
        self._simg: dict | None = None
        self._s_key: tuple | None = None
        self._w: dict | None = None
        self._w_key: tuple | None = None

    # --- networks ------------------------------------------------------------------------------
    def _nets(self, snap: Snapshot):
        """G and D with the snapshot's weights (None, None when they cannot be rebuilt)."""
        arch = tuple(getattr(snap.cfg, f) for f in ARCH_FIELDS)
        if arch != self._arch:
            # build_models draws initial weights from the global torch RNG; fork it so drawing
            # a plot never shifts a seeded computation elsewhere in the process.
            with torch.random.fork_rng(devices=[]):
                G, D = build_models(snap.cfg)
            for net in (G, D):
                net.eval().requires_grad_(False)
            self._G, self._D, self._arch, self._loaded = G, D, arch, (None, None)
        if self._loaded[0] is not snap.g_state or self._loaded[1] is not snap.d_state:
            try:
                self._G.load_state_dict(snap.g_state)
                self._D.load_state_dict(snap.d_state)
            except (RuntimeError, KeyError, TypeError, AttributeError):
                self._loaded = (None, None)
                return None, None
            self._loaded = (snap.g_state, snap.d_state)
        return self._G, self._D

    # --- samples -------------------------------------------------------------------------------
    def samples(self, snap: Snapshot, heatmap: bool = True, arrows: bool = True,
                manifold: bool = True) -> Figure:
        """2-D: real vs generated points over D's heatmap, G's gradient arrows and the warped
        latent grid (each toggleable). MNIST: an 8x8 grid of the fixed-noise samples."""
        with self._lock:
            # cfg guards against a new job whose weights_version restarted at a count this
            # renderer has already seen; not the arrays' identity, which a snapshot that
            # crossed a process boundary never keeps.
            key = (snap.weights_version, snap.step, bool(snap.is_image), bool(heatmap),
                   bool(arrows), bool(manifold), snap.cfg, _bounds_key(snap.bounds))
            fig = self._cached_samples_fig(snap)
            if fig is not None and key == self._s_key:
                self.last_changed = False
                return fig
            if snap.is_image:
                fig = self._draw_images(snap)
            else:
                fig = self._draw_2d(snap, heatmap, arrows, manifold)
            self._s_key = key
            self.last_changed = True
            return fig

    def _cached_samples_fig(self, snap):
        st = self._simg if snap.is_image else self._s2d
        return None if st is None else st["fig"]

    def _init_2d(self) -> dict:
        fig = _new_figure(5.0, 5.0, self.dpi)
        # Fixed axes positions instead of tight/constrained layout: those re-measure every text
        # on every draw, which alone would cost more than the whole frame budget.
        ax = fig.add_axes((0.115, 0.165, 0.715, 0.715))
        cax = fig.add_axes((0.85, 0.165, 0.03, 0.715))
        heat = _Raster(ax, smooth=True, zorder=0)
        cb = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), _HEAT_CMAP), cax=cax)
        cb.set_label("D(x): probability that x is real", fontsize=8)
        cb.set_ticks([0, 0.25, 0.5, 0.75, 1])
        cax.tick_params(labelsize=7)
        mani = LineCollection([], colors=MANIFOLD_COLOR, linewidths=0.8, alpha=0.6, zorder=1)
        ax.add_collection(mani)
        # Real points above generated ones: they are the target, and on ring8/grid25 all of
        # them sit on a few tiny modes that generated points would otherwise hide.
        fake = ax.scatter(np.zeros(0), np.zeros(0), s=6, c=FAKE_COLOR, linewidths=0,
                          alpha=0.8, zorder=2)
        real = ax.scatter(np.zeros(0), np.zeros(0), s=9, c=REAL_COLOR, linewidths=0,
                          alpha=0.6, zorder=3)
        ax.set_xlabel("x\u2081", fontsize=9)
        ax.set_ylabel("x\u2082", fontsize=9)
        ax.tick_params(labelsize=7)
        title = _title(ax, 10)
        note = ax.text(0.01, 0.01, "", transform=ax.transAxes, fontsize=7, color="#333",
                       zorder=6, bbox=dict(fc="white", ec="none", alpha=0.6, pad=1.5))
        handles = {
            "real": Line2D([], [], ls="none", marker="o", ms=4, color=REAL_COLOR,
                           label="real data"),
            "fake": Line2D([], [], ls="none", marker="o", ms=4, color=FAKE_COLOR,
                           label="generated"),
            "arrows": Line2D([], [], ls="none", marker=r"$\rightarrow$", ms=11,
                             color=ARROW_COLOR, label="G gradient"),
            "manifold": Line2D([], [], color=MANIFOLD_COLOR, lw=1,
                               label="G manifold (z grid)"),
        }
        return dict(fig=fig, ax=ax, cax=cax, heat=heat, mani=mani, real=real, fake=fake,
                    quiver=None, title=title, note=note, handles=handles, legend=None,
                    legend_key=None, bounds=None, real_src=None)

    def _draw_2d(self, snap, heatmap, arrows, manifold) -> Figure:
        st = self._s2d = self._s2d or self._init_2d()
        ax = st["ax"]
        fake_all = (np.zeros((0, 2)) if snap.samples is None
                    else np.asarray(snap.samples, dtype=np.float64).reshape(-1, 2))
        fake = fake_all[np.isfinite(fake_all).all(axis=1)]
        if snap.real is not st["real_src"]:
            st["real"].set_offsets(_finite_rows(snap.real))
            st["real_src"] = snap.real
        real = st["real"].get_offsets()
        b = _bounds(snap.bounds, real, fake)
        if b != st["bounds"]:
            ax.set_xlim(b[0], b[1])
            ax.set_ylim(b[2], b[3])
            st["bounds"] = b
        st["fake"].set_offsets(fake)

        def overlays():
            G, D = self._nets(snap) if (heatmap or arrows or manifold) else (None, None)
            # Each overlay shows only when it has something finite to draw, so a diverged net
            # never leaves a colour bar or legend entry for an empty layer.
            show_heat = show_mani = show_arrows = False
            if heatmap and D is not None:
                p = _d_grid(D, b)
                show_heat = bool(np.isfinite(p).any())
                # Grid rows run bottom to top; the raster's rows run top to bottom.
                st["heat"].set_rgba(_HEAT_CMAP(np.ma.masked_invalid(p[::-1]), bytes=True))
            if manifold and G is not None:
                segs = _manifold(G, snap.cfg.latent_dim)
                show_mani = any(np.isfinite(seg).any() for seg in segs)
                st["mani"].set_segments(segs)
            if arrows and D is not None and len(fake_all) > 0:
                show_arrows = self._update_arrows(st, D, fake_all, snap.cfg.loss, b)
            return G, D, show_heat, show_mani, show_arrows

        G, D, show_heat, show_mani, show_arrows = _in_torch_thread(overlays)
        st["heat"].set_visible(show_heat)
        st["cax"].set_visible(show_heat)
        st["mani"].set_visible(show_mani)
        if st["quiver"] is not None:
            st["quiver"].set_visible(show_arrows)

        n_out = int(((fake[:, 0] < b[0]) | (fake[:, 0] > b[1]) | (fake[:, 1] < b[2])
                     | (fake[:, 1] > b[3])).sum())
        n_bad = len(fake_all) - len(fake)
        notes = []
        if n_out:
            notes.append(f"{n_out} generated point{'s' * (n_out != 1)} outside the view")
        if n_bad:
            notes.append(f"{n_bad} non-finite sample{'s' * (n_bad != 1)} skipped")
        if (heatmap or arrows or manifold) and D is None:
            notes.append("weights do not fit this architecture")
        lost = [what for what, asked, shown in (("D(x)", heatmap, show_heat),
                                                ("G(z)", manifold, show_mani))
                if asked and not shown and D is not None]
        if lost:
            notes.append(f"{' and '.join(lost)} not finite (diverged weights?)")
        st["note"].set_text("\n".join(notes))
        name = getattr(snap.cfg, "dataset", "")
        st["title"].set_text(f"{name}: real vs generated, step {snap.step:,}")

        legend_key = (show_arrows, show_mani)
        if legend_key != st["legend_key"]:
            if st["legend"] is not None:
                st["legend"].remove()
            keys = ["real", "fake"] + ["arrows"] * show_arrows + ["manifold"] * show_mani
            st["legend"] = st["fig"].legend(handles=[st["handles"][k] for k in keys],
                                            loc="lower center", ncol=len(keys), fontsize=7.5,
                                            frameon=False, handletextpad=0.3,
                                            columnspacing=1.0, bbox_to_anchor=(0.5, 0.0))
            st["legend_key"] = legend_key
        canvas = st["fig"].canvas
        canvas.dynamic = [st["heat"], st["mani"], st["fake"], *ax.spines.values(), st["real"],
                          *([st["quiver"]] if st["quiver"] is not None else []), st["title"],
                          st["note"]]
        canvas.static_key = legend_key
        return st["fig"]

    def _update_arrows(self, st, D, fake_all, loss_kind, b) -> bool:
        """Point the arrows; False when no arrow has a finite, non-zero length."""
        n = len(fake_all)
        # Fixed sample indices, so each arrow follows the same fixed-noise point across frames.
        idx = np.unique(np.linspace(0, n - 1, min(N_ARROWS, n)).round().astype(np.int64))
        pts = fake_all[idx]
        ok = np.isfinite(pts).all(axis=1)
        u = np.full(len(idx), np.nan)
        v = np.full(len(idx), np.nan)
        if ok.any():
            g = _g_push(D, pts[ok], loss_kind)
            norm = np.hypot(g[:, 0], g[:, 1])
            good = np.isfinite(norm) & (norm > 0)
            if good.any():
                # Length ~ relative push, capped: one huge gradient must not shrink every other
                # arrow to a dot, and the longest arrow stays a short fraction of the view.
                ref = np.percentile(norm[good], 90)
                length = 0.07 * (b[1] - b[0]) * np.minimum(norm / ref, 1.5)
                with np.errstate(invalid="ignore", divide="ignore"):
                    scale = np.where(good, length / norm, np.nan)
                u[ok] = g[:, 0] * scale
                v[ok] = g[:, 1] * scale
        offs = np.where(ok[:, None], pts, 0.0)
        q = st["quiver"]
        if q is None or q.N != len(idx):
            if q is not None:
                q.remove()
            q = st["quiver"] = st["ax"].quiver(
                offs[:, 0], offs[:, 1], np.ma.masked_invalid(u), np.ma.masked_invalid(v),
                angles="xy", scale_units="xy", scale=1.0, color=ARROW_COLOR, width=0.005,
                headwidth=3.5, headlength=4, headaxislength=3.5, zorder=4, alpha=0.95)
        else:
            q.set_offsets(offs)
            q.set_UVC(u, v)
        return bool(np.isfinite(u).any())

    def _init_images(self) -> dict:
        fig = _new_figure(5.0, 5.0, self.dpi)
        ax = fig.add_axes((0.06, 0.04, 0.88, 0.88))
        ax.set_axis_off()
        im = _Raster(ax, smooth=False)
        title = _title(ax, 10)
        note = fig.text(0.5, 0.005, "", ha="center", va="bottom", fontsize=7, color="#444")
        return dict(fig=fig, ax=ax, im=im, title=title, note=note)

    def _draw_images(self, snap) -> Figure:
        st = self._simg = self._simg or self._init_images()
        mosaic, n, n_bad = _mosaic(snap.samples)
        st["im"].set_rgba(_IMG_CMAP(_IMG_NORM(np.ma.masked_invalid(mosaic)), bytes=True))
        st["title"].set_text(f"{n} generated digits (fixed noise), step {snap.step:,}")
        st["note"].set_text(f"{n_bad} non-finite pixels shown in red" if n_bad else "")
        st["fig"].canvas.dynamic = [st["im"], st["title"], st["note"]]
        return st["fig"]

    # --- weights -------------------------------------------------------------------------------
    def weights(self, snap: Snapshot, layer: str = "all") -> Figure:
        """Histograms of log10|w| for G and D (all regularized tensors, or one layer), with
        log10(eps) marked, exact zeros as a separate bar at the left, and the sparse and
        exact-zero shares printed per network."""
        with self._lock:
            eps = float(snap.cfg.sparsity_eps)
            key = (snap.weights_version, snap.step, layer, snap.cfg)
            if self._w is not None and key == self._w_key:
                self.last_changed = False
                return self._w["fig"]
            st = self._w = self._w or self._init_weights()
            nets, picked = _tensors(snap, layer)
            stats, lo, hi = _in_torch_thread(lambda: _histograms(nets, eps))
            edges = np.linspace(lo, hi, HIST_BINS + 1)
            single = picked is not None
            for a in st["panels"].values():
                a["ax"].set_visible(False)
            if single:
                tag = picked.split(" ", 1)[0]
                shown = [("one", tag, picked)]
            else:
                shown = [("G", "G", "Generator G"), ("D", "D", "Discriminator D")]
            dynamic = []
            for panel, tag, title in shown:
                p = st["panels"][panel]
                _fill_panel(p, stats[tag], edges, eps, title, G_COLOR if tag == "G" else D_COLOR)
                # The eps marker is redrawn too, or the histogram would cover it.
                dynamic += [p["hist"], p["zbar"], p["ztext"], p["detail"], p["eline"],
                            p["etext"], p["ax"].spines["bottom"], p["ax"].spines["left"]]
            st["fig"].canvas.dynamic = dynamic
            # Titles are static: part of the cached background.
            st["fig"].canvas.static_key = (eps, lo, hi, picked,
                                           *(st["panels"][p]["head"].get_text()
                                             for p, _, _ in shown))
            self._w_key = key
            self.last_changed = True
            return st["fig"]

    def _init_weights(self) -> dict:
        fig = _new_figure(6.0, 3.0, self.dpi)
        sup = fig.text(0.5, 0.975, "Weight magnitudes |w|, log scale", ha="center", va="top",
                       fontsize=10)
        panels = {
            "G": _make_panel(fig, (0.075, 0.165, 0.405, 0.58)),
            "D": _make_panel(fig, (0.575, 0.165, 0.405, 0.58)),
            "one": _make_panel(fig, (0.075, 0.165, 0.905, 0.58)),
        }
        return dict(fig=fig, sup=sup, panels=panels)


# ------------------------------------------------------------------------------------------------
# Computation helpers (torch)


_TORCH_THREAD = "gan-lab-plots-torch"
_torch_lock = threading.Lock()
_torch_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child has no
                                                           # pool thread and makes its own


def _single_intraop_thread():
    # get_num_threads first: ATen sets up each thread's count lazily, from the process default,
    # at its first call; a count set before that would be overwritten by the restored default.
    torch.get_num_threads()
    torch.set_num_threads(1)


def _in_torch_thread(fn):
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


def _bounds_key(bounds):
    return None if bounds is None else tuple(float(v) for v in bounds)


@torch.no_grad()
def _histograms(nets: dict[str, list[torch.Tensor]], eps: float):
    """(stats per net with "pct" per bin, lo, hi): see _log_stats and _hist_range."""
    stats = {tag: _log_stats(ts, eps) for tag, ts in nets.items()}
    lo, hi = _hist_range(stats.values(), eps)
    for s in stats.values():
        # histc drops values outside [lo, hi]; clamping counts the tiny ones in the first bin,
        # as its tick label says.
        s["pct"] = (torch.histc(s["logs"].clamp(lo, hi), HIST_BINS, lo, hi).double().numpy()
                    * (100.0 / max(s["n"], 1)))
    return stats, lo, hi


def _bounds(bounds, real: np.ndarray, fake: np.ndarray) -> tuple[float, float, float, float]:
    if bounds is not None:
        b = tuple(float(v) for v in bounds)
        if all(math.isfinite(v) for v in b) and b[1] > b[0] and b[3] > b[2]:
            return b
    pts = np.concatenate([real, fake]) if len(real) + len(fake) else np.zeros((1, 2))
    lo = np.percentile(pts, 1, axis=0)
    hi = np.percentile(pts, 99, axis=0)
    c = (lo + hi) / 2
    half = max(float((hi - lo).max()) * 0.6, 1e-3)
    return (c[0] - half, c[0] + half, c[1] - half, c[1] + half)


def _grid_centres(b, res: int) -> np.ndarray:
    dx = (b[1] - b[0]) / res
    dy = (b[3] - b[2]) / res
    xs = b[0] + dx * (np.arange(res) + 0.5)
    ys = b[2] + dy * (np.arange(res) + 0.5)
    xx, yy = np.meshgrid(xs, ys)  # rows run from the bottom (ymin) up
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


@torch.no_grad()
def _d_grid(D, b) -> np.ndarray:
    x = torch.from_numpy(_grid_centres(b, HEAT_RES)).float()
    return torch.sigmoid(D(x)).double().numpy().reshape(HEAT_RES, HEAT_RES)


def _g_push(D, pts: np.ndarray, loss_kind: str) -> np.ndarray:
    """-d g_loss / d x at each generated point: where the discriminator pushes that sample."""
    x = torch.from_numpy(pts).float().requires_grad_(True)
    with torch.enable_grad():
        # Sum, not mean: each point's gradient then does not shrink with the number of points.
        loss = g_loss(loss_kind, D(x)) * len(pts)
        (grad,) = torch.autograd.grad(loss, x)
    return -grad.double().numpy()


@torch.no_grad()
def _manifold(G, latent_dim: int) -> list[np.ndarray]:
    t = torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, MANIFOLD_PTS)
    if latent_dim == 1:
        z = t[:, None]
        lines = [G(z).double().numpy().reshape(-1, 2)]
    else:
        c = torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, MANIFOLD_LINES)
        a = t[None, :].expand(MANIFOLD_LINES, -1)
        b = c[:, None].expand(-1, MANIFOLD_PTS)
        z = torch.zeros(2 * MANIFOLD_LINES * MANIFOLD_PTS, latent_dim)
        # rows: z1 varies along each line (z2 fixed per line), then the transposed grid
        z[:, 0] = torch.cat([a.reshape(-1), b.reshape(-1)])
        z[:, 1] = torch.cat([b.reshape(-1), a.reshape(-1)])
        out = G(z).double().numpy().reshape(2 * MANIFOLD_LINES, MANIFOLD_PTS, 2)
        lines = list(out)
    # Agg breaks a path at NaN, so a diverged stretch of a line simply disappears.
    return [np.where(np.isfinite(seg).all(axis=1, keepdims=True), seg, np.nan) for seg in lines]


def _mosaic(samples) -> tuple[np.ndarray, int, int]:
    """(image, n tiles, n non-finite pixels) of up to 64 images on a square grid."""
    if samples is None:
        return np.full((28, 28), -1.0), 0, 0
    a = np.asarray(samples, dtype=np.float64)
    n = a.shape[0] if a.ndim else 0
    if n == 0 or a.size == 0:
        return np.full((28, 28), -1.0), 0, 0
    a = a.reshape(n, -1)
    side = math.isqrt(a.shape[1])  # MNIST: 784 = 28^2; anything else shows its leading square
    a = a[:, : side * side].reshape(n, side, side)[:64]
    n = len(a)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    pad = 2
    # Separators a shade above the black background, so tiles read as separate images.
    out = np.full((rows * (side + pad) + pad, cols * (side + pad) + pad), -0.55)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (side + pad), pad + c * (side + pad)
        out[y: y + side, x: x + side] = a[i]
    n_bad = int((~np.isfinite(a)).sum())
    return np.clip(out, -1.0, 1.0), n, n_bad  # clip keeps NaN, which the colormap shows red


# ------------------------------------------------------------------------------------------------
# Weight histogram helpers


@torch.no_grad()
def _log_stats(tensors: list[torch.Tensor], eps: float) -> dict:
    """log10|w| of the finite non-zero weights (a float32 tensor), and the counts the panel's
    text reports.

    The counts are taken in torch on the weights' own dtype, as gan_lab.metrics.sparsity takes
    them, so the two agree to the last weight (a float64 copy would round eps differently).
    Non-finite weights count as neither small nor zero there, and so here."""
    w = torch.cat([t.reshape(-1) for t in tensors]) if tensors else torch.zeros(0)
    a = w.abs()
    finite = torch.isfinite(a)
    logs = torch.log10(a[finite & (a > 0)].float())
    return dict(n=w.numel(), n_tensors=len(tensors), small=int((a <= eps).sum()),
                zero=int((a == 0).sum()), bad=w.numel() - int(finite.sum()), logs=logs)


def _hist_range(stats, eps: float) -> tuple[float, float]:
    """Whole decades from 3 below eps's to just above the largest |w|.

    Not the smallest |w|: that jitters from frame to frame, and every change of range means
    redrawing the axes. Smaller magnitudes are counted in the first bin (its tick says so)."""
    le = math.floor(math.log10(eps))
    lo, hi = le - HIST_DECADES_BELOW_EPS, le + 1
    for s in stats:
        if s["logs"].numel():
            hi = max(hi, math.ceil(float(s["logs"].max())))
    return float(lo), float(hi)


def _nice_ceil(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= x (> 0)."""
    if not x > 0 or not math.isfinite(x):
        return 1.0
    p = 10.0 ** math.floor(math.log10(x))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * p >= x * (1 - 1e-12):
            return m * p
    return 10 * p


def _make_panel(fig: Figure, rect) -> dict:
    ax = fig.add_axes(rect)
    edges = np.linspace(0, 1, HIST_BINS + 1)
    hist = ax.stairs(np.zeros(HIST_BINS), edges, fill=True, alpha=0.85, zorder=2)
    zbar = Rectangle((0, 0), 0, 0, color=ZERO_COLOR, alpha=0.85, zorder=2)
    ax.add_patch(zbar)
    zband = Rectangle((0, 0), 0, 1, color="#eeeeee", zorder=0, lw=0,
                      transform=ax.get_xaxis_transform())
    ax.add_patch(zband)
    ztext = ax.text(0, 0, "", ha="left", va="bottom", fontsize=7, color=ZERO_COLOR, zorder=5)
    eline = ax.axvline(0, color="#222", lw=1.0, ls="--", zorder=3)
    etext = ax.text(0, 1.0, "", ha="left", va="top", fontsize=7, color="#222", zorder=5,
                    transform=ax.get_xaxis_transform())
    head = _title(ax, 8, offset=15)
    detail = _title(ax, 7.5)
    ax.set_xlabel("log\u2081\u2080 |w|", fontsize=8)
    ax.set_ylabel("% of weights", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=(1, 2, 2.5, 5, 10)))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return dict(ax=ax, hist=hist, zbar=zbar, zband=zband, ztext=ztext, eline=eline, etext=etext,
                head=head, detail=detail)


def _fill_panel(p: dict, s: dict, edges: np.ndarray, eps: float, name: str, color: str) -> None:
    ax = p["ax"]
    ax.set_visible(True)
    n = max(s["n"], 1)
    pct = s["pct"]
    p["hist"].set_data(pct, edges)
    p["hist"].set_facecolor(color)
    p["hist"].set_edgecolor(color)
    # Exact zeros get their own slot left of the histogram, on a grey band, with their own tick:
    # log10(0) is -inf, so they have no place on the log axis.
    width = (edges[-1] - edges[0]) * 0.05
    x0 = edges[0] - width * 3.0
    zero_pct = s["zero"] * 100.0 / n
    top = float(pct.max()) if pct.any() else zero_pct
    # A round limit changes only now and then, so the cached axes background stays valid.
    ymax = _nice_ceil(top * 1.12)
    # A bar far taller than the histogram would flatten it; it is clipped and labelled instead.
    zh = min(zero_pct, ymax * 0.9)
    if s["zero"]:
        zh = max(zh, ymax * 0.01)  # a few zeros still show as a sliver, not nothing
    p["zbar"].set_bounds(x0, 0, width, zh)
    p["zband"].set_bounds(x0 - width * 0.5, 0, width * 2.0, 1)
    p["ztext"].set_position((x0 - width * 0.5, zh))
    p["ztext"].set_text(_pct(zero_pct) if s["zero"] else "")
    step = max(1, math.ceil((edges[-1] - edges[0]) / 7))
    decades = np.arange(edges[0], edges[-1] + 1e-9, step)
    labels = [f"{d:g}" for d in decades]
    labels[0] = "\u2264" + labels[0]
    ax.set_xticks([x0 + width / 2, *decades], ["w=0", *labels])
    ax.get_xticklabels()[0].set_color(ZERO_COLOR)
    le = math.log10(eps)
    p["eline"].set_xdata([le, le])
    p["etext"].set_position((le, 0.98))
    p["etext"].set_text(f" eps = {eps:g}")
    ax.set_xlim(x0 - width * 0.5, edges[-1])
    ax.set_ylim(0, ymax)
    if s["n"] == 0:
        detail = "no weights"
    else:
        detail = (f"sparse {_pct(s['small'] * 100.0 / n)} (|w|<={eps:g}), "
                  f"exact zeros {_pct(zero_pct)}")
    what = f"{s['n']:,} weights" + (f" in {s['n_tensors']} tensors" if s["n_tensors"] > 1
                                    else "")
    if s["bad"]:
        what += f", {s['bad']:,} not finite"
    p["head"].set_text(f"{name}: {what}")
    p["detail"].set_text(detail)


# ------------------------------------------------------------------------------------------------
# Export


def save_samples_png(snap: Snapshot, path, dpi: float = 100) -> None:
    """The samples figure (all overlays on) as a PNG file, for the CLI."""
    fig = Renderer(dpi=dpi).samples(snap)
    fig.savefig(path, format="png", dpi=dpi)


def figure_to_array(fig: Figure) -> np.ndarray:
    """The figure rendered to an H x W x 3 uint8 RGB array (a copy)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


# ------------------------------------------------------------------------------------------------
# Benchmark: python -m gan_lab.plots [dataset] [frames]


def _bench(dataset: str = "ring8", frames: int = 30) -> None:
    """Time frames of the samples + weights figures on successive snapshots of a real run
    (default widths), each with new weights, so nothing is served from the cache. Prints wall
    time and this process's CPU time (roughly what an idle core would take)."""
    import io
    import time

    from .config import RunConfig
    from .trainer import History, MetricLog, Trainer, snapshot_of

    tr = Trainer(RunConfig(dataset=dataset))
    snaps = []
    for i in range(frames + 1):
        tr.run_steps(5)
        snaps.append(snapshot_of(tr, History(("loss_d",)), MetricLog(), weights_version=i + 1))
    r = Renderer()
    r.samples(snaps[0]).canvas.draw()
    r.weights(snaps[0]).canvas.draw()
    rows: dict[str, list[tuple[float, float]]] = {}
    for snap in snaps[1:]:
        marks = [(time.perf_counter(), time.process_time())]
        figs = (r.samples(snap), r.weights(snap))
        marks.append((time.perf_counter(), time.process_time()))
        for fig in figs:
            fig.canvas.draw()
        marks.append((time.perf_counter(), time.process_time()))
        for fmt in ("png", "webp"):
            for fig in figs:
                fig.savefig(io.BytesIO(), format=fmt)
            marks.append((time.perf_counter(), time.process_time()))
        names = ("update", "draw", "savefig png (draw+encode)", "savefig webp (draw+encode)")
        for name, a, b in zip(names, marks, marks[1:]):
            rows.setdefault(name, []).append((b[0] - a[0], b[1] - a[1]))
    print(f"{dataset}: samples + weights figures, {frames} frames, torch threads "
          f"{torch.get_num_threads()}")
    for name, v in rows.items():
        wall, cpu = (np.array(x) * 1e3 for x in zip(*v))
        print(f"  {name:28s} wall median {np.median(wall):6.1f} ms  p90 "
              f"{np.percentile(wall, 90):6.1f} | cpu median {np.median(cpu):6.1f} ms  p90 "
              f"{np.percentile(cpu, 90):6.1f}")


if __name__ == "__main__":
    import sys

    _bench(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
