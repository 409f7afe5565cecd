"""Share links: every field survives a URL round trip; every bad value is refused by name."""

import math
from urllib.parse import urlsplit

import pytest

from gan_lab.config import ConfigError, RunConfig, defaults_for, specs
from gan_lab.share import (
    ConfigErrors,
    from_query,
    parse_query,
    share_url,
    to_query,
    validate_all,
)

# Fields whose non-default value needs another field set for the config to be valid.
NEEDS = {"arch": {"dataset": "mnist"}, "g_norm": {"dataset": "mnist", "arch": "conv"},
         "lam_goal": {"reg": "l2"},
         # a trained start needs a shipped checkpoint's networks: MNIST's default MLP
         "init": {k: v for k, v in defaults_for("mnist").items() if k != "init"}}


def _alt(s):
    """A valid non-default value for a field spec, with many significant digits for floats so
    the test fails if a link loses precision."""
    d = s["default"]
    if s["type"] == "bool":
        return not d
    if s["choices"]:
        return next(c for c in s["choices"] if c != d)
    if s["type"] == "str":   # extra_regs: two items, a '+' that a link must keep
        return "l2:g:0.0123456789+hsn1r:d:0.5"
    lo, hi = s["lo"], s["hi"]
    if s["type"] == "int":
        return d + 1 if d + 1 <= hi else d - 1
    if s["log"] and lo > 0:  # geometric midpoint between default and an end, irrational-ish
        v = math.sqrt(d * (hi if d < hi else lo)) * 0.987654321012345
    else:
        v = d + (hi - d) * 0.4142135623730951 if d < hi else d - (d - lo) * 0.3183098861837907
    assert lo <= v <= hi and v != d, (s["name"], v)
    return v


FIELDS = [s["name"] for s in specs()]
SPECS = {s["name"]: s for s in specs()}


@pytest.mark.parametrize("name", FIELDS)
def test_every_field_round_trips_alone(name):
    cfg = RunConfig(**{**NEEDS.get(name, {}), name: _alt(SPECS[name])}).validate()
    q = to_query(cfg)
    assert f"{name}=" in q
    back = from_query(q)
    assert back == cfg
    assert type(getattr(back, name)) is type(getattr(cfg, name))
    # the same through a full share URL, read back the way a browser hands it over
    url = share_url("https://example.org/spaces/me/gan-lab?__sign=secret#top", cfg)
    assert "__sign" not in url and "#" not in url
    assert from_query(url) == cfg
    assert from_query("?" + urlsplit(url).query) == cfg


def test_all_fields_round_trip_together():
    # arch=conv requires mnist; every other field differs from mnist's own defaults.
    base = defaults_for("mnist")
    values = {n: _alt({**SPECS[n], "default": base[n]}) for n in FIELDS}
    values["dataset"] = "mnist"
    values["lam_goal"] = 0.4142135623730951   # reg is l1 here: a goal is a fraction of zeros
    # init stays random: no trained GAN is shipped for the networks all the other values make
    # (init=trained travels alone above and in tests/test_warm.py).
    values["init"] = "random"
    cfg = RunConfig(**values).validate()
    q = to_query(cfg)
    assert set(cfg.non_default()) == set(FIELDS) - {"init"}
    assert from_query(q) == cfg
    # declaration order, so the same config always gives the same link
    keys = [part.split("=")[0] for part in q.split("&")]
    assert keys == [n for n in FIELDS if n in cfg.non_default()]


def test_default_config_gives_empty_query_and_bare_url():
    assert to_query(RunConfig()) == ""
    assert share_url("https://x.hf.space/?a=1", RunConfig()) == "https://x.hf.space/"
    assert from_query("") == RunConfig()
    assert from_query("?") == RunConfig()


def test_floats_are_written_with_round_trip_precision():
    cfg = RunConfig(lr_g=0.1 + 0.2, lr_d=1 / 3, sparsity_eps=1.2345678901234567e-07)
    back = from_query(to_query(cfg))
    assert back.lr_g == 0.1 + 0.2 and back.lr_d == 1 / 3
    assert back.sparsity_eps == 1.2345678901234567e-07


def test_plus_in_exponent_needs_percent_encoding():
    # repr writes big floats as '1e+16'; a raw '+' in a query means a space, so the value must
    # travel as %2B, and an unencoded one is refused rather than misread.
    from gan_lab.share import format_value
    assert format_value("lr_g", 1e16) == "1e+16"
    assert from_query("lr_g=1e%2B0").lr_g == 1.0
    cfg, errors = parse_query("lr_g=1e+0")
    assert cfg is None and errors[0].field == "lr_g"


def test_tolerant_spellings_that_are_unambiguous():
    cfg = from_query("REG_BIAS=TRUE&lr-g=1E-4&steps=2000.0&seed=%207%20&reg=l2&reg=l2")
    assert cfg.reg_bias is True and cfg.lr_g == 1e-4 and cfg.steps == 2000 and cfg.seed == 7
    assert cfg.reg == "l2"
    for spelling in ("1", "yes", "on", "True"):
        assert from_query(f"reg_bias={spelling}").reg_bias is True
    for spelling in ("0", "no", "off", "FALSE"):
        assert from_query(f"reg_bias={spelling}").reg_bias is False


def test_mapping_and_multidict_inputs():
    assert from_query({"lam": "0.25", "reg": ["l1"]}) == RunConfig(lam=0.25, reg="l1")

    class Multi:  # the shape of Starlette's QueryParams (gradio.Request.query_params)
        def multi_items(self):
            return [("lam", "0.25"), ("lam", "0.5")]

    cfg, errors = parse_query(Multi())
    assert cfg is None and [e.field for e in errors] == ["lam"]


def test_platform_and_tracking_keys_are_ignored():
    cfg = from_query("__theme=dark&__sign=abc.def&utm_source=mail&fbclid=x&lam=0.5")
    assert cfg == RunConfig(lam=0.5)


def _bad_values(s):
    """Values that must be refused for this field."""
    if s["type"] == "bool":
        return ["maybe", "2", "truee"]
    if s["choices"]:
        return ["nonsense", s["choices"][0].upper() + "X"]
    out = ["abc", "nan", "inf", "1e999"]
    if s["type"] == "int":
        out.append(str(s["lo"]) + ".5")
    if s["hi"] is not None:
        out.append(repr(float(s["hi"]) * 2 + 1) if s["type"] == "float" else str(s["hi"] + 1))
    if s["lo"] is not None:
        out.append(repr(s["lo"] - 1) if s["type"] == "float" else str(s["lo"] - 1))
    return out


@pytest.mark.parametrize("name", FIELDS)
def test_bad_values_are_refused_naming_the_field(name):
    for bad in _bad_values(SPECS[name]):
        cfg, errors = parse_query(f"{name}={bad}")
        assert cfg is None, (name, bad)
        assert [e.field for e in errors] == [name], (name, bad, errors)
        with pytest.raises(ConfigError) as ei:
            from_query(f"{name}={bad}")
        assert ei.value.field == name
        assert name in str(ei.value)


def test_empty_value_and_conflicting_repeats_are_refused():
    for q in ("lam=", "lam", "lam=%20"):
        cfg, errors = parse_query(q)
        assert cfg is None and errors[0].field == "lam" and "empty" in str(errors[0])
    cfg, errors = parse_query("seed=1&seed=2")
    assert cfg is None and errors[0].field == "seed" and "more than once" in str(errors[0])


def test_unknown_field_is_refused_with_a_suggestion():
    cfg, errors = parse_query("lamda=0.1")
    assert cfg is None and errors[0].field == "lamda" and "did you mean lam" in str(errors[0])


def test_every_problem_is_reported_at_once_in_declaration_order():
    q = "reg_bias=maybe&lr_g=5&steps=1.5&reg=L1&lam=&seed=1&seed=2&bogus=1&arch=conv"
    cfg, errors = parse_query(q)
    assert cfg is None
    fields = [e.field for e in errors]
    assert fields == ["arch", "lr_g", "steps", "seed", "reg", "lam", "reg_bias", "bogus"]
    with pytest.raises(ConfigErrors) as ei:
        from_query(q)
    assert ei.value.field == "arch" and len(ei.value.errors) == 8
    assert "8 problems" in str(ei.value) and "bogus" in str(ei.value)


def test_cross_field_rule_is_checked_on_the_whole_link():
    assert from_query("arch=conv&dataset=mnist").arch == "conv"
    cfg, errors = parse_query("arch=conv&dataset=spiral")
    assert cfg is None and [e.field for e in errors] == ["arch"]


def test_validate_all_keeps_defaults_for_missing_fields():
    cfg, errors = validate_all({"seed": 3})
    assert errors == [] and cfg == RunConfig(seed=3)
