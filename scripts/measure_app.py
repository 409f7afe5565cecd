"""Measure the live app as a student sees it, against the CLI on the same config.

Starts `python app.py` on a free port, opens it in Debian's chromium (Playwright), presses Train
and records: time to the first new samples picture, pictures received per second, and training
steps/s read from the status line while the page renders. Then runs the CLI on the default
config for comparison. Usage: python scripts/measure_app.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step_of(text: str) -> int | None:
    m = re.search(r"step\s+([\d,]+)", text)
    return int(m.group(1).replace(",", "")) if m else None


def measure_page(url: str, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync"])
        pg = b.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(url)
        pg.wait_for_selector("#samples-plot img", timeout=60_000)
        src0 = pg.eval_on_selector("#samples-plot img", "e => e.src")
        pg.evaluate("""() => { window.__frames = []; let last = null;
            new MutationObserver(() => { const s = document.querySelector('#samples-plot img');
              if (s && s.src !== last) { last = s.src; window.__frames.push(performance.now()); }
            }).observe(document.body, {subtree: true, attributes: true, childList: true}); }""")
        t0 = time.monotonic()
        pg.click("#train-btn")
        pg.wait_for_function("s => document.querySelector('#samples-plot img').src !== s",
                             arg=src0, timeout=30_000)
        first = time.monotonic() - t0
        status = "#gl-status [data-testid=markdown]"
        time.sleep(0.5)
        s0, ta = step_of(pg.inner_text(status)), time.monotonic()
        n0 = pg.evaluate("() => window.__frames.length")
        time.sleep(seconds)
        s1, tb = step_of(pg.inner_text(status)), time.monotonic()
        n1 = pg.evaluate("() => window.__frames.length")
        pg.click("#pause-btn")
        b.close()
    return {"first_picture_s": round(first, 3),
            "pictures_per_s": round((n1 - n0) / (tb - ta), 2),
            "steps_per_s_page_open": round((s1 - s0) / (tb - ta), 1),
            "window_steps": [s0, s1]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2.0)   # warm workers
        page = measure_page(f"http://127.0.0.1:{port}/", args.seconds)
    finally:
        app.terminate()
        app.wait(10)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "gan_lab", "train", "--out", d, "--quiet"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        cli = json.loads((Path(d) / "summary.json").read_text())
    page["cli_steps_per_s"] = cli["steps_per_s"]
    page["page_over_cli"] = round(page["steps_per_s_page_open"] / cli["steps_per_s"], 3)
    print(json.dumps(page, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
