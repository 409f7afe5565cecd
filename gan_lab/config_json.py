"""The one reader of config JSON, wherever it comes from: `--config` files of the CLI, uploaded
configs, pasted settings, the config stored in a checkpoint (issue 18).

Hostile JSON is refused with a ConfigError naming the input, never a traceback: text that is
not UTF-8, nesting past Python's recursion limit, and a key given twice with different values
(every such key is reported; the same value twice is harmless and kept). An integer longer than
MAX_DIGITS digits (Python refuses to read one past 4,300, with a ValueError) becomes a `Huge`
value: a float infinity that says how many digits it had, so the field's own check refuses it
by name ("steps: must be a whole number in [1, 1e+06], got <a 5,000-digit number>").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError, brief

MAX_DIGITS = 30
MAX_FILE_BYTES = 64 * 1024


class Huge(float):
    """An integer too long to read: infinite for every check, shown as its digit count."""

    def __new__(cls, n_digits: int):
        self = super().__new__(cls, float("inf"))
        self.n_digits = n_digits
        return self

    def __repr__(self) -> str:
        return f"<a {self.n_digits:,}-digit number>"

    __str__ = __repr__


def _int(text: str):
    return Huge(len(text.lstrip("-"))) if len(text) > MAX_DIGITS else int(text)


def loads(text: str, field: str = "config") -> tuple[Any, list[ConfigError]]:
    """(the parsed value, one ConfigError per key given twice with different values). Raises
    ConfigError(field) when the text is not JSON at all."""
    dupes: list[ConfigError] = []

    def pairs(items):
        d: dict[str, Any] = {}
        for k, v in items:
            if k in d and d[k] != v and all(e.field != str(k) for e in dupes):
                dupes.append(ConfigError(k, f"appears twice with different values "
                                            f"({brief(d[k])} and {brief(v)})"))
            d[k] = v
        return d

    try:
        # NaN and Infinity parse as floats here and are then refused as out of range.
        obj = json.loads(text, object_pairs_hook=pairs, parse_int=_int)
    except json.JSONDecodeError as e:
        raise ConfigError(field, f"not valid JSON: {e.msg} at line {e.lineno}, column "
                                 f"{e.colno}") from None
    except RecursionError:
        raise ConfigError(field, "not valid JSON: nested too deeply") from None
    return obj, dupes


def loads_object(text: str, field: str = "config") -> dict:
    """A JSON object (field: value pairs); every problem raises ConfigError, the first
    duplicate key included."""
    obj, dupes = loads(text, field)
    if dupes:
        raise dupes[0]
    if not isinstance(obj, dict):
        raise ConfigError(field, f"must be a JSON object of field: value pairs, got "
                                 f"{type(obj).__name__}")
    return obj


def decode(raw: bytes, field: str, what: str) -> str:
    """UTF-8 text (a BOM dropped), or ConfigError naming the first bad byte."""
    try:
        return raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as e:
        raise ConfigError(field, f"the {what} is not UTF-8 text (byte {e.start})") from None


def read_file(path: str | os.PathLike, field: str = "--config",
              max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a config file (a CLI user's own: its path is named in full), size-capped
    and decoded; ConfigError(field) for a missing file, a folder, an unreadable or oversized
    one, or bytes that are not UTF-8."""
    p = Path(path)
    name = brief(str(path), 300)
    try:
        if not p.is_file():
            raise ConfigError(field, f"{name} is not a file" if p.exists() else
                                     f"{name} does not exist")
        with open(p, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise ConfigError(field, f"cannot read {name}: {e.strerror}") from None
    if len(raw) > max_bytes:
        raise ConfigError(field, f"{name} is larger than {max_bytes // 1024} KiB; a config is "
                                 "a few KiB")
    return decode(raw, field, "config file")
