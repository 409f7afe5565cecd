"""Draw your own data: clicks on a canvas spray points (gan_lab.data.drawing), Undo and Clear
edit the drawing, and "Train on my drawing" makes it the session's 'custom' dataset, as an
uploaded CSV would. A drawing rides along in share links (`draw=`, a few hundred characters)."""

from __future__ import annotations

import json

import numpy as np

from ..config import ConfigError, RunConfig
from ..data import USER_POINTS, drawing
from ..i18n.runtext import run_message
from .messages import html_box, lang_of

CANVAS_PX = 400
# A stroke from the page: at most this many positions (the page sends one every 2% of the
# canvas), in at most this much JSON text.
STROKE_MAX_POINTS = 200
STROKE_TEXT_MAX = 20_000

# Mouse drags and touch strokes on the canvas (gradio's Image reports single clicks only): the
# page collects the positions of a stroke and sends them through a hidden text box and button
# (#draw-stroke, #draw-stroke-btn); a click right after a drag is swallowed, so the stroke's end
# is not sprayed twice. Installed once per page (demo.load).
DRAW_JS = """() => {
  if (window.__glDraw) return; window.__glDraw = true;
  let pts = null, moved = false, im = null, swallow = 0;
  const on = (e) => e.target && e.target.closest ? e.target.closest('#draw-canvas img') : null;
  const at = (e) => { const r = im.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
            Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))]; };
  document.addEventListener('dragstart', (e) => { if (on(e)) e.preventDefault(); }, true);
  document.addEventListener('pointerdown', (e) => {
    im = on(e); if (!im) return; pts = [at(e)]; moved = false; e.preventDefault(); }, true);
  document.addEventListener('pointermove', (e) => {
    if (!pts) return; const p = at(e), q = pts[pts.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) > 0.02 && pts.length < 200) {
      pts.push(p); moved = true; } }, true);
  const end = (e) => {
    if (!pts) return; const s = pts; pts = null; if (!moved) return; swallow = Date.now();
    const box = document.querySelector('#draw-stroke textarea, #draw-stroke input');
    const btn = document.querySelector('#draw-stroke-btn');
    if (!box || !btn) return;
    box.value = JSON.stringify(s.map((q) => q.map((c) => Math.round(c * 1e4) / 1e4)));
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => btn.click(), 60); };
  document.addEventListener('pointerup', end, true);
  document.addEventListener('pointercancel', end, true);
  document.addEventListener('click', (e) => {
    if (on(e) && Date.now() - swallow < 500) { e.stopPropagation(); e.preventDefault(); }
  }, true);
}"""


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
                if n else "The canvas is empty: paint on it (drag) or click to add points.")
        lang = lang_of(s)
        out = {self.page.draw_canvas: drawing.canvas(counts, CANVAS_PX),
               self.page.draw_info: run_message(info, lang)}
        if note:
            out[self.page.msg] = html_box("note", run_message(note, lang))
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

    def on_stroke(self, s, text, n, spread):
        """A mouse drag or a finger's stroke over the canvas: `text` is the page's JSON list
        of [x, y] positions along it, as fractions of the canvas (0..1, y down). Each position
        sprays a third of "Points per click"; the whole stroke is one Undo."""
        try:
            pts = json.loads(text) if isinstance(text, str) and len(text) <= STROKE_TEXT_MAX \
                else None
            n, spread = float(n), float(spread)
        except (ValueError, TypeError, OverflowError):
            pts = None
        ok = (isinstance(pts, list) and 1 <= len(pts) <= STROKE_MAX_POINTS
              and all(isinstance(q, list) and len(q) == 2
                      and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                              and 0 <= c <= 1 for c in q) for q in pts))
        if not ok or not (1 <= n <= 50 and 0.005 <= spread <= 0.5):
            raise ConfigError("drawing", f"a stroke is a list of 1 to {STROKE_MAX_POINTS} "
                                         "[x, y] positions on the canvas (0 to 1 each), with 1 "
                                         "to 50 points and a spread of 0.005 to 0.5")
        counts = self._counts(s)
        add = np.zeros_like(counts)
        per = max(1, round(n / 3))
        for k, (fx, fy) in enumerate(pts):
            x, y = drawing.to_data(fx * CANVAS_PX, fy * CANVAS_PX, CANVAS_PX)
            add += drawing.spray(counts + add, x, y, n=per, spread=spread,
                                 seed=len(s.strokes) * STROKE_MAX_POINTS + k)
        if not add.any():
            return self._show(s, "No point was added along that stroke: the drawing or its "
                                 "cells there are full. Undo or Clear to add more.")
        s.drawing = counts + add
        s.strokes.append(drawing.stroke(add))
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
        cfg = cfg.replace(dataset=USER_POINTS)
        s.drawing, s.points, s.points_drawn = counts, pts, True
        self.registry.new_job(s, cfg)

    def on_use(self, s, heat, arrows, mani, layer, *controls):
        self.use(s, self._counts(s), self.ctl.to_config(list(controls)))
        import gradio as gr

        out = {self.ctl.fields["dataset"]: gr.update(choices=self.ctl.choices("dataset",
                                                                              hidden=()),
                                                      value=USER_POINTS),
               self.page.tabs: gr.Tabs(selected="watch")}
        s.tab = "watch"
        out.update(self.msgs.ok(s, f"Your drawing ({len(s.points):,} points) is the data now "
                                   "(dataset **custom**); training starts. It travels in "
                                   "share links."))
        s.job.start()
        out.update(self.stream.render(s, heat, arrows, mani, layer, wait=True))
        return out
