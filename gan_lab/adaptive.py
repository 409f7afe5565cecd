"""Adaptive lambda: the primary regularizer's lambda tuned during the run to hold a goal.

RunConfig.lam_goal (0 = off) names what the target network should measure:

    reg l1     the fraction of exact zeros in its weights (metric zeros_d / zeros_g), in (0, 1)
    reg l2     its weight norm sqrt(sum w^2) over the regularized tensors (wnorm_d / wnorm_g)
    reg hsn1r  its sharpness, the top |Hessian eigenvalue| of its loss (sharpness_d / _g),
               measured every sharpness_every steps

At each measurement (every evaluation for L1 and L2, every sharpness measurement for HSN1R),
a bounded multiplicative controller moves lambda:

    lambda <- clamp(lambda * exp(lam_gain * e), LAM_MIN, lam's upper bound)

with e the error clipped to [-1, 1], positive when lambda should grow: (goal - zeros) / goal
for L1 (more lambda, more zeros), log(measured / goal) for L2 and HSN1R (more lambda, smaller
norm, flatter loss). Within TOL of the goal (|e| <= TOL) counts as held. A goal lambda cannot
reach, lambda pinned at a bound for PIN_LIMIT measurements in a row while the goal is missed and the
measure no longer moves toward it (by TOL / 2 of error a measurement),
is reported once (the run's notes: the CLI's summary.json and stderr, the app's message) and
the controller stops there; lambda keeps its bound. Lambda starts from RunConfig.lam, and a
live change of lam restarts the controller from the new value. Everything is a function of the
measurements, which are deterministic, so a run with a goal is as reproducible as any other.
The controller's state travels in the TrainState (chunked and resumed runs go on bit for bit).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .errors import ConfigError

LAM_MIN = 1e-6      # the lower bound (lam's declared range starts at 0, which a product never
                    # reaches)
PIN_LIMIT = 3       # measurements at a bound, goal missed, before the goal is reported
TOL = 0.05
# reg -> the metric it holds, per network (wnorm_* is measured only for an L2 goal).
MEASURE = {"l1": "zeros_{}", "l2": "wnorm_{}", "hsn1r": "sharpness_{}"}
WHAT = {"l1": "fraction of exact zeros", "l2": "weight norm", "hsn1r": "sharpness"}


def check_goal(cfg) -> None:
    """The fields a goal needs (ConfigError naming the one to change)."""
    if cfg.lam_goal <= 0 or cfg.reg == "none":   # reg none ignores lambda, and so its goal
        return
    if cfg.reg not in MEASURE:
        raise ConfigError("lam_goal", f"an adaptive lambda needs regularizer l1, l2 or hsn1r "
                                      f"(got {cfg.reg}); set lam_goal 0 to turn it off")
    if cfg.reg_target == "both":
        raise ConfigError("lam_goal", "an adaptive lambda holds one network's measure: set "
                                      "reg_target to g or d")
    if cfg.lam <= 0:
        raise ConfigError("lam", "an adaptive lambda starts from lam and multiplies it; set "
                                 "lam > 0")
    if cfg.reg == "l1" and cfg.lam_goal >= 1:
        raise ConfigError("lam_goal", f"for L1 the goal is a fraction of exact zeros in (0, 1); "
                                      f"got {cfg.lam_goal:g}")
    if cfg.reg == "hsn1r" and cfg.sharpness_every == 0:
        raise ConfigError("sharpness_every", "an HSN1R sharpness goal is held at each sharpness "
                                             "measurement; set sharpness_every > 0")


def on(cfg) -> bool:
    """Whether cfg has a goal the controller holds (reg none ignores lam_goal, as it does lam)."""
    return cfg.lam_goal > 0 and cfg.reg in MEASURE


def error(reg: str, measured: float, goal: float) -> float:
    """Positive when lambda should grow; clipped to [-1, 1]."""
    if reg == "l1":
        e = (goal - measured) / goal
    else:
        e = math.log(max(measured, 1e-12) / goal)
    return max(-1.0, min(1.0, e))


def weight_norm(params) -> float:
    with torch.no_grad():
        return math.sqrt(sum(float(p.detach().double().pow(2).sum()) for p in params))


@dataclass
class Controller:
    """lam: the lambda in use. start, goal, gain: the config it was started for (a change of
    lam restarts it; of the goal or gain clears a report). pinned: measurements in a row at a
    bound with the goal missed. report: why it stopped (None while it adapts)."""

    lam: float
    start: float
    goal: float
    gain: float
    pinned: int = 0
    report: str | None = None
    last_err: float | None = None

    @classmethod
    def fresh(cls, cfg) -> Controller:
        return cls(cfg.lam, cfg.lam, cfg.lam_goal, cfg.lam_gain)

    def synced(self, cfg) -> Controller:
        """This controller under a (live-changed) config."""
        if cfg.lam != self.start or cfg.lam_goal <= 0:
            return Controller.fresh(cfg)
        if (cfg.lam_goal, cfg.lam_gain) != (self.goal, self.gain):
            return Controller(self.lam, self.start, cfg.lam_goal, cfg.lam_gain)
        return self

    def state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, st: dict | None, cfg) -> Controller:
        return cls.fresh(cfg) if st is None else cls(**st).synced(cfg)

    def update(self, reg: str, measured: float, lam_max: float, net: str) -> str | None:
        """One measurement; returns the report when this one ends the chase."""
        if self.report is not None or not math.isfinite(measured):
            return None
        e = error(reg, measured, self.goal)
        self.lam = min(lam_max, max(LAM_MIN, self.lam * math.exp(self.gain * e)))
        at_bound = (e > TOL and self.lam >= lam_max) or (e < -TOL and self.lam <= LAM_MIN)
        # A measure still moving toward the goal (it lags lambda: zeros accumulate step by
        # step) is not pinned yet.
        moving = self.last_err is not None and abs(e) < abs(self.last_err) - TOL / 2
        self.last_err = e
        self.pinned = self.pinned + 1 if at_bound and not moving else 0
        if self.pinned < PIN_LIMIT:
            return None
        bound = "upper" if e > 0 else "lower"
        self.report = (f"Lambda goal not reachable: {WHAT[reg]} of {net.upper()} is "
                       f"{measured:.4g} against the goal {self.goal:g}, with lambda pinned at "
                       f"its {bound} bound {self.lam:g} for {PIN_LIMIT} measurements; lambda "
                       "stays there (adaptation stopped).")
        return self.report
