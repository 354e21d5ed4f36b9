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
from policies.networks.agent_network import AgentQNetwork
from policies.networks.masked import chosen_action_values, mean_over_present


class TeamSACModule(TeamActorCriticModule):
    """The shared actor of `TeamActorCriticModule` and, on the learner only, twin centralised critics, their
    Polyak-averaged target copies, and the learned temperature `log_alpha` (`model_config["initial_alpha"]`).

    With `model_config["unmix"]` (greedy unmixing) also each agent's own critic `Q_ind(o_a, id_a, .)` (one output
    per action; for continuous actions `Q_ind(o_a, id_a, u_a)`) with a target copy, and the log Lagrange
    multipliers.

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
        self.critic_ind = None
        if self.model_config["unmix"]:  # greedy unmixing: each agent's own critic, and lagrange's multipliers
            n_max, obs_dim = self.observation_space["obs"].shape
            inputs, outputs = (obs_dim, self.n_actions) if self.discrete else (obs_dim + self.action_dim, 1)
            self.critic_ind = AgentQNetwork(
                inputs, outputs, n_max, self.model_config["critic_hidden"], self.model_config["obs_agent_id"]
            )
            self.log_lambdas = nn.Parameter(torch.zeros(2))

    def get_non_inference_attributes(self) -> list[str]:
        return [
            *super().get_non_inference_attributes(),
            "critic_2",
            "_target_critic_2",
            "log_alpha",
            "critic_ind",
            "_target_critic_ind",
            "log_lambdas",
        ]

    def make_target_networks(self) -> None:
        super().make_target_networks()
        self._target_critic_2 = make_target_network(self.critic_2)
        if self.critic_ind is not None:
            self._target_critic_ind = make_target_network(self.critic_ind)

    def get_target_network_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        pairs = [*super().get_target_network_pairs(), (self.critic_2, self._target_critic_2)]
        return pairs + ([(self.critic_ind, self._target_critic_ind)] if self.critic_ind is not None else [])

    def independent_q(
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor | None = None, target: bool = False
    ) -> torch.Tensor:
        """Greedy unmixing's independent estimator, each agent's own critic (the target copy's with `target`):
        `Q_ind(o_a, id_a, .)` `[B, n_max, A]` for discrete actions (`actions` unused), `Q_ind(o_a, id_a, u_a)`
        `[B, n_max]` at the actions `[B, n_max, k]` for continuous ones."""
        critic = self._target_critic_ind if target else self.critic_ind
        if self.discrete:
            return critic(obs["obs"])
        return critic(torch.cat([obs["obs"], actions.float()], dim=-1)).squeeze(-1)

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

    @torch.no_grad()
    def team_value(self, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """The critics' values of the joint actions taken along one episode, `[T]` each, as means over present agents
        (each agent's own action read off the discrete critics' per-action outputs): `"team"` from the twin
        critics' minimum and, with `unmix`, `"independent"` from each agent's own critic. The critics learn the soft
        return, the policy's entropy bonus included."""
        q1, q2 = self.twin_q(obs, actions)  # [T, n_max, A] (discrete) or [T, n_max]
        independent = self.independent_q(obs, actions) if self.critic_ind is not None else None
        if self.discrete:
            q1, q2 = chosen_action_values(q1, actions), chosen_action_values(q2, actions)
            independent = None if independent is None else chosen_action_values(independent, actions)
        values = {"team": mean_over_present(torch.minimum(q1, q2), obs["mask"])}
        if independent is not None:
            values["independent"] = mean_over_present(independent, obs["mask"])
        return values

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The min of the target critics at `batch[Columns.OBS]` and `batch[Columns.ACTIONS]`: `{"q": ...}`."""
        q1, q2 = self.twin_q(batch[Columns.OBS], batch[Columns.ACTIONS], target=True)
        return {"q": torch.minimum(q1, q2)}
