"""Centralised critics over a team embedding, for any team size up to `n_max`: a team value `V(s)`, COMA's
counterfactual `Q(s, (u^-a, .))`, MADDPG's joint-action `Q_a(o, u)` and LICA's mixing `Q(s, pi_1..pi_n)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from policies.networks.agent_ids import agent_id_appender
from policies.networks.masked import used_slots
from policies.networks.mlp import mlp
from policies.networks.team_embedding import ConcatEmbedding, make_team_embedding


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


class CounterfactualCritic(nn.Module):
    """COMA's critic `Q(s, (u^-a, .))`: for each agent a, the values of each of its actions with the other
    agents' actions fixed, `(obs [B, n_max, d], actions_onehot [B, n_max, A], mask) -> [B, n_max, A]`.

    Agent a sees the team embedding of every present agent's (observation, action one-hot), its own action
    zeroed, next to its own observation and id. With a pooled embedding (`mean`, `graph`) the critic is defined
    for any team size up to `n_max`, larger than the one it was trained on included.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        n_max: int,
        team_embedding: str | Mapping[str, Any],
        hidden: Sequence[int],
        obs_agent_id: bool = True,
    ):
        super().__init__()
        self.obs_dim = obs_dim
        self.embedding = make_team_embedding(team_embedding, obs_dim + n_actions, n_max)
        self.agent_ids, id_dim = agent_id_appender(n_max, obs_agent_id)
        own_dim = obs_dim + id_dim
        self.head = mlp(self.embedding.out_dim + own_dim, hidden, n_actions)

    def forward(self, obs: torch.Tensor, actions_onehot: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`[B, n_max, A]`; agents in slots past the last one any team of the batch fills (`used_slots`) are absent
        everywhere, so their team views are not built and their values are 0 (a team of 3 in 6 slots: half the
        embedding passes)."""
        batch, n_max, _ = obs.shape
        width = used_slots(mask)
        others = 1.0 - torch.eye(width, n_max, device=obs.device)  # [a, b]: 1 where b is another agent than a
        actions = actions_onehot.unsqueeze(1) * others.view(1, width, n_max, 1)  # [B, a, b, A]
        team = torch.cat([obs.unsqueeze(1).expand(-1, width, -1, -1), actions], dim=-1)  # [B, a, b, d + A]
        team_mask = mask.unsqueeze(1).expand(-1, width, -1)  # [B, a, b]
        embedded = self.embedding(team.reshape(batch * width, n_max, -1), team_mask.reshape(batch * width, n_max))
        embedded = embedded.view(batch, width, -1)  # [B, a, E]
        values = self.head(torch.cat([embedded, self.agent_ids(obs)[:, :width]], dim=-1))  # [B, a, A]
        return F.pad(values, (0, 0, 0, n_max - width))  # [B, n_max, A]


class JointActionCritic(nn.Module):
    """MADDPG's critic `Q_a(o_1..o_n, u_1..u_n)` for every agent a, `(obs [B, n_max, d], actions [B, n_max, k],
    mask) -> [B, n_max]`, actions as vectors (one-hots for discrete actions).

    `concat`: each agent slot has its own unshared MLP over the concatenation of the present agents'
    (observation, action) pairs, as in the original MADDPG. `mean` / `graph`: one shared critic, the team
    embedding pooled over the (observation, action) pairs next to agent a's own observation and id.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        n_max: int,
        team_embedding: str | Mapping[str, Any],
        hidden: Sequence[int],
        obs_agent_id: bool = True,
    ):
        super().__init__()
        self.n_max = n_max
        self.embedding = make_team_embedding(team_embedding, obs_dim + action_dim, n_max)
        self.unshared = isinstance(self.embedding, ConcatEmbedding)
        if self.unshared:
            self.heads = nn.ModuleList(mlp(self.embedding.out_dim, hidden, 1) for _ in range(n_max))
        else:
            self.agent_ids, id_dim = agent_id_appender(n_max, obs_agent_id)
            own_dim = obs_dim + id_dim
            self.head = mlp(self.embedding.out_dim + own_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        team = self.embedding(torch.cat([obs, actions], dim=-1), mask)  # [B, E]
        if self.unshared:
            return torch.cat([head(team) for head in self.heads], dim=-1)  # [B, n_max]
        own = self.agent_ids(obs)  # [B, n_max, d (+ n_max)]
        return self.head(torch.cat([team.unsqueeze(1).expand(-1, self.n_max, -1), own], dim=-1)).squeeze(-1)

    def own_action_values(
        self, obs: torch.Tensor, actions: torch.Tensor, own_actions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """`Q_a(o, (u^-a, u'_a))` `[B, n_max]`: agent a's value with its own action replaced by `own_actions[:, a]`
        and the others' kept from `actions` (both `[B, n_max, k]`), the actor losses' view of the critic. One critic
        pass per agent slot up to the last one any team of the batch fills (`used_slots`: 3 of 8 for a team of 3);
        the slots past it are absent everywhere, and their values 0."""
        batch, n_max, _ = actions.shape
        width = used_slots(mask)
        is_own = torch.eye(width, n_max, device=actions.device).view(1, width, n_max, 1)  # [1, a, b, 1]
        joint = is_own * own_actions.unsqueeze(1) + (1 - is_own) * actions.unsqueeze(1)  # [B, a, b, k]
        q = self(
            obs.repeat_interleave(width, dim=0),
            joint.reshape(batch * width, n_max, -1),
            mask.repeat_interleave(width, dim=0),
        )  # [B * a, n_max]
        own_q = q.view(batch, width, n_max)[:, :, :width].diagonal(dim1=1, dim2=2)  # [B, a]: Q_a with a's own action
        return F.pad(own_q, (0, n_max - width))  # [B, n_max]


class MixingCritic(nn.Module):
    """LICA's critic `Q(s, pi_1..pi_n)`: the agents' action distributions (or one-hot actions) mixed by a network
    whose weights come from hypernetworks over the team embedding `e` of the agents' observations, `(obs [B, n_max,
    d], actions [B, n_max, A], mask) -> [B]`:

        Q = w2(e) . relu(sum_a m_a W1(e, o_a, id_a)^T pi_a + b1(e)) + b2(e)

    Unlike QMIX the weights may be negative (the critic is not monotonic), and unlike LICA's flat `[n * A]` input
    each agent's first-layer weights come from its own observation next to the team embedding, so with `mean` /
    `graph` embeddings the critic is invariant to permuting the present agents and defined for any team size.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        n_max: int,
        team_embedding: str | Mapping[str, Any],
        hidden: Sequence[int],
        obs_agent_id: bool = True,
        mixing_embed_dim: int = 32,
    ):
        super().__init__()
        self.n_actions, self.mixing_embed_dim = n_actions, mixing_embed_dim
        self.embedding = make_team_embedding(team_embedding, obs_dim, n_max)
        self.agent_ids, id_dim = agent_id_appender(n_max, obs_agent_id)
        own_dim = obs_dim + id_dim
        embed_dim = self.embedding.out_dim
        self.hyper_w1 = mlp(embed_dim + own_dim, hidden, n_actions * mixing_embed_dim)
        self.hyper_b1 = nn.Linear(embed_dim, mixing_embed_dim)
        self.hyper_w2 = mlp(embed_dim, hidden, mixing_embed_dim)
        self.hyper_b2 = mlp(embed_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, n_max, _ = obs.shape
        team = self.embedding(obs, mask)  # [B, E]
        own = torch.cat([team.unsqueeze(1).expand(-1, n_max, -1), self.agent_ids(obs)], dim=-1)  # [B, n, E + d']
        w1 = self.hyper_w1(own).view(batch, n_max, self.n_actions, self.mixing_embed_dim)  # [B, n, A, H]
        mixed = torch.einsum("bna,bnah->bh", actions * mask.unsqueeze(-1), w1)  # [B, H]
        hidden = torch.relu(mixed + self.hyper_b1(team))
        return (hidden * self.hyper_w2(team)).sum(dim=-1) + self.hyper_b2(team).squeeze(-1)  # [B]
