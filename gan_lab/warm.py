"""Warm starts: trained GANs shipped in assets/warm/ (RunConfig.init = "trained").

scripts/make_warm_starts.py trains the "MNIST digits" (MLP) and "MNIST conv" presets and writes
one checkpoint per preset in gan_lab.checkpoint's format (G's and D's weights, G's weight average
where the preset keeps one, the RunConfig and step in the metadata; no optimizer state; float16
where float32 would pass 2 MB) and assets/warm/manifest.json: each file's SHA-256 and size, the
networks it fits (`net`: the dataset and every architecture field) and how it was made (command,
seed, steps, torch, date, CPU, CPU-seconds, the run's final metrics).

A config with init "trained" uses the checkpoint whose `net` equals its own dataset and
architecture fields; everything else (learning rates, regularizer, steps, seed, batch size, G's
weight average) is the new run's. `check_init` (called by RunConfig.validate) refuses a config
that has none, as a ConfigError on `init` naming what exists, before anything is built. `load`
reads the file, checks its SHA-256 against the manifest, and only then reads the tensors with
safetensors (checkpoint.load_checkpoint: names, shapes, finite floats); never pickle. The run
starts at step 0 from those weights with fresh optimizer moments, like `--init FILE`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .config import NET_FIELDS, ConfigError, RunConfig

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "warm"
MANIFEST = "manifest.json"
# The preset each shipped start belongs to (manifest key = the preset's --preset slug).
PRESET_NAMES = {"mnist": "MNIST digits", "mnist-conv": "MNIST conv"}

_cache: dict[tuple, object] = {}


def net_fields() -> tuple[str, ...]:
    """What a checkpoint must share with a config: the dataset and the architecture fields
    (G's weight average, the other NET_FIELDS entry, is fitted on loading)."""
    return tuple(n for n in NET_FIELDS if n != "g_ema")


def net_of(cfg: RunConfig) -> dict:
    return {k: getattr(cfg, k) for k in net_fields()}


def _stamp(p: Path) -> tuple | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p), st.st_size, st.st_mtime_ns)


def manifest(root: Path = ASSETS) -> dict[str, dict]:
    """slug -> entry of the shipped manifest ({} when there is none). Read once per change of
    the file. A malformed one raises ConfigError on `init`."""
    stamp = _stamp(root / MANIFEST)
    if stamp is None:
        return {}
    key = ("manifest", stamp)
    if key not in _cache:
        try:
            data = json.loads((root / MANIFEST).read_text())
            ok = isinstance(data, dict) and all(
                isinstance(e, dict) and isinstance(e.get("file"), str)
                and isinstance(e.get("sha256"), str) and isinstance(e.get("net"), dict)
                for e in data.values())
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise ConfigError("init", f"{root / MANIFEST} is not a valid warm-start manifest; "
                                      "rerun scripts/make_warm_starts.py")
        _cache[key] = data
    return dict(_cache[key])


def find(cfg: RunConfig, root: Path = ASSETS) -> tuple[str, dict] | None:
    """(slug, manifest entry) of the shipped checkpoint that fits cfg, or None."""
    want = net_of(cfg)
    for slug, e in manifest(root).items():
        if e["net"] == want:
            return slug, e
    return None


def describe(slug: str, e: dict) -> str:
    n = e["net"]
    name = PRESET_NAMES.get(slug, slug)
    return (f"{name} (--preset {slug}: {n.get('dataset')}, {n.get('arch')}, latent "
            f"{n.get('latent_dim')}, G {n.get('g_hidden')} x {n.get('g_depth')}, D "
            f"{n.get('d_hidden')} x {n.get('d_depth')}, {e.get('steps', '?')} steps)")


def check_init(cfg: RunConfig, root: Path = ASSETS) -> None:
    """Raise ConfigError on `init` unless a shipped checkpoint fits cfg (init "trained")."""
    if find(cfg, root) is not None:
        return
    entries = manifest(root)
    if not entries:
        raise ConfigError("init", "no trained GANs are shipped with this copy (assets/warm is "
                                  "empty); use init random")
    want = net_of(cfg)
    same = [(slug, e) for slug, e in entries.items() if e["net"].get("dataset") == cfg.dataset]
    if same:
        slug, e = min(same, key=lambda se: sum(se[1]["net"].get(k) != v
                                               for k, v in want.items()))
        diff = [f"{k} {want[k]} (it has {e['net'].get(k)})" for k in want
                if e["net"].get(k) != want[k]]
        why = (f"the nearest, {PRESET_NAMES.get(slug, slug)}, differs in "
               + ", ".join(diff[:4]) + (" and more" if len(diff) > 4 else ""))
    else:
        why = f"none is trained on {cfg.dataset}"
    raise ConfigError("init", f"no trained GAN is shipped for this dataset and architecture: "
                              f"{why}. Shipped: "
                              + "; ".join(describe(s, e) for s, e in entries.items())
                              + ". Press that preset first, or set init to random")


def _verified_bytes(slug: str, e: dict, root: Path) -> bytes:
    name = e["file"]
    path = (root / name).resolve()
    if Path(name).name != name or path.parent != root.resolve():
        raise ConfigError("init", f"the manifest's file for {slug} is not a plain file name "
                                  "in assets/warm")
    stamp = _stamp(path)
    if stamp is None:
        raise ConfigError("init", f"assets/warm/{name} is missing; rerun "
                                  "scripts/make_warm_starts.py")
    key = ("bytes", stamp, e["sha256"])
    if key not in _cache:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != e["sha256"]:
            raise ConfigError("init", f"assets/warm/{name} does not match its SHA-256 in the "
                                      "manifest (changed or damaged); rerun "
                                      "scripts/make_warm_starts.py")
        _cache[key] = data
    return _cache[key]


def load(cfg: RunConfig, root: Path = ASSETS) -> tuple[dict, dict]:
    """(G state, D state) of the shipped checkpoint that fits cfg, float32, its SHA-256
    checked; fitted to cfg's G weight average (checkpoint._fit_average)."""
    from .checkpoint import CheckpointError, load_checkpoint

    found = find(cfg, root)
    if found is None:
        check_init(cfg, root)   # raises, naming what exists
    slug, e = found
    try:
        _, g, d, _ = load_checkpoint(_verified_bytes(slug, e, root), cfg)
    except CheckpointError as err:
        raise ConfigError("init", f"assets/warm/{e['file']}: {err}") from None
    return g, d
