"""MADDPG (Lowe et al. 2017) in TD3 style (Fujimoto et al. 2018) for a parameter-shared team."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.maddpg_module import TeamMADDPGModule
from rl_algos.common.config.networks import ActorCriticNetworkOptions
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.config.unmixing import UnmixingOptions
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.maddpg.learner import TeamMADDPGLearner

ACTOR_OTHERS = ("replayed", "policy")


class MADDPGConfig(TeamAlgorithmConfig):
    """MADDPG, TD3-style: a shared deterministic actor, twin critics over the joint (observation, action) pairs
    and the min of their targets, target-policy smoothing, delayed actor updates, soft targets. Discrete actions
    go through a straight-through Gumbel-softmax; continuous ones through `tanh` scaled onto the action bounds.

    `.training(...)` options (besides RLlib's `lr` 5e-4, `gamma` 0.99, `grad_clip` 10 per optimizer,
    `train_batch_size_per_learner` 64):

    - the network options (`ActorCriticNetworkOptions`); `team_embedding="concat"` gives each agent its own
      unshared critic over the concatenated pairs (the original MADDPG), `"mean"` / `"graph"` (or a dict) one
      shared critic pooling over the pairs;
    - `policy_delay` (2): critic updates per actor update; `target_noise` (0.2), `target_noise_clip` (0.5):
      target-policy smoothing of continuous actions; `exploration_noise` (0.1): Gaussian noise of continuous
      actions on the env runners (the three noises in units of half the action bounds' width);
      `gumbel_temperature` (1.0); `logits_reg` (1e-3): weight of `mean(logits^2)` in the discrete actor loss;
    - `actor_others` ("replayed"): the other agents' actions in the actor's critic input, their replayed ones
      (Lowe et al. 2017) or `"policy"`, the current policy's actions held fixed (EPyMARL's MADDPG, FACMAC's
      centralised policy gradient, Peng et al. 2021), so agent a's gradient is taken at the joint action the team
      would play now rather than at one it played before;
    - `unmix` (None, off) and greedy unmixing's other options (`UnmixingOptions`: `cql_alpha` 1.0, `unmix_eps`,
      `target_gap`): each agent's own critic `Q_ind(o_a, u_a)` is weighed against the pooled critics by their
      conservative gaps (the actor's action against the replayed one), in the critics' losses and the actor's
      objective, as `gum` weighs its independent and mixed Qs;
    - the replay options (`ReplayOptions`: `tau` 0.005: soft target updates after every learner update, ...).
    """

    name = "maddpg"
    # MLP agents only: its learner trains on replayed transitions, not sequences
    option_groups = (*TeamAlgorithmConfig.option_groups, ReplayOptions, ActorCriticNetworkOptions, UnmixingOptions)
    continuous_actions = True

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or MADDPG)
        self.policy_delay = 2
        self.target_noise = 0.2
        self.target_noise_clip = 0.5
        self.exploration_noise = 0.1
        self.gumbel_temperature = 1.0
        self.logits_reg = 1e-3
        self.actor_others = "replayed"

    def training(
        self,
        *,
        policy_delay: int = NotProvided,
        target_noise: float = NotProvided,
        target_noise_clip: float = NotProvided,
        exploration_noise: float = NotProvided,
        gumbel_temperature: float = NotProvided,
        logits_reg: float = NotProvided,
        actor_others: str = NotProvided,
        **kwargs,
    ) -> MADDPGConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"exploration_noise": self.exploration_noise}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamMADDPGModule)

    def get_default_learner_class(self):
        return TeamMADDPGLearner

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.policy_delay, int) or self.policy_delay < 1:
            raise ValueError(f"policy_delay must be an int >= 1, got {self.policy_delay!r}")
        if min(self.target_noise, self.target_noise_clip, self.exploration_noise, self.logits_reg) < 0:
            raise ValueError("target_noise, target_noise_clip, exploration_noise and logits_reg must be >= 0")
        if self.actor_others not in ACTOR_OTHERS:
            raise ValueError(
                f"actor_others={self.actor_others!r} is unknown; use one of {', '.join(map(repr, ACTOR_OTHERS))}"
            )
        if not self.gumbel_temperature > 0:
            raise ValueError(f"gumbel_temperature must be positive, got {self.gumbel_temperature}")


class MADDPG(OffPolicyTeamAlgorithm):
    """MADDPG for a parameter-shared team, discrete or continuous actions."""

    @classmethod
    def get_default_config(cls) -> MADDPGConfig:
        return MADDPGConfig()
