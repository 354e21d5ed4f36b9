"""Learning curves: greedy evaluations during training, every `every` env steps, at one or more team sizes.

A final number hides a collapse; EPyMARL, BenchMARL and JaxMARL all plot the greedy return against env steps. A
`LearningCurve` is asked after every training iteration (`due`), saves the algorithm to a scratch folder when a point
is due and evaluates that checkpoint with `rl_algos.common.evaluate` (greedy, seeded, the scenario's task metrics and,
where the learner has one, `q_bias`), so a curve point is measured exactly as the final evaluation is.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm

from rl_algos.common.evaluation.q_bias import Q_BIAS_MEANS
from rl_algos.common.evaluation.team_evaluation import evaluate

CURVE_POINTS = 10  # points per run when no interval is given


def default_eval_every(timesteps: int) -> int:
    """About `CURVE_POINTS` evaluations over a `timesteps` budget (at least every env step)."""
    return max(1, timesteps // CURVE_POINTS)


def curve_row(evaluation: Mapping[str, Any], env_steps: int, agent_ids: str = "own") -> dict[str, Any]:
    """One curve point of an `evaluate()` result: `env_steps`, `eval_agents`, `agent_ids` (the evaluation's mode),
    `return_mean`, `return_std`, `episodes`, each task metric's mean (`<metric>_mean`) and the `q_bias` means where
    present (`Q_BIAS_MEANS`: `q_bias_mean`, `q_bias_rel_mean`, and the independent estimate's)."""
    row = {
        "env_steps": env_steps,
        "eval_agents": evaluation["n_agents"],
        "agent_ids": agent_ids,
        "return_mean": evaluation["return_mean"],
        "return_std": evaluation["return_std"],
        "episodes": evaluation["episodes"],
    }
    row |= {f"{name}_mean": float(np.mean(values)) for name, values in evaluation["task_metrics"].items()}
    row |= {key: evaluation[key] for key in Q_BIAS_MEANS if key in evaluation}
    return row


class LearningCurve:
    """Greedy evaluations of a training run at `env_configs` (team env configs of the run's `n_max`), `episodes`
    each, seeded with `seed`, at the first iteration that reaches each multiple of `every` env steps; `agent_ids`
    as `evaluate`'s (`"reuse"`: at a team larger than the trained one, agents in untrained slots act with trained
    ids)."""

    def __init__(
        self, env_configs: Sequence[Mapping[str, Any]], every: int, episodes: int, seed: int, agent_ids: str = "own"
    ):
        if every < 1:
            raise ValueError(f"a learning curve's interval must be at least 1 env step, got {every}")
        self.env_configs = [dict(config) for config in env_configs]
        self.every, self.episodes, self.seed, self.agent_ids = every, episodes, seed, agent_ids
        self.next_at = every

    def due(self, env_steps: int) -> bool:
        """Whether a point is due after `env_steps` env steps of training."""
        return env_steps >= self.next_at

    def evaluate(self, algo: Algorithm, env_steps: int) -> list[dict[str, Any]]:
        """The curve's rows at `env_steps` (one per env config, `curve_row`), and the next point scheduled at the
        next multiple of `every` above `env_steps`."""
        with tempfile.TemporaryDirectory() as scratch:
            checkpoint = algo.save_to_path(scratch)
            rows = [
                curve_row(
                    evaluate(checkpoint, config, episodes=self.episodes, seed=self.seed, agent_ids=self.agent_ids),
                    env_steps,
                    self.agent_ids,
                )
                for config in self.env_configs
            ]
        self.resume_after(env_steps)
        return rows

    def resume_after(self, env_steps: int) -> None:
        """Schedule the next point at the first multiple of `every` above `env_steps` (after a point, or when a run
        resumes from a checkpoint taken there)."""
        self.next_at = (env_steps // self.every + 1) * self.every
