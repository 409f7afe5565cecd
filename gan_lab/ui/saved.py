"""Saved runs in the app: "Save the run on screen" writes it as a run folder (the CLI's files,
gan_lab.runs), and up to four of the session's saved runs are overlaid in the Compare tab.

Folders: `$GAN_LAB_RUNS_DIR/app/<session token>/<id>-<name>`. The session token is the keyed
hash of gradio's session id (storage.session_token), never client text; the folder name is a
server-made id and a slug of the run's name (runs.save_snapshot_run). Folders outlive the
session, so a teacher can collect a class's runs with `python -m gan_lab` tools or by hand.

Caps (Limits): GAN_LAB_SAVED_PER_SESSION runs per session (default 8), GAN_LAB_SAVED_MAX runs
in the app's folder in all (default 500): past either, Save says so and writes nothing.

A choice of runs to overlay arrives from the client: only ids of this session's own saved runs
count; anything else is refused with a message, never looked up on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import runs
from .stream import Picture

MAX_OVERLAY = 4


@dataclass
class Saved:
    id: str
    label: str
    path: Path


def app_runs_root() -> Path:
    return runs.runs_dir() / "app"


def count_saved(root: Path) -> int:
    """Finished run folders under the app's folder (two levels: session, run)."""
    if not root.is_dir():
        return 0
    return sum(1 for _ in root.glob(f"*/*/{runs.SUMMARY}"))


class SavedRuns:
    def __init__(self, page, stream, msgs, limits, root: Path | None = None):
        self.page, self.stream, self.msgs, self.limits = page, stream, msgs, limits
        self.root = root

    def _root(self) -> Path:
        return self.root if self.root is not None else app_runs_root()

    def _choices(self, s) -> gr.CheckboxGroup:
        chosen = [c for c in (s.saved_pick or []) if any(r.id == c for r in s.saved)]
        return gr.CheckboxGroup(choices=[(r.label, r.id) for r in s.saved], value=chosen)

    def on_save(self, s):
        job = s.job
        if job is None:
            return self.msgs.note("Nothing to save yet: press **Train** first.")
        snap = job.snapshot()
        if snap.step == 0:
            return self.msgs.note("The run has not trained yet: press **Train** first.")
        if len(s.saved) >= self.limits.saved_per_session:
            return self.msgs.note(f"This session has saved {len(s.saved)} runs, the most it may "
                                  f"keep ({self.limits.saved_per_session}).")
        root = self._root()
        if count_saved(root) >= self.limits.saved_total:
            return self.msgs.note(f"The server keeps at most {self.limits.saved_total} saved "
                                  "runs and is full: ask whoever runs it to clear "
                                  f"{runs.DEFAULT_RUNS_DIR}/app.")
        png = self.stream.renderers.draw("png", s.key, snap)
        run_id, name = runs.new_run_id(), runs.run_name(snap.cfg)
        path = runs.save_snapshot_run(root / s.key, snap, job.checkpoint_bytes(), name,
                                      png=png if png else False, run_id=run_id)
        label = f"{run_id} · {name} · step {snap.step:,}"
        s.saved.append(Saved(run_id, label, path))
        return {self.page.saved_runs: self._choices(s),
                # The label is made here from a validated config: no client text to quote.
                **self.msgs.note(f"Saved as **{label}** ({len(s.saved)} of "
                                 f"{self.limits.saved_per_session}). Choose up to "
                                 f"{MAX_OVERLAY} and press **Overlay the chosen runs**.")}

    def on_overlay(self, s, chosen, heat, arrows, mani, layer):
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return self.msgs.note("Saved runs: choose runs from the list.")
        mine = {r.id: r for r in s.saved}
        unknown = [c for c in chosen if c not in mine]
        if unknown:
            return self.msgs.note("Saved runs: only this session's saved runs can be overlaid "
                                  f"({len(unknown)} unknown choice(s)).")
        if not chosen:
            return self.msgs.note("Saved runs: tick one to four runs first.")
        if len(chosen) > MAX_OVERLAY:
            return self.msgs.note(f"Saved runs: choose at most {MAX_OVERLAY} (you chose "
                                  f"{len(chosen)}).")
        data = []
        for c in dict.fromkeys(chosen):
            run = runs.load_run(mine[c].path)
            data.append({"label": f"{run.id} {run.name}", "history": run.metrics or {},
                         "metrics": run.metrics or {}, "is_image": run.cfg.dataset == "mnist",
                         "dashed": False})
        s.saved_pick = list(dict.fromkeys(chosen))
        s.saved_view = (tuple(s.saved_pick), data)
        out = self.stream.render(s, heat, arrows, mani, layer, wait=True)
        out.update(self.msgs.note(f"Overlaid {len(data)} saved run(s) (Compare tab, below)."))
        return out

    def frame(self, s, out: dict) -> list[Picture]:
        """A Stream extra: the chosen saved runs' overlay, while the Compare tab is shown."""
        if s.tab != "compare" or s.saved_view is None:
            return []
        ids, data = s.saved_view
        return [Picture("saved_overlay", self.page.saved_plot, ids, "overlay", s.key, data, {})]
