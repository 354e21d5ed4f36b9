"""`ActorCriticNetworkOptions`: the network options every actor-critic team algorithm takes."""

from __future__ import annotations

from typing import Any, ClassVar

from policies.networks.team_embedding import parse_embedding_spec
from rl_algos.common.config.options import OptionGroup


class ActorCriticNetworkOptions(OptionGroup):
    """The option group of the actor-critics (IAC, Central-V, COMA, LICA, MAPPO, IPPO, MADDPG, Central-V SAC,
    IAC-AWAC): their actor's and critic's networks, handed to the RLModule's `model_config`:

    - `team_embedding` (`"concat"`): the centralised critic's view of the team (`"concat"` | `"mean"` | `"graph"`
      or a dict, as for the value learners); unused by per-agent critics;
    - `hidden` ((64, 64)), `obs_agent_id` (True): the shared actor; `critic_hidden` ((64, 64)): the critic.
    """

    title = "the actor-critic networks"
    defaults: ClassVar[dict[str, Any]] = {
        "team_embedding": "concat",
        "hidden": (64, 64),
        "critic_hidden": (64, 64),
        "obs_agent_id": True,
    }

    @classmethod
    def model_config(cls, config: Any) -> dict[str, Any]:
        return {
            "hidden": tuple(config.hidden),
            "critic_hidden": tuple(config.critic_hidden),
            "obs_agent_id": config.obs_agent_id,
            "team_embedding": config.team_embedding,
        }

    @classmethod
    def validate(cls, config: Any) -> None:
        parse_embedding_spec(config.team_embedding)
