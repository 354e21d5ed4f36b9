"""Agent-id one-hots appended along the agent axis (PyMARL's `obs_agent_id`)."""

from __future__ import annotations

import torch
from torch import nn


class AppendAgentIds(nn.Module):
    """`[..., n_max, d] -> [..., n_max, d + n_max]`: each slot's one-hot id appended to its features, so a
    network shared by all agents can still tell them apart."""

    def __init__(self, n_max: int):
        super().__init__()
        self.n_max = n_max
        self.register_buffer("ids", torch.eye(n_max), persistent=False)  # [n_max, n_max]

    def forward(self, x: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """`ids` ([..., n_max, n_max] one-hots) replaces each slot's own id, e.g. to ask the shared network
        what another agent would do in this agent's place."""
        if ids is None:
            ids = self.ids.expand(*x.shape[:-1], self.n_max)
        return torch.cat([x, ids], dim=-1)
