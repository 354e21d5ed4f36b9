"""What a phase of the transfer experiment trains when it starts without Tune state: on a new run, every trial; on a
resumed run whose state is gone (another machine, whose disk has none of the checkpoints; a state cut short and
moved aside), only the trials `transfer.csv` still lacks a row of.

A train trial's checkpoint yields its zero-shot (and at its own size from-scratch) evaluations and is the start of
every fine-tuning trial. When one of those rows is missing the trial is trained again, and the rows its lost
checkpoint did yield are superseded: set aside with their learning curves, then written anew from the new
checkpoint, so that every fine-tuned row is paired with the zero-shot evaluation of the very policy it started from,
and none compares two trainings of the same seed (identical with the synchronous loop on one CPU machine, not
necessarily across machines or devices)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from experiments.transfer_experiment.ledgers import row_key
from experiments.transfer_experiment.settings import TransferSettings
from experiments.transfer_experiment.trial_spec import TrialSpec

RowKey = tuple[str, ...]


def evaluation_key(settings: TransferSettings, spec: TrialSpec, phase: str, n_agents: int) -> RowKey:
    """The `transfer.csv` key of `spec`'s run evaluated in `phase` at `n_agents`."""
    return row_key(
        {
            "algo": settings.run_algo(spec.algo),
            "embedding": spec.embedding,
            "scenario": settings.scenario,
            "train_agents": settings.train_label,
            "eval_agents": n_agents,
            "phase": phase,
            "seed": spec.seed,
        }
    )


def yielded_rows(settings: TransferSettings, spec: TrialSpec) -> list[RowKey]:
    """The rows trial `spec`'s checkpoint yields: a train trial's evaluations and, with fine-tuning, those of every
    fine-tuning trial started from it; a from-scratch or fine-tuning trial's one evaluation."""
    if spec.phase != "train":
        return [evaluation_key(settings, spec, spec.result_phase, spec.n_agents[0])]
    rows = [evaluation_key(settings, spec, phase, n) for phase, n in settings.train_evaluations()]
    if settings.finetune_timesteps > 0:
        rows += [
            evaluation_key(settings, spec, settings.finetune_phase(strategy), n)
            for strategy in settings.finetune
            for n in settings.finetune_sizes
        ]
    return rows


def trials_to_train(
    settings: TransferSettings, specs: Iterable[TrialSpec], present: set[RowKey]
) -> tuple[list[TrialSpec], set[RowKey]]:
    """(the trials of `specs` that some row they yield is missing from, the rows of `present` those trials' lost
    checkpoints yielded: superseded by the new ones)."""
    to_train, superseded = [], set()
    for spec in specs:
        rows = yielded_rows(settings, spec)
        if not present.issuperset(rows):
            to_train.append(spec)
            superseded.update(row for row in rows if row in present)
    return to_train, superseded


def superseded_curves(settings: TransferSettings, retrained: Iterable[TrialSpec]) -> Callable[[dict], bool]:
    """Whether a row of `curves.csv` is a point of a `retrained` train trial's curves or of the fine-tuning that
    started from its lost checkpoint."""
    runs = {
        (settings.run_algo(spec.algo), spec.embedding, str(spec.seed)) for spec in retrained if spec.phase == "train"
    }

    def superseded(row: dict) -> bool:
        return (
            (row["algo"], row["embedding"], str(row["seed"])) in runs
            and str(row["train_agents"]) == settings.train_label
            and (row["phase"] == "train" or row["phase"].startswith("finetune"))
        )

    return superseded
