"""`ValueNormalizer`: running statistics of a critic's value targets, so the critic learns them in units of order one
(MAPPO's value normalisation, Yu et al. 2022, section 4.1 and their `ValueNorm`)."""

from __future__ import annotations

import torch
from torch import nn


class ValueNormalizer(nn.Module):
    """Debiased exponential moving averages of the value targets' mean and mean square, kept as buffers (so they go
    into checkpoints with the critic).

    The critic's head outputs `f`; its value in return units is `V = sigma f + mu` (`denormalize`), and its loss is
    taken on `(V - R) / sigma`, the normalised error. After k updates with batch means `m_1..m_k` the mean is
    `sum_i beta^(k-i) (1 - beta) m_i / (1 - beta^k)` (the `debiasing` sum), so the first update gives the first
    batch's own mean and, with `beta` close to 1, the statistics stay close to the average over all batches so
    far. The variance is floored at `min_variance` so a batch of equal targets does not blow the error up.
    Unlike PopArt (van Hasselt et al. 2016) the head is not rescaled when the statistics move: MAPPO's choice.
    """

    def __init__(self, beta: float = 0.99999, min_variance: float = 1e-2):
        super().__init__()
        if not 0 < beta < 1:
            raise ValueError(f"beta={beta} must be in (0, 1)")
        self.beta, self.min_variance = beta, min_variance
        self.register_buffer("mean_sum", torch.zeros(()))
        self.register_buffer("square_sum", torch.zeros(()))
        self.register_buffer("debiasing", torch.zeros(()))

    @torch.no_grad()
    def update(self, targets: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Move the statistics toward the (`weights`-weighted, e.g. by the present-agent mask) targets' mean and
        mean square; a batch without targets (all weights 0) leaves them as they are."""
        weights = torch.ones_like(targets) if weights is None else weights.to(targets.dtype)
        total = weights.sum()
        if total <= 0:
            return
        batch_mean = (targets * weights).sum() / total
        batch_square = (targets**2 * weights).sum() / total
        self.mean_sum.mul_(self.beta).add_((1 - self.beta) * batch_mean)
        self.square_sum.mul_(self.beta).add_((1 - self.beta) * batch_square)
        self.debiasing.mul_(self.beta).add_(1 - self.beta)

    def mean_and_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`(mu, sigma)`; `(0, 1)` before the first update, so an untrained critic outputs raw values."""
        if self.debiasing <= 0:
            return torch.zeros_like(self.mean_sum), torch.ones_like(self.mean_sum)
        mean = self.mean_sum / self.debiasing
        variance = (self.square_sum / self.debiasing - mean**2).clamp(min=self.min_variance)
        return mean, variance.sqrt()

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        """`(V - mu) / sigma`: values in return units as the critic's head outputs them."""
        mean, std = self.mean_and_std()
        return (values - mean) / std

    def denormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        """`sigma f + mu`: the critic's output in return units."""
        mean, std = self.mean_and_std()
        return normalized * std + mean

    def scale(self) -> torch.Tensor:
        """`sigma`, the unit of the normalised value error."""
        return self.mean_and_std()[1]
