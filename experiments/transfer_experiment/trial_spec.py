"""`TrialSpec`: one trial of the transfer experiment, typed, built once by the driver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

from experiments.transfer_experiment.settings import TransferSettings
from experiments.transfer_experiment.trial_configs import algo_config, finetune_algo_config, train_config

PHASES = ("train", "scratch", "finetune")


def trial_name(spec: Mapping[str, Any]) -> str:
    """`train_qmix_graph_n3_seed0`: phase, algorithm, embedding, team size(s) trained at, seed, of a spec's dict
    (`TrialSpec.to_dict`, as Tune results carry it in `config["trial"]`); a fine-tuning trial of an experiment with
    several strategies names its own (`finetune-kl_qmix_graph_n6_seed0`)."""
    sizes = "-".join(str(n) for n in spec["n_agents"])
    phase = spec["phase"]
    if phase == "finetune" and "settings" in spec:  # the phase of its rows, `finetune:kl` named `finetune-kl`
        phase = TransferSettings(**spec["settings"]).finetune_phase(spec.get("strategy")).replace(":", "-")
    return f"{phase}_{spec['algo']}_{spec['embedding']}_n{sizes}_seed{spec['seed']}"


@dataclass(frozen=True)
class TrialSpec:
    """One trial: its phase (`train`, `scratch` or `finetune`), algorithm, embedding, team size(s), seed and budget
    under the experiment's settings, and for fine-tuning the checkpoint it starts from. The driver builds each spec
    once (the grid, the resource check); Tune carries it as a plain dict (`to_dict`, in `config["trial"]`, which
    stays readable from a stored experiment), and the trial reads it back with `from_dict`. `algo_config()` is the
    AlgorithmConfig the trial trains; a fine-tuning trial's `strategy` is one of the settings' `finetune` (left out:
    the settings' only one)."""

    settings: TransferSettings
    phase: str
    algo: str
    embedding: str
    n_agents: tuple[int, ...]
    seed: int
    timesteps: int
    restore_from: str | None = None
    pretrained_env_steps: int | None = None
    strategy: str | None = None

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"phase={self.phase!r} is unknown; use one of {', '.join(PHASES)}")
        if self.phase == "finetune" and (self.restore_from is None or self.pretrained_env_steps is None):
            raise ValueError("a finetune trial needs restore_from (a checkpoint) and pretrained_env_steps")
        if self.phase == "finetune" and self.strategy is None and len(self.settings.finetune) == 1:
            object.__setattr__(self, "strategy", self.settings.finetune[0])  # the one strategy there is
        if self.phase == "finetune" and self.strategy not in self.settings.finetune:
            raise ValueError(
                f"a finetune trial's strategy must be one of the settings' {', '.join(self.settings.finetune)}, "
                f"got {self.strategy!r}"
            )

    @property
    def name(self) -> str:
        return trial_name(self.to_dict())

    @property
    def result_phase(self) -> str:
        """The `phase` of this trial's rows in `transfer.csv` and `curves.csv` (besides a train trial's zero-shot
        ones): its phase, for fine-tuning `settings.finetune_phase(strategy)`."""
        return self.settings.finetune_phase(self.strategy) if self.phase == "finetune" else self.phase

    def algo_config(self) -> AlgorithmConfig:
        """The AlgorithmConfig this trial trains: its phase's."""
        settings, algo, embedding, seed = self.settings, self.algo, self.embedding, self.seed
        if self.phase == "train":
            return train_config(settings, algo, embedding, seed)
        if self.phase == "finetune":
            return finetune_algo_config(
                settings, algo, embedding, self.n_agents[0], seed, self.pretrained_env_steps, self.strategy
            )
        return algo_config(settings, algo, embedding, list(self.n_agents), seed)

    def curve_sizes(self) -> list[int]:
        """The team sizes of the trial's learning curve: a train trial's training and eval sizes (its zero-shot
        curves), any other trial's own size."""
        if self.phase != "train":
            return list(self.n_agents)
        return sorted(set(self.settings.train_agents + self.settings.eval_agents))

    def to_dict(self) -> dict[str, Any]:
        """The spec as Tune's `config["trial"]`: plain values, the settings as their dict."""
        return {
            "phase": self.phase,
            "algo": self.algo,
            "embedding": self.embedding,
            "n_agents": list(self.n_agents),
            "seed": self.seed,
            "timesteps": self.timesteps,
            "restore_from": self.restore_from,
            "pretrained_env_steps": self.pretrained_env_steps,
            "strategy": self.strategy,
            "settings": self.settings.to_dict(),
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> TrialSpec:
        """The spec of a `to_dict()`."""
        return cls(
            settings=TransferSettings(**spec["settings"]),
            phase=spec["phase"],
            algo=spec["algo"],
            embedding=spec["embedding"],
            n_agents=tuple(spec["n_agents"]),
            seed=spec["seed"],
            timesteps=spec["timesteps"],
            restore_from=spec.get("restore_from"),
            pretrained_env_steps=spec.get("pretrained_env_steps"),
            strategy=spec.get("strategy"),
        )
