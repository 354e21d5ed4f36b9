"""`RecurrentAgentOptions`: the recurrent-agent options of the value learners and the on-policy actor-critics."""

from __future__ import annotations

from typing import Any, ClassVar

from rl_algos.common.config.options import OptionGroup


class RecurrentAgentOptions(OptionGroup):
    """The option group of the algorithms whose shared agent network may be PyMARL's GRU agent (those whose
    learners have a sequence path):

    - `recurrent` (False): the agents' shared network (the value learners' Q-network, the actor-critics' actor) is
      an MLP encoder, then a GRU of width `hidden[-1]`, then a linear head; the module is stateful (each agent
      carries its recurrent state from step to step), and training unrolls it over sequences of up to
      `max_seq_len` steps from the state the agents acted from at their first step;
    - `max_seq_len` (20): the length of those sequences (the value learners' replayed sequences, the on-policy
      learners' pieces of each rollout; RLlib's `model_config["max_seq_len"]`).

    An algorithm without this group has MLP agents only; `recurrent=True` there stops with the list of those that
    take it.
    """

    title = "recurrent agents"
    defaults: ClassVar[dict[str, Any]] = {"recurrent": False, "max_seq_len": 20}

    @classmethod
    def model_config(cls, config: Any) -> dict[str, Any]:
        return {"recurrent": config.recurrent, "max_seq_len": config.max_seq_len}

    @classmethod
    def validate(cls, config: Any) -> None:
        if type(config.recurrent) is not bool:  # a config error like the others (ValueError), not a TypeError
            raise ValueError(f"recurrent must be True or False, got {config.recurrent!r}")
        max_seq_len = config.max_seq_len
        if config.recurrent and (isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1):
            raise ValueError(f"max_seq_len must be an int >= 1, got {max_seq_len!r}")
