"""The RLlib AlgorithmConfig of each trial a transfer experiment runs (train, from scratch, fine-tuning), built from
its `TransferSettings` with the measured defaults (`measured_defaults.py`)."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import rl_algos
from experiments.transfer_experiment.measured_defaults import measured_defaults
from experiments.transfer_experiment.settings import SMOKE_LEARNING_STARTS, TransferSettings
from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.config.finetune import finetune_config, loads_pretrained_replay
from rl_algos.common.config.replay import ReplayOptions


def algo_config(
    settings: TransferSettings, algo: str, embedding: str, n_agents: list[int], seed: int, timesteps: int | None = None
) -> AlgorithmConfig:
    """The RLlib AlgorithmConfig of one trial: `algo` with `embedding`, trained at `n_agents` for `timesteps` env
    steps (`settings.timesteps` unless given), the budget its measured defaults scale with."""
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=settings.env_config(n_agents))
        .env_runners(num_env_runners=settings.env_runners)
        .learners(num_learners=0, num_gpus_per_learner=settings.gpus_per_trial or 0)
        .training(team_embedding=embedding, **settings.training_options(algo))
        .fault_tolerance(restart_failed_env_runners=True)
        .debugging(seed=seed)
    )
    if settings.worlds_per_runner is not None:
        config.env_runners(num_envs_per_env_runner=settings.worlds_per_runner)
        if isinstance(
            config, TeamActorCriticConfig
        ) and "train_batch_size_per_learner" not in settings.training_options(algo):
            config.cover_every_env()
    if settings.iteration_timesteps:
        config.reporting(min_sample_timesteps_per_iteration=settings.iteration_timesteps)
    if settings.smoke and config.learning_warmup() > SMOKE_LEARNING_STARTS:
        config.training(learning_starts=SMOKE_LEARNING_STARTS)
    measured_defaults(config, settings.training_options(algo), settings.timesteps if timesteps is None else timesteps)
    return config


def train_config(settings: TransferSettings, algo: str, embedding: str, seed: int) -> AlgorithmConfig:
    """The config of a train-phase trial: `algo_config` at the training size(s), with the replay checkpointed when
    a fine-tuning strategy starts from it."""
    config = algo_config(settings, algo, embedding, settings.train_agents, seed)
    starts_from_replay = settings.finetune_timesteps > 0 and any(map(loads_pretrained_replay, settings.finetune))
    if starts_from_replay and config.takes(ReplayOptions):
        config.training(checkpoint_replay=True)
    return config


def finetune_algo_config(
    settings: TransferSettings,
    algo: str,
    embedding: str,
    n_agents: int,
    seed: int,
    pretrained_env_steps: int,
    strategy: str,
) -> AlgorithmConfig:
    """The config of a fine-tuning trial at `n_agents` from the train trial's checkpoint (trained for
    `pretrained_env_steps`), set up for the fine-tuning `strategy` (`rl_algos.common.config.finetune`), then
    `--finetune-training`'s options. With `--zero-shot-ids reuse` the fine-tuning team acts with the ids the
    pre-trained team trained (`finetune_ids="reuse"`), so it starts from the zero-shot policy it is compared with."""
    kl_steps = settings.finetune_timesteps if settings.finetune_kl_steps is None else settings.finetune_kl_steps
    config = finetune_config(
        algo_config(settings, algo, embedding, [n_agents], seed, timesteps=settings.finetune_timesteps),
        strategy,
        pretrained=train_config(settings, algo, embedding, seed),
        pretrained_env_steps=pretrained_env_steps,
        lr_scale=settings.finetune_lr_scale,
        kl=settings.finetune_kl,
        kl_steps=kl_steps,
        ids=settings.zero_shot_ids,
    )
    return config.training(**settings.finetune_training_options(algo))
