"""Time to quality: the first evaluation step from which a run meets its dataset's quality bar
and keeps meeting it to the end, and the training CPU-seconds spent until then.

The bars (issue 19):
- ring8: all 8 modes, >= 95% high-quality samples, and the emptiest mode holds >= 1/4 of its
  fair share (metrics.mode_stats' min_mode_frac >= 0.25, i.e. >= 1/32 of the HQ samples);
- grid25: >= 24 of 25 modes and >= 90% high-quality samples.

`first_step_at_bar(history, bar)` is a pure function of the run's evaluation history;
`Run` (gan_lab.run) records the training CPU-seconds at every evaluation, and `cli.train`
writes `time_to_quality` into summary.json. `python -m gan_lab eval --suite time-to-quality`
(gan_lab.evaluate) runs the 2-D defaults on ring8 and grid25 over seeds and writes the table
made by `table_doc` / `markdown` here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

# dataset -> bar: the least number of modes, high-quality share and emptiest-mode share.
BARS: dict[str, dict[str, float]] = {
    "ring8": {"modes": 8, "hq_frac": 0.95, "min_mode_frac": 0.25},
    "grid25": {"modes": 24, "hq_frac": 0.90},
}


def describe(bar: Mapping[str, float]) -> str:
    parts = [f"modes >= {bar['modes']:g}", f"HQ >= {100 * bar['hq_frac']:g}%"]
    if "min_mode_frac" in bar:
        parts.append(f"emptiest mode >= {bar['min_mode_frac']:g} of its fair share")
    return ", ".join(parts)


def meets(m: Mapping[str, float], bar: Mapping[str, float]) -> bool:
    """Whether one evaluation meets the bar: every metric the bar names is at least its value
    (a missing or non-finite metric fails)."""
    for k, lo in bar.items():
        v = m.get(k)
        if v is None or not math.isfinite(float(v)) or float(v) < lo:
            return False
    return True


def _rows(history) -> list[tuple[int, Mapping[str, float]]]:
    """(step, metrics) in step order; a later entry for the same step replaces an earlier
    one (the final full-precision evaluation replaces the periodic one at the last step)."""
    by_step: dict[int, dict] = {}
    for row in history:
        if isinstance(row, Mapping):
            step, m = int(row["step"]), row
        else:
            step, m = int(row[0]), row[1]
        by_step.setdefault(step, {}).update(m)
    return sorted(by_step.items())


def first_step_at_bar(history: Iterable, bar: Mapping[str, float]) -> int | None:
    """The first evaluation step from which every later evaluation (to the last one) meets
    `bar`, or None when the last evaluation does not meet it (or there is none).

    history: evaluations as (step, metrics) pairs or dicts with a "step" key (MetricLog rows),
    in any order. Evaluations that carry none of the bar's metrics are ignored."""
    rows = [(s, m) for s, m in _rows(history) if any(k in m for k in bar)]
    first = None
    for step, m in reversed(rows):
        if not meets(m, bar):
            break
        first = step
    return first


def result(history, dataset: str, train_cpu_at: Mapping[int, float]) -> dict | None:
    """summary.json's `time_to_quality`: {"bar", "step", "train_cpu_s"} where the run reached
    its dataset's bar and held it, or None (never reached, or a dataset without a bar)."""
    bar = BARS.get(dataset)
    if bar is None:
        return None
    step = first_step_at_bar(history, bar)
    if step is None:
        return None
    cpu = train_cpu_at.get(step)
    return {"bar": describe(bar), "step": step,
            "train_cpu_s": None if cpu is None else round(float(cpu), 3)}


# --------------------------------------------------------------------------------------------
# The eval suite's table
# --------------------------------------------------------------------------------------------
def _mean_se(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    x = np.asarray(xs, dtype=np.float64)
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None
    return float(x.mean()), se


def table_rows(runs: list[dict]) -> list[dict]:
    """One row per dataset: seeds, how many reached the bar, and mean +- standard error of the
    steps and training CPU-seconds at the bar (over the runs that reached it), of the run's
    steps and of its training and evaluation CPU-seconds."""
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(r["dataset"], []).append(r)
    out = []
    for ds, rs in groups.items():
        hit = [r["time_to_quality"] for r in rs if r.get("time_to_quality")]
        row = {"dataset": ds, "bar": describe(BARS[ds]), "n": len(rs),
               "seeds": [r["seed"] for r in rs], "reached": len(hit),
               "per_seed": [{"seed": r["seed"], **(r.get("time_to_quality") or {})}
                            for r in rs]}
        for key, vals in (("step_at_bar", [h["step"] for h in hit]),
                          ("train_cpu_s_at_bar", [h["train_cpu_s"] for h in hit
                                                  if h["train_cpu_s"] is not None]),
                          ("steps", [r["steps"] for r in rs]),
                          ("train_cpu_s", [r["cpu_train_s"] for r in rs]),
                          ("eval_cpu_s", [r["cpu_eval_s"] for r in rs])):
            m, se = _mean_se(vals)
            row[key] = {"mean": m, "se": se}
        out.append(row)
    return out


def _fmt(v: dict, dec: int) -> str:
    if v["mean"] is None:
        return "n/a"
    return f"{v['mean']:.{dec}f}" + ("" if v["se"] is None else f" ± {v['se']:.{dec}f}")


def markdown(doc: dict, device_line: str) -> str:
    lines = ["## GAN Lab time to quality", "", f"Command: `{doc['command']}`", "", device_line,
             "", f"Base preset: {doc['base_preset']!r}; seeds "
             f"{', '.join(map(str, doc['seeds']))}; mean ± standard error over the seeds that "
             "reached the bar.", ""]
    head = ["Dataset", "Bar", "Reached", "Steps at bar", "Train CPU s at bar", "Run steps",
            "Run train CPU s", "Run eval CPU s", "Per seed (step, CPU s)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in doc["rows"]:
        per = "; ".join(f"{p['seed']}: " + (f"{p['step']}, {p['train_cpu_s']:.2f}"
                                            if p.get("step") is not None else "not reached")
                        for p in r["per_seed"])
        lines.append("| " + " | ".join([
            r["dataset"], r["bar"], f"{r['reached']}/{r['n']}", _fmt(r["step_at_bar"], 0),
            _fmt(r["train_cpu_s_at_bar"], 2), _fmt(r["steps"], 0), _fmt(r["train_cpu_s"], 2),
            _fmt(r["eval_cpu_s"], 2), per]) + " |")
    lines += ["", "Base config (ring8; grid25 adds config.DATASET_DEFAULTS['grid25']): "
              + ", ".join(f"{k}={v}" for k, v in doc["base_config"].items()), "",
              "Notes:", "",
              "- Steps at bar: the first evaluation step from which every evaluation to the end "
              "of the run meets the bar (gan_lab.time_to_quality.first_step_at_bar); the run "
              "evaluates every eval_every steps. A run that ends below the bar has not reached "
              "it.",
              "- Train CPU s: CPU time of the training steps alone (time.thread_time around "
              "each chunk of steps, one torch thread); evaluations (quality, sharpness, "
              "sparsity) are counted apart as eval CPU s."]
    return "\n".join(lines) + "\n"
