"""`TeamQModule`: the RLlib RLModule of value-based teams (IQL, VDN, QMIX and what builds on them)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from ray.rllib.utils.schedules.scheduler import Scheduler

from policies.networks.agent_network import AgentQNetwork, RecurrentAgentQNetwork
from policies.networks.masked import chosen_action_values, mean_over_present
from policies.networks.mixers import QMixer, make_mixer
from policies.pretrained_reference import PRETRAINED_REFERENCE, PretrainedReferenceAPI
from policies.reused_agent_ids import ReusedAgentIds
from policies.train_mode import SkipRepeatedModeSwitch


class TeamQModule(
    ReusedAgentIds, SkipRepeatedModeSwitch, TorchRLModule, TargetNetworkAPI, InferenceOnlyAPI, PretrainedReferenceAPI
):
    """The shared agent Q-network acting for the whole (padded) team, plus, on the learner only, the mixer
    (`model_config["mixer"]`: None, "vdn" or "qmix") and the target networks.

    Inference acts greedily, exploration epsilon-greedily (`model_config["epsilon"]`: a constant or a
    `[[t, value], ...]` schedule over global env steps); absent agents always get action 0, which `TeamEnv`
    ignores. Env runners build the agent network alone, so they hold nothing that depends on the team size.

    With `model_config["obs_last_action"]` each agent also sees its previous action (the team env's
    `last_action` observation, one-hot), as PyMARL's option.

    With `model_config["recurrent"]` the agent network is a GRU (`RecurrentAgentQNetwork`): the module is then
    stateful (state `{"h": [n_max, hidden]}`), RLlib's connectors add the time rank, and training batches are
    zero-padded sequences of `max_seq_len` steps with a loss mask.

    With `model_config["pretrained_reference"]` the learner also holds a frozen copy of the agent network
    (`PretrainedReferenceAPI`), fine-tuning's trust-region reference.
    """

    def setup(self) -> None:
        config = self.model_config
        self.target_q_at_obs = config["target_q_at_obs"]
        n_max, obs_dim = self.observation_space["obs"].shape
        state_dim = self.observation_space["state"].shape[0]
        self.n_actions = int(self.action_space.nvec[0])
        self.recurrent = config.get("recurrent", False)  # unset by the algorithms without recurrent agents
        self.obs_last_action = config["obs_last_action"]
        agent_cls = RecurrentAgentQNetwork if self.recurrent else AgentQNetwork
        agent_in = obs_dim + (self.n_actions if self.obs_last_action else 0)
        self.agent = agent_cls(agent_in, self.n_actions, n_max, config["hidden"], config["obs_agent_id"])
        self.epsilon_schedule = Scheduler(config["epsilon"])
        self.mixer = None
        if self.inference_only:
            # Env-runner copies only act; staying in eval mode spares RLlib's per-call train/eval toggling.
            self.eval()
        elif config["mixer"] is not None:
            self.mixer = make_mixer(
                config["mixer"],
                n_max,
                obs_dim,
                state_dim,
                team_embedding=config["team_embedding"],
                mixer_input=config["mixer_input"],
                mixing_embed_dim=config["mixing_embed_dim"],
                hypernet_embed=config["hypernet_embed"],
                # absent from checkpoints written before the option existed: they were trained without it
                hypernet_input_norm=config.get("hypernet_input_norm", False),
                mixer_pooling=config.get("mixer_pooling", "sum"),
                q_norm=config.get("mixer_q_norm", False),
            )
        self.make_pretrained_reference()

    # InferenceOnlyAPI: env runners never build or receive these.
    def get_non_inference_attributes(self) -> list[str]:
        return ["mixer", "_target_agent", "_target_mixer", PRETRAINED_REFERENCE]

    # PretrainedReferenceAPI
    def policy_network(self) -> torch.nn.Module:
        return self.agent

    def policy_inputs(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.agent_inputs(obs)

    # TargetNetworkAPI
    def make_target_networks(self) -> None:
        self._target_agent = make_target_network(self.agent)
        self._target_mixer = make_target_network(self.mixer) if self.mixer is not None else None

    def get_target_network_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        pairs = [(self.agent, self._target_agent)]
        if self.mixer is not None:
            pairs.append((self.mixer, self._target_mixer))
        return pairs

    def forward_target(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Target agent Qs for `batch[Columns.OBS]` (from `batch[Columns.STATE_IN]` if recurrent): `{"q": ...}`."""
        return {"q": self.agent_q(self._target_agent, batch[Columns.OBS], batch.get(Columns.STATE_IN))[0]}

    def get_initial_state(self) -> dict[str, torch.Tensor]:
        if not self.recurrent:
            return {}
        return {"h": torch.zeros(self.agent.n_max, self.agent.hidden_dim)}

    def agent_q(
        self, network: torch.nn.Module, obs: dict[str, torch.Tensor], state: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Agent Qs `[B, (T,) n_max, A]` of `network` (the online or target agent network) and the next state."""
        if not self.recurrent:
            return network(self.agent_inputs(obs), mask=obs["mask"]), {}
        q, h = network(self.agent_inputs(obs), state["h"])
        return q, {"h": h}

    def agent_inputs(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each agent's observation, with its previous action appended when `obs_last_action` is on."""
        if self.obs_last_action:
            return torch.cat([obs["obs"], obs["last_action"]], dim=-1)
        return obs["obs"]

    @torch.no_grad()
    def team_value(self, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """The team's predicted value of the joint actions taken along one episode (obs `[T, ...]`, actions
        `[T, n_max]`): `{"team": [T]}`, the mixer's `Q_tot(s_t, u_t)` (VDN, QMIX, gum's mixed estimate) or without a
        mixer (IQL) the mean over present agents of `Q_a(o_a, u_a)`."""
        q, q_taken = self.episode_qs(obs, actions)  # [T, n_max, A], [T, n_max]
        if self.mixer is not None:
            return {"team": self.mix(self.mixer_inputs(q_taken, q), obs)}
        return {"team": mean_over_present(q_taken, obs["mask"])}

    def episode_qs(self, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each agent's Qs `Q_a(o_a, .)` [T, n_max, A] along one episode (a recurrent agent run over it from its
        initial state) and its `Q_a(o_a, u_a)` [T, n_max] of the actions taken."""
        if self.recurrent:
            initial = {"h": self.get_initial_state()["h"][None]}
            q, _ = self.agent_q(self.agent, {key: value[None] for key, value in obs.items()}, initial)
            q = q[0]  # [T, n_max, A]
        else:
            q, _ = self.agent_q(self.agent, obs)  # [T, n_max, A]
        return q, chosen_action_values(q, actions)

    def observe_agent_qs(self, agent_qs: torch.Tensor, mask: torch.Tensor) -> None:
        """Let a QMIX mixer with `mixer_q_norm` move its running Q scale toward the agent Qs `[B, n_max]` the
        learner is about to mix (once per update); other mixers have no scale to track."""
        if isinstance(self.mixer, QMixer):
            self.mixer.observe_agent_qs(agent_qs, mask)

    def mixer_inputs(self, chosen_qs: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """What the mixer mixes of each agent, from its chosen Qs `[..., B, n_max]` and all its Qs `[B, n_max, A]`
        at the same observations: the chosen Qs themselves (gum may centre them)."""
        return chosen_qs

    def mix(self, agent_qs: torch.Tensor, obs: dict[str, torch.Tensor], target: bool = False) -> torch.Tensor:
        """`Q_tot` [..., B] of the chosen agent Qs [..., B, n_max] with the (target) mixer; leading dimensions
        are joint actions of the same `obs` ([B, ...])."""
        mixer = self._target_mixer if target else self.mixer
        return mixer(agent_qs, obs["mask"], obs["obs"], obs["state"])

    def _act(self, batch: dict[str, Any], epsilon: float) -> dict[str, Any]:
        obs = batch[Columns.OBS]
        q, state_out = self.agent_q(self.agent, obs, batch.get(Columns.STATE_IN))
        present = obs["mask"].long()  # [B, (T,) n_max]
        actions = q.argmax(dim=-1) * present
        if epsilon > 0:
            random_actions = torch.randint_like(actions, self.n_actions) * present
            explore = torch.rand(actions.shape, device=actions.device) < epsilon
            actions = torch.where(explore, random_actions, actions)
        return {Columns.ACTIONS: actions, **({Columns.STATE_OUT: state_out} if self.recurrent else {})}

    @torch.no_grad()
    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._act(batch, epsilon=0.0)

    @torch.no_grad()
    def _forward_exploration(self, batch: dict[str, Any], t: int = 0, **kwargs) -> dict[str, Any]:
        self.epsilon_schedule.update(t)
        return self._act(batch, epsilon=float(self.epsilon_schedule.get_current_value()))

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        """Online Qs at the observations and next observations (for double-Q), the target network's Qs at the
        next observations (bootstrap values) and, with `model_config["target_q_at_obs"]` (Munchausen and greedy
        unmixing's reference policies), at the observations; each `[B, (T,) n_max, A]`."""
        obs, next_obs = batch[Columns.OBS], batch[Columns.NEXT_OBS]
        state, next_state = batch.get(Columns.STATE_IN), batch.get(Columns.NEXT_STATE_IN)
        out = {}
        if self.recurrent:
            out["q"], _ = self.agent_q(self.agent, obs, state)
            out["q_next"], _ = self.agent_q(self.agent, next_obs, next_state)
            with torch.no_grad():
                out["q_next_target"], _ = self.agent_q(self._target_agent, next_obs, next_state)
                if self.target_q_at_obs:
                    out["q_target"], _ = self.agent_q(self._target_agent, obs, state)
        else:  # one pass per network over the observations and next observations together
            both = torch.cat([self.agent_inputs(obs), self.agent_inputs(next_obs)])
            both_mask = torch.cat([obs["mask"], next_obs["mask"]])
            out["q"], out["q_next"] = self.agent(both, mask=both_mask).chunk(2)
            with torch.no_grad():
                if self.target_q_at_obs:
                    out["q_target"], out["q_next_target"] = self._target_agent(both, mask=both_mask).chunk(2)
                else:
                    out["q_next_target"] = self._target_agent(self.agent_inputs(next_obs), mask=next_obs["mask"])
        return out
