"""A study's progress (`transfer_experiment/study_progress.py`, `report.py --plan`): which (algorithm, embedding,
seed) runs the merged rows complete, what a partial one lacks, and the commands of the chunks still to run."""

import yaml

from experiments.report import main
from experiments.transfer_experiment.settings import TransferSettings
from experiments.transfer_experiment.study_progress import next_chunks, progress_markdown, seed_progress
from tests.test_report import write_experiment

STUDY = {
    "scenario": "spread",
    "algos": ["qmix", "vdn"],
    "embeddings": {"qmix": ["concat", "graph"], "all": ["concat"]},
    "train_agents": [3],
    "eval_agents": [3, 6],
    "seeds": [0, 1],
    "finetune": ["naive", "kl"],
    "finetune_agents": [6],
    "finetune_timesteps": 100,
    "scratch_agents": [6],
}


def rows_of(settings, algo, embedding, seed, evaluations, train="3"):
    """`transfer.csv` rows of one seed at the given (phase, size) evaluations."""
    return [
        {
            "algo": algo,
            "embedding": embedding,
            "scenario": settings.scenario,
            "train_agents": train,
            "eval_agents": str(n),
            "phase": phase,
            "seed": str(seed),
            "wall_s": 1800.0 if phase == "zero_shot" else 360.0,  # a train trial's, every other trial's
        }
        for phase, n in evaluations
    ]


def test_planned_evaluations_are_the_train_trials_then_scratch_then_each_strategy_at_each_size():
    settings = TransferSettings(**STUDY)
    assert settings.planned_evaluations() == [
        ("zero_shot", 3),
        ("zero_shot", 6),
        ("scratch", 3),
        ("scratch", 6),
        ("finetune:naive", 6),
        ("finetune:kl", 6),
    ]
    one_strategy = TransferSettings(**{**STUDY, "finetune": ["conservative"], "scratch": False})
    assert one_strategy.planned_evaluations() == [("zero_shot", 3), ("zero_shot", 6), ("finetune", 6)]
    no_finetuning = TransferSettings(**{**STUDY, "finetune_timesteps": 0, "train_agents": [2, 3]})
    assert no_finetuning.planned_evaluations() == [("zero_shot", 2), ("zero_shot", 3), ("zero_shot", 6), ("scratch", 6)]


def test_a_seed_is_complete_partial_or_not_started_and_only_matching_rows_count():
    settings = TransferSettings(**STUDY)
    planned = settings.planned_evaluations()
    rows = (
        rows_of(settings, "qmix", "concat", 0, planned)
        + rows_of(settings, "qmix", "concat", 1, planned[:3])  # train trial only
        + rows_of(settings, "qmix", "graph", 0, planned, train="4")  # trained at another size
        + rows_of(settings, "vdn+other", "concat", 0, planned)  # a variant's rows
        + rows_of(TransferSettings(scenario="pursuit"), "vdn", "concat", 1, planned)  # another scenario's
    )
    progress = {(p.algo, p.embedding, p.seed): p for p in seed_progress(settings, rows)}
    assert len(progress) == 6  # qmix concat, qmix graph, vdn concat x 2 seeds
    assert progress["qmix", "concat", 0].complete
    partial = progress["qmix", "concat", 1]
    assert partial.started and partial.missing == planned[3:]
    assert all(not p.started for key, p in progress.items() if key[:2] != ("qmix", "concat"))
    variant = TransferSettings(**{**STUDY, "variant": "other"})
    assert [p.complete for p in seed_progress(variant, rows) if p.algo == "vdn"] == [True, False]


def test_chunks_group_an_algorithms_embeddings_per_seed_and_never_reuse_a_folders_name():
    settings = TransferSettings(**STUDY)
    planned = settings.planned_evaluations()
    rows = rows_of(settings, "qmix", "concat", 0, planned) + rows_of(settings, "vdn", "concat", 0, planned[:2])
    progress = seed_progress(settings, rows)
    commands = next_chunks(settings, progress, "study.yaml", "results/study", taken={"vdn-s0"})
    prefix = "python experiments/transfer.py --config study.yaml --storage results/study"
    assert commands == [
        f"{prefix} --algos qmix --embeddings graph --seeds 0 --name qmix-s0-graph",
        f"{prefix} --algos vdn --seeds 0 --name vdn-s0-rerun",
        f"{prefix} --algos qmix --seeds 1 --name qmix-s1",  # both embeddings: the config's own
        f"{prefix} --algos vdn --seeds 1 --name vdn-s1",
    ]
    training = {"qmix-s1-concat": {("qmix", "concat", 1)}, "vdn-s0-old": {("vdn", "concat", 0)}}
    started = next_chunks(settings, progress, "study.yaml", "results/study", {"vdn-s0"}, training)
    assert started == [
        "python experiments/transfer.py --resume --name qmix-s1-concat --storage results/study",
        "python experiments/transfer.py --resume --name vdn-s0-old --storage results/study",
        f"{prefix} --algos qmix --embeddings graph --seeds 0 --name qmix-s0-graph",
        f"{prefix} --algos qmix --embeddings graph --seeds 1 --name qmix-s1-graph",
        f"{prefix} --algos vdn --seeds 1 --name vdn-s1",
    ], "a chunk started and not finished is continued, and its runs are not given a chunk of their own"
    lines = progress_markdown(settings, rows, "study.yaml", None, set())
    assert lines[0].startswith("1 of 6 (algorithm, embedding, seed) runs of `study.yaml` complete, each with all 6")
    # 0.5 h of training, 0.1 h for each of three scratch and fine-tuning trials (scratch at 3 is the train trial)
    assert "| qmix | concat | 1 of 2: 0 | - | 1 | 0.8 | 0.8 |" in lines
    assert "| vdn | concat | 0 of 2: - | 0: from scratch 2, fine-tuned 2 | 1 | - | - |" in lines
    # the hours left: qmix concat's one seed at its complete seed's 0.8 h; the others have no complete seed
    estimate = " ".join(line for line in lines if not line.startswith("|")).split("complete seed took, ")[1]
    assert estimate.startswith(
        "the runs left take about 0.8 trial hours, and more for qmix graph, vdn concat, which have no complete seed "
        "yet."
    )
    assert all(len(line) <= 120 for line in lines if not line.startswith(("|", "python")))
    with_partial = progress_markdown(
        settings, rows + rows_of(settings, "qmix", "concat", 1, planned[:3]), "s", None, set()
    )
    assert "| qmix | concat | 1 of 2: 0 | 1: from scratch 1, fine-tuned 2 | - | 0.8 | 0.8 |" in with_partial, (
        "a partial seed counts whole"
    )
    done = rows + rows_of(settings, "vdn", "concat", 0, planned[2:])
    for embedding in ("concat", "graph"):
        done += rows_of(settings, "qmix", embedding, 1, planned) + rows_of(settings, "qmix", "graph", 0, planned)
    done += rows_of(settings, "vdn", "concat", 1, planned)
    finished = progress_markdown(settings, done, "study.yaml", None, set())
    assert finished[0].startswith("6 of 6") and "```bash" not in finished
    assert not any(line.startswith("At the trial hours") for line in finished), "nothing left, no estimate"


def test_the_report_writes_the_progress_into_its_summary_and_the_results_pages_block(tmp_path, capsys):
    write_experiment(tmp_path / "runs" / "a", "spread", "qmix", [-60.0, -40.0])
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump({**STUDY, "algos": ["qmix"], "embeddings": ["graph"]}))
    page = tmp_path / "results.md"
    page.write_text(
        "<!-- report.py: headline table -->\n<!-- /report.py -->\n\n"
        "## What is left\n\n<!-- report.py: study progress -->\nstale block\n<!-- /report.py -->\n\nNotes.\n"
    )
    folder = str(tmp_path / "runs" / "a")
    assert main([folder, "--results-page", str(page), "--plan", str(config)]) == 0
    text = page.read_text()
    assert "stale block" not in text and text.endswith("<!-- /report.py -->\n\nNotes.\n")
    # the folder has seeds 0 and 1 zero-shot at 6 only: both partial
    assert "| qmix | graph | 0 of 2: - | 0: zero-shot 1, from scratch 2, fine-tuned 2; 1: zero-shot 1, " in text
    assert f"--storage {tmp_path / 'runs'} --algos qmix --seeds 0 --name qmix-s0" in text
    assert "## Study progress" in (tmp_path / "runs" / "a" / "summary.md").read_text()
    started = tmp_path / "runs" / "graph-s1"  # a chunk training seed 1: its settings, no summary.md yet
    started.mkdir()
    chunk = {**STUDY, "algos": ["qmix"], "embeddings": ["graph"], "seeds": [1], "name": "graph-s1"}
    (started / "settings.yaml").write_text(yaml.safe_dump(chunk))
    assert main([folder, str(started), "--out", str(tmp_path / "merged"), "--plan", str(config)]) == 0
    merged = (tmp_path / "merged" / "summary.md").read_text()
    assert f"python experiments/transfer.py --resume --name graph-s1 --storage {tmp_path / 'runs'}" in merged
    assert "--seeds 1" not in merged and "--algos qmix --seeds 0 --name qmix-s0" in merged
    (started / "settings.yaml").write_text("algos: [qmix\n")
    capsys.readouterr()
    assert main([folder, str(started), "--out", str(tmp_path / "merged"), "--plan", str(config)]) == 2
    assert f"{started / 'settings.yaml'} is not valid YAML; restore it, or delete the folder" in capsys.readouterr().err
    config.write_text("scenario: vmas:spread\n")
    assert main([folder, "--plan", str(config)]) == 2
    assert "is a study on vmas:spread, the folders' experiments are on spread" in capsys.readouterr().err
    config.write_text("algos: [qmix]\nunknown_key: 1\n")
    assert main([folder, "--plan", str(config)]) == 2
    assert f"--plan {config}: unknown key 'unknown_key'" in capsys.readouterr().err
