"""The slow-motion step (issue 21, finding 16): its stages come from the real step, the last
stage is exactly what a normal Step gives, and the page shows one sentence per stage."""

from __future__ import annotations

import numpy as np
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
    assert "fixed view points" in see.text     # without the replay's batch, and it says so


def test_the_stages_show_the_very_batch_of_the_step():
    cfg = RunConfig(**CFG, reg="l1", l1_mode="proximal", lam=1.0, reg_target="d", d_steps=2)
    run = Run(cfg, start_eval=None)
    run.advance(max_steps=3)
    state, before = run.export_state(), snapshot_of(run, version=1)
    # what the step draws: D's batches and G's noise come from the run's generator in order
    rng = torch.Generator().manual_seed(0)
    rng.set_state(state.rng[1])
    run.advance(max_steps=1)
    after = snapshot_of(run, version=2)
    batch = slowmo.replay(cfg, state, None, after)
    assert batch.exact and batch.real.shape == batch.fake.shape == (64, 2)
    see, d_up, g_push, g_up = slowmo.stages(before, after, "en", batch)
    assert (see.snap.real == batch.real).all() and (see.snap.samples == batch.fake).all()
    assert "64 real and 64 generated points of this very step" in see.text
    assert (g_push.snap.samples == batch.g_before).all() and "G's own batch" in g_push.text
    # the last stage: the step's weights, and G's batch moved by G's update (same noise)
    assert slowmo.same_weights(g_up.snap.g_state, after.g_state)
    assert (g_up.snap.samples == batch.g_after).all()
    assert not np.allclose(batch.g_after, batch.g_before)
    assert len({x.snap.weights_version for x in (see, d_up, g_push, g_up)}) == 4
    # the real points are the step's own: the dataset's draws from the saved generator, in
    # the order the step makes them (D's first batch and noise, then D's second batch)
    data = Run(cfg, start_eval=None).trainer.data
    data.sample(64, rng, torch.device("cpu"))
    torch.randn(64, cfg.latent_dim, generator=rng)
    assert torch.equal(data.sample(64, rng, torch.device("cpu")), torch.as_tensor(batch.real))
    # a replay that does not end on the job's weights is not used
    wrong = slowmo.replay(cfg, None, None, after)
    assert not wrong.exact
    assert "fixed view points" in slowmo.stages(before, after, "en", wrong)[0].text


@pytest.mark.parametrize("every,n_before,active", [(1, 3, True), (8, 3, False), (8, 8, True)])
def test_the_hsn1r_stage_shows_the_direction_it_flattens(every, n_before, active):
    cfg = RunConfig(**CFG, reg="hsn1r", lam=0.05, reg_target="d", hsn_every=every)
    run = Run(cfg, start_eval=None)
    run.advance(max_steps=n_before)
    state, before = run.export_state(), snapshot_of(run, version=1)
    run.advance(max_steps=1)
    after = snapshot_of(run, version=2)
    batch = slowmo.replay(cfg, state, None, after)
    hsn = batch.hsn
    assert batch.exact and hsn["net"] == "D" and hsn["active"] is active
    assert len(hsn["shares"]) == 3 and abs(sum(hsn["shares"]) - 1) < 1e-6 and hsn["curv"] > 0
    text = slowmo.stages(before, after, "en", batch)[1].text
    top = max(hsn["shares"])
    assert f"{top:.0%} " in text and "layer 1: " in text and f"{hsn['curv']:.3g}" in text
    assert ("not in this one" in text) is not active
    assert ("also pushed" in text) is active
    zh = slowmo.stages(before, after, "zh", batch)[1].text
    assert "第 1 层" in zh and f"{hsn['curv']:.3g}" in zh


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

    assert "this very step's batch" in texts[0]     # the page's job: the replay was exact


def test_slow_play_runs_the_stages_by_itself_until_pressed_again(client):  # noqa: F811
    c, demo = client
    kw = {**SMALL, "steps": 50}
    out = c.predict(api_name="/slow_play", **kw)
    s = session(demo, c)
    assert s.shown.get("slow_play")
    assert any(isinstance(v, str) and "stage 1 of 4" in v for v in out)
    out = c.predict(api_name="/slow_play", **kw)     # pressed again: off, no stage taken
    assert not s.shown.get("slow_play") and s.job.snapshot().step == 1


def test_compare_messages_and_the_slow_stage_in_the_pages_language(client):  # noqa: F811
    c, demo = client
    c.predict(api_name="/keep_a", **SMALL)   # nothing to keep yet: a session exists now
    s = session(demo, c)
    s.lang = "zh"
    out = c.predict(api_name="/with_without", steps=120, **SMALL)
    assert i18n.t("msg.with_without", "zh").split("{")[0] in out[0], out[0]
    assert "正则化器" in out[0]        # the field's label in Chinese too
    out = c.predict(api_name="/slow_step", **{**SMALL, "steps": 50})
    assert any(isinstance(v, str) and "慢动作，第 1 / 4 阶段" in v for v in out)
