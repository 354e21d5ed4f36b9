#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job, experiments/transfer.py; extra arguments go to it
# (`bash scripts/run.sh --help` lists them). With none: QMIX with concat vs graph team embeddings on spread,
# trained with 3 agents, evaluated at 3 and 6, on an embedded local Ray (6-11 minutes on 2 CPU cores;
# 10 min 44 s on a fresh clone on 2026-12-04).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled} WANDB_DISABLE_GIT=${WANDB_DISABLE_GIT:-true}
export SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-dummy}
exec "${VENV:-.venv}/bin/python" experiments/transfer.py "$@"
