"""`python -m gan_lab bench`: speed measured side by side in one run, on the current device.

For ring8 and MNIST it times, interleaved over several rounds (so load drift hits all variants
alike) and reported as medians:
- plain:   a minimal hand-written training loop with the same models (the speed of light);
- trainer: Trainer.run_steps (what the CLI runs);
- live:    a TrainingJob while a consumer thread renders every UI frame at the app's rate
           (loss/metric frames, samples and weights figures, encoded as the page receives them);
- regularizer cost: none, l1, l2, hsn1r every step (its default method, and the exact method
  for reference) and hsn1r at its default, as ratios to none;
- ms per full UI frame, and time from pressing Train to the first rendered frame.
Targets (issue 4; hsn1r every step: issue 12): live/plain >= 0.90; hsn1r every step <= 2.0x
none; hsn1r default <= 1.5x none; full frame <= 80 ms; first frame <= 1 s on a 2-core CPU.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .data import make_dataset
from .jobs import ProcessJob, TrainingJob, WorkerPool
from .losses import d_loss_on, g_loss
from .models import build_models
from .placement import default_threads
from .presets import preset_config
from .trainer import Trainer

FRAME_INTERVAL_S = 0.3   # the app's refresh period (gan_lab/ui uses the same constant)
TARGETS = {"live_over_plain": (">=", 0.90), "hsn1r_every_step": ("<=", 2.0),
           "hsn1r_default": ("<=", 1.5), "frame_ms": ("<=", 80.0), "first_frame_s": ("<=", 1.0)}


def bench_configs(quick: bool) -> dict[str, RunConfig]:
    return {"ring8": RunConfig(dataset="ring8", sharpness_every=0, eval_every=10**5),
            "mnist": RunConfig(dataset="mnist", sharpness_every=0, eval_every=10**5)}


# --------------------------------------------------------------------------------------------
def plain_rate(cfg: RunConfig, seconds: float) -> float:
    """Steps/s of the simplest correct loop: same models, data, loss and optimizer; nothing else."""
    torch.manual_seed(cfg.seed)
    G, D = build_models(cfg)
    data = make_dataset(cfg)
    dev = torch.device("cpu")
    gen = torch.Generator().manual_seed(1)
    # foreach, as the trainer's (its cheapest bit-identical form on the CPU).
    og = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), foreach=True)
    od = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2), foreach=True)
    bs, nz = cfg.batch_size, cfg.latent_dim

    def step():
        for _ in range(cfg.d_steps):
            real = data.sample(bs, gen, dev)
            with torch.no_grad():
                fake = G(torch.randn(bs, nz, generator=gen))
            ld = d_loss_on(cfg.loss, D, real, fake)
            od.zero_grad(set_to_none=True)
            ld.backward()
            od.step()
        lg = g_loss(cfg.loss, D(G(torch.randn(bs, nz, generator=gen))))
        og.zero_grad(set_to_none=True)
        lg.backward()
        og.step()
        return lg

    return _timed(step, seconds)


def trainer_rate(cfg: RunConfig, seconds: float) -> float:
    tr = Trainer(cfg)
    return _timed(lambda: tr.run_steps(10), seconds, per_call=10)


def _timed(fn, seconds: float, per_call: int = 1) -> float:
    for _ in range(3):   # warm-up: allocator, autograd graph caches
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += per_call
    return n / (time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
class FrameConsumer:
    """Renders every frame the page would get: what gan_lab/ui does per timer tick."""

    def __init__(self):
        from . import plots

        self.plots = plots
        self.renderer = plots.FigureRenderer()
        self.times: list[float] = []

    def render(self, snap) -> float:
        from io import BytesIO

        p = self.plots
        t0 = time.perf_counter()
        p.loss_frame(snap)
        for kind in p.METRIC_SERIES:   # every chart the page draws (ui/stream.py's charts)
            p.metric_frame(snap, kind)
        for fig in (self.renderer.samples(snap), self.renderer.weights(snap)):
            with BytesIO() as buf:   # gr.Plot sends matplotlib figures as webp
                fig.savefig(buf, format="webp")
        dt = time.perf_counter() - t0
        self.times.append(dt)
        return dt


def live_rate(cfg: RunConfig, seconds: float, interval: float = FRAME_INTERVAL_S,
              pool=None) -> tuple[float, float]:
    """(steps/s of a job while frames render every `interval`, median frame ms). With a
    WorkerPool the job is the app's ProcessJob; without, an in-process thread TrainingJob."""
    consumer = FrameConsumer()
    big = cfg.replace(steps=10**6)
    job = ProcessJob(big, pool=pool) if pool is not None else TrainingJob(big)
    stop = threading.Event()

    def consume():
        while not stop.is_set():
            t = time.perf_counter()
            consumer.render(job.snapshot())
            stop.wait(max(0.0, interval - (time.perf_counter() - t)))

    job.start()
    time.sleep(0.3)   # warm-up
    th = threading.Thread(target=consume, daemon=True)
    th.start()
    s0, t0 = job.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    s1, t1 = job.snapshot().step, time.perf_counter()
    stop.set()
    th.join()
    job.stop()
    return (s1 - s0) / (t1 - t0), 1000 * statistics.median(consumer.times or [float("nan")])


def first_frame_s(cfg: RunConfig, pool) -> float:
    """From pressing Train (job created on a warm worker and started) to the first rendered
    frame showing trained steps, as in the app."""
    consumer = FrameConsumer()
    consumer.render(TrainingJob(cfg.replace(steps=1)).snapshot())  # the page's figures exist
    consumer.times.clear()
    time.sleep(1.0)
    t0 = time.perf_counter()
    job = ProcessJob(cfg.replace(steps=10**6), pool=pool)
    job.start()
    while job.snapshot().step == 0:
        time.sleep(0.005)
    consumer.render(job.snapshot())
    dt = time.perf_counter() - t0
    job.stop()
    return dt


def frame_ms(cfg: RunConfig, n: int) -> float:
    """Median ms for a full frame whose weights changed since the previous one."""
    consumer = FrameConsumer()
    job = TrainingJob(cfg.replace(steps=10**6))
    try:
        for _ in range(n + 1):
            job.step(5)
            job.wait(timeout=60)
            consumer.render(job.snapshot())
        return 1000 * statistics.median(consumer.times[1:])
    finally:
        job.stop()


# --------------------------------------------------------------------------------------------
def run(quick: bool = False, datasets=("ring8", "mnist"), rounds: int | None = None) -> dict:
    torch.set_num_threads(default_threads(RunConfig()))
    rounds = rounds or (2 if quick else 3)
    secs = 1.0 if quick else 3.0
    out: dict = {"device": "cpu", "threads": torch.get_num_threads(), "quick": quick,
                 "rounds": rounds, "seconds_per_measure": secs, "datasets": {}}
    pool = WorkerPool(processes=1)
    for name, cfg in bench_configs(quick).items():
        if name not in datasets:
            continue
        hsn_default = RunConfig().hsn_every
        variants = {"none": cfg, "l1": cfg.replace(reg="l1", lam=1e-3),
                    "l2": cfg.replace(reg="l2", lam=1e-3),
                    "hsn1r_every_step": cfg.replace(reg="hsn1r", lam=1e-3, hsn_every=1),
                    "hsn1r_exact_every_step": cfg.replace(reg="hsn1r", lam=1e-3, hsn_every=1,
                                                          hsn_method="exact"),
                    "hsn1r_default": cfg.replace(reg="hsn1r", lam=1e-3, hsn_every=hsn_default)}
        r: dict[str, list[float]] = {k: [] for k in ("plain", "trainer", "live", "live_frame_ms",
                                                      "live_thread", *variants)}
        for _ in range(rounds):   # interleaved: each round measures every variant once
            r["plain"].append(plain_rate(cfg, secs))
            r["trainer"].append(trainer_rate(cfg, secs))
            live, fms = live_rate(cfg, 2 * secs, pool=pool)
            r["live"].append(live)
            r["live_frame_ms"].append(fms)
            r["live_thread"].append(live_rate(cfg, 2 * secs)[0])
            for k, v in variants.items():
                r[k].append(trainer_rate(v, secs))
        med = {k: statistics.median(v) for k, v in r.items()}
        res = {
            "steps_per_s": {k: round(med[k], 1) for k in ("plain", "trainer", "live",
                                                            "live_thread")},
            "trainer_over_plain": round(med["trainer"] / med["plain"], 3),
            "live_over_plain": round(med["live"] / med["plain"], 3),
            "live_thread_over_plain": round(med["live_thread"] / med["plain"], 3),
            "reg_cost_vs_none": {k: round(med["none"] / med[k], 3) for k in variants},
            "hsn_every_default": hsn_default,
            "hsn_method_default": RunConfig().hsn_method,
            "frame_ms": round(frame_ms(cfg, 3 if quick else 8), 1),
            "frame_ms_while_training": round(med["live_frame_ms"], 1),
            "first_frame_s": round(first_frame_s(cfg, pool), 3),
            "raw": {k: [round(x, 2) for x in v] for k, v in r.items()},
        }
        out["datasets"][name] = res
    pool.close()
    if torch.cuda.is_available():
        out["cuda"] = cuda_table(quick)
    return out


def cuda_table(quick: bool) -> dict:
    """CPU vs CUDA trainer steps/s for a few sizes: the evidence behind device=auto's choice."""
    res = {}
    for name, cfg in {"ring8 default": RunConfig(),
                      "ring8 512x4 b1024": RunConfig(g_hidden=512, d_hidden=512, g_depth=4,
                                                     d_depth=4, batch_size=1024),
                      "mnist mlp": RunConfig.from_dict({"dataset": "mnist"}),
                      "mnist conv": preset_config("MNIST conv")}.items():
        cfg = cfg.replace(sharpness_every=0, eval_every=10**5)
        row = {}
        for dev in ("cpu", "cuda"):
            row[dev] = round(trainer_rate(cfg.replace(device=dev), 1.0 if quick else 3.0), 1)
        res[name] = row
    return res


def check_targets(res: dict) -> list[tuple[str, str, float, str, float, bool]]:
    rows = []
    for ds, r in res["datasets"].items():
        vals = {"live_over_plain": r["live_over_plain"],
                "hsn1r_every_step": r["reg_cost_vs_none"]["hsn1r_every_step"],
                "hsn1r_default": r["reg_cost_vs_none"]["hsn1r_default"],
                "frame_ms": r["frame_ms"], "first_frame_s": r["first_frame_s"]}
        for k, (op, target) in TARGETS.items():
            v = vals[k]
            ok = v >= target if op == ">=" else v <= target
            rows.append((ds, k, v, op, target, ok))
    return rows


def format_table(res: dict) -> str:
    lines = [f"device {res['device']}, {res['threads']} torch thread(s), "
             f"{res['rounds']} interleaved rounds x {res['seconds_per_measure']}s, medians", ""]
    for ds, r in res["datasets"].items():
        s = r["steps_per_s"]
        lines += [f"## {ds}",
                  f"steps/s  plain {s['plain']:.1f} | trainer {s['trainer']:.1f} "
                  f"({r['trainer_over_plain']:.2f}x) | live app {s['live']:.1f} "
                  f"({r['live_over_plain']:.2f}x of plain; a thread job instead of the app's "
                  f"worker process: {s['live_thread']:.1f}, {r['live_thread_over_plain']:.2f}x)",
                  "regularizer cost (time per step / none): " + ", ".join(
                      f"{k} {v:.2f}x" for k, v in r["reg_cost_vs_none"].items())
                  + f"  [hsn1r: method {r['hsn_method_default']} unless named; default: "
                    f"every {r['hsn_every_default']} steps]",
                  f"full UI frame {r['frame_ms']:.1f} ms (idle), "
                  f"{r['frame_ms_while_training']:.1f} ms while training; "
                  f"first frame {r['first_frame_s']:.3f} s", ""]
    if "cuda" in res:
        lines.append("## cpu vs cuda (trainer steps/s)")
        lines += [f"{k}: cpu {v['cpu']}, cuda {v['cuda']}" for k, v in res["cuda"].items()]
        lines.append("")
    lines.append("targets:")
    for ds, k, v, op, t, ok in check_targets(res):
        lines.append(f"  {'MET ' if ok else 'MISS'} {ds:6s} {k:17s} {v:g} (target {op} {t:g})")
    return "\n".join(lines)


def cmd_bench(args) -> int:
    from .config import ConfigError
    from .runs import check_out_dir, to_json

    out = Path(args.out)
    try:
        check_out_dir(out.parent, "--out")
        if out.is_dir():
            raise ConfigError("--out", f"{out} is a folder; give the JSON file to write")
        unknown = set(args.datasets.split(",")) - set(bench_configs(args.quick))
        if unknown:
            raise ConfigError("--datasets", f"unknown {', '.join(sorted(unknown))}; one or "
                                            f"more of {','.join(bench_configs(args.quick))}")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.figures:
        for ds in args.datasets.split(","):
            print(figure_frames(ds, 10 if args.quick else 30))
        return 0
    res = run(quick=args.quick, datasets=tuple(args.datasets.split(",")))
    text = format_table(res)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    res["targets"] = [dict(zip(("dataset", "metric", "value", "op", "target", "met"), row))
                      for row in check_targets(res)]
    out.write_text(to_json(res))
    print(f"wrote {out}")
    return 0


def figure_frames(dataset: str = "ring8", frames: int = 30) -> str:
    """Time frames of the samples + weights figures on successive snapshots of a real run
    (default widths), each with new weights, so nothing is served from the cache: wall time
    and this process's CPU time (roughly what an idle core would take), as text."""
    import dataclasses
    import io

    from . import plots
    from .run import Run
    from .snapshot import snapshot_of

    run = Run(RunConfig(dataset=dataset), start_eval=None)
    snaps = []
    for i in range(frames + 1):
        run.advance(5, view=False)
        snaps.append(dataclasses.replace(snapshot_of(run), weights_version=i + 1))
    r = plots.FigureRenderer()
    r.samples(snaps[0]).canvas.draw()
    r.weights(snaps[0]).canvas.draw()
    rows: dict[str, list[tuple[float, float]]] = {}
    for snap in snaps[1:]:
        marks = [(time.perf_counter(), time.process_time())]
        figs = (r.samples(snap), r.weights(snap))
        marks.append((time.perf_counter(), time.process_time()))
        for fig in figs:
            fig.canvas.draw()
        marks.append((time.perf_counter(), time.process_time()))
        for fmt in ("png", "webp"):
            for fig in figs:
                fig.savefig(io.BytesIO(), format=fmt)
            marks.append((time.perf_counter(), time.process_time()))
        names = ("update", "draw", "savefig png (draw+encode)", "savefig webp (draw+encode)")
        for name, a, b in zip(names, marks, marks[1:]):
            rows.setdefault(name, []).append((b[0] - a[0], b[1] - a[1]))
    lines = [f"{dataset}: samples + weights figures, {frames} frames, torch threads "
             f"{torch.get_num_threads()}"]
    for name, v in rows.items():
        wall, cpu = (np.array(x) * 1e3 for x in zip(*v))
        lines.append(f"  {name:28s} wall median {np.median(wall):6.1f} ms  p90 "
                     f"{np.percentile(wall, 90):6.1f} | cpu median {np.median(cpu):6.1f} ms  "
                     f"p90 {np.percentile(cpu, 90):6.1f}")
    return "\n".join(lines)


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="measure training and UI speed side by side")
    b.add_argument("--quick", action="store_true", help="short measurements (under a minute)")
    b.add_argument("--datasets", default="ring8,mnist", help="comma list: ring8,mnist")
    b.add_argument("--out", default="bench.json", help="where to write the JSON results")
    b.add_argument("--figures", action="store_true",
                   help="only time the samples + weights figures (update, draw, encode)")
    b.set_defaults(func=cmd_bench)
