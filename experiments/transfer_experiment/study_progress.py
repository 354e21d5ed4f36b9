"""How far a study run in chunks has got: for each (algorithm, embedding) of a study's settings (its `--config`
file) and each of its seeds, whether every evaluation the experiment makes (`TransferSettings.planned_evaluations`)
is among the merged rows of the chunks so far, which are missing where some are there, and the `transfer.py`
commands of the chunks still to run. `experiments/report.py --plan CONFIG` writes it into the merged report and the
results page, so the study's "what is left" is regenerated with its tables rather than kept by hand."""

from __future__ import annotations

import shlex
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from experiments.transfer_experiment.report import PHASE_TITLES, phase_title
from experiments.transfer_experiment.settings import TransferSettings

# the phases a partial seed's missing evaluations are counted in (every fine-tuning strategy as one), in the order a
# run makes them
PHASE_GROUPS = tuple(PHASE_TITLES[phase] for phase in ("zero_shot", "scratch", "finetune"))
LINE_WIDTH = 120  # the Markdown's prose lines, as the docs' own


class SeedProgress(NamedTuple):
    """One (algorithm, embedding, seed) of a study: the planned evaluations not among the rows (empty: complete),
    whether any planned one is (started), and the wall seconds its trials took, summed over those evaluated (each
    trial's `wall_s` once: the train trial's, each from-scratch and fine-tuning trial's)."""

    algo: str
    embedding: str
    seed: int
    missing: list[tuple[str, int]]
    started: bool
    trial_seconds: float

    @property
    def complete(self) -> bool:
        return not self.missing


def seed_progress(settings: TransferSettings, rows: list[dict]) -> list[SeedProgress]:
    """Each (algorithm, embedding, seed) of `settings`' grid against `rows` (merged `transfer.csv` rows); a row counts
    where its algorithm (with the settings' variant), embedding, scenario, training size(s), phase and size match."""
    wall_seconds = {
        (row["algo"], row["embedding"], row["phase"], str(row["eval_agents"]), str(row["seed"])): row.get("wall_s")
        for row in rows
        if row["scenario"] == settings.scenario and str(row["train_agents"]) == settings.train_label
    }
    planned = settings.planned_evaluations()
    # one evaluation per trial: the train trial's first (its others, zero-shot at other sizes, share its wall time),
    # then every from-scratch and fine-tuning one, each its own trial's
    per_trial = [planned[0], *planned[len(settings.train_evaluations()) :]]
    progress = []
    for algo, embedding in settings.cells:
        for seed in settings.seeds:
            keys = {
                evaluation: (settings.run_algo(algo), embedding, *map(str, evaluation), str(seed))
                for evaluation in planned
            }
            missing = [evaluation for evaluation in planned if keys[evaluation] not in wall_seconds]
            seconds = sum(float(wall_seconds.get(keys[evaluation]) or 0) for evaluation in per_trial)
            progress.append(SeedProgress(algo, embedding, seed, missing, len(missing) < len(planned), seconds))
    return progress


def _seed_list(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if seeds else "-"


def _missing_text(missing: list[tuple[str, int]]) -> str:
    """`fine-tuned 6` or `zero-shot 2, from scratch 1`: how many evaluations of each phase group are missing."""
    counts = defaultdict(int)
    for phase, _ in missing:
        counts[PHASE_TITLES[phase.partition(":")[0]]] += 1
    return ", ".join(f"{group} {counts[group]}" for group in PHASE_GROUPS if counts[group])


def progress_table(settings: TransferSettings, progress: list[SeedProgress]) -> list[str]:
    """One row per (algorithm, embedding): the seeds complete, the partial ones with what each lacks, the seeds not
    started, the trial hours a complete seed took (`seed_hours`) and those left at that rate, a partial seed counted
    whole (it may rerun whole where its checkpoints are gone)."""
    lines = [
        "| algo | embedding | seeds complete | partial: evaluations missing | not started | trial hours per seed "
        "| trial hours left |",
        "| --- | --- | --- | --- | --- | ---: | ---: |",
    ]
    for algo, embedding, cell in _cells(settings, progress):
        complete = [p.seed for p in cell if p.complete]
        partial = "; ".join(f"{p.seed}: {_missing_text(p.missing)}" for p in cell if p.started and not p.complete)
        not_started = [p.seed for p in cell if not p.started]
        lines.append(
            f"| {settings.run_algo(algo)} | {embedding} | {len(complete)} of {len(cell)}: {_seed_list(complete)} "
            f"| {partial or '-'} | {_seed_list(not_started)} | {_hours(seed_hours(cell))} "
            f"| {_hours(hours_left(cell))} |"
        )
    return lines


def _cells(settings: TransferSettings, progress: list[SeedProgress]) -> Iterator[tuple[str, str, list[SeedProgress]]]:
    """Each (algorithm, embedding) of the grid with its seeds' progress."""
    for algo, embedding in settings.cells:
        yield algo, embedding, [p for p in progress if (p.algo, p.embedding) == (algo, embedding)]


def seed_hours(cell: list[SeedProgress]) -> float | None:
    """The trial hours a complete seed of one (algorithm, embedding) took: the median of their `trial_seconds`, or
    None before one is complete."""
    hours = [p.trial_seconds / 3600 for p in cell if p.complete]
    return float(np.median(hours)) if hours else None


def hours_left(cell: list[SeedProgress]) -> float | None:
    """The trial hours the seeds of one (algorithm, embedding) not complete take at `seed_hours` each, a partial
    seed counted whole; None while no seed is complete."""
    hours = seed_hours(cell)
    return None if hours is None else hours * sum(not p.complete for p in cell)


def _hours(hours: float | None) -> str:
    return "-" if hours is None else f"{hours:.1f}"


def hours_left_text(settings: TransferSettings, progress: list[SeedProgress]) -> str:
    """A sentence summing the table's trial hours left, and naming the (algorithm, embedding)s with seeds to run
    and no complete seed to estimate them from."""
    left, unknown = 0.0, []
    for algo, embedding, cell in _cells(settings, progress):
        if all(p.complete for p in cell):
            continue
        if hours_left(cell) is None:
            unknown.append(f"{settings.run_algo(algo)} {embedding}")
        else:
            left += hours_left(cell)
    text = f"At the trial hours a complete seed took, the runs left take about {left:.1f} trial hours"
    if unknown:
        text += (
            f", and more for {', '.join(unknown)}, which {'has' if len(unknown) == 1 else 'have'} no complete seed yet"
        )
    return text + "."


def runs_of(settings: TransferSettings) -> set[tuple[str, str, int]]:
    """The (algorithm, embedding, seed) runs an experiment with `settings` trains."""
    return {(algo, embedding, seed) for algo, embedding in settings.cells for seed in settings.seeds}


def next_chunks(
    settings: TransferSettings,
    progress: list[SeedProgress],
    config: str,
    storage: str | None,
    taken: set[str],
    started: dict[str, set[tuple[str, str, int]]] | None = None,
) -> list[str]:
    """The `transfer.py` command of each chunk still to run. A chunk already started and not finished (`started`:
    its folder's name and the (algorithm, embedding, seed) runs it trains, `runs_of`) continues with
    `--resume --name` (from its checkpoints where they are; elsewhere it trains again what a row is missing of). The
    other runs not complete go per seed and algorithm, its embeddings together (all of them: no `--embeddings`, the
    config's own), named `<algo>-s<seed>[-<embedding>...]`, or that with `-rerun` where a folder in `taken` has the
    name."""
    where = ["--storage", storage] if storage else []
    to_run = {(p.algo, p.embedding, p.seed) for p in progress if not p.complete}
    commands = []
    for name, runs in sorted((started or {}).items()):
        if runs & to_run:
            commands.append(shlex.join(["python", "experiments/transfer.py", "--resume", "--name", name, *where]))
            to_run -= runs
    for seed in settings.seeds:
        for algo in settings.algos:
            embeddings = [e for e in settings.algo_embeddings(algo) if (algo, e, seed) in to_run]
            if not embeddings:
                continue
            flags = ["--algos", algo]
            name = f"{algo}-s{seed}"
            if embeddings != settings.algo_embeddings(algo):
                flags += ["--embeddings", ",".join(embeddings)]
                name += "-" + "-".join(embeddings)
            if name in taken:
                name += "-rerun"
            flags += ["--seeds", str(seed), "--name", name]
            commands.append(shlex.join(["python", "experiments/transfer.py", "--config", config, *where, *flags]))
    return commands


def progress_markdown(
    settings: TransferSettings,
    rows: list[dict],
    config: str,
    storage: str | None,
    taken: set[str],
    started: dict[str, set[tuple[str, str, int]]] | None = None,
) -> list[str]:
    """The study's progress against `config` (the settings read from it) as Markdown: a count, the table, and the
    commands of the chunks still to run; a partial seed's chunk resumes (`--resume --name <its folder>`) only where
    its checkpoints are, so the command given runs it anew."""
    progress = seed_progress(settings, rows)
    done = sum(p.complete for p in progress)
    planned = settings.planned_evaluations()
    phases = ", ".join(dict.fromkeys(phase_title(phase) for phase, _ in planned))
    variant = f", variant {settings.variant}" if settings.variant else ""
    intro = (
        f"{done} of {len(progress)} (algorithm, embedding, seed) runs of `{config}` complete, each with all "
        f"{len(planned)} of its evaluations ({phases}) at the config's settings (trained at {settings.train_label}"
        f"{variant}); a seed with some of them is partial. A seed's trial hours are its trials' wall times summed "
        "(the train trial's, each from-scratch and fine-tuning trial's), as long as they took on the machine that ran "
        "them beside whatever else ran there."
    )
    lines = [*textwrap.wrap(intro, LINE_WIDTH), "", *progress_table(settings, progress)]
    if done < len(progress):
        lines += ["", *textwrap.wrap(hours_left_text(settings, progress), LINE_WIDTH)]
    commands = next_chunks(settings, progress, config, storage, taken, started)
    if commands:
        how = (
            "The chunks still to run, one command each (a started one continues with `--resume --name <its folder>`, "
            "from its checkpoints on the machine that holds them; elsewhere it trains again the trials a row is "
            "missing of):"
        )
        lines += [
            "",
            *textwrap.wrap(how, LINE_WIDTH),
            "",
            "```bash",
            *commands,
            "```",
        ]
    return lines
