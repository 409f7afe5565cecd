"""ui/compat.py: gradio's internals the app uses are all there in the pinned gradio; skipped
outputs bypass gradio's per-output component rebuild, and every answer is the one gradio
itself gives (same list, same values), for the shapes our handlers return."""

from __future__ import annotations

import asyncio

import gradio as gr
import pandas as pd
import pytest
from gradio.components.base import Component

from gan_lab.ui import compat
from gan_lab.ui.compat import fast_skips


def _demo():
    with gr.Blocks() as demo:
        md = gr.Markdown("a")
        num = gr.Number(1)
        dd = gr.Dropdown(choices=["x", "y"], value="x")
        plot = gr.LinePlot(x="step", y="v")
        btn = gr.Button()
        btn.click(lambda: None, None, [md, num, dd, plot])
    return demo, (md, num, dd, plot)


def _run(demo, preds):
    fn = demo.fns[0]
    return asyncio.run(demo.postprocess_data(fn, preds, None))


CASES = [
    lambda c: {c[0]: "**hi**"},                                   # dict, one output changed
    lambda c: {c[0]: "s", c[3]: pd.DataFrame({"step": [1, 2], "v": [0.5, 0.25]})},
    lambda c: {c[2]: gr.update(choices=["x", "y", "z"], value="z")},
    lambda c: [gr.skip(), 3.5, gr.skip(), gr.skip()],              # list form
    lambda c: gr.skip(),                                          # one skip for everything
    lambda c: {c[0]: gr.skip()},                                  # all skipped, dict form
    lambda c: ["t", 2, "y", None],                                # nothing skipped
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_same_answer_as_gradio(case):
    plain, comps = _demo()
    fast, fcomps = _demo()
    fast_skips(fast)
    fast_skips(fast)        # idempotent
    want = _run(plain, CASES[case](comps))
    got = _run(fast, CASES[case](fcomps))
    assert got == want


def test_skips_build_no_components(monkeypatch):
    demo, comps = _demo()
    fast_skips(demo)
    built = []
    orig = Component.__init__

    def counting(self, *a, **k):
        built.append(type(self).__name__)
        return orig(self, *a, **k)

    monkeypatch.setattr(Component, "__init__", counting)
    _run(demo, {comps[0]: "x"})
    assert built == []          # three skips, one value: nothing constructed
    _run(demo, {comps[2]: gr.update(visible=False)})
    assert built == ["Dropdown"]  # a real property update still goes through gradio
    plain, pcomps = _demo()
    built.clear()
    _run(plain, {pcomps[0]: "x"})
    assert sorted(built) == ["Dropdown", "LinePlot", "Number"]   # what the shortcut saves


def test_every_gradio_internal_the_app_uses_is_there():
    assert compat.check() == {}
    assert gr.__version__ == compat.TESTED_GRADIO   # the pin and the tested version agree


def test_a_missing_internal_is_named(monkeypatch):
    import gradio.components.plot as plot

    monkeypatch.delattr(plot, "PlotData")
    bad = compat.check()
    assert set(bad) == {"plot_data"} and gr.__version__ in bad["plot_data"]
