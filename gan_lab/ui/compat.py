"""Every use of gradio's internals, in one place, checked against the installed gradio at start.

The app is built on gradio's public API except for these (each tested in tests/test_compat.py
against the pinned gradio, requirements.txt):

- `fast_skips(demo)`: cheap gr.skip() outputs (below), replacing Blocks.postprocess_data and
  calling gradio.blocks.convert_component_dict_to_list;
- `plot_data(...)`: a gr.Plot value made directly as gradio.components.plot.PlotData (a picture
  the render process already encoded; gr.Plot's own postprocess would re-encode a figure);
- `analytics_every(demo, n)`: the queue's (misspelt) ANAYLTICS_CACHE_FREQUENCY attribute
  (ui/server.py says why);
- `expose(fn, names)`: a handler's `__signature__`, which gradio reads to inject gr.Request and
  event data and gradio_client uses for parameter names.

`check()` runs when the server is built (ui/server.py): it names each internal the installed
gradio lacks; the optional ones (skips, analytics) are then left out with a warning in the
log, and a missing PlotData stops the start with the versions named.

Cheap gr.skip() outputs.

A poll answers 22 outputs and usually changes a few (status, a chart, a picture); the rest are
gr.skip(). gradio 6.31 treats every skip as a property update: it constructs a fresh copy of the
component (`block.__class__(**constructor_args)`, signature inspection included) and recomputes
its config with its API JSON schema, then sends `{"__type__": "update"}`, "no change", to the
page. Profiled with py-spy on the load test's server (30 sessions training, 2 cores), that was
~20% of the server's CPU, the largest single cost of a poll; Train, Pause, Step and Reset answer
~60 outputs, most of them skips.

`fast_skips(demo)` gives this demo a postprocess_data that hands the skipped outputs straight
through as `{"__type__": "update"}` (exactly what gradio sends for them) and lets gradio's own
postprocess_data handle the outputs that carry something. The page receives the same message.
One difference, on purpose: gradio's skip also rebuilt the session's stored copy of the
component from its constructor arguments, forgetting a value set earlier in the session; kept
as it was, that copy stays right.

Only on a Blocks instance (never gradio's class), and only where the handler's outputs are a
plain list of non-state components; anything else goes to gradio unchanged.
"""

from __future__ import annotations

import copy
import inspect
import logging
import types

import gradio as gr

log = logging.getLogger("gan_lab.ui")
# The gradio these internals were written against and tested with (requirements.txt).
TESTED_GRADIO = "6.31.0"

SKIP = gr.skip()      # {"__type__": "update"}: "no change" as gradio writes it


def _is_skip(v) -> bool:
    return isinstance(v, dict) and v == SKIP


def fast_skips(demo) -> None:
    """Install the skip shortcut on `demo` (idempotent)."""
    if getattr(demo, "_gan_lab_fast_skips", False):
        return
    from gradio.blocks import convert_component_dict_to_list

    original = type(demo).postprocess_data

    async def postprocess_data(self, block_fn, predictions, state):
        outputs = list(block_fn.outputs)
        preds = predictions
        if isinstance(preds, dict) and preds and not _is_skip(preds):
            preds = convert_component_dict_to_list(outputs, preds)
        elif _is_skip(preds) and len(outputs) > 1:
            preds = [dict(SKIP) for _ in outputs]
        if (len(outputs) < 2 or block_fn.batch or block_fn.is_validator_function
                or not isinstance(preds, (list, tuple)) or len(preds) != len(outputs)
                or any(b.stateful for b in outputs)):
            return await original(self, block_fn, predictions, state)
        keep = [i for i, v in enumerate(preds) if not _is_skip(v)]
        if len(keep) == len(outputs):
            return await original(self, block_fn, list(preds), state)
        result: list = [dict(SKIP) for _ in outputs]
        if keep:
            sub = copy.copy(block_fn)
            sub.outputs = [outputs[i] for i in keep]
            # gradio wraps a single output's prediction itself; pass it bare, as a handler
            # with one output would return it.
            args = preds[keep[0]] if len(keep) == 1 else [preds[i] for i in keep]
            for i, v in zip(keep, await original(self, sub, args, state), strict=True):
                result[i] = v
        return result

    demo.postprocess_data = types.MethodType(postprocess_data, demo)
    demo._gan_lab_fast_skips = True


def plot_data(data_url: str):
    """A gr.Plot value holding an already encoded picture (a data: URL)."""
    from gradio.components.plot import PlotData

    return PlotData(type="matplotlib", plot=data_url)


def analytics_every(demo, n: int) -> None:
    """Let gradio's queue summarise its event log every n events (default: after each)."""
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = n   # gradio's spelling


def expose(fn, names: list[str], select: bool = False):
    """Give a (*values, [event data,] request) handler a signature with one named parameter
    per input, so gradio injects the request (and a select event's data) and gradio_client can
    pass inputs by field name."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    ann = {"request": gr.Request}
    if select:
        params.append(inspect.Parameter("evt", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        annotation=gr.SelectData))
        ann["evt"] = gr.SelectData
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=gr.Request))
    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = ann
    return fn


def check() -> dict[str, str]:
    """{internal: what is wrong} for each internal above that the installed gradio lacks
    ({} for the tested gradio)."""
    bad: dict[str, str] = {}
    found = f"gradio {gr.__version__} (tested: {TESTED_GRADIO})"
    try:
        from gradio.components.plot import PlotData
        PlotData(type="matplotlib", plot="data:image/png;base64,")
    except Exception as e:   # noqa: BLE001 - any failure means the internal moved
        bad["plot_data"] = f"gradio.components.plot.PlotData is unusable in {found}: {e}"
    try:
        from gradio.blocks import convert_component_dict_to_list  # noqa: F401
        params = list(inspect.signature(gr.Blocks.postprocess_data).parameters)
        if params[:4] != ["self", "block_fn", "predictions", "state"]:
            raise TypeError(f"postprocess_data{tuple(params)}")
    except Exception as e:   # noqa: BLE001
        bad["fast_skips"] = f"Blocks.postprocess_data changed in {found}: {e}"
    try:
        from gradio.queueing import Queue
        if "self.ANAYLTICS_CACHE_FREQUENCY" not in inspect.getsource(Queue.__init__):
            raise AttributeError("Queue.ANAYLTICS_CACHE_FREQUENCY")
    except Exception as e:   # noqa: BLE001
        bad["analytics_every"] = f"the queue's analytics setting is gone in {found}: {e}"
    return bad
