"""Greedy unmixing against its parts: gum (defaults), qmix and iql on the climbing and penalty (k=-100) games,
spread N=3 and pursuit N=4; several seeds, equal env-step budgets per task, greedy evaluation.

The claims under test: gum is at least as good as the better of qmix and iql on each task; and gum's predicted team
value adheres to a lower bound of the return it obtains (`q_bias`: the mean over greedy episodes' steps of the
predicted value of the actions taken minus the discounted return that followed; at or below zero for gum where qmix
overestimates). Writes `<out>/bench_gum.csv` and prints markdown tables of greedy returns and of q_bias (mean ± std
over seeds).

    python benchmarks/bench_gum.py [--seeds 0,1,2] [--steps matrix=3000,spread=10000,pursuit=5000]
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

ALGOS = ("gum", "qmix", "iql")
TASKS = {
    "climbing": ("matrix", {"scenario": "matrix", "n_agents": 2, "game": "climbing", "reward": "mean"}),
    "penalty": ("matrix", {"scenario": "matrix", "n_agents": 2, "game": "penalty", "k": -100.0, "reward": "mean"}),
    "spread": ("spread", {"scenario": "spread", "n_agents": 3}),
    "pursuit": ("pursuit", {"scenario": "pursuit", "n_agents": 4}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default="matrix=3000,spread=10000,pursuit=5000", help="env-step budget per kind")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--episodes", type=int, default=10, help="greedy evaluation episodes per run")
    parser.add_argument("--out", default="results/bench_gum")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = {kind: int(steps) for kind, steps in (item.split("=") for item in args.steps.split(","))}
    tasks = args.tasks.split(",")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    rows = []
    for task in tasks:
        kind, env_config = TASKS[task]
        random_mean = float(random_policy_returns(env_config, 20 if kind == "pursuit" else 200, seed=0).mean())
        for algo in ALGOS:
            for seed in seeds:
                config = budget_config(algo, env_config, budgets[kind], seed)
                run = train_and_evaluate(
                    config, budgets[kind], [env_config], episodes=args.episodes, seed=10_000 + seed
                )
                rows.append(
                    {
                        "task": task,
                        "algo": algo,
                        "seed": seed,
                        "timesteps": budgets[kind],
                        **run.summary(),
                        "random_mean": random_mean,
                    }
                )
                print(rows[-1], flush=True)
    ray.shutdown()

    csv_path = write_rows(rows, Path(args.out) / "bench_gum.csv")

    print("\n| task | env steps | " + " | ".join(ALGOS) + " | random | gum >= max(qmix, iql)? |")
    print("| --- | ---: | " + " | ".join("---:" for _ in ALGOS) + " | ---: | --- |")
    for task in tasks:
        means = {}
        cells = []
        for algo in ALGOS:
            returns = np.array([r["return_mean"] for r in rows if r["task"] == task and r["algo"] == algo])
            means[algo] = returns.mean()
            cells.append(mean_std(returns))
        task_rows = [r for r in rows if r["task"] == task]
        verdict = "yes" if means["gum"] >= max(means["qmix"], means["iql"]) else "no"
        print(
            f"| {task} | {task_rows[0]['timesteps']} | "
            + " | ".join(cells)
            + f" | {task_rows[0]['random_mean']:.2f} | {verdict} |"
        )
    print(
        "\nq_bias: predicted team value minus the discounted return obtained, greedy episodes (mean ± std over seeds)\n"
    )
    print("| task | " + " | ".join(ALGOS) + " | gum <= 0 where qmix > 0? |")
    print("| --- | " + " | ".join("---:" for _ in ALGOS) + " | --- |")
    for task in tasks:
        bias = {a: np.array([r["q_bias_mean"] for r in rows if r["task"] == task and r["algo"] == a]) for a in ALGOS}
        if bias["qmix"].mean() > 0:
            verdict = "yes" if bias["gum"].mean() <= 0 else "no"
        else:
            verdict = "qmix does not overestimate"
        print(f"| {task} | " + " | ".join(mean_std(bias[a]) for a in ALGOS) + f" | {verdict} |")
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
