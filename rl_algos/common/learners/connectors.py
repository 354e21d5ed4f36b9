"""Learner connector pieces for the on-policy team learners' batches."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import Columns

ROLLOUT_CUTS = "rollout_cuts"


class AddRolloutCutsToBatch(ConnectorV2):
    """Adds `"rollout_cuts"`: 1.0 at the last step of each sampled episode chunk, else 0.0, so an on-policy loss
    knows where a rollout stops and its return must bootstrap from the critic. Needs the batch laid out episode
    by episode in time order (RLlib's learner connectors do this, and the learner does not shuffle a single
    minibatch)."""

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            cuts = [0.0] * len(episode)
            cuts[-1] = 1.0
            self.add_n_batch_items(
                batch, ROLLOUT_CUTS, items_to_add=cuts, num_items=len(episode), single_agent_episode=episode
            )
        return batch


def bootstrap_cuts(batch: dict[str, Any]) -> torch.Tensor:
    """`[T]` 1.0 where a rollout of an on-policy batch stops after step t and its return must bootstrap from the
    critic: the rollout's last sampled step (`ROLLOUT_CUTS`) or a truncation; else 0.0."""
    return torch.maximum(batch[ROLLOUT_CUTS].float(), batch[Columns.TRUNCATEDS].float())
