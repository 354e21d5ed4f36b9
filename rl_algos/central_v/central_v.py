"""Central-V: a shared actor and one centralised critic `V(s)` over the team embedding (Foerster et al. 2018)."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.a2c_learner import TeamA2CLearner
from rl_algos.common.actor_critic_config import TeamActorCriticConfig
from rl_algos.common.on_policy import OnPolicyTeamAlgorithm

BASES = ("a2c",)


class CentralVConfig(TeamActorCriticConfig):
    """Central-V: every present agent is credited with the team advantage `R_t - V(s)`, `V(s)` a centralised
    critic over the team embedding of the agents' observations (`team_embedding`). `base` selects the learner:
    `"a2c"` (on-policy, n-step advantages)."""

    critic = "team"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or CentralV)
        self.base = "a2c"

    def training(self, *, base: str = NotProvided, **kwargs) -> CentralVConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def get_default_learner_class(self):
        return TeamA2CLearner

    def validate(self) -> None:
        super().validate()
        if self.base not in BASES:
            raise ValueError(f"central_v base={self.base!r} is unknown; use one of {', '.join(BASES)}")


class CentralV(OnPolicyTeamAlgorithm):
    """Central-V for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> CentralVConfig:
        return CentralVConfig()
