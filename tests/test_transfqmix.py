"""The study's TransfQMix comparison (`transfer_experiment/transfqmix.py`): which configuration is set beside the
paper's occupancy, and the table's means and ratios against hand-computed ones."""

import csv

from experiments.report import main
from experiments.transfer_experiment.cells import Run
from experiments.transfer_experiment.transfqmix import best_run, transfqmix_table


def row(algo, embedding, n, seed, value, occupied=None, phase="zero_shot", train="3"):
    """A `transfer.csv` row with its return and, optionally, the landmarks occupied within 0.1 (as a mean)."""
    scripted = phase in ("random", "heuristic")
    return {
        "algo": algo,
        "embedding": "-" if scripted else embedding,
        "scenario": "spread",
        "train_agents": "-" if scripted else train,
        "eval_agents": str(n),
        "phase": phase,
        "seed": str(seed),
        "return_mean": value,
        "occupied_landmarks_mean": "" if occupied is None else occupied,
    }


def scripted(seeds):
    return [
        row(p, "-", n, s, v, phase=p)
        for n in (3, 4, 5, 6)
        for s in seeds
        for p, v in (("random", -100.0), ("heuristic", 0.0))
    ]


def test_the_best_run_is_the_highest_score_at_6_among_runs_with_enough_seeds():
    seeds = range(3)
    rows = scripted(seeds)
    rows += [row("qmix", "mean", 6, s, -20.0) for s in seeds]  # 0.80
    rows += [row("vdn", "concat", 6, s, -30.0) for s in seeds]  # 0.70
    rows += [row("iql", "concat", 6, 0, -5.0)]  # 0.95, one seed only
    rows += [row("qmix", "graph", 6, s, -1.0, train="4") for s in seeds]  # trained at 4: not a candidate
    assert best_run(rows) == Run("qmix", "mean", "3")
    assert best_run(scripted(seeds) + [row("iql", "concat", 6, 0, -5.0)]) == Run("iql", "concat", "3")
    assert best_run(scripted(seeds)) is None


def test_the_table_sets_the_papers_occupancy_beside_the_best_runs_means_and_ratio():
    rows = scripted([0, 1])
    for seed, (at_3, at_6) in enumerate(((0.8, 0.5), (0.6, 0.4))):
        rows += [row("qmix", "mean", 3, seed, -10.0, at_3), row("qmix", "mean", 6, seed, -20.0, at_6)]
    table = transfqmix_table(rows, episodes=[])
    assert (
        table[2]
        == "| TransfQMix (its paper, MPE spread, 2.05M env steps) | not stated | - | 0.98 | 0.88 | 0.80 | 0.75 | 0.77 |"
    )
    cells = [cell.strip() for cell in table[3].strip("|").split("|")]
    assert cells[:3] == ["`qmix` mean (the best here at 6)", "0.1", "2"]
    assert cells[3].startswith("0.70 [") and cells[4:6] == ["-", "-"] and cells[6].startswith("0.45 [")
    assert cells[7] == f"{0.45 / 0.70:.2f}"  # the ratio of the means over seeds
    assert len(table) == 4, "only the radii the rows have"
    assert transfqmix_table([{**r, "occupied_landmarks_mean": ""} for r in rows], episodes=[]) == []


def test_the_report_writes_the_comparison_into_the_results_pages_block(tmp_path, capsys):
    folder = tmp_path / "chunk"
    folder.mkdir()
    (folder / "settings.yaml").write_text("name: chunk\nscenario: spread\n")
    (folder / "summary.md").write_text("# spread: chunk\n")  # finished: re-rendered in place
    rows = scripted([0]) + [row("qmix", "mean", n, 0, -10.0, 0.5) for n in (3, 6)]
    rows = [{**r, "timesteps": 100, "return_std": 1.0, "episodes": 1, "wall_s": 1.0} for r in rows]
    with open(folder / "transfer.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    page = tmp_path / "results.md"
    blocks = "<!-- report.py: headline table -->\n<!-- /report.py -->\n<!-- report.py: against TransfQMix -->\n"
    page.write_text(blocks + "stale\n<!-- /report.py -->\n")
    assert main([str(folder), "--results-page", str(page)]) == 0
    text = page.read_text()
    assert "stale" not in text and "| `qmix` mean (the best here at 6) | 0.1 | 1 | 0.50 [" in text
    page.write_text("<!-- report.py: headline table -->\n<!-- /report.py -->\n")
    assert main([str(folder), "--results-page", str(page)]) == 2
    assert "has no <!-- report.py: against TransfQMix -->" in capsys.readouterr().err
