"""The transfer study's answer figures, one per question of `docs/results.md`, drawn from the rows behind
`summary.md`'s "Overview". Scores are heuristic-normalised, `(x - random) / (heuristic - random)`, each seed by its
own yardstick (`experiments.transfer_experiment.yardstick`). Lines and bars are means over seeds, and each seed is
drawn as a dot rather than as an interval: over 2 to 4 seeds a bootstrap interval is only the seeds' range.

- `study_embeddings.png`, question (a): one panel per algorithm trained with several team embeddings at one size.
  Each embedding's zero-shot score against the eval team size is a line; its from-scratch score at each size it
  was trained at from scratch is a hollow marker.
- `study_q_bias.png`, question (b): the value learners' `q_bias_rel` over training, one panel per eval size, one
  line per run (its independent estimate `q_bias_ind_rel` dashed, where it has one). Only runs trained at the size
  most of them were trained at are drawn, so that the lines compare learners, not training sizes, and none of a
  learner whose critics learn the soft return (`SOFT_RETURN_LEARNERS`): their estimate holds the policy's entropy
  bonus, which the return obtained does not, so it is not an over-estimate to compare (`summary.md` still lists it).
- `study_finetune.png`, question (c): one panel per fine-tuning size, one group per run, one bar per strategy: the
  fine-tuned score at the end minus the zero-shot score at that size, paired by seed, and, where the fine-tuning
  trials have curves, a triangle at the mean of the curve's lowest point minus zero-shot (how far it fell on its
  way: how safe it was). Only strategies run for more than half of the fine-tuned runs are drawn; probes and reruns
  kept under labels of their own stay in `summary.md`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from experiments.transfer_experiment.cells import Cell, Run
from experiments.transfer_experiment.curves import curve_run, finetune_trajectories, panel_series
from experiments.transfer_experiment.ledgers import ExperimentFiles
from experiments.transfer_experiment.plots import learned_runs, plt, png_bytes
from experiments.transfer_experiment.report import is_finetune, phase_title, widely_run
from experiments.transfer_experiment.yardstick import Yardstick

# the docs page shows a figure about 800 px wide: three panels of 3.8 inches keep a 10-point label near 10 px there
PANELS_PER_ROW = 3
PANEL_INCHES = (3.8, 3.3)
ZERO_LINE = {"color": "grey", "linestyle": "--", "linewidth": 1}
# learners whose critics learn the soft return, entropy bonus included (Central-V SAC): left out of study_q_bias.png
SOFT_RETURN_LEARNERS = frozenset({"central_v_sac"})


def _seed_dots(ax: Any, x: float, values: list[float], color: str) -> None:
    ax.scatter([x] * len(values), values, s=12, color=color, alpha=0.6, zorder=3)


def _panel_grid(panels: int, sharey: bool = False) -> tuple[Any, np.ndarray, np.ndarray]:
    """A figure of `panels` panels, `PANELS_PER_ROW` to a row: (figure, the panels, the grid's unused slots)."""
    columns = min(panels, PANELS_PER_ROW)
    rows = -(-panels // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows), squeeze=False, sharey=sharey
    )
    return figure, grid.flat[:panels], grid.flat[panels:]


def _legend_entries(axes: Any) -> tuple[list, list[str]]:
    """The handles and labels of all `axes`, each label once, for one legend of the figure."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries)


def _run_tick(run: Run) -> str:
    """A run's tick label, a line per part: algorithm, variant (`maddpg+unmix-inverse`: `+unmix-inverse`), embedding."""
    algo, plus, variant = run.algo.partition("+")
    return "\n".join(filter(None, (algo, plus + variant, run.embedding)))


def embeddings_figure(rows: list[dict]) -> bytes | None:
    """`study_embeddings.png` (see the module docstring); None without an algorithm trained with several embeddings
    and scored against both scripted teams."""
    yardstick = Yardstick(rows)
    runs = learned_runs(Cell.of(row) for row in rows)
    families: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        families[run.algo, run.train].append(run)
    families = {key: members for key, members in families.items() if len(members) > 1}
    evaluated = {cell for cell in yardstick.means if cell.phase == "zero_shot" and yardstick.scores(cell)}
    if not any(cell.run in members for cell in evaluated for members in families.values()):
        return None
    figure, axes, spare = _panel_grid(len(families), sharey=True)
    for ax, ((algo, train), members) in zip(axes, sorted(families.items()), strict=True):
        sizes = sorted({cell.n for cell in evaluated if cell.run in members})
        for index, run in enumerate(members):
            color = f"C{index}"
            zero_shot = {n: yardstick.scores(Cell(*run, n, "zero_shot")) for n in sizes}
            points = [(n, list(per_seed.values())) for n, per_seed in zero_shot.items() if per_seed]
            seeds = len({seed for per_seed in zero_shot.values() for seed in per_seed})
            ax.plot(
                [n for n, _ in points],
                [np.mean(v) for _, v in points],
                marker="o",
                color=color,
                label=f"{run.embedding} ({seeds} seeds)",
            )
            for n, values in points:
                _seed_dots(ax, n, values, color)
            for n in sizes:
                if str(n) != train and (scratch := list(yardstick.scores(Cell(*run, n, "scratch")).values())):
                    ax.scatter([n], [np.mean(scratch)], s=70, facecolors="none", edgecolors=color, linewidths=1.5)
        ax.axhline(1.0, linestyle=":", color="black", linewidth=1)
        ax.axhline(0.0, **ZERO_LINE)
        ax.set_title(f"{algo}, trained at {train}", fontsize="medium")
        ax.set_xticks(sizes)
        ax.set_xlabel("eval team size")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower left")
    for ax in spare:
        ax.axis("off")
    axes[0].set_ylabel("(return - random) / (heuristic - random)")
    figure.suptitle("(a) team embeddings: zero-shot score by eval team size (o: from scratch)")
    figure.tight_layout()
    return png_bytes(figure)


def q_bias_curves(curves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The train-phase curve rows reporting `q_bias_rel` of the runs trained at the size most such runs were trained
    at (the first of equally common ones), but those of `SOFT_RETURN_LEARNERS` (a `+variant` of one included);
    empty when no run reports it."""
    reported = [
        row
        for row in curves
        if row["phase"] == "train"
        and str(row.get("q_bias_rel_mean", "")) != ""
        and row["algo"].split("+")[0] not in SOFT_RETURN_LEARNERS
    ]
    if not reported:
        return []
    runs_by_train = Counter(run.train for run in sorted({curve_run(row) for row in reported}))
    train = runs_by_train.most_common(1)[0][0]
    return [row for row in reported if str(row["train_agents"]) == train]


def q_bias_figure(curves: list[dict[str, Any]]) -> bytes | None:
    """`study_q_bias.png` (see the module docstring); None when no run reports `q_bias_rel`."""
    drawn = q_bias_curves(curves)
    if not drawn:
        return None
    train = str(drawn[0]["train_agents"])
    runs = sorted({curve_run(row) for row in drawn})
    sizes = sorted({int(row["eval_agents"]) for row in drawn})
    figure, axes, spare = _panel_grid(len(sizes))
    colors = {run: f"C{index % 10}" for index, run in enumerate(runs)}
    for ax, n in zip(axes, sizes, strict=True):
        for column, style in (("q_bias_rel_mean", "-"), ("q_bias_ind_rel_mean", "--")):
            present = [row for row in drawn if str(row.get(column, "")) != ""]
            for (run, _), points in panel_series(present, [], n, column, finetuning=False).items():
                label = f"{run.algo} / {run.embedding}" + (" (independent)" if style == "--" else "")
                x, y = [x for x, _ in points], [e.point for _, e in points]
                ax.plot(x, y, style, marker=".", color=colors[run], label=label)
        ax.axhline(0.0, **ZERO_LINE)
        ax.set_title(f"evaluated at {n} agents", fontsize="medium")
        ax.set_xlabel("training env steps")
        ax.grid(alpha=0.3)
        ax.set_ylabel("(estimate - return) / |return|")
    figure.suptitle(f"(b) q_bias_rel: value estimate minus the return obtained, trained at {train}, mean over seeds")
    legend_ax = spare[0] if len(spare) else axes[-1]  # an empty slot of the grid, else the last panel
    legend_ax.legend(*_legend_entries(axes), loc="center" if len(spare) else "best", fontsize="small")
    for ax in spare:
        ax.axis("off")
    figure.tight_layout()
    return png_bytes(figure)


# gain_s = score_s(fine-tuned at the end) - score_s(zero-shot), each seed s at the fine-tuning size
def finetune_gains(rows: list[dict]) -> dict[tuple[int, Run, str], list[float]]:
    """Per (fine-tuning size, run, strategy phase): each seed's end minus zero-shot score, over the seeds with both,
    for the strategies run for more than half of the fine-tuned runs; empty where no size has both scripted teams."""
    yardstick = Yardstick(rows)
    gains: dict[tuple[int, Run, str], list[float]] = {}
    for cell in yardstick.means:
        if is_finetune(cell.phase) and (finetuned := yardstick.scores(cell)):
            zero_shot = yardstick.scores(Cell(*cell.run, cell.n, "zero_shot"))
            paired = [finetuned[seed] - zero_shot[seed] for seed in finetuned if seed in zero_shot]
            if paired:
                gains[cell.n, cell.run, cell.phase] = paired
    phases = widely_run((run, phase) for _, run, phase in gains)  # probes and relabelled reruns stay in summary.md
    return {key: values for key, values in gains.items() if key[2] in phases}


# dip_s = score_s(the fine-tuning curve's lowest point) - score_s(zero-shot), each seed s at the fine-tuning size
def finetune_dips(rows: list[dict], curves: list[dict[str, Any]]) -> dict[tuple[int, Run, str], list[float]]:
    """Per (fine-tuning size, run, strategy phase): each seed's lowest fine-tuning curve point minus its zero-shot
    score, over the seeds with both (`curves.finetune_trajectories`)."""
    trajectories = finetune_trajectories(curves, Yardstick(rows))
    return {
        (n, run, phase): [low - start for start, low, _ in seeds.values()]
        for (run, n, phase), seeds in trajectories.items()
    }


def finetune_figure(rows: list[dict], curves: Sequence[dict[str, Any]] = ()) -> bytes | None:
    """`study_finetune.png` (see the module docstring); None without fine-tuned runs scored against both scripted
    teams. Without fine-tuning `curves` the bars are drawn alone."""
    gains = finetune_gains(rows)
    if not gains:
        return None
    dips = finetune_dips(rows, list(curves))
    dip_label = "lowest point on the way (mean)"
    phases = sorted({phase for _, _, phase in gains})
    sizes = sorted({n for n, _, _ in gains})
    runs = sorted({run for _, run, _ in gains})
    width = 0.8 / len(phases)
    figure, axes = plt.subplots(len(sizes), 1, figsize=(max(6.0, 0.7 * len(runs) + 1.5), 3.0 * len(sizes) + 0.8))
    axes = np.atleast_1d(axes)
    for ax, n in zip(axes, sizes, strict=True):
        for j, phase in enumerate(phases):
            drawn = [(i, gains[n, run, phase]) for i, run in enumerate(runs) if (n, run, phase) in gains]
            for k, (i, values) in enumerate(drawn):
                x = i + (j - (len(phases) - 1) / 2) * width
                label = phase_title(phase) if k == 0 else None
                ax.bar(x, np.mean(values), width=width * 0.9, color=f"C{j}", alpha=0.4, label=label)
                _seed_dots(ax, x, values, f"C{j}")
                if (n, runs[i], phase) in dips:
                    dip = np.mean(dips[n, runs[i], phase])
                    ax.scatter([x], [dip], marker="v", s=28, color="black", zorder=4, label=dip_label)
                    dip_label = None
        ax.axhline(0.0, color="black", linewidth=1)
        ax.set_xticks(range(len(runs)), [_run_tick(run) for run in runs], fontsize="small")
        ax.set_ylabel("score - zero-shot")
        ax.set_title(f"fine-tuned at {n} agents", fontsize="medium")
        ax.grid(alpha=0.3, axis="y")
    figure.suptitle(
        "(c) fine-tuning minus zero-shot, paired by seed: the end (bars: mean, dots: seeds) and the lowest point"
    )
    figure.legend(
        *_legend_entries(axes),
        loc="upper center",
        ncols=len(phases) + bool(dips),
        bbox_to_anchor=(0.5, 1 - 0.35 / figure.get_figheight()),
    )
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.45 / figure.get_figheight()))  # room for the legend
    return png_bytes(figure)


def write_study_figures(files: ExperimentFiles, rows: list[dict], curves: list[dict[str, Any]]) -> None:
    """The answer figures the rows support (`study_embeddings.png`, `study_q_bias.png`, `study_finetune.png`)."""
    for name, figure in (
        ("study_embeddings.png", embeddings_figure(rows)),
        ("study_q_bias.png", q_bias_figure(curves)),
        ("study_finetune.png", finetune_figure(rows, curves)),
    ):
        if figure is not None:
            files.write_bytes(name, figure)
