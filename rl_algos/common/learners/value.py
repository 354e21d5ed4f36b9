"""`TeamQLearner`: the replay learner base of the value learners (IQL, VDN, QMIX, GUM): their optimizer."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns

from rl_algos.common.learners.replay import ReplayLearner
from rl_algos.common.losses.actor_critic import td_lambda_targets
from rl_algos.common.losses.value import td_targets


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

    def bootstrap_targets(
        self,
        batch: dict[str, Any],
        rewards: torch.Tensor,
        next_values: torch.Tensor,
        valid: torch.Tensor | None,
        sequence_shape: tuple[int, int] | None,
    ) -> torch.Tensor:
        """The regression targets of a (folded) batch from its rewards and the bootstrap values of the observations
        after each step, a team value `[B]` or per agent `[B, n]`: n-step TD targets (`td_targets`) or, with
        `td_lambda`, the TD(lambda) returns of the replayed sequences (`sequence_lambda_returns`; `valid` `[B]` and
        `sequence_shape` `(B, T)` from `fold_sequences`)."""
        config = self.config
        terminateds = batch[Columns.TERMINATEDS].float()  # [B]
        if config.td_lambda is None:
            return td_targets(rewards, config.gamma ** batch["n_step"].float(), terminateds, next_values)
        return sequence_lambda_returns(
            rewards, terminateds, next_values, valid, sequence_shape, config.gamma, config.td_lambda
        )


# TD(lambda) targets over replayed sequences (Peng's Q(lambda), as pymarl2's `td_lambda`: no off-policy correction):
# G_t = r_t + gamma (1 - d_t) [(1 - lambda) V'_{t+1} + lambda G_{t+1}], with G_{t+1} = V'_{t+1} once step t+1 is not in
# the sequence (its episode ended, or the sequence did): COMA's `td_lambda_targets` with a cut after each sequence's
# last stored step. lambda = 0 is the 1-step target.
def sequence_lambda_returns(
    rewards: torch.Tensor,
    terminateds: torch.Tensor,
    next_values: torch.Tensor,
    valid: torch.Tensor,
    sequence_shape: tuple[int, int],
    gamma: float,
    lambda_: float,
) -> torch.Tensor:
    """Sequences folded into the batch (`fold_sequences`), `sequence_shape` `(B, T)`: `next_values` `[B * T]` (a team
    value) or `[B * T, n]` (per agent), V' of the observation after each step; `rewards` `[B * T]`, `[B * T, 1]` or
    like `next_values`; `terminateds` and `valid` (1.0 on the sequence's stored steps, a prefix of each) `[B * T]`
    -> like `next_values`."""
    following = valid.reshape(sequence_shape).roll(-1, dims=1)
    following[:, -1] = 0.0  # nothing follows a sequence's last slot
    cuts = 1.0 - following.reshape(-1)
    return td_lambda_targets(rewards, terminateds, cuts, next_values, gamma, lambda_)
