"""The guided lessons on the page: a box above the plots with the lesson's text, what to watch
and its question, Back / Next / Close, and the lesson picker in the sidebar. A lesson applies its
preset as a fresh run. A teacher's link `?lesson=N&hide=group,...` opens lesson N with those
control groups hidden (gan_lab.lessons lists what may be hidden)."""

from __future__ import annotations

import gradio as gr

from ..lessons import LESSONS


def lesson_markdown(i: int) -> str:
    """What to watch and the question first (on a projector both sit beside the samples plot,
    in two columns; on a phone they come first); the lesson's introduction one click away."""
    les = LESSONS[i]
    return (f"### Lesson {i + 1} of {len(LESSONS)}: {les.title}\n\n"
            f"**What to watch.** {les.watch}\n\n**Question.** {les.question}\n\n"
            f"<details><summary>About this lesson</summary>\n\n{les.intro}\n\n</details>")


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
        les = LESSONS[i]
        out = self.apply(s, les.config(), f"Lesson {i + 1}: **{les.title}** is set up. Press "
                                          "**Train**.", *view)
        out.update({p.lesson_box: gr.update(visible=True),
                    p.lesson_text: lesson_markdown(i),
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
