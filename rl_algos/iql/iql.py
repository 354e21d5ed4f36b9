"""IQL: independent Q-learners sharing one agent network, on the team (or individual) reward."""

from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.iql.learner import IQLLearner


class IQLConfig(TeamQConfig):
    """IQL: each present agent's `Q_a(o_a, u_a)` is trained toward its own TD target; no mixer."""

    name = "iql"
    mixer = None

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IQL)

    def get_default_learner_class(self):
        return IQLLearner


class IQL(OffPolicyTeamAlgorithm):
    """Independent Q-learning for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> IQLConfig:
        return IQLConfig()
