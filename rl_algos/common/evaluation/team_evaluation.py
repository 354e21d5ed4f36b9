"""Greedy evaluation of a checkpoint at another team size, and the scripted teams' returns (uniformly random, and
the scenario's heuristic where it has one), each with the scenario's task metrics per episode
(`envs.task_metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID

import envs
from policies.networks.agent_ids import reuse_trained_ids
from rl_algos.common.checkpoints import MODULE_COMPONENT, checkpoint_config, load_checkpoint_file
from rl_algos.common.evaluation.q_bias import carried_on_steps, episode_q_bias, has_q_bias

Q_BIAS_EPISODES = 5  # greedy episodes, played on past the time limit, that q_bias is measured on
AGENT_ID_MODES = ("own", "reuse")  # how agents in slots the training team never sat in are identified


def trained_slots(env_config: Mapping[str, Any]) -> int:
    """How many leading agent slots a team env config trains the ids of: its largest team with `slots="first"`,
    every slot (`n_max`) with `slots="random"`."""
    parsed = envs.parse_env_config(**env_config)
    return parsed.n_max if parsed.slots == "random" else max(parsed.team_sizes)


@contextmanager
def playing_algorithm(
    checkpoint_path: str | Path, env_config: Mapping[str, Any], seed: int = 0, agent_ids: str = "own"
) -> Iterator[Algorithm]:
    """The algorithm rebuilt from a checkpoint's config with `env_config` as its env (any `n_agents`, the same
    `n_max`; the same scenario or its twin, `spread` <-> `vmas:spread`, with discrete actions), one local env runner
    seeded with `seed`, no remote workers, on CPU, with the checkpoint's module weights restored; stopped on exit.
    `agent_ids="reuse"`: agents in slots the training team never sat in act (and are valued) with the ids of trained
    slots (`policies.networks.agent_ids.reused_id_table`) instead of their own untrained ones.
    `ValueError` names what does not match the checkpoint."""
    if agent_ids not in AGENT_ID_MODES:
        raise ValueError(f"agent_ids={agent_ids!r} is unknown; use one of {', '.join(AGENT_ID_MODES)}")
    config = checkpoint_config(checkpoint_path)
    for module_file in sorted((Path(checkpoint_path) / MODULE_COMPONENT).rglob("*.pkl")):  # before Ray restores it
        load_checkpoint_file(checkpoint_path, module_file.relative_to(checkpoint_path))
    trained = envs.parse_env_config(**config.env_config)
    wanted = envs.parse_env_config(**env_config)
    if wanted.n_max != trained.n_max:
        raise ValueError(
            f"the checkpoint's networks are built for n_max={trained.n_max}, but env_config has n_max={wanted.n_max}; "
            f"evaluate with n_max={trained.n_max} (any n_agents up to it)"
        )
    twins = wanted.scenario.name == trained.scenario.twin and not (
        wanted.continuous_actions or trained.continuous_actions
    )
    if wanted.scenario.name != trained.scenario.name and not twins:
        twin = f" (or its twin {trained.scenario.twin!r}, with discrete actions)" if trained.scenario.twin else ""
        raise ValueError(
            f"the checkpoint was trained on scenario {trained.scenario.name!r}, env_config asks for "
            f"{wanted.scenario.name!r}; evaluate on {trained.scenario.name!r}{twin}"
        )
    slots = trained_slots(config.env_config)  # before the env is replaced by the one to play
    config = config.copy(copy_frozen=False)
    config.env_config = dict(env_config)  # replaced: `.environment(env_config=...)` would merge in the training env's
    config = (
        config.env_runners(num_env_runners=0, num_envs_per_env_runner=1, create_env_on_local_worker=True)
        .learners(num_learners=0, num_gpus_per_learner=0)  # a GPU-trained checkpoint plays on CPU
        .evaluation(evaluation_interval=None, evaluation_num_env_runners=0)
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    try:
        # absolute: RLlib reads a relative path as a URI without a scheme and refuses it
        algo.restore_from_path(Path(checkpoint_path).absolute() / MODULE_COMPONENT, component=MODULE_COMPONENT)
        if agent_ids == "reuse":
            for module in (algo.env_runner.module, algo.learner_group._learner.module[DEFAULT_MODULE_ID]):
                reuse_trained_ids(module, slots)
        yield algo
    finally:
        algo.stop()


def evaluate(
    checkpoint_path: str | Path,
    env_config: Mapping[str, Any],
    episodes: int = 10,
    seed: int = 0,
    agent_ids: str = "own",
) -> dict[str, Any]:
    """Run `episodes` greedy episodes of a checkpoint's policy in the team env `env_config`.

    `playing_algorithm` rebuilds the algorithm for `env_config` with the checkpoint's weights (and, with
    `agent_ids="reuse"`, trained ids for the agents in slots the training team never sat in); its local env runner
    plays the episodes, seeded with `seed`. Returns `return_mean`, `return_std`, `episodes`, `episode_len_mean`,
    `n_agents`, the per-episode `returns`, and `task_metrics`: each of the scenario's task metrics per episode
    (`{"occupied_landmarks": [...], ...}`, read from the last step's infos). Value learners (`TeamQModule`: IQL, VDN,
    QMIX, gum) and the replay actor-critics (MADDPG, Central-V SAC) also give `q_bias` per episode, measured on up to
    `Q_BIAS_EPISODES` more greedy episodes played on past the time limit (`carried_on_q_bias`): the mean over the
    task's steps of the predicted team value of the actions taken minus the discounted return that followed
    (`rl_algos.common.evaluation.q_bias`), and `q_bias_mean`; with `unmix`, the actor-critics also give `q_bias_ind` and
    `q_bias_ind_mean`, the same of each agent's own critic.
    """
    wanted = envs.parse_env_config(**env_config)
    with playing_algorithm(checkpoint_path, env_config, seed, agent_ids) as algo:
        played = algo.env_runner.sample(num_episodes=episodes, explore=False)
        values_actions = has_q_bias(algo.learner_group._learner.module[DEFAULT_MODULE_ID].unwrapped())
        gamma = algo.config.gamma
    q_bias = {}
    if values_actions:
        q_bias = carried_on_q_bias(checkpoint_path, env_config, gamma, min(episodes, Q_BIAS_EPISODES), seed, agent_ids)
    returns = np.array([episode.get_return() for episode in played], dtype=np.float64)
    return {
        **_summary(returns, [episode.get_infos(-1) for episode in played]),
        "episode_len_mean": float(np.mean([len(episode) for episode in played])),
        "n_agents": wanted.team_sizes[0] if len(wanted.team_sizes) == 1 else list(wanted.team_sizes),
        **q_bias,
    }


def carried_on_q_bias(
    checkpoint_path: str | Path,
    env_config: Mapping[str, Any],
    gamma: float,
    episodes: int,
    seed: int,
    agent_ids: str = "own",
) -> dict[str, Any]:
    """`q_bias` (and, for unmixed actor-critics, `q_bias_ind`) per episode and their means, over the states of the
    task's time limit of greedy episodes played on past it (`rl_algos.common.evaluation.q_bias.carried_on_steps`),
    since the learners bootstrap there."""
    spec = envs.parse_env_config(**env_config)
    option = spec.scenario.time_limit_option
    limit = spec.scenario_options[option] if option else None
    carried_on = {**env_config, option: carried_on_steps(limit, gamma)} if limit else dict(env_config)
    with playing_algorithm(checkpoint_path, carried_on, seed, agent_ids) as algo:
        played = algo.env_runner.sample(num_episodes=episodes, explore=False)
        module = algo.learner_group._learner.module[DEFAULT_MODULE_ID].unwrapped()
        biases = [episode_q_bias(module, episode, gamma, steps=limit) for episode in played]
    figures: dict[str, Any] = {}
    for key in biases[0]:
        per_episode = [bias[key] for bias in biases]
        figures |= {key: per_episode, f"{key}_mean": float(np.mean(per_episode))}
    return figures


def _summary(returns: np.ndarray, last_infos: list[dict]) -> dict[str, Any]:
    """Returns' mean, std, count and values, and the task metrics per episode from each episode's last infos."""
    names = list(last_infos[0].get("task_metrics", {})) if last_infos else []
    return {
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "episodes": len(returns),
        "returns": returns.tolist(),
        "task_metrics": {name: [float(info["task_metrics"][name]) for info in last_infos] for name in names},
    }


SCRIPTED_POLICIES = ("random", "heuristic")


def scripted_episodes(
    env_config: Mapping[str, Any],
    episodes: int,
    seed: int,
    policy: str = "random",
    observe: Callable[[int, dict, np.ndarray], None] | None = None,
) -> Iterator[tuple[list[float], dict]]:
    """Play `episodes` of a scripted team in the team env `env_config`, seeded with `seed`: uniformly random joint
    actions (`policy="random"`), or the scenario's scripted reference policy (`"heuristic"`, `envs.heuristics`).
    Yields each episode's team reward per step and its last step's info; `observe(t, obs, action)` sees each step's
    team observation and the joint action before it is played.

    These are the episodes `evaluate` plays with the same `seed` and `env_config` (the first reset seeded, each next
    one drawing on from it, as RLlib's env runner resets; on a VMAS task with one team size), so a checkpoint and a
    scripted team can be compared on the same first states."""
    if policy not in SCRIPTED_POLICIES:
        raise ValueError(f"unknown scripted policy {policy!r}; known: {', '.join(SCRIPTED_POLICIES)}")
    if policy == "heuristic" and not has_heuristic(env_config):
        raise ValueError(
            f"scenario {env_config['scenario']!r} (as configured) has no scripted heuristic; scenarios with one "
            f"(discrete actions): {', '.join(envs.heuristic_scenario_names())}"
        )
    env = envs.make_team_env(**env_config)
    env.action_space.seed(seed)
    act = env.heuristic_action if policy == "heuristic" else env.action_space.sample
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            rewards, done = [], False
            while not done:
                action = act()
                if observe is not None:
                    observe(len(rewards), obs, action)
                obs, reward, terminated, truncated, info = env.step(action)
                rewards.append(reward)
                done = terminated or truncated
            yield rewards, info
    finally:
        env.close()


def scripted_policy_evaluation(
    env_config: Mapping[str, Any], episodes: int, seed: int, policy: str = "random"
) -> dict[str, Any]:
    """`scripted_episodes` summed: `return_mean`, `return_std`, `episodes`, the per-episode `returns` and
    `task_metrics`, as `evaluate` gives them."""
    played = list(scripted_episodes(env_config, episodes, seed, policy))
    returns = np.array([sum(rewards) for rewards, _ in played], dtype=np.float64)
    return _summary(returns, [info for _, info in played])


def random_policy_evaluation(env_config: Mapping[str, Any], episodes: int, seed: int) -> dict[str, Any]:
    """`scripted_policy_evaluation` of uniformly random joint actions."""
    return scripted_policy_evaluation(env_config, episodes, seed, "random")


def has_heuristic(env_config: Mapping[str, Any]) -> bool:
    """Whether the team env `env_config` has a scripted reference policy (`envs.heuristics`)."""
    parsed = envs.parse_env_config(**env_config)
    return parsed.scenario.heuristic is not None and not parsed.continuous_actions


def random_policy_returns(env_config: Mapping[str, Any], episodes: int, seed: int) -> np.ndarray:
    """Returns [episodes] of uniformly random joint actions in the team env `env_config`, seeded with `seed`."""
    return np.array(random_policy_evaluation(env_config, episodes, seed)["returns"])
