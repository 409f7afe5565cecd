"""Figures of several runs at once: curves overlaid (a comparison, saved runs) and a sweep's
trade-off across the swept values. Pure: data in, Figure out.

A run is a dict {"label", "history", "metrics", "is_image", "dashed"}: the columns of a
Snapshot's history and metrics (or of a saved run's metrics.csv). Colour tells runs apart; the
first run of a comparison (A) is dashed. One scale per panel.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .canvas import new_figure
from .palette import MUTED_TEXT, RUN_COLORS

# (panel title for 2-D, for images, source, key(s), scale, log y)
PANELS = (
    ("D loss", "D loss", "history", ("loss_d",), 1.0, False),
    ("High-quality samples (%)", "Inception score", "metrics", ("hq_frac", "cls_is"),
     None, False),
    ("D sparse (|w| <= eps, %)", "D sparse (|w| <= eps, %)", "metrics", ("sparsity_d",), 100.0,
     False),
    ("D sharpness (log scale)", "D sharpness (log scale)", "metrics", ("sharpness_d",), 1.0,
     True),
    ("D weight spectral norm (log scale)", "D weight spectral norm (log scale)", "metrics",
     ("wspec_d",), 1.0, True),
    ("Modes captured", "D generalization gap (train - held-out)", "metrics", ("modes", "d_gap"),
     1.0, False),
)


def _series(cols: dict, keys: tuple, scale: float | None):
    for k in keys:
        if k in cols and "step" in cols:
            x = np.asarray(cols["step"], dtype=float)
            y = np.asarray(cols[k], dtype=float)
            n = min(len(x), len(y))
            x, y = x[:n], y[:n]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                s = scale if scale is not None else (100.0 if k == "hq_frac" else 1.0)
                return x[ok], y[ok] * s
    return None


def overlay_figure(runs: list[dict], dpi: float = 100) -> Figure:
    """3 x 2 small multiples (D loss, quality, D sparsity, D sharpness, D's weight spectral
    norm, modes or D's generalization gap) of every run."""
    fig = new_figure(10.5, 5.2, dpi)
    is_image = any(r.get("is_image") for r in runs)
    axes = [fig.add_axes((0.055 + 0.335 * (i % 3), 0.56 - 0.46 * (i // 3), 0.265, 0.33))
            for i in range(len(PANELS))]
    for ax, (t2d, timg, src, keys, scale, logy) in zip(axes, PANELS):
        ax.set_title(timg if is_image else t2d, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("step", fontsize=7)
        drawn = False
        for i, r in enumerate(runs):
            xy = _series(r.get(src) or {}, keys, scale)
            if xy is None:
                continue
            ax.plot(*xy, color=RUN_COLORS[i % len(RUN_COLORS)], lw=1.4,
                    ls="--" if r.get("dashed") else "-", label=r["label"])
            drawn = True
        if logy and drawn:
            ax.set_yscale("log")
        if not drawn:
            ax.text(0.5, 0.5, "not measured yet", ha="center", va="center", fontsize=8,
                    color=MUTED_TEXT, transform=ax.transAxes)
    handles = [h for h in axes[0].get_lines()] or [h for a in axes for h in a.get_lines()]
    if handles:
        fig.legend(handles=handles[:len(runs)], loc="lower center", ncol=min(4, len(runs)),
                   fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def tradeoff_figure(rows: list[dict], field_label: str, dpi: float = 100) -> Figure:
    """A sweep: quality, D sparsity and D sharpness against the swept value.

    rows: {"value", "quality", "quality_name", "sparsity_d", "sharpness_d"} of finished runs,
    in the order swept. Numeric values spanning more than a decade get a log axis."""
    fig = new_figure(8.0, 2.8, dpi)
    vals = [r["value"] for r in rows]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
    pos = [v for v in vals if numeric and v > 0]
    logx = numeric and len(pos) == len(vals) and len(vals) > 1 and max(pos) / min(pos) >= 10
    xs = vals if numeric else list(range(len(vals)))
    qname = next((r["quality_name"] for r in rows if r.get("quality_name")), "quality")
    panels = ((qname, "quality", False), ("D sparse %", "sparsity_d", False),
              ("D sharpness", "sharpness_d", True))
    for i, (title, key, logy) in enumerate(panels):
        ax = fig.add_axes((0.07 + 0.325 * i, 0.22, 0.25, 0.62))
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(field_label, fontsize=8)
        ys = np.array([r.get(key, math.nan) for r in rows], dtype=float)
        ok = np.isfinite(ys)
        if ok.any():
            ax.plot(np.asarray(xs, dtype=float)[ok], ys[ok], "o-", color=RUN_COLORS[0], lw=1.4)
            if logy and (ys[ok] > 0).all():
                ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no finished run yet", ha="center", va="center", fontsize=8,
                    color=MUTED_TEXT, transform=ax.transAxes)
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in vals], fontsize=7)
    return fig
