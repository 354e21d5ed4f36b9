"""Settings of a transfer experiment: defaults < `--config FILE.yaml` < command-line flags, validated before Ray
starts. Every check raises `SettingsError` with a one-line message saying what to fix."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import envs
import rl_algos
from envs.team_env import SLOT_MODES
from policies.networks.team_embedding import EMBEDDINGS
from rl_algos.common.config.actor_critic import TeamActorCriticConfig
from rl_algos.common.config.finetune import FINETUNE_STRATEGIES, finetune_config, loads_pretrained_replay
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.value import TeamQConfig
from rl_algos.common.evaluation.team_evaluation import AGENT_ID_MODES
from rl_algos.gum import GUMConfig
from rl_algos.maddpg import MADDPGConfig
from rl_algos.vdn import VDNConfig

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
# The value learners' epsilon falls from 1 to 0.05 over this fraction of the trial's budget (`--timesteps`, for a
# fine-tuning trial `--finetune-timesteps`), unless `--training` sets `epsilon`: a fixed 50,000 env steps explores
# through half of a 100k run but 5% of a 1M one, and a 100k fine-tuning trial from a 1M run explores as a 100k run.
EXPLORATION_FRACTION = 0.1
# The discount per algorithm family on scenarios where a measurement chose one, unless `--training` sets `gamma`
# (elsewhere RLlib's 0.99). Spread's episodes last 25 steps: at 0.99 a value counts about 100 steps of holding on
# past the time limit, and the few tenths of return that separate the moves near a landmark are under 1% of it, so
# the regression's noise picks among them (the agents' action gap, `benchmarks/bench_heuristic_gap.py`).
# - The value learners (IQL, VDN, QMIX, gum): at 0.95 (MADDPG's MPE setting, a horizon of about the episode) QMIX
#   concat reached 0.95 of the heuristic's gain at 1M env steps over three seeds (0.88 zero-shot at 6) against 0.87
#   at 0.99, QMIX graph 0.95 against 0.89, and VDN 0.85 against 0.81 (docs/convergence.md, "The discount").
# - MADDPG, whose actor climbs its bootstrapped critic: on vmas:spread at 0.99 the critic overvalued the greedy joint
#   action (`q_bias` +125 at 100k) and the curve fell from its best point (0.46 at 800k, 0.31 at 1M); at 0.95
#   `q_bias` stayed within -16.2..+4.7, 0.57 at 3 and 0.63 zero-shot at 6 over three seeds, every end within its
#   best point's interval (docs/convergence.md, "MADDPG at `gamma` 0.95"). Spread takes it too: the twin has its
#   episodes and rewards.
# - gum on the twin too (a config takes its most specific family's table): on spread 0.78 at 3 and 0.75 zero-shot
#   at 6 over three seeds at 0.95, 0.41 / 0.49 at 0.99 (500k); on vmas:spread, three seeds at 1M, 0.77 / 0.72 at 0.95
#   (results/convergence/gum_gamma_095_twin) against the transfer study's 0.62 / 0.60 at 0.99 (docs/results.md).
#   QMIX reaches 0.90-0.92 on the twin at 0.99, so the other value learners keep it there (0.95 is not measured).
# The on-policy actor-critics keep 0.99: MAPPO graph on vmas:spread gained nothing at 0.95 (0.72 against 0.74).
SCENARIO_GAMMA: dict[type[AlgorithmConfig], dict[str, float]] = {
    GUMConfig: {"spread": 0.95, "vmas:spread": 0.95},
    TeamQConfig: {"spread": 0.95},
    MADDPGConfig: {"spread": 0.95, "vmas:spread": 0.95},
}
# VDN's Munchausen targets on scenarios where a measurement chose them, unless `--training` sets `munchausen`. On
# spread VDN loses while holding the landmarks, where its moves are 2% of their value apart; Munchausen-DQN's
# `alpha tau log pi` reward term (Vieillard et al. 2020) widens that action gap: over three seeds at 1M env steps
# (`gamma` 0.95) 0.90 of the heuristic's gain at 3 against 0.85 without, 0.84 zero-shot at 6 against 0.78
# (docs/convergence.md, "Munchausen targets for VDN"). QMIX passes without them and was not measured with them.
VDN_MUNCHAUSEN = {"spread": {}}
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


class SettingsError(ValueError):
    """A bad setting: the message is one line saying what was wrong and what to do."""


@dataclass
class TransferSettings:
    """Everything a transfer experiment runs: its grid, its budgets and where its outputs go."""

    algos: list[str] = field(default_factory=lambda: ["qmix"])
    embeddings: list[str] = field(default_factory=lambda: ["concat", "graph"])
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


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 3,6,8, got {text!r}") from None


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2, as argparse does)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog: str = "transfer.py", description: str | None = None) -> argparse.ArgumentParser:
    """The command line. Flags left out take the `--config` file's value, else the default shown."""
    d = TransferSettings()
    parser = _OneLineErrorParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    add = parser.add_argument
    add("--config", help="YAML file with any of the settings below (underscored keys); flags override it")
    add("--algos", type=_name_list, help=f"algorithms, from {', '.join(rl_algos.ALGORITHMS)} (default: qmix)")
    add("--embeddings", type=_name_list, help=f"team embeddings, from {', '.join(EMBEDDINGS)} (default: concat,graph)")
    add("--scenario", help=f"scenario, from {', '.join(envs.scenario_names())} (default: {d.scenario})")
    add("--scenario-options", type=_json_dict, help="JSON dict of env options, e.g. '{\"max_cycles\": 50}'")
    add("--train-agents", type=_int_list, help="training team size; a list (2,3,4) trains on mixed sizes (default: 3)")
    add("--eval-agents", type=_int_list, help="team sizes to evaluate at (default: 3,6)")
    add("--n-max", type=int, help="padded team size of the networks (default: the largest size named)")
    add("--seeds", type=_int_list, help="seeds, one trial each (default: 0)")
    add("--timesteps", type=int, help=f"env steps of training (default: {d.timesteps})")
    add(
        "--finetune-timesteps",
        type=int,
        help=f"env steps of fine-tuning at each eval size; 0 skips fine-tuning (default: {d.finetune_timesteps})",
    )
    add(
        "--finetune-agents",
        type=_int_list,
        help="team sizes to fine-tune at, among --eval-agents (default: every eval size)",
    )
    add(
        "--finetune",
        type=_name_list,
        help=(
            f"fine-tuning strategies, from {', '.join(FINETUNE_STRATEGIES)}: each fine-tunes every train checkpoint at "
            "each eval size; with several, transfer.csv's phase is finetune:<strategy> "
            f"(default: {','.join(d.finetune)}; see docs/transfer.md)"
        ),
    )
    add(
        "--finetune-lr-scale",
        type=float,
        help="conservative, kl, others: the fine-tuning lr as a fraction of training's "
        f"(default: {d.finetune_lr_scale})",
    )
    add("--finetune-kl", type=float, help=f"kl, others: the trust region's weight beta (default: {d.finetune_kl})")
    add(
        "--finetune-kl-steps",
        type=int,
        help="kl, others: env steps over which beta falls to 0 (default: the fine-tuning budget; 0: constant)",
    )
    add(
        "--slots",
        choices=SLOT_MODES,
        help=f"agent slots: first (0..N-1) or random (N drawn from n_max each episode) (default: {d.slots})",
    )
    add(
        "--zero-shot-ids",
        choices=AGENT_ID_MODES,
        help="ids of the agents in slots the training team never sat in, when a policy is evaluated at a larger team: "
        "reuse (those of trained slots, slot k as k mod N) or own (their own, whose first-layer weights were never "
        f"trained with --slots first) (default: {d.zero_shot_ids})",
    )
    add(
        "--scratch",
        action=argparse.BooleanOptionalAction,
        help="also train from scratch at each eval size with "
        "the training budget, the reference of the transfer ratio (default: on; --no-scratch skips it)",
    )
    add(
        "--scratch-agents",
        type=_int_list,
        help="team sizes to train from scratch at, among --eval-agents (default: every eval size)",
    )
    add("--eval-episodes", type=int, help=f"greedy episodes per evaluation (default: {d.eval_episodes})")
    add(
        "--eval-every",
        type=int,
        help="env steps between the greedy evaluations of the learning curve of each trial trained from scratch "
        "(curves.csv, transfer_curves.png; default: a tenth of the trial's budget; 0: no curves)",
    )
    add(
        "--finetune-eval-every",
        type=int,
        help="env steps between the greedy evaluations of each fine-tuning trial's curve (curves.csv, "
        "transfer_finetune_curves.png: does fine-tuning dip below zero-shot on its way?; default: a tenth of "
        "--finetune-timesteps; 0: no curves)",
    )
    add(
        "--training",
        type=_json_dict,
        help='JSON dict of .training() options per algorithm, "all" for every one, '
        'e.g. \'{"all": {"lr": 1e-3}, "qmix": {"mixing_embed_dim": 64}}\'',
    )
    add(
        "--finetune-training",
        type=_json_dict,
        help="JSON dict of .training() options per algorithm for the fine-tuning trials only, applied after --training "
        'and the strategy\'s own, e.g. \'{"all": {"target_update_interval": 50}}\'',
    )
    add(
        "--variant",
        help="a label for runs that differ from an algorithm's defaults (by --training options, say): their rows and "
        "curves name the algorithm `<algo>+<variant>`, so a report merging them with the default runs keeps them "
        "apart, e.g. --variant unmix-inverse (letters, digits, '.', '_', '-') (default: none)",
    )
    add("--iteration-timesteps", type=int, help="env steps per Tune iteration (default: the algorithm's own)")
    add(
        "--checkpoint-every",
        type=int,
        help=f"checkpoint every that many iterations, and at the end (default: {d.checkpoint_every})",
    )
    add("--env-runners", type=int, help="remote env runners per trial; 0 samples in the trial's process (default: 0)")
    add(
        "--envs-per-runner",
        type=int,
        help=f"envs (VMAS worlds) each env runner steps together (default: the algorithm's own, {VMAS_WORLDS} on vmas)",
    )
    add(
        "--gpus-per-trial", type=float, help="GPUs of each trial's learner (default: 1 if the cluster has GPUs, else 0)"
    )
    add(
        "--storage",
        help="experiment storage: a local folder, or s3://... / an NFS path on a cluster (default: results)",
    )
    add("--name", help="experiment name, the folder under --storage (default: <scenario>-<date>-<time>)")
    add(
        "--resume", action="store_true", help="continue the experiment --name: finished trials and evaluations are kept"
    )
    add(
        "--wandb",
        action=argparse.BooleanOptionalAction,
        help="log to Weights & Biases, offline without an API key (default: off)",
    )
    add(
        "--dashboard",
        action=argparse.BooleanOptionalAction,
        help="start the embedded Ray's dashboard and print its URL (default: on; a joined cluster keeps its own)",
    )
    add(
        "--smoke",
        action="store_true",
        help=(
            "a tiny budget that runs every phase in about a minute, replay learners updating after "
            f"{SMOKE_LEARNING_STARTS} env steps (for tests)"
        ),
    )
    return parser


def _from_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise SettingsError(f"--config {path}: no such file")
    try:
        content = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise SettingsError(f"--config {path}:{where}: {problem}; fix the YAML") from None
    return settings_values(content, f"--config {path}", excluded=("config", "resume"))


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
    if kind in (list[int], list[str]) and isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [part.strip() for part in str(value).split(",") if part.strip()]
        if kind == list[int] and all(part.lstrip("-").isdigit() for part in value):
            value = [int(part) for part in value]
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
    }[kind]
    description, fits = expected
    if not fits(value):
        null = " (or null)" if optional else ""
        raise SettingsError(f"{source}: {name} must be {description}{null}, got {given!r}")
    return float(value) if kind is float else value


def _all_of(kind: type):
    return lambda v: isinstance(v, list) and all(isinstance(x, kind) and not isinstance(x, bool) for x in v)


def parse_settings(argv: list[str] | None = None, description: str | None = None) -> tuple[TransferSettings, set[str]]:
    """Settings from the command line (and its `--config` file), validated; also the names set explicitly."""
    flags = vars(build_parser(description=description).parse_args(argv))
    values = _from_file(flags["config"]) if "config" in flags else {}
    values.update({k: v for k, v in flags.items() if k != "config"})
    explicit = set(values)
    if values.get("smoke"):
        values = {**SMOKE, **values}
    settings = TransferSettings(**values)
    if settings.name is None:
        settings.name = f"{settings.scenario.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    validate(settings)
    return settings, explicit


def validate(settings: TransferSettings) -> None:
    """Reject what cannot run, before Ray starts: unknown names, sizes above `n_max`, algorithms that cannot act in
    the scenario's action space, bad budgets."""
    s = settings
    for name, known, label in ((s.algos, rl_algos.ALGORITHMS, "algorithm"), (s.embeddings, EMBEDDINGS, "embedding")):
        if not name:
            raise SettingsError(f"no {label} given; choose from {', '.join(known)}")
        for item in name:
            if item not in known:
                raise SettingsError(f"unknown {label} {item!r}; known: {', '.join(known)}")
    try:
        envs.find_scenario(s.scenario)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    for label, sizes in (("--train-agents", s.train_agents), ("--eval-agents", s.eval_agents), ("--seeds", s.seeds)):
        if not sizes:
            raise SettingsError(f"{label} is empty; give at least one value")
    for label, values in (
        ("--algos", s.algos),
        ("--embeddings", s.embeddings),
        ("--train-agents", s.train_agents),
        ("--eval-agents", s.eval_agents),
        ("--seeds", s.seeds),
        ("--finetune", s.finetune),
    ):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise SettingsError(f"{label} lists {', '.join(repeated)} more than once; give each value once")
    _check_name(s.name)
    too_big = [n for n in s.train_agents + s.eval_agents if n > s.padded_size]
    if too_big:
        raise SettingsError(
            f"team size {max(too_big)} is above --n-max {s.padded_size}; raise --n-max to at least {max(too_big)}"
        )
    for label, sizes in (("--finetune-agents", s.finetune_agents), ("--scratch-agents", s.scratch_agents)):
        if sizes is None:
            continue
        outside = [n for n in sizes if n not in s.eval_agents]
        if not sizes or outside:
            raise SettingsError(
                f"{label} must list sizes among --eval-agents {','.join(map(str, s.eval_agents))}, got "
                f"{','.join(map(str, sizes)) or 'none'}; add the size to --eval-agents"
            )
        repeated = sorted({n for n in sizes if sizes.count(n) > 1})
        if repeated:
            raise SettingsError(f"{label} lists {', '.join(map(str, repeated))} more than once; give each value once")
    for label, value, low in (
        ("--timesteps", s.timesteps, 1),
        ("--finetune-timesteps", s.finetune_timesteps, 0),
        ("--eval-episodes", s.eval_episodes, 1),
        ("--checkpoint-every", s.checkpoint_every, 1),
        ("--env-runners", s.env_runners, 0),
        ("--envs-per-runner", 1 if s.envs_per_runner is None else s.envs_per_runner, 1),
    ):
        if value < low:
            raise SettingsError(f"{label} must be at least {low}, got {value}")
    if s.n_max is not None and s.n_max < 1:
        raise SettingsError(f"--n-max must be at least 1 (or left out: the largest size named), got {s.n_max}")
    negative = [seed for seed in s.seeds if not 0 <= seed < 2**32]
    if negative:
        raise SettingsError(f"--seeds must be integers in [0, 2**32) (numpy's seeds), got {negative[0]}")
    for label, number in (
        ("--finetune-lr-scale", s.finetune_lr_scale),
        ("--finetune-kl", s.finetune_kl),
        ("--gpus-per-trial", 0.0 if s.gpus_per_trial is None else s.gpus_per_trial),
    ):
        if not math.isfinite(number):
            raise SettingsError(f"{label} must be a finite number, got {number}")
    if s.iteration_timesteps is not None and s.iteration_timesteps < 1:
        raise SettingsError(f"--iteration-timesteps must be at least 1, got {s.iteration_timesteps}")
    for label, every in (("--eval-every", s.eval_every), ("--finetune-eval-every", s.finetune_eval_every)):
        if every is not None and every < 0:
            raise SettingsError(f"{label} must be at least 0 (0: no learning curves), got {every}")
    if s.gpus_per_trial is not None and s.gpus_per_trial < 0:
        raise SettingsError(f"--gpus-per-trial must be >= 0, got {s.gpus_per_trial}")
    if not s.finetune:
        raise SettingsError(f"--finetune is empty; give at least one of {', '.join(FINETUNE_STRATEGIES)}")
    for strategy in s.finetune:
        if strategy not in FINETUNE_STRATEGIES:
            raise SettingsError(f"unknown --finetune {strategy!r}; known strategies: {', '.join(FINETUNE_STRATEGIES)}")
    if not s.finetune_lr_scale > 0 or s.finetune_kl < 0:
        raise SettingsError(
            f"--finetune-lr-scale must be > 0 and --finetune-kl >= 0, got {s.finetune_lr_scale} and {s.finetune_kl}"
        )
    if s.finetune_kl_steps is not None and s.finetune_kl_steps < 0:
        raise SettingsError(f"--finetune-kl-steps must be >= 0 (0: no annealing), got {s.finetune_kl_steps}")
    if s.variant is not None and not VARIANT_PATTERN.fullmatch(s.variant):
        raise SettingsError(
            f"--variant {s.variant!r} must be letters, digits, '.', '_' or '-' (it names rows as <algo>+<variant>), "
            "e.g. unmix-inverse"
        )
    for label, options in (("--training", s.training), ("--finetune-training", s.finetune_training)):
        unknown_training = set(options) - {"all", *rl_algos.ALGORITHMS}
        if unknown_training:
            raise SettingsError(
                f"{label} has entries for {', '.join(sorted(unknown_training))}; its keys are 'all' or algorithm "
                f"names ({', '.join(rl_algos.ALGORITHMS)})"
            )
    for sizes in [s.train_agents, *([n] for n in s.eval_agents)]:
        try:
            envs.parse_env_config(**s.env_config(sizes))
        except ValueError as error:
            raise SettingsError(f"scenario {s.scenario!r}: {error}") from None
    for algo in s.algos:
        for embedding in s.embeddings:
            label = f"{algo} with the {embedding} embedding on {s.scenario}"
            try:
                config = train_config(s, algo, embedding, seed=s.seeds[0])
                config.validate()
            except (ValueError, TypeError) as error:
                raise SettingsError(f"{label}: {_first_line(error)}") from None
            if s.finetune_timesteps == 0:
                continue
            for strategy in s.finetune:
                try:
                    finetuning = finetune_algo_config(
                        s, algo, embedding, max(s.finetune_sizes), s.seeds[0], s.timesteps, strategy
                    )
                    finetuning.validate()
                except (ValueError, TypeError) as error:
                    raise SettingsError(f"{label}, --finetune {strategy}: {_first_line(error)}") from None
        _require_updates(algo, "--timesteps", s.timesteps, config.learning_warmup())
        if s.finetune_timesteps > 0:
            _require_updates(algo, "--finetune-timesteps", s.finetune_timesteps, finetuning.learning_warmup())


def _check_name(name: str | None) -> None:
    """An experiment name is one folder under --storage: no path separators, not `.` or `..`."""
    if name is None:
        return
    if not name or "/" in name or "\\" in name or name in (".", "..") or name != name.strip():
        raise SettingsError(
            f"--name {name!r} must be one folder name under --storage (no '/', not '.' or '..', no surrounding "
            "spaces); choose a plain name such as spread-seeds-0-4"
        )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _require_updates(algo: str, label: str, budget: int, warmup: int) -> None:
    """Reject a training or fine-tuning budget that ends before `algo`'s first update."""
    if budget <= warmup:
        raise SettingsError(
            f"{label} {budget} would never update {algo}: its run first fills its replay for learning_starts="
            f"{warmup} env steps (counting a pre-training replay it starts from); raise {label} above {warmup} or "
            f'lower learning_starts with --training \'{{"{algo}": {{"learning_starts": N}}}}\''
        )


def algo_config(
    settings: TransferSettings, algo: str, embedding: str, n_agents: list[int], seed: int, timesteps: int | None = None
):
    """The RLlib AlgorithmConfig of one trial: `algo` with `embedding`, trained at `n_agents` for `timesteps` env
    steps (`settings.timesteps` unless given), the budget its measured defaults scale with."""
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=settings.env_config(n_agents))
        .env_runners(num_env_runners=settings.env_runners)
        .learners(num_learners=0, num_gpus_per_learner=settings.gpus_per_trial or 0)
        .training(team_embedding=embedding, **settings.training_options(algo))
        .fault_tolerance(restart_failed_env_runners=True)
        .debugging(seed=seed)
    )
    if settings.worlds_per_runner is not None:
        config.env_runners(num_envs_per_env_runner=settings.worlds_per_runner)
        if isinstance(
            config, TeamActorCriticConfig
        ) and "train_batch_size_per_learner" not in settings.training_options(algo):
            config.cover_every_env()
    if settings.iteration_timesteps:
        config.reporting(min_sample_timesteps_per_iteration=settings.iteration_timesteps)
    if settings.smoke and config.learning_warmup() > SMOKE_LEARNING_STARTS:
        config.training(learning_starts=SMOKE_LEARNING_STARTS)
    measured_defaults(config, settings.training_options(algo), settings.timesteps if timesteps is None else timesteps)
    return config


def measured_defaults(config: AlgorithmConfig, training: dict[str, Any], timesteps: int) -> None:
    """What the transfer experiment and the convergence benchmark set unless `training` (the user's `.training()`
    options) sets it: the scenario's discount for the config's most specific family (`SCENARIO_GAMMA`) and, for a
    value learner (`TeamQConfig`), epsilon annealed over `EXPLORATION_FRACTION` of the `timesteps` budget
    (`budget_epsilon`) and, for VDN, its Munchausen targets (`VDN_MUNCHAUSEN`)."""
    scenario = config.env_config["scenario"]
    gammas = next((SCENARIO_GAMMA[family] for family in type(config).__mro__ if family in SCENARIO_GAMMA), {})
    if "gamma" not in training and scenario in gammas:
        config.training(gamma=gammas[scenario])
    if not isinstance(config, TeamQConfig):
        return
    if "epsilon" not in training:
        config.training(epsilon=budget_epsilon(timesteps))
    if "munchausen" not in training and isinstance(config, VDNConfig) and scenario in VDN_MUNCHAUSEN:
        config.training(munchausen=VDN_MUNCHAUSEN[scenario])


def budget_epsilon(timesteps: int) -> list[list[float]]:
    """The value learners' epsilon schedule for a `timesteps` training budget: 1.0 -> 0.05 over
    `EXPLORATION_FRACTION` of it."""
    return [[0, 1.0], [max(1, int(EXPLORATION_FRACTION * timesteps)), 0.05]]


def train_config(settings: TransferSettings, algo: str, embedding: str, seed: int):
    """The config of a train-phase trial: `algo_config` at the training size(s), with the replay checkpointed when
    a fine-tuning strategy starts from it."""
    config = algo_config(settings, algo, embedding, settings.train_agents, seed)
    starts_from_replay = settings.finetune_timesteps > 0 and any(map(loads_pretrained_replay, settings.finetune))
    if starts_from_replay and config.takes(ReplayOptions):
        config.training(checkpoint_replay=True)
    return config


def finetune_algo_config(
    settings: TransferSettings,
    algo: str,
    embedding: str,
    n_agents: int,
    seed: int,
    pretrained_env_steps: int,
    strategy: str,
):
    """The config of a fine-tuning trial at `n_agents` from the train trial's checkpoint (trained for
    `pretrained_env_steps`), set up for the fine-tuning `strategy` (`rl_algos.common.config.finetune`), then
    `--finetune-training`'s options. With `--zero-shot-ids reuse` the fine-tuning team acts with the ids the
    pre-trained team trained (`finetune_ids="reuse"`), so it starts from the zero-shot policy it is compared with."""
    kl_steps = settings.finetune_timesteps if settings.finetune_kl_steps is None else settings.finetune_kl_steps
    config = finetune_config(
        algo_config(settings, algo, embedding, [n_agents], seed, timesteps=settings.finetune_timesteps),
        strategy,
        pretrained=train_config(settings, algo, embedding, seed),
        pretrained_env_steps=pretrained_env_steps,
        lr_scale=settings.finetune_lr_scale,
        kl=settings.finetune_kl,
        kl_steps=kl_steps,
        ids=settings.zero_shot_ids,
    )
    return config.training(**settings.finetune_training_options(algo))
