"""Does it learn? QMIX (concat, graph) and IQL on spread N=3 and on the climbing game, several seeds, a fixed
env-step budget, then greedy evaluation (`rl_algos.common.evaluate`) against a uniformly random policy.

Writes `<out>/bench_learning.csv` (one row per run) and prints a markdown table of mean ± std over seeds.

    python benchmarks/bench_learning.py [--seeds 0,1,2] [--spread-steps 20000] [--matrix-steps 3000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from experiments.transfer_experiment.results_io import mean_std, write_rows  # noqa: E402
from rl_algos.common import random_policy_returns  # noqa: E402
from rl_algos.common.training import budget_config, train_and_evaluate  # noqa: E402

RUNS = [("qmix", "concat"), ("qmix", "graph"), ("iql", "concat")]
SCENARIOS = {
    "spread": {"scenario": "spread", "n_agents": 3, "n_max": 3},
    "climbing": {"scenario": "matrix", "n_agents": 2, "n_max": 2, "game": "climbing", "reward": "mean"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--spread-steps", type=int, default=20_000)
    parser.add_argument("--matrix-steps", type=int, default=3_000)
    parser.add_argument("--episodes", type=int, default=20, help="greedy evaluation episodes per run")
    parser.add_argument("--out", default="results/bench_learning")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    rows = []
    for name, env_config in SCENARIOS.items():
        steps = args.spread_steps if name == "spread" else args.matrix_steps
        random_returns = random_policy_returns(env_config, 200, seed=0)
        for algo, embedding in RUNS:
            for seed in seeds:
                config = budget_config(algo, env_config, steps, seed, team_embedding=embedding)
                result = train_and_evaluate(config, steps, [env_config], episodes=args.episodes, seed=10_000 + seed)
                rows.append(
                    {
                        "scenario": name,
                        "algo": algo,
                        "embedding": embedding,
                        "seed": seed,
                        "timesteps": steps,
                        **result.summary(),
                        "random_mean": float(random_returns.mean()),
                    }
                )
                print(rows[-1], flush=True)
    ray.shutdown()

    csv_path = write_rows(rows, Path(args.out) / "bench_learning.csv")

    print(
        "\n| scenario | algo | embedding | env steps | greedy return (mean ± std over seeds) | random policy "
        "| wall s/run |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name in SCENARIOS:
        for algo, embedding in RUNS:
            runs = [r for r in rows if r["scenario"] == name and r["algo"] == algo and r["embedding"] == embedding]
            returns = np.array([r["return_mean"] for r in runs])
            print(
                f"| {name} | {algo} | {embedding} | {runs[0]['timesteps']} | {mean_std(returns)} "
                f"| {runs[0]['random_mean']:.2f} | {np.mean([r['wall_s'] for r in runs]):.0f} |"
            )
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
