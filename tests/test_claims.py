"""scripts/claims.py (docs/CLAIMS.md): its short form runs and writes a claim's document, and its
subtracted-penalty hook really subtracts D's penalty, for its own runs only."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_lab import trainer
from gan_lab.config import RunConfig
from gan_lab.regularizers import L2

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "claims.py"


@pytest.fixture(scope="module")
def claims():
    spec = importlib.util.spec_from_file_location("claims_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_claim_has_its_text_source_arms_and_valid_configs(claims):
    assert {"l1-mode-collapse", "l1-speed", "hsn1r-speed", "hsn1r-overfitting",
            "l2-generalization", "subtracted-penalty",
            "subtracted-penalty-full"} <= set(claims.CLAIMS)
    for name, c in claims.CLAIMS.items():
        assert c["claim"] and c["source"] and len(c["arms"]) >= 2 and c["metrics"], name
        for fields in c["arms"].values():
            claims.arm_config(fields, 0, None, None)      # validated by RunConfig.from_dict
    flipped = [f for c in claims.CLAIMS.values() for f in c["arms"].values() if f.get("subtract")]
    assert flipped and all(f["reg"] == "l2" for f in flipped)


def test_the_hook_subtracts_d_s_penalty_and_is_gone_afterwards(claims):
    cfg = RunConfig.from_dict({"dataset": "ring8", "reg": "l2", "lam": 0.01, "reg_target": "d",
                               "steps": 5, "eval_every": 5, "sharpness_every": 0})
    with claims.subtracted() as hooked:
        tr = trainer.Trainer(cfg)
    assert hooked == [len(tr.reg_d.params)] and isinstance(tr.reg_d, claims.Subtracted)
    plain = trainer.Trainer(cfg)
    assert type(plain.reg_d) is L2      # outside the context the app's factory is back
    # The flipped penalty is exactly minus the added one on the same weights.
    loss = torch.zeros(())
    assert float(tr.reg_d.penalty(loss, cfg.lam, 0).detach()) == pytest.approx(
        -float(plain.reg_d.penalty(loss, cfg.lam, 0).detach()))
    # A step down loss - (lam/2)|w|^2 grows D's weights where the added penalty shrinks them.
    norms = []
    for t in (tr, plain):
        before = sum(float((p.detach() ** 2).sum()) for p in t.reg_d.params)
        t.run_steps(3)
        norms.append(sum(float((p.detach() ** 2).sum()) for p in t.reg_d.params) - before)
    assert tr.reg_d.value < 0 < plain.reg_d.value
    assert norms[0] > norms[1]


def test_a_negative_lambda_is_still_refused_by_the_app():
    with pytest.raises(Exception, match="lam"):
        RunConfig.from_dict({"dataset": "ring8", "reg": "l2", "lam": -0.01})


def test_the_short_form_runs_and_writes_the_claim_document(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--claim", "subtracted-penalty-full",
                        "--seeds", "0,1", "--steps", "6", "--eval-every", "3",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "subtracted-penalty-full.json").read_text())
    arms = {a["arm"]: a for a in doc["arms"]}
    assert doc["seeds"] == [0, 1] and len(arms) == 4
    for a in arms.values():
        assert [x["seed"] for x in a["runs"]] == [0, 1] and a["config"]["steps"] == 6
        assert a["summary"]["modes"]["se"] is not None      # two seeds: a standard error
    assert all(v < 0 for v in arms["l2 1e-3 on D, subtracted"]["summary"]["reg_d"]["values"])
    assert all(v > 0 for v in arms["l2 1e-3 on D, added"]["summary"]["reg_d"]["values"])
    # The unregularized arm and the added one share nothing but their seeds: distinct folders;
    # a second call reuses every complete folder instead of training again.
    folders = {x["folder"] for a in arms.values() for x in a["runs"]}
    assert len(folders) == 8 and sum(f.endswith("-subtracted") for f in folders) == 4
    r2 = subprocess.run([sys.executable, str(SCRIPT), "--claim", "subtracted-penalty-full",
                         "--seeds", "0,1", "--steps", "6", "--eval-every", "3",
                         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    again = json.loads((tmp_path / "subtracted-penalty-full.json").read_text())
    assert r2.returncode == 0 and again["arms"][1]["runs"] == \
        arms["l2 1e-3 on D, subtracted"]["runs"]


def test_unknown_claims_and_bad_seeds_are_named(tmp_path):
    for args, word in ((["--claim", "nope"], "--claim"), (["--seeds", "a,b"], "--seeds")):
        r = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and word in r.stderr and "Traceback" not in r.stderr
