"""Turning user input into a RunConfig field's type (gan_lab.config.coerce)."""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError, bounds, brief, got


def coerce_value(s: dict[str, Any], value: Any) -> Any:
    """`value` as the type of the field declared by `s` (gan_lab.config.spec), raising
    ConfigError with the field name when it cannot. Range checks are validate()'s."""
    name = s["name"]
    t = s["type"]
    try:
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError
        if t == "int":   # a whole number, as an int, a float or text ("3", "3.0", "1e3")
            v = float(value.strip()) if isinstance(value, str) else value
            if isinstance(v, float) and v.is_integer():
                return int(v)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            raise ValueError
        if t == "float":
            if isinstance(value, bool):
                raise ValueError
            v = float(value.strip()) if isinstance(value, str) else float(value)
            if not math.isfinite(v):
                raise ValueError
            return v
        if t == "str":
            if not isinstance(value, str):
                raise ValueError
            return value.strip()
    except (ValueError, TypeError, AttributeError, OverflowError):
        pass
    kind = {"int": "a whole number", "float": "a finite number", "bool": "true or false",
            "str": "text"}[t]
    rng = ""
    if s["choices"]:
        rng = f" (one of {', '.join(map(str, s['choices']))})"
    elif s["lo"] is not None:
        rng = f" in {bounds(s['lo'], s['hi'])}"
    said = got(value) if t in ("int", "float") else f"got {brief(value)}"
    raise ConfigError(name, f"must be {kind}{rng}, {said}")
