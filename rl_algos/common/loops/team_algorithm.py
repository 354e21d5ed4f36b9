"""`TeamAlgorithm`: what every team algorithm does the same way, on top of RLlib's `Algorithm`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, LEARNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

from policies.pretrained_reference import PretrainedReferenceAPI
from rl_algos.common.checkpoints import MODULE_COMPONENT
from rl_algos.common.loops.divergence import check_value_estimates


class TeamAlgorithm(Algorithm):
    """Base of the team algorithms' loops: starting a run from a pre-trained checkpoint (fine-tuning), and the
    divergence guard (`rl_algos.common.loops.divergence`): each loop passes the team rewards it samples to
    `observe_rewards`, and every iteration whose learner values leave the returns' range (widened by
    `value_bound_margin`) raises `ValueDivergenceError` before its result is returned."""

    # the team rewards' range sampled so far (per run, not checkpointed); empty (min > max) until the first sample
    reward_min, reward_max = math.inf, -math.inf

    def observe_rewards(self, rewards: np.ndarray) -> None:
        """Widen the divergence guard's reward range to the team rewards of a sampled batch."""
        if len(rewards):
            self.reward_min = min(self.reward_min, float(np.min(rewards)))
            self.reward_max = max(self.reward_max, float(np.max(rewards)))

    def step(self) -> dict[str, Any]:
        results = super().step()
        env_steps = results.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)
        scale = getattr(self.config, "reward_scale", 1.0)  # the replay learners learn on rewards times it
        check_value_estimates(
            results.get(LEARNER_RESULTS, {}),
            self.reward_min * scale,
            self.reward_max * scale,
            self.config.gamma,
            self.config.value_bound_margin,
            int(env_steps),
        )
        return results

    def load_pretrained(self, checkpoint: str | Path, replay: bool = False) -> bool:
        """Start from the algorithm checkpoint `checkpoint`, trained at any team size with the same `n_max`: its
        module weights (agents, mixer or critics, and their targets) replace this run's, the fine-tuning trust
        region's reference (`finetune_kl`) is set to them, and the env runners get them. The run's own counters,
        schedules and optimizer state stay fresh. With `replay` an off-policy run also starts from the checkpoint's
        team replay where it holds one (`checkpoint_replay`). Returns whether a replay was loaded."""
        self.restore_from_path(Path(checkpoint) / MODULE_COMPONENT, component=MODULE_COMPONENT)
        for result in self.learner_group.foreach_learner(_sync_pretrained_reference):
            result.get()
        return False


def _sync_pretrained_reference(learner) -> None:
    learner.module.foreach_module(
        lambda _, module: module.sync_pretrained_reference() if isinstance(module, PretrainedReferenceAPI) else None
    )
