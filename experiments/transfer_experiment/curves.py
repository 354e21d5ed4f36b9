"""Learning curves of a transfer experiment: `curves.csv`, `transfer_curves.png`, `transfer_q_bias.png`,
`transfer_q_bias_rel.png`, `transfer_q_bias_ind.png`, `transfer_q_bias_ind_rel.png` and
`transfer_finetune_curves.png`.

Each trial evaluates itself greedily every `--eval-every` env steps (`TeamTrial`,
`rl_algos.common.evaluation.learning_curve`) and reports the points as `curve/<eval agents>/<name>` entries of its
results; here they are gathered from the trials' result histories into one row per (trial, point, eval size), and
drawn: one panel per eval size of the train phase, one line per run (algorithm x embedding, with the training size
when there are several), the mean over seeds of the k-th point with its 95% bootstrap band, as the
heuristic-normalised score `(x - random) / (heuristic - random)` (each seed by the scripted teams' returns on its
own episodes, `experiments.transfer_experiment.yardstick`) where the experiment has both scripted teams at that size,
else the raw return; and, for the learners that estimate values, their `q_bias` (the value estimate of
the greedy team's actions minus the return it then obtained) the same way, raw and relative to the return's size
(`q_bias_rel`, comparable across discounts), and `q_bias_ind` of the learners with an independent estimate besides
(gum, the actor-critics with `unmix`). The fine-tuning trials evaluate on their
own schedule (`--finetune-eval-every`), and their curves start from the zero-shot evaluation at their size: a dip
below it is what an unsafe fine-tuning costs before it helps.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.transfer_experiment.ledgers import ExperimentFiles
from experiments.transfer_experiment.plots import plt, png_bytes
from experiments.transfer_experiment.report import Cell, Run, phase_title, several_train_sizes
from experiments.transfer_experiment.stats import Estimate, mean_estimate
from experiments.transfer_experiment.trial_spec import TrialSpec
from experiments.transfer_experiment.yardstick import Yardstick

if TYPE_CHECKING:
    import pandas as pd  # Tune's results, `metrics_dataframe`

CURVE_PREFIX = "curve/"
KEYS = ("algo", "embedding", "phase", "seed", "train_agents", "point", "env_steps", "eval_agents")
CURVES_FILE = "curves.csv"
CURVE_KEY = ("algo", "embedding", "phase", "seed", "train_agents", "eval_agents")  # one curve: its points' rows
# (column, fine-tuning curves?) -> the figure drawing it
FIGURES = {
    ("return_mean", False): "transfer_curves.png",
    ("q_bias_mean", False): "transfer_q_bias.png",
    ("q_bias_rel_mean", False): "transfer_q_bias_rel.png",
    ("q_bias_ind_mean", False): "transfer_q_bias_ind.png",
    ("q_bias_ind_rel_mean", False): "transfer_q_bias_ind_rel.png",
    ("return_mean", True): "transfer_finetune_curves.png",
}


def curve_rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    """The curve points in Tune results (their `metrics_dataframe`s): one row per (trial, point, eval size), with
    `point` the point's rank in its trial."""
    rows = []
    for result in results:
        frame = getattr(result, "metrics_dataframe", None)
        if frame is None or frame.empty:
            continue
        frame = last_timeline(frame)
        spec = TrialSpec.from_dict(result.config["trial"])
        columns = [c for c in frame.columns if c.startswith(CURVE_PREFIX)]
        sizes = sorted({int(c.split("/")[1]) for c in columns})
        points = 0
        for _, record in frame.iterrows():
            measured = [n for n in sizes if _number(record.get(f"{CURVE_PREFIX}{n}/return_mean"))]
            for n in measured:
                row = {
                    "algo": spec.settings.run_algo(spec.algo),
                    "embedding": spec.embedding,
                    "phase": spec.result_phase,
                    "seed": spec.seed,
                    "train_agents": spec.settings.train_label,  # as in transfer.csv: the run's, in every phase
                    "point": points,
                    "env_steps": int(record["num_env_steps_sampled_lifetime"]),
                    "eval_agents": n,
                }
                prefix = f"{CURVE_PREFIX}{n}/"
                row |= {c[len(prefix) :]: record[c] for c in columns if c.startswith(prefix) and _number(record[c])}
                rows.append(row)
            points += bool(measured)
    return rows


def last_timeline(frame: pd.DataFrame) -> pd.DataFrame:
    """A trial's results (its `metrics_dataframe`) as the run that produced its last checkpoint saw them: a trial
    restored from a checkpoint taken at iteration k repeats iterations k+1 onwards, and the results it had reported
    past k before it stopped (of a policy no later row descends from) are dropped."""
    if "training_iteration" not in frame:
        return frame
    iterations = frame["training_iteration"].to_numpy()
    later_min = np.minimum.accumulate(iterations[::-1])[::-1]  # [i]: the lowest iteration at or after row i
    superseded = np.append(iterations[:-1] >= later_min[1:], False)
    return frame[~superseded]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def kept_curves(files: ExperimentFiles, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The experiment's learning curves: `current` (gathered from the Tune results now) and every curve of the
    folder's `curves.csv` that `current` does not hold, e.g. of a phase whose Tune state was moved aside, so a
    resumed run keeps every curve its `transfer.csv` rows came with."""
    measured = {curve_key(row) for row in current}
    return [row for row in files.read_rows(CURVES_FILE) if curve_key(row) not in measured] + current


def curve_columns(rows: list[dict[str, Any]]) -> list[str]:
    """`curves.csv`'s columns: the key columns, then every measured column in the order first seen."""
    return list(dict.fromkeys([*KEYS, *(key for row in rows for key in row)]))


def curve_key(row: dict[str, Any]) -> tuple[str, ...]:
    """The curve a row is a point of (a trial's curve at one eval size)."""
    return tuple(str(row[key]) for key in CURVE_KEY)


def curves_plot(
    rows: list[dict[str, Any]],
    ledger_rows: list[dict],
    title: str,
    column: str = "return_mean",
    finetuning: bool = False,
) -> bytes | None:
    """The train phase's curves of `column` (see the module docstring), one panel per eval size and one line per
    run; or with `finetuning` the fine-tuning trials', one row of panels per run (one panel per fine-tuning size,
    one line per strategy, each starting from its zero-shot evaluation at env step 0). `return_mean` is normalised
    by the scripted teams where both were evaluated, any other column (`q_bias_mean`) raw with 0 marked; None
    without any point."""
    if finetuning:
        curves = [row for row in rows if row["phase"].startswith("finetune") and str(row.get(column, "")) != ""]
    else:
        curves = [row for row in rows if row["phase"] == "train" and str(row.get(column, "")) != ""]
    if not curves:
        return None
    yardstick = Yardstick(ledger_rows) if column == "return_mean" else None
    sizes = sorted({int(row["eval_agents"]) for row in curves})
    trained_at = several_train_sizes(curve_run(row) for row in curves)
    panel_rows = sorted({curve_run(row) for row in curves}) if finetuning else [None]
    figure, axes = plt.subplots(
        len(panel_rows), len(sizes), figsize=(5 * len(sizes), 3.8 * len(panel_rows)), squeeze=False
    )
    for axes_row, run in zip(axes, panel_rows, strict=True):
        run_curves = [row for row in curves if run is None or curve_run(row) == run]
        for ax, n in zip(axes_row, sizes, strict=True):
            series = panel_series(run_curves, ledger_rows, n, column, finetuning, yardstick)
            for (line_run, phase), points in series.items():
                label = phase_title(phase) if finetuning else line_run.label(trained_at)
                line = ax.plot([x for x, _ in points], [e.point for _, e in points], marker=".", label=label)
                low, high = [e.low for _, e in points], [e.high for _, e in points]
                ax.fill_between([x for x, _ in points], low, high, alpha=0.15, color=line[0].get_color())
            normalised = yardstick is not None and yardstick.scaling(n) is not None
            _finish_panel(ax, column, normalised, n, run.label(trained_at) if run else None)
        labelled = [ax for ax in axes_row if ax.get_legend_handles_labels()[0]]
        if labelled:
            labelled[-1].legend(fontsize="small")
    what = "fine-tuning curves" if finetuning else "learning curves"
    figure.suptitle(f"{what if column == 'return_mean' else column.removesuffix('_mean')}: {title}")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / figure.get_figheight()))  # 0.4 inch for the title
    return png_bytes(figure)


def _finish_panel(ax: Any, column: str, normalised: bool, n: int, fine_tuned_run: str | None) -> None:
    """Reference lines, labels and the title of one panel at `n` agents (of `fine_tuned_run`'s fine-tuning)."""
    if normalised:
        ax.axhline(1.0, linestyle=":", color="black", label="heuristic")
        ax.axhline(0.0, linestyle="--", color="grey", label="random")
        ax.set_ylabel("(return - random) / (heuristic - random)")
    elif column == "return_mean":
        ax.set_ylabel("greedy return")
    else:
        ax.axhline(0.0, linestyle="--", color="grey")
        gap = "(value estimate - return) / |return|" if column.endswith("_rel_mean") else "value estimate - return"
        ax.set_ylabel(f"{column.removesuffix('_mean')} ({gap})")
    ax.set_title(f"{fine_tuned_run}, fine-tuned at {n} agents" if fine_tuned_run else f"evaluated at {n} agents")
    ax.set_xlabel("fine-tuning env steps" if fine_tuned_run else "env steps")
    ax.grid(alpha=0.3)


def panel_series(
    curves: list[dict[str, Any]],
    ledger_rows: list[dict],
    n: int,
    column: str,
    finetuning: bool,
    yardstick: Yardstick | None = None,
) -> dict[tuple[Run, str], list[tuple[float, Estimate]]]:
    """Per (run, phase) of `curves` at `n` agents: the k-th points' mean env step and mean `column` over seeds with
    its 95% interval, each seed's value normalised by its `yardstick` where one is given; a fine-tuning curve starts
    with its run's zero-shot evaluation at `n` (`ledger_rows`) at env step 0."""

    def value(row: dict) -> float:
        return yardstick.score(float(row[column]), n, row["seed"]) if yardstick else float(row[column])

    series = {}
    for run, phase in sorted({(curve_run(row), row["phase"]) for row in curves}):
        by_point: dict[int, list[tuple[float, float]]] = {}
        for row in curves:
            if row["phase"] == phase and int(row["eval_agents"]) == n and curve_run(row) == run:
                by_point.setdefault(int(row["point"]), []).append((float(row["env_steps"]), value(row)))
        if not by_point:
            continue
        if finetuning:
            start = Cell(*run, n, "zero_shot")
            zero_shot = [row for row in ledger_rows if Cell.of(row) == start and str(row.get(column, "")) != ""]
            by_point[-1] = [(0.0, value(row)) for row in zero_shot]
        series[(run, phase)] = [
            (float(np.mean([x for x, _ in by_point[p]])), mean_estimate([np.array([v]) for _, v in by_point[p]]))
            for p in sorted(p for p in by_point if by_point[p])
        ]
    return series


# per seed s: (start, lowest, end) = the zero-shot score, the fine-tuning curve's lowest point and its last point, each
# scored by seed s's yardstick
def finetune_trajectories(
    curves: list[dict[str, Any]], yardstick: Yardstick
) -> dict[tuple[Run, int, str], dict[str, tuple[float, float, float]]]:
    """Per (run, fine-tuning size, fine-tuning phase), each seed that has a zero-shot row at that size: its score at
    zero-shot, at the lowest point of its fine-tuning curve and at the curve's end (`Yardstick.score`: heuristic-
    normalised where both scripted teams were evaluated at that size, else the return). Curve rows of other phases, or
    without a return, are left out."""
    per_seed: dict[tuple[Run, int, str], dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in curves:
        if row["phase"].startswith("finetune") and str(row.get("return_mean", "")) != "":
            key = (curve_run(row), int(row["eval_agents"]), row["phase"])
            per_seed[key][str(row["seed"])].append((int(row["point"]), float(row["return_mean"])))
    trajectories = {}
    for (run, n, phase), seeds in per_seed.items():
        zero_shot = yardstick.means.get(Cell(*run, n, "zero_shot"), {})
        scores = {}
        for seed, points in seeds.items():
            if seed in zero_shot:
                values = [yardstick.score(value, n, seed) for _, value in sorted(points)]
                scores[seed] = (yardstick.score(zero_shot[seed], n, seed), min(values), values[-1])
        if scores:
            trajectories[run, n, phase] = scores
    return trajectories


def finetune_markdown(rows: list[dict[str, Any]], ledger_rows: list[dict]) -> str:
    """The fine-tuning trials on their way, for `summary.md`: per run, fine-tuning size and strategy, the score at
    zero-shot, at the lowest point of the fine-tuning curve and at its last point, lowest and end minus zero-shot, and
    from scratch at that size minus zero-shot (the room a learner trained at that size leaves: fine-tuning with its
    updates can at best be expected to close it), the differences paired by seed, each a mean over seeds [95%
    interval], and how many seeds end below zero-shot (by 0.005 or more, so below it as the table rounds); the score
    is heuristic-normalised (each seed by its own `Yardstick`) where both scripted teams were evaluated at that size,
    else the return. Empty without a fine-tuning curve of a seed with a zero-shot row."""
    yardstick = Yardstick(ledger_rows)
    trajectories = finetune_trajectories(rows, yardstick)
    if not trajectories:
        return ""
    lines = [
        "",
        "## Fine-tuning on its way",
        "",
        (
            "The score at zero-shot, at the lowest point of the fine-tuning curve (`--finetune-eval-every`) and at its "
            "end, mean over seeds [95% interval], and the seeds that end below zero-shot; the lowest of several noisy "
            "evaluations lies below the curve's level even without a dip, so compare strategies with each other:"
        ),
        "",
        "| algo | embedding | trained at | fine-tuned at | strategy | zero-shot | lowest | end | lowest - zero-shot "
        "| end - zero-shot | from scratch - zero-shot | seeds ending below zero-shot |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (run, n, phase), seeds in sorted(trajectories.items()):
        scratch = yardstick.means.get(Cell(*run, n, "scratch"), {})
        columns: list[list[float]] = [[], [], [], [], [], []]
        for seed, (start, lowest, end) in seeds.items():
            for column, value in zip(columns[:5], (start, lowest, end, lowest - start, end - start), strict=True):
                column.append(value)
            if seed in scratch:
                columns[5].append(yardstick.score(scratch[seed], n, seed) - start)
        cells = [str(mean_estimate([np.array([v]) for v in column])) if column else "-" for column in columns]
        cells.append(f"{sum(round(gain, 2) < 0 for gain in columns[4])} of {len(columns[4])}")
        strategy = phase.partition(":")[2] or "-"
        lines.append(f"| {run.algo} | {run.embedding} | {run.train} | {n} | {strategy} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


# q_bias = mean over steps (V_hat(s_t, greedy u_t) - G_t), G_t the discounted return the greedy team then obtains;
# q_bias_rel = q_bias / mean_t |G_t|; the _ind columns of the independent estimate (gum, `unmix`)
Q_BIAS_COLUMNS = ("q_bias", "q_bias_rel", "q_bias_ind", "q_bias_ind_rel")


def _float(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column, "")
    return None if value in ("", None) or not math.isfinite(float(value)) else float(value)


def q_bias_markdown(rows: list[dict[str, Any]]) -> str:
    """The value estimates at the end of training, for `summary.md` (question (b): does a learner's estimate stay at
    or below the return it obtains?): per run and eval size, each seed's last train-curve point of `Q_BIAS_COLUMNS`
    (those some run reports), mean over the seeds that report it [95% interval], with the number of seeds. Empty when
    no learner reports `q_bias`."""
    last: dict[tuple[Run, int, str], dict[str, Any]] = {}
    for row in rows:
        if row["phase"] != "train" or _float(row, "q_bias_mean") is None:
            continue
        key = (curve_run(row), int(row["eval_agents"]), str(row["seed"]))
        if key not in last or int(row["point"]) > int(last[key]["point"]):
            last[key] = row
    if not last:
        return ""
    columns = [c for c in Q_BIAS_COLUMNS if any(_float(row, f"{c}_mean") is not None for row in last.values())]
    per_cell: dict[tuple[Run, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (run, n, _), row in last.items():
        for column in columns:
            if (value := _float(row, f"{column}_mean")) is not None:
                per_cell[run, n][column].append(value)
    lines = [
        "",
        (
            "Value estimates at the end of training: each seed's last train-curve point (the greedy team's value "
            "estimate minus the return it then obtained; `_rel` relative to the return's size, comparable across "
            "discounts; `_ind` the independent estimate), mean over seeds [95% interval] (seeds):"
        ),
        "",
        f"| algo | embedding | trained at | eval agents | {' | '.join(f'`{c}`' for c in columns)} |",
        "| --- | --- | ---: | ---: |" + " ---: |" * len(columns),
    ]
    for (run, n), values in sorted(per_cell.items()):
        cells = [
            f"{mean_estimate([np.array([v]) for v in values[c]])} ({len(values[c])})" if values[c] else "-"
            for c in columns
        ]
        lines.append(f"| {run.algo} | {run.embedding} | {run.train} | {n} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def curves_markdown(rows: list[dict[str, Any]], ledger_rows: list[dict]) -> str:
    """What `summary.md` says of the learning curves: the fine-tuning trials on their way (`finetune_markdown`) and
    the value estimates at the end of training (`q_bias_markdown`)."""
    return finetune_markdown(rows, ledger_rows) + q_bias_markdown(rows)


def curve_run(row: dict[str, Any]) -> Run:
    """The run a curve row is of."""
    return Run(row["algo"], row["embedding"], str(row["train_agents"]))


def write_curves(files: ExperimentFiles, rows: list[dict[str, Any]], ledger_rows: list[dict], title: str) -> None:
    """`curves.csv` and the figures of its columns in `FIGURES` that some point has; nothing without points."""
    if not rows:
        return
    files.write_rows(CURVES_FILE, curve_columns(rows), rows)
    for (column, finetuning), name in FIGURES.items():
        if (figure := curves_plot(rows, ledger_rows, title, column, finetuning)) is not None:
            files.write_bytes(name, figure)
