"""Env throughput: each raw env against the team env around it, in the same run.

- PettingZoo (spread N=3 and 6, pursuit N=4): the raw parallel env against `TeamEnv`;
- VMAS (`--vmas-tasks` at N=3, `--vmas-worlds` worlds): the raw VMAS env (resetting each world that ended, as the
  vector env does) against `VmasTeamVectorEnv`, the TeamEnv contract for every world, in env steps (world steps)/s.

Both sides of a row are driven by the same pre-drawn random actions, so only the env (and the team view's padding)
is timed. Each case is timed `--repeats` times, alternating raw and team env; the median steps/s is reported. VMAS
runs on one torch thread (as in an env runner), on `--device`.

    python benchmarks/bench_env.py [--steps 10000] [--repeats 3] [--vmas-worlds 64,256] [--vmas-tasks navigation]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

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


def raw_vmas_steps_per_s(task: str, n_agents: int, worlds: int, steps: int, device: str = "cpu") -> float:
    """World steps/s of the raw VMAS env (`vmas:<task>`'s simulator with its default options) with random discrete
    actions, each world that ended reset on the next step (the whole batch in one call when all ended), as
    `VmasTeamVectorEnv` does."""
    config = envs.parse_env_config(f"vmas:{task}", n_agents, continuous_actions=False, device=device)
    env = config.scenario(n_agents, False, num_envs=worlds, **config.scenario_options)
    env.seed(0)
    env.reset()
    generator = torch.Generator().manual_seed(0)
    rounds = max(1, steps // worlds)
    n_actions = env.action_space[0].n
    actions = torch.randint(0, n_actions, (rounds, n_agents, worlds), generator=generator).to(device)
    ended = torch.zeros(worlds, dtype=torch.bool, device=device)
    start = time.perf_counter()
    for joint in actions:
        _, _, terminated, truncated, _ = env.step(list(joint))
        if ended.all():
            env.reset()
        else:
            for world in torch.nonzero(ended).flatten().tolist():
                env.reset_at(world)
        ended = terminated | truncated
    elapsed = time.perf_counter() - start
    return rounds * worlds / elapsed


def team_vector_steps_per_s(task: str, n_agents: int, worlds: int, steps: int, device: str = "cpu") -> float:
    """World steps/s of `VmasTeamVectorEnv` (numpy in and out) with random discrete actions."""
    env = envs.make_team_vector_env(f"vmas:{task}", n_agents, n_agents, num_envs=worlds, device=device)
    env.reset(seed=0)
    rounds = max(1, steps // worlds)
    n_actions = int(env.single_action_space.nvec[0])
    actions = np.random.default_rng(0).integers(0, n_actions, size=(rounds, worlds, n_agents))
    start = time.perf_counter()
    for joint in actions:
        env.step(joint)
    elapsed = time.perf_counter() - start
    return rounds * worlds / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10000, help="env steps per timing for spread (pursuit: a tenth)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per case (median reported)")
    parser.add_argument("--vmas-tasks", default="navigation", help="VMAS tasks to time at N=3 ('' skips VMAS)")
    parser.add_argument("--vmas-worlds", default="64,256", help="worlds per VMAS env")
    parser.add_argument("--vmas-steps", type=int, default=50_000, help="world steps per VMAS timing")
    parser.add_argument("--device", default="cpu", help="VMAS device: cpu, or cuda on a GPU machine")
    args = parser.parse_args()
    torch.set_num_threads(1)

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
    for task in [t for t in args.vmas_tasks.split(",") if t]:
        for worlds in (int(w) for w in args.vmas_worlds.split(",")):
            raw, team = [], []
            for _ in range(args.repeats):
                raw.append(raw_vmas_steps_per_s(task, 3, worlds, args.vmas_steps, args.device))
                team.append(team_vector_steps_per_s(task, 3, worlds, args.vmas_steps, args.device))
            raw_med, team_med = statistics.median(raw), statistics.median(team)
            name = f"vmas:{task} N=3, {worlds} worlds ({args.device})"
            rows.append((name, args.vmas_steps, raw_med, team_med, team_med / raw_med))

    print("| env | steps | raw steps/s | team env steps/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, steps, raw_med, team_med, ratio in rows:
        print(f"| {name} | {steps} | {raw_med:,.0f} | {team_med:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
