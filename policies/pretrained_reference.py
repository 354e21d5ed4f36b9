"""`PretrainedReferenceAPI`: a frozen copy of a module's shared policy network, the reference of fine-tuning's trust
region (`finetune_kl`)."""

from __future__ import annotations

import torch
from ray.rllib.core.learner.utils import make_target_network

PRETRAINED_REFERENCE = "_pretrained_policy"


class PretrainedReferenceAPI:
    """For RLModules whose agents act through one shared network taking the agent ids (`AgentQNetwork`: a value
    learner's Qs, an actor's logits). With `model_config["pretrained_reference"]` the learner's copy of the module
    holds a frozen copy of that network, `_pretrained_policy`: never trained, never sent to env runners (list it
    in `get_non_inference_attributes`), set to the policy network's weights by `sync_pretrained_reference` once
    pre-trained weights are loaded, and kept in checkpoints so a resumed fine-tuning run keeps its reference.
    A module names its network and the network's per-agent inputs."""

    def policy_network(self) -> torch.nn.Module:
        """The shared network whose outputs `[B, n_max, A]` define the agents' policy."""
        raise NotImplementedError

    def policy_inputs(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The per-agent inputs `[B, n_max, d]` of `policy_network()`."""
        return obs["obs"]

    def make_pretrained_reference(self) -> None:
        """Build the frozen copy when `model_config["pretrained_reference"]` asks for it (learner side only)."""
        if self.model_config["pretrained_reference"] and not self.inference_only:
            setattr(self, PRETRAINED_REFERENCE, make_target_network(self.policy_network()))

    @property
    def has_pretrained_reference(self) -> bool:
        return hasattr(self, PRETRAINED_REFERENCE)

    def sync_pretrained_reference(self) -> None:
        """Copy the policy network's current weights into the reference (after loading pre-trained weights)."""
        if self.has_pretrained_reference:
            getattr(self, PRETRAINED_REFERENCE).load_state_dict(self.policy_network().state_dict())

    @torch.no_grad()
    def pretrained_outputs(self, obs: dict[str, torch.Tensor], ids: torch.Tensor | None = None) -> torch.Tensor:
        """The reference's outputs `[B, n_max, A]`, each slot with its own id or with `ids` ([B, n_max, n_max])."""
        return getattr(self, PRETRAINED_REFERENCE)(self.policy_inputs(obs), ids=ids)
