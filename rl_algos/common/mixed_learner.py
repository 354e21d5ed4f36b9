"""`MixedQLearner`: a team value `Q_tot = mixer(Q_1..Q_n, team)` trained on the team reward (VDN, QMIX)."""

from __future__ import annotations

import torch
from ray.rllib.core import Columns

from rl_algos.common.value_learner import TeamQLearner


class MixedQLearner(TeamQLearner):
    """TD loss on the mixed value: `(Q_tot(s, u) - y)^2`, `y = r [+ Munchausen bonus of the joint log-policy]
    + gamma^n (1 - d) Q_tot_target(s', v')`, where `v'` are the per-agent bootstrap values (double-Q or soft)
    mixed by the target mixer over the agents present at `s'`."""

    def td_predictions_and_targets(self, module, batch, q_taken, next_values, q_target):
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        q_tot = module.mix(q_taken, obs)  # [B]
        with torch.no_grad():
            next_q_tot = module.mix(next_values, next_obs, target=True)  # [B]
            rewards = batch[Columns.REWARDS].float()  # [B]
            if self.config.munchausen is not None:
                rewards = rewards + self.munchausen_reward_bonus(batch, q_target, joint=True)
            targets = self.bootstrapped_targets(batch, rewards, next_q_tot)
        return q_tot, targets, torch.ones_like(q_tot)
