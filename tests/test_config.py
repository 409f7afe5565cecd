"""RunConfig: validation names the field and range, JSON round trip, coercion of user input."""

import json

import pytest

from gan_lab.config import LIVE_FIELDS, ConfigError, RunConfig, coerce, field_map, spec, specs


def test_defaults_validate_and_every_field_is_declared():
    RunConfig().validate()
    for s in specs():
        assert s["help"], f"{s['name']} has no help text"
        assert s["label"], f"{s['name']} has no label"
        if s["type"] in ("int", "float") and s["choices"] is None:
            assert s["lo"] is not None and s["hi"] is not None, s["name"]
            assert s["lo"] <= s["default"] <= s["hi"], s["name"]
        if s["choices"] is not None:
            assert s["default"] in s["choices"], s["name"]
    assert LIVE_FIELDS <= set(field_map())


def _bad_values(s):
    if s["type"] == "bool":
        return ["maybe", 3]
    if s["choices"] is not None:
        return ["not-a-choice"]
    if s["type"] == "str":   # free text with its own grammar (extra_regs)
        return ["nonsense", 3]
    out = [s["lo"] - (1 if s["type"] == "int" else abs(s["lo"]) + 1e-3), s["hi"] * 2 + 1, "abc"]
    if s["type"] == "int":
        out.append(1.5)
    return out


@pytest.mark.parametrize("name", [s["name"] for s in specs()])
def test_each_invalid_field_is_rejected_with_its_name(name):
    s = spec(name)
    for bad in _bad_values(s):
        with pytest.raises(ConfigError) as e:
            RunConfig.from_dict({name: bad})
        assert e.value.field == name
        assert str(e.value).startswith(f"{name}:")


def test_messages_say_the_range():
    with pytest.raises(ConfigError, match=r"lam: must be in \[0, 1\]"):
        RunConfig.from_dict({"lam": -1})
    with pytest.raises(ConfigError, match=r"batch_size: must be in \[1, 4096\]"):
        RunConfig.from_dict({"batch_size": 0})
    with pytest.raises(ConfigError, match=r"g_hidden: must be a whole number"):
        RunConfig.from_dict({"g_hidden": "wide"})
    with pytest.raises(ConfigError, match="unknown field"):
        RunConfig.from_dict({"learning_rate": 1})
    with pytest.raises(ConfigError, match="arch"):
        RunConfig.from_dict({"arch": "conv", "dataset": "ring8"})


def test_json_round_trip_and_non_default():
    cfg = RunConfig.from_dict({"dataset": "grid25", "lam": 0.01, "reg": "l1", "reg_bias": True,
                               "seed": 7})
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg
    assert cfg.non_default() == {"dataset": "grid25", "lam": 0.01, "reg": "l1",
                                 "reg_bias": True, "seed": 7}
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.non_default()))) == cfg
    with pytest.raises(ConfigError, match="not valid JSON"):
        RunConfig.from_json("{oops")


def test_coerce_user_strings():
    assert coerce("batch_size", "128") == 128
    assert coerce("batch_size", "1e2") == 100
    assert coerce("lam", " 0.5 ") == 0.5
    assert coerce("reg_bias", "true") is True and coerce("reg_bias", "0") is False
    for name, bad in (("batch_size", "1.5"), ("lam", "nan"), ("lam", "inf"), ("reg_bias", "2")):
        with pytest.raises(ConfigError) as e:
            coerce(name, bad)
        assert e.value.field == name
