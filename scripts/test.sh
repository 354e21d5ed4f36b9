#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the fast test suite; extra arguments go to pytest
# (e.g. `bash scripts/test.sh -m slow` for the slow tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled} WANDB_MODE=${WANDB_MODE:-offline}
export WANDB_DISABLE_GIT=${WANDB_DISABLE_GIT:-true} SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-dummy}
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
