"""COMA's learner: a counterfactual critic trained on TD(lambda) targets, and actors on counterfactual advantages."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import chosen_action_values, masked_entropy, masked_mean, masked_mse
from rl_algos.common.learners.connectors import bootstrap_cuts
from rl_algos.common.learners.on_policy import OnPolicyTeamLearner
from rl_algos.common.losses.actor_critic import (
    coma_advantages,
    next_joint_actions,
    normalized,
    policy_gradient_loss,
    td_lambda_targets,
)


class COMALearner(OnPolicyTeamLearner):
    """COMA (Foerster et al. 2018) on the team's fresh rollouts.

    Critic: `Q(s, u)_a` toward TD(lambda) targets of the target critic at the next joint action (the one taken,
    or, after a rollout cut, one sampled from the current policy). Actor: per-agent advantages
    `A_a = Q(s, u)_a - sum_u' pi_a(u') Q(s, (u^-a, u'))_a`; absent agents give and take no credit.
    """

    # L = -mean_a m_a log pi_a(u_a | o_a) A_a + vf_coeff mean_a m_a (Q(s, u)_a - G_a)^2 - entropy_coeff H(pi)
    # [+ finetune_kl], with A_a = Q(s, u)_a - sum_u' pi_a(u' | o_a) Q(s, (u^-a, u'))_a and G the TD(lambda) target
    # G_t = r_t + gamma (1 - d_t) ((1 - lambda) Q'(s_{t+1}, u_{t+1}) + lambda G_{t+1}) (Q' alone after a cut).
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        mask = obs["mask"]  # [B, n]
        logits = fwd_out["logits"]  # [B, n, A]
        cuts = bootstrap_cuts(batch)  # [B]

        with torch.no_grad():
            next_actions = next_joint_actions(fwd_out["next_logits"], actions, cuts)  # [B, n]
            next_q = chosen_action_values(module.counterfactual_q(next_obs, next_actions, target=True), next_actions)
            next_q = next_q * next_obs["mask"]  # an agent that has left is worth 0 afterwards
            targets = td_lambda_targets(
                batch[Columns.REWARDS], batch[Columns.TERMINATEDS].float(), cuts, next_q, config.gamma, config.td_lambda
            )  # [B, n]

        q = module.counterfactual_q(obs, actions)  # [B, n, A]
        critic_loss = masked_mse(chosen_action_values(q, actions), targets, mask)
        policy = F.softmax(logits, dim=-1)
        advantages = coma_advantages(q.detach(), policy.detach(), actions, mask)  # [B, n]
        if config.normalize_advantages:
            advantages = normalized(advantages, mask)
        log_probs = chosen_action_values(F.log_softmax(logits, dim=-1), actions)
        actor_loss = policy_gradient_loss(log_probs, advantages, mask)
        entropy = masked_entropy(logits, mask)
        total = actor_loss + config.vf_coeff * critic_loss - config.entropy_coeff * entropy
        total = total + self.pretrained_kl_penalty(module_id, module, obs, logits)
        self.log_update_metrics(
            module_id,
            {
                "total_loss": total,
                "policy_loss": actor_loss,
                "vf_loss": critic_loss,
                "entropy": entropy,
                "q_taken_mean": masked_mean(chosen_action_values(q, actions), mask),
            },
        )
        return total
