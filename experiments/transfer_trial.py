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

from experiments.transfer_settings import TransferSettings, algo_config, finetune_algo_config, train_config
from rl_algos.common.divergence import ValueDivergenceError
from rl_algos.common.finetune import loads_pretrained_replay


def trial_name(spec: dict[str, Any]) -> str:
    """`train_qmix_graph_n3_seed0`: phase, algorithm, embedding, team size(s) trained at, seed."""
    sizes = "-".join(str(n) for n in spec["n_agents"])
    return f"{spec['phase']}_{spec['algo']}_{spec['embedding']}_n{sizes}_seed{spec['seed']}"


def spec_algo_config(spec: dict[str, Any]):
    """The AlgorithmConfig a trial spec trains: its phase's (`train`, `scratch` or `finetune`)."""
    settings = TransferSettings(**spec["settings"])
    algo, embedding, seed = spec["algo"], spec["embedding"], spec["seed"]
    if spec["phase"] == "train":
        return train_config(settings, algo, embedding, seed)
    if spec["phase"] == "finetune":
        return finetune_algo_config(settings, algo, embedding, spec["n_agents"][0], seed, spec["pretrained_env_steps"])
    return algo_config(settings, algo, embedding, spec["n_agents"], seed)


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
    """Trains `config["trial"]`'s algorithm for `timesteps` env steps, from scratch or, fine-tuning, from another
    checkpoint (`restore_from`: `Algorithm.load_pretrained`, with its replay where the strategy uses it), and stops
    with `FloatingPointError` naming the trial as soon as a loss is NaN or infinite, or the algorithm's divergence
    guard finds its value estimates out of range (`ValueDivergenceError`), before any result of it is used."""

    @classmethod
    def default_resource_request(cls, config: dict[str, Any]):
        algo_config_ = spec_algo_config(config["trial"])
        return algo_config_.algo_class.default_resource_request(algo_config_)

    def setup(self, config: dict[str, Any]) -> None:
        self.spec = config["trial"]
        algo_config_ = spec_algo_config(self.spec)
        torch.set_num_threads(max(1, int(algo_config_.num_cpus_for_main_process)))
        self.algo = algo_config_.build_algo()
        if self.spec.get("restore_from"):
            strategy = self.spec["settings"]["finetune"]
            with tune.Checkpoint(self.spec["restore_from"]).as_directory() as source:
                self.algo.load_pretrained(source, replay=loads_pretrained_replay(strategy))

    def step(self) -> dict[str, Any]:
        try:
            result = self.algo.train()
        except ValueDivergenceError as error:  # the algorithm's divergence guard: say which trial
            raise ValueDivergenceError(f"trial {trial_name(self.spec)}: {error}") from None
        bad = non_finite_losses(result)
        if bad:
            raise FloatingPointError(
                f"trial {trial_name(self.spec)}: {', '.join(f'{k}={v}' for k, v in bad.items())} at env step "
                f"{result.get(NUM_ENV_STEPS_SAMPLED_LIFETIME)}; stopped before writing results (try a lower lr or "
                "grad_clip, and check the rewards)"
            )
        result["done"] = result[NUM_ENV_STEPS_SAMPLED_LIFETIME] >= self.spec["timesteps"]
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.algo.save_to_path(checkpoint_dir)

    def load_checkpoint(self, checkpoint: str) -> None:
        self.algo.restore_from_path(checkpoint)

    def cleanup(self) -> None:
        self.algo.stop()
