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
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..i18n import t
from .canvas import FONT_PT, TITLE_PT, new_figure
from .fonts import figure_lang
from .palette import MUTED_TEXT, RUN_COLORS

# (panel title's catalog key for 2-D, for images, source, key(s), scale, log y); the texts
# are the catalog's "fig.o." keys (gan_lab/i18n/catalog.py), in the page's language.
PANELS = (
    ("fig.o.loss", "fig.o.loss", "history", ("loss_d",), 1.0, False),
    ("fig.o.hq", "fig.o.is", "metrics", ("hq_frac", "cls_is"), None, False),
    ("fig.o.sparse", "fig.o.sparse", "metrics", ("sparsity_d",), 100.0, False),
    ("fig.o.sharp", "fig.o.sharp", "metrics", ("sharpness_d",), 1.0, True),
    ("fig.o.spec", "fig.o.spec", "metrics", ("wspec_d",), 1.0, True),
    ("fig.o.modes", "fig.o.gap", "metrics", ("modes", "d_gap"), 1.0, False),
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


def _short_step(v: float, _pos=None) -> str:
    """A step tick: 800, 2.4k, 12k, 1.2M (never "2,4002,800" from two long labels)."""
    a = abs(v)
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.0f}"


def overlay_figure(runs: list[dict], dpi: float = 100, lang: str = "en") -> Figure:
    """3 x 2 small multiples (D loss, quality, D sparsity, D sharpness, D's weight spectral
    norm, modes or D's generalization gap) of every run; text in `lang` (fonts.figure_lang)."""
    fig = new_figure(10.5, 6.0, dpi)
    lang = figure_lang(lang)
    is_image = any(r.get("is_image") for r in runs)
    axes = [fig.add_axes((0.06 + 0.335 * (i % 3), 0.57 - 0.44 * (i // 3), 0.26, 0.32))
            for i in range(len(PANELS))]
    for ax, (t2d, timg, src, keys, scale, logy) in zip(axes, PANELS):
        ax.set_title(t(timg if is_image else t2d, lang), fontsize=TITLE_PT)
        ax.tick_params(labelsize=FONT_PT)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(_short_step))
        ax.set_xlabel(t("fig.o.step", lang), fontsize=FONT_PT)
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
            ax.text(0.5, 0.5, t("fig.o.unmeasured", lang), ha="center", va="center",
                    fontsize=FONT_PT,
                    color=MUTED_TEXT, transform=ax.transAxes)
    handles = [h for h in axes[0].get_lines()] or [h for a in axes for h in a.get_lines()]
    if handles:
        fig.legend(handles=handles[:len(runs)], loc="lower center", ncol=min(4, len(runs)),
                   fontsize=FONT_PT, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


# The trade-off panels: (title, row key, y-axis label, log y, axis kind for honest_ylim).
# Titles and labels: the catalog's "fig.t." keys.
TRADEOFF_PANELS = (("quality", "quality", None, False, "quality"),
                   ("fig.t.sparse", "sparsity_d", "fig.t.sparse_y", False, "percent"),
                   ("fig.t.sharp", "sharpness_d", "fig.t.sharp_y", True, "free"))


def honest_ylim(ys, kind: str, quality_name: str = "") -> tuple[float, float] | None:
    """A y range that does not make small differences look dramatic: percentages from 0 to 100
    (sparsity: 0 to at least 10), counts and scores from 0, and any other axis at least 20% of
    its largest magnitude tall. None: leave matplotlib's range (a log axis, no data)."""
    ys = np.asarray([y for y in ys if math.isfinite(y)], dtype=float)
    if not len(ys):
        return None
    top = float(ys.max())
    if kind == "quality" and "%" in quality_name:
        return 0.0, 100.0
    if kind == "quality":          # inception score (max 10), modes: from zero
        return 0.0, max(1.0, top * 1.1)
    if kind == "percent":
        return 0.0, min(100.0, max(10.0, top * 1.15))
    if kind == "free":
        return None
    lo, hi = float(ys.min()), top
    span = max(hi - lo, 0.2 * max(abs(hi), abs(lo)), 1e-12)
    mid = (hi + lo) / 2
    return mid - span * 0.6, mid + span * 0.6


def _num(v) -> float:
    return math.nan if v is None else float(v)


def tradeoff_figure(rows: list[dict], field_label: str, dpi: float = 100,
                    lang: str = "en") -> Figure:
    """A sweep: quality, D sparsity and D sharpness against the swept value. The one trade-off
    figure of GAN Lab: the Sweep tab draws it and `gan_lab sweep` saves it as tradeoff.png
    (sweep/report.py). It was kept over the CLI's former quality-against-sparsity scatter
    because a student reads it at once: the thing they changed is the x axis, every panel has
    a labelled y axis, round ticks and an honest range, and its text is translated.

    rows: {"value", "quality", "quality_name", "sparsity_d", "sharpness_d"} of finished runs,
    in the order swept; optional "series" (one line per series, with a legend), "<key>_se"
    (error bars) and value None (a run the swept field does not touch: a dashed reference
    line). Numeric values spanning more than a decade get a log axis. Every panel has a
    y-axis label, round tick labels (3 significant digits) and an honest range (honest_ylim)."""
    fig = new_figure(10.0, 3.4, dpi)
    lang = figure_lang(lang)
    vals = list(dict.fromkeys(r["value"] for r in rows if r["value"] is not None))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
    pos = [v for v in vals if numeric and v > 0]
    logx = numeric and len(pos) == len(vals) and len(vals) > 1 and max(pos) / min(pos) >= 10
    groups: dict = {}
    for r in rows:
        groups.setdefault(r.get("series"), []).append(r)
    qname = next((r["quality_name"] for r in rows if r.get("quality_name")), "quality")
    for i, (title, key, ylabel, logy, kind) in enumerate(TRADEOFF_PANELS):
        ax = fig.add_axes((0.075 + 0.33 * i, 0.22, 0.235, 0.62))
        ax.set_title(qname if key == "quality" else t(title, lang), fontsize=TITLE_PT)
        ax.tick_params(labelsize=FONT_PT)
        ax.set_xlabel(field_label, fontsize=FONT_PT)
        ax.set_ylabel(t(ylabel, lang) if ylabel else qname, fontsize=FONT_PT)
        ys = []
        for n, (name, rs) in enumerate(groups.items()):
            pts = [(None if r["value"] is None else r["value"] if numeric
                    else vals.index(r["value"]), _num(r.get(key)), r.get(key + "_se") or 0.0)
                   for r in rs]
            pts = [p for p in pts if math.isfinite(p[1])]
            for _x, y, _e in (p for p in pts if p[0] is None):
                ax.axhline(y, color=MUTED_TEXT, ls="--", lw=1, label=name)
            line = [p for p in pts if p[0] is not None]
            if line:
                x, y, e = zip(*line)
                ax.errorbar(x, y, yerr=e if any(e) else None, fmt="o-", capsize=2, lw=1.4,
                            color=RUN_COLORS[n % len(RUN_COLORS)], label=name)
            ys += [p[1] for p in pts]
        if ys:
            if logy and min(ys) > 0:
                ax.set_yscale("log")
            else:
                lim = honest_ylim(ys, kind, qname)
                if lim is not None:
                    ax.set_ylim(*lim)
                ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
        else:
            ax.text(0.5, 0.5, t("fig.t.none", lang), ha="center", va="center",
                    fontsize=FONT_PT, color=MUTED_TEXT, transform=ax.transAxes)
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(vals)), [str(v) for v in vals], fontsize=FONT_PT)
    if any(name is not None for name in groups):
        fig.axes[0].legend(fontsize=FONT_PT, frameon=False)
    return fig
