"""Team environments: PettingZoo parallel envs seen as one RLlib "team" agent, padded to `n_max` agents.

`make_team_env(scenario, n_agents, n_max, **options)` builds one; the same is registered with RLlib/Tune
as `"team"`, taking `env_config = {"scenario": ..., "n_agents": ..., "n_max": ..., **options}`.
"""

from envs.registration import TEAM_ENV_NAME, register_team_env
from envs.scenarios import SCENARIOS, Scenario, pursuit_evaders
from envs.team_env import TeamEnv, TeamEnvConfig, make_team_env, parse_env_config

register_team_env()

__all__ = [
    "SCENARIOS",
    "TEAM_ENV_NAME",
    "Scenario",
    "TeamEnv",
    "TeamEnvConfig",
    "make_team_env",
    "parse_env_config",
    "pursuit_evaders",
    "register_team_env",
]
