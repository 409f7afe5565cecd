"""The explanations on the page, placed beside what they explain, in the page's language.

Their words are in the catalog (gan_lab/i18n/views.py, English and Chinese), written for a
student who has just pressed Train: what the picture shows and what "good" looks like. Here:
`explain` puts a view's one-line hint and its "What am I looking at?" panel under it; `md`
makes any other Markdown block of the page from a catalog key; both record the block, so the
language switch (ui/lang.py) sends it again in the other language. What each regularizer does:
`reg_teaching` (plain words first, then the registry's exact text).
"""

from __future__ import annotations

import gradio as gr

from .. import i18n
from ..i18n import t
from ..i18n.views import EXPLAIN_EN, HINTS_EN, INTRO_EN, REG_MORE_ZH, REG_PLAIN_EN
from ..regularizers import REGISTRY

# The English texts by view (for the layout and tests; the catalog has both languages).
INTRO = INTRO_EN
PLOTS = EXPLAIN_EN
VIEW_HINTS = HINTS_EN
REG_PLAIN = REG_PLAIN_EN


def md(p, key: str, **kw) -> gr.Markdown:
    """A Markdown block with the catalog's text of `key` (values: `md_values`), recorded in
    p.md_blocks for the language switch."""
    values = kw.pop("md_values", {})
    comp = gr.Markdown(t(key, "en", **values), **kw)
    p.__dict__.setdefault("md_blocks", []).append((comp, key, values))
    return comp


def explain(p, key: str) -> None:
    """Beside a view: one line for a student, and the full "What am I looking at?" below it
    (the accordions are kept in p.explain_accs for the language switch, ui/lang.py)."""
    md(p, f"hint.{key}", elem_classes=["gl-hint"])
    with gr.Accordion(t("acc.explain"), open=False, elem_classes=["gl-explain"]) as acc:
        md(p, f"explain.{key}")
    p.__dict__.setdefault("explain_accs", []).append(acc)


def reg_teaching(kind: str, lang: str = "en") -> str:
    """What a regularizer does, in plain words first, then the registry's exact text (in
    Chinese for the built-in ones)."""
    r = REGISTRY.get(kind)
    if r is None:
        return ""
    zh = i18n.norm(lang) == "zh"
    more = REG_MORE_ZH.get(kind, r.teaching) if zh else r.teaching
    key = f"reg.plain.{kind}"
    plain = t(key, lang) if key in i18n.CATALOG else ""
    return f"{plain}\n\n{more}" if plain else more
