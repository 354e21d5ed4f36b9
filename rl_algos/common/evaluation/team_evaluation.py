"""Greedy evaluation of a checkpoint at another team size (its RLModule loaded and played in the team env, no
Algorithm built), and the scripted teams' returns (uniformly random, and
the scenario's heuristic where it has one), each with the scenario's task metrics per episode
(`envs.task_metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core import DEFAULT_MODULE_ID, Columns
from ray.rllib.core.rl_module.rl_module import RLModule

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


def checkpoint_trained_slots(config: AlgorithmConfig) -> int:
    """How many leading agent slots' ids a checkpoint's team trained: those of its env config (`trained_slots`), or
    fewer where its agents acted with the ids of a pre-trained team's slots (`finetune_ids="reuse"`)."""
    slots = trained_slots(config.env_config)
    if getattr(config, "finetune_ids", "own") == "reuse":
        slots = min(slots, config.finetune_trained_slots)
    return slots


@dataclass(frozen=True)
class PlayedEpisode:
    """One episode a module played greedily in the team env (`greedy_episodes`): `observations` per key
    `[T + 1, ...]`, the joint `actions` `[T, n_max]` (or `[T, n_max, k]`), the team `rewards` `[T]` and the last
    step's `info`."""

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    info: dict[str, Any]

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())


def checkpoint_module(
    checkpoint_path: str | Path, env_config: Mapping[str, Any], agent_ids: str = "own"
) -> tuple[RLModule, AlgorithmConfig]:
    """The RLModule a checkpoint's learner trained (with its critics and mixer: what `q_bias` reads), on CPU, and
    the checkpoint's config, checked against the team env `env_config` it is to play (any `n_agents`, the same
    `n_max`; the same scenario or its twin, `spread` <-> `vmas:spread`, with discrete actions). No Algorithm is
    built. `agent_ids="reuse"`: agents in slots the training team never sat in act (and are valued) with the ids of
    trained slots (`policies.networks.agent_ids.reused_id_table`) instead of their own untrained ones.
    `ValueError` names what does not match the checkpoint."""
    if agent_ids not in AGENT_ID_MODES:
        raise ValueError(f"agent_ids={agent_ids!r} is unknown; use one of {', '.join(AGENT_ID_MODES)}")
    config = checkpoint_config(checkpoint_path)
    module_folder = Path(checkpoint_path).absolute() / MODULE_COMPONENT / DEFAULT_MODULE_ID
    for module_file in sorted(module_folder.rglob("*.pkl")):  # a missing or damaged file says so
        load_checkpoint_file(checkpoint_path, module_file.relative_to(Path(checkpoint_path).absolute()))
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
    module = RLModule.from_checkpoint(module_folder)  # absolute: RLlib reads a relative path as a URI and refuses it
    module.eval()
    if agent_ids == "reuse":
        reuse_trained_ids(module, checkpoint_trained_slots(config))
    return module, config


def greedy_episodes(module: RLModule, env_config: Mapping[str, Any], episodes: int, seed: int) -> list[PlayedEpisode]:
    """`episodes` greedy episodes of `module` in the team env `env_config`, the first reset seeded with `seed` and
    the next ones drawing on from it: the episodes RLlib's env runner plays with `explore=False` and
    `.debugging(seed=seed)`, and those `scripted_episodes` plays with the same seed. Each step feeds the module one
    observation as RLlib's connectors batch it (a time rank and the recurrent state for a stateful module) and
    takes its actions, or the deterministic sample of its action distribution, as RLlib's `GetActions` does."""
    env = envs.make_team_env(**env_config)
    played = []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            state = _batched(module.get_initial_state()) if module.is_stateful() else None
            observations, actions, rewards, done = [obs], [], [], False
            while not done:
                action, state = _greedy_action(module, obs, state)
                obs, reward, terminated, truncated, info = env.step(action)
                observations.append(obs)
                actions.append(action)
                rewards.append(reward)
                done = terminated or truncated
            played.append(
                PlayedEpisode(
                    {key: np.stack([o[key] for o in observations]) for key in observations[0]},
                    np.stack(actions),
                    np.asarray(rewards, dtype=np.float64),
                    info,
                )
            )
    finally:
        env.close()
    return played


@torch.no_grad()
def _greedy_action(module: RLModule, obs: dict[str, np.ndarray], state: Any) -> tuple[np.ndarray, Any]:
    """The module's greedy joint action at one team observation, and its next recurrent state (None: stateless)."""
    batch = {Columns.OBS: {key: torch.as_tensor(np.asarray(value))[None] for key, value in obs.items()}}  # [1, ...]
    if state is not None:  # as RLlib's `AddTimeDimToBatchAndZeroPad`: [1, T=1, ...]
        batch = {
            Columns.OBS: {key: value[:, None] for key, value in batch[Columns.OBS].items()},
            Columns.STATE_IN: state,
        }
    out = module.forward_inference(batch)
    actions = out.get(Columns.ACTIONS)
    if actions is None:
        distribution = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        actions = distribution.to_deterministic().sample()
    if state is not None:
        actions = actions[:, 0]
    return actions[0].numpy(), out.get(Columns.STATE_OUT)


def _batched(state: Any) -> Any:
    """A module's initial recurrent state with a batch dimension of 1."""
    return {key: _batched(value) for key, value in state.items()} if isinstance(state, dict) else state[None]


def evaluate(
    checkpoint_path: str | Path,
    env_config: Mapping[str, Any],
    episodes: int = 10,
    seed: int = 0,
    agent_ids: str = "own",
) -> dict[str, Any]:
    """Run `episodes` greedy episodes of a checkpoint's policy in the team env `env_config`.

    `checkpoint_module` loads the trained module (and, with `agent_ids="reuse"`, gives the agents in slots the
    training team never sat in trained ids); `greedy_episodes` plays the episodes, seeded with `seed`. Returns
    `return_mean`, `return_std`, `episodes`, `episode_len_mean`, `n_agents`, the per-episode `returns`, and
    `task_metrics`: each of the scenario's task metrics per episode (`{"occupied_landmarks": [...], ...}`, read
    from the last step's infos). Value learners (`TeamQModule`: IQL, VDN, QMIX, gum) and the replay actor-critics
    (MADDPG, Central-V SAC) also give `q_bias` per episode, measured on up to `Q_BIAS_EPISODES` more greedy episodes
    played on past the time limit (`carried_on_q_bias`): the mean over the task's steps of the predicted team value
    of the actions taken minus the discounted return that followed (`rl_algos.common.evaluation.q_bias`), and
    `q_bias_mean`; gum, and the actor-critics with `unmix`, also give `q_bias_ind` and `q_bias_ind_mean`, the same
    of the independent estimate (gum's agents' Qs, each agent's own critic).
    """
    wanted = envs.parse_env_config(**env_config)
    module, config = checkpoint_module(checkpoint_path, env_config, agent_ids)
    played = greedy_episodes(module, env_config, episodes, seed)
    q_bias = {}
    if has_q_bias(module):
        reward_scale = getattr(config, "reward_scale", 1.0)  # the replay learners' (ReplayOptions)
        q_bias = carried_on_q_bias(
            module, env_config, config.gamma, min(episodes, Q_BIAS_EPISODES), seed, reward_scale=reward_scale
        )
    returns = np.array([episode.episode_return for episode in played], dtype=np.float64)
    return {
        **_summary(returns, [episode.info for episode in played]),
        "episode_len_mean": float(np.mean([len(episode) for episode in played])),
        "n_agents": wanted.team_sizes[0] if len(wanted.team_sizes) == 1 else list(wanted.team_sizes),
        **q_bias,
    }


def carried_on_q_bias(
    module: RLModule,
    env_config: Mapping[str, Any],
    gamma: float,
    episodes: int,
    seed: int,
    reward_scale: float = 1.0,
) -> dict[str, Any]:
    """`q_bias` (and, for unmixed actor-critics, `q_bias_ind`) per episode and their means, over the states of the
    task's time limit of greedy episodes of `module` played on past it
    (`rl_algos.common.evaluation.q_bias.carried_on_steps`), since the learners bootstrap there; the module's values,
    learned on rewards times `reward_scale`, read in the env's units."""
    spec = envs.parse_env_config(**env_config)
    option = spec.scenario.time_limit_option
    limit = spec.scenario_options[option] if option else None
    carried_on = {**env_config, option: carried_on_steps(limit, gamma)} if limit else dict(env_config)
    played = greedy_episodes(module, carried_on, episodes, seed)
    biases = [
        episode_q_bias(module, episode.observations, episode.actions, episode.rewards, gamma, limit, reward_scale)
        for episode in played
    ]
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
