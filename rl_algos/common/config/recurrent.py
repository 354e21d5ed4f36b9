"""`RecurrentAgentConfig`: the recurrent-agent options of the value learners and the actor-critics."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.config.team import TeamAlgorithmConfig

RECURRENT_ALGORITHMS = "iql, vdn, qmix, iac, central_v, ippo, mappo, coma or lica"


class RecurrentAgentConfig(TeamAlgorithmConfig):
    """Base of the configs whose shared agent network may be PyMARL's GRU agent. `.training(...)` options:

    - `recurrent` (False): the agents' shared network (the value learners' Q-network, the actor-critics' actor) is
      an MLP encoder, then a GRU of width `hidden[-1]`, then a linear head; the module is stateful (each agent
      carries its recurrent state from step to step), and training unrolls it over sequences of up to
      `max_seq_len` steps from the state the agents acted from at their first step;
    - `max_seq_len` (20): the length of those sequences (the value learners' replayed sequences, the on-policy
      learners' pieces of each rollout; RLlib's `model_config["max_seq_len"]`).

    Algorithms whose learner has no sequence path set `supports_recurrent = False`: `recurrent=True` stops there.
    """

    supports_recurrent: bool = True

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.recurrent = False
        self.max_seq_len = 20

    def training(
        self, *, recurrent: bool = NotProvided, max_seq_len: int = NotProvided, **kwargs
    ) -> RecurrentAgentConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"recurrent": self.recurrent, "max_seq_len": self.max_seq_len}

    def validate(self) -> None:
        super().validate()
        if type(self.recurrent) is not bool:  # a config error like the others (ValueError), not a TypeError
            raise ValueError(f"recurrent must be True or False, got {self.recurrent!r}")
        if not self.recurrent:
            return
        if not self.supports_recurrent:
            raise ValueError(
                f"{self.algo_name} does not support recurrent agents (recurrent=True); use the MLP agent "
                f"(recurrent=False), or {RECURRENT_ALGORITHMS} for recurrent ones"
            )
        if isinstance(self.max_seq_len, bool) or not isinstance(self.max_seq_len, int) or self.max_seq_len < 1:
            raise ValueError(f"max_seq_len must be an int >= 1, got {self.max_seq_len!r}")
