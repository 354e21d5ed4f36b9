"""A plain ReLU multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activate_output: bool = False) -> nn.Sequential:
    """`in_dim -> hidden... -> out_dim` with ReLU between layers (and after the last if `activate_output`)."""
    sizes = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2 or activate_output:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
