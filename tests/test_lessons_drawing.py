"""Lessons (presets, links that hide control groups) and drawn data (spray, points, the link
encoding), without a browser."""

import base64
import zlib

import numpy as np
import pytest

from gan_lab import lessons, share
from gan_lab.config import RunConfig
from gan_lab.data import drawing
from gan_lab.presets import preset_fields


@pytest.mark.parametrize("i", range(len(lessons.LESSONS)))
def test_every_lesson_is_a_valid_config_with_text(i):
    les = lessons.LESSONS[i]
    cfg = les.config()
    assert isinstance(cfg, RunConfig)
    assert les.title and len(les.watch) > 40 and les.question.endswith("?")


def test_the_eight_lessons_cover_the_curriculum():
    titles = [les.title for les in lessons.LESSONS]
    assert len(titles) == 8
    regs = [les.config().reg for les in lessons.LESSONS]
    assert regs[:2] == ["none", "none"] and regs[2:5] == ["l1", "l2", "hsn1r"]
    # Lesson 6 starts from spectral norm on D and has the class switch to HSN1R on D.
    sn = lessons.LESSONS[5]
    assert sn.title == "Spectral norm vs HSN1R"
    assert (sn.config().spectral_norm, sn.config().reg) == ("d", "none")
    assert "HSN1R" in sn.watch and "Keep as A" in sn.watch
    # Lesson 7 tests a claim (docs/CLAIMS.md): the mode-collapse preset with proximal L1 on D.
    claim = lessons.LESSONS[6]
    cfg, collapse = claim.config(), RunConfig.from_dict(preset_fields("mode-collapse"))
    assert claim.title == "Does L1 cure mode collapse?"
    assert (cfg.reg, cfg.l1_mode, cfg.reg_target) == ("l1", "proximal", "d") and cfg.lam == 0.1
    assert {k: getattr(cfg, k) for k in ("lr_g", "lr_d", "beta1", "steps")} == \
        {k: getattr(collapse, k) for k in ("lr_g", "lr_d", "beta1", "steps")}
    assert "CLAIMS.md" in claim.watch and "Keep as A" in claim.watch
    # Lesson 8 starts MNIST from the shipped trained GAN (gan_lab.warm) and adds L1 on D.
    warm = lessons.LESSONS[7].config()
    assert (warm.dataset, warm.init, warm.reg, warm.reg_target) == ("mnist", "trained", "l1", "d")


def test_lesson_and_hide_parameters_are_checked():
    assert lessons.parse_lesson("2") == (1, None)
    for bad in ("0", "9", "two", "-1"):
        i, why = lessons.parse_lesson(bad)
        assert i is None and "1 to 8" in why
    ok, bad = lessons.parse_hide("architecture, Optimization,bogus,share")
    assert ok == ("architecture", "optimization", "share") and bad == ["bogus"]
    assert set(lessons.groups()) == {"basic", "architecture", "optimization", "regularization",
                                     "metrics"}


def test_page_keys_are_not_config_fields():
    q = "reg=l1&lesson=2&hide=architecture&draw=abc&compare=1&a.reg=none"
    cfg, errors = share.parse_query(q)
    assert errors == [] and cfg.reg == "l1"
    assert share.page_params(q) == {"lesson": "2", "hide": "architecture", "draw": "abc",
                                    "compare": "1", "a.reg": "none"}
    a, errors = share.parse_compare(q, cfg)
    assert errors == [] and a.reg == "none" and a.lam == cfg.lam
    _, errors = share.parse_compare("a.nope=1", cfg)
    assert errors and errors[0].field == "nope"


def test_a_spray_lands_where_clicked_and_undoes_exactly():
    counts = drawing.empty()
    x, y = drawing.to_data(300, 100, 400)          # right and up of the centre
    assert (x, y) == (1.0, 1.0)
    add = drawing.spray(counts, x, y, n=50, spread=0.05, seed=0)
    assert add.sum() == 50
    pts = drawing.points(counts + add)
    assert pts.shape == (50, 2)
    assert np.abs(pts.mean(axis=0) - [1.0, 1.0]).max() < 0.1
    np.testing.assert_array_equal(counts + add - add, counts)   # Undo subtracts the click
    # the same drawing always gives the same points (links reproduce runs)
    np.testing.assert_array_equal(drawing.points(counts + add), pts)


def test_the_drawing_is_capped_and_stays_on_the_canvas():
    counts = drawing.empty()
    for k in range(400):
        counts = counts + drawing.spray(counts, 1.9, -1.9, n=50, spread=0.3, seed=k)
    assert counts.sum() <= drawing.MAX_POINTS
    pts = drawing.points(counts)
    assert (np.abs(pts) <= drawing.LIMIT).all()
    assert drawing.spray(counts, 0, 0, n=50, seed=999).sum() == max(
        0, drawing.MAX_POINTS - int(counts.sum()))


def test_a_drawing_round_trips_through_a_short_link_and_bad_ones_are_refused():
    counts = drawing.empty()
    for k, (x, y) in enumerate([(0, 0), (1, 1), (-1, 0.5)]):
        counts = counts + drawing.spray(counts, x, y, n=40, seed=k)
    text = drawing.encode(counts)
    assert len(text) < 800
    np.testing.assert_array_equal(drawing.decode(text), counts)
    for bad in ("", "!!!", "x" * (drawing.MAX_ENCODED + 1),
                base64.urlsafe_b64encode(zlib.compress(b"\0" * 10)).decode(),
                # a decompression bomb: megabytes of zeros in a few hundred bytes
                base64.urlsafe_b64encode(zlib.compress(b"\0" * 5_000_000)).decode()[:4000]):
        with pytest.raises(ValueError, match="drawing"):
            drawing.decode(bad)
    too_many = np.full((drawing.GRID, drawing.GRID), 1, dtype=np.uint8)
    with pytest.raises(ValueError, match="more than"):
        drawing.decode(drawing.encode(too_many))


def test_the_canvas_shows_the_points():
    counts = drawing.spray(drawing.empty(), 0.0, 0.0, n=30, seed=1)
    img = drawing.canvas(counts, 200)
    assert img.shape == (200, 200, 3) and img.dtype == np.uint8
    green = (img == drawing.REAL).all(axis=2)
    ys, xs = np.nonzero(green)
    assert len(xs) > 30 and abs(xs.mean() - 100) < 15 and abs(ys.mean() - 100) < 15
