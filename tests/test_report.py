"""`experiments/report.py` on small synthetic experiment folders: re-rendering one, combining two, refusing a mix."""

import csv

import pytest
import yaml

from experiments.report import main
from experiments.transfer_experiment.ledgers import COLUMNS, KEY_COLUMNS


def write_experiment(folder, scenario, algo, returns, train="3"):
    """A finished experiment folder (its settings and transfer.py's summary) with zero-shot rows of `algo` trained
    at `train` agents, evaluated at 6 for seeds 0, 1 (`returns`), random rows, and two episodes per row."""
    folder.mkdir(parents=True)
    (folder / "settings.yaml").write_text(yaml.safe_dump({"name": folder.name, "scenario": scenario}))
    (folder / "summary.md").write_text(f"# {scenario}: {folder.name}\n")
    rows, episodes = [], []
    for name, embedding, phase, values in (
        (algo, "graph", "zero_shot", returns),
        ("random", "-", "random", [-90, -90]),
    ):
        for seed, value in enumerate(values):
            trained_at = "-" if phase == "random" else train
            key = dict(zip(KEY_COLUMNS, (name, embedding, scenario, trained_at, "6", phase, seed), strict=True))
            rows.append({**key, "timesteps": 100, "return_mean": value, "return_std": 1.0, "episodes": 2, "wall_s": 1})
            episodes += [{**key, "episode": i, "return": value + d} for i, d in enumerate((-1.0, 1.0))]
    for name, content, columns in (("transfer.csv", rows, COLUMNS), ("transfer_episodes.csv", episodes, None)):
        with open(folder / name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns or list(content[0]))
            writer.writeheader()
            writer.writerows(content)


def test_one_folder_is_re_rendered_in_place(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    assert main([str(tmp_path / "a")]) == 0
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in summary
    assert (tmp_path / "a" / "transfer.png").stat().st_size > 0
    assert summary in capsys.readouterr().out


def test_an_unfinished_experiment_is_reported_elsewhere_not_marked_finished_in_place(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    (tmp_path / "a" / "summary.md").unlink()  # still running, or interrupted: transfer.py wrote no summary
    assert main([str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'a'} is an experiment transfer.py has not finished" in error and "give --out" in error
    assert not (tmp_path / "a" / "summary.md").exists() and not (tmp_path / "a" / "transfer.png").exists()
    assert main([str(tmp_path / "a"), "--out", str(tmp_path / "now")]) == 0
    assert "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in (tmp_path / "now" / "summary.md").read_text()
    assert not (tmp_path / "a" / "summary.md").exists(), "still unfinished for a study's --plan"


def test_two_folders_are_compared_in_one_table(tmp_path):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "b", "spread", "iql", [-80.0, -70.0])
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "both")]) == 0
    summary = (tmp_path / "both" / "summary.md").read_text()
    assert "# spread: a, b" in summary
    assert "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in summary
    assert "| iql | graph | 3 | 6 | -75.00 [-80.00, -70.00] |" in summary


def test_a_report_of_many_folders_counts_them_in_its_title_and_lists_them_below(tmp_path):
    names = ["a", "b", "c", "d"]
    for index, name in enumerate(names):
        write_experiment(tmp_path / name, "spread", f"algo{index}", [-60.0, -40.0])
    assert main([str(tmp_path / name) for name in names] + ["--out", str(tmp_path / "all")]) == 0
    summary = (tmp_path / "all" / "summary.md").read_text()
    assert summary.startswith("# spread: 4 experiments\n\nMerged from: a, b, c, d.\n")
    assert "| algo3 | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in summary


def test_runs_trained_at_different_sizes_are_told_apart(tmp_path):
    write_experiment(tmp_path / "at3", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "at4", "spread", "qmix", [-30.0, -20.0], train="4")
    assert main([str(tmp_path / "at3"), str(tmp_path / "at4"), "--out", str(tmp_path / "both")]) == 0
    summary = (tmp_path / "both" / "summary.md").read_text()
    assert "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in summary
    assert "| qmix | graph | 4 | 6 | -25.00 [-30.00, -20.00] |" in summary, "not pooled with the run trained at 3"


def test_the_zero_shot_matrix_has_one_row_per_run_and_one_column_per_eval_size():
    from experiments.transfer_experiment.report import summary_markdown

    rows = [
        dict(zip(KEY_COLUMNS, (algo, "graph", "spread", train, n, "zero_shot", 0), strict=True))
        | {"return_mean": -10.0 * n, "occupied_landmarks_mean": value}
        for algo, train, n, value in (("qmix", "3", 3, 0.9), ("qmix", "3", 6, 0.6), ("qmix", "4", 6, 0.8))
    ] + [
        dict(zip(KEY_COLUMNS, (policy, "-", "spread", "-", n, policy, 0), strict=True))
        | {"return_mean": value * n, "occupied_landmarks_mean": 0.0}
        for policy, value in (("random", -40.0), ("heuristic", -5.0))
        for n in (3, 6)
    ]  # fmt: skip
    matrix = summary_markdown(rows, [], "t", ["occupied_landmarks"]).split("## Zero-shot")[1]
    # normalised (-10 n + 40 n) / (-5 n + 40 n) = 30 / 35 at every size
    assert "| algo | embedding | trained at | at 3 | at 6 |" in matrix
    assert "| qmix | graph | 3 | 0.86 [0.86, 0.86] | 0.86 [0.86, 0.86] |" in matrix
    assert "| qmix | graph | 3 | 0.90 [0.90, 0.90] | 0.60 [0.60, 0.60] |" in matrix
    assert "| qmix | graph | 4 | - | 0.80 [0.80, 0.80] |" in matrix


def test_a_run_has_rows_only_at_the_sizes_it_was_evaluated_at():
    from experiments.transfer_experiment.report import summary_markdown

    def row(algo, train, n, phase):
        embedding = "-" if phase in ("random", "heuristic") else "mean"
        return dict(zip(KEY_COLUMNS, (algo, embedding, "spread", train, n, phase, 0), strict=True)) | {
            "return_mean": -10.0 * n,
            "occupied_landmarks_mean": 0.5,
        }

    rows = [row("qmix", "3", n, "zero_shot") for n in (3, 6)] + [row("qmix", "2-3-4", n, "zero_shot") for n in (2, 6)]
    rows += [row(policy, "-", n, policy) for policy in ("random", "heuristic") for n in (2, 3, 6)]
    summary = summary_markdown(rows, [], "t", ["occupied_landmarks"])
    tables = summary.split("## Zero-shot")[0]
    assert tables.count("| qmix | mean | 3 | 2 |") == 0, "trained at 3, never evaluated at 2 (only the scripted were)"
    assert tables.count("| qmix | mean | 3 | 6 |") == 3, "return, normalised score and the metric"
    assert tables.count("| qmix | mean | 2-3-4 | 2 |") == 3 and tables.count("| qmix | mean | 2-3-4 | 3 |") == 0
    assert "| qmix | mean | 3 | - | " in summary.split("## Zero-shot")[1], "the matrix keeps every size's column"


def test_the_normalised_score_has_an_interquartile_mean_over_five_seeds():
    from experiments.transfer_experiment.report import summary_markdown

    scores = (0.1, 0.4, 0.5, 0.6, 1.5)  # random -100, heuristic -20: a return of -100 + 80 x scores x
    rows = [
        dict(zip(KEY_COLUMNS, ("qmix", "graph", "spread", "3", "6", "zero_shot", seed), strict=True))
        | {"return_mean": -100.0 + 80.0 * score}
        for seed, score in enumerate(scores)
    ] + [
        dict(zip(KEY_COLUMNS, (policy, "-", "spread", "-", "6", policy, 0), strict=True)) | {"return_mean": value}
        for policy, value in (("random", -100.0), ("heuristic", -20.0))
    ]
    summary = summary_markdown(rows, [], "t")
    # mean 0.62; IQM: scipy's trim_mean(0.25) drops one of five at each end, mean(0.4, 0.5, 0.6) = 0.5
    normalised = summary.split("Heuristic-normalised score")[1].split("## Zero-shot")[0]
    assert "| qmix | graph | 3 | 6 | 0.62 [" in normalised and "; IQM 0.50 [" in normalised
    assert "seeds' spread" not in summary, "five seeds: no few-seeds caveat"


def test_intervals_over_two_to_four_seeds_are_flagged_as_their_spread(tmp_path):
    write_experiment(tmp_path / "two", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "one", "spread", "qmix", [-60.0])
    assert main([str(tmp_path / "two")]) == 0 and main([str(tmp_path / "one")]) == 0
    two_seeds = (tmp_path / "two" / "summary.md").read_text()
    # a percentile bootstrap of two seeds' means is their range: [-60, -40]
    assert "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in two_seeds
    assert "with 2 seeds it is their range" in two_seeds
    assert "seeds' spread" not in (tmp_path / "one" / "summary.md").read_text(), "one seed: over its episodes"


def test_the_overview_gives_each_run_one_row_with_fine_tuning_paired_by_seed():
    from experiments.transfer_experiment.report import summary_markdown

    def row(algo, train, n, phase, seed, value):
        embedding = "-" if phase in ("random", "heuristic") else "graph"
        return dict(zip(KEY_COLUMNS, (algo, embedding, "spread", train, n, phase, seed), strict=True)) | {
            "return_mean": value
        }

    # random -100 and heuristic -20 at 3 and 6 for both seeds: score (x + 100) / 80
    rows = [
        row(p, "-", n, p, seed, v)
        for p, v in (("random", -100.0), ("heuristic", -20.0))
        for n in (3, 6)
        for seed in (0, 1)
    ]
    rows += [row("qmix", "3", 3, "zero_shot", 0, -28.0), row("qmix", "3", 3, "zero_shot", 1, -36.0)]  # 0.9, 0.8
    rows += [row("qmix", "3", 6, "zero_shot", 0, -44.0), row("qmix", "3", 6, "zero_shot", 1, -52.0)]  # 0.7, 0.6
    rows += [row("qmix", "3", 3, "scratch", 0, -28.0), row("qmix", "3", 6, "scratch", 0, -36.0)]  # train run; 0.8
    rows += [row("qmix", "3", 6, "finetune:kl", 1, -44.0)]  # seed 1 only: 0.7 - 0.6
    rows += [row("qmix", "3", 6, "finetune:naive", s, -60.0) for s in (0, 1)]  # 0.5 - 0.7, 0.5 - 0.6
    rows += [row("vdn", "3", 3, "zero_shot", 0, -60.0)]  # 0.5; never evaluated at 6
    overview = summary_markdown(rows, [], "t").split("## Overview")[1].split("## Seeds per run")[0]
    assert (
        "| learner | seeds | at 3 | at 6 | 6 / trained | from scratch at 6 "
        "| fine-tuned at 6: end - zero-shot, `kl` / `naive` |" in overview
    ), "no from-scratch column at the training size, whose row is the train run"
    # 6 / trained: 0.65 / 0.85
    assert "| `qmix` graph | 2 | 0.85 | 0.65 | 0.76 | 0.80 | +0.10 (1) / -0.15 |" in overview
    assert "| `vdn` graph | 1 | 0.50 | - | - | - | - |" in overview


def scored_row(algo, embedding, n, phase, seed, score):
    """A learned run's row (trained at 3) whose return scores `score` against `scripted_rows`."""
    return dict(zip(KEY_COLUMNS, (algo, embedding, "spread", "3", n, phase, seed), strict=True)) | {
        "return_mean": -100.0 + 80.0 * score
    }


def scripted_rows(sizes):
    """Random -100 and heuristic -20 at each size (seed 0, so every seed's yardstick): a return x scores
    (x + 100) / 80."""
    return [
        dict(zip(KEY_COLUMNS, (p, "-", "spread", "-", n, p, 0), strict=True)) | {"return_mean": v}
        for p, v in (("random", -100.0), ("heuristic", -20.0))
        for n in sizes
    ]


def test_embeddings_are_set_against_concat_paired_by_seed():
    from experiments.transfer_experiment.report import summary_markdown

    row = scored_row
    rows = scripted_rows((3, 6))
    rows += [row("qmix", "concat", 6, "zero_shot", s, v) for s, v in ((0, 0.5), (1, 0.6), (2, 0.7))]
    rows += [row("qmix", "mean", 6, "zero_shot", s, v) for s, v in ((0, 0.6), (1, 0.8))]  # seed 2 not run
    rows += [row("qmix", "concat", 6, "finetune:kl", 0, 0.5), row("qmix", "mean", 6, "finetune:kl", 0, 0.45)]
    rows += [row("qmix", "mean", 3, "zero_shot", 0, 0.9)]  # no concat at 3: no column
    rows += [row("qmix", embedding, 3, "scratch", 0, 0.9) for embedding in ("concat", "mean")]  # the train runs
    rows += [row("qmix", "concat", 6, "scratch", 0, 0.7), row("qmix", "mean", 6, "scratch", 0, 0.6)]
    rows += [row("vdn", "mean", 6, "zero_shot", 0, 0.9)]  # no vdn with concat: no row
    table = summary_markdown(rows, [], "t").split("## Embeddings against concat")[1].split("## Seeds per run")[0]
    # zero-shot at 6: seed 0 0.6 - 0.5, seed 1 0.8 - 0.6: mean 0.15, the two seeds' range [0.1, 0.2]
    assert "| algo | trained at | embedding | phase | at 6 |" in table
    assert "| qmix | 3 | mean | zero-shot | +0.15 [+0.10, +0.20] (2) |" in table
    assert "| qmix | 3 | mean | fine-tuned (kl) | -0.05 [-0.05, -0.05] (1) |" in table
    assert "| qmix | 3 | mean | from scratch | -0.10 [-0.10, -0.10] (1) |" in table, (
        "at 6 only, not at its training size"
    )
    assert "vdn" not in table and "concat | zero-shot" not in table


def test_fine_tuning_strategies_are_set_against_naive_paired_by_seed():
    from experiments.transfer_experiment.report import summary_markdown

    def row(phase, seed, score, n=6):
        return scored_row("qmix", "mean", n, phase, seed, score)

    rows = scripted_rows((6, 8))
    rows += [row("zero_shot", s, 0.7) for s in (0, 1)]
    rows += [row("finetune:naive", 0, 0.75), row("finetune:naive", 1, 0.65)]
    rows += [row("finetune:conservative", 0, 0.6), row("finetune:conservative", 1, 0.6)]
    rows += [row("finetune:kl", 0, 0.8, n=8)]  # no naive at 8: no pair
    table = summary_markdown(rows, [], "t").split("## Fine-tuning strategies against naive")[1].split("## Seeds")[0]
    # conservative - naive: seed 0 0.6 - 0.75, seed 1 0.6 - 0.65: mean -0.1, the seeds' range [-0.15, -0.05]
    assert "| qmix | mean | 3 | fine-tuned (conservative) | -0.10 [-0.15, -0.05] (2) |" in table
    assert "at 8" not in table and "(kl)" not in table and "(naive)" not in table


def test_the_seeds_table_lists_each_runs_seeds_per_phase_at_any_size():
    from experiments.transfer_experiment.report import summary_markdown

    def row(algo, train, n, phase, seed):
        embedding = "-" if phase in ("random", "heuristic") else "graph"
        return dict(zip(KEY_COLUMNS, (algo, embedding, "spread", train, n, phase, seed), strict=True)) | {
            "return_mean": -50.0
        }

    rows = [row("qmix", "3", n, "zero_shot", seed) for n in (3, 6) for seed in (0, 1)]
    rows += [row("qmix", "3", 6, "finetune:kl", 1), row("qmix", "3", 6, "scratch", 0)]
    rows += [row("qmix", "3", 6, "scratch", 2), row("qmix", "4", 6, "zero_shot", 3)]
    rows += [row("random", "-", 6, "random", seed) for seed in (0, 1, 2, 3)]
    table = summary_markdown(rows, [], "t").split("## Seeds per run")[1]
    assert "| algo | embedding | trained at | zero-shot | fine-tuned (kl) | from scratch |" in table
    assert "| qmix | graph | 3 | 2: 0, 1 | 1: 1 | 2: 0, 2 |" in table, "two sizes of one seed count once"
    assert "| qmix | graph | 4 | 1: 3 | - | - |" in table, "a run trained at another size has its own row"
    assert "random" not in table, "scripted teams are not runs"


def test_each_seed_is_normalised_by_the_scripted_teams_on_its_own_episodes():
    from experiments.transfer_experiment.report import Cell
    from experiments.transfer_experiment.yardstick import Yardstick

    def row(name, phase, seed, value, n=6):
        train = "-" if name in ("random", "heuristic") else "3"
        key = (name, "graph" if train == "3" else "-", "spread", train, str(n), phase, seed)
        return dict(zip(KEY_COLUMNS, key, strict=True)) | {"return_mean": value}

    rows = [row("random", "random", 0, -100.0), row("heuristic", "heuristic", 0, -20.0)]
    rows += [row("random", "random", 1, -90.0), row("heuristic", "heuristic", 1, -50.0)]
    yardstick = Yardstick(rows)
    assert yardstick.scaling(6, 0) == (-100.0, 80.0) and yardstick.scaling(6, "1") == (-90.0, 40.0)
    assert yardstick.scaling(6) == (-95.0, 60.0), "without a seed (or for a seed not scripted): the seeds' means"
    assert yardstick.scaling(6, 2) == (-95.0, 60.0)
    assert yardstick.scaling(3, 0) is None and yardstick.score(-30.0, 3, 0) == -30.0, "nothing to normalise by at 3"
    scores = yardstick.normalise({"0": [-60.0, -40.0], "1": [-70.0]}, 6)
    assert [list(s) for s in scores] == [pytest.approx([0.5, 0.75]), pytest.approx([0.5])]
    scratch = Cell("qmix", "graph", "3", 6, "scratch")
    with_scratch = Yardstick([*rows, row("qmix", "scratch", 0, -40.0)])
    assert with_scratch.scaling(6, 0, reference=scratch) == (-100.0, 60.0)
    assert Yardstick(rows).normalise({"0": [-60.0]}, 6, reference=scratch) is None, "no from-scratch run to scale by"


def test_merging_another_seeds_experiment_leaves_a_one_seed_learners_score_as_it_was(tmp_path):
    from experiments.transfer_experiment.report import summary_markdown

    def rows(algo, seed, value, random, heuristic):
        learner = dict(zip(KEY_COLUMNS, (algo, "graph", "spread", "3", "6", "zero_shot", seed), strict=True))
        return [learner | {"return_mean": value}] + [
            dict(zip(KEY_COLUMNS, (policy, "-", "spread", "-", "6", policy, seed), strict=True)) | {"return_mean": mean}
            for policy, mean in (("random", random), ("heuristic", heuristic))
        ]

    vdn_seed0 = rows("vdn", 0, -60.0, -100.0, -20.0)  # (-60 + 100) / 80 = 0.50; pooled with seed 1 35 / 60
    mappo_seed1 = rows("mappo", 1, -70.0, -90.0, -50.0)  # (-70 + 90) / 40 = 0.50; pooled 25 / 60
    alone = summary_markdown(vdn_seed0, [], "t").split("Heuristic-normalised score")[1]
    merged = summary_markdown(vdn_seed0 + mappo_seed1, [], "t").split("Heuristic-normalised score")[1]
    assert "| vdn | graph | 3 | 6 | 0.50 [0.50, 0.50] |" in alone
    assert "| vdn | graph | 3 | 6 | 0.50 [0.50, 0.50] |" in merged
    assert "| mappo | graph | 3 | 6 | 0.50 [0.50, 0.50] |" in merged


def test_a_run_is_taken_whole_from_the_folder_started_last_whatever_the_names(tmp_path):
    from experiments.report import load

    write_experiment(tmp_path / "rerun", "spread", "qmix", [-30.0])  # seed 0 only
    write_experiment(tmp_path / "zz-first", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "legacy", "spread", "qmix", [-90.0, -90.0])  # no provenance.yaml: the oldest
    with open(tmp_path / "zz-first" / "transfer.csv", "a", newline="") as f:  # probes the rerun does not repeat
        for seed in (0, 1):
            key = ("qmix", "graph", "spread", "3", "6", "finetune:naive-ownids", seed)
            csv.DictWriter(f, fieldnames=COLUMNS).writerow(
                dict(zip(KEY_COLUMNS, key, strict=True)) | {"return_mean": -70}
            )
    write_curves(tmp_path / "zz-first", "qmix", 0, [-80.0, -70.0])
    for name, started in (("rerun", "2026-12-07T03:00:00+00:00"), ("zz-first", "2026-12-01T09:00:00+00:00")):
        (tmp_path / name / "provenance.yaml").write_text(yaml.safe_dump([{"started": started}]))

    found = load([str(tmp_path / name) for name in ("rerun", "zz-first", "legacy")])  # last on the line, by name
    learned = {(row["phase"], row["seed"]): float(row["return_mean"]) for row in found.rows if row["algo"] == "qmix"}
    assert learned == {("zero_shot", "0"): -30.0, ("zero_shot", "1"): -40.0, ("finetune:naive-ownids", "1"): -70.0}
    assert sorted(float(row["return"]) for row in found.episodes if row["algo"] == "qmix" and row["seed"] == "0") == [
        -31.0, -29.0,
    ], "the earlier folder's episodes of the run are dropped with its rows"  # fmt: skip
    assert found.curves == [], "and so is its learning curve"
    assert sorted(row["seed"] for row in found.rows if row["algo"] == "random") == ["0", "1"], "one row each"
    write_experiment(tmp_path / "legacy-b", "spread", "qmix", [-20.0])
    tied = load([str(tmp_path / "legacy"), str(tmp_path / "legacy-b")])  # neither has a start: the one given last
    assert {float(row["return_mean"]) for row in tied.rows if row["algo"] == "qmix" and row["seed"] == "0"} == {-20.0}


def write_curves(folder, algo, seed, returns, q_bias=None, phase="train", n=3, q_bias_ind=None, q_bias_rel=None):
    """`curves.csv` of one trial of `algo` (seed `seed`) trained at 3 agents, in `phase` evaluated at `n` agents
    every 100 env steps."""
    rows = [
        {"algo": algo, "embedding": "graph", "phase": phase, "seed": seed, "train_agents": "3", "point": point,
         "env_steps": 100 * (point + 1), "eval_agents": n, "return_mean": value}
        | ({} if q_bias is None else {"q_bias_mean": q_bias[point]})
        | ({} if q_bias_rel is None else {"q_bias_rel_mean": q_bias_rel[point]})
        | ({} if q_bias_ind is None else {"q_bias_ind_mean": q_bias_ind[point]})
        for point, value in enumerate(returns)
    ]  # fmt: skip
    with open(folder / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_learning_curves_of_several_folders_are_merged_curve_by_curve(tmp_path):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    write_curves(tmp_path / "a", "qmix", 0, [-80.0, -70.0], q_bias=[5.0, 1.0])
    write_experiment(tmp_path / "b", "spread", "iql", [-80.0, -70.0])
    write_curves(tmp_path / "b", "qmix", 0, [-75.0, -50.0, -45.0], q_bias=[4.0, 2.0, 0.5])  # the same curve, rerun
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "both")]) == 0
    with open(tmp_path / "both" / "curves.csv") as f:
        merged = list(csv.DictReader(f))
    assert [(row["algo"], row["return_mean"], row["q_bias_mean"]) for row in merged] == [
        ("qmix", "-75.0", "4.0"), ("qmix", "-50.0", "2.0"), ("qmix", "-45.0", "0.5"),
    ]  # fmt: skip
    for figure in ("transfer_curves.png", "transfer_q_bias.png"):
        assert (tmp_path / "both" / figure).stat().st_size > 0
    assert not (tmp_path / "both" / "transfer_q_bias_ind.png").exists(), "no independent estimate, no figure of it"
    assert not (tmp_path / "both" / "transfer_q_bias_rel.png").exists(), "curves from before the relative q_bias"
    write_curves(tmp_path / "b", "iql", 1, [-80.0, -70.0])  # no value estimates: no q_bias figure
    assert main([str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "transfer_curves.png").exists() and not (tmp_path / "b" / "transfer_q_bias.png").exists()
    write_curves(
        tmp_path / "b", "gum", 1, [-80.0, -70.0], q_bias=[9.0, 3.0], q_bias_ind=[-2.0, -1.0], q_bias_rel=[0.2, 0.1]
    )
    assert main([str(tmp_path / "b")]) == 0
    for figure in ("transfer_q_bias_ind.png", "transfer_q_bias_rel.png"):
        assert (tmp_path / "b" / figure).stat().st_size > 0


def test_fine_tuning_curves_start_from_zero_shot(tmp_path):
    from experiments.transfer_experiment.curves import curves_plot

    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    write_curves(tmp_path / "a", "qmix", 0, [-70.0, -45.0], phase="finetune:kl", n=6)
    assert main([str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "transfer_finetune_curves.png").stat().st_size > 0
    assert not (tmp_path / "a" / "transfer_curves.png").exists(), "no train-phase curve to draw"
    assert curves_plot([], [], "t", finetuning=True) is None


def test_a_fine_tuning_series_is_its_zero_shot_evaluation_then_its_points_mean_over_seeds():
    from experiments.transfer_experiment.curves import panel_series
    from experiments.transfer_experiment.report import Run
    from experiments.transfer_experiment.yardstick import Yardstick

    def point(seed, k, value):
        return {"algo": "qmix", "embedding": "graph", "phase": "finetune:kl", "seed": seed, "train_agents": "3",
                "point": k, "env_steps": 500 * (k + 1), "eval_agents": 6, "return_mean": value}  # fmt: skip

    curves = [point(0, 0, -80.0), point(1, 0, -60.0), point(0, 1, -50.0), point(1, 1, -50.0)]
    ledger = [
        dict(zip(KEY_COLUMNS, (name, embedding, "spread", train, "6", phase, seed), strict=True))
        | {"return_mean": value}
        for name, embedding, train, phase, seed, value in (
            ("qmix", "graph", "3", "zero_shot", 0, -65.0), ("qmix", "graph", "3", "zero_shot", 1, -55.0),
            ("random", "-", "-", "random", 0, -100.0), ("heuristic", "-", "-", "heuristic", 0, -20.0),
            ("random", "-", "-", "random", 1, -90.0), ("heuristic", "-", "-", "heuristic", 1, -50.0),
        )
    ]  # fmt: skip
    # each seed by its own scripted teams: seed 0 (x + 100) / 80: zero-shot 0.4375, 0.25, 0.625; seed 1 (x + 90) / 40:
    # 0.875, 0.75, 1.0; their means 0.65625, 0.5, 0.8125 (pooled scripted means, (x + 95) / 60, would start at 0.583)
    series = panel_series(curves, ledger, 6, "return_mean", True, Yardstick(ledger))
    points = series[(Run("qmix", "graph", "3"), "finetune:kl")]
    assert [x for x, _ in points] == [0.0, 500.0, 1000.0]
    assert [e.point for _, e in points] == pytest.approx([0.65625, 0.5, 0.8125])
    raw = panel_series(curves, ledger, 6, "return_mean", True)[(Run("qmix", "graph", "3"), "finetune:kl")]
    assert [e.point for _, e in raw] == pytest.approx([-60.0, -70.0, -50.0])
    assert (
        panel_series(curves, ledger, 6, "return_mean", False)[(Run("qmix", "graph", "3"), "finetune:kl")][0][0] == 500
    )


def test_the_value_estimates_table_takes_each_seeds_last_train_point():
    from experiments.transfer_experiment.curves import q_bias_markdown

    def point(algo, seed, k, n, q_bias, rel=None, phase="train"):
        key = {"algo": algo, "embedding": "mean", "phase": phase, "seed": seed, "train_agents": "3", "point": k}
        return key | {"eval_agents": n, "return_mean": -50.0, "q_bias_mean": q_bias, "q_bias_rel_mean": rel}

    rows = [point("qmix", 0, 0, 6, 90.0, 0.9), point("qmix", 0, 1, 6, 30.0, 0.3), point("qmix", 1, 1, 6, 10.0, 0.1)]
    rows += [point("qmix", 1, 0, 6, 70.0, 0.7), point("qmix", 0, 1, 3, -4.0, -0.1)]
    rows += [point("iql", 0, 0, 6, 5.0), point("iql", 0, 0, 6, 500.0, 0.5, phase="scratch")]
    rows += [point("mappo", 0, 0, 6, "", "")]  # no value estimate: no row
    table = q_bias_markdown(rows)
    assert "| algo | embedding | trained at | eval agents | `q_bias` | `q_bias_rel` |" in table, "no `_ind` column"
    # the last points (k = 1) of seeds 0 and 1 at 6: q_bias (30 + 10) / 2 with two seeds' interval their range
    assert "| qmix | mean | 3 | 6 | 20.00 [10.00, 30.00] (2) | 0.20 [0.10, 0.30] (2) |" in table
    assert "| qmix | mean | 3 | 3 | -4.00 [-4.00, -4.00] (1) | -0.10 [-0.10, -0.10] (1) |" in table
    assert "| iql | mean | 3 | 6 | 5.00 [5.00, 5.00] (1) | - |" in table, "train phase only; no relative value: -"
    assert "mappo" not in table and q_bias_markdown([point("mappo", 0, 0, 6, "")]) == ""


def test_the_fine_tuning_table_gives_zero_shot_the_lowest_point_and_the_end_per_strategy():
    from experiments.transfer_experiment.curves import finetune_markdown

    def point(strategy, seed, k, value):
        key = {"algo": "qmix", "embedding": "graph", "phase": f"finetune:{strategy}", "seed": seed, "train_agents": "3"}
        return key | {"point": k, "env_steps": 500 * (k + 1), "eval_agents": 6, "return_mean": value}

    curves = [point("naive", 0, k, v) for k, v in enumerate((-90.0, -40.0))]
    curves += [point("kl", 0, k, v) for k, v in enumerate((-55.0, -50.0))]
    curves += [point("conservative", 0, k, v) for k, v in enumerate((-58.0, -61.0))]  # ends 0.0125 below zero-shot
    curves += [point("tiny", 0, k, v) for k, v in enumerate((-58.0, -60.3))]  # 0.004 below: 0.00 as the table rounds
    ledger = [
        dict(zip(KEY_COLUMNS, (name, embedding, "spread", train, "6", phase, 0), strict=True)) | {"return_mean": value}
        for name, embedding, train, phase, value in (
            ("qmix", "graph", "3", "zero_shot", -60.0), ("random", "-", "-", "random", -100.0),
            ("heuristic", "-", "-", "heuristic", -20.0), ("qmix", "graph", "3", "scratch", -44.0),
        )
    ]  # fmt: skip
    table = finetune_markdown(curves, ledger)
    # scores (x + 100) / 80: zero-shot 0.5; naive dips to 0.125 and ends at 0.75; kl lowest 0.5625, end 0.625; from
    # scratch at 6 0.7, 0.2 above zero-shot
    assert "| qmix | graph | 3 | 6 | naive | 0.50 [0.50, 0.50] | 0.12 [0.12, 0.12] | 0.75 [0.75, 0.75] | -0.38" in table
    assert (
        "| kl | 0.50 [0.50, 0.50] | 0.56 [0.56, 0.56] | 0.62 [0.62, 0.62] | 0.06 [0.06, 0.06] | 0.12 [0.12, 0.12] "
        "| 0.20 [0.20, 0.20] | 0 of 1 |" in table
    )
    assert "| conservative | 0.50 [0.50, 0.50] | 0.49 [0.49, 0.49] | 0.49 [0.49, 0.49] | -0.01" in table
    assert table.split("| conservative |")[1].split("\n")[0].endswith("| 1 of 1 |")
    assert table.split("| tiny |")[1].split("\n")[0].endswith("| 0 of 1 |")
    without_scratch = finetune_markdown(curves, [row for row in ledger if row["phase"] != "scratch"])
    assert "| 0.75 [0.75, 0.75] | -0.38 [-0.38, -0.38] | 0.25 [0.25, 0.25] | - | 0 of 1 |" in without_scratch
    assert finetune_markdown([], ledger) == ""


def test_bad_folders_are_one_line_and_exit_code_2(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "p", "pursuit", "qmix", [1.0, 2.0])
    assert main([str(tmp_path / "a"), str(tmp_path / "p"), "--out", str(tmp_path / "x")]) == 2
    assert "different scenarios (pursuit, spread)" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), str(tmp_path / "p")]) == 2
    assert "several folders need --out" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing")]) == 2
    assert "no transfer.csv; give the folder of a transfer experiment" in capsys.readouterr().err


def test_figures_show_normalised_returns_and_the_embeddings_aggregate(tmp_path):
    from PIL import Image

    from experiments.transfer_experiment.plots import embeddings_plot, normalised_estimates, transfer_plot
    from experiments.transfer_experiment.report import Run, seeded_samples
    from experiments.transfer_experiment.yardstick import Yardstick

    rows = []
    for embedding, zero_shot in (("concat", -80.0), ("graph", -60.0)):
        for seed in (0, 1):
            for phase, value in (("zero_shot", zero_shot + seed), ("scratch", -40.0 + seed)):
                rows.append(
                    dict(zip(KEY_COLUMNS, ("qmix", embedding, "spread", "3", "6", phase, seed), strict=True))
                    | {"return_mean": value, "occupied_landmarks_mean": 0.5}
                )
    rows += [
        dict(zip(KEY_COLUMNS, ("random", "-", "spread", "-", "6", "random", seed), strict=True))
        | {"return_mean": -100.0}
        for seed in (0, 1)
    ]
    seeded, yardstick = seeded_samples(rows, [], "return"), Yardstick(rows)
    # graph zero-shot, each seed by its own from-scratch run: seed 0 (-60 + 100) / (-40 + 100), seed 1 41 / 61
    estimate = normalised_estimates(seeded, yardstick, Run("qmix", "graph", "3"), "zero_shot")[6]
    assert estimate.point == pytest.approx((40 / 60 + 41 / 61) / 2)
    for png in (transfer_plot(rows, [], "t", ["occupied_landmarks"]), embeddings_plot(rows, [], "t")):
        path = tmp_path / "figure.png"
        path.write_bytes(png)
        with Image.open(path) as image:
            image.verify()
    assert embeddings_plot([r for r in rows if r["phase"] != "scratch"], [], "t") is None, "nothing to normalise by"


def test_a_run_whose_every_trial_failed_still_gets_a_summary_and_no_figure(tmp_path):
    from experiments.transfer_experiment.ledgers import ExperimentFiles
    from experiments.transfer_experiment.plots import write_figures
    from experiments.transfer_experiment.report import summary_markdown

    random_only = [
        dict(zip(KEY_COLUMNS, ("random", "-", "spread", "-", "6", "random", 0), strict=True)) | {"return_mean": -100.0}
    ]
    assert "| algo | embedding |" in summary_markdown(random_only, [], "t", ["occupied_landmarks"])
    write_figures(ExperimentFiles(str(tmp_path)), random_only, [], "t", ["occupied_landmarks"])
    assert not list(tmp_path.glob("*.png"))


def test_a_folder_relative_to_the_working_directory_is_read(tmp_path, monkeypatch):
    write_experiment(tmp_path / "results" / "a", "spread", "qmix", [-60.0, -40.0])
    monkeypatch.chdir(tmp_path)
    assert main(["results/a"]) == 0
    assert (
        "| qmix | graph | 3 | 6 | -50.00 [-60.00, -40.00] |" in (tmp_path / "results" / "a" / "summary.md").read_text()
    )


def test_a_transfer_csv_cut_mid_line_is_refused_with_its_file_and_line(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    ledger = tmp_path / "a" / "transfer.csv"
    text = ledger.read_text()
    ledger.write_text(text[: text.rindex(",-90")])  # the last row loses its last fields
    assert main([str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err
    assert f"{ledger} line 5:" in error and "the file was cut or edited" in error


def test_a_resumed_run_keeps_the_curves_its_tune_results_no_longer_hold(tmp_path):
    from experiments.transfer_experiment.curves import kept_curves
    from experiments.transfer_experiment.ledgers import ExperimentFiles

    files = ExperimentFiles(str(tmp_path))
    assert kept_curves(files, []) == [], "a new experiment: no curves.csv yet"
    write_curves(tmp_path, "qmix", 0, [-80.0, -70.0], phase="finetune:kl-ownids", n=6)  # a phase moved aside
    with open(tmp_path / "curves.csv") as f:
        moved_aside = list(csv.DictReader(f))
    rerun = [{**row, "phase": "finetune:kl", "return_mean": -60.0} for row in moved_aside]
    kept = kept_curves(files, rerun)
    assert [(row["phase"], float(row["return_mean"])) for row in kept] == [
        ("finetune:kl-ownids", -80.0), ("finetune:kl-ownids", -70.0), ("finetune:kl", -60.0), ("finetune:kl", -60.0),
    ]  # fmt: skip
    assert kept_curves(files, moved_aside[:1]) == moved_aside[:1], "a curve measured again replaces the stored one"


def test_fine_tuning_curves_get_one_row_of_panels_per_run():
    import io

    from matplotlib import pyplot as plt

    from experiments.transfer_experiment.curves import curves_plot

    def curve(algo, strategy, n):
        return [
            {"algo": algo, "embedding": "graph", "phase": f"finetune:{strategy}", "seed": 0, "train_agents": "3",
             "point": k, "env_steps": 500 * (k + 1), "eval_agents": n, "return_mean": -50.0 - k}
            for k in range(2)
        ]  # fmt: skip

    one_run = curve("qmix", "kl", 6) + curve("qmix", "naive", 6) + curve("qmix", "kl", 8)
    two_runs = one_run + curve("vdn", "kl", 6)

    def height(rows):
        return plt.imread(io.BytesIO(curves_plot(rows, [], "t", finetuning=True))).shape[0]

    assert height(two_runs) > 1.8 * height(one_run), "a second run adds a row of panels, not lines to the first"


def test_a_started_experiment_not_yet_evaluated_is_skipped_with_a_note(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    (tmp_path / "running").mkdir()
    (tmp_path / "running" / "settings.yaml").write_text(yaml.safe_dump({"name": "running", "scenario": "spread"}))
    assert main([str(tmp_path / "a"), str(tmp_path / "running"), "--out", str(tmp_path / "both")]) == 0
    assert f"skipped {tmp_path / 'running'}: started, not yet evaluated" in capsys.readouterr().err
    assert "# spread: a\n" in (tmp_path / "both" / "summary.md").read_text()
    assert main([str(tmp_path / "running")]) == 2
    assert "no experiment here has evaluated yet" in capsys.readouterr().err


def test_the_headline_table_gives_each_run_one_row_with_the_widely_run_strategies():
    from experiments.transfer_experiment.report import headline_table

    rows = scripted_rows((3, 6))
    for algo in ("qmix", "vdn"):
        rows += [scored_row(algo, "concat", 3, "zero_shot", s, 0.8) for s in (0, 1)]
        rows += [scored_row(algo, "concat", 6, "zero_shot", s, v) for s, v in ((0, 0.6), (1, 0.4))]  # mean 0.5
        rows += [scored_row(algo, "concat", 6, "finetune:naive", 0, 0.7)]  # seed 0 only: +0.1
    rows += [scored_row("qmix", "concat", 6, "scratch", 0, 0.9)]
    rows += [scored_row("qmix", "concat", 6, "finetune:kl-probe", 0, 0.9)]  # one run of two: not a column
    table = headline_table(rows)
    assert table[0] == (
        "| learner | seeds | at 3 | at 6 | 6 / trained | from scratch at 6 "
        "| fine-tuned at 6: end - zero-shot, `naive` |"
    )
    # at 6 / at 3 = 0.5 / 0.8
    assert "| `qmix` concat | 2 | 0.80 | 0.50 | 0.62 | 0.90 | +0.10 (1 seed) |" in table
    assert "| `vdn` concat | 2 | 0.80 | 0.50 | 0.62 | - | +0.10 (1 seed) |" in table


def test_the_results_page_gets_the_headline_table_between_its_markers(tmp_path, capsys):
    write_experiment(tmp_path / "a", "spread", "qmix", [-60.0, -40.0])
    page = tmp_path / "results.md"
    page.write_text("# Results\n\n<!-- report.py: headline table -->\nold table\n<!-- /report.py -->\n\nReadings.\n")
    assert main([str(tmp_path / "a"), "--results-page", str(page)]) == 0
    text = page.read_text()
    assert "old table" not in text and text.endswith("<!-- /report.py -->\n\nReadings.\n")
    unmarked = tmp_path / "plain.md"
    unmarked.write_text("# Results\n")
    assert main([str(tmp_path / "a"), "--results-page", str(unmarked)]) == 2
    assert "has no <!-- report.py: headline table --> ... <!-- /report.py --> block" in capsys.readouterr().err
    assert unmarked.read_text() == "# Results\n", "left as it was"
