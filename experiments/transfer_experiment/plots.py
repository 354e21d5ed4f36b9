"""Figures of a transfer experiment, with 95% bootstrap bands (`experiments.transfer_experiment.stats`):

- `transfer.png`: against eval team size, one column per phase, one line per algorithm x embedding; first row the
  normalised return `(x - random) / (reference - random)` at each size, the reference being the scenario's scripted
  heuristic where the experiment has `heuristic` rows (defined even where from-scratch runs are weak), else the same
  algorithm and embedding trained from scratch there with the training budget (the raw return when there is
  neither), then one row per task metric;
- `transfer_embeddings.png`: the normalised return aggregated over algorithms, one line per embedding, one panel per
  phase: does `graph` (or `mean`) transfer better than `concat`?
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import matplotlib
import numpy as np

from experiments.transfer_experiment.report import (
    ExperimentFiles,
    learned_phases,
    per_seed_samples,
    phase_title,
)
from experiments.transfer_experiment.stats import Estimate, mean_estimate, ratio_estimate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RANDOM = ("random", "-")
HEURISTIC = ("heuristic", "-")
SCRIPTED = (RANDOM, HEURISTIC)


def reference_samples(returns: dict[tuple, list[np.ndarray]], run: tuple[str, str], n: int) -> list[np.ndarray] | None:
    """What 1.0 means in the normalised return at `n` agents: the heuristic's returns there, else `run`'s scratch's."""
    return returns.get((*HEURISTIC, n, "heuristic")) or returns.get((*run, n, "scratch"))


def reference_label(returns: dict[tuple, list[np.ndarray]]) -> str:
    return "heuristic" if any(key[:2] == HEURISTIC for key in returns) else "from scratch"


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


def normalised_estimates(
    returns: dict[tuple, list[np.ndarray]], run: tuple[str, str], phase: str
) -> dict[int, Estimate]:
    """Per eval size: the normalised return of `run` (algo, embedding) in `phase`, where its reference
    (`reference_samples`) and the random policy were evaluated there."""
    estimates = {}
    for (algo, embedding, n, cell_phase), samples in returns.items():
        reference, random = reference_samples(returns, run, n), returns.get((*RANDOM, n, "random"))
        if (algo, embedding) == run and cell_phase == phase and reference and random:
            estimates[n] = ratio_estimate(samples, reference, random)
    return estimates


def transfer_plot(rows: list[dict], episodes: list[dict], title: str, metric_names: Iterable[str] = ()) -> bytes | None:
    """`transfer.png` (see the module docstring); None when no trial was evaluated."""
    returns = per_seed_samples(rows, episodes, "return")
    phases = learned_phases(key[3] for key in returns)
    if not phases:
        return None
    runs = sorted({key[:2] for key in returns if key[:2] not in SCRIPTED})
    sizes = sorted({key[2] for key in returns})
    normalised = any(key[3] in ("scratch", "heuristic") for key in returns) and any(
        key[:2] == RANDOM for key in returns
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
                    points = [
                        (n, mean_estimate(samples[(*run, n, phase)])) for n in sizes if (*run, n, phase) in samples
                    ]
                if points:
                    _band(ax, points, f"{run[0]} / {run[1]}")
            baseline = [
                (n, mean_estimate(samples[(*RANDOM, n, "random")])) for n in sizes if (*RANDOM, n, "random") in samples
            ]
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
    """`transfer_embeddings.png`: per embedding, the normalised return pooled over algorithms and seeds (each
    (algorithm, seed) one unit: its return normalised by its reference (`reference_samples`) and random means), with
    a 95% band, against eval team size; one panel per phase. None without a reference or random runs."""
    returns = per_seed_samples(rows, episodes, "return")
    phases = [p for p in learned_phases(key[3] for key in returns) if p != "scratch"]  # zero-shot, fine-tuned
    embeddings = sorted({key[1] for key in returns if key[:2] not in SCRIPTED})
    sizes = sorted({key[2] for key in returns})
    pooled: dict[tuple[str, str, int], list[np.ndarray]] = {}
    for (algo, embedding, n, phase), samples in returns.items():
        reference, random = reference_samples(returns, (algo, embedding), n), returns.get((*RANDOM, n, "random"))
        if phase not in phases or not reference or not random:
            continue
        random_mean = np.mean([s.mean() for s in random])
        scale = np.mean([s.mean() for s in reference]) - random_mean
        units = pooled.setdefault((embedding, phase, n), [])
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
