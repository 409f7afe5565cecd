"""gan_lab.settings: every GAN_LAB_* variable declared once, validated with a message naming it
and its range, and README's table of variables the same as the declaration."""

import re
from pathlib import Path

import pytest

from gan_lab import settings
from gan_lab.ui.limits import ENV, Limits

ROOT = Path(__file__).resolve().parents[1]


def readme_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    head = text.index("| Variable | Default | Allowed | Meaning |")
    rows = {}
    for line in text[head:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        name, *cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[name.strip("`")] = cells
    return rows


def shown(v) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return str(int(v))
    return f"`{v}`" if isinstance(v, str) else str(v) if isinstance(v, int) else f"{v:g}"


def test_readme_table_lists_every_declared_variable_with_its_default_and_range():
    rows = readme_rows()
    assert list(rows) == [v.name for v in settings.VARS]
    for v in settings.VARS:
        assert rows[v.name] == [shown(v.default), v.allowed(), v.help], v.name


def test_every_variable_the_package_reads_is_declared():
    used = set()
    for p in (ROOT / "gan_lab").rglob("*.py"):
        used |= set(re.findall(r"GAN_LAB_[A-Z0-9_]*[A-Z0-9]", p.read_text()))
    assert used <= set(settings.BY_NAME), used - set(settings.BY_NAME)
    assert {f"GAN_LAB_{v}" for v in ENV.values()} <= set(settings.BY_NAME)


@pytest.mark.parametrize("name, raw, words", [
    ("GAN_LAB_MAX_RUNNING", "0", "a whole number >= 1"),
    ("GAN_LAB_MAX_STEPS", "1.5", "a whole number >= 1"),
    ("GAN_LAB_JOB_TTL_S", "0", "a number > 0"),
    ("GAN_LAB_SAVED_MB", "inf", "a number > 0"),
    ("GAN_LAB_WORKER_NICE", "20", "a whole number from 0 to 19"),
    ("GAN_LAB_PROCESS_JOBS", "yes", "0 or 1"),
    ("GAN_LAB_RAY_GPUS_PER_RUN", "-1", "a number >= 0"),
])
def test_a_bad_value_names_the_variable_and_what_it_allows(name, raw, words):
    with pytest.raises(settings.SettingError) as e:
        settings.get(name, {name: raw})
    assert str(e.value) == f"{name}={raw!r}: must be {words}"
    with pytest.raises(settings.SettingError, match=name):
        settings.check({name: raw})        # the whole set, as the server checks it at start


def test_values_parse_and_blank_means_the_default():
    env = {"GAN_LAB_MAX_RUNNING": " 3 ", "GAN_LAB_SAVED_MB_PER_SESSION": "1.2",
           "GAN_LAB_PROCESS_JOBS": "0", "GAN_LAB_WORKER_NICE": "0", "GAN_LAB_RUNS_DIR": "",
           "GAN_LAB_RAY_ADDRESS": "auto"}
    got = settings.check(env)
    assert got["GAN_LAB_MAX_RUNNING"] == 3 and got["GAN_LAB_SAVED_MB_PER_SESSION"] == 1.2
    assert got["GAN_LAB_PROCESS_JOBS"] is False and got["GAN_LAB_WORKER_NICE"] == 0
    assert got["GAN_LAB_RUNS_DIR"] == "runs" and got["GAN_LAB_RAY_ADDRESS"] == "auto"
    lim = Limits.from_env(env)
    assert (lim.max_running, lim.saved_mb_per_session, lim.process_jobs) == (3, 1.2, False)
    assert Limits.from_env({}) == Limits()      # the dataclass's defaults are the declared ones
    with pytest.raises(settings.SettingError, match="GAN_LAB_RAY_CPUS_PER_RUN"):
        Limits.from_env({"GAN_LAB_RAY_CPUS_PER_RUN": "0"})   # not a Limits field: checked too


def test_the_app_refuses_to_start_on_a_bad_value_with_one_line():
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "GAN_LAB_WORKER_NICE": "25"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: GAN_LAB_WORKER_NICE='25': must be a whole number from 0 to 19\n"
