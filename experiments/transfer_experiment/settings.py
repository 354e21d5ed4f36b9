"""Settings of a transfer experiment: the `TransferSettings` a run is made of, the constants its phases share, and
the typed reading of a settings mapping (a `--config` file, a resumed run's `settings.yaml`). The command line is
`command_line.py`, the checks `validation.py`, the RLlib configs built from settings `trial_configs.py`."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any

import envs

# `--smoke`: a budget that exercises every phase (checkpoints, fine-tuning, scratch, evaluation) in about a minute;
# the replay learners start updating after SMOKE_LEARNING_STARTS env steps, so that their fine-tuning updates too.
SMOKE = {
    "timesteps": 1500,
    "finetune_timesteps": 500,
    "eval_episodes": 2,
    "iteration_timesteps": 250,
    "eval_every": 750,
    "finetune_eval_every": 500,
}
SMOKE_LEARNING_STARTS = 250
# Greedy evaluations (the final rows and the learning curves) play the episodes seeded with this plus the trial's
# seed; the scripted teams (heuristic, random) play the same ones, which start from the same states
# (`scripted_policy_evaluation`; VMAS tasks with one team size too), so a policy and its yardstick meet the same ones.
EVAL_SEED = 10_000

# Worlds per env runner on a VMAS scenario unless --envs-per-runner says otherwise: one VMAS call steps them all, so
# sampling runs several times faster than at the algorithms' own 8 envs (docs/environments.md, "Vectorised scenarios").
VMAS_WORLDS = 64

# Settings that may be given again when an experiment is resumed. Everything else, resources included, is fixed by
# the stored settings: restored Tune trials keep the config they were created with.
RESUMABLE_OVERRIDES = {"wandb", "dashboard", "resume", "storage", "name", "config"}


# `--variant`: one token, so `<algo>+<variant>` reads back as one name in every CSV and table
VARIANT_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


# A setting given once for every algorithm (a list of names) or per algorithm (a mapping of algorithm names, or `all`
# for the others, to lists): `embeddings`.
NAMES_PER_ALGO = list[str] | dict[str, list[str]]


class SettingsError(ValueError):
    """A bad setting: the message is one line saying what was wrong and what to do."""


@dataclass
class TransferSettings:
    """Everything a transfer experiment runs: its grid, its budgets and where its outputs go."""

    algos: list[str] = field(default_factory=lambda: ["qmix"])
    embeddings: list[str] | dict[str, list[str]] = field(default_factory=lambda: ["concat", "graph"])
    scenario: str = "spread"
    scenario_options: dict[str, Any] = field(default_factory=dict)
    train_agents: list[int] = field(default_factory=lambda: [3])
    eval_agents: list[int] = field(default_factory=lambda: [3, 6])
    n_max: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    timesteps: int = 20_000
    finetune_timesteps: int = 5_000
    finetune_agents: list[int] | None = None
    finetune: list[str] = field(default_factory=lambda: ["conservative"])
    finetune_lr_scale: float = 0.3
    finetune_kl: float = 1.0
    finetune_kl_steps: int | None = None
    slots: str = "first"
    zero_shot_ids: str = "reuse"
    scratch: bool = True
    scratch_agents: list[int] | None = None
    eval_episodes: int = 20
    eval_every: int | None = None
    finetune_eval_every: int | None = None
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    finetune_training: dict[str, dict[str, Any]] = field(default_factory=dict)
    variant: str | None = None
    iteration_timesteps: int | None = None
    checkpoint_every: int = 5
    env_runners: int = 0
    envs_per_runner: int | None = None
    gpus_per_trial: float | None = None
    storage: str = "results"
    name: str | None = None
    resume: bool = False
    wandb: bool = False
    dashboard: bool = True
    smoke: bool = False

    def algo_embeddings(self, algo: str) -> list[str]:
        """The team embeddings `algo` is trained with: `embeddings`, or, where it maps algorithm names to lists (a
        `--config` file's `{qmix: [concat, mean, graph], all: [concat]}`), `algo`'s own entry, else `all`'s."""
        if isinstance(self.embeddings, list):
            return self.embeddings
        return self.embeddings.get(algo, self.embeddings.get("all", []))

    @property
    def cells(self) -> list[tuple[str, str]]:
        """Every (algorithm, embedding) pair the experiment trains, each with every seed."""
        return [(algo, embedding) for algo in self.algos for embedding in self.algo_embeddings(algo)]

    @property
    def padded_size(self) -> int:
        """`n_max`: given, or the largest team size named."""
        return self.n_max or max(self.train_agents + self.eval_agents)

    @property
    def train_label(self) -> str:
        """The training team size(s) as one CSV cell: `3`, or `2-3-4` for mixed-size training."""
        return "-".join(str(n) for n in self.train_agents)

    def env_config(self, n_agents: list[int] | int) -> dict[str, Any]:
        """The team env config at `n_agents` (a size or a list of sizes drawn per reset)."""
        sizes = [n_agents] if isinstance(n_agents, int) else list(n_agents)
        return {
            "scenario": self.scenario,
            "n_agents": sizes[0] if len(sizes) == 1 else sizes,
            "n_max": self.padded_size,
            "slots": self.slots,
            **self.scenario_options,
        }

    @property
    def worlds_per_runner(self) -> int | None:
        """`num_envs_per_env_runner`: given, else VMAS_WORLDS for a vectorised (VMAS) scenario, else None (the
        algorithm's own)."""
        if self.envs_per_runner is not None:
            return self.envs_per_runner
        return VMAS_WORLDS if envs.find_scenario(self.scenario).vectorised else None

    def __post_init__(self) -> None:
        if isinstance(self.finetune, str):  # settings stored before `finetune` took a list
            self.finetune = [self.finetune]

    @property
    def finetune_sizes(self) -> list[int]:
        """The team sizes each train checkpoint is fine-tuned at: `finetune_agents`, else every eval size."""
        return self.eval_agents if self.finetune_agents is None else self.finetune_agents

    @property
    def scratch_sizes(self) -> list[int]:
        """The team sizes trained from scratch (with `scratch`): `scratch_agents`, else every eval size; never the
        training size itself, whose from-scratch run is the train run."""
        sizes = self.eval_agents if self.scratch_agents is None else self.scratch_agents
        return [n for n in sizes if [n] != self.train_agents] if self.scratch else []

    def train_evaluations(self) -> list[tuple[str, int]]:
        """The (phase, team size) evaluations of a train trial's checkpoint: zero-shot at every eval size and the
        training size, and, with `scratch` and one training size, `scratch` at it (the train run is the from-scratch
        run at its own size)."""
        evaluations = [("zero_shot", n) for n in sorted(set(self.eval_agents + self.train_agents))]
        if self.scratch and len(self.train_agents) == 1:
            evaluations.append(("scratch", self.train_agents[0]))
        return evaluations

    def planned_evaluations(self) -> list[tuple[str, int]]:
        """Every (phase, team size) row `transfer.csv` gets for one (algorithm, embedding, seed) once the experiment
        has finished: the train trial's (`train_evaluations`), each from-scratch size's and each fine-tuning strategy's
        at each fine-tuning size."""
        finetuned = [
            (self.finetune_phase(strategy), n)
            for strategy in self.finetune
            for n in self.finetune_sizes
            if self.finetune_timesteps > 0
        ]
        return [*self.train_evaluations(), *(("scratch", n) for n in self.scratch_sizes), *finetuned]

    def run_algo(self, algo: str) -> str:
        """The `algo` column of `algo`'s rows in `transfer.csv` and `curves.csv`: the algorithm's name, or
        `<algo>+<variant>` for an experiment labelled `--variant`, so a report merging it with the algorithm's default
        runs keeps the two apart."""
        return algo if self.variant is None else f"{algo}+{self.variant}"

    def finetune_phase(self, strategy: str | None) -> str:
        """The `phase` of fine-tuned rows in `transfer.csv`: `finetune`, or `finetune:<strategy>` when the
        experiment fine-tunes with several strategies."""
        return "finetune" if len(self.finetune) == 1 else f"finetune:{strategy}"

    def training_options(self, algo: str) -> dict[str, Any]:
        """`.training(...)` options of `algo`: the `all` entry of `training`, then the algorithm's own."""
        return _for_algo(self.training, algo)

    def finetune_training_options(self, algo: str) -> dict[str, Any]:
        """`.training(...)` options of `algo`'s fine-tuning trials on top of its strategy's: the `all` entry of
        `finetune_training`, then the algorithm's own."""
        return _for_algo(self.finetune_training, algo)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TransferSettings)}


def _for_algo(options: dict[str, dict[str, Any]], algo: str) -> dict[str, Any]:
    """Per-algorithm options (`{"all": {...}, "<algo>": {...}}`): the `all` entry, then `algo`'s own over it."""
    return {**options.get("all", {}), **options.get(algo, {})}


FIELD_TYPES = typing.get_type_hints(TransferSettings)


def settings_values(content: Any, source: str, excluded: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings a YAML mapping gives (a `--config` file, a resumed run's `settings.yaml`), each checked against
    its field's type (`a,b` strings accepted for the lists); `source` names the mapping in the one-line errors."""
    if not isinstance(content, dict):
        raise SettingsError(f"{source}: expected a mapping of settings, got {type(content).__name__}")
    known = [name for name in FIELDS if name not in excluded]
    values = {}
    for key, value in content.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise SettingsError(f"{source}: unknown key {key!r}; known keys: {', '.join(known)}")
        values[name] = _typed(name, value, source)
    return values


def _typed(name: str, value: Any, source: str) -> Any:
    """`value` as the type of the setting `name`, or a SettingsError naming the key and the type expected."""
    hint = FIELD_TYPES[name]
    optional = type(None) in typing.get_args(hint)
    kind = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint) if optional else hint
    if value is None and optional:
        return None
    given = value
    if kind in (list[int], list[str], NAMES_PER_ALGO) and isinstance(value, (str, int)) and not isinstance(value, bool):
        value = _comma_list(value)
        if kind == list[int] and all(part.lstrip("-").isdigit() for part in value):
            value = [int(part) for part in value]
    if kind == NAMES_PER_ALGO and isinstance(value, dict):
        value = {key: _comma_list(names) if isinstance(names, str) else names for key, names in value.items()}
    expected = {
        bool: ("true or false", lambda v: isinstance(v, bool)),
        int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
        str: ("a string", lambda v: isinstance(v, str)),
        list[int]: ("a list of integers such as [3, 6] or 3,6", _all_of(int)),
        list[str]: ("a list of names such as [qmix, vdn] or qmix,vdn", _all_of(str)),
        dict[str, Any]: ("a mapping", lambda v: isinstance(v, dict)),
        dict[str, dict[str, Any]]: (
            "a mapping of algorithm names (or all) to option mappings",
            lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
        ),
        NAMES_PER_ALGO: (
            "a list of names such as [concat, graph] or concat,graph, or a mapping of algorithm names (or all) to "
            "such lists",
            lambda v: _all_of(str)(v) or (isinstance(v, dict) and all(_all_of(str)(x) for x in v.values())),
        ),
    }[kind]
    description, fits = expected
    if not fits(value):
        null = " (or null)" if optional else ""
        raise SettingsError(f"{source}: {name} must be {description}{null}, got {given!r}")
    return float(value) if kind is float else value


def _comma_list(text: str | int) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _all_of(kind: type):
    return lambda v: isinstance(v, list) and all(isinstance(x, kind) and not isinstance(x, bool) for x in v)
