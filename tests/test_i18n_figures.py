"""The figures' text in the page's language (issue 21, finding 17): Chinese titles, legend and
axis labels when a CJK font is installed (.ci/run installs fonts-wqy-microhei), drawn with no
missing glyph (no boxes); English, cleanly, when no CJK font is there."""

from __future__ import annotations

import io
import re
import warnings

import pytest

from gan_lab.config import RunConfig
from gan_lab.i18n import t
from gan_lab.plots import fonts
from gan_lab.plots.renderer import FigureRenderer
from gan_lab.run import Run
from gan_lab.snapshot import snapshot_of

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def snap():
    run = Run(RunConfig(dataset="ring8", steps=5, g_hidden=16, d_hidden=16, batch_size=32),
              start_eval=None)
    run.advance(max_steps=2)
    return snapshot_of(run)


def _texts(fig) -> str:
    return "\n".join(x.get_text() for x in fig.findobj(lambda a: hasattr(a, "get_text")))


def _png_warnings(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in got if "missing from" in str(w.message)]


def test_chinese_figures_with_a_cjk_font_have_no_missing_glyph(snap):
    if fonts.cjk_family() is None:
        pytest.skip("no CJK font installed (fc-list :lang=zh); .ci/run installs one")
    r = FigureRenderer(dpi=60)
    for fig, keys in ((r.samples(snap, lang="zh"), ("fig.real", "fig.fake", "fig.heat")),
                      (r.weights(snap, lang="zh"), ("fig.w.sup", "fig.w.g", "fig.w.ylabel"))):
        text = _texts(fig)
        for key in keys:
            assert t(key, "zh") in text, key
        assert not _png_warnings(fig)   # every Chinese glyph found a font: no boxes
    assert "第 2 步" in _texts(r.samples(snap, lang="zh"))
    # and back to English on the same renderer (its cached figure relabelled)
    text = _texts(r.samples(snap, lang="en"))
    assert t("fig.real") in text and not CJK.search(text)


def test_without_a_cjk_font_the_figures_fall_back_to_english(snap, monkeypatch):
    monkeypatch.setattr(fonts, "use_cjk", lambda: False)
    assert fonts.figure_lang("zh") == "en" and fonts.figure_lang("en") == "en"
    r = FigureRenderer(dpi=60)
    for fig in (r.samples(snap, lang="zh"), r.weights(snap, lang="zh")):
        assert not CJK.search(_texts(fig))
        assert not _png_warnings(fig)
    assert t("fig.title", name="ring8", step="2") in _texts(r.samples(snap, lang="zh"))


def test_figure_language_follows_the_font():
    assert fonts.figure_lang("zh") == ("zh" if fonts.cjk_family() else "en")
    assert fonts.figure_lang("fr") == "en"


def test_the_compare_and_sweep_figures_in_chinese():
    from gan_lab.plots import overlay

    run = Run(RunConfig(dataset="ring8", steps=4, g_hidden=16, d_hidden=16, batch_size=32,
                        eval_every=2), start_eval=None)
    run.advance(max_steps=4)
    runs = [{"label": "A", "history": run.history.columns(), "metrics":
             run.metric_log.columns(), "dashed": True}]
    rows = [{"value": v, "quality": 50.0 + v, "quality_name": "high-quality %",
             "sparsity_d": 1.0, "sharpness_d": 0.5} for v in (0.1, 1.0)]
    for lang in ("zh", "en"):
        for fig in (overlay.overlay_figure(runs, 50, lang=lang),
                    overlay.tradeoff_figure(rows, "Lambda", 50, lang=lang)):
            text = _texts(fig)
            want_zh = lang == "zh" and fonts.cjk_family() is not None
            assert bool(CJK.search(text)) is want_zh, text[:200]
            assert not _png_warnings(fig)
