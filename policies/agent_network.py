"""The shared agent Q-network, applied along the agent axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from policies.mlp import mlp


class AgentQNetwork(nn.Module):
    """One network for every agent: `[B, n_max, obs_dim] -> [B, n_max, n_actions]`.

    With `obs_agent_id` (PyMARL's option) a one-hot of the agent's slot, width `n_max`, is appended to its
    observation, so shared parameters can still specialise per agent. Nothing else depends on the team size.
    """

    def __init__(
        self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64, 64), obs_agent_id: bool = True
    ):
        super().__init__()
        self.obs_agent_id = obs_agent_id
        self.register_buffer("agent_ids", torch.eye(n_max), persistent=False)  # [n_max, n_max]
        self.q = mlp(obs_dim + (n_max if obs_agent_id else 0), hidden, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_agent_id:
            obs = torch.cat([obs, self.agent_ids.expand(obs.shape[0], -1, -1)], dim=-1)
        return self.q(obs)  # [B, n_max, n_actions]
