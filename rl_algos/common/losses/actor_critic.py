"""Returns, advantages and policy-gradient terms shared by the on-policy actor-critic learners (plain torch).

Shapes: T time steps of one rollout, B batch, n = n_max agent slots, A actions. `mask` [.., n] is 1.0 for present
agents: every per-agent quantity is masked, so padded agents give and take no credit.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from policies.networks.masked import chosen_action_values, masked_entropy, masked_mean


def _per_row(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`x` [T] broadcast against `like` [T] or [T, n]."""
    return x.reshape(x.shape + (1,) * (like.dim() - x.dim()))


# The backward recursion every return and advantage below is: y_t = x_t + a_t * y_{t+1}, y_T = 0. Computed as a
# parallel suffix scan of the affine maps y -> x_t + a_t y (Hillis and Steele: after the pass with offset d each y_t
# holds the sum of its next 2d terms), in log2(T) whole-batch steps instead of T single-step ones.
def backward_recursion(inputs: torch.Tensor, decays: torch.Tensor) -> torch.Tensor:
    """inputs x [T] or [T, n]; decays a, broadcastable to them ([T, 1] for one per step) -> y like inputs, with
    y_t = x_t + a_t * y_{t+1} and nothing after T - 1."""
    sums, products = inputs, decays
    offset = 1
    while offset < inputs.shape[0]:
        sums = torch.cat([sums[:-offset] + products[:-offset] * sums[offset:], sums[-offset:]])
        products = torch.cat([products[:-offset] * products[offset:], products[-offset:]])
        offset *= 2
    return sums


def _last_step_cut(cuts: torch.Tensor) -> torch.Tensor:
    """cuts [T, ...] with the batch's last step cut too: nothing is sampled after it."""
    return torch.cat([cuts[:-1], torch.ones_like(cuts[-1:])])


# A2C's bootstrapped return over rollouts laid end to end in one batch:
# R_t = r_t + gamma * (1 - d_t) * (V(s_{t+1}) if the rollout is cut after step t else R_{t+1}).
def rollout_returns(
    rewards: torch.Tensor, terminateds: torch.Tensor, cuts: torch.Tensor, next_values: torch.Tensor, gamma: float
) -> torch.Tensor:
    """rewards, terminateds [T]; cuts [T]: 1.0 where the rollout stops after step t (its last sampled step, or a
    truncation); next_values [T] or [T, n]: V(s_{t+1}) -> returns like next_values."""
    rewards, terminateds, cuts = (_per_row(x, next_values) for x in (rewards, terminateds, cuts))
    discounts, cuts = gamma * (1.0 - terminateds), _last_step_cut(cuts)
    return backward_recursion(rewards + discounts * cuts * next_values, discounts * (1.0 - cuts))


# GAE (Schulman et al. 2016) over rollouts laid end to end in one batch, with
# delta_t = r_t + gamma * (1 - d_t) * V(s_{t+1}) - V(s_t):
# A_t = delta_t + gamma * lambda * (1 - d_t) * (0 if the rollout is cut after t else A_{t+1});
# value target A_t + V(s_t).
def gae_advantages(
    rewards: torch.Tensor,
    terminateds: torch.Tensor,
    cuts: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """rewards, terminateds, cuts [T] (as in `rollout_returns`); values, next_values [T] or [T, n]: V(s_t) and
    V(s_{t+1}) -> advantages like values. lambda = 1 gives `rollout_returns - values`, 0 the one-step TD error."""
    rewards, terminateds, cuts = (_per_row(x, values) for x in (rewards, terminateds, cuts))
    continues = 1.0 - terminateds
    deltas = rewards + gamma * continues * next_values - values
    carried = gamma * lam * continues * (1.0 - cuts)  # how much of A_{t+1} flows back into A_t
    return backward_recursion(deltas, carried)


# TD(lambda) target over rollouts laid end to end in one batch:
# G_t = r_t + gamma * (1 - d_t) * (Q'(s_{t+1}) if the rollout is cut after t
#                                  else (1 - lambda) Q'(s_{t+1}) + lambda G_{t+1}).
def td_lambda_targets(
    rewards: torch.Tensor,
    terminateds: torch.Tensor,
    cuts: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """COMA's critic targets: rewards, terminateds, cuts [T] (as in `rollout_returns`); next_values [T] or [T, n]
    (the target critic at s_{t+1} for the actions taken there) -> like next_values. lambda = 0 gives one-step
    TD, 1 the bootstrapped return of `rollout_returns`."""
    rewards, terminateds, cuts = (_per_row(x, next_values) for x in (rewards, terminateds, cuts))
    discounts, cuts = gamma * (1.0 - terminateds), _last_step_cut(cuts)
    # G_t = r_t + gamma (1 - d_t) [(1 - lambda (1 - c_t)) Q'(s_{t+1}) + lambda (1 - c_t) G_{t+1}]
    carried = lam * (1.0 - cuts)
    return backward_recursion(rewards + discounts * (1.0 - carried) * next_values, discounts * carried)


# The next joint action of each step of rollouts laid end to end: the one taken at t+1 inside a rollout, one sampled
# from the current policy after a cut (the rollout's last sampled step, or a truncation).
def next_joint_actions(next_logits: torch.Tensor, actions: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    """next_logits [T, n, A] (the current policy at s_{t+1}); actions [T, n]; cuts [T] -> [T, n]."""
    sampled = torch.distributions.Categorical(logits=next_logits).sample()  # [T, n]
    return torch.where(cuts.unsqueeze(-1) > 0.5, sampled, actions.roll(-1, dims=0))


# COMA counterfactual advantage: A_a = Q_a(s, u) - sum_u' pi_a(u' | o_a) Q_a(s, (u^-a, u')).
def coma_advantages(
    q_values: torch.Tensor, policy: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """q_values [B, n, A]: the critic's Q for each action of agent a with the others' actions fixed; policy
    [B, n, A]: pi_a; actions [B, n]; mask [B, n] -> advantages [B, n], 0 for absent agents."""
    taken = q_values.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)  # [B, n]
    baseline = (policy * q_values).sum(dim=-1)  # [B, n]
    return (taken - baseline) * mask


# Advantage normalisation: (A - mean) / (std + 1e-8) over the present agents' entries.
def normalized(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """advantages, mask [B, n] -> advantages with mean 0 and std 1 over the present entries, 0 elsewhere."""
    mean = masked_mean(advantages, mask)
    std = masked_mean((advantages - mean) ** 2, mask).sqrt()
    return (advantages - mean) / (std + 1e-8) * mask


# Policy gradient: L = -sum_a m_a log pi(u_a | o_a) A_a / sum_a m_a, advantages held fixed.
def policy_gradient_loss(log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-agent log-probabilities [B, n] (not summed over agents) and advantages [B, n] -> scalar."""
    return -masked_mean(log_probs * advantages.detach(), mask)


def log_probs_and_entropy(
    actor, logits: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-agent log-probs `[B, n]` of the taken actions and the mean entropy over present agents (a `TeamActor`'s
    distribution inputs `logits`): of the categoricals for discrete actions; for continuous ones, of the
    tanh-squashed Gaussian (log-probs of the squashed actions, RLlib's `TorchSquashedGaussian.logp`) and its
    pre-squash Gaussian's entropy."""
    if actor.discrete:
        return chosen_action_values(F.log_softmax(logits, dim=-1), actions), masked_entropy(logits, mask)
    policy = actor.dist_cls().from_logits(logits)
    return policy.logp(actions), masked_mean(policy.pre_squash_entropy(), mask)


# SEAC (Christianos et al. 2020): agent a also learns from every other present agent b's experience, weighted by the
# importance ratio rho_ab = min(pi_a(u_b | o_b) / pi_b(u_b | o_b), clip), with A_a(o_b) = R_a(o_b) - V_a(o_b):
#   actor  -sum_{b != a} rho_ab log pi_a(u_b | o_b) A_a(o_b);   critic  sum_{b != a} rho_ab (V_a(o_b) - R_a(o_b))^2
# each a mean over the present agents a (of sums over the others b).
def shared_experience_losses(
    log_probs_as: torch.Tensor,
    own_log_probs: torch.Tensor,
    values_as: torch.Tensor,
    returns_as: torch.Tensor,
    mask: torch.Tensor,
    clip: float,
    normalize: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """log_probs_as [B, n(a), n(b)]: `log pi_a(u_b | o_b)`; own_log_probs [B, n(b)]: `log pi_b(u_b | o_b)`;
    values_as, returns_as [B, n(a), n(b)]: `V_a(o_b)` and agent a's bootstrapped return on b's rollout; mask [B, n]
    -> (actor term, critic term); `normalize` scales the advantages to mean 0, std 1 over the pairs."""
    n = mask.shape[-1]
    others = 1.0 - torch.eye(n, device=mask.device)
    pairs = mask.unsqueeze(-1) * mask.unsqueeze(-2) * others  # [B, a, b]: both present, a != b
    ratios = torch.exp(log_probs_as - own_log_probs.unsqueeze(-2)).detach().clamp(max=clip) * pairs
    advantages = (returns_as - values_as).detach()
    if normalize:
        advantages = normalized(advantages, pairs)
    agents = mask.sum().clamp(min=1.0)
    actor = -(ratios * log_probs_as * advantages).sum() / agents
    critic = (ratios * (values_as - returns_as.detach()) ** 2).sum() / agents
    return actor, critic
