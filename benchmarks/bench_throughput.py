"""Training-loop throughput of the replay learners against the raw env, every figure measured in the same run.

For spread at each team size N (`--agents`, default 3 and 6; `n_max` = N):

1. the raw PettingZoo env with random actions (the ceiling), and sampling alone (RLlib's env runner with the
   exploring agent network, `num_envs_per_env_runner` 8);
2. each replay learner's whole training loop at its defaults (qmix concat and graph, iql, gum, central_v_sac,
   maddpg), synchronous (`num_env_runners=0`) and asynchronous (`num_env_runners=1`), and QMIX at the value
   learners' former defaults (a 64-transition batch at 0.25 updates per env step, where the defaults are now
   PyMARL's compute, one 800-transition batch per 25 env steps); env steps/s after the replay warm-up, as a ratio to
   the raw env, with the measured gradient updates per env step;
3. (N=3) the time to sample a batch of 64, 256 and 800 transitions from a 50,000-step replay, and QMIX's learner
   time per gradient step at those batch sizes (as the loop pays it: stacked minibatches in one update call);
4. VMAS (`--vmas-task`, N=3 in `--vmas-n-max` slots, 6 by default as in the convergence runs, at each of
   `--vmas-worlds` worlds per env runner): the raw VMAS env, sampling alone, QMIX's synchronous loop at its defaults
   and at 0.0625 updates per env step, and the on-policy loops of Central-V (A2C) and MAPPO with the concat and the
   graph critic (10-step fragments per world), each also with RLlib's episodes instead of array rollouts
   (`array_rollouts=False`), against spread N=3's raw env and MAPPO's loop on it (8 envs, 1,000-step batches)
   measured in the same run; sampling alone is timed both ways (RLlib's `sample()`, `sample_rollout`).
   `--vmas-task spread` times `vmas:spread`, the same task as the PettingZoo rows.

Writes `--csv` (default `results/bench_throughput.csv`) and prints markdown tables.

    python benchmarks/bench_throughput.py [--steps 4000] [--agents 3,6] [--vmas-worlds 64,256]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME  # noqa: E402

import rl_algos  # noqa: E402
from benchmarks.bench_env import raw_steps_per_s, raw_vmas_steps_per_s  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from rl_algos.common.replay.buffer import TeamReplayBuffer  # noqa: E402
from rl_algos.common.replay.episode_chunks import episode_chunks  # noqa: E402
from rl_algos.common.replay.ready_batch import ready_batch  # noqa: E402

FORMER_VALUE_DEFAULTS = {"train_batch_size_per_learner": 64, "train_ratio": 0.25}
# (label, algorithm, .training() options): each measured synchronously and asynchronously
LOOPS = [
    ("qmix-concat", "qmix", {}),
    ("qmix-graph", "qmix", {"team_embedding": "graph"}),
    ("iql", "iql", {}),
    ("gum", "gum", {}),
    ("central_v_sac", "central_v_sac", {}),
    ("maddpg", "maddpg", {}),
    ("qmix-concat-former-defaults", "qmix", FORMER_VALUE_DEFAULTS),
]
BATCH_SIZES = (64, 256, 800)
# VMAS loops: (label, algorithm, .training() options); "fragment" is env steps per world per on-policy batch
VMAS_LOOPS = [
    ("qmix-concat", "qmix", {}),
    ("qmix-concat, train_ratio 0.0625", "qmix", {"train_ratio": 0.0625}),
    ("central_v-a2c", "central_v", {"fragment": 10}),
    ("mappo-concat", "mappo", {"fragment": 10}),
    ("mappo-graph", "mappo", {"fragment": 10, "team_embedding": "graph"}),
    ("mappo-concat, RLlib episodes", "mappo", {"fragment": 10, "array_rollouts": False}),
    ("mappo-graph, RLlib episodes", "mappo", {"fragment": 10, "team_embedding": "graph", "array_rollouts": False}),
]
ON_POLICY = ("central_v", "mappo")
PETTINGZOO_ON_POLICY_STEPS = 10_000  # MAPPO's loop on PettingZoo spread, the on-policy rows' reference


def build(
    algo: str,
    n_agents: int,
    runners: int = 0,
    scenario: str = "spread",
    worlds: int | None = None,
    n_max: int | None = None,
    gpus: float = 0.0,
    env_options: dict | None = None,
    **training,
):
    """An algorithm at its defaults on `scenario` (N=`n_agents` in `n_max` slots), changed by `training`; `gpus`:
    its learner's `num_gpus_per_learner`; `env_options`: the scenario's options (VMAS's `device`)."""
    fragment = training.pop("fragment", None)
    env_config = {"scenario": scenario, "n_agents": n_agents, "n_max": n_max or n_agents, **(env_options or {})}
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=runners)
        .learners(num_gpus_per_learner=gpus)
        .training(**training)
        .reporting(min_sample_timesteps_per_iteration=0)
        .debugging(seed=0)
    )
    if worlds is not None:
        config.env_runners(num_envs_per_env_runner=worlds)
    if fragment is not None:
        config.training(train_batch_size_per_learner=fragment * worlds)
    return config.build_algo()


def sampling_steps_per_s(
    n_agents: int, steps: int, scenario: str = "spread", worlds: int | None = None, n_max: int | None = None
) -> float:
    algo = build("qmix", n_agents, scenario=scenario, worlds=worlds, n_max=n_max)
    algo.env_runner.sample(num_timesteps=2 * algo.config.num_envs_per_env_runner, explore=True)  # warm-up
    start = time.perf_counter()
    algo.env_runner.sample(num_timesteps=steps, explore=True)
    elapsed = time.perf_counter() - start
    algo.stop()
    return steps / elapsed


def array_sampling_steps_per_s(n_agents: int, steps: int, scenario: str, worlds: int, n_max: int) -> float:
    """Env steps/s of the on-policy runners' array sampling (`TeamEnvRunner.sample_rollout`, MAPPO's actor)."""
    algo = build("mappo", n_agents, scenario=scenario, worlds=worlds, n_max=n_max)
    algo.env_runner.sample_rollout(2 * worlds)  # warm-up
    start = time.perf_counter()
    sampled = len(algo.env_runner.sample_rollout(steps)["rewards"])
    elapsed = time.perf_counter() - start
    algo.stop()
    return sampled / elapsed


def loop_steps_per_s(
    algo_name: str,
    n_agents: int,
    runners: int,
    steps: int,
    scenario: str = "spread",
    worlds: int | None = None,
    n_max: int | None = None,
    gpus: float = 0.0,
    env_options: dict | None = None,
    **training,
) -> tuple[float, float]:
    """(env steps/s, gradient updates per env step) of `train()` over `steps` env steps, timed from the point
    where the replay holds `learning_starts` + 500 env steps (updates running)."""
    algo = build(algo_name, n_agents, runners, scenario, worlds, n_max, gpus, env_options, **training)
    warm = algo.config.learning_starts + 500
    while algo.replay.env_steps_added < warm:
        algo.train()
    start_steps, start_updates = algo.replay.env_steps_added, algo.num_updates_done
    start = time.perf_counter()
    while algo.replay.env_steps_added - start_steps < steps:
        algo.train()
    elapsed = time.perf_counter() - start
    sampled = algo.replay.env_steps_added - start_steps
    updates = algo.num_updates_done - start_updates
    algo.stop()
    return sampled / elapsed, updates / sampled


def on_policy_steps_per_s(
    algo_name: str, n_agents: int, steps: int, scenario: str, worlds: int, n_max: int | None = None, **training
) -> float:
    """Env steps/s of an on-policy algorithm's `train()` over `steps` env steps, after one warm-up iteration."""
    algo = build(algo_name, n_agents, scenario=scenario, worlds=worlds, n_max=n_max, **training)
    algo.train()

    def sampled() -> int:
        return int(algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME)))

    first = sampled()
    start = time.perf_counter()
    while sampled() - first < steps:
        algo.train()
    elapsed = time.perf_counter() - start
    rate = (sampled() - first) / elapsed
    algo.stop()
    return rate


def vmas_rows(task: str, worlds_list: list[int], steps: int, n_max: int) -> list[dict]:
    """Section 4: VMAS at N=3 (in slots of `n_max`, as a team trained at 3 for transfer), raw and under RLlib, with
    spread N=3's raw env from the same run as the reference."""
    spread = raw_steps_per_s("spread", 3, np.random.default_rng(0).integers(0, 5, size=(4000, 3)))
    mappo_spread = on_policy_steps_per_s("mappo", 3, PETTINGZOO_ON_POLICY_STEPS, "spread", 8)
    rows = [
        {"what": "raw PettingZoo spread (random actions)", "worlds": 1, "env_steps_per_s": spread},
        {"what": "mappo-concat loop on PettingZoo spread (its defaults)", "worlds": 8, "env_steps_per_s": mappo_spread},
    ]
    scenario = f"vmas:{task}"
    for worlds in worlds_list:
        measured = [
            ("raw VMAS env (random actions)", raw_vmas_steps_per_s(task, 3, worlds, steps)),
            ("sampling alone (env runner)", sampling_steps_per_s(3, steps, scenario, worlds, n_max)),
            ("sampling alone (array rollouts)", array_sampling_steps_per_s(3, steps, scenario, worlds, n_max)),
        ]
        for label, algo_name, training in VMAS_LOOPS:
            if algo_name in ON_POLICY:
                rate = on_policy_steps_per_s(algo_name, 3, steps, scenario, worlds, n_max, **training)
                measured.append((f"{label} loop", rate))
            else:
                rate, ratio = loop_steps_per_s(
                    algo_name, 3, 0, steps, scenario=scenario, worlds=worlds, n_max=n_max, **training
                )
                measured.append((f"{label} loop, {ratio:.3f} updates per env step", rate))
        rows += [{"what": what, "worlds": worlds, "n_max": n_max, "env_steps_per_s": rate} for what, rate in measured]
    for row in rows:
        row["ratio_to_spread"] = row["env_steps_per_s"] / spread
    return rows


def filled_replay(algo, env_steps: int = 50_000) -> TeamReplayBuffer:
    """A replay of `env_steps` env steps: 5,000 env steps sampled by `algo`'s exploring env runner, stored over and
    over."""
    chunks = episode_chunks(algo.env_runner.sample(num_timesteps=5000, explore=True))
    replay = TeamReplayBuffer(capacity=env_steps, seed=0)
    copy = 0
    while replay.env_steps_added < env_steps:
        for chunk in chunks:
            chunk.episode_id = f"{chunk.episode_id}-{copy}"
        replay.add(chunks)
        copy += 1
    return replay


def learner_update_ms(algo, replay: TeamReplayBuffer, batch_size: int, repeats: int = 3) -> float:
    """`algo`'s learner time per gradient step on `batch_size` transitions from `replay`, as the loop pays it:
    6,400 transitions' worth of stacked minibatches in one update call, on the learner's device, after a warm-up."""
    stacked = max(1, 6400 // batch_size)
    sample = replay.sample_transitions(stacked * batch_size, 1, algo.config.gamma)
    batch = ready_batch(sample, stacked, algo._learner_device)
    timesteps = {"num_env_steps_sampled_lifetime": 0}
    on_cuda = algo._learner_device is not None and algo._learner_device.type == "cuda"

    def timed_updates(calls: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            algo.learner_group.update(batch=batch, timesteps=timesteps)
        if on_cuda:
            torch.cuda.synchronize()  # the GPU's queued work counts
        return time.perf_counter() - start

    timed_updates(1)  # warm-up
    return 1000 * timed_updates(repeats) / (repeats * stacked)


def replay_and_update_ms(repeats: int) -> list[dict]:
    """Per batch size: the time to sample it from a 50,000-step replay (spread N=3, QMIX's sampled episodes
    stored over and over), and QMIX's learner time per gradient step on it."""
    algo = build("qmix", 3)
    replay = filled_replay(algo)
    rows = []
    for batch_size in BATCH_SIZES:
        start = time.perf_counter()
        for _ in range(repeats):
            replay.sample_transitions(batch_size, n_step=1, gamma=0.99)
        sample_ms = 1000 * (time.perf_counter() - start) / repeats
        update_ms = learner_update_ms(algo, replay, batch_size)
        rows.append({"batch": batch_size, "replay_sample_ms": sample_ms, "learner_update_ms": update_ms})
    algo.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="env steps timed per loop measurement")
    parser.add_argument("--agents", default="3,6", help="team sizes of spread to measure")
    parser.add_argument("--loops", default=",".join(label for label, _, _ in LOOPS), help="which loops to time")
    parser.add_argument("--csv", default="results/bench_throughput.csv", help="where to write the rows")
    parser.add_argument("--vmas-task", default="spread", help="VMAS task of section 4 (vmas:<task>)")
    parser.add_argument("--vmas-worlds", default="64,256", help="worlds per env runner in section 4 ('' skips it)")
    parser.add_argument("--vmas-steps", type=int, default=40_000, help="env steps timed per VMAS measurement")
    parser.add_argument(
        "--vmas-n-max", type=int, default=6, help="slots of section 4's teams of 3 (6: as the convergence runs)"
    )
    parser.add_argument("--skip-spread", action="store_true", help="run section 4 only")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads of the process (1: as in an env runner; a synchronous loop samples and learns in it)",
    )
    args = parser.parse_args()
    wanted = args.loops.split(",")
    torch.set_num_threads(args.torch_threads)  # the same for every row
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    vmas_worlds = [int(w) for w in args.vmas_worlds.split(",") if w]
    if vmas_worlds:
        vmas_section(args.vmas_task, vmas_worlds, args.vmas_steps, args.vmas_n_max, args.csv)
    if not args.skip_spread:
        spread_section([int(n) for n in args.agents.split(",")], args.steps, wanted, args.csv)
    ray.shutdown()


def vmas_section(task: str, worlds: list[int], steps: int, n_max: int, csv_path: str) -> None:
    measured = vmas_rows(task, worlds, steps, n_max)
    print(f"\nvmas:{task} N=3 (n_max {n_max}) under RLlib, env steps/s and their ratio to raw PettingZoo spread N=3\n")
    print("| what | worlds per runner | env steps/s | ratio to spread |")
    print("| --- | ---: | ---: | ---: |")
    for row in measured:
        print(f"| {row['what']} | {row['worlds']} | {row['env_steps_per_s']:,.0f} | {row['ratio_to_spread']:.1f} |")
    vmas_csv = Path(csv_path).with_name(f"{Path(csv_path).stem}_vmas.csv")
    print(f"\nrows written to {write_rows([{**row, 'task': task} for row in measured], vmas_csv)}")


def spread_section(team_sizes: list[int], steps: int, wanted: list[str], csv_path: str) -> None:
    rows = []
    for n_agents in team_sizes:
        actions = np.random.default_rng(0).integers(0, 5, size=(steps, n_agents))
        raw = raw_steps_per_s("spread", n_agents, actions)
        measured = [("raw PettingZoo env (random actions)", "-", raw, float("nan"))]
        sampling = sampling_steps_per_s(n_agents, steps)
        measured.append(("sampling alone (env runner, 8 envs)", "-", sampling, float("nan")))
        for label, algo_name, training in LOOPS:
            if label not in wanted:
                continue
            for mode, runners in (("sync", 0), ("async", 1)):
                rate, ratio = loop_steps_per_s(algo_name, n_agents, runners, steps, **training)
                measured.append((label, mode, rate, ratio))
        for what, mode, rate, ratio in measured:
            rows.append(
                {
                    "what": what,
                    "mode": mode,
                    "n_agents": n_agents,
                    "env_steps_per_s": round(rate, 1),
                    "ratio_to_raw": round(rate / raw, 3),
                    "updates_per_env_step": round(ratio, 4),
                    "batch": None,
                    "replay_sample_ms": None,
                    "learner_update_ms": None,
                }
            )

    print(
        "\nspread, env steps/s and their ratio to the raw env, measured in the same run (async: 1 remote env runner)\n"
    )
    print("| what | mode | N | env steps/s | ratio to raw | updates per env step |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        updates = "" if np.isnan(row["updates_per_env_step"]) else f"{row['updates_per_env_step']:.3f}"
        print(
            f"| {row['what']} | {row['mode']} | {row['n_agents']} | {row['env_steps_per_s']:,.0f} | "
            f"{row['ratio_to_raw']:.2f} | {updates} |"
        )

    timings = replay_and_update_ms(repeats=200)
    print("\nspread N=3: replay sample time (50,000-step replay) and QMIX-concat learner time per gradient step\n")
    print("| batch | replay sample (ms) | learner update (ms) |")
    print("| ---: | ---: | ---: |")
    for timing in timings:
        print(f"| {timing['batch']} | {timing['replay_sample_ms']:.2f} | {timing['learner_update_ms']:.2f} |")
        rows.append(
            {"what": "qmix-concat replay sample and learner update", "mode": "-", "n_agents": 3}
            | {"env_steps_per_s": None, "ratio_to_raw": None, "updates_per_env_step": None}
            | {key: round(value, 3) for key, value in timing.items()}
        )
    print(f"\nrows written to {write_rows(rows, csv_path)}")


if __name__ == "__main__":
    main()
