"""The guided lessons on the page: a box above the plots with the lesson's text, what to watch
and its question, Back / Next / Close, and the lesson picker in the sidebar. A lesson applies its
preset as a fresh run. A teacher's link `?lesson=N&hide=group,...` opens lesson N with those
control groups hidden (gan_lab.lessons lists what may be hidden)."""

from __future__ import annotations

import gradio as gr

from .. import i18n
from ..lessons import LESSONS
from .messages import lang_of


def lesson_markdown(i: int, lang: str = "en") -> str:
    return i18n.lesson_markdown(i, lang)


class LessonPanel:
    def __init__(self, page, apply):
        self.page, self.apply = page, apply

    def outputs(self) -> list:
        p = self.page
        return [p.lesson_box, p.lesson_text, p.lesson_back, p.lesson_next, p.lesson_pick]

    def show(self, s, i: int | None, view) -> dict:
        """Open lesson i (None: close the lesson box)."""
        p = self.page
        s.lesson = i
        if i is None:
            return {p.lesson_box: gr.update(visible=False), p.lesson_pick: gr.update(value=0)}
        les, lang = LESSONS[i], lang_of(s)
        out = self.apply(s, les.config(), i18n.t("lesson.set", lang, i=i + 1,
                                                 title=i18n.lesson_texts(i, lang)[0]), *view)
        out.update({p.lesson_box: gr.update(visible=True),
                    p.lesson_text: lesson_markdown(i, lang),
                    p.lesson_back: gr.update(interactive=i > 0),
                    p.lesson_next: gr.update(interactive=i < len(LESSONS) - 1),
                    p.lesson_pick: gr.update(value=i + 1)})
        return out

    def reopen(self, s) -> dict:
        """The lesson box of a session a reload took back (its run is kept, not re-applied)."""
        p, i = self.page, s.lesson
        return {p.lesson_box: gr.update(visible=True), p.lesson_text: lesson_markdown(i),
                p.lesson_back: gr.update(interactive=i > 0),
                p.lesson_next: gr.update(interactive=i < len(LESSONS) - 1),
                p.lesson_pick: gr.update(value=i + 1)}

    def on_pick(self, s, value, heat, arrows, mani, layer):
        try:
            i = int(value) - 1
        except (TypeError, ValueError):
            i = -1
        return self.show(s, i if 0 <= i < len(LESSONS) else None, (heat, arrows, mani, layer))

    def on_step(self, delta: int):
        def handler(s, heat, arrows, mani, layer):
            i = (s.lesson or 0) + delta
            return self.show(s, min(max(i, 0), len(LESSONS) - 1), (heat, arrows, mani, layer))

        return handler

    def on_close(self, s):
        return self.show(s, None, None)
