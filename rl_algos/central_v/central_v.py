"""Central-V: a shared actor and a centralised critic over the team embedding, on an A2C or a SAC base."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.sac_module import TeamSACModule
from rl_algos.central_v.sac_learner import TeamSACLearner
from rl_algos.common.a2c_learner import TeamA2CLearner
from rl_algos.common.actor_critic_config import TeamActorCriticConfig
from rl_algos.common.off_policy import OffPolicyTeamAlgorithm
from rl_algos.common.on_policy import OnPolicyTeamAlgorithm
from rl_algos.common.replay_config import ReplayConfig

BASES = ("a2c", "sac")


class CentralVConfig(ReplayConfig, TeamActorCriticConfig):
    """Central-V (Foerster et al. 2018) with its learner chosen by `base`:

    - `"a2c"`: on-policy; one centralised `V(s)` over the team embedding (`team_embedding`) of the agents'
      observations, and every present agent credited with the team advantage `R_t - V(s)`; discrete actions, or
      continuous ones (multiwalker) with the squashed-Gaussian actor;
    - `"sac"`: off-policy soft actor-critic, as the research notes use, with replay, twin centralised critics over
      the team embedding of (observation, action) pairs and a learned temperature. Discrete actions: COMA-style
      critics `Q_i(s, (u^-a, .))` and a target entropy of `target_entropy_scale * log(A)`; continuous actions
      (multiwalker): a squashed-Gaussian actor, joint-action critics `Q_i(o, u)_a` (MADDPG's) and a target entropy
      of `-k` for k action dimensions. Options: `initial_alpha` (0.2), `target_entropy_scale` (0.89, discrete),
      and the replay options of `ReplayConfig` (`tau` 0.005: Polyak averaging of the target critics per update,
      `learning_starts` 1000, `train_ratio` 0.25 updates per env step, `n_step` 1, `replay_capacity` 50,000, ...).
    """

    critic = "team"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or CentralV)
        self.base = "a2c"
        self.initial_alpha = 0.2
        self.target_entropy_scale = 0.89
        # The default a2c base samples its on-policy rollouts in the algorithm's process; give the sac base
        # `.env_runners(num_env_runners=1)` for the replay loop's asynchronous mode.
        self.num_env_runners = 0

    def training(
        self,
        *,
        base: str = NotProvided,
        initial_alpha: float = NotProvided,
        target_entropy_scale: float = NotProvided,
        **kwargs,
    ) -> CentralVConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"initial_alpha": self.initial_alpha}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamSACModule) if self.base == "sac" else super().get_default_rl_module_spec()

    def get_default_learner_class(self):
        return TeamSACLearner if self.base == "sac" else TeamA2CLearner

    def uses_replay(self) -> bool:
        return self.base == "sac"

    def validate(self) -> None:
        super().validate()
        if self.base not in BASES:
            raise ValueError(f"central_v base={self.base!r} is unknown; use one of {', '.join(BASES)}")
        if self.base == "sac":
            if not self.initial_alpha > 0:
                raise ValueError(f"initial_alpha must be positive, got {self.initial_alpha}")
            if not 0.0 < self.target_entropy_scale <= 1.0:
                raise ValueError(
                    f"target_entropy_scale must be in (0, 1] (a fraction of the uniform policy's entropy log A), "
                    f"got {self.target_entropy_scale}"
                )


class CentralV(OffPolicyTeamAlgorithm, OnPolicyTeamAlgorithm):
    """Central-V for a parameter-shared team: the on-policy loop for `base="a2c"`, the replay loop for `"sac"`."""

    @classmethod
    def get_default_config(cls) -> CentralVConfig:
        return CentralVConfig()

    def training_step(self) -> None:
        if self.config.base == "sac":
            OffPolicyTeamAlgorithm.training_step(self)
        else:
            OnPolicyTeamAlgorithm.training_step(self)
