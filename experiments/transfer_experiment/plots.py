"""Figures of a transfer experiment, with 95% bootstrap bands (`experiments.transfer_experiment.stats`):

- `transfer.png`: against eval team size, one column per phase, one line per run (algorithm x embedding, with the
  training size when there are several); first row the normalised return `(x - random) / (reference - random)` at
  each size, the reference being the scenario's scripted heuristic where the experiment has `heuristic` rows
  (defined even where from-scratch runs are weak), else the same run trained from scratch there with the training
  budget (the raw return when there is neither), then one row per task metric;
- `transfer_embeddings.png`: the normalised return aggregated over algorithms, one line per embedding, one panel per
  phase: does `graph` (or `mean`) transfer better than `concat`?
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import matplotlib
import numpy as np

from experiments.transfer_experiment.report import (
    SCRIPTED_PHASES,
    Cell,
    ExperimentFiles,
    Run,
    learned_phases,
    per_seed_samples,
    phase_title,
    several_train_sizes,
)
from experiments.transfer_experiment.stats import Estimate, mean_estimate, ratio_estimate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def reference_samples(returns: dict[Cell, list[np.ndarray]], run: Run, n: int) -> list[np.ndarray] | None:
    """What 1.0 means in the normalised return at `n` agents: the heuristic's returns there, else `run`'s scratch's."""
    return returns.get(Cell.scripted("heuristic", n)) or returns.get(Cell(*run, n, "scratch"))


def reference_label(returns: dict[Cell, list[np.ndarray]]) -> str:
    return "heuristic" if any(cell.phase == "heuristic" for cell in returns) else "from scratch"


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


def normalised_estimates(returns: dict[Cell, list[np.ndarray]], run: Run, phase: str) -> dict[int, Estimate]:
    """Per eval size: the normalised return of `run` in `phase`, where its reference (`reference_samples`) and the
    random policy were evaluated there."""
    estimates = {}
    for cell, samples in returns.items():
        reference, random = reference_samples(returns, run, cell.n), returns.get(Cell.scripted("random", cell.n))
        if cell.run == run and cell.phase == phase and reference and random:
            estimates[cell.n] = ratio_estimate(samples, reference, random)
    return estimates


def learned_runs(returns: dict[Cell, list[np.ndarray]]) -> list[Run]:
    return sorted({cell.run for cell in returns if cell.phase not in SCRIPTED_PHASES})


def transfer_plot(rows: list[dict], episodes: list[dict], title: str, metric_names: Iterable[str] = ()) -> bytes | None:
    """`transfer.png` (see the module docstring); None when no trial was evaluated."""
    returns = per_seed_samples(rows, episodes, "return")
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
                    points = sorted(normalised_estimates(returns, run, phase).items())
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
    and seeds (each (run, seed) one unit: its return normalised by its reference (`reference_samples`) and random
    means), with a 95% band, against eval team size; one panel per phase. None without a reference or random runs."""
    returns = per_seed_samples(rows, episodes, "return")
    phases = [p for p in learned_phases(cell.phase for cell in returns) if p != "scratch"]  # zero-shot, fine-tuned
    embeddings = sorted({run.embedding for run in learned_runs(returns)})
    sizes = sorted({cell.n for cell in returns})
    pooled: dict[tuple[str, str, int], list[np.ndarray]] = {}
    for cell, samples in returns.items():
        reference, random = reference_samples(returns, cell.run, cell.n), returns.get(Cell.scripted("random", cell.n))
        if cell.phase not in phases or not reference or not random:
            continue
        random_mean = np.mean([s.mean() for s in random])
        scale = np.mean([s.mean() for s in reference]) - random_mean
        units = pooled.setdefault((cell.embedding, cell.phase, cell.n), [])
        units += [np.array([(s.mean() - random_mean) / scale]) for s in samples]
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
        ax.axhline(1.0, linestyle=":", color="black", label=reference_label(returns))
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
