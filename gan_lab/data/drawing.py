"""A distribution painted with the mouse: counts on a 64 x 64 grid over [-2, 2]^2.

Each click sprays points around where it lands (`spray`); the training points are made from
the counts deterministically (`points`), so a drawing is a small value that fits in a share
link (`encode`/`decode`: zlib + base64url, at most a few hundred characters) and reproduces
the very same points anywhere. `canvas` draws it (PIL only) for the page.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

GRID = 64
LIMIT = 2.0                  # the canvas shows [-LIMIT, LIMIT]^2
CELL = 2 * LIMIT / GRID
MAX_POINTS = 3000            # the whole drawing
MAX_PER_CELL = 255
MAX_ENCODED = 4096           # characters of an encoded drawing we accept
REAL = (27, 120, 55)         # the plots' "real data" green


def empty() -> np.ndarray:
    return np.zeros((GRID, GRID), dtype=np.uint16)


def to_data(px: float, py: float, size: int) -> tuple[float, float]:
    """Canvas pixel (x right, y down) -> data coordinates (x right, y up)."""
    return (px / size * 2 - 1) * LIMIT, (1 - py / size * 2) * LIMIT


def spray(counts: np.ndarray, x: float, y: float, n: int = 20, spread: float = 0.08,
          seed: int = 0) -> np.ndarray:
    """The counts `n` points around (x, y) (data units, Gaussian spread) add, as a new array of
    the grid's shape (so a click can be undone by subtracting it). Points off the canvas and
    beyond MAX_POINTS in all are dropped."""
    room = MAX_POINTS - int(counts.sum())
    add = np.zeros_like(counts)
    if room <= 0 or n <= 0:
        return add
    rng = np.random.default_rng([seed, int(abs(x) * 1e4), int(abs(y) * 1e4)])
    pts = rng.normal((x, y), max(spread, 1e-3), size=(min(n, room), 2))
    ij = np.floor((pts + LIMIT) / CELL).astype(int)
    ok = ((ij >= 0) & (ij < GRID)).all(axis=1)
    for i, j in ij[ok]:
        if counts[j, i] + add[j, i] < MAX_PER_CELL:
            add[j, i] += 1          # rows are y (from the bottom), columns x
    return add


def stroke(add: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A click's added counts, kept small for Undo: (flat indices of its cells, their counts).
    A click adds at most 50 points, so a few hundred bytes, where the dense grid is 8 KiB."""
    idx = np.flatnonzero(add)
    return idx.astype(np.uint16), add.flat[idx].astype(np.uint8)


def undo(counts: np.ndarray, st: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The counts without one stroke (see `stroke`)."""
    out = counts.copy()
    idx, vals = st
    out.flat[idx.astype(np.intp)] -= vals.astype(out.dtype)
    return out


def points(counts: np.ndarray) -> np.ndarray:
    """The N x 2 training points of a drawing: for each cell, its count of points spread
    evenly (deterministically) inside it."""
    counts = np.asarray(counts)
    out = []
    rng = np.random.default_rng(12345)
    for j, i in zip(*np.nonzero(counts)):
        c = int(counts[j, i])
        u = rng.random((c, 2))
        x0, y0 = -LIMIT + i * CELL, -LIMIT + j * CELL
        out.append(np.stack([x0 + u[:, 0] * CELL, y0 + u[:, 1] * CELL], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2))


def encode(counts: np.ndarray) -> str:
    data = zlib.compress(np.asarray(counts, dtype=np.uint8).tobytes(), 9)
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode(text: str) -> np.ndarray:
    """The counts of an encoded drawing; ValueError (saying why) for anything else."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_ENCODED:
        raise ValueError(f"a drawing is 1 to {MAX_ENCODED} characters of base64")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        d = zlib.decompressobj()
        data = d.decompress(raw, GRID * GRID + 1)   # bounded: no decompression bomb
    except (ValueError, zlib.error):
        raise ValueError("the drawing is not valid (bad encoding)") from None
    if len(data) != GRID * GRID or d.unconsumed_tail:
        raise ValueError("the drawing is not valid (wrong size)")
    counts = np.frombuffer(data, dtype=np.uint8).reshape(GRID, GRID).astype(np.uint16)
    if counts.sum() > MAX_POINTS:
        raise ValueError(f"the drawing has more than {MAX_POINTS:,} points")
    return counts


def canvas(counts: np.ndarray, size: int = 400) -> np.ndarray:
    """The drawing as an H x W x 3 uint8 picture: a light grid, the axes, the points."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for k in range(-4, 5):              # grid lines every 0.5
        v = round((k * 0.5 / LIMIT + 1) / 2 * size)
        col = (150, 150, 150) if k == 0 else (228, 228, 228)
        d.line([(v, 0), (v, size)], fill=col)
        d.line([(0, v), (size, v)], fill=col)
    pts = points(counts)
    if len(pts):
        px = (pts[:, 0] / LIMIT + 1) / 2 * size
        py = (1 - pts[:, 1] / LIMIT) / 2 * size
        for x, y in zip(px, py):
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=REAL)
    return np.asarray(img)
