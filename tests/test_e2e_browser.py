"""End to end in a real browser: Debian's chromium driven by Playwright for Python.

Open the page, press Train, see the loss chart and the samples picture change, press Pause, and
keep a full-page screenshot (tests/output/e2e_paused.png) that must not be blank.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from helpers import BROWSER_MARKS, OUT, launch_chromium

pytestmark = BROWSER_MARKS


@pytest.fixture
def page(live_app):
    from playwright.sync_api import sync_playwright

    url, _ = live_app
    with sync_playwright() as p:
        browser = launch_chromium(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Long enough to be Paused, not Done, when the test presses Pause (the default ring
        # trains its 1,500 steps in a few seconds).
        pg.goto(url + "?steps=20000")
        yield pg
        browser.close()


def samples_src(pg) -> str:
    return pg.eval_on_selector("#samples-plot img", "e => e.src") or ""


def status(pg) -> str:
    return pg.inner_text("#gl-status [data-testid=markdown]")


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def test_train_pause_screenshot(page):
    pg = page
    pg.wait_for_selector("#train-btn")
    # The untrained generator is drawn on page load, before anyone presses Train.
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    src0 = samples_src(pg)
    assert src0.startswith("data:image/")

    t0 = time.monotonic()
    pg.click("#train-btn")
    pg.wait_for_function("() => document.querySelector('#gl-status [data-testid=markdown]')"
                         ".innerText.includes('Training')", timeout=10_000)
    first_status = time.monotonic() - t0
    pg.wait_for_function("s => document.querySelector('#samples-plot img').src !== s", arg=src0,
                         timeout=10_000)
    first = time.monotonic() - t0
    assert "Training" in status(pg) or "Done" in status(pg)
    pg.wait_for_selector("#loss-plot canvas, #loss-plot svg", timeout=10_000)
    loss_a = pixels(pg.locator("#loss-plot").screenshot())

    # Count the new pictures the page receives, as a student would see them.
    pg.evaluate("""() => {
        window.__frames = 0; let last = document.querySelector('#samples-plot img').src;
        window.__iv = setInterval(() => {
            const s = document.querySelector('#samples-plot img').src;
            if (s !== last) { window.__frames++; last = s; }
        }, 20);
    }""")
    time.sleep(4.0)
    rate = pg.evaluate("() => { clearInterval(window.__iv); return window.__frames; }") / 4.0
    step_text = status(pg)
    print(f"\nstatus 'Training' {first_status * 1000:.0f} ms and first new picture "
          f"{first * 1000:.0f} ms after the click; {rate:.1f} pictures/s; "
          f"load {os.getloadavg()[0]:.1f}; status: {step_text.splitlines()[0]}")
    # Speed is the benchmark's to judge (scripts/measure_app.py: first picture and pictures/s
    # on a quiet machine); here the stream must work: a moving picture soon, and more of them.
    assert first < 10.0
    assert rate * 4.0 >= 2, f"only {rate * 4.0:.0f} new pictures reached the page in 4 s"

    src1 = samples_src(pg)
    assert src1 != src0, "the samples picture did not change while training"
    loss_b = pixels(pg.locator("#loss-plot").screenshot())
    assert loss_a.shape != loss_b.shape or np.abs(loss_a - loss_b).mean() > 0.1, \
        "the loss chart did not change while training"
    # The loss chart really drew curves: its legend names both networks' losses.
    legend = pg.inner_text("#loss-plot")
    assert "D loss" in legend and "G loss" in legend, legend

    pg.click("#pause-btn")
    pg.wait_for_function("() => document.querySelector('#gl-status [data-testid=markdown]')"
                         ".innerText"
                         ".includes('Paused')", timeout=10_000)
    OUT.mkdir(exist_ok=True)
    shot = pg.screenshot(path=str(OUT / "e2e_paused.png"), full_page=True)
    px = pixels(shot)
    assert px.shape[0] > 800 and px.shape[1] > 800
    assert px.std() > 20, "the screenshot is (nearly) blank"
    # Colour, not just text: the D(x) heatmap and the curves put many distinct colours on it.
    assert len(np.unique(px.reshape(-1, 3)[::7], axis=0)) > 500


def message(pg) -> str:
    return pg.inner_text("#gl-msg")


def test_live_edit_and_bad_input_in_the_page(page):
    pg = page
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    pg.click("#train-btn")
    pg.wait_for_function("() => /step [1-9]/.test(document.querySelector("
                         "'#gl-status [data-testid=markdown]').innerText)", timeout=15_000)

    # Regularizer -> L1 while training: applied at once, the run goes on from where it was.
    pg.click("#ctl-reg input")
    pg.click("ul[role=listbox] li:has-text('L1')")
    pg.wait_for_function("() => document.querySelector('#gl-msg').innerText"
                         ".includes('Applied live')", timeout=10_000)
    assert "Regularizer = L1" in message(pg) and "weights kept" in message(pg)
    step_then = int(status(pg).split("step ", 1)[1].split(" ", 1)[0].replace(",", ""))
    time.sleep(1.0)
    step_now = int(status(pg).split("step ", 1)[1].split(" ", 1)[0].replace(",", ""))
    assert "Training" in status(pg) and step_now > step_then > 0

    # A bad number: the message names the field and its range, the field is outlined.
    pg.click("button:has-text('Optimization')")  # batch size sits in that accordion
    box = pg.locator("#ctl-batch_size input")
    box.fill("0")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('#gl-msg').innerText"
                         ".includes('Batch size')", timeout=10_000)
    assert "[1, 4096]" in message(pg)
    pg.wait_for_selector("#ctl-batch_size.gl-bad", timeout=5_000)
    # Fixing it clears the message and the outline; training never stopped.
    box.fill("256")
    box.press("Enter")
    pg.wait_for_function("() => !document.querySelector('#ctl-batch_size')"
                         ".classList.contains('gl-bad')", timeout=10_000)
    assert "Batch size" not in message(pg)
    assert "Training" in status(pg) or "Done" in status(pg)
    pg.click("#pause-btn")


def test_share_link_opens_with_its_settings(live_app):
    """A share link typed into the browser: the page's own query reaches the app on load, the
    controls show the link's values, and Copy share link gives a link with the same query."""
    from urllib.parse import parse_qsl, urlsplit

    from playwright.sync_api import sync_playwright

    from gan_lab.config import RunConfig

    url, _ = live_app
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.goto(f"{url}?lam=0.02&reg=l1&seed=7")
            pg.wait_for_function("() => document.querySelector('#gl-msg')?.innerText"
                                 "?.includes('Settings from the link')", timeout=30_000)
            assert pg.input_value("#ctl-lam input[type=number]") == "0.02"
            assert pg.input_value("#ctl-reg input") == "L1"
            pg.click("#grp-share button:has-text('Share link, downloads')")
            pg.click("#btn-share")
            pg.wait_for_function("() => document.querySelector('#share-link textarea')"
                                 ".value.startsWith('http')", timeout=10_000)
            link = pg.input_value("#share-link textarea")
            assert urlsplit(link).netloc == urlsplit(url).netloc, link
            assert dict(parse_qsl(urlsplit(link).query)) == {"reg": "l1", "lam": "0.02",
                                                             "seed": "7"}, link

            pg.goto(f"{url}?lam=7")
            pg.wait_for_function("() => document.querySelector('#gl-msg')?.innerText"
                                 "?.includes('not applied')", timeout=30_000)
            assert "Lambda" in message(pg) and "[0, 1]" in message(pg)
            assert float(pg.input_value("#ctl-lam input[type=number]")) == RunConfig().lam
        finally:
            browser.close()


def test_html_in_user_text_stays_text_in_toasts(page):
    """A pasted setting with a link in it: the error toast and the message show the text, and
    no clickable link reaches the page (gradio renders toasts as sanitized HTML, which keeps
    links, so the app escapes user text)."""
    pg = page
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    pg.click("button:has-text('Share or load settings (JSON)')")
    editor = pg.locator(".cm-content").first
    editor.click()
    pg.keyboard.press("Control+a")
    pg.keyboard.insert_text('{"dataset": "<a href=\\"https://ex.co/phish\\">log in</a>"}')
    pg.click("button:text-is('Load settings')")
    pg.wait_for_function("() => document.querySelector('#gl-msg').innerText"
                         ".includes('Dataset')", timeout=10_000)
    toast = pg.wait_for_selector("[data-testid=toast-body]", timeout=10_000)
    text = toast.inner_text()
    assert "<a href" in text and "log in" in text, text
    assert pg.locator("a[href='https://ex.co/phish']").count() == 0
    assert "<a href" in message(pg)


def test_a_hidden_tab_stops_training_and_resumes_when_shown(page, live_app):
    """The page tells the server when its tab is hidden or shown (a visibilitychange listener;
    its polls carry document.visibilityState too): while hidden its run gets no slices (the
    server's job stands still, still 'running'), shown again it trains on."""
    pg, (_, demo) = page, live_app
    pg.wait_for_selector("#train-btn")
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    pg.click("#train-btn")
    pg.wait_for_function("() => document.querySelector('#gl-status [data-testid=markdown]')"
                         ".innerText.includes('Training')", timeout=10_000)
    registry = demo.gan_lab.registry
    jobs = [s.job for s in registry._sessions.values()
            if s.job is not None and s.job.state == "running"]
    assert len(jobs) == 1
    job = jobs[0]
    hide = ("() => { Object.defineProperty(document, 'visibilityState', {configurable: true, "
            "get: () => 'hidden'}); document.dispatchEvent(new Event('visibilitychange')); }")
    pg.evaluate(hide)
    deadline = time.monotonic() + 10
    while job.runnable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not job.runnable() and job.state == "running", "the hidden tab's run kept its turns"
    time.sleep(0.5)                  # a slice in flight when it hid may still land
    at = job.snapshot().step
    time.sleep(2.0)
    assert job.snapshot().step == at, "a hidden tab's run advanced"
    pg.evaluate(hide.replace("'hidden'", "'visible'"))
    deadline = time.monotonic() + 10
    while job.snapshot().step == at and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.snapshot().step > at, "shown again, the run did not resume"
    pg.click("#pause-btn")
