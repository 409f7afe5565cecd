"""English and Simplified Chinese from one catalog (issue 21, finding 17).

What "no UI string escapes the catalog" covers here: every Button, Tab, Accordion, every
component with a shown label (inputs, uploads, plots, line charts) and every Markdown block with
text (the explanations beside each view, the intros, the help panels) that the page renders
gets its text from the catalog in both languages (ui/lang.relabel), plus the lessons, the
slow-motion sentences and the data-dependent chart titles. The one Markdown block built with
text that is not relabelled is the status line, which every frame rewrites (ui/status.py)."""

from __future__ import annotations

import re
import string

import gradio as gr
import pytest

from gan_lab import i18n, share
from gan_lab.config import RunConfig, specs
from gan_lab.i18n.catalog import CATALOG, FIELD_HELP_ZH, FIELD_LABELS_ZH
from gan_lab.i18n.lessons_zh import LESSONS_ZH
from gan_lab.lessons import LESSONS
from gan_lab.plots.curves import METRIC_TITLES
from gan_lab.presets import PRESETS

CJK = re.compile(r"[\u4e00-\u9fff]")
# Texts that are the same in both languages (names and symbols).
SAME = {"plot.a", "plot.b"}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_has_both_texts_with_the_same_placeholders():
    assert len(CATALOG) > 100
    for key, texts in CATALOG.items():
        assert set(texts) == set(i18n.LANGS), key
        assert texts["en"].strip() and texts["zh"].strip(), key
        assert _fields(texts["en"]) == _fields(texts["zh"]), key
        if key not in SAME and not key.startswith("preset.WGAN"):
            assert CJK.search(texts["zh"]), f"{key}: no Chinese in {texts['zh']!r}"
            assert not CJK.search(texts["en"]) or key == "lang.label", key


def test_every_field_label_and_lesson_and_chart_title_is_in_both_languages():
    for s in specs():
        if s["ui"]:
            assert s["name"] in FIELD_LABELS_ZH, s["name"]
            assert CJK.search(FIELD_HELP_ZH[s["name"]]), s["name"]
    assert len(LESSONS_ZH) == len(LESSONS)
    for les, zh in zip(LESSONS, LESSONS_ZH, strict=True):
        assert len(zh) == 4 and all(x.strip() and CJK.search(x) for x in zh), zh[0]
        # the same buttons and charts are named in bold in both
        for en_text, zh_text in zip((les.intro, les.watch, les.question), zh[1:]):
            assert en_text.count("**") == zh_text.count("**"), zh[0]
    for kind in METRIC_TITLES:
        assert f"plot.{kind}" in CATALOG and f"plot.{kind}.img" in CATALOG, kind
    for name in PRESETS:
        assert f"preset.{name}" in CATALOG, name


def test_the_catalogs_english_is_what_the_page_shows_in_english():
    for kind, (t2d, timg, _) in METRIC_TITLES.items():
        assert i18n.t(f"plot.{kind}") == t2d and i18n.t(f"plot.{kind}.img") == timg
    assert i18n.lesson_markdown(0).startswith(f"### Lesson 1 of {len(LESSONS)}: "
                                              f"{LESSONS[0].title}")
    assert "第 1 课" in i18n.lesson_markdown(0, "zh")


@pytest.mark.parametrize("query,accept,want", [
    ("zh", None, "zh"), ("en", "zh-CN,zh;q=0.9", "en"), (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, "fr-FR,en;q=0.5,zh;q=0.4", "en"), (None, "en;q=0.3,zh-TW;q=0.8", "zh"),
    ("xx", "de", "en"), (None, None, "en"), ("ZH", None, "zh"), (None, "zh;q=abc,en", "en"),
])
def test_the_language_comes_from_the_link_then_the_browser(query, accept, want):
    assert i18n.pick(query, accept) == want


def test_share_links_keep_the_language_and_nothing_else_of_the_old_query():
    cfg = RunConfig()
    link = share.share_url("https://x.org/?lang=zh&__sign=secret&lam=9", cfg)
    assert "lang=zh" in link and "__sign" not in link and "lam=9" not in link
    assert "lang=" not in share.share_url("https://x.org/?lang=fr", cfg)
    # and a link with ?lang= is a valid link (lang is a page key, not an unknown setting)
    got, errors = share.parse_query({"lang": "zh", "steps": "200"})
    assert not errors and got.steps == 200


def test_every_rendered_label_and_button_comes_from_the_catalog():
    from gan_lab.ui import lang
    from gan_lab.ui.controls import Controls
    from gan_lab.ui.layout import build_page
    from gan_lab.ui.sessions import Limits

    ctl = Controls()
    with gr.Blocks() as demo:
        p = build_page(ctl, Limits())
    zh = lang.relabel(p, ctl, "zh")
    en = lang.relabel(p, ctl, "en")
    assert set(map(id, zh)) | {id(p.lesson_text)} == set(map(id, lang.components(p, ctl)))
    missed, md_seen = [], []
    for b in demo.blocks.values():
        if isinstance(b, gr.Markdown):
            if b.value and b is not p.status:
                md_seen.append(b)
            continue
        if isinstance(b, gr.Button):
            text = b.value
        elif isinstance(b, (gr.Tab, gr.Accordion)) or getattr(b, "show_label", True) is not False:
            text = getattr(b, "label", None)
        else:
            text = None
        if not text or not getattr(b, "visible", True) and b.elem_id == "page-url":
            continue
        if "gl-offscreen" in (getattr(b, "elem_classes", None) or []) \
                or getattr(b, "visible", True) == "hidden":
            continue   # an internal control the page never shows (the drawing's stroke, ...)
        if b not in zh:
            missed.append((type(b).__name__, b.elem_id, str(text)[:40]))
            continue
        prop = "value" if isinstance(b, gr.Button) else "label"
        # the English update is the text the page was built with; the Chinese one is Chinese
        assert en[b][prop] == text, (b.elem_id, en[b][prop], text)
        if "info" in en[b]:   # a control's help line: the page's own in English, Chinese in zh
            assert en[b]["info"] == b.info and CJK.search(zh[b]["info"]), b.elem_id
        if not (isinstance(b, gr.Button) and b in p.preset_btns.values() and "WGAN" in text):
            assert CJK.search(zh[b][prop]) or zh[b][prop] in ("A", "B", "beta1", "beta2"), \
                (b.elem_id, zh[b][prop])
    assert not missed, missed
    # every Markdown block with text: the English the page was built with, and Chinese
    assert len(md_seen) > 25
    for b in md_seen:
        assert b in zh, (b.elem_id, b.value[:60])
        assert en[b]["value"] == b.value, (b.elem_id, b.value[:60])
        assert CJK.search(zh[b]["value"]), (b.elem_id, zh[b]["value"][:60])


@pytest.mark.parametrize("kind", ["none", "l1", "l2", "hsn1r"])
def test_the_regularizer_help_opens_in_plain_words_in_both_languages(kind):
    from gan_lab.ui.teaching import reg_teaching

    en, zh = reg_teaching(kind), reg_teaching(kind, "zh")
    first = en.split("\n\n")[0]
    # plain words first: no formula, no jargon of the method in the opening paragraph
    for word in ("power iteration", "Hessian", "lambda", "sum", "||", "eigen"):
        assert word not in first, (kind, word, first)
    assert first == i18n.t(f"reg.plain.{kind}") and "\n\n" in en
    assert CJK.search(zh.split("\n\n")[0]) and CJK.search(zh.split("\n\n")[1])
    assert "幂迭代" not in zh.split("\n\n")[0]


def test_compare_and_sweep_explain_themselves():
    from gan_lab.ui.controls import Controls
    from gan_lab.ui.layout import build_page
    from gan_lab.ui.sessions import Limits

    with gr.Blocks():
        p = build_page(Controls(), Limits())
    keys = [k for _c, k, _v in p.md_blocks]
    for view in ("compare", "sweep", "samples", "losses", "weights"):
        assert f"hint.{view}" in keys and f"explain.{view}" in keys, view
    assert len(p.explain_accs) == sum(k.startswith("explain.") for k in keys)


def test_the_status_line_in_chinese_keeps_its_numbers():
    from gan_lab.run import Run
    from gan_lab.snapshot import snapshot_of
    from gan_lab.ui.status import status_text

    run = Run(RunConfig(dataset="ring8", steps=30, g_hidden=16, d_hidden=16, batch_size=32,
                        eval_every=10), start_eval=None)
    run.advance(max_steps=20)
    snap = snapshot_of(run, state="paused")
    en, zh = status_text(snap, "server: idle"), status_text(snap, "server: idle", lang="zh")
    assert en.startswith("**Paused** · step **20** / 30") and "More numbers" in en
    assert zh.startswith("**已暂停** · 第 **20** / 30 步") and "更多数字" in zh
    modes = int(snap.latest["modes"])
    assert f"**{modes} of 8** clusters covered" in en and f"8 个簇中的 {modes} 个" in zh


# --- the run's messages, range messages, "More numbers", durations, axis titles ------------
NUM = re.compile(r"\d[\d,.]*\d|\d")


def _same_values(en: str, zh: str) -> None:
    assert CJK.search(zh), zh
    assert not CJK.search(en), en
    assert sorted(NUM.findall(en)) == sorted(NUM.findall(zh)), (en, zh)


def _config_errors() -> list[str]:
    """The texts real bad input produces (config.py's validate, config_coerce's boxes)."""
    from gan_lab.config import ConfigError, spec
    from gan_lab.config_coerce import coerce_value

    texts = []
    for bad in ({"steps": 0}, {"lr_d": 5.0}, {"lam": -1.0}, {"reg_bias": 3}, {"dataset": "xx"},
                {"batch_size": 2.5}):
        with pytest.raises(ConfigError) as e:
            RunConfig(**bad).validate()
        texts.append(e.value)
    for name, value in (("steps", None), ("steps", "abc"), ("lr_g", ""), ("batch_size", 2.5)):
        with pytest.raises(ConfigError) as e:
            coerce_value(spec(name), value)
        texts.append(e.value)
    from gan_lab.ui.messages import field_error
    return [field_error(e)[1] for e in texts]


def test_run_messages_and_range_messages_in_chinese_keep_their_numbers_and_values():
    from gan_lab.i18n.runtext import run_message
    from gan_lab.jobs.base import DIVERGED_ADVICE

    run = [
        "Ready. Press Train.", "Training…", "Pausing…", "Stopped.", "Stepping 5…",
        "Finished 2,000 steps. Raise Steps to continue.", "Paused at step 1,234.",
        "Reset: fresh weights from seed 7. Press Train.", "Done: 3000 steps.",
        "Stepped to 41.", "Diverged at step 57: loss_d, loss_g became nan." + DIVERGED_ADVICE,
        "One step: D updated 2x, then G once.",
        "Reset: fresh weights from seed 12, step 0. Press Train.",
        "The previous run had error (Paused at step 5.); started a fresh one.",
        "⚠️ Something went wrong on the server (incident 0a1b2c3d). Your settings are kept; "
        "press Reset to start over.",
        "Paused: a training chunk failed (RuntimeError: out of memory). Your run is kept; "
        "press Train to retry.",
    ]
    for en in run + _config_errors():
        zh = run_message(en, "zh")
        assert run_message(en, "en") == en and run_message(en) == en
        _same_values(en, zh)
        assert not re.search(r"\b(Press|Paused|steps?|must|got|Reset|Done)\b", zh), zh
    # values quoted from the input and names stay as they are
    assert "'xx'" in run_message(_config_errors()[4], "zh")
    assert "loss_d, loss_g" in run_message(run[10], "zh") and "nan" in run_message(run[10], "zh")
    assert "RuntimeError: out of memory" in run_message(run[-1], "zh")


def test_the_status_lines_message_and_more_numbers_are_in_chinese():
    from gan_lab.run import Run
    from gan_lab.snapshot import snapshot_of
    from gan_lab.ui.status import STATUS_METRICS, status_text

    run = Run(RunConfig(dataset="ring8", steps=30, g_hidden=16, d_hidden=16, batch_size=32,
                        eval_every=10), start_eval=None)
    run.advance(max_steps=20)
    snap = snapshot_of(run, state="paused", message="Paused at step 20.")
    en, zh = status_text(snap, "server: idle"), status_text(snap, "server: idle", lang="zh")
    assert "\nPaused at step 20. · " in en and "\n已在第 20 步暂停。 · " in zh
    more_en, more_zh = en.split("<summary>")[1], zh.split("<summary>")[1]
    assert f"device {snap.device}" in more_en and f"设备 {snap.device}" in more_zh
    assert "modes " in more_en and "模式 " in more_zh and "modes" not in more_zh
    assert sorted(NUM.findall(more_en)) == sorted(NUM.findall(more_zh))
    for key, label, _fmt in STATUS_METRICS:
        assert i18n.t(f"st.m.{key}") == label and CJK.search(i18n.t(f"st.m.{key}", "zh"))


@pytest.mark.parametrize("seconds", [0.2, 12.4, 59.6, 61, 150, 3599, 3600, 5400, 86_000])
def test_durations_in_both_languages(seconds):
    from gan_lab.estimate import fmt_duration
    from gan_lab.i18n.runtext import duration

    assert duration(seconds) == fmt_duration(seconds)   # the English is the estimate's
    _same_values(fmt_duration(seconds), duration(seconds, "zh"))


def test_the_line_charts_axis_titles_follow_the_language():
    from gan_lab.i18n.runtext import AXES
    from gan_lab.ui import lang
    from gan_lab.ui.controls import Controls
    from gan_lab.ui.layout import build_page
    from gan_lab.ui.sessions import Limits

    ctl = Controls()
    with gr.Blocks():
        p = build_page(ctl, Limits())
    assert p.loss_plot.y_title == "loss" and p.quality_plot.y_title == "count"
    zh, en = lang.relabel(p, ctl, "zh"), lang.relabel(p, ctl, "en")
    for attr, y in lang.AXIS_TITLES:
        comp = getattr(p, attr)
        assert comp.y_title == y and en[comp]["y_title"] == y, attr   # English as built
        assert en[comp]["x_title"] == comp.x_title == "step"
        assert zh[comp]["x_title"] == "步数"
        if y in AXES:   # words; symbols and names ("%", "|λ| max", "logit") stay
            assert CJK.search(zh[comp]["y_title"]), attr
        else:
            assert zh[comp]["y_title"] == y, attr
    assert zh[p.loss_plot]["y_title"] == "损失" and zh[p.quality_plot]["y_title"] == "数量"


@pytest.mark.parametrize("running,cores,me", [(0, 2, False), (1, 2, True), (2, 2, True),
                                              (3, 3, False), (3, 1, True), (5, 2, True),
                                              (2, 1, False), (7, 3, False)])
def test_the_servers_load_and_a_full_server_in_chinese(running, cores, me):
    from types import SimpleNamespace

    from gan_lab.i18n.runtext import run_message
    from gan_lab.jobs.workers import OwnerBusy, PoolBusy
    from gan_lab.ui.sessions import Limits, Registry

    reg = SimpleNamespace(stats=lambda: {"running": running}, pool=object(),
                          limits=SimpleNamespace(max_running=cores))
    en = Registry.describe(reg, me)
    _same_values(en, run_message(en, "zh"))
    assert "run" not in run_message(en, "zh")
    limits = SimpleNamespace(limits=Limits())
    for e in (OwnerBusy(), PoolBusy()):
        busy = f"⏳ Sweep waiting: {Registry.busy_text(limits, e)}"
        _same_values(busy, run_message(busy, "zh"))
        assert not re.search(r"[a-z]{4}", run_message(busy, "zh")), run_message(busy, "zh")


@pytest.mark.parametrize("reg,measured", [("l1", 0.01), ("l2", 123.4), ("hsn1r", 0.5)])
def test_an_unreachable_lambda_goal_in_chinese(reg, measured):
    from gan_lab.adaptive import Controller
    from gan_lab.i18n.runtext import run_message

    c = Controller(lam=1.0, start=1.0, goal=0.9 if reg == "l1" else 1e-3, gain=1.0)
    report = None
    for _ in range(10):   # lambda at its upper bound, the goal missed: reported
        report = report or c.update(reg, measured, 1.0, "d")
    assert report and report.startswith("Lambda goal not reachable")
    en = f"Done: 1,000 steps. {report}"
    zh = run_message(en, "zh")
    _same_values(en, zh)
    assert not re.search(r"[a-z]{5}", zh.replace("lambda", "")), zh


def test_a_real_jobs_messages_are_all_in_the_chinese_catalog():
    """The messages a job really publishes (not copies of them): a change of their English
    that the templates miss fails here, instead of leaving the Chinese page in English."""
    from gan_lab.i18n.runtext import run_message
    from gan_lab.jobs import TrainingJob

    job = TrainingJob(RunConfig(g_hidden=16, d_hidden=16, batch_size=32, steps=6, eval_every=5,
                                sharpness_every=0))
    seen = [job.snapshot().message]
    try:
        job.step(3)
        assert job.wait(timeout=60) == "paused"
        seen.append(job.snapshot().message)
        job.reset(job.cfg)
        seen.append(job.snapshot().message)
        job.start()
        assert job.wait(timeout=60) == "done"
        seen.append(job.snapshot().message)
        job.start()                      # Done: a second Train says how to continue
        seen.append(job.snapshot().message)
    finally:
        job.stop()
    seen.append(job.snapshot().message)
    assert len(set(seen)) == len(seen), seen
    for en in seen:
        _same_values(en, run_message(en, "zh"))
        assert not re.search(r"[A-Za-z]{3}", run_message(en, "zh")), (en, run_message(en, "zh"))


@pytest.mark.parametrize("bad", [
    {"arch": "conv"}, {"g_norm": "batch"},
    {"reg": "spectral", "lam_goal": 0.5}, {"reg": "l1", "reg_target": "both", "lam_goal": 0.5},
    {"reg": "l1", "lam": 0.0, "lam_goal": 0.5}, {"reg": "l1", "lam": 0.1, "lam_goal": 1.5},
    {"reg": "hsn1r", "lam": 0.1, "lam_goal": 2.0, "sharpness_every": 0},
])
def test_the_rules_that_span_fields_in_chinese(bad):
    from gan_lab.config import ConfigError
    from gan_lab.i18n.runtext import run_message
    from gan_lab.ui.messages import field_error

    with pytest.raises(ConfigError) as e:
        RunConfig(**bad).validate()
    en = field_error(e.value)[1]
    zh = run_message(en, "zh")
    _same_values(en, zh)
    assert not re.search(r"\b(must|use|set|needs|got|works|goal)\b", zh), zh


@pytest.mark.parametrize("n", [1, 2])
def test_a_links_bad_settings_in_chinese(n):
    from gan_lab.ui.messages import errors_html

    errors = share.parse_query({"steps": "0", "lr_d": "9"} if n == 2 else {"steps": "0"})[1]
    assert len(errors) == n
    head = (f"⚠️ The settings in this link were not applied ({n} problem"
            f"{'s' if n > 1 else ''}); the page shows the defaults.")   # as ui/app.py builds it
    en, zh = errors_html(head, errors), errors_html(head, errors, "zh")
    assert en == errors_html(head, errors, "en") and "were not applied" in en
    _same_values(en, zh)
    assert "步数" in zh and "必须" in zh and "not applied" not in zh and "must" not in zh
