"""Value mixers: `Q_tot = mixer(Q_1..Q_n, team)` over the present agents.

- `VDNMixer`: the masked sum of the agents' Qs.
- `QMixer`: QMIX's monotonic mixing network. Hypernetworks conditioned on a team embedding (the swappable
  `concat` | `mean` | `graph` piece) of the agents' observations, or on the global state, output the mixing
  weights; their absolute values keep `dQ_tot / dQ_a >= 0`, so the greedy joint action is the agents' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from policies.networks.mlp import mlp
from policies.networks.team_embedding import make_team_embedding

MIXERS = ("vdn", "qmix")
MIXER_INPUTS = ("obs", "state")
MIXER_POOLINGS = ("sum", "mean")


class VDNMixer(nn.Module):
    """`Q_tot = sum_a mask_a Q_a`."""

    def forward(
        self, agent_qs: torch.Tensor, mask: torch.Tensor, obs: torch.Tensor, state: torch.Tensor
    ) -> torch.Tensor:
        """`Q_tot` `[..., B]` of agent Qs `[..., B, n_max]`."""
        return (agent_qs * mask).sum(dim=-1)  # [..., B]


class QMixer(nn.Module):
    """QMIX: `Q_tot = w2(e) . elu(W1(e)^T q + b1(e)) + V(e)` with `W1, w2 >= 0` (absolute values), where
    `e` is the team embedding of the agents' observations (`mixer_input="obs"`) or the global state itself
    (`mixer_input="state"`, as PyMARL), layer-normalised (`hypernet_input_norm`, no learned scale or shift) before
    the hypernetworks see it. Absent agents' Qs are zeroed before mixing, so they change neither `Q_tot` nor any
    gradient. `mixer_pooling="mean"` divides the first layer's weighted sum `W1(e)^T q` by the number of present
    agents, so its input does not grow with the team (with `"sum"`, QMIX's, six agents' negative Qs push it twice
    as far below ELU's knee as three agents' Qs of the same size). `q_norm=True` mixes the agents' Qs divided by
    a running scale `sigma` (a moving average of their mean absolute value, at least 1, updated by
    `observe_agent_qs`) and scales the result back: `Q_tot = sigma * mix(q / sigma)`, so the first layer stays in
    ELU's working range as the values grow; `sigma` is one number for the whole batch, so `Q_tot` stays monotonic
    in each agent's Q."""

    scale_momentum = 0.01  # the running scale's update per learner step: a time constant of 100 steps

    def __init__(
        self,
        n_max: int,
        obs_dim: int,
        state_dim: int,
        team_embedding: str | Mapping[str, Any] = "concat",
        mixer_input: str = "obs",
        mixing_embed_dim: int = 32,
        hypernet_embed: int = 64,
        hypernet_input_norm: bool = True,
        mixer_pooling: str = "sum",
        q_norm: bool = False,
    ):
        super().__init__()
        if mixer_pooling not in MIXER_POOLINGS:
            raise ValueError(f"mixer_pooling={mixer_pooling!r} is unknown; use one of {', '.join(MIXER_POOLINGS)}")
        self.mixer_input, self.mixer_pooling, self.q_norm = mixer_input, mixer_pooling, q_norm
        if q_norm:  # a buffer: saved with checkpoints and carried to the target mixer with the parameters
            self.register_buffer("q_scale", torch.ones(()))
        if mixer_input == "obs":
            self.embedding = make_team_embedding(team_embedding, obs_dim, n_max)
            embed_dim = self.embedding.out_dim
        else:
            self.embedding = nn.Identity()
            embed_dim = state_dim
        # Why the hypernetworks' input is normalised. Measured on spread (3 agents, concat, 64 transitions per step at
        # 0.25 per env step: `benchmarks/bench_qmix_stability.py --regime small_batch`; CSVs and readings in
        # results/convergence/qmix_stability/): with the raw input, Q_tot of the actions taken turned positive (every
        # reward is negative) at ~45k-77k env steps in two seeds, carried by the mixer's state-dependent part (Q_tot
        # with every agent Q at 0: +5 -> +564 in seed 1) while the agents' Qs stayed near 0, and the hypernetworks'
        # outputs followed the input's magnitude (correlation of a state's gain with its embedding's norm +0.23 ->
        # +0.74): worse play from overestimated values made the observations larger (norm 5.0 -> 7.1), which scaled
        # the mixing up again. Normalised, in three seeds, it held to 250k at as large gains, the correlation at -0.3
        # to -0.6, and QMIX concat learned to 1M in the default regime (docs/convergence.md, "The fix"). As LayerNorm
        # in TD critics (RLPD, PQN): every hypernetwork output is bounded by its weights' norms whatever the state.
        self.input_norm = nn.LayerNorm(embed_dim, elementwise_affine=False) if hypernet_input_norm else nn.Identity()
        self.n_max, self.mixing_embed_dim = n_max, mixing_embed_dim
        self.hyper_w1 = mlp(embed_dim, [hypernet_embed], n_max * mixing_embed_dim)
        self.hyper_b1 = nn.Linear(embed_dim, mixing_embed_dim)
        self.hyper_w2 = mlp(embed_dim, [hypernet_embed], mixing_embed_dim)
        self.value = mlp(embed_dim, [mixing_embed_dim], 1)

    def team_features(self, obs: torch.Tensor, mask: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The team embedding of the observations, or the state, before normalisation: `[B, embed]`."""
        return self.embedding(obs, mask) if self.mixer_input == "obs" else self.embedding(state)

    def embed(self, obs: torch.Tensor, mask: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """What the hypernetworks see: the team features, normalised per sample unless disabled. `[B, embed]`"""
        return self.input_norm(self.team_features(obs, mask, state))

    # sigma <- (1 - momentum) sigma + momentum max(1, sum_a m_a |Q_a| / sum_a m_a)
    @torch.no_grad()
    def observe_agent_qs(self, agent_qs: torch.Tensor, mask: torch.Tensor) -> None:
        """Move the running scale toward the mean absolute Q of the present agents in `agent_qs` `[B, n_max]`
        (a no-op without `q_norm`); the learner calls it once per update, before mixing."""
        if not self.q_norm:
            return
        batch_scale = (agent_qs.abs() * mask).sum() / mask.sum().clamp(min=1.0)
        self.q_scale.lerp_(batch_scale.clamp(min=1.0), self.scale_momentum)

    def scale(self) -> torch.Tensor | float:
        """`sigma`, what the agents' Qs are divided by before mixing and `Q_tot` multiplied by after (1 without
        `q_norm`)."""
        return self.q_scale if self.q_norm else 1.0

    # h = W1(e)^T (m * q / sigma) [/ sum_a m_a with mixer_pooling="mean"] + b1(e), before the ELU
    def first_layer(self, agent_qs: torch.Tensor, mask: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """The first mixing layer's pre-activations `[..., B, m]` of agent Qs `[..., B, n_max]` and the
        hypernetworks' input `e` `[B, embed]`."""
        w1 = self.hyper_w1(e).abs().view(-1, self.n_max, self.mixing_embed_dim)  # [B, n_max, m]
        weighted = torch.einsum("...bn,bnm->...bm", agent_qs * mask / self.scale(), w1)  # [..., B, m]
        if self.mixer_pooling == "mean":
            weighted = weighted / mask.sum(-1, keepdim=True).clamp(min=1.0)
        return weighted + self.hyper_b1(e)

    def forward(
        self, agent_qs: torch.Tensor, mask: torch.Tensor, obs: torch.Tensor, state: torch.Tensor
    ) -> torch.Tensor:
        """`Q_tot` `[..., B]` of agent Qs `[..., B, n_max]`: leading dimensions (several joint actions of the same
        states, e.g. gum's behaviour samples) share one hypernetwork pass over the `B` states."""
        e = self.embed(obs, mask, state)  # [B, embed]
        hidden = F.elu(self.first_layer(agent_qs, mask, e))  # [..., B, m]
        w2 = self.hyper_w2(e).abs()  # [B, m]
        return self.scale() * ((hidden * w2).sum(dim=-1) + self.value(e).squeeze(-1))  # [..., B]


def make_mixer(name: str, n_max: int, obs_dim: int, state_dim: int, **qmix_options: Any) -> nn.Module:
    """Build the mixer named `name` (`vdn` | `qmix`); `qmix_options` are QMixer's keyword arguments (VDN
    has none and ignores them)."""
    if name == "vdn":
        return VDNMixer()
    if name == "qmix":
        return QMixer(n_max, obs_dim, state_dim, **qmix_options)
    raise ValueError(f"unknown mixer {name!r}; known mixers: {', '.join(MIXERS)}")
