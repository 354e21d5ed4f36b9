"""Centralised critics over a team embedding: one value for the whole team, for any team size up to `n_max`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from policies.mlp import mlp
from policies.team_embedding import make_team_embedding


class TeamValueCritic(nn.Module):
    """`V(s)` from the team embedding of the agents' observations: `([B, n_max, d], mask [B, n_max]) -> [B]`.

    With a pooled embedding (`mean`, `graph`) the value is invariant to permuting the present agents and is
    defined for any team size; `concat` sees the padded slots in order, as the original centralised critics do.
    """

    def __init__(self, obs_dim: int, n_max: int, team_embedding: str | Mapping[str, Any], hidden: Sequence[int]):
        super().__init__()
        self.embedding = make_team_embedding(team_embedding, obs_dim, n_max)
        self.head = mlp(self.embedding.out_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(obs, mask)).squeeze(-1)
