"""The weights figure: histograms of log10 |w| for G and D (or one layer), with the sparsity
threshold eps marked and exact zeros in a bar of their own (log10 0 is minus infinity).

Counts are taken exactly as gan_lab.metrics.sparsity takes them, on the same tensors
(models.shown_weights), so the panel's text agrees with the sparsity curve to the last weight.
Spectral-normalized layers show their effective weights W / sigma, the ones the network computes
with (the title says so).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..i18n import t
from ..models import shown_weights
from ..spectral import effective_state
from .canvas import (
    BAND_COLOR,
    D_COLOR,
    FONT_PT,
    G_COLOR,
    TEXT_COLOR,
    TITLE_PT,
    ZERO_COLOR,
    in_torch_thread,
    new_figure,
    title_text,
)
from .fonts import figure_lang

if TYPE_CHECKING:
    from ..snapshot import Snapshot

HIST_BINS = 60
SUPTITLE = "Weight magnitudes |w|, log scale"
SUPTITLE_SN = "Weight magnitudes |w|, log scale (spectral norm: effective W / sigma)"
HIST_DECADES_BELOW_EPS = 3
# At most this many decade ticks beside "w=0": more collide at the projector's text size.
MAX_DECADE_TICKS = 4  # smaller magnitudes are counted in the first bin


def init_weights(dpi: float) -> dict:
    """The weight-histogram figure: a G and a D panel, or one for a single layer."""
    fig = new_figure(5.0, 3.3, dpi)
    sup = fig.text(0.5, 0.985, SUPTITLE, ha="center", va="top", fontsize=TITLE_PT)
    panels = {
        "G": _make_panel(fig, (0.11, 0.16, 0.36, 0.52)),
        "D": _make_panel(fig, (0.61, 0.16, 0.36, 0.52)),
        "one": _make_panel(fig, (0.11, 0.16, 0.86, 0.52)),
    }
    return dict(fig=fig, sup=sup, panels=panels)


def draw_weights(st: dict, snap: Snapshot, layer: str = "all", lang: str = "en") -> Figure:
    """Histograms of log10|w| for G and D (all regularized tensors, or one layer), with
    log10(eps) marked, exact zeros as a separate bar at the left, and the sparse and
    exact-zero shares printed per network. Titles in `lang` (fonts.figure_lang)."""
    lang = figure_lang(lang)
    eps = float(snap.cfg.sparsity_eps)
    nets, picked = _tensors(snap, layer)
    stats, lo, hi = in_torch_thread(lambda: _histograms(nets, eps))
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    single = picked is not None
    for a in st["panels"].values():
        a["ax"].set_visible(False)
    if single:
        tag = picked.split(" ", 1)[0]
        shown = [("one", tag, picked)]
    else:
        shown = [("G", "G", t("fig.w.g", lang)), ("D", "D", t("fig.w.d", lang))]
    dynamic = []
    for panel, tag, title in shown:
        p = st["panels"][panel]
        _fill_panel(p, stats[tag], edges, eps, title, G_COLOR if tag == "G" else D_COLOR, lang)
        # The eps marker is redrawn too, or the histogram would cover it.
        dynamic += [p["hist"], p["zbar"], p["ztext"], p["detail"], p["eline"],
                    p["etext"], p["ax"].spines["bottom"], p["ax"].spines["left"]]
    st["sup"].set_text(t("fig.w.sup" if snap.cfg.spectral_norm == "none" else "fig.w.sup_sn",
                         lang))
    for a in st["panels"].values():
        a["ax"].set_ylabel(t("fig.w.ylabel", lang), fontsize=FONT_PT)
    st["fig"].canvas.dynamic = dynamic
    # Titles are static: part of the cached background.
    st["fig"].canvas.static_key = (eps, lo, hi, picked, st["sup"].get_text(), lang,
                                   *(st["panels"][p]["head"].get_text()
                                     for p, _, _ in shown))
    return st["fig"]


def _tensors(snap: Snapshot, layer: str) -> tuple[dict[str, list[torch.Tensor]], str | None]:
    """{"G": [...], "D": [...]} tensors for `layer`, and the layer picked (None for all). An
    unknown layer (a stale UI choice after the architecture changed) falls back to all."""
    states = {"G": snap.g_state or {}, "D": snap.d_state or {}}
    if layer and layer != "all":
        tag, _, name = layer.partition(" ")
        t = effective_state(states.get(tag, {})).get(name)
        if t is not None:
            return {tag: [t.detach()]}, layer
    reg_bias = bool(getattr(snap.cfg, "reg_bias", False))
    return {tag: [t.detach() for _, t in shown_weights(st, reg_bias)]
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
    zband = Rectangle((0, 0), 0, 1, color=BAND_COLOR, zorder=0, lw=0,
                      transform=ax.get_xaxis_transform())
    ax.add_patch(zband)
    ztext = ax.text(0, 0, "", ha="left", va="bottom", fontsize=FONT_PT, color=ZERO_COLOR,
                    zorder=5)
    eline = ax.axvline(0, color=TEXT_COLOR, lw=1.0, ls="--", zorder=3)
    etext = ax.text(0, 1.0, "", ha="right", va="top", fontsize=FONT_PT, color=TEXT_COLOR, zorder=5,
                    transform=ax.get_xaxis_transform())
    head = title_text(ax, FONT_PT, offset=17)
    detail = title_text(ax, FONT_PT)
    ax.set_xlabel("log\u2081\u2080 |w|", fontsize=FONT_PT)
    ax.set_ylabel("% of weights", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=(1, 2, 2.5, 5, 10)))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return dict(ax=ax, hist=hist, zbar=zbar, zband=zband, ztext=ztext, eline=eline, etext=etext,
                head=head, detail=detail)


def _fill_panel(p: dict, s: dict, edges: np.ndarray, eps: float, name: str, color: str,
                lang: str = "en") -> None:
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
    x0 = edges[0] - width * 5.0
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
    step = max(1, math.ceil((edges[-1] - edges[0]) / MAX_DECADE_TICKS))
    decades = np.arange(edges[0], edges[-1] + 1e-9, step)
    labels = [f"{d:g}" for d in decades]
    labels[0] = "\u2264" + labels[0]
    ax.set_xticks([x0 + width / 2, *decades], ["w=0", *labels])
    ax.get_xticklabels()[0].set_color(ZERO_COLOR)
    le = math.log10(eps)
    p["eline"].set_xdata([le, le])
    p["etext"].set_position((le, 0.98))
    p["etext"].set_text(f"eps = {eps:g} ")
    ax.set_xlim(x0 - width * 0.5, edges[-1])
    ax.set_ylim(0, ymax)
    if s["n"] == 0:
        detail = t("fig.w.none", lang)
    else:
        detail = t("fig.w.detail", lang, sparse=_pct(s["small"] * 100.0 / n),
                   zeros=_pct(zero_pct))
    what = t("fig.w.count", lang, n=f"{s['n']:,}")
    if s["bad"]:
        what += t("fig.w.bad", lang, n=f"{s['bad']:,}")
    p["head"].set_text(f"{name}\n{what}")
    p["detail"].set_text(detail)
