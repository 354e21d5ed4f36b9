"""MAPPO: PPO with a parameter-shared actor and a centralised critic over the team embedding (Yu et al. 2022)."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.loops.on_policy import OnPolicyTeamAlgorithm
from rl_algos.mappo.learner import PPOTeamLearner


class TeamPPOConfig(TeamActorCriticConfig):
    """The PPO options shared by IPPO and MAPPO, set through `.training(...)` besides those of
    `TeamActorCriticConfig` (`entropy_coeff` 0.01, `vf_coeff` 0.5, `normalize_advantages`) and RLlib's own
    (`lr` 5e-4, `train_batch_size_per_learner` 1,000 env steps of fresh rollouts per update, `num_epochs` 10 passes
    over them, `minibatch_size` None: the whole batch is one minibatch, as MAPPO on MPE; a size cuts it into
    shuffled minibatches):

    - `clip_param` (0.2): the surrogate's ratio clip epsilon;
    - `vf_clip_param` (10.0, None: off): how far, in return units, a value may move from the sampling critic's
      before its loss stops improving (PPO2's and MAPPO's value clipping);
    - `lambda_` (0.95): GAE's lambda;
    - `value_normalization` (True): the critic learns its targets standardised by their running mean and std
      (`ValueNormalizer`, MAPPO's default), so a value of -120 return units is an output of order one.

    The fine-tuning trust region (`finetune_kl`) adds the KL to the pre-trained policy as for the A2C learners.
    With `recurrent=True` (a GRU actor) the batch is RLlib's zero-padded sequences of up to `max_seq_len` steps and
    a minibatch is the whole sequences that hold about `minibatch_size` steps, shuffled, each unrolled from the
    state it was sampled with (as RLlib's recurrent PPO).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.clip_param = 0.2
        self.vf_clip_param: float | None = 10.0
        self.lambda_ = 0.95
        self.value_normalization = True
        # MAPPO on MPE (Yu et al. 2022, appendix): 10 epochs of one minibatch per batch, lr 7e-4; 1,000-step batches
        # (40 spread episodes) keep the update rate close to the A2C learners' on two cores.
        self.lr = 5e-4
        self.train_batch_size_per_learner = 1000
        self.num_epochs = 10
        self.minibatch_size = None

    def training(
        self,
        *,
        clip_param: float = NotProvided,
        vf_clip_param: float | None = NotProvided,
        lambda_: float = NotProvided,
        value_normalization: bool = NotProvided,
        **kwargs,
    ) -> TeamPPOConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"value_normalization": self.value_normalization}

    def get_default_learner_class(self):
        return PPOTeamLearner

    def validate(self) -> None:
        super().validate()
        if not 0 < self.clip_param < 1:
            raise ValueError(f"clip_param={self.clip_param} must be in (0, 1): the ratio is clipped to 1 +- it")
        if self.vf_clip_param is not None and not self.vf_clip_param > 0:
            raise ValueError(f"vf_clip_param={self.vf_clip_param} must be > 0, or None for no value clipping")
        if not 0 <= self.lambda_ <= 1:
            raise ValueError(f"lambda_={self.lambda_} must be in [0, 1]")
        if not isinstance(self.num_epochs, int) or self.num_epochs < 1:
            raise ValueError(f"num_epochs={self.num_epochs!r} must be an int >= 1")
        if self.minibatch_size is not None and not 0 < self.minibatch_size <= self.train_batch_size_per_learner:
            raise ValueError(
                f"minibatch_size={self.minibatch_size} must be None (the whole batch) or in [1, "
                f"train_batch_size_per_learner={self.train_batch_size_per_learner}]"
            )


class MAPPOConfig(TeamPPOConfig):
    """MAPPO (Yu et al. 2022): PPO with a centralised critic `V(s)` over the team embedding (`team_embedding`:
    `concat`, `mean` or `graph`) of the agents' observations, every present agent credited with the team's GAE
    advantage; discrete actions, or continuous ones with the squashed-Gaussian actor."""

    name = "mappo"
    critic = "team"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or MAPPO)


class MAPPO(OnPolicyTeamAlgorithm):
    """MAPPO for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> MAPPOConfig:
        return MAPPOConfig()
