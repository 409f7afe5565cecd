"""Train the shipped warm starts (assets/warm/): the "MNIST digits" (MLP) and "MNIST conv" presets.

Each preset is trained exactly as `python -m gan_lab train --preset SLUG --seed SEED` would (the
CLI's own train function, one torch thread), then its checkpoint is rewritten for shipping:

- G and D weights (and G's weight average, when the preset keeps one), in safetensors, with the
  RunConfig JSON and the step in its metadata (gan_lab.checkpoint's format);
- no optimizer state (a warm start's Adam moments start fresh, like `--init FILE`);
- float16 where float32 would pass the 2 MB cap (the MLP: 682,513 weights), else float32.
  Loading turns every tensor back into float32.

The SHA-256, size and provenance (command, seed, steps, torch version, date, CPU, CPU-seconds,
the run's final MNIST metrics) go into assets/warm/manifest.json, which gan_lab.warm reads and
checks every file against before loading it.

Usage (from the repository root; ~5-15 CPU-minutes on one core):
    python scripts/make_warm_starts.py [--only mnist] [--seed 0] [--work DIR]

The run folders (samples.png, metrics.csv, summary.json) are kept under --work for inspection.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

MAX_BYTES = 2_000_000
# slug of the preset -> the file name under assets/warm/ (gan_lab.warm.ENTRIES says the same).
SLUGS = ("mnist", "mnist-conv")
METRIC_KEYS = ("digits_covered", "cls_is", "fcd", "sparsity_d", "zeros_d", "sharpness_d")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def shipped_tensors(ckpt: Path, dtype):
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(ckpt), "pt") as f:
        meta = f.metadata()
    tensors = {k: v.to(dtype).contiguous() for k, v in load_file(str(ckpt)).items()}
    return tensors, meta


def make(slug: str, seed: int, work: Path, out_dir: Path, steps: int | None = None) -> dict:
    import torch
    from safetensors.torch import save

    from gan_lab import cli
    from gan_lab.config import RunConfig
    from gan_lab.presets import preset_fields

    fields = {**preset_fields(slug), "seed": seed}
    if steps is not None:
        fields["steps"] = steps
    cfg = RunConfig.from_dict(fields)
    run_dir = work / f"{slug}-seed{seed}"
    started = datetime.datetime.now(datetime.timezone.utc)
    summary = cli.train(cfg, run_dir, quiet=True, threads=1)
    data = None
    for dtype in (torch.float32, torch.float16):
        tensors, meta = shipped_tensors(run_dir / "checkpoint.safetensors", dtype)
        data = save(tensors, metadata=meta)
        if len(data) <= MAX_BYTES:
            break
    if len(data) > MAX_BYTES:
        raise SystemExit(f"{slug}: {len(data):,} bytes even in float16; the cap is {MAX_BYTES:,}")
    name = f"{slug}.safetensors"
    (out_dir / name).write_bytes(data)
    final = summary["final"]
    return {
        "file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "dtype": str(dtype).removeprefix("torch."),
        "preset": slug, "dataset": cfg.dataset, "arch": cfg.arch, "seed": seed,
        "steps": summary["steps"],
        "stores": "G and D weights" + (" and G's weight average" if cfg.g_ema > 0 else "")
                  + "; no optimizer state",
        "command": f"python scripts/make_warm_starts.py --only {slug} --seed {seed}"
                   + (f" --steps {steps}" if steps is not None else ""),
        "equivalent_train": f"python -m gan_lab train --preset {slug} --seed {seed}"
                            + (f" --steps {steps}" if steps is not None else "") + " --out DIR",
        "torch": torch.__version__, "python": platform.python_version(),
        "date": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "cpu": cpu_name(), "threads": 1,
        "cpu_s": summary["cpu_s"], "total_cpu_s": summary["total_cpu_s"],
        "metrics": {k: round(float(final[k]), 4) for k in METRIC_KEYS if k in final},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=SLUGS, action="append", help="make only this one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=Path("/tmp/gan_lab_warm"),
                   help="where the training runs' folders go")
    p.add_argument("--out", type=Path, default=ROOT / "assets" / "warm")
    p.add_argument("--steps", type=int, default=None,
                   help="train this many steps instead of the preset's")
    p.add_argument("--reindex", action="store_true",
                   help="train nothing: recheck the manifest's hashes and sizes and refill each "
                        "entry's `net` from its file's stored config")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    manifest_path = a.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for slug in [] if a.reindex else a.only or SLUGS:
        entry = make(slug, a.seed, a.work, a.out, a.steps)
        manifest[slug] = entry
        write_manifest(manifest_path, manifest)
        print(json.dumps(entry, indent=2), flush=True)
    write_manifest(manifest_path, manifest)
    return 0


def write_manifest(path: Path, manifest: dict) -> None:
    """Each entry's hash and size checked against its file, and its `net` (what
    gan_lab.warm matches a config on) read from the file's own stored config."""
    from safetensors import safe_open

    from gan_lab.config import RunConfig
    from gan_lab.warm import net_of

    for slug, e in manifest.items():
        f = path.parent / e["file"]
        data = f.read_bytes()
        if hashlib.sha256(data).hexdigest() != e["sha256"] or len(data) != e["bytes"]:
            raise SystemExit(f"{f} does not match its manifest entry {slug}")
        with safe_open(str(f), "pt") as st:
            e["net"] = net_of(RunConfig.from_json(st.metadata()["config"]))
    path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    (path.parent / "README.md").write_text(readme(manifest))


def readme(manifest: dict) -> str:
    """assets/warm/README.md: the manifest in words (written with it, never edited by hand)."""
    rows = []
    for slug, e in sorted(manifest.items()):
        m = e["metrics"]
        rows.append(f"| `{e['file']}` | `--preset {slug}` ({e['arch']}), seed {e['seed']}, "
                    f"{e['steps']:,} steps | {e['dtype']}, {e['bytes']:,} bytes | "
                    f"{m.get('digits_covered', float('nan')):.0f}/10 digits, IS "
                    f"{m.get('cls_is', float('nan')):.2f}, FCD {m.get('fcd', float('nan')):.1f} | "
                    f"{e['cpu_s']:.0f} s ({e['threads']} thread, {e['cpu']}), {e['date']} | "
                    f"`{e['sha256']}` |")
    first = next(iter(manifest.values()), {})
    return f"""# assets/warm: trained GANs to start from (`init trained`)

Written by `scripts/make_warm_starts.py` together with `manifest.json` (do not edit by hand).
Each file is a GAN Lab checkpoint (gan_lab/checkpoint.py's format, safetensors): G's and D's
weights (and G's weight average where the preset keeps one), the RunConfig it was trained with
and its step in the metadata. **No optimizer state**: a run started from it (`--init trained`,
*Start from: A trained GAN* in the app, `init=trained` in a link) begins at step 0 with fresh
Adam moments, like `--init FILE`. The MLP is stored as float16 (float32 would be 2.7 MB, over
the 2 MB cap); loading turns every tensor back into float32. gan_lab/warm.py checks each file's
SHA-256 against `manifest.json` before safetensors reads it (never pickle) and uses it only for
a config with the same dataset and architecture fields (`net` in the manifest).

| File | Trained as | Stored | Final MNIST metrics | Training CPU-seconds | SHA-256 |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Metrics are the run's final evaluation (gan_lab.metrics: classes covered by 1,000 samples, the
bundled classifier's Inception Score, Frechet distance in its feature space; lower FCD is
better). CPU-seconds are the training loop's process CPU time (evaluations included) on one
torch thread, on a machine shared with other sessions (torch {first.get('torch', '?')}, Python
{first.get('python', '?')}). Each file's `command` in the manifest reproduces it; its
`equivalent_train` is the same run through the CLI.
"""


if __name__ == "__main__":
    raise SystemExit(main())
