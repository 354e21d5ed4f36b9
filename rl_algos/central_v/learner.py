"""`CentralVLearner`: advantage actor-critic on the team's fresh rollouts (Central-V, and IAC with per-agent
critics)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import masked_mean, masked_mse
from rl_algos.common.learners.connectors import bootstrap_cuts
from rl_algos.common.learners.on_policy import OnPolicyTeamLearner
from rl_algos.common.losses.actor_critic import (
    log_probs_and_entropy,
    normalized,
    policy_gradient_loss,
    rollout_returns,
    shared_experience_losses,
)


class CentralVLearner(OnPolicyTeamLearner):
    """A2C with the module's critic (`model_config["critic"]`): a centralised `V(s)` over the team embedding
    (Central-V) or a per-agent `V(o_a)` (IAC). Discrete actions, or continuous ones (multiwalker) with the
    squashed-Gaussian actor: the log-probs of the squashed actions, the pre-squash Gaussian's entropy."""

    # L = -mean_a m_a log pi(u_a | o_a) A_a + vf_coeff mean (V - R)^2 - entropy_coeff H(pi) [+ finetune_kl], with
    # R_t = r_t + gamma (1 - d_t) (V(s_{t+1}) where the rollout is cut after t, else R_{t+1}) and A = R - V: per
    # agent for a per-agent critic, the team's (shared by every present agent) for a centralised one, normalised
    # over the batch's present agents with `normalize_advantages`. With `shared_experience` lambda (IAC only) the loss
    # adds lambda (actor_seac + vf_coeff critic_seac), each agent's importance-weighted losses on the others'
    # experience (`shared_experience_losses`, SEAC).
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        mask = batch[Columns.OBS]["mask"]  # [B, n]
        values, next_values = fwd_out["values"], fwd_out["next_values"]  # [B, n] (per agent) or [B] (team)
        cuts = bootstrap_cuts(batch)  # [B]
        returns = rollout_returns(
            batch[Columns.REWARDS], batch[Columns.TERMINATEDS].float(), cuts, next_values, config.gamma
        )
        advantages = returns - values.detach()
        if advantages.dim() == 1:  # a team advantage: every present agent is credited with it
            advantages = advantages.unsqueeze(-1).expand_as(mask)
            value_loss = F.mse_loss(values, returns)
        else:
            value_loss = masked_mse(values, returns, mask)
        if config.normalize_advantages:
            advantages = normalized(advantages, mask)
        module = self.module[module_id].unwrapped()
        log_probs, entropy = log_probs_and_entropy(module.actor, fwd_out["logits"], batch[Columns.ACTIONS], mask)
        actor_loss = policy_gradient_loss(log_probs, advantages, mask)
        total = actor_loss + config.vf_coeff * value_loss - config.entropy_coeff * entropy
        total = total + self.pretrained_kl_penalty(module_id, module, batch[Columns.OBS], fwd_out["logits"])
        if config.shared_experience:
            seac_actor, seac_critic = seac_losses(module, batch, log_probs, cuts, config)
            total = total + config.shared_experience * (seac_actor + config.vf_coeff * seac_critic)
        self.log_update_metrics(
            module_id,
            {
                "total_loss": total,
                "policy_loss": actor_loss,
                "vf_loss": value_loss,
                "entropy": entropy,
                "advantage_mean": masked_mean(advantages, mask),
                "value_mean": values.mean(),
            },
        )
        return total


def seac_losses(
    module, batch: dict[str, Any], own_log_probs: torch.Tensor, cuts: torch.Tensor, config: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """SEAC's actor and critic terms: every agent a's policy and per-agent critic evaluated on every agent b's
    observations (the shared networks with a's id in b's slot), a's bootstrapped returns on b's rollout."""
    obs_as, ids = module.as_each_agent(batch[Columns.OBS])  # [B, a, b, ...]
    next_obs_as, _ = module.as_each_agent(batch[Columns.NEXT_OBS])
    actions = batch[Columns.ACTIONS]
    actions_as = actions.unsqueeze(1).expand(-1, actions.shape[1], *actions.shape[1:])  # u_b in every row a
    log_probs_as, _ = log_probs_and_entropy(module.actor, module.logits(obs_as, ids), actions_as, obs_as["mask"])
    values_as = module.values(obs_as, ids)  # [B, a, b]
    with torch.no_grad():
        next_values_as = module.values(next_obs_as, ids)
    returns_as = rollout_returns(
        batch[Columns.REWARDS], batch[Columns.TERMINATEDS].float(), cuts, next_values_as, config.gamma
    )
    return shared_experience_losses(
        log_probs_as,
        own_log_probs.detach(),
        values_as,
        returns_as,
        batch[Columns.OBS]["mask"],
        config.shared_experience_clip,
        config.normalize_advantages,
    )
