"""`TeamQModule`: the RLlib RLModule of value-based teams (IQL, VDN, QMIX and what builds on them)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from ray.rllib.utils.schedules.scheduler import Scheduler

from policies.agent_network import AgentQNetwork
from policies.mixers import make_mixer

DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    "hidden": (64, 64),
    "obs_agent_id": True,
    "epsilon": [[0, 1.0], [50_000, 0.05]],
    "mixer": None,
    "team_embedding": "concat",
    "mixer_input": "obs",
    "mixing_embed_dim": 32,
    "hypernet_embed": 64,
}


class TeamQModule(TorchRLModule, TargetNetworkAPI, InferenceOnlyAPI):
    """The shared agent Q-network acting for the whole (padded) team, plus, on the learner only, the mixer
    (`model_config["mixer"]`: None, "vdn" or "qmix") and the target networks.

    Inference acts greedily, exploration epsilon-greedily (`model_config["epsilon"]`: a constant or a
    `[[t, value], ...]` schedule over global env steps); absent agents always get action 0, which `TeamEnv`
    ignores. Env runners build the agent network alone, so they hold nothing that depends on the team size.
    """

    def setup(self) -> None:
        config = {**DEFAULT_MODEL_CONFIG, **self.model_config}
        n_max, obs_dim = self.observation_space["obs"].shape
        state_dim = self.observation_space["state"].shape[0]
        self.n_actions = int(self.action_space.nvec[0])
        self.agent = AgentQNetwork(obs_dim, self.n_actions, n_max, config["hidden"], config["obs_agent_id"])
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
            )

    # InferenceOnlyAPI: env runners never build or receive these.
    def get_non_inference_attributes(self) -> list[str]:
        return ["mixer", "_target_agent", "_target_mixer"]

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
        """Target agent Qs for `batch[Columns.OBS]`: `{"q": [B, n_max, A]}`."""
        return {"q": self._target_agent(batch[Columns.OBS]["obs"])}

    def mix(self, agent_qs: torch.Tensor, obs: dict[str, torch.Tensor], target: bool = False) -> torch.Tensor:
        """`Q_tot` [B] of the chosen agent Qs [B, n_max] with the (target) mixer."""
        mixer = self._target_mixer if target else self.mixer
        return mixer(agent_qs, obs["mask"], obs["obs"], obs["state"])

    def _greedy_actions(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.agent(obs["obs"]).argmax(dim=-1) * obs["mask"].long()  # [B, n_max]

    @torch.no_grad()
    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        return {Columns.ACTIONS: self._greedy_actions(batch[Columns.OBS])}

    @torch.no_grad()
    def _forward_exploration(self, batch: dict[str, Any], t: int = 0, **kwargs) -> dict[str, torch.Tensor]:
        obs = batch[Columns.OBS]
        greedy = self._greedy_actions(obs)
        self.epsilon_schedule.update(t)
        epsilon = self.epsilon_schedule.get_current_value()
        random_actions = torch.randint_like(greedy, self.n_actions) * obs["mask"].long()
        explore = torch.rand(greedy.shape, device=greedy.device) < epsilon
        return {Columns.ACTIONS: torch.where(explore, random_actions, greedy)}

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, torch.Tensor]:
        obs, next_obs = batch[Columns.OBS]["obs"], batch[Columns.NEXT_OBS]["obs"]
        q, q_next = self.agent(torch.cat([obs, next_obs])).chunk(2)  # one pass: [B, n_max, A] each
        return {"q": q, "q_next": q_next}
