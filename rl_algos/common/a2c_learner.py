"""`TeamA2CLearner`: advantage actor-critic on the team's fresh rollouts (IAC and Central-V's `a2c` base)."""

from __future__ import annotations

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
from rl_algos.common.actor_critic_losses import masked_entropy, normalized, policy_gradient_loss, rollout_returns
from rl_algos.common.connectors import ROLLOUT_CUTS, AddRolloutCutsToBatch
from rl_algos.common.learner_utils import register_adam_groups
from rl_algos.common.losses import chosen_action_values, masked_mse
from rl_algos.common.pretrained_kl import PretrainedKLLearner


class TeamA2CLearner(PretrainedKLLearner, TorchLearner):
    """One A2C update per sampled batch of rollouts.

    Returns `R_t` bootstrap from the critic where a rollout is cut (its last sampled step, or a truncation) and
    stop at terminations; advantages `A_t = R_t - V(s_t)` are per agent for a per-agent critic (IAC) and the
    team's, shared by every present agent, for a centralised one (Central-V), normalised over the batch's present
    agents with `normalize_advantages`. Loss: `policy_gradient + vf_coeff * masked_mse(V, R) - entropy_coeff *
    entropy (+ the fine-tuning trust region, `finetune_kl`)`, all over present agents; the actor and the critic
    have their own optimizers. Continuous actions (multiwalker): the squashed-Gaussian actor's log-probs of the
    taken actions, and the pre-squash Gaussian's entropy in the bonus.
    """

    def build(self) -> None:
        super().build()
        self._learner_connector.insert_after(
            AddObservationsFromEpisodesToBatch, AddNextObservationsFromEpisodesToTrainBatch()
        )
        self._learner_connector.insert_after(AddNextObservationsFromEpisodesToTrainBatch, AddRolloutCutsToBatch())

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        """Separate Adam optimizers (and so separate gradient clipping) for the actor and the critic: the critic's
        large early value errors must not crowd the actor's gradient out of a shared clipped norm."""
        module = self._module[module_id]
        groups = {"actor": list(module.actor.parameters()), "critic": list(module.critic.parameters())}
        register_adam_groups(self, module_id, groups, config.lr)

    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        mask = batch[Columns.OBS]["mask"]  # [B, n]
        values, next_values = fwd_out["values"], fwd_out["next_values"]  # [B, n] (per agent) or [B] (team)
        cuts = batch[ROLLOUT_CUTS].float() + batch[Columns.TRUNCATEDS].float()
        returns = rollout_returns(
            batch[Columns.REWARDS], batch[Columns.TERMINATEDS].float(), cuts.clamp(max=1.0), next_values, config.gamma
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
        log_probs, entropy = self._log_probs_and_entropy(module.actor, fwd_out["logits"], batch[Columns.ACTIONS], mask)
        actor_loss = policy_gradient_loss(log_probs, advantages, mask)
        total = actor_loss + config.vf_coeff * value_loss - config.entropy_coeff * entropy
        total = total + self.pretrained_kl_penalty(module_id, module, batch[Columns.OBS], fwd_out["logits"])
        self.metrics.log_dict(
            {
                "total_loss": total.item(),
                "policy_loss": actor_loss.item(),
                "vf_loss": value_loss.item(),
                "entropy": entropy.item(),
                "advantage_mean": masked_mean(advantages, mask).item(),
                "value_mean": values.mean().item(),
            },
            key=module_id,
            window=1,
        )
        return total

    @staticmethod
    def _log_probs_and_entropy(actor, logits: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor):
        """Per-agent log-probs `[B, n]` of the taken actions and the mean entropy over present agents: of the
        categoricals for discrete actions; for continuous ones, of the tanh-squashed Gaussian (log-probs of the
        squashed actions, RLlib's `TorchSquashedGaussian.logp`) and its pre-squash Gaussian's entropy."""
        if actor.discrete:
            return chosen_action_values(F.log_softmax(logits, dim=-1), actions), masked_entropy(logits, mask)
        policy = actor.dist_cls().from_logits(logits)
        return policy.logp(actions), masked_mean(policy.pre_squash_entropy(), mask)  # [B, n], scalar
