"""Means over present agents (the one reduction every masked loss and metric uses), the masked squared error, the
mean entropy of per-agent categoricals, the Qs of the actions taken, and the slots a batch uses."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`sum(values * mask) / sum(mask)` (0 when nothing is present); `mask` broadcasts against `values`."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def mean_over_present(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row, the mean over present agents: values, mask [..., n_max] -> [...] (0 where nothing is present)."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def masked_mse(predictions: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """`sum_i w_i (q_i - y_i)^2 / sum_i w_i`, the targets held fixed: the mean squared error over the entries with
    weight 1 (present agents, or every team for a mixed Q)."""
    return (weights * (predictions - targets.detach()) ** 2).sum() / weights.sum().clamp(min=1.0)


def masked_entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the per-agent categorical policies over present agents: logits [B, n, A] -> scalar."""
    log_pi = F.log_softmax(logits, dim=-1)
    entropy = -(log_pi.exp() * log_pi).sum(dim=-1)  # [B, n]
    return masked_mean(entropy, mask)


def chosen_action_values(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """`Q(o_a, u_a)` for the taken actions: q [..., n, A], actions [..., n] -> [..., n]."""
    return q.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def used_slots(mask: torch.Tensor) -> int:
    """One past the last slot that any row of `mask` [..., n_max] fills (at least 1): the slots a shared per-agent
    network must compute for this batch. A team of 3 padded to `n_max` 6 fills slots 0-2 (unless `TeamEnv` places
    agents at random slots), so the other half of a padded batch's rows need no work."""
    filled = torch.nonzero(mask.reshape(-1, mask.shape[-1]).any(dim=0))
    return int(filled.max()) + 1 if len(filled) else 1
