"""`TeamReplayBuffer`: the replay learners' experience, in preallocated numpy arrays (no Ray, no RLlib).

Layout. The buffer is a ring of `capacity` rows. A row holds one observation of one episode (every key of the
team observation: `obs`, `mask`, `state`, and `last_action` / `avail` where the env has them) and, when the
episode went on from it, the transition taken there: actions, team reward, per-agent rewards (optional),
terminated / truncated, and `next_row`, the row of the following observation. An episode of T steps takes
T + 1 rows: its observations are stored once, and a transition's next observation is the next row's.

Episode chunks (`EpisodeChunk`, one per RLlib `SingleAgentEpisode` chunk) arrive in bulk, one array per column.
A chunk that continues an episode from an earlier `sample()` call is linked to it: the episode's last stored
row (its open end) gets the chunk's first transition, and its `next_row` points to the chunk's rows. Rows are
written in arrival order and overwritten oldest first, so `next_row` always points to a row written later: an
old episode whose first rows were overwritten keeps its later transitions intact.

Sampling is vectorised index arithmetic over the rows that hold a transition, uniformly:

- `sample_transitions(batch_size, n_step, gamma)`: n-step transitions. The n-step return sums
  `gamma^k r_{t+k}` until n steps, the episode's end, or the newest stored step of an unfinished episode; the
  bootstrap observation is the one after the last summed step. `terminated` is 1 only when that last step
  terminated the episode, so truncated episodes and cut n-step windows bootstrap, terminated ones do not.
  `n_step` is the number of steps summed (discount `gamma ** n_step` for the bootstrap).
- `sample_sequences(batch_size, length)`: sequences of up to `length` consecutive 1-step transitions of one
  episode, for recurrent agents, `[B, T, ...]`, padded after the episode's end (or its newest stored step) by
  repeating the last valid step with `loss_mask` 0. Initial hidden state: the one stored with the sequence's
  first observation (R2D2's "stored state": the env runner's recurrent state when it acted there, zeros at
  an episode's first step); `next_state_in` is the one stored with the following observation.

The buffer is seeded (`seed`) and its whole content, generator included, round-trips through
`get_state()` / `set_state()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Batch keys; the same names as RLlib's `Columns`, so learners index batches the usual way.
OBS, NEXT_OBS, ACTIONS, REWARDS = "obs", "new_obs", "actions", "rewards"
TERMINATEDS, TRUNCATEDS, N_STEP = "terminateds", "truncateds", "n_step"
AGENT_REWARDS, LOSS_MASK, STATE_IN, NEXT_STATE_IN = "agent_rewards", "loss_mask", "state_in", "next_state_in"
HIDDEN = "h"  # the recurrent state's key inside STATE_IN / NEXT_STATE_IN


@dataclass
class EpisodeChunk:
    """The arrays of one sampled episode chunk of L steps (L >= 0).

    `observations`: each observation key -> `[L + 1, ...]`, the chunk's first observation (which, for a chunk
    that continues an episode, is the previous chunk's last) through its last; `actions` `[L, ...]`;
    `rewards` `[L]`; `terminated` / `truncated`: how the chunk's last step ended (both False: the episode goes
    on in a later chunk); `agent_rewards` `[L, n_max]` (optional); `hidden` `[L + 1, ...]` (optional, recurrent
    agents): the agent's recurrent state before it acted at each observation.
    """

    episode_id: str
    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool = False
    truncated: bool = False
    agent_rewards: np.ndarray | None = None
    hidden: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


@dataclass
class _OpenEnd:
    """The last stored row of an episode that goes on in a later chunk, and its lifetime allocation index."""

    row: int
    allocation: int


class TeamReplayBuffer:
    """A ring of `capacity` rows (one row per stored observation: an episode of T steps takes T + 1), sampled
    uniformly over stored transitions; see the module docstring for the layout and the sampling rules."""

    def __init__(self, capacity: int, seed: int | None = None):
        if not isinstance(capacity, (int, np.integer)) or capacity < 2:
            raise ValueError(f"replay capacity must be an int >= 2 (rows of stored steps), got {capacity!r}")
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(seed)
        self._obs: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}  # per-row transition columns, allocated at the first add
        self._next_row = np.full(self.capacity, -1, dtype=np.int64)
        self._has_transition = np.zeros(self.capacity, dtype=bool)
        self._allocations = 0  # rows written over the buffer's lifetime
        self._open: dict[str, _OpenEnd] = {}
        self._transition_rows: np.ndarray | None = None  # cache of np.flatnonzero(_has_transition)
        self.num_transitions = 0
        self.env_steps_added = 0  # lifetime

    def __len__(self) -> int:
        """The number of stored transitions."""
        return self.num_transitions

    # ---- adding -------------------------------------------------------------------------------------------

    def add(self, chunks: list[EpisodeChunk]) -> None:
        """Store episode chunks in arrival order (a continuation after the chunk it continues)."""
        for chunk in chunks:
            self._add_chunk(chunk)
        self._open = {
            episode: end for episode, end in self._open.items() if self._allocations - end.allocation <= self.capacity
        }

    def _add_chunk(self, chunk: EpisodeChunk) -> None:
        length = len(chunk)
        if length == 0:
            return
        if length + 1 > self.capacity:
            raise ValueError(
                f"an episode chunk of {length} steps does not fit a replay of capacity {self.capacity}; raise "
                f"replay_capacity above the env steps of one sampled chunk (rollout_fragment_length)"
            )
        if not self._obs:
            self._allocate_columns(chunk)
        open_end = self._open.pop(chunk.episode_id, None)
        # the open end survives claiming `length` more rows unless they reach its allocation + capacity
        continues = open_end is not None and self._allocations + length - open_end.allocation <= self.capacity
        first_new = 1 if continues else 0
        new_rows = self._claim_rows(length + 1 - first_new)
        for key, column in self._obs.items():
            column[new_rows] = chunk.observations[key][first_new:]
        if chunk.hidden is not None:
            self._columns["hidden"][new_rows] = chunk.hidden[first_new:]
        rows = np.concatenate([[open_end.row], new_rows]) if continues else new_rows  # [L + 1]: row of obs_t
        steps = rows[:-1]
        self._columns[ACTIONS][steps] = chunk.actions
        self._columns[REWARDS][steps] = chunk.rewards
        if chunk.agent_rewards is not None:
            self._columns[AGENT_REWARDS][steps] = chunk.agent_rewards
        self._columns[TERMINATEDS][steps] = False
        self._columns[TRUNCATEDS][steps] = False
        self._columns[TERMINATEDS][steps[-1]] = chunk.terminated
        self._columns[TRUNCATEDS][steps[-1]] = chunk.truncated
        self._next_row[steps] = rows[1:]
        self._has_transition[steps] = True
        self.num_transitions += length
        self.env_steps_added += length
        self._transition_rows = None
        if not chunk.done:
            self._open[chunk.episode_id] = _OpenEnd(int(rows[-1]), self._allocations - 1)

    def _allocate_columns(self, chunk: EpisodeChunk) -> None:
        rows = self.capacity
        self._obs = {key: np.zeros((rows, *v.shape[1:]), dtype=v.dtype) for key, v in chunk.observations.items()}
        self._columns = {
            ACTIONS: np.zeros((rows, *chunk.actions.shape[1:]), dtype=chunk.actions.dtype),
            REWARDS: np.zeros(rows, dtype=np.float32),
            TERMINATEDS: np.zeros(rows, dtype=bool),
            TRUNCATEDS: np.zeros(rows, dtype=bool),
        }
        if chunk.agent_rewards is not None:
            self._columns[AGENT_REWARDS] = np.zeros((rows, *chunk.agent_rewards.shape[1:]), dtype=np.float32)
        if chunk.hidden is not None:
            self._columns["hidden"] = np.zeros((rows, *chunk.hidden.shape[1:]), dtype=np.float32)

    def _claim_rows(self, count: int) -> np.ndarray:
        """The next `count` ring rows, cleared of whatever transitions they held."""
        rows = (self._allocations + np.arange(count)) % self.capacity
        self.num_transitions -= int(self._has_transition[rows].sum())
        self._has_transition[rows] = False
        self._next_row[rows] = -1
        self._allocations += count
        return rows

    # ---- sampling -----------------------------------------------------------------------------------------

    def _sample_rows(self, count: int) -> np.ndarray:
        if self.num_transitions == 0:
            raise ValueError("the replay holds no transitions yet; add episode chunks before sampling")
        if self._transition_rows is None:
            self._transition_rows = np.flatnonzero(self._has_transition)
        return self._transition_rows[self.rng.integers(0, len(self._transition_rows), size=count)]

    def _observations_at(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return {key: column[rows] for key, column in self._obs.items()}

    def _goes_on(self, rows: np.ndarray) -> np.ndarray:
        """Whether the step after each transition row is stored and belongs to the same episode."""
        ended = self._columns[TERMINATEDS][rows] | self._columns[TRUNCATEDS][rows]
        return ~ended & self._has_transition[self._next_row[rows]]

    def sample_transitions(self, batch_size: int, n_step: int = 1, gamma: float = 0.99) -> dict[str, Any]:
        """`batch_size` n-step transitions: `obs` / `new_obs` (dicts of `[B, ...]`), `actions` `[B, ...]`,
        `rewards` `[B]` (the discounted n-step sum), `agent_rewards` `[B, n_max]` (summed alike, if stored),
        `terminateds` `[B]` (float32), `n_step` `[B]` (int64: the steps summed)."""
        start = self._sample_rows(batch_size)
        rewards = np.zeros(batch_size, dtype=np.float32)
        agent_rewards = self._columns.get(AGENT_REWARDS)
        summed_agent_rewards = None if agent_rewards is None else np.zeros_like(agent_rewards[start])
        steps = np.zeros(batch_size, dtype=np.int64)
        row, active = start, np.ones(batch_size, dtype=bool)
        last = start
        for k in range(n_step):
            discount = np.float32(gamma**k) * active
            rewards += discount * self._columns[REWARDS][row]
            if summed_agent_rewards is not None:
                summed_agent_rewards += discount[:, None] * agent_rewards[row]
            steps += active
            last = np.where(active, row, last)
            active = active & self._goes_on(row)
            row = np.where(active, self._next_row[row], row)
        bootstrap = self._next_row[last]
        batch = {
            OBS: self._observations_at(start),
            NEXT_OBS: self._observations_at(bootstrap),
            ACTIONS: self._columns[ACTIONS][start],
            REWARDS: rewards,
            TERMINATEDS: self._columns[TERMINATEDS][last].astype(np.float32),
            N_STEP: steps,
        }
        if summed_agent_rewards is not None:
            batch[AGENT_REWARDS] = summed_agent_rewards
        return batch

    def sample_sequences(self, batch_size: int, length: int) -> dict[str, Any]:
        """`batch_size` sequences of up to `length` 1-step transitions, `[B, T, ...]` per column (as in
        `sample_transitions`, with `n_step` all ones), plus `loss_mask` `[B, T]` (float32: 1 on stored steps
        of the sequence's episode) and, when hidden states are stored, `state_in` / `next_state_in`
        (`{"h": [B, ...]}`): the stored recurrent state at the first observation and at the one after it."""
        start = self._sample_rows(batch_size)
        rows = np.empty((batch_size, length), dtype=np.int64)
        valid = np.empty((batch_size, length), dtype=bool)
        row, active = start, np.ones(batch_size, dtype=bool)
        for t in range(length):
            rows[:, t], valid[:, t] = row, active
            active = active & self._goes_on(row)
            row = np.where(active, self._next_row[row], row)
        next_rows = self._next_row[rows]
        batch = {
            OBS: self._observations_at(rows),
            NEXT_OBS: self._observations_at(next_rows),
            ACTIONS: self._columns[ACTIONS][rows],
            REWARDS: self._columns[REWARDS][rows],
            TERMINATEDS: self._columns[TERMINATEDS][rows].astype(np.float32),
            N_STEP: np.ones((batch_size, length), dtype=np.int64),
            LOSS_MASK: valid.astype(np.float32),
        }
        if AGENT_REWARDS in self._columns:
            batch[AGENT_REWARDS] = self._columns[AGENT_REWARDS][rows]
        if "hidden" in self._columns:
            batch[STATE_IN] = {HIDDEN: self._columns["hidden"][start]}
            batch[NEXT_STATE_IN] = {HIDDEN: self._columns["hidden"][self._next_row[start]]}
        return batch

    # ---- checkpointing ------------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this buffer is: arrays, links, counters, generator."""
        return {
            "capacity": self.capacity,
            "obs": self._obs,
            "columns": self._columns,
            "next_row": self._next_row,
            "has_transition": self._has_transition,
            "allocations": self._allocations,
            "open": {episode: (end.row, end.allocation) for episode, end in self._open.items()},
            "num_transitions": self.num_transitions,
            "env_steps_added": self.env_steps_added,
            "rng": self.rng.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a `get_state()`; the capacity must match."""
        if state["capacity"] != self.capacity:
            raise ValueError(
                f"the stored replay has capacity {state['capacity']}, this one {self.capacity}; "
                f"set replay_capacity={state['capacity']} to restore it"
            )
        self._obs = {key: np.array(column) for key, column in state["obs"].items()}
        self._columns = {key: np.array(column) for key, column in state["columns"].items()}
        self._next_row = np.array(state["next_row"])
        self._has_transition = np.array(state["has_transition"])
        self._allocations = state["allocations"]
        self._open = {episode: _OpenEnd(*end) for episode, end in state["open"].items()}
        self.num_transitions = state["num_transitions"]
        self.env_steps_added = state["env_steps_added"]
        self.rng.bit_generator.state = state["rng"]
        self._transition_rows = None
