"""`QMIXLearner`: a team value `Q_tot = mixer(Q_1..Q_n, team)` trained on the team reward (QMIX, and VDN with
the summing mixer)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns

from policies.networks.masked import chosen_action_values, masked_mse
from rl_algos.common.learners.value import TeamQLearner
from rl_algos.common.losses.value import munchausen_action_bonus, next_agent_values, td_metrics, value_targets
from rl_algos.common.replay.ready_batch import fold_sequences


class QMIXLearner(TeamQLearner):
    """TD learning of the mixed team value on replayed n-step transitions (or, for recurrent agents, sequences);
    the mixer is the module's (`model_config["mixer"]`: "qmix" or "vdn")."""

    # L = mean_batch (Q_tot(s, u) - y)^2, Q_tot(s, u) = mixer(Q_1(o_1, u_1) .. Q_n(o_n, u_n), s), with
    # y = r [+ alpha clip(tau sum_a m_a log pi(u_a | o_a), l0, 0)] + gamma^n (1 - d) mixer'(V_1(o'_1) .. V_n(o'_n), s'):
    # V the per-agent double-Q (or Munchausen soft) values of the target network, mixed by the target mixer over
    # the agents present at s'; with `td_lambda`, y is the TD(lambda) return of the replayed sequence over those
    # bootstrap values (`sequence_lambda_returns`).
    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        config = self.config
        munchausen = config.munchausen_params
        module = self.module[module_id].unwrapped()
        sequence_shape = batch[Columns.LOSS_MASK].shape if Columns.LOSS_MASK in batch else None  # (B, T)
        batch, fwd_out, valid = fold_sequences(batch, fwd_out)  # sequences: [B, T] steps -> [B * T]
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        q_taken = chosen_action_values(fwd_out["q"], actions)  # [B, n]
        present = obs["mask"] if valid is None else obs["mask"] * valid.unsqueeze(-1)  # [B, n]: no sequence padding
        module.observe_agent_qs(q_taken.detach(), present)
        q_tot = module.mix(q_taken, obs)  # [B]
        with torch.no_grad():
            next_values = next_agent_values(
                fwd_out["q_next"], fwd_out["q_next_target"], config.double_q, config.munchausen_tau
            )  # [B, n]
            next_q_tot = module.mix(next_values, next_obs, target=True)  # [B]
            rewards = batch[Columns.REWARDS].float()  # [B]
            if munchausen is not None:
                rewards = rewards + munchausen_action_bonus(fwd_out["q_target"], actions, obs["mask"], munchausen, True)
            targets = value_targets(
                rewards,
                batch["n_step"],
                batch[Columns.TERMINATEDS].float(),
                next_q_tot,
                config.gamma,
                config.td_lambda,
                valid,
                sequence_shape,
            )  # [B]
        weights = torch.ones_like(q_tot) if valid is None else valid  # [B]
        loss = masked_mse(q_tot, targets, weights)
        loss = loss + self.pretrained_kl_penalty(module_id, module, obs, fwd_out["q"], config.finetune_kl_tau)
        self.log_step_metrics(module_id, td_metrics(q_tot, targets, weights))
        return loss
