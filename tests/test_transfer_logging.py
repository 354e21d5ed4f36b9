"""Evaluation results in TensorBoard (an event file in the trial's folder) and in wandb (runs stepped by team size,
summary metrics, one comparison table)."""

from types import SimpleNamespace

import pyarrow.fs
import wandb

from experiments.transfer_experiment import tensorboard_logging, wandb_logging
from experiments.transfer_experiment.settings import TransferSettings


def test_evaluations_land_in_the_trials_tensorboard_logs(tmp_path, tensorboard_scalars):
    result = SimpleNamespace(path=str(tmp_path), filesystem=pyarrow.fs.LocalFileSystem())
    for n, value in ((3, -50.0), (6, -150.0)):
        values = {"return_mean": value, "return_std": 1.0, "episodes": 2, "occupied_landmarks_mean": 0.5}
        tensorboard_logging.log_evaluation(result, {"phase": "zero_shot", "eval_agents": n}, values)
    scalars = tensorboard_scalars(tmp_path)
    assert scalars[("eval/zero_shot/return", 3)] == -50.0 and scalars[("eval/zero_shot/return", 6)] == -150.0
    assert scalars[("eval/zero_shot/occupied_landmarks", 6)] == 0.5
    assert not any("std" in tag for tag, _ in scalars)


def test_evaluations_go_to_wandb_as_curves_summaries_and_a_comparison_table(tmp_path, monkeypatch):
    runs = []

    class Run:
        def __init__(self, **kwargs):
            self.kwargs, self.logged, self.summary = kwargs, [], {}
            runs.append(self)

        def log(self, values, step=None):
            self.logged.append((step, values))

        def finish(self):
            pass

    monkeypatch.setattr(wandb, "init", Run)
    row = {"algo": "qmix", "embedding": "graph", "phase": "zero_shot", "seed": "0", "return_std": "1"}
    rows = [
        {**row, "eval_agents": "6", "return_mean": "-150", "occupied_landmarks_mean": "0.4"},
        {**row, "eval_agents": "3", "return_mean": "-50", "occupied_landmarks_mean": "0.9"},
        {**row, "algo": "random", "embedding": "-", "phase": "random", "eval_agents": "3", "return_mean": "-80"},
    ]
    wandb_logging.log_evaluations(TransferSettings(name="t"), rows, tmp_path)
    evaluation, comparison = runs
    assert evaluation.kwargs["name"] == "eval_zero_shot_qmix_graph_seed0"
    assert [step for step, _ in evaluation.logged] == [3, 6], "stepped by team size"
    assert evaluation.logged[1][1] == {"eval/return": -150.0, "eval/occupied_landmarks": 0.4, "eval/agents": 6}
    assert evaluation.summary["eval/occupied_landmarks_at_3_agents"] == 0.9
    table = comparison.logged[0][1]["transfer"]
    assert comparison.kwargs["job_type"] == "comparison" and len(table.data) == 3
