"""What the page tells the user: message boxes, field errors, toasts, and the safety net that
turns any failure of a handler into one of them.

Messages quote user input (values, file names, link parameters), so every text is HTML-escaped
before the little markup the messages use (**bold**, `code`) is turned into tags.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import secrets

import gradio as gr

from ..checkpoint import CheckpointError
from ..config import ConfigError, spec
from ..i18n import field_label
from ..i18n.runtext import run_message
from .controls import label_of

log = logging.getLogger("gan_lab.ui")


class ServerBusy(Exception):
    """The server cannot take this session's run now; the message says so in a user's words."""


def html_box(kind: str, text: str) -> str:
    """A styled message box (kind: err, note, busy). Markdown is not parsed inside an HTML
    block, so the little of it that messages use becomes tags here; everything else is
    escaped."""
    if not text:
        return ""
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    return f'<div class="gl-{kind}">{text}</div>'


def toast(text: str) -> str:
    """Toast text: gradio renders it as HTML (after its sanitizer, which keeps links), and it
    quotes user input, so it is escaped."""
    return html.escape(text, quote=False)


def field_error(e: ConfigError) -> tuple[str, str]:
    """(field, message without the 'field: ' prefix) of a ConfigError."""
    text = str(e)
    prefix = f"{e.field}: "
    return e.field, text[len(prefix):] if text.startswith(prefix) else text


def errors_html(head: str, errors: list[ConfigError], lang: str = "en") -> str:
    """An error box listing every bad field with its label, name and what is allowed."""
    items = []
    head = run_message(head, lang)
    for e in errors:
        field, text = field_error(e)
        label, text = field_label(field, label_of(field), lang), run_message(text, lang)
        name = (f"<b>{html.escape(label)}</b> (<code>{html.escape(field)}</code>)"
                if label != field else f"<b>{html.escape(field)}</b>")
        items.append(f"<li>{name}: {html.escape(text)}</li>")
    return f'<div class="gl-err">{html.escape(head)}<ul>{"".join(items)}</ul></div>'


def lang_of(s) -> str:
    """A session's page language (ui/lang.py sets it on load); English without a session."""
    return getattr(s, "lang", "en")


_lang = lang_of


def shown_value(name: str, v) -> str:
    """A field value as the controls show it (a choice's label, a float in short form)."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(spec(name)["labels"].get(v, v))


class Messages:
    """The message area, field outlines and the handlers' safety net. `page` holds the
    components (msg, status); `fields` maps field names to their controls."""

    def __init__(self, page, fields: dict, registry):
        self.page = page
        self.fields = fields
        self.registry = registry

    def clear_bad(self, s, out: dict) -> None:
        if s.bad_field is not None:
            comp = self.fields.get(s.bad_field)
            if comp is not None:
                out[comp] = gr.update(elem_classes=[])
            s.bad_field = None

    def ok(self, s, note: str = "", kind: str = "note") -> dict:
        """A message for control handlers: also clears a field's error outline."""
        out = {self.page.msg: html_box(kind, run_message(note, _lang(s)))}
        self.clear_bad(s, out)
        return out

    def note(self, text: str, s=None) -> dict:
        """A message for handlers whose outputs are the message area and a file or text box,
        not the controls (so a field's error outline is left for a control handler to clear);
        in the page's language of session `s`."""
        return {self.page.msg: html_box("note", run_message(text, _lang(s)))}

    def config_error(self, s, e: ConfigError, outline: bool = True) -> dict:
        field, text = field_error(e)
        lang = _lang(s)
        label, text = field_label(field, label_of(field), lang), run_message(text, lang)
        name = f"**{label}** (`{field}`)" if label != field else f"**{field}**"
        out = {self.page.msg: html_box("err", f"⚠️ {name}: {text}")}
        # Only handlers with the controls among their outputs can outline one.
        if s is not None and outline:
            self.clear_bad(s, out)
            comp = self.fields.get(field)
            if comp is not None:
                out[comp] = gr.update(elem_classes=["gl-bad"])
                s.bad_field = field
        # A short toast (the message box keeps the text): repeated errors do not pile up.
        gr.Warning(toast(f"{label}: {text}"), duration=6)
        return out

    def guarded(self, fn, has_msg: bool = True, with_request: bool = False,
                outline: bool = True):
        """Every handler's safety net: bad input, a busy server or a bug becomes a message on the
        page, never a traceback, a dead event or a stuck job. Handlers without the message area
        among their outputs (the timer's poll) report in the status line instead. Each handler
        runs under its session's lock, so a poll never renders while Reset swaps the job."""
        status = self.page.status

        def report(kind: str, text: str, s=None) -> dict:
            text = run_message(text, _lang(s))
            if has_msg:
                return {self.page.msg: html_box(kind, text)}
            return {status: html.escape(text, quote=False)}

        @functools.wraps(fn)
        def inner(*args):
            request = args[-1]
            s = None
            try:
                s = self.registry.get(request.session_hash)
                with s.lock:
                    out = fn(s, *args[:-1], request=request) if with_request \
                        else fn(s, *args[:-1])
                # gradio reads an empty dict as one missing value, not as "nothing changed"
                return out or {status: gr.skip()}
            except ConfigError as e:
                if has_msg:
                    return self.config_error(s, e, outline)
                return report("err", f"⚠️ {e}", s)
            except ServerBusy as e:
                return report("busy", f"⏳ {e}", s)
            except CheckpointError as e:
                return report("err", f"⚠️ Checkpoint refused: {e}. Nothing was changed.", s)
            except Exception:
                # The exception's text may hold paths, tokens or client input: it goes to the
                # server's log under an incident id, and the page gets only the id.
                incident = secrets.token_hex(4)
                log.exception("handler %s failed (incident %s)", fn.__name__, incident)
                return report("err", f"⚠️ Something went wrong on the server (incident "
                                     f"{incident}). Your settings are kept; press Reset to "
                                     "start over.", s)

        return inner
