"""Shared fixtures: the real GAN Lab app, launched on a free local port.

The app runs in this process (gradio's own server thread), so tests can both talk to it over
HTTP like a browser and look inside it (its job registry, the process's threads).
"""

from __future__ import annotations

import os
import socket
import tempfile
import time

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a local TCP port nobody is listening on."""
    return _free_port


@pytest.fixture(scope="session")
def live_app():
    """(url, demo) of a launched app with test-sized limits."""
    # A closed client's unload should fire within a second, not gradio's default 15 s.
    os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Saved runs (Save the run on screen) go to a scratch folder, not the checkout's runs/.
    os.environ.setdefault("GAN_LAB_RUNS_DIR", tempfile.mkdtemp(prefix="gan-lab-test-runs-"))
    from gan_lab.ui import build_demo, launch_kwargs
    from gan_lab.ui.sessions import Limits, Registry

    registry = Registry(Limits(max_running=2, max_steps=100_000, max_params=3_000_000,
                               ttl_s=60.0))
    demo = build_demo(registry)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **launch_kwargs())
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    yield url, demo
    demo.gan_lab.registry.close_all()
    demo.gan_lab.renderers.close()
    demo.close()


@pytest.fixture
def browser(live_app):
    """Debian's chromium (helpers.launch_chromium) and the live app's address, for the browser
    test files."""
    from helpers import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b, live_app[0]
        b.close()
