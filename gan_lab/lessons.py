"""Guided lessons: each is a preset, what to watch, and a question to answer.

A teacher links to one with `?lesson=N` (1-based) and may hide control groups the class should
not touch yet with `&hide=group,group` (the groups are RunConfig's UI groups plus a few page
sections; see HIDEABLE). Unknown lesson numbers and group names are reported on the page, never
ignored. Every lesson's fields are checked by tests/test_lessons.py with RunConfig.from_dict.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import RunConfig, specs
from .presets import REG_SETTINGS, demo_base, demo_settings, preset_fields


@dataclass(frozen=True)
class Lesson:
    title: str
    fields: dict
    intro: str
    watch: str
    question: str

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.fields)


# Lesson 8: the MNIST MLP preset from its shipped trained weights (gan_lab.warm), L1 on D with
# a lambda that zeroes most of D in 500 steps: `python -m gan_lab train --preset mnist --init
# trained --reg l1 --lam 0.3 --steps 500` made 84% of D exactly 0, 10/10 digits, FCD 88.7 at
# the start and 38.2 at the end, in 8.8 CPU-seconds (one thread, 2-core AMD EPYC, shared).
TRAINED_L1 = {**preset_fields("mnist"), "init": "trained", "reg": "l1", "l1_mode": "proximal",
              "lam": 0.3, "reg_target": "d", "steps": 500, "eval_every": 100}

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "What G and D do",
        {"dataset": "ring8", "reg": "none"},
        "The generator G turns noise into points; the discriminator D scores how real a point "
        "looks. They take turns: D learns to tell the green real points from G's purple ones, "
        "then G moves its points where D says 'real'.",
        "Press **Train** and watch the samples plot: the background is D's belief (green = "
        "real), the dark purple arrows are where D pushes G's points, the faint grid is G's "
        "noise space folded onto the plane. Press **Pause** and **Step** to see one update at a "
        "time, or **Slow-motion step** to see one update in its four stages.",
        "Before the purple points reach a green cluster, is the background there already "
        "green? What does that tell you about who leads, D or G?"),
    Lesson(
        "Mode collapse",
        {"dataset": "ring8", "reg": "none", "lr_g": 3e-3, "lr_d": 3e-4,
         "lr_schedule": "constant", "steps": 3000},
        "Here G learns ten times faster than D. A generator can fool a slow discriminator by "
        "putting all its samples on a few clusters: that is mode collapse.",
        "Watch the **Modes captured** chart and the samples: how many of the 8 clusters get "
        "purple points, and do they stay put?",
        "How many modes does G cover at step 1,000 and at step 3,000? What happens to the "
        "purple points each time D catches up?"),
    Lesson(
        "L1 makes D sparse",
        {"dataset": "ring8", **demo_base("l1", "ring8"), **demo_settings("l1")},
        "L1 adds lambda * sum |w| to D's loss; in proximal mode every step also sets small "
        "weights to exactly zero.",
        "Watch the **weights** histogram of D: the red bar at the left counts exact zeros. "
        "Watch **Sparsity over time** too, and whether G still covers all 8 modes.",
        "What share of D's weights is exactly zero at the end? Does D still do its job "
        "(look at the modes and high-quality charts)?"),
    Lesson(
        "L2 shrinks every weight",
        {"dataset": "ring8", "reg": "l2", "lam": 3e-4, "reg_target": "d"},
        "L2 adds (lambda/2) * sum w^2: it pulls every weight toward zero in proportion to its "
        "size, like a spring.",
        "Watch D's weight histogram move left as a whole, and the exact-zero bar. Compare with "
        "lesson 3.",
        "Does L2 create exact zeros the way L1 did? Why would a spring-like pull never quite "
        "reach zero?"),
    Lesson(
        "HSN1R flattens D",
        {"dataset": "ring8", **demo_settings("hsn1r"), "sharpness_every": 100},
        "HSN1R penalizes the sharpness of D's loss: the largest |eigenvalue| of its Hessian, "
        "how sharply the loss curves around the current weights.",
        "Watch the **Sharpness** chart (D sharpness) and the D(x) heatmap in the samples plot. "
        "Then switch the regularizer to none (it applies live) and watch again.",
        "How high does D's sharpness climb with HSN1R, and without it? Do the samples look "
        "worse when D is kept flat?"),
    Lesson(
        "Spectral norm vs HSN1R",
        preset_fields("sn-vs-hsn1r"),
        "Two ways to tame D. **Spectral normalization** divides each of D's weight matrices by "
        "its largest singular value, so no layer stretches its input by more than 1x: it bounds "
        "the *weights'* spectrum. **HSN1R** penalizes the largest eigenvalue of the Hessian of "
        "D's loss: it bounds the *loss's* curvature. Same seed, same D, one change.",
        "Train this run (spectral norm on D). In the **Compare** tab press **Keep as A**, then "
        "set *Spectral norm* to none and the *Regularizer* to HSN1R (target D) and press "
        "**Train B beside A**. Compare quality (modes, high-quality %), the **Sharpness** "
        "chart, the **Weight spectral norm** chart (the product of D's layers' top singular "
        "values) and the steps/s of each run in the status line (cost per step).",
        "Which run keeps D's weight spectral norm at 1, and which keeps D's sharpness low? "
        "Does bounding one bound the other? Which costs more per step, and does either give "
        "better samples?"),
    Lesson(
        "Does L1 cure mode collapse?",
        {**preset_fields("mode-collapse"), **REG_SETTINGS["l1"]["fields"]},
        "A claim from the texts this project started from: *L1 regularization reduces mode "
        "collapse*. Test it the way a researcher would: the mode-collapse setup of lesson 2 (G "
        "learns ten times faster than D), once with proximal L1 on D (lambda 0.1, this run) "
        "and once without, on the same seed; then on other seeds.",
        "Train this run. In the **Compare** tab press **Keep as A**, set the *Regularizer* to "
        "none and press **Train B beside A**. Compare the **Modes captured** curves and the "
        "smallest mode's share at the end. Then change the seed and repeat, and try L1 on G "
        "(a *Target* of G, lambda 0.01). docs/CLAIMS.md has the measured answer on three "
        "seeds.",
        "With L1, does G cover more of the 8 modes, and do they stay covered? Is one seed "
        "enough to say that L1 reduces mode collapse, and does the answer depend on which "
        "network L1 is on?"),
    Lesson(
        "L1 on a trained MNIST D",
        TRAINED_L1,
        "Training digits from scratch takes minutes; this run starts from a GAN already "
        "trained on MNIST (*Start from: A trained GAN*, shipped with the app) and adds "
        "proximal L1 on D. Within a few hundred steps most of D's weights become exactly 0.",
        "Press **Train** and watch D's **weights** histogram (the red exact-zero bar), "
        "**Sparsity over time**, and the digits in the samples plot.",
        "What share of D's weights is exactly zero at the end? Do the digits get worse, or "
        "does D still tell real digits from fake ones with so few weights?"),
)

# Page sections a teacher may hide besides RunConfig's UI groups.
PAGE_SECTIONS = ("presets", "settings", "share", "draw", "compare", "sweep")


def groups() -> tuple[str, ...]:
    seen: list[str] = []
    for s in specs():
        if s["ui"] and s["group"] not in seen:
            seen.append(s["group"])
    return tuple(seen)


# A link names a group by its accordion's title where the two differ ("metrics" is titled
# Measurement); the old name still works.
ALIASES = {"measurement": "metrics"}
# Controls that sit in the always-visible basic column but belong to a group a teacher may hide:
# hiding "optimization" means the learning rates and D:G steps too.
HIDE_WITH = {"optimization": ("lr_g", "lr_d", "d_steps")}


def hideable() -> tuple[str, ...]:
    """The names a `hide` list may use, as the page's message lists them."""
    shown = {v: k for k, v in ALIASES.items()}
    return tuple(shown.get(g, g) for g in groups()) + PAGE_SECTIONS


def hidden_fields(hidden) -> tuple[str, ...]:
    """The fields outside the hidden groups' boxes that go with them (HIDE_WITH)."""
    return tuple(f for g in hidden for f in HIDE_WITH.get(g, ()))


def parse_lesson(value) -> tuple[int | None, str | None]:
    """(lesson index, error): `value` is the 1-based lesson number from a link."""
    if value is None or str(value).strip() == "":
        return None, None
    text = str(value).strip()
    # At most 3 digits read: Python refuses to read an int of 4,300 digits or more.
    if not (text.isascii() and text.isdigit() and len(text) <= 3
            and 1 <= int(text) <= len(LESSONS)):
        shown = text[:20] + ("…" if len(text) > 20 else "")
        return None, f"lesson must be a number from 1 to {len(LESSONS)}, got {shown!r}"
    return int(text) - 1, None


# Unknown names of a `hide` list quoted in the page's message (the rest are counted).
MAX_QUOTED = 5


def parse_hide(value) -> tuple[tuple[str, ...], list[str]]:
    """(groups to hide, unknown names) from a link's comma-separated `hide` list. The unknown
    names are distinct, cut to 30 characters, at most MAX_QUOTED of them, then one entry
    "... and N more" (a link's message stays short whatever the link holds)."""
    if value is None:
        return (), []
    names = [n.strip().lower() for n in str(value).split(",") if n.strip()]
    names = [ALIASES.get(n, n) for n in names]
    known = groups() + PAGE_SECTIONS
    ok = tuple(dict.fromkeys(n for n in names if n in known))
    bad = list(dict.fromkeys(n[:30] for n in names if n not in known))
    if len(bad) > MAX_QUOTED:
        bad = bad[:MAX_QUOTED] + [f"… and {len(bad) - MAX_QUOTED} more"]
    return ok, bad
