"""Zero-shot at a larger team with the agents' own ids against trained ids reused (`evaluate(agent_ids="reuse")`).

A team trained in slots `0..N-1` (`slots="first"`, the default) never trains the first-layer weights of the one-hot
ids `N..n_max-1`, so at a larger team the agents in those slots act on randomly initialised weights. This plays
each checkpoint greedily at each `--eval-agents` size twice where the team is larger than the trained one, once
with the agents' own ids and once with the ids of trained slots reused (slot k acts as slot k mod N), on the same
seeded episodes, and writes the returns, the task metrics and the heuristic-normalised score to `--out`:

    python benchmarks/bench_convergence.py --runs qmix-concat --seeds 0 --keep-checkpoint --out results/x
    python benchmarks/bench_agent_ids.py --checkpoints results/x/checkpoints/qmix-concat_seed0 --eval-agents 3,6
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from benchmarks.bench_convergence import normalised  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.settings import EVAL_SEED  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import (  # noqa: E402
    checkpoint_config,
    evaluate,
    has_heuristic,
    scripted_policy_evaluation,
    trained_slots,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", required=True, help="comma-separated checkpoint folders")
    parser.add_argument("--eval-agents", default="3,6")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--seed", type=int, default=EVAL_SEED, help="the evaluation episodes' seed (same for every row)"
    )
    parser.add_argument("--out", default="results/convergence/agent_ids/zero_shot_ids.csv")
    return parser.parse_args()


def normalised_score(env_config: dict, episodes: int, seed: int) -> Callable[[float], float]:
    """`x -> (x - random) / (heuristic - random)` in `env_config` (NaN where the scenario has no heuristic), the
    scripted teams playing the `episodes` seeded with `seed`: the checkpoints' own (`scripted_policy_evaluation`)."""
    if not has_heuristic(env_config):
        return lambda _: float("nan")
    heuristic, rnd = (
        scripted_policy_evaluation(env_config, episodes, seed, policy)["return_mean"]
        for policy in ("heuristic", "random")
    )
    return lambda value: normalised(value, heuristic, rnd)


def rows_of(checkpoint: str, sizes: list[int], episodes: int, seed: int) -> list[dict]:
    trained_env = checkpoint_config(checkpoint).env_config
    trained = trained_slots(trained_env)
    rows = []
    for n in sizes:
        env_config = {**trained_env, "n_agents": n}
        score = normalised_score(env_config, episodes, seed)
        for agent_ids in ("own", "reuse") if n > trained else ("own",):
            result = evaluate(checkpoint, env_config, episodes=episodes, seed=seed, agent_ids=agent_ids)
            returns = np.array(result["returns"])
            rows.append(
                {
                    "checkpoint": Path(checkpoint).name,
                    "trained_slots": trained,
                    "eval_agents": n,
                    "agent_ids": agent_ids,
                    "return_mean": float(returns.mean()),
                    "return_ci95": float(1.96 * returns.std() / np.sqrt(len(returns))),
                    "normalised": float(score(returns.mean())),
                    "episodes": len(returns),
                    **{f"{name}_mean": float(np.mean(v)) for name, v in result["task_metrics"].items()},
                }
            )
            print({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
    return rows


def main() -> None:
    args = parse_args()
    sizes = [int(n) for n in args.eval_agents.split(",")]
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    rows = [row for path in args.checkpoints.split(",") for row in rows_of(path, sizes, args.episodes, args.seed)]
    ray.shutdown()
    write_rows(rows, Path(args.out))


if __name__ == "__main__":
    main()
