"""The status line of a run's page: plain words first (what the run is doing, how far it is,
how good its samples are, when it will be done at its current share of the server), every other
number behind a click ("More numbers"). One function, so whatever joins the line joins it here."""

from __future__ import annotations

import html
import math

from ..i18n import t
from ..i18n.runtext import duration, run_message

# English; the page's language: the catalog's "st.<state>" (status_text).
STATE_BADGES = {
    "idle": "Ready", "running": "Training", "paused": "Paused", "done": "Done",
    "diverged": "Diverged (paused)", "stopped": "Stopped", "error": "Error",
}
# (metric key, formatter) of the status line's plain words; keys a run lacks are left out.
PLAIN_METRICS = (
    ("modes", lambda v, snap, lang: t("st.modes", lang, v=f"{v:.0f}", n=len(snap.modes))
     if snap.modes is not None else ""),
    ("hq_frac", lambda v, snap, lang: t("st.hq", lang, pct=f"{100 * v:.0f}%")),
    ("digits_covered", lambda v, snap, lang: t("st.digits", lang, v=f"{v:.0f}")),
)
# (metric key, label, formatter) behind "More numbers"; keys a run lacks are left out.
STATUS_METRICS = (
    ("modes", "modes", lambda v, snap: f"{v:.0f}/{len(snap.modes)}" if snap.modes is not None
     else f"{v:.0f}"),
    ("hq_frac", "high-quality", lambda v, snap: f"{100 * v:.0f}%"),
    ("digits_covered", "digits", lambda v, snap: f"{v:.0f}/10"),
    ("cls_is", "IS", lambda v, snap: f"{v:.2f}"),
    ("grid_js", "grid JS", lambda v, snap: f"{v:.3f}"),
    ("sparsity_d", "D sparse", lambda v, snap: f"{100 * v:.1f}%"),
    ("zeros_d", "D zeros", lambda v, snap: f"{100 * v:.1f}%"),
    ("sparsity_g", "G sparse", lambda v, snap: f"{100 * v:.1f}%"),
    ("sharpness_d", "D sharpness", lambda v, snap: f"{v:.3g}"),
    ("d_gap", "D gap", lambda v, snap: f"{v:+.2f}"),
    ("lam", "adaptive lambda", lambda v, snap: f"{v:.3g}"),   # only runs with a lam_goal
)


def fmt_rate(r: float) -> str:
    return f"{r:,.0f}" if r >= 10 else f"{r:.1f}"


def status_text(snap, server: str, warning: str = "", lang: str = "en") -> str:
    """The status line for `snap`; `server` says how the server is shared, `warning` (a
    runaway loss, say) leads the second line. In `lang`: its plain words, the run's message
    (i18n.runtext) and the labels behind "More numbers"."""
    badge = t(f"st.{snap.state}", lang) if snap.state in STATE_BADGES else snap.state
    parts = [f"**{badge}**", t("st.step", lang, step=f"{snap.step:,}",
                               total=f"{snap.steps_total:,}")]
    if snap.state == "running" and snap.steps_per_s > 0:  # 0 until the first 0.5 s
        parts.append(t("st.rate", lang, rate=fmt_rate(snap.steps_per_s)))
    if snap.state == "running" and snap.eta_s is not None:   # at its current share
        parts.append(t("st.eta", lang, eta=duration(snap.eta_s, lang)))
    lat = snap.latest
    parts += [text for key, fmt in PLAIN_METRICS
              if (v := lat.get(key)) is not None and math.isfinite(v)
              and (text := fmt(v, snap, lang))]
    details = [f"{t('st.m.device', lang)} {snap.device}"]
    for key, _label, fmt in STATUS_METRICS:   # _label: the catalog's English "st.m.<key>"
        v = lat.get(key)
        if v is not None and math.isfinite(v):
            details.append(f"{t(f'st.m.{key}', lang)} {fmt(v, snap)}")
    line2 = run_message(snap.message, lang)
    if snap.state in ("diverged", "error"):
        line2 = f"⚠️ {line2}"
    line2 = html.escape(line2, quote=False)   # messages can quote errors and file names
    if warning:
        line2 = f"⚠️ **{html.escape(warning, quote=False)}** {line2}"
    more = (f"<details class='gl-more'><summary>{t('st.more', lang)}</summary>"
            f"{' · '.join(details)}</details>")
    return f"{' · '.join(parts)}  \n{line2} · {run_message(server, lang)}\n{more}"
