"""The experiment's CSV ledgers: one row per evaluation (deduplicated by its key, so a resumed run never repeats one),
one row per episode, and the files they go through."""

import csv

from experiments.transfer_experiment.ledgers import KEY_COLUMNS, EpisodeLedger, ExperimentFiles, TransferLedger


def _key(phase="zero_shot", n=6, seed=0):
    return dict(zip(KEY_COLUMNS, ("qmix", "graph", "spread", "3", str(n), phase, str(seed)), strict=True))


def _evaluation(returns, occupied):
    return {
        "return_mean": sum(returns) / len(returns),
        "return_std": 0.0,
        "episodes": len(returns),
        "returns": returns,
        "task_metrics": {"occupied": occupied},
    }


def test_the_transfer_ledger_keeps_one_row_per_key_and_reads_back_what_it_wrote(tmp_path):
    files = ExperimentFiles(str(tmp_path / "run"))
    assert files.read_rows(TransferLedger.FILE) == [], "a new experiment has no rows yet"
    ledger = TransferLedger(files, metric_names=["occupied"])
    ledger.add([_key() | {"return_mean": -140.0, "occupied_mean": 0.5}, _key(n=8) | {"return_mean": -230.0}])
    ledger.add([_key() | {"return_mean": -999.0}])  # the same evaluation again, as a resumed run might give it
    rows = list(csv.DictReader((tmp_path / "run" / "transfer.csv").open()))
    assert [(r["eval_agents"], r["return_mean"]) for r in rows] == [("6", "-140.0"), ("8", "-230.0")]
    assert rows[1]["occupied_mean"] == "" and rows[0]["occupied_std"] == "", "a column a row lacks is left empty"
    reopened = TransferLedger(files, metric_names=["occupied"])
    assert tuple(_key().values()) in reopened and tuple(_key(seed=1).values()) not in reopened
    assert reopened.rows == rows


def test_the_episode_ledger_writes_one_row_per_episode_under_its_evaluation_s_key(tmp_path):
    files = ExperimentFiles(str(tmp_path))
    ledger = EpisodeLedger(files, metric_names=["occupied"])
    ledger.add(_key(), _evaluation([-130.0, -150.0], [0.5, 0.25]))
    ledger.add(_key(phase="scratch"), _evaluation([-120.0], [0.75]))
    rows = EpisodeLedger(files, metric_names=["occupied"]).rows
    assert [(r["phase"], r["episode"], r["return"], r["occupied"]) for r in rows] == [
        ("zero_shot", "0", "-130.0", "0.5"),
        ("zero_shot", "1", "-150.0", "0.25"),
        ("scratch", "0", "-120.0", "0.75"),
    ]
    assert list(rows[0]) == [*KEY_COLUMNS, "episode", "return", "occupied"]
