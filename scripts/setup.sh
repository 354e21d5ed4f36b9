#!/usr/bin/env bash
# Set up the project: a virtualenv (default .venv, or $VENV) with the pinned requirements and the
# project installed in editable mode. Safe to re-run: an existing virtualenv is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# torch is pinned first in requirements.txt so that pip takes the local CPU wheel, not a CUDA build.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "set up: $VENV (activate with: source $VENV/bin/activate)"
