"""`TeamAlgorithm`: what every team algorithm does the same way, on top of RLlib's `Algorithm`."""

from __future__ import annotations

from pathlib import Path

from ray.rllib.algorithms.algorithm import Algorithm

from policies.pretrained_reference import PretrainedReferenceAPI
from rl_algos.common.evaluation import MODULE_COMPONENT


class TeamAlgorithm(Algorithm):
    """Base of the team algorithms' loops: starting a run from a pre-trained checkpoint (fine-tuning)."""

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
