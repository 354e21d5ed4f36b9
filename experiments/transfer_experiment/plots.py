"""Figures of a transfer experiment, with 95% bootstrap bands (`experiments.transfer_experiment.stats`):

- `transfer.png`: against eval team size, one column per phase, one line per run (algorithm x embedding, with the
  training size when there are several); first row the normalised return `(x - random) / (reference - random)` at
  each size, the reference being the scenario's scripted heuristic where the experiment has `heuristic` rows
  (defined even where from-scratch runs are weak), else the same run trained from scratch there with the training
  budget (the raw return when there is neither), each seed by its own yardstick
  (`experiments.transfer_experiment.yardstick`), then one row per task metric;
- `transfer_embeddings.png`: the normalised return aggregated over algorithms, one line per embedding, one panel per
  phase: does `graph` (or `mean`) transfer better than `concat`?
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import matplotlib
import numpy as np

from experiments.transfer_experiment.ledgers import ExperimentFiles
from experiments.transfer_experiment.report import (
    SCRIPTED_PHASES,
    Cell,
    Run,
    learned_phases,
    per_seed_samples,
    phase_title,
    seeded_samples,
    several_train_sizes,
    without_seed_names,
)
from experiments.transfer_experiment.stats import Estimate, mean_estimate
from experiments.transfer_experiment.yardstick import Yardstick

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def reference_cell(yardstick: Yardstick, run: Run, n: int) -> Cell:
    """What 1.0 means in the normalised return at `n` agents: the heuristic there, else `run`'s from-scratch run."""
    heuristic = Cell.scripted("heuristic", n)
    return heuristic if yardstick.has(heuristic) else Cell(*run, n, "scratch")


def reference_label(cells: Iterable[Cell]) -> str:
    return "heuristic" if any(cell.phase == "heuristic" for cell in cells) else "from scratch"


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return buffer.getvalue()


def _band(ax, points: list[tuple[int, Estimate]], label: str) -> None:
    """A line through the point estimates with their intervals as error bars and a light band between them."""
    x = np.array([n for n, _ in points], dtype=float)
    point = np.array([e.point for _, e in points])
    low, high = np.array([e.low for _, e in points]), np.array([e.high for _, e in points])
    line = ax.errorbar(x, point, yerr=[point - low, high - point], marker="o", capsize=3, label=label)
    ax.fill_between(x, low, high, alpha=0.15, color=line[0].get_color())


def normalised_scores(
    seeded: dict[Cell, dict[str, np.ndarray]], yardstick: Yardstick, cell: Cell
) -> list[np.ndarray] | None:
    """`cell`'s per-seed normalised returns (`Yardstick.normalise`, by its reference `reference_cell`); None where
    the reference or the random team was not evaluated at its size."""
    return yardstick.normalise(seeded.get(cell), cell.n, reference_cell(yardstick, cell.run, cell.n))


def normalised_estimates(
    seeded: dict[Cell, dict[str, np.ndarray]], yardstick: Yardstick, run: Run, phase: str
) -> dict[int, Estimate]:
    """Per eval size: the mean normalised return of `run` in `phase` with its interval, where its reference and the
    random policy were evaluated there."""
    estimates = {}
    for cell in seeded:
        if cell.run == run and cell.phase == phase and (scores := normalised_scores(seeded, yardstick, cell)):
            estimates[cell.n] = mean_estimate(scores)
    return estimates


def learned_runs(cells: Iterable[Cell]) -> list[Run]:
    return sorted({cell.run for cell in cells if cell.phase not in SCRIPTED_PHASES})


def transfer_plot(rows: list[dict], episodes: list[dict], title: str, metric_names: Iterable[str] = ()) -> bytes | None:
    """`transfer.png` (see the module docstring); None when no trial was evaluated."""
    seeded, yardstick = seeded_samples(rows, episodes, "return"), Yardstick(rows)
    returns = without_seed_names(seeded)
    phases = learned_phases(cell.phase for cell in returns)
    if not phases:
        return None
    runs = learned_runs(returns)
    trained_at = several_train_sizes(runs)
    sizes = sorted({cell.n for cell in returns})
    normalised = any(cell.phase in ("scratch", "heuristic") for cell in returns) and any(
        cell.phase == "random" for cell in returns
    )
    quantities = ["normalised return" if normalised else "greedy return", *metric_names]
    figure, axes = plt.subplots(
        len(quantities), len(phases), figsize=(4.5 * len(phases), 3.5 * len(quantities)), squeeze=False, sharex=True
    )
    for row, quantity in enumerate(quantities):
        samples = returns if row == 0 else per_seed_samples(rows, episodes, quantity)
        for ax, phase in zip(axes[row], phases, strict=True):
            for run in runs:
                if row == 0 and normalised:
                    points = sorted(normalised_estimates(seeded, yardstick, run, phase).items())
                else:
                    cells = (Cell(*run, n, phase) for n in sizes)
                    points = [(cell.n, mean_estimate(samples[cell])) for cell in cells if cell in samples]
                if points:
                    _band(ax, points, run.label(trained_at))
            randoms = (Cell.scripted("random", n) for n in sizes)
            baseline = [(cell.n, mean_estimate(samples[cell])) for cell in randoms if cell in samples]
            if row > 0 or not normalised:
                if baseline:
                    ax.plot(
                        [n for n, _ in baseline], [e.point for _, e in baseline], "--", color="grey", label="random"
                    )
            else:
                ax.axhline(0.0, linestyle="--", color="grey", label="random")
                ax.axhline(1.0, linestyle=":", color="black", label=reference_label(returns))
            ax.set_title(f"{phase_title(phase)}: {quantity}")
            ax.set_xticks(sizes)
            ax.grid(alpha=0.3)
        axes[row][0].set_ylabel(quantity)
    for ax in axes[-1]:
        ax.set_xlabel("eval team size")
    axes[0][-1].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    return png_bytes(figure)


def embeddings_plot(rows: list[dict], episodes: list[dict], title: str) -> bytes | None:
    """`transfer_embeddings.png`: per embedding, the normalised return pooled over algorithms (and training sizes)
    and seeds (each (run, seed) one unit: its mean normalised return, `normalised_scores`), with a 95% band, against
    eval team size; one panel per phase. None without a reference or random runs."""
    seeded, yardstick = seeded_samples(rows, episodes, "return"), Yardstick(rows)
    phases = [p for p in learned_phases(cell.phase for cell in seeded) if p != "scratch"]  # zero-shot, fine-tuned
    embeddings = sorted({run.embedding for run in learned_runs(seeded)})
    sizes = sorted({cell.n for cell in seeded})
    pooled: dict[tuple[str, str, int], list[np.ndarray]] = {}
    for cell in seeded:
        scores = normalised_scores(seeded, yardstick, cell) if cell.phase in phases else None
        if scores:
            units = pooled.setdefault((cell.embedding, cell.phase, cell.n), [])
            units += [np.array([s.mean()]) for s in scores]
    if not pooled:
        return None
    figure, axes = plt.subplots(1, len(phases), figsize=(4.5 * len(phases), 3.8), squeeze=False, sharey=True)
    for ax, phase in zip(axes[0], phases, strict=True):
        for embedding in embeddings:
            points = [
                (n, mean_estimate(pooled[(embedding, phase, n)])) for n in sizes if (embedding, phase, n) in pooled
            ]
            if points:
                _band(ax, points, embedding)
        ax.axhline(0.0, linestyle="--", color="grey", label="random")
        ax.axhline(1.0, linestyle=":", color="black", label=reference_label(seeded))
        ax.set_title(f"{phase_title(phase)}, over algorithms")
        ax.set_xlabel("eval team size")
        ax.set_xticks(sizes)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("normalised return")
    axes[0][-1].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    return png_bytes(figure)


def write_figures(
    files: ExperimentFiles, rows: list[dict], episodes: list[dict], title: str, metric_names: Iterable[str]
) -> None:
    """`transfer.png` and, with scratch runs, `transfer_embeddings.png`; neither when no trial was evaluated."""
    for name, figure in (
        ("transfer.png", transfer_plot(rows, episodes, title, metric_names)),
        ("transfer_embeddings.png", embeddings_plot(rows, episodes, title)),
    ):
        if figure is not None:
            files.write_bytes(name, figure)
