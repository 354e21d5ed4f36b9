"""`OnPolicyTeamAlgorithm`: sample a fresh batch of rollouts -> one learner update -> sync env-runner weights."""

from __future__ import annotations

import numpy as np
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rl_algos.common.team_algorithm import TeamAlgorithm


class OnPolicyTeamAlgorithm(TeamAlgorithm):
    """The on-policy training loop of the actor-critic team learners: each `training_step` samples
    `train_batch_size_per_learner` env steps from the env runners with the current policy, runs one learner
    update on them (`num_epochs` passes of `minibatch_size` minibatches: one whole-batch step for the A2C learners,
    several for PPO), and syncs the actor to the runners."""

    def training_step(self) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
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
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = self.learner_group.update(
                episodes=episodes,
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
