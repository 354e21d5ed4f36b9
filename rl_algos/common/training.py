"""Build, train, save, evaluate: the one run every script and test shares (`train_and_evaluate`), and the
benchmarks' budget-scaled config (`budget_config`)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import rl_algos
from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.evaluation.q_bias import Q_BIAS_MEANS
from rl_algos.common.evaluation.team_evaluation import evaluate


@dataclass
class TrainingRun:
    """One run's outcome: its `checkpoint` (None when it was kept in a temporary directory), the `env_steps`
    sampled, the training loop's env `steps_per_s`, the run's `wall_s` (build, train, save) and one `evaluate()`
    result per evaluated env config, in order."""

    checkpoint: str | None
    env_steps: int
    steps_per_s: float
    wall_s: float
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, index: int = 0) -> dict[str, float]:
        """The `index`-th evaluation's greedy `return_mean`, `return_std` (and, where the learner has them,
        the `q_bias` means, `Q_BIAS_MEANS`) with the run's `wall_s` and `steps_per_s`: a benchmark row's figures."""
        played = self.evaluations[index]
        figures = {"return_mean": played["return_mean"], "return_std": played["return_std"]}
        figures |= {key: played[key] for key in Q_BIAS_MEANS if key in played}
        return {**figures, "wall_s": self.wall_s, "steps_per_s": self.steps_per_s}


def budget_config(algo: str, env_config: Mapping[str, Any], steps: int, seed: int, **training) -> AlgorithmConfig:
    """`algo`'s config for a `steps`-long benchmark run on the team env `env_config`: synchronous (no remote env
    runners, reproducible for a seed on CPU), seeded, and for the value learners epsilon annealed over the first
    half of the budget and learning from a tenth of it (at most 1000 steps). `training` overrides any of it."""
    config = rl_algos.get_config(algo)
    if isinstance(config, TeamQConfig):
        training = {"epsilon": [[0, 1.0], [steps // 2, 0.05]], "learning_starts": min(1000, steps // 10), **training}
    return (
        config.environment("team", env_config=dict(env_config))
        .env_runners(num_env_runners=0)
        .training(**training)
        .debugging(seed=seed)
    )


def train_and_evaluate(
    config: AlgorithmConfig,
    steps: int,
    eval_env_configs: Sequence[Mapping[str, Any]] = (),
    *,
    episodes: int = 20,
    seed: int = 0,
    checkpoint_dir: str | None = None,
    prepare: Callable[[Algorithm], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    agent_ids: str = "own",
) -> TrainingRun:
    """Build `config`'s algorithm, call `prepare(algo)` (e.g. to load pre-trained weights), train until `steps` env
    steps are sampled (`on_result` sees each iteration's result), save a checkpoint to `checkpoint_dir` (or a
    temporary directory), stop, and evaluate it greedily for `episodes` episodes (seeded with `seed`) in each of
    `eval_env_configs` (any team size up to the run's `n_max`; `agent_ids` as `evaluate`'s)."""
    start = time.perf_counter()
    algo = config.build_algo()
    if prepare is not None:
        prepare(algo)
    loop_start, sampled = time.perf_counter(), 0
    while sampled < steps:
        result = algo.train()
        sampled = int(result["num_env_steps_sampled_lifetime"])
        if on_result is not None:
            on_result(result)
    steps_per_s = sampled / (time.perf_counter() - loop_start)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = algo.save_to_path(checkpoint_dir or scratch)
        algo.stop()
        wall_s = time.perf_counter() - start
        evaluations = [
            evaluate(checkpoint, env, episodes=episodes, seed=seed, agent_ids=agent_ids) for env in eval_env_configs
        ]
    return TrainingRun(checkpoint if checkpoint_dir else None, sampled, steps_per_s, wall_s, evaluations)
