"""GAN Lab's colours, declared once: every chart and picture takes G's and D's colours from here.

G (the generator) is purple, D (the discriminator) is orange, in every line chart, histogram,
overlay and samples picture; purple/orange stay apart for the common colour-vision deficiencies.
Generated samples are G's, so they are drawn in G's colour; real data is green, and the D(x)
heatmap runs from purple ("D thinks this is generated") to green ("D thinks this is real").
A second series of the same network (exact zeros beside sparse %, a gradient penalty beside a
weight penalty) takes the network's light tint. Colours that tell runs apart (compare, sweep)
avoid G's and D's hues, so a run is never read as one of the networks.

No matplotlib here: the server process imports this for the native line charts.
"""

from __future__ import annotations

G_COLOR = "#762a83"        # generator: purple
G_LIGHT = "#b08fc7"
G_DARK = "#40004b"         # G's gradient arrows, drawn over G's purple points
D_COLOR = "#e66101"        # discriminator: orange
D_LIGHT = "#f4a261"
REAL_COLOR = "#1b7837"     # real data: green
FAKE_COLOR = G_COLOR       # generated samples are G's
ARROW_COLOR = G_DARK
MANIFOLD_COLOR = G_LIGHT   # G's warped noise grid
ZERO_COLOR = "#b2182b"     # exact zeros (weights), non-finite pixels
TEXT_COLOR = "#222222"     # notes and markers inside figures
MUTED_TEXT = "#555555"     # "not measured yet" and the like (7.5:1 on white)
BAND_COLOR = "#eeeeee"
# Runs in overlays and sweeps: blue, red-brown, teal, grey, black, olive; none near G or D.
RUN_COLORS = ("#1f5fa8", "#8c2d04", "#01665e", "#737373", "#000000", "#7f7f00")

# Words that mark a chart series as a secondary one of its network (its light tint).
_SECONDARY = ("zeros", "gradient penalty")


def network_of(series: str) -> str | None:
    """"G" or "D" for a series named after a network ("G loss", "D sparse %", "D"), else None."""
    head = series.split(" ", 1)[0]
    return head if head in ("G", "D") else None


def series_color(series: str) -> str | None:
    """The colour of a chart series named after G or D (None for the others: modes, KL...)."""
    net = network_of(series)
    if net is None:
        return None
    light = any(word in series for word in _SECONDARY)
    if net == "G":
        return G_LIGHT if light else G_COLOR
    return D_LIGHT if light else D_COLOR


def color_map(names) -> dict[str, str] | None:
    """gr.LinePlot's color_map for a chart whose series are `names`: G's and D's series in
    their colours, the other series left to the chart's default colours (None: all default)."""
    out = {n: c for n in names if (c := series_color(n)) is not None}
    return out or None
