"""Unit tests of the page's words and checks (issue 21): messages that name each change with its
new value (1), what a Steps change does to the learning rate (6), runaway losses (7), a
teacher's hidden groups (5), range messages and the server's Steps cap (14), strokes on the
drawing canvas (3) and the resume tokens that keep a run across a reload (15)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gan_lab import lessons
from gan_lab.config import ConfigError, RunConfig, switch_dataset
from gan_lab.errors import bounds, got
from gan_lab.trainer import Trainer, schedule_scale
from gan_lab.ui import resume, runaway
from gan_lab.ui.notes import edit_note, steps_note


def test_a_dataset_switch_and_a_seed_change_name_their_new_values():
    ring = RunConfig.from_dict({})
    grid = switch_dataset(ring.replace(dataset="grid25"), "ring8")
    note = edit_note(ring, grid, step=0, untouched=True)
    assert "Dataset = grid25" in note and "D learning rate = 0.001" in note, note
    assert "Steps = 8,000" in note and "0.0015" not in note, note
    note = edit_note(grid, grid.replace(seed=5), step=0, untouched=True)
    assert note.startswith("Seed = 5: new networks built from seed 5"), note
    # mid-run: a live change says it applied live; a rebuild field waits for Train or Reset
    note = edit_note(grid, grid.replace(seed=5, lam=0.01), step=120, untouched=False)
    assert "Applied live at step 120: Lambda = 0.01" in note and "**Seed = 5**" in note, note
    assert edit_note(grid, grid, step=120, untouched=False) == ""


def test_raising_steps_after_done_says_what_the_learning_rate_does():
    cfg = RunConfig.from_dict({"steps": 4000})           # linear schedule, the default
    note = steps_note(cfg, cfg.replace(steps=8000), step=4000, done=True)
    assert "continues from step 4,000 to 8,000" in note, note
    assert "from 0% to 50%" in note and "decay to 0 by step 8,000" in note, note
    flat = cfg.replace(lr_schedule="constant")
    assert "%" not in steps_note(flat, flat.replace(steps=8000), step=4000, done=True)
    assert steps_note(cfg, cfg.replace(steps=8000), step=0, done=False) == ""


def test_the_trainer_follows_the_schedule_the_note_describes():
    cfg = RunConfig.from_dict({"steps": 4, "batch_size": 8, "g_hidden": 8, "d_hidden": 8,
                               "sharpness_every": 0})
    tr = Trainer(cfg)
    tr.run_steps(4)
    assert tr.lr_scale() == pytest.approx(0.0)
    tr.apply(steps=8)
    assert tr.lr_scale() == pytest.approx(schedule_scale("linear", 4, 8)) == pytest.approx(0.5)
    tr.run_steps(1)   # the optimizers take the rate of the step they make
    lr = tr.opt_d.param_groups[0]["lr"]
    assert lr == pytest.approx(cfg.lr_d * schedule_scale("linear", 4, 8))


def test_runaway_losses_are_said_and_drawn_on_a_log_scale():
    steps = np.arange(1, 101)
    calm = pd.DataFrame({"step": np.tile(steps, 2), "value": np.r_[np.full(100, 1.3),
                                                                   np.full(100, 0.8)],
                         "series": ["D loss"] * 100 + ["G loss"] * 100})
    shown, warning = runaway.check(calm)
    assert warning == "" and shown is calm
    wild = calm.copy()
    wild.loc[150:, "value"] = np.geomspace(1.0, 1e12, 50)
    shown, warning = runaway.check(wild)
    assert "running away" in warning and "G loss" in warning and "1e+12" in warning, warning
    assert "step 100" in warning
    assert shown["value"].max() == pytest.approx(np.log10(1 + 1e12))
    assert shown["value"].iloc[0] == pytest.approx(np.log10(2.3))   # small values stay apart


def test_hiding_a_group_hides_its_loose_controls_and_links_use_the_titles():
    ok, bad = lessons.parse_hide("optimization,Measurement,metrics")
    assert ok == ("optimization", "metrics") and bad == []
    assert "measurement" in lessons.hideable() and "metrics" not in lessons.hideable()
    assert set(lessons.hidden_fields(ok)) == {"lr_g", "lr_d", "d_steps"}
    assert lessons.hidden_fields(("architecture",)) == ()


def test_range_messages_print_whole_numbers_and_name_text_as_not_a_number():
    assert bounds(0, 2**31 - 1) == "[0, 2,147,483,647]" and bounds(1, 4096) == "[1, 4096]"
    assert bounds(0.0, 1.0) == "[0, 1]" and bounds(1e-6, 1.0) == "[1e-06, 1]"
    for value in (None, "", "abc"):
        assert "not a number" in got(value)
        with pytest.raises(ConfigError) as e:
            RunConfig.from_dict({"seed": value})
        assert "[0, 2,147,483,647]" in str(e.value) and "not a number" in str(e.value)
        assert "None" not in str(e.value)


def test_the_steps_help_shows_the_servers_cap():
    pytest.importorskip("gradio")
    from gan_lab.ui.controls import Controls, info_text

    ctl = Controls({"steps": 100_000})
    assert "(1 to 100,000)" in info_text(ctl.specs["steps"])
    assert "(1 to 1,000,000)" in info_text(Controls().specs["steps"])


def test_a_stroke_paints_along_its_path_and_bad_strokes_are_named():
    pytest.importorskip("gradio")
    from gan_lab.ui.draw import Draw

    page = SimpleNamespace(draw_canvas="canvas", draw_info="info", msg="msg")
    d = Draw(page, None, None, None, None)
    s = SimpleNamespace(drawing=None, strokes=[])
    line = [[0.2 + 0.03 * k, 0.5] for k in range(20)]
    out = d.on_stroke(s, __import__("json").dumps(line), 21, 0.05)
    n = int(s.drawing.sum())
    assert 20 * 7 * 0.8 <= n <= 20 * 7 and "points in the drawing" in out["info"]
    ys, xs = np.nonzero(s.drawing)
    assert np.ptp(xs) > 4 * np.ptp(ys) and np.ptp(xs) > 30   # a horizontal stroke
    assert len(s.strokes) == 1                     # one Undo takes the whole stroke back
    for bad in ("", "[]", "[[2, 0.5]]", "[[NaN, 0.5]]", '"x"', "[[0.1]]",
                "[" + ",".join(["[0.5, 0.5]"] * 201) + "]", "[[true, 0.5]]"):
        with pytest.raises(ConfigError) as e:
            d.on_stroke(s, bad, 20, 0.05)
        assert e.value.field == "drawing"
    with pytest.raises(ConfigError):
        d.on_stroke(s, "[[0.5, 0.5]]", 0, 0.05)


def test_a_parked_session_comes_back_only_with_its_token_and_within_its_ttl():
    park = resume.Parking(ttl_s=0.3)
    token, session = resume.new_token(), object()
    assert resume.valid(token) and not resume.valid("../" + token[3:])
    park.park(token, session)
    for forged in ("A" * 32, token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x",
                   None, 7, "../../etc/passwd"):
        assert park.take(forged) is None
    assert park.take(token) is session and park.take(token) is None   # taken once
    park.park(token, session)
    time.sleep(0.35)
    assert park.take(token) is None and park.expired() == [session]


def test_the_registry_parks_a_closed_tab_and_a_reload_takes_it_back():
    pytest.importorskip("gradio")
    from gan_lab.ui.sessions import Limits, Registry
    from gan_lab.ui.storage import session_token

    reg = Registry(Limits(process_jobs=False, ttl_s=60.0))
    try:
        s = reg.get("tab-1")
        token = reg.issue(s)
        assert reg.issue(s) == token                     # made once, by the server
        assert reg.resume("tab-2", "B" * 32) is None     # a forged token: nothing
        reg.drop("tab-1")                                # the tab reloads: parked
        assert session_token("tab-1") not in reg._sessions
        back = reg.resume("tab-2", token)
        assert back is s and reg._sessions[session_token("tab-2")] is s
        # a reload whose old page's unload has not arrived yet takes it over: one page holds
        # a session at a time
        assert reg.resume("tab-3", token) is s
        assert session_token("tab-2") not in reg._sessions
        # a late unload of the old id must not forget the session a new page holds
        reg.drop("tab-2")
        assert reg._sessions[session_token("tab-3")] is s
        # a page without a token is forgotten on unload, as before
        other = reg.get("tab-9")
        reg.drop("tab-9")
        assert reg.parking.take(other.resume) is None and other.resume is None
    finally:
        reg.close_all()


def test_the_notes_in_chinese_name_each_change_with_its_new_value():
    import re

    from gan_lab.config import RunConfig as Cfg
    from gan_lab.ui.notes import edit_note

    cjk = re.compile(r"[\u4e00-\u9fff]")
    old = Cfg(steps=4000)
    for new, step, untouched, done in ((old.replace(seed=5, steps=8000), 0, True, False),
                                       (old.replace(lr_d=0.002, steps=8000), 4000, False, True),
                                       (old.replace(d_hidden=96), 100, False, False)):
        en = edit_note(old, new, step, untouched, done)
        zh = edit_note(old, new, step, untouched, done, "zh")
        assert en and cjk.search(zh) and not cjk.search(en), (en, zh)
        for v in re.findall(r"= (\d[\d,.]*\d|\d)", en):   # the same new values in both
            assert f"= {v}" in zh, (v, zh)
    assert "步数 = 8,000" in edit_note(old, old.replace(steps=8000), 0, True, lang="zh")
