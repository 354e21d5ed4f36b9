"""`ReplayOptions`: the replay options every off-policy team algorithm takes."""

from __future__ import annotations

from typing import Any, ClassVar

from rl_algos.common.config.options import OptionGroup


class ReplayOptions(OptionGroup):
    """The option group of the algorithms trained on `OffPolicyTeamAlgorithm`'s replay loop (the value learners, MADDPG,
    Central-V SAC, IAC-AWAC):

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
    - `reward_scale` (1.0): the factor the learner's rewards are multiplied by (the replay keeps the env's): the
      values then learned are in those units, and `q_bias` divides them back. A team's return grows with its size
      (spread's about 3x from 3 to 6 agents), so fine-tuning a learner pre-trained at 3 at 6 with 1/3 keeps its
      values, and every reward-unit constant (gum's `cql_alpha`, the Munchausen and entropy terms), at the scale
      they were trained at (on the spread twin that did not improve gum's or IQL's fine-tuning: docs/results.md);
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

    title = "the replay options"
    defaults: ClassVar[dict[str, Any]] = {
        "learning_starts": 1000,
        "train_ratio": 0.25,
        "n_step": 1,
        "replay_capacity": 50_000,
        "checkpoint_replay": False,
        "target_update_interval": 1,
        "tau": 0.005,
        "broadcast_interval": 100,
        "learner_torch_threads": 1,
        "reward_scale": 1.0,
    }

    @classmethod
    def configure(cls, config: Any) -> None:
        config.num_env_runners = 1  # asynchronous sampling (see the class docstring)
        # As IMPALA: no env-runner state sync after every iteration; with asynchronous sampling it would wait for a
        # busy runner's round. The loop tells the runners the env steps sampled itself (their exploration
        # schedules run on it); the team env's connectors are stateless (no observation filters).
        config._dont_auto_sync_env_runner_states = True

    @classmethod
    def validate(cls, config: Any) -> None:
        config.validate_target_updates()
        for name in ("n_step", "replay_capacity", "broadcast_interval"):
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if config.replay_capacity < 2 * config.train_batch_size_per_learner:
            raise ValueError(
                f"replay_capacity={config.replay_capacity} is below twice the batch "
                f"(train_batch_size_per_learner={config.train_batch_size_per_learner}); raise it"
            )
        threads = config.learner_torch_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"learner_torch_threads must be an int >= 0, got {threads!r}")
        scale = config.reward_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
            raise ValueError(f"reward_scale must be a positive number (1.0 trains on the env's rewards), got {scale!r}")
        if not config.train_ratio > 0:
            raise ValueError(f"train_ratio (gradient updates per env step) must be > 0, got {config.train_ratio}")
        if isinstance(config.learning_starts, bool) or not isinstance(config.learning_starts, int):
            raise ValueError(f"learning_starts must be an int >= 0, got {config.learning_starts!r}")
        if config.learning_starts < 0:
            raise ValueError(f"learning_starts must be an int >= 0, got {config.learning_starts!r}")
        if config.num_learners > 1:
            raise ValueError(
                f"the replay learners train on one learner (num_learners 0: in the algorithm's process, or 1: a "
                f"remote one), got num_learners={config.num_learners}; use num_gpus_per_learner for a GPU"
            )
