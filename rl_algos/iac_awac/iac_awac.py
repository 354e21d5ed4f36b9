"""IAC on an AWAC base (Nair et al. 2020): independent actor-critic, off-policy on the team replay, as the research
notes build IAC."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.actor_critic_module import TeamActorCriticModule
from rl_algos.common.config.networks import ActorCriticNetworkOptions
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.iac_awac.learner import IACAWACLearner


class IACAWACConfig(TeamAlgorithmConfig):
    """Independent actor-critic with AWAC's updates, for discrete actions: a shared actor `pi(u | o_a, id_a)` and a
    shared per-agent critic `Q(o_a, u)` (one output per action; no team embedding, so an embedding grid gives it
    the same network), both trained on replayed transitions of the team reward. The critic learns the current
    policy's value with target networks; the actor regresses onto the replayed actions weighted by
    `min(exp(A / awac_lambda), awac_max_weight)`, `A = Q(o_a, u_a) - E_{u ~ pi}[Q(o_a, u)]`.

    `.training(...)` options: `awac_lambda` (1.0), the advantage temperature (smaller: greedier toward the critic);
    `awac_max_weight` (20.0), the clip of the weights; the network options (`ActorCriticNetworkOptions`); RLlib's
    `lr` (5e-4) and `train_batch_size_per_learner` (64); and the replay options (`ReplayOptions`: `tau` 0.005:
    Polyak averaging of the target critic per update, `learning_starts` 1000, `train_ratio` 0.25, `n_step` 1, ...).
    """

    name = "iac_awac"
    # MLP agents only (replayed transitions; the on-policy `iac` takes recurrent=True); discrete actions
    option_groups = (*TeamAlgorithmConfig.option_groups, ReplayOptions, ActorCriticNetworkOptions)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IACAWAC)
        self.awac_lambda = 1.0
        self.awac_max_weight = 20.0

    def training(
        self, *, awac_lambda: float = NotProvided, awac_max_weight: float = NotProvided, **kwargs
    ) -> IACAWACConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"critic": "agent_q"}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamActorCriticModule)

    def get_default_learner_class(self):
        return IACAWACLearner

    def validate(self) -> None:
        super().validate()
        if not self.awac_lambda > 0 or not self.awac_max_weight > 0:
            raise ValueError(
                f"awac_lambda ({self.awac_lambda}) and awac_max_weight ({self.awac_max_weight}) must be positive"
            )


class IACAWAC(OffPolicyTeamAlgorithm):
    """IAC on an AWAC base for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> IACAWACConfig:
        return IACAWACConfig()
