"""What an empty chart waits for, in words (issue 21: a chart must never sit empty without
saying why): the step of its next measurement, from the run's own schedule."""

from __future__ import annotations

from ..i18n import t


def waiting_text(kind: str, snap, lang: str = "en") -> str:
    """For a metric chart of `kind` with no data yet: the step of its first measurement
    (sharpness at its own interval, the rest at Eval every; the end of the run at the latest)."""
    cfg = snap.cfg
    every = cfg.sharpness_every if kind == "sharpness" else cfg.eval_every
    if snap.state in ("done", "stopped", "error", "diverged"):
        return t("wait.none", lang)
    at = min((snap.step // every + 1) * every, cfg.steps) if every > 0 else cfg.steps
    return t("wait.first" if snap.step < at else "wait.next", lang, at=f"{at:,}")
