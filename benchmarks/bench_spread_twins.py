"""`spread` and `vmas:spread` as one task: a policy trained on either, evaluated greedily on both.

Trains `--algo` (default MAPPO with the graph critic) at 3 agents (`n_max` 6) for `--timesteps` env steps on each
twin (PettingZoo `spread`: 8 envs stepped one after another; `vmas:spread`: `--worlds` VMAS worlds in one call),
then evaluates each checkpoint for `--episodes` episodes on both twins at 3 and, zero-shot, at 6 agents, beside the
scripted heuristic and random teams on each. If the twins are the same task, each policy's score on the other twin
lies within the 95% interval of its score on its own (the heuristic's within the heuristic's).

    python benchmarks/bench_spread_twins.py --timesteps 200000

Writes `<out>/spread_twins.csv` (one row per trained-on x evaluated-on x team size, and the scripted rows) and prints
the table as markdown.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.settings import VMAS_WORLDS  # noqa: E402
from experiments.transfer_experiment.stats import mean_estimate  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import scripted_policy_evaluation  # noqa: E402
from rl_algos.common.training import budget_config, train_and_evaluate  # noqa: E402

TWINS = ("spread", "vmas:spread")
TRAIN_AGENTS, N_MAX = 3, 6


def env_config(scenario: str, n_agents: int) -> dict:
    return {"scenario": scenario, "n_agents": n_agents, "n_max": N_MAX}


def row(policy: str, trained_on: str, evaluated_on: str, n_agents: int, played: dict) -> dict:
    returns = mean_estimate([np.asarray(played["returns"])])
    occupied = np.asarray(played["task_metrics"]["occupied_landmarks_r02"])
    return {
        "policy": policy,
        "trained_on": trained_on,
        "evaluated_on": evaluated_on,
        "n_agents": n_agents,
        "return_mean": returns.point,
        "return_low": returns.low,
        "return_high": returns.high,
        "occupied_r02": float(occupied.mean()),
        "collisions": float(np.mean(played["task_metrics"]["collisions"])),
        "episodes": played["episodes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="mappo")
    parser.add_argument("--embedding", default="graph")
    parser.add_argument("--timesteps", type=int, default=200_000)
    parser.add_argument("--worlds", type=int, default=VMAS_WORLDS, help="VMAS worlds stepped together")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/vmas_spread")
    args = parser.parse_args()
    evaluated = [(scenario, n) for n in (TRAIN_AGENTS, N_MAX) for scenario in TWINS]
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    rows = []
    try:
        for scenario, n in evaluated:
            for policy in ("heuristic", "random"):
                played = scripted_policy_evaluation(env_config(scenario, n), args.episodes, args.seed, policy)
                rows.append(row(policy, "-", scenario, n, played))
        for trained_on in TWINS:
            config = budget_config(
                args.algo,
                env_config(trained_on, TRAIN_AGENTS),
                args.timesteps,
                args.seed,
                team_embedding=args.embedding,
            )
            if trained_on.startswith("vmas:"):
                config = config.env_runners(num_envs_per_env_runner=args.worlds)
            run = train_and_evaluate(
                config,
                args.timesteps,
                [env_config(scenario, n) for scenario, n in evaluated],
                episodes=args.episodes,
                seed=args.seed + 10_000,
            )
            print(f"trained on {trained_on}: {run.env_steps} env steps at {run.steps_per_s:.0f}/s", flush=True)
            for (scenario, n), played in zip(evaluated, run.evaluations, strict=True):
                rows.append(row(f"{args.algo}-{args.embedding}", trained_on, scenario, n, played))
            write_rows(rows, f"{args.out}/spread_twins.csv")
    finally:
        ray.shutdown()
    write_rows(rows, f"{args.out}/spread_twins.csv")
    print("| policy | trained on | evaluated on | agents | return [95%] | occupied within 0.2 | collisions |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['policy']} | {r['trained_on']} | {r['evaluated_on']} | {r['n_agents']} | {r['return_mean']:.1f} "
            f"[{r['return_low']:.1f}, {r['return_high']:.1f}] | {r['occupied_r02']:.2f} | {r['collisions']:.2f} |"
        )


if __name__ == "__main__":
    main()
