"""Many runs per session: a comparison (run A pinned beside run B) and a small sweep of one
field. Both are ordinary jobs of the session (Session.job_a, Session.sweep.jobs), trained on the
same worker pool as everyone's, within the session's caps; their pictures are drawn in the render
process when their tab is on screen (`frame`, a Stream extra).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import pandas as pd

from .. import i18n, share
from ..config import ConfigError, RunConfig, brief, coerce
from ..data import kind_of, needs_points
from ..i18n import t
from ..jobs import PoolBusy
from ..presets import demo_base, demo_settings
from ..sweep.notes import idle_warning, progress, quality_metric, round_sig
from .controls import label_of
from .layout import reg_teaching, sweep_fields
from .messages import ServerBusy, lang_of, shown_value
from .stream import Picture
from .transfer import page_base

SWEEP_MAX_VALUES = 6       # runs in one sweep
SWEEP_PARALLEL = 2         # of a session's sweep runs, training at once
SWEEP_TEXT_MAX = 2000      # characters of the values box read


def _run_data(label: str, snap, dashed: bool = False) -> dict:
    return {"label": label, "history": snap.history, "metrics": snap.metrics,
            "is_image": snap.is_image, "dashed": dashed}


def run_label(cfg: RunConfig, most: int = 4) -> str:
    """A run's settings in a few words for its panel: what differs from its dataset's
    defaults (at most `most` of them), the dataset and the seed."""
    diff = {k: v for k, v in cfg.non_default().items() if k not in ("dataset", "seed")}
    words = [f"{label_of(k)} {shown_value(k, v)}" for k, v in list(diff.items())[:most]]
    if len(diff) > most:
        words.append(f"{len(diff) - most} more")
    if cfg.reg == "none" and "reg" not in diff:
        words.insert(0, "no regularizer")
    return ", ".join([shown_value("dataset", cfg.dataset), *words, f"seed {cfg.seed}"])


class Compare:
    def __init__(self, page, ctl, registry, msgs, apply):
        self.page, self.ctl, self.registry, self.msgs, self.apply = (page, ctl, registry, msgs,
                                                                     apply)

    def on_keep_a(self, s, heat, arrows, mani, layer, *controls):
        """Pin the run on screen as A; the controls now edit a fresh run B (same settings)."""
        if s.job is None:
            return self.msgs.note(t("msg.keep_none", lang_of(s)))
        if s.job_a is not None:
            s.job_a.stop("Replaced by a new run A.")
        s.job_a, s.job = s.job, None
        cfg = self.ctl.to_config(list(controls))
        self.registry.new_job(s, cfg)
        step = s.job_a.snapshot().step
        out = self.msgs.ok(s, t("msg.keep_a", lang_of(s), step=f"{step:,}"))
        # A is on screen at once (its pictures drawn now), not after B's first frame.
        s.shown.pop("compare", None)
        out.update(self.render(s, heat, arrows, mani, layer, wait=True))
        return out

    def on_train_ab(self, s, heat, arrows, mani, layer, *controls):
        if s.job_a is None:
            return self.msgs.note(t("msg.pin_first", lang_of(s)))
        a = s.job_a.cfg
        cfg = self.ctl.to_config(list(controls))
        note = ""
        if cfg.seed != a.seed:
            cfg = cfg.replace(seed=a.seed)
            note = " " + t("msg.b_seed", lang_of(s), seed=a.seed)
        self.registry.start(s, cfg)
        if s.job_a.state in ("idle", "paused", "diverged"):
            try:
                s.job_a.start()
            except PoolBusy as e:   # A cannot go on: say so, B still trains
                note += " " + t("msg.a_busy", lang_of(s), why=self.registry.busy_text(e))
        return self.msgs.ok(s, t("msg.ab_train", lang_of(s)) + note)

    def on_with_without(self, s, heat, arrows, mani, layer, *controls):
        """A: the current settings without a regularizer; B: with one (the current one, or
        the L1 preset's when none is chosen). Same seed; both at step 0."""
        cfg = self.ctl.to_config(list(controls))
        reg = cfg.reg if cfg.reg != "none" else "l1"
        demo = demo_settings(reg)
        if cfg.reg == "none" and demo:   # the demonstration's nets for both arms, its lambda for B
            cfg = cfg.replace(**demo_base(reg, cfg.dataset))
        with_reg = cfg.replace(**(demo if cfg.reg == "none" and demo else {"reg": reg}))
        if s.job_a is not None:
            s.job_a.stop("Replaced by a new comparison.")
        s.job_a = None
        self.registry.new_job(s, cfg.replace(reg="none"))
        s.job_a, s.job = s.job, None
        self.registry.new_job(s, with_reg)
        out = self.ctl.set_updates(with_reg)
        out[self.page.reg_help] = reg_teaching(with_reg.reg, lang_of(s))
        what = ", ".join(f"{i18n.field_label(k, label_of(k), lang_of(s))} = {shown_value(k, v)}"
                         for k, v in with_reg.to_dict().items() if v != getattr(cfg, k)
                         or k in ("reg", "lam"))
        out.update(self.msgs.ok(s, t("msg.with_without", lang_of(s), what=what, seed=cfg.seed)))
        return out

    def on_link(self, s, page_url, *controls, request=None):
        """A link that opens this comparison (B's settings, A's differences as a.NAME)."""
        if s.job_a is None:
            return self.msgs.note(t("msg.no_compare", lang_of(s)))
        cfg = self.ctl.to_config(list(controls))
        if needs_points(cfg.dataset) or needs_points(s.job_a.cfg.dataset):
            raise ConfigError("dataset", "a comparison link cannot carry uploaded points")
        link = share.share_url(page_base(page_url, request), cfg, compare_with=s.job_a.cfg)
        return {self.page.share_box: link,
                self.page.compare_link_box: gr.update(value=link, visible=True),
                **self.msgs.note(t("msg.compare_link", lang_of(s)))}

    def from_link(self, s, query, b: RunConfig) -> list[ConfigError]:
        """Set up the comparison a link describes (B is already the session's job)."""
        a, errors = share.parse_compare(query, b)
        if errors:
            return errors
        errors = self.registry.usable(s, a)
        if errors:
            return errors
        if s.job_a is not None:
            s.job_a.stop("Replaced by a new comparison.")
        job_b, s.job = s.job, None
        self.registry.new_job(s, a)
        s.job_a, s.job = s.job, job_b
        return []

    def frame(self, s, out: dict) -> list[Picture]:
        p = self.page
        if s.tab != "compare":
            return []
        if s.job_a is None:
            if s.shown.get("compare") is not None:
                s.shown["compare"] = None
                out[p.compare_status] = t("msg.compare_none", lang_of(s))
            return []
        a, b = s.job_a.snapshot(), s.job.snapshot()
        text = (f"**A** {a.state}, step {a.step:,} / {a.steps_total:,} · **B** {b.state}, "
                f"step {b.step:,} / {b.steps_total:,}")
        if s.shown.get("compare") != text:
            s.shown["compare"] = text
            out[p.compare_status] = text
        labels = (f"A: {run_label(s.job_a.cfg)}", f"B: {run_label(s.job.cfg)}")
        if s.shown.get("compare_labels") != labels:   # each panel names its settings
            s.shown["compare_labels"] = labels
            out[p.a_samples] = gr.update(label=labels[0])
            out[p.b_samples] = gr.update(label=labels[1])
        ids = (id(s.job_a), id(s.job), lang_of(s))   # the pictures' text in the page's language
        runs = [_run_data("A", a, dashed=True), _run_data("B", b)]
        lang = {"lang": lang_of(s)}
        return [
            Picture("a_samples", p.a_samples, (ids, a.weights_version), "samples",
                    f"A:{s.key}", a, lang),
            Picture("b_samples", p.b_samples, (ids, b.weights_version), "samples",
                    f"B:{s.key}", b, lang),
            Picture("a_weights", p.a_weights, (ids, a.weights_version), "weights",
                    f"A:{s.key}", a, lang),
            Picture("b_weights", p.b_weights, (ids, b.weights_version), "weights",
                    f"B:{s.key}", b, lang),
            Picture("overlay", p.overlay_plot, (ids, a.version, b.version), "overlay", s.key,
                    runs, lang),
        ]


# --------------------------------------------------------------------------------------------
@dataclass
class SweepState:
    name: str
    values: list
    jobs: list = field(default_factory=list)


class Sweep:
    def __init__(self, page, ctl, registry, msgs):
        self.page, self.ctl, self.registry, self.msgs = page, ctl, registry, msgs

    def parse(self, name: Any, text: Any) -> tuple[str, list]:
        names = [n for _, n in sweep_fields()]
        if not isinstance(name, str) or name not in names:
            raise ConfigError("sweep", f"choose the field to sweep, one of {', '.join(names)} "
                                       f"(got {brief(name, 30)})")
        if text is not None and not isinstance(text, str) or len(text or "") > SWEEP_TEXT_MAX:
            raise ConfigError(name, "the values to sweep are text of at most "
                                    f"{SWEEP_TEXT_MAX} characters: numbers or choices "
                                    "separated by commas")
        raw = [v.strip() for v in (text or "").split(",") if v.strip()]
        if len(raw) > SWEEP_MAX_VALUES:
            raise ConfigError(name, f"a sweep takes 2 to {SWEEP_MAX_VALUES} values separated "
                                    f"by commas, got {len(raw)}")
        values = list(dict.fromkeys(coerce(name, v) for v in raw))
        if not 2 <= len(values) <= SWEEP_MAX_VALUES:
            raise ConfigError(name, f"a sweep takes 2 to {SWEEP_MAX_VALUES} different values "
                                    f"separated by commas, got {len(values)}"
                                    + (f" ({len(raw)} given, some the same)"
                                       if len(raw) != len(values) else ""))
        return name, values

    def on_start(self, s, name, text, heat, arrows, mani, layer, *controls):
        name, values = self.parse(name, text)
        base = self.ctl.to_config(list(controls))
        cfgs = [base.replace(**{name: v}) for v in values]   # every value checked first
        for c in cfgs:
            self.registry.check(c)
        self.stop(s)
        s.sweep = SweepState(name, values, [self.registry.make_job(s, c) for c in cfgs])
        s.shown.pop("sweep", None)
        self._advance(s)
        warn = idle_warning(name, base, label_of)
        label = i18n.field_label(name, label_of(name), lang_of(s))
        return self.msgs.note(t("msg.sweep_start", lang_of(s), field=label, n=len(values),
                                k=SWEEP_PARALLEL) + (f" {warn}" if warn else ""))

    def on_stop(self, s, *_):
        self.stop(s)
        return self.msgs.note(t("msg.sweep_stop", lang_of(s)))

    def stop(self, s) -> None:
        if s.sweep is not None:
            for j in s.sweep.jobs:
                if j.state not in ("done", "stopped", "error"):
                    j.stop("Sweep stopped.")

    def _advance(self, s) -> None:
        """Keep SWEEP_PARALLEL runs of the sweep training; start the next when one ends."""
        sw = s.sweep
        running = sum(j.state == "running" for j in sw.jobs)
        for j in sw.jobs:
            if running >= SWEEP_PARALLEL:
                break
            if j.state == "idle":
                try:
                    j.start()
                except PoolBusy as e:   # the server's or the page's run cap: try later
                    raise ServerBusy(f"Sweep waiting: {self.registry.busy_text(e)}") from None
                running += 1

    def rows(self, s) -> tuple[pd.DataFrame, list[dict]]:
        sw = s.sweep
        table, done = [], []
        for v, j in zip(sw.values, sw.jobs):
            snap = j.snapshot()
            lat = snap.latest
            digits = kind_of(snap.cfg.dataset).digits
            qkey, qname, qscale = quality_metric(digits)
            q = None if lat.get(qkey) is None else qscale * lat[qkey]
            cov = lat.get("digits_covered") if digits else lat.get("modes")
            row = {label_of(sw.name): shown_value(sw.name, v), "state": snap.state,
                   "step": snap.step, "modes / digits": cov, qname: q,
                   "D sparse %": None if lat.get("sparsity_d") is None
                   else round(100 * lat["sparsity_d"], 2),
                   "D sharpness": lat.get("sharpness_d")}
            row = {k: round_sig(v) for k, v in row.items()}
            table.append(row)
            if snap.state == "done":
                done.append({"value": v, "quality": q, "quality_name": qname,
                             "sparsity_d": row["D sparse %"],
                             "sharpness_d": lat.get("sharpness_d")})
        return pd.DataFrame(table), done

    def frame(self, s, out: dict) -> list[Picture]:
        p = self.page
        if s.sweep is None:
            return []
        try:
            self._advance(s)
        except ServerBusy:
            pass
        if s.tab != "sweep":
            return []
        df, done = self.rows(s)
        key = df.to_json()
        if s.shown.get("sweep") != key:
            s.shown["sweep"] = key
            title, _ended = progress([j.state for j in s.sweep.jobs])
            out[p.sweep_table] = gr.update(value=df, label=title)
        if not done:
            return []
        label = i18n.field_label(s.sweep.name, label_of(s.sweep.name), lang_of(s))
        return [Picture("sweep_plot", p.sweep_plot, (id(s.sweep), len(done), lang_of(s)),
                        "tradeoff", s.key, done, {"field_label": label, "lang": lang_of(s)})]
