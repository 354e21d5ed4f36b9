"""Env throughput: the raw PettingZoo parallel env against `TeamEnv` around it, in the same run.

Both are driven by the same pre-drawn random actions, so only the env (and TeamEnv's padding) is timed.
Each case is timed `--repeats` times, alternating raw and TeamEnv; the median steps/s is reported.

    python experiments/bench_env.py [--steps 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import envs

CASES = [("spread", 3), ("spread", 6), ("pursuit", 4)]


def raw_steps_per_s(scenario: str, n_agents: int, actions: np.ndarray) -> float:
    config = envs.parse_env_config(scenario, n_agents)
    env = config.scenario(n_agents, config.continuous_actions, **config.scenario_options)
    env.reset(seed=0)
    start = time.perf_counter()
    for joint in actions.tolist():
        env.step({a: joint[i] for i, a in enumerate(env.agents)})
        if not env.agents:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return len(actions) / elapsed


def team_steps_per_s(scenario: str, n_agents: int, actions: np.ndarray) -> float:
    env = envs.make_team_env(scenario, n_agents, n_agents)
    env.reset(seed=0)
    start = time.perf_counter()
    for joint in actions:
        _, _, terminated, truncated, _ = env.step(joint)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return len(actions) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10000, help="env steps per timing for spread (pursuit: a tenth)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per case (median reported)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = []
    for scenario, n_agents in CASES:
        # pursuit steps ~10x slower than spread: scale its budget so every case takes similar time
        steps = args.steps if scenario == "spread" else args.steps // 10
        actions = rng.integers(0, 5, size=(steps, n_agents))
        raw, team = [], []
        for _ in range(args.repeats):
            raw.append(raw_steps_per_s(scenario, n_agents, actions))
            team.append(team_steps_per_s(scenario, n_agents, actions))
        raw_med, team_med = statistics.median(raw), statistics.median(team)
        rows.append((f"{scenario} N={n_agents}", steps, raw_med, team_med, team_med / raw_med))

    print("| env | steps | raw steps/s | TeamEnv steps/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, steps, raw_med, team_med, ratio in rows:
        print(f"| {name} | {steps} | {raw_med:,.0f} | {team_med:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
