"""`IQLLearner`: independent Q-learning of the shared agent network, one TD loss per present agent."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns

from policies.networks.masked import chosen_action_values, masked_mse
from rl_algos.common.learners.value import TeamQLearner
from rl_algos.common.losses.value import munchausen_action_bonus, next_agent_values, td_metrics, value_targets
from rl_algos.common.replay.buffer import AGENT_REWARDS
from rl_algos.common.replay.ready_batch import fold_sequences


class IQLLearner(TeamQLearner):
    """Independent Q-learning on replayed n-step transitions (or, for recurrent agents, sequences)."""

    # L = sum_a m_a (Q_a(o_a, u_a) - y_a)^2 / sum_a m_a, over present agents a, with
    # y_a = r [+ alpha clip(tau log pi(u_a | o_a), l0, 0)] + gamma^n (1 - d) m'_a V_a(o'_a):
    # r the team reward (or agent a's own with reward="individual"), V the double-Q (or Munchausen soft) value of
    # the target network, m'_a agent a's presence at the next step (an agent that left has no future value); with
    # `td_lambda`, y_a is agent a's TD(lambda) return of the replayed sequence over those values
    # (`sequence_lambda_returns`).
    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        config = self.config
        munchausen = config.munchausen_params
        sequence_shape = batch[Columns.LOSS_MASK].shape if Columns.LOSS_MASK in batch else None  # (B, T)
        batch, fwd_out, valid = fold_sequences(batch, fwd_out)  # sequences: [B, T] steps -> [B * T]
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        q_taken = chosen_action_values(fwd_out["q"], actions)  # [B, n]
        with torch.no_grad():
            next_values = next_agent_values(
                fwd_out["q_next"], fwd_out["q_next_target"], config.double_q, config.munchausen_tau
            )  # [B, n]
            if config.reward == "individual":
                rewards = batch[AGENT_REWARDS].float()  # [B, n]
            else:
                rewards = batch[Columns.REWARDS].float().unsqueeze(-1)  # [B, 1]
            if munchausen is not None:
                rewards = rewards + munchausen_action_bonus(
                    fwd_out["q_target"], actions, obs["mask"], munchausen, False
                )
            targets = value_targets(
                rewards,
                batch["n_step"],
                batch[Columns.TERMINATEDS].float(),
                next_values * next_obs["mask"],
                config.gamma,
                config.td_lambda,
                valid,
                sequence_shape,
            )  # [B, n]
        weights = obs["mask"] if valid is None else obs["mask"] * valid.unsqueeze(-1)  # [B, n]
        loss = masked_mse(q_taken, targets, weights)
        module = self.module[module_id].unwrapped()
        loss = loss + self.pretrained_kl_penalty(module_id, module, obs, fwd_out["q"], config.finetune_kl_tau)
        self.log_step_metrics(module_id, td_metrics(q_taken, targets, weights))
        return loss
