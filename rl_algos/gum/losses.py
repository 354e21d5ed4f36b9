"""Greedy unmixing's conservative gaps, estimator weights and regulariser pieces (plain torch).

Shapes: B batch, n = n_max agent slots, A actions, K = 2 estimators (independent, mixed).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import tree
from torch.nn import functional as F

from policies.networks.masked import masked_mean
from rl_algos.common.losses import chosen_action_values


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


# gap_ind as `independent_gap`; gap_mix = E[Q_mix(s, u_greedy) - Q_mix(s, u_beta)], the mixer over the joint actions
def conservative_gaps(
    mix: Callable[[torch.Tensor, dict], torch.Tensor],
    q: torch.Tensor,
    obs: dict[str, torch.Tensor],
    beta_probs: torch.Tensor,
    beta_actions: torch.Tensor,
    greedy_actions: torch.Tensor,
    cql_mu: str,
) -> torch.Tensor:
    """Both estimators' gaps [K=2] (independent, mixed): `mix(per_agent_q [B', n], obs)` -> [B'] is the mixer;
    q, beta_probs [B, n, A]; beta_actions [S, B, n] joint actions drawn from beta; greedy_actions [B, n]."""
    mask = obs["mask"]
    gap_ind = independent_gap(q, beta_probs, mask, cql_mu)
    samples = beta_actions.shape[0]  # all behaviour samples mixed in one pass: [S * B] rows
    repeated_obs = tree.map_structure(lambda x: x.repeat(samples, *([1] * (x.dim() - 1))), obs)
    q_beta = chosen_action_values(q.repeat(samples, 1, 1), beta_actions.flatten(0, 1))  # [S * B, n]
    q_mix_beta = mix(q_beta, repeated_obs).view(samples, -1)  # [S, B]
    q_mix_greedy = mix(chosen_action_values(q, greedy_actions), obs)  # [B]
    return torch.stack([gap_ind, mixed_gap(q_mix_greedy, q_mix_beta)])


# inverse / direct: L = sum_k w_k (TD_k + cql_alpha gap_k), w from the detached gaps;
# lagrange: L = sum_k TD_k + cql_alpha lambda_k (gap_k - target_gap), and lambda_k learned by ascent on the same term
def unmixed_loss(
    tds: torch.Tensor,
    gaps: torch.Tensor,
    log_lambdas: torch.Tensor,
    unmix: str,
    cql_alpha: float,
    unmix_eps: float,
    target_gap: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """tds, gaps [K]; log_lambdas [K] (trainable) -> (the value networks' loss, the multipliers' loss, the
    estimators' weights [K])."""
    detached_gaps = gaps.detach()
    if unmix == "lagrange":
        value_loss = tds.sum() + cql_alpha * (log_lambdas.exp().detach() * (gaps - target_gap)).sum()
        multiplier_loss = cql_alpha * lagrange_multiplier_loss(log_lambdas, detached_gaps, target_gap)
        return value_loss, multiplier_loss, lagrange_weights(log_lambdas.detach())
    weights = inverse_gap_weights(detached_gaps, unmix_eps) if unmix == "inverse" else direct_weights(detached_gaps)
    return (weights * (tds + cql_alpha * gaps)).sum(), torch.zeros((), device=tds.device), weights
