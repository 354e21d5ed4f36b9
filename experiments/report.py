"""Re-render a transfer experiment's `summary.md` and figures (`transfer.png`, `transfer_embeddings.png`, the learning
curves' `transfer_curves.png` and `transfer_q_bias*.png`: raw, relative, independent; the study's answer figures
`study_*.png`) from its CSVs, or compare several experiments (made on different machines or days, or the chunks of
one study) in one table.

    python experiments/report.py results/spread-20261122-081500                 # re-render in place
    python experiments/report.py results/run-a s3://bucket/marl/run-b --out results/compare
    python experiments/report.py results/study/vmas_spread/*/ --out docs/study --results-page docs/results.md \
        --plan experiments/configs/study_spread.yaml

Each folder (local or `s3://...`) is an experiment folder of `experiments/transfer.py`: its `transfer.csv`,
`transfer_episodes.csv` and `curves.csv` (when present), `settings.yaml` and `provenance.yaml` (each start's code and
packages, listed at the summary's end). The experiments must share a scenario; a run (algorithm, embedding, training
size, seed) found in two folders is taken whole, every phase's rows, episodes and curves, from the folder started last
(`provenance.yaml`'s first start; folders without one count as older, ties go to the folder given last), so a rerun
replaces the run it repeats whatever the folders are named; a scripted team's evaluations are taken one by one the same
way. A folder of an experiment that has started but not yet evaluated (its `settings.yaml` without a `transfer.csv`,
e.g. a study chunk still training) is skipped with a note, so the chunks of a study can be merged with one glob while
one runs. A folder is re-rendered in place only once transfer.py has finished it (written its own `summary.md`); one
still running or interrupted is reported with `--out` elsewhere, so that it still reads as unfinished to `--plan`.
`--results-page` also writes the headline table (`headline_table`: every run's zero-shot score per size, from scratch,
and each fine-tuning strategy's gain) into a page's marked block, and on spread TransfQMix's published occupancy beside
the best run's (`transfer_experiment/transfqmix.py`) into another. `--plan` names the study's config: the report then
says which of its (algorithm, embedding, seed) runs the folders complete and gives the command of each chunk still to
run (`transfer_experiment/study_progress.py`), in `summary.md` and, with `--results-page`, in the page's study-progress
block.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import defaultdict
from typing import NamedTuple

import yaml

import envs
from experiments.transfer_experiment.cells import SCRIPTED_PHASES
from experiments.transfer_experiment.command_line import settings_from_file
from experiments.transfer_experiment.curves import CURVES_FILE, curves_markdown, write_curves
from experiments.transfer_experiment.experiment_folder import SETTINGS_FILE, SUMMARY_FILE, read_settings
from experiments.transfer_experiment.ledgers import EpisodeLedger, ExperimentFiles, TransferLedger, row_key
from experiments.transfer_experiment.plots import write_figures
from experiments.transfer_experiment.provenance import provenance_markdown, read_provenance
from experiments.transfer_experiment.report import headline_table, summary_markdown
from experiments.transfer_experiment.settings import SettingsError, TransferSettings
from experiments.transfer_experiment.study_figures import write_study_figures
from experiments.transfer_experiment.study_progress import progress_markdown, runs_of
from experiments.transfer_experiment.transfqmix import transfqmix_table

TITLE_NAMES = 3  # a title names at most this many experiments


class ReportError(ValueError):
    """A folder that cannot be reported on; the message says which and why."""


def _read_rows(files: ExperimentFiles, name: str) -> list[dict]:
    """The rows of the CSV file `name`; `ReportError` naming the file and line of a row with missing or extra fields
    (a file cut mid-line, e.g. by a full disk or a killed run), rather than reporting without it."""
    if not files.exists(name):
        return []
    reader = csv.DictReader(io.StringIO(files.read_text(name)))
    rows = []
    for row in reader:
        if None in row or None in row.values():
            raise ReportError(
                f"{files.path(name)} line {reader.line_num}: {sum(v is not None for v in row.values())} fields where "
                f"the header has {len(reader.fieldnames)}; the file was cut or edited: repair or delete that line"
            )
        rows.append(row)
    return rows


class Experiments(NamedTuple):
    """What `load` read from one or more experiment folders."""

    scenario: str
    rows: list[dict]
    episodes: list[dict]
    curves: list[dict]
    names: list[str]
    not_yet_evaluated: list[str]
    provenance: dict[str, list[dict]]  # each experiment's `provenance.yaml` entries, by name


def run_id(row: dict) -> tuple[str, ...]:
    """What a later folder replaces whole (see `load`): a learned run (algorithm, embedding, training size, seed),
    every phase of it; or one evaluation of a scripted team (`SCRIPTED_PHASES`), which replays the same seeded
    episodes wherever it is made."""
    if row["phase"] in SCRIPTED_PHASES:
        return ("scripted", *row_key(row))
    return tuple(str(row[column]) for column in ("algo", "embedding", "train_agents", "seed"))


class _Folder(NamedTuple):
    """One experiment folder's rows, episodes and curve points grouped by `run_id`, and when it was started."""

    started: str  # its first `provenance.yaml` start; "" for a folder from before that file existed
    runs: dict[tuple[str, ...], tuple[list[dict], list[dict], list[dict]]]  # run -> (rows, episodes, curve points)


def _read_folder(files: ExperimentFiles, provenance: list[dict]) -> _Folder:
    """The folder's CSVs grouped by run (`run_id`)."""
    runs = defaultdict(lambda: ([], [], []))
    for slot, name in enumerate((TransferLedger.FILE, EpisodeLedger.FILE, CURVES_FILE)):
        for row in _read_rows(files, name):
            runs[run_id(row)][slot].append(row)
    return _Folder(str(provenance[0].get("started", "")) if provenance else "", dict(runs))


def load(folders: list[str]) -> Experiments:
    """The experiment folders' rows, each run (`run_id`) taken whole from the folder started last that has it: a
    rerun replaces every phase of the run it repeats, whatever the folders' names or their order on the command line.
    A folder's start is the first in its `provenance.yaml`; folders without one (older) count as started before any
    with one, and folders started at the same time in the order given. Folders of experiments started but not yet
    evaluated are listed, not read."""
    scenarios, read, names, not_yet_evaluated, provenance = set(), [], [], [], {}
    for folder in folders:
        files = ExperimentFiles(folder)
        if not files.exists(TransferLedger.FILE):
            if not files.exists(SETTINGS_FILE):
                raise ReportError(f"{folder}: no {TransferLedger.FILE}; give the folder of a transfer experiment")
            not_yet_evaluated.append(folder)
            continue
        settings = yaml.safe_load(files.read_text(SETTINGS_FILE)) if files.exists(SETTINGS_FILE) else {}
        names.append(settings.get("name") or folder.rstrip("/").rsplit("/", 1)[-1])
        try:
            provenance[names[-1]] = read_provenance(files)
        except ValueError as error:
            raise ReportError(str(error)) from None
        read.append(_read_folder(files, provenance[names[-1]]))
        scenarios.update(row["scenario"] for rows, _, _ in read[-1].runs.values() for row in rows)
    scenarios.discard("-")
    if len(scenarios) > 1:
        raise ReportError(f"the experiments are on different scenarios ({', '.join(sorted(scenarios))}); compare one")
    if not names:
        raise ReportError(
            f"no experiment here has evaluated yet ({', '.join(not_yet_evaluated)}: {SETTINGS_FILE} without "
            f"{TransferLedger.FILE}); report once a phase has finished"
        )
    runs = {}
    for folder in sorted(read, key=lambda folder: folder.started):  # a stable sort: ties stay in argument order
        runs.update(folder.runs)
    rows, episodes, curves = ([row for run in runs.values() for row in run[slot]] for slot in range(3))
    return Experiments(
        scenarios.pop() if scenarios else "-", rows, episodes, curves, names, not_yet_evaluated, provenance
    )


def report_title(scenario: str, names: list[str]) -> str:
    """The report's title (its summary's heading, its figures' titles): the scenario and the experiments' names, or
    their number where there are more than `TITLE_NAMES` (a study's chunks)."""
    if len(names) > TITLE_NAMES:
        return f"{scenario}: {len(names)} experiments"
    return f"{scenario}: {', '.join(names)}"


# A results page's blocks the report writes: each between its start marker and the first `BLOCK_END` after it.
HEADLINE_START = "<!-- report.py: headline table -->"
PROGRESS_START = "<!-- report.py: study progress -->"
TRANSFQMIX_START = "<!-- report.py: against TransfQMix -->"
BLOCK_END = "<!-- /report.py -->"


def with_marked_block(page: str, start_marker: str, lines: list[str], path: str) -> str:
    """`page` (a results page's Markdown) with the lines between `start_marker` and the next `BLOCK_END` replaced by
    `lines`; `ReportError` naming `path` where the markers are missing."""
    start = page.find(start_marker)
    end = page.find(BLOCK_END, start)
    if start < 0 or end < 0:
        raise ReportError(
            f"{path} has no {start_marker} ... {BLOCK_END} block; put the two markers, each on a line of its own, "
            "where the report's block goes"
        )
    return page[: start + len(start_marker)] + "\n" + "\n".join(lines) + "\n" + page[end:]


def study_plan(path: str) -> TransferSettings:
    """The settings of the study config at `path` (`--plan`), read as `transfer.py --config` reads them."""
    try:
        return TransferSettings(**settings_from_file(path, "--plan"))
    except SettingsError as error:
        raise ReportError(str(error)) from None


def study_progress(found: Experiments, folders: list[str], plan: str) -> list[str]:
    """The Markdown of the study's progress against its config at `plan` (`study_progress.progress_markdown`), its
    chunk commands storing under the folders' shared parent and never reusing one of their names."""
    settings = study_plan(plan)
    if settings.scenario != found.scenario:
        raise ReportError(
            f"--plan {plan} is a study on {settings.scenario}, the folders' experiments are on {found.scenario}; "
            "give the config of the study they are chunks of"
        )
    taken = {folder.rstrip("/").rsplit("/", 1)[-1] for folder in folders}
    return progress_markdown(
        settings, found.rows, plan, shared_storage(folders), taken, started_chunks(folders, settings)
    )


def refuse_unfinished(folder: str) -> None:
    """Refuse to re-render in place an experiment `transfer.py` has not finished (its settings, no summary yet: still
    running, or interrupted): a summary there would mark it finished, and a study's `--plan` would then give its runs
    a new chunk instead of continuing it (`started_chunks`)."""
    files = ExperimentFiles(folder)
    if files.exists(SETTINGS_FILE) and files.exists(TransferLedger.FILE) and not files.exists(SUMMARY_FILE):
        raise ReportError(
            f"{folder} is an experiment transfer.py has not finished (its {SETTINGS_FILE}, no {SUMMARY_FILE}: still "
            f"running, or interrupted), and a {SUMMARY_FILE} written there would mark it finished for a study's "
            "--plan; give --out <another folder> to report it now, or let it finish (an interrupted one: "
            "transfer.py --resume --name <its folder>)"
        )


def started_chunks(folders: list[str], plan: TransferSettings) -> dict[str, set[tuple[str, str, int]]]:
    """The folders of chunks started and not finished (their settings, no summary yet) that train at the plan's
    settings (scenario, training sizes, variant), by name, each with the (algorithm, embedding, seed) runs it trains."""
    started = {}
    for folder in folders:
        files = ExperimentFiles(folder)
        if files.exists(SUMMARY_FILE) or not files.exists(SETTINGS_FILE):
            continue
        try:
            chunk = read_settings(files, files.path(SETTINGS_FILE), "delete the folder")
        except SettingsError as error:
            raise ReportError(str(error)) from None
        same = ("scenario", "train_agents", "variant")
        if all(getattr(chunk, key) == getattr(plan, key) for key in same):
            started[chunk.name] = runs_of(chunk)
    return started


def results_page_blocks(found: Experiments, progress: list[str]) -> dict[str, list[str]]:
    """The lines of each block a results page gets, by start marker: the headline table; on spread, TransfQMix's
    occupancy beside the best run's; with `--plan`, the study's progress (`progress`)."""
    blocks = {HEADLINE_START: headline_table(found.rows)}
    if against_transfqmix := transfqmix_table(found.rows, found.episodes):
        blocks[TRANSFQMIX_START] = against_transfqmix
    if progress:
        blocks[PROGRESS_START] = progress
    return blocks


def shared_storage(folders: list[str]) -> str | None:
    """The folder holding every experiment folder of `folders` (the `--storage` of their chunks), if one does."""
    parents = {folder.rstrip("/").rsplit("/", 1)[0] for folder in folders if "/" in folder.rstrip("/")}
    return parents.pop() if len(parents) == 1 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="experiment folders (local paths or s3://...)")
    parser.add_argument(
        "--out",
        help=(
            "where summary.md and the figures go (default: the one folder given, once transfer.py has finished it and "
            "written its own summary.md)"
        ),
    )
    parser.add_argument(
        "--results-page",
        help=(
            f"a Markdown page whose {HEADLINE_START} block gets the headline table (docs/results.md for the study), "
            f"its {TRANSFQMIX_START} block TransfQMix's occupancy beside the best run's (spread), and with --plan its "
            f"{PROGRESS_START} block the study's progress"
        ),
    )
    parser.add_argument(
        "--plan",
        metavar="CONFIG",
        help=(
            "a study's --config file (experiments/configs/study_spread.yaml): the report adds how many of its "
            "(algorithm, embedding, seed) runs the folders complete, and the commands of the chunks still to run"
        ),
    )
    args = parser.parse_args(argv)
    if args.out is None and len(args.folders) > 1:
        print("report.py: error: several folders need --out, the folder for the combined report", file=sys.stderr)
        return 2
    try:
        if args.out is None:
            refuse_unfinished(args.folders[0])
        found = load(args.folders)
        progress = study_progress(found, args.folders, args.plan) if args.plan else []
        results_page = None
        if args.results_page:
            with open(args.results_page) as f:
                results_page = f.read()
            for marker, lines in results_page_blocks(found, progress).items():
                results_page = with_marked_block(results_page, marker, lines, args.results_page)
    except (ReportError, OSError) as error:
        print(f"report.py: error: {error}", file=sys.stderr)
        return 2
    for folder in found.not_yet_evaluated:
        print(f"report.py: skipped {folder}: started, not yet evaluated (no {TransferLedger.FILE})", file=sys.stderr)
    scenario = found.scenario
    metric_names = envs.find_scenario(scenario).metric_names if scenario in envs.scenario_names() else ()
    title = report_title(scenario, found.names)
    out = ExperimentFiles(args.out or args.folders[0])
    summary = summary_markdown(found.rows, found.episodes, title, metric_names)
    if len(found.names) > TITLE_NAMES:  # the title counts them: list them under it
        heading, _, tables = summary.partition("\n")
        summary = f"{heading}\n\nMerged from: {', '.join(found.names)}.\n{tables}"
    summary += curves_markdown(found.curves, found.rows)
    if progress:
        summary += "\n".join(["", "## Study progress", "", *progress, ""])
    summary += provenance_markdown(found.provenance)
    out.write_bytes(SUMMARY_FILE, summary.encode())
    write_figures(out, found.rows, found.episodes, title, metric_names)
    write_curves(out, found.curves, found.rows, title)
    write_study_figures(out, found.rows, found.curves)
    if results_page is not None:
        with open(args.results_page, "w") as f:
            f.write(results_page)
    print(summary)
    print(f"written: {out.uri}/summary.md and the figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
