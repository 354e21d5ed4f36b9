"""`LICALearner`: a mixing critic of the agents' action distributions, trained on TD(lambda) targets; actors
trained by the critic's gradient with adaptive entropy regularisation (LICA)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import masked_entropy
from rl_algos.common.learners.connectors import bootstrap_cuts
from rl_algos.common.learners.on_policy import OnPolicyTeamLearner
from rl_algos.common.learners.utils import frozen
from rl_algos.common.losses.actor_critic import next_joint_actions, td_lambda_targets


class LICALearner(OnPolicyTeamLearner):
    """LICA (Zhou et al. 2020) on the team's fresh rollouts, for discrete actions."""

    # L = -mean_t Q(s_t, pi_1(o_1) .. pi_n(o_n)) - entropy_coeff H(pi) / sg(H(pi))
    #     + vf_coeff mean_t (Q(s_t, u_t) - G_t)^2 [+ finetune_kl],
    # Q the mixing critic (frozen in the actor's term, so the policies are trained through their distributions'
    # effect on it), u_t the one-hot joint action taken, G the TD(lambda) targets of the target critic at the next
    # joint action (the one taken at t+1, or a policy sample after a cut), H the mean entropy over present agents:
    # dividing by its own value keeps the entropy's pull the same size however spread the policies are (LICA's
    # adaptive entropy).
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        mask, logits = obs["mask"], fwd_out["logits"]  # [B, n], [B, n, A]
        cuts = bootstrap_cuts(batch)  # [B]

        with torch.no_grad():
            next_actions = next_joint_actions(fwd_out["next_logits"], actions, cuts)  # [B, n]
            next_q = module.mixed_q(next_obs, F.one_hot(next_actions.long(), module.n_actions).float(), target=True)
            targets = td_lambda_targets(
                batch[Columns.REWARDS], batch[Columns.TERMINATEDS].float(), cuts, next_q, config.gamma, config.td_lambda
            )  # [B]
        q_taken = module.mixed_q(obs, F.one_hot(actions.long(), module.n_actions).float())  # [B]
        critic_loss = F.mse_loss(q_taken, targets)

        with frozen(module.critic):
            q_policy = module.mixed_q(obs, F.softmax(logits, dim=-1))  # [B]
        entropy = masked_entropy(logits, mask)
        actor_loss = -q_policy.mean() - config.entropy_coeff * entropy / entropy.detach().clamp(min=1e-8)
        total = actor_loss + config.vf_coeff * critic_loss
        total = total + self.pretrained_kl_penalty(module_id, module, obs, logits)
        self.log_update_metrics(
            module_id,
            {
                "total_loss": total,
                "policy_loss": actor_loss,
                "vf_loss": critic_loss,
                "entropy": entropy,
                "q_taken_mean": q_taken.mean(),
            },
        )
        return total
