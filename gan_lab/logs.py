"""Run logs: per-step loss curves and sparse evaluation rows, both bounded in memory.

`History`: per-step rows averaged into buckets whose width doubles as the run grows, so a curve
of any length costs O(cap) memory and still reaches the current step. `MetricLog`: evaluation
rows (sparse in steps), thinned to every other row at its cap.
"""

from __future__ import annotations

import numpy as np


class History:
    """Per-step rows averaged into buckets of `stride` steps; when `cap` rows are held, adjacent
    rows are merged and the stride doubles. Memory is O(cap) however long the run."""

    def __init__(self, keys: tuple[str, ...], cap: int = 1000):
        self.keys = keys
        self.cap = cap
        self.stride = 1
        self.steps: list[float] = []
        self.rows: list[np.ndarray] = []
        self._acc = np.zeros(len(keys))
        self._n = 0
        self._last_step = 0

    def add(self, step: int, row: np.ndarray) -> None:
        self._acc += row
        self._n += 1
        self._last_step = step
        if self._n >= self.stride:
            self._flush()

    def _flush(self):
        self.steps.append(self._last_step)
        self.rows.append(self._acc / self._n)
        self._acc = np.zeros(len(self.keys))
        self._n = 0
        if len(self.rows) >= self.cap:
            self.steps = self.steps[1::2]
            self.rows = [(a + b) / 2 for a, b in zip(self.rows[0::2], self.rows[1::2])]
            self.stride *= 2

    def columns(self) -> dict[str, np.ndarray]:
        steps, rows = list(self.steps), list(self.rows)
        if self._n:  # include the partial bucket so the curve reaches the current step
            steps.append(self._last_step)
            rows.append(self._acc / self._n)
        arr = np.array(rows).reshape(len(rows), len(self.keys))
        out = {"step": np.array(steps, dtype=np.int64)}
        out.update({k: arr[:, i] for i, k in enumerate(self.keys)})
        return out


class MetricLog:
    """Evaluation rows (sparse in steps). Bounded by thinning to every other row at `cap`."""

    def __init__(self, cap: int = 500):
        self.cap = cap
        self.rows: list[dict[str, float]] = []

    def add(self, step: int, values: dict[str, float]) -> None:
        if self.rows and self.rows[-1]["step"] == step:
            self.rows[-1].update(values)
            return
        self.rows.append({"step": step, **values})
        if len(self.rows) > self.cap:
            self.rows = self.rows[:-1:2] + [self.rows[-1]]

    def columns(self) -> dict[str, np.ndarray]:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        return {k: np.array([r.get(k, np.nan) for r in self.rows], dtype=float) for k in keys}

    def latest(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for r in self.rows:
            out.update(r)
        return out
