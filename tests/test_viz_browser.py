"""In Debian's chromium at 1280x720 (a projector): the slow-motion step shows each stage's
sentence (finding 16) and Slow play runs them by itself, with the step's batch and HSN1R's
direction, at 1280x720 and 390x844 (a phone), the page in Chinese with ?lang=zh (finding 17),
and the charts in G's and D's colours (finding 9). Screenshots in tests/output/ (viz_*.png)
are for a person to look at."""

from __future__ import annotations

import time

import pytest
from helpers import BROWSER_MARKS, OUT

from gan_lab.i18n import t
from gan_lab.plots import palette
from gan_lab.ui.layout import SLOW_PLAY_S

pytestmark = BROWSER_MARKS


def _page(browser, query: str = "", locale: str = "en-US", size=(1280, 720)):
    b, url = browser
    ctx = b.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    pg = ctx.new_page()
    pg.goto(url + query)
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    return pg


def _slow_text(pg) -> str:
    return pg.inner_text("#slow-text")


def test_slow_motion_steps_through_each_stage(browser):
    pg = _page(browser, "?steps=200&g_hidden=32&d_hidden=32&reg=l1&l1_mode=proximal&lam=0.5")
    OUT.mkdir(exist_ok=True)
    heads = [t(k).split("{")[0][:30] for k in ("slow.see", "slow.d_update", "slow.g_push",
                                               "slow.g_update")]
    srcs, texts = [], []
    for i, head in enumerate(heads, 1):
        pg.click("#slow-btn")
        pg.wait_for_function("h => document.querySelector('#slow-text').innerText.includes(h)",
                             arg=head, timeout=20_000)
        text = _slow_text(pg)
        texts.append(text)
        assert f"stage {i} of 4" in text, text
        pg.wait_for_function("s => document.querySelector('#samples-plot img').src !== s",
                             arg=srcs[-1] if srcs else "", timeout=10_000)
        srcs.append(pg.eval_on_selector("#samples-plot img", "e => e.src"))
        pg.screenshot(path=str(OUT / f"viz_slowmo_stage{i}.png"))
    assert len(set(srcs)) == 4        # each stage its own picture
    assert "proximal" in texts[1] and "new exact zeros" in texts[1]   # the part on D


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)])
def test_slow_play_shows_the_batch_and_the_hsn1r_direction_by_itself(browser, size):
    pg = _page(browser, "?steps=200&g_hidden=32&d_hidden=32&reg=hsn1r&lam=0.05&reg_target=d"
               "&hsn_every=1", size=size)
    OUT.mkdir(exist_ok=True)
    pg.locator("#slow-play-btn").scroll_into_view_if_needed()
    pg.click("#slow-play-btn")
    wait = "s => document.querySelector('#slow-text').innerText.includes(s)"
    pg.wait_for_function(wait, arg="stage 1 of 4", timeout=20_000)
    assert "this very step's batch" in _slow_text(pg)
    assert t("btn.slow_pause") in pg.inner_text("#slow-play-btn")
    t0 = time.monotonic()
    pg.wait_for_function(wait, arg="stage 2 of 4", timeout=20_000)   # no click: by itself
    assert time.monotonic() - t0 > 2.5                                 # at a readable pace
    text = _slow_text(pg)
    assert "HSN1R" in text and "layer 1: " in text and "bends the loss most" in text, text
    pg.evaluate("document.querySelector('#samples-plot').scrollIntoView({block: 'start'})")
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(OUT / f"viz_slowplay_hsn1r_{size[0]}x{size[1]}.png"))
    pg.wait_for_function(wait, arg="stage 3 of 4", timeout=20_000)
    pg.locator("#pause-btn").scroll_into_view_if_needed()
    pg.click("#pause-btn")                                             # Pause stops it
    pg.wait_for_function("t => document.querySelector('#slow-play-btn').innerText.includes(t)",
                         arg=t("btn.slow_play").split()[0], timeout=10_000)
    shown = _slow_text(pg)
    pg.wait_for_timeout(int(2.5 * SLOW_PLAY_S * 1000))
    assert _slow_text(pg) == shown


def test_chinese_page_and_colours(browser):
    pg = _page(browser, "?lang=zh")
    pg.wait_for_function("t => document.querySelector('#train-btn').innerText.includes(t)",
                         arg=t("btn.train", "zh").strip("▶ "), timeout=20_000)
    assert t("btn.step", "zh") in pg.inner_text("#step-btn")
    assert t("btn.slow", "zh").split()[0] in pg.inner_text("#slow-btn")
    body = pg.inner_text("body")
    for key in ("tab.watch", "tab.compare", "plot.losses", "view.heat", "md.presets",
                "btn.slow_play"):
        assert t(key, "zh").replace("**", "") in body, key
    # the explanations beside the views are Chinese too (their first words)
    assert t("hint.samples", "zh")[:12] in body and t("hint.losses", "zh")[:12] in body
    pg.screenshot(path=str(OUT / "viz_zh_1280x720.png"), full_page=False)
    pg.click(f"button[role=tab]:has-text('{t('tab.compare', 'zh')}')")
    pg.wait_for_function("t => document.body.innerText.includes(t)",
                         arg=t("hint.compare", "zh")[:12], timeout=10_000)
    pg.screenshot(path=str(OUT / "viz_zh_compare_1280x720.png"), full_page=False)
    # the browser's language alone picks Chinese too
    pg2 = _page(browser, "", locale="zh-CN")
    pg2.wait_for_function("t => document.querySelector('#step-btn').innerText.includes(t)",
                          arg=t("btn.step", "zh"), timeout=20_000)
    # ...and ?lang=en wins over a Chinese browser
    pg3 = _page(browser, "?lang=en", locale="zh-CN")
    pg3.wait_for_timeout(1500)
    assert t("btn.step", "en") in pg3.inner_text("#step-btn")


def test_charts_use_the_palette_colours(browser):
    pg = _page(browser, "?steps=300&g_hidden=32&d_hidden=32")
    pg.click("#train-btn")
    pg.wait_for_function("() => document.querySelector('#gl-status').innerText.includes('Done')",
                         timeout=60_000)
    pg.wait_for_selector("#loss-plot canvas, #loss-plot svg", timeout=10_000)
    pg.wait_for_timeout(1500)
    pg.screenshot(path=str(OUT / "viz_palette_1280x720.png"), full_page=True)
    # Vega draws the legend's symbols in the series' colours: count the palette's pixels in the
    # loss chart (a canvas or an svg, screenshotted either way).
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(pg.locator("#loss-plot").screenshot())).convert("RGB"),
                     dtype=int)

    def near(hexcol):
        rgb = np.array([int(hexcol[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(img - rgb).sum(axis=2) < 40).sum())

    assert near(palette.G_COLOR) > 30 and near(palette.D_COLOR) > 30
