"""RunConfig: the one declaration of every hyperparameter.

Each field carries its default, its bounds or choices, a one-line help text, a UI group and
whether a running job may change it in place (`live`) in its dataclass metadata (in the spirit
of TensorFlow Playground's state.ts). The CLI flags, the Gradio controls, the URL query,
validation and the live-or-rebuild rule (`plan_change`) are all derived from these
declarations, so adding a hyperparameter means adding one `_p(...)` line here and nothing else.

Choice lists that name implementations are read from their registries, never repeated here:
datasets from `gan_lab.data.KINDS`, regularizers from `gan_lab.regularizers.REGISTRY`.

Per-dataset defaults: `DATASET_DEFAULTS[name]` overrides some field defaults for that dataset.
`RunConfig.from_dict` (and so the CLI, share links and config files) applies them to every
field its input does not set; `RunConfig(...)` itself uses the plain field defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from . import adaptive as _adaptive
from . import data as _data
from . import losses as _losses
from . import regularizers as _regularizers
from .config_coerce import coerce_value
from .errors import BRIEF_CHARS, ConfigError, bounds, brief, got

__all__ = ["RunConfig", "ConfigError", "Change", "LIVE_FIELDS", "NET_FIELDS", "DATASET_DEFAULTS",
           "brief", "BRIEF_CHARS", "coerce", "defaults_for", "field_map", "plan_change", "spec",
           "specs", "switch_dataset"]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "elu", "silu")


def _p(default, help: str | Callable[[], str], *, lo=None, hi=None,
       choices: tuple | Callable[[], tuple] | None = None,
       labels: dict | Callable[[], dict] | None = None, log=False, group="basic", ui=True,
       label=None, live=False):
    """Declare one hyperparameter.

    lo/hi: inclusive numeric bounds; choices: allowed values, or a function returning them (for
    choices read from a registry); labels: display names of some choices; log: a log-scale
    slider in the UI; group: the UI section that holds it; ui: False for fields the UI does not
    expose; live: a running job applies a change at once and keeps its weights (any other
    change rebuilds the networks from step 0).
    """
    meta = dict(help=help, lo=lo, hi=hi, choices=choices, labels=labels, log=log, group=group,
                ui=ui, label=label, live=live)
    return dataclasses.field(default=default, metadata=meta)


def _reg_help() -> str:
    kinds = ", ".join(k.label if k.name == "none" else f"{k.label} ({k.formula})"
                      for k in _regularizers.REGISTRY.values())
    return f"Weight regularizer: {kinds}."


@dataclass
class RunConfig:
    # --- data ---------------------------------------------------------------------------------
    dataset: str = _p("ring8", "Training data: a 2-D shape or real MNIST digits.",
                      choices=_data.names, labels=_data.labels, label="Dataset")
    init: str = _p("random", "Start from random weights, or from a GAN already trained on this "
                             "data (shipped for the MNIST digits and MNIST conv presets): a "
                             "regularizer then acts on a converged model from the first step.",
                   choices=("random", "trained"),
                   labels={"random": "Random weights", "trained": "A trained GAN"},
                   label="Start from")
    # --- architecture -------------------------------------------------------------------------
    arch: str = _p("mlp", "Network type: MLP for any data; 'conv' (DCGAN-style) for images "
                          "(MNIST) only.",
                   choices=("mlp", "conv"), group="architecture", label="Architecture")
    latent_dim: int = _p(2, "Size of the generator's input noise z ~ N(0, I).",
                         lo=1, hi=128, group="architecture", label="Latent dim")
    g_hidden: int = _p(64, "Generator hidden width (units per layer; conv: base channels).",
                       lo=1, hi=1024, group="architecture", label="G width")
    g_depth: int = _p(3, "Generator hidden layers.", lo=1, hi=8, group="architecture",
                      label="G depth")
    d_hidden: int = _p(64, "Discriminator hidden width (units per layer; conv: base channels).",
                       lo=1, hi=1024, group="architecture", label="D width")
    d_depth: int = _p(2, "Discriminator hidden layers.", lo=1, hi=8, group="architecture",
                      label="D depth")
    # tanh, not ReLU, in the 2-D G (issue 19): its units saturate, so G cuts the noise space into
    # flat pieces, one per cluster, with thin seams; a ReLU G left ~15% of its points on
    # "bridges" between clusters after 2,000 steps, a tanh G ~1-2% (docs/RESULTS.md).
    activation: str = _p("tanh", "Hidden-layer nonlinearity of the generator (and of the "
                                 "discriminator when its own is 'same').",
                         choices=ACTIVATIONS, group="architecture", label="Activation")
    # Separate from G's: the best pair differs (docs/RESULTS.md, tuning log).
    d_activation: str = _p("leaky_relu", "Hidden-layer nonlinearity of the discriminator "
                                         "('same' = the generator's).",
                           choices=("same",) + ACTIVATIONS, group="architecture",
                           label="D activation")
    # Batch norm makes G's output for one z depend on the rest of its batch, so it is offered
    # for the conv generator only (where it turns strokes into digits), never for D.
    g_norm: str = _p("none", "Normalization in the conv generator: none, or batch norm (batch "
                             "statistics, no running averages) after each hidden layer.",
                     choices=("none", "batch"), group="architecture", label="G norm")
    spectral_norm: str = _p("none", "Spectral normalization (Miyato et al. 2018): each weight "
                                    "matrix / conv kernel of G, D or both divided by its largest "
                                    "singular value (one power iteration per update). L1, L2 and "
                                    "HSN1R act on the underlying weights; histograms and sparsity "
                                    "show the effective W/sigma.", group="architecture",
                            choices=("none", "g", "d", "both"), label="Spectral norm")
    # --- optimization -------------------------------------------------------------------------
    loss: str = _p("ns", _losses.HELP, choices=tuple(_losses.LOSSES), group="optimization",
                   label="Loss", live=True)
    optimizer: str = _p("adam", "Optimizer of both networks.", choices=("adam", "sgd"),
                        group="optimization", label="Optimizer")
    # The 2-D defaults were tuned on seeds the quality tables do not use (docs/RESULTS.md).
    lr_g: float = _p(5e-3, "Generator learning rate.", lo=1e-6, hi=1.0, log=True,
                     label="G learning rate", live=True)
    lr_d: float = _p(5e-3, "Discriminator learning rate.", lo=1e-6, hi=1.0, log=True,
                     label="D learning rate", live=True)
    beta1: float = _p(0.0, "Adam beta1 (momentum; SGD momentum when optimizer is sgd).",
                      lo=0.0, hi=0.999, group="optimization", label="beta1", live=True)
    beta2: float = _p(0.9, "Adam beta2 (second-moment decay).", lo=0.0, hi=0.9999,
                      group="optimization", label="beta2", live=True)
    lr_schedule: str = _p("linear", "Learning-rate schedule over the run: constant, or decay "
                                      "to 0 by the last step (cosine, linear); decay sharpens "
                                      "the final samples.",
                          choices=("constant", "cosine", "linear"), group="optimization",
                          label="LR schedule", live=True)
    g_ema: float = _p(0.0, "Average G's weights over the run with this decay (an exponential "
                           "moving average; 0 = off, 0.999 typical) and draw the samples and "
                           "quality metrics from the average: smoother, cleaner samples. "
                           "Losses, sharpness and sparsity stay those of the trained G.",
                      lo=0.0, hi=0.9999, group="optimization", label="G weight average")
    d_r1: float = _p(0.0, "R1 gradient penalty on D at the real data: gamma/2 * E||grad_x "
                          "D(x)||^2 (Mescheder et al. 2018; 0 = off, ~1 for MNIST). It keeps "
                          "D smooth around the data, so long runs keep improving instead of "
                          "D memorizing the training digits. Adds a second backward pass "
                          "through D each step.",
                     lo=0.0, hi=100.0, log=True, group="optimization", label="D R1 penalty",
                     live=True)
    gp_weight: float = _p(10.0, "WGAN-GP penalty weight (loss wgan-gp): gp * E[(||grad_x D(x_hat)"
                                "||_2 - 1)^2], x_hat = e*real + (1-e)*fake, e ~ U(0, 1).",
                          lo=0.0, hi=1000.0, group="optimization", label="GP weight", live=True)
    batch_size: int = _p(256, "Samples per batch, for real and generated data alike.",
                         lo=1, hi=4096, group="optimization", label="Batch size")
    d_steps: int = _p(1, "Discriminator updates per generator update.", lo=1, hi=10,
                      label="D:G steps", live=True)
    steps: int = _p(1500, "Generator updates to run.", lo=1, hi=1_000_000, label="Steps",
                    live=True)
    seed: int = _p(0, "Random seed: same seed and config give the same run on CPU.",
                   lo=0, hi=2**31 - 1, label="Seed")
    device: str = _p("auto", "Where to train: auto picks the fastest available for this model.",
                     choices=("auto", "cpu", "cuda", "mps"), group="optimization",
                     label="Device")
    # --- regularization -----------------------------------------------------------------------
    reg: str = _p("none", _reg_help, choices=lambda: tuple(_regularizers.REGISTRY),
                  labels=lambda: {k: r.label for k, r in _regularizers.REGISTRY.items()},
                  group="regularization", label="Regularizer", live=True)
    lam: float = _p(1e-3, "Regularization strength lambda (0 turns it off).", lo=0.0, hi=1.0,
                    log=True, group="regularization", label="Lambda", live=True)
    reg_target: str = _p("d", "Which network the penalty is added to.",
                         choices=("g", "d", "both"),
                         labels={"g": "G (generator)", "d": "D (discriminator)"},
                         group="regularization", label="Target", live=True)
    l1_mode: str = _p("proximal", "L1 update: 'penalty' (subgradient in the loss; rarely exact "
                                  "zeros) or 'proximal' (soft-threshold after each step; exact "
                                  "zeros).", choices=_regularizers.L1_MODES,
                      group="regularization", label="L1 mode", live=True)
    reg_bias: bool = _p(False, "Also regularize biases (weights only by default).",
                        group="regularization", label="Regularize biases", live=True)
    hsn_iters: int = _p(1, "HSN1R power iterations per step (the vector is kept across steps).",
                        lo=1, hi=50, group="regularization", label="HSN1R iterations", live=True)
    hsn_every: int = _p(8, "Apply HSN1R every k steps, with lambda*k (lazy regularization: "
                           "k=8 costs ~1.15x a plain ring8 step instead of ~1.9x with the fd "
                           "method, ~3.7x exact).",
                        lo=1, hi=100, group="regularization", label="HSN1R every k", live=True)
    hsn_method: str = _p("fd", "How HSN1R's penalty is differentiated: 'fd' (finite differences "
                               "of the gradient along the power-iteration vector: 3 gradients a "
                               "step, ~1.9x a plain ring8 step; within 1% of exact) or 'exact' "
                               "(double backprop through the Hessian-vector product, ~3.7x).",
                         choices=("fd", "exact"), group="regularization", label="HSN1R method",
                         live=True)
    # Combined regularizers and adaptive lambda (gan_lab.regularizers.combo, gan_lab.adaptive).
    extra_regs: str = _p("", "More regularizers at once, each with its own target and lambda: "
                             "kind:target:lambda items joined by '+', e.g. l2:d:0.001 (with reg "
                             "l1: elastic net) or l2:d:0.001+hsn1r:d:0.01. Empty: only the "
                             "regularizer above. They share its options (L1 mode, HSN1R ...).",
                         group="regularization", label="Extra regularizers", live=True)
    lam_goal: float = _p(0.0, "Adaptive lambda (0 = off): lambda is tuned during the run to hold "
                              "this goal in the target network. L1: its fraction of exact zeros "
                              "(0-1); L2: its weight norm; HSN1R: its sharpness (at each "
                              "sharpness measurement). A goal it cannot reach is reported.",
                         lo=0.0, hi=1e6, group="regularization", label="Lambda goal", live=True)
    lam_gain: float = _p(1.0, "Adaptive lambda's gain k: lambda *= exp(k * error) at each "
                              "measurement (error clipped to [-1, 1]), within [1e-6, 1].",
                         lo=0.01, hi=10.0, group="regularization", label="Lambda goal gain",
                         live=True)
    # --- measurement --------------------------------------------------------------------------
    sparsity_eps: float = _p(1e-3, "A weight counts as sparse when |w| <= eps.",
                             lo=1e-8, hi=1.0, log=True, group="metrics", label="Sparsity eps",
                             live=True)
    eval_every: int = _p(100, "Compute quality metrics every N steps.", lo=1, hi=100_000,
                         group="metrics", label="Eval every", live=True)
    sharpness_every: int = _p(500, "Measure sharpness (top |Hessian eigenvalue| of D's and G's "
                                   "loss) every N steps; 0 = only at the end.",
                              lo=0, hi=100_000, group="metrics", label="Sharpness every",
                              live=True)

    # ------------------------------------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Check every field against its declaration; raise ConfigError naming the first bad one."""
        for f in fields(self):
            v = getattr(self, f.name)
            m = spec(f.name)
            if f.type in ("bool", bool):
                if not isinstance(v, bool):
                    raise ConfigError(f.name, f"must be true or false, got {brief(v)}")
                continue
            if m["choices"] is not None:
                if v not in m["choices"]:
                    raise ConfigError(f.name, f"must be one of {', '.join(m['choices'])}; "
                                              f"got {brief(v)}")
                continue
            if f.type in ("int", int):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ConfigError(f.name, f"must be a whole number in "
                                              f"{bounds(m['lo'], m['hi'])}, {got(v)}")
            elif f.type in ("float", float):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ConfigError(f.name, f"must be a finite number in "
                                              f"{bounds(m['lo'], m['hi'])}, {got(v)}")
            if m["lo"] is not None and v < m["lo"] or m["hi"] is not None and v > m["hi"]:
                raise ConfigError(f.name, f"must be in {bounds(m['lo'], m['hi'])}, got {brief(v)}")
        # Rules that span fields.
        if self.arch == "conv" and not _data.is_image(self.dataset):
            raise ConfigError("arch", "'conv' works only with image data (mnist); use 'mlp'")
        if self.g_norm != "none" and self.arch != "conv":
            raise ConfigError("g_norm", "batch norm is for the conv generator (arch conv); "
                                        "use 'none' with an MLP")
        _regularizers.check_combination(self.reg, self.reg_target,
                                        _regularizers.extras_of(self))
        _adaptive.check_goal(self)
        if self.init == "trained":   # a shipped checkpoint must fit (assets/warm/manifest.json)
            from .warm import check_init
            check_init(self)
        return self

    @property
    def is_image(self) -> bool:
        """Whether the dataset is images (MNIST): the registry says, not the name."""
        return _data.is_image(self.dataset)

    # --- serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}   # scalars: no deep copy

    def non_default(self) -> dict[str, Any]:
        """Fields that differ from the defaults of this config's dataset, the dataset itself
        included when it is not the default one (what a share link carries)."""
        base = defaults_for(self.dataset)
        return {k: v for k, v in self.to_dict().items()
                if v != (spec("dataset")["default"] if k == "dataset" else base[k])}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, validate: bool = True) -> RunConfig:
        """Build from a (possibly partial) dict: fields it does not set take the defaults of
        its dataset. Unknown keys and bad types raise ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError("config", "must be a JSON object of field: value pairs")
        known = field_map()
        given = {}
        for k, v in d.items():
            if k not in known:
                raise ConfigError(k, "unknown field")
            given[k] = coerce(k, v)
        cfg = cls(**{**defaults_for(given.get("dataset")), **given})
        return cfg.validate() if validate else cfg

    @classmethod
    def from_json(cls, text: str, field: str = "config") -> RunConfig:
        """From JSON text, read by the one hostile-input-safe reader (gan_lab.config_json)."""
        from .config_json import loads_object

        return cls.from_dict(loads_object(text, field))

    def replace(self, **changes) -> RunConfig:
        """A validated copy with some fields changed (values coerced like user input)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})


# Dataset -> the field defaults that differ for it (fields not named keep their declaration's
# default). Applied by RunConfig.from_dict to the fields its input does not set, so
# `--dataset mnist` alone, `?dataset=mnist` and the app's dataset menu train a GAN sized for
# digits, not the 2-D defaults (latent size 2 collapses to one digit).
# The 2-D nets and optimizer of issue 12 (the defaults before issue 19's retune): grid25 and
# the L1 demonstration (presets.demo_base) keep them.
ISSUE12_2D: dict[str, Any] = {"g_hidden": 128, "d_hidden": 128, "d_depth": 3,
                              "activation": "relu", "lr_g": 2e-3, "lr_d": 1.5e-3, "beta2": 0.99,
                              "steps": 4000}
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    # grid25 keeps the ReLU nets of issue 12 with a slower D and twice the steps: the ring's
    # small tanh nets (issue 19) cover all 25 modes but stayed at 83-89% HQ (bar: 90%) in
    # 2,500-4,000 steps on the tuning seeds (docs/RESULTS.md).
    "grid25": {**ISSUE12_2D, "lr_d": 1e-3, "steps": 8000},
    # The "MNIST digits" preset: a small MLP GAN, quick enough to watch live on a CPU.
    "mnist": {"arch": "mlp", "latent_dim": 64, "g_hidden": 256, "d_hidden": 256, "g_depth": 3,
              "d_depth": 3, "activation": "leaky_relu", "d_activation": "leaky_relu",
              "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999,
              "lr_schedule": "constant", "steps": 4000, "eval_every": 500,
              "sharpness_every": 2000},
}


def switch_dataset(cfg: RunConfig, old: str) -> RunConfig:
    """The controls' config after the dataset menu changed from `old` to cfg.dataset: every
    field still at `old`'s default takes the new dataset's default; fields the user changed
    keep their values (the app's version of "fields the user did not set"); init goes back to
    random."""
    if old == cfg.dataset:
        return cfg
    before, after = defaults_for(old), defaults_for(cfg.dataset)
    changes = {k: after[k] for k in (set(DATASET_DEFAULTS.get(old, {}))
                                     | set(DATASET_DEFAULTS.get(cfg.dataset, {})))
               if getattr(cfg, k) == before[k] and before[k] != after[k]}
    if cfg.init == "trained":   # a trained start belongs to the dataset it was trained on
        changes["init"] = "random"
    return dataclasses.replace(cfg, **changes).validate() if changes else cfg


def defaults_for(dataset: str | None) -> dict[str, Any]:
    """Every field's default for `dataset` (None or unknown: the declared defaults)."""
    out = {f.name: f.default for f in fields(RunConfig)}
    if dataset is not None:
        out.update(DATASET_DEFAULTS.get(dataset, {}))
        out["dataset"] = dataset
    return out


@functools.cache
def field_map() -> dict[str, dataclasses.Field]:
    """Field name -> its dataclass field (built once; do not modify)."""
    return {f.name: f for f in fields(RunConfig)}


@functools.cache
def _declared(name: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A field's declaration as spec() gives it, and the names of the entries that are read
    from a registry (functions, called on each spec(): a kind registered later shows)."""
    f = field_map()[name]
    t = f.type if isinstance(f.type, str) else f.type.__name__
    return (dict(name=name, type=t, default=f.default, **f.metadata),
            tuple(k for k, v in f.metadata.items() if callable(v)))


def spec(name: str) -> dict[str, Any]:
    """The declaration of one field: name, type, default, help, lo, hi, choices, labels, log,
    group, ui, label, live (registry-derived choices, labels and help resolved now)."""
    base, dynamic = _declared(name)
    m = {**base, **{k: base[k]() for k in dynamic}}
    m["labels"] = dict(m["labels"] or {})
    return m


def specs() -> list[dict[str, Any]]:
    return [spec(f.name) for f in fields(RunConfig)]


# Fields a running job applies at once, without re-initializing weights (the `live` flags).
LIVE_FIELDS = frozenset(f.name for f in fields(RunConfig) if f.metadata["live"])
# Fields that decide the networks' layers and tensors (models.build_models): the architecture
# group, the dataset (input and output shapes) and g_ema (G's average buffers).
NET_FIELDS = ("dataset", *(f.name for f in fields(RunConfig)
                           if f.metadata["group"] == "architecture"), "g_ema")


class Change(NamedTuple):
    """How a job gets from one config to another: `live` fields (name -> new value) apply in
    place, keeping the weights; any `rebuild` field means new networks from step 0."""

    live: dict[str, Any]
    rebuild: tuple[str, ...]


def plan_change(old: RunConfig, new: RunConfig) -> Change:
    """The live-or-rebuild rule, in one place (jobs, the session registry and the UI use it)."""
    a, b = old.to_dict(), new.to_dict()
    changed = [k for k in b if b[k] != a[k]]
    return Change({k: b[k] for k in changed if k in LIVE_FIELDS},
                  tuple(k for k in changed if k not in LIVE_FIELDS))


def coerce(name: str, value: Any) -> Any:
    """Turn user input (CLI string, URL query string, JSON value, UI number) into the field's
    type, raising ConfigError with the field name when it cannot. Range checks are validate()'s."""
    return coerce_value(spec(name), value)
