"""The scenario registry: PettingZoo parallel envs whose team size is a parameter.

Each `Scenario` is a factory `scenario(n_agents, continuous_actions, **options) -> ParallelEnv` plus what
`TeamEnv` needs to know about it (accepted options and their defaults, action types, how to build the
global state). Add a scenario by adding one `Scenario` to `SCENARIOS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from envs.heuristics import pursuit_heuristic, spread_heuristic
from envs.matrix_games import GAMES, MatrixGameEnv
from envs.rware_env import SIZES as RWARE_SIZES
from envs.rware_env import RwareEnv
from envs.task_metrics import MatrixMetrics, MultiwalkerMetrics, PursuitMetrics, RwareMetrics, SpreadMetrics

# (env, padded observations [n_max, obs_dim]) -> flat global state of a size that does not depend on N.
StateFn = Callable[[ParallelEnv, np.ndarray], np.ndarray]

DISCRETE, CONTINUOUS = "discrete", "continuous"


@dataclass(frozen=True)
class Scenario:
    """A PettingZoo parallel env parameterised by team size, as `TeamEnv` consumes it.

    `options` maps every option the scenario accepts to its default. `state` builds the global state;
    `None` means the concatenated padded observations. `check_options` raises `ValueError` for bad option
    values before any env is built. `metrics` is the task-metric tracker class (`envs.task_metrics`), built at every
    reset. `heuristic` is the scripted reference policy (`envs.heuristics`: env -> `{agent: action}`, discrete
    actions), None where there is none. A `vectorised` scenario (VMAS, `envs.vmas_tasks`) builds a simulator of many
    worlds instead of a ParallelEnv: `build(n_agents, continuous_actions, num_envs=..., **options)`, and its
    heuristic takes that simulator and returns every world's moves, `[E, N]`. `twin` names a scenario of the same task
    with the same observation layout and discrete actions (`spread` and `vmas:spread`): a discrete-action policy
    trained on one is evaluated on the other.
    """

    name: str
    build: Callable[..., ParallelEnv]
    options: Mapping[str, Any]
    action_types: tuple[str, ...]
    grows_with_n: str
    obs_size: str
    min_agents: int = 1
    state: StateFn | None = None
    check_options: Callable[[Mapping[str, Any]], None] = field(default=lambda options: None)
    metrics: type | None = None
    heuristic: Callable[[ParallelEnv], dict[str, Any]] | None = None
    vectorised: bool = False
    twin: str | None = None

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The names of the task metrics its episodes report (none without a tracker)."""
        return self.metrics.names if self.metrics is not None else ()

    @property
    def time_limit_option(self) -> str | None:
        """The option that sets the episode's time limit, a truncation (`max_cycles` for PettingZoo, `max_steps` for
        VMAS); None for a scenario without one."""
        return next((name for name in ("max_cycles", "max_steps") if name in self.options), None)

    def __call__(self, n_agents: int, continuous_actions: bool, **options: Any) -> ParallelEnv:
        return self.build(n_agents, continuous_actions, **options)


def _require_ints_at_least(scenario: str, options: Mapping[str, Any], lows: Mapping[str, int]) -> None:
    """Each option named in `lows` (those not None) must be an int >= its low."""
    for name, low in lows.items():
        value = options[name]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{scenario} option {name}={value!r} must be an int >= {low}")


def check_neighbors(scenario: str, neighbors: Any, full_observation: bool) -> None:
    """spread's `neighbors` option: two positive ints (agent neighbours, landmark neighbours), or, where the scenario
    offers the full observation (`full_observation`), None."""
    if neighbors is None and full_observation:
        return
    if (
        not isinstance(neighbors, (list, tuple))
        or len(neighbors) != 2
        or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in neighbors)
    ):
        full = "None (full observation, padded to n_max) or " if full_observation else ""
        fixed = "" if full_observation else ": the observation keeps its size at every team size"
        raise ValueError(
            f"{scenario} option neighbors={neighbors!r} must be {full}two positive ints (agent neighbours, landmark "
            f"neighbours), e.g. [2, 3]{fixed}"
        )


def _check_spread(options: Mapping[str, Any]) -> None:
    _require_ints_at_least("spread", options, {"max_cycles": 1})
    if not 0.0 <= options["local_ratio"] <= 1.0:
        raise ValueError(f"spread option local_ratio={options['local_ratio']!r} must be in [0, 1]")
    check_neighbors("spread", options["neighbors"], full_observation=True)


def _build_spread(n_agents: int, continuous_actions: bool, neighbors, **options: Any) -> ParallelEnv:
    from mpe2 import simple_spread_v3

    agent_neighbors, landmark_neighbors = neighbors if neighbors is not None else (None, None)
    return simple_spread_v3.parallel_env(
        N=n_agents,
        continuous_actions=continuous_actions,
        num_agent_neighbors=agent_neighbors,
        num_landmark_neighbors=landmark_neighbors,
        **options,
    )


def pursuit_evaders(n_pursuers: int) -> int:
    """Default evader count: pursuit_v5's own density of 30 evaders per 8 pursuers, rounded up."""
    return math.ceil(30 * n_pursuers / 8)


def _build_pursuit(n_agents: int, continuous_actions: bool, n_evaders, **options: Any) -> ParallelEnv:
    from pettingzoo.sisl import pursuit_v5

    n_evaders = pursuit_evaders(n_agents) if n_evaders is None else n_evaders
    return pursuit_v5.parallel_env(n_pursuers=n_agents, n_evaders=n_evaders, **options)


def _build_multiwalker(n_agents: int, continuous_actions: bool, **options: Any) -> ParallelEnv:
    from pettingzoo.sisl import multiwalker_v9

    return multiwalker_v9.parallel_env(n_walkers=n_agents, **options)


def _multiwalker_state(env: ParallelEnv, obs: np.ndarray) -> np.ndarray:
    # multiwalker's state() is [every walker's observation, package x, y, angle]. It is rebuilt here with
    # the walker blocks in their padded slots, so the package sits at the same offset for every N; and
    # state() itself fails once a walker has been removed (remove_on_fall) and recomputes every observation.
    package = env.unwrapped.env.package
    return np.concatenate([obs.reshape(-1), [package.position.x, package.position.y, package.angle]])


def _check_matrix(options: Mapping[str, Any]) -> None:
    if options["game"] not in GAMES:
        raise ValueError(f"matrix option game={options['game']!r} is unknown; known games: {', '.join(GAMES)}")


def _build_matrix(n_agents: int, continuous_actions: bool, **options: Any) -> ParallelEnv:
    return MatrixGameEnv(n_agents, **options)


def _check_rware(options: Mapping[str, Any]) -> None:
    if options["size"] not in RWARE_SIZES:
        raise ValueError(f"rware option size={options['size']!r} is unknown; known sizes: {', '.join(RWARE_SIZES)}")
    _require_ints_at_least(
        "rware", options, {"request_queue": 1, "sensor_range": 1, "max_cycles": 1, "max_inactivity_steps": 1}
    )


def _build_rware(n_agents: int, continuous_actions: bool, **options: Any) -> ParallelEnv:
    return RwareEnv(n_agents, **options)


SCENARIOS: dict[str, Scenario] = {
    "spread": Scenario(
        name="spread",
        build=_build_spread,
        options={"neighbors": (2, 3), "max_cycles": 25, "local_ratio": 0.5, "terminate_on_success": False},
        action_types=(DISCRETE, CONTINUOUS),
        grows_with_n="agents and landmarks",
        obs_size="18 with `neighbors=(2, 3)`; 6 * n_max with `neighbors=None`",
        check_options=_check_spread,
        metrics=SpreadMetrics,
        heuristic=spread_heuristic,
        twin="vmas:spread",
    ),
    "pursuit": Scenario(
        name="pursuit",
        build=_build_pursuit,
        options={
            "n_evaders": None,
            "max_cycles": 500,
            "x_size": 16,
            "y_size": 16,
            "obs_range": 7,
            "n_catch": 2,
            "freeze_evaders": False,
            "shared_reward": True,
            "tag_reward": 0.01,
            "catch_reward": 5.0,
            "urgency_reward": -0.1,
            "surround": True,
            "constraint_window": 1.0,
        },
        action_types=(DISCRETE,),
        grows_with_n="pursuers and evaders (`ceil(30 * N / 8)`)",
        obs_size="147 (`obs_range`^2 * 3, flattened)",
        state=lambda env, obs: env.state().reshape(-1),
        check_options=lambda options: _require_ints_at_least(
            "pursuit",
            options,
            {"n_evaders": 1, "max_cycles": 1, "x_size": 2, "y_size": 2, "obs_range": 1, "n_catch": 1},
        ),
        metrics=PursuitMetrics,
        heuristic=pursuit_heuristic,
    ),
    "multiwalker": Scenario(
        name="multiwalker",
        build=_build_multiwalker,
        options={
            "max_cycles": 500,
            "position_noise": 1e-3,
            "angle_noise": 1e-3,
            "forward_reward": 1.0,
            "terminate_reward": -100.0,
            "fall_reward": -10.0,
            "shared_reward": True,
            "terminate_on_fall": True,
            "remove_on_fall": True,
            "terrain_length": 200,
        },
        action_types=(CONTINUOUS,),
        grows_with_n="walkers (the package is as long as the team)",
        obs_size="31",
        state=_multiwalker_state,
        check_options=lambda options: _require_ints_at_least(
            "multiwalker", options, {"max_cycles": 1, "terrain_length": 1}
        ),
        metrics=MultiwalkerMetrics,
    ),
    "rware": Scenario(
        name="rware",
        build=_build_rware,
        options={
            "size": "tiny",
            "request_queue": None,
            "sensor_range": 1,
            "max_cycles": 500,
            "max_inactivity_steps": None,
        },
        action_types=(DISCRETE,),
        grows_with_n="robots, and the requested shelves (`request_queue` None: one per robot); not the warehouse",
        obs_size="71 with `sensor_range` 1 (`8 + 7 * (2 * sensor_range + 1) ** 2`)",
        check_options=_check_rware,
        metrics=RwareMetrics,
    ),
    "matrix": Scenario(
        name="matrix",
        build=_build_matrix,
        options={"game": "climbing", "k": -100.0},
        action_types=(DISCRETE,),
        grows_with_n="players (payoff: mean over agent pairs)",
        obs_size="1 (a constant)",
        min_agents=2,
        check_options=_check_matrix,
        metrics=MatrixMetrics,
    ),
}
