"""Training data behind one small interface: `make_dataset(cfg, points=None) -> Dataset`.

A Dataset only knows how to draw a batch; the trainer, metrics and plots read its description
(name, shape, modes, std, bounds, is_image) and never branch on how the samples are made.

`KINDS` is the registry of datasets: name -> DatasetKind (label, is_image, whether it needs the
user's points, how to make it, its sample shape, evaluation and view sizes and its quality
metrics). RunConfig's dataset choices, the UI's labels, the networks' input and output shapes
(gan_lab.models) and the trainer's evaluation are read from it, so a new dataset is one factory
and one `register(...)` line here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..errors import ConfigError
from . import mnist, toy2d

__all__ = ["Dataset", "DatasetKind", "KINDS", "USER_POINTS", "make_dataset", "image_dataset",
           "points_dataset", "is_image", "needs_points", "kind_of", "names", "labels",
           "register", "mnist", "toy2d"]


class Dataset:
    """A training distribution.

    name:     the dataset name (cfg.dataset)
    is_image: True for MNIST digits
    shape:    shape of one sample, (2,) or (1, 28, 28)
    modes:    K x 2 mode centres for ring8 / grid25, else None
    std:      per-axis mode std for ring8 / grid25, else None
    bounds:   (xmin, xmax, ymin, ymax) for 2-D plots; for images the pixel range (-1, 1, -1, 1)
    """

    def __init__(self, name: str, *, is_image: bool, shape: tuple, modes: np.ndarray | None,
                 std: float | None, bounds: tuple[float, float, float, float],
                 sampler: Callable[[int, torch.Generator, torch.device | None], torch.Tensor]):
        self.name = name
        self.is_image = is_image
        self.shape = tuple(shape)
        self.modes = modes
        self.std = std
        self.bounds = tuple(float(b) for b in bounds)
        self._sampler = sampler

    def sample(self, n: int, gen: torch.Generator, device=None) -> torch.Tensor:
        """n samples, float32 [n, *shape], on `device` (default: the generator's device).

        All randomness comes from `gen`, so a seeded generator reproduces the batches.
        """
        return self._sampler(n, gen, None if device is None else torch.device(device))

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, shape={self.shape}, is_image={self.is_image})"


class _DeviceCache:
    """One copy of a fixed tensor per device, made on first use, so each batch is a single
    randint + index on the device instead of a host-to-device copy."""

    def __init__(self, make_cpu: Callable[[], torch.Tensor]):
        self._make_cpu = make_cpu
        self._copies: dict[torch.device, torch.Tensor] = {}
        self._lock = threading.Lock()

    def get(self, device: torch.device) -> torch.Tensor:
        t = self._copies.get(device)
        if t is None:
            with self._lock:
                t = self._copies.get(device)
                if t is None:
                    cpu = self._copies.get(torch.device("cpu"))
                    if cpu is None:
                        cpu = self._make_cpu()
                        self._copies[torch.device("cpu")] = cpu
                    t = self._copies[device] = cpu.to(device)
        return t


def _rows_sampler(cache: _DeviceCache):
    def sampler(n, gen, device):
        dev = gen.device if device is None else device
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        return toy2d.sample_rows(cache.get(dev), n, gen)
    return sampler


def image_dataset(images: np.ndarray, name: str = "mnist") -> Dataset:
    """A Dataset over uint8 [N, 28, 28] digits, scaled to [-1, 1] (0 -> -1, 255 -> 1)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8 \
            or len(images) == 0:
        raise ValueError(f"images: expected uint8 [N, 28, 28] with N >= 1, got {images.dtype} "
                         f"{images.shape}")
    cache = _DeviceCache(lambda: torch.from_numpy(np.array(images, dtype=np.float32))
                         .div_(127.5).sub_(1.0).unsqueeze(1))
    return Dataset(name, is_image=True, shape=(1, 28, 28), modes=None, std=None,
                   bounds=(-1.0, 1.0, -1.0, 1.0), sampler=_rows_sampler(cache))


def points_dataset(points, name: str = "custom") -> Dataset:
    """A Dataset drawing uniformly (with replacement) from user points.

    `points`: an N x 2 array-like, or the path of a CSV file of x,y rows (see toy2d).
    """
    if isinstance(points, (str, os.PathLike)):
        arr = toy2d.load_points_csv(points)
    else:
        arr = toy2d.validate_points(points)
    cache = _DeviceCache(lambda: torch.from_numpy(arr.astype(np.float32)))
    return Dataset(name, is_image=False, shape=(2,), modes=None, std=None,
                   bounds=toy2d.points_bounds(arr), sampler=_rows_sampler(cache))


def _shape_dataset(name: str) -> Dataset:
    return Dataset(name, is_image=False, shape=(2,), modes=toy2d.modes(name),
                   std=toy2d.mode_std(name), bounds=toy2d.bounds(name),
                   sampler=lambda n, gen, device: toy2d.sample(name, n, gen, device))


@lru_cache(maxsize=1)
def _mnist_train() -> Dataset:
    # One copy per process: a worker hosting many MNIST runs shares the 8,000 digits (25 MB as
    # float32) instead of holding one copy per run. Datasets are read-only.
    images, _ = mnist.load_split("train")
    return image_dataset(images, "mnist")


def _custom(points) -> Dataset:
    if points is None:
        raise ConfigError("dataset", "'custom' needs your points: upload a CSV of x,y rows "
                                     f"(1 to {toy2d.MAX_POINTS:,} points) or pick another "
                                     "dataset")
    return points_dataset(points, "custom")


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
def _points_quality(tr, fake: np.ndarray) -> dict[str, float]:
    """2-D samples: mode coverage (shapes with modes) and the grid KL / JS to the real data."""
    from .. import metrics

    if not np.all(np.isfinite(fake)):
        return {}
    data = tr.data
    out = {} if data.modes is None else metrics.mode_stats(fake, data.modes, data.std)
    out["grid_kl"], out["grid_js"] = metrics.grid_kl_js(tr.eval_real.cpu().numpy(), fake,
                                                        data.bounds)
    return out


def _digits_quality(tr, fake: np.ndarray) -> dict[str, float]:
    """Digits: D's generalization gap, and the classifier metrics of finite samples."""
    from .. import generalization, metrics

    out = {"d_gap": generalization.d_gap(tr.D, *generalization.gap_digits())}
    if np.all(np.isfinite(fake)):
        out.update(metrics.mnist_metrics(fake))
    return out


@dataclass(frozen=True)
class DatasetKind:
    """One dataset choice. make(points) builds the Dataset (points: the user's N x 2 array for
    needs_points kinds, else ignored). shape: one sample's (the networks' input and output);
    n_eval: generator samples per quality evaluation; n_view: samples the samples plot shows;
    quality(trainer, samples): the quality metrics of n_eval samples (finite or not);
    digits: its samples are digits, measured by the digit classifier (inception score, FCD,
    digits covered) and D's held-out gap, so the charts carry the digit titles."""

    name: str
    label: str
    is_image: bool
    make: Callable[[object], Dataset]
    needs_points: bool = False
    shape: tuple[int, ...] = (2,)
    n_eval: int = 2500     # PacGAN protocol: 2,500 generator samples
    n_view: int = 1000
    quality: Callable[[object, np.ndarray], dict[str, float]] = _points_quality
    digits: bool = False


KINDS: dict[str, DatasetKind] = {}


def register(name: str, make: Callable[[object], Dataset], *, label: str | None = None,
             **kind) -> DatasetKind:
    KINDS[name] = DatasetKind(name, label or name, kind.pop("is_image", False), make, **kind)
    return KINDS[name]


for _name in toy2d.SHAPES:
    register(_name, lambda points, _n=_name: _shape_dataset(_n))
# The kind a drawing or an uploaded points CSV selects (the one that needs_points).
USER_POINTS = register("custom", _custom, label="custom (your points)", needs_points=True).name
register("mnist", lambda points: _mnist_train(), label="mnist", is_image=True, digits=True,
         shape=(1, 28, 28), n_eval=1000, n_view=64, quality=_digits_quality)   # an 8x8 grid


def names() -> tuple[str, ...]:
    return tuple(KINDS)


def labels() -> dict[str, str]:
    return {k.name: k.label for k in KINDS.values()}


def is_image(name: str) -> bool:
    kind = KINDS.get(name)
    return bool(kind and kind.is_image)


def needs_points(name: str) -> bool:
    kind = KINDS.get(name)
    return bool(kind and kind.needs_points)


def kind_of(name: str) -> DatasetKind:
    kind = KINDS.get(name)
    if kind is None:
        raise ConfigError("dataset", f"must be one of {', '.join(KINDS)}; got {name!r}"[:200])
    return kind


def make_dataset(cfg, points=None) -> Dataset:
    """The Dataset for cfg.dataset.

    mnist: the 8,000-digit train split of the bundled digits (mnist.split()).
    custom: `points` (N x 2 array-like or CSV path) is required; other datasets ignore it.
    """
    return kind_of(cfg.dataset).make(points)
