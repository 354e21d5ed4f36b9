"""The files of a transfer experiment under `<storage>/<name>/`: `ExperimentFiles` reads and writes them through
pyarrow's filesystems, so `--storage` may be a local folder or a cloud URI such as `s3://bucket/path`, and the two
ledgers of its evaluations, `transfer.csv` (`TransferLedger`: one row per evaluation, appended as they finish, so a
resumed run never repeats or duplicates one) and `transfer_episodes.csv` (`EpisodeLedger`: one row per episode)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pyarrow.fs

from experiments.transfer_experiment.results_io import csv_bytes

KEY_COLUMNS = ("algo", "embedding", "scenario", "train_agents", "eval_agents", "phase", "seed")
VALUE_COLUMNS = ("timesteps", "return_mean", "return_std", "episodes", "wall_s")
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS


def metric_columns(metric_names: Iterable[str]) -> tuple[str, ...]:
    """The CSV columns of task metrics: `<name>_mean`, `<name>_std` for each."""
    return tuple(f"{name}_{stat}" for name in metric_names for stat in ("mean", "std"))


def evaluation_columns(evaluation: dict) -> dict[str, float]:
    """An evaluation's (`rl_algos.common.evaluate`) CSV values: return mean, std, episodes, and each task metric's
    mean and std over the episodes."""
    values = {
        "return_mean": evaluation["return_mean"],
        "return_std": evaluation["return_std"],
        "episodes": evaluation["episodes"],
    }
    for name, per_episode in evaluation["task_metrics"].items():
        values[f"{name}_mean"] = float(np.mean(per_episode))
        values[f"{name}_std"] = float(np.std(per_episode))
    return values


def row_key(row: dict) -> tuple[str, ...]:
    """The identity of a row: (algo, embedding, scenario, train_agents, eval_agents, phase, seed) as strings."""
    return tuple(str(row[column]) for column in KEY_COLUMNS)


class ExperimentFiles:
    """Reads and writes the experiment's own files under `<storage>/<name>/`, local or remote (a folder relative to
    the working directory is made absolute: pyarrow takes absolute paths or URIs only)."""

    def __init__(self, uri: str):
        uri = str(uri)
        self.uri = (uri if "://" in uri else os.path.abspath(uri)).rstrip("/")
        self.filesystem, self.root = pyarrow.fs.FileSystem.from_uri(self.uri)
        self.local = isinstance(self.filesystem, pyarrow.fs.LocalFileSystem)

    def path(self, name: str) -> str:
        return f"{self.uri}/{name}"

    def exists(self, name: str) -> bool:
        return self.filesystem.get_file_info(f"{self.root}/{name}").type != pyarrow.fs.FileType.NotFound

    def read_text(self, name: str) -> str:
        with self.filesystem.open_input_stream(f"{self.root}/{name}") as stream:
            return stream.read().decode()

    def read_rows(self, name: str) -> list[dict]:
        """The rows of the CSV file `name`, none where it does not exist yet."""
        return list(csv.DictReader(io.StringIO(self.read_text(name)))) if self.exists(name) else []

    def write_rows(self, name: str, columns: Sequence[str], rows: Iterable[dict]) -> None:
        """Replace the CSV file `name` with `rows` under `columns` (a row's missing columns left empty)."""
        self.write_bytes(name, csv_bytes(columns, rows))

    def write_bytes(self, name: str, content: bytes) -> None:
        """Replace `name` with `content` whole or not at all, so a write that fails (a full disk) leaves the previous
        version, e.g. every row of `transfer.csv` so far, intact: on a local disk written beside it, then moved over
        it; an object store (S3, GCS) makes an object visible only when its upload completes."""
        self.filesystem.create_dir(self.root, recursive=True)
        partial = f"{self.root}/{name}.partial" if self.local else f"{self.root}/{name}"
        try:
            with self.filesystem.open_output_stream(partial) as stream:
                stream.write(content)
            if self.local:
                self.filesystem.move(partial, f"{self.root}/{name}")
        except BaseException:
            if self.local and self.filesystem.get_file_info(partial).type != pyarrow.fs.FileType.NotFound:
                self.filesystem.delete_file(partial)
            raise


def set_rows_aside(
    files: ExperimentFiles, name: str, columns: Sequence[str], rows: list[dict], superseded: Callable[[dict], bool]
) -> list[dict]:
    """Append the rows of `rows` (the CSV file `name`'s) that are `superseded` to its superseded file (`transfer.csv`
    -> `transfer_superseded.csv`), then rewrite `name` without them; return the rows kept. The superseded file is
    written first, so a write that fails leaves a row in both files, never in neither."""
    moved = [row for row in rows if superseded(row)]
    if not moved:
        return rows
    stem, extension = name.rsplit(".", 1)
    aside = f"{stem}_superseded.{extension}"
    files.write_rows(aside, columns, files.read_rows(aside) + moved)
    kept = [row for row in rows if not superseded(row)]
    files.write_rows(name, columns, kept)
    return kept


class TransferLedger:
    """`transfer.csv`: one row per (algo, embedding, scenario, train_agents, eval_agents, phase, seed), with the
    return and the scenario's task metrics (`metric_names`, as `<name>_mean`, `<name>_std` columns)."""

    FILE = "transfer.csv"

    def __init__(self, files: ExperimentFiles, metric_names: Iterable[str] = ()):
        self.files = files
        self.columns = COLUMNS + metric_columns(metric_names)
        self.rows = files.read_rows(self.FILE)
        self._keys = {row_key(row) for row in self.rows}

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._keys

    def add(self, rows: Iterable[dict]) -> None:
        """Append rows not yet present and rewrite the file."""
        for row in rows:
            if row_key(row) not in self._keys:
                self.rows.append({column: row.get(column, "") for column in self.columns})
                self._keys.add(row_key(row))
        self.files.write_rows(self.FILE, self.columns, self.rows)

    def set_aside(self, keys: set[tuple[str, ...]]) -> None:
        """Move the rows with `keys` to `transfer_superseded.csv` (evaluations of a checkpoint that is gone, about to
        be made anew: `fresh_start`)."""
        self.rows = set_rows_aside(self.files, self.FILE, self.columns, self.rows, lambda row: row_key(row) in keys)
        self._keys -= keys


class EpisodeLedger:
    """`transfer_episodes.csv`: one row per evaluated episode (the key columns of `transfer.csv`, `episode`, `return`
    and each task metric), the data the summary's intervals resample."""

    FILE = "transfer_episodes.csv"

    def __init__(self, files: ExperimentFiles, metric_names: Iterable[str] = ()):
        self.files = files
        self.metric_names = tuple(metric_names)
        self.columns = (*KEY_COLUMNS, "episode", "return", *self.metric_names)
        self.rows = files.read_rows(self.FILE)

    def add(self, key_row: dict, evaluation: dict) -> None:
        """Append the episodes of one evaluation (`evaluate`'s result) under `key_row`'s key columns."""
        for episode, episode_return in enumerate(evaluation["returns"]):
            row = {column: key_row[column] for column in KEY_COLUMNS}
            row.update(episode=episode, **{"return": episode_return})
            for name in self.metric_names:
                row[name] = evaluation["task_metrics"][name][episode]
            self.rows.append(row)
        self.files.write_rows(self.FILE, self.columns, self.rows)

    def set_aside(self, keys: set[tuple[str, ...]]) -> None:
        """Move the episodes of the evaluations with `keys` to `transfer_episodes_superseded.csv`."""
        self.rows = set_rows_aside(self.files, self.FILE, self.columns, self.rows, lambda row: row_key(row) in keys)
