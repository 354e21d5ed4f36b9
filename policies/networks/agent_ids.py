"""Agent-id one-hots appended along the agent axis (PyMARL's `obs_agent_id`)."""

from __future__ import annotations

import torch
from torch import nn


def reused_id_table(n_max: int, trained_slots: int) -> torch.Tensor:
    """`[n_max, n_max]`: row k is the one-hot id slot k acts with, its own below `trained_slots`, else that of slot
    `k mod trained_slots`. A team trained in slots `0..N-1` never trains the first-layer weights of the ids above
    (their input is always 0, so their gradient is too): at a larger team, agents in those slots would act on
    random initial weights; with this table they act as trained agents do."""
    if not 1 <= trained_slots <= n_max:
        raise ValueError(f"trained_slots={trained_slots} must be between 1 and n_max={n_max}")
    return torch.eye(n_max)[torch.arange(n_max) % trained_slots]


class AppendAgentIds(nn.Module):
    """`[..., n, d] -> [..., n, d + n_max]`: each slot's one-hot id (width `n_max`) appended to its features, so a
    network shared by all agents can still tell them apart."""

    def __init__(self, n_max: int):
        super().__init__()
        self.n_max = n_max
        self.register_buffer("ids", torch.eye(n_max), persistent=False)  # [n_max, n_max]

    def forward(self, x: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """`x` may hold the first `n <= n_max` slots only (`[..., n, d]`, they get the ids of slots 0..n-1);
        `ids` ([..., n, n_max] one-hots) replaces each slot's own id, e.g. to ask the shared network what another
        agent would do in this agent's place."""
        if ids is None:
            ids = self.ids[: x.shape[-2]].expand(*x.shape[:-1], self.n_max)
        return torch.cat([x, ids], dim=-1)


def agent_id_appender(n_max: int, obs_agent_id: bool) -> tuple[nn.Module, int]:
    """`(module, width it adds to each agent's features)`: `AppendAgentIds(n_max)` and `n_max`, or `nn.Identity()`
    and 0 for networks that take no agent ids."""
    return (AppendAgentIds(n_max), n_max) if obs_agent_id else (nn.Identity(), 0)


def reuse_trained_ids(module: nn.Module, trained_slots: int) -> int:
    """Every `AppendAgentIds` in `module` gives the slots from `trained_slots` on the ids of trained slots
    (`reused_id_table`); returns how many it changed (0: the networks take no agent ids)."""
    appenders = [m for m in module.modules() if isinstance(m, AppendAgentIds)]
    for appender in appenders:
        appender.ids = reused_id_table(appender.n_max, trained_slots).to(appender.ids.device)
    return len(appenders)
