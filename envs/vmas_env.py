"""VMAS worlds as team envs: `VmasTeamVectorEnv` steps `num_envs` worlds in one VMAS call, each world following
`TeamEnv`'s contract; `VmasTeamEnv` is one such world as a plain gymnasium env."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers.vector import DictInfoToList

from envs.team_env import TeamEnvConfig, scripted_heuristic, team_spaces


class _GroupStep(NamedTuple):
    """One VMAS env's step: per-agent observations `[E, n, d]` and rewards `[E, n]`, per-world flags `[E]` (terminated,
    truncated, restarted: reset in this step, ended: its episode ended in this step), task metrics `{name: [E]}`."""

    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    restarted: np.ndarray
    ended: np.ndarray
    metrics: dict[str, np.ndarray]


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
        """New slots for the `worlds` (a bool mask) just reset: drawn from `n_max` with `slots="random"` (each world's
        first `n` of a permutation of the slots)."""
        if config.slots == "random":
            every_slot = np.tile(np.arange(config.n_max), (int(worlds.sum()), 1))
            self.slots[worlds] = rng.permuted(every_slot, axis=1)[:, : self.n]

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
        agent_obs_space = at_n_max.observation_space[0]
        self.obs_dim = int(agent_obs_space.shape[0])
        self.single_observation_space, self.single_action_space, self._action_width = team_spaces(
            config, agent_obs_space, at_n_max.action_space[0], self.n_max * self.obs_dim
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
        mask = self._mask()
        observation = self._observation([g.observations() for g in self._groups], mask)
        infos = {"n_agents": self._n_agents(), "slots": self._slots_info()}
        return observation, infos

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions)
        offsets = np.cumsum([0] + [g.count for g in self._groups])
        parts = [self._step_group(g, actions[offsets[i] : offsets[i + 1]]) for i, g in enumerate(self._groups)]
        restarted = np.concatenate([p.restarted for p in parts])
        ended = np.concatenate([p.ended for p in parts])
        mask = self._mask()  # [E, n_max]
        agent_rewards = self._to_slots([p.rewards for p in parts])  # [E, n_max]
        team_reward = agent_rewards.sum(axis=1)
        if self.config.reward == "mean":
            team_reward = team_reward / self._n_agents()
        if self.config.last_action:
            self._record_last_action(actions, mask, restarted)
        infos: dict[str, Any] = {"agent_rewards": agent_rewards, "n_agents": self._n_agents()}
        if restarted.any():
            infos["slots"], infos["_slots"] = self._slots_info(), restarted
        if self._metric_names and ended.any():
            infos["task_metrics"] = {
                **{name: np.concatenate([p.metrics[name] for p in parts]) for name in self._metric_names},
                **{f"_{name}": ended for name in self._metric_names},
            }
            infos["_task_metrics"] = ended
        return (
            self._observation([p.obs for p in parts], mask),
            team_reward.astype(np.float32),
            np.concatenate([p.terminated for p in parts]),
            np.concatenate([p.truncated for p in parts]),
            infos,
        )

    def heuristic_actions(self) -> np.ndarray:
        """Every world's joint action of the scenario's scripted reference policy, in the agents' slots (absent
        slots 0), `[E, n_max]`; `ValueError` where the scenario has none or acts with continuous actions."""
        heuristic = scripted_heuristic(self.config)
        actions = np.zeros((self.num_envs, self.n_max), np.int64)
        offset = 0
        for group in self._groups:
            actions[offset : offset + group.count][group.rows, group.slots] = heuristic(group.env)
            offset += group.count
        return actions

    def _step_group(self, group: _Worlds, world_actions: np.ndarray) -> _GroupStep:
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
        metrics = {name: np.zeros(group.count, np.float32) for name in self._metric_names}
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
        return _GroupStep(agent_obs, agent_rewards, terminated, truncated, restarted.copy(), ended, metrics)

    def _to_slots(self, per_group: list[np.ndarray], width: int | None = None) -> np.ndarray:
        """Each group's per-agent values `[E_g, n_g]` (or `[E_g, n_g, d]`, into rows of `width`) placed in the agents'
        slots of zeros `[E, n_max]` (or `[E, n_max, width]`)."""
        padded = np.zeros((self.num_envs, self.n_max) + (() if width is None else (width,)), np.float32)
        offset = 0
        for group, values in zip(self._groups, per_group, strict=True):
            worlds = padded[offset : offset + group.count]
            if width is None:
                worlds[group.rows, group.slots] = values
            else:  # a task option may give a smaller team a shorter observation: it is zero-padded
                worlds[group.rows, group.slots, : values.shape[2]] = values
            offset += group.count
        return padded

    def _observation(self, agent_obs: list[np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
        obs = self._to_slots(agent_obs, self.obs_dim)
        observation = {"obs": obs, "mask": mask, "state": obs.reshape(self.num_envs, -1)}
        if self.config.last_action:
            observation["last_action"] = self._last_action.copy()
        return observation

    def _record_last_action(self, actions: np.ndarray, mask: np.ndarray, restarted: np.ndarray) -> None:
        if self.config.continuous_actions:
            self._last_action[:] = actions * mask[..., None]
        else:
            self._last_action[:] = np.eye(self._action_width, dtype=np.float32)[actions] * mask[..., None]
        self._last_action[restarted] = 0.0

    def _mask(self) -> np.ndarray:
        """`[E, n_max]`: 1.0 in each world's agents' slots (VMAS agents never leave mid-episode)."""
        return self._to_slots([np.ones((g.count, g.n), np.float32) for g in self._groups])

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
        """With one team size, `reset(seed=s)` and then unseeded resets start the episodes that `VmasTeamVectorEnv`
        with one world plays from `reset(seed=s)` on (its next-step autoresets draw on the same streams), so scripted
        and learned teams can be compared on the same first states."""
        super().reset(seed=seed)
        sizes = self.config.team_sizes
        self.n_agents = sizes[0] if len(sizes) == 1 else int(self.np_random.choice(sizes))
        world_seed = seed if len(sizes) == 1 else int(self.np_random.integers(2**31 - 1))
        obs, infos = self._worlds[self.n_agents].reset(seed=world_seed)
        return {key: value[0] for key, value in obs.items()}, {**infos[0], "n_agents": self.n_agents}

    def heuristic_action(self) -> np.ndarray:
        """The scenario's scripted reference policy's joint action in the team's slots (`VmasTeamVectorEnv`'s)."""
        return self._worlds[self.n_agents].env.heuristic_actions()[0]

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, infos = self._worlds[self.n_agents].step(np.asarray(action)[None])
        info = {**infos[0], "n_agents": self.n_agents}
        if "task_metrics" in info:
            info["task_metrics"] = {name: float(value) for name, value in info["task_metrics"].items()}
        observation = {key: value[0] for key, value in obs.items()}
        return observation, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info
