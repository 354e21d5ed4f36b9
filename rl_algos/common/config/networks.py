"""`ActorCriticNetworksConfig`: the network options every actor-critic team config shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided

from policies.networks.team_embedding import parse_embedding_spec
from rl_algos.common.config.recurrent import RecurrentAgentConfig


class ActorCriticNetworksConfig(RecurrentAgentConfig):
    """Base of the actor-critic configs (IAC, Central-V, COMA, MADDPG): their actor's and critic's options, set
    through `.training(...)` and handed to the RLModule's `model_config`:

    - `team_embedding` (`"concat"`): the centralised critic's view of the team (`"concat"` | `"mean"` | `"graph"`
      or a dict, as for the value learners); unused by per-agent critics;
    - `hidden` ((64, 64)), `obs_agent_id` (True): the shared actor; `critic_hidden` ((64, 64)): the critic;
    - `recurrent` (False), `max_seq_len` (20): a GRU actor (`RecurrentAgentConfig`), on-policy learners only.
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.team_embedding: str | Mapping[str, Any] = "concat"
        self.hidden: Sequence[int] = (64, 64)
        self.critic_hidden: Sequence[int] = (64, 64)
        self.obs_agent_id = True

    def training(
        self,
        *,
        team_embedding: str | Mapping[str, Any] = NotProvided,
        hidden: Sequence[int] = NotProvided,
        critic_hidden: Sequence[int] = NotProvided,
        obs_agent_id: bool = NotProvided,
        **kwargs,
    ) -> ActorCriticNetworksConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {
            "hidden": tuple(self.hidden),
            "critic_hidden": tuple(self.critic_hidden),
            "obs_agent_id": self.obs_agent_id,
            "team_embedding": self.team_embedding,
        }

    def validate(self) -> None:
        super().validate()
        parse_embedding_spec(self.team_embedding)
