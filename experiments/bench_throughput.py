"""Training-loop throughput of the value-based learners, against the raw env measured in the same run.

1. env steps/s on spread N=3 of: the raw PettingZoo env (random actions); sampling alone (RLlib's env
   runner with the exploring agent network); the whole training loop (sampling + replay + learner updates at
   the default `train_ratio`) for iql, qmix-concat and qmix-graph. Ratios are to the raw env.
2. the time per learner update as the training loop pays it (sampling a batch from RLlib's replay buffer,
   then one `learner_group.update`: connectors, forward, loss, backward, optimizer) at N = 3, 8, 16 agents
   with `n_max` 16, for each team embedding (qmix).

    python experiments/bench_throughput.py [--steps 3000] [--updates 30]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402
from bench_env import raw_steps_per_s  # noqa: E402

import rl_algos  # noqa: E402

SPREAD3 = {"scenario": "spread", "n_agents": 3, "n_max": 3}
LOOPS = [("iql", "concat"), ("qmix", "concat"), ("qmix", "graph")]


def build(algo: str, embedding: str, env_config: dict, **training):
    return (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0)
        .training(team_embedding=embedding, **training)
        .reporting(min_sample_timesteps_per_iteration=0)
        .debugging(seed=0)
        .build_algo()
    )


def sampling_steps_per_s(steps: int) -> float:
    algo = build("qmix", "concat", SPREAD3)
    algo.env_runner.sample(num_timesteps=200, explore=True)  # warm-up
    start = time.perf_counter()
    algo.env_runner.sample(num_timesteps=steps, explore=True)
    elapsed = time.perf_counter() - start
    algo.stop()
    return steps / elapsed


def training_loop_steps_per_s(algo_name: str, embedding: str, steps: int) -> tuple[float, float]:
    """(env steps/s, updates per env step) of `train()` after the replay warm-up (`learning_starts`)."""
    algo = build(algo_name, embedding, SPREAD3)
    while algo.train()["num_env_steps_sampled_lifetime"] < algo.config.learning_starts:
        pass
    start_steps = algo.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime"))
    start_updates = algo.learner_group._learner._num_updates
    start = time.perf_counter()
    while algo.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime")) - start_steps < steps:
        algo.train()
    elapsed = time.perf_counter() - start
    sampled = algo.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime")) - start_steps
    updates = algo.learner_group._learner._num_updates - start_updates
    algo.stop()
    return sampled / elapsed, updates / sampled


def update_ms(embedding: str, n_agents: int, updates: int) -> float:
    algo = build("qmix", embedding, {"scenario": "spread", "n_agents": n_agents, "n_max": 16})
    algo.local_replay_buffer.add(algo.env_runner.sample(num_timesteps=500, explore=True))
    config = algo.config

    def one_update():
        batch = algo.local_replay_buffer.sample(
            num_items=config.total_train_batch_size, n_step=config.n_step, gamma=config.gamma, sample_episodes=True
        )
        algo.learner_group.update(episodes=batch, timesteps={"num_env_steps_sampled_lifetime": 0})

    for _ in range(3):
        one_update()
    start = time.perf_counter()
    for _ in range(updates):
        one_update()
    elapsed = time.perf_counter() - start
    algo.stop()
    return 1000 * elapsed / updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="env steps timed per measurement")
    parser.add_argument("--updates", type=int, default=30, help="learner updates timed per (embedding, N)")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    actions = np.random.default_rng(0).integers(0, 5, size=(args.steps, 3))
    raw = raw_steps_per_s("spread", 3, actions)
    rows = [("raw PettingZoo env (random actions)", raw, "")]
    rows.append(("sampling alone (env runner, exploring module)", sampling_steps_per_s(args.steps), ""))
    for algo_name, embedding in LOOPS:
        rate, updates_per_step = training_loop_steps_per_s(algo_name, embedding, args.steps)
        rows.append((f"training loop {algo_name}-{embedding}", rate, f"{updates_per_step:.2f}"))

    print("\nspread N=3, env steps/s (2 CPUs, local env runner, local learner)\n")
    print("| what | env steps/s | ratio to raw | updates per env step |")
    print("| --- | ---: | ---: | ---: |")
    for name, rate, updates in rows:
        print(f"| {name} | {rate:,.0f} | {rate / raw:.2f} | {updates} |")

    print("\nqmix time per update (ms: replay sample + learner update), batch 64, n_max 16\n")
    sizes = (3, 8, 16)
    print("| embedding | " + " | ".join(f"N={n}" for n in sizes) + " |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " |")
    for embedding in ("concat", "mean", "graph"):
        times = [update_ms(embedding, n, args.updates) for n in sizes]
        print(f"| {embedding} | " + " | ".join(f"{ms:.1f}" for ms in times) + " |")
    ray.shutdown()


if __name__ == "__main__":
    main()
