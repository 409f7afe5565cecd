"""scripts/load_test.py, the README's class measurement, runs end to end in a short form: it
starts the real app, its simulated browsers (scripts/lean_client.py) press Train and poll until
their runs are Done, and it reports the figures README's class table quotes."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_short_class_runs_until_done_with_lean_clients(tmp_path):
    out = tmp_path / "class.json"
    r = subprocess.run(
        [sys.executable, "scripts/load_test.py", "--until-done", "--sessions", "3",
         "--client-nice", "10", "--settings", json.dumps({"steps": 60, "eval_every": 30}),
         "--timeout", "120", "--settle", "1", "--no-alone", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["client"] == "lean" and res["sessions_trained"] == 3
    assert res["done_runs"] == 3 and res["error_replies"] == 0
    assert 0 < res["median_done_s"] <= res["last_done_s"] < 120
    assert res["polls"] >= 3                 # every session polled until its run was Done
    assert "lean clients at nice 10" in r.stdout and "last run done" in r.stdout
