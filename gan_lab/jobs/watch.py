"""Who is watching a run, and when it will be done: the CPU goes to runs someone sees.

A page reports its tab's Page Visibility state (document.visibilityState) with every poll
(gan_lab.ui.wiring); the session passes it to its jobs (`Watched.watch`). A running job whose
page is hidden, or whose page reported visibility and then stopped polling for UNWATCHED_S,
is not `watched()`: schedulers give it no slices (`Job.runnable`), its run waits where it is in
its worker (nothing is lost), and the first poll of a visible page wakes it again. A client
that never reports visibility (gradio_client, scripts, the CLI, tests) is always watched.

`Pace` turns the steps a job made over the last WINDOW_S, as its page saw them (sharing and
waits included), into the seconds until its run is done at its current share: the steps left
at that rate, and the final evaluation (gan_lab.estimate) slowed down as much as the steps.
"""

from __future__ import annotations

import time
from collections import deque

from .. import estimate

# A page that reported its visibility and then sent nothing for this long is gone or frozen
# (an open tab polls every 0.25-5 s, slower when the server is loaded: 11 s p95 seen).
UNWATCHED_S = 30.0
WINDOW_S = 20.0      # the ETA's rate: steps over about this many seconds
MIN_WINDOW_S = 1.5   # no ETA until the run has been measured for this long


class Watched:
    """Mixed into Job: the watch state of a job (see the module docstring)."""

    _hidden = False             # its page said document.visibilityState == "hidden"
    _page_seen: float | None = None   # last time its page reported visibility (None: never)

    def watch(self, visible: bool | None) -> None:
        """A poll of the job's page: visible True/False, or None (a client that does not say).
        A job that was unwatched and is watched again resumes (its scheduler is woken)."""
        was = self.watched()
        if visible is not None:
            self._hidden = not visible
            self._page_seen = time.monotonic()
        if not was and self.watched():
            pace = getattr(self, "_pace", None)
            if pace is not None:
                pace.restart()     # the time it waited is not its speed
            self._wake()

    def watched(self) -> bool:
        """Whether someone sees this job's page (always, for clients that never said)."""
        if self._page_seen is None:
            return True
        return not self._hidden and time.monotonic() - self._page_seen <= UNWATCHED_S


class Pace:
    """Steps over the last WINDOW_S seconds of a running job, for its ETA."""

    def __init__(self):
        self._points: deque = deque()
        self._typical = None      # (cfg, typical step s, typical final evaluation s)

    def restart(self) -> None:
        self._points.clear()

    def add(self, step: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._points.append((now, step))
        while len(self._points) > 2 and now - self._points[1][0] >= WINDOW_S:
            self._points.popleft()

    def eta_s(self, step: int, cfg, now: float | None = None) -> float | None:
        """Seconds until cfg.steps at the rate of the window, plus the final evaluation slowed
        down as much as the steps are at this share (None until measured)."""
        now = time.monotonic() if now is None else now
        if len(self._points) < 2:
            return None
        t0, s0 = self._points[0]
        span = now - t0
        if span < MIN_WINDOW_S or step <= s0:
            return None
        per_step = span / (step - s0)
        if self._typical is None or self._typical[0] is not cfg:
            # the cost model builds its nets once per architecture (meta device, ms)
            self._typical = (cfg, estimate.step_seconds(cfg), estimate.final_seconds(cfg))
        _, step_s, final_s = self._typical
        return max(0, cfg.steps - step) * per_step + final_s * max(1.0, per_step / step_s)
