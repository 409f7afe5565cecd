"""The one error type for bad user input, shared by every module that checks input.

`ConfigError(field, message)`: `field` names the offending field (a RunConfig field, or a
pseudo-field such as "points" or "--config") so the CLI, the app and the API can say exactly
which input is wrong and what it allows. Client input quoted in a message goes through
`brief()`: a client can send anything, so quotes are cut short.
"""

from __future__ import annotations

from typing import Any

BRIEF_CHARS = 60


def brief(value: Any, limit: int = BRIEF_CHARS) -> str:
    """repr(value) cut to at most `limit` characters, for error messages that quote input."""
    try:
        r = repr(value)
    except ValueError:   # an int past Python's 4,300-digit limit for int -> str
        r = f"<a {digits(value):,}-digit number>"
    return r if len(r) <= limit else r[: limit - 1] + "…"


def digits(n: int) -> int:
    """About how many decimal digits an int has, without converting it to text."""
    return max(1, int(abs(n).bit_length() * 0.30103) + 1)


class ConfigError(ValueError):
    """A bad hyperparameter or input value. `field` names the offending field."""

    def __init__(self, field: str, message: str):
        field = str(field)   # an unknown key from a client may be long: keep messages short
        self.field = field if len(field) <= BRIEF_CHARS else field[: BRIEF_CHARS - 1] + "…"
        super().__init__(f"{self.field}: {message}")


def num(v) -> str:
    """A bound as a person reads it: 2147483647 as 2,147,483,647 (not 2.14748e+09); 4096 and
    0.001 as they are."""
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
    return f"{v:g}"


def bounds(lo, hi) -> str:
    """'[lo, hi]' of a field's range, for messages."""
    return f"[{num(lo)}, {num(hi)}]"


def got(value) -> str:
    """What a number box sent, for a message: an empty box or text is 'not a number' (gradio
    sends None for text typed into a number box), anything else is quoted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "got an empty box or text that is not a number"
    if isinstance(value, str):
        return f"got {brief(value)}, which is not a number"
    return f"got {brief(value)}"
