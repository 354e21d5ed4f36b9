"""The one batch layout of every replay learner (IQL, VDN, QMIX, GUM, Central-V SAC, MADDPG), built from
the team replay and handed to `learner_group.update(batch=...)`, which skips RLlib's learner connectors.

A ready batch stacks K minibatches of B transitions, one gradient step each (`ReplayLearner`): every column
has the leading shape `[K, B]` (`[K, B, T]` for sequences of T steps). With `n_max` agent slots:

| key | shape after `[K, B]` | meaning |
| --- | --- | --- |
| `obs`, `new_obs` | dicts: `obs` `[n_max, d]`, `mask` `[n_max]`, `state` `[state_dim]`, ... | the observation, and the one to bootstrap from |
| `actions` | `[n_max]` int64 or `[n_max, k]` float32 | the joint action |
| `rewards` | `[]` float32 | the team reward, summed over the n steps with discounts |
| `agent_rewards` | `[n_max]` float32 | per-agent rewards, summed alike (IQL with `reward="individual"`) |
| `terminateds` | `[]` float32 | 1.0 when the last summed step terminated the episode (no bootstrap) |
| `n_step` | `[]` int64 | the steps summed; the bootstrap is discounted by `gamma ** n_step` |
| `loss_mask` | `[]` float32 | sequences only: 1.0 on steps of the sequence's episode, 0.0 on padding |
| `state_in`, `next_state_in` | `{"h": [n_max, H]}` | sequences only (no T axis): the stored recurrent state before the first observation, and before the next |

The tensors are made once, on the learner's device (`device=None` leaves numpy arrays, for remote learners). With a
`reward_scale` other than 1 (`ReplayOptions`), `rewards` and `agent_rewards` are the replay's times that scale; the
replay itself keeps the env's rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import tree
from ray.rllib.core import DEFAULT_MODULE_ID, Columns
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

from rl_algos.common.replay.buffer import ACTIONS, AGENT_REWARDS, LOSS_MASK, REWARDS


def ready_batch(
    sample: dict[str, Any], num_minibatches: int, device: torch.device | None, reward_scale: float = 1.0
) -> MultiAgentBatch:
    """A replay sample of `num_minibatches * B` transitions (or sequences) as K = `num_minibatches` stacked
    minibatches `[K, B, ...]` for the team module, on `device`, its rewards times `reward_scale`."""
    if reward_scale != 1.0:
        sample = {
            **sample,
            **{key: sample[key] * np.float32(reward_scale) for key in (REWARDS, AGENT_REWARDS) if key in sample},
        }

    def stacked(array: np.ndarray) -> Any:
        array = array.reshape(num_minibatches, -1, *array.shape[1:])
        return array if device is None else torch.from_numpy(array).to(device)

    columns = tree.map_structure(stacked, sample)
    env_steps = int(sample[LOSS_MASK].sum()) if LOSS_MASK in sample else len(sample[ACTIONS])
    return MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(columns)}, env_steps=env_steps)


def minibatches(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The K minibatches `[B, ...]` of a ready batch's columns `[K, B, ...]` (views, no copies)."""
    return [tree.map_structure(lambda x, k=k: x[k], dict(batch)) for k in range(len(batch[ACTIONS]))]


def fold_sequences(batch: dict[str, Any], fwd_out: dict[str, Any]) -> tuple[dict, dict, torch.Tensor | None]:
    """A recurrent learner's zero-padded sequences `[B, T, ...]` as `[B * T, ...]` transitions (the recurrent
    states dropped), with the loss mask `[B * T]` of the steps that hold data; a batch of transitions passes
    through with None."""
    if Columns.LOSS_MASK not in batch:
        return batch, fwd_out, None
    valid = batch[Columns.LOSS_MASK].reshape(-1).float()
    transitions = {k: v for k, v in batch.items() if k not in (Columns.STATE_IN, Columns.NEXT_STATE_IN)}
    return fold_time_into_batch(transitions), fold_time_into_batch(fwd_out), valid


def fold_time_into_batch(data: Any) -> Any:
    """Reshape every tensor `[B, T, ...]` in a (nested) batch to `[B * T, ...]`; other columns pass through."""
    return tree.map_structure(
        lambda x: x.reshape(-1, *x.shape[2:]) if isinstance(x, torch.Tensor) and x.dim() >= 2 else x, data
    )
