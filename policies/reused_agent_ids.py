"""`ReusedAgentIds`: a team module whose agents in the slots a pre-training team never sat in act with trained ids."""

from __future__ import annotations

from typing import Any

from policies.networks.agent_ids import reuse_trained_ids


class ReusedAgentIds:
    """For team RLModules whose networks append agent ids (`AppendAgentIds`). With
    `model_config["reused_id_slots"] = N` (`finetune_ids="reuse"`), every such network of the module, target and
    reference copies included, gives slot `k >= N` the id of slot `k mod N` (`reused_id_table`) from construction
    on, on the learner and the env runners alike and whenever the module is rebuilt from its config (a restored
    checkpoint, an evaluation). Applied after RLlib's `setup()`, so the networks a subclass's `setup()` adds are
    covered too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        slots = self.model_config.get("reused_id_slots")
        if slots is not None:
            reuse_trained_ids(self, slots)
