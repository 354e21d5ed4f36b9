"""`TeamSACModule`: the RLlib RLModule of soft actor-critic teams (Central-V SAC)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch
from ray.rllib.core import Columns
from ray.rllib.core.learner.utils import make_target_network
from torch import nn
from torch.nn import functional as F

from policies.actor_critic_module import TeamActorCriticModule


class TeamSACModule(TeamActorCriticModule):
    """The shared actor of `TeamActorCriticModule` and, on the learner only, twin centralised critics, their
    Polyak-averaged target copies, and the learned temperature `log_alpha` (`model_config["initial_alpha"]`).

    Discrete actions: the critics are COMA's counterfactual `Q_i(s, (u^-a, .))` `[B, n_max, A]`; continuous
    actions (squashed-Gaussian actor): MADDPG's joint-action `Q_i(o, u)_a` `[B, n_max]`. Both sit on the team
    embedding, so with `mean` / `graph` they serve any team size up to `n_max`.
    """

    def setup(self) -> None:
        discrete = isinstance(self.action_space, gym.spaces.MultiDiscrete)
        self.model_config = {**self.model_config, "critic": "coma" if discrete else "joint"}
        super().setup()
        if self.inference_only:
            return
        self.critic_2 = self.make_critic()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(self.model_config["initial_alpha"])))

    def get_non_inference_attributes(self) -> list[str]:
        return [*super().get_non_inference_attributes(), "critic_2", "_target_critic_2", "log_alpha"]

    def make_target_networks(self) -> None:
        super().make_target_networks()
        self._target_critic_2 = make_target_network(self.critic_2)

    def get_target_network_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [*super().get_target_network_pairs(), (self.critic_2, self._target_critic_2)]

    def twin_critics(self, target: bool = False) -> tuple[nn.Module, nn.Module]:
        """The two critics, or their target copies."""
        return (self._target_critic, self._target_critic_2) if target else (self.critic, self.critic_2)

    def twin_q(
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor, target: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both critics' (or target critics') values at the joint action: `Q(s, (u^-a, u'))` `[B, n_max, A]` for
        discrete actions `[B, n_max]`, `Q_a(o, u)` `[B, n_max]` for continuous ones `[B, n_max, k]`."""
        vectors = F.one_hot(actions.long(), self.n_actions).float() if self.discrete else actions
        return tuple(critic(obs["obs"], vectors, obs["mask"]) for critic in self.twin_critics(target))

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The min of the target critics at `batch[Columns.OBS]` and `batch[Columns.ACTIONS]`: `{"q": ...}`."""
        q1, q2 = self.twin_q(batch[Columns.OBS], batch[Columns.ACTIONS], target=True)
        return {"q": torch.minimum(q1, q2)}
