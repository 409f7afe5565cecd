"""Keeping a tab's run across a reload of the page.

gradio gives every page load a new session id, so a reload used to throw the run away. Now the
server makes a random resume token for each session (`secrets`, 32 URL-safe characters) and
the page keeps it in the tab's sessionStorage (per tab: a second tab never shares the run;
RESUME_JS). When the tab goes away its session is *parked* under that token, its runs paused,
for the run's time-to-live (GAN_LAB_JOB_TTL_S); a reload sends the token with its first event
and gets the same session back, run, comparison, drawing and lesson included. A token is only
a key into this in-memory map: it never becomes a path, a file name or HTML, and is checked
against TOKEN before any lookup. An unknown, stale, forged or malformed token gets a fresh
session, as a new tab does.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

import gradio as gr

from ..data import needs_points
from .layout import reg_teaching

TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
STORAGE_KEY = "gan-lab-resume"

# The page's first event (demo.load) sends the stored token as its last input, but only when the
# address's query is the one the token was stored with: a reload, not a new link opened in the
# same tab (a link means its own settings). The token box's change stores a new one.
# sessionStorage survives a reload of the same tab only.
LOAD_JS = ("(...args) => { let t = ''; try { if (sessionStorage.getItem('" + STORAGE_KEY +
           "-q') === window.location.search) t = sessionStorage.getItem('" + STORAGE_KEY +
           "') || ''; } catch (e) {} args[args.length - 1] = t; return args; }")
STORE_JS = ("(t) => { try { if (t) { sessionStorage.setItem('" + STORAGE_KEY + "', t); "
            "sessionStorage.setItem('" + STORAGE_KEY + "-q', window.location.search); } } "
            "catch (e) {} }")


def new_token() -> str:
    return secrets.token_urlsafe(24)   # 24 bytes -> 32 characters


def valid(token) -> bool:
    return isinstance(token, str) and TOKEN.fullmatch(token) is not None


class Parking:
    """Sessions whose tab went away, by resume token, each for `ttl_s`."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._parked: dict[str, tuple[object, float]] = {}

    def park(self, token: str, session) -> None:
        with self._lock:
            self._parked[token] = (session, time.monotonic())

    def take(self, token) -> object | None:
        """The session parked under `token`, removed from the parking (None if unknown or
        past its time-to-live; an expired one is left for `expired` to hand back)."""
        if not valid(token):
            return None
        with self._lock:
            got = self._parked.get(token)
            if got is None or time.monotonic() - got[1] > self.ttl_s:
                return None
            del self._parked[token]
            return got[0]

    def expired(self) -> list:
        """Remove and return the sessions parked longer than their time-to-live."""
        now = time.monotonic()
        with self._lock:
            old = [k for k, (_, t) in self._parked.items() if now - t > self.ttl_s]
            return [self._parked.pop(k)[0] for k in old]

    def all(self) -> list:
        with self._lock:
            out = [s for s, _ in self._parked.values()]
            self._parked.clear()
            return out


def page(app, s, view) -> dict:
    """The page (of GanLabApp `app`) of a session a reload took back: controls, tab, lesson
    and drawing as they were, the run paused where it was."""
    p = app.page
    s.shown.clear()
    cfg = s.job.cfg if s.job is not None else app.ctl.to_config(
        [app.ctl.specs[n]["default"] for n in app.ctl.names])
    out = app.ctl.set_updates(cfg)
    if needs_points(cfg.dataset):
        out[app.ctl.fields["dataset"]] = gr.update(
            choices=app.ctl.choices("dataset", hidden=()), value=cfg.dataset)
    s.controls_dataset = cfg.dataset
    out[p.reg_help] = reg_teaching(cfg.reg)
    step = s.job.snapshot().step if s.job is not None else 0
    out.update(app.msgs.ok(s, f"Your run is back after the reload (step {step:,}; "
                              "paused). Press **Train** to go on."))
    if s.lesson is not None:
        out.update(app.lesson.reopen(s))
    out[p.tabs] = gr.Tabs(selected=s.tab)
    out.update(app.draw.on_show(s))
    out[p.resume_box] = s.resume
    out.update(app._render(s, view))
    return out
