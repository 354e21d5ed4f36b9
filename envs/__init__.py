"""Team environments: PettingZoo parallel envs and VMAS tasks seen as one RLlib "team" agent, padded to `n_max` agents.

`make_team_env(scenario, n_agents, n_max, **options)` builds one; the same is registered with RLlib/Tune
as `"team"`, taking `env_config = {"scenario": ..., "n_agents": ..., "n_max": ..., **options}`.
"""

from envs.registration import TEAM_ENV_NAME, register_team_env
from envs.scenarios import SCENARIOS, Scenario, pursuit_evaders
from envs.team_env import (
    TeamEnv,
    TeamEnvConfig,
    find_scenario,
    heuristic_scenario_names,
    make_team_env,
    make_team_vector_env,
    parse_env_config,
    scenario_names,
)
from envs.vmas_tasks import VMAS_PREFIX, VMAS_TASKS

register_team_env()

__all__ = [
    "SCENARIOS",
    "TEAM_ENV_NAME",
    "VMAS_PREFIX",
    "VMAS_TASKS",
    "Scenario",
    "TeamEnv",
    "TeamEnvConfig",
    "find_scenario",
    "heuristic_scenario_names",
    "make_team_env",
    "make_team_vector_env",
    "parse_env_config",
    "pursuit_evaders",
    "register_team_env",
    "scenario_names",
]
