"""The main job: train cooperative teams on a small team size, evaluate them greedily at larger ones (zero-shot),
after fine-tuning at each size, and against training from scratch at each size.

    python experiments/transfer.py                      # qmix, concat vs graph, spread, train 3, eval 3 and 6
    python experiments/transfer.py --algos qmix,gum --embeddings concat,mean,graph --seeds 0,1,2 \\
        --train-agents 3 --eval-agents 3,6,8 --timesteps 100000 --wandb
    python experiments/transfer.py --config experiments/configs/transfer_spread.yaml --seeds 0
    python experiments/transfer.py --resume --name spread-20261121-101500       # continue an interrupted run
    ray submit cluster/gpu.yaml experiments/transfer.py -- --storage s3://my-bucket/marl --wandb

Phases, each a Ray Tune experiment under <storage>/<name>/ whose independent trials run in parallel as far as the
resources allow: `train` (one trial per algo x embedding x seed at --train-agents, plus, with --scratch, one per
eval size, or per --scratch-agents size, trained from scratch with the same budget), then greedy evaluation of every
final checkpoint at every eval size, then `finetune` (each train checkpoint trained --finetune-timesteps more at each
eval size, or each --finetune-agents size, with each --finetune strategy: naive, conservative (default), kl or
others; see rl_algos.common.config.finetune) and its evaluation.
Outputs: transfer.csv (one row per algo, embedding, scenario, train_agents, eval_agents, phase, seed), summary.md
(mean ± std over seeds, the transfer ratio (zero_shot - random) / (scratch - random), and whether fine-tuned beat
zero-shot), transfer.png, provenance.yaml (per start and resume: the command, the code's commit, the packages'
versions, the machine), and Tune's folders (TensorBoard logs, checkpoints). From scratch at the training size is the
train run itself.
A run owns its folder while it runs (a second one with the same --name is refused), runs on its own embedded Ray
unless RAY_ADDRESS or `ray start` names a cluster, and stops cleanly on Ctrl-C or a full disk, resumable.
Exit codes: 0 done, 1 some trial failed (the others are reported) or the storage filled up, 2 bad settings,
130 interrupted (continue with --resume).
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's compact CLIReporter table instead of per-result dumps

import pyarrow.fs  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN, NUM_ENV_STEPS_SAMPLED_LIFETIME  # noqa: E402

import envs  # noqa: E402
from experiments.transfer_experiment import tensorboard_logging, wandb_logging  # noqa: E402
from experiments.transfer_experiment.command_line import parse_settings  # noqa: E402
from experiments.transfer_experiment.curves import (  # noqa: E402
    CURVES_FILE,
    curve_columns,
    curve_rows,
    curves_markdown,
    kept_curves,
    write_curves,
)
from experiments.transfer_experiment.experiment_folder import (  # noqa: E402
    SUMMARY_FILE,
    check_shared_storage,
    check_storage,
    experiment_uri,
    is_uri,
    local_dir,
    resolve_resume,
    store_settings,
)
from experiments.transfer_experiment.fresh_start import superseded_curves, trials_to_train  # noqa: E402
from experiments.transfer_experiment.ledgers import (  # noqa: E402
    EpisodeLedger,
    ExperimentFiles,
    TransferLedger,
    evaluation_columns,
    row_key,
    set_rows_aside,
)
from experiments.transfer_experiment.lock import ExperimentLock  # noqa: E402
from experiments.transfer_experiment.plots import write_figures  # noqa: E402
from experiments.transfer_experiment.progress import ExperimentProgress, ProgressCallback  # noqa: E402
from experiments.transfer_experiment.provenance import (  # noqa: E402
    invocation,
    provenance_markdown,
    read_provenance,
    record_invocation,
)
from experiments.transfer_experiment.ray_session import BOOTSTRAP_CONFIG, cluster_can_have_gpus, start_ray  # noqa: E402
from experiments.transfer_experiment.report import summary_markdown  # noqa: E402
from experiments.transfer_experiment.resources import node_capacities, why_unplaceable  # noqa: E402
from experiments.transfer_experiment.settings import (  # noqa: E402
    EVAL_SEED,
    SettingsError,
    TransferSettings,
)
from experiments.transfer_experiment.storage_guard import StorageGuard, readable_state, storage_full  # noqa: E402
from experiments.transfer_experiment.study_figures import write_study_figures  # noqa: E402
from experiments.transfer_experiment.trial import TeamTrial  # noqa: E402
from experiments.transfer_experiment.trial_spec import TrialSpec, trial_name  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import evaluate, has_heuristic, scripted_policy_evaluation  # noqa: E402


def check_resources(settings: TransferSettings) -> None:
    """Refuse a grid whose trials can never be placed on this cluster (now, or after the autoscaler adds nodes)."""
    nodes, can_grow = node_capacities(BOOTSTRAP_CONFIG)
    for algo, embedding in {(algo, embedding) for algo, embedding, _ in grid(settings)}:
        spec = TrialSpec(settings, "train", algo, embedding, tuple(settings.train_agents), settings.seeds[0], 1)
        reason = why_unplaceable(TeamTrial.default_resource_request({"trial": spec.to_dict()}).bundles, nodes, can_grow)
        if reason is not None:
            raise SettingsError(
                f"a {algo} trial could never start: {reason}; lower --env-runners (1 CPU each) or --gpus-per-trial, "
                "or use a larger cluster"
            )


def grid(settings: TransferSettings):
    """Every (algorithm, embedding, seed) the experiment trains."""
    for algo, embedding in settings.cells:
        for seed in settings.seeds:
            yield algo, embedding, seed


def phase_uri(settings: TransferSettings, name: str) -> str:
    return f"{experiment_uri(settings)}/{name}"


def set_state_aside(settings: TransferSettings, name: str, why: str) -> str | None:
    """Move phase `name`'s local Tune state to `<name>.<why>-<time>`, where there is one; return where."""
    path = phase_uri(settings, name)
    if is_uri(settings.storage) or not os.path.isdir(path):
        return None
    aside = f"{path}.{why}-{time.strftime('%Y%m%d-%H%M%S')}"
    os.rename(path, aside)
    return aside


def restorable_phase(settings: TransferSettings, name: str) -> bool:
    """Whether a resumed run continues phase `name` from its Tune state. A local state that a full disk cut short is
    moved aside, and the phase starts without one."""
    path = phase_uri(settings, name)
    if not (settings.resume and tune.Tuner.can_restore(path)):
        return False
    if is_uri(settings.storage) or readable_state(Path(path)):
        return True
    aside = set_state_aside(settings, name, "damaged")
    print(
        f"the {name} phase's Tune state at {path} is cut short (a full disk?): moved to {aside}; the phase starts anew"
    )
    return False


def fresh_trials(
    settings: TransferSettings, specs: list[TrialSpec], ledger: TransferLedger, episodes: EpisodeLedger
) -> list[TrialSpec]:
    """The trials of `specs` a phase starting without Tune state trains (`fresh_start.trials_to_train`); the rows
    they supersede are set aside first."""
    to_train, superseded = trials_to_train(settings, specs, {row_key(row) for row in ledger.rows})
    if superseded:
        ledger.set_aside(superseded)
        episodes.set_aside(superseded)
        curves = ledger.files.read_rows(CURVES_FILE)
        set_rows_aside(ledger.files, CURVES_FILE, curve_columns(curves), curves, superseded_curves(settings, to_train))
        print(
            f"{len(superseded)} evaluations in transfer.csv came from checkpoints that are no longer here; their "
            "trials train again and evaluate anew (the old rows and curves: transfer_superseded.csv, "
            "curves_superseded.csv)"
        )
    if len(to_train) < len(specs):
        print(f"not trained again, every evaluation of theirs in transfer.csv: {len(specs) - len(to_train)} trial(s)")
    return to_train


def run_phase(
    settings: TransferSettings, name: str, specs: list[TrialSpec], callbacks: list, restore: bool
) -> list[tune.Result]:
    """One Tune experiment over `specs`, or with `restore` the phase's stored one, continued without re-running
    finished trials."""
    path = phase_uri(settings, name)
    local = not is_uri(settings.storage)
    if local:
        callbacks = [*callbacks, StorageGuard(Path(path))]
    if restore:
        retry = local and StorageGuard.clear_full_disk_failures(Path(path))  # others failed on their own: kept
        tuner = tune.Tuner.restore(path, trainable=TeamTrial, resume_errored=retry)
    elif not specs:
        return []
    else:
        tuner = tune.Tuner(
            TeamTrial,
            param_space={"trial": tune.grid_search([spec.to_dict() for spec in specs])},
            tune_config=tune.TuneConfig(trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=name,
                storage_path=experiment_uri(settings),
                checkpoint_config=tune.CheckpointConfig(
                    checkpoint_frequency=settings.checkpoint_every, checkpoint_at_end=True, num_to_keep=2
                ),
                failure_config=tune.FailureConfig(max_failures=1),
                callbacks=callbacks,
                verbose=1,
                progress_reporter=tune.CLIReporter(
                    metric_columns={
                        NUM_ENV_STEPS_SAMPLED_LIFETIME: "env steps",
                        f"{ENV_RUNNER_RESULTS}/{EPISODE_RETURN_MEAN}": "return",
                        "time_total_s": "s",
                    },
                    parameter_columns={"trial/timesteps": "budget"},
                    max_report_frequency=30,
                ),
            ),
        )
    try:
        results = list(tuner.fit())
    except Exception:  # Tune reading back what a full disk cut short (an empty error.pkl: EOFError)
        if local and StorageGuard.tripped(Path(path)):
            raise OSError(errno.ENOSPC, f"No space left on device: the {name} phase stopped") from None
        raise
    if local and StorageGuard.tripped(Path(path)):
        raise OSError(errno.ENOSPC, f"No space left on device: the {name} phase stopped")
    stopped = unfinished_trials(results)
    if stopped:
        raise RunInterrupted(f"the {name} phase stopped before {', '.join(stopped)} finished")
    return results


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C, SIGINT) before its trials finished; what was saved is resumable."""


def unfinished_trials(results: list[tune.Result]) -> list[str]:
    """Trials that neither reached their budget nor failed: Tune stops them so when it is interrupted (its first
    SIGINT saves the experiment's state and returns), and a half-trained checkpoint must not be evaluated as if it
    had finished. A trial interrupted before its first result has no config: it is named by its folder."""
    return [
        result.path.rstrip("/").rsplit("/", 1)[-1] if result.config is None else trial_name(result.config["trial"])
        for result in results
        if result.error is None and not (result.metrics or {}).get("done")
    ]


def resume_command(settings: TransferSettings) -> str:
    storage = "" if settings.storage == TransferSettings.storage else f" --storage {settings.storage}"
    return f"python experiments/transfer.py --resume --name {settings.name}{storage}"


def _trial_name(trial) -> str:
    return trial_name(trial.config["trial"])


def checkpoint_uri(checkpoint: tune.Checkpoint) -> str:
    if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
        return checkpoint.path
    scheme = {"gcs": "gs"}.get(checkpoint.filesystem.type_name, checkpoint.filesystem.type_name)
    return f"{scheme}://{checkpoint.path}"


@ray.remote(num_cpus=1)
def evaluate_checkpoint(
    checkpoint: tune.Checkpoint, env_config: dict, episodes: int, seed: int, agent_ids: str
) -> dict:
    with checkpoint.as_directory() as path:
        return evaluate(path, env_config, episodes=episodes, seed=seed, agent_ids=agent_ids)


def evaluate_results(
    settings: TransferSettings, results: list[tune.Result], ledger: TransferLedger, episodes: EpisodeLedger
) -> None:
    """Greedy evaluations of finished trials (in parallel Ray tasks), skipping rows already in the ledger; each also
    goes into its trial's TensorBoard logs."""
    jobs = []
    for result in results:
        if result.error is not None or result.checkpoint is None:
            continue
        spec = TrialSpec.from_dict(result.config["trial"])
        targets = settings.train_evaluations() if spec.phase == "train" else [(spec.result_phase, spec.n_agents[0])]
        for phase, n in targets:
            row = {
                "algo": settings.run_algo(spec.algo),
                "embedding": spec.embedding,
                "scenario": settings.scenario,
                "train_agents": settings.train_label,
                "eval_agents": n,
                "phase": phase,
                "seed": spec.seed,
                "timesteps": int(result.metrics[NUM_ENV_STEPS_SAMPLED_LIFETIME]),
                "wall_s": round(result.metrics["time_total_s"], 1),
            }
            if row_key(row) in ledger:
                continue
            task = evaluate_checkpoint.remote(
                result.checkpoint,
                settings.env_config(n),
                settings.eval_episodes,
                EVAL_SEED + spec.seed,
                settings.zero_shot_ids,
            )
            jobs.append((row, result, task))
    for row, result, task in jobs:
        evaluation = ray.get(task)
        values = evaluation_columns(evaluation)
        row.update(values)
        ledger.add([row])
        episodes.add(row, evaluation)
        tensorboard_logging.log_evaluation(result, row, values)
        print(
            f"evaluated {row['phase']} {row['algo']}/{row['embedding']} seed {row['seed']} at "
            f"{row['eval_agents']} agents: {row['return_mean']:.2f} ± {row['return_std']:.2f}",
            flush=True,
        )


def scripted_rows(settings: TransferSettings, ledger: TransferLedger, episodes: EpisodeLedger) -> None:
    """The scripted teams at every size, per seed: the uniformly random policy (the floor of the transfer ratio and
    of the normalised score) and, where the scenario has one, its heuristic (`envs.heuristics`: the score's 1)."""
    rows = []
    policies = ["random", *(["heuristic"] if has_heuristic(settings.env_config(settings.train_agents)) else [])]
    for policy, n in itertools.product(policies, sorted(set(settings.eval_agents + settings.train_agents))):
        for seed in settings.seeds:
            row = {
                "algo": policy,
                "embedding": "-",
                "scenario": settings.scenario,
                "train_agents": "-",
                "eval_agents": n,
                "phase": policy,
                "seed": seed,
                "timesteps": 0,
            }
            if row_key(row) in ledger:
                continue
            start = time.perf_counter()
            evaluation = scripted_policy_evaluation(
                settings.env_config(n), settings.eval_episodes, seed=EVAL_SEED + seed, policy=policy
            )
            rows.append({**row, **evaluation_columns(evaluation), "wall_s": round(time.perf_counter() - start, 1)})
            episodes.add(row, evaluation)
    ledger.add(rows)


ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): ")  # "FloatingPointError: trial ...", not source


def error_reason(error: BaseException) -> str:
    """The first line of a failed trial's error: its last `SomeError: message` line, else its last line."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return next((line for line in reversed(lines) if ERROR_LINE.match(line)), lines[-1] if lines else repr(error))


def failures(results: list[tune.Result]) -> list[str]:
    """One line per failed trial: its name, its error's first line, and where its log is."""
    return [
        f"trial {trial_name(result.config['trial'])} failed: {error_reason(result.error)} (log: {result.path})"
        for result in results
        if result.error is not None
    ]


def run(settings: TransferSettings, provenance: dict) -> int:
    """Run the experiment `settings` describe (its phases, evaluations and report), its `provenance` entry
    (`provenance.invocation`) appended to the folder's; returns the exit code."""
    files = ExperimentFiles(experiment_uri(settings))
    store_settings(files, settings)
    record_invocation(files, provenance)
    metric_names = envs.find_scenario(settings.scenario).metric_names
    ledger = TransferLedger(files, metric_names)
    episodes = EpisodeLedger(files, metric_names)
    callbacks = [wandb_logging.TeamWandbCallback(settings, local_dir(settings))] if settings.wandb else []

    train_specs = [
        TrialSpec(settings, "train", algo, emb, tuple(settings.train_agents), seed, settings.timesteps)
        for algo, emb, seed in grid(settings)
    ]
    train_specs += [
        TrialSpec(settings, "scratch", algo, emb, (n,), seed, settings.timesteps)
        for algo, emb, seed in grid(settings)
        for n in settings.scratch_sizes
    ]
    restore_train = restorable_phase(settings, "train")
    if not restore_train:
        train_specs = fresh_trials(settings, train_specs, ledger, episodes)
    restore_finetune = restore_train and restorable_phase(settings, "finetune")
    if not restore_train and settings.resume and (aside := set_state_aside(settings, "finetune", "superseded")):
        print(f"the finetune phase's Tune state started from train checkpoints that are gone: moved to {aside}")
    pretrained = sum(spec.phase == "train" for spec in train_specs)
    finetune_total = pretrained * len(settings.finetune_sizes) * len(settings.finetune) * settings.finetune_timesteps
    train_total = sum(spec.timesteps for spec in train_specs)
    progress = ExperimentProgress(train_total + finetune_total)

    with progress.phase("scripted policies"):
        scripted_rows(settings, ledger, episodes)
    with progress.phase("train"):
        train_results = run_phase(
            settings,
            "train",
            train_specs,
            [*callbacks, ProgressCallback(progress, "train", train_total)],
            restore_train,
        )
    progress.finish_phase_steps(train_total)
    with progress.phase("train evaluation"):
        evaluate_results(settings, train_results, ledger, episodes)
    all_results = list(train_results)

    if settings.finetune_timesteps > 0:
        finetune_specs = [
            TrialSpec(
                settings,
                "finetune",
                spec.algo,
                spec.embedding,
                (n,),
                spec.seed,
                settings.finetune_timesteps,
                restore_from=checkpoint_uri(result.checkpoint),
                pretrained_env_steps=int(result.metrics[NUM_ENV_STEPS_SAMPLED_LIFETIME]),
                strategy=strategy,
            )
            for result in train_results
            if (spec := TrialSpec.from_dict(result.config["trial"])).phase == "train"
            and result.error is None
            and result.checkpoint
            for strategy in settings.finetune
            for n in settings.finetune_sizes
        ]
        if not restore_finetune:
            finetune_specs = fresh_trials(settings, finetune_specs, ledger, episodes)
        progress.total_env_steps -= finetune_total - len(finetune_specs) * settings.finetune_timesteps  # not run
        if finetune_specs:
            phase_total = len(finetune_specs) * settings.finetune_timesteps
            with progress.phase("finetune"):
                finetune_results = run_phase(
                    settings,
                    "finetune",
                    finetune_specs,
                    [*callbacks, ProgressCallback(progress, "finetune", phase_total)],
                    restore_finetune,
                )
            progress.finish_phase_steps(phase_total)
            with progress.phase("finetune evaluation"):
                evaluate_results(settings, finetune_results, ledger, episodes)
            all_results += finetune_results

    with progress.phase("report"):
        summary = write_report(settings, files, ledger, episodes, metric_names, all_results)
    problems = failures(all_results)
    print(
        f"\noutputs: {files.uri}/ (transfer.csv, transfer_episodes.csv, curves.csv, summary.md, transfer.png, "
        "transfer_embeddings.png, transfer_curves.png, transfer_q_bias*.png (raw, relative, independent); Tune "
        "folders train/, finetune/)\n"
    )
    print(summary)
    print(progress.summary())
    print(f"TensorBoard (every trial's training and evaluation curves): tensorboard --logdir {files.uri}")
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def summary_title(settings: TransferSettings) -> str:
    """The headline of an experiment's `summary.md` and figures: scenario, training size and budget, fine-tuning
    (budget and strategies, or none), slots, zero-shot ids and the experiment's name."""
    finetuned = (
        f"fine-tuned {settings.finetune_timesteps} ({', '.join(settings.finetune)})"
        if settings.finetune_timesteps > 0
        else "not fine-tuned"
    )
    return (
        f"{settings.scenario}: trained at {settings.train_label} agents, {settings.timesteps} env steps, "
        f"{finetuned}, slots {settings.slots}, zero-shot ids {settings.zero_shot_ids} ({settings.name})"
    )


def write_report(
    settings: TransferSettings,
    files: ExperimentFiles,
    ledger: TransferLedger,
    episodes: EpisodeLedger,
    metric_names: tuple[str, ...],
    results: list[tune.Result],
) -> str:
    """Write `summary.md`, the figures, the learning curves and (with `--wandb`) the evaluations; return the
    summary."""
    title = summary_title(settings)
    curves = kept_curves(files, curve_rows(results))
    summary = (
        summary_markdown(ledger.rows, episodes.rows, title, metric_names)
        + curves_markdown(curves, ledger.rows)
        + provenance_markdown({settings.name: read_provenance(files)})
    )
    files.write_bytes(SUMMARY_FILE, summary.encode())
    write_figures(files, ledger.rows, episodes.rows, title, metric_names)
    write_curves(files, curves, ledger.rows, title)
    write_study_figures(files, ledger.rows, curves)
    if settings.wandb:
        wandb_logging.log_evaluations(settings, ledger.rows, local_dir(settings))
        if os.environ.get("WANDB_MODE") == "offline":
            print(wandb_logging.offline_notice(local_dir(settings)))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the experiment the command line `argv` describes; returns the exit code."""
    try:
        settings, explicit = parse_settings(argv, description=__doc__)
        check_storage(settings)
        settings = resolve_resume(settings, explicit)
    except SettingsError as error:
        print(f"transfer.py: error: {error}", file=sys.stderr)
        return 2
    if settings.wandb:
        wandb_logging.choose_mode(local_dir(settings))
    started_here = not ray.is_initialized()
    lock = None
    try:
        if not is_uri(settings.storage):
            lock = ExperimentLock(Path(experiment_uri(settings))).acquire()
        joined_cluster = start_ray(settings.dashboard)
        check_shared_storage(settings, joined_cluster)
        if settings.gpus_per_trial is None:
            settings.gpus_per_trial = 1.0 if cluster_can_have_gpus() else 0.0
        check_resources(settings)
        return run(settings, invocation(sys.argv[1:] if argv is None else argv))
    except SettingsError as error:
        print(f"transfer.py: error: {error}", file=sys.stderr)
        return 2
    except (RunInterrupted, KeyboardInterrupt) as error:
        reason = f" ({error})" if str(error) else ""
        print(
            f"transfer.py: interrupted{reason}; unfinished trials were not evaluated and the summary was not "
            f"written; continue with: {resume_command(settings)}",
            file=sys.stderr,
        )
        return 130
    except OSError as error:
        if not storage_full(error):
            raise
        print(
            f"transfer.py: error: storage full at {experiment_uri(settings)}; what was written is kept: free space, "
            f"then continue with: {resume_command(settings)}",
            file=sys.stderr,
        )
        return 1
    finally:
        if lock is not None:
            lock.release()
        if started_here:
            ray.shutdown()
