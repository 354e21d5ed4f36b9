"""`ReplayConfig`: the replay options every off-policy team config shares."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.config.team import TeamAlgorithmConfig


class ReplayConfig(TeamAlgorithmConfig):
    """Base of the configs trained on `OffPolicyTeamAlgorithm`'s replay loop (the value learners, MADDPG,
    Central-V SAC). `.training(...)` options:

    - `learning_starts` (1000): env steps in the replay before the first update (every run refills an empty
      replay first, fine-tuning included, unless it restores a checkpointed one);
    - `train_ratio` (0.25): gradient updates per env step added to the replay after `learning_starts`;
    - `n_step` (1): n-step returns from the replay;
    - `replay_capacity` (50,000): rows of the team replay (`TeamReplayBuffer`), about the env steps it holds
      (an episode of T steps takes T + 1 rows); the oldest are overwritten;
    - `checkpoint_replay` (False): put the replay, and the count of updates done, into checkpoints, so a resumed
      run goes on with its data (checkpoints grow by the replay's size);
    - `target_update_interval` (1) and `tau` (0.005): after every `target_update_interval` gradient steps the
      target networks move `tau` of the way to the online ones (1.0: hard copies);
    - `broadcast_interval` (100): with remote env runners (asynchronous sampling), gradient updates between two
      weight broadcasts to the runners; the synchronous loop broadcasts after every round of updates;
    - `learner_torch_threads` (1): torch's intra-op threads in the learner's process (`torch.set_num_threads`;
      0 leaves torch's default, one per core). The networks are small: extra threads cost more than they give
      and compete with the env runners for cores (measured on 2 cores, QMIX's loop: asynchronous 1,128 env
      steps/s with 1 thread against 409 with 2, synchronous 690 against 590).

    `.env_runners(num_env_runners=0)` trains synchronously (sample, then update, in one process; bit-for-bit
    reproducible for a seed on CPU); `num_env_runners >= 1` samples asynchronously on the remote env runners
    while the learner updates, holding `train_ratio` (the learner waits when ahead; runners pause when it lags).
    The default is one remote env runner, asynchronous: on 2 cores sampling and learning then each have one,
    and every replay learner's loop ran 1.2-1.9x faster than synchronously (benchmarks/bench_throughput.py).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.learning_starts = 1000
        self.train_ratio = 0.25
        self.n_step = 1
        self.replay_capacity = 50_000
        self.checkpoint_replay = False
        self.target_update_interval = 1
        self.tau = 0.005
        self.broadcast_interval = 100
        self.learner_torch_threads = 1
        self.num_env_runners = 1  # asynchronous sampling (see the class docstring)
        # As IMPALA: no env-runner state sync after every iteration; with asynchronous sampling it would wait for a
        # busy runner's round. The loop tells the runners the env steps sampled itself (their exploration
        # schedules run on it); the team env's connectors are stateless (no observation filters).
        self._dont_auto_sync_env_runner_states = True

    def training(
        self,
        *,
        learning_starts: int = NotProvided,
        train_ratio: float = NotProvided,
        n_step: int = NotProvided,
        replay_capacity: int = NotProvided,
        checkpoint_replay: bool = NotProvided,
        target_update_interval: int = NotProvided,
        tau: float = NotProvided,
        broadcast_interval: int = NotProvided,
        learner_torch_threads: int = NotProvided,
        **kwargs,
    ) -> ReplayConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def replayed_sequence_length(self) -> int | None:
        """The length of the replayed sequences a learner trains on (recurrent agents, TD(lambda) returns); None:
        n-step transitions."""
        return None

    def replays_recurrent_state(self) -> bool:
        """Whether the replay keeps the recurrent state before each observation (recurrent agents)."""
        return False

    def replay_agent_rewards(self) -> bool:
        """Whether the learner needs each agent's own rewards (`infos["agent_rewards"]`) in its batches."""
        return False

    def learning_warmup(self) -> int:
        return self.learning_starts

    def validate(self) -> None:
        super().validate()
        self.validate_target_updates()
        for name in ("n_step", "replay_capacity", "broadcast_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.replay_capacity < 2 * self.train_batch_size_per_learner:
            raise ValueError(
                f"replay_capacity={self.replay_capacity} is below twice the batch "
                f"(train_batch_size_per_learner={self.train_batch_size_per_learner}); raise it"
            )
        if (
            isinstance(self.learner_torch_threads, bool)
            or not isinstance(self.learner_torch_threads, int)
            or (self.learner_torch_threads < 0)
        ):
            raise ValueError(f"learner_torch_threads must be an int >= 0, got {self.learner_torch_threads!r}")
        if not self.train_ratio > 0:
            raise ValueError(f"train_ratio (gradient updates per env step) must be > 0, got {self.train_ratio}")
        if not isinstance(self.learning_starts, int) or self.learning_starts < 0:
            raise ValueError(f"learning_starts must be an int >= 0, got {self.learning_starts!r}")
        if self.num_learners > 1:
            raise ValueError(
                f"the replay learners train on one learner (num_learners 0: in the algorithm's process, or 1: a "
                f"remote one), got num_learners={self.num_learners}; use num_gpus_per_learner for a GPU"
            )
