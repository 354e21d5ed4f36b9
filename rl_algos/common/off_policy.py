"""`OffPolicyTeamAlgorithm`: sample -> replay -> `train_ratio` learner updates -> sync env-runner weights."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    REPLAY_BUFFER_SAMPLE_TIMER,
    TIMERS,
)


class OffPolicyTeamAlgorithm(Algorithm):
    """The off-policy training loop shared by the team learners, on RLlib's `EpisodeReplayBuffer`
    (`config.replay_buffer_config`). It reads `learning_starts`, `train_ratio`, `n_step` and, where a config has
    them, `recurrent`, `max_seq_len` and `reward` (individual rewards ride in the infos).

    Each `training_step` samples one round from the env runners into the buffer, then, once
    `learning_starts` env steps have been sampled, runs `train_ratio` gradient updates per sampled env step
    (fractions carry over to the next step) on n-step transitions (`max_seq_len` sequences for a recurrent
    agent), and syncs the agent network to the runners.
    """

    def setup(self, config) -> None:
        super().setup(config)  # builds `self.local_replay_buffer` from `config.replay_buffer_config`
        self._update_credit = 0.0

    def training_step(self) -> None:
        config = self.config
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, runner_metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group,
                concat=True,
                sample_timeout_s=config.sample_timeout_s,
                _uses_new_env_runners=True,
                _return_metrics=True,
            )
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        self.local_replay_buffer.add(episodes)

        sampled_lifetime = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        if sampled_lifetime < config.learning_starts:
            return
        self._update_credit += sum(len(episode) for episode in episodes) * config.train_ratio
        num_updates = int(self._update_credit)
        self._update_credit -= num_updates
        recurrent = getattr(config, "recurrent", False)
        for _ in range(num_updates):
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_SAMPLE_TIMER)):
                train_episodes = self.local_replay_buffer.sample(
                    num_items=config.total_train_batch_size,
                    n_step=config.n_step,
                    gamma=config.gamma,
                    # a recurrent agent learns from sequences; the lookback step holds their initial state
                    batch_length_T=config.max_seq_len if recurrent else None,
                    lookback=int(recurrent),
                    include_infos=getattr(config, "reward", "team") == "individual",
                    sample_episodes=True,
                )
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                results = self.learner_group.update(
                    episodes=train_episodes, timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled_lifetime}
                )
            self.metrics.aggregate(results, key=LEARNER_RESULTS)
        if num_updates:
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)
