"""Means over present agents: the one reduction every masked loss and metric uses."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`sum(values * mask) / sum(mask)` (0 when nothing is present); `mask` broadcasts against `values`."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)
