"""Every `python -m gan_lab` command the README shows runs, in a short form (issue 18), so a
documented command cannot break silently (`bench` once crashed on every machine).

The commands are read from README.md itself: its bash blocks (continuation lines joined,
comments dropped) and its inline `python -m gan_lab ...` spans. Each is run as written, from
a scratch folder, with only what makes it short changed (`shorten`): a few steps, one seed, two
values per grid field, `--quick` and one dataset for the bench. Relative paths work as in the
README (a later command reads `runs/a/config.json` from an earlier one).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHORT_STEPS = ["--steps", "3", "--eval_every", "1000", "--sharpness_every", "0"]


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("python -m gan_lab"):
                out.append(line)
    for span in re.findall(r"`(python -m gan_lab [^`]+)`", text):
        if "..." not in span and span not in out:
            out.append(span)
    return [shlex.split(c)[3:] for c in out]    # after "python -m gan_lab"


def shorten(args: list[str]) -> list[str]:
    """The same command, short: the README's flags kept, except the long-running ones."""
    cmd, rest = args[0], list(args[1:])
    if "--help" in rest:
        return args
    if cmd == "train":
        return [cmd, *rest, *SHORT_STEPS]
    if cmd == "eval":
        return [cmd, *rest, "--steps", "3", "--seeds", "0", "--regs", "none",
                "--out", "runs/eval"]
    if cmd == "bench":
        return [cmd, *[a for a in rest if a != "--quick"], "--quick", "--datasets", "ring8",
                "--out", "runs/bench.json"]
    if cmd == "sweep":
        out = []
        it = iter(rest)
        for a in it:
            if a == "--grid":
                name, values = next(it).split("=", 1)
                out += [a, f"{name}={','.join(values.split(',')[:2])}"]
            elif a == "--seeds":
                out += [a, next(it).split(",")[0]]
            else:
                out.append(a)
        return [cmd, *out, *SHORT_STEPS, "--no-png"]
    raise AssertionError(f"the README shows a command this test does not know: {cmd}")


def test_the_readme_shows_every_command():
    cmds = {a[0] for a in readme_commands()}
    assert cmds == {"train", "eval", "bench", "sweep"}, cmds


def test_every_readme_command_runs_in_a_short_form(tmp_path):
    (tmp_path / "my_points.csv").write_text("x,y\n" + "".join(
        f"{(i % 7) / 7:.3f},{(i % 5) / 5:.3f}\n" for i in range(60)))
    ran = []
    for args in readme_commands():
        short = shorten(args)
        r = subprocess.run([sys.executable, "-m", "gan_lab", *short], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert r.returncode == 0, (short, r.stderr[-3000:])
        ran.append(short[0])
    assert (tmp_path / "runs" / "a" / "summary.json").is_file()
    assert (tmp_path / "runs" / "a2" / "summary.json").is_file()     # --config of runs/a
    assert (tmp_path / "runs" / "sweep" / "results.csv").is_file()
    assert (tmp_path / "runs" / "bench.json").is_file()
    assert (tmp_path / "runs" / "eval" / "table_toy.md").is_file()
    assert {"train", "eval", "bench", "sweep"} <= set(ran)


@pytest.mark.parametrize("args, want", [
    (["sweep", "--grid", "reg=none,l1,l2,hsn1r", "--seeds", "0,1,2"],
     ["sweep", "--grid", "reg=none,l1", "--seeds", "0", *SHORT_STEPS, "--no-png"]),
    (["bench"], ["bench", "--quick", "--datasets", "ring8", "--out", "runs/bench.json"]),
])
def test_shorten_keeps_the_command(args, want):
    assert shorten(args) == want
