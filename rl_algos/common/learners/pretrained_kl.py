"""`PretrainedKLLearner`: the fine-tuning trust region every team learner adds to its loss (`finetune_kl`)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.learner.learner import Learner
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

from rl_algos.common.losses.value import kl_to_reference, other_agent_ids


# beta_t = beta * max(0, 1 - t / steps)   (steps = 0: beta)
def annealed_coefficient(beta: float, steps: int, env_steps: int) -> float:
    """The trust region's weight after `env_steps` env steps of fine-tuning."""
    return beta if steps == 0 else beta * max(0.0, 1.0 - env_steps / steps)


class PretrainedKLLearner(Learner):
    """Learner mixin: `pretrained_kl_penalty` is

        beta_t * mean over pulled agents a of KL(softmax(x_a / tau) || softmax(x_ref_a / tau))

    with `x` the agents' policy outputs (Qs, or an actor's logits with tau = 1), `x_ref` the frozen pre-trained
    network's (`PretrainedReferenceAPI`) and `beta_t` annealed over the run's env steps (`finetune_kl_steps`).
    `finetune_kl_against="self"`: every present agent, with its own id. `"others"`: agents in slots
    `>= finetune_trained_slots`, each against the pre-trained policy with the id of a present agent in a trained slot.
    """

    def before_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        self._env_steps_sampled = int(timesteps.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0))

    def pretrained_kl_penalty(
        self, module_id: str, module, obs: dict[str, torch.Tensor], outputs: torch.Tensor, tau: float = 1.0
    ) -> torch.Tensor | float:
        """The trust-region term for policy outputs `[B, n_max, A]` at `obs` (0.0 when off or annealed away)."""
        config = self.config
        beta = annealed_coefficient(
            config.finetune_kl, config.finetune_kl_steps, getattr(self, "_env_steps_sampled", 0)
        )
        if beta == 0.0:
            return 0.0
        mask = obs["mask"]  # [B, n]
        ids = None
        if config.finetune_kl_against == "others":
            trained = torch.arange(mask.shape[-1], device=mask.device) < config.finetune_trained_slots  # [n]
            ids = other_agent_ids(mask, allowed=trained)  # [B, n, n]
            mask = mask * ~trained
        reference_log_pi = torch.log_softmax(module.pretrained_outputs(obs, ids) / tau, dim=-1)  # [B, n, A]
        kl = kl_to_reference(outputs, reference_log_pi, tau, mask)
        self.metrics.log_dict({"finetune_kl": kl.detach(), "finetune_kl_coeff": beta}, key=module_id, reduce="mean")
        return beta * kl
