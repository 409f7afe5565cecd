"""Saved runs in the app: "Save the run on screen" writes it as a run folder (the CLI's files,
gan_lab.runs), and up to four of the session's saved runs are overlaid in the Compare tab.

Folders: `$GAN_LAB_RUNS_DIR/app/<session token>/<id>-<name>`. The session token is the keyed
hash of gradio's session id (storage.session_token), never client text; the folder name is a
server-made id and a slug of the run's name (runs.save_snapshot_run). Folders outlive the
session, so a teacher can collect a class's runs with `python -m gan_lab` tools or by hand.

Caps (Limits): GAN_LAB_SAVED_PER_SESSION runs per session (default 8), GAN_LAB_SAVED_MAX runs
in the app's folder in all (default 500), GAN_LAB_SAVED_MB_PER_SESSION and GAN_LAB_SAVED_MB of
files (default 100 MB and 2 GB: one save of a 2.7M-parameter conv run is ~19 MB). Past any of
them, Save says so and writes nothing. The bytes are counted before writing: first estimated
from the config's parameter count (gan_lab.cost), so a save that cannot fit builds nothing,
then exactly, from the files in memory, and checked against what the folder holds (earlier
server starts' runs included) and written under one lock, so simultaneous saves cannot pass a
cap together (issue 18).

A choice of runs to overlay arrives from the client: only ids of this session's own saved runs
count; anything else is refused with a message, never looked up on disk.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import cost, runs
from ..config import ConfigError
from .stream import Picture

log = logging.getLogger("gan_lab.ui")
MAX_OVERLAY = 4
# Every save of this process checks the caps and writes under this lock.
_SAVE_LOCK = threading.Lock()


@dataclass
class Saved:
    id: str
    label: str
    path: Path


def app_runs_root() -> Path:
    return runs.runs_dir() / "app"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


class SavedRuns:
    def __init__(self, page, stream, msgs, limits, root: Path | None = None):
        self.page, self.stream, self.msgs, self.limits = page, stream, msgs, limits
        self.root = root

    def _root(self) -> Path:
        return self.root if self.root is not None else app_runs_root()

    def _choices(self, s) -> gr.CheckboxGroup:
        chosen = [c for c in (s.saved_pick or []) if any(r.id == c for r in s.saved)]
        return gr.CheckboxGroup(choices=[(r.label, r.id) for r in s.saved], value=chosen)

    def _full(self, root: Path, mine: Path, size: int, n_mine: int) -> str | None:
        """Why a save of `size` bytes does not fit (None when it does)."""
        lim = self.limits
        if n_mine >= lim.saved_per_session:
            return (f"This session has saved {n_mine} runs, the most it may keep "
                    f"({lim.saved_per_session}).")
        used_mine, _ = runs.folder_bytes(mine)
        if used_mine + size > lim.saved_mb_per_session * 1e6:
            return (f"Saving this run needs {_mb(size)}; this session's saved runs hold "
                    f"{_mb(used_mine)} of the {_mb(lim.saved_mb_per_session * 1e6)} one "
                    "session may keep.")
        used, n = runs.folder_bytes(root)
        where = f"`{root.parent.name}/{root.name}`"   # the folder's name, never its full path
        if n >= lim.saved_total:
            return (f"The server keeps at most {lim.saved_total} saved runs and is full: ask "
                    f"whoever runs it to clear {where}.")
        if used + size > lim.saved_mb * 1e6:
            return (f"Saving this run needs {_mb(size)}; the server's saved runs hold "
                    f"{_mb(used)} of the {_mb(lim.saved_mb * 1e6)} it keeps: ask whoever "
                    f"runs it to clear {where}.")
        return None

    def on_save(self, s):
        job = s.job
        if job is None:
            return self.msgs.note("Nothing to save yet: press **Train** first.", s)
        snap = job.snapshot()
        if snap.step == 0:
            return self.msgs.note("The run has not trained yet: press **Train** first.", s)
        root = self._root()
        mine = root / s.key
        # The checkpoint's size from the parameter count first (a lower bound of the save):
        # a save that cannot fit builds nothing (a checkpoint can be tens of MB).
        why = self._full(root, mine, cost.checkpoint_bytes(snap.cfg), len(s.saved))
        if why:
            return self.msgs.note(why, s)
        png = self.stream.renderers.draw("png", s.key, snap)
        run_id, name = runs.new_run_id(), runs.run_name(snap.cfg)
        files = runs.snapshot_files(snap, job.checkpoint_bytes(), name,
                                    png=png if png else False, run_id=run_id)
        size = sum(len(b) for b in files.values())
        with _SAVE_LOCK:   # exact sizes, checked and written together
            why = self._full(root, mine, size, len(s.saved))
            if why:
                return self.msgs.note(why, s)
            path = runs.write_run_files(mine / f"{run_id}-{runs.slug(name)}", files)
        label = f"{run_id} · {name} · step {snap.step:,}"
        s.saved.append(Saved(run_id, label, path))
        return {self.page.saved_runs: self._choices(s),
                # The label is made here from a validated config: no client text to quote.
                **self.msgs.note(f"Saved as **{label}** ({len(s.saved)} of "
                                 f"{self.limits.saved_per_session}). Choose up to "
                                 f"{MAX_OVERLAY} and press **Overlay the chosen runs**.", s)}

    def on_overlay(self, s, chosen, heat, arrows, mani, layer):
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return self.msgs.note("Saved runs: choose runs from the list.", s)
        mine = {r.id: r for r in s.saved}
        unknown = [c for c in chosen if c not in mine]
        if unknown:
            return self.msgs.note("Saved runs: only this session's saved runs can be overlaid "
                                  f"({len(unknown)} unknown choice(s)).", s)
        if not chosen:
            return self.msgs.note("Saved runs: tick one to four runs first.", s)
        if len(chosen) > MAX_OVERLAY:
            return self.msgs.note(f"Saved runs: choose at most {MAX_OVERLAY} (you chose "
                                  f"{len(chosen)}).", s)
        data, gone = [], []
        for c in dict.fromkeys(chosen):
            try:
                run = runs.load_run(mine[c].path)
            except (OSError, ValueError, ConfigError) as e:
                # Removed or changed on the server's disk: the path and the error are for the
                # log, the page gets the run's label.
                log.warning("saved run %s cannot be read: %s", c, e)
                gone.append(mine[c])
                continue
            data.append({"label": f"{run.id} {run.name}", "history": run.metrics or {},
                         "metrics": run.metrics or {}, "is_image": run.cfg.is_image,
                         "dashed": False})
        if gone:
            s.saved = [r for r in s.saved if r not in gone]
            s.saved_pick = [c for c in s.saved_pick if c in {r.id for r in s.saved}]
            labels = "; ".join(r.label for r in gone)
            return self.msgs.note(f"Saved run(s) {labels} can no longer be read (removed or "
                                  "changed on the server) and were forgotten; the list shows "
                                  "it after the next save. Nothing was overlaid.", s)
        s.saved_pick = list(dict.fromkeys(chosen))
        s.saved_view = (tuple(s.saved_pick), data)
        out = self.stream.render(s, heat, arrows, mani, layer, wait=True)
        out.update(self.msgs.note(f"Overlaid {len(data)} saved run(s) (Compare tab, below).", s))
        return out

    def frame(self, s, out: dict) -> list[Picture]:
        """A Stream extra: the chosen saved runs' overlay, while the Compare tab is shown."""
        if s.tab != "compare" or s.saved_view is None:
            return []
        ids, data = s.saved_view
        return [Picture("saved_overlay", self.page.saved_plot, ids, "overlay", s.key, data, {})]
