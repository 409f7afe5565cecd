"""The page's side of "the CPU goes to runs someone watches" (gan_lab/jobs/watch.py): the
components that carry the tab's Page Visibility state and the frame of a hidden tab."""

from __future__ import annotations

import gradio as gr

# A hidden tab's poll period (it only says that the tab is still hidden).
HIDDEN_TICK_S = 1.0


def add_components(p) -> None:
    """The tab's visibility, filled in by the poll's js and sent by a visibilitychange
    listener that clicks a button the page never shows (ui/wiring.py); '' from API clients."""
    p.visibility = gr.Textbox("", visible=False, elem_id="visibility")
    p.vis_btn = gr.Button("visibility", visible="hidden", elem_id="gl-vis")


def hidden_frame(page, s) -> dict:
    """The frame of a page whose tab is hidden: nothing drawn or sent (its run waits); the
    timer ticks every HIDDEN_TICK_S, so showing the tab again resumes within a tick."""
    out: dict = {page.status: gr.skip()}
    if s.shown.get("tick") != HIDDEN_TICK_S:
        s.shown["tick"] = HIDDEN_TICK_S
        out[page.timer] = gr.Timer(value=HIDDEN_TICK_S, active=True)
    return out
