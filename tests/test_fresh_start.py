"""A phase that starts without Tune state trains only the trials a row is missing of, and sets aside the rows a
retrained trial's lost checkpoint yielded."""

import csv

from experiments.transfer_experiment.command_line import parse_settings
from experiments.transfer_experiment.fresh_start import superseded_curves, trials_to_train, yielded_rows
from experiments.transfer_experiment.ledgers import EpisodeLedger, ExperimentFiles, TransferLedger, row_key
from experiments.transfer_experiment.trial_spec import TrialSpec

ARGV = ["--algos", "qmix", "--embeddings", "concat", "--train-agents", "3", "--eval-agents", "3,6", "--seeds", "0,1,2"]
ARGV += ["--finetune", "naive,kl", "--finetune-agents", "6", "--finetune-timesteps", "5000", "--scenario", "spread"]


def _settings():
    return parse_settings(ARGV)[0]


def _key(phase, n, seed):
    return ("qmix", "concat", "spread", "3", str(n), phase, str(seed))


def _specs(settings):
    trains = [TrialSpec(settings, "train", "qmix", "concat", (3,), seed, 100) for seed in settings.seeds]
    return trains + [TrialSpec(settings, "scratch", "qmix", "concat", (6,), seed, 100) for seed in settings.seeds]


def test_a_train_trial_yields_its_evaluations_and_those_of_its_fine_tuning():
    settings = _settings()
    train, scratch = _specs(settings)[0], _specs(settings)[3]
    assert sorted(yielded_rows(settings, train)) == sorted(
        [
            _key("zero_shot", 3, 0),
            _key("zero_shot", 6, 0),
            _key("scratch", 3, 0),
            _key("finetune:naive", 6, 0),
            _key("finetune:kl", 6, 0),
        ]
    )
    assert yielded_rows(settings, scratch) == [_key("scratch", 6, 0)]


def test_only_trials_missing_a_row_train_again_and_their_old_rows_are_superseded():
    settings = _settings()
    seed_0 = set(yielded_rows(settings, _specs(settings)[0])) | {_key("scratch", 6, 0)}  # complete
    seed_1 = {_key("zero_shot", 3, 1), _key("zero_shot", 6, 1), _key("scratch", 3, 1), _key("finetune:naive", 6, 1)}
    seed_1 |= {_key("scratch", 6, 1)}  # its fine-tuning with kl never finished
    scripted = {("random", "-", "spread", "-", "6", "random", "0")}
    to_train, superseded = trials_to_train(settings, _specs(settings), seed_0 | seed_1 | scripted)
    assert [(spec.phase, spec.seed) for spec in to_train] == [("train", 1), ("train", 2), ("scratch", 2)]
    assert superseded == seed_1 - {_key("scratch", 6, 1)}, "a from-scratch row stands on its own checkpoint"


def test_a_new_run_trains_everything_and_supersedes_nothing():
    settings = _settings()
    to_train, superseded = trials_to_train(settings, _specs(settings), set())
    assert to_train == _specs(settings) and superseded == set()


def test_set_aside_rows_and_their_episodes_move_to_the_superseded_files(tmp_path):
    files = ExperimentFiles(str(tmp_path))
    ledger, episodes = TransferLedger(files), EpisodeLedger(files)
    rows = [
        {"algo": "qmix", "embedding": "concat", "scenario": "spread", "train_agents": "3", "eval_agents": n}
        | {"phase": "zero_shot", "seed": 0, "return_mean": value}
        for n, value in ((3, -30.0), (6, -90.0))
    ]
    ledger.add(rows)
    for row in rows:
        episodes.add(row, {"returns": [row["return_mean"], row["return_mean"] - 1], "task_metrics": {}})
    old = {row_key(rows[1])}
    ledger.set_aside(old)
    episodes.set_aside(old)
    assert [row_key(row) for row in ledger.rows] == [row_key(rows[0])] and row_key(rows[1]) not in ledger

    def read(name):
        with open(tmp_path / name) as f:
            return list(csv.DictReader(f))

    assert [row["return_mean"] for row in read("transfer.csv")] == ["-30.0"]
    assert [row["return_mean"] for row in read("transfer_superseded.csv")] == ["-90.0"]
    assert [row["return"] for row in read("transfer_episodes.csv")] == ["-30.0", "-31.0"]
    assert [row["return"] for row in read("transfer_episodes_superseded.csv")] == ["-90.0", "-91.0"]
    ledger.add([rows[1] | {"return_mean": -80.0}])
    ledger.set_aside(old)
    assert [row["return_mean"] for row in read("transfer_superseded.csv")] == ["-90.0", "-80.0"], "appended"


def test_a_retrained_train_trial_s_curves_and_its_fine_tuning_s_are_superseded_and_no_other():
    settings = _settings()
    superseded = superseded_curves(settings, [_specs(settings)[1], _specs(settings)[4]])  # train and scratch, seed 1

    def curve(phase, seed, train_agents="3", algo="qmix"):
        return {"algo": algo, "embedding": "concat", "phase": phase, "seed": seed, "train_agents": train_agents}

    assert superseded(curve("train", "1")) and superseded(curve("finetune:kl", "1"))
    assert not superseded(curve("scratch", "1")), "a from-scratch trial's curve is its own"
    assert not superseded(curve("train", "0")) and not superseded(curve("train", "1", train_agents="4"))
    assert not superseded(curve("train", "1", algo="vdn"))
