"""`GUMLearner`: independent and mixed TD losses on one shared agent network, weighted by their conservative
gaps under the cloned behaviour policy; the behaviour model and the Lagrange multipliers have optimizers of
their own. The gaps are here; the estimators' weights are shared with the actor-critics' `unmix`
(`rl_algos.common.losses.value`).

Shapes: B batch, n = n_max agent slots, A actions, S behaviour samples, K = 2 estimators (independent, mixed).
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns

from policies.networks.masked import chosen_action_values, masked_mean, masked_mse
from rl_algos.common.learners.value import TeamQLearner
from rl_algos.common.losses.value import (
    kl_to_reference,
    munchausen_action_bonus,
    next_agent_values,
    other_agent_ids,
    td_targets,
    unmixed_loss,
)

ESTIMATORS = ("ind", "mix")  # the order of the stacked gaps, TD losses, weights and multipliers


# gap_ind = mean over present agents [ mu(Q_a) - E_{u ~ beta}[Q_a(o_a, u)] ],
# mu = logsumexp_u Q_a(o_a, u) ("logsumexp", CQL(H)) or max_u Q_a(o_a, u) ("greedy")
def independent_gap(q: torch.Tensor, beta_probs: torch.Tensor, mask: torch.Tensor, cql_mu: str) -> torch.Tensor:
    """q, beta_probs [B, n, A]; mask [B, n] -> scalar."""
    mu = torch.logsumexp(q, dim=-1) if cql_mu == "logsumexp" else q.max(dim=-1).values
    return masked_mean(mu - (beta_probs * q).sum(dim=-1), mask)


# gap_mix = E[ Q_mix(s, u_greedy) - Q_mix(s, u_beta) ], u_beta averaged over the behaviour samples
def mixed_gap(q_mix_greedy: torch.Tensor, q_mix_beta: torch.Tensor) -> torch.Tensor:
    """q_mix_greedy [B]; q_mix_beta [S, B] -> scalar."""
    return (q_mix_greedy - q_mix_beta.mean(dim=0)).mean()


# direct: both estimators bootstrap from min(Q_ind', Q_mix'), Q_ind' = masked mean_a of the agents' next values
def clipped_team_next_value(
    next_values: torch.Tensor, next_mask: torch.Tensor, next_q_mix: torch.Tensor
) -> torch.Tensor:
    """next_values, next_mask [B, n]; next_q_mix [B] -> min(Q_ind', Q_mix') [B] (TD3/SAC's clipped double-Q)."""
    next_q_ind = (next_values * next_mask).sum(-1) / next_mask.sum(-1).clamp(min=1.0)
    return torch.minimum(next_q_ind, next_q_mix)


# gap_ind as `independent_gap`; gap_mix = E[Q_mix(s, u_greedy) - Q_mix(s, u_beta)], the mixer over the joint actions
def conservative_gaps(
    q: torch.Tensor,
    beta_probs: torch.Tensor,
    mask: torch.Tensor,
    q_mix_greedy: torch.Tensor,
    q_mix_beta: torch.Tensor,
    cql_mu: str,
) -> torch.Tensor:
    """Both estimators' gaps [K=2] (independent, mixed): q, beta_probs [B, n, A]; mask [B, n]; q_mix_greedy [B] the
    mixed value of the agents' greedy joint action; q_mix_beta [S, B] of S joint actions drawn from beta."""
    return torch.stack([independent_gap(q, beta_probs, mask, cql_mu), mixed_gap(q_mix_greedy, q_mix_beta)])


class GUMLearner(TeamQLearner):
    """The loss of greedy unmixing (see `rl_algos.gum.gum.GUMConfig` for the switches)."""

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

    # L = unmix_k(TD_k, gap_k) [+ kl_coef KL(softmax(Q / tau) || pi_ref)] + behaviour loss + multipliers' loss, for
    # k in (ind, mix): TD_ind = mean_a m_a (Q_a(o_a, u_a) - y_ind)^2, TD_mix = mean (Q_mix(s, u) - y_mix)^2,
    # y_k = r [+ Munchausen bonus] + gamma^n (1 - d) V'_k (V'_ind = m'_a V_a(o'_a), V'_mix = mixer'(V(o')); "direct":
    # both min(mean_a V_a(o'_a), V'_mix)); gap_k the conservative gaps under beta (`conservative_gaps`); unmix_k
    # weights the estimators (`unmixed_loss`); the behaviour model's cross-entropy (or ELBO) fits beta to the data.
    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict, fwd_out: dict) -> torch.Tensor:
        cfg, module = self.config, self.module[module_id].unwrapped()
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        mask, next_mask, actions = obs["mask"], next_obs["mask"], batch[Columns.ACTIONS].long()  # [B, n]
        q = fwd_out["q"]  # [B, n, A]
        q_taken = chosen_action_values(q, actions)  # [B, n]

        behaviour = module.behaviour.fit(obs["obs"], actions, mask, cfg.beta_samples)
        beta_probs, beta_actions = behaviour.probs, behaviour.samples * mask.long()  # [B, n, A], [S, B, n]
        greedy_actions = q.detach().argmax(dim=-1) * mask.long()  # [B, n]
        q_ind = (q_taken * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)  # [B]
        joint_actions = torch.cat([actions[None], greedy_actions[None], beta_actions])  # [2 + S, B, n]
        q_joint = chosen_action_values(q.expand(len(joint_actions), *q.shape), joint_actions)  # [2 + S, B, n]
        q_joint = module.mixer_inputs(q_joint, q)  # what the mixer mixes of each agent: [2 + S, B, n]
        module.observe_agent_qs(q_joint[0].detach(), mask)
        if cfg.mixed_gap_grad == "all":
            q_mix, q_mix_greedy, *q_mix_beta = module.mix(q_joint, obs)  # one hypernetwork pass: [B], [B], S x [B]
        else:  # the gap's gradient reaches the agents' Qs only
            q_mix = module.mix(q_joint[0], obs)  # [B]
            q_mix_greedy, *q_mix_beta = module.mix_with_fixed_mixer(q_joint[1:], obs)  # [B], S x [B]
        gaps = conservative_gaps(q, beta_probs, mask, q_mix_greedy, torch.stack(q_mix_beta), cfg.cql_mu)  # [2]

        with torch.no_grad():
            q_reference = self.reference_q(module, obs, fwd_out)  # [B, n, A]
            munchausen = cfg.munchausen_params
            next_values = next_agent_values(
                fwd_out["q_next"], fwd_out["q_next_target"], cfg.double_q, cfg.munchausen_tau
            )  # [B, n]
            next_mixer_inputs = module.mixer_inputs(next_values, fwd_out["q_next_target"])  # [B, n]
            next_ind, next_mix = next_values * next_mask, module.mix(next_mixer_inputs, next_obs, target=True)
            if cfg.unmix == "direct":
                next_mix = clipped_team_next_value(next_values, next_mask, next_mix)  # [B]
                next_ind = next_mix.unsqueeze(-1)
            rewards = batch[Columns.REWARDS].float()  # [B]
            bonus_ind, bonus_mix = torch.zeros_like(q_taken), torch.zeros_like(rewards)
            if munchausen is not None:
                bonus_ind = munchausen_action_bonus(q_reference, actions, mask, munchausen, joint=False)  # [B, n]
                bonus_mix = munchausen_action_bonus(q_reference, actions, mask, munchausen, joint=True)  # [B]
            discounts, terminateds = cfg.gamma ** batch["n_step"].float(), batch[Columns.TERMINATEDS].float()
            targets_ind = td_targets(rewards.unsqueeze(-1) + bonus_ind, discounts, terminateds, next_ind)  # [B, n]
            targets_mix = td_targets(rewards + bonus_mix, discounts, terminateds, next_mix)  # [B]
        tds = torch.stack(
            [masked_mse(q_taken, targets_ind, mask), masked_mse(q_mix, targets_mix, torch.ones_like(q_mix))]
        )

        value_loss, multiplier_loss, weights = unmixed_loss(
            tds, gaps, module.log_lambdas, cfg.unmix, cfg.cql_alpha, cfg.unmix_eps, cfg.target_gap
        )
        if cfg.regulariser == "kl":
            tau = cfg.regulariser_params["tau"]
            reference_log_pi = torch.log_softmax(q_reference / tau, -1)
            value_loss = value_loss + cfg.kl_coef * kl_to_reference(q, reference_log_pi, tau, mask)
        finetune_penalty = self.pretrained_kl_penalty(module_id, module, obs, q, cfg.finetune_kl_tau)
        self.log_step_metrics(
            module_id,
            {
                **{f"gap_{k}": gaps[i] for i, k in enumerate(ESTIMATORS)},
                **{f"w_{k}": weights[i] for i, k in enumerate(ESTIMATORS)},
                **{f"lambda_{k}": module.log_lambdas[i].exp() for i, k in enumerate(ESTIMATORS)},
                **{f"td_{k}": tds[i] for i, k in enumerate(ESTIMATORS)},
                "behaviour_loss": behaviour.loss,
                "behaviour_accuracy": behaviour.accuracy,
                "q_ind_mean": masked_mean(q_ind, mask.any(-1).float()),
                "q_mix_mean": q_mix.mean(),
            },
        )
        return value_loss + behaviour.loss + multiplier_loss + finetune_penalty

    def reference_q(self, module, obs: dict, fwd_out: dict) -> torch.Tensor:
        """Qs of the regulariser's reference policy `softmax(Q_ref / tau)`: the target network on each agent's
        observation with its own id (`self`) or with the id of another present agent (`others`)."""
        if self.config.regularise_against == "self":
            return fwd_out["q_target"]
        return module._target_agent(module.agent_inputs(obs), ids=other_agent_ids(obs["mask"]))
