"""How long a run takes on this server, said before Train (issue 19): a class of 30 on one
small server must know that the MNIST conv preset takes minutes alone and far longer shared.

`run_seconds` is the typical CPU-seconds of a whole run on one core, from gan_lab.cost's
per-step model: cost's seconds are upper bounds for an unloaded core (its GFLOP rates sit below
the slowest measured), and the real steps and evaluations of scripts/calibrate_cost.py took
0.18-0.51 of them (median 0.32, docs/results/step_cost.json), so TYPICAL scales them.
`warning` turns that into a note for the page when a run is dear for this server: longer than
DEAR_S alone, with what it becomes shared by the runs training now.
"""

from __future__ import annotations

from . import cost
from .config import RunConfig

TYPICAL = 0.35     # measured / estimated seconds, docs/results/step_cost.json (0.18-0.51)
DEAR_S = 60.0      # a run longer than this alone is worth a warning before Train


def step_seconds(cfg: RunConfig) -> float:
    """Typical seconds of one step on one core, HSN1R's extra work spread over its steps and
    the evaluations on the way included."""
    terms = cost.step_terms(cfg)
    hsn = terms.pop("HSN1R")
    step_gflop = sum(terms.values()) + hsn / max(1, cfg.hsn_every)
    evals = cost.quality_gflop(cfg) / max(1, cfg.eval_every)
    if cfg.sharpness_every > 0:
        evals += cost.sharpness_gflop(cfg, cost.MID_SHARP_ITERS,
                                      cost.MID_SHARP_N) / cfg.sharpness_every
    return TYPICAL * (cost.STEP_OVERHEAD_S + step_gflop / cost.STEP_GFLOP_PER_S
                      + evals / cost.EVAL_GFLOP_PER_S)


def final_seconds(cfg: RunConfig) -> float:
    """Typical seconds of the evaluation at a run's end (quality and sharpness) on one core."""
    return TYPICAL * cost.eval_seconds(cfg)


def run_seconds(cfg: RunConfig) -> float:
    """Typical seconds of one whole run of `cfg` on one core: its steps (HSN1R where it
    applies), the evaluations on the way and the final one."""
    return cfg.steps * step_seconds(cfg) + final_seconds(cfg)


def fmt_duration(seconds: float) -> str:
    """'~40 s', '~3 min', '~1.5 h'."""
    if seconds < 60:
        return f"~{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"~{round(seconds / 60)} min"
    return f"~{seconds / 3600:.1f} h"


def warning(cfg: RunConfig, running: int, cores: int, old: RunConfig | None = None) -> str:
    """A note for the page when `cfg` is dear for this server ('' otherwise): `running` runs
    train now on `cores` worker processes; this one would make one more. With `old` (the
    config before an edit): only when the estimate moved by more than 10% from old's."""
    alone = run_seconds(cfg)
    if alone < DEAR_S or (old is not None and abs(run_seconds(old) - alone)
                          <= 0.1 * run_seconds(old)):
        return ""
    share = max(1.0, (running + 1) / max(1, cores))
    text = (f"This run is long for this server: about {fmt_duration(alone)[1:]} of a core "
            f"alone ({cfg.steps:,} steps)")
    if share > 1:
        text += (f", {fmt_duration(alone * share)[1:]} while {running} other run"
                 f"{'s' * (running != 1)} train")
    return text + (". With a class, demonstrate it on one screen and let the students "
                   "watch, or lower Steps.")
