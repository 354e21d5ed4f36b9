"""QMIX: a monotonic mixing network, its weights from hypernetworks over a team embedding (Rashid et al. 2018)."""

from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.qmix.learner import QMIXLearner


class QMIXConfig(TeamQConfig):
    """QMIX: a monotonic mixing network, its weights from hypernetworks over a team embedding (Rashid et al. 2018)."""

    name = "qmix"
    mixer = "qmix"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or QMIX)

    def get_default_learner_class(self):
        return QMIXLearner


class QMIX(OffPolicyTeamAlgorithm):
    """QMIX for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> QMIXConfig:
        return QMIXConfig()
