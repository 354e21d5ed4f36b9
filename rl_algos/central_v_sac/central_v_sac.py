"""Central-V SAC: a shared actor and twin centralised critics over the team embedding, soft actor-critic on the
replay (the research notes' Central-V)."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.sac_module import TeamSACModule
from rl_algos.central_v_sac.learner import CentralVSACLearner
from rl_algos.common.config.networks import ActorCriticNetworkOptions
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.config.unmixing import UnmixingOptions
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm


class CentralVSACConfig(TeamAlgorithmConfig):
    """Central-V on a soft actor-critic base (Christodoulou 2019 for discrete actions, Haarnoja et al. 2018 for
    continuous ones), off-policy on the team replay: a shared actor, twin centralised critics over the team
    embedding (`team_embedding`) of (observation, action) pairs and a learned temperature. Discrete actions:
    COMA-style critics `Q_i(s, (u^-a, .))` and a target entropy of `target_entropy_scale * log(A)`; continuous
    actions (multiwalker): a squashed-Gaussian actor, joint-action critics `Q_i(o, u)_a` (MADDPG's) and a target
    entropy of `-k` for k action dimensions.

    `.training(...)` options: `initial_alpha` (0.2), `target_entropy_scale` (0.89, discrete); the network options
    (`ActorCriticNetworkOptions`); `unmix` (None, off) and greedy unmixing's other options (`UnmixingOptions`):
    each agent's own critic `Q_ind(o_a, .)` weighed against the pooled twin critics by their conservative gaps (the
    policy's actions against the replayed one), in the critics' losses and the actor's Q, as `gum` weighs its
    independent and mixed Qs; RLlib's `lr` (2e-3) and `train_batch_size_per_learner` (100); and the replay
    options (`ReplayOptions`: `tau` 0.005: Polyak averaging of the target critics per update, `learning_starts`
    1000, `train_ratio` 0.25 updates per env step, `n_step` 1, `replay_capacity` 50,000, ...).
    """

    name = "central_v_sac"
    # MLP agents only: its learner trains on replayed transitions, not sequences
    option_groups = (*TeamAlgorithmConfig.option_groups, ReplayOptions, ActorCriticNetworkOptions, UnmixingOptions)
    continuous_actions = True

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or CentralVSAC)
        self.initial_alpha = 0.2
        self.target_entropy_scale = 0.89
        # The settings this learner was measured with (docs/actor_critic.md's table), from when it was Central-V's
        # `sac` base and took the on-policy Central-V's.
        self.lr = 2e-3
        self.train_batch_size_per_learner = 100
        self.rollout_fragment_length = "auto"

    def training(
        self,
        *,
        initial_alpha: float = NotProvided,
        target_entropy_scale: float = NotProvided,
        **kwargs,
    ) -> CentralVSACConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"initial_alpha": self.initial_alpha}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamSACModule)

    def get_default_learner_class(self):
        return CentralVSACLearner

    def validate(self) -> None:
        super().validate()
        if not self.initial_alpha > 0:
            raise ValueError(f"initial_alpha must be positive, got {self.initial_alpha}")
        if not 0.0 < self.target_entropy_scale <= 1.0:
            raise ValueError(
                f"target_entropy_scale must be in (0, 1] (a fraction of the uniform policy's entropy log A), "
                f"got {self.target_entropy_scale}"
            )


class CentralVSAC(OffPolicyTeamAlgorithm):
    """Central-V SAC for a parameter-shared team, discrete or continuous actions."""

    @classmethod
    def get_default_config(cls) -> CentralVSACConfig:
        return CentralVSACConfig()
