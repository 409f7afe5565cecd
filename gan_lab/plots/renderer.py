"""FigureRenderer: the samples and weights figures of one browser session, reused across frames.

It keeps its Figures and artists and only swaps their data each frame (building a figure costs
several times more than updating one), returns the cached figure untouched while the weights
and options are unchanged, and keeps a G and D of the snapshot's architecture to draw D's
heatmap, G's arrows and its latent grid.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from ..config import NET_FIELDS
from ..models import build_models
from . import samples as _samples
from . import weights as _weights

if TYPE_CHECKING:
    from ..snapshot import Snapshot


class FigureRenderer:
    """Figures for one browser session (see the module docstring).

    A lock serializes calls, since Gradio may run two events of one session at once and
    matplotlib artists are not thread-safe; save or draw a returned figure before another thread
    calls again. `last_changed` tells whether the last call changed anything, so a caller may
    skip re-sending an unchanged figure.
    """

    def __init__(self, dpi: float = 100):
        self.dpi = dpi
        self.last_changed = False
        self._lock = threading.RLock()
        self._arch = None
        self._G = self._D = None
        self._loaded: tuple = (None, None)
        self._points: dict | None = None
        self._digits: dict | None = None
        self._s_key: tuple | None = None
        self._w: dict | None = None
        self._w_key: tuple | None = None

    def _nets(self, snap: Snapshot):
        """G and D with the snapshot's weights (None, None when they cannot be rebuilt)."""
        arch = tuple(getattr(snap.cfg, f) for f in NET_FIELDS)
        if arch != self._arch:
            # build_models draws initial weights from the global torch RNG; fork it so drawing
            # a plot never shifts a seeded computation elsewhere in the process.
            with torch.random.fork_rng(devices=[]):
                G, D = build_models(snap.cfg)
            for net in (G, D):
                net.eval().requires_grad_(False)
            self._G, self._D, self._arch, self._loaded = G, D, arch, (None, None)
        if self._loaded[0] is not snap.g_state or self._loaded[1] is not snap.d_state:
            try:
                self._G.load_state_dict(snap.g_state)
                self._D.load_state_dict(snap.d_state)
            except (RuntimeError, KeyError, TypeError, AttributeError):
                self._loaded = (None, None)
                return None, None
            self._loaded = (snap.g_state, snap.d_state)
        return self._G, self._D

    def samples(self, snap: Snapshot, heatmap: bool = True, arrows: bool = True,
                manifold: bool = True, stage: str = "", lang: str = "en") -> Figure:
        """2-D: real vs generated points over D's heatmap, G's gradient arrows and the warped
        latent grid (each toggleable). MNIST: an 8x8 grid of the fixed-noise samples."""
        with self._lock:
            # cfg guards against a new job whose weights_version restarted at a count this
            # renderer has already seen; not the arrays' identity, which a snapshot that
            # crossed a process boundary never keeps.
            key = (snap.weights_version, snap.step, bool(snap.is_image), bool(heatmap),
                   bool(arrows), bool(manifold), snap.cfg, _samples._bounds_key(snap.bounds),
                   str(stage), str(lang))
            st = self._digits if snap.is_image else self._points
            if st is not None and key == self._s_key:
                self.last_changed = False
                return st["fig"]
            if snap.is_image:
                self._digits = self._digits or _samples.init_digits(self.dpi)
                fig = _samples.draw_digits(self._digits, snap)
            else:
                self._points = self._points or _samples.init_points(self.dpi)
                fig = _samples.draw_points(self._points, snap, self._nets, heatmap, arrows,
                                           manifold, str(stage)[:8], str(lang))
            self._s_key = key
            self.last_changed = True
            return fig

    def weights(self, snap: Snapshot, layer: str = "all", lang: str = "en") -> Figure:
        """Histograms of log10|w| for G and D, or one layer (see plots.weights)."""
        with self._lock:
            key = (snap.weights_version, snap.step, layer, snap.cfg, str(lang))
            if self._w is not None and key == self._w_key:
                self.last_changed = False
                return self._w["fig"]
            self._w = self._w or _weights.init_weights(self.dpi)
            fig = _weights.draw_weights(self._w, snap, layer, str(lang))
            self._w_key = key
            self.last_changed = True
            return fig


def save_samples_png(snap: Snapshot, path, dpi: float = 100) -> None:
    """The samples figure (all overlays on) as a PNG file (the CLI, the samples download)."""
    fig = FigureRenderer(dpi=dpi).samples(snap)
    fig.savefig(path, format="png", dpi=dpi)
