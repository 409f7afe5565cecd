"""2-D training distributions: the exact PacGAN mixtures, teaching shapes and user points.

Definitions (all samples are float32; noise is isotropic Gaussian with the given std):

=============  ==============================================================================
ring8          8 equal-weight Gaussians, means (cos 2*pi*k/8, sin 2*pi*k/8), k = 0..7, std 0.01
grid25         25 equal-weight Gaussians, means {-4, -2, 0, 2, 4}^2, std 0.05
spiral         one Archimedean spiral of two turns, r = 2 * theta / (4 pi), theta = 4 pi sqrt(u)
               (u ~ U(0, 1), so points are spread evenly along the curve), noise 0.05
moons          sklearn's two moons centred at 0: upper (cos t, sin t) - (0.5, 0.25), lower
               (1 - cos t, 0.5 - sin t) - (0.5, 0.25), t ~ U(0, pi), each half, noise 0.05
circles        two concentric circles, radii 1 and 0.5, each half, uniform angle, noise 0.03
line           the segment from (-1, -1) to (1, 1), uniform along it, noise 0.02
two_gaussians  2 equal-weight Gaussians, means (-1, 0) and (1, 0), std 0.2
=============  ==============================================================================

ring8 and grid25 are the synthetic sets of PacGAN (Lin et al., 2018), so its Table 1 can be
compared directly; their mode centres and std are exposed for the mode-coverage metric.

Every sampler draws from the torch.Generator it is given (on that generator's device) and nothing
else, so a seeded generator gives the same batches every run.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np
import torch

RING8_STD = 0.01
GRID25_STD = 0.05
RING8_MODES = np.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)]
                        for k in range(8)])
GRID25_MODES = np.array([[x, y] for x in (-4.0, -2.0, 0.0, 2.0, 4.0)
                         for y in (-4.0, -2.0, 0.0, 2.0, 4.0)])

SHAPES = ("ring8", "grid25", "spiral", "moons", "circles", "line", "two_gaussians")

# Square bounds so the discriminator heatmap is not stretched; each leaves room for the noise and
# for a generator that overshoots a little.
BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "ring8": (-1.5, 1.5, -1.5, 1.5),
    "grid25": (-6.0, 6.0, -6.0, 6.0),
    "spiral": (-2.5, 2.5, -2.5, 2.5),
    "moons": (-2.0, 2.0, -2.0, 2.0),
    "circles": (-1.5, 1.5, -1.5, 1.5),
    "line": (-1.5, 1.5, -1.5, 1.5),
    "two_gaussians": (-2.0, 2.0, -2.0, 2.0),
}

MAX_POINTS = 100_000
MAX_COORD = 1e6          # beyond this float32 training loses all precision in the small details
MAX_CSV_BYTES = 20_000_000

_MIXTURES = {
    "ring8": (RING8_MODES, RING8_STD),
    "grid25": (GRID25_MODES, GRID25_STD),
    "two_gaussians": (np.array([[-1.0, 0.0], [1.0, 0.0]]), 0.2),
}


def _check_shape(name: str) -> None:
    if name not in SHAPES:
        raise ValueError(f"dataset: unknown 2-D shape {name!r}; choose one of {', '.join(SHAPES)}")


def modes(name: str) -> np.ndarray | None:
    """K x 2 mode centres of ring8 / grid25 (a copy); None for the other shapes."""
    _check_shape(name)
    return _MIXTURES[name][0].copy() if name in ("ring8", "grid25") else None


def mode_std(name: str) -> float | None:
    """Per-axis std of each mode of ring8 / grid25; None for the other shapes."""
    _check_shape(name)
    return _MIXTURES[name][1] if name in ("ring8", "grid25") else None


def bounds(name: str) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) for plotting the shape."""
    _check_shape(name)
    return BOUNDS[name]


@lru_cache(maxsize=64)
def _means_on(name: str, device: torch.device) -> torch.Tensor:
    # Cached so a batch costs no host-to-device copy of the means.
    return torch.as_tensor(_MIXTURES[name][0], dtype=torch.float32, device=device)


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: number of samples must be a whole number >= 0, got {n!r}")
    return int(n)


def sample(name: str, n: int, gen: torch.Generator, device=None) -> torch.Tensor:
    """n samples of a named shape as a float32 [n, 2] tensor on `device` (default: gen's device).

    Random numbers come from `gen` on its own device; if `device` differs the batch is moved.
    """
    _check_shape(name)
    n = _check_n(n)
    gd = gen.device
    kw = dict(generator=gen, device=gd, dtype=torch.float32)
    if name in _MIXTURES:
        means, std = _means_on(name, gd), _MIXTURES[name][1]
        idx = torch.randint(0, len(means), (n,), generator=gen, device=gd)
        x = means[idx] + std * torch.randn(n, 2, **kw)
    elif name == "spiral":
        theta_max = 4 * math.pi
        theta = theta_max * torch.rand(n, **kw).sqrt()
        r = 2.0 * theta / theta_max
        x = torch.stack((r * theta.cos(), r * theta.sin()), 1) + 0.05 * torch.randn(n, 2, **kw)
    elif name == "moons":
        lower = torch.randint(0, 2, (n,), generator=gen, device=gd).bool()
        t = math.pi * torch.rand(n, **kw)
        c, s = t.cos(), t.sin()
        x = torch.where(lower.unsqueeze(1), torch.stack((1 - c, 0.5 - s), 1),
                        torch.stack((c, s), 1))
        x = x - torch.tensor([0.5, 0.25], device=gd) + 0.05 * torch.randn(n, 2, **kw)
    elif name == "circles":
        inner = torch.randint(0, 2, (n,), generator=gen, device=gd).bool()
        r = torch.where(inner, 0.5, 1.0)
        a = 2 * math.pi * torch.rand(n, **kw)
        x = torch.stack((r * a.cos(), r * a.sin()), 1) + 0.03 * torch.randn(n, 2, **kw)
    else:  # line
        t = 2 * torch.rand(n, **kw) - 1
        x = torch.stack((t, t), 1) + 0.02 * torch.randn(n, 2, **kw)
    return x if device is None else x.to(device)


# --- user points ------------------------------------------------------------------------------

def validate_points(points, source: str = "points") -> np.ndarray:
    """Check an N x 2 array-like of user points; return it as float64 numpy (a copy).

    Allowed: 1 <= N <= MAX_POINTS rows, every value finite with |value| <= MAX_COORD.
    """
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    try:
        arr = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: must be an N x 2 array of numbers (x, y per row)") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{source}: must be an N x 2 array (x, y per row), got shape "
                         f"{tuple(arr.shape)}")
    if not 1 <= len(arr) <= MAX_POINTS:
        raise ValueError(f"{source}: must have between 1 and {MAX_POINTS:,} points, got "
                         f"{len(arr):,}")
    bad = ~np.isfinite(arr).all(axis=1) | (np.abs(arr) > MAX_COORD).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{source}: row {i} ({arr[i, 0]:g}, {arr[i, 1]:g}) is out of range; "
                         f"every value must be finite with |value| <= {MAX_COORD:g}")
    return arr


def parse_points_csv(text: str, source: str = "CSV") -> np.ndarray:
    """Parse x,y rows (comma, semicolon, tab or space separated) into an N x 2 float64 array.

    Blank lines and lines starting with '#' are skipped; the first other line may be a header
    (any non-numeric first row). Errors name the 1-based line number.
    """
    text = text.lstrip("\ufeff")
    rows: list[tuple[float, float]] = []
    first = True
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for sep in (";", "\t"):
            line = line.replace(sep, ",")
        fields = [f.strip() for f in line.split(",")] if "," in line else line.split()
        shown = raw.strip() if len(raw.strip()) <= 60 else raw.strip()[:57] + "..."
        try:
            vals = [float(f) for f in fields]
        except ValueError:
            if first:
                first = False
                continue  # a header such as "x,y"
            raise ValueError(f"{source} line {lineno}: expected two numbers x,y, got "
                             f"{shown!r}") from None
        first = False
        if len(vals) != 2:
            raise ValueError(f"{source} line {lineno}: expected two values x,y, got {len(vals)} "
                             f"({shown!r})")
        if not all(math.isfinite(v) and abs(v) <= MAX_COORD for v in vals):
            raise ValueError(f"{source} line {lineno}: {shown!r} is out of range; every value "
                             f"must be finite with |value| <= {MAX_COORD:g}")
        if len(rows) == MAX_POINTS:
            raise ValueError(f"{source}: more than {MAX_POINTS:,} points (line {lineno}); the "
                             f"limit is {MAX_POINTS:,}")
        rows.append((vals[0], vals[1]))
    if not rows:
        raise ValueError(f"{source}: no points found; expected rows of x,y numbers")
    return np.array(rows, dtype=np.float64)


def load_points_csv(path) -> np.ndarray:
    """Read a CSV file of x,y rows (see parse_points_csv); at most MAX_CSV_BYTES."""
    name = os.path.basename(os.fspath(path))
    size = os.path.getsize(path)
    if size > MAX_CSV_BYTES:
        raise ValueError(f"{name}: file is {size / 1e6:.1f} MB; the limit is "
                         f"{MAX_CSV_BYTES / 1e6:.0f} MB ({MAX_POINTS:,} points)")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not a UTF-8 text file; expected rows of x,y numbers") from None
    return parse_points_csv(text, source=name)


def points_bounds(points: np.ndarray) -> tuple[float, float, float, float]:
    """Square plot bounds around user points with a 10% margin (centred on their bounding box)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * 1.1, 1e-3 * max(1.0, float(np.abs(centre).max())),
               0.1)
    return (float(centre[0] - half), float(centre[0] + half),
            float(centre[1] - half), float(centre[1] + half))


def sample_rows(data: torch.Tensor, n: int, gen: torch.Generator, device=None) -> torch.Tensor:
    """n rows of `data` drawn uniformly with replacement (one randint and one index).

    `data` should already live on the target device; the indices are drawn on gen's device.
    """
    n = _check_n(n)
    idx = torch.randint(0, len(data), (n,), generator=gen, device=gen.device).to(data.device)
    # index_select on a flat 2-D view is ~20x faster on CPU than data[idx] for image rows.
    out = data.reshape(len(data), -1).index_select(0, idx).view(n, *data.shape[1:])
    return out if device is None else out.to(device)
