"""IAC: independent actor-critic, a shared actor and a shared per-agent critic `V(o_a)` (Foerster et al. 2018)."""

from rl_algos.central_v.learner import CentralVLearner
from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm


class IACConfig(TeamActorCriticConfig):
    """IAC: each present agent's advantage is its own `R_t - V(o_a)`; `team_embedding` is not used (no
    centralised critic), so an embedding grid gives IAC the same network for every embedding. Discrete actions, or
    continuous ones (multiwalker) with the squashed-Gaussian actor. The off-policy IAC on AWAC is `iac_awac`."""

    name = "iac"
    critic = "agent"
    moved_bases = {"awac": "iac_awac", "ppo": "ippo"}  # noqa: RUF012 (read-only)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IAC)

    def get_default_learner_class(self):
        return CentralVLearner


class IAC(OnPolicyTeamAlgorithm):
    """Independent advantage actor-critic for a parameter-shared team, on the team reward."""

    @classmethod
    def get_default_config(cls) -> IACConfig:
        return IACConfig()
