"""Cheap gr.skip() outputs.

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
import types

import gradio as gr
from gradio.blocks import convert_component_dict_to_list

SKIP = gr.skip()      # {"__type__": "update"}: "no change" as gradio writes it


def _is_skip(v) -> bool:
    return isinstance(v, dict) and v == SKIP


def fast_skips(demo) -> None:
    """Install the skip shortcut on `demo` (idempotent)."""
    if getattr(demo, "_gan_lab_fast_skips", False):
        return
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
