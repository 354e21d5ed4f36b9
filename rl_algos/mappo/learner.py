"""`PPOTeamLearner`: PPO's clipped surrogate on the team's fresh rollouts (IPPO with per-agent critics, MAPPO with a
centralised one over the team embedding), several epochs of minibatches per sampled batch."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing

from policies.networks.masked import masked_mean
from policies.sequences import padded_like, unpadded_steps
from rl_algos.common.learners.connectors import bootstrap_cuts
from rl_algos.common.learners.on_policy import OnPolicyTeamLearner
from rl_algos.common.losses.actor_critic import gae_advantages, log_probs_and_entropy, normalized

OLD_LOG_PROBS, OLD_VALUES = "old_log_probs", "old_values"  # the sampling policy's per-agent log-probs, its critic's V


class AddTeamAdvantagesToBatch(ConnectorV2):
    """The last learner connector piece of PPO: on the whole sampled batch (rollouts laid end to end, before RLlib
    cuts it into shuffled minibatches) and with the networks as they sampled it, adds GAE advantages
    (`Postprocessing.ADVANTAGES`, `[N, n_max]`, per agent or the team's for every present agent, normalised over
    the present agents with `normalize_advantages`), value targets (`Postprocessing.VALUE_TARGETS`, like the
    critic: `[N]` or `[N, n_max]`), the critic's values (`OLD_VALUES`) and the per-agent log-probs of the taken
    actions (`OLD_LOG_PROBS`). RLlib's `GeneralAdvantageEstimation` does the same for one value per step; the team
    critics give one per agent or one per team, padded agents masked out."""

    def __init__(
        self,
        input_observation_space=None,
        input_action_space=None,
        *,
        gamma: float,
        lambda_: float,
        normalize_advantages: bool,
    ):
        super().__init__(input_observation_space, input_action_space)
        self.gamma, self.lambda_, self.normalize_advantages = gamma, lambda_, normalize_advantages

    @torch.no_grad()
    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None, **kwargs):
        for module_id, module_batch in batch.items():
            module = rl_module[module_id].unwrapped()
            out = module.forward_train(module_batch)  # at the rollouts' steps, laid end to end
            steps = unpadded_steps(module_batch)  # a recurrent actor's zero-padded sequences, as steps
            mask = steps[Columns.OBS]["mask"]  # [N, n]
            values = out["values"]  # [N] (team) or [N, n] (per agent)
            advantages = gae_advantages(
                steps[Columns.REWARDS].float(),
                steps[Columns.TERMINATEDS].float(),
                bootstrap_cuts(steps),
                values,
                out["next_values"],
                self.gamma,
                self.lambda_,
            )
            value_targets = advantages + values
            if module.value_normalizer is not None:
                # the statistics move to this batch's targets; the old values are the critic's outputs as it now
                # reads them, so value clipping starts where the critic is (MAPPO clips the stored head outputs)
                heads = module.value_normalizer.normalize(values)
                module.value_normalizer.update(value_targets, None if values.dim() == 1 else mask)
                values = module.value_normalizer.denormalize(heads) * (1.0 if values.dim() == 1 else mask)
            if advantages.dim() == 1:  # the team advantage, credited to every present agent
                advantages = advantages.unsqueeze(-1) * mask
            advantages = normalized(advantages, mask) if self.normalize_advantages else advantages * mask
            old_log_probs, _ = log_probs_and_entropy(module.actor, out["logits"], steps[Columns.ACTIONS], mask)
            columns = {
                Postprocessing.VALUE_TARGETS: value_targets,
                OLD_VALUES: values,
                Postprocessing.ADVANTAGES: advantages,
                OLD_LOG_PROBS: old_log_probs,
            }
            # laid out as the batch (a recurrent actor's sequences), so RLlib's minibatches keep them with their steps
            module_batch.update({key: padded_like(module_batch, value) for key, value in columns.items()})
            # the epochs need no next observations: without them the module skips the critic's bootstrap pass
            module_batch.pop(Columns.NEXT_OBS, None)
        return batch


# PPO's clipped surrogate, per present agent: L_pi = -mean_a min(rho_a A_a, clip(rho_a, 1 - eps, 1 + eps) A_a),
# rho_a = pi(u_a | o_a) / pi_old(u_a | o_a).
def clipped_surrogate_loss(
    log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float
) -> torch.Tensor:
    """log_probs (with gradient), old_log_probs, advantages, mask [B, n] -> scalar."""
    ratio = torch.exp(log_probs - old_log_probs)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    return -masked_mean(surrogate, mask)


# PPO2 / MAPPO value clipping, in units of sigma (the targets' running std with value normalisation, else 1):
# L_V = mean max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2) / sigma^2; c = None: (V - R)^2 / sigma^2.
def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    clip: float | None,
    scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """values (with gradient), old_values, targets (return units), weights: [B] (a team critic) or [B, n] (per
    agent, weights the mask); scale: sigma -> scalar."""
    loss = (values - targets) ** 2
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - targets) ** 2)
    return masked_mean(loss, weights) / scale**2


class PPOTeamLearner(OnPolicyTeamLearner):
    """PPO on the module's critic (`model_config["critic"]`): per-agent `V(o_a)` (IPPO) or a centralised `V(s)`
    over the team embedding (MAPPO). GAE advantages and value targets are computed once per sampled batch
    (`AddTeamAdvantagesToBatch`), then `num_epochs` passes of shuffled minibatches of `minibatch_size` steps each
    take one gradient step of the actor's and the critic's Adam."""

    def build(self) -> None:
        super().build()
        config = self.config
        self.append_batch_piece(
            AddTeamAdvantagesToBatch(
                gamma=config.gamma, lambda_=config.lambda_, normalize_advantages=config.normalize_advantages
            )
        )

    # L = L_pi + vf_coeff L_V - entropy_coeff H(pi) [+ finetune_kl], with L_pi and L_V as above, on GAE(gamma, lambda)
    # advantages and value targets of the sampling networks.
    def compute_loss_for_module(
        self, *, module_id: str, config: Any = None, batch: dict[str, Any], fwd_out: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        mask = batch[Columns.OBS]["mask"]  # [B, n]
        module = self.module[module_id].unwrapped()
        log_probs, entropy = log_probs_and_entropy(module.actor, fwd_out["logits"], batch[Columns.ACTIONS], mask)
        old_log_probs = batch[OLD_LOG_PROBS]
        actor_loss = clipped_surrogate_loss(
            log_probs, old_log_probs, batch[Postprocessing.ADVANTAGES], mask, config.clip_param
        )
        values = fwd_out["values"]
        weights = torch.ones_like(values) if values.dim() == 1 else mask
        value_loss = clipped_value_loss(
            values,
            batch[OLD_VALUES],
            batch[Postprocessing.VALUE_TARGETS],
            weights,
            config.vf_clip_param,
            module.value_scale(),
        )
        total = actor_loss + config.vf_coeff * value_loss - config.entropy_coeff * entropy
        total = total + self.pretrained_kl_penalty(module_id, module, batch[Columns.OBS], fwd_out["logits"])
        with torch.no_grad():
            log_ratio = log_probs - old_log_probs
            clipped = ((log_ratio.exp() - 1.0).abs() > config.clip_param).float()
        self.log_step_metrics(
            module_id,
            {
                "total_loss": total,
                "policy_loss": actor_loss,
                "vf_loss": value_loss,
                "entropy": entropy,
                "approx_kl": masked_mean(-log_ratio, mask),  # E_old[log pi_old - log pi]
                "clip_fraction": masked_mean(clipped, mask),
                "value_mean": values.mean(),
            },
        )
        return total
