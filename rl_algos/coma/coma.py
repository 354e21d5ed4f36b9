"""COMA: counterfactual multi-agent policy gradients over a team-embedding critic (Foerster et al. 2018)."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.coma.learner import COMALearner
from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm


class COMAConfig(TeamActorCriticConfig):
    """COMA: a shared actor credited by counterfactual advantages from `Q(s, (u^-a, .))`, a critic over the team
    embedding (`team_embedding`) of the agents' (observation, action) pairs.

    `.training(...)` options besides the actor-critic ones: `td_lambda` (0.8), the critic's TD(lambda);
    `target_update_interval` (20 learner updates) and `tau` (1.0: hard copies; < 1: Polyak averaging), the
    target critic's updates.
    """

    name = "coma"
    critic = "coma"
    continuous_actions = False  # the counterfactual baseline sums over the agent's discrete actions

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or COMA)
        self.td_lambda = 0.8
        self.target_update_interval = 20
        self.tau = 1.0

    def training(
        self,
        *,
        td_lambda: float = NotProvided,
        target_update_interval: int = NotProvided,
        tau: float = NotProvided,
        **kwargs,
    ) -> COMAConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def get_default_learner_class(self):
        return COMALearner

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.td_lambda <= 1.0:
            raise ValueError(f"td_lambda must be in [0, 1], got {self.td_lambda}")
        self.validate_target_updates()


class COMA(OnPolicyTeamAlgorithm):
    """COMA for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> COMAConfig:
        return COMAConfig()
