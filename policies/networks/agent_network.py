"""The shared agent Q-network, applied along the agent axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from policies.networks.agent_ids import agent_id_appender
from policies.networks.masked import used_slots
from policies.networks.mlp import mlp


class AgentQNetwork(nn.Module):
    """One network for every agent: `[B, n_max, obs_dim] -> [B, n_max, n_actions]` (Qs of the value learners;
    the actor-critic learners use it for policy logits, and with one output for per-agent values).

    With `obs_agent_id` (PyMARL's option) a one-hot of the agent's slot, width `n_max`, is appended to its
    observation, so shared parameters can still specialise per agent. Nothing else depends on the team size.

    Given the team's `mask`, the network runs on the slots up to the last one the batch fills (`used_slots`) and
    gives 0 for the rest, whose agents are absent in every row: a team of 3 in 6 slots costs half the work
    (measured on the MAPPO actor's update, 2,560 steps: 31 ms forward and backward for 6 slots, 10 ms for 3).
    Callers mask absent agents' outputs anyway (their logits, Qs and values are never used).
    """

    def __init__(
        self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64, 64), obs_agent_id: bool = True
    ):
        super().__init__()
        self.n_max = n_max
        self.agent_ids, id_dim = agent_id_appender(n_max, obs_agent_id)
        self.q = mlp(obs_dim + id_dim, hidden, n_actions)

    def forward(
        self, obs: torch.Tensor, ids: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Qs `[..., n_max, n_actions]` of observations `[..., n_max, obs_dim]`; `ids` (`[..., n_max, n_max]`)
        overrides the slots' own agent ids; with `mask` (`[..., n_max]`) slots past the last used one are 0."""
        n_max = obs.shape[-2]
        width = n_max if mask is None else used_slots(mask)
        if width < n_max:
            obs = obs[..., :width, :]
            ids = None if ids is None else ids[..., :width, :]
        out = self.q(self.agent_ids(obs) if ids is None else self.agent_ids(obs, ids))
        return out if width == n_max else F.pad(out, (0, 0, 0, n_max - width))


class RecurrentAgentQNetwork(nn.Module):
    """PyMARL's RNN agent, shared by every agent: MLP -> GRU -> linear, along the agent axis.

    `forward(obs [B, T, n_max, obs_dim], h [B, n_max, H]) -> (q [B, T, n_max, n_actions], h' [B, n_max, H])`,
    with `H = hidden[-1]` (`unroll` gives the state after every step); the agent-id one-hot is appended as in
    `AgentQNetwork`.
    """

    def __init__(
        self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64,), obs_agent_id: bool = True
    ):
        super().__init__()
        self.n_max = n_max
        self.hidden_dim = hidden[-1]
        self.agent_ids, id_dim = agent_id_appender(n_max, obs_agent_id)
        self.encoder = mlp(obs_dim + id_dim, hidden[:-1], self.hidden_dim, activate_output=True)
        self.gru = nn.GRU(self.hidden_dim, self.hidden_dim, batch_first=True)
        self.q = nn.Linear(self.hidden_dim, n_actions)

    def forward(self, obs: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, hiddens = self.unroll(obs, h)
        return q, hiddens[:, -1]

    def unroll(self, obs: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs `[B, T, n_max, n_actions]` and the recurrent state after each step `[B, T, n_max, H]` (the one
        the agent acts from at the next step), from the state `h` `[B, n_max, H]` before the first."""
        batch, steps, n_max, _ = obs.shape
        x = (
            self.encoder(self.agent_ids(obs)).transpose(1, 2).reshape(batch * n_max, steps, self.hidden_dim)
        )  # [B*n, T, H]
        hiddens, _ = self.gru(x, h.reshape(1, batch * n_max, self.hidden_dim))  # [B*n, T, H]: one layer, so h_t
        q = self.q(hiddens).reshape(batch, n_max, steps, -1).transpose(1, 2)  # [B, T, n, A]
        return q, hiddens.reshape(batch, n_max, steps, self.hidden_dim).transpose(1, 2)
