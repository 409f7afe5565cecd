"""Named experiments: RunConfig field dicts on top of their dataset's defaults.

`PRESETS[name] = {"slug": "cli-name", "fields": {...}, "description": "one line"}`: `name` is
the app's button, `slug` the CLI's `--preset` value. A field not named keeps its dataset's
default (config.DATASET_DEFAULTS), so a preset says only what makes it that experiment.
`REG_SETTINGS` holds the per-regularizer settings the quality tables use (`python -m gan_lab
eval`); the regularizer presets are built from them, so the table rows and the one-click
experiments are the same runs (except L1's preset, which uses a larger lambda: see there).
`STABILIZERS` holds the table rows that are not weight regularizers (spectral norm on D, the
WGAN-GP loss), with their presets built the same way; `TABLE_ROWS` is both.
Every entry is checked by tests/test_evaluate.py with RunConfig.from_dict.
"""

from __future__ import annotations

from .config import ISSUE12_2D, ConfigError, RunConfig, brief

# The regularizer settings of the quality tables (python -m gan_lab eval), one per regularizer:
# lambda and target chosen on tuning seeds the tables do not use (docs/RESULTS.md, "Choosing
# lambda"). All target D, the network whose sharpness and sparsity the lessons are about.
REG_SETTINGS: dict[str, dict] = {
    "none": {"fields": {"reg": "none"},
             "description": "No regularizer: the baseline every other row is compared with."},
    "l1": {"fields": {"reg": "l1", "l1_mode": "proximal", "lam": 0.1, "reg_target": "d"},
           "description": "Proximal L1 on D (soft-threshold after each step): exact zeros."},
    "l2": {"fields": {"reg": "l2", "lam": 3e-4, "reg_target": "d"},
           "description": "L2 on D: pulls every weight toward 0, zeros none."},
    "hsn1r": {"fields": {"reg": "hsn1r", "lam": 0.01, "reg_target": "d", "hsn_iters": 1,
                         "hsn_every": 8},
              "description": "HSN1R on D every 8th step with lambda x 8, one power iteration: "
                             "penalizes the sharpest direction of D's loss."},
}

# Table rows that are not weight regularizers (issue 22): RunConfig.reg stays "none" in them.
STABILIZERS: dict[str, dict] = {
    "sn": {"fields": {"spectral_norm": "d"},
           "description": "Spectral normalization of D: each of D's weight matrices and kernels "
                          "divided by its largest singular value (one power iteration a step)."},
    # gp 1, not the paper's 10: with 10 ring8's G was still a blur inside the ring after 4,000
    # steps (1 of 8 modes, at every lr tried); 1 and 0.1 found all 8 (tuning seeds 100-102;
    # docs/RESULTS.md, "WGAN-GP").
    "wgan-gp": {"fields": {"loss": "wgan-gp", "gp_weight": 1.0, "d_steps": 5, "beta1": 0.0,
                           "beta2": 0.9},
                "description": "WGAN-GP: D a critic, gradient penalty 1 on interpolates, "
                               "5 critic steps per G step, Adam betas 0 / 0.9."},
}
# Every row of the quality tables, by the name `eval --regs` takes.
TABLE_ROWS: dict[str, dict] = {**REG_SETTINGS, **STABILIZERS}

# The L1 demonstration keeps config.ISSUE12_2D: under the cheaper issue-19 defaults (lr 5e-3
# for D) the proximal threshold lr x lambda either zeroes too little of D (lambda 0.1-0.15:
# 10-23% at the end) or all of it (0.2-0.3, G collapses); tuning seeds 100-101,
# docs/RESULTS.md.
# The L1 demonstration (preset, lesson, "With vs without"): lambda 0.15, not the table's 0.1:
# on the issue-12 nets 0.1 zeroes ~43% of D, 0.15 ~87% (tuning seeds 100-102; 0.2 stops
# training). docs/RESULTS.md, "L1 makes D sparse".
L1_DEMO: dict = {**REG_SETTINGS["l1"]["fields"], "lam": 0.15}


def demo_base(reg: str, dataset: str) -> dict:
    """The non-regularizer fields both arms of a demonstration of `reg` on `dataset` share: the
    issue-12 nets (config.ISSUE12_2D) for L1 on the 2-D shapes that use the ring's defaults."""
    from .config import DATASET_DEFAULTS
    from .data import KINDS

    kind = KINDS.get(dataset)
    if reg != "l1" or dataset in DATASET_DEFAULTS or (kind is not None and kind.is_image):
        return {}
    return dict(ISSUE12_2D)


def demo_settings(reg: str) -> dict | None:
    """The fields that show regularizer `reg` in a one-click demonstration (a preset, a lesson,
    the app's "With vs without"): the table's settings, L1 with its demo lambda."""
    if reg == "l1":
        return dict(L1_DEMO)
    return dict(REG_SETTINGS[reg]["fields"]) if reg in REG_SETTINGS else None


# The MNIST conv preset's fields; its long version adds to them.
_MNIST_CONV = {"dataset": "mnist", "arch": "conv", "latent_dim": 8, "g_hidden": 64,
               "d_hidden": 64, "g_norm": "batch", "activation": "relu",
               "d_activation": "leaky_relu", "batch_size": 32, "lr_g": 2e-3, "lr_d": 1e-3,
               "beta1": 0.5, "beta2": 0.999, "lr_schedule": "constant", "g_ema": 0.999,
               "d_r1": 1.0, "steps": 9000, "eval_every": 1000, "sharpness_every": 6000}

PRESETS: dict[str, dict] = {
    "Default 2-D": {
        "slug": "default-2d",
        "fields": {"dataset": "ring8"},
        "description": "The tuned defaults on the 8-Gaussian ring: all 8 modes, sharp samples "
                       "in 1,500 steps, a few seconds of CPU (grid25: larger nets, 8,000 steps).",
    },
    "Mode collapse": {
        "slug": "mode-collapse",
        "fields": {"dataset": "ring8", "reg": "none", "lr_g": 3e-3, "lr_d": 3e-4, "beta1": 0.5,
                   "lr_schedule": "constant", "steps": 3000},
        "description": "G learns 10x faster than D: all samples crowd around one cluster, then "
                       "hop to another whenever D catches up; the modes curve stays at 0-1 of 8.",
    },
    "L1 makes D sparse": {
        "slug": "l1-sparse-d",
        "fields": {"dataset": "ring8", **demo_base("l1", "ring8"), **demo_settings("l1")},
        "description": "Proximal L1 on D: nearly all of D's weights become exactly 0 while G "
                       "still covers all 8 modes.",
    },
    "HSN1R flattens D": {
        "slug": "hsn1r-flat-d",
        "fields": {"dataset": "ring8", **demo_settings("hsn1r"),
                   "sharpness_every": 100},
        "description": "HSN1R on D holds the sharpness of D's loss near 1 while the same seed "
                       "unregularized climbs into the hundreds, at the same sample quality.",
    },
    "Spectral norm vs HSN1R": {
        "slug": "sn-vs-hsn1r",
        "fields": {"dataset": "ring8", **STABILIZERS["sn"]["fields"], "sharpness_every": 100},
        "description": "Spectral normalization on D holds each of D's layers at spectral norm "
                       "1 (the weights' spectrum); compare it with HSN1R (the loss Hessian's) "
                       "on the same seed: lesson 6.",
    },
    "WGAN-GP": {
        "slug": "wgan-gp",
        "fields": {"dataset": "ring8", **STABILIZERS["wgan-gp"]["fields"]},
        "description": "The Wasserstein GAN with gradient penalty: D is a critic with an "
                       "unbounded score (the heatmap shows it scaled), 5 critic steps per G "
                       "step.",
    },
    "MNIST digits": {
        "slug": "mnist",
        "fields": {"dataset": "mnist"},
        "description": "A small MLP GAN on 8,000 real MNIST digits (MNIST's own defaults: "
                       "latent 64, 3 x 256 units, 4,000 steps): strokes within a few hundred "
                       "steps, digits after a few thousand, a few minutes on a CPU.",
    },
    "MNIST conv": {
        "slug": "mnist-conv",
        # Tuned on seeds 0-2 (latent 64 -> 32 -> 16 -> 8, G's weight average, D's R1 penalty;
        # see docs/RESULTS.md), reported on seeds 3-5.
        "fields": _MNIST_CONV,
        "description": "A small DCGAN (batch norm in G, G learning 2x faster than D, batch 32, "
                       "8-d noise, samples from G's weight average, R1 penalty on D) on MNIST: "
                       "clean, readable digits, ~5 minutes on 2 CPU cores.",
    },
    "MNIST conv, long": {
        "slug": "mnist-conv-long",
        # The conv preset, longer: with D's R1 gradient penalty quality keeps rising over a long
        # run (without it, D memorizes the 8,000 digits and longer runs get worse). Explored on
        # seed 100, reported on seeds 3-5 (docs/RESULTS.md).
        "fields": {**_MNIST_CONV, "steps": 60000, "eval_every": 2000,
                   "sharpness_every": 12000},
        "description": "The conv preset trained 60,000 steps: sharper digits for an "
                       "unattended run (about 40 minutes of one CPU core).",
    },
}


def preset_config(name: str) -> RunConfig:
    """The preset on top of its dataset's defaults (validated)."""
    return RunConfig.from_dict(PRESETS[name]["fields"])


def by_slug() -> dict[str, str]:
    """slug (the CLI's --preset NAME) -> the preset's display name (the app's button)."""
    return {p["slug"]: name for name, p in PRESETS.items()}


def preset_fields(slug: str) -> dict:
    """The fields of the preset `slug` (a copy). Raises ConfigError naming --preset and the
    slugs there are."""
    names = by_slug()
    if slug not in names:
        raise ConfigError("--preset", f"unknown preset {brief(slug)}; one of "
                                      f"{', '.join(names)} (--preset list describes them)")
    return dict(PRESETS[names[slug]]["fields"])


def preset_list() -> str:
    """`--preset list`: one line per preset, slug first."""
    width = max(len(s) for s in by_slug())
    return "\n".join(f"{p['slug']:<{width}}  {name}: {p['description']}"
                     for name, p in PRESETS.items())
