"""What a change of the controls did, in words a student can check against the controls: every
field that changed, with its new value, and what happened to the run (applied live, new
networks at once, or at the next Train). Pure functions of configs, so they are unit-tested
without a page (tests/test_ui_notes.py). In the page's language (`lang`; texts: the catalog's
"note." keys)."""

from __future__ import annotations

from .. import i18n
from ..config import RunConfig, plan_change
from ..i18n import t
from ..trainer import schedule_scale
from .controls import label_of
from .messages import shown_value


def value_text(name: str, v) -> str:
    """A value as a message shows it: choices by their label, big counts with commas."""
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return shown_value(name, v)


def changes(old: RunConfig, new: RunConfig, names=None, lang: str = "en") -> str:
    """'Seed = 5, Steps = 8,000': the fields (all, or `names`) that differ, with new values."""
    a, b = old.to_dict(), new.to_dict()
    keys = [k for k in b if a[k] != b[k]] if names is None else list(names)
    sep = "，" if i18n.norm(lang) == "zh" else ", "
    return sep.join(f"{i18n.field_label(k, label_of(k), lang)} = {value_text(k, b[k])}"
                    for k in keys)


def steps_note(old: RunConfig, new: RunConfig, step: int, done: bool, lang: str = "en") -> str:
    """What a new Steps (or schedule) does to the learning rate of a run at `step`. The
    schedule is that of a run of Steps steps (trainer.schedule_scale), so with a decaying
    schedule the rate moves when Steps moves: the note says from what to what, and when
    the run was Done, that it continues."""
    if (old.steps, old.lr_schedule) == (new.steps, new.lr_schedule) or step == 0:
        return ""
    before = schedule_scale(old.lr_schedule, step, old.steps)
    after = schedule_scale(new.lr_schedule, step, new.steps)
    cont = (t("note.continue", lang, step=f"{step:,}", steps=f"{new.steps:,}") + " "
            if done and new.steps > step else "")
    if abs(after - before) < 0.005:
        return cont + (t("note.lr_stay", lang, after=f"{after:.0%}")
                       if new.lr_schedule != "constant" else "")
    end = (t("note.lr_end", lang, steps=f"{new.steps:,}") if new.lr_schedule != "constant"
           and new.steps > step else "")
    return cont + t("note.lr_move", lang, schedule=new.lr_schedule, before=f"{before:.0%}",
                    after=f"{after:.0%}", step=f"{step:,}", end=end)


def edit_note(old: RunConfig, new: RunConfig, step: int, untouched: bool,
              done: bool = False, lang: str = "en") -> str:
    """The message for an edit of the controls from `old` (the job's config) to `new`."""
    change = plan_change(old, new)
    if not change.live and not change.rebuild:
        return ""
    if untouched:
        # Nothing trained yet: every change, live or not, shapes the run that will start.
        what = changes(old, new, lang=lang)
        if change.rebuild:
            return t("note.rebuilt", lang, what=what, seed=new.seed)
        return t("note.set", lang, what=what)
    notes = []
    if change.live:
        notes.append(t("note.live", lang, step=f"{step:,}",
                       what=changes(old, new, change.live, lang)))
        notes.append(steps_note(old, new, step, done, lang))
    if change.rebuild:
        notes.append(t("note.later", lang, what=changes(old, new, change.rebuild, lang)))
    return " ".join(n for n in notes if n)
