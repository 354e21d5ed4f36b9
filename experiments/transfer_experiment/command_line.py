"""The transfer experiment's command line: flags over a `--config` YAML file over the defaults, validated before Ray
starts (`validation.py`)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

import envs
import rl_algos
from envs.team_env import SLOT_MODES
from experiments.transfer_experiment.settings import (
    SMOKE,
    SMOKE_LEARNING_STARTS,
    VMAS_WORLDS,
    SettingsError,
    TransferSettings,
    settings_values,
)
from experiments.transfer_experiment.validation import validate
from policies.networks.team_embedding import EMBEDDINGS
from rl_algos.common.config.finetune import FINETUNE_STRATEGIES
from rl_algos.common.evaluation.team_evaluation import AGENT_ID_MODES


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
    add(
        "--embeddings",
        type=_name_list,
        help=(
            f"team embeddings, from {', '.join(EMBEDDINGS)}, for every algorithm (default: concat,graph); a --config "
            "file may give them per algorithm instead: {qmix: [concat, mean, graph], all: [concat]}"
        ),
    )
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


def settings_from_file(path: str, flag: str = "--config") -> dict[str, Any]:
    """The settings a YAML file gives, typed (`settings_values`); a `SettingsError` naming `flag` and the file where it
    is missing, not YAML, or has an unknown or mistyped key."""
    file = Path(path)
    if not file.is_file():
        raise SettingsError(f"{flag} {path}: no such file")
    try:
        content = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise SettingsError(f"{flag} {path}:{where}: {problem}; fix the YAML") from None
    return settings_values(content, f"{flag} {path}", excluded=("config", "resume"))


def parse_settings(argv: list[str] | None = None, description: str | None = None) -> tuple[TransferSettings, set[str]]:
    """Settings from the command line (and its `--config` file), validated; also the names set explicitly."""
    flags = vars(build_parser(description=description).parse_args(argv))
    values = settings_from_file(flags["config"]) if "config" in flags else {}
    values.update({k: v for k, v in flags.items() if k != "config"})
    explicit = set(values)
    if values.get("smoke"):
        values = {**SMOKE, **values}
    settings = TransferSettings(**values)
    if settings.name is None:
        settings.name = f"{settings.scenario.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    validate(settings)
    return settings, explicit
