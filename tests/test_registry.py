"""Adding a regularizer is one class and one registry entry: RunConfig, the CLI, jobs and the
page's menu and help all pick it up from gan_lab.regularizers.REGISTRY."""

import json

import pytest
import torch

from gan_lab import regularizers
from gan_lab.cli import main
from gan_lab.config import ConfigError, RunConfig, spec
from gan_lab.jobs import TrainingJob

SMALL = dict(g_hidden=16, d_hidden=16, g_depth=2, d_depth=2, batch_size=32, eval_every=10,
             sharpness_every=0)


class QuarticShrink(regularizers.Regularizer):
    """A toy: lambda * sum w^4."""

    kind = "quartic"

    def penalty(self, loss, lam, step):
        pen = lam * torch.stack([p.pow(4).sum() for p in self.params]).sum()
        self.value = pen
        return pen


@pytest.fixture
def quartic():
    regularizers.register(QuarticShrink, label="Quartic", formula="lambda*sum w^4",
                          teaching="**Quartic**: a test regularizer.")
    yield
    del regularizers.REGISTRY["quartic"]


class ScaledL2(regularizers.Regularizer):
    """A toy with an option of its own: lambda * scale * sum w^2, scale read from a live field
    that no built-in kind reads (sparsity_eps stands in for the kind's own field)."""

    kind = "scaled"
    options = {"sparsity_eps": regularizers.Option("scale")}

    def __init__(self, params, scale):
        super().__init__(params)
        self.scale = scale

    def penalty(self, loss, lam, step):
        pen = lam * self.scale * torch.stack([p.pow(2).sum() for p in self.params]).sum()
        self.value = pen
        return pen


def test_a_live_change_of_a_kinds_own_option_reaches_it():
    from gan_lab.trainer import Trainer

    regularizers.register(ScaledL2, label="Scaled", formula="s*w^2", teaching="")
    try:
        assert "sparsity_eps" in regularizers.rebuild_fields()
        tr = Trainer(RunConfig(reg="scaled", lam=0.5, sparsity_eps=0.1, steps=5, **SMALL))
        assert tr.reg_d.scale == 0.1
        tr.apply(sparsity_eps=0.25)
        assert tr.reg_d.scale == 0.25 and tr.run_steps(1)[0, 2] > 0
    finally:
        del regularizers.REGISTRY["scaled"]
    assert "sparsity_eps" not in regularizers.rebuild_fields()


def test_a_registered_regularizer_trains_through_the_cli_and_a_job(quartic, tmp_path):
    s = spec("reg")
    assert "quartic" in s["choices"] and s["labels"]["quartic"] == "Quartic"
    assert "Quartic (lambda*sum w^4)" in s["help"]
    assert main(["train", "--reg", "quartic", "--lam", "0.5", "--steps", "20", "--quiet",
                 *[f"--{k}={v}" for k, v in SMALL.items()], "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["reg"] == "quartic" and summary["final"]["reg_d"] > 0

    job = TrainingJob(RunConfig(reg="quartic", lam=0.5, steps=50, **SMALL))
    try:
        job.step(10)
        assert job.wait(timeout=30) == "paused"
        assert job.snapshot().latest["reg_d"] > 0
        job.update(reg="none")                      # and it is a live choice like the others
        job.step(1)
        job.wait(timeout=30)
        assert job.snapshot().latest["reg_d"] == 0
    finally:
        job.stop()


def test_the_page_lists_it_with_its_label_and_teaching_text(quartic):
    from gan_lab.ui.controls import Controls
    from gan_lab.ui.layout import reg_teaching

    assert ("Quartic", "quartic") in Controls().choices("reg")
    assert "test regularizer" in reg_teaching("quartic")


def test_unknown_kinds_are_a_field_error_not_a_key_error():
    with pytest.raises(ConfigError, match="reg: must be one of"):
        RunConfig(reg="quartic").validate()
    from gan_lab.ui.layout import reg_teaching

    assert reg_teaching("quartic") == ""
