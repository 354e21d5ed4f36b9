"""Evaluation results in each trial's TensorBoard logs: next to a trial's training curves, `eval/<phase>/return_mean`
and `eval/<phase>/<task metric>` stepped by the eval team size (`tensorboard --logdir <storage>/<name>`)."""

from __future__ import annotations

import tempfile

import pyarrow.fs
from ray import tune
from tensorboardX import SummaryWriter


def log_evaluation(result: tune.Result, row: dict, values: dict[str, float]) -> None:
    """Write one evaluation (`row`: its phase and eval size; `values`: `return_mean` and `<metric>_mean` columns)
    into the folder of the trial `result`, local or remote (written locally, then copied)."""
    scalars = {name: value for name, value in values.items() if name.endswith("_mean")}
    step = int(row["eval_agents"])
    local = isinstance(result.filesystem, pyarrow.fs.LocalFileSystem)
    with tempfile.TemporaryDirectory() as staging:
        # one event file per evaluation: a shared suffix would let evaluations in the same second overwrite each other
        suffix = f".eval_{row['phase']}_{step}"
        with SummaryWriter(logdir=result.path if local else staging, filename_suffix=suffix) as writer:
            for name, value in scalars.items():
                writer.add_scalar(f"eval/{row['phase']}/{name.removesuffix('_mean')}", value, global_step=step)
        if not local:
            pyarrow.fs.copy_files(staging, result.path, destination_filesystem=result.filesystem)
