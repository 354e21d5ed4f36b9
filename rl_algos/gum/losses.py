"""Greedy unmixing's conservative gaps, estimator weights and regulariser pieces (plain torch).

Shapes: B batch, n = n_max agent slots, A actions, K = 2 estimators (independent, mixed).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from policies.masked import masked_mean


# gap_ind = mean over present agents [ mu(Q_a) - E_{u ~ beta}[Q_a(o_a, u)] ],
# mu = logsumexp_u Q_a(o_a, u) ("logsumexp", CQL(H)) or max_u Q_a(o_a, u) ("greedy")
def independent_gap(q: torch.Tensor, beta_probs: torch.Tensor, mask: torch.Tensor, cql_mu: str) -> torch.Tensor:
    """q, beta_probs [B, n, A]; mask [B, n] -> scalar."""
    mu = torch.logsumexp(q, dim=-1) if cql_mu == "logsumexp" else q.max(dim=-1).values
    return masked_mean(mu - (beta_probs * q).sum(dim=-1), mask)


# gap_mix = E[ Q_mix(s, u_greedy) - Q_mix(s, u_beta) ], u_beta averaged over the behaviour samples
def mixed_gap(q_mix_greedy: torch.Tensor, q_mix_beta: torch.Tensor) -> torch.Tensor:
    """q_mix_greedy [B]; q_mix_beta [S, B] -> scalar."""
    return (q_mix_greedy - q_mix_beta.mean(dim=0)).mean()


# inverse: w_k = (1 / (|g_k| + eps)) / sum_j (1 / (|g_j| + eps))
def inverse_gap_weights(gaps: torch.Tensor, eps: float) -> torch.Tensor:
    """gaps [K] (detached) -> weights [K] summing to 1; the smaller gap gets the larger weight."""
    inverse = 1.0 / (gaps.abs() + eps)
    return inverse / inverse.sum()


# direct: w = one_hot(argmin_k |g_k|)
def direct_weights(gaps: torch.Tensor) -> torch.Tensor:
    return F.one_hot(gaps.abs().argmin(), gaps.numel()).to(gaps.dtype)


# lagrange: w_k proportional to 1 / lambda_k
def lagrange_weights(log_lambdas: torch.Tensor) -> torch.Tensor:
    return F.softmax(-log_lambdas, dim=0)


# Lagrange multipliers by gradient ascent on lambda_k (g_k - target_gap): minimise the negative
def lagrange_multiplier_loss(log_lambdas: torch.Tensor, gaps: torch.Tensor, target_gap: float) -> torch.Tensor:
    """log_lambdas [K] (trainable), gaps [K] (detached) -> scalar; a gap above `target_gap` raises its lambda."""
    return -(log_lambdas.exp() * (gaps.detach() - target_gap)).sum()


# direct: both estimators bootstrap from min(Q_ind', Q_mix'), Q_ind' = masked mean_a of the agents' next values
def clipped_team_next_value(
    next_values: torch.Tensor, next_mask: torch.Tensor, next_q_mix: torch.Tensor
) -> torch.Tensor:
    """next_values, next_mask [B, n]; next_q_mix [B] -> min(Q_ind', Q_mix') [B] (TD3/SAC's clipped double-Q)."""
    next_q_ind = (next_values * next_mask).sum(-1) / next_mask.sum(-1).clamp(min=1.0)
    return torch.minimum(next_q_ind, next_q_mix)
