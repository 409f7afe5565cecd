"""Sweep results, read back from the run folders only: results.csv, results.json, summary.md
(PacGAN-style table) and tradeoff.png."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .. import evaluate, runs
from .notes import quality_metric
from .plan import METRIC_ORDER, TIME_KEYS, Point, fmt_value


# --------------------------------------------------------------------------------------------
# Results: read back from the folders
# --------------------------------------------------------------------------------------------
def gather(out: Path, points: list[Point], grid_names: list[str]) -> list[dict]:
    """One record per finished run folder of the plan: folder, grid values (None where
    collapsed), seed, id, steps, device, diverged, and metrics (summary "final" plus times)."""
    records = []
    for p in points:
        folder = out / p.folder
        if not runs.is_complete(folder):
            continue
        s = json.loads((folder / runs.SUMMARY).read_text())
        values = dict(p.values)
        m = dict(s.get("final", {}))
        m["wall_s"] = s.get("total_wall_s", s.get("wall_s"))
        m["cpu_s"] = s.get("total_cpu_s", s.get("cpu_s"))
        m["loop_wall_s"] = s.get("wall_s")
        m["loop_cpu_s"] = s.get("cpu_s")
        records.append({"folder": p.folder, **{k: values.get(k) for k in grid_names},
                        "seed": p.seed, "id": s.get("id"), "steps": s.get("steps"),
                        "device": s.get("device"), "diverged": s.get("diverged"),
                        "metrics": {k: v for k, v in m.items() if v is not None}})
    return records


def metric_keys(records: list[dict]) -> list[str]:
    seen = {k for r in records for k in r["metrics"] if k not in TIME_KEYS}
    first = [k for k in METRIC_ORDER if k in seen]
    return first + sorted(seen - set(first)) + list(TIME_KEYS)


def results_csv(records: list[dict], grid_names: list[str]) -> str:
    import csv
    import io

    keys = metric_keys(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["folder", *grid_names, "seed", "id", "steps", "device", "diverged", *keys])
    for r in records:
        w.writerow([r["folder"], *("" if r[k] is None else fmt_value(r[k]) for k in grid_names),
                    r["seed"], r["id"], r["steps"], r["device"], r["diverged"] or "",
                    *(_cell(r["metrics"].get(k)) for k in keys)])
    return buf.getvalue()


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


def table_columns(points: list[Point]) -> list[tuple[str, str, float, int | None]]:
    images = {p.cfg.is_image for p in points}
    cols = []
    if False in images:
        cols += evaluate.TOY_COLUMNS
    if True in images:
        cols += evaluate.MNIST_COLUMNS
    return cols + evaluate.COMMON_COLUMNS


def markdown(doc: dict) -> str:
    grid_names = list(doc["grid"])
    cols = [tuple(c) for c in doc["columns"]]
    lines = [f"## GAN Lab sweep: {doc['out']}", "",
             f"Command: `{doc['command']}`", "",
             evaluate.device_line(doc["device"], doc["backend"]), "",
             f"Seeds {', '.join(map(str, doc['seeds']))}; mean ± standard error over seeds "
             f"(n runs per row); {doc['finished']} of {doc['planned']} runs finished.", ""]
    head = [*grid_names, "n", "Diverged", *(c[1] for c in cols)]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for row in doc["points"]:
        cells = ["–" if row[k] is None else fmt_value(row[k]) for k in grid_names]
        cells += [str(row["n"]), str(row["diverged"])]
        for key, _title, scale, dec in cols:
            v = row.get(key) or {"mean": None, "se": None}
            cells.append(evaluate.fmt_mean_se(evaluate._nan(v["mean"]), evaluate._nan(v["se"]),
                                              scale, dec))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Fixed settings: " + (evaluate._fields_str(doc["fixed"]) if doc["fixed"]
                                          else "(defaults)"), ""]
    notes = []
    if doc["collapsed"]:
        notes.append("reg=none ignores " + ", ".join(doc["collapsed"]) + ": its runs would be "
                     "identical along those fields, so each seed runs once and its row shows "
                     "– there (in tradeoff.png: a dashed reference line).")
    notes.append("Wall s and CPU s: the whole run (building the nets, training, evaluations, "
                 "writing the folder); results.csv also has loop_wall_s and loop_cpu_s, the "
                 "training loop alone. CPU s is the better speed figure on a shared machine.")
    notes.append("Every number is read back from the run folders (OUT/<grid point>/seed<k>/"
                 "summary.json); results.csv has one row per run.")
    lines += ["Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def command_line(fixed, grid, seeds, jobs, backend, out, address, cpus, gpus, png) -> str:
    parts = ["python -m gan_lab sweep"]
    parts += [f"--set {k}={fmt_value(v)}" for k, v in fixed.items()]
    parts += [f"--grid {k}={','.join(fmt_value(v) for v in vs)}" for k, vs in grid.items()]
    parts += [f"--seeds {','.join(map(str, seeds))}", f"--jobs {jobs}", f"--backend {backend}"]
    if address:
        parts.append(f"--address {address}")
    if cpus != 1:
        parts.append(f"--cpus-per-run {cpus:g}")
    if gpus:
        parts.append(f"--gpus-per-run {gpus:g}")
    if not png:
        parts.append("--no-png")
    parts.append(f"--out {out}")
    return " ".join(parts)


def write_results(out: Path, points: list[Point], fixed: dict, grid: dict, seeds: list[int],
                  *, command: str, backend: str, jobs: int, png_plot: bool = True) -> dict:
    """Gather the finished folders and write results.csv, results.json, summary.md and
    tradeoff.png into out. Returns the results document."""
    grid_names = list(grid)
    records = gather(out, points, grid_names)
    cols = table_columns(points)
    keys = sorted({k for r in records for k in r["metrics"]} | {c[0] for c in cols})
    collapsed = [k for k in grid_names if k in runs.REG_ONLY
                 and any(p.cfg.reg == "none" for p in points)]
    doc = {
        "out": str(out), "command": command, "backend": backend,
        "device": evaluate.device_info(records, jobs),
        "grid": {k: list(v) for k, v in grid.items()}, "fixed": fixed,
        "seeds": list(seeds), "collapsed": collapsed,
        "planned": len(points), "finished": len(records),
        "columns": [list(c) for c in cols],
        "points": evaluate.aggregate(records, keys, by=tuple(grid_names)),
        "runs": records,
    }
    (out / "results.csv").write_text(results_csv(records, grid_names))
    (out / "results.json").write_text(runs.to_json(doc))
    (out / "summary.md").write_text(markdown(doc))
    if png_plot and records:
        try:
            tradeoff_png(doc, out / "tradeoff.png")
        except ImportError as e:
            print(f"warning: tradeoff.png not written ({e})", file=sys.stderr)
    return doc


# --------------------------------------------------------------------------------------------
# The trade-off figure
# --------------------------------------------------------------------------------------------
def tradeoff_png(doc: dict, path: Path) -> None:
    """The Sweep tab's trade-off figure (plots.overlay.tradeoff_figure) of the sweep: quality,
    D sparsity and D sharpness against the last gridded field (lam when gridded), one line per
    value of the other gridded fields, mean +- SE over seeds; points the gridded field does not
    touch (reg=none) as dashed reference lines."""
    from ..plots.overlay import tradeoff_figure

    names = list(doc["grid"])
    x = "lam" if "lam" in names else (names[-1] if names else None)
    image = any(c[0] == "digits_covered" for c in doc["columns"]) and \
        not any(c[0] == "modes" for c in doc["columns"])
    qk, qname, qs = quality_metric(image)
    rows = []
    for p in doc["points"]:
        row = {"value": p.get(x) if x else None, "quality_name": qname,
               "series": ", ".join(f"{k}={fmt_value(p[k])}" for k in names
                                   if k != x and p.get(k) is not None) or None}
        for key, src, scale in (("quality", qk, qs), ("sparsity_d", "sparsity_d", 100),
                                ("sharpness_d", "sharpness_d", 1)):
            m = p.get(src) or {}
            row[key] = None if m.get("mean") is None else m["mean"] * scale
            row[key + "_se"] = (m.get("se") or 0.0) * scale
        rows.append(row)
    if all(isinstance(r["value"], (int, float)) for r in rows if r["value"] is not None):
        rows.sort(key=lambda r: (r["value"] is None, r["value"] or 0))
    tradeoff_figure(rows, x or "value").savefig(path, format="png")
