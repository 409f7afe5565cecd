"""English and Simplified Chinese from one catalog (gan_lab/i18n/catalog.py).

Every key has both texts (tests/test_i18n.py checks it). `t(key, lang, **values)` formats one;
`pick(query_lang, accept_language)` chooses the page's language: a link's `?lang=zh` / `?lang=en`
first, else the browser's Accept-Language (its first zh or en tag), else English. The server
translates (gradio's gr.I18n translates static frontend strings only, not the texts handlers
send, such as messages and lesson boxes), so one mechanism covers labels, messages and lessons.
No gradio here.
"""

from __future__ import annotations

from .catalog import CATALOG, FIELD_HELP_ZH, FIELD_LABELS_ZH

LANGS = ("en", "zh")
DEFAULT = "en"


def norm(lang) -> str:
    """A supported language from a tag ("zh-CN", "zh_Hans", "EN-us"), else DEFAULT."""
    if not isinstance(lang, str):
        return DEFAULT
    head = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    return head if head in LANGS else DEFAULT


def pick(query_lang=None, accept_language=None) -> str:
    """The page's language: `?lang=` when it names one we have, else the first zh/en tag of
    the browser's Accept-Language header (in its q order), else English."""
    if isinstance(query_lang, str) and query_lang.strip().lower() in LANGS:
        return query_lang.strip().lower()
    if isinstance(accept_language, str):
        tags = []
        for i, part in enumerate(accept_language.split(",")[:20]):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            tags.append((-weight, i, tag))
        for _w, _i, tag in sorted(tags):
            head = tag.strip().lower().split("-", 1)[0]
            if head in LANGS:
                return head
    return DEFAULT


def t(key: str, lang: str = DEFAULT, **values) -> str:
    """The text of `key` in `lang` (English when the language is unknown), formatted with
    `values`. An unknown key raises KeyError: a missing text is a bug, not a blank."""
    texts = CATALOG[key]
    text = texts.get(norm(lang)) or texts[DEFAULT]
    return text.format(**values) if values else text


def field_help(name: str, english: str, lang: str = DEFAULT) -> str:
    """A RunConfig field's help line: its spec's English help, or the catalog's Chinese one."""
    if norm(lang) == "zh":
        return FIELD_HELP_ZH.get(name, english)
    return english


def lesson_texts(i: int, lang: str = DEFAULT) -> tuple[str, str, str, str]:
    """(title, intro, what to watch, question) of lesson i (0-based) in `lang`."""
    from ..lessons import LESSONS  # lazily: lessons import config, which share imports
    from .lessons_zh import LESSONS_ZH

    if norm(lang) == "zh":
        return LESSONS_ZH[i]
    les = LESSONS[i]
    return les.title, les.intro, les.watch, les.question


def lesson_markdown(i: int, lang: str = DEFAULT) -> str:
    """The lesson box's text for lesson i (0-based)."""
    from ..lessons import LESSONS

    title, intro, watch, question = lesson_texts(i, lang)
    return t("lesson.box", lang, i=i + 1, n=len(LESSONS), title=title, intro=intro,
             watch=watch, question=question)


def field_label(name: str, english: str, lang: str = DEFAULT) -> str:
    """A RunConfig field's label: its spec's English label, or the catalog's Chinese one."""
    if norm(lang) == "zh":
        return FIELD_LABELS_ZH.get(name, english)
    return english
