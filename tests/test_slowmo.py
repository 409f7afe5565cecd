"""The slow-motion step (issue 21, finding 16): its stages come from the real step, the last
stage is exactly what a normal Step gives, and the page shows one sentence per stage."""

from __future__ import annotations

import pytest
import torch
from test_ui_many import SMALL, client, image, session  # noqa: F401 - fixtures

from gan_lab import i18n, slowmo
from gan_lab.config import RunConfig
from gan_lab.run import Run
from gan_lab.snapshot import snapshot_of

CFG = dict(dataset="ring8", steps=50, batch_size=64, g_hidden=32, d_hidden=32, g_depth=2,
           d_depth=2, eval_every=25, seed=5)


def _step(cfg: RunConfig, n_before: int = 3):
    run = Run(cfg)
    run.advance(max_steps=n_before)
    before = snapshot_of(run, version=1)
    run.advance(max_steps=1)
    return before, snapshot_of(run, version=2)


def test_stages_walk_from_before_to_the_normal_step():
    cfg = RunConfig(**CFG, reg="l1", l1_mode="proximal", lam=1.0, reg_target="both")
    before, after = _step(cfg)
    st = slowmo.stages(before, after)
    assert [s.key for s in st] == list(slowmo.STAGES)
    see, d_up, g_push, g_up = st
    # 1: nothing moved yet
    assert slowmo.same_weights(see.snap.d_state, before.d_state)
    assert slowmo.same_weights(see.snap.g_state, before.g_state)
    # 2 and 3: D has its update, G not yet
    assert slowmo.same_weights(d_up.snap.d_state, after.d_state)
    assert slowmo.same_weights(d_up.snap.g_state, before.g_state)
    assert not slowmo.same_weights(before.d_state, after.d_state)
    assert (d_up.snap.samples == before.samples).all()
    assert g_push.arrows and not d_up.arrows
    # 4: the state after the step, identical to a normal step of a fresh run to the same step
    assert g_up.snap is after
    ref = Run(cfg)
    ref.advance(max_steps=4)
    g_ref, d_ref, samples_ref = ref.view()
    assert slowmo.same_weights(g_up.snap.g_state, g_ref)
    assert slowmo.same_weights(g_up.snap.d_state, d_ref)
    assert torch.equal(torch.as_tensor(g_up.snap.samples), torch.as_tensor(samples_ref))
    # the regularizer's part: proximal L1 made exact zeros in this step, and says how many
    new = slowmo.new_zeros(before.d_state, after.d_state, cfg.reg_bias)
    total = slowmo.zeros(after.d_state, cfg.reg_bias)
    assert new > 0 and total >= new
    assert f"{new} new exact zeros, {total} in all" in d_up.text
    assert "proximal" in g_up.text          # reg_target both: G's update says it too
    # each stage has its own picture key (the renderer caches by weights_version and step)
    assert len({s.snap.weights_version for s in st[:2]} | {after.weights_version}) == 3


@pytest.mark.parametrize("reg,word", [("none", None), ("l2", "L2 penalty"),
                                      ("hsn1r", "HSN1R")])
def test_each_regularizer_has_its_sentence(reg, word):
    cfg = RunConfig(**CFG, reg=reg, reg_target="d", lam=0.01,
                    **({"hsn_iters": 2} if reg == "hsn1r" else {}))
    before, after = _step(cfg, n_before=1)
    text = slowmo.stages(before, after)[1].text
    if word is None:
        assert "lambda" not in text
    else:
        assert word in text
    assert slowmo.stages(before, after, "zh")[1].text != text   # a Chinese sentence too


def test_slow_motion_refuses_images():
    before = snapshot_of(Run(RunConfig(dataset="mnist", steps=2, batch_size=8)))
    with pytest.raises(ValueError, match="2-D"):
        slowmo.stages(before, before)


def test_the_page_steps_through_the_stages_and_ends_on_the_normal_step(client):  # noqa: F811
    c, demo = client
    kw = {**SMALL, "steps": 50, "reg": "l1", "l1_mode": "proximal", "lam": 0.05}
    texts = []
    for _ in range(4):
        out = c.predict(api_name="/slow_step", **kw)
        texts.append(out[-1])
        assert image(next(v for v in out if image(v)))
    s = session(demo, c)
    assert s.job.snapshot().step == 1          # the four stages were one real step
    for i, key in enumerate(("slow.see", "slow.d_update", "slow.g_push", "slow.g_update")):
        assert f"stage {i + 1} of 4" in texts[i], texts[i]
        head = i18n.t(key).split("{")[0][:25]
        assert head in texts[i], (head, texts[i])
    out = c.predict(api_name="/slow_step", **kw)   # a fifth press starts the next step
    assert "stage 1 of 4" in out[-1] and s.job.snapshot().step == 2
