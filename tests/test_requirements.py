"""requirements*.txt, constraints.txt and the Space front matter agree with each other.

requirements.txt holds ranges that install on Python 3.10 (ZeroGPU) and 3.11; constraints.txt
holds the exact versions tested on each (scripts/lock_constraints.py writes it). These checks
catch a pin bumped in one file and not the other, without installing anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.10", "3.11")
# Optional requirement files and the Pythons they are tested (and pinned) on: Ray and TensorBoard
# run in CI on 3.11 (.ci/run); ZeroGPU Spaces (3.10) never use them, so constraints.txt pins
# them for 3.11 only.
OPTIONAL = {"requirements-ray.txt": ("3.11",), "requirements-tensorboard.txt": ("3.11",)}


def read_reqs(name: str) -> list[Requirement]:
    out = []
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            out += read_reqs(line[2:].strip())
        else:
            out.append(Requirement(line))
    return out


def env_for(python: str) -> dict[str, str]:
    env = default_environment()
    env.update(python_version=python, python_full_version=f"{python}.0",
               sys_platform="linux", platform_system="Linux")
    return env


def pins_for(python: str) -> dict[str, str]:
    """constraints.txt's exact version of each package on this Python."""
    pins: dict[str, str] = {}
    for req in read_reqs("constraints.txt"):
        if req.marker is not None and not req.marker.evaluate(env_for(python)):
            continue
        (spec,) = req.specifier  # exactly one specifier ...
        assert spec.operator == "==" and "*" not in spec.version, req  # ... and it is exact
        name = canonicalize_name(req.name)
        assert name not in pins, f"{name} pinned twice for Python {python}"
        pins[name] = spec.version
    return pins


@pytest.mark.parametrize("python", PYTHONS)
def test_constraints_pin_every_requirement_inside_its_range(python):
    pins = pins_for(python)
    for req in read_reqs("requirements-dev.txt"):
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt has no {name} for Python {python}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"Python {python}: constraints.txt pins {name}=={pins[name]}, outside {req}")


@pytest.mark.parametrize("name, python", [(f, p) for f, ps in OPTIONAL.items() for p in ps])
def test_optional_requirements_are_pinned_where_tested(name, python):
    pins = pins_for(python)
    runtime = {canonicalize_name(r.name) for r in read_reqs("requirements-dev.txt")}
    for req in read_reqs(name):
        pkg = canonicalize_name(req.name)
        assert pkg not in runtime, f"{pkg} is optional ({name}) and a requirement at once"
        (spec,) = req.specifier
        assert spec.operator == "==", f"{name}: pin {pkg} exactly"
        assert pins.get(pkg) == spec.version, (
            f"Python {python}: constraints.txt pins {pkg}=={pins.get(pkg)}, {name} wants {req}")
    assert f"-r {name}" in (ROOT / ".ci" / "run").read_text(), f"CI does not install {name}"


def test_torch_and_gradio_stay_exact():
    reqs = {canonicalize_name(r.name): str(r.specifier) for r in read_reqs("requirements.txt")}
    # torch==2.13.0 is the CPU wheel on our machines; a range would let pip pull a CUDA build.
    assert reqs["torch"] == "==2.13.0"
    # The Space installs gradio==sdk_version from the front matter; the pin must match it.
    front = (ROOT / "README.md").read_text().split("---", 2)[1]
    sdk = re.search(r"^sdk_version:\s*(\S+)", front, re.M).group(1)
    assert reqs["gradio"] == f"=={sdk}"
    python = re.search(r'^python_version:\s*"([\d.]+)"', front, re.M).group(1)
    # ... and its python_version is one that constraints.txt was tested on.
    assert ".".join(python.split(".")[:2]) in PYTHONS, python


# --------------------------------------------------------------------------------------------
# ZeroGPU (issue 18): a requirement set without torch, since ZeroGPU brings its own
# --------------------------------------------------------------------------------------------
def test_zerogpu_requirements_are_the_runtime_ones_without_torch():
    runtime = {canonicalize_name(r.name): r for r in read_reqs("requirements.txt")}
    zero = {canonicalize_name(r.name): r for r in read_reqs("requirements-zerogpu.txt")}
    assert "torch" not in zero, "ZeroGPU installs its own torch: a pin breaks the build"
    assert runtime.pop("torch").specifier == SpecifierSet("==2.13.0")   # CPU pin kept
    assert {k: str(v) for k, v in zero.items()} == {k: str(v) for k, v in runtime.items()}
    space = (ROOT / "docs" / "SPACE.md").read_text()
    assert "requirements-zerogpu.txt" in space and "3.10.13" in space


def _pypi_reachable() -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10) as r:
            r.read(1)
    except OSError as e:
        return f"PyPI cannot be reached from here ({e}); the ZeroGPU set was not resolved"
    return None


def test_zerogpu_requirements_resolve_on_python_3_10_without_torch(tmp_path):
    """pip resolves requirements-zerogpu.txt for ZeroGPU's Python 3.10.13 (Linux wheels only,
    nothing installed) and the resolution holds no torch at all, so the Hub's own torch goes
    in unopposed."""
    import json
    import subprocess
    import sys

    why = _pypi_reachable()
    if why:
        pytest.skip(why)
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
           "--quiet", "--python-version", "3.10.13", "--only-binary=:all:",
           "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
           "--target", str(tmp_path / "target"), "--report", str(report),
           "-r", str(ROOT / "requirements-zerogpu.txt")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
           for i in json.loads(report.read_text())["install"]}
    assert "torch" not in got, got.get("torch")
    assert got["gradio"] == "6.31.0" and "spaces" in got and "numpy" in got
