"""One colour for G and one for D in every chart and figure (issue 21, finding 9), and figure text
that a projector shows readably with ticks that do not collide (findings 8 and 14, figures)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest

from gan_lab import plots
from gan_lab.config import RunConfig
from gan_lab.plots import canvas, curves, overlay, palette, weights
from gan_lab.run import Run
from gan_lab.snapshot import snapshot_of

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(steps=30, batch_size=64, eval_every=15, g_hidden=32, d_hidden=32, g_depth=2,
             d_depth=2, seed=3)


@pytest.fixture(scope="module")
def snap():
    run = Run(RunConfig(dataset="ring8", reg="l1", l1_mode="proximal", lam=1e-3, **SMALL))
    run.advance()
    return snapshot_of(run)


def _same(a, b) -> bool:
    return np.allclose(mcolors.to_rgb(a), mcolors.to_rgb(b))


def test_every_g_and_d_series_of_every_line_chart_takes_the_palette_colours():
    from gan_lab.ui import layout

    src = (ROOT / "gan_lab/ui/layout.py").read_text()
    # Every line chart of the page is made by layout.line (which sets the colour map).
    assert src.count("gr.LinePlot(") == 1
    elem_ids = [re.search(r'"([a-z-]+-plot)"', ln).group(1)
                for ln in src.splitlines() if "= line(" in ln]
    assert set(elem_ids) == set(layout.CHART_KINDS)
    seen = set()
    for elem, kind in layout.CHART_KINDS.items():
        cmap = layout.line("t", elem, "y").color_map or {}
        for name in curves.series_names(kind):
            net = palette.network_of(name)
            if net is None:
                assert name not in cmap
                continue
            seen.add(net)
            want = palette.G_COLOR if net == "G" else palette.D_COLOR
            light = palette.G_LIGHT if net == "G" else palette.D_LIGHT
            assert cmap[name] in (want, light), (elem, name)
    assert seen == {"G", "D"}
    # The main series of each network is its main colour in every chart.
    for name, want in (("D loss", palette.D_COLOR), ("G loss", palette.G_COLOR),
                       ("D sparse %", palette.D_COLOR), ("G sharpness", palette.G_COLOR),
                       ("D", palette.D_COLOR), ("G zeros %", palette.G_LIGHT)):
        assert palette.series_color(name) == want


def test_figures_draw_g_and_d_in_the_palette_colours(snap):
    r = plots.FigureRenderer()
    r.samples(snap)
    pts = r._points
    assert _same(pts["fake"].get_facecolor()[0][:3], palette.G_COLOR)   # G's samples
    assert _same(pts["real"].get_facecolor()[0][:3], palette.REAL_COLOR)
    assert _same(pts["quiver"].get_facecolor()[0][:3], palette.ARROW_COLOR)
    r.weights(snap)
    panels = r._w["panels"]
    assert _same(panels["G"]["hist"].get_facecolor()[:3], palette.G_COLOR)
    assert _same(panels["D"]["hist"].get_facecolor()[:3], palette.D_COLOR)
    r.weights(snap, "D net.0.weight")
    assert _same(panels["one"]["hist"].get_facecolor()[:3], palette.D_COLOR)


def test_colours_are_declared_only_in_the_palette():
    """No colour literal in the plotting code outside palette.py, so no chart can drift."""
    literal = re.compile(r"""["'](#[0-9a-fA-F]{3,8}|C\d|tab:\w+)["']|f["']C\{""")
    for path in sorted((ROOT / "gan_lab/plots").glob("*.py")) + [ROOT / "gan_lab/sweep/report.py"]:
        if path.name == "palette.py":
            continue
        hits = literal.findall(path.read_text())
        assert not hits, (path.name, hits)


def test_run_colours_stay_away_from_g_and_d():
    def dist(a, b):
        return float(np.abs(np.subtract(mcolors.to_rgb(a), mcolors.to_rgb(b))).sum())

    for c in palette.RUN_COLORS:
        assert min(dist(c, palette.G_COLOR), dist(c, palette.D_COLOR)) > 0.35, c
    assert overlay.RUN_COLORS is palette.RUN_COLORS


# --- readable figure text, ticks that do not collide --------------------------------------------


def _texts(fig):
    """The texts a full draw shows (in visible axes, or on the figure)."""
    fig.canvas.draw()
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
            if t.get_visible() and t.get_text().strip()
            and (t.axes is None or t.axes.get_visible())]


def _tick_labels(fig):
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            yield ax, labels


def _check_figure(fig, min_pt: float):
    renderer = fig.canvas.get_renderer()
    for t in _texts(fig):
        assert t.get_fontsize() >= min_pt, (t.get_text(), t.get_fontsize())
    n = 0
    for _ax, labels in _tick_labels(fig):
        boxes = [t.get_window_extent(renderer) for t in labels]
        for a, b in zip(boxes, boxes[1:]):
            assert not a.overlaps(b), "tick labels collide"
        n += len(labels)
    assert n >= 4   # the figure has ticks at all


def test_figure_text_is_projector_sized_and_ticks_do_not_collide(snap):
    r = plots.FigureRenderer()
    _check_figure(r.samples(snap), canvas.FONT_PT)
    _check_figure(r.weights(snap), canvas.FONT_PT)
    for layer in plots.layer_names(snap)[1:]:
        _check_figure(r.weights(snap, layer), canvas.FONT_PT)
    rows = [{"value": v, "quality": q, "quality_name": "high-quality %", "sparsity_d": s,
             "sharpness_d": h} for v, q, s, h in ((1e-4, 95.1, 2.0, 30.09), (1e-3, 94.2, 8.0, 12.3),
                                                   (1e-2, 96.2, 40.0, 3.3))]
    _check_figure(overlay.tradeoff_figure(rows, "lambda"), canvas.FONT_PT)
    run = {"label": "A", "history": snap.history, "metrics": snap.metrics, "is_image": False}
    _check_figure(overlay.overlay_figure([run, {**run, "label": "B", "dashed": True}]),
                  canvas.FONT_PT)


def test_histogram_decade_ticks_are_few_and_round(snap):
    r = plots.FigureRenderer()
    r.weights(snap)
    ax = r._w["panels"]["D"]["ax"]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "w=0"
    assert 2 <= len(labels) - 1 <= weights.MAX_DECADE_TICKS + 1
    for lab in labels[1:]:
        assert re.fullmatch(r"\u2264?-?\d+", lab), lab   # whole decades: "≤-6", "-4", "0"


def test_line_chart_step_axis_uses_short_labels():
    """Vega-Lite's ",~r" printed 2,400 and 2,800 in one run ("2,4002,800"): the step axis uses
    d3's SI format (2.4k), at most 4 characters for any step up to 999,999."""
    from gan_lab.ui import layout

    assert layout.line("t", "loss-plot", "y").x_axis_format == layout.STEP_AXIS_FORMAT == "~s"
