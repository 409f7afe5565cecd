"""Screen 2-D settings for time to quality (issue 19): train each seed, evaluate every N steps,
print where the run first holds its dataset's bar (gan_lab.time_to_quality) and the training
CPU-seconds (thread CPU, one torch thread) there and at the end.

Usage: nice -n 5 python scripts/screen_2d.py '{"dataset": "ring8", "g_hidden": 64}' 100,101 [N]
(fields on top of the dataset's defaults; N = evaluate every N steps, default 100).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_lab import time_to_quality as ttq  # noqa: E402
from gan_lab.config import RunConfig  # noqa: E402
from gan_lab.trainer import Trainer  # noqa: E402


def screen(fields: dict, seed: int, every: int) -> dict:
    cfg = RunConfig.from_dict({**fields, "seed": seed})
    tr = Trainer(cfg)
    hist, cpu_at, cpu = [], {}, 0.0
    while tr.step < cfg.steps:
        c = time.thread_time()
        tr.run_steps(min(every, cfg.steps - tr.step))
        cpu += time.thread_time() - c
        hist.append((tr.step, tr.evaluate(quality=True)))
        cpu_at[tr.step] = cpu
    res = ttq.result(hist, cfg.dataset, cpu_at)
    end = hist[-1][1]
    return {"seed": seed, "at_bar": res, "modes": end.get("modes"), "hq": end.get("hq_frac"),
            "min_share": end.get("min_mode_frac"), "train_cpu_s": round(cpu, 2)}


def main() -> None:
    torch.set_num_threads(1)
    fields = json.loads(sys.argv[1])
    every = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    for seed in (int(s) for s in sys.argv[2].split(",")):
        print(json.dumps(screen(fields, seed, every)), flush=True)


if __name__ == "__main__":
    main()
