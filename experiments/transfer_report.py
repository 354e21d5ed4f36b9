"""Outputs of a transfer experiment: `transfer.csv` (the ledger of evaluations, appended as they finish, so a
resumed run never repeats or duplicates one), `summary.md` and `transfer.png`. Files go through pyarrow's
filesystems, so `--storage` may be a local folder or a cloud URI such as `s3://bucket/path`."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable

import matplotlib
import numpy as np
import pyarrow.fs

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KEY_COLUMNS = ("algo", "embedding", "scenario", "train_agents", "eval_agents", "phase", "seed")
VALUE_COLUMNS = ("timesteps", "return_mean", "return_std", "episodes", "wall_s")
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS
PHASE_TITLES = {"zero_shot": "zero-shot", "finetune": "fine-tuned", "scratch": "from scratch"}


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
    """Reads and writes the experiment's own files under `<storage>/<name>/`, local or remote."""

    def __init__(self, uri: str):
        self.uri = uri.rstrip("/")
        self.filesystem, self.root = pyarrow.fs.FileSystem.from_uri(self.uri)

    def path(self, name: str) -> str:
        return f"{self.uri}/{name}"

    def exists(self, name: str) -> bool:
        return self.filesystem.get_file_info(f"{self.root}/{name}").type != pyarrow.fs.FileType.NotFound

    def read_text(self, name: str) -> str:
        with self.filesystem.open_input_stream(f"{self.root}/{name}") as stream:
            return stream.read().decode()

    def write_bytes(self, name: str, content: bytes) -> None:
        self.filesystem.create_dir(self.root, recursive=True)
        with self.filesystem.open_output_stream(f"{self.root}/{name}") as stream:
            stream.write(content)


class TransferLedger:
    """`transfer.csv`: one row per (algo, embedding, scenario, train_agents, eval_agents, phase, seed), with the
    return and the scenario's task metrics (`metric_names`, as `<name>_mean`, `<name>_std` columns)."""

    FILE = "transfer.csv"

    def __init__(self, files: ExperimentFiles, metric_names: Iterable[str] = ()):
        self.files = files
        self.columns = COLUMNS + metric_columns(metric_names)
        self.rows: list[dict] = []
        if files.exists(self.FILE):
            self.rows = list(csv.DictReader(io.StringIO(files.read_text(self.FILE))))
        self._keys = {row_key(row) for row in self.rows}

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._keys

    def add(self, rows: Iterable[dict]) -> None:
        """Append rows not yet present and rewrite the file."""
        for row in rows:
            if row_key(row) not in self._keys:
                self.rows.append({column: row.get(column, "") for column in self.columns})
                self._keys.add(row_key(row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        self.files.write_bytes(self.FILE, text.getvalue().encode())


def _standard_errors(rows: list[dict]) -> dict[tuple, float]:
    """Per (algo, embedding, eval_agents, phase): the standard error of the mean return over all its episodes,
    `sqrt(mean_seeds(std^2) / episodes)`."""
    groups: dict[tuple, list[tuple[float, int]]] = defaultdict(list)
    for row in rows:
        key = (row["algo"], row["embedding"], int(row["eval_agents"]), row["phase"])
        groups[key].append((float(row["return_std"]), int(row["episodes"])))
    return {
        key: float(np.sqrt(np.mean([std**2 for std, _ in values]) / sum(n for _, n in values)))
        for key, values in groups.items()
    }


def _seed_means(rows: list[dict]) -> dict[tuple, np.ndarray]:
    """Per (algo, embedding, eval_agents, phase): the seeds' mean returns."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        groups[(row["algo"], row["embedding"], int(row["eval_agents"]), row["phase"])].append(float(row["return_mean"]))
    return {key: np.array(values) for key, values in groups.items()}


def _cell(values: np.ndarray | None) -> str:
    if values is None or len(values) == 0:
        return "-"
    return f"{values.mean():.2f} ± {values.std():.2f}"


def transfer_ratio(zero_shot: float, scratch: float, random: float) -> float:
    """`(zero_shot - random) / (scratch - random)`: 1 when the transferred policy is as good as one trained at that
    size from scratch, 0 when it is no better than acting at random."""
    return (zero_shot - random) / (scratch - random)


def finetune_verdict(finetuned: np.ndarray | None, zero_shot: np.ndarray | None, standard_error: float) -> str:
    """Whether fine-tuning beat zero-shot: `better` or `worse` when the seed means differ by more than two standard
    errors of their difference, else `same`; with the difference in return."""
    if finetuned is None or zero_shot is None:
        return "-"
    difference = finetuned.mean() - zero_shot.mean()
    word = "same" if abs(difference) <= 2 * standard_error else ("better" if difference > 0 else "worse")
    return f"{word} ({difference:+.2f})"


def summary_markdown(rows: list[dict], title: str) -> str:
    """The summary table: mean ± std over seeds of each phase, the random policy, the transfer ratio, and whether
    fine-tuned beat zero-shot."""
    means = _seed_means(rows)
    errors = _standard_errors(rows)
    runs = sorted({(r["algo"], r["embedding"]) for r in rows if r["phase"] != "random"})
    sizes = sorted({int(r["eval_agents"]) for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows if r["phase"] != "random"})
    lines = [
        f"# {title}",
        "",
        (
            f"Greedy return, mean ± std over seeds {', '.join(map(str, seeds))}; transfer ratio "
            "`(zero_shot - random) / (scratch - random)` on the seed means; fine-tuned vs zero-shot: `better` / `worse` "
            "when their means differ by more than two standard errors (over all episodes), else `same`."
        ),
        "",
        (
            "| algo | embedding | eval agents | zero-shot | fine-tuned | from scratch | random | transfer ratio "
            "| fine-tuned vs zero-shot |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for algo, embedding in runs:
        for n in sizes:
            cells = {phase: means.get((algo, embedding, n, phase)) for phase in PHASE_TITLES}
            random = means.get(("random", "-", n, "random"))
            ratio = "-"
            if cells["zero_shot"] is not None and cells["scratch"] is not None and random is not None:
                noise = np.hypot(errors[(algo, embedding, n, "scratch")], errors[("random", "-", n, "random")])
                if cells["scratch"].mean() - random.mean() > 2 * noise:
                    ratio = f"{transfer_ratio(cells['zero_shot'].mean(), cells['scratch'].mean(), random.mean()):.2f}"
                else:
                    ratio = "n/a*"
            verdict = "-"
            if cells["finetune"] is not None and cells["zero_shot"] is not None:
                noise = np.hypot(errors[(algo, embedding, n, "finetune")], errors[(algo, embedding, n, "zero_shot")])
                verdict = finetune_verdict(cells["finetune"], cells["zero_shot"], noise)
            lines.append(
                f"| {algo} | {embedding} | {n} | {_cell(cells['zero_shot'])} | {_cell(cells['finetune'])} "
                f"| {_cell(cells['scratch'])} | {_cell(random)} | {ratio} | {verdict} |"
            )
    if any("n/a*" in line for line in lines):
        footnote = (
            "*n/a: from scratch is not better than random by two standard errors of their difference, so the "
            "ratio would be noise; train longer or evaluate more episodes."
        )
        lines += ["", footnote]
    return "\n".join(lines) + "\n"


def transfer_plot(rows: list[dict], title: str) -> bytes:
    """PNG: return against eval team size, one panel per phase, one line per algo/embedding with a band of ± one
    std over seeds, and the random policy dashed."""
    means = _seed_means(rows)
    phases = [p for p in PHASE_TITLES if any(key[3] == p for key in means)]
    runs = sorted({(key[0], key[1]) for key in means if key[3] != "random"})
    sizes = sorted({key[2] for key in means})
    random = [means[("random", "-", n, "random")].mean() for n in sizes if ("random", "-", n, "random") in means]
    figure, axes = plt.subplots(1, len(phases), figsize=(4.5 * len(phases), 3.8), sharey=True, squeeze=False)
    for ax, phase in zip(axes[0], phases):
        for algo, embedding in runs:
            points = [(n, means[(algo, embedding, n, phase)]) for n in sizes if (algo, embedding, n, phase) in means]
            if not points:
                continue
            x = np.array([n for n, _ in points])
            mean = np.array([v.mean() for _, v in points])
            std = np.array([v.std() for _, v in points])
            ax.plot(x, mean, marker="o", label=f"{algo} / {embedding}")
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        if len(random) == len(sizes):
            ax.plot(sizes, random, color="grey", linestyle="--", label="random")
        ax.set_title(PHASE_TITLES[phase])
        ax.set_xlabel("eval team size")
        ax.set_xticks(sizes)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("greedy return")
    axes[0][-1].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return buffer.getvalue()
