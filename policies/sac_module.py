"""`TeamSACModule`: the RLlib RLModule of discrete soft actor-critic teams (Central-V's `sac` base)."""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.core import Columns
from ray.rllib.core.learner.utils import make_target_network
from torch import nn
from torch.nn import functional as F

from policies.actor_critic_module import TeamActorCriticModule
from policies.team_critics import CounterfactualCritic


class TeamSACModule(TeamActorCriticModule):
    """The shared actor of `TeamActorCriticModule` and, on the learner only, twin centralised critics
    `Q_i(s, (u^-a, .))` (COMA's counterfactual critic over the team embedding, so they serve any team size up to
    `n_max`), their Polyak-averaged target copies, and the learned temperature `log_alpha`
    (`model_config["initial_alpha"]`, default 0.2)."""

    def setup(self) -> None:
        self.model_config = {**self.model_config, "critic": "coma"}
        super().setup()
        if self.inference_only:
            return
        n_max, obs_dim = self.observation_space["obs"].shape
        config = self.model_config
        self.critic_2 = CounterfactualCritic(
            obs_dim,
            self.n_actions,
            n_max,
            config.get("team_embedding", "concat"),
            config.get("critic_hidden", (64, 64)),
            config.get("obs_agent_id", True),
        )
        self.log_alpha = nn.Parameter(torch.tensor(math.log(config.get("initial_alpha", 0.2))))

    def get_non_inference_attributes(self) -> list[str]:
        return [*super().get_non_inference_attributes(), "critic_2", "_target_critic_2", "log_alpha"]

    def make_target_networks(self) -> None:
        super().make_target_networks()
        self._target_critic_2 = make_target_network(self.critic_2)

    def get_target_network_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [*super().get_target_network_pairs(), (self.critic_2, self._target_critic_2)]

    def twin_q(
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor, target: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both critics' (or target critics') `Q(s, (u^-a, u'))`, each `[B, n_max, A]`, at the joint action."""
        onehot = F.one_hot(actions.long(), self.n_actions).float()
        critics = (self._target_critic, self._target_critic_2) if target else (self.critic, self.critic_2)
        return tuple(critic(obs["obs"], onehot, obs["mask"]) for critic in critics)

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The min of the target critics at `batch[Columns.OBS]` and `batch[Columns.ACTIONS]`: `{"q": ...}`."""
        q1, q2 = self.twin_q(batch[Columns.OBS], batch[Columns.ACTIONS], target=True)
        return {"q": torch.minimum(q1, q2)}
