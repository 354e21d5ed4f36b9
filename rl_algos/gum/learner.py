"""`GUMLearner`: independent and mixed TD losses on one shared agent network, weighted by their conservative
gaps under the cloned behaviour policy; the behaviour model and the Lagrange multipliers have optimizers of
their own."""

from __future__ import annotations

from typing import Any

import torch
import tree
from ray.rllib.core import Columns

from policies.masked import masked_mean
from rl_algos.common.losses import chosen_action_values, kl_to_reference, masked_mse, other_agent_ids
from rl_algos.common.value_learner import TeamQLearner
from rl_algos.gum.losses import (
    clipped_team_next_value,
    direct_weights,
    independent_gap,
    inverse_gap_weights,
    lagrange_multiplier_loss,
    lagrange_weights,
    mixed_gap,
)


class GUMLearner(TeamQLearner):
    """The loss of greedy unmixing (see `rl_algos.gum.gum.GUMConfig` for the switches):

    `L_k = TD_k + cql_alpha * gap_k` for k in (independent, mixed); `inverse` / `direct` weight them by their
    detached gaps, `lagrange` uses `TD_k + lambda_k (gap_k - target_gap)` and learns `lambda_k`; the
    regulariser adds a Munchausen bonus to both targets or a KL term; the behaviour model's cross-entropy
    (or ELBO) trains it on the replayed actions of present agents.
    """

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        behaviour, lambdas = list(module.behaviour.parameters()), [module.log_lambdas]
        own = {id(p) for p in behaviour + lambdas}
        values = [p for p in self.get_parameters(module) if p.requires_grad and id(p) not in own]
        self.register_optimizer(
            module_id=module_id, optimizer=self.value_optimizer(values), params=values, lr_or_lr_schedule=config.lr
        )
        for name, params in (("behaviour", behaviour), ("lagrange", lambdas)):
            self.register_optimizer(
                module_id=module_id,
                optimizer_name=name,
                optimizer=torch.optim.Adam(params),
                params=params,
                lr_or_lr_schedule=config.lr,
            )

    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        cfg = self.config
        module = self.module[module_id].unwrapped()
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        mask, actions = obs["mask"], batch[Columns.ACTIONS].long()  # [B, n]
        q = fwd_out["q"]  # [B, n, A]
        q_taken = chosen_action_values(q, actions)  # [B, n]

        behaviour_loss, behaviour_accuracy = module.behaviour.loss(obs["obs"], actions, mask)
        with torch.no_grad():
            beta_probs = module.behaviour.action_probs(obs["obs"], cfg.beta_samples)  # [B, n, A]
            beta_actions = module.behaviour.sample(obs["obs"], cfg.beta_samples) * mask.long()  # [S, B, n]
            greedy_actions = q.argmax(dim=-1) * mask.long()  # [B, n]

        # Estimators and their conservative gaps.
        q_ind = (q_taken * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)  # [B]
        q_mix = module.mix(q_taken, obs)  # [B]
        gap_ind = independent_gap(q, beta_probs, mask, cfg.cql_mu)
        samples = beta_actions.shape[0]  # all behaviour samples mixed in one pass: [S * B] rows
        repeated_obs = tree.map_structure(lambda x: x.repeat(samples, *([1] * (x.dim() - 1))), obs)
        q_beta = chosen_action_values(q.repeat(samples, 1, 1), beta_actions.flatten(0, 1))  # [S * B, n]
        q_mix_beta = module.mix(q_beta, repeated_obs).view(samples, -1)  # [S, B]
        gap_mix = mixed_gap(module.mix(chosen_action_values(q, greedy_actions), obs), q_mix_beta)
        gaps = torch.stack([gap_ind, gap_mix])
        detached_gaps = gaps.detach()

        # Targets.
        with torch.no_grad():
            q_reference = self.reference_q(module, obs, fwd_out)  # [B, n, A]
            next_values = self.next_agent_values(fwd_out["q_next"], fwd_out["q_next_target"])  # [B, n]
            next_mask = next_obs["mask"]
            next_q_mix = module.mix(next_values, next_obs, target=True)  # [B]
            rewards = batch[Columns.REWARDS].float()  # [B]
            bonus_ind, bonus_mix = torch.zeros_like(q_taken), torch.zeros_like(rewards)
            if cfg.regulariser == "munchausen":
                bonus_ind = self.munchausen_reward_bonus(batch, q_reference, joint=False)  # [B, n]
                bonus_mix = self.munchausen_reward_bonus(batch, q_reference, joint=True)  # [B]
            if cfg.unmix == "direct":
                next_team = clipped_team_next_value(next_values, next_mask, next_q_mix)  # [B]
                targets_ind = self.bootstrapped_targets(
                    batch, rewards.unsqueeze(-1) + bonus_ind, next_team.unsqueeze(-1)
                )
                targets_mix = self.bootstrapped_targets(batch, rewards + bonus_mix, next_team)
            else:
                targets_ind = self.bootstrapped_targets(
                    batch, rewards.unsqueeze(-1) + bonus_ind, next_values * next_mask
                )
                targets_mix = self.bootstrapped_targets(batch, rewards + bonus_mix, next_q_mix)
        td_ind = masked_mse(q_taken, targets_ind, mask)
        td_mix = masked_mse(q_mix, targets_mix, torch.ones_like(q_mix))
        tds = torch.stack([td_ind, td_mix])

        # Unmixing.
        if cfg.unmix == "lagrange":
            lambdas = module.log_lambdas.exp().detach()
            weights = lagrange_weights(module.log_lambdas.detach())
            value_loss = tds.sum() + cfg.cql_alpha * (lambdas * (gaps - cfg.target_gap)).sum()
            multiplier_loss = cfg.cql_alpha * lagrange_multiplier_loss(
                module.log_lambdas, detached_gaps, cfg.target_gap
            )
        else:
            weights = (
                inverse_gap_weights(detached_gaps, cfg.unmix_eps)
                if cfg.unmix == "inverse"
                else direct_weights(detached_gaps)
            )
            value_loss = (weights * (tds + cfg.cql_alpha * gaps)).sum()
            multiplier_loss = torch.zeros((), device=q.device)
        if cfg.regulariser == "kl":
            tau = cfg.regulariser_params["tau"]
            value_loss = value_loss + cfg.kl_coef * kl_to_reference(
                q, torch.log_softmax(q_reference / tau, -1), tau, mask
            )

        self.log_step_metrics(
            module_id,
            {
                "gap_ind": gap_ind,
                "gap_mix": gap_mix,
                "w_ind": weights[0],
                "w_mix": weights[1],
                "lambda_ind": module.log_lambdas[0].exp(),
                "lambda_mix": module.log_lambdas[1].exp(),
                "behaviour_loss": behaviour_loss,
                "behaviour_accuracy": behaviour_accuracy,
                "q_ind_mean": masked_mean(q_ind, mask.any(-1).float()),
                "q_mix_mean": q_mix.mean(),
                "td_ind": td_ind,
                "td_mix": td_mix,
            },
        )
        finetune_penalty = self.pretrained_kl_penalty(module_id, module, obs, q, cfg.finetune_kl_tau)
        return value_loss + behaviour_loss + multiplier_loss + finetune_penalty

    def reference_q(self, module, obs: dict, fwd_out: dict) -> torch.Tensor:
        """Qs of the regulariser's reference policy `softmax(Q_ref / tau)`: the target network on each agent's
        observation with its own id (`self`) or with the id of another present agent (`others`)."""
        if self.config.regularise_against == "self":
            return fwd_out["q_target"]
        return module._target_agent(module.agent_inputs(obs), ids=other_agent_ids(obs["mask"]))
