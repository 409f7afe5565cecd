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
