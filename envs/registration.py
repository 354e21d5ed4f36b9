"""Registration of `TeamEnv` with RLlib/Tune under the name `"team"`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEAM_ENV_NAME = "team"


def team_env_creator(env_config: Mapping[str, Any]):
    """RLlib env creator: `env_config` holds `scenario`, `n_agents`, `n_max` and the env options. With `num_envs` (RLlib
    adds it under `gym_env_vectorize_mode="vector_entry_point"`) it builds that many as one vector env."""
    from envs.team_env import make_team_env, make_team_vector_env

    if "num_envs" in env_config:
        return make_team_vector_env(**env_config)
    return make_team_env(**env_config)


def register_team_env() -> None:
    """Register `"team"` with Tune's registry (RLlib resolves `.environment("team")` through it)."""
    from ray.tune.registry import register_env

    register_env(TEAM_ENV_NAME, team_env_creator)
