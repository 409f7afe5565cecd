"""The samples figure: 2-D points over the discriminator's heatmap with G's gradient arrows and
its warped latent grid, or an 8x8 grid of generated digits.

Each figure is built once (init_*) and its artists' data swapped each frame (draw_*), because
building a figure costs several times more than updating one. Nothing here raises on
non-finite weights or samples; those values are skipped and counted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..i18n import t
from ..losses import CRITICS, g_loss
from ..models import generate
from .canvas import (
    ARROW_COLOR,
    FAKE_COLOR,
    FONT_PT,
    HEAT_CMAP,
    IMG_CMAP,
    IMG_NORM,
    MANIFOLD_COLOR,
    REAL_COLOR,
    TEXT_COLOR,
    TITLE_PT,
    Raster,
    finite_rows,
    in_torch_thread,
    new_figure,
    title_text,
)
from .fonts import figure_lang

if TYPE_CHECKING:
    from ..snapshot import Snapshot

HEAT_RES = 48          # D(x) grid cells per side
N_ARROWS = 100         # generated points that get a gradient arrow
MANIFOLD_LINES = 11    # latent grid lines per direction
MANIFOLD_PTS = 41      # points along each latent grid line
MANIFOLD_RANGE = 2.0   # latent values in [-2, 2]: ~95% of z ~ N(0, 1) per dimension
HEAT_LABEL = "D(x): probability that x is real"
# A critic (loss wgan-gp) scores without a scale: no probability to show, so its score is
# min-max scaled over the cells in view.
HEAT_LABEL_CRITIC = "critic score D(x), scaled to [0, 1] over this view"


def init_points(dpi: float) -> dict:
    """The 2-D samples figure and its artists (data swapped in by draw_points)."""
    fig = new_figure(5.0, 5.0, dpi)
    # Fixed axes positions instead of tight/constrained layout: those re-measure every text
    # on every draw, which alone would cost more than the whole frame budget.
    ax = fig.add_axes((0.14, 0.2, 0.68, 0.68))
    cax = fig.add_axes((0.845, 0.2, 0.03, 0.68))
    heat = Raster(ax, smooth=True, zorder=0)
    cb = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), HEAT_CMAP), cax=cax)
    cb.set_label(HEAT_LABEL, fontsize=FONT_PT)
    cb.set_ticks([0, 0.25, 0.5, 0.75, 1])
    cax.tick_params(labelsize=FONT_PT)
    mani = LineCollection([], colors=MANIFOLD_COLOR, linewidths=0.8, alpha=0.6, zorder=1)
    ax.add_collection(mani)
    # Real points above generated ones: they are the target, and on ring8/grid25 all of
    # them sit on a few tiny modes that generated points would otherwise hide.
    fake = ax.scatter(np.zeros(0), np.zeros(0), s=6, c=FAKE_COLOR, linewidths=0,
                      alpha=0.8, zorder=2)
    real = ax.scatter(np.zeros(0), np.zeros(0), s=9, c=REAL_COLOR, linewidths=0,
                      alpha=0.6, zorder=3)
    ax.set_xlabel("x\u2081", fontsize=FONT_PT)
    ax.set_ylabel("x\u2082", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    title = title_text(ax, TITLE_PT)
    note = ax.text(0.01, 0.01, "", transform=ax.transAxes, fontsize=FONT_PT, color=TEXT_COLOR,
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
    return dict(fig=fig, ax=ax, cax=cax, cb=cb, heat=heat, mani=mani, real=real, fake=fake,
                quiver=None, title=title, note=note, handles=handles, legend=None,
                legend_key=None, bounds=None, real_src=None)


def draw_points(st: dict, snap: Snapshot, nets, heatmap: bool, arrows: bool,
                manifold: bool, stage: str = "", lang: str = "en") -> Figure:
    """Real vs generated points over D's heatmap, G's gradient arrows and the warped latent
    grid (each toggleable). nets(snap) -> (G, D) with the snapshot's weights, or (None, None).
    For a critic (wgan-gp) the heatmap is its score scaled to [0, 1] over the view. Titles,
    legend and colour bar in `lang` (fonts.figure_lang: English without a CJK font)."""
    ax = st["ax"]
    lang = figure_lang(lang)
    critic = snap.cfg.loss in CRITICS
    fake_all = (np.zeros((0, 2)) if snap.samples is None
                else np.asarray(snap.samples, dtype=np.float64).reshape(-1, 2))
    fake = fake_all[np.isfinite(fake_all).all(axis=1)]
    if snap.real is not st["real_src"]:
        st["real"].set_offsets(finite_rows(snap.real))
        st["real_src"] = snap.real
    real = st["real"].get_offsets()
    b = _bounds(snap.bounds, real, fake)
    if b != st["bounds"]:
        ax.set_xlim(b[0], b[1])
        ax.set_ylim(b[2], b[3])
        st["bounds"] = b
    st["fake"].set_offsets(fake)

    def overlays():
        G, D = nets(snap) if (heatmap or arrows or manifold) else (None, None)
        # Each overlay shows only when it has something finite to draw, so a diverged net
        # never leaves a colour bar or legend entry for an empty layer.
        show_heat = show_mani = show_arrows = False
        if heatmap and D is not None:
            p = _d_grid(D, b, critic)
            show_heat = bool(np.isfinite(p).any())
            # Grid rows run bottom to top; the raster's rows run top to bottom.
            st["heat"].set_rgba(HEAT_CMAP(np.ma.masked_invalid(p[::-1]), bytes=True))
        if manifold and G is not None:
            segs = _manifold(G, snap.cfg.latent_dim)
            show_mani = any(np.isfinite(seg).any() for seg in segs)
            st["mani"].set_segments(segs)
        if arrows and D is not None and len(fake_all) > 0:
            show_arrows = _update_arrows(st, D, fake_all, snap.cfg.loss, b)
        return G, D, show_heat, show_mani, show_arrows

    G, D, show_heat, show_mani, show_arrows = in_torch_thread(overlays)
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
    # A slow-motion stage ("2/4") names itself: its picture mixes the states of one step.
    st["title"].set_text(t("fig.title.slow" if stage else "fig.title", lang, name=name,
                           stage=stage, step=f"{snap.step:,}"))

    st["cb"].set_label(t("fig.heat.critic" if critic else "fig.heat", lang), fontsize=FONT_PT)
    legend_key = (show_arrows, show_mani, lang)
    if legend_key != st["legend_key"]:
        if st["legend"] is not None:
            st["legend"].remove()
        for k, h in st["handles"].items():
            h.set_label(t(f"fig.{k}", lang))
        keys = ["real", "fake"] + ["arrows"] * show_arrows + ["manifold"] * show_mani
        st["legend"] = st["fig"].legend(handles=[st["handles"][k] for k in keys],
                                        loc="lower center", ncol=min(2, len(keys)),
                                        fontsize=FONT_PT,
                                        frameon=False, handletextpad=0.3,
                                        columnspacing=1.0, bbox_to_anchor=(0.5, 0.0))
        st["legend_key"] = legend_key
    canvas = st["fig"].canvas
    canvas.dynamic = [st["heat"], st["mani"], st["fake"], *ax.spines.values(), st["real"],
                      *([st["quiver"]] if st["quiver"] is not None else []), st["title"],
                      st["note"]]
    canvas.static_key = (legend_key, critic)
    return st["fig"]


def _update_arrows(st, D, fake_all, loss_kind, b) -> bool:
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


def init_digits(dpi: float) -> dict:
    """The MNIST samples figure: an 8x8 grid of digits."""
    fig = new_figure(5.0, 5.0, dpi)
    ax = fig.add_axes((0.06, 0.04, 0.88, 0.88))
    ax.set_axis_off()
    im = Raster(ax, smooth=False)
    title = title_text(ax, TITLE_PT)
    note = fig.text(0.5, 0.005, "", ha="center", va="bottom", fontsize=FONT_PT, color=TEXT_COLOR)
    return dict(fig=fig, ax=ax, im=im, title=title, note=note)


def draw_digits(st: dict, snap: Snapshot) -> Figure:
    mosaic, n, n_bad = _mosaic(snap.samples)
    st["im"].set_rgba(IMG_CMAP(IMG_NORM(np.ma.masked_invalid(mosaic)), bytes=True))
    st["title"].set_text(f"{n} generated digits (fixed noise), step {snap.step:,}")
    st["note"].set_text(f"{n_bad} non-finite pixels shown in red" if n_bad else "")
    st["fig"].canvas.dynamic = [st["im"], st["title"], st["note"]]
    return st["fig"]


def _bounds_key(bounds):
    return None if bounds is None else tuple(float(v) for v in bounds)


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
def _d_grid(D, b, critic: bool = False) -> np.ndarray:
    """D's probability that x is real on the grid, or for a critic its score min-max scaled to
    [0, 1] over the grid (all 0.5 when flat); non-finite cells stay NaN."""
    x = torch.from_numpy(_grid_centres(b, HEAT_RES)).float()
    out = D(x).double()
    if not critic:
        return torch.sigmoid(out).numpy().reshape(HEAT_RES, HEAT_RES)
    s = out.numpy().reshape(HEAT_RES, HEAT_RES)
    ok = np.isfinite(s)
    if not ok.any():
        return s
    lo, hi = float(s[ok].min()), float(s[ok].max())
    return (s - lo) / (hi - lo) if hi > lo else np.where(ok, 0.5, np.nan)


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
        lines = [generate(G, z).double().numpy().reshape(-1, 2)]
    else:
        c = torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, MANIFOLD_LINES)
        a = t[None, :].expand(MANIFOLD_LINES, -1)
        b = c[:, None].expand(-1, MANIFOLD_PTS)
        z = torch.zeros(2 * MANIFOLD_LINES * MANIFOLD_PTS, latent_dim)
        # rows: z1 varies along each line (z2 fixed per line), then the transposed grid
        z[:, 0] = torch.cat([a.reshape(-1), b.reshape(-1)])
        z[:, 1] = torch.cat([b.reshape(-1), a.reshape(-1)])
        out = generate(G, z).double().numpy().reshape(2 * MANIFOLD_LINES, MANIFOLD_PTS, 2)
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
