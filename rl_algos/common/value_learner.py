"""`TeamQLearner`: the replay learner shared by the value-based team learners.

It owns what every value learner does the same way: the optimizer and the bootstrapped per-agent next values
(double-Q or Munchausen soft values); target networks and ready batches come from `ReplayLearner`. A
subclass says only how predictions and targets are formed from them: per agent (IQL) or through a mixer
(VDN, QMIX), in `td_predictions_and_targets`.
"""

from __future__ import annotations

from typing import Any

import torch
import tree
from ray.rllib.core import Columns

from policies.masked import masked_mean
from rl_algos.common.losses import (
    chosen_action_values,
    double_q_next_values,
    log_policy_of_actions,
    masked_mse,
    munchausen_bonus,
    soft_next_values,
    td_targets,
)
from rl_algos.common.replay_learner import ReplayLearner


class TeamQLearner(ReplayLearner):
    """Base learner of IQL / VDN / QMIX: one masked TD loss, built from `td_predictions_and_targets`."""

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        params = [p for p in self.get_parameters(self._module[module_id]) if p.requires_grad]
        self.register_optimizer(
            module_id=module_id, optimizer=self.value_optimizer(params), params=params, lr_or_lr_schedule=config.lr
        )

    def value_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer named by `config.optimizer` for the value networks' parameters."""
        if self.config.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, alpha=0.99, eps=1e-5)  # PyMARL's settings
        return torch.optim.Adam(params, foreach=True)

    def next_agent_values(self, q_next_online: torch.Tensor, q_next_target: torch.Tensor) -> torch.Tensor:
        """Per-agent bootstrap values at the next observation, [B, n]: the Munchausen soft value of the target
        network when `munchausen` is on, else double-Q (or plain max-Q when `double_q=False`)."""
        munchausen = self.config.munchausen_params
        if munchausen is not None:
            return soft_next_values(q_next_target, munchausen["tau"])
        if self.config.double_q:
            return double_q_next_values(q_next_online, q_next_target)
        return q_next_target.max(dim=-1).values

    def munchausen_reward_bonus(self, batch: dict, q_reference: torch.Tensor, joint: bool) -> torch.Tensor:
        """The Munchausen bonus `alpha * clip(tau * log pi(u|o), l0, 0)` under the reference policy
        `softmax(q_reference / tau)` (`q_reference` [B, n, A], usually the target network's Qs): per agent
        [B, n], or of the joint log-policy `sum_a log pi(u_a|o_a)` over present agents [B]."""
        params = self.config.munchausen_params
        log_pi = log_policy_of_actions(q_reference, batch[Columns.ACTIONS], params["tau"])  # [B, n]
        if joint:
            log_pi = (log_pi * batch[Columns.OBS]["mask"]).sum(dim=-1)  # [B]
        return munchausen_bonus(log_pi, params["alpha"], params["tau"], params["l0"])

    def bootstrapped_targets(self, batch: dict, rewards: torch.Tensor, next_values: torch.Tensor) -> torch.Tensor:
        """`rewards + gamma^n (1 - terminated) next_values` for this batch's n-steps and episode ends."""
        discounts = self.config.gamma ** batch["n_step"].float()  # [B]
        return td_targets(rewards, discounts, batch[Columns.TERMINATEDS].float(), next_values)

    def td_predictions_and_targets(
        self, module, batch: dict, q_taken: torch.Tensor, next_values: torch.Tensor, q_target: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(predictions, targets, weights) of the TD loss; shapes [B, n] per agent or [B] for a team value.
        `q_target` [B, n, A] are the target network's Qs at the observations (for the Munchausen bonus; None
        without it)."""
        raise NotImplementedError

    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        valid = None
        if Columns.LOSS_MASK in batch:  # recurrent: [B, T] zero-padded sequences -> [B * T] transitions
            valid = batch[Columns.LOSS_MASK].reshape(-1).float()
            transitions = {k: v for k, v in batch.items() if k not in (Columns.STATE_IN, Columns.NEXT_STATE_IN)}
            batch, fwd_out = fold_time_into_batch(transitions), fold_time_into_batch(fwd_out)
        q_taken = chosen_action_values(fwd_out["q"], batch[Columns.ACTIONS])  # [B, n]
        with torch.no_grad():
            next_values = self.next_agent_values(fwd_out["q_next"], fwd_out["q_next_target"])  # [B, n]
        predictions, targets, weights = self.td_predictions_and_targets(
            module, batch, q_taken, next_values, fwd_out.get("q_target")
        )
        if valid is not None:
            weights = weights * valid.reshape(valid.shape + (1,) * (weights.dim() - 1))
        loss = masked_mse(predictions, targets, weights)
        loss = loss + self.pretrained_kl_penalty(
            module_id, module, batch[Columns.OBS], fwd_out["q"], self.config.finetune_kl_tau
        )

        self.log_step_metrics(
            module_id,
            {
                "q_taken_mean": masked_mean(predictions, weights),
                "target_mean": masked_mean(targets, weights),
                "td_error_abs_mean": masked_mean((predictions - targets).abs(), weights),
            },
        )
        return loss


def fold_time_into_batch(data: Any) -> Any:
    """Reshape every tensor `[B, T, ...]` in a (nested) batch to `[B * T, ...]`; other columns pass through."""
    return tree.map_structure(
        lambda x: x.reshape(-1, *x.shape[2:]) if isinstance(x, torch.Tensor) and x.dim() >= 2 else x, data
    )
