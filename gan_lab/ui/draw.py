"""Draw your own data: clicks on a canvas spray points (gan_lab.data.drawing), Undo and Clear
edit the drawing, and "Train on my drawing" makes it the session's 'custom' dataset, as an
uploaded CSV would. A drawing rides along in share links (`draw=`, a few hundred characters)."""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, RunConfig
from ..data import drawing
from .messages import html_box

CANVAS_PX = 400


class Draw:
    def __init__(self, page, ctl, registry, stream, msgs):
        self.page, self.ctl, self.registry, self.stream, self.msgs = (page, ctl, registry,
                                                                      stream, msgs)

    def _counts(self, s) -> np.ndarray:
        if s.drawing is None:
            s.drawing = drawing.empty()
        return s.drawing

    def _show(self, s, note: str = "") -> dict:
        counts = self._counts(s)
        n = int(counts.sum())
        info = (f"**{n:,}** points in the drawing (at most {drawing.MAX_POINTS:,})."
                if n else "The canvas is empty: click on it to add points.")
        out = {self.page.draw_canvas: drawing.canvas(counts, CANVAS_PX),
               self.page.draw_info: info}
        if note:
            out[self.page.msg] = html_box("note", note)
        return out

    def on_show(self, s):
        return self._show(s)

    def on_click(self, s, n, spread, evt):
        """One click on the canvas: a spray of `n` points with the chosen spread."""
        idx = getattr(evt, "index", None)
        if not isinstance(idx, (list, tuple)) or len(idx) != 2:
            raise ConfigError("drawing", "a click on the canvas has x and y pixel coordinates")
        try:
            px, py, n, spread = float(idx[0]), float(idx[1]), float(n), float(spread)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError("drawing", "the click, points per click and spread must be "
                                         "numbers") from None
        # The range checks also refuse nan and inf (every comparison with nan is False).
        if not (0 <= px <= CANVAS_PX and 0 <= py <= CANVAS_PX and 1 <= n <= 50
                and 0.005 <= spread <= 0.5):
            raise ConfigError("drawing", f"clicks must land on the {CANVAS_PX}x{CANVAS_PX} "
                                         "canvas, with 1 to 50 points and a spread of 0.005 "
                                         "to 0.5")
        counts = self._counts(s)
        x, y = drawing.to_data(px, py, CANVAS_PX)
        add = drawing.spray(counts, x, y, n=int(n), spread=spread, seed=len(s.strokes))
        if not add.any():
            if int(counts.sum()) >= drawing.MAX_POINTS:
                return self._show(s, f"The drawing holds {drawing.MAX_POINTS:,} points, the "
                                     "most it can: Undo or Clear to add more.")
            return self._show(s, "No point was added there: the cells around that click "
                                 f"hold {drawing.MAX_PER_CELL} points each, the most a cell "
                                 "can, or the spray fell off the canvas. Click elsewhere.")
        s.drawing = counts + add
        s.strokes.append(drawing.stroke(add))   # a few cells, not a 64 x 64 array per click
        return self._show(s)

    def on_undo(self, s):
        if s.strokes:
            s.drawing = drawing.undo(self._counts(s), s.strokes.pop())
        return self._show(s)

    def on_clear(self, s):
        s.drawing, s.strokes = drawing.empty(), []
        return self._show(s)

    def use(self, s, counts: np.ndarray, cfg: RunConfig) -> None:
        """Make `counts` the session's data and its run a fresh run on it."""
        pts = drawing.points(counts)
        if len(pts) < 10:
            raise ConfigError("drawing", f"draw at least 10 points first (there are "
                                         f"{len(pts)})")
        s.drawing = counts
        cfg = cfg.replace(dataset="custom")
        self.registry.new_job(s, cfg, pts)
        s.points, s.points_drawn = pts, True

    def on_use(self, s, heat, arrows, mani, layer, *controls):
        self.use(s, self._counts(s), self.ctl.to_config(list(controls)))
        import gradio as gr

        out = {self.ctl.fields["dataset"]: gr.update(choices=self.ctl.choices("dataset",
                                                                              hidden=()),
                                                      value="custom"),
               self.page.tabs: gr.Tabs(selected="watch")}
        s.tab = "watch"
        out.update(self.msgs.ok(s, f"Your drawing ({len(s.points):,} points) is the data now "
                                   "(dataset **custom**); training starts. It travels in "
                                   "share links."))
        s.job.start()
        out.update(self.stream.render(s, heat, arrows, mani, layer, wait=True))
        return out
