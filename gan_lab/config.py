"""RunConfig: the one declaration of every hyperparameter.

Each field carries its default, its bounds or choices, a one-line help text and a UI group in
its dataclass metadata (in the spirit of TensorFlow Playground's state.ts). The CLI flags, the
Gradio controls, the URL query and validation are all derived from these declarations, so adding
a hyperparameter means adding one `_p(...)` line here and nothing else.

`LIVE_FIELDS` are the ones a running job may change without re-initializing the networks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from typing import Any

DATASETS_2D = ("ring8", "grid25", "spiral", "moons", "circles", "line", "two_gaussians", "custom")
DATASETS = DATASETS_2D + ("mnist",)
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu", "silu")


class ConfigError(ValueError):
    """A bad hyperparameter value. `field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _p(default, help: str, *, lo=None, hi=None, choices=None, log=False, group="basic", ui=True,
       label=None):
    """Declare one hyperparameter.

    lo/hi: inclusive numeric bounds; choices: allowed values; log: a log-scale slider in the UI;
    group: which UI section holds it; ui: False for fields the UI does not expose as a control.
    """
    meta = dict(help=help, lo=lo, hi=hi, choices=choices, log=log, group=group, ui=ui,
                label=label)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class RunConfig:
    # --- data ---------------------------------------------------------------------------------
    dataset: str = _p("ring8", "Training data: a 2-D shape or real MNIST digits.",
                      choices=DATASETS, label="Dataset")
    # --- architecture -------------------------------------------------------------------------
    arch: str = _p("mlp", "Network type: MLP for any data; 'conv' (DCGAN-style) for MNIST only.",
                   choices=("mlp", "conv"), group="architecture", label="Architecture")
    latent_dim: int = _p(2, "Size of the generator's input noise z ~ N(0, I).",
                         lo=1, hi=128, group="architecture", label="Latent dim")
    g_hidden: int = _p(128, "Generator hidden width (units per layer; conv: base channels).",
                       lo=1, hi=1024, group="architecture", label="G width")
    g_depth: int = _p(3, "Generator hidden layers.", lo=1, hi=8, group="architecture",
                      label="G depth")
    d_hidden: int = _p(128, "Discriminator hidden width (units per layer; conv: base channels).",
                       lo=1, hi=1024, group="architecture", label="D width")
    d_depth: int = _p(3, "Discriminator hidden layers.", lo=1, hi=8, group="architecture",
                      label="D depth")
    activation: str = _p("relu", "Hidden-layer nonlinearity of the generator (and of the "
                                 "discriminator when its own is 'same').",
                         choices=ACTIVATIONS, group="architecture", label="Activation")
    # Separate because the best pair differs (grid25, seed 100, 6,000 steps): leaky/leaky blurs
    # the modes (60% HQ), ReLU/ReLU drops modes (19/25), ReLU G + leaky D gets 25/25 at 79%.
    # ReLU lets G flatten whole latent regions onto a mode; a leaky D keeps a gradient where G
    # has no samples, which is how a missing mode gets found.
    d_activation: str = _p("leaky_relu", "Hidden-layer nonlinearity of the discriminator "
                                         "('same' = the generator's).",
                           choices=("same",) + ACTIVATIONS, group="architecture",
                           label="D activation")
    # --- optimization -------------------------------------------------------------------------
    loss: str = _p("ns", "Adversarial loss: non-saturating (ns), minimax, least-squares (lsgan) "
                         "or hinge.", choices=("ns", "minimax", "lsgan", "hinge"),
                   group="optimization", label="Loss")
    optimizer: str = _p("adam", "Optimizer of both networks.", choices=("adam", "sgd"),
                        group="optimization", label="Optimizer")
    # 2-D defaults (lr_g, beta2, lr_schedule, steps, activations) were tuned together on ring8
    # and grid25 with seeds 100-105, which the quality tables (seeds 0-2) do not use; see
    # docs/RESULTS.md. G a little faster than D finds all 25 grid modes; beta2 0.99 lets Adam's
    # step size follow the shrinking gradients as samples settle on the modes.
    lr_g: float = _p(1.25e-3, "Generator learning rate.", lo=1e-6, hi=1.0, log=True,
                     label="G learning rate")
    lr_d: float = _p(1e-3, "Discriminator learning rate.", lo=1e-6, hi=1.0, log=True,
                     label="D learning rate")
    beta1: float = _p(0.5, "Adam beta1 (momentum; SGD momentum when optimizer is sgd).",
                      lo=0.0, hi=0.999, group="optimization", label="beta1")
    beta2: float = _p(0.99, "Adam beta2 (second-moment decay).", lo=0.0, hi=0.9999,
                      group="optimization", label="beta2")
    lr_schedule: str = _p("linear", "Learning-rate schedule over the run: constant, or decay "
                                      "to 0 by the last step (cosine, linear); decay sharpens "
                                      "the final samples.",
                          choices=("constant", "cosine", "linear"), group="optimization",
                          label="LR schedule")
    batch_size: int = _p(256, "Samples per batch, for real and generated data alike.",
                         lo=1, hi=4096, group="optimization", label="Batch size")
    d_steps: int = _p(1, "Discriminator updates per generator update.", lo=1, hi=10,
                      label="D:G steps")
    steps: int = _p(12000, "Generator updates to run.", lo=1, hi=1_000_000, label="Steps")
    seed: int = _p(0, "Random seed: same seed and config give the same run on CPU.",
                   lo=0, hi=2**31 - 1, label="Seed")
    device: str = _p("auto", "Where to train: auto picks the fastest available for this model.",
                     choices=("auto", "cpu", "cuda", "mps"), group="optimization",
                     label="Device")
    # --- regularization -----------------------------------------------------------------------
    reg: str = _p("none", "Weight regularizer: none, L1 (lambda*sum|w|), L2 ((lambda/2)*sum w^2) "
                          "or HSN1R (lambda * Hessian spectral norm).",
                  choices=("none", "l1", "l2", "hsn1r"), group="regularization",
                  label="Regularizer")
    lam: float = _p(1e-3, "Regularization strength lambda (0 turns it off).", lo=0.0, hi=1.0,
                    log=True, group="regularization", label="Lambda")
    reg_target: str = _p("d", "Which network the penalty is added to.",
                         choices=("g", "d", "both"), group="regularization", label="Target")
    l1_mode: str = _p("proximal", "L1 update: 'penalty' (subgradient in the loss; rarely exact "
                                  "zeros) or 'proximal' (soft-threshold after each step; exact "
                                  "zeros).", choices=("penalty", "proximal"),
                      group="regularization", label="L1 mode")
    reg_bias: bool = _p(False, "Also regularize biases (weights only by default).",
                        group="regularization", label="Regularize biases")
    hsn_iters: int = _p(1, "HSN1R power iterations per step (the vector is kept across steps).",
                        lo=1, hi=50, group="regularization", label="HSN1R iterations")
    hsn_every: int = _p(8, "Apply HSN1R every k steps, with lambda*k (lazy regularization: "
                           "k=8 costs ~1.15x a plain ring8 step instead of ~1.9x with the fd "
                           "method, ~3.7x exact).",
                        lo=1, hi=100, group="regularization", label="HSN1R every k")
    hsn_method: str = _p("fd", "How HSN1R's penalty is differentiated: 'fd' (finite differences "
                               "of the gradient along the power-iteration vector: 3 gradients a "
                               "step, ~1.9x a plain ring8 step; within 1% of exact) or 'exact' "
                               "(double backprop through the Hessian-vector product, ~3.7x).",
                         choices=("fd", "exact"), group="regularization", label="HSN1R method")
    # --- measurement --------------------------------------------------------------------------
    sparsity_eps: float = _p(1e-3, "A weight counts as sparse when |w| <= eps.",
                             lo=1e-8, hi=1.0, log=True, group="metrics", label="Sparsity eps")
    eval_every: int = _p(100, "Compute quality metrics every N steps.", lo=1, hi=100_000,
                         group="metrics", label="Eval every")
    sharpness_every: int = _p(500, "Measure sharpness (top |Hessian eigenvalue| of D's and G's "
                                   "loss) every N steps; 0 = only at the end.",
                              lo=0, hi=100_000, group="metrics", label="Sharpness every")

    # ------------------------------------------------------------------------------------------
    def validate(self) -> "RunConfig":
        """Check every field against its declaration; raise ConfigError naming the first bad one."""
        for f in fields(self):
            v = getattr(self, f.name)
            m = f.metadata
            if f.type in ("bool", bool):
                if not isinstance(v, bool):
                    raise ConfigError(f.name, f"must be true or false, got {v!r}")
                continue
            if m["choices"] is not None:
                if v not in m["choices"]:
                    raise ConfigError(f.name, f"must be one of {', '.join(m['choices'])}; "
                                              f"got {v!r}")
                continue
            if f.type in ("int", int):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ConfigError(f.name, f"must be a whole number in "
                                              f"[{m['lo']}, {m['hi']}], got {v!r}")
            elif f.type in ("float", float):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ConfigError(f.name, f"must be a finite number in "
                                              f"[{m['lo']:g}, {m['hi']:g}], got {v!r}")
            if m["lo"] is not None and v < m["lo"] or m["hi"] is not None and v > m["hi"]:
                raise ConfigError(f.name, f"must be in [{m['lo']:g}, {m['hi']:g}], got {v!r}")
        # Rules that span fields.
        if self.arch == "conv" and self.dataset != "mnist":
            raise ConfigError("arch", "'conv' works only with the mnist dataset; use 'mlp'")
        return self

    # --- serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def non_default(self) -> dict[str, Any]:
        """Fields that differ from their defaults (what a share link carries)."""
        base = RunConfig()
        return {k: v for k, v in self.to_dict().items() if getattr(base, k) != v}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, validate: bool = True) -> "RunConfig":
        """Build from a (possibly partial) dict; unknown keys and bad types raise ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError("config", "must be a JSON object of field: value pairs")
        known = field_map()
        kwargs = {}
        for k, v in d.items():
            if k not in known:
                raise ConfigError(k, "unknown field")
            kwargs[k] = coerce(k, v)
        cfg = cls(**kwargs)
        return cfg.validate() if validate else cfg

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("config", f"not valid JSON ({e.msg} at line {e.lineno})") from None
        return cls.from_dict(d)

    def replace(self, **changes) -> "RunConfig":
        """A validated copy with some fields changed (values coerced like user input)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})


# Fields a running TrainingJob applies at once, without re-initializing weights.
LIVE_FIELDS = frozenset({"lr_g", "lr_d", "lr_schedule", "beta1", "beta2", "d_steps", "reg",
                         "lam", "reg_target",
                         "l1_mode", "reg_bias", "hsn_iters", "hsn_every", "hsn_method",
                         "sparsity_eps",
                         "eval_every", "sharpness_every", "steps", "loss"})


def field_map() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in fields(RunConfig)}


def spec(name: str) -> dict[str, Any]:
    """The declaration of one field: type, default, help, lo, hi, choices, log, group, label."""
    f = field_map()[name]
    t = f.type if isinstance(f.type, str) else f.type.__name__
    return dict(name=name, type=t, default=f.default, **f.metadata)


def specs() -> list[dict[str, Any]]:
    return [spec(f.name) for f in fields(RunConfig)]


def coerce(name: str, value: Any) -> Any:
    """Turn user input (CLI string, URL query string, JSON value, UI number) into the field's
    type, raising ConfigError with the field name when it cannot. Range checks are validate()'s."""
    s = spec(name)
    t = s["type"]
    try:
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError
        if t == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            if isinstance(value, str):
                v = float(value.strip())
                if not v.is_integer():
                    raise ValueError
                return int(v)
            if isinstance(value, int):
                return value
            raise ValueError
        if t == "float":
            if isinstance(value, bool):
                raise ValueError
            v = float(value.strip()) if isinstance(value, str) else float(value)
            if not math.isfinite(v):
                raise ValueError
            return v
        if t == "str":
            if not isinstance(value, str):
                raise ValueError
            return value.strip()
    except (ValueError, TypeError, AttributeError):
        pass
    kind = {"int": "a whole number", "float": "a finite number", "bool": "true or false",
            "str": "text"}[t]
    rng = ""
    if s["choices"]:
        rng = f" (one of {', '.join(map(str, s['choices']))})"
    elif s["lo"] is not None:
        rng = f" in [{s['lo']:g}, {s['hi']:g}]"
    raise ConfigError(name, f"must be {kind}{rng}, got {value!r}")
