"""IPPO: PPO with a parameter-shared actor and a shared per-agent critic `V(o_a)` (de Witt et al. 2020)."""

from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm
from rl_algos.mappo.mappo import TeamPPOConfig


class IPPOConfig(TeamPPOConfig):
    """IPPO: each present agent's GAE advantage from its own `V(o_a)`, on the team reward; `team_embedding` is not
    used (no centralised critic). Discrete actions, or continuous ones with the squashed-Gaussian actor."""

    name = "ippo"
    critic = "agent"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IPPO)


class IPPO(OnPolicyTeamAlgorithm):
    """Independent PPO for a parameter-shared team, on the team reward."""

    @classmethod
    def get_default_config(cls) -> IPPOConfig:
        return IPPOConfig()
