"""`experiments/train.py` end to end: train, checkpoint, and a table of greedy returns at each eval size."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_script_checkpoints_and_prints_a_row_per_eval_size(tmp_path):
    command = [sys.executable, "experiments/train.py", "--timesteps", "1500", "--eval-agents", "3,6",
               "--eval-episodes", "2", "--zero-shot-ids", "own", "--out", str(tmp_path / "checkpoint")]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 3 |") or line.startswith("| 6 |")]
    assert len(rows) == 2 and all(row.endswith("| 2 |") for row in rows)
    assert (tmp_path / "checkpoint" / "rllib_checkpoint.json").exists()
