"""The shared agent Q-network, applied along the agent axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from policies.networks.agent_ids import AppendAgentIds
from policies.networks.mlp import mlp


class AgentQNetwork(nn.Module):
    """One network for every agent: `[B, n_max, obs_dim] -> [B, n_max, n_actions]` (Qs of the value learners;
    the actor-critic learners use it for policy logits, and with one output for per-agent values).

    With `obs_agent_id` (PyMARL's option) a one-hot of the agent's slot, width `n_max`, is appended to its
    observation, so shared parameters can still specialise per agent. Nothing else depends on the team size.
    """

    def __init__(
        self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64, 64), obs_agent_id: bool = True
    ):
        super().__init__()
        self.n_max = n_max
        self.agent_ids = AppendAgentIds(n_max) if obs_agent_id else nn.Identity()
        self.q = mlp(obs_dim + (n_max if obs_agent_id else 0), hidden, n_actions)

    def forward(self, obs: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Qs `[B, n_max, n_actions]`; `ids` ([B, n_max, n_max]) overrides the slots' own agent ids."""
        return self.q(self.agent_ids(obs) if ids is None else self.agent_ids(obs, ids))


class RecurrentAgentQNetwork(nn.Module):
    """PyMARL's RNN agent, shared by every agent: MLP -> GRU -> linear, along the agent axis.

    `forward(obs [B, T, n_max, obs_dim], h [B, n_max, H]) -> (q [B, T, n_max, n_actions], h' [B, n_max, H])`,
    with `H = hidden[-1]` (`unroll` gives the state after every step); the agent-id one-hot is appended as in `AgentQNetwork`.
    """

    def __init__(
        self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64,), obs_agent_id: bool = True
    ):
        super().__init__()
        self.n_max = n_max
        self.hidden_dim = hidden[-1]
        self.agent_ids = AppendAgentIds(n_max) if obs_agent_id else nn.Identity()
        self.encoder = mlp(obs_dim + (n_max if obs_agent_id else 0), hidden[:-1], self.hidden_dim, activate_output=True)
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
