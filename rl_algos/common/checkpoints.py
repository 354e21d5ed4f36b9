"""Reading RLlib algorithm checkpoints: the config, the algorithm's own state and its env steps, the RLModule's place
in the folder, with errors that name a missing or damaged file."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE
from ray.rllib.utils.checkpoints import Checkpointable
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

MODULE_COMPONENT = f"{COMPONENT_LEARNER_GROUP}/{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be read: the message names the folder and the file, and what to do."""


def load_checkpoint_file(checkpoint_path: str | Path, relative: str | Path) -> Any:
    """The pickled object at `relative` inside a checkpoint folder; `CheckpointError` when it is missing or damaged
    (cut short by a full disk or a killed run), instead of pickle's own errors."""
    try:
        with open(Path(checkpoint_path) / relative, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {checkpoint_path} has no {relative}: give the folder of an RLlib algorithm checkpoint "
            "(a trial's checkpoint_000000, ...)"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise CheckpointError(
            f"checkpoint {checkpoint_path} is damaged: {relative} ({error}); evaluate another of the trial's "
            "checkpoints, or train again"
        ) from None


def checkpoint_config(checkpoint_path: str | Path) -> AlgorithmConfig:
    """The AlgorithmConfig an RLlib algorithm checkpoint was trained with."""
    ctor = load_checkpoint_file(checkpoint_path, Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME)
    (config_state,), _ = ctor["ctor_args_and_kwargs"]
    return AlgorithmConfig.from_state(config_state)


def checkpoint_state(checkpoint_path: str | Path) -> dict[str, Any]:
    """The algorithm's own state in an RLlib algorithm checkpoint (its metrics, counters, the team replay when
    checkpointed; not its components')."""
    return load_checkpoint_file(checkpoint_path, f"{Algorithm.STATE_FILE_NAME}.pkl")


def checkpoint_env_steps(checkpoint_path: str | Path) -> int:
    """The env steps an RLlib algorithm checkpoint was trained for (its metrics' sampled-lifetime count)."""
    stats = checkpoint_state(checkpoint_path)["metrics_logger"]["stats"]
    return int(stats[f"{ENV_RUNNER_RESULTS}--{NUM_ENV_STEPS_SAMPLED_LIFETIME}"]["lifetime_sum"])
