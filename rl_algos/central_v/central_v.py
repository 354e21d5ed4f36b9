"""Central-V: a shared actor and one centralised critic `V(s)` over the team embedding, trained on-policy."""

from __future__ import annotations

from rl_algos.central_v.learner import CentralVLearner
from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm


class CentralVConfig(TeamActorCriticConfig):
    """Central-V (Foerster et al. 2018), advantage actor-critic: one centralised `V(s)` over the team embedding
    (`team_embedding`) of the agents' observations, and every present agent credited with the team advantage
    `R_t - V(s)`; discrete actions, or continuous ones (multiwalker) with the squashed-Gaussian actor. The
    off-policy soft actor-critic the research notes use is its own algorithm, `central_v_sac`.
    """

    name = "central_v"
    critic = "team"
    moved_bases = {"sac": "central_v_sac", "ppo": "mappo"}  # noqa: RUF012 (read-only)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or CentralV)

    def get_default_learner_class(self):
        return CentralVLearner


class CentralV(OnPolicyTeamAlgorithm):
    """Central-V for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> CentralVConfig:
        return CentralVConfig()
