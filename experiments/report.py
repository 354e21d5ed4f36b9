"""Re-render a transfer experiment's `summary.md` and figures (`transfer.png`, `transfer_embeddings.png`) from its
CSVs, or compare several experiments (made on different machines or days) in one table.

    python experiments/report.py results/spread-20261122-081500                 # re-render in place
    python experiments/report.py results/run-a s3://bucket/marl/run-b --out results/compare

Each folder (local or `s3://...`) is an experiment folder of `experiments/transfer.py`: its `transfer.csv`,
`transfer_episodes.csv` (when present) and `settings.yaml`. The experiments must share a scenario; an evaluation
(algo, embedding, train size, eval size, phase, seed) found in two folders is taken from the later one.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import defaultdict

import yaml

import envs
from experiments.transfer_experiment.plots import write_figures
from experiments.transfer_experiment.report import (
    EpisodeLedger,
    ExperimentFiles,
    TransferLedger,
    row_key,
    summary_markdown,
)

SETTINGS_FILE = "settings.yaml"


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


def load(folders: list[str]) -> tuple[str, list[dict], list[dict], list[str]]:
    """(scenario, evaluation rows, episode rows, experiment names) of the experiment folders, later folders
    overriding earlier ones row by row."""
    scenarios, rows, episodes, names = set(), {}, {}, []
    for folder in folders:
        files = ExperimentFiles(folder)
        if not files.exists(TransferLedger.FILE):
            raise ReportError(f"{folder}: no {TransferLedger.FILE}; give the folder of a transfer experiment")
        settings = yaml.safe_load(files.read_text(SETTINGS_FILE)) if files.exists(SETTINGS_FILE) else {}
        names.append(settings.get("name") or folder.rstrip("/").rsplit("/", 1)[-1])
        folder_rows = _read_rows(files, TransferLedger.FILE)
        scenarios.update(row["scenario"] for row in folder_rows if row["scenario"] != "-")
        rows.update({row_key(row): row for row in folder_rows})
        folder_episodes = defaultdict(list)
        for row in _read_rows(files, EpisodeLedger.FILE):
            folder_episodes[row_key(row)].append(row)
        episodes.update(folder_episodes)
    if len(scenarios) > 1:
        raise ReportError(f"the experiments are on different scenarios ({', '.join(sorted(scenarios))}); compare one")
    scenario = scenarios.pop() if scenarios else "-"
    return scenario, list(rows.values()), [row for group in episodes.values() for row in group], names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="experiment folders (local paths or s3://...)")
    parser.add_argument("--out", help="where summary.md and the figures go (default: the one folder given)")
    args = parser.parse_args(argv)
    if args.out is None and len(args.folders) > 1:
        print("report.py: error: several folders need --out, the folder for the combined report", file=sys.stderr)
        return 2
    try:
        scenario, rows, episodes, names = load(args.folders)
    except ReportError as error:
        print(f"report.py: error: {error}", file=sys.stderr)
        return 2
    metric_names = envs.find_scenario(scenario).metric_names if scenario in envs.scenario_names() else ()
    title = f"{scenario}: {', '.join(names)}"
    out = ExperimentFiles(args.out or args.folders[0])
    summary = summary_markdown(rows, episodes, title, metric_names)
    out.write_bytes("summary.md", summary.encode())
    write_figures(out, rows, episodes, title, metric_names)
    print(summary)
    print(f"written: {out.uri}/summary.md and the figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
