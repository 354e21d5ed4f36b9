"""`TeamEnv`: a PettingZoo parallel env seen as ONE gymnasium agent (the whole team), padded to `n_max`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from envs.scenarios import CONTINUOUS, DISCRETE, SCENARIOS, Scenario
from envs.vmas_tasks import VMAS_PREFIX, vmas_scenario, vmas_task_names

REWARD_MODES = ("sum", "mean")
SLOT_MODES = ("first", "random")
TEAM_OPTIONS = {"reward": "sum", "continuous_actions": None, "last_action": False, "slots": "first"}


@dataclass(frozen=True)
class TeamEnvConfig:
    """A validated team-env configuration. Build one with `parse_env_config`."""

    scenario: Scenario
    team_sizes: tuple[int, ...]
    n_max: int
    reward: str
    continuous_actions: bool
    last_action: bool
    scenario_options: Mapping[str, Any]
    slots: str = "first"


def _check_team_sizes(n_agents: int | Sequence[int], n_max: int | None, scenario: Scenario) -> tuple[int, ...]:
    sizes = [n_agents] if isinstance(n_agents, (int, np.integer)) else list(n_agents)
    if not sizes or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
        raise ValueError(f"n_agents must be an int or a non-empty list of ints, got {n_agents!r}")
    for n in sizes:
        if n < 1:
            raise ValueError(f"n_agents must be at least 1, got {n}")
        if n < scenario.min_agents:
            raise ValueError(f"scenario {scenario.name!r} needs at least {scenario.min_agents} agents, got {n}")
        if n_max is not None and n > n_max:
            raise ValueError(f"n_agents={n} is above n_max={n_max}; raise n_max to at least {n} or use fewer agents")
    return tuple(int(n) for n in sizes)


def find_scenario(name: str) -> Scenario:
    """The scenario called `name`: one of `SCENARIOS` or a VMAS task `vmas:<task>`; raises `ValueError` listing the
    known ones."""
    if name in SCENARIOS:
        return SCENARIOS[name]
    if isinstance(name, str) and name.startswith(VMAS_PREFIX):
        return vmas_scenario(name)
    raise ValueError(f"unknown scenario {name!r}; known scenarios: {', '.join(scenario_names())}")


def scenario_names() -> list[str]:
    """Every scenario name `make_team_env` takes."""
    return [*sorted(SCENARIOS), *(VMAS_PREFIX + task for task in vmas_task_names())]


def heuristic_scenario_names() -> list[str]:
    """The scenarios with a scripted reference policy (`envs.heuristics`; discrete actions)."""
    return sorted(name for name in scenario_names() if find_scenario(name).heuristic is not None)


def scripted_heuristic(config: TeamEnvConfig) -> Callable:
    """The scenario's scripted reference policy (`Scenario.heuristic`); `ValueError` where the scenario has none or
    is configured with continuous actions (the heuristics move with the discrete actions)."""
    heuristic = config.scenario.heuristic
    if heuristic is None or config.continuous_actions:
        raise ValueError(
            f"scenario {config.scenario.name!r}"
            + (" with continuous actions" if heuristic is not None else "")
            + " has no scripted heuristic; scenarios with one (discrete actions): "
            + ", ".join(heuristic_scenario_names())
        )
    return heuristic


def parse_env_config(
    scenario: str, n_agents: int | Sequence[int], n_max: int | None = None, **options: Any
) -> TeamEnvConfig:
    """Validate a team-env configuration without building any env; raise `ValueError` saying what to fix.

    `options` are the team options (`reward`: "sum" | "mean"; `continuous_actions`: None for the scenario's
    own action type, or a bool; `last_action`: add the previous joint action to the observation; `slots`: "first"
    seats the N agents in slots 0..N-1, "random" in N slots drawn from `n_max` at every reset) plus the scenario's
    own options (see `find_scenario(name).options`).
    """
    spec = find_scenario(scenario)
    if n_max is not None and (isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1):
        raise ValueError(f"n_max must be a positive int, got {n_max!r}")
    sizes = _check_team_sizes(n_agents, n_max, spec)

    accepted = {**TEAM_OPTIONS, **spec.options}
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"scenario {scenario!r} does not take option(s) {', '.join(unknown)}; "
            f"accepted options: {', '.join(sorted(accepted))}"
        )
    merged = {**accepted, **options}

    if merged["reward"] not in REWARD_MODES:
        raise ValueError(f"reward={merged['reward']!r} is unknown; use one of {', '.join(REWARD_MODES)}")
    if merged["slots"] not in SLOT_MODES:
        raise ValueError(f"slots={merged['slots']!r} is unknown; use one of {', '.join(SLOT_MODES)}")
    continuous = merged["continuous_actions"]
    if continuous is None:
        continuous = spec.action_types[0] == CONTINUOUS
    wanted = CONTINUOUS if continuous else DISCRETE
    if wanted not in spec.action_types:
        raise ValueError(
            f"scenario {scenario!r} has {' and '.join(spec.action_types)} actions only; "
            f"continuous_actions={merged['continuous_actions']!r} asks for {wanted} actions"
        )
    scenario_options = {k: merged[k] for k in spec.options}
    spec.check_options(scenario_options)
    return TeamEnvConfig(
        scenario=spec,
        team_sizes=sizes,
        n_max=int(n_max) if n_max is not None else max(sizes),
        reward=merged["reward"],
        continuous_actions=bool(continuous),
        last_action=bool(merged["last_action"]),
        scenario_options=scenario_options,
        slots=merged["slots"],
    )


def team_spaces(
    config: TeamEnvConfig, agent_obs_space: gym.spaces.Box, agent_act_space: gym.spaces.Space, state_dim: int
) -> tuple[gym.spaces.Dict, gym.spaces.Space, int]:
    """The team's observation space (`obs`, `mask`, `state`, and `last_action` when asked for), its action space
    (`MultiDiscrete` or Box over `n_max` slots) and the per-agent action width (the number of discrete actions, or the
    action vector's size), from one agent's spaces at `n_max`: the same for every team size."""
    n_max = config.n_max
    obs_low = np.minimum(agent_obs_space.low.reshape(-1), 0.0).astype(np.float32)
    obs_high = np.maximum(agent_obs_space.high.reshape(-1), 0.0).astype(np.float32)
    observation_space = gym.spaces.Dict(
        {
            "obs": gym.spaces.Box(np.tile(obs_low, (n_max, 1)), np.tile(obs_high, (n_max, 1))),
            "mask": gym.spaces.Box(0.0, 1.0, (n_max,), np.float32),
            "state": gym.spaces.Box(-np.inf, np.inf, (state_dim,), np.float32),
        }
    )
    if config.continuous_actions:
        action_space = gym.spaces.Box(
            np.tile(agent_act_space.low, (n_max, 1)), np.tile(agent_act_space.high, (n_max, 1))
        )
        act_dim, act_low, act_high = agent_act_space.shape[0], agent_act_space.low, agent_act_space.high
    else:
        action_space = gym.spaces.MultiDiscrete([int(agent_act_space.n)] * n_max)
        act_dim, act_low, act_high = int(agent_act_space.n), 0.0, 1.0
    if config.last_action:
        low, high = np.minimum(act_low, 0.0), np.maximum(act_high, 0.0)
        observation_space["last_action"] = gym.spaces.Box(
            np.broadcast_to(low, (n_max, act_dim)).astype(np.float32),
            np.broadcast_to(high, (n_max, act_dim)).astype(np.float32),
        )
    return observation_space, action_space, int(act_dim)


class TeamEnv(gym.Env):
    """A cooperative PettingZoo parallel env as one gymnasium agent: the team, padded to `n_max` agents.

    Observation `Dict(obs=[n_max, obs_dim], mask=[n_max], state=[state_dim])`: row i of `obs` is agent i's
    flattened observation, absent agents (beyond this episode's team, or gone mid-episode) are exact zeros
    with `mask` 0. Action `MultiDiscrete([n_actions] * n_max)` or Box `[n_max, act_dim]`; actions of absent
    agents are ignored. Reward: the team reward (sum or mean of the present agents' rewards); per-agent
    rewards are in `infos["agent_rewards"]` ([n_max] float32) and the team size in `infos["n_agents"]`; the last
    step's `infos["task_metrics"]` says what the episode achieved (`envs.task_metrics`: spread's share of occupied
    landmarks, pursuit's evaders caught, ...).
    The episode terminates when every present agent has terminated and is truncated when the scenario
    truncates (`max_cycles`). With several team sizes, each `reset` draws one from the seeded generator.

    Agent slots (`slots`): with "first" the scenario's agent i sits in slot i; with "random" each `reset` seats the
    N agents in N distinct slots drawn from `n_max` (the reset's `infos["slots"]`: agent i in `slots[i]`), and the
    observation rows, mask, actions, per-agent rewards, last actions and the padded state follow, so a team smaller
    than `n_max` still trains every agent id.

    With `last_action=True` the observation also holds `last_action` [n_max, n_actions]: each agent's previous
    action (one-hot, or the action vector for continuous actions), zeros at reset and for absent agents.

    Spaces are those of the scenario at `n_max`, so they are identical for every team size.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: TeamEnvConfig):
        self.config = config
        self.n_max = config.n_max
        self._envs: dict[int, ParallelEnv] = {}
        largest = self._env_for(config.n_max)
        agent = largest.possible_agents[0]
        agent_obs_space = largest.observation_space(agent)
        self.obs_dim = int(np.prod(agent_obs_space.shape))
        self.observation_space, self.action_space, act_dim = team_spaces(
            config, agent_obs_space, largest.action_space(agent), self._state_dim(largest)
        )
        self._last_action = np.zeros((self.n_max, act_dim), np.float32)
        self.n_agents = config.team_sizes[0]
        self._env = self._env_for(self.n_agents)
        self._agents: list[str] = []
        self._alive: list[bool] = []
        self._slots = list(range(self.n_agents))  # agent i sits in slot _slots[i]
        self._metrics = None  # this episode's task-metric tracker

    def _env_for(self, n_agents: int) -> ParallelEnv:
        if n_agents not in self._envs:
            cfg = self.config
            self._envs[n_agents] = cfg.scenario(n_agents, cfg.continuous_actions, **cfg.scenario_options)
        return self._envs[n_agents]

    def _state_dim(self, env: ParallelEnv) -> int:
        if self.config.scenario.state is None:
            return self.n_max * self.obs_dim
        env.reset(seed=0)
        return int(self.config.scenario.state(env, np.zeros((self.n_max, self.obs_dim), np.float32)).size)

    def _observation(self, agent_obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        obs = np.zeros((self.n_max, self.obs_dim), np.float32)
        for i, agent in enumerate(self._agents):
            if self._alive[i]:
                row = agent_obs[agent].reshape(-1)
                obs[self._slots[i], : row.size] = row
        mask = np.zeros(self.n_max, np.float32)
        mask[self._slots] = self._alive
        state_fn = self.config.scenario.state
        state = obs.reshape(-1) if state_fn is None else state_fn(self._env, obs)
        observation = {"obs": obs, "mask": mask, "state": state.astype(np.float32, copy=False)}
        if self.config.last_action:
            observation["last_action"] = self._last_action.copy()
        return observation

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sizes = self.config.team_sizes
        self.n_agents = sizes[0] if len(sizes) == 1 else int(self.np_random.choice(sizes))
        self._env = self._env_for(self.n_agents)
        agent_obs, _ = self._env.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._agents = list(self._env.possible_agents)
        self._alive = [True] * self.n_agents
        if self.config.slots == "random":
            self._slots = self.np_random.choice(self.n_max, self.n_agents, replace=False).tolist()
        else:
            self._slots = list(range(self.n_agents))
        self._last_action[:] = 0.0
        tracker = self.config.scenario.metrics
        self._metrics = tracker(self._env) if tracker is not None else None
        return self._observation(agent_obs), {"n_agents": self.n_agents, "slots": np.array(self._slots)}

    def step(self, action: np.ndarray):
        agents, alive, slots = self._agents, self._alive, self._slots
        per_slot = action.tolist() if not self.config.continuous_actions else action
        actions = {agent: per_slot[slots[i]] for i, agent in enumerate(agents) if alive[i]}
        agent_obs, rewards, terminations, truncations, _ = self._env.step(actions)

        agent_rewards = np.zeros(self.n_max, np.float32)
        truncated = False
        still_alive = list(alive)
        for i, agent in enumerate(agents):
            if alive[i]:
                agent_rewards[slots[i]] = rewards[agent]
                truncated |= bool(truncations[agent])
                still_alive[i] = not (terminations[agent] or truncations[agent])
        ended = not any(still_alive)
        n_acting = sum(alive)
        if not ended:
            # Agents that left keep zero rows and a 0 mask; at the episode's end every agent that acted
            # keeps its final observation so that a truncated episode can still be bootstrapped from it.
            self._alive = still_alive
        if self.config.last_action:
            self._record_last_action(action, self._alive)
        team_reward = float(agent_rewards.sum())
        if self.config.reward == "mean":
            team_reward /= n_acting
        info = {"agent_rewards": agent_rewards, "n_agents": self.n_agents}
        if self._metrics is not None:
            self._metrics.step(self._env)
            if ended:
                info["task_metrics"] = self._metrics.result(self._env)
        return self._observation(agent_obs), team_reward, ended and not truncated, ended and truncated, info

    def heuristic_action(self) -> np.ndarray:
        """The scenario's scripted reference policy's joint action for the current state, in the team's slots
        (absent slots 0); `ValueError` where the scenario has none or acts with continuous actions."""
        moves = scripted_heuristic(self.config)(self._env)
        action = np.zeros(self.n_max, np.int64)
        for i, agent in enumerate(self._agents):
            if self._alive[i]:
                action[self._slots[i]] = moves[agent]
        return action

    def _record_last_action(self, action: np.ndarray, present: list[bool]) -> None:
        self._last_action[:] = 0.0
        rows = np.array(self._slots)[np.flatnonzero(present)]
        if self.config.continuous_actions:
            self._last_action[rows] = np.asarray(action, np.float32)[rows]
        else:
            self._last_action[rows, np.asarray(action)[rows]] = 1.0

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def make_team_env(scenario: str, n_agents: int | Sequence[int], n_max: int | None = None, **options: Any) -> gym.Env:
    """Build a team env for `scenario` with `n_agents` (an int, or a list to draw from at each reset) padded
    to `n_max` (default: the largest size given): a `TeamEnv`, or for a VMAS task one world as a `VmasTeamEnv`.
    Raises `ValueError` on bad input before building any env."""
    config = parse_env_config(scenario, n_agents, n_max, **options)
    if config.scenario.vectorised:
        from envs.vmas_env import VmasTeamEnv

        return VmasTeamEnv(config)
    return TeamEnv(config)


def make_team_vector_env(
    scenario: str, n_agents: int | Sequence[int], n_max: int | None = None, *, num_envs: int, **options: Any
) -> gym.vector.VectorEnv:
    """`num_envs` team envs as one gymnasium vector env with next-step autoreset (what RLlib's env runners take with
    `gym_env_vectorize_mode="vector_entry_point"`): a VMAS task's worlds stepped in one VMAS call
    (`VmasTeamVectorEnv`), or `num_envs` `TeamEnv`s stepped one after another (gymnasium's `SyncVectorEnv`)."""
    config = parse_env_config(scenario, n_agents, n_max, **options)
    if config.scenario.vectorised:
        from envs.vmas_env import VmasTeamVectorEnv

        return VmasTeamVectorEnv(config, num_envs)
    return gym.vector.SyncVectorEnv(
        [lambda: TeamEnv(config)] * num_envs, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
    )
