"""Central-V: a shared actor and one centralised critic `V(s)` over the team embedding, trained on-policy."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.central_v.learner import CentralVLearner
from rl_algos.common.actor_critic_config import TeamActorCriticConfig
from rl_algos.common.on_policy import OnPolicyTeamAlgorithm


class CentralVConfig(TeamActorCriticConfig):
    """Central-V (Foerster et al. 2018), advantage actor-critic: one centralised `V(s)` over the team embedding
    (`team_embedding`) of the agents' observations, and every present agent credited with the team advantage
    `R_t - V(s)`; discrete actions, or continuous ones (multiwalker) with the squashed-Gaussian actor. The
    off-policy soft actor-critic the research notes use is its own algorithm, `central_v_sac`.
    """

    critic = "team"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or CentralV)
        self.base = "a2c"

    def training(self, *, base: str = NotProvided, **kwargs) -> CentralVConfig:
        """`base` is accepted only to point the former `base="sac"` at `central_v_sac`."""
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def get_default_learner_class(self):
        return CentralVLearner

    def validate(self) -> None:
        super().validate()
        if self.base == "sac":
            raise ValueError(
                "central_v's sac base is now its own algorithm: use rl_algos.get_config('central_v_sac') "
                "(--algo central_v_sac / --algos central_v_sac in the scripts) and drop base='sac'"
            )
        if self.base != "a2c":
            raise ValueError(f"central_v base={self.base!r} is unknown; central_v is A2C (base='a2c')")


class CentralV(OnPolicyTeamAlgorithm):
    """Central-V for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> CentralVConfig:
        return CentralVConfig()
