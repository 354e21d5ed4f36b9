"""`TeamActorCriticModule`: the RLlib RLModule of the on-policy actor-critic teams (IAC, Central-V, COMA)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchMultiCategorical
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from torch.nn import functional as F

from policies.agent_network import AgentQNetwork
from policies.team_critics import CounterfactualCritic, TeamValueCritic

CRITICS = ("agent", "team", "coma")
DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    "hidden": (64, 64),
    "critic_hidden": (64, 64),
    "obs_agent_id": True,
    "critic": "team",
    "team_embedding": "concat",
}
ABSENT_LOGIT = -1e9  # absent agents' logits for actions 1..A-1: they always pick action 0, with log-prob 0


class TeamActorCriticModule(TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI):
    """One shared actor for the padded team, `pi(u | o_a, id_a)`, and, on the learner only, a critic:
    per-agent `V(o_a, id_a)` with shared parameters (`critic="agent"`, IAC), one centralised `V(s)` over the
    team embedding of the agents' observations (`critic="team"`, Central-V), or COMA's counterfactual
    `Q(s, (u^-a, .))` over the team embedding of (observation, action) pairs with a target copy
    (`critic="coma"`).

    The actor's logits `[B, n_max, A]` travel flat (`[B, n_max * A]`) as RLlib's action-distribution inputs for
    `TorchMultiCategorical`, one categorical per agent slot; absent agents are forced onto action 0 (which
    `TeamEnv` ignores) with log-probability 0 and entropy 0, so they never act and add nothing to a joint
    log-probability. Losses take per-agent log-probabilities from `logits`, not the joint distribution's sum.
    """

    def setup(self) -> None:
        config = {**DEFAULT_MODEL_CONFIG, **self.model_config}
        n_max, obs_dim = self.observation_space["obs"].shape
        self.n_max = n_max
        self.n_actions = int(self.action_space.nvec[0])
        self.actor = AgentQNetwork(obs_dim, self.n_actions, n_max, config["hidden"], config["obs_agent_id"])
        self.critic = None
        if self.inference_only:
            self.eval()
        elif config["critic"] == "agent":
            self.critic = AgentQNetwork(obs_dim, 1, n_max, config["critic_hidden"], config["obs_agent_id"])
        elif config["critic"] == "coma":
            self.critic = CounterfactualCritic(
                obs_dim,
                self.n_actions,
                n_max,
                config["team_embedding"],
                config["critic_hidden"],
                config["obs_agent_id"],
            )
        else:
            self.critic = TeamValueCritic(obs_dim, n_max, config["team_embedding"], config["critic_hidden"])
        absent = torch.full((self.n_actions,), ABSENT_LOGIT)
        absent[0] = 0.0
        self.register_buffer("_absent_logits", absent, persistent=False)

    # InferenceOnlyAPI: env runners hold the actor alone.
    def get_non_inference_attributes(self) -> list[str]:
        return ["critic", "_target_critic"]

    # TargetNetworkAPI: only COMA's critic has a target copy.
    def make_target_networks(self) -> None:
        if isinstance(self.critic, CounterfactualCritic):
            self._target_critic = make_target_network(self.critic)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.critic, self._target_critic)] if isinstance(self.critic, CounterfactualCritic) else []

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The target counterfactual critic at `batch[Columns.OBS]` and `batch[Columns.ACTIONS]`: `{"q": ...}`."""
        return {"q": self.counterfactual_q(batch[Columns.OBS], batch[Columns.ACTIONS], target=True)}

    def counterfactual_q(
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor, target: bool = False
    ) -> torch.Tensor:
        """COMA: `Q(s, (u^-a, u'))` for every agent a and action u' `[B, n_max, A]`, given the joint action [B, n_max]."""
        critic = self._target_critic if target else self.critic
        return critic(obs["obs"], F.one_hot(actions.long(), self.n_actions).float(), obs["mask"])

    def logits(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-agent action logits `[B, n_max, A]`, absent agents forced onto action 0."""
        present = obs["mask"].unsqueeze(-1) > 0.5
        return torch.where(present, self.actor(obs["obs"]), self._absent_logits)

    def values(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-agent values `[B, n_max]` (0 for absent agents) or the team value `[B]`."""
        if isinstance(self.critic, TeamValueCritic):
            return self.critic(obs["obs"], obs["mask"])
        return self.critic(obs["obs"]).squeeze(-1) * obs["mask"]

    def _action_dist_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {Columns.ACTION_DIST_INPUTS: self.logits(batch[Columns.OBS]).flatten(-2)}

    @torch.no_grad()
    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._action_dist_inputs(batch)

    @torch.no_grad()
    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._action_dist_inputs(batch)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        """Logits `[B, n_max, A]` and, for value critics, the values at the observations and (without gradient) at
        the next observations. COMA's learner evaluates its critic itself, as that needs the joint actions."""
        obs = batch[Columns.OBS]
        logits = self.logits(obs)
        if isinstance(self.critic, CounterfactualCritic):
            return {Columns.ACTION_DIST_INPUTS: logits.flatten(-2), "logits": logits}
        with torch.no_grad():
            next_values = self.values(batch[Columns.NEXT_OBS])
        return {
            Columns.ACTION_DIST_INPUTS: logits.flatten(-2),
            "logits": logits,
            "values": self.values(obs),
            "next_values": next_values,
        }

    def get_inference_action_dist_cls(self):
        return TorchMultiCategorical.get_partial_dist_cls(input_lens=[self.n_actions] * self.n_max)

    def get_exploration_action_dist_cls(self):
        return self.get_inference_action_dist_cls()

    def get_train_action_dist_cls(self):
        return self.get_inference_action_dist_cls()
