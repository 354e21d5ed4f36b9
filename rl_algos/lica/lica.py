"""LICA (Zhou et al. 2020, arXiv 2007.02529): implicit credit assignment through a centralised critic that mixes
the agents' action distributions, with hypernetworks over the team embedding."""

from __future__ import annotations

from rl_algos.coma.coma import COMAConfig
from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm
from rl_algos.lica.learner import LICALearner


class LICAConfig(COMAConfig):
    """LICA, on-policy, for discrete actions: a shared actor trained by the gradient of the mixing critic
    `Q(s, pi_1..pi_n)` (`MixingCritic`: hypernetworks over the team embedding `team_embedding` of the agents'
    observations) with adaptive entropy regularisation, the critic trained on the taken joint actions.

    `.training(...)` options: COMA's critic options (`td_lambda` 0.8, `target_update_interval` 20, `tau` 1.0), the
    actor-critic ones (`entropy_coeff` 0.01: here the weight of LICA's adaptive entropy term `H / sg(H)`, whose
    gradient is the entropy's divided by its size; `vf_coeff` 0.5; `normalize_advantages` is unused: LICA's actor
    has no advantages).
    """

    name = "lica"
    critic = "lica"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or LICA)

    def get_default_learner_class(self):
        return LICALearner


class LICA(OnPolicyTeamAlgorithm):
    """LICA for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> LICAConfig:
        return LICAConfig()
