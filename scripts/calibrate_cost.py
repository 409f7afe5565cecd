"""Measure real training steps against gan_lab.cost's estimates, one core, one config per fresh
process (so each one's peak memory is its own).

    python scripts/calibrate_cost.py                     # the default set of configs
    python scripts/calibrate_cost.py --json docs/results/step_cost.json

For each config: the estimated GFLOP of the dearest step and of the final evaluation, the
measured CPU seconds of a step (median of timed batches of steps after warm-up) and of the
final evaluation (evaluate(sharp=True, final=True)), the GFLOP/s that makes, and the
estimated against the measured peak memory of a step (peak RSS growth over the steps, less
the gradients and Adam moments, which the estimate leaves out). The smallest GFLOP/s seen on
steps that matter (>= 0.05 GFLOP) is what cost.GFLOP_PER_S should not exceed; the caps
(cost.MAX_STEP_GFLOP, cost.MAX_STEP_MB) follow from the seconds a step may take.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONV = {"dataset": "mnist", "arch": "conv"}
CONFIGS = [
    {},                                                      # ring8 defaults
    {"batch_size": 4096},
    {"g_hidden": 1024, "d_hidden": 1024, "g_depth": 4, "d_depth": 4, "batch_size": 512},
    {"g_hidden": 512, "d_hidden": 512, "batch_size": 2048, "d_steps": 4},
    {"reg": "hsn1r", "lam": 0.01, "hsn_every": 1, "batch_size": 1024},
    {"reg": "hsn1r", "lam": 0.01, "hsn_every": 1, "hsn_method": "exact", "batch_size": 1024},
    {"dataset": "mnist"},                                    # MNIST MLP defaults
    {"dataset": "mnist", "batch_size": 1024},
    {"dataset": "mnist", "g_hidden": 1024, "d_hidden": 1024, "batch_size": 256, "d_r1": 1.0},
    {**CONV, "g_hidden": 64, "d_hidden": 64, "latent_dim": 8, "g_norm": "batch",
     "batch_size": 32, "g_ema": 0.999, "d_r1": 1.0},         # the MNIST conv preset
    {**CONV, "g_hidden": 64, "d_hidden": 64, "batch_size": 256},
    {**CONV, "g_hidden": 128, "d_hidden": 128, "batch_size": 128, "g_norm": "batch",
     "d_r1": 1.0},
    {**CONV, "g_hidden": 256, "d_hidden": 256, "batch_size": 64, "d_steps": 2},
    {**CONV, "g_hidden": 32, "d_hidden": 32, "batch_size": 1024, "g_norm": "batch"},
    {**CONV, "g_hidden": 64, "d_hidden": 64, "batch_size": 64, "reg": "hsn1r", "lam": 0.01,
     "hsn_every": 1},
]


def measure(fields: dict) -> dict:
    import resource

    import numpy as np
    import torch

    from gan_lab import cost
    from gan_lab.config import RunConfig
    from gan_lab.trainer import Trainer

    torch.set_num_threads(1)
    cfg = RunConfig.from_dict({"sharpness_every": 0, "eval_every": 10**5, **fields})
    est_step, est_eval = cost.step_gflop(cfg), cost.eval_gflop(cfg)
    tr = Trainer(cfg)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tr.run_steps(2)                    # warm-up (allocator, autograd caches, optimizer state)
    times = []
    spent = time.process_time()
    while len(times) < 3 or time.process_time() - spent < 1.5:
        n = 1 if est_step > 0.05 else 20
        t = time.process_time()
        tr.run_steps(n)
        times.append((time.process_time() - t) / n)
        if len(times) >= 50:
            break
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    state = 3 * 4 * sum(p.numel() for p in (*tr.G.parameters(), *tr.D.parameters()))
    t = time.process_time()
    tr.evaluate(sharp=True, final=True)      # once: the classifier and its reference stats load
    tr.evaluate(sharp=True, final=True)
    eval_s = (time.process_time() - t) / 2
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step_s = float(np.median(times))
    return {"fields": fields, "est_step_gflop": round(est_step, 4),
            "est_eval_gflop": round(est_eval, 4), "step_s": round(step_s, 5),
            "eval_s": round(eval_s, 4),
            "step_gflop_per_s": round(est_step / step_s, 2),
            "eval_gflop_per_s": round(est_eval / eval_s, 2) if eval_s > 0 else None,
            "est_step_s": round(cost.step_seconds(cfg), 4),
            "est_eval_s": round(cost.eval_seconds(cfg), 3),
            "est_train_mb": round(cost.train_mb(cfg), 1),
            "measured_train_mb": round(max(0, rss1 - rss0 - state) / 2**20, 1),
            "est_eval_mb": round(cost.eval_mb(cfg), 1),
            "measured_eval_growth_mb": round(max(0, rss2 - rss1) / 2**20, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--one", help=argparse.SUPPRESS)   # internal: measure one config (JSON)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return 0
    rows = []
    for fields in CONFIGS:
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(fields)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{json.dumps(row['fields']):<110} step {row['est_step_gflop']:8.3f} GFLOP "
              f"{row['step_s'] * 1e3:8.1f} ms ({row['step_gflop_per_s']:6.1f} GFLOP/s) | eval "
              f"{row['est_eval_gflop']:7.2f} GFLOP {row['eval_s']:6.2f} s "
              f"({row['eval_gflop_per_s']} GFLOP/s) | train MB est {row['est_train_mb']:6.1f} "
              f"measured {row['measured_train_mb']:6.1f} | eval MB est {row['est_eval_mb']:6.1f} "
              f"peak grew {row['measured_eval_growth_mb']:6.1f}", flush=True)
    big = [r for r in rows if r["est_step_gflop"] >= 0.05]
    print(f"slowest GFLOP/s on steps >= 0.05 GFLOP: "
          f"{min(r['step_gflop_per_s'] for r in big):.1f}; on evaluations: "
          f"{min(r['eval_gflop_per_s'] for r in rows if r['eval_gflop_per_s']):.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
