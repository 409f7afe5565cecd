"""Line-chart data for the page: pandas frames in long format (step, value, series).

Native Gradio line plots are cheaper and more interactive than matplotlib curves, and these
frames need no matplotlib: the server process imports only this module of gan_lab.plots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..models import is_average_key
from ..regularizers import REGISTRY, extra_key
from ..spectral import shown_name
from .palette import color_map

if TYPE_CHECKING:
    from ..snapshot import Snapshot

# A chart is ~600 px wide: 400 rows per series (200 buckets' lowest and highest points) draw
# every spike, and a poll's chart data (turned to JSON three times by gradio) costs a third of
# what 1,000 rows did.
MAX_ROWS_PER_SERIES = 400
# ... and 200 (100 buckets) while a class shares the server (about four runs or more per
# training process): every poll's chart JSON is walked by gradio on the server's one event
# loop (issue 19; ui/stream.py chooses).
CLASS_ROWS_PER_SERIES = 200

LOSS_SERIES = (("loss_d", "D loss"), ("loss_g", "G loss"))
PENALTY_SERIES = (("reg_d", "D penalty"), ("reg_g", "G penalty"),
                  ("gp_d", "D gradient penalty (R1 / WGAN-GP)"),
                  # RunConfig.extra_regs: each extra regularizer's own (losses.LOSS_KEYS).
                  *((extra_key(k, n), f"{n.upper()} {r.label} (extra)")
                    for k, r in REGISTRY.items() if k != "none" for n in ("d", "g")))
# One scale per chart: kind -> ((metrics key, series name, scale), ...); keys a run did not
# measure are left out. Counts, percentages, scores and divergences never share an axis:
# "coverage"   how many modes / digits the samples cover (a count),
# "fidelity"   high-quality samples % (ring8/grid25) or the classifier's inception score (MNIST),
# "divergence" distance to the data, lower is better: reverse KL and grid KL/JS in nats (2-D),
#              the Frechet classifier distance (MNIST).
METRIC_SERIES = {
    "coverage": (("modes", "modes captured", 1.0), ("digits_covered", "digits covered", 1.0)),
    "fidelity": (("hq_frac", "high-quality %", 100.0), ("cls_is", "inception score", 1.0)),
    "divergence": (("rev_kl", "reverse KL", 1.0), ("grid_kl", "grid KL", 1.0),
                   ("grid_js", "grid JS", 1.0), ("fcd", "FCD", 1.0)),
    "sparsity": (("sparsity_g", "G sparse %", 100.0), ("sparsity_d", "D sparse %", 100.0),
                 ("zeros_g", "G zeros %", 100.0), ("zeros_d", "D zeros %", 100.0)),
    "sharpness": (("sharpness_d", "D sharpness", 1.0), ("sharpness_g", "G sharpness", 1.0)),
    # The weights' own spectrum, beside the loss's (sharpness): spectral norm holds D's near 1.
    "spectrum": (("wspec_d", "D", 1.0), ("wspec_g", "G", 1.0)),
    # MNIST: D's mean logit on training digits minus on held-out ones (gan_lab.generalization).
    "generalization": (("d_gap", "D gap (train - held-out)", 1.0),),
    # The adaptive lambda (RunConfig.lam_goal) at each evaluation.
    "lambda": (("lam", "lambda", 1.0),),
}
# Chart titles and y-axis names per kind: (2-D title, image title, y title).
METRIC_TITLES = {
    "coverage": ("Modes captured", "Digits covered (>= 1% of samples)", "count"),
    "fidelity": ("High-quality samples (%)", "Inception score (classifier, max 10)", "value"),
    "divergence": ("Distance to the data (nats, lower is better)",
                   "Frechet classifier distance (lower is better)", "value"),
    "sparsity": ("Sparsity over time (%)", "Sparsity over time (%)", "%"),
    "sharpness": ("Sharpness (top |Hessian eigenvalue|)", "Sharpness (top |Hessian eigenvalue|)",
                  "|λ| max"),
    "spectrum": ("Weight spectral norm (product of the layers' top singular values)",
                 "Weight spectral norm (product of the layers' top singular values)", "σ product"),
    "generalization": ("D generalization gap", "D generalization gap: mean D(x), training minus "
                       "held-out digits", "logit"),
    "lambda": ("Adaptive lambda", "Adaptive lambda", "lambda"),
}


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64"),
                         "series": pd.Series(dtype="str")})


def _thin(v: np.ndarray, cap: int) -> np.ndarray:
    """Indices of at most `cap` rows of the finite series `v`: in each of cap/2 equal runs of
    rows its lowest and its highest, so a spike (a runaway loss) survives the thinning; the
    first and last rows always kept."""
    n = len(v)
    if n <= cap:
        return np.arange(n)
    size = -(-n // ((cap - 2) // 2))   # rows per run: ceil(n / runs)
    runs = -(-n // size)
    padded = np.full(runs * size, np.nan)
    padded[:n] = v
    blocks = padded.reshape(runs, size)
    offset = np.arange(runs) * size
    keep = np.concatenate(([0, n - 1], offset + np.nanargmin(blocks, axis=1),
                           offset + np.nanargmax(blocks, axis=1)))
    return np.unique(keep)


def _long(cols: dict, series: list[tuple[str, str, float]],
          cap: int = MAX_ROWS_PER_SERIES) -> pd.DataFrame:
    steps = np.asarray(cols.get("step", ()), dtype=np.float64).reshape(-1)
    parts = []
    for key, name, scale in series:
        v = np.asarray(cols[key], dtype=np.float64).reshape(-1)[: len(steps)] * scale
        s = steps[: len(v)]
        ok = np.isfinite(v) & np.isfinite(s)
        v, s = v[ok], s[ok]
        keep = _thin(v, cap)
        parts.append(pd.DataFrame({"step": s[keep].astype(np.int64), "value": v[keep],
                                   "series": name}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_frame()
    return pd.concat(parts, ignore_index=True)


def _has_finite(cols: dict, key: str, nonzero: bool = False) -> bool:
    if key not in cols:
        return False
    v = np.asarray(cols[key], dtype=np.float64)
    ok = np.isfinite(v)
    if nonzero:
        ok &= v != 0
    return bool(ok.any())


def loss_frame(snap: Snapshot, cap: int = MAX_ROWS_PER_SERIES) -> pd.DataFrame:
    """Loss curves in long format: step (int), value (float), series ("D loss", "G loss", and
    "D penalty" / "G penalty" when that penalty was ever non-zero). Non-finite values dropped;
    at most `cap` rows per series (`_thin`)."""
    cols = snap.history or {}
    series = [(k, name, 1.0) for k, name in LOSS_SERIES if k in cols]
    series += [(k, name, 1.0) for k, name in PENALTY_SERIES if _has_finite(cols, k, nonzero=True)]
    return _long(cols, series, cap)


def metric_frame(snap: Snapshot, kind: str) -> pd.DataFrame:
    """Evaluation curves of one kind (see METRIC_SERIES), in the same long format as loss_frame;
    empty when the run measured none of them (e.g. coverage for a shape without modes)."""
    if kind not in METRIC_SERIES:
        raise ValueError(f"unknown metric kind {kind!r}; one of {', '.join(METRIC_SERIES)}")
    cols = snap.metrics or {}
    return _long(cols, [s for s in METRIC_SERIES[kind] if _has_finite(cols, s[0])])


def series_names(kind: str) -> tuple[str, ...]:
    """Every series a chart of `kind` can show: "loss", "penalty" or a METRIC_SERIES kind."""
    if kind == "loss":
        return tuple(name for _, name in LOSS_SERIES)
    if kind == "penalty":
        return tuple(name for _, name in PENALTY_SERIES)
    return tuple(name for _, name, _ in METRIC_SERIES[kind])


def chart_colors(kind: str) -> dict[str, str] | None:
    """The chart's color_map: G's and D's series in their palette colours (plots.palette)."""
    return color_map(series_names(kind))


def metric_title(kind: str, digits: bool) -> str:
    """The chart's title; digits: the dataset kind's (gan_lab.data.DatasetKind.digits)."""
    return METRIC_TITLES[kind][1 if digits else 0]


def layer_names(snap: Snapshot) -> list[str]:
    """"all", then every weight tensor (dim >= 2) as "G <name>" / "D <name>" (a spectral-
    normalized layer by its effective `weight`, as the histograms draw it)."""
    out = ["all"]
    for tag, state in (("G", snap.g_state), ("D", snap.d_state)):
        out += [f"{tag} {shown_name(k)}" for k, v in (state or {}).items()
                if v.dim() >= 2 and not is_average_key(k) and shown_name(k) is not None]
    return out
