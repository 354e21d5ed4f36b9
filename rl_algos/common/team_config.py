"""`TeamAlgorithmConfig`: what every team algorithm's AlgorithmConfig does the same way."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided

import envs


class TeamAlgorithmConfig(AlgorithmConfig):
    """Base of the team algorithms' configs: `training()` keyword handling and the team env's action checks."""

    def _set_provided(self, arguments: dict[str, Any]) -> None:
        """Set every keyword argument of a `training()` call (its `locals()`) that was actually provided."""
        for name, value in arguments.items():
            if name in ("self", "kwargs", "__class__") or value is NotProvided:
                continue
            setattr(self, name, value)

    def learning_warmup(self) -> int:
        """Env steps a run samples before its first update: the replay learners' `learning_starts` (counted
        afresh by every run into an empty replay, fine-tuning included); 0 when on-policy."""
        return 0

    @property
    def algo_name(self) -> str:
        return self.algo_class.__name__ if self.algo_class else type(self).__name__

    def team_env_config(self) -> envs.TeamEnvConfig | None:
        """The parsed team env config, or None when the env is not the team env."""
        return envs.parse_env_config(**self.env_config) if self.env == envs.TEAM_ENV_NAME else None

    def require_discrete_actions(self, alternative: str = "") -> None:
        """Reject a team env with continuous actions, saying which scenarios have discrete ones (and, if given,
        `alternative`: what else handles continuous actions)."""
        env_config = self.team_env_config()
        if env_config is not None and env_config.continuous_actions:
            raise ValueError(
                f"{self.algo_name} needs discrete actions, but scenario {env_config.scenario.name!r} is configured "
                "with continuous actions; use a discrete scenario (spread, pursuit, matrix) or continuous_actions=False"
                + (f", or {alternative}" if alternative else "")
            )
