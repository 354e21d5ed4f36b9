"""Team embeddings: `[B, n_max, d]` per-agent features + `[B, n_max]` mask -> `[B, e]`, chosen by name.

- `concat`: the padded slots flattened (absent slots are zeroed), `e = n_max * d`;
- `mean`: DeepSets, a per-agent MLP then a masked mean (PyG `MeanAggregation`), `e = hidden`;
- `graph`: 1-3 PyG dense graph convolutions (`gat` | `gcn` | `graph`) over the fully connected graph of
  present agents, then masked pooling (`mean` | `max` | `attention`, PyG aggregation modules), `e = hidden`.

Padded agents never influence the output: `concat` zeroes their slots, `mean` and `graph` leave them out of
the graph and of the pooling, so both are invariant to permuting the present agents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch_geometric.nn import DenseGATConv, DenseGCNConv, DenseGraphConv
from torch_geometric.nn.aggr import Aggregation, AttentionalAggregation, MaxAggregation, MeanAggregation

from policies.networks.masked import used_slots
from policies.networks.mlp import mlp

EMBEDDINGS = ("concat", "mean", "graph")
GRAPH_CONVS = {"gat": DenseGATConv, "gcn": DenseGCNConv, "graph": DenseGraphConv}
POOLS = ("mean", "max", "attention")
DEFAULTS: dict[str, dict[str, Any]] = {
    "concat": {},
    "mean": {"hidden": 64},
    "graph": {"hidden": 64, "conv": "gat", "layers": 2, "pool": "mean"},
}


def parse_embedding_spec(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a team-embedding spec (a name, or a dict with `type` and options) to a full dict with the
    defaults filled in; raise `ValueError` naming the bad field and the accepted values."""
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = spec.pop("type", None)
    if kind not in EMBEDDINGS:
        raise ValueError(f"unknown team embedding {kind!r}; known embeddings: {', '.join(EMBEDDINGS)}")
    unknown = sorted(set(spec) - set(DEFAULTS[kind]))
    if unknown:
        raise ValueError(
            f"team embedding {kind!r} does not take {', '.join(unknown)}; "
            f"it takes: {', '.join(['type', *DEFAULTS[kind]])}"
        )
    full = {"type": kind, **DEFAULTS[kind], **spec}
    if kind == "graph":
        if full["conv"] not in GRAPH_CONVS:
            raise ValueError(f"unknown graph conv {full['conv']!r}; known convs: {', '.join(GRAPH_CONVS)}")
        if full["pool"] not in POOLS:
            raise ValueError(f"unknown graph pool {full['pool']!r}; known pools: {', '.join(POOLS)}")
        if not isinstance(full["layers"], int) or not 1 <= full["layers"] <= 3:
            raise ValueError(f"graph embedding layers must be 1, 2 or 3, got {full['layers']!r}")
    if kind != "concat" and (not isinstance(full["hidden"], int) or full["hidden"] < 1):
        raise ValueError(f"team embedding hidden must be a positive int, got {full['hidden']!r}")
    return full


def fills_every_slot(mask: torch.Tensor) -> bool:
    """Whether every team of the batch fills every slot of `mask` [B, n] (a batch of one team size, cut to its used
    slots): then no slot needs masking."""
    return bool(mask.min() > 0.5)


def _pool_present(pool: Aggregation, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The PyG aggregation `pool` of each team's present agents: `x` [B, n, F] -> [B, F]. When every slot is
    filled, each team's rows are one contiguous segment of n and `pool` reduces them by their offsets (`ptr`);
    otherwise the present rows are gathered with their team index first. Both give the same result."""
    batch, n, features = x.shape
    if fills_every_slot(mask):
        offsets = torch.arange(0, batch * n + 1, n, device=x.device)  # [B + 1]
        return pool(x.reshape(batch * n, features), ptr=offsets, dim_size=batch)
    present = mask > 0.5  # [B, n]
    team_index = torch.arange(batch, device=x.device).unsqueeze(1).expand_as(present)
    return pool(x[present], team_index[present], dim_size=batch)


def _used_slots(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` [B, n_max, F] and `mask` cut to the slots up to the last one any team of the batch fills: a team of 3
    padded to `n_max` 6 spends a dense graph convolution's pairwise work on 3 x 3 instead of 6 x 6 slots, and
    absent slots never reach a present agent's output, so the result is the same."""
    width = used_slots(mask)
    return x[:, :width], mask[:, :width]


class ConcatEmbedding(nn.Module):
    """The padded agent slots flattened: `[B, n_max, d] -> [B, n_max * d]`, absent slots zeroed."""

    def __init__(self, in_dim: int, n_max: int):
        super().__init__()
        self.out_dim = in_dim * n_max

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (x * mask.unsqueeze(-1)).flatten(1)


class MeanEmbedding(nn.Module):
    """DeepSets: a per-agent MLP, then the mean over present agents: `[B, n_max, d] -> [B, hidden]`."""

    def __init__(self, in_dim: int, hidden: int = 64):
        super().__init__()
        self.phi = mlp(in_dim, [hidden], hidden, activate_output=True)
        self.pool = MeanAggregation()
        self.out_dim = hidden

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, mask = _used_slots(x, mask)
        return _pool_present(self.pool, self.phi(x), mask)


class GraphEmbedding(nn.Module):
    """A GNN over the fully connected graph of present agents, then masked pooling: `[B, n_max, d] -> [B, hidden]`."""

    def __init__(self, in_dim: int, hidden: int = 64, conv: str = "gat", layers: int = 2, pool: str = "mean"):
        super().__init__()
        conv_cls = GRAPH_CONVS[conv]
        self.convs = nn.ModuleList(conv_cls(in_dim if i == 0 else hidden, hidden) for i in range(layers))
        if pool == "mean":
            self.pool = MeanAggregation()
        elif pool == "max":
            self.pool = MaxAggregation()
        else:
            self.pool = AttentionalAggregation(gate_nn=nn.Linear(hidden, 1))
        self.out_dim = hidden

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, mask = _used_slots(x, mask)
        n = x.shape[1]
        if fills_every_slot(mask):  # one adjacency for the whole batch, no node to mask
            adjacency, node_mask = x.new_ones(1, n, n), None
        else:
            adjacency = mask.unsqueeze(2) * mask.unsqueeze(1)  # [B, n, n]: present agents, fully connected
            node_mask = mask > 0.5
        for conv in self.convs:
            x = torch.relu(conv(x, adjacency, mask=node_mask))
        return _pool_present(self.pool, x, mask)


def make_team_embedding(spec: str | Mapping[str, Any], in_dim: int, n_max: int) -> nn.Module:
    """Build the team embedding named by `spec` for `in_dim` per-agent features; `.out_dim` is its width."""
    options = parse_embedding_spec(spec)
    kind = options.pop("type")
    if kind == "concat":
        return ConcatEmbedding(in_dim, n_max)
    if kind == "mean":
        return MeanEmbedding(in_dim, **options)
    return GraphEmbedding(in_dim, **options)
