"""Named experiments: RunConfig field dicts on top of RunConfig's defaults.

`PRESETS[name] = {"fields": {...}, "description": "one line"}`; a field not named keeps its
RunConfig default, so a preset says only what makes it that experiment. `REG_SETTINGS` holds the
per-regularizer settings the quality tables use (`python -m gan_lab eval`); the regularizer
presets are built from them, so the table rows and the one-click experiments are the same runs.
Every entry is checked by tests/test_evaluate.py with RunConfig.from_dict.
"""

from __future__ import annotations

from .config import RunConfig

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

PRESETS: dict[str, dict] = {
    "Default 2-D": {
        "fields": {"dataset": "ring8"},
        "description": "The tuned defaults on the 8-Gaussian ring: all 8 modes, sharp samples, "
                       "under a minute on a laptop CPU (grid25 uses the same settings).",
    },
    "Mode collapse": {
        "fields": {"dataset": "ring8", "reg": "none", "lr_g": 3e-3, "lr_d": 3e-4,
                   "lr_schedule": "constant", "steps": 3000},
        "description": "G learns 10x faster than D: all samples crowd around one cluster, then "
                       "hop to another whenever D catches up; the modes curve stays at 0-1 of 8.",
    },
    "L1 makes D sparse": {
        "fields": {"dataset": "ring8", **REG_SETTINGS["l1"]["fields"]},
        "description": "Proximal L1 on D: nearly all of D's weights become exactly 0 while G "
                       "still covers all 8 modes.",
    },
    "HSN1R flattens D": {
        "fields": {"dataset": "ring8", **REG_SETTINGS["hsn1r"]["fields"],
                   "sharpness_every": 100},
        "description": "HSN1R on D holds the sharpness of D's loss near 1 while the same seed "
                       "unregularized climbs into the hundreds, at the same sample quality.",
    },
    "MNIST digits": {
        "fields": {"dataset": "mnist", "arch": "mlp", "latent_dim": 64, "g_hidden": 256,
                   "d_hidden": 256, "g_depth": 3, "d_depth": 3, "activation": "leaky_relu",
                   "d_activation": "leaky_relu", "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3,
                   "beta2": 0.999, "lr_schedule": "constant", "steps": 4000, "eval_every": 500,
                   "sharpness_every": 2000},
        "description": "A small MLP GAN on 8,000 real MNIST digits: strokes within a few hundred "
                       "steps, readable digits after a few thousand, about a minute on a CPU.",
    },
}


def preset_config(name: str) -> RunConfig:
    """The preset on top of RunConfig's defaults (validated)."""
    return RunConfig.from_dict(PRESETS[name]["fields"])
