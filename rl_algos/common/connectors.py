"""Learner connector pieces for team batches."""

from __future__ import annotations

from typing import Any

from ray.rllib.connectors.connector_v2 import ConnectorV2

AGENT_REWARDS = "agent_rewards"


class AddAgentRewardsToBatch(ConnectorV2):
    """Adds each transition's per-agent rewards (`infos["agent_rewards"]`, [n_max]) to the train batch as
    `"agent_rewards"`, for independent learners on individual rewards. Needs 1-step transitions sampled
    with `include_infos=True` (the info after step t holds the rewards of step t)."""

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            self.add_n_batch_items(
                batch,
                AGENT_REWARDS,
                items_to_add=[info[AGENT_REWARDS] for info in episode.get_infos(slice(1, len(episode) + 1))],
                num_items=len(episode),
                single_agent_episode=episode,
            )
        return batch
