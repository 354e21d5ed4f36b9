"""VDN: the team value is the sum of the present agents' Qs (Sunehag et al. 2018)."""

from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.qmix.learner import QMIXLearner


class VDNConfig(TeamQConfig):
    """VDN: the team value is the sum of the present agents' Qs (Sunehag et al. 2018)."""

    name = "vdn"
    mixer = "vdn"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or VDN)

    def get_default_learner_class(self):
        return QMIXLearner


class VDN(OffPolicyTeamAlgorithm):
    """VDN for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> VDNConfig:
        return VDNConfig()
