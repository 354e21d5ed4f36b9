"""`TeamLearner`: the TorchLearner base of every team learner: the fine-tuning trust region and target networks."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.rl_module.apis import TargetNetworkAPI

from rl_algos.common.learners.pretrained_kl import PretrainedKLLearner
from rl_algos.common.learners.utils import update_targets


class TeamLearner(PretrainedKLLearner, TorchLearner):
    """What every team learner does the same way around its loss (`compute_loss_for_module`, one per algorithm in
    its package's `learner.py`):

    - builds the target networks of modules that have them (`TargetNetworkAPI`);
    - counts its gradient steps (`num_gradient_steps`, over the learner's life) and, after every
      `config.target_update_interval` of them, moves every target network `config.tau` of the way to its online
      network (1.0: a hard copy);
    - adds the fine-tuning trust region (`pretrained_kl_penalty`, from `PretrainedKLLearner`);
    - takes `lr` as a constant or as RLlib's schedule, `[[env_step, lr], ...]` (linear in between).
    """

    def build(self) -> None:
        super().build()
        self.module.foreach_module(
            lambda _, module: module.make_target_networks() if isinstance(module, TargetNetworkAPI) else None
        )
        self.num_gradient_steps = 0
        self.has_target_networks = any(
            module.unwrapped().get_target_network_pairs()
            for module in self.module._rl_modules.values()
            if isinstance(module.unwrapped(), TargetNetworkAPI)
        )

    def _update(self, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
        """One gradient step (RLlib's), then the target update when its interval is reached."""
        results = super()._update(batch)
        self.num_gradient_steps += 1
        if self.has_target_networks and self.num_gradient_steps % self.config.target_update_interval == 0:
            update_targets(self, self.config.tau)
        return results

    @staticmethod
    def _set_optimizer_lr(optimizer: torch.optim.Optimizer, lr: float | torch.Tensor) -> None:
        """RLlib's scheduler hands the scheduled lr as a 0-d tensor, which the fused (`foreach`) Adam of every team
        learner rejects ("lr as a Tensor is not supported"): set it as a float."""
        for group in optimizer.param_groups:
            group["lr"] = float(lr)

    def log_step_metrics(self, module_id: str, metrics: dict[str, torch.Tensor | float]) -> None:
        """Log one gradient step's metrics; results report their mean over the steps of the update call."""
        values = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in metrics.items()}
        self.metrics.log_dict(values, key=module_id, reduce="mean")
