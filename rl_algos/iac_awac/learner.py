"""`IACAWACLearner`: per-agent Q critics learning the current policy's value, and an actor regressed onto the
replayed actions by exponentiated advantages (AWAC, Nair et al. 2020)."""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import chosen_action_values, masked_mean, masked_mse
from rl_algos.common.learners.replay import ReplayLearner
from rl_algos.common.learners.utils import register_adam_groups
from rl_algos.common.losses.value import td_targets


# AWAC / AWR weights: w = min(exp(A / lambda), max_weight), the advantages held fixed.
def advantage_weights(advantages: torch.Tensor, temperature: float, max_weight: float) -> torch.Tensor:
    """advantages [B, n] -> weights [B, n] in (0, max_weight]; exp is taken of the clipped log-weight, so large
    advantages cannot overflow."""
    return torch.exp(torch.clamp(advantages.detach() / temperature, max=math.log(max_weight)))


class IACAWACLearner(ReplayLearner):
    """AWAC for a parameter-shared team of independent learners, on replayed n-step transitions of the team
    reward; the actor and the critic have their own optimizers, the target critic follows by `tau` per update."""

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        groups = {"actor": list(module.actor.parameters()), "critic": list(module.critic.parameters())}
        register_adam_groups(self, module_id, groups, config.lr)

    # L = critic + actor [+ finetune_kl], means over present agents a:
    # critic (Q(o_a, u_a) - y_a)^2, y_a = r + gamma^n (1 - d) m'_a sum_u pi(u | o'_a) Q'(o'_a, u);
    # actor -w_a log pi(u_a | o_a), w_a = min(exp(A_a / lambda), max_weight), A_a = Q(o_a, u_a) - sum_u pi(u | o_a)
    # Q(o_a, u), with Q and pi held fixed in the weights.
    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        config, module = self.config, self.module[module_id].unwrapped()
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        mask = obs["mask"]  # [B, n]
        with torch.no_grad():
            next_policy = F.softmax(fwd_out["next_logits"], dim=-1)  # [B, n, A]
            next_values = (next_policy * module.agent_q(next_obs, target=True)).sum(-1) * next_obs["mask"]  # [B, n]
            discounts = config.gamma ** batch["n_step"].float()  # [B]
            targets = td_targets(batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_values)
        q = module.agent_q(obs)  # [B, n, A]
        q_taken = chosen_action_values(q, actions)  # [B, n]
        critic_loss = masked_mse(q_taken, targets, mask)

        log_pi = F.log_softmax(fwd_out["logits"], dim=-1)  # [B, n, A]
        with torch.no_grad():
            advantages = q_taken - (log_pi.exp() * q).sum(dim=-1)  # [B, n]
            weights = advantage_weights(advantages, config.awac_lambda, config.awac_max_weight)  # [B, n]
        actor_loss = -masked_mean(weights * chosen_action_values(log_pi, actions), mask)
        total = critic_loss + actor_loss + self.pretrained_kl_penalty(module_id, module, obs, fwd_out["logits"])
        self.log_step_metrics(
            module_id,
            {
                "total_loss": total,
                "policy_loss": actor_loss,
                "vf_loss": critic_loss,
                "q_taken_mean": masked_mean(q_taken, mask),
                "advantage_mean": masked_mean(advantages, mask),
                "awac_weight_mean": masked_mean(weights, mask),
            },
        )
        return total
