"""One run trained to completion outside the app: what `python -m gan_lab train`, eval and
sweep run. `run_files` trains and returns the summary and the run folder's files (runs.RunWriter,
in memory: a Ray task sends them back as they are); `train` writes them into a folder.

threads: torch intra-op threads. Default: 1 inside a multiprocessing worker (eval and sweep
train several runs side by side: conv runs with two threads each beside other runs on 2 cores
took 0.12-0.35 s of CPU per step against 0.034 s with one thread, oversubscription measured
2026-11-29 on a 2-core AMD EPYC), else placement.default_threads (2 for conv MNIST, else 1).
tensorboard: a folder for the run's TensorBoard event files (gan_lab.tblog).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from . import runs
from .config import RunConfig


def train(cfg: RunConfig, out: Path, points: np.ndarray | None = None,
          init: str | None = None, log_every: int | None = None, quiet: bool = False,
          png: bool = True, threads: int | None = None,
          tensorboard: str | Path | None = None) -> dict:
    """Train cfg to completion and write its run folder `out` (runs.RUN_FILES; samples.png
    unless png=False) atomically: nothing appears at `out` until the run is complete, and a
    destination a run may not be written to is refused before training (ConfigError).
    Returns the summary."""
    runs.check_run_dest(out)
    summary, files = run_files(cfg, points, init, log_every, quiet, png, threads, tensorboard)
    runs.write_run_files(out, files)
    return summary


def run_files(cfg: RunConfig, points=None, init=None, log_every=None, quiet=False, png=True,
              threads: int | None = None, tensorboard=None) -> tuple[dict, dict[str, bytes]]:
    """Train cfg to completion: (summary, the run folder's files, name -> bytes)."""
    import torch
    from tqdm import tqdm

    from . import time_to_quality
    from .checkpoint import load_checkpoint, save_checkpoint_bytes
    from .losses import LOSS_KEYS
    from .placement import default_threads
    from .run import Run
    from .snapshot import snapshot_of

    w_start, c_start = time.perf_counter(), time.process_time()
    if threads is None:
        threads = 1 if mp.parent_process() is not None else default_threads(cfg)
    torch.set_num_threads(threads)
    weights = None
    if init:
        _, g_state, d_state, _step = load_checkpoint(init, cfg)
        weights = (g_state, d_state, 0)
    run = Run(cfg, points, weights=weights, metric_cap=10**9, start_eval="full")
    tr = run.trainer
    writer = runs.RunWriter(cfg, log_every or max(1, cfg.steps // 2000))
    recent: list[np.ndarray] = []
    # A terminal's progress bar: steps, steps/s and the latest losses (none when not a TTY).
    bar = tqdm(total=cfg.steps, disable=quiet or not sys.stderr.isatty(), file=sys.stderr,
               mininterval=0.2, unit=" steps",
               bar_format="[{bar:30}] {n_fmt}/{total_fmt} {rate_fmt}{postfix}")
    diverged = None
    tb = None
    if tensorboard is not None:
        from .tblog import TensorBoardLog
        tb = TensorBoardLog(tensorboard)
        tb.weights(tr.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        # 0.2 s: how often the progress bar moves. With TensorBoard each advance also stops at
        # the next evaluation, so the weight histograms are those of the evaluated step.
        c = run.advance(seconds=0.2, view=False, max_steps=None if tb is None else
                        cfg.eval_every - tr.step % cfg.eval_every)
        for s in writer.add_rows(c.step, c.rows):
            if tb is not None:
                tb.losses(s, writer.losses[s], tr.lam)
        recent = [*recent, *c.rows][-100:]
        if tb is not None:
            for s, m in dict(c.evals).items():   # the final evaluation replaces its step's
                tb.metrics(s, m)
            if c.evals and c.evals[-1][0] == c.step:
                tb.weights(c.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
        if len(c.rows):
            bar.set_postfix_str(f"D {c.latest.get('loss_d', np.nan):.3f}  "
                                f"G {c.latest.get('loss_g', np.nan):.3f}", refresh=False)
            bar.update(c.step - bar.n)
        if c.diverged:
            diverged = c.diverged[0].lower() + c.diverged[1:]
            break
        if c.done:
            break
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bar.close()
    if diverged:   # a finished run made its final evaluation in advance(); a diverged one not
        run.metric_log.add(tr.step, tr.evaluate(sharp=True, final=True))
        if tb is not None:
            tb.metrics(tr.step, run.metric_log.rows[-1])
            tb.weights(tr.step, {"G": tr.G, "D": tr.D}, cfg.reg_bias)
    if tb is not None:
        tb.close()

    png_bytes = None
    if png:
        try:
            from .exports import samples_png
            png_bytes = samples_png(snapshot_of(run))
        except ImportError as e:  # matplotlib missing: everything else is still written
            print(f"warning: samples.png not written ({e})", file=sys.stderr)
    tail = np.mean(recent, axis=0) if recent else np.full(len(LOSS_KEYS), np.nan)
    final = dict(zip(LOSS_KEYS, (float(x) for x in tail)))
    final.update({k: float(v) for k, v in run.metric_log.rows[-1].items() if k != "step"})
    for note in run.notes:   # e.g. an adaptive lambda's goal found unreachable
        print(f"note: {note}", file=sys.stderr)
    # wall_s/cpu_s: the training loop (evaluations on its way included); total_*: the whole
    # call (building the nets, the loop, the final evaluation, the files' contents).
    summary = {
        "id": runs.config_id(cfg, points, init), "name": runs.run_name(cfg),
        "config": cfg.to_dict(), "steps": tr.step, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        "steps_per_s": round(tr.step / wall, 2) if wall > 0 else None,
        "device": str(tr.device), "device_reason": tr.device_reason,
        "final": final, "diverged": diverged, "notes": run.notes,
        # Training steps and evaluations apart (thread CPU, one torch thread); the first step
        # from which the run holds its dataset's quality bar (gan_lab.time_to_quality).
        "cpu_train_s": round(run.cpu_train, 3), "cpu_eval_s": round(run.cpu_eval, 3),
        "time_to_quality": None if diverged else time_to_quality.result(
            run.metric_log.rows, cfg.dataset, run.train_cpu_at),
    }
    checkpoint = save_checkpoint_bytes(tr.G, tr.D, tr.cfg, tr.step)
    samples = runs.samples_npy(tr.sample(), tr.data.is_image)
    summary["total_wall_s"] = round(time.perf_counter() - w_start, 3)
    summary["total_cpu_s"] = round(time.process_time() - c_start, 3)
    files = writer.finish(summary, {int(r["step"]): r for r in run.metric_log.rows},
                          checkpoint, samples, png_bytes)
    return summary, files
