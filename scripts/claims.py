"""The source texts' claims, tested (docs/CLAIMS.md; issue 22 item 6).

    python scripts/claims.py --claim l1-mode-collapse --seeds 0,1,2 --out runs/claims
    python scripts/claims.py --claim all --seeds 0,1,2 --out runs/claims
    python scripts/claims.py --list
    python scripts/claims.py --table --out docs/results/claims     # their markdown tables

Each claim is a few arms (RunConfig field dicts) trained on the same seeds with the CLI's own
`train()` (one torch thread, the same run folders as `python -m gan_lab train --out`), then the
claim's metrics are gathered from those folders: mean ± SE over the seeds, and every run's value.
The run folders go to OUT/runs/<config id>[-subtracted] and are reused when complete (claims
that share an arm, e.g. the unregularized ring8 baseline, train it once); the claim's document
goes to OUT/<claim>.json (docs/results/claims/ holds the ones CLAIMS.md quotes).

--steps N (and --eval-every N) shorten every arm, for a quick check of the command itself.

The "subtracted penalty" claim needs a run whose penalty is SUBTRACTED from D's loss (the sign
error of one source text). The app never allows that (lambda >= 0; regularizers.base refuses a
negative one), so this script builds such a run itself: `subtracted()` patches, for the length
of one run in this process only, the Trainer's regularizer factory so D's regularizer returns
minus its penalty. Nothing a user can set reaches it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from gan_lab import runs, trainer  # noqa: E402
from gan_lab.config import RunConfig  # noqa: E402
from gan_lab.evaluate import cpu_model, mean_se  # noqa: E402
from gan_lab.presets import REG_SETTINGS, preset_fields  # noqa: E402
from gan_lab.regularizers import Regularizer  # noqa: E402

# The 2-D defaults of 2026-12-02 (commit eda0ba8) on the ring, written out so a later retuning
# of config.py's defaults does not change what these claims measured.
RING8 = {"dataset": "ring8", "lr_g": 2e-3, "lr_d": 1.5e-3, "beta1": 0.0, "beta2": 0.99,
         "steps": 4000, "lr_schedule": "linear", "batch_size": 256, "activation": "relu",
         "d_activation": "leaky_relu", "g_hidden": 128, "d_hidden": 128, "g_depth": 3,
         "d_depth": 3, "latent_dim": 2, "loss": "ns", "optimizer": "adam", "eval_every": 100,
         "sharpness_every": 500}
COLLAPSE = {**RING8, **preset_fields("mode-collapse")}   # G 10x faster than D: the preset
# MNIST's own defaults (the MLP GAN), 2,000 of their 4,000 steps: what a loaded 2-core machine
# allowed on 2026-12-02; D's gap is logged every 500 steps.
MNIST = {"dataset": "mnist", "steps": 2000}
L1_D = REG_SETTINGS["l1"]["fields"]              # proximal L1 0.1 on D (the quality tables')
L2_D = REG_SETTINGS["l2"]["fields"]              # L2 3e-4 on D
HSN_D = REG_SETTINGS["hsn1r"]["fields"]          # HSN1R 0.01 on D every 8th step

# claim -> what it says, where it comes from, its arms (name -> fields; "subtract": True marks
# the sign error), and the metrics its verdict reads (final values unless named *_max etc.).
CLAIMS: dict[str, dict] = {
    "l1-mode-collapse": {
        "claim": "L1 regularization reduces mode collapse.",
        "source": "issue 22 (quoting the source texts: \"L1 reduces mode collapse\")",
        "arms": {
            "none": {**COLLAPSE},
            "l1 0.1 on D": {**COLLAPSE, **L1_D},
            "l1 0.01 on G": {**COLLAPSE, **L1_D, "lam": 0.01, "reg_target": "g"},
        },
        "metrics": ["modes", "min_mode_frac", "hq_frac", "rev_kl", "modes_mean_last_half",
                    "zeros_d", "zeros_g"],
    },
    "l1-speed": {
        "claim": "L1 regularization speeds up training.",
        "source": "issue 22 (quoting the source texts: \"L1 speeds training\")",
        "arms": {"none": {**RING8}, "l1 0.1 on D": {**RING8, **L1_D}},
        "metrics": ["ttq_step", "ttq_cpu_s", "reached", "modes_step", "modes", "hq_frac",
                    "cpu_train_s"],
    },
    "hsn1r-speed": {
        "claim": "HSN1R speeds up convergence.",
        "source": "issue 22 (quoting the source texts: \"HSN1R speeds convergence\")",
        "arms": {"none": {**RING8}, "hsn1r 0.01 on D": {**RING8, **HSN_D}},
        "metrics": ["ttq_step", "ttq_cpu_s", "reached", "modes_step", "modes", "hq_frac",
                    "sharpness_d", "cpu_train_s"],
    },
    "hsn1r-overfitting": {
        "claim": "HSN1R prevents overfitting.",
        "source": "issue 22 (quoting the source texts: \"HSN1R ... prevents overfitting\"); "
                  "overfitting measured as D's generalization gap (DESIGN.md, Metrics)",
        "arms": {"none": {**MNIST}, "hsn1r 0.01 on D": {**MNIST, **HSN_D}},
        "metrics": ["d_gap", "d_gap_se", "d_gap_max", "d_gap_mean", "cls_is", "fcd",
                    "sharpness_d", "cpu_s"],
    },
    "l2-generalization": {
        "claim": "L2 regularization improves generalization.",
        "source": "issue 22 (quoting the source texts: \"L2 improves generalization\"); "
                  "generalization measured as D's generalization gap (DESIGN.md, Metrics)",
        "arms": {"none": {**MNIST}, "l2 3e-4 on D": {**MNIST, **L2_D}},
        "metrics": ["d_gap", "d_gap_se", "d_gap_max", "d_gap_mean", "cls_is", "fcd",
                    "cpu_s"],
    },
    "subtracted-penalty": {
        "claim": "A penalty subtracted from D's loss (instead of added) regularizes D.",
        "source": "the sign error of one source text (issue 22); DESIGN.md, Regularizers: "
                  "\"Never subtract it (a subtracted penalty rewards growing weights)\"",
        # lambda 1e-3: the largest L2 on D that keeps full quality when added (the ring8 sweep,
        # docs/RESULTS.md "Sweeps": 8 / 96.3% HQ on seeds 0-2, the same runs as the arm
        # "l2 1e-3 on D, added" here; `--claim subtracted-penalty-full` trains it too).
        "arms": {"none": {**RING8},
                 "l2 1e-3 on D, subtracted": {**RING8, **L2_D, "lam": 1e-3, "subtract": True}},
        "metrics": ["diverged", "steps_done", "modes", "hq_frac", "d_weight_norm", "wspec_d",
                    "reg_d"],
    },
}


CLAIMS["subtracted-penalty-full"] = {
    **CLAIMS["subtracted-penalty"],
    # 1e-2: the lambda that, added, zeroes D (the same sweep): subtracted, does D blow up?
    "arms": {**CLAIMS["subtracted-penalty"]["arms"],
             "l2 1e-2 on D, subtracted": {**RING8, **L2_D, "lam": 1e-2, "subtract": True},
             "l2 1e-3 on D, added": {**RING8, **L2_D, "lam": 1e-3}},
}


# --------------------------------------------------------------------------------------------
# The sign error, for this script's runs only
# --------------------------------------------------------------------------------------------
class Subtracted(Regularizer):
    """Wraps a penalty regularizer (L1 in penalty mode, L2, HSN1R 'exact') and returns MINUS its
    penalty: the loss D minimizes becomes loss - penalty. Its logged value is negative, so a
    run folder shows the sign it trained with."""

    def __init__(self, inner: Regularizer):
        super().__init__(inner.params)
        self.inner, self.kind = inner, inner.kind
        if type(inner).backward is not Regularizer.backward:
            raise ValueError(f"{inner!r} does its own backward; only penalty() can be negated")

    def penalty(self, loss, lam, step):
        pen = self.inner.penalty(loss, lam, step)
        self.value = 0.0 if pen is None else -pen
        return None if pen is None else -pen

    def after_step(self, lam, lr):
        if getattr(self.inner, "mode", None) == "proximal":
            raise ValueError("a proximal step has no sign to flip; use a penalty mode")


@contextlib.contextmanager
def subtracted():
    """For the runs started inside it: D's regularizer subtracts its penalty (G's is unchanged).
    Patches trainer.make_regularizer, the one factory Trainer._build_regularizers calls."""
    make = trainer.make_regularizer
    params_of_d: list[int] = []

    def patched(kind, params, cfg, **kw):
        reg = make(kind, params, cfg, **kw)
        modules = kw.get("modules")
        d_params = {id(p) for p in modules[1].parameters()} if modules else set()
        is_d = bool(params) and all(id(p) in d_params for p in params)
        if is_d and kind != "none":
            params_of_d.append(len(params))
            return Subtracted(reg)
        return reg

    trainer.make_regularizer = patched
    try:
        yield params_of_d
    finally:
        trainer.make_regularizer = make


# --------------------------------------------------------------------------------------------
# Runs and their metrics
# --------------------------------------------------------------------------------------------
def arm_config(fields: dict, seed: int, steps: int | None, eval_every: int | None) -> RunConfig:
    d = {k: v for k, v in fields.items() if k != "subtract"}
    d["seed"] = seed
    if steps is not None:
        d["steps"] = steps
    if eval_every is not None:
        d["eval_every"] = eval_every
        d["sharpness_every"] = max(eval_every, min(d.get("sharpness_every", 500), steps or 10**9))
    return RunConfig.from_dict(d)


def train_arm(fields: dict, cfg: RunConfig, root: Path) -> Path:
    """The run folder of (fields, cfg): trained now unless a complete one is there."""
    from gan_lab.cli import train

    flip = bool(fields.get("subtract"))
    out = root / "runs" / (runs.config_id(cfg) + ("-subtracted" if flip else ""))
    if (out / "summary.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with subtracted() if flip else contextlib.nullcontext() as hooked:
        train(cfg, out, quiet=True, png=False, threads=1)
    if flip and not hooked:
        raise RuntimeError("the subtracted-penalty hook did not reach D's regularizer")
    return out


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return [{k: (float(v) if v not in ("", None) else math.nan) for k, v in r.items()}
                for r in csv.DictReader(f)]


def run_metrics(out: Path) -> dict:
    """What the claims read from one run folder."""
    s = json.loads((out / "summary.json").read_text())
    cfg = s["config"]
    f = s["final"]
    rows = _csv_rows(out / "metrics.csv")
    m = {k: f.get(k) for k in ("modes", "hq_frac", "rev_kl", "min_mode_frac", "zeros_d",
                               "zeros_g", "sharpness_d", "wspec_d", "reg_d", "d_gap", "cls_is",
                               "fcd") if k in f}
    m["cpu_s"], m["steps_done"] = s["cpu_s"], s["steps"]
    m["cpu_train_s"] = s.get("cpu_train_s")     # the training steps alone (gan_lab.run)
    m["diverged"] = 1.0 if s["diverged"] else 0.0
    evals = sorted((r for r in rows if math.isfinite(r.get("modes", r.get("d_gap", math.nan)))),
                   key=lambda r: r["step"])
    if evals and "modes" in evals[0]:
        half = [r["modes"] for r in evals if r["step"] >= cfg["steps"] / 2]
        m["modes_mean_last_half"] = float(np.mean(half)) if half else math.nan
    if evals and "d_gap" in evals[0]:
        gaps = [r["d_gap"] for r in evals if r["step"] > 0]
        m["d_gap_max"] = float(np.max(gaps)) if gaps else math.nan
        m["d_gap_mean"] = float(np.mean(gaps)) if gaps else math.nan
        m["d_gap_curve"] = [[int(r["step"]), r["d_gap"]] for r in evals]
    m.update(time_to_quality(out, s, rows))
    if cfg["dataset"] == "mnist":
        m["d_gap_se"] = _d_gap_se(out / "checkpoint.safetensors")
    m["d_weight_norm"] = _d_weight_norm(out / "checkpoint.safetensors")
    return m


def time_to_quality(out: Path, summary: dict, rows: list[dict]) -> dict:
    """ttq_step (the first evaluation step from which the run meets its dataset's bar at every
    later evaluation; gan_lab.time_to_quality), ttq_cpu_s and reached (1 or 0), for 2-D runs;
    {} when that module is not there.

    ttq_cpu_s is summary.json's `time_to_quality.train_cpu_s` when the run recorded it; a run
    trained before that existed gets ttq_step x its CPU-seconds per step (evaluations
    included, the same schedule in every arm), marked by ttq_cpu_estimated = 1."""
    try:
        from gan_lab import time_to_quality as ttq
    except ImportError:
        return {}
    dataset = summary["config"]["dataset"]
    if dataset not in ttq.BARS:
        return {}
    # A looser bar beside it: the first step from which the run keeps every mode (ring8 8 of
    # 8, grid25 24 of 25), whatever its HQ share.
    evals = [r for r in rows if math.isfinite(r.get("modes", math.nan))]
    modes_at = ttq.first_step_at_bar(evals, {"modes": ttq.BARS[dataset]["modes"]})
    loose = {"modes_step": modes_at}
    if "time_to_quality" in summary:
        r = summary["time_to_quality"]
        if r is None:
            return {**loose, "reached": 0.0}
        return {**loose, "ttq_step": r["step"], "ttq_cpu_s": r["train_cpu_s"], "reached": 1.0,
                "ttq_cpu_estimated": 0.0}
    step = ttq.first_step_at_bar(evals, ttq.BARS[dataset])
    if step is None:
        return {**loose, "reached": 0.0}
    per_step = summary["cpu_s"] / max(1, summary["steps"])
    return {**loose, "ttq_step": step, "ttq_cpu_s": round(step * per_step, 3), "reached": 1.0,
            "ttq_cpu_estimated": 1.0}


def _d_gap_se(path: Path) -> float:
    """The sampling noise of the final d_gap: the standard error of a difference of two means
    of D's logits over 2,000 training and 2,000 held-out digits (D from the checkpoint). A gap
    within ~2 of these is no gap."""
    import torch

    from gan_lab.checkpoint import load_checkpoint
    from gan_lab.generalization import gap_digits
    from gan_lab.models import build_models

    cfg, _g, d_state, _step = load_checkpoint(path)
    _G, D = build_models(cfg)
    D.load_state_dict(d_state)
    D.eval()
    with torch.no_grad():
        a, b = (D(x).double().flatten() for x in gap_digits())
    return float(math.sqrt(a.var() / len(a) + b.var() / len(b)))


def _d_weight_norm(path: Path) -> float:
    """||W_D||_F over D's weight matrices (dim >= 2) of the checkpoint."""
    from safetensors.torch import load_file

    t = load_file(str(path))
    return float(math.sqrt(sum(float((v.double() ** 2).sum()) for k, v in t.items()
                               if k.startswith("D.") and v.dim() >= 2)))


def run_claim(name: str, seeds: list[int], root: Path, steps: int | None = None,
              eval_every: int | None = None, log=print) -> dict:
    c = CLAIMS[name]
    arms = []
    for arm, fields in c["arms"].items():
        per_seed = []
        for seed in seeds:
            cfg = arm_config(fields, seed, steps, eval_every)
            c0 = time.process_time()
            out = train_arm(fields, cfg, root)
            m = run_metrics(out)
            per_seed.append({"seed": seed, "folder": out.name, "metrics": m})
            log(f"{name} | {arm} | seed {seed}: "
                + ", ".join(f"{k} {_short(m.get(k))}" for k in c["metrics"])
                + f" ({time.process_time() - c0:.0f} s CPU here)")
        summary = {}
        for k in c["metrics"]:
            mean, se = mean_se([r["metrics"].get(k) for r in per_seed])
            summary[k] = {"mean": None if not math.isfinite(mean) else mean,
                          "se": None if not math.isfinite(se) else se,
                          "values": [r["metrics"].get(k) for r in per_seed]}
        cfg0 = arm_config(fields, seeds[0], steps, eval_every).to_dict()
        cfg0.pop("seed")
        arms.append({"arm": arm, "subtracted": bool(fields.get("subtract")),
                     "fields": {k: v for k, v in fields.items() if k != "subtract"},
                     "config": cfg0, "summary": summary, "runs": per_seed})
    return {"claim": name, "text": c["claim"], "source": c["source"], "seeds": seeds,
            "steps_override": steps, "command": " ".join(["python", "scripts/claims.py",
                                                          *sys.argv[1:]]),
            "cpu": cpu_model(), "threads": 1, "arms": arms}


def markdown(doc: dict) -> str:
    """A claim's document as a markdown table: one row per arm, mean ± SE (the seeds' values)."""
    keys = CLAIMS[doc["claim"]]["metrics"] if doc["claim"] in CLAIMS else []
    lines = [f"**{doc['claim']}** (seeds {', '.join(map(str, doc['seeds']))})", "",
             "| arm | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for a in doc["arms"]:
        cells = []
        for k in keys:
            v = a["summary"].get(k, {})
            vals = ", ".join(_short(x) for x in v.get("values", []))
            ms = _short(v.get("mean")) + ("" if v.get("se") is None else
                                         f" ± {_short(v['se'])}")
            cells.append(f"{ms} ({vals})")
        lines.append(f"| {a['arm']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _short(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--claim", default="all", help="a claim's name, a comma list, or all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default="runs/claims")
    p.add_argument("--steps", type=int, default=None, help="override every arm's steps")
    p.add_argument("--eval-every", type=int, default=None, help="override eval_every")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--table", action="store_true",
                   help="print the markdown tables of the claims' documents in --out and exit")
    a = p.parse_args(argv)
    if a.list:
        for k, c in CLAIMS.items():
            print(f"{k:<20} {c['claim']} ({', '.join(c['arms'])})")
        return 0
    names = list(CLAIMS) if a.claim == "all" else [n.strip() for n in a.claim.split(",")]
    bad = [n for n in names if n not in CLAIMS]
    if bad:
        p.error(f"--claim: unknown {bad[0]!r}; one of {', '.join(CLAIMS)} or all")
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds: a comma list of integers, got {a.seeds!r}")
    root = Path(a.out)
    if a.table:
        for n in names:
            if (root / f"{n}.json").exists():
                print(markdown(json.loads((root / f"{n}.json").read_text())))
        return 0
    import torch

    torch.set_num_threads(1)
    root.mkdir(parents=True, exist_ok=True)
    for n in names:
        doc = run_claim(n, seeds, root, a.steps, a.eval_every)
        (root / f"{n}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {root / (n + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
