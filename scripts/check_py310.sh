#!/usr/bin/env bash
# Python 3.10 check: ZeroGPU Spaces run Python 3.10.13, CI runs 3.11. This recreates the 3.10
# environment from requirements-dev.txt + constraints.txt in a fresh venv and runs, on 3.10:
# pip check, an import of gan_lab and gan_lab.ui, ruff for py310, a 300-step CLI training run,
# the launch smoke test (scripts/smoke_app.py: app.py serving, /train and /poll over
# gradio_client) and the test suite.
#
# DOWNLOAD COST: 2.9 GB of wheels (2,904 MB, 97 files). PyPI's Linux torch 2.13.0 for Python
# 3.10 is the CUDA 13.0 build: torch 527 MB + nvidia-* CUDA libraries 2.0 GB + triton 198 MB
# (everything else: 182 MB). The venv takes 5,241 MiB of disk. Measured on our dev machine
# (AMD EPYC, 2 cores, shared with other jobs, load 5-9): plain install 156 s wall; this whole
# script 777 s wall, of which pytest 483 s. Because of the download and the time it is NOT part
# of .ci/run; run it after changing requirements*.txt or constraints.txt, or before moving a
# Space to ZeroGPU. The CUDA libraries are installed but not used: these machines have no GPU,
# so everything runs on the CPU.
#
# Usage:  scripts/check_py310.sh [WORKDIR]       (default WORKDIR: /tmp/gan-lab-py310)
#   PY310=/path/to/python3.10   the interpreter (default: $(pyenv prefix 3.10.13)/bin/python)
#   WHEELS=DIR                  download the wheels into DIR once and install from there, so a
#                               rerun downloads nothing (DIR then holds 2.9 GB). On our
#                               machine this saved no time: PyPI is fast here, and unpacking
#                               5 GB dominates (docs/SPACE.md)
#   PYTEST_ARGS="..."           arguments for pytest (default: none, i.e. the whole suite)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/gan-lab-py310}
PY=${PY310:-$(pyenv prefix 3.10.13 2>/dev/null || true)/bin/python}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
  echo "no Python 3.10 at '$PY' (set PY310=/path/to/python3.10)" >&2
  exit 2
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 GRADIO_ANALYTICS_ENABLED=False
mkdir -p "$WORK"
VENV=$WORK/venv
VPY=$VENV/bin/python
t() { date +%s; }
step() { echo; echo "== $* ($(date +%T))"; }

step "venv at $VENV from $("$PY" -VV | head -1)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"

step "install requirements-dev.txt -c constraints.txt"
t0=$(t)
if [ -n "${WHEELS:-}" ]; then
  mkdir -p "$WHEELS"
  "$VPY" -m pip download -q -d "$WHEELS" -r requirements-dev.txt -c constraints.txt
  echo "wheels: $(du -sm "$WHEELS" | cut -f1) MiB in $WHEELS, $(( $(t) - t0 )) s so far"
  "$VPY" -m pip install -q --no-index --find-links "$WHEELS" \
    -r requirements-dev.txt -c constraints.txt
else
  "$VPY" -m pip install -q -r requirements-dev.txt -c constraints.txt
fi
echo "install: $(( $(t) - t0 )) s; venv: $(du -sm "$VENV" | cut -f1) MiB"
"$VPY" -m pip check

step "imports"
"$VPY" - <<'EOF'
import sys
import gradio, matplotlib, numpy, pandas, spaces, torch  # noqa: F401
import gan_lab, gan_lab.ui, gan_lab.ui.app  # noqa: F401
from importlib.metadata import version
print(sys.version.split()[0], *(f"{p} {version(p)}" for p in
      ("torch", "numpy", "pandas", "matplotlib", "gradio", "spaces")), sep=" | ")
print("torch CUDA build:", torch.version.cuda, "| CUDA available:", torch.cuda.is_available())
EOF

step "ruff (target py310)"
"$VPY" -m ruff check --target-version py310 .

step "CLI: 300 steps of ring8"
rm -rf "$WORK/run"
"$VPY" -m gan_lab train --dataset ring8 --steps 300 --out "$WORK/run" --quiet
test -s "$WORK/run/checkpoint.safetensors" && test -s "$WORK/run/metrics.csv"

step "launch smoke test: app.py, /train, /poll"
"$VPY" scripts/smoke_app.py

step "pytest ${PYTEST_ARGS:-}"
# shellcheck disable=SC2086
"$VPY" -m pytest -p no:cacheprovider ${PYTEST_ARGS:-}

echo
echo "Python 3.10 check passed ($(( $(t) - t0 )) s after the install began)"
