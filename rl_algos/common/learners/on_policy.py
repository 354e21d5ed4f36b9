"""`OnPolicyTeamLearner`: the base of the actor-critic learners on fresh rollouts (IAC, Central-V, COMA)."""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.connectors.common.add_observations_from_episodes_to_batch import AddObservationsFromEpisodesToBatch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner.add_next_observations_from_episodes_to_train_batch import (
    AddNextObservationsFromEpisodesToTrainBatch,
)

from policies.sequences import unpadded_steps
from rl_algos.common.learners.connectors import AddRolloutCutsToBatch
from rl_algos.common.learners.team import TeamLearner
from rl_algos.common.learners.utils import register_adam_groups


class OnPolicyTeamLearner(TeamLearner):
    """One update per sampled batch of rollouts, laid end to end: the learner connector adds each step's next
    observation and where a rollout is cut (`ROLLOUT_CUTS`), for bootstrapping. The actor and the critic have
    separate Adam optimizers (and so separate gradient clipping): the critic's large early value errors must not
    crowd the actor's gradient out of a shared clipped norm. Each algorithm's loss is its own
    `compute_loss_for_module` (`rl_algos/<algo>/learner.py`), on the rollouts' steps laid end to end: a recurrent
    actor's zero-padded sequences reach it unpadded (`unpadded_steps`), as the module's outputs do.

    A ready batch (`update(batch=...)`, sampled as arrays by `TeamEnvRunner.sample_rollout`) already holds what the
    episode pieces of the connector add; the pieces that work on the whole batch (`append_batch_piece`, PPO's
    advantages) run on it before it is cut into minibatches."""

    def build(self) -> None:
        super().build()
        self._learner_connector.insert_after(
            AddObservationsFromEpisodesToBatch, AddNextObservationsFromEpisodesToTrainBatch()
        )
        self._learner_connector.insert_after(AddNextObservationsFromEpisodesToTrainBatch, AddRolloutCutsToBatch())
        self._batch_pieces: list[ConnectorV2] = []

    def append_batch_piece(self, piece: ConnectorV2) -> None:
        """Append a connector piece that needs only the batch (not the episodes) to the learner connector, and run
        it on ready batches too."""
        self._learner_connector.append(piece)
        self._batch_pieces.append(piece)

    def _make_batch_if_necessary(self, training_data: Any) -> Any:
        batch = super()._make_batch_if_necessary(training_data)
        if training_data.episodes is None:
            for piece in self._batch_pieces:
                piece(rl_module=self.module, batch=batch.policy_batches, episodes=[], shared_data={})
        return batch

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
