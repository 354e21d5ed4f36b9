"""`TeamMADDPGModule`: the RLlib RLModule of MADDPG teams (TD3-style), discrete or continuous actions."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.core import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchMultiCategorical
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from torch import nn
from torch.nn import functional as F

from policies.networks.agent_network import AgentQNetwork
from policies.networks.masked import mean_over_present
from policies.networks.team_critics import JointActionCritic
from policies.pretrained_reference import PRETRAINED_REFERENCE, PretrainedReferenceAPI
from policies.reused_agent_ids import ReusedAgentIds
from policies.team_actor import absent_agent_logits, box_bounds
from policies.train_mode import SkipRepeatedModeSwitch


class TeamMADDPGModule(
    ReusedAgentIds, SkipRepeatedModeSwitch, TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI, PretrainedReferenceAPI
):
    """One shared actor for the padded team and, on the learner only, twin joint-action critics
    (`JointActionCritic`) and target copies of all three (and, with `model_config["pretrained_reference"]`, a
    frozen copy of the actor: `PretrainedReferenceAPI`). With `model_config["unmix"]` (greedy unmixing) also each
    agent's own critic `Q_ind(o_a, id_a, u_a)` with a target copy, and the log Lagrange multipliers.

    Discrete actions (MultiDiscrete): the actor gives logits; env runners sample through `TorchMultiCategorical`
    over the flat logits (exploring) or take the argmax (greedy); the learner feeds the critics one-hot actions,
    the actor's through a straight-through Gumbel-softmax. Continuous actions (Box `[n_max, k]`): the
    actor gives `tanh(mu(o_a))` scaled onto the Box's bounds, exploring with Gaussian noise (`exploration_noise`, in
    units of half the bounds' width) clipped to the bounds.
    Absent agents take action 0 (discrete) or zeros (continuous), which `TeamEnv` ignores.
    """

    def setup(self) -> None:
        config = self.model_config
        n_max, obs_dim = self.observation_space["obs"].shape
        self.n_max = n_max
        self.discrete = isinstance(self.action_space, gym.spaces.MultiDiscrete)
        self.n_actions = int(self.action_space.nvec[0]) if self.discrete else 0
        self.action_dim = self.n_actions if self.discrete else int(self.action_space.shape[-1])
        self.low, self.high = (-1.0, 1.0) if self.discrete else box_bounds(self.action_space)
        self.exploration_noise = config["exploration_noise"]
        self.actor = AgentQNetwork(obs_dim, self.action_dim, n_max, config["hidden"], config["obs_agent_id"])
        if self.inference_only:
            self.eval()
        else:
            self.critic, self.critic_2 = (
                JointActionCritic(
                    obs_dim,
                    self.action_dim,
                    n_max,
                    config["team_embedding"],
                    config["critic_hidden"],
                    config["obs_agent_id"],
                )
                for _ in range(2)
            )
            self.critic_ind = None
            if config["unmix"]:  # greedy unmixing: each agent's own critic, and lagrange's multipliers
                self.critic_ind = AgentQNetwork(
                    obs_dim + self.action_dim, 1, n_max, config["critic_hidden"], config["obs_agent_id"]
                )
                self.log_lambdas = nn.Parameter(torch.zeros(2))
        if self.discrete:
            self.register_buffer("_absent_logits", absent_agent_logits(self.n_actions), persistent=False)
        self.make_pretrained_reference()

    def get_non_inference_attributes(self) -> list[str]:
        return [
            "critic",
            "critic_2",
            "critic_ind",
            "log_lambdas",
            "_target_actor",
            "_target_critic",
            "_target_critic_2",
            "_target_critic_ind",
            PRETRAINED_REFERENCE,
        ]

    # PretrainedReferenceAPI
    def policy_network(self) -> nn.Module:
        return self.actor

    def make_target_networks(self) -> None:
        self._target_actor = make_target_network(self.actor)
        self._target_critic = make_target_network(self.critic)
        self._target_critic_2 = make_target_network(self.critic_2)
        if self.critic_ind is not None:
            self._target_critic_ind = make_target_network(self.critic_ind)

    def get_target_network_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        pairs = [
            (self.actor, self._target_actor),
            (self.critic, self._target_critic),
            (self.critic_2, self._target_critic_2),
        ]
        return pairs + ([(self.critic_ind, self._target_critic_ind)] if self.critic_ind is not None else [])

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The target actor's output (logits or actions) at `batch[Columns.OBS]`: `{"actor": ...}`."""
        return {"actor": self.actor_output(batch[Columns.OBS], target=True)}

    def actor_output(self, obs: dict[str, torch.Tensor], target: bool = False) -> torch.Tensor:
        """`[B, n_max, A]` logits (absent agents forced onto action 0), or `[B, n_max, k]` actions in [-1, 1]
        (absent agents at 0)."""
        out = (self._target_actor if target else self.actor)(obs["obs"])
        present = obs["mask"].unsqueeze(-1) > 0.5
        if self.discrete:
            return torch.where(present, out, self._absent_logits)
        return self.onto_bounds(torch.tanh(out)) * present

    def onto_bounds(self, unit_actions: torch.Tensor) -> torch.Tensor:
        """Actions in [-1, 1] mapped linearly onto the Box's `[low, high]`."""
        return self.low + (unit_actions + 1.0) * (self.high - self.low) / 2

    def action_vectors(self, actions: torch.Tensor) -> torch.Tensor:
        """Replayed actions as critic inputs: one-hots `[B, n_max, A]` (discrete) or the actions themselves."""
        return F.one_hot(actions.long(), self.n_actions).float() if self.discrete else actions.float()

    def twin_q(self, obs: dict[str, torch.Tensor], action_vectors: torch.Tensor, target: bool = False):
        """Both critics' (or target critics') `Q_a` `[B, n_max]` at the joint action vectors."""
        critics = (self._target_critic, self._target_critic_2) if target else (self.critic, self.critic_2)
        return tuple(critic(obs["obs"], action_vectors, obs["mask"]) for critic in critics)

    def independent_q(
        self, obs: dict[str, torch.Tensor], action_vectors: torch.Tensor, target: bool = False
    ) -> torch.Tensor:
        """Greedy unmixing's independent estimator: each agent's own critic `Q_ind(o_a, id_a, u_a)` `[B, n_max]` (the
        target copy's with `target`)."""
        critic = self._target_critic_ind if target else self.critic_ind
        return critic(torch.cat([obs["obs"], action_vectors], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def team_value(self, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """The critics' values of the joint actions taken along one episode, `[T]` each, as means over present agents:
        `"team"` from the twin critics' minimum `min_i Q_i(s, u)_a` (what their targets bootstrap from) and, with
        `unmix`, `"independent"` from each agent's own critic `Q_ind(o_a, id_a, u_a)`."""
        vectors = self.action_vectors(actions)
        q1, q2 = self.twin_q(obs, vectors)  # [T, n_max]
        values = {"team": mean_over_present(torch.minimum(q1, q2), obs["mask"])}
        if self.critic_ind is not None:
            values["independent"] = mean_over_present(self.independent_q(obs, vectors), obs["mask"])
        return values

    def _act(self, batch: dict[str, Any], explore: bool) -> dict[str, torch.Tensor]:
        obs = batch[Columns.OBS]
        out = self.actor_output(obs)
        if self.discrete:
            return {Columns.ACTION_DIST_INPUTS: out.flatten(-2)}
        if explore:
            present = obs["mask"].unsqueeze(-1)
            noise = self.exploration_noise * (self.high - self.low) / 2 * torch.randn_like(out)
            out = (out + noise * present).clamp(self.low, self.high)
        return {Columns.ACTIONS: out}

    @torch.no_grad()
    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._act(batch, explore=False)

    @torch.no_grad()
    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._act(batch, explore=True)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        """The actor's output at the observations; the learner evaluates the critics, which need the actions."""
        return {"actor": self.actor_output(batch[Columns.OBS])}

    def get_inference_action_dist_cls(self):
        if self.discrete:
            return TorchMultiCategorical.get_partial_dist_cls(input_lens=[self.n_actions] * self.n_max)
        return None

    def get_exploration_action_dist_cls(self):
        return self.get_inference_action_dist_cls()

    def get_train_action_dist_cls(self):
        return self.get_inference_action_dist_cls()
