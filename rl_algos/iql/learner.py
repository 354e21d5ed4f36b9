"""`IQLLearner`: independent Q-learning of the shared agent network, one TD loss per present agent."""

from __future__ import annotations

import torch
from ray.rllib.core import Columns

from rl_algos.common.team_replay import AGENT_REWARDS
from rl_algos.common.value_learner import TeamQLearner


class IQLLearner(TeamQLearner):
    """Per agent: `(Q_a(o_a, u_a) - y_a)^2` over present agents, `y_a = r [+ Munchausen bonus of agent a]
    + gamma^n (1 - d) m'_a V_a(o'_a)`, with `r` the team reward (or agent a's own with `reward="individual"`)
    and `m'_a` agent a's presence at the next step (an agent that left has no future value)."""

    def td_predictions_and_targets(self, module, batch, q_taken, next_values, q_target):
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        with torch.no_grad():
            if self.config.reward == "individual":
                rewards = batch[AGENT_REWARDS].float()  # [B, n]
            else:
                rewards = batch[Columns.REWARDS].float().unsqueeze(-1)  # [B, 1]
            if self.config.munchausen is not None:
                rewards = rewards + self.munchausen_reward_bonus(batch, q_target, joint=False)  # [B, n]
            targets = self.bootstrapped_targets(batch, rewards, next_values * next_obs["mask"])  # [B, n]
        return q_taken, targets, obs["mask"]
