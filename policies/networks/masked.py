"""Means over present agents (the one reduction every masked loss and metric uses), the Qs of the actions taken, and
the slots a batch uses."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`sum(values * mask) / sum(mask)` (0 when nothing is present); `mask` broadcasts against `values`."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def mean_over_present(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row, the mean over present agents: values, mask [..., n_max] -> [...] (0 where nothing is present)."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def chosen_action_values(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """`Q(o_a, u_a)` for the taken actions: q [..., n, A], actions [..., n] -> [..., n]."""
    return q.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def used_slots(mask: torch.Tensor) -> int:
    """One past the last slot that any row of `mask` [..., n_max] fills (at least 1): the slots a shared per-agent
    network must compute for this batch. A team of 3 padded to `n_max` 6 fills slots 0-2 (unless `TeamEnv` places
    agents at random slots), so the other half of a padded batch's rows need no work."""
    filled = torch.nonzero(mask.reshape(-1, mask.shape[-1]).any(dim=0))
    return int(filled.max()) + 1 if len(filled) else 1
