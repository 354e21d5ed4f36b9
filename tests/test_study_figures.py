"""The transfer study's answer figures (`experiments.transfer_experiment.study_figures`) and the per-seed scores they
are drawn from, on hand-made rows: random -100 and heuristic -20 at every size, so a return x scores (x + 100) / 80."""

import csv

import pytest
from PIL import Image

from experiments.report import main
from experiments.transfer_experiment.cells import Cell, Run
from experiments.transfer_experiment.ledgers import COLUMNS, KEY_COLUMNS
from experiments.transfer_experiment.study_figures import (
    embeddings_figure,
    finetune_dips,
    finetune_figure,
    finetune_gains,
    q_bias_curves,
    q_bias_figure,
)
from experiments.transfer_experiment.yardstick import Yardstick

PNG = b"\x89PNG"


def row(algo, embedding, n, phase, seed, value, train="3"):
    scripted = phase in ("random", "heuristic")
    key = (algo, "-" if scripted else embedding, "spread", "-" if scripted else train, n, phase, seed)
    return dict(zip(KEY_COLUMNS, key, strict=True)) | {"return_mean": value}


def scripted(sizes=(3, 6)):
    return [row(p, "-", n, p, 0, v) for p, v in (("random", -100.0), ("heuristic", -20.0)) for n in sizes]


def score_return(score):
    return -100.0 + 80.0 * score


def test_yardstick_scores_each_seed_and_nothing_without_both_scripted_teams():
    rows = scripted() + [row("qmix", "mean", 6, "zero_shot", s, score_return(v)) for s, v in ((0, 0.5), (1, 0.75))]
    rows += [row("qmix", "mean", 5, "zero_shot", 0, -30.0)]  # no scripted teams at 5
    yardstick = Yardstick(rows)
    assert yardstick.scores(Cell("qmix", "mean", "3", 6, "zero_shot")) == pytest.approx({"0": 0.5, "1": 0.75})
    assert yardstick.scores(Cell("qmix", "mean", "3", 5, "zero_shot")) == {}
    assert yardstick.scores(Cell("qmix", "mean", "3", 8, "zero_shot")) == {}


def test_fine_tuning_gains_are_paired_by_seed_and_leave_out_strategies_of_few_runs():
    rows = scripted()
    for algo in ("qmix", "vdn", "iql"):
        rows += [row(algo, "concat", 6, "zero_shot", s, score_return(0.6)) for s in (0, 1)]
        rows += [row(algo, "concat", 6, "finetune:naive", 0, score_return(0.7))]
        rows += [row(algo, "concat", 6, "finetune:naive", 1, score_return(0.5))]
    rows += [row("qmix", "concat", 6, "finetune:kl", 2, score_return(0.9))]  # seed 2 has no zero-shot row
    rows += [row("vdn", "concat", 6, "finetune:kl-probe", 0, score_return(0.9))]  # one run of three: a probe
    gains = finetune_gains(rows)
    # naive: seed 0 0.7 - 0.6, seed 1 0.5 - 0.6; kl of qmix has no seed with both, so no bar
    assert set(gains) == {(6, Run(algo, "concat", "3"), "finetune:naive") for algo in ("qmix", "vdn", "iql")}
    assert gains[6, Run("qmix", "concat", "3"), "finetune:naive"] == pytest.approx([0.1, -0.1])
    assert finetune_figure(rows).startswith(PNG)


def curve_point(algo, n, phase, seed, k, value):
    key = {"algo": algo, "embedding": "concat", "phase": phase, "seed": seed, "train_agents": "3", "point": k}
    return key | {"env_steps": 1000 * (k + 1), "eval_agents": n, "return_mean": value}


def test_the_lowest_point_on_the_way_is_paired_by_seed_with_zero_shot():
    rows = scripted() + [row("qmix", "concat", 6, "zero_shot", s, score_return(0.6)) for s in (0, 1)]
    rows += [row("qmix", "concat", 6, "finetune:naive", s, score_return(0.7)) for s in (0, 1)]
    curves = [curve_point("qmix", 6, "finetune:naive", 0, k, score_return(v)) for k, v in enumerate((0.3, 0.5, 0.7))]
    curves += [curve_point("qmix", 6, "finetune:naive", 1, k, score_return(v)) for k, v in enumerate((0.65, 0.7))]
    curves += [curve_point("qmix", 6, "finetune:naive", 2, 0, score_return(0.1))]  # seed 2 has no zero-shot row
    curves += [curve_point("qmix", 6, "train", 0, 0, score_return(0.0))]  # not a fine-tuning curve
    dips = finetune_dips(rows, curves)
    # seed 0 falls to 0.3 from 0.6; seed 1's lowest point, 0.65, is above its zero-shot
    assert dips == {(6, Run("qmix", "concat", "3"), "finetune:naive"): pytest.approx([-0.3, 0.05])}
    assert finetune_figure(rows, curves).startswith(PNG)
    assert finetune_dips(rows, []) == {}


def test_fine_tuning_strategies_of_more_than_half_the_runs_are_kept():
    rows = scripted()
    for algo in ("qmix", "vdn", "iql"):
        rows += [row(algo, "concat", 6, "zero_shot", 0, score_return(0.6))]
        rows += [row(algo, "concat", 6, "finetune:naive", 0, score_return(0.7))]
    rows += [row(algo, "concat", 6, "finetune:kl", 0, score_return(0.4)) for algo in ("qmix", "vdn")]
    gains = finetune_gains(rows)
    assert {phase for _, _, phase in gains} == {"finetune:naive", "finetune:kl"}, "kl: two runs of three"
    assert gains[6, Run("vdn", "concat", "3"), "finetune:kl"] == pytest.approx([-0.2])


def test_no_fine_tuning_or_no_yardstick_draws_no_fine_tuning_figure():
    zero_shot = [row("qmix", "concat", 6, "zero_shot", 0, -50.0)]
    assert finetune_figure(scripted() + zero_shot) is None
    assert finetune_figure(zero_shot + [row("qmix", "concat", 6, "finetune:naive", 0, -40.0)]) is None


def test_the_embeddings_figure_needs_an_algorithm_with_several_embeddings():
    rows = scripted() + [row("qmix", "concat", n, "zero_shot", 0, -50.0) for n in (3, 6)]
    rows += [row("vdn", "mean", n, "zero_shot", 0, -50.0) for n in (3, 6)]
    assert embeddings_figure(rows) is None, "one embedding per algorithm: nothing to compare"
    rows += [row("qmix", "graph", n, "zero_shot", 0, -40.0) for n in (3, 6)]
    rows += [row("qmix", "graph", 6, "scratch", 0, -30.0, train="6")]
    assert embeddings_figure(rows).startswith(PNG)


def curve(algo, n, point, q_bias_rel, train="3", q_bias_ind_rel=""):
    return {
        "algo": algo,
        "embedding": "concat",
        "phase": "train",
        "seed": 0,
        "train_agents": train,
        "point": point,
        "env_steps": 1000 * (point + 1),
        "eval_agents": n,
        "q_bias_rel_mean": q_bias_rel,
        "q_bias_ind_rel_mean": q_bias_ind_rel,
    }


def test_the_q_bias_figure_draws_the_value_learners_curves():
    assert q_bias_figure([curve("mappo", 3, 0, "")]) is None, "no learner estimates values"
    curves = [curve("qmix", n, p, 0.5 - 0.1 * p) for n in (3, 6) for p in range(3)]
    curves += [curve("gum", n, p, 0.1, q_bias_ind_rel=0.4) for n in (3, 6) for p in range(3)]
    curves += [curve("qmix", 6, p, 0.3, train="4") for p in range(3)]
    curves += [curve(algo, 3, p, 2.0) for algo in ("central_v_sac", "central_v_sac+unmix") for p in range(3)]
    drawn = q_bias_curves(curves)
    assert {(row["algo"], row["train_agents"]) for row in drawn} == {("qmix", "3"), ("gum", "3")}, (
        "two runs at 3; none trained at 4, none with a soft-return critic"
    )
    assert len(drawn) == 12
    assert q_bias_figure(curves).startswith(PNG)


def test_the_report_writes_the_answer_figures_it_has_rows_for(tmp_path):
    for embedding in ("concat", "graph"):
        rows = scripted() + [row("qmix", embedding, n, "zero_shot", 0, -50.0) for n in (3, 6)]
        rows += [row("qmix", embedding, 6, "finetune:naive", 0, -45.0)]
        folder = tmp_path / embedding
        folder.mkdir()
        with open(folder / "transfer.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(rows)
    assert main([str(tmp_path / "concat"), str(tmp_path / "graph"), "--out", str(tmp_path / "out")]) == 0
    written = sorted(path.name for path in (tmp_path / "out").glob("study_*.png"))
    assert written == ["study_embeddings.png", "study_finetune.png"], "no learning curves: no q_bias figure"
    for name in written:
        with Image.open(tmp_path / "out" / name) as image:
            image.verify()
