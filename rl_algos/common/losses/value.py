"""Value-learning targets and losses shared by the value-based learners and the replay critics (plain torch, no
RLlib), and greedy unmixing's weighting of K value estimators by their conservative gaps (`gum`'s independent and
mixed Qs; the actor-critics' `unmix`: each agent's own critic against the pooled one).

Shapes: B batch, n = n_max agent slots, A actions, K estimators (gaps and TD losses are scalars per estimator,
stacked `[K]`). Absent agents are handled by the caller's masks.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from policies.networks.masked import chosen_action_values, masked_mean
from rl_algos.common.losses.actor_critic import td_lambda_targets


# Double Q-learning: the online network picks a' = argmax_u Q(o', u), the target network evaluates it.
def double_q_next_values(q_next_online: torch.Tensor, q_next_target: torch.Tensor) -> torch.Tensor:
    """`Q_target(o', argmax_u Q_online(o', u))`: [B, n, A] x2 -> [B, n]."""
    return chosen_action_values(q_next_target, q_next_online.argmax(dim=-1))


# Munchausen soft value: V(o') = sum_u pi(u|o') (Q_target(o', u) - tau log pi(u|o')), pi = softmax(Q_target / tau).
def soft_next_values(q_next_target: torch.Tensor, tau: float) -> torch.Tensor:
    """The entropy-regularised value of the target network's softmax policy: [B, n, A] -> [B, n]."""
    log_pi = F.log_softmax(q_next_target / tau, dim=-1)
    return (log_pi.exp() * (q_next_target - tau * log_pi)).sum(dim=-1)


def log_policy_of_actions(q_target: torch.Tensor, actions: torch.Tensor, tau: float) -> torch.Tensor:
    """`log pi(u_a | o_a)` of the taken actions under `pi = softmax(Q_target / tau)`: [B, n, A] -> [B, n]."""
    return chosen_action_values(F.log_softmax(q_target / tau, dim=-1), actions)


# Munchausen bonus: alpha * clip(tau * log pi(u|o), l0, 0), added to the reward.
def munchausen_bonus(log_pi: torch.Tensor, alpha: float, tau: float, l0: float) -> torch.Tensor:
    """The Munchausen-DQN reward bonus of a log-policy (per agent, or a joint one summed over agents)."""
    return alpha * torch.clamp(tau * log_pi, min=l0, max=0.0)


# Per-agent bootstrap value at o': the Munchausen soft value of Q_target (with `munchausen_tau`), else double Q
# Q_target(o', argmax_u Q_online(o', u)), else max_u Q_target(o', u).
def next_agent_values(
    q_next_online: torch.Tensor, q_next_target: torch.Tensor, double_q: bool, munchausen_tau: float | None
) -> torch.Tensor:
    """q_next_online, q_next_target [B, n, A] -> [B, n]."""
    if munchausen_tau is not None:
        return soft_next_values(q_next_target, munchausen_tau)
    if double_q:
        return double_q_next_values(q_next_online, q_next_target)
    return q_next_target.max(dim=-1).values


# The Munchausen bonus of the taken actions under pi = softmax(Q_ref / tau): per agent, or of the joint
# log-policy sum_a m_a log pi(u_a | o_a) over present agents.
def munchausen_action_bonus(
    q_reference: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor, params: dict[str, float], joint: bool
) -> torch.Tensor:
    """q_reference [B, n, A] (usually the target network's Qs), actions and mask [B, n], params `alpha`, `tau`,
    `l0` -> [B, n], or [B] when `joint`."""
    log_pi = log_policy_of_actions(q_reference, actions, params["tau"])  # [B, n]
    if joint:
        log_pi = (log_pi * mask).sum(dim=-1)  # [B]
    return munchausen_bonus(log_pi, params["alpha"], params["tau"], params["l0"])


# n-step TD target: y = r + bonus + gamma^n * (1 - terminated) * V(s')
def td_targets(
    rewards: torch.Tensor, discounts: torch.Tensor, terminateds: torch.Tensor, next_values: torch.Tensor
) -> torch.Tensor:
    """`next_values` is [B] (a team value) or [B, n] (per agent); `rewards` (the n-step return plus any bonus)
    is [B] or [B, n]; `discounts` (`gamma ** n_step`) and `terminateds` (1.0 where the episode ended) are [B].
    [B] tensors are broadcast over agents."""

    def per_row(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape + (1,) * (next_values.dim() - x.dim()))

    return per_row(rewards) + per_row(discounts) * (1.0 - per_row(terminateds)) * next_values


def td_metrics(predictions: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
    """The TD loss's logged means over the weighted entries: prediction, target and absolute TD error."""
    return {
        "q_taken_mean": masked_mean(predictions, weights),
        "target_mean": masked_mean(targets, weights),
        "td_error_abs_mean": masked_mean((predictions - targets).abs(), weights),
    }


def other_agent_ids(
    mask: torch.Tensor, generator: torch.Generator | None = None, allowed: torch.Tensor | None = None
) -> torch.Tensor:
    """For each sample and agent a, the one-hot id of another present agent b drawn uniformly among the slots
    `allowed` ([n] bool; default every slot), or a itself when there is none: mask [B, n] -> [B, n, n]. Asks the
    shared network what another agent would do in a's place (greedy unmixing's and fine-tuning's `others`)."""
    n = mask.shape[-1]
    own = torch.eye(n, dtype=torch.bool, device=mask.device)
    scores = torch.rand(*mask.shape, n, generator=generator, device=mask.device)  # [B, a, b]
    candidates = mask.unsqueeze(-2).bool() & ~own  # [B, a, b]
    if allowed is not None:
        candidates = candidates & allowed.to(mask.device)
    alone = ~candidates.any(dim=-1, keepdim=True)  # no candidate: fall back to oneself
    candidates = candidates | (alone & own)
    other = scores.masked_fill(~candidates, -1.0).argmax(dim=-1)  # [B, n]
    return F.one_hot(other, n).float()


# KL(softmax(x_a / tau) || pi_ref_a), averaged over the agents with weight 1 in `mask`; pi_ref detached
def kl_to_reference(
    outputs: torch.Tensor, reference_log_pi: torch.Tensor, tau: float, mask: torch.Tensor
) -> torch.Tensor:
    """outputs (Qs or logits) and reference_log_pi [B, n, A]; mask [B, n] -> scalar."""
    log_pi = F.log_softmax(outputs / tau, dim=-1)
    kl = (log_pi.exp() * (log_pi - reference_log_pi.detach())).sum(dim=-1)  # [B, n]
    return masked_mean(kl, mask)


# y = r + gamma^n (1 - d) V', or with `td_lambda` the TD(lambda) return of each replayed sequence over the V' of
# its steps (`sequence_lambda_returns`).
def value_targets(
    rewards: torch.Tensor,
    n_steps: torch.Tensor,
    terminateds: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
    td_lambda: float | None = None,
    valid: torch.Tensor | None = None,
    sequence_shape: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The regression targets of a (folded) batch from its rewards and the bootstrap values V' of the observations
    after each step, a team value `[B]` or per agent `[B, n]`: n-step TD targets (`n_steps`, `terminateds` `[B]`) or,
    with `td_lambda`, the TD(lambda) returns of the replayed sequences (`valid` `[B]` and `sequence_shape` `(B, T)`
    from `fold_sequences`)."""
    if td_lambda is None:
        return td_targets(rewards, gamma ** n_steps.float(), terminateds, next_values)
    return sequence_lambda_returns(rewards, terminateds, next_values, valid, sequence_shape, gamma, td_lambda)


# TD(lambda) targets over replayed sequences (Peng's Q(lambda), as pymarl2's `td_lambda`: no off-policy correction):
# G_t = r_t + gamma (1 - d_t) [(1 - lambda) V'_{t+1} + lambda G_{t+1}], with G_{t+1} = V'_{t+1} once step t+1 is not in
# the sequence (its episode ended, or the sequence did): COMA's `td_lambda_targets` with a cut after each sequence's
# last stored step. lambda = 0 is the 1-step target.
def sequence_lambda_returns(
    rewards: torch.Tensor,
    terminateds: torch.Tensor,
    next_values: torch.Tensor,
    valid: torch.Tensor,
    sequence_shape: tuple[int, int],
    gamma: float,
    lambda_: float,
) -> torch.Tensor:
    """Sequences folded into the batch (`fold_sequences`), `sequence_shape` `(B, T)`: `next_values` `[B * T]` (a team
    value) or `[B * T, n]` (per agent), V' of the observation after each step; `rewards` `[B * T]`, `[B * T, 1]` or
    like `next_values`; `terminateds` and `valid` (1.0 on the sequence's stored steps, a prefix of each) `[B * T]`
    -> like `next_values`."""
    following = valid.reshape(sequence_shape).roll(-1, dims=1)
    following[:, -1] = 0.0  # nothing follows a sequence's last slot
    cuts = 1.0 - following.reshape(-1)
    return td_lambda_targets(rewards, terminateds, cuts, next_values, gamma, lambda_)


# Greedy unmixing

UNMIX = ("inverse", "direct", "lagrange", "independent", "pooled")  # the weightings `unmix` takes
FIXED_WEIGHTS = {"independent": 0, "pooled": -1}  # the one estimator a fixed weighting keeps (its index in [K])


# inverse: w_k = (1 / (|g_k| + eps)) / sum_j (1 / (|g_j| + eps))
def inverse_gap_weights(gaps: torch.Tensor, eps: float) -> torch.Tensor:
    """gaps [K] (detached) -> weights [K] summing to 1; the smaller gap gets the larger weight."""
    inverse = 1.0 / (gaps.abs() + eps)
    return inverse / inverse.sum()


# direct: w = one_hot(argmin_k |g_k|)
def direct_weights(gaps: torch.Tensor) -> torch.Tensor:
    return F.one_hot(gaps.abs().argmin(), gaps.numel()).to(gaps.dtype)


# independent / pooled: w = one_hot(k) for the first (independent) or the last (pooled) estimator, whatever the gaps:
# that estimator's TD and gap alone, the ablations that measure what weighting the two adds
def fixed_weights(kept: int, like: torch.Tensor) -> torch.Tensor:
    """`like` [K] (the gaps) -> weights [K]: 1 for the estimator at index `kept` (-1: the last), 0 elsewhere."""
    weights = torch.zeros_like(like)
    weights[kept] = 1.0
    return weights


# lagrange: w_k proportional to 1 / lambda_k
def lagrange_weights(log_lambdas: torch.Tensor) -> torch.Tensor:
    return F.softmax(-log_lambdas, dim=0)


# Lagrange multipliers by gradient ascent on lambda_k (g_k - target_gap): minimise the negative
def lagrange_multiplier_loss(log_lambdas: torch.Tensor, gaps: torch.Tensor, target_gap: float) -> torch.Tensor:
    """log_lambdas [K] (trainable), gaps [K] (detached) -> scalar; a gap above `target_gap` raises its lambda."""
    return -(log_lambdas.exp() * (gaps.detach() - target_gap)).sum()


# inverse / direct / independent / pooled: L = sum_k w_k (TD_k + cql_alpha gap_k), w from the detached gaps (fixed
# for independent and pooled);
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
    if unmix in FIXED_WEIGHTS:
        weights = fixed_weights(FIXED_WEIGHTS[unmix], detached_gaps)
    elif unmix == "inverse":
        weights = inverse_gap_weights(detached_gaps, unmix_eps)
    else:
        weights = direct_weights(detached_gaps)
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
