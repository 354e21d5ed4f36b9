"""`TeamTrial`: one transfer-experiment trial as a Tune Trainable around any registered RLlib algorithm.

A Tune experiment holds one Trainable class; wrapping the algorithm lets one experiment run every
(algorithm, embedding, seed, phase) of a grid side by side, as far as the cluster's resources allow. Resources,
checkpoints and training are still RLlib's own: `Algorithm.default_resource_request`, `save_to_path`,
`restore_from_path`, `train`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from ray import tune
from ray.rllib.utils.metrics import LEARNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

from experiments.transfer_experiment.settings import EVAL_SEED
from experiments.transfer_experiment.trial_spec import TrialSpec
from rl_algos.common.checkpoints import checkpoint_env_steps
from rl_algos.common.config.finetune import loads_pretrained_replay
from rl_algos.common.evaluation.learning_curve import LearningCurve, default_eval_every
from rl_algos.common.loops.divergence import ValueDivergenceError


def trial_curve(spec: TrialSpec) -> LearningCurve | None:
    """The trial's learning curve (`--eval-every`, or `--finetune-eval-every` for a fine-tuning trial; a tenth of
    its budget by default), or None when switched off."""
    settings = spec.settings
    every = settings.finetune_eval_every if spec.phase == "finetune" else settings.eval_every
    every = default_eval_every(spec.timesteps) if every is None else every
    if every == 0:
        return None
    configs = [settings.env_config(n) for n in spec.curve_sizes()]
    return LearningCurve(
        configs, every, settings.eval_episodes, seed=EVAL_SEED + spec.seed, agent_ids=settings.zero_shot_ids
    )


def curve_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """A trial result's curve entries, `curve/<eval agents>/<name>` (TensorBoard and wandb plot them against the
    iteration's env steps)."""
    return {
        f"curve/{row['eval_agents']}/{key}": value
        for row in rows
        for key, value in row.items()
        if key not in ("env_steps", "eval_agents", "agent_ids")
    }


def non_finite_losses(result: dict[str, Any]) -> dict[str, float]:
    """Learner metrics named `*loss*` whose value is NaN or infinite, by `module/metric`."""
    bad = {}
    for module, metrics in result.get(LEARNER_RESULTS, {}).items():
        if not isinstance(metrics, dict):
            continue
        for key, value in metrics.items():
            if "loss" in key and isinstance(value, (int, float)) and not math.isfinite(value):
                bad[f"{module}/{key}"] = value
    return bad


class TeamTrial(tune.Trainable):
    """Trains the algorithm of `config["trial"]` (a `TrialSpec.to_dict()`) for its `timesteps` env steps, from
    scratch or, fine-tuning, from another checkpoint (`restore_from`: `Algorithm.load_pretrained`, with its replay
    where the strategy uses it), and stops with `FloatingPointError` naming the trial as soon as a loss is NaN or
    infinite, or the algorithm's divergence guard finds its value estimates out of range (`ValueDivergenceError`),
    before any result of it is used. Its learning curve (`trial_curve`) goes into the results of the iterations
    that reach each point, and of the last."""

    @classmethod
    def default_resource_request(cls, config: dict[str, Any]):
        algo_config = TrialSpec.from_dict(config["trial"]).algo_config()
        return algo_config.algo_class.default_resource_request(algo_config)

    def setup(self, config: dict[str, Any]) -> None:
        self.spec = TrialSpec.from_dict(config["trial"])
        algo_config = self.spec.algo_config()
        torch.set_num_threads(max(1, int(algo_config.num_cpus_for_main_process)))
        self.algo = algo_config.build_algo()
        self.curve = trial_curve(self.spec)
        if self.spec.restore_from:
            with tune.Checkpoint(self.spec.restore_from).as_directory() as source:
                self.algo.load_pretrained(source, replay=loads_pretrained_replay(self.spec.strategy))

    def step(self) -> dict[str, Any]:
        try:
            result = self.algo.train()
        except ValueDivergenceError as error:  # the algorithm's divergence guard: say which trial
            raise ValueDivergenceError(f"trial {self.spec.name}: {error}") from None
        bad = non_finite_losses(result)
        if bad:
            raise FloatingPointError(
                f"trial {self.spec.name}: {', '.join(f'{k}={v}' for k, v in bad.items())} at env step "
                f"{result.get(NUM_ENV_STEPS_SAMPLED_LIFETIME)}; stopped before writing results (try a lower lr or "
                "grad_clip, and check the rewards)"
            )
        env_steps = result[NUM_ENV_STEPS_SAMPLED_LIFETIME]
        result["done"] = env_steps >= self.spec.timesteps
        if self.curve is not None and (self.curve.due(env_steps) or result["done"]):
            result.update(curve_metrics(self.curve.evaluate(self.algo, env_steps)))
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.algo.save_to_path(checkpoint_dir)

    def load_checkpoint(self, checkpoint: str) -> None:
        """Restore the trial from its Tune checkpoint (a resumed run), its learning curve's next point after the env
        steps the checkpoint holds, so the curve keeps one point per interval (without it the first iteration after
        the restore would add a point at the restore's env step)."""
        self.algo.restore_from_path(checkpoint)
        if self.curve is not None:
            self.curve.resume_after(checkpoint_env_steps(checkpoint))

    def cleanup(self) -> None:
        self.algo.stop()
