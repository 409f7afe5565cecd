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
