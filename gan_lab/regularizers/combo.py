"""More than one regularizer at once: RunConfig.extra_regs and the Combined regularizer.

The primary regularizer (fields reg, lam, reg_target) stays the simple path. `extra_regs` adds
more, each with its own target and lambda, as a short spec:

    "l2:d:0.001"                  L2 on D with lambda 0.001
    "l2:d:0.001+hsn1r:d:0.01"     ... and HSN1R on D with lambda 0.01 (items joined by '+')

One item is kind:target:lambda, kind a registered regularizer other than none, target g, d or
both, lambda a number in [0, 1]. Items may also be separated by spaces (a '+' typed into a URL
by hand arrives as a space). An extra regularizer reads its options from the same fields as the
primary (l1_mode, reg_bias, hsn_iters, hsn_every, hsn_method). A kind may act on a network once:
"l1 on D" as the primary and again as an extra is refused, so every penalty has one lambda and
one logged column.

Why a text field and not a list of controls: a combination is a value of one field, so the CLI
flag, config files, share links, sweeps (--grid extra_regs=l2:d:0.001,l2:d:0.01) and the live-
or-rebuild rule all carry it as they carry any other field, and the one-regularizer controls
stay as they were.

On a network with extra regularizers the Trainer's regularizer is a `Combined`: its penalties
add up (the gradient of loss + p1 + p2 is that of loss + p1 plus that of p2, each term computed
exactly as its regularizer alone computes it). HSN1R, the one kind that needs the loss (its
'fd' method evaluates it more than once), runs the closure; L1 and L2 are terms of the weights
alone and are differentiated after it. after_step() runs for every member, the primary
first, then the extras in order (proximal L1's soft-threshold, wherever L1 is, acts on the
weights the optimizer step made with every gradient in, so its exact zeros stay exact).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from ..errors import ConfigError, brief
from .base import Regularizer

FIELD = "extra_regs"
TARGETS = ("g", "d", "both")
MAX_EXTRAS = 4
# One item: kind:target:lambda. Items joined by '+' (before a letter, so 1e+0 stays a number)
# or by whitespace.
_SEP = re.compile(r"\s*\+\s*(?=[A-Za-z])|\s+")


@dataclass(frozen=True)
class Extra:
    kind: str
    target: str
    lam: float

    @property
    def nets(self) -> tuple[str, ...]:
        return ("g", "d") if self.target == "both" else (self.target,)

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}:{self.lam:g}"


def parse_extras(text: str, kinds: tuple[str, ...]) -> list[Extra]:
    """The items of an extra_regs spec ('' = none); ConfigError naming the field and the bad
    item otherwise. `kinds`: the registered regularizers."""
    text = text.strip()
    if not text:
        return []
    items = _SEP.split(text)
    if len(items) > MAX_EXTRAS:
        raise ConfigError(FIELD, f"at most {MAX_EXTRAS} extra regularizers; got {len(items)}")
    out: list[Extra] = []
    allowed = [k for k in kinds if k != "none"]
    for item in items:
        parts = item.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ConfigError(FIELD, f"{brief(item)} is not kind:target:lambda (e.g. "
                                     "l2:d:0.001; items joined by '+')")
        kind, target, lam_text = (p.strip().lower() for p in parts)
        if kind not in allowed:
            raise ConfigError(FIELD, f"in {brief(item)}: the kind must be one of "
                                     f"{', '.join(allowed)}; got {brief(kind)}")
        if target not in TARGETS:
            raise ConfigError(FIELD, f"in {brief(item)}: the target must be one of "
                                     f"{', '.join(TARGETS)}; got {brief(target)}")
        try:
            lam = float(lam_text)
        except ValueError:
            lam = math.nan
        if not (math.isfinite(lam) and 0 <= lam <= 1):
            raise ConfigError(FIELD, f"in {brief(item)}: lambda must be a number in [0, 1]; "
                                     f"got {brief(lam_text)}")
        out.append(Extra(kind, target, lam))
    return out


def check_combination(reg: str, reg_target: str, extras: list[Extra]) -> None:
    """Each kind at most once per network, the primary included (ConfigError otherwise)."""
    seen = {(reg, n) for n in (("g", "d") if reg_target == "both" else (reg_target,))
            if reg != "none"}
    for e in extras:
        for n in e.nets:
            if (e.kind, n) in seen:
                what = "the primary regularizer" if e.kind == reg else "another extra item"
                raise ConfigError(FIELD, f"{e} puts {e.kind} on {n.upper()} again ({what} "
                                         "already does); give each kind one lambda per "
                                         "network")
            seen.add((e.kind, n))


def extra_key(kind: str, net: str) -> str:
    """The loss-row column of an extra regularizer's penalty, e.g. extra_l2_d."""
    return f"extra_{kind}_{net}"


class Combined(Regularizer):
    """The primary regularizer of one network plus its extra ones, each (regularizer, lambda).
    `value` is the primary's (the reg_d / reg_g column, as with one regularizer); each extra
    keeps its own."""

    def __init__(self, primary: Regularizer, extras: list[tuple[Regularizer, float]]):
        super().__init__(primary.params)
        self.primary = primary
        self.extras = list(extras)
        self.kind = "+".join(r.kind for r in self.members)
        if sum(r.runs_loss for r in self.members) > 1:
            raise ValueError("at most one HSN1R per network")

    @property
    def members(self) -> list[Regularizer]:
        return [self.primary] + [r for r, _ in self.extras]

    @property
    def value(self) -> float:
        return self.primary.value

    @value.setter
    def value(self, v) -> None:
        self.primary.value = v

    @property
    def value_tensor(self):
        return self.primary.value_tensor

    def backward(self, closure: Callable[[], Tensor], lam: float,
                 step: int) -> tuple[Tensor, Tensor]:
        pairs = [(self.primary, lam)] + self.extras
        drv = next((i for i, (r, _) in enumerate(pairs) if r.runs_loss), 0)
        r, lam_i = pairs[drv]
        loss, total = r.backward(closure, lam_i, step)
        for i, (r, lam_i) in enumerate(pairs):
            if i == drv:
                continue
            pen = r.penalty(loss, lam_i, step)   # L1 / L2: terms of the weights alone
            if pen is not None:
                pen.backward()
                total = total + pen.detach()
        return loss, total

    def after_step(self, lam: float, lr: float) -> None:
        self.primary.after_step(lam, lr)
        for r, lam_i in self.extras:
            r.after_step(lam_i, lr)

    def state_dict(self) -> dict:
        return {"kind": self.kind, "members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, st: dict | None) -> None:
        for i, m in enumerate(self.members):
            m.load_state_dict(st["members"][i] if self.owns(st) else None)

    def __repr__(self) -> str:
        return f"Combined({', '.join(repr(r) for r in self.members)})"
