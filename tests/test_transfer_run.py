"""The transfer experiment end to end on the `--smoke` budget, its resume, its reports and its NaN guard."""

import csv
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from experiments.transfer_experiment.command_line import parse_settings
from experiments.transfer_experiment.curves import curve_rows
from experiments.transfer_experiment.report import summary_markdown
from experiments.transfer_experiment.run import main, summary_title
from experiments.transfer_experiment.settings import TransferSettings
from experiments.transfer_experiment.stats import mean_estimate
from experiments.transfer_experiment.trial import TeamTrial, non_finite_losses
from experiments.transfer_experiment.trial_spec import TrialSpec
from rl_algos.common.evaluation.team_evaluation import evaluate
from rl_algos.common.loops.off_policy import stored_team_replay


def _read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _keys(rows):
    return [(r["algo"], r["embedding"], r["eval_agents"], r["phase"], r["seed"]) for r in rows]


def test_smoke_run_writes_every_row_and_a_plot_and_resume_adds_none(ray_session, tmp_path, capsys, tensorboard_scalars):
    argv = ["--smoke", "--storage", str(tmp_path), "--name", "smoke"]
    assert main(argv) == 0
    folder = tmp_path / "smoke"
    rows = _read_rows(folder / "transfer.csv")

    expected = {(policy, "-", n, policy, "0") for n in ("3", "6") for policy in ("random", "heuristic")}
    for embedding in ("concat", "graph"):
        for n in ("3", "6"):
            for phase in ("zero_shot", "finetune", "scratch"):
                expected.add(("qmix", embedding, n, phase, "0"))
    assert sorted(_keys(rows)) == sorted(expected), "one row per (algo, embedding, eval size, phase, seed)"
    for row in rows:
        assert row["scenario"] == "spread" and math.isfinite(float(row["return_mean"]))
        assert int(row["episodes"]) == 2
        assert 0.0 <= float(row["occupied_landmarks_mean"]) <= 1.0, "task metrics sit next to the return"
        assert float(row["collisions_mean"]) >= 0.0 and math.isfinite(float(row["min_dist_sum_std"]))
    episodes = _read_rows(folder / "transfer_episodes.csv")
    assert len(episodes) == 2 * len(rows), "every evaluated episode, for the summary's intervals"
    assert {(r["algo"], r["embedding"], r["eval_agents"], r["phase"], r["seed"]) for r in episodes} == set(_keys(rows))
    trained = [r for r in rows if r["phase"] in ("zero_shot", "scratch")]
    assert all(int(r["timesteps"]) >= 1500 for r in trained)

    curves = _read_rows(folder / "curves.csv")
    for trial in ("concat", "graph"):
        points = {(r["point"], r["eval_agents"]) for r in curves if r["phase"] == "train" and r["embedding"] == trial}
        assert points == {(p, n) for p in ("0", "1") for n in ("3", "6")}, "train curves at 750 and 1500 env steps"
    assert all(math.isfinite(float(r["return_mean"])) and r["occupied_landmarks_r02_mean"] != "" for r in curves)
    for figure in ("transfer.png", "transfer_embeddings.png", "transfer_curves.png"):
        with Image.open(folder / figure) as image:
            image.verify()
    summary = (folder / "summary.md").read_text()
    assert "| qmix | graph | 3 | 6 |" in summary
    console = capsys.readouterr().out
    *_, last_summary_line, wall_time, tensorboard = console.rstrip().splitlines()
    assert summary.rstrip().endswith(last_summary_line), "the console ends with summary.md, then two lines"
    assert wall_time.startswith("wall time per phase: scripted policies ") and "train evaluation" in wall_time
    assert tensorboard.endswith(f"tensorboard --logdir {folder}")
    progress = [line for line in console.splitlines() if line.startswith("progress: ")]
    assert any("train phase, trials 4/4 finished, env steps 6,000/6,000" in line for line in progress), progress
    assert any("experiment 8,000/8,000 env steps (100%)" in line for line in progress), progress
    assert (folder / "train" / "train_qmix_graph_n3_seed0").is_dir()
    zero_shot_at_6 = next(
        r for r in rows if (r["embedding"], r["phase"], r["eval_agents"]) == ("graph", "zero_shot", "6")
    )
    scalars = tensorboard_scalars(folder / "train" / "train_qmix_graph_n3_seed0")
    assert scalars[("eval/zero_shot/return", 6)] == pytest.approx(float(zero_shot_at_6["return_mean"]))
    assert (folder / "finetune" / "finetune_qmix_concat_n6_seed0").is_dir()
    final = max((folder / "train" / "train_qmix_graph_n3_seed0").glob("checkpoint_*"))
    assert stored_team_replay(final) is not None, "the conservative default fine-tunes from the pre-training replay"
    at_6 = parse_settings(argv)[0].env_config(6)
    reused = evaluate(final, at_6, episodes=2, seed=10_000, agent_ids="reuse")
    assert reused["return_mean"] == pytest.approx(float(zero_shot_at_6["return_mean"])), "slots 3-5 act as 0-2"

    assert main(["--resume", *argv]) == 0
    resumed = _read_rows(folder / "transfer.csv")
    assert resumed == rows, "a resumed finished experiment neither re-runs nor duplicates rows"
    assert _read_rows(folder / "transfer_episodes.csv") == episodes
    starts = yaml.safe_load((folder / "provenance.yaml").read_text())
    assert [entry["command"] for entry in starts] == [
        "python experiments/transfer.py " + " ".join(args) for args in (argv, ["--resume", *argv])
    ], "the start and the resume each add their command"
    assert all(entry["packages"]["torch"] == torch.__version__ for entry in starts)
    stored = yaml.safe_load((folder / "settings.yaml").read_text())
    assert "resume" not in stored and stored["name"] == "smoke", "a resume leaves the stored settings as they were"
    assert "## Provenance" in (folder / "summary.md").read_text()


@pytest.mark.slow
def test_a_resume_without_its_tune_state_trains_again_only_what_a_row_is_missing_of(ray_session, tmp_path, capsys):
    """A resume on a machine without the run's checkpoints (Tune's folders gone), one fine-tuning row missing: the
    train trial trains again and all its evaluations are made anew, the old ones set aside, so that fine-tuned and
    zero-shot rows come from one policy; the from-scratch trial at 6, whose row is there, is not trained again."""
    argv = ["--smoke", "--embeddings", "concat", "--storage", str(tmp_path), "--name", "moved"]
    assert main(argv) == 0
    folder = tmp_path / "moved"
    before = _read_rows(folder / "transfer.csv")
    shutil.rmtree(folder / "train")
    shutil.rmtree(folder / "finetune")
    with open(folder / "transfer.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(before[0]))
        writer.writeheader()
        writer.writerows(row for row in before if (row["phase"], row["eval_agents"]) != ("finetune", "6"))
    capsys.readouterr()

    assert main(["--resume", *argv]) == 0
    after = _read_rows(folder / "transfer.csv")
    assert sorted(_keys(after)) == sorted(_keys(before)), "every row again, once"
    superseded = _read_rows(folder / "transfer_superseded.csv")
    old = [("finetune", "3"), ("scratch", "3"), ("zero_shot", "3"), ("zero_shot", "6")]
    assert sorted((row["phase"], row["eval_agents"]) for row in superseded) == old
    assert len(_read_rows(folder / "transfer_episodes_superseded.csv")) == 2 * len(old)
    old_curves = _read_rows(folder / "curves_superseded.csv")
    assert {row["phase"] for row in old_curves} == {"train", "finetune"}, "the lost train trial's and its fine-tuning's"
    assert {row["phase"] for row in _read_rows(folder / "curves.csv")} == {"train", "scratch", "finetune"}
    at_6 = [row for row in before if (row["phase"], row["eval_agents"]) == ("scratch", "6")]
    assert [row for row in after if (row["phase"], row["eval_agents"]) == ("scratch", "6")] == at_6, "kept as it was"
    trials = sorted(path.name for path in (folder / "train").iterdir() if path.name.startswith(("train_", "scratch_")))
    assert trials == ["train_qmix_concat_n3_seed0"]
    assert (folder / "finetune" / "finetune_qmix_concat_n6_seed0").is_dir()
    console = capsys.readouterr().out
    assert "4 evaluations in transfer.csv came from checkpoints that are no longer here" in console
    assert "not trained again, every evaluation of theirs in transfer.csv: 1 trial(s)" in console


def test_several_fine_tuning_strategies_each_fine_tune_every_checkpoint_and_a_variant_labels_the_rows(
    ray_session, tmp_path
):
    argv = ["--smoke", "--embeddings", "concat", "--no-scratch", "--finetune", "conservative,naive"]
    assert main([*argv, "--variant", "lr-probe", "--storage", str(tmp_path), "--name", "strategies"]) == 0
    folder = tmp_path / "strategies"
    rows = _read_rows(folder / "transfer.csv")
    assert {r["algo"] for r in rows if r["phase"] not in ("random", "heuristic")} == {"qmix+lr-probe"}
    learned = {(r["eval_agents"], r["phase"]) for r in rows if r["algo"] == "qmix+lr-probe"}
    phases = ("zero_shot", "finetune:conservative", "finetune:naive")
    assert learned == {(n, phase) for n in ("3", "6") for phase in phases}
    for strategy in ("conservative", "naive"):
        assert (folder / "finetune" / f"finetune-{strategy}_qmix_concat_n6_seed0").is_dir()
    assert {r["algo"] for r in _read_rows(folder / "curves.csv")} == {"qmix+lr-probe"}
    curves = [r for r in _read_rows(folder / "curves.csv") if r["phase"].startswith("finetune")]
    assert {r["phase"] for r in curves} == {"finetune:conservative", "finetune:naive"}
    assert {(r["train_agents"], r["eval_agents"]) for r in curves} == {("3", "3"), ("3", "6")}, "the run's, as rows"
    assert (folder / "transfer_finetune_curves.png").stat().st_size > 0
    summary = (folder / "summary.md").read_text()
    assert "| fine-tuned (conservative) | fine-tuned (naive) | from scratch |" in summary
    assert "| fine-tuned (conservative) vs zero-shot | fine-tuned (naive) vs zero-shot |" in summary
    assert "| qmix+lr-probe | concat | 3 | 6 |" in summary


def test_the_summary_title_names_the_fine_tuning_or_says_there_is_none():
    settings = parse_settings(["--smoke", "--name", "t", "--finetune", "kl,naive", "--finetune-timesteps", "500"])[0]
    assert ", fine-tuned 500 (kl, naive), slots first," in summary_title(settings)
    evaluation_only = ["--smoke", "--name", "t", "--train-agents", "2,3", "--finetune-timesteps", "0"]
    title = summary_title(parse_settings(evaluation_only)[0])
    assert title.startswith("spread: trained at 2-3 agents, ") and ", not fine-tuned, " in title
    assert "(kl" not in title and "conservative" not in title


def test_summary_on_a_small_synthetic_experiment():
    """Two seeds at 6 agents, one seed (with its episodes) at 3; returns and one task metric."""

    def row(algo, embedding, n, phase, seed, value):
        return {
            "algo": algo,
            "embedding": embedding,
            "train_agents": "-" if phase in ("random", "heuristic") else "3",
            "eval_agents": n,
            "phase": phase,
            "seed": seed,
            "return_mean": value,
            "occupied_landmarks_mean": 0.5,
        }

    rows = [
        row("random", "-", 3, "random", 0, -100.0),
        row("qmix", "graph", 3, "zero_shot", 0, -90.0),
        row("qmix", "graph", 3, "scratch", 0, -98.0),
        row("qmix", "graph", 3, "finetune", 0, -91.0),
        row("random", "-", 6, "random", 0, -100.0),
        row("random", "-", 6, "random", 1, -100.0),
        row("qmix", "graph", 6, "zero_shot", 0, -70.0),
        row("qmix", "graph", 6, "zero_shot", 1, -50.0),
        row("qmix", "graph", 6, "scratch", 0, -40.0),
        row("qmix", "graph", 6, "scratch", 1, -40.0),
        row("qmix", "graph", 6, "finetune", 0, -40.0),
        row("qmix", "graph", 6, "finetune", 1, -30.0),
        row("heuristic", "-", 6, "heuristic", 0, -20.0),
        row("heuristic", "-", 6, "heuristic", 1, -20.0),
    ]
    episodes = [
        {
            **{k: r[k] for k in ("algo", "embedding", "train_agents", "eval_agents", "phase", "seed")},
            "return": value,
            "episode": i,
        }
        for r in rows
        if r["eval_agents"] == 3
        for i, value in enumerate(np.array([-10.0, 10.0, -5.0, 5.0]) + r["return_mean"])
    ]
    summary = summary_markdown(rows, episodes, "t", ["occupied_landmarks"])
    # two seeds: the seed means -70, -50 resample to -70, -60, -50; ratio (-60 + 100) / (-40 + 100) in 0.5 .. 0.83;
    # fine-tuned minus zero-shot resamples to 10 .. 40, above 0
    assert (
        "| qmix | graph | 3 | 6 | -60.00 [-70.00, -50.00] | -35.00 [-40.00, -30.00] | -40.00 [-40.00, -40.00] "
        "| -100.00 [-100.00, -100.00] | -20.00 [-20.00, -20.00] | 0.67 [0.50, 0.83] | better (+25.00) |" in summary
    )
    # heuristic-normalised: zero-shot (-60 + 100) / (-20 + 100) = 0.5, its seeds 30 / 80 and 50 / 80;
    # fine-tuned (-35 + 100) / 80; from scratch 60 / 80; no heuristic at 3 agents
    assert "| qmix | graph | 3 | 6 | 0.50 [0.38, 0.62] | 0.81 [0.75, 0.88] | 0.75 [0.75, 0.75] |" in summary
    assert "| qmix | graph | 3 | 3 | - | - | - |" in summary
    # one seed: intervals over its episodes; from scratch (-98) overlaps random (-100): no ratio, a footnote;
    # fine-tuned 1 below zero-shot, well inside the noise
    zero_shot = mean_estimate([np.array([-100.0, -80.0, -95.0, -85.0])])
    assert f"| qmix | graph | 3 | 3 | {zero_shot} |" in summary and "| n/a* | same (-1.00) |" in summary
    assert "*n/a: from scratch is not better than random" in summary
    assert "`occupied_landmarks`, mean [95% interval]:" in summary
    assert (
        "| qmix | graph | 3 | 6 | 0.50 [0.50, 0.50] | 0.50 [0.50, 0.50] | 0.50 [0.50, 0.50] | 0.50 [0.50, 0.50] |"
        in (summary)
    )


def test_non_finite_losses_are_found_and_stop_the_trial_naming_it():
    result = {"learners": {"default_policy": {"total_loss": float("nan"), "td_error_mean": 1.0}, "__all_modules__": {}}}
    assert list(non_finite_losses(result)) == ["default_policy/total_loss"]
    assert non_finite_losses({"learners": {"default_policy": {"total_loss": 0.5}}}) == {}

    spec = TrialSpec(TransferSettings(), "train", "qmix", "graph", (3,), seed=1, timesteps=10)
    trial = SimpleNamespace(
        spec=spec, curve=None, algo=SimpleNamespace(train=lambda: {**result, "num_env_steps_sampled_lifetime": 5})
    )
    with pytest.raises(FloatingPointError, match="trial train_qmix_graph_n3_seed1: default_policy/total_loss=nan"):
        TeamTrial.step(trial)
    healthy = SimpleNamespace(
        spec=spec,
        curve=None,
        algo=SimpleNamespace(train=lambda: {"learners": {}, "num_env_steps_sampled_lifetime": 10}),
    )
    assert TeamTrial.step(healthy)["done"], "a trial ends once its env-step budget is spent"


def test_a_trial_restored_from_its_checkpoint_keeps_one_curve_point_per_interval(ray_session, tmp_path):
    """A resumed run's trial (`load_checkpoint`) continues its learning curve on the multiples of `--eval-every`:
    no point at the env step it was restored at."""
    settings = parse_settings(["--smoke", "--timesteps", "4000", "--eval-every", "1000"])[0]
    spec = TrialSpec(settings, "train", "qmix", "concat", (3,), seed=0, timesteps=settings.timesteps)

    def step(trial):
        result = trial.step()
        return int(result["num_env_steps_sampled_lifetime"]), "curve/3/return_mean" in result

    trial = TeamTrial(config={"trial": spec.to_dict()})
    points = [step(trial) for _ in range(3)]
    assert points == [(400, False), (800, False), (1200, True)], "a point at the first iteration past 1000"
    trial.save_checkpoint(str(tmp_path))
    trial.stop()
    restored = TeamTrial(config={"trial": spec.to_dict()})
    restored.load_checkpoint(str(tmp_path))
    assert [step(restored) for _ in range(2)] == [(1600, False), (2000, True)], "the next point at 2000, not at 1600"
    restored.stop()


def test_a_restored_trial_s_curve_drops_the_results_its_checkpoint_did_not_keep():
    """Tune's results of a trial restored from the checkpoint of iteration 3 after it had reported iteration 5: the
    points of iterations 4-5 it reported before the restore are not the curve of the policy it went on to train."""
    spec = TrialSpec(TransferSettings(), "train", "qmix", "graph", (3,), seed=1, timesteps=600)
    iterations = [1, 2, 3, 4, 5, 4, 5, 6]
    returns = [None, -90.0, None, -70.0, None, -75.0, None, -60.0]  # a point every 200 env steps
    frame = pd.DataFrame(
        {
            "training_iteration": iterations,
            "num_env_steps_sampled_lifetime": [100 * i for i in iterations],
            "curve/3/return_mean": returns,
        }
    )
    rows = curve_rows([SimpleNamespace(metrics_dataframe=frame, config={"trial": spec.to_dict()})])
    assert [(r["point"], r["env_steps"], r["return_mean"]) for r in rows] == [
        (0, 200, -90.0),
        (1, 400, -75.0),
        (2, 600, -60.0),
    ]


@pytest.mark.slow
def test_the_same_settings_and_seeds_give_identical_returns(ray_session, tmp_path):
    """The transfer experiment's default synchronous loop (`--env-runners 0`) on CPU: two runs, the same numbers."""
    tables = []
    for name in ("first", "second"):
        assert main(["--smoke", "--embeddings", "graph", "--storage", str(tmp_path), "--name", name]) == 0
        rows = _read_rows(tmp_path / name / "transfer.csv")
        tables.append({_keys([row])[0]: row["return_mean"] for row in rows})
    assert tables[0] == tables[1]


@pytest.mark.slow
def test_a_two_node_cluster_runs_the_grid_and_survives_a_dead_env_runner_and_a_lost_node(tmp_path):
    """`address="auto"` semantics against a local two-node cluster on one machine: the smoke grid with remote env
    runners places trials on both nodes; an env runner killed mid-sampling is replaced; the worker node removed
    mid-training, its trial restarts from its last checkpoint on the head; the run completes without duplicate rows."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import psutil
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=2)
    root = Path(__file__).parents[1]
    argv = ["--smoke", "--env-runners", "1", "--no-scratch", "--finetune-timesteps", "0", "--timesteps", "6000"]
    argv += ["--checkpoint-every", "1", "--storage", str(tmp_path), "--name", "multi"]
    env = {**os.environ, "RAY_ADDRESS": cluster.address, "PYTHONPATH": str(root)}
    driver = subprocess.Popen(
        [sys.executable, str(root / "experiments" / "transfer.py"), *argv], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list((tmp_path / "multi" / "train").glob("*/checkpoint_*"))) < 2:
            time.sleep(1)
        runners = env_runner_pids(psutil)
        assert len(runners) >= 2, "each trial's remote env runner is up"
        os.kill(min(runners), signal.SIGKILL)  # mid-sampling: the runners sample all the time
        while time.monotonic() < deadline and not env_runner_pids(psutil) - runners:
            time.sleep(0.5)
        assert env_runner_pids(psutil) - runners, "the killed env runner was replaced"
        cluster.remove_node(worker)
        out, _ = driver.communicate(timeout=900)
    finally:
        driver.kill()
        cluster.shutdown()
    assert driver.returncode == 0, out[-3000:]
    rows = _read_rows(tmp_path / "multi" / "transfer.csv")
    assert len(_keys(rows)) == len(set(_keys(rows))) == 4 + 2 * 2, (
        "random and heuristic at 3 and 6, both embeddings' zero-shot"
    )
    assert all(int(r["timesteps"]) >= 6000 for r in rows if r["phase"] == "zero_shot")
    errors = [path.read_text() for path in (tmp_path / "multi" / "train").glob("*/error.txt")]
    assert len(errors) == 1 and "its node has died" in errors[0], "one trial ran on the worker node and was retried"


def env_runner_pids(psutil) -> set[int]:
    """PIDs of the Ray env-runner actor processes on this machine."""
    return {
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if "SingleAgentEnvRunner" in " ".join(process.info["cmdline"] or [])
    }
