"""A transfer experiment's `summary.md` and the tables it is made of (the zero-shot matrices, the headline table,
the paired differences), from the rows of its ledgers (`experiments.transfer_experiment.ledgers`); the figures are
in `experiments.transfer_experiment.plots`."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from experiments.transfer_experiment.cells import SCRIPTED_PHASES, Cell, Run
from experiments.transfer_experiment.stats import (
    IQM_MIN_SEEDS,
    difference_estimate,
    iqm_estimate,
    mean_estimate,
    ratio_estimate,
)
from experiments.transfer_experiment.yardstick import Yardstick

PHASE_TITLES = {"zero_shot": "zero-shot", "finetune": "fine-tuned", "scratch": "from scratch"}


def phase_title(phase: str) -> str:
    """A learned phase's title: `zero-shot`, `fine-tuned` (`fine-tuned (kl)` for `finetune:kl`, one of several
    strategies), `from scratch`."""
    base, _, strategy = phase.partition(":")
    return f"{PHASE_TITLES[base]} ({strategy})" if strategy else PHASE_TITLES[base]


def is_finetune(phase: str) -> bool:
    """Whether `phase` is a fine-tuning one: `finetune`, or `finetune:<strategy>` for each of several."""
    return phase.partition(":")[0] == "finetune"


def finetune_phases(phases: Iterable[str]) -> list[str]:
    """The fine-tuning phases among `phases` (`is_finetune`), sorted."""
    return sorted({p for p in phases if is_finetune(p)})


def learned_phases(phases: Iterable[str]) -> list[str]:
    """The learned policies' phases among `phases` in table order: zero-shot, each fine-tuning, from scratch."""
    phases = set(phases)
    return [p for p in ("zero_shot", *finetune_phases(phases), "scratch") if p in phases]


def several_train_sizes(runs: Iterable[Run]) -> bool:
    """Whether the runs were trained at more than one team size (then labels and figures say which)."""
    return len({run.train for run in runs}) > 1


def seeded_samples(rows: list[dict], episodes: list[dict], column: str) -> dict[Cell, dict[str, np.ndarray]]:
    """Per cell (`Cell`) and seed: the per-episode values of `column` (`return` or a task metric) from
    `transfer_episodes.csv`; a seed without episode rows (an experiment from before that file) contributes its mean
    from `transfer.csv`."""
    per_episode: dict[Cell, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in episodes:
        if row.get(column, "") != "":
            per_episode[Cell.of(row)][str(row["seed"])].append(float(row[column]))
    samples: dict[Cell, dict[str, np.ndarray]] = defaultdict(dict)
    mean_column = "return_mean" if column == "return" else f"{column}_mean"
    for row in rows:
        cell, seed = Cell.of(row), str(row["seed"])
        values = per_episode.get(cell, {}).get(seed)
        if values:
            samples[cell][seed] = np.array(values)
        elif row.get(mean_column, "") != "":
            samples[cell][seed] = np.array([float(row[mean_column])])
    return dict(samples)


def without_seed_names(seeded: dict[Cell, dict[str, np.ndarray]]) -> dict[Cell, list[np.ndarray]]:
    """Per cell, one array of per-episode values per seed (`seeded_samples` without the seeds' names)."""
    return {cell: list(per_seed.values()) for cell, per_seed in seeded.items()}


def per_seed_samples(rows: list[dict], episodes: list[dict], column: str) -> dict[Cell, list[np.ndarray]]:
    """Per cell (`Cell`): one array per seed of the per-episode values of `column` (`seeded_samples`)."""
    return without_seed_names(seeded_samples(rows, episodes, column))


def _cell(samples: list[np.ndarray] | None) -> str:
    if not samples:
        return "-"
    text = str(mean_estimate(samples))
    iqm = iqm_estimate(samples)
    return text if iqm is None else f"{text}; IQM {iqm}"


def finetune_verdict(finetuned: list[np.ndarray] | None, zero_shot: list[np.ndarray] | None) -> str:
    """Whether fine-tuning beat zero-shot: `better` or `worse` when the 95% interval of the difference of their means
    excludes 0, else `same`; with the difference."""
    if not finetuned or not zero_shot:
        return "-"
    difference = difference_estimate(finetuned, zero_shot)
    word = "better" if difference.low > 0 else ("worse" if difference.high < 0 else "same")
    return f"{word} ({difference.point:+.2f})"


# a percentile bootstrap over k seeds' means never leaves their range, so with few seeds it covers less than 95%
FEW_SEEDS_CAVEAT = (
    f" A cell over 2 to {IQM_MIN_SEEDS - 1} seeds has an interval that lies within its seeds' range (with 2 seeds it"
    " is their range): read it as the seeds' spread, narrower than a 95% interval over more seeds would be."
)


def _ratio(zero_shot, scratch, random) -> str:
    if not zero_shot or not scratch or not random:
        return "-"
    if mean_estimate(scratch).low <= mean_estimate(random).high:
        return "n/a*"
    return str(ratio_estimate(zero_shot, scratch, random))


def _mean_text(samples: dict[Cell, list[np.ndarray]], cell: Cell) -> str:
    return str(mean_estimate(samples[cell])) if cell in samples else "-"


def zero_shot_matrix(runs: list[Run], sizes: list[int], cell_text) -> list[str]:
    """A table of the zero-shot phase, trained-at x evaluated-at (TransfQMix's layout): one row per run, one column
    per eval size, each cell `cell_text(Cell)`."""
    lines = [
        f"| algo | embedding | trained at | {' | '.join(f'at {n}' for n in sizes)} |",
        "| --- | --- | ---: |" + " ---: |" * len(sizes),
    ]
    for run in runs:
        cells = [cell_text(Cell(*run, n, "zero_shot")) for n in sizes]
        lines.append(f"| {run.algo} | {run.embedding} | {run.train} | {' | '.join(cells)} |")
    return lines


def _signed(value: float) -> str:
    return "0.00" if round(value, 2) == 0 else f"{value:+.2f}"


BASELINE_EMBEDDING = "concat"
BASELINE_FINETUNE = "finetune:naive"


# d_s = score_s(cell) - score_s(baseline), paired by seed s (the same seed's runs play the same evaluation episodes)
def paired_difference(yardstick: Yardstick, cell: Cell, baseline: Cell) -> str | None:
    """`cell`'s normalised score minus `baseline`'s, paired by seed: `mean [95% interval over seeds] (seeds)`; None
    without a seed scored in both."""
    mine, theirs = yardstick.scores(cell), yardstick.scores(baseline)
    paired = [mine[seed] - theirs[seed] for seed in mine if seed in theirs]
    if not paired:
        return None
    estimate = mean_estimate([np.array([d]) for d in paired])
    return f"{_signed(estimate.point)} [{estimate.low:+.2f}, {estimate.high:+.2f}] ({len(paired)})"


def _differences_table(labels: list[str], rows: dict[tuple[str, ...], dict[int, str]], sizes: list[int]) -> list[str]:
    """A table of `paired_difference` texts: the `labels` columns, then one column per size some row has a cell at."""
    if not rows:
        return []
    columns = [n for n in sizes if any(n in cells for cells in rows.values())]
    lines = [
        f"| {' | '.join(labels)} | {' | '.join(f'at {n}' for n in columns)} |",
        "|" + " --- |" * len(labels) + " ---: |" * len(columns),
    ]
    for label, cells in rows.items():
        lines.append(f"| {' | '.join(label)} | {' | '.join(cells.get(n, '-') for n in columns)} |")
    return lines


def embedding_differences_table(
    runs: list[Run], yardstick: Yardstick, sizes: list[int], phases: list[str]
) -> list[str]:
    """Question (a) per algorithm: each other embedding's normalised score minus `concat`'s (`paired_difference`) per
    phase and eval size (from scratch beside the training size, where it is the train run), one row per (algorithm,
    training size, embedding, phase) with a pair; empty without an algorithm trained with `concat` and another
    embedding."""
    rows: dict[tuple[str, ...], dict[int, str]] = {}
    for run in runs:
        baseline = Run(run.algo, BASELINE_EMBEDDING, run.train)
        if run.embedding == BASELINE_EMBEDDING or baseline not in runs:
            continue
        for phase in phases:
            for n in sizes:
                if phase == "scratch" and str(n) == run.train:
                    continue  # the train run itself, zero-shot's row at its own size
                if text := paired_difference(yardstick, Cell(*run, n, phase), Cell(*baseline, n, phase)):
                    rows.setdefault((run.algo, run.train, run.embedding, phase_title(phase)), {})[n] = text
    return _differences_table(["algo", "trained at", "embedding", "phase"], rows, sizes)


def finetune_differences_table(runs: list[Run], yardstick: Yardstick, sizes: list[int], phases: list[str]) -> list[str]:
    """Question (c) per run: each fine-tuning strategy's end score minus `naive`'s (`paired_difference`) at each
    fine-tuning size: does a strategy built to be safe end above plain fine-tuning? Empty without `naive`."""
    rows: dict[tuple[str, ...], dict[int, str]] = {}
    for run in runs:
        for phase in phases:
            if phase == BASELINE_FINETUNE:
                continue
            for n in sizes:
                if text := paired_difference(yardstick, Cell(*run, n, phase), Cell(*run, n, BASELINE_FINETUNE)):
                    rows.setdefault((run.algo, run.embedding, run.train, phase_title(phase)), {})[n] = text
    return _differences_table(["algo", "embedding", "trained at", "strategy"], rows, sizes)


def widely_run(run_phases: Iterable[tuple[Run, str]]) -> list[str]:
    """The phases among (run, phase) pairs that more than half of the pairs' runs have, sorted: the study's fine-tuning
    strategies, without the probes and relabelled reruns only a few runs have."""
    run_phases = set(run_phases)
    runs = {run for run, _ in run_phases}
    counts = defaultdict(int)
    for _, phase in run_phases:
        counts[phase] += 1
    return sorted(phase for phase, count in counts.items() if 2 * count > len(runs))


def _gains_text(yardstick: Yardstick, run: Run, n: int, finetunes: list[str], zero_shot: dict[str, float]) -> str:
    """Each strategy's end minus zero-shot at `n`, paired by seed, joined by ` / `: `+0.02 / -0.01`, with the number of
    seeds where fewer than zero-shot's, once at the end where every strategy has that many (`... (2 seeds)`), else
    after each value (`+0.10 (1) / -0.15`); `-` without any."""
    gains = []
    for phase in finetunes:
        finetuned = yardstick.scores(Cell(*run, n, phase))
        paired = [finetuned[seed] - zero_shot[seed] for seed in finetuned if seed in zero_shot]
        gains.append((_signed(float(np.mean(paired))) if paired else "-", len(paired)))
    counts = {count for _, count in gains if count}
    if not counts:
        return "-"
    if len(counts) == 1 and (count := counts.pop()) < len(zero_shot):
        return " / ".join(text for text, _ in gains) + f" ({count} seed{'s' if count > 1 else ''})"
    return " / ".join(text + (f" ({count})" if 0 < count < len(zero_shot) else "") for text, count in gains)


def headline_table(rows: list[dict]) -> list[str]:
    """The study's headline table (`docs/results.md`, written there by `experiments/report.py --results-page`): one
    row per learned run, the learner named by algorithm and embedding (and training size where it is not the most
    common one); its zero-shot seeds; the normalised zero-shot score's mean over seeds at each size; its ratio at each
    from-scratch size to its training size; from scratch there; and per fine-tuning size the end minus zero-shot of
    each widely run strategy (`widely_run`), paired by seed, with the number of seeds where fewer than zero-shot's.
    Empty without both scripted teams at some size."""
    yardstick = Yardstick(rows)
    cells = [cell for cell in yardstick.means if cell.phase not in SCRIPTED_PHASES and yardstick.scores(cell)]
    if not cells:
        return []
    runs = sorted({cell.run for cell in cells})
    sizes = sorted({cell.n for cell in cells if cell.phase == "zero_shot"})
    scratch_sizes = sorted({cell.n for cell in cells if cell.phase == "scratch" and str(cell.n) != cell.train})
    finetunes = widely_run((cell.run, cell.phase) for cell in cells if is_finetune(cell.phase))
    finetune_sizes = sorted({cell.n for cell in cells if cell.phase in finetunes})
    usual_train = max({run.train for run in runs}, key=lambda train: sum(run.train == train for run in runs))
    strategies = " / ".join(f"`{phase.partition(':')[2]}`" for phase in finetunes)

    def mean(values: dict[str, float]) -> str:
        return f"{np.mean(list(values.values())):.2f}" if values else "-"

    lines = [
        "| learner | seeds | "
        + " | ".join(
            [f"at {n}" for n in sizes]
            + [f"{n} / trained" for n in scratch_sizes]
            + [f"from scratch at {n}" for n in scratch_sizes]
            + [f"fine-tuned at {n}: end - zero-shot, {strategies}" for n in finetune_sizes]
        )
        + " |",
        "| --- | ---: |" + " ---: |" * (len(sizes) + 2 * len(scratch_sizes)) + " --- |" * len(finetune_sizes),
    ]
    for run in sorted(runs, key=lambda run: (run.train != usual_train, run)):
        zero_shot = {n: yardstick.scores(Cell(*run, n, "zero_shot")) for n in sizes}
        seeds = {seed for per_seed in zero_shot.values() for seed in per_seed}
        if not seeds:
            continue
        texts = [mean(zero_shot[n]) for n in sizes]
        for n in scratch_sizes:
            trained = zero_shot.get(int(run.train)) if run.train.isdigit() else None
            texts.append(
                f"{np.mean(list(zero_shot[n].values())) / np.mean(list(trained.values())):.2f}"
                if trained and zero_shot.get(n)
                else "-"
            )
        texts += [mean(yardstick.scores(Cell(*run, n, "scratch"))) for n in scratch_sizes]
        for n in finetune_sizes:
            texts.append(_gains_text(yardstick, run, n, finetunes, yardstick.scores(Cell(*run, n, "zero_shot"))))
        label = f"`{run.algo}` {run.embedding}" + ("" if run.train == usual_train else f", trained at {run.train}")
        lines.append(f"| {label} | {len(seeds)} | {' | '.join(texts)} |")
    return lines


def seeds_table(rows: list[dict], runs: list[Run], phases: list[str]) -> list[str]:
    """A table of which seeds each run has in each learned phase (evaluated at any team size): `2: 0, 1`, or `-`;
    how far a study's chunks are from the seeds it needs."""
    seeds: dict[tuple[Run, str], set[int]] = defaultdict(set)
    for row in rows:
        if row["phase"] not in SCRIPTED_PHASES:
            seeds[Cell.of(row).run, row["phase"]].add(int(row["seed"]))

    def text(run: Run, phase: str) -> str:
        found = sorted(seeds.get((run, phase), ()))
        return f"{len(found)}: {', '.join(map(str, found))}" if found else "-"

    lines = [
        f"| algo | embedding | trained at | {' | '.join(phase_title(phase) for phase in phases)} |",
        "| --- | --- | ---: |" + " --- |" * len(phases),
    ]
    for run in runs:
        lines.append(f"| {run.algo} | {run.embedding} | {run.train} | {' | '.join(text(run, p) for p in phases)} |")
    return lines


def _section(title: str, intro: str, table: list[str]) -> list[str]:
    """A summary section's lines: its heading, one line of what the table holds, the table; none without a table."""
    return ["", f"## {title}", "", intro, "", *table] if table else []


def summary_markdown(rows: list[dict], episodes: list[dict], title: str, metric_names: Iterable[str] = ()) -> str:
    """The summary: per run (algorithm, embedding, training size), at each size it was evaluated at, and phase the
    mean return over seeds with its 95% bootstrap interval (over seeds, or over episodes for one seed; and the
    interquartile mean with 5 or more seeds), the random policy, the transfer ratio with its interval, whether
    fine-tuned beat zero-shot; the heuristic-normalised score; then one such table per task metric, and the
    zero-shot trained-at x evaluated-at matrix of the normalised score and of each task metric; last, the seeds each
    run has in each phase."""
    seeded_returns, yardstick = seeded_samples(rows, episodes, "return"), Yardstick(rows)
    returns = without_seed_names(seeded_returns)
    runs = sorted({cell.run for cell in returns if cell.phase not in SCRIPTED_PHASES})
    sizes = sorted({cell.n for cell in returns})
    run_sizes = {run: sorted({cell.n for cell in returns if cell.run == run}) for run in runs}  # where it was evaluated
    seeds = sorted({int(r["seed"]) for r in rows if r["phase"] not in SCRIPTED_PHASES})
    finetunes = finetune_phases(r["phase"] for r in rows) or ["finetune"]
    phases = ["zero_shot", *finetunes, "scratch"]
    unit = "seeds" if len(seeds) > 1 else "episodes of the one seed"
    few_seeds = any(
        2 <= len(per_seed) < IQM_MIN_SEEDS for cell, per_seed in returns.items() if cell.phase not in SCRIPTED_PHASES
    )
    titles = " | ".join(phase_title(phase) for phase in phases)
    verdicts = " | ".join(f"{phase_title(phase)} vs zero-shot" for phase in finetunes)
    run_columns = "| algo | embedding | trained at | eval agents |"
    run_alignment = "| --- | --- | ---: | ---: |"
    lines = [
        f"# {title}",
        "",
        (
            f"Greedy return over seeds {', '.join(map(str, seeds))}: mean [95% bootstrap interval over {unit}]"
            f"{'; IQM: interquartile mean across seeds' if len(seeds) >= IQM_MIN_SEEDS else ''}. Transfer ratio "
            "`(zero_shot - random) / (scratch - random)` with its interval; fine-tuned vs zero-shot: `better` / "
            "`worse` when the interval of their difference excludes 0, else `same`."
            + (FEW_SEEDS_CAVEAT if few_seeds else "")
        ),
        "",
        f"{run_columns} {titles} | random | heuristic | transfer ratio | {verdicts} |",
        run_alignment + " ---: |" * (len(phases) + 3) + " --- |" * len(finetunes),
    ]
    for run in runs:
        for n in run_sizes[run]:
            cells = {phase: returns.get(Cell(*run, n, phase)) for phase in phases}
            random = returns.get(Cell.scripted("random", n))
            lines.append(
                f"| {run.algo} | {run.embedding} | {run.train} | {n} "
                f"| {' | '.join(_cell(cells[phase]) for phase in phases)} "
                f"| {_cell(random)} | {_cell(returns.get(Cell.scripted('heuristic', n)))} "
                f"| {_ratio(cells['zero_shot'], cells['scratch'], random)} "
                f"| {' | '.join(finetune_verdict(cells[phase], cells['zero_shot']) for phase in finetunes)} |"
            )
    has_heuristic = any(cell.phase == "heuristic" for cell in returns)

    def normalised(cell: Cell) -> str:
        return _cell(yardstick.normalise(seeded_returns.get(cell), cell.n))

    if has_heuristic:
        lines += [
            "",
            (
                "Heuristic-normalised score `(x - random) / (heuristic - random)` (1 = the scripted heuristic, "
                "0 = random; each seed by the scripted teams' returns on its own episodes), mean [95% interval]:"
            ),
            "",
            f"{run_columns} {titles} |",
            run_alignment + " ---: |" * len(phases),
        ]
        for run in runs:
            for n in run_sizes[run]:
                cells = [normalised(Cell(*run, n, phase)) for phase in phases]
                lines.append(f"| {run.algo} | {run.embedding} | {run.train} | {n} | {' | '.join(cells)} |")
    if any("n/a*" in line for line in lines):
        footnote = (
            "*n/a: from scratch is not better than random (their intervals overlap), so the ratio would be noise; "
            "train longer or evaluate more episodes."
        )
        lines += ["", footnote]
    metric_samples = {metric: per_seed_samples(rows, episodes, metric) for metric in metric_names}
    metric_samples = {metric: samples for metric, samples in metric_samples.items() if samples}
    for metric, samples in metric_samples.items():
        lines += [
            "",
            f"`{metric}`, mean [95% interval]:",
            "",
            f"{run_columns} {titles} | random | heuristic |",
            run_alignment + " ---: |" * (len(phases) + 2),
        ]
        for run in runs:
            for n in run_sizes[run]:
                cells = [_cell(samples.get(Cell(*run, n, phase))) for phase in phases]
                lines.append(
                    f"| {run.algo} | {run.embedding} | {run.train} | {n} | {' | '.join(cells)} "
                    f"| {_cell(samples.get(Cell.scripted('random', n)))} "
                    f"| {_cell(samples.get(Cell.scripted('heuristic', n)))} |"
                )
    if runs and (has_heuristic or metric_samples):
        lines += ["", "## Zero-shot: trained at x evaluated at", ""]
        if has_heuristic:
            matrix = zero_shot_matrix(runs, sizes, normalised)
            lines += ["Heuristic-normalised score, mean [95% interval]:", "", *matrix]
        for metric, samples in metric_samples.items():
            metric_mean = functools.partial(_mean_text, samples)
            lines += ["", f"`{metric}`, mean [95% interval]:", "", *zero_shot_matrix(runs, sizes, metric_mean)]
    if runs and has_heuristic:
        lines += [
            "",
            "## Overview",
            "",
            (
                "Every run in one row: the normalised score's mean over seeds zero-shot at each size, its ratio at "
                "each from-scratch size to the training size, from scratch there, and each fine-tuning strategy's end "
                "minus zero-shot paired by seed (the strategies most runs have; the seeds it has where fewer than "
                "zero-shot's); the tables above and below give the intervals and every other strategy:"
            ),
            "",
            *headline_table(rows),
        ]
    if has_heuristic:
        lines += _section(
            f"Embeddings against {BASELINE_EMBEDDING}",
            f"Each embedding's normalised score minus the same algorithm's with `{BASELINE_EMBEDDING}`, paired by "
            "seed: mean [95% interval over seeds] (seeds); one seed has no interval:",
            embedding_differences_table(runs, yardstick, sizes, phases),
        )
        lines += _section(
            "Fine-tuning strategies against naive",
            "Each fine-tuning strategy's normalised score at the end minus `naive`'s for the same run and size, paired "
            "by seed: mean [95% interval over seeds] (seeds):",
            finetune_differences_table(runs, yardstick, sizes, finetunes),
        )
    if runs:
        lines += ["", "## Seeds per run", "", "The seeds evaluated in each phase (at any team size):", ""]
        lines += seeds_table(rows, runs, phases)
    return "\n".join(lines) + "\n"
