"""Actor-critic benchmark: each actor-critic algorithm x team embedding trained at N=3 (spread, or multiwalker for
the continuous-action runs: iac, central_v, central_v_sac, maddpg), several seeds, a fixed env-step budget, then
greedy evaluation at N=3 and N=6 (zero-shot) against a uniformly random policy, with the training loop's env steps/s.

Writes `<out>/bench_actor_critic.csv` (one row per run and eval size) and prints a markdown table of mean ± std
over seeds.

    python benchmarks/bench_actor_critic.py [--algos iac,central_v,coma,central_v_sac,maddpg] [--scenario spread]
        [--env-options '{"continuous_actions": true}'] [--embeddings concat,graph] [--seeds 0,1,2] [--steps 50000]
        [--episodes 20] [--training '{"shared_experience": 1.0}']
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from experiments.transfer_experiment.results_io import mean_std, write_rows  # noqa: E402
from rl_algos.common import random_policy_returns  # noqa: E402
from rl_algos.common.training import budget_config, train_and_evaluate  # noqa: E402

EVAL_SIZES = (3, 6)


def train_and_evaluate_sizes(
    algo: str, env_options: dict, embedding: str, steps: int, seed: int, episodes: int, **training
) -> list[dict]:
    """Train at N=3 (n_max 6) for `steps` env steps in the team env `env_options` (scenario and options), with the
    `.training()` options `training`, then evaluate greedily at each of `EVAL_SIZES`."""
    env_config = {**env_options, "n_agents": 3, "n_max": max(EVAL_SIZES)}
    config = budget_config(algo, env_config, steps, seed, team_embedding=embedding, **training)
    eval_configs = [{**env_config, "n_agents": n} for n in EVAL_SIZES]
    run = train_and_evaluate(config, steps, eval_configs, episodes=episodes, seed=10_000 + seed)
    key = {"algo": algo, "scenario": env_options["scenario"], "embedding": embedding, "seed": seed}
    return [
        {**key, "eval_agents": n, "timesteps": run.env_steps, **run.summary(index)}
        for index, n in enumerate(EVAL_SIZES)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", default="iac,central_v,coma", help="registered algorithm names")
    parser.add_argument(
        "--scenario",
        default="spread",
        help="spread, or multiwalker (continuous actions: iac, central_v, central_v_sac, maddpg)",
    )
    parser.add_argument(
        "--env-options",
        type=json.loads,
        default={},
        help="team env options as JSON, e.g. '{\"continuous_actions\": true}'",
    )
    parser.add_argument("--embeddings", default="concat,graph")
    parser.add_argument(
        "--training", type=json.loads, default={}, help="extra .training() options for every run, as JSON"
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--episodes", type=int, default=20, help="greedy evaluation episodes per run and size")
    parser.add_argument("--random-episodes", type=int, default=200, help="episodes of the random policy per size")
    parser.add_argument("--out", default="results/bench_actor_critic")
    args = parser.parse_args()
    algos, embeddings = args.algos.split(","), args.embeddings.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    env_options = {**args.env_options, "scenario": args.scenario}
    random_means = {
        n: float(random_policy_returns({**env_options, "n_agents": n}, args.random_episodes, seed=0).mean())
        for n in EVAL_SIZES
    }

    rows = []
    for algo in algos:
        for embedding in embeddings:
            for seed in seeds:
                rows += train_and_evaluate_sizes(
                    algo, env_options, embedding, args.steps, seed, args.episodes, **args.training
                )
                print(rows[-2:], flush=True)
    ray.shutdown()
    csv_path = write_rows(rows, Path(args.out) / "bench_actor_critic.csv")

    sizes = " | ".join(f"greedy return N={n}" for n in EVAL_SIZES)
    if args.training:
        print(f"\n.training() options of every run: {json.dumps(args.training)}")
    print(f"\n| scenario | algo | embedding | env steps | {sizes} | train loop env steps/s |")
    print("| --- | --- | --- | ---: | " + " | ".join("---:" for _ in EVAL_SIZES) + " | ---: |")
    for algo in algos:
        for embedding in embeddings:
            runs = [r for r in rows if r["algo"] == algo and r["embedding"] == embedding]
            cells = " | ".join(mean_std([r["return_mean"] for r in runs if r["eval_agents"] == n]) for n in EVAL_SIZES)
            speed = np.mean([r["steps_per_s"] for r in runs])
            print(f"| {args.scenario} | {algo} | {embedding} | {runs[0]['timesteps']} | {cells} | {speed:.0f} |")
    randoms = " | ".join(f"{random_means[n]:.2f}" for n in EVAL_SIZES)
    print(f"| {args.scenario} | random | - | - | {randoms} | - |")
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
