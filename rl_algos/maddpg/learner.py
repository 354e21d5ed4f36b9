"""MADDPG's learner in TD3 style: twin joint-action critics, clipped double-Q targets with target-policy
smoothing, delayed actor updates, soft target networks; optionally greedy unmixing against each agent's own critic."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import masked_mean, masked_mse
from rl_algos.common.learners.replay import ReplayLearner
from rl_algos.common.learners.utils import frozen, register_adam_groups
from rl_algos.common.losses.value import td_targets, unmix_independent_and_pooled


# TD3 target policy smoothing: a' = clip(mu'(s') + clip(eps, -c, c), low, high), eps ~ N(0, sigma).
def smoothed_target_actions(
    actions: torch.Tensor,
    noise_std: float | torch.Tensor,
    noise_clip: float | torch.Tensor,
    low: float | torch.Tensor = -1.0,
    high: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """actions [..., k] -> like actions: each dimension moved by Gaussian noise clipped to +-noise_clip, then
    clipped to the action bounds."""
    noise = (torch.randn_like(actions) * noise_std).clamp(-noise_clip, noise_clip)
    return (actions + noise).clamp(low, high)


# Actor regulariser on discrete logits (Lowe et al.'s MADDPG): coef * mean(logits^2) over present agents.
def logits_regulariser(logits: torch.Tensor, mask: torch.Tensor, coef: float = 1e-3) -> torch.Tensor:
    """logits [B, n, A], mask [B, n] -> scalar."""
    return coef * masked_mean(logits.pow(2).mean(dim=-1), mask)


class TeamMADDPGLearner(ReplayLearner):
    """TD3-style MADDPG for a parameter-shared team, on replayed n-step transitions; `unmix` adds greedy unmixing
    (see `compute_loss_for_module`)."""

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        critics = [*module.critic.parameters(), *module.critic_2.parameters()]
        groups = {"actor": list(module.actor.parameters()), "critic": critics}
        if module.critic_ind is not None:
            groups["critic"] = critics + list(module.critic_ind.parameters())
            groups["lagrange"] = [module.log_lambdas]
        register_adam_groups(self, module_id, groups, config.lr)

    def _target_action_vectors(self, module, next_obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """TD3's smoothed target actions at s', as critic inputs."""
        out = module.actor_output(next_obs, target=True)
        if module.discrete:
            return F.gumbel_softmax(out, tau=self.config.gumbel_temperature, hard=True)
        half_width = (module.high - module.low) / 2
        smoothed = smoothed_target_actions(
            out,
            self.config.target_noise * half_width,
            self.config.target_noise_clip * half_width,
            module.low,
            module.high,
        )
        return smoothed * next_obs["mask"].unsqueeze(-1)

    # Critics: sum_i mean_a m_a (Q_i(o, u)_a - y_a)^2, y_a = r + gamma^n (1 - d) m'_a min_i Q'_i(o', u')_a, u' the
    # target actor's smoothed actions (clipped Gaussian noise on continuous actions, a hard Gumbel-softmax sample of
    # the target logits for discrete ones). Actor, every `policy_delay` updates: -mean_a m_a Q_1(o, (u^-a, mu(o_a)))_a
    # (u^-a the others' replayed actions, or with `actor_others="policy"` their current ones held fixed;
    # straight-through Gumbel-softmax for discrete actions, plus `logits_reg * mean(logits^2)`). With `unmix` the
    # pooled critics are weighed against each agent's own critic (`unmixed_critic_loss`), and the actor maximises the
    # weighted sum of both estimators.
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        mask = obs["mask"]  # [B, n]
        replayed = module.action_vectors(batch[Columns.ACTIONS])  # [B, n, k]

        with torch.no_grad():
            next_actions = self._target_action_vectors(module, next_obs)
            next_q1, next_q2 = module.twin_q(next_obs, next_actions, target=True)
            discounts = config.gamma ** batch["n_step"].float()
            targets = td_targets(  # clipped double Q: the min of the twin target critics
                batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), torch.minimum(next_q1, next_q2)
            )  # [B, n]
            targets = targets * next_obs["mask"] + batch[Columns.REWARDS].unsqueeze(-1) * (1 - next_obs["mask"])
        q1, q2 = module.twin_q(obs, replayed)
        critic_loss = masked_mse(q1, targets, mask) + masked_mse(q2, targets, mask)
        metrics = {"vf_loss": critic_loss, "q_taken_mean": masked_mean(q1, mask)}
        weights = None
        if config.unmix is not None:
            critic_loss, weights = self.unmixed_critic_loss(
                module, batch, replayed, next_actions, critic_loss, q1, fwd_out["actor"], metrics
            )
        total = critic_loss

        if self.num_gradient_steps % config.policy_delay == 0:
            actor_loss = self.actor_loss(module, obs, replayed, fwd_out["actor"], mask, weights)
            total = total + actor_loss + self.pretrained_kl_penalty(module_id, module, obs, fwd_out["actor"])
            metrics["policy_loss"] = actor_loss
        self.log_step_metrics(module_id, metrics)
        return total

    # Greedy unmixing, K = (ind, pool): TD_ind = mean_a m_a (Q_ind(o_a, u_a) - y_a)^2, y_a = r + gamma^n (1 - d) m'_a
    # Q'_ind(o'_a, u'_a); TD_pool the twin critics' loss; gap_k = mean_a m_a (Q_k(mu(o)) - Q_k(u)), the actor's
    # (greedy) actions against the replayed ones: gap_ind = Q_ind(o_a, mu(o_a)) - Q_ind(o_a, u_a), gap_pool =
    # Q_1(o, mu(o))_a - Q_1(o, u)_a at the joint greedy action (one critic pass, where swapping each agent's action
    # alone would take n_max); weighed as gum's (`rl_algos.common.losses.value`).
    def unmixed_critic_loss(
        self,
        module,
        batch: dict[str, Any],
        replayed: torch.Tensor,
        next_actions: torch.Tensor,
        pooled_td: torch.Tensor,
        q1: torch.Tensor,
        actor_out: torch.Tensor,
        metrics: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the critics' loss with the multipliers', the estimators' weights [2]); logs the gaps and weights."""
        config = self.config
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        mask = obs["mask"]
        with torch.no_grad():
            next_q_ind = module.independent_q(next_obs, next_actions, target=True) * next_obs["mask"]  # [B, n]
            discounts = config.gamma ** batch["n_step"].float()
            targets_ind = td_targets(batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_q_ind)
            greedy = F.one_hot(actor_out.argmax(-1), module.n_actions).float() if module.discrete else actor_out
            greedy = greedy.detach()
        q_ind = module.independent_q(obs, replayed)  # [B, n]
        gap_ind = masked_mean(module.independent_q(obs, greedy) - q_ind, mask)
        gap_pool = masked_mean(module.critic(obs["obs"], greedy, mask) - q1, mask)  # the joint greedy action
        loss, weights, unmix_metrics = unmix_independent_and_pooled(
            masked_mse(q_ind, targets_ind, mask), pooled_td, gap_ind, gap_pool, module.log_lambdas, config
        )
        metrics.update(unmix_metrics)
        return loss, weights

    def actor_loss(
        self,
        module,
        obs: dict[str, torch.Tensor],
        replayed: torch.Tensor,
        actor_out: torch.Tensor,
        mask: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`-mean_a Q_1(o, (u^-a, mu(o_a)))_a` over present agents (+ the logits regulariser for discrete actions);
        with unmixing `weights` (ind, pool), `-mean_a (w_ind Q_ind(o_a, mu(o_a)) + w_pool Q_1(...)_a)`. `u^-a`: the
        `replayed` actions, or the policy's own (without gradient) with `actor_others="policy"`."""
        if module.discrete:
            own = F.gumbel_softmax(actor_out, tau=self.config.gumbel_temperature, hard=True)  # [B, n, A]
        else:
            own = actor_out
        others = own.detach() if self.config.actor_others == "policy" else replayed  # [B, n, k]
        with frozen(module.critic):
            q_own = module.critic.own_action_values(obs["obs"], others, own, mask)  # [B, n]
        if weights is not None:
            with frozen(module.critic_ind):
                q_own = weights[1] * q_own + weights[0] * module.independent_q(obs, own)
        loss = -masked_mean(q_own, mask)
        if module.discrete:
            loss = loss + logits_regulariser(actor_out, mask, self.config.logits_reg)
        return loss
