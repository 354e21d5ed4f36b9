"""Central-V's `sac` base: discrete soft actor-critic with twin centralised critics and a learned temperature."""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.connectors.common.add_observations_from_episodes_to_batch import AddObservationsFromEpisodesToBatch
from ray.rllib.connectors.learner.add_next_observations_from_episodes_to_train_batch import (
    AddNextObservationsFromEpisodesToTrainBatch,
)
from ray.rllib.core import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from torch.nn import functional as F

from policies.masked import masked_mean
from rl_algos.common.actor_critic_losses import masked_entropy, sac_temperature_loss, soft_values
from rl_algos.common.learner_utils import register_adam_groups, update_targets
from rl_algos.common.losses import chosen_action_values, masked_mse, td_targets


class TeamSACLearner(TorchLearner):
    """Discrete SAC (Christodoulou 2019) for a parameter-shared team, on replayed n-step transitions.

    Critics: `Q_i(s, u)_a -> r + gamma^n (1 - d) V'(s')_a`, `V'(s')_a = sum_u pi_a(u|o'_a) (min_i Q'_i(s', (u'^-a,
    u))_a - alpha log pi_a(u|o'_a))`, the others' next actions sampled from the current policy; agents absent at s'
    are worth 0 there. Actor: `sum_u pi_a(u) (alpha log pi_a(u) - min_i Q_i(s, (u^-a, u))_a)` with the replayed
    actions of the others. Temperature: `alpha (H(pi) - target_entropy_scale * log A)`. Every loss is a mean over
    present agents; actor, critics and temperature have their own optimizers; targets are Polyak-averaged with
    `tau` after every update.
    """

    def build(self) -> None:
        super().build()
        self.module.foreach_module(lambda _, module: module.make_target_networks())
        self._learner_connector.insert_after(
            AddObservationsFromEpisodesToBatch, AddNextObservationsFromEpisodesToTrainBatch()
        )

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        groups = {
            "actor": list(module.actor.parameters()),
            "critic": [*module.critic.parameters(), *module.critic_2.parameters()],
            "alpha": [module.log_alpha],
        }
        register_adam_groups(self, module_id, groups, config.lr)

    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, next_obs, actions = batch[Columns.OBS], batch[Columns.NEXT_OBS], batch[Columns.ACTIONS]
        mask = obs["mask"]  # [B, n]
        logits = fwd_out["logits"]  # [B, n, A]
        alpha = module.log_alpha.exp().detach()

        with torch.no_grad():
            next_logits = module.logits(next_obs)
            next_actions = torch.distributions.Categorical(logits=next_logits).sample()  # [B, n]
            next_q1, next_q2 = module.twin_q(next_obs, next_actions, target=True)  # [B, n, A]
            next_values = soft_values(torch.minimum(next_q1, next_q2), next_logits, alpha) * next_obs["mask"]
            discounts = config.gamma ** batch["n_step"].float()  # [B]
            targets = td_targets(batch[Columns.REWARDS], discounts, batch[Columns.TERMINATEDS].float(), next_values)

        q1, q2 = module.twin_q(obs, actions)  # [B, n, A]
        critic_loss = masked_mse(chosen_action_values(q1, actions), targets, mask) + masked_mse(
            chosen_action_values(q2, actions), targets, mask
        )
        log_pi = F.log_softmax(logits, dim=-1)
        min_q = torch.minimum(q1, q2).detach()
        per_agent_actor = (log_pi.exp() * (alpha * log_pi - min_q)).sum(dim=-1)  # [B, n]
        actor_loss = masked_mean(per_agent_actor, mask)
        entropy = masked_entropy(logits, mask)
        target_entropy = config.target_entropy_scale * math.log(module.n_actions)
        alpha_loss = sac_temperature_loss(module.log_alpha, entropy, target_entropy)
        total = actor_loss + critic_loss + alpha_loss
        self.metrics.log_dict(
            {
                "total_loss": total.item(),
                "policy_loss": actor_loss.item(),
                "vf_loss": critic_loss.item(),
                "alpha_loss": alpha_loss.item(),
                "alpha": alpha.item(),
                "entropy": entropy.item(),
                "q_taken_mean": masked_mean(chosen_action_values(q1, actions), mask).item(),
            },
            key=module_id,
            window=1,
        )
        return total

    def after_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        update_targets(self, self.config.tau)
