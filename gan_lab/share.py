"""Share links: the RunConfig in a URL query, derived from RunConfig's declarations.

As in TensorFlow Playground's state.ts, nothing here knows a field by name: `to_query` writes the
non-default fields in declaration order, `parse_query` reads them back through `config.coerce`
and `RunConfig.validate`. A new hyperparameter is shareable the moment it is declared.

Reading a link never applies anything silently. `parse_query` returns every problem (unknown
field, empty value, a value given twice with different values, a bad type, out of range, a
cross-field rule) as a ConfigError naming its field, and no config unless there are none.

Keys starting with "_" belong to the platform, not to us (Gradio's `__theme`, the `__sign` token
Hugging Face adds to a Space's URL) and are ignored, as are common link-tracking parameters
that chat apps and social sites append to shared links.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit, urlunsplit

from .config import ConfigError, RunConfig, brief, coerce, defaults_for, field_map, specs
from .i18n import LANGS

# Appended by sites a link passes through; a student clicking such a link must still get the
# run, and ignoring them applies nothing.
TRACKING_KEYS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
                           "ref", "ref_src"})


class ConfigErrors(ConfigError):
    """Several bad fields at once. `errors` holds one ConfigError per problem, in declaration
    order; `field` (the ConfigError contract) is the first one's, and the message lists all."""

    def __init__(self, errors: list[ConfigError], what: str = "settings"):
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = list(errors)
        first = errors[0]
        if len(errors) == 1:
            message = _message_of(first)
        else:
            message = (f"{len(errors)} problems in the {what}: "
                       + "; ".join(str(e) for e in errors))
        super().__init__(first.field, message)
        if len(errors) > 1:  # each listed error already names its field
            self.args = (message,)


def _message_of(e: ConfigError) -> str:
    text = str(e)
    prefix = f"{e.field}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def format_value(name: str, value: Any) -> str:
    """A field's value as URL text. Floats use repr, Python's shortest string that reads back
    as the identical double, so a link reproduces a run bit for bit."""
    t = field_map()[name].type
    t = t if isinstance(t, str) else t.__name__
    if t == "bool":
        return "true" if value else "false"
    if t == "float":
        return repr(float(value))
    if t == "int":
        return str(int(value))
    return str(value)


def to_query(cfg: RunConfig) -> str:
    """`name=value&...` for the fields that differ from their defaults, in declaration order,
    percent-encoded (a '+' in '1e+20' becomes %2B, since a raw '+' in a query means a space).
    The empty string for an all-default config."""
    cfg.validate()
    parts = [f"{quote(k, safe='')}={quote(format_value(k, v), safe='')}"
             for k, v in cfg.non_default().items()]
    return "&".join(parts)


def share_url(base_url: str, cfg: RunConfig, extra: dict[str, str] | None = None,
              compare_with: RunConfig | None = None) -> str:
    """`base_url` with the config as its query. The base's own query and fragment are dropped:
    on Hugging Face Spaces the page's URL carries a per-visitor `__sign` token that must not be
    passed on, and an old config query would otherwise mix with the new one. Only the page's
    language (`lang=zh` / `lang=en`) is kept.

    extra: page keys (PAGE_KEYS: a drawing, a lesson) added after the config. compare_with: run
    A of a comparison whose run B is `cfg`; its fields that differ from cfg go in as `a.NAME`."""
    parts = urlsplit(base_url.strip())
    query = to_query(cfg)
    items = [(k, v) for k, v in (extra or {}).items()]
    # The page's language is kept (only a language GAN Lab has: nothing else of the old query).
    lang = parse_qs(parts.query).get("lang", [""])[0]
    if lang in LANGS and "lang" not in (extra or {}):
        items.append(("lang", lang))
    if compare_with is not None:
        items.append(("compare", "1"))
        a, b = compare_with.to_dict(), cfg.to_dict()
        items += [(A_PREFIX + k, format_value(k, a[k])) for k in a if a[k] != b[k]]
    tail = "&".join(f"{quote(k, safe='.')}={quote(v, safe='')}" for k, v in items)
    query = "&".join(q for q in (query, tail) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


# Keys of a link that belong to the page, not to RunConfig: a drawing, a lesson and the control
# groups it hides, a comparison (with run A's differing fields as a.NAME).
PAGE_KEYS = frozenset({"draw", "lesson", "hide", "compare", "lang"})
A_PREFIX = "a."


def _ignored(key: str) -> bool:
    return (key.startswith("_") or key.startswith("utm_") or key in TRACKING_KEYS
            or key in PAGE_KEYS or key.startswith(A_PREFIX))


def page_params(query: Any) -> dict[str, str]:
    """The page keys of a link (PAGE_KEYS and a.NAME), first value of each."""
    out: dict[str, str] = {}
    for k, v in _pairs(query):
        k = str(k).strip().lower()
        if (k in PAGE_KEYS or k.startswith(A_PREFIX)) and k not in out:
            out[k] = v if isinstance(v, str) else str(v)
    return out


def page_flag(page: Mapping[str, str], key: str) -> tuple[bool, ConfigError | None]:
    """A yes/no page key of a link (`compare=1`): (its value, the error when it is neither)."""
    raw = page.get(key)
    if raw is None:
        return False, None
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True, None
    if text in ("0", "false", "no", "off"):
        return False, None
    return False, ConfigError(key, f"must be 1 (yes) or 0 (no), got {brief(str(raw)[:20])}")


def parse_compare(query: Any, b: RunConfig) -> tuple[RunConfig | None, list[ConfigError]]:
    """Run A of a comparison link whose run B is `b`: b with the link's a.NAME fields."""
    values = {k[len(A_PREFIX):]: v for k, v in page_params(query).items()
              if k.startswith(A_PREFIX)}
    unknown = [_unknown(k) for k in values if k not in field_map()]
    if unknown:
        return None, unknown
    return validate_all({**b.to_dict(), **values})


def _pairs(query: Any) -> list[tuple[str, str]]:
    """(key, value) pairs in order, repeats kept, from a query string (with or without '?', or
    a whole URL), a mapping of str -> str | list[str], or a multi-dict with multi_items()
    (Starlette's QueryParams, which gradio.Request.query_params is)."""
    if query is None:
        return []
    if isinstance(query, bytes):
        query = query.decode("utf-8", errors="replace")
    if isinstance(query, str):
        q = query.strip()
        if "://" in q or q.startswith("/"):
            q = urlsplit(q).query
        q = q.lstrip("?")
        if "#" in q:
            q = q.split("#", 1)[0]
        # keep_blank_values so `lam=` is reported as empty instead of vanishing.
        return parse_qsl(q, keep_blank_values=True)
    if hasattr(query, "multi_items"):
        return [(str(k), v) for k, v in query.multi_items()]
    if isinstance(query, Mapping):
        out = []
        for k, v in query.items():
            if isinstance(v, (list, tuple)):
                out += [(str(k), x) for x in v]
            else:
                out.append((str(k), v))
        return out
    raise TypeError(f"expected a query string or a mapping, got {type(query).__name__}")


def _unknown(key: str) -> ConfigError:
    names = list(field_map())
    near = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {near[0]}?" if near else ""
    return ConfigError(key, f"unknown setting{hint}")


def validate_all(values: Mapping[str, Any]) -> tuple[RunConfig | None, list[ConfigError]]:
    """Coerce and validate field values (missing fields keep their defaults), collecting EVERY
    problem instead of stopping at the first. (cfg, []) when all is well, else (None, errors)
    with at most one error per field, in declaration order.

    RunConfig.validate stays the one judge of ranges and cross-field rules: it reports the
    first bad field; we record it, put that field back to its default and ask again, until the
    config passes. Each round retires one field, so this ends within len(fields) + 1 rounds."""
    known = field_map()
    errors: dict[str, ConfigError] = {}
    extra: list[ConfigError] = []
    coerced: dict[str, Any] = {}
    for k, v in values.items():
        if k not in known:
            extra.append(_unknown(k))
            continue
        try:
            coerced[k] = coerce(k, v)
        except ConfigError as e:
            errors[k] = e
    def build():   # the link's dataset's defaults under the values it gives
        return RunConfig(**{**defaults_for(coerced.get("dataset")), **coerced})

    for _ in range(len(known) + 1):
        try:
            build().validate()
            break
        except ConfigError as e:
            errors.setdefault(e.field, e)
            if e.field not in coerced:  # a cross-field rule about a field left at its default
                break
            del coerced[e.field]
    order = {name: i for i, name in enumerate(known)}
    found = sorted(errors.values(), key=lambda e: order.get(e.field, len(order))) + extra
    if found:
        return None, found
    return build().validate(), []


def parse_query(query: Any) -> tuple[RunConfig | None, list[ConfigError]]:
    """Read a share link's query. (cfg, []) when every value is valid, else (None, errors):
    one ConfigError per problem, each naming its field (see the module docstring for what is
    checked and what is ignored). Keys match field names case-insensitively, '-' for '_'."""
    values: dict[str, str] = {}
    errors: list[ConfigError] = []
    bad_keys: set[str] = set()
    for raw_key, raw_val in _pairs(query):
        key = str(raw_key).strip().lower().replace("-", "_")
        if not key or _ignored(key) or key in bad_keys:
            continue
        if key not in field_map():
            errors.append(_unknown(key))
            bad_keys.add(key)
            continue
        val = raw_val if isinstance(raw_val, str) else str(raw_val)
        if val.strip() == "":
            errors.append(ConfigError(key, "has an empty value in the link"))
            bad_keys.add(key)
            continue
        if key in values and values[key].strip() != val.strip():
            errors.append(ConfigError(key, f"is given more than once with different values "
                                           f"({brief(values[key])} and {brief(val)})"))
            bad_keys.add(key)
            continue
        values[key] = val
    for k in bad_keys:
        values.pop(k, None)
    cfg, more = validate_all(values)
    errors = _merge(errors, more)
    return (cfg, []) if not errors else (None, errors)


def _merge(first: Iterable[ConfigError], second: Iterable[ConfigError]) -> list[ConfigError]:
    order = {s["name"]: i for i, s in enumerate(specs())}
    seen: dict[str, ConfigError] = {}
    for e in list(first) + list(second):
        seen.setdefault(e.field, e)
    return sorted(seen.values(), key=lambda e: order.get(e.field, math.inf))


def from_query(query: Any) -> RunConfig:
    """The config a share link describes; raises ConfigErrors (a ConfigError naming the first
    bad field, with `.errors` listing all of them) when anything in it is invalid."""
    cfg, errors = parse_query(query)
    if errors:
        raise ConfigErrors(errors, "link")
    return cfg
