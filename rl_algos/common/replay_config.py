"""`ReplayConfig`: the replay options every off-policy team config shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.team_config import TeamAlgorithmConfig


class ReplayConfig(TeamAlgorithmConfig):
    """Base of the configs trained on `OffPolicyTeamAlgorithm`'s replay loop (the value learners, MADDPG,
    Central-V's `sac` base). `.training(...)` options:

    - `learning_starts` (1000): env steps sampled before the first update, by every run (fine-tuning included,
      as replay buffers are not checkpointed);
    - `train_ratio` (0.25): gradient updates per sampled env step;
    - `n_step` (1): n-step returns from the replay buffer;
    - `replay_buffer_config` (`{"type": "EpisodeReplayBuffer", "capacity": 50000}`): RLlib's replay buffer; a
      partial dict is merged into the current one.
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.learning_starts = 1000
        self.train_ratio = 0.25
        self.n_step = 1
        self.replay_buffer_config = {"type": "EpisodeReplayBuffer", "capacity": 50_000}

    def training(
        self,
        *,
        learning_starts: int = NotProvided,
        train_ratio: float = NotProvided,
        n_step: int = NotProvided,
        replay_buffer_config: Mapping[str, Any] = NotProvided,
        **kwargs,
    ) -> ReplayConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def uses_replay(self) -> bool:
        """Whether this configuration trains on the replay loop (Central-V only with `base="sac"`)."""
        return True

    def learning_warmup(self) -> int:
        return self.learning_starts if self.uses_replay() else 0

    def validate(self) -> None:
        super().validate()
        if not self.uses_replay():
            return
        if not isinstance(self.n_step, int) or self.n_step < 1:
            raise ValueError(f"n_step must be an int >= 1, got {self.n_step!r}")
        if not self.train_ratio > 0:
            raise ValueError(f"train_ratio (gradient updates per env step) must be > 0, got {self.train_ratio}")
        if not isinstance(self.learning_starts, int) or self.learning_starts < 0:
            raise ValueError(f"learning_starts must be an int >= 0, got {self.learning_starts!r}")
