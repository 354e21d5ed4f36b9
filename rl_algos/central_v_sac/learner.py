"""`CentralVSACLearner`: soft actor-critic with twin centralised critics and a learned temperature, for discrete
actions (Christodoulou 2019) and continuous ones (Haarnoja et al. 2018, squashed-Gaussian actor)."""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import chosen_action_values, masked_entropy, masked_mean, masked_mse
from rl_algos.common.learners.replay import ReplayLearner
from rl_algos.common.learners.utils import frozen, register_adam_groups
from rl_algos.common.losses.value import td_targets, unmix_independent_and_pooled


# Discrete soft value: V(s) = sum_u pi(u) (Q(s, u) - alpha log pi(u)).
def soft_values(q_values: torch.Tensor, logits: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """q_values and logits [..., A] -> [...]: the soft value of the policy softmax(logits) under Q."""
    log_pi = F.log_softmax(logits, dim=-1)
    return (log_pi.exp() * (q_values - alpha * log_pi)).sum(dim=-1)


# SAC temperature: J(alpha) = alpha (H(pi) - H_target), minimised over log alpha with H held fixed: alpha falls while
# the policy is more random than the target entropy and rises while it is less.
def sac_temperature_loss(log_alpha: torch.Tensor, entropy: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """log_alpha: the learned scalar; entropy: the policy's mean entropy over present agents -> scalar."""
    return log_alpha.exp() * (entropy.detach() - target_entropy)


class CentralVSACLearner(ReplayLearner):
    """Soft actor-critic for a parameter-shared team, on replayed n-step transitions; agents absent at s' are worth
    0 there, and every loss is a mean over present agents.

    Discrete actions: critics `Q_i(s, u)_a -> r + gamma^n (1 - d) V'(s')_a`, `V'(s')_a = sum_u pi_a(u|o'_a)
    (min_i Q'_i(s', (u'^-a, u))_a - alpha log pi_a(u|o'_a))`, the others' next actions sampled from the current
    policy. Actor: `sum_u pi_a(u) (alpha log pi_a(u) - min_i Q_i(s, (u^-a, u))_a)` with the others' replayed
    actions. Target entropy `target_entropy_scale * log A`.

    Continuous actions: critics `Q_i(o, u)_a -> r + gamma^n (1 - d) (min_i Q'_i(o', u')_a - alpha log pi_a(u'_a))`,
    `u' ~ pi(o')` for every agent. Actor: `alpha log pi_a(u~_a) - min_i Q_i(o, (u^-a, u~_a))_a`, `u~_a` a
    reparameterised sample of agent a's squashed Gaussian, the others' replayed actions, the critics frozen.
    Target entropy `-k` per agent (k action dimensions).

    Temperature: `alpha (H(pi) - target entropy)`. Actor, critics and temperature have their own optimizers;
    targets are Polyak-averaged with `tau` after every `target_update_interval` (1) updates.
    """

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        groups = {
            "actor": list(module.actor.parameters()),
            "critic": [*module.critic.parameters(), *module.critic_2.parameters()],
            "alpha": [module.log_alpha],
        }
        if module.critic_ind is not None:
            groups["critic"] += list(module.critic_ind.parameters())
            groups["lagrange"] = [module.log_lambdas]
        register_adam_groups(self, module_id, groups, config.lr)

    # L = critics + actor + temperature [+ finetune_kl], each a mean over present agents a:
    # critics sum_i (Q_i(s, u)_a - y_a)^2, y_a = r + gamma^n (1 - d) m'_a V'(s')_a (soft value of the target critics);
    # actor E_{u ~ pi_a}[alpha log pi_a(u) - min_i Q_i(s, (u^-a, u))_a]; temperature log alpha (H(pi) - H_target).
    # With `unmix` the pooled critics are weighed against each agent's own critic (`unmixed_critic_loss`), and the
    # actor's Q is the weighted sum of both estimators.
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        mask = batch[Columns.OBS]["mask"]  # [B, n]
        alpha = module.log_alpha.exp().detach()
        with torch.no_grad():
            next_values = self._soft_next_values(module, batch[Columns.NEXT_OBS], alpha)  # [B, n]
            discounts = config.gamma ** batch["n_step"].float()  # [B]
            targets = td_targets(batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_values)
        q1_all, q2_all = module.twin_q(batch[Columns.OBS], batch[Columns.ACTIONS])  # [B, n, A] or [B, n]
        q1, q2 = q1_all, q2_all
        if module.discrete:
            q1, q2 = (chosen_action_values(q, batch[Columns.ACTIONS]) for q in (q1_all, q2_all))  # [B, n]
        critic_loss = masked_mse(q1, targets, mask) + masked_mse(q2, targets, mask)
        metrics, weights = {}, None
        if config.unmix is not None:
            critic_loss, weights = self.unmixed_critic_loss(
                module, batch, alpha, critic_loss, q1_all, q1, fwd_out["logits"], metrics
            )
        if module.discrete:
            min_q = torch.minimum(q1_all, q2_all).detach()  # [B, n, A]
            if weights is not None:
                min_q = weights[1] * min_q + weights[0] * module.independent_q(batch[Columns.OBS]).detach()
            actor_loss, entropy = self._discrete_actor_loss(fwd_out["logits"], min_q, mask, alpha)
        else:
            actor_loss, entropy = self._continuous_actor_loss(module, batch, fwd_out["logits"], alpha, weights)
        target_entropy = (
            config.target_entropy_scale * math.log(module.n_actions) if module.discrete else -float(module.action_dim)
        )
        alpha_loss = sac_temperature_loss(module.log_alpha, entropy, target_entropy)
        total = actor_loss + critic_loss + alpha_loss
        total = total + self.pretrained_kl_penalty(module_id, module, batch[Columns.OBS], fwd_out["logits"])
        self.log_step_metrics(
            module_id,
            {
                "policy_loss": actor_loss,
                "vf_loss": critic_loss,
                "alpha_loss": alpha_loss,
                "alpha": alpha,
                "entropy": entropy,
                "q_taken_mean": masked_mean(q1, mask),
                **metrics,
            },
        )
        return total

    # Greedy unmixing, K = (ind, pool): TD_ind = mean_a m_a (Q_ind(o_a, u_a) - y_a)^2, y_a = r + gamma^n (1 - d) m'_a
    # V'_ind(o'_a) (the soft value of the target Q_ind under the current policy); TD_pool the twin critics' loss;
    # gap_k = mean_a m_a (E_{u ~ pi} Q_k(u) - Q_k(u_replayed)), the policy's actions against the replayed ones: for
    # discrete actions the expectation over agent a's own action, the others' replayed (Q_pool = Q_1(s, (u^-a, .))_a);
    # for continuous ones one joint sample u ~ pi(o) (Q_pool = Q_1(o, u)_a, one critic pass); weighed as gum's
    # (`rl_algos.common.losses.value`).
    def unmixed_critic_loss(
        self,
        module,
        batch: dict[str, Any],
        alpha: torch.Tensor,
        pooled_td: torch.Tensor,
        q1_all: torch.Tensor,
        q1: torch.Tensor,
        logits: torch.Tensor,
        metrics: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the critics' loss with the multipliers', the estimators' weights [2]); adds the gaps and weights to
        `metrics`. `q1_all`: the first critic at the replayed joint action (`[B, n, A]` for discrete actions), `q1`
        its values of the taken actions `[B, n]`."""
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        mask = obs["mask"]  # [B, n]
        with torch.no_grad():
            next_logits = module.logits(next_obs)
            if module.discrete:
                next_values = soft_values(module.independent_q(next_obs, target=True), next_logits, alpha)
                policy = F.softmax(logits, dim=-1).detach()  # [B, n, A]
            else:
                next_actions, next_log_pi = module.actor.dist_cls().from_logits(next_logits).sample_and_logp()
                next_values = module.independent_q(next_obs, next_actions, target=True) - alpha * next_log_pi
                policy_actions = module.actor.dist_cls().from_logits(logits.detach()).sample()  # [B, n, k]
            discounts = self.config.gamma ** batch["n_step"].float()
            targets = td_targets(
                batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_values * next_obs["mask"]
            )
        if module.discrete:
            q_ind_all = module.independent_q(obs)  # [B, n, A]
            q_ind = chosen_action_values(q_ind_all, actions)
            gap_ind = masked_mean((policy * q_ind_all).sum(-1) - q_ind, mask)
            gap_pool = masked_mean((policy * q1_all).sum(-1) - q1, mask)
        else:
            q_ind = module.independent_q(obs, actions)  # [B, n]
            gap_ind = masked_mean(module.independent_q(obs, policy_actions) - q_ind, mask)
            gap_pool = masked_mean(module.critic(obs["obs"], policy_actions, mask) - q1, mask)  # joint policy action
        loss, weights, unmix_metrics = unmix_independent_and_pooled(
            masked_mse(q_ind, targets, mask), pooled_td, gap_ind, gap_pool, module.log_lambdas, self.config
        )
        metrics.update(unmix_metrics)
        return loss, weights

    @staticmethod
    def _soft_next_values(module, next_obs: dict[str, torch.Tensor], alpha: torch.Tensor) -> torch.Tensor:
        """Each agent's soft value at s' under the current policy and the min of the target critics, 0 where the
        agent is absent: `[B, n]`."""
        next_logits = module.logits(next_obs)
        if module.discrete:
            next_actions = torch.distributions.Categorical(logits=next_logits).sample()  # [B, n]
            next_q1, next_q2 = module.twin_q(next_obs, next_actions, target=True)  # [B, n, A]
            values = soft_values(torch.minimum(next_q1, next_q2), next_logits, alpha)
        else:
            next_actions, next_log_pi = module.actor.dist_cls().from_logits(next_logits).sample_and_logp()
            next_q1, next_q2 = module.twin_q(next_obs, next_actions, target=True)  # [B, n]
            values = torch.minimum(next_q1, next_q2) - alpha * next_log_pi
        return values * next_obs["mask"]

    @staticmethod
    def _discrete_actor_loss(
        logits: torch.Tensor, min_q: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor loss in expectation over each agent's actions, given `min_i Q_i(s, (u^-a, .))` `[B, n, A]`
        without gradient, and the policy's mean entropy (both scalars)."""
        log_pi = F.log_softmax(logits, dim=-1)  # [B, n, A]
        per_agent = (log_pi.exp() * (alpha * log_pi - min_q)).sum(dim=-1)  # [B, n]
        return masked_mean(per_agent, mask), masked_entropy(logits, mask)

    @staticmethod
    def _continuous_actor_loss(
        module, batch: dict[str, Any], logits: torch.Tensor, alpha: torch.Tensor, weights: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The reparameterised actor loss, and the entropy estimate `-mean log pi(u~)` (both scalars); with
        unmixing `weights` (ind, pool) its Q is `w_ind Q_ind(o_a, u~_a) + w_pool min_i Q_i(o, (u^-a, u~_a))_a`."""
        obs, mask = batch[Columns.OBS], batch[Columns.OBS]["mask"]
        own_actions, log_pi = module.actor.dist_cls().from_logits(logits).rsample_and_logp()  # [B, n, k], [B, n]
        replayed = batch[Columns.ACTIONS].float()  # [B, n, k]
        with frozen(module.critic, module.critic_2):
            own_q = torch.minimum(
                *(critic.own_action_values(obs["obs"], replayed, own_actions, mask) for critic in module.twin_critics())
            )  # [B, n]
        if weights is not None:
            with frozen(module.critic_ind):
                own_q = weights[1] * own_q + weights[0] * module.independent_q(obs, own_actions)
        return masked_mean(alpha * log_pi - own_q, mask), -masked_mean(log_pi.detach(), mask)
