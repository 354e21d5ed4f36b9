"""`TeamActorCriticModule`: the RLlib RLModule of the actor-critic teams (IAC, Central-V, COMA)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from torch.nn import functional as F

from policies.networks.agent_network import AgentQNetwork
from policies.networks.team_critics import CounterfactualCritic, JointActionCritic, MixingCritic, TeamValueCritic
from policies.networks.value_normalizer import ValueNormalizer
from policies.pretrained_reference import PRETRAINED_REFERENCE, PretrainedReferenceAPI
from policies.reused_agent_ids import ReusedAgentIds
from policies.sequences import unpadded_steps
from policies.team_actor import TeamActor
from policies.train_mode import SkipRepeatedModeSwitch

CRITICS = ("agent", "team", "coma", "joint", "agent_q", "lica")
Q_CRITICS = ("coma", "joint", "agent_q", "lica")  # Q-functions, with target copies


class TeamActorCriticModule(
    ReusedAgentIds, SkipRepeatedModeSwitch, TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI, PretrainedReferenceAPI
):
    """One shared stochastic actor for the padded team (`TeamActor`: RLlib's `TorchMultiCategorical` over flat
    logits, or a squashed Gaussian for Box actions) and, on the learner only, a critic chosen by
    `model_config["critic"]`:

    - `"agent"` (IAC): per-agent `V(o_a, id_a)` with shared parameters;
    - `"team"` (Central-V): one centralised `V(s)` over the team embedding of the agents' observations;
    - `"coma"`: COMA's counterfactual `Q(s, (u^-a, .))` over the team embedding of (observation, action) pairs;
    - `"joint"`: MADDPG's joint-action `Q_a(o, u)` over the same pairs, for continuous actions;
    - `"agent_q"` (IAC on AWAC): per-agent `Q(o_a, id_a, .)` with shared parameters, one output per action;
    - `"lica"`: LICA's `Q(s, pi_1..pi_n)`, the agents' action distributions mixed by hypernetworks over the team
      embedding (`MixingCritic`).

    The Q critics have target copies. Absent agents never act (see `TeamActor`); losses take per-agent
    log-probabilities from the `logits` (the distribution inputs), not the joint distribution's sum.

    With `model_config["recurrent"]` the actor is PyMARL's GRU agent: the module is stateful (state
    `{"h": [n_max, hidden[-1]]}`), RLlib's learner connectors cut the rollouts into zero-padded sequences of
    `max_seq_len` steps, and `_forward_train` unrolls the actor over them and returns its outputs at the rollouts'
    steps, laid end to end as a stateless module's (`unpadded_steps`); the critics stay MLPs over each step.

    With `model_config["value_normalization"]` (PPO's option) a value critic's head learns normalised values and
    `values` returns them in return units through the learner's running target statistics (`ValueNormalizer`).

    With `model_config["pretrained_reference"]` the learner also holds a frozen copy of the actor's network
    (`PretrainedReferenceAPI`), fine-tuning's trust-region reference.
    """

    def setup(self) -> None:
        config = self.model_config
        n_max, obs_dim = self.observation_space["obs"].shape
        self.n_max = n_max
        self.recurrent = config.get("recurrent", False)  # unset by the algorithms without recurrent agents
        self.actor = TeamActor(
            self.action_space,
            obs_dim,
            n_max,
            config["hidden"],
            config["obs_agent_id"],
            recurrent=self.recurrent,
            output_scale=config.get("actor_output_scale", 1.0),
        )
        self.discrete = self.actor.discrete
        self.n_actions = self.actor.n_actions  # 0 for continuous actions
        self.action_dim = self.actor.action_dim  # A (discrete) or k (continuous)
        self.critic = self.value_normalizer = None
        if self.inference_only:
            self.eval()
        else:
            self.critic = self.make_critic()
            if config.get("value_normalization", False):
                if self.has_q_critic:
                    raise ValueError(f"value_normalization applies to value critics, not critic={config['critic']!r}")
                self.value_normalizer = ValueNormalizer()
        self.make_pretrained_reference()

    def make_critic(self) -> torch.nn.Module:
        """A new critic of the kind `model_config["critic"]` names."""
        config = self.model_config
        n_max, obs_dim = self.observation_space["obs"].shape
        kind, embedding, hidden = config["critic"], config["team_embedding"], config["critic_hidden"]
        if kind not in CRITICS:
            raise ValueError(f"critic={kind!r} is unknown; use one of {', '.join(CRITICS)}")
        if kind == "agent":
            return AgentQNetwork(obs_dim, 1, n_max, hidden, config["obs_agent_id"])
        if kind == "team":
            return TeamValueCritic(obs_dim, n_max, embedding, hidden)
        if kind == "agent_q":
            if not self.discrete:
                raise ValueError("the per-agent Q critic (critic='agent_q') needs discrete actions")
            return AgentQNetwork(obs_dim, self.n_actions, n_max, hidden, config["obs_agent_id"])
        if kind == "lica":
            if not self.discrete:
                raise ValueError("LICA's mixing critic (critic='lica') needs discrete actions")
            return MixingCritic(obs_dim, self.n_actions, n_max, embedding, hidden, config["obs_agent_id"])
        if kind == "coma":
            if not self.discrete:
                raise ValueError("the counterfactual critic (critic='coma') needs discrete actions")
            return CounterfactualCritic(obs_dim, self.n_actions, n_max, embedding, hidden, config["obs_agent_id"])
        return JointActionCritic(obs_dim, self.action_dim, n_max, embedding, hidden, config["obs_agent_id"])

    # InferenceOnlyAPI: env runners hold the actor alone.
    def get_non_inference_attributes(self) -> list[str]:
        return ["critic", "_target_critic", "value_normalizer", PRETRAINED_REFERENCE]

    # PretrainedReferenceAPI
    def policy_network(self) -> torch.nn.Module:
        return self.actor.network

    @property
    def has_q_critic(self) -> bool:
        """Whether the critic is a Q-function (`coma`, `joint`, `agent_q`), which has a target copy, or a value
        function."""
        return self.model_config["critic"] in Q_CRITICS

    # TargetNetworkAPI: only the Q critics have target copies.
    def make_target_networks(self) -> None:
        if self.has_q_critic:
            self._target_critic = make_target_network(self.critic)

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        return [(self.critic, self._target_critic)] if self.has_q_critic else []

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The target counterfactual critic at `batch[Columns.OBS]` and `batch[Columns.ACTIONS]`: `{"q": ...}`."""
        return {"q": self.counterfactual_q(batch[Columns.OBS], batch[Columns.ACTIONS], target=True)}

    def counterfactual_q(
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor, target: bool = False
    ) -> torch.Tensor:
        """COMA: `Q(s, (u^-a, u'))` for every agent a and action u' `[B, n_max, A]`, given the joint action
        `[B, n_max]`."""
        critic = self._target_critic if target else self.critic
        return critic(obs["obs"], F.one_hot(actions.long(), self.n_actions).float(), obs["mask"])

    def agent_q(self, obs: dict[str, torch.Tensor], target: bool = False) -> torch.Tensor:
        """IAC on AWAC: each agent's `Q(o_a, id_a, u)` for every action `[B, n_max, A]` (the target copy's with
        `target`)."""
        critic = self._target_critic if target else self.critic
        return critic(obs["obs"])

    def mixed_q(self, obs: dict[str, torch.Tensor], action_probs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """LICA: the team's `Q(s, pi_1..pi_n)` `[B]` of per-agent action distributions (or one-hots) `[B, n_max, A]`
        (the target copy's with `target`)."""
        critic = self._target_critic if target else self.critic
        return critic(obs["obs"], action_probs, obs["mask"])

    def get_initial_state(self) -> dict[str, torch.Tensor]:
        if not self.recurrent:
            return {}
        return {"h": torch.zeros(self.n_max, self.actor.hidden_dim)}

    def logits(self, obs: dict[str, torch.Tensor], ids: torch.Tensor | None = None) -> torch.Tensor:
        """Per-agent distribution inputs of an MLP actor: action logits `[B, n_max, A]` (absent agents forced onto
        action 0) or squashed-Gaussian `[loc, log_std]` `[B, n_max, 2k]`; `ids` replaces the slots' own agent ids."""
        return self.actor(obs, ids)

    def next_logits(self, next_obs: dict[str, torch.Tensor], hiddens: torch.Tensor | None = None) -> torch.Tensor:
        """The actor's distribution inputs `[N, n_max, ...]` at the steps' next observations `[N, n_max, ...]`; a
        recurrent actor goes one step on from its state after each step, `hiddens` `[N, n_max, H]`."""
        if not self.recurrent:
            return self.logits(next_obs)
        one_step = {key: value.unsqueeze(1) for key, value in next_obs.items()}  # [N, 1, n_max, ...]
        return self.actor.unroll(one_step, hiddens)[0].squeeze(1)

    def as_each_agent(self, obs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Every agent's observations seen in every agent's place, for shared experience (SEAC): `obs` and `mask`
        repeated along a new axis a (`[B, n_max(a), n_max(b), ...]`), and the ids that put agent a's one-hot in
        every slot b (`[B, n_max(a), n_max(b), n_max]`), for `logits(..., ids)` and `values(..., ids)`."""
        n = self.n_max
        repeated = {key: obs[key].unsqueeze(1).expand(-1, n, *obs[key].shape[1:]) for key in ("obs", "mask")}
        batch = obs["mask"].shape[0]
        ids = torch.eye(n, device=obs["mask"].device)[None, :, None, :].expand(batch, n, n, n)
        return repeated, ids

    def values(self, obs: dict[str, torch.Tensor], ids: torch.Tensor | None = None) -> torch.Tensor:
        """Per-agent values `[B, n_max]` (0 for absent agents; `ids` replaces the slots' own agent ids) or the team
        value `[B]`, in return units."""
        if isinstance(self.critic, TeamValueCritic):
            return self.in_return_units(self.critic(obs["obs"], obs["mask"]))
        return self.in_return_units(self.critic(obs["obs"], ids, obs["mask"]).squeeze(-1)) * obs["mask"]

    def in_return_units(self, head: torch.Tensor) -> torch.Tensor:
        """A value critic's head output, denormalised when the critic learns normalised values."""
        return head if self.value_normalizer is None else self.value_normalizer.denormalize(head)

    def value_scale(self) -> torch.Tensor | float:
        """The unit of the critic's value error: the targets' running std with value normalisation, else 1."""
        return 1.0 if self.value_normalizer is None else self.value_normalizer.scale()

    def _action_dist_inputs(self, batch: dict[str, Any]) -> dict[str, Any]:
        if not self.recurrent:
            return {Columns.ACTION_DIST_INPUTS: self.actor.action_dist_inputs(self.logits(batch[Columns.OBS]))}
        inputs, hiddens = self.actor.unroll(batch[Columns.OBS], batch[Columns.STATE_IN]["h"])  # [B, T, n_max, ...]
        return {
            Columns.ACTION_DIST_INPUTS: self.actor.action_dist_inputs(inputs),
            Columns.STATE_OUT: {"h": hiddens[:, -1]},
        }

    @torch.no_grad()
    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._action_dist_inputs(batch)

    @torch.no_grad()
    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._action_dist_inputs(batch)

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        """At the rollouts' steps `[N, ...]` (`unpadded_steps`: a recurrent actor's sequences unpadded): per-agent
        `logits` (distribution inputs); for Q critics, `next_logits` at the next observations (without gradient:
        the learners bootstrap and draw next actions from them, and evaluate the critics themselves, as those need
        the joint actions); for value critics, the values at the observations and (without gradient) at the next
        observations, where the batch has them."""
        steps = unpadded_steps(batch)
        hiddens = None
        if self.recurrent:
            logits, hiddens = self.actor.unroll(batch[Columns.OBS], batch[Columns.STATE_IN]["h"])  # [B, T, n, ...]
            data = batch[Columns.LOSS_MASK] > 0.5  # [B, T]: the steps that are not padding
            logits, hiddens = logits[data], hiddens[data]  # [N, n, ...]
        else:
            logits = self.logits(steps[Columns.OBS])
        out = {Columns.ACTION_DIST_INPUTS: self.actor.action_dist_inputs(logits), "logits": logits}
        if self.has_q_critic:
            with torch.no_grad():
                return out | {"next_logits": self.next_logits(steps[Columns.NEXT_OBS], hiddens)}
        out["values"] = self.values(steps[Columns.OBS])
        if Columns.NEXT_OBS in steps:  # PPO's minibatches drop them once the batch's advantages are computed
            with torch.no_grad():
                out["next_values"] = self.values(steps[Columns.NEXT_OBS])
        return out

    def get_inference_action_dist_cls(self):
        return self.actor.dist_cls()

    def get_exploration_action_dist_cls(self):
        return self.get_inference_action_dist_cls()

    def get_train_action_dist_cls(self):
        return self.get_inference_action_dist_cls()
