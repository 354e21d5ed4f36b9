"""MADDPG's learner in TD3 style: twin joint-action critics, clipped double-Q targets with target-policy
smoothing, delayed actor updates, soft target networks."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

from policies.networks.masked import masked_mean
from rl_algos.common.actor_critic_losses import logits_regulariser, smoothed_target_actions, twin_q_targets
from rl_algos.common.learner_utils import frozen, register_adam_groups
from rl_algos.common.losses import masked_mse
from rl_algos.common.replay_learner import ReplayLearner


class TeamMADDPGLearner(ReplayLearner):
    """TD3-style MADDPG for a parameter-shared team, on replayed n-step transitions.

    Critics: `Q_i(o, u)_a -> r + gamma^n (1 - d) min_i Q'_i(o', u')_a`, `u'` the target actor's actions,
    smoothed: clipped Gaussian noise on continuous actions, a hard Gumbel-softmax sample of the target logits
    for discrete ones; agents absent at s' are worth 0 there. Actor, every `policy_delay` updates:
    `-Q_1(o, (u^-a, mu(o_a)))_a` for each present agent a (the others' replayed actions, agent a's from the
    current actor: straight-through Gumbel-softmax for discrete actions, plus `logits_reg * mean(logits^2)`).
    After every `target_update_interval` (1) updates all targets move toward their networks by `tau`.
    """

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        groups = {
            "actor": list(module.actor.parameters()),
            "critic": [*module.critic.parameters(), *module.critic_2.parameters()],
        }
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

    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        mask = obs["mask"]  # [B, n]
        replayed = module.action_vectors(batch[Columns.ACTIONS])  # [B, n, k]

        with torch.no_grad():
            next_q1, next_q2 = module.twin_q(next_obs, self._target_action_vectors(module, next_obs), target=True)
            discounts = config.gamma ** batch["n_step"].float()
            targets = twin_q_targets(
                batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_q1, next_q2
            )  # [B, n]
            targets = targets * next_obs["mask"] + batch[Columns.REWARDS].unsqueeze(-1) * (1 - next_obs["mask"])
        q1, q2 = module.twin_q(obs, replayed)
        critic_loss = masked_mse(q1, targets, mask) + masked_mse(q2, targets, mask)
        metrics = {"vf_loss": critic_loss, "q_taken_mean": masked_mean(q1, mask)}
        total = critic_loss

        if self.num_gradient_steps % config.policy_delay == 0:
            actor_loss = self.actor_loss(module, obs, replayed, fwd_out["actor"], mask)
            total = total + actor_loss + self.pretrained_kl_penalty(module_id, module, obs, fwd_out["actor"])
            metrics["policy_loss"] = actor_loss
        self.log_step_metrics(module_id, metrics)
        return total

    def actor_loss(
        self,
        module,
        obs: dict[str, torch.Tensor],
        replayed: torch.Tensor,
        actor_out: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """`-mean_a Q_1(o, (u^-a, mu(o_a)))_a` over present agents (+ the logits regulariser for discrete actions)."""
        if module.discrete:
            own = F.gumbel_softmax(actor_out, tau=self.config.gumbel_temperature, hard=True)  # [B, n, A]
        else:
            own = actor_out
        with frozen(module.critic):
            q_own = module.critic.own_action_values(obs["obs"], replayed, own, mask)  # [B, n]
        loss = -masked_mean(q_own, mask)
        if module.discrete:
            loss = loss + logits_regulariser(actor_out, mask, self.config.logits_reg)
        return loss
