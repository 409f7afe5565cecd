"""The page's sweep messages and trade-off plot (issue 21, finding 13)."""

from __future__ import annotations

from gan_lab.config import RunConfig
from gan_lab.plots import overlay
from gan_lab.sweep.notes import idle_warning, progress, round_sig


def test_a_sweep_of_a_switched_off_field_warns():
    none = RunConfig(reg="none")
    assert "has no effect" in idle_warning("lam", none)
    assert idle_warning("lam", RunConfig(reg="l1")) == ""
    assert "has no effect" in idle_warning("l1_mode", RunConfig(reg="l2"))
    assert idle_warning("hsn_iters", RunConfig(reg="hsn1r")) == ""
    assert "has no effect" in idle_warning("gp_weight", RunConfig(loss="ns"))
    assert idle_warning("lr_d", none) == ""          # fields that always act never warn


def test_table_numbers_are_rounded_for_reading():
    assert round_sig(30.0939) == 30.1
    assert round_sig(0.0123456) == 0.0123
    assert round_sig(95.2381) == 95.2
    assert round_sig(1234.56) == 1235
    assert round_sig(7) == 7 and round_sig(None) is None and round_sig("l1") == "l1"
    assert round_sig(float("nan")) != round_sig(float("nan"))   # NaN stays NaN


def test_progress_then_finished():
    title, ended = progress(["done", "running", "idle"])
    assert "1 of 3 runs finished" in title and not ended
    title, ended = progress(["done", "done", "stopped"])
    assert ended and "the sweep finished, 2 of 3 runs done (1 stopped or failed)" in title


def test_tradeoff_axes_have_labels_round_ticks_and_honest_ranges():
    rows = [{"value": v, "quality": q, "quality_name": "high-quality %", "sparsity_d": s,
             "sharpness_d": h} for v, q, s, h in ((1e-4, 95.1, 2.0, 30.0939),
                                                   (1e-3, 94.2, 3.0, 12.3),
                                                   (1e-2, 96.2, 4.0, 3.3))]
    fig = overlay.tradeoff_figure(rows, "Lambda")
    fig.canvas.draw()
    q, sp, sh = fig.axes
    assert all(ax.get_ylabel() for ax in fig.axes)
    assert q.get_ylim() == (0.0, 100.0)              # 94.2-96.2 % is not made to look dramatic
    assert sp.get_ylim()[0] == 0.0 and sp.get_ylim()[1] >= 10.0
    assert sh.get_yscale() == "log"
    for ax in (q, sp):
        for label in ax.get_yticklabels():
            text = label.get_text().replace("\u2212", "-")
            assert len(text.replace("-", "").replace(".", "")) <= 3, text
    is_score = overlay.honest_ylim([7.1, 7.3], "quality", "inception score")
    assert is_score[0] == 0.0
