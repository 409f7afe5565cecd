"""Previews: the step-0 picture of a config, computed once per config in the server process.

A job starts as a preview (gan_lab.jobs.base): a page shows the untrained networks, the real
data and the start metrics without any run existing where jobs train. A class of 30 on the
default settings builds one preview, cached here.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import numpy as np

from ..config import RunConfig
from ..lru import LRU
from ..run import Run, RunInfo


@dataclass(frozen=True)
class Preview:
    cfg: RunConfig
    info: RunInfo
    step: int
    evals: tuple
    g_state: dict
    d_state: dict
    samples: np.ndarray


PREVIEW_CACHE = 32
_PREVIEWS = LRU(PREVIEW_CACHE)
_PREVIEW_LOCK = threading.Lock()


_BUILDING: dict[str, threading.Lock] = {}


def preview(cfg: RunConfig, points=None, weights: tuple | None = None) -> Preview:
    """The untrained run of `cfg` (or `weights` = (g, d, step) loaded into it), as a page shows
    it: built on the CPU in this process, with its start evaluation. Cached per config (not
    for user points or loaded weights): a class on the same settings builds it once, even when
    thirty tabs ask at the same moment (the others wait for that one build)."""
    key = None if points is not None or weights is not None else cfg.to_json()
    if key is None:
        return _build(cfg, points, weights)
    with _PREVIEW_LOCK:
        hit = _PREVIEWS.get(key)
        if hit is not None:
            return hit
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:
        with _PREVIEW_LOCK:
            hit = _PREVIEWS.get(key)
        if hit is None:
            hit = _build(cfg, None, None)
            with _PREVIEW_LOCK:
                _PREVIEWS[key] = hit
    with _PREVIEW_LOCK:
        _BUILDING.pop(key, None)
    return hit


def _build(cfg: RunConfig, points, weights) -> Preview:
    run = Run(cfg, points, weights=weights, history_cap=2, device="cpu")
    g, d, samples = run.view()
    info = dataclasses.replace(run.info(), device="", device_reason="")
    return Preview(cfg, info, run.step, tuple(run.metric_log.rows), g, d, samples)
