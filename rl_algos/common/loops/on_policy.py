"""`OnPolicyTeamAlgorithm`: sample a fresh batch of rollouts -> one learner update -> sync env-runner weights."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import tree
from ray.rllib.core import DEFAULT_MODULE_ID, Columns
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rl_algos.common.loops.team_algorithm import TeamAlgorithm


class OnPolicyTeamAlgorithm(TeamAlgorithm):
    """The on-policy training loop of the actor-critic team learners: each `training_step` samples
    `train_batch_size_per_learner` env steps from the env runners with the current policy, runs one learner
    update on them (`num_epochs` passes of `minibatch_size` minibatches: one whole-batch step for the A2C learners,
    several for PPO), and syncs the actor to the runners.

    With `array_rollouts` (the default for a stateless actor) the runners return the batch's columns as arrays
    (`TeamEnvRunner.sample_rollout`) and the learner takes them as a ready batch; otherwise RLlib's episodes go
    through its learner connectors."""

    def training_step(self) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            if self.config.uses_array_rollouts():
                data = {"batch": self._sample_rollout_batch()}
            else:
                episodes, runner_metrics = synchronous_parallel_sample(
                    worker_set=self.env_runner_group,
                    max_env_steps=self.config.total_train_batch_size,
                    sample_timeout_s=self.config.sample_timeout_s,
                    _uses_new_env_runners=True,
                    _return_metrics=True,
                )
                self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
                for episode in episodes:
                    self.observe_rewards(np.asarray(episode.get_rewards()))
                data = {"episodes": episodes}
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = self.learner_group.update(
                **data,
                num_epochs=self.config.num_epochs,
                minibatch_size=self.config.minibatch_size,
                # one whole-batch minibatch per epoch needs no shuffling (RLlib shuffles it every epoch all the same)
                shuffle_batch_per_epoch=self.config.shuffle_batch_per_epoch and self.config.minibatch_size is not None,
                timesteps={
                    NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                        (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0
                    )
                },
            )
        self.metrics.aggregate(results, key=LEARNER_RESULTS)
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)

    def _sample_rollout_batch(self) -> MultiAgentBatch:
        """`total_train_batch_size` env steps from the local runner, or shared among the remote ones, as one ready
        batch of the team module (each runner's rollouts laid end to end)."""
        group, total = self.env_runner_group, self.config.total_train_batch_size
        env_steps = int(self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))
        if group.num_remote_env_runners() == 0:
            sampled = [_sample_rollout(self.env_runner, total, env_steps)]
        else:
            share = math.ceil(total / group.num_remote_env_runners())
            sampled = group.foreach_env_runner(
                functools.partial(_sample_rollout, num_timesteps=share, env_steps_sampled=env_steps),
                local_env_runner=False,
                timeout_seconds=self.config.sample_timeout_s,
            )
        self.metrics.aggregate([metrics for _, metrics in sampled], key=ENV_RUNNER_RESULTS)
        columns = tree.map_structure(lambda *parts: np.concatenate(parts), *[steps for steps, _ in sampled])
        self.observe_rewards(columns[Columns.REWARDS])
        count = len(columns[Columns.REWARDS])
        return MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(columns)}, env_steps=count)


def _sample_rollout(env_runner: Any, num_timesteps: int, env_steps_sampled: int) -> tuple[dict[str, Any], Any]:
    """Run on an env runner: one `sample_rollout` round and the runner's metrics. The runner first learns the
    algorithm's env steps sampled so far, as RLlib's env-runner state sync would tell it."""
    env_runner.num_env_steps_sampled_lifetime = env_steps_sampled
    return env_runner.sample_rollout(num_timesteps), env_runner.get_metrics()
