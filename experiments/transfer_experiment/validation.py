"""The checks on a transfer experiment's settings before Ray starts: each raises `SettingsError` with a one-line
message saying what to fix."""

from __future__ import annotations

import math

import envs
import rl_algos
from experiments.transfer_experiment.settings import VARIANT_PATTERN, SettingsError, TransferSettings
from experiments.transfer_experiment.trial_configs import finetune_algo_config, train_config
from policies.networks.team_embedding import EMBEDDINGS
from rl_algos.common.config.finetune import FINETUNE_STRATEGIES


def validate(settings: TransferSettings) -> None:
    """Reject what cannot run, before Ray starts: unknown names, sizes above `n_max`, algorithms that cannot act in
    the scenario's action space, bad budgets."""
    s = settings
    if not s.algos:
        raise SettingsError(f"no algorithm given; choose from {', '.join(rl_algos.ALGORITHMS)}")
    for algo in s.algos:
        if algo not in rl_algos.ALGORITHMS:
            raise SettingsError(f"unknown algorithm {algo!r}; known: {', '.join(rl_algos.ALGORITHMS)}")
    _check_embeddings(s)
    try:
        envs.find_scenario(s.scenario)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    for label, sizes in (("--train-agents", s.train_agents), ("--eval-agents", s.eval_agents), ("--seeds", s.seeds)):
        if not sizes:
            raise SettingsError(f"{label} is empty; give at least one value")
    for label, values in (
        ("--algos", s.algos),
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
        for embedding in s.algo_embeddings(algo):
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


def _check_embeddings(settings: TransferSettings) -> None:
    """`embeddings`, one list or one per algorithm (keys `all` or algorithm names): known names, each once, and some
    for every algorithm in `algos`."""
    per_algo = isinstance(settings.embeddings, dict)
    lists = settings.embeddings.items() if per_algo else [(None, settings.embeddings)]
    known = ", ".join(EMBEDDINGS)
    for key, names in lists:
        label = f"--embeddings for {key}" if per_algo else "--embeddings"
        if per_algo and key not in ("all", *rl_algos.ALGORITHMS):
            raise SettingsError(
                f"--embeddings has an entry for {key!r}; its keys are 'all' or algorithm names "
                f"({', '.join(rl_algos.ALGORITHMS)})"
            )
        if not names:
            raise SettingsError(f"{label} is empty; choose from {known}")
        for name in names:
            if name not in EMBEDDINGS:
                where = f" in {label}" if per_algo else ""
                raise SettingsError(f"unknown embedding {name!r}{where}; known: {known}")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise SettingsError(f"{label} lists {', '.join(repeated)} more than once; give each value once")
    without = [algo for algo in settings.algos if not settings.algo_embeddings(algo)]
    if without:
        raise SettingsError(
            f"--embeddings gives none for {', '.join(without)}: add an entry for it, or one for 'all' (the algorithms "
            "without their own)"
        )


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
