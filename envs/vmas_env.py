"""VMAS worlds as team envs: `VmasTeamVectorEnv` steps `num_envs` worlds in one VMAS call, each world following
`TeamEnv`'s contract; `VmasTeamEnv` is one such world as a plain gymnasium env."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers.vector import DictInfoToList

from envs.team_env import TeamEnvConfig


def _team_spaces(config: TeamEnvConfig, vmas_env) -> tuple[gym.spaces.Dict, gym.spaces.Space, int, int]:
    """The team's observation and action spaces at `n_max` (read from a VMAS env built at `n_max`), the per-agent
    observation size and the per-agent action width (the number of discrete actions, or the action vector's size)."""
    n_max = config.n_max
    obs_dim = int(vmas_env.observation_space[0].shape[0])
    agent_action = vmas_env.action_space[0]
    observation = {
        "obs": gym.spaces.Box(-np.inf, np.inf, (n_max, obs_dim), np.float32),
        "mask": gym.spaces.Box(0.0, 1.0, (n_max,), np.float32),
        "state": gym.spaces.Box(-np.inf, np.inf, (n_max * obs_dim,), np.float32),
    }
    if config.continuous_actions:
        low, high = agent_action.low.astype(np.float32), agent_action.high.astype(np.float32)
        action = gym.spaces.Box(np.tile(low, (n_max, 1)), np.tile(high, (n_max, 1)))
        action_width = int(agent_action.shape[0])
        last_low, last_high = np.minimum(low, 0.0), np.maximum(high, 0.0)
    else:
        action = gym.spaces.MultiDiscrete([int(agent_action.n)] * n_max)
        action_width = int(agent_action.n)
        last_low, last_high = 0.0, 1.0
    if config.last_action:
        observation["last_action"] = gym.spaces.Box(
            np.broadcast_to(last_low, (n_max, action_width)).astype(np.float32),
            np.broadcast_to(last_high, (n_max, action_width)).astype(np.float32),
        )
    return gym.spaces.Dict(observation), action, obs_dim, action_width


class _Worlds:
    """One VMAS env: `count` worlds of one team size `n`, with each world's agent slots."""

    def __init__(self, config: TeamEnvConfig, n: int, count: int):
        options = dict(config.scenario_options)
        self.device = torch.device(options["device"])
        self.env = config.scenario(n, config.continuous_actions, num_envs=count, **options)
        self.n, self.count = n, count
        self.rows = np.arange(count)[:, None]  # [E, 1], for per-world fancy indexing
        self.slots = np.tile(np.arange(n), (count, 1))  # [E, n]: agent i of world e sits in slot slots[e, i]
        self.ended = np.zeros(count, bool)  # worlds whose episode ended at the last step: reset at the next

    def draw_slots(self, worlds: np.ndarray, config: TeamEnvConfig, rng: np.random.Generator) -> None:
        """New slots for the `worlds` (a bool mask) just reset: drawn from `n_max` with `slots="random"`."""
        if config.slots == "random":
            for e in np.flatnonzero(worlds):
                self.slots[e] = rng.choice(config.n_max, self.n, replace=False)

    def observations(self) -> np.ndarray:
        """Every world's agent observations, `[E, n, d]`."""
        per_agent = self.env.get_from_scenario(
            get_observations=True, get_rewards=False, get_infos=False, get_dones=False, dict_agent_names=False
        )[0]
        return torch.stack(per_agent, 1).cpu().numpy()


class VmasTeamVectorEnv(gym.vector.VectorEnv):
    """`num_envs` worlds of a VMAS task as a gymnasium vector env whose every world is a team env (`TeamEnv`'s
    contract: `obs [n_max, d]` with absent agents' rows zero, `mask`, `state` (the padded observations, flat), the
    team reward, `infos["agent_rewards"]`, `MultiDiscrete` or Box actions, agent `slots`, `last_action`), stepped in one
    VMAS call on `device` ("cpu" or "cuda"; numpy in and out either way).

    Autoreset is gymnasium's next-step mode, which RLlib's env runners expect: the step after a world's episode ends
    resets that world and returns its first observation (reward 0, not done, the reset's infos). Several team sizes
    split the worlds between them (one VMAS env per size, as even a split as `num_envs` allows); a world keeps its size.
    VMAS agents never leave mid-episode, so a world's mask is constant within an episode.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, config: TeamEnvConfig, num_envs: int):
        if not config.scenario.vectorised:
            raise ValueError(f"scenario {config.scenario.name!r} is not a VMAS task; build it with envs.make_team_env")
        sizes = config.team_sizes
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < len(sizes):
            raise ValueError(
                f"num_envs={num_envs!r} worlds cannot hold the {len(sizes)} team size(s) {list(sizes)}: each size "
                f"needs at least one world; use num_envs >= {len(sizes)}"
            )
        self.config, self.num_envs, self.n_max = config, int(num_envs), config.n_max
        counts = [num_envs // len(sizes) + (i < num_envs % len(sizes)) for i in range(len(sizes))]
        self._groups = [_Worlds(config, n, count) for n, count in zip(sizes, counts, strict=True)]
        at_n_max = next((g.env for g in self._groups if g.n == self.n_max), None)
        if at_n_max is None:
            at_n_max = config.scenario(self.n_max, config.continuous_actions, num_envs=1, **config.scenario_options)
        self.single_observation_space, self.single_action_space, self.obs_dim, self._action_width = _team_spaces(
            config, at_n_max
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._last_action = np.zeros((self.num_envs, self.n_max, self._action_width), np.float32)
        self._np_random = np.random.default_rng()
        metrics = config.scenario.metrics
        self._metric_names = metrics.names if metrics is not None else ()

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
            self._groups[0].env.seed(int(self._np_random.integers(2**31 - 1)))  # VMAS's one random stream
        for group in self._groups:
            group.env.reset(return_observations=False)
            group.ended[:] = False
            group.draw_slots(np.ones(group.count, bool), self.config, self._np_random)
        self._last_action[:] = 0.0
        observation = self._observation([g.observations() for g in self._groups])
        infos = {"n_agents": self._n_agents(), "slots": self._slots_info()}
        return observation, infos

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions)
        agent_obs, agent_rewards, terminated, truncated, restarted, ended, metrics = [], [], [], [], [], [], []
        offset = 0
        for group in self._groups:
            world_actions = actions[offset : offset + group.count]
            obs, rewards, term, trunc, fresh, done, values = self._step_group(group, world_actions)
            agent_obs.append(obs)
            agent_rewards.append(rewards)
            terminated.append(term)
            truncated.append(trunc)
            restarted.append(fresh)
            ended.append(done)
            metrics.append(values)
            offset += group.count
        restarted_worlds = np.concatenate(restarted)
        self._record_last_action(actions, restarted_worlds)
        padded_rewards = self._padded_rewards(agent_rewards)  # [E, n_max]
        team_reward = padded_rewards.sum(axis=1)
        if self.config.reward == "mean":
            team_reward = team_reward / self._n_agents()
        infos: dict[str, Any] = {"agent_rewards": padded_rewards, "n_agents": self._n_agents()}
        if restarted_worlds.any():
            infos["slots"], infos["_slots"] = self._slots_info(), restarted_worlds
        ended_worlds = np.concatenate(ended)
        if self._metric_names and ended_worlds.any():
            infos["task_metrics"] = {
                **{name: np.concatenate([m[name] for m in metrics]) for name in self._metric_names},
                **{f"_{name}": ended_worlds for name in self._metric_names},
            }
            infos["_task_metrics"] = ended_worlds
        observation = self._observation(agent_obs)
        return (
            observation,
            team_reward.astype(np.float32),
            np.concatenate(terminated),
            np.concatenate(truncated),
            infos,
        )

    def _step_group(self, group: _Worlds, world_actions: np.ndarray):
        """Step one VMAS env; worlds that ended at the previous step are reset instead (next-step autoreset)."""
        acting = torch.as_tensor(world_actions[group.rows, group.slots], device=group.device)  # [E, n] or [E, n, a]
        if self.config.continuous_actions:
            acting = acting.float()
        obs, rewards, terminated, truncated, _ = group.env.step([acting[:, i] for i in range(group.n)])
        agent_obs = torch.stack(obs, 1).cpu().numpy()  # [E, n, d]
        agent_rewards = torch.stack(rewards, 1).cpu().numpy()  # [E, n]
        terminated = terminated.cpu().numpy()
        truncated = truncated.cpu().numpy() & ~terminated  # a world that reached its goal at the horizon terminated
        ended = terminated | truncated
        metrics = {}
        if self._metric_names and ended.any():
            metrics = self.config.scenario.metrics.result(group.env)
        restarted = group.ended
        if restarted.any():
            if restarted.all():
                group.env.reset(return_observations=False)
            else:
                for e in np.flatnonzero(restarted):
                    group.env.reset_at(int(e), return_observations=False)
            group.draw_slots(restarted, self.config, self._np_random)
            agent_obs[restarted] = group.observations()[restarted]
            agent_rewards[restarted] = 0.0
            terminated[restarted] = truncated[restarted] = ended[restarted] = False
        group.ended = ended
        if not metrics and self._metric_names:
            metrics = {name: np.zeros(group.count, np.float32) for name in self._metric_names}
        return agent_obs, agent_rewards, terminated, truncated, restarted.copy(), ended, metrics

    def _padded_rewards(self, per_group: list[np.ndarray]) -> np.ndarray:
        """Each group's agent rewards `[E_g, n_g]` -> `[E, n_max]`, each agent's in its slot, zeros elsewhere."""
        padded = np.zeros((self.num_envs, self.n_max), np.float32)
        offset = 0
        for group, rewards in zip(self._groups, per_group, strict=True):
            padded[offset : offset + group.count][group.rows, group.slots] = rewards
            offset += group.count
        return padded

    def _observation(self, agent_obs: list[np.ndarray]) -> dict[str, np.ndarray]:
        obs = np.zeros((self.num_envs, self.n_max, self.obs_dim), np.float32)
        mask = np.zeros((self.num_envs, self.n_max), np.float32)
        offset = 0
        for group, values in zip(self._groups, agent_obs, strict=True):
            end = offset + group.count
            obs[offset:end][group.rows, group.slots, : values.shape[2]] = values
            mask[offset:end][group.rows, group.slots] = 1.0
            offset = end
        observation = {"obs": obs, "mask": mask, "state": obs.reshape(self.num_envs, -1)}
        if self.config.last_action:
            observation["last_action"] = self._last_action.copy()
        return observation

    def _record_last_action(self, actions: np.ndarray, restarted: np.ndarray) -> None:
        if not self.config.last_action:
            return
        mask = self._observation_mask()
        if self.config.continuous_actions:
            self._last_action[:] = actions * mask[..., None]
        else:
            self._last_action[:] = np.eye(self._action_width, dtype=np.float32)[actions] * mask[..., None]
        self._last_action[restarted] = 0.0

    def _observation_mask(self) -> np.ndarray:
        mask = np.zeros((self.num_envs, self.n_max), np.float32)
        offset = 0
        for group in self._groups:
            mask[offset : offset + group.count][group.rows, group.slots] = 1.0
            offset += group.count
        return mask

    def _n_agents(self) -> np.ndarray:
        return np.concatenate([np.full(g.count, g.n) for g in self._groups])

    def _slots_info(self) -> np.ndarray:
        """Each world's slots (agent i in `slots[i]`), an object array: worlds of different sizes differ in length."""
        slots = np.empty(self.num_envs, object)
        slots[:] = [row for group in self._groups for row in group.slots.copy()]
        return slots


class VmasTeamEnv(gym.Env):
    """One VMAS world as a team env with `TeamEnv`'s contract and API (reset, step without autoreset), for loops that
    step one env at a time (random-policy baselines, tests). Several team sizes: each reset draws one from the seeded
    generator, as `TeamEnv` does."""

    metadata = {"render_modes": []}

    def __init__(self, config: TeamEnvConfig):
        self.config, self.n_max = config, config.n_max
        self._worlds = {
            n: DictInfoToList(VmasTeamVectorEnv(replace(config, team_sizes=(n,)), 1)) for n in config.team_sizes
        }
        first = self._worlds[config.team_sizes[0]]
        self.observation_space = first.single_observation_space
        self.action_space = first.single_action_space
        self.n_agents = config.team_sizes[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sizes = self.config.team_sizes
        self.n_agents = sizes[0] if len(sizes) == 1 else int(self.np_random.choice(sizes))
        obs, infos = self._worlds[self.n_agents].reset(seed=int(self.np_random.integers(2**31 - 1)))
        return {key: value[0] for key, value in obs.items()}, {**infos[0], "n_agents": self.n_agents}

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, infos = self._worlds[self.n_agents].step(np.asarray(action)[None])
        info = {**infos[0], "n_agents": self.n_agents}
        if "task_metrics" in info:
            info["task_metrics"] = {name: float(value) for name, value in info["task_metrics"].items()}
        observation = {key: value[0] for key, value in obs.items()}
        return observation, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info
