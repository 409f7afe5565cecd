"""Gradio controls generated from RunConfig's declarations.

No default, range, choice list or help text is written here: all come from `config.specs()`.
Choice labels come from the declarations too (registries for datasets and regularizers).
This module only decides how a declared field looks (dropdown, checkbox, slider, number box),
where it sits (basic column or a group's accordion) and how UI values become a RunConfig.

Number boxes have no gradio min/max and no precision on purpose: out-of-range or non-numeric
input must reach `RunConfig.from_dict`, whose ConfigError names the field and its range, instead
of gradio's generic "Value is less than minimum" error.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from ..config import ConfigError, RunConfig, brief, specs
from ..data import KINDS

# A log-scale field whose lower bound is 0 (lambda) gets a slider reaching hi / 10**LOG_DECADES;
# 0 itself is typed in the number box above the slider.
LOG_DECADES = 6
# Whole-number fields with at most this many values get a slider; wider ones a number box.
SLIDER_MAX_VALUES = 60
# Regularization fields shown in the always-visible column; its other options go in an accordion.
PROMINENT = ("reg", "lam", "reg_target")
# Choices offered only once the session can serve them: a dataset that needs the user's points
# appears in the dataset menu when the user uploads a points CSV or draws (transfer.py, draw.py).
HIDDEN_CHOICES = {"dataset": tuple(k.name for k in KINDS.values() if k.needs_points)}
GROUP_TITLES = {
    "regularization": "Regularizer options",
    "architecture": "Architecture (rebuilds the networks)",
    "optimization": "Optimization",
    "metrics": "Measurement",
}


def ui_specs() -> list[dict[str, Any]]:
    return [s for s in specs() if s["ui"]]


def accordion_groups() -> dict[str, str]:
    """group -> accordion title for every non-basic group, known ones first; a group added to
    RunConfig later still gets an accordion instead of silently losing its controls."""
    out = dict(GROUP_TITLES)
    for s in ui_specs():
        if s["group"] != "basic" and s["group"] not in out:
            out[s["group"]] = s["group"].replace("_", " ").capitalize()
    return out


def label_of(name: str) -> str:
    for s in specs():
        if s["name"] == name:
            return s["label"] or name
    return name


def range_text(s: dict[str, Any]) -> str:
    if s["lo"] is None:
        return ""
    if s["type"] == "int":
        return f"{s['lo']:,} to {s['hi']:,}"
    return f"{s['lo']:g} to {s['hi']:g}"


def md_escape(text: str) -> str:
    """gradio renders `info` as markdown, where the help texts' * (multiplication) would turn
    into emphasis; its renderer shows backslash escapes and HTML entities literally, so the
    markdown-special characters become look-alikes instead."""
    return text.replace("*", "\u2217").replace("_", "\uff3f").replace("`", "\u2018")


def info_text(s: dict[str, Any]) -> str:
    r = range_text(s)
    h = md_escape(s["help"])
    return f"{h} ({r})" if r else h


def log_bounds(s: dict[str, Any]) -> tuple[float, float]:
    """log10 range of a log-scale field's slider."""
    hi = math.log10(s["hi"])
    lo = math.log10(s["lo"]) if s["lo"] and s["lo"] > 0 else hi - LOG_DECADES
    return lo, hi


def round_sig(x: float, digits: int = 3) -> float:
    """10**-2.3 = 0.0050118... shown as 0.00501: the slider's value in a readable form."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def slider_to_value(s: dict[str, Any], pos: Any) -> float:
    """The field value at a log slider position; ConfigError naming the field for a position
    off the slider (an API client can send anything)."""
    lo, hi = log_bounds(s)
    try:
        p = float(pos)
    except (TypeError, ValueError):
        p = math.nan
    if not lo <= p <= hi:   # also false for NaN
        raise ConfigError(s["name"], f"log10 slider position must be in [{lo:g}, {hi:g}], "
                                     f"got {brief(pos)}")
    return round_sig(10.0 ** p)


def value_to_slider(s: dict[str, Any], value: Any) -> float | None:
    """Slider position for a typed value, or None when the value has no position (0, bad)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v) or v <= 0:
        return None
    lo, hi = log_bounds(s)
    return round(min(max(math.log10(v), lo), hi), 2)


class Controls:
    """The value-holding component of every UI field, plus log sliders that drive number boxes."""

    def __init__(self, caps: dict[str, int] | None = None):
        # caps: this server's lower upper bounds (GAN_LAB_MAX_STEPS), so a help line shows the
        # range the server accepts, not RunConfig's.
        caps = caps or {}
        self.specs = {s["name"]: {**s, "hi": min(s["hi"], caps[s["name"]])}
                      if s["name"] in caps and s["hi"] is not None else s for s in ui_specs()}
        self.fields: dict[str, gr.components.Component] = {}
        self.log_sliders: dict[str, gr.Slider] = {}
        self.boxes: dict[str, gr.Group] = {}

    # --- building (inside a gr.Blocks context) ----------------------------------------------
    def render(self, name: str, **kw) -> gr.components.Component:
        s = self.specs[name]
        label, info, default = s["label"] or name, info_text(s), s["default"]
        common = dict(label=label, info=info, elem_id=f"ctl-{name}", **kw)
        if s["type"] == "bool":
            comp = gr.Checkbox(value=default, **common)
        elif s["choices"] is not None:
            comp = gr.Dropdown(choices=self.choices(name), value=default, interactive=True,
                               **common)
        elif s["log"]:
            with gr.Group(elem_classes=["gl-log"]) as box:
                self.boxes[name] = box   # number box and slider: hidden together
                comp = gr.Number(value=default, **common)
                lo, hi = log_bounds(s)
                pos = value_to_slider(s, default)
                self.log_sliders[name] = gr.Slider(
                    minimum=lo, maximum=hi, step=0.1, value=lo if pos is None else pos,
                    label=f"log₁₀ {label}" + (" (type 0 above for off)"
                                                      if s["lo"] == 0 else ""),
                    show_label=True, elem_id=f"ctl-{name}-log", elem_classes=["gl-logslider"],
                    buttons=[])
        elif s["type"] == "str":   # free text, e.g. extra_regs (validated like any field)
            comp = gr.Textbox(value=default, max_lines=1, **common)
        elif s["type"] == "int" and s["hi"] - s["lo"] + 1 <= SLIDER_MAX_VALUES:
            comp = gr.Slider(minimum=s["lo"], maximum=s["hi"], step=1, value=default,
                             buttons=[], **common)
        else:
            comp = gr.Number(value=default, **common)
        self.fields[name] = comp
        return comp

    def block(self, name: str):
        """The block that shows field `name` (its group of number box and slider, or itself)."""
        return self.boxes.get(name, self.fields[name])

    def choices(self, name: str, hidden: tuple[str, ...] | None = None) -> list[tuple[str, Any]]:
        """(label, value) menu entries of a choice field, without `hidden` (default: the
        field's HIDDEN_CHOICES)."""
        hidden = HIDDEN_CHOICES.get(name, ()) if hidden is None else hidden
        names = self.specs[name]["labels"]
        return [(names.get(c, c), c) for c in self.specs[name]["choices"] if c not in hidden]

    def render_group(self, group: str, skip: tuple[str, ...] = ()) -> list[str]:
        names = [n for n, s in self.specs.items() if s["group"] == group and n not in skip]
        for n in names:
            self.render(n)
        return names

    # --- reading and writing ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.fields)

    @property
    def components(self) -> list[gr.components.Component]:
        return list(self.fields.values())

    def read(self, values: list[Any]) -> dict[str, Any]:
        return dict(zip(self.names, values))

    def to_config(self, values: list[Any]) -> RunConfig:
        """Coerce and validate; raises ConfigError naming the first bad field."""
        return RunConfig.from_dict(self.read(values))

    def set_updates(self, cfg: RunConfig) -> dict[gr.components.Component, Any]:
        """Updates that make every control show `cfg` (presets, imported configs)."""
        out: dict[gr.components.Component, Any] = {}
        for name, comp in self.fields.items():
            v = getattr(cfg, name)
            out[comp] = gr.update(value=v)
            if name in self.log_sliders:
                pos = value_to_slider(self.specs[name], v)
                out[self.log_sliders[name]] = gr.skip() if pos is None else gr.update(value=pos)
        return out
