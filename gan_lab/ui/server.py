"""The server around the app: build it, launch it with its request caps, serve until a signal,
and shut down in order.

`python app.py` calls `serve(build_demo(), **launch_kwargs())`. Nothing is built at import time.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import gradio as gr

from ..config import RunConfig
from . import compat
from .app import GanLabApp
from .layout import CSS, theme
from .render_worker import RenderService
from .sessions import Limits, Registry, configure_torch
from .storage import AppFiles, BodyLimit, CacheJanitor
from .transfer import upload_max_bytes

log = logging.getLogger("gan_lab.ui")

# A shutdown (SIGTERM, Ctrl-C) must finish within this: jobs stopped, workers and the render
# process joined, the app's temp folder removed.
SHUTDOWN_S = 4.0
# gradio's queue summarises its event log (up to 10,000 events: a pandas frame, a groupby and
# percentiles) twice after every event unless GRADIO_ANALYTICS_CACHE_FREQUENCY says otherwise:
# ~8.6 ms a time at 10,000 events, ~17 ms of every poll, about half a core for 30 pages polling
# once a second (issue 19). The summary only feeds gradio's monitoring page; this app refreshes
# it every this many events instead, unless that variable is set.
ANALYTICS_EVERY = 5000


def launch_kwargs(limits: Limits | None = None) -> dict[str, Any]:
    """Theme and CSS go to launch() in gradio 6; so do the request caps: gradio refuses an
    oversized upload before writing it to disk, and BodyLimit refuses any request larger than
    the app can use before gradio reads it."""
    from starlette.middleware import Middleware

    limits = limits or Limits.from_env()
    cap = upload_max_bytes(limits)
    return dict(css=CSS, theme=theme(), max_file_size=cap,
                app_kwargs={"middleware": [Middleware(BodyLimit, max_upload_bytes=cap)]})


def warm_up(renderers: RenderService) -> None:
    """Pay the one-off costs (the default config's preview, matplotlib fonts, image codecs, the
    render child's start) at startup, so the first student's page answers as fast as everyone
    else's."""
    from ..jobs import TrainingJob

    renderers.start()
    snap = TrainingJob(RunConfig()).snapshot()   # the default preview, now cached: no training
    renderers.draw("samples", "warm-up", snap)
    renderers.draw("weights", "warm-up", snap)
    renderers.drop("warm-up")


def build_demo(registry: Registry | None = None, *, renderers: RenderService | None = None,
               warm: bool = True, files: AppFiles | None = None) -> gr.Blocks:
    app = GanLabApp(registry, renderers, files)
    configure_torch(app.registry.limits)
    if warm:
        warm_up(app.renderers)
    bad = compat.check()   # gradio's internals this app uses (ui/compat.py)
    if "plot_data" in bad:
        raise RuntimeError(f"GAN Lab cannot run on this gradio: {bad['plot_data']}; install "
                           f"gradio=={compat.TESTED_GRADIO} (requirements.txt)")
    for what in bad.values():
        log.warning("left out (the installed gradio differs): %s", what)
    demo = app.build()
    if "fast_skips" not in bad:
        compat.fast_skips(demo)    # gr.skip() outputs cost a component build each otherwise
    demo.queue(default_concurrency_limit=None)
    if "GRADIO_ANALYTICS_CACHE_FREQUENCY" not in os.environ and "analytics_every" not in bad:
        compat.analytics_every(demo, ANALYTICS_EVERY)
    app.janitor = CacheJanitor(gr.utils.get_upload_folder(),
                               app.registry.limits.cache_mb * 1024 * 1024,
                               also=(app.files.exports,)).start()
    demo.gan_lab = app  # tests and app.py reach the registry through this
    return demo


def serve(demo: gr.Blocks, **launch_kw) -> int:
    """Launch and serve until SIGTERM or SIGINT (Ctrl-C), then shut down in order: jobs
    stopped, workers and the render process joined, the app's temp folder and gradio's cache
    removed. Returns the exit status (0 for an orderly stop within SHUTDOWN_S)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    demo.launch(prevent_thread_lock=True, **launch_kw)
    while not stop.wait(0.5):
        pass
    log.warning("GAN Lab: shutting down")
    done = threading.Event()

    def shut():
        try:
            demo.gan_lab.close()
            demo.close()
        finally:
            done.set()

    threading.Thread(target=shut, name="gan-lab-shutdown", daemon=True).start()
    if not done.wait(SHUTDOWN_S):
        log.error("GAN Lab: shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_S)
        return 1
    return 0
