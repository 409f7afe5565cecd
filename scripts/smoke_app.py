"""Launch smoke test: start `python app.py` the way a Space does, then use it over HTTP.

    python scripts/smoke_app.py            # with the interpreter under test

Starts app.py with GRADIO_SERVER_NAME=127.0.0.1 and a free GRADIO_SERVER_PORT, fetches the page,
then, as one gradio_client session, calls the public /train endpoint (300 steps) and /poll until
the status shows training progress, and /pause. Prints what it saw; exits non-zero on any
failure. Used by scripts/check_py310.sh; runs on any Python the requirements install on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_step(status: str) -> int:
    # "**Training** · step **123** / 300 · ..."
    if "step **" not in status:
        return -1
    return int(status.split("step **", 1)[1].split("**", 1)[0].replace(",", ""))


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.monotonic()
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if app.poll() is not None:
                print(app.stdout.read().decode(errors="replace")[-3000:])
                raise SystemExit(f"app.py exited with {app.returncode} before serving")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    page = r.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("app.py did not serve within 120 s") from None
                time.sleep(0.5)
        assert r.status == 200 and b"GAN Lab" in page, (r.status, page[:200])
        print(f"page: HTTP {r.status}, {len(page)} bytes, served "
              f"{time.monotonic() - t0:.1f} s after start")

        from gradio_client import Client

        client = Client(url, verbose=False)
        try:
            out = client.predict(steps=300, api_name="/train")
            msg, status = out[0], out[1]
            assert "gl-err" not in (msg or ""), msg
            print(f"/train -> status: {status}")
            assert "Training" in status or "Done" in status, status
            deadline, step = time.monotonic() + 60, status_step(status)
            while step <= 0 and time.monotonic() < deadline:
                time.sleep(0.5)
                f = client.predict(api_name="/poll")
                if isinstance(f[0], str):
                    status, step = f[0], status_step(f[0])
            assert step > 0, f"no training step reported in 60 s; last status: {status}"
            print(f"/poll -> step {step}: {status}")
            client.predict(api_name="/pause")
        finally:
            client.close()
    finally:
        app.terminate()
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
