"""What a change of the controls did, in words a student can check against the controls: every
field that changed, with its new value, and what happened to the run (applied live, new
networks at once, or at the next Train). Pure functions of configs, so they are unit-tested
without a page (tests/test_ui_notes.py)."""

from __future__ import annotations

from ..config import RunConfig, plan_change
from ..trainer import schedule_scale
from .controls import label_of
from .messages import shown_value


def value_text(name: str, v) -> str:
    """A value as a message shows it: choices by their label, big counts with commas."""
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return shown_value(name, v)


def changes(old: RunConfig, new: RunConfig, names=None) -> str:
    """'Seed = 5, Steps = 8,000': the fields (all, or `names`) that differ, with new values."""
    a, b = old.to_dict(), new.to_dict()
    keys = [k for k in b if a[k] != b[k]] if names is None else list(names)
    return ", ".join(f"{label_of(k)} = {value_text(k, b[k])}" for k in keys)


def steps_note(old: RunConfig, new: RunConfig, step: int, done: bool) -> str:
    """What a new Steps (or schedule) does to the learning rate of a run at `step`. The
    schedule is that of a run of Steps steps (trainer.schedule_scale), so with a decaying
    schedule the rate moves when Steps moves: the note says from what to what, and when
    the run was Done, that it continues."""
    if (old.steps, old.lr_schedule) == (new.steps, new.lr_schedule) or step == 0:
        return ""
    before = schedule_scale(old.lr_schedule, step, old.steps)
    after = schedule_scale(new.lr_schedule, step, new.steps)
    cont = (f"The run continues from step {step:,} to {new.steps:,}. " if done
            and new.steps > step else "")
    if abs(after - before) < 0.005:
        return cont + (f"Learning rates stay at {after:.0%} of their base values."
                       if new.lr_schedule != "constant" else "")
    end = (f", then decay to 0 by step {new.steps:,}" if new.lr_schedule != "constant"
           and new.steps > step else "")
    return (cont + f"Under the {new.lr_schedule} schedule the learning rates move from "
            f"{before:.0%} to {after:.0%} of their base values at step {step:,}{end} "
            "(the schedule is always that of a run of Steps steps).")


def edit_note(old: RunConfig, new: RunConfig, step: int, untouched: bool,
              done: bool = False) -> str:
    """The message for an edit of the controls from `old` (the job's config) to `new`."""
    change = plan_change(old, new)
    if not change.live and not change.rebuild:
        return ""
    if untouched:
        # Nothing trained yet: every change, live or not, shapes the run that will start.
        what = changes(old, new)
        if change.rebuild:
            return (f"{what}: new networks built from seed {new.seed} (step 0). Press "
                    "**Train**.")
        return f"{what}: set for the run at step 0. Press **Train**."
    notes = []
    if change.live:
        notes.append(f"Applied live at step {step:,}: {changes(old, new, change.live)} "
                     "(weights kept).")
        notes.append(steps_note(old, new, step, done))
    if change.rebuild:
        notes.append(f"**{changes(old, new, change.rebuild)}**: takes effect when you press "
                     "**Train** or **Reset** (the networks are rebuilt from step 0).")
    return " ".join(n for n in notes if n)
