"""Runaway losses: a learning rate of 1 can drive G's loss to 1e12 without ever reaching NaN
(so the run never counts as diverged), and a linear chart of it is one spike with every other
step flat at 0. This finds such a run in the loss frame the chart draws, says so in words, and
draws the chart on a symmetric log scale (sign(v) * log10(1 + |v|)) so both the healthy start
and the runaway stay readable."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A GAN's adversarial losses are O(1) (a WGAN critic's O(10-100)); one whose magnitude passes
# this has left training behind.
RUNAWAY = 1e4
Y_TITLE = "sign · log10(1 + |loss|)"


def symlog(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.log10(1.0 + np.abs(v))


def check(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(the frame to draw, a warning or ''): the loss frame (columns step, value, series)
    unchanged while every |value| <= RUNAWAY; otherwise on the symmetric log scale, with a
    warning naming the series, its worst value and the step."""
    if not len(df):
        return df, ""
    mag = df["value"].abs()
    if not np.isfinite(mag).all() or mag.max() <= RUNAWAY:
        return df, ""
    worst = df.loc[mag.idxmax()]
    shown = df.copy()
    shown["value"] = symlog(df["value"])
    return shown, (f"The losses are running away: {worst['series']} reached "
                   f"{worst['value']:.2g} at step {int(worst['step']):,} (healthy values are "
                   "near 1). The learning rates are probably too high: lower them, or press "
                   "Reset. The loss chart now uses a log scale.")
