"""Greedy unmixing's conservative gaps of the value learner (plain torch); the estimators' weights are shared with
the actor-critics in `rl_algos.common.losses.unmixing`.

Shapes: B batch, n = n_max agent slots, A actions, K = 2 estimators (independent, mixed).
"""

from __future__ import annotations

import torch

from policies.networks.masked import masked_mean


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


# direct: both estimators bootstrap from min(Q_ind', Q_mix'), Q_ind' = masked mean_a of the agents' next values
def clipped_team_next_value(
    next_values: torch.Tensor, next_mask: torch.Tensor, next_q_mix: torch.Tensor
) -> torch.Tensor:
    """next_values, next_mask [B, n]; next_q_mix [B] -> min(Q_ind', Q_mix') [B] (TD3/SAC's clipped double-Q)."""
    next_q_ind = (next_values * next_mask).sum(-1) / next_mask.sum(-1).clamp(min=1.0)
    return torch.minimum(next_q_ind, next_q_mix)


# gap_ind as `independent_gap`; gap_mix = E[Q_mix(s, u_greedy) - Q_mix(s, u_beta)], the mixer over the joint actions
def conservative_gaps(
    q: torch.Tensor,
    beta_probs: torch.Tensor,
    mask: torch.Tensor,
    q_mix_greedy: torch.Tensor,
    q_mix_beta: torch.Tensor,
    cql_mu: str,
) -> torch.Tensor:
    """Both estimators' gaps [K=2] (independent, mixed): q, beta_probs [B, n, A]; mask [B, n]; q_mix_greedy [B] the
    mixed value of the agents' greedy joint action; q_mix_beta [S, B] of S joint actions drawn from beta."""
    return torch.stack([independent_gap(q, beta_probs, mask, cql_mu), mixed_gap(q_mix_greedy, q_mix_beta)])
