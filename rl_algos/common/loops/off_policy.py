"""`OffPolicyTeamAlgorithm`: the replay learners' loop. Env runners sample into the team replay; the learner trains
on ready batches from it at `train_ratio` gradient updates per env step, synchronously or asynchronously."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    REPLAY_BUFFER_SAMPLE_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rl_algos.common.checkpoints import checkpoint_state
from rl_algos.common.loops.team_algorithm import TeamAlgorithm
from rl_algos.common.replay.buffer import EpisodeChunk, TeamReplayBuffer
from rl_algos.common.replay.episode_chunks import episode_chunks, sample_chunks
from rl_algos.common.replay.ready_batch import ready_batch

TEAM_REPLAY = "team_replay"  # the checkpoint state key of the replay (with `checkpoint_replay`)
SAMPLE_TAG = "team_sample"
REPLAY_ADD_TIMER = "replay_add"
# At most this many transitions (sequence steps) per learner_group.update call, K stacked minibatches: enough
# to spread its fixed cost over many gradient steps, little enough to keep the batch small (pursuit: ~15 KB each).
MAX_STEPS_PER_UPDATE_CALL = 8_192
POLL_S = 0.01  # how often a learner that is ahead checks for arrived samples


class OffPolicyTeamAlgorithm(TeamAlgorithm):
    """The replay loop of the off-policy team learners (options in `ReplayOptions`).

    The replay is the project's `TeamReplayBuffer` (seeded with the config's `seed`): env runners' episode chunks
    go in as arrays, and the learner gets ready batches of K stacked minibatches through
    `learner_group.update(batch=...)`, skipping RLlib's replay buffer and learner connectors. Updates due at
    any time: `floor(train_ratio * (env steps added to the replay - learning_starts)) - updates done`.

    - Synchronous (`num_env_runners=0`): each `training_step` samples one round on the local env runner, adds it,
      runs the updates due and syncs the agent network to the runner. Bit-for-bit reproducible for a seed on CPU.
    - Asynchronous (`num_env_runners >= 1`): the remote env runners sample (one request in flight each, returning
      arrays) while the learner updates. Each `training_step` adds the rounds that have arrived, hands idle
      runners their next request, runs the updates due, and broadcasts the weights every `broadcast_interval`
      updates. A runner gets a request only while the learner owes at most one round of updates per runner,
      and a learner with nothing due waits for data, so updates per env step stay at `train_ratio`.
    """

    def setup(self, config) -> None:
        super().setup(config)
        config = self.config
        self.replay = TeamReplayBuffer(config.replay_capacity, seed=config.seed)
        self.num_updates_done = 0
        self._updates_at_broadcast = 0
        self._chunk_options = {
            "agent_rewards": config.replay_agent_rewards(),
            "hidden": config.replays_recurrent_state(),
        }
        self._learner_device = None
        if self.learner_group.is_local:  # a remote learner gets numpy arrays and makes its own tensors
            self._learner_device = next(iter(self.learner_group.foreach_learner(lambda learner: learner.device))).get()

    def _create_local_replay_buffer_if_necessary(self, config) -> None:
        return None  # the team replay (built in `setup`) replaces RLlib's replay buffer

    def training_step(self) -> None:
        if self.config.num_env_runners == 0:
            self._synchronous_step()
        else:
            self._asynchronous_step()

    def _synchronous_step(self) -> None:
        # the local runner's exploration schedules run on the env steps sampled so far
        self.env_runner_group.sync_env_runner_states(config=self.config, env_steps_sampled=self._env_steps_sampled())
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, runner_metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group,
                concat=True,
                sample_timeout_s=self.config.sample_timeout_s,
                _uses_new_env_runners=True,
                _return_metrics=True,
            )
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        self._add(episode_chunks(episodes, **self._chunk_options))
        if self._run_due_updates():
            with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)

    def _asynchronous_step(self) -> None:
        group = self.env_runner_group
        if group.num_in_flight_async_reqs(tag=SAMPLE_TAG) == 0:
            self._request_samples()
        deadline = time.monotonic() + self.config.sample_timeout_s
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            while True:  # a learner with nothing due waits for data
                idle = self._updates_due() == 0
                arrived = group.fetch_ready_async_reqs(tags=SAMPLE_TAG, timeout_seconds=POLL_S if idle else 0.0)
                if arrived or not idle or time.monotonic() > deadline:
                    break
        for _, (chunks, runner_metrics) in arrived:
            self.metrics.aggregate([runner_metrics], key=ENV_RUNNER_RESULTS)
            self._add(chunks)
        self._request_samples()
        if self._run_due_updates() and self.num_updates_done - self._updates_at_broadcast >= (
            self.config.broadcast_interval
        ):
            with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                group.sync_weights(
                    from_worker_or_learner_group=self.learner_group, inference_only=True, timeout_seconds=0.0
                )
            self._updates_at_broadcast = self.num_updates_done

    def _request_samples(self) -> None:
        """Ask every idle remote runner for one more round, unless the learner owes more than one round of
        updates per runner (then the runners pause and the learner catches up)."""
        config = self.config
        round_steps = config.get_rollout_fragment_length() * config.num_envs_per_env_runner
        if self._updates_due() <= max(1.0, config.train_ratio * round_steps * config.num_env_runners):
            self.env_runner_group.foreach_env_runner_async(
                functools.partial(sample_chunks, env_steps_sampled=self._env_steps_sampled(), **self._chunk_options),
                tag=SAMPLE_TAG,
            )

    def _env_steps_sampled(self) -> int:
        return int(self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))

    def _add(self, chunks: list[EpisodeChunk]) -> None:
        with self.metrics.log_time((TIMERS, REPLAY_ADD_TIMER)):
            self.replay.add(chunks)
        for chunk in chunks:
            self.observe_rewards(chunk.rewards)

    def _updates_due(self) -> int:
        return max(0, self._updates_owed(self.replay.env_steps_added) - self.num_updates_done)

    def _updates_owed(self, env_steps_added: int) -> int:
        """Updates a run owes after `env_steps_added` env steps in its replay: `train_ratio` per step past
        `learning_starts`."""
        config = self.config
        warm = env_steps_added - config.learning_starts
        return int(config.train_ratio * warm) if warm >= 0 else 0

    def load_pretrained(self, checkpoint: str | Path, replay: bool = False) -> bool:
        """`TeamAlgorithm.load_pretrained`; with `replay`, the checkpoint's team replay (if it holds one) becomes
        this run's starting data: it counts toward `learning_starts` but owes no updates, so `train_ratio` applies
        to the env steps this run adds."""
        super().load_pretrained(checkpoint)
        stored = stored_team_replay(checkpoint) if replay and self.replay is not None else None
        if stored is None:
            return False
        self.replay.set_state(stored["buffer"])
        self.num_updates_done = self._updates_owed(self.replay.env_steps_added)
        return True

    def _run_due_updates(self) -> int:
        """Run every update due, in `learner_group.update` calls of K stacked minibatches; return how many."""
        config = self.config
        due = self._updates_due()
        sequence_length = config.replayed_sequence_length()
        # `train_batch_size_per_learner` counts env steps, in sequences of `sequence_length` for a learner on
        # sequences (as RLlib's replay counts them), so a gradient step sees as many steps either way
        batch_size = config.train_batch_size_per_learner
        if sequence_length is not None:
            batch_size = max(1, batch_size // sequence_length)
        per_call = max(1, MAX_STEPS_PER_UPDATE_CALL // (batch_size * (sequence_length or 1)))
        sampled_lifetime = self._env_steps_sampled()
        remaining = due
        while remaining:
            stacked = min(remaining, per_call)
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_SAMPLE_TIMER)):
                if sequence_length is None:
                    sample = self.replay.sample_transitions(stacked * batch_size, config.n_step, config.gamma)
                else:
                    sample = self.replay.sample_sequences(stacked * batch_size, sequence_length)
                batch = ready_batch(sample, stacked, self._learner_device, config.reward_scale)
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                results = self.learner_group.update(
                    batch=batch, timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled_lifetime}
                )
            self.metrics.aggregate(results, key=LEARNER_RESULTS)
            self.num_updates_done += stacked
            remaining -= stacked
        return due

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict[str, Any]:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if (
            self.replay is not None
            and self.config.checkpoint_replay
            and self._check_component(TEAM_REPLAY, components, not_components)
        ):
            state[TEAM_REPLAY] = {"buffer": self.replay.get_state(), "updates_done": self.num_updates_done}
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if TEAM_REPLAY in state and self.replay is not None:
            self.replay.set_state(state[TEAM_REPLAY]["buffer"])
            self.num_updates_done = state[TEAM_REPLAY]["updates_done"]


def stored_team_replay(checkpoint: str | Path) -> dict[str, Any] | None:
    """The team replay state an algorithm checkpoint holds (`checkpoint_replay`), or None."""
    return checkpoint_state(checkpoint).get(TEAM_REPLAY)
