"""q_bias and the time limit: a learner that bootstraps at truncation (every learner here: the episode's time limit is
a truncation) learns the value of carrying on past it, so its Q should be set against the discounted return of
carrying on, not against the return left before the time limit, which `q_bias` uses today.

Each learner is trained on spread at 3 agents (`n_max` 6, the convergence benchmark's config), then plays greedy
episodes with the time limit raised to `--horizon` steps; over the states of the task's own first `--steps` steps it
reports the predicted team value minus (a) the discounted return to the task's time limit (today's `q_bias`) and
(b) the discounted return to `--horizon` (gamma^horizon of the tail is left out: 0.7% at 500 steps and gamma 0.99).

    python benchmarks/bench_q_bias_horizon.py --algos qmix,gum --timesteps 100000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from benchmarks.bench_convergence import TRAIN_AGENTS, convergence_config, env_config  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from rl_algos.common.evaluation.q_bias import discounted_returns_to_go  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import checkpoint_module, greedy_episodes  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", default="qmix", help="comma-separated learners with a team value (qmix, gum, ...)")
    parser.add_argument("--training", default="{}", help="JSON .training(...) options added to every run")
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=25, help="the task's time limit (spread's max_cycles)")
    parser.add_argument("--horizon", type=int, default=500, help="the time limit of the long episodes")
    parser.add_argument("--out", default="results/convergence/q_bias_horizon")
    return parser.parse_args()


def biases(checkpoint: str, steps: int, horizon: int, episodes: int, seed: int) -> dict[str, float]:
    """Greedy episodes of `horizon` steps; over their first `steps` states, the team value minus the discounted
    return to `steps` and to `horizon`, and the three at the first state."""
    long_env = {**env_config(TRAIN_AGENTS), "max_cycles": horizon}
    module, config = checkpoint_module(checkpoint, long_env)
    gamma = config.gamma
    per_episode: dict[str, list[float]] = {}
    for episode in greedy_episodes(module, long_env, episodes, seed):
        obs = {key: torch.as_tensor(value[:steps]) for key, value in episode.observations.items()}
        actions = torch.as_tensor(episode.actions[:steps])
        value = module.team_value(obs, actions)["team"].double().numpy()  # [steps]
        rewards = episode.rewards
        to_limit = discounted_returns_to_go(rewards[:steps], gamma)
        to_horizon = discounted_returns_to_go(rewards, gamma)[:steps]
        figures = {
            "return_to_limit": rewards[:steps].sum(),
            "q_bias_to_limit": (value - to_limit).mean(),
            "q_bias_to_horizon": (value - to_horizon).mean(),
            "value_at_start": value[0],
            "return_to_limit_at_start": to_limit[0],
            "return_to_horizon_at_start": to_horizon[0],
        }
        for key, figure in figures.items():
            per_episode.setdefault(key, []).append(float(figure))
    return {key: float(np.mean(values)) for key, values in per_episode.items()}


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    rows = []
    for algo_name in args.algos.split(","):
        training = {"team_embedding": "concat", **json.loads(args.training)}
        algo = convergence_config(algo_name, "spread", args.timesteps, args.seed, training).build_algo()
        sampled = 0
        while sampled < args.timesteps:
            sampled = int(algo.train()["num_env_steps_sampled_lifetime"])
        with tempfile.TemporaryDirectory() as scratch:
            checkpoint = algo.save_to_path(scratch)
            algo.stop()
            figures = biases(checkpoint, args.steps, args.horizon, args.episodes, args.seed)
        rows.append({"algo": algo_name, "env_steps": sampled, "seed": args.seed, "horizon": args.horizon, **figures})
        print(rows[-1], flush=True)
    ray.shutdown()
    write_rows(rows, out / f"q_bias_horizon_seed{args.seed}.csv")
    print("| algo | env steps | return (25 steps) | q_bias to the time limit | q_bias to the horizon | value at t=0 | "
          "return to the limit at t=0 | to the horizon at t=0 |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['algo']} | {row['env_steps']} | {row['return_to_limit']:.1f} | {row['q_bias_to_limit']:.1f} | "
            f"{row['q_bias_to_horizon']:.1f} | {row['value_at_start']:.1f} | {row['return_to_limit_at_start']:.1f} | "
            f"{row['return_to_horizon_at_start']:.1f} |"
        )


if __name__ == "__main__":
    main()
