"""Greedy unmixing's weighting of K estimators by their conservative gaps, shared by `gum` (independent and mixed
Qs) and the actor-critics' `unmix` (`maddpg`: each agent's own critic against the pooled one); plain torch.

Shapes: K estimators; gaps and TD losses are scalars per estimator, stacked `[K]`.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

UNMIX = ("inverse", "direct", "lagrange")


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


def unmix_independent_and_pooled(
    td_ind: torch.Tensor,
    td_pool: torch.Tensor,
    gap_ind: torch.Tensor,
    gap_pool: torch.Tensor,
    log_lambdas: torch.Tensor,
    config,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """An actor-critic's two estimators, each agent's own critic (ind) and the pooled critics (pool), weighed by
    `unmixed_loss` with the config's `unmix`, `cql_alpha`, `unmix_eps`, `target_gap`: (the critics' loss with the
    multipliers', the weights [2] (ind, pool), the step's metrics)."""
    tds, gaps = torch.stack([td_ind, td_pool]), torch.stack([gap_ind, gap_pool])
    loss, multiplier_loss, weights = unmixed_loss(
        tds, gaps, log_lambdas, config.unmix, config.cql_alpha, config.unmix_eps, config.target_gap
    )
    metrics = {
        "td_ind": td_ind,
        "gap_ind": gap_ind,
        "gap_pool": gap_pool,
        "w_ind": weights[0],
        "w_pool": weights[1],
        "lambda_ind": log_lambdas[0].exp(),
        "lambda_pool": log_lambdas[1].exp(),
    }
    return loss + multiplier_loss, weights, metrics
