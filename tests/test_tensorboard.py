"""TensorBoard export (`--tensorboard DIR` on train and sweep, gan_lab.tblog): the event files are
read back with tensorboard's own reader and hold the expected tags and steps; without the
optional package the flag is refused in one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gan_lab.cli import main

pytest.importorskip("tensorboard", reason="the optional tensorboard package is not installed "
                                          "(pip install -r requirements-tensorboard.txt)")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--g_hidden", "16", "--d_hidden", "16", "--batch_size", "32", "--steps", "30",
         "--eval_every", "10", "--sharpness_every", "30"]


def read(path: Path) -> EventAccumulator:
    ea = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
    ea.Reload()
    return ea


def steps(ea, tag, kind="Scalars"):
    return [e.step for e in getattr(ea, kind)(tag)]


def test_train_writes_scalars_and_histograms(tmp_path):
    tb = tmp_path / "tb"
    rc = main(["train", "--out", str(tmp_path / "runA"), "--quiet", "--log_every", "5",
               "--tensorboard", str(tb), "--spectral_norm", "d", "--reg", "l2", *SMALL])
    assert rc == 0
    ea = read(tb / "runA")
    tags = ea.Tags()
    for t in ("loss/loss_d", "loss/loss_g", "penalty/reg_d", "penalty/reg_g", "penalty/gp_d",
              "lambda/lam"):
        assert steps(ea, t) == [5, 10, 15, 20, 25, 30], t
    assert ea.Scalars("lambda/lam")[0].value == pytest.approx(1e-3)
    assert ea.Scalars("penalty/reg_d")[-1].value > 0
    for t in ("metrics/modes", "metrics/hq_frac", "metrics/zeros_d", "metrics/wspec_d"):
        assert steps(ea, t) == [0, 10, 20, 30], t       # one value per evaluated step
    assert steps(ea, "metrics/sharpness_d") == [0, 30]
    hist = set(tags["histograms"])
    # Spectral-normalized D: its effective weights under the layer's own name.
    assert {"weights/D/net.0.weight", "weights/G/net.0.weight"} <= hist
    assert not any("parametrizations" in t for t in hist)
    assert steps(ea, "weights/D/net.0.weight", "Histograms") == [0, 10, 20, 30]
    # The summary holds the same final values the event files end with.
    import json
    final = json.loads((tmp_path / "runA" / "summary.json").read_text())["final"]
    assert ea.Scalars("metrics/hq_frac")[-1].value == pytest.approx(final["hq_frac"])
    # Written again into the same folder: the new run replaces the old curves.
    assert main(["train", "--out", str(tmp_path / "x" / "runA"), "--quiet", "--tensorboard",
                 str(tb), *SMALL[:-6], "--steps", "10", "--eval_every", "5"]) == 0
    assert steps(read(tb / "runA"), "metrics/modes") == [0, 5, 10]


def test_sweep_writes_one_folder_per_run(tmp_path):
    tb = tmp_path / "tb"
    rc = main(["sweep", "--grid", "spectral_norm=none,d", "--seeds", "0", "--out",
               str(tmp_path / "sw"), "--quiet", "--no-png", "--tensorboard", str(tb), *SMALL])
    assert rc == 0
    for folder in ("spectral_norm=none/seed0", "spectral_norm=d/seed0"):
        ea = read(tb / folder)
        assert steps(ea, "metrics/wspec_d") == [0, 10, 20, 30]
        assert "weights/D/net.0.weight" in ea.Tags()["histograms"]
    sn = read(tb / "spectral_norm=d/seed0").Scalars("metrics/wspec_d")[-1].value
    plain = read(tb / "spectral_norm=none/seed0").Scalars("metrics/wspec_d")[-1].value
    assert sn == pytest.approx(1.0, abs=0.1), sn
    assert plain != pytest.approx(sn, abs=0.05)   # the two runs differ in it


def test_event_files_travel_with_a_remote_run(tmp_path):
    """What a Ray task does (sweep.execute.train_files) and what the driver writes, without
    Ray: the event files come back with the run's files and read the same."""
    from gan_lab.config import RunConfig
    from gan_lab.sweep.execute import train_files
    from gan_lab.tblog import split_files, write_event_files

    cfg = RunConfig(g_hidden=16, d_hidden=16, batch_size=32, steps=20, eval_every=10,
                    sharpness_every=0)
    files, events = split_files(train_files(cfg.to_dict(), png=False, tensorboard=True))
    assert "summary.json" in files and events
    assert all(k.startswith("events.out.tfevents") for k in events)
    write_event_files(tmp_path / "tb", events)
    assert steps(read(tmp_path / "tb"), "metrics/modes") == [0, 10, 20]
    with pytest.raises(ValueError):
        write_event_files(tmp_path / "tb", {"../evil": b""})


@pytest.mark.parametrize("cmd", ["train", "sweep"])
def test_missing_package_is_one_line_and_exit_2(tmp_path, cmd):
    # The package made unimportable, as on a machine without it.
    code = ("import sys; sys.modules['tensorboard'] = None; from gan_lab.cli import main; "
            f"sys.exit(main([{cmd!r}, '--out', {str(tmp_path / 'o')!r}, '--steps', '5', "
            f"'--tensorboard', {str(tmp_path / 'tb')!r}]))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "--tensorboard" in lines[0], p.stderr
    assert "requirements-tensorboard.txt" in lines[0]
    assert not (tmp_path / "o").exists() and not (tmp_path / "tb").exists()
