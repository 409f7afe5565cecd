"""Small helpers shared by several test modules (imported as `helpers`: pytest puts tests/ on
sys.path). Fixtures stay in conftest.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

# Debian's chromium, driven by Playwright through executable_path (Playwright's own browser
# download cannot work on our machines).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install chromium chromium-driver)"),
]
# Screenshots the browser tests leave for a person to look at.
OUT = Path(__file__).resolve().parent / "output"


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def wait_until(pred, timeout: float, what: str = "condition", interval: float = 0.1):
    """pred()'s first true value, polled every `interval` s; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached in {timeout}s")


def start_app_py(tmp: Path, cache: Path, env_extra: dict):
    """`python app.py` on a free local port with TMPDIR and GRADIO_TEMP_DIR in the test's tmp
    folders (a regression can only touch those): (process, url), once it serves the page."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    root = Path(__file__).resolve().parents[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(cache),
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root), **env_extra}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"

    def up():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return proc.poll() is not None   # died: stop waiting, the assert below reports it
    wait_until(up, 120, "app.py serving")
    assert proc.poll() is None, proc.stdout.read()
    return proc, url
