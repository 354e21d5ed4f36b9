"""`TeamQLearner`: the replay learner base of the value learners (IQL, VDN, QMIX, GUM): their optimizer. Their
targets are `rl_algos.common.losses.value.value_targets`."""

from __future__ import annotations

from typing import Any

import torch

from rl_algos.common.learners.replay import ReplayLearner


class TeamQLearner(ReplayLearner):
    """Base of the value learners: one optimizer (`config.optimizer`) over the agent network and the mixer. Each
    algorithm's loss is its own `compute_loss_for_module` (`rl_algos/<algo>/learner.py`)."""

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        params = [p for p in self.get_parameters(self._module[module_id]) if p.requires_grad]
        self.register_optimizer(
            module_id=module_id, optimizer=self.value_optimizer(params), params=params, lr_or_lr_schedule=config.lr
        )

    def value_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer named by `config.optimizer` for the value networks' parameters."""
        if self.config.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, alpha=0.99, eps=1e-5)  # PyMARL's settings
        return torch.optim.Adam(params, foreach=True)
