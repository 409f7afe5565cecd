"""Where a 2-D generator's off-mode samples lie (the diagnostic behind issue 19's retune): train
one run and, every 250 steps, split 2,500 samples by their distance to the nearest mode, in
the data's standard deviations: < 3 (high quality), 3-6 (clusters too wide), 6-20, > 20
("bridges" between clusters). Prints the training thread-CPU seconds too.

Usage: nice -n 5 python scripts/off_mode_2d.py '{"dataset": "ring8", "activation": "relu"}' [SEED]
(fields on top of the dataset's defaults; seed default 100, a tuning seed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_lab.config import RunConfig  # noqa: E402
from gan_lab.trainer import Trainer  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    fields = json.loads(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    cfg = RunConfig.from_dict({"dataset": "ring8", **fields, "seed": seed})
    tr, cpu = Trainer(cfg), 0.0
    while tr.step < cfg.steps:
        c = time.thread_time()
        tr.run_steps(min(250, cfg.steps - tr.step))
        cpu += time.thread_time() - c
        x, modes = tr.sample(2500), tr.data.modes
        d = np.sqrt(((x[:, None, :] - modes[None]) ** 2).sum(-1)).min(1) / tr.data.std
        print(f"{tr.step} {cpu:.2f} s  hq {(d < 3).mean():.3f}  3-6sd "
              f"{((d >= 3) & (d < 6)).mean():.3f}  6-20sd {((d >= 6) & (d < 20)).mean():.3f}  "
              f">20sd {(d >= 20).mean():.3f}  median {np.median(d):.2f}", flush=True)


if __name__ == "__main__":
    main()
