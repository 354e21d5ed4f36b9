"""Fine-tuning strategies: how a run that starts from a pre-trained checkpoint (usually at a larger team) is set up.

    config = finetune_config(rl_algos.get_config("qmix").environment("team", env_config=at_6), "conservative",
                             pretrained=checkpoint_config(ckpt), pretrained_env_steps=20_000)
    algo = config.build_algo()
    algo.load_pretrained(ckpt, replay=loads_pretrained_replay("conservative"))

Each strategy is a set of `.training()` options, so every piece is usable on its own:

- `naive`: nothing changes; exploration and the replay start afresh (the comparison);
- `conservative`: exploration resumes where pre-training left it (the value learners' epsilon schedule continues from
  the pre-trained env steps instead of restarting at its first value), `learning_starts` is small, `lr` is scaled
  by `lr_scale`, and the pre-training replay is the starting data where the checkpoint holds it
  (`checkpoint_replay=True`; padded observations make data from a smaller team valid at a larger one);
- `kl`: `conservative` plus the trust region `finetune_kl` to the frozen pre-trained policy, each agent with its own
  id, annealed to 0 over `kl_steps` env steps;
- `others`: `conservative` plus the same trust region for the agents in slots the pre-training team never sat in
  only, each pulled toward the pre-trained policy with the id of a present agent that was trained
  (`finetune_kl_against="others"`); needs pre-training with `slots="first"`.

Whatever the strategy, `ids="reuse"` makes the fine-tuning team act with the ids its pre-training trained
(`finetune_ids="reuse"`), as the zero-shot evaluation with `agent_ids="reuse"` does, so it starts from that policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import envs
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import FINETUNE_IDS
from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.evaluation.team_evaluation import trained_slots

FINETUNE_STRATEGIES = ("naive", "conservative", "kl", "others")


def resumed_schedule(schedule: float | list, env_steps: int) -> float | list:
    """A `[[env_step, value], ...]` schedule (linear between points, its last value after) continued from
    `env_steps`: its value there at step 0 and the later points moved `env_steps` earlier; a constant stays."""
    if not isinstance(schedule, (list, tuple)):
        return schedule
    steps, values = zip(*schedule, strict=True)
    now = float(np.interp(env_steps, steps, values))
    later = [[step - env_steps, value] for step, value in schedule if step > env_steps]
    return [[0, now], *later] if later else now


def loads_pretrained_replay(strategy: str) -> bool:
    """Whether `strategy` starts from the pre-training replay (where the checkpoint holds one)."""
    return strategy != "naive"


def finetune_config(
    config: AlgorithmConfig,
    strategy: str,
    *,
    pretrained: AlgorithmConfig,
    pretrained_env_steps: int,
    lr_scale: float = 0.3,
    kl: float = 1.0,
    kl_steps: int = 0,
    ids: str = "own",
) -> AlgorithmConfig:
    """A copy of `config` (the fine-tuning run as it would train from scratch) set up for `strategy`, its agents
    acting with their own ids or (`ids="reuse"`) those the pre-training trained. `pretrained` is the pre-trained
    run's config (`checkpoint_config(path)`), trained for `pretrained_env_steps` env steps. Raises `ValueError`
    saying what to change for a strategy that cannot apply."""
    if strategy not in FINETUNE_STRATEGIES:
        raise ValueError(f"unknown fine-tuning strategy {strategy!r}; known: {', '.join(FINETUNE_STRATEGIES)}")
    if ids not in FINETUNE_IDS:
        raise ValueError(f"ids={ids!r} is unknown; use one of {', '.join(FINETUNE_IDS)}")
    config = config.copy(copy_frozen=False)
    trained = trained_slots(pretrained.env_config)
    if ids == "reuse" and trained < envs.parse_env_config(**config.env_config).n_max:
        config.training(finetune_ids="reuse", finetune_trained_slots=trained)
    if strategy == "naive":
        return config
    if not lr_scale > 0:
        raise ValueError(f"the fine-tuning lr_scale must be positive, got {lr_scale}")
    options: dict[str, Any] = {"lr": _scaled(config.lr, lr_scale)}
    if isinstance(config, TeamQConfig) and isinstance(pretrained, TeamQConfig):
        options["epsilon"] = resumed_schedule(pretrained.epsilon, pretrained_env_steps)
    if config.takes(ReplayOptions):
        options["learning_starts"] = min(config.learning_starts, 4 * config.train_batch_size_per_learner)
    if strategy in ("kl", "others"):
        options.update(finetune_kl=kl, finetune_kl_steps=kl_steps, finetune_kl_against="self")
    if strategy == "others":
        options.update(finetune_kl_against="others", finetune_trained_slots=_trained_slots(pretrained.env_config))
    return config.training(**options)


def _scaled(lr: float | list, scale: float) -> float | list:
    return [[step, value * scale] for step, value in lr] if isinstance(lr, (list, tuple)) else lr * scale


def _trained_slots(pretrained_env_config: Mapping[str, Any]) -> int:
    """The number of leading slots a pre-training team sat in; refuses a team that was seated at random."""
    parsed = envs.parse_env_config(**pretrained_env_config)
    if parsed.slots == "random":
        raise ValueError(
            "the 'others' strategy pulls agents whose ids the pre-trained team never had toward trained ones, but the "
            "checkpoint was trained with slots='random', so every id was trained; use 'kl' or 'conservative'"
        )
    return max(parsed.team_sizes)
