"""Plots: pure functions and renderers from a Snapshot to what the page shows.

- curves.py: `loss_frame`, `metric_frame`, `layer_names`: pandas frames for Gradio's native
  line plots (no matplotlib: all the server process imports);
- samples.py, weights.py: the samples and weight-histogram figures (matplotlib, drawn in the
  render process); canvas.py: the canvas, raster artist and palette they share;
- renderer.py: `FigureRenderer`, one per session, caching figures across frames;
  `save_samples_png`; canvas.`figure_to_array` (GIF frames).
Everything matplotlib is imported on first use, so `from gan_lab import plots` stays light.
"""

from __future__ import annotations

from .curves import (
    LOSS_SERIES,
    METRIC_SERIES,
    METRIC_TITLES,
    PENALTY_SERIES,
    chart_colors,
    layer_names,
    loss_frame,
    metric_frame,
    metric_title,
    series_names,
)

__all__ = ["LOSS_SERIES", "METRIC_SERIES", "METRIC_TITLES", "PENALTY_SERIES", "chart_colors",
           "layer_names", "loss_frame", "metric_frame", "metric_title", "series_names",
           "FigureRenderer", "save_samples_png", "figure_to_array"]


def __getattr__(name):
    if name in ("FigureRenderer", "save_samples_png"):
        from . import renderer

        return getattr(renderer, name)
    if name == "figure_to_array":
        from .canvas import figure_to_array

        return figure_to_array
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
