"""`OnPolicyTeamLearner`: the base of the actor-critic learners on fresh rollouts (IAC, Central-V, COMA)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.connectors.common.add_observations_from_episodes_to_batch import AddObservationsFromEpisodesToBatch
from ray.rllib.connectors.learner.add_next_observations_from_episodes_to_train_batch import (
    AddNextObservationsFromEpisodesToTrainBatch,
)

from policies.sequences import unpadded_steps
from rl_algos.common.connectors import AddRolloutCutsToBatch
from rl_algos.common.learner_utils import register_adam_groups
from rl_algos.common.team_learner import TeamLearner


class OnPolicyTeamLearner(TeamLearner):
    """One update per sampled batch of rollouts, laid end to end: the learner connector adds each step's next
    observation and where a rollout is cut (`ROLLOUT_CUTS`), for bootstrapping. The actor and the critic have
    separate Adam optimizers (and so separate gradient clipping): the critic's large early value errors must not
    crowd the actor's gradient out of a shared clipped norm. Each algorithm's loss is its own
    `compute_loss_for_module` (`rl_algos/<algo>/learner.py`), on the rollouts' steps laid end to end: a recurrent
    actor's zero-padded sequences reach it unpadded (`unpadded_steps`), as the module's outputs do."""

    def build(self) -> None:
        super().build()
        self._learner_connector.insert_after(
            AddObservationsFromEpisodesToBatch, AddNextObservationsFromEpisodesToTrainBatch()
        )
        self._learner_connector.insert_after(AddNextObservationsFromEpisodesToTrainBatch, AddRolloutCutsToBatch())

    def compute_losses(self, *, fwd_out: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
        steps = {module_id: unpadded_steps(module_batch) for module_id, module_batch in batch.items()}
        return super().compute_losses(fwd_out=fwd_out, batch=steps)

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        groups = {"actor": list(module.actor.parameters()), "critic": list(module.critic.parameters())}
        register_adam_groups(self, module_id, groups, config.lr)

    def log_update_metrics(self, module_id: str, metrics: dict[str, torch.Tensor]) -> None:
        """Log one update's metrics as numbers; results report the latest update's (one update per iteration)."""
        self.metrics.log_dict({k: v.item() for k, v in metrics.items()}, key=module_id, window=1)
