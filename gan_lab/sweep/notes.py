"""What the page's sweep says: a warning when the swept field does nothing under the other
settings, the table's numbers rounded for reading, and the progress / finished line."""

from __future__ import annotations

import math

# field -> (the setting it needs, the values of that setting under which it acts, why)
NEEDS = {
    "lam": ("reg", ("l1", "l2", "hsn1r")),
    "reg_target": ("reg", ("l1", "l2", "hsn1r")),
    "reg_bias": ("reg", ("l1", "l2", "hsn1r")),
    "l1_mode": ("reg", ("l1",)),
    "hsn_iters": ("reg", ("hsn1r",)),
    "hsn_every": ("reg", ("hsn1r",)),
    "hsn_method": ("reg", ("hsn1r",)),
    "gp_weight": ("loss", ("wgan-gp",)),
}


def idle_warning(name: str, cfg, label_of=str) -> str:
    """A warning when sweeping `name` cannot change anything under `cfg` (every run would be the
    same run), else ""."""
    need = NEEDS.get(name)
    if need is None:
        return ""
    field, acting = need
    have = getattr(cfg, field)
    if have in acting:
        return ""
    return (f"Warning: {label_of(field)} is **{have}**, so {label_of(name)} has no effect and "
            f"every run of this sweep trains the same way. Choose {label_of(field)} "
            f"{' or '.join(acting)} first.")


def round_sig(v, digits: int = 3):
    """A number for the table: `digits` significant digits (30.0939 -> 30.1, 0.012345 ->
    0.0123); whole numbers, None and non-numbers unchanged."""
    if not isinstance(v, float) or not math.isfinite(v) or v == 0 or v == int(v):
        return v
    return round(v, max(0, digits - 1 - math.floor(math.log10(abs(v)))))


def progress(states: list[str]) -> tuple[str, bool]:
    """(The results table's title, whether the sweep has ended): how many runs are done."""
    n = len(states)
    done = sum(s == "done" for s in states)
    ended = sum(s in ("done", "stopped", "error", "diverged") for s in states)
    if ended < n:
        return f"Results: {done} of {n} runs finished, the sweep is running…", False
    failed = n - done
    tail = f" ({failed} stopped or failed)" if failed else ""
    return f"Results: the sweep finished, {done} of {n} runs done{tail}.", True


def quality_metric(digits: bool) -> tuple[str, str, float]:
    """A sweep's headline quality, the same in the Sweep tab and in tradeoff.png: (metric key,
    name, scale): the inception score on digits, the high-quality % on 2-D data."""
    return ("cls_is", "inception score", 1) if digits else ("hq_frac", "high-quality %", 100)
