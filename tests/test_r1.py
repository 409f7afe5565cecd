"""D's R1 gradient penalty (RunConfig.d_r1): the gradient it adds to D equals a hand-written
double backward of gamma/2 * mean ||grad_x D(x)||^2, it is off by default (the step is the
same as without the field), and it changes live."""

import copy

import pytest
import torch

from gan_lab.config import LIVE_FIELDS, ConfigError, RunConfig
from gan_lab.losses import d_loss
from gan_lab.penalties import r1_backward
from gan_lab.trainer import Trainer

TOY = dict(dataset="ring8", batch_size=64, g_hidden=16, d_hidden=16, seed=3)


def test_field_bounds_and_live():
    assert RunConfig().d_r1 == 0.0
    assert "d_r1" in LIVE_FIELDS
    for bad in (-0.1, 101.0, float("nan")):
        with pytest.raises(ConfigError) as e:
            RunConfig.from_dict({**TOY, "d_r1": bad})
        assert e.value.field == "d_r1"


@pytest.mark.parametrize("dataset,extra", [("ring8", {}),
                                           ("mnist", {"arch": "conv", "g_hidden": 8,
                                                      "d_hidden": 8, "latent_dim": 4})])
def test_r1_gradient_matches_hand_written(dataset, extra):
    gamma = 2.5
    tr = Trainer(RunConfig(**{**TOY, "dataset": dataset, **extra}, d_r1=gamma))
    D = tr.D
    real = tr.data.sample(16, torch.Generator().manual_seed(0), tr.device)
    fake = torch.randn_like(real)
    ref = copy.deepcopy(D)

    D.zero_grad(set_to_none=True)
    d_loss("ns", D(real), D(fake)).backward()
    pen = r1_backward(D, real, gamma)

    ref.zero_grad(set_to_none=True)
    x = real.clone().requires_grad_(True)
    out_real = ref(x)
    (gx,) = torch.autograd.grad(out_real.sum(), x, create_graph=True)
    want_pen = gamma / 2 * (gx.flatten(1) ** 2).sum(1).mean()
    (d_loss("ns", out_real, ref(fake)) + want_pen).backward()

    assert float(pen) == pytest.approx(float(want_pen.detach()), rel=1e-5)
    assert float(pen) > 0
    for (name, p), q in zip(D.named_parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7), name
    # The penalty moves D's gradient: without it the gradients differ.
    ref.zero_grad(set_to_none=True)
    d_loss("ns", ref(real), ref(fake)).backward()
    assert any(not torch.allclose(p.grad, q.grad) for p, q in zip(D.parameters(), ref.parameters()))


def test_off_by_default_and_changes_live():
    a, b = Trainer(RunConfig(**TOY)), Trainer(RunConfig(**TOY, d_r1=0.0))
    assert torch.equal(torch.as_tensor(a.run_steps(5)), torch.as_tensor(b.run_steps(5)))
    c = Trainer(RunConfig(**TOY))
    c.run_steps(5)
    d_before = [p.detach().clone() for p in c.D.parameters()]
    c.apply(d_r1=10.0)        # live: same networks, next steps penalized
    assert all(torch.equal(p, q) for p, q in zip(c.D.parameters(), d_before))
    c.run_steps(5)
    a.run_steps(5)
    assert not all(torch.equal(p, q) for p, q in zip(c.D.parameters(), a.D.parameters()))
