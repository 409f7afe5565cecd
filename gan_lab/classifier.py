"""The small MNIST CNN behind the digit metrics (gan_lab.metrics.mnist_metrics).

Trained once by scripts/train_classifier.py; its weights ship in assets/mnist_classifier.safetensors
(provenance and measured accuracy in assets/CLASSIFIER.md). Nothing trains at run time.
Input: [N, 1, 28, 28] in [-1, 1], the same pixel range the GANs produce.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from torch import nn

ASSET = Path(__file__).resolve().parent.parent / "assets" / "mnist_classifier.safetensors"
FEATURE_DIM = 128


class DigitCNN(nn.Module):
    """conv(16) -> pool -> conv(32) -> pool -> fc(128) = features -> fc(10) = logits.

    Kept narrow on purpose: metrics run every eval_every steps of a live CPU run, so 1,000
    digits must classify in a few tens of milliseconds.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Linear(32 * 7 * 7, feature_dim), nn.ReLU(),
        )
        self.drop = nn.Dropout(0.3)  # train-time only; features() is taken before it
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations [N, feature_dim] (the FCD feature space)."""
        return self.body(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


_cache: dict[str, DigitCNN] = {}
_lock = threading.Lock()


def load_classifier(device: str | torch.device = "cpu", path: str | Path | None = None
                    ) -> DigitCNN:
    """The bundled classifier in eval mode with frozen weights, cached per (device, path).

    Loads with safetensors (no pickle). Raises FileNotFoundError naming the script that makes
    the asset when it is missing.
    """
    from safetensors.torch import load_file

    p = Path(path) if path is not None else ASSET
    key = f"{torch.device(device)}|{p.resolve()}"
    with _lock:
        if key not in _cache:
            if not p.exists():
                raise FileNotFoundError(f"{p} is missing; run `python scripts/train_classifier.py`")
            net = DigitCNN()
            net.load_state_dict(load_file(str(p), device="cpu"))
            net.eval().requires_grad_(False)
            _cache[key] = net.to(device)
        return _cache[key]
