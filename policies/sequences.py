"""The steps of RLlib's zero-padded sequences, for the on-policy learners of stateful (recurrent) modules."""

from __future__ import annotations

from typing import Any

import torch
import tree
from ray.rllib.core import Columns

SEQUENCE_COLUMNS = (Columns.STATE_IN, Columns.NEXT_STATE_IN, Columns.SEQ_LENS, Columns.LOSS_MASK)


def unpadded_steps(batch: dict[str, Any]) -> dict[str, Any]:
    """A stateful module's on-policy batch as the rollouts' steps `[N, ...]`, laid end to end in the order they were
    sampled (as a stateless module's batch comes): RLlib's learner connectors cut each episode chunk into zero-padded
    sequences `[B, T, ...]` of `max_seq_len` steps, marked by `Columns.LOSS_MASK`; this keeps the N steps that hold
    data and drops the sequence columns (states, lengths, mask). A batch without a loss mask passes through."""
    if Columns.LOSS_MASK not in batch:
        return batch
    steps = batch[Columns.LOSS_MASK] > 0.5  # [B, T]

    def select(x: Any) -> Any:
        return x[steps] if isinstance(x, torch.Tensor) else x

    return {key: tree.map_structure(select, value) for key, value in batch.items() if key not in SEQUENCE_COLUMNS}


def padded_like(batch: dict[str, Any], steps: torch.Tensor) -> torch.Tensor:
    """The inverse of `unpadded_steps` for one new column: per-step values `[N, ...]` of `batch`'s rollouts, laid out
    as its zero-padded sequences `[B, T, ...]` (zeros at the padding), so that RLlib's minibatches, which slice and
    shuffle whole sequences, carry them with their steps. A batch without a loss mask takes the steps as they are."""
    if Columns.LOSS_MASK not in batch:
        return steps
    data = batch[Columns.LOSS_MASK] > 0.5  # [B, T]
    padded = steps.new_zeros((*data.shape, *steps.shape[1:]))
    padded[data] = steps
    return padded
