"""Share links, downloads and uploads: what crosses between the page and files or addresses.

Client input is hostile: a share link is built only on an address that looks like one (the
browser's own, else checked request headers); downloads get names built from validated values
and are written by storage.AppFiles inside the session's hashed folder; uploads are read with
size caps before anything changes, and deleted from gradio's cache once read.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gradio as gr

from .. import exports, share, uploads
from ..checkpoint import CheckpointError, max_bytes_for
from ..config import ConfigError
from ..data import USER_POINTS, drawing, needs_points
from .layout import reg_teaching
from .messages import errors_html
from .storage import discard_upload

HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
                  r"(?::[0-9]{1,5})?")


def web_url(url: Any) -> bool:
    """An http(s) address with a plain host name: the only kind a share link may be built on."""
    if not isinstance(url, str) or len(url) > 2048 or not url.startswith(("http://", "https://")):
        return False
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    return bool(HOST.fullmatch(netloc))


def upload_path(file) -> str | None:
    """The server-side path of an uploaded file as an un-preprocessed handler receives it: a
    FileData dict whose path gradio has checked and moved into its cache."""
    if isinstance(file, dict):
        file = file.get("path")
    return file if isinstance(file, str) and file else None


def upload_max_bytes(limits) -> int:
    """The largest file the app can use: a checkpoint of the largest model the server allows,
    or a points CSV or config, whichever is larger."""
    return max(max_bytes_for(limits.max_params), uploads.POINTS_MAX_BYTES,
               uploads.CONFIG_MAX_BYTES)


def page_base(page_url: str | None, request) -> str:
    """Where a share link should point. On a Hugging Face Space, the Space's page: its query is
    handed to the app inside it on load (Hub docs, 'How to handle URL parameters in Spaces'),
    and it is the address people know. Elsewhere the address the browser shows (sent by the
    button's js), else what the request says (API clients)."""
    space = os.environ.get("SPACE_ID", "").strip()
    if re.fullmatch(r"[\w.-]+/[\w.-]+", space):
        return f"https://huggingface.co/spaces/{space}"
    if web_url(page_url):
        return page_url
    headers = getattr(request, "headers", None) or {}
    if web_url(headers.get("referer")):
        return headers["referer"]
    # Client-sent headers: used only when they look like a host name and a scheme.
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    host = host if HOST.fullmatch(host) else "127.0.0.1:7860"
    proto = headers.get("x-forwarded-proto") or "http"
    proto = proto if proto in ("http", "https") else "http"
    return f"{proto}://{host}/"


class Transfers:
    """Handlers of the share/download/upload section. `apply(s, cfg, note, *view)` makes the
    controls and the session's job show a config as a fresh run (the app's own rule)."""

    def __init__(self, page, ctl, registry, files, stream, messages, apply):
        self.page, self.ctl, self.registry, self.files = page, ctl, registry, files
        self.stream, self.msgs, self.apply = stream, messages, apply

    # --- share link --------------------------------------------------------------------------
    def on_share(self, s, page_url, *controls, request=None):
        """The page's address with the current controls' settings as its query."""
        cfg = self.ctl.to_config(list(controls))
        extra = {}
        if needs_points(cfg.dataset):
            if not s.points_drawn or s.drawing is None:
                raise ConfigError("dataset", "a link cannot carry your uploaded points; share "
                                             "the config JSON and your CSV instead, draw your "
                                             "data, or pick another dataset")
            extra["draw"] = drawing.encode(s.drawing)   # a drawing fits in the link
        link = share.share_url(page_base(page_url, request), cfg, extra=extra)
        return {self.page.share_box: link,
                **self.msgs.note("Share link below (also copied to your clipboard where the "
                                 "browser allows it). Opening it sets every control to these "
                                 "settings.", s)}

    # --- downloads ---------------------------------------------------------------------------
    def on_download(self, kind: str):
        def handler(s, *controls):
            if kind == "config":
                cfg = self.ctl.to_config(list(controls))
                return self._file(s, f"gan-lab-{cfg.dataset}-config.json",
                                  exports.config_json(cfg).encode(),
                                  "Config JSON of the current controls. `python -m gan_lab "
                                  "train --config FILE` runs it; **Upload config** loads it.")
            if kind == "points":
                if s.points is None:
                    return self.msgs.note("No points of yours yet: draw your data or upload "
                                          "a CSV first.", s)
                text = "x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in s.points.tolist())
                return self._file(s, "gan-lab-points.csv", text.encode(),
                                  f"Your {len(s.points):,} points as CSV (x,y per row); "
                                  "**Upload points** loads them again.")
            job = s.job
            if job is None:
                return self.msgs.note("Nothing to download yet: press **Train** first.", s)
            snap = job.snapshot()
            stem = f"gan-lab-{snap.cfg.dataset}-step{snap.step}"
            if kind == "checkpoint":
                return self._file(s, f"{stem}.safetensors", exports.checkpoint_bytes(job),
                                  f"Checkpoint at step {snap.step:,} (G and D weights, the "
                                  "config in its metadata). **Upload checkpoint** continues "
                                  "from it.")
            if kind == "metrics":
                return self._file(s, f"{stem}-metrics.csv", exports.metrics_csv(snap).encode(),
                                  "Metrics CSV: step, losses, penalties, then every metric "
                                  "(empty cell = not measured at that step).")
            if kind == "samples":   # drawn in the render process, like every picture
                return self._file(s, f"{stem}-samples.png",
                                  self.stream.renderers.draw("png", s.key, snap),
                                  f"Samples at step {snap.step:,}.")
            rec = s.recorder
            if rec is None or len(rec) < 2:
                return self.msgs.note("The GIF needs at least two recorded pictures: press "
                                      "**Train** and let it run a little first.", s)
            data = rec.to_gif()
            return self._file(s, f"{stem}.gif", data,
                              f"GIF of this run: {len(rec)} frames from step {rec.steps[0]:,} "
                              f"to {rec.steps[-1]:,}.")

        return handler

    def _file(self, s, name: str, data: bytes, note: str) -> dict:
        path = self.files.write(s.key, name, data)
        return {self.page.download: str(path), **self.msgs.note(note, s)}

    # --- uploads -----------------------------------------------------------------------------
    @staticmethod
    def consuming(fn):
        """An upload handler that gets the uploaded file's path and deletes the file from
        gradio's cache once it has been read, whatever the outcome (the app keeps what it needs
        in memory)."""
        cache = gr.utils.get_upload_folder()

        @functools.wraps(fn)
        def handler(s, file, *rest):
            path = upload_path(file)
            try:
                return fn(s, path, *rest)
            finally:
                discard_upload(path, cache)

        return handler

    def on_upload_config(self, s, file, heat, arrows, mani, layer, *controls):
        if not file:
            return {}
        # Path(): uploads reads a plain str as the JSON text itself.
        cfg, errors = uploads.parse_config(Path(file))
        if cfg is not None:
            errors = self.registry.usable(s, cfg)
        if errors:
            n = len(errors)
            return {self.page.msg: errors_html(
                f"⚠️ {Path(file).name} was not loaded ({n} problem{'s' if n > 1 else ''}); "
                "nothing was changed.", errors)}
        return self.apply(s, cfg, f"Settings loaded from **{Path(file).name}**: a fresh run "
                                  f"from seed {cfg.seed}. Press **Train**.",
                          heat, arrows, mani, layer)

    def on_upload_checkpoint(self, s, file, heat, arrows, mani, layer, *controls):
        """Continue training from an uploaded safetensors checkpoint. Every check (format,
        size, metadata, names and shapes for its config, server caps) runs before the job is
        touched."""
        if not file:
            return {}
        path = Path(file)
        if path.suffix.lower() != ".safetensors":
            raise CheckpointError(f"{path.name} is not a .safetensors file; only safetensors "
                                  "checkpoints are accepted (.pt, .pth, .ckpt and .bin files "
                                  "are pickles, which can run code when loaded)")
        limits = self.registry.limits
        cap = max_bytes_for(limits.max_params)
        # The server's caps apply to the file's stored config before anything is built.
        cfg = uploads.import_checkpoint(path, max_bytes=cap, max_steps=limits.max_steps,
                                        check=self.registry.check)[0]
        if needs_points(cfg.dataset) and s.points is None:
            raise ConfigError("dataset", "this checkpoint was trained on custom points; upload "
                                         "the points CSV first, then the checkpoint")
        if s.job is None or s.job.state in ("stopped", "error"):
            self.registry.new_job(s, cfg)
        cfg = uploads.continue_from_checkpoint(s.job, path, max_bytes=cap,
                                               max_steps=limits.max_steps,
                                               check=self.registry.check)
        s.shown.clear()
        step = s.job.snapshot().step
        more = (f"Press **Train** to continue from step {step:,} to {cfg.steps:,}"
                if step < cfg.steps else f"Raise **Steps** above {step:,} and press **Train** "
                                         "to continue")
        out = self.ctl.set_updates(cfg)
        out[self.page.reg_help] = reg_teaching(cfg.reg)
        out.update(self.msgs.ok(s, f"Checkpoint **{path.name}** loaded: step {step:,}, its "
                                   f"settings are in the controls. {more} (optimizer state "
                                   "starts fresh)."))
        out.update(self.stream.render(s, heat, arrows, mani, layer, wait=True))
        return out

    def on_upload_points(self, s, file, heat, arrows, mani, layer, *controls):
        """Your own 2-D points: a new job on them, with the 'custom' dataset selected."""
        if not file:
            return {}
        path = Path(file)
        pts = uploads.import_points_csv(path)   # ConfigError naming the bad line
        cfg = self.ctl.to_config(list(controls)).replace(dataset=USER_POINTS)
        s.points, s.points_drawn = pts, False
        self.registry.new_job(s, cfg)
        out = {self.ctl.fields["dataset"]: gr.update(choices=self.ctl.choices("dataset",
                                                                              hidden=()),
                                                      value=USER_POINTS)}
        out.update(self.msgs.ok(s, f"Loaded {len(pts):,} points from **{path.name}**; "
                                   "dataset set to **custom**. Press **Train**."))
        out.update(self.stream.render(s, heat, arrows, mani, layer, wait=True))
        return out
