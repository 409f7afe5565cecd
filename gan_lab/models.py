"""Generator and discriminator builders. Widths and depths come from RunConfig.

2-D data: MLPs. MNIST: the same MLPs over 784 pixels, or a small DCGAN-style conv pair for
28x28 images. Discriminators output raw logits (shape [N]); generators output data-shaped
tensors in the data's range (2-D: unbounded; MNIST: tanh in [-1, 1]).

G's weight average (RunConfig.g_ema > 0): a buffer per parameter of G in a submodule `G.ema`,
so it travels wherever G's state_dict goes (checkpoints as `G.ema.*`, worker processes,
ZeroGPU chunks, GPU rollbacks) and a checkpoint's shapes are checked like any other weight.
`generate(G, z)` draws from the average when G has one; the optimizer, the losses, the
regularizers, sharpness and the weight histograms see only G's own (trained) parameters.

Spectral normalization (RunConfig.spectral_norm, gan_lab.spectral) wraps every Linear and conv
weight of the chosen networks after both are built, so a seed gives the same initial weights
with and without it. With G's average, the averaged underlying weights are normalized with the
trained G's vectors u, v (its estimate of sigma is then exact to second order in the difference
between the two weights).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import spectral
from .config import RunConfig
from .data import kind_of

_ACT = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
    "silu": lambda: nn.SiLU(),
}


def mlp(n_in: int, width: int, depth: int, n_out: int, act: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), _ACT[act]()]
        d = width
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(self, latent: int, width: int, depth: int, out_shape: tuple[int, ...], act: str,
                 bounded: bool):
        super().__init__()
        self.out_shape = out_shape
        self.net = mlp(latent, width, depth, math.prod(out_shape), act)
        self.bounded = bounded

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)
        if self.bounded:
            x = torch.tanh(x)
        return x.view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, n_in: int, width: int, depth: int, act: str):
        super().__init__()
        self.net = mlp(n_in, width, depth, 1, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def _norm2d(kind: str, ch: int) -> nn.Module:
    # Batch statistics always (no running averages): sampling never changes the weights' state,
    # and train and eval mode give the same pictures.
    return nn.BatchNorm2d(ch, track_running_stats=False) if kind == "batch" else nn.Identity()


class ConvGenerator(nn.Module):
    """z -> 7x7 -> 14x14 -> 28x28, DCGAN-style. norm 'batch' (RunConfig.g_norm) adds batch norm
    after the 7x7 and 14x14 layers, DCGAN's recipe; without it Hessians stay per-sample."""

    def __init__(self, latent: int, ch: int, act: str, norm: str = "none"):
        super().__init__()
        c2 = max(1, ch // 2)
        self.ch = ch
        self.fc = nn.Linear(latent, ch * 7 * 7)
        # Without norm the layers (and so the checkpoint's tensor names) are exactly as before
        # g_norm existed: net.1 and net.3 are the two deconvolutions.
        self.net = nn.Sequential(*[m for m in (
            _norm2d(norm, ch), _ACT[act](),
            nn.ConvTranspose2d(ch, c2, 4, 2, 1), _norm2d(norm, c2), _ACT[act](),
            nn.ConvTranspose2d(c2, 1, 4, 2, 1), nn.Tanh(),
        ) if not isinstance(m, nn.Identity)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, self.ch, 7, 7))


class ConvDiscriminator(nn.Module):
    """28x28 -> 14x14 -> 7x7 -> logit."""

    def __init__(self, ch: int, act: str):
        super().__init__()
        c2 = max(1, ch // 2)
        self.net = nn.Sequential(
            nn.Conv2d(1, c2, 4, 2, 1), _ACT[act](),
            nn.Conv2d(c2, ch, 4, 2, 1), _ACT[act](),
            nn.Flatten(), nn.Linear(ch * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 1, 28, 28)).squeeze(1)


def build_models(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    """(G, D) for cfg, on the CPU, initialized from the current torch RNG state; G carries its
    weight average when cfg.g_ema > 0 (starting equal to G); the networks cfg.spectral_norm
    names are spectral-normalized."""
    d_act = cfg.activation if cfg.d_activation == "same" else cfg.d_activation
    kind = kind_of(cfg.dataset)   # the sample shape; images lie in [-1, 1] (a tanh output)
    if cfg.arch == "conv":   # 28x28 images (RunConfig.validate)
        G, D = (ConvGenerator(cfg.latent_dim, cfg.g_hidden, cfg.activation, cfg.g_norm),
                ConvDiscriminator(cfg.d_hidden, d_act))
    else:
        G, D = (MLPGenerator(cfg.latent_dim, cfg.g_hidden, cfg.g_depth, kind.shape,
                             cfg.activation, bounded=kind.is_image),
                MLPDiscriminator(math.prod(kind.shape), cfg.d_hidden, cfg.d_depth, d_act))
    for tag, net in (("g", G), ("d", D)):
        if spectral.wants(cfg.spectral_norm, tag):
            spectral.apply(net)
    if cfg.g_ema > 0:
        G.ema = WeightAverage(G)
    return G, D


# --------------------------------------------------------------------------------------------
# G's weight average (EMA)
# --------------------------------------------------------------------------------------------
EMA_PREFIX = "ema."


def _slot(name: str) -> str:
    return name.replace(".", "_")    # buffer names cannot contain dots


class WeightAverage(nn.Module):
    """An exponential moving average of a generator's parameters, as buffers named after them
    (`fc.weight` -> `fc_weight`). It has no forward: `generate` swaps it in for G's
    parameters."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.names = [n for n, _ in G.named_parameters()]
        for n, p in G.named_parameters():
            self.register_buffer(_slot(n), p.detach().clone())

    def tensors(self) -> dict[str, torch.Tensor]:
        """G's parameter name -> its average."""
        return {n: self.get_buffer(_slot(n)) for n in self.names}


def has_average(G: nn.Module) -> bool:
    return isinstance(getattr(G, "ema", None), WeightAverage)


def is_average_key(key: str) -> bool:
    """Whether a key of G's state_dict is the weight average, not a weight of G."""
    return key.startswith(EMA_PREFIX)


def average_keys(G: nn.Module) -> dict[str, str]:
    """state_dict key of each average buffer -> the key of G's parameter it averages."""
    return {EMA_PREFIX + _slot(n): n for n, _ in G.named_parameters()}


@torch.no_grad()
def update_average(G: nn.Module, decay: float, step: int) -> None:
    """Move the average toward G's parameters after an update at `step`. The decay ramps up
    as min(decay, (1 + step) / (10 + step)) (TensorFlow's ExponentialMovingAverage with
    num_updates), so early samples follow G instead of its random initialization."""
    d = min(decay, (1 + step) / (10 + step))
    # The average's buffers were registered in G's parameter order (WeightAverage.__init__).
    torch._foreach_lerp_(list(G.ema.buffers()), list(G.parameters()), 1.0 - d)


def generate(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z), from G's weight average when it has one."""
    if not has_average(G):
        return G(z)
    return torch.func.functional_call(G, G.ema.tensors(), (z,))


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def shown_weights(state: dict[str, torch.Tensor], reg_bias: bool
                  ) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) of a network's regularized tensors (those regularizers.reg_params picks:
    dim >= 2, biases too when reg_bias) as the network computes with them: spectral-normalized
    weights as W / sigma under their layer's `weight` name (spectral.effective_state), G's
    average left out. The sparsity metrics count these and the weight histograms draw them."""
    return [(k, t) for k, t in spectral.effective_state(state).items()
            if (t.dim() >= 2 or reg_bias) and not is_average_key(k)]
