"""The page a class reads from the back row (issue 21), in Debian's chromium at a projector's
1280x720 and a phone's 390x844: messages that name each change with its new value, readable
help text (computed contrast and size), a sidebar whose buttons neither overlap nor clip, a
lesson's question beside the samples plot, empty charts that say what they wait for, run A on
screen as soon as it is kept, strokes that paint, and a reload that keeps the run (a forged
token gets a fresh session). Few page loads, many checks each: browsers are slow on a shared
machine. Screenshots: tests/output/class_*.png."""

from __future__ import annotations

import re
import time

from helpers import BROWSER_MARKS, OUT

pytestmark = BROWSER_MARKS
STATUS = "#gl-status [data-testid=markdown]"


def message(pg) -> str:
    return pg.inner_text("#gl-msg")


def wait_msg(pg, text: str, timeout: float = 20_000) -> str:
    pg.wait_for_function("t => document.querySelector('#gl-msg')?.innerText?.includes(t)",
                         arg=text, timeout=timeout)
    return message(pg)


def status(pg) -> str:
    return pg.inner_text(STATUS)


def step_of(pg) -> int:
    return int(re.search(r"step ([\d,]+)", status(pg)).group(1).replace(",", ""))


def in_view(pg, sel: str, whole: bool = True) -> bool:
    """Whether `sel` is on screen: wholly, or (whole=False) at least its top 100 px."""
    box = pg.locator(sel).first.bounding_box()
    vw, vh = pg.viewport_size["width"], pg.viewport_size["height"]
    if box is None or box["x"] < 0 or box["y"] < 0 or box["x"] + box["width"] > vw + 1:
        return False
    return box["y"] + (box["height"] if whole else min(100, box["height"])) <= vh


# The WCAG relative luminance and contrast of computed CSS colours ("rgb(r, g, b)").
CONTRAST_JS = """(sel) => {
  const lum = (c) => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((x) => {
    x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = getComputedStyle(e)
    .backgroundColor; if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent')
    return c; } return 'rgb(255, 255, 255)'; };
  return [...document.querySelectorAll(sel)].filter((e) => e.offsetParent !== null)
    .map((e) => { const a = lum(getComputedStyle(e).color), b = lum(bg(e));
      return {text: e.innerText.slice(0, 40), px: parseFloat(getComputedStyle(e).fontSize),
              ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)}; });
}"""


def pick(pg, field: str, choice: str) -> None:
    pg.click(f"#ctl-{field} input")
    pg.click(f"ul[role=listbox] li:has-text('{choice}')")


def test_projector_page_messages_contrast_sidebar_compare_draw_and_reload(browser):
    b, url = browser
    OUT.mkdir(exist_ok=True)
    pg = b.new_page(viewport={"width": 1280, "height": 720})
    pg.goto(url)
    pg.wait_for_selector("#samples-plot img", timeout=30_000)

    # 8. Help lines: >= 14 px and WCAG AA (4.5:1) against what they sit on.
    helps = pg.evaluate(CONTRAST_JS, "#sidebar .info-text, .gl-hint p")
    assert len(helps) >= 5, helps
    bad = [h for h in helps if h["px"] < 14 or h["ratio"] < 4.5]
    assert not bad, bad
    # ... and the status line in plain words, its other numbers behind a click.
    line = status(pg)
    assert "Ready" in line and "clusters covered" in line and "More numbers" in line, line
    assert "grid JS" not in line and "device" not in line, line
    pg.click("#gl-status summary")
    assert "grid JS" in status(pg)
    # 11. An empty chart says what it waits for.
    assert "appear once training starts" in pg.inner_text("#loss-plot")
    pg.screenshot(path=str(OUT / "class_1280x720_step0.png"))

    # 1. A dataset switch names every change with its new value, and so does a Seed change.
    pick(pg, "dataset", "grid25")
    msg = wait_msg(pg, "grid25")
    assert "D learning rate = 0.001" in msg and "Steps = 8,000" in msg, msg
    pg.wait_for_function("s => document.querySelector(s).innerText.includes('/ 8,000')",
                         arg=STATUS, timeout=15_000)
    box = pg.locator("#ctl-seed input[type=number]")
    # 14. A bad value: the range reads as a person writes it, and the toast keeps off the
    # status line.
    box.fill("-1")
    box.press("Enter")
    msg = wait_msg(pg, "Seed")
    assert "[0, 2,147,483,647]" in msg and "e+09" not in msg, msg
    toast = pg.wait_for_selector("[data-testid=toast-body]", timeout=10_000).bounding_box()
    st = pg.locator("#gl-status").bounding_box()
    assert toast["y"] > st["y"] + st["height"] or toast["y"] + toast["height"] < st["y"], \
        (toast, st)
    box.fill("5")
    box.press("Enter")
    msg = wait_msg(pg, "Seed = 5")
    assert "0.0015" not in msg and "4,000" not in msg, msg

    # 2. The sidebar's downloads: no two buttons overlap, no label is clipped.
    pg.click("#grp-share button:has-text('Share link, downloads')")
    pg.wait_for_selector("#btn-dl-gif", state="visible")
    boxes = [pg.locator(f"#btn-dl-{k}").bounding_box()
             for k in ("config", "checkpoint", "metrics", "samples", "gif", "points")]
    for i, p in enumerate(boxes):
        for q in boxes[i + 1:]:
            apart = (p["x"] + p["width"] <= q["x"] + 0.5 or q["x"] + q["width"] <= p["x"] + 0.5
                     or p["y"] + p["height"] <= q["y"] + 0.5
                     or q["y"] + q["height"] <= p["y"] + 0.5)
            assert apart, (p, q)
    clipped = pg.evaluate("() => [...document.querySelectorAll('[id^=btn-dl-]')]"
                          ".filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.id)")
    assert clipped == [], clipped
    assert all(h <= 60 for h in (bx["height"] for bx in boxes)), boxes
    pg.locator("#btn-dl-gif").scroll_into_view_if_needed()
    pg.screenshot(path=str(OUT / "class_1280x720_sidebar.png"))
    # A refused upload leaves the box empty for the next try (no click on its x first).
    pg.locator("#up-points input[type=file]").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"x,y\nfoo,bar\n"}])
    wait_msg(pg, "points")
    pg.wait_for_function("() => !document.querySelector('#up-points')?.innerText"
                         "?.includes('bad.csv')", timeout=15_000)
    pg.locator("#up-points").scroll_into_view_if_needed()
    assert "Upload" in pg.inner_text("#up-points")
    pg.screenshot(path=str(OUT / "class_1280x720_uploads.png"))

    # 11. Keep as A: A is drawn at once, labelled with its settings, before B trains.
    pg.click("button[role=tab]:has-text('Compare')")
    pg.click("#keep-a-btn")
    wait_msg(pg, "Run A pinned")
    pg.wait_for_selector("#a-samples-plot img", timeout=20_000)
    assert "seed 5" in pg.inner_text("#a-samples-plot") and "grid25" in \
        pg.inner_text("#a-samples-plot")
    # 14. The comparison link shows beside its button.
    pg.click("#compare-link-btn")
    pg.wait_for_function("() => document.querySelector('#compare-link textarea')?.value"
                         "?.includes('compare=1')", timeout=15_000)
    pg.screenshot(path=str(OUT / "class_1280x720_compare.png"))

    # 3. Draw your data: a mouse drag paints a stroke (a click alone adds one cloud).
    pg.click("button[role=tab]:has-text('Draw your data')")
    canvas = pg.locator("#draw-canvas img")
    canvas.wait_for(timeout=10_000)
    cb = canvas.bounding_box()
    pg.mouse.move(cb["x"] + 0.2 * cb["width"], cb["y"] + 0.5 * cb["height"])
    pg.mouse.down()
    for k in range(1, 21):
        pg.mouse.move(cb["x"] + (0.2 + 0.03 * k) * cb["width"], cb["y"] + 0.5 * cb["height"],
                      steps=2)
    pg.mouse.up()
    pg.wait_for_function("() => /points in the drawing/.test(document.querySelector("
                         "'#draw-info').innerText)", timeout=15_000)
    n = int(re.search(r"([\d,]+)", pg.inner_text("#draw-info")).group(1).replace(",", ""))
    # about 20 positions x 7 points (a third of 20 per position); one click would add 20
    assert n > 60, pg.inner_text("#draw-info")
    pg.screenshot(path=str(OUT / "class_1280x720_drawn.png"))

    # 15. A reload keeps the run: train a few steps, reload, the same run is back.
    pg.click("button[role=tab]:has-text('Watch')")
    pg.click("#step-btn")
    pg.wait_for_function("s => /step [1-9]/.test(document.querySelector(s).innerText)",
                         arg=STATUS, timeout=30_000)
    kept = step_of(pg)
    token = pg.evaluate("() => sessionStorage.getItem('gan-lab-resume')")
    assert token and re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    pg.reload()
    msg = wait_msg(pg, "Your run is back", timeout=30_000)
    assert f"step {kept:,}" in msg, msg
    assert pg.input_value("#ctl-seed input[type=number]") == "5"
    assert pg.input_value("#ctl-dataset input") == "grid25"
    assert step_of(pg) == kept
    pg.screenshot(path=str(OUT / "class_1280x720_reloaded.png"))
    # A forged token gets a fresh session (and a new token), never someone's run.
    pg.evaluate("() => sessionStorage.setItem('gan-lab-resume', 'A'.repeat(32))")
    pg.reload()
    pg.wait_for_selector("#samples-plot img", timeout=30_000)
    time.sleep(1.0)
    assert "Your run is back" not in message(pg)
    assert pg.input_value("#ctl-dataset input") == "ring8"
    fresh = pg.evaluate("() => sessionStorage.getItem('gan-lab-resume')")
    assert fresh and fresh not in (token, "A" * 32)


def test_lesson_beside_the_samples_on_projector_and_phone_and_touch_paint(browser):
    b, url = browser
    OUT.mkdir(exist_ok=True)
    for size, name in (((1280, 720), "1280x720"), ((390, 844), "phone_390x844")):
        pg = b.new_page(viewport={"width": size[0], "height": size[1]},
                        has_touch=size[0] < 500, is_mobile=size[0] < 500)
        pg.goto(f"{url}?lesson=2&hide=architecture,optimization")
        pg.wait_for_selector("#lesson", state="visible", timeout=30_000)
        pg.wait_for_selector("#samples-plot img", timeout=30_000)
        time.sleep(0.5)
        text = pg.inner_text("#lesson")
        assert "What to watch" in text and "Question" in text, text
        # 10. The question and what to watch are on screen with (the top of) the samples.
        for sel in ("#lesson-text strong:text-is('Question.')",
                    "#lesson-text strong:text-is('What to watch.')"):
            assert in_view(pg, sel), (name, sel)
        assert in_view(pg, "#samples-plot", whole=False), name
        # 5. Hiding optimization hides the learning rates and D:G steps too.
        for field in ("lr_g", "lr_d", "d_steps"):
            assert not pg.locator(f"#ctl-{field}").is_visible(), field
        pg.screenshot(path=str(OUT / f"class_{name}_lesson.png"))
        if size[0] < 500:
            # 3. A finger's stroke paints too (pointer events of type touch).
            # the phone's tab bar keeps the last tabs behind its "⋯" button
            pg.evaluate("() => [...document.querySelectorAll('#tabs button')].find((e) => "
                        "!e.innerText.trim() && e.querySelector('svg'))?.click()")
            pg.locator("#tabs button:has-text('Draw your data') >> visible=true").last.click()
            canvas = pg.locator("#draw-canvas img")
            canvas.wait_for(timeout=10_000)
            canvas.scroll_into_view_if_needed()
            pg.evaluate("""() => {
              const im = document.querySelector('#draw-canvas img');
              const r = im.getBoundingClientRect();
              const ev = (type, f) => im.dispatchEvent(new PointerEvent(type, {bubbles: true,
                pointerType: 'touch', clientX: r.left + f * r.width,
                clientY: r.top + 0.3 * r.height, isPrimary: true}));
              ev('pointerdown', 0.2);
              for (let k = 1; k <= 15; k++) ev('pointermove', 0.2 + 0.04 * k);
              ev('pointerup', 0.8);
            }""")
            pg.wait_for_function("() => /points in the drawing/.test(document.querySelector("
                                 "'#draw-info').innerText)", timeout=15_000)
            pg.screenshot(path=str(OUT / "class_phone_390x844_drawn.png"))
        pg.close()
