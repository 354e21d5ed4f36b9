"""Every benchmark script imports and parses its arguments; the slow ones also write their first rows at a tiny
budget, so that a refactor cannot leave a benchmark broken until someone next runs it."""

import csv
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_imports_and_parses_its_arguments(name, monkeypatch, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 0
    assert "usage:" in capsys.readouterr().out


def run_benchmark(name: str, *args: str) -> str:
    env = {**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_convergence_runs_take_the_transfer_experiment_s_measured_defaults():
    from benchmarks.bench_convergence import convergence_config

    qmix = convergence_config("qmix", "spread", 1_000_000, 0, {"team_embedding": "concat"})
    assert qmix.gamma == 0.95 and qmix.epsilon == [[0, 1.0], [100_000, 0.05]] and qmix.learning_starts == 1000
    told = convergence_config("qmix", "spread", 1_000_000, 0, {"gamma": 0.99, "learning_starts": 200})
    assert told.gamma == 0.99 and told.learning_starts == 200
    assert convergence_config("mappo", "spread", 1_000_000, 0, {}).gamma == 0.99
    assert convergence_config("maddpg", "vmas:spread", 1_000_000, 0, {"team_embedding": "graph"}).gamma == 0.95


@pytest.mark.slow
def test_qmix_stability_writes_its_diagnostics(tmp_path):
    run_benchmark("bench_qmix_stability", "--regime", "small_batch", "--timesteps", "2400", "--every", "1200",
                  "--out", str(tmp_path))  # fmt: skip
    rows = read_csv(tmp_path / "qmix_stability_small_batch_concat_seed0.csv")
    assert rows and {"gain", "q_tot_at_zero", "gain_norm_corr", "features_norm"} <= set(rows[0])


@pytest.mark.slow
def test_convergence_on_vmas_spread_writes_a_curve_and_its_table(tmp_path):
    run_benchmark("bench_convergence", "--scenario", "vmas:spread", "--runs", "mappo-graph", "--seeds", "0",
                  "--timesteps", "2000", "--eval-every", "1000", "--eval-episodes", "2", "--worlds", "16",
                  "--out", str(tmp_path))  # fmt: skip
    curve = read_csv(tmp_path / "curves" / "mappo-graph_seed0.csv")
    assert {row["eval_agents"] for row in curve} == {"3", "6"}
    assert "mappo-graph" in (tmp_path / "convergence.md").read_text()


@pytest.mark.slow
def test_a_convergence_job_killed_after_a_point_resumes_from_it(tmp_path):
    args = [sys.executable, "benchmarks/bench_convergence.py", "--scenario", "vmas:spread", "--runs", "mappo-concat",
            "--seeds", "0", "--timesteps", "4000", "--eval-every", "1000", "--eval-episodes", "1", "--eval-agents",
            "3", "--worlds", "16", "--out", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(ROOT)}
    kept = tmp_path / "resume" / "mappo-concat_seed0" / "rllib_checkpoint.json"
    job = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not kept.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.poll() is None, "the run ended before its first point could be interrupted"
    os.killpg(job.pid, signal.SIGKILL)  # a session stopped mid-run: no chance to clean up
    job.wait()
    first = read_csv(tmp_path / "curves" / "mappo-concat_seed0.csv")
    assert kept.exists() and not (tmp_path / "curves" / "mappo-concat_seed0.done.json").exists()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mappo-concat seed 0: resumed at" in done.stdout
    curve = read_csv(tmp_path / "curves" / "mappo-concat_seed0.csv")
    steps = [int(row["env_steps"]) for row in curve]
    assert steps == sorted(steps) and steps[-1] >= 4000 and len({row["point"] for row in curve}) == len(curve)
    resumed_at = int(done.stdout.split("resumed at ")[1].split()[0])
    kept_rows = [row for row in first if int(row["env_steps"]) <= resumed_at]
    assert kept_rows and curve[: len(kept_rows)] == kept_rows, "the points before the kill are kept as measured"
    assert (tmp_path / "curves" / "mappo-concat_seed0.done.json").exists()
    assert not kept.parent.exists(), "a finished job leaves no resume checkpoint"


@pytest.mark.slow
def test_convergence_keeps_its_checkpoint_and_the_agent_ids_benchmark_plays_it(tmp_path):
    from rl_algos.common.checkpoints import checkpoint_config

    run_benchmark("bench_convergence", "--runs", "vdn", "--seeds", "0", "--timesteps", "1000", "--eval-every", "1000",
                  "--eval-episodes", "2", "--eval-agents", "3", "--env-options", '{"max_cycles": 10}',
                  "--keep-checkpoint", "--out", str(tmp_path))  # fmt: skip
    assert [row["eval_agents"] for row in read_csv(tmp_path / "curves" / "vdn_seed0.csv")] == ["3"]
    # the yardstick played the curve's own episodes: seed 0's, as many as its points, at its size
    paired = read_csv(tmp_path / "reference_paired.csv")
    assert [(r["policy"], r["seed"], r["eval_agents"], r["episodes"]) for r in paired] == [
        ("heuristic", "0", "3", "2"),
        ("random", "0", "3", "2"),
    ]
    assert checkpoint_config(tmp_path / "checkpoints" / "vdn_seed0").env_config["max_cycles"] == 10
    run_benchmark("bench_agent_ids", "--checkpoints", str(tmp_path / "checkpoints" / "vdn_seed0"),
                  "--eval-agents", "3,6", "--episodes", "2", "--out", str(tmp_path / "ids.csv"))  # fmt: skip
    rows = read_csv(tmp_path / "ids.csv")
    # trained in slots 0-2: at 6 the agents play with their own ids and with those of slots 0-2
    assert [(row["eval_agents"], row["agent_ids"], row["trained_slots"]) for row in rows] == [
        ("3", "own", "3"),
        ("6", "own", "3"),
        ("6", "reuse", "3"),
    ]
    assert all(np.isfinite(float(row["normalised"])) for row in rows)
    printed = run_benchmark("bench_heuristic_gap", "--checkpoint", str(tmp_path / "checkpoints" / "vdn_seed0"),
                  "--episodes", "2", "--travel-steps", "4")  # fmt: skip
    steps = read_csv(tmp_path / "heuristic_gap" / "vdn_seed0_n3.csv")
    assert [int(row["step"]) for row in steps] == list(range(10))
    for row in steps:
        assert float(row["gap"]) == pytest.approx(float(row["learned"]) - float(row["heuristic"]))
    assert "agent Qs while reaching" in printed and "agent Qs while holding" in printed  # a value learner's Qs


def test_heuristic_gap_plays_the_episodes_the_scripted_evaluation_plays():
    """The per-step rewards sum to the returns `scripted_policy_evaluation` gives for the same seed: the
    heuristic team of the gap benchmark plays the episodes a checkpoint's evaluation plays."""
    from benchmarks.bench_heuristic_gap import heuristic_step_rewards
    from rl_algos.common.evaluation.team_evaluation import scripted_policy_evaluation

    spread = {"scenario": "spread", "n_agents": 3, "n_max": 6, "max_cycles": 8}
    rewards, metrics = heuristic_step_rewards(spread, episodes=3, seed=11)
    scripted = scripted_policy_evaluation(spread, 3, 11, policy="heuristic")
    assert rewards.shape == (3, 8)
    np.testing.assert_allclose(rewards.sum(axis=1), scripted["returns"])
    assert metrics["occupied_landmarks"] == pytest.approx(np.mean(scripted["task_metrics"]["occupied_landmarks"]))


@pytest.mark.slow
def test_spread_twins_evaluates_each_policy_on_both(tmp_path):
    run_benchmark(
        "bench_spread_twins", "--timesteps", "1000", "--episodes", "2", "--worlds", "16", "--out", str(tmp_path)
    )
    rows = read_csv(tmp_path / "spread_twins.csv")
    trained = {(row["trained_on"], row["evaluated_on"]) for row in rows if row["policy"].startswith("mappo")}
    assert trained == {(a, b) for a in ("spread", "vmas:spread") for b in ("spread", "vmas:spread")}


def sweep_rows(cell: str, seed: int, returns_at_3: list[float], diverged: bool = False) -> list[dict]:
    rows = [
        {"cell": cell, "seed": str(seed), "env_steps": str(100 * (i + 1)), "diverged": "False",
         "return_mean_at_3": str(r), "return_mean_at_6": str(r * 3)}
        for i, r in enumerate(returns_at_3)
    ]  # fmt: skip
    if diverged:
        rows.append({"cell": cell, "seed": str(seed), "env_steps": "400", "diverged": "True"})
    return rows


def test_sweep_ranks_cells_by_their_last_points_and_flags_collapses_and_divergence():
    from benchmarks.bench_convergence import Yardstick
    from benchmarks.sweep_defaults import ranking

    # heuristic -20 / -60 and random -80 / -240 at 3 / 6 agents: a return of -50 at 3 normalises to 0.5
    means = {("heuristic", 3): -20, ("random", 3): -80, ("heuristic", 6): -60, ("random", 6): -240}
    reference = Yardstick({cell: {"return_mean": str(mean)} for cell, mean in means.items()}, {})
    rows = (
        sweep_rows("steady", 0, [-80, -50, -50, -50])  # last three points 0.5
        + sweep_rows("steady", 1, [-80, -38, -38, -38])  # 0.7
        + sweep_rows("peaked", 0, [-80, -20, -50, -80])  # best 1.0, ends at 0: a collapse; last three 0.5
        + sweep_rows("diverged", 0, [-80, -20], diverged=True)
    )
    entries = ranking(rows, reference, last=3)
    assert [entry["cell"] for entry in entries] == ["steady", "peaked", "diverged"]
    steady, peaked, diverged = entries
    assert steady["score"].point == pytest.approx(0.6) and steady["seeds"] == 2 and steady["collapsed"] == 0
    assert steady["zero_shot"] == pytest.approx(np.mean([(-150 + 240) / 180, (-114 + 240) / 180]))
    assert peaked["score"].point == pytest.approx(0.5) and peaked["collapsed"] == 1
    assert diverged["diverged"] == 1 and np.isnan(diverged["score"].point)


@pytest.mark.slow
def test_sweep_runs_a_tune_grid_and_names_a_winner(tmp_path):
    run_benchmark("sweep_defaults", "--algo", "vdn", "--grid", '{"lr": [0.0005, 0.001]}', "--timesteps", "2400",
                  "--eval-every", "1200", "--eval-episodes", "2", "--env-options", '{"slots": "random"}',
                  "--out", str(tmp_path))  # fmt: skip
    rows = read_csv(tmp_path / "sweep.csv")
    assert {row["cell"] for row in rows} == {'{"lr": 0.0005}', '{"lr": 0.001}'}
    assert {row["env_steps"] for row in rows} == {"1200", "2400"}
    table = (tmp_path / "sweep.md").read_text()
    assert 'winner: `{"lr": 0.00' in table
    assert 'env options {"slots": "random"}' in table.splitlines()[0]


def test_sweep_refuses_a_bad_grid(capsys):
    from benchmarks.sweep_defaults import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--grid", '{"lr": 0.001}'])
    assert "non-empty lists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--grid", '{"lr": [0.001]}', "--training", '{"lr": 0.002}'])
    assert "both swept and fixed: lr" in capsys.readouterr().err


@pytest.mark.slow
def test_q_bias_horizon_sets_the_value_against_both_returns(tmp_path):
    run_benchmark("bench_q_bias_horizon", "--algos", "vdn", "--timesteps", "1200", "--episodes", "1",
                  "--horizon", "40", "--out", str(tmp_path))  # fmt: skip
    (row,) = read_csv(tmp_path / "q_bias_horizon_seed0.csv")
    # the longer return-to-go adds the (negative) rewards of steps 25-39: the same values sit higher above it
    assert float(row["q_bias_to_horizon"]) > float(row["q_bias_to_limit"])
    assert float(row["return_to_horizon_at_start"]) < float(row["return_to_limit_at_start"])


def test_sweep_reads_its_trials_points_so_far_from_their_folders(tmp_path):
    from benchmarks.sweep_defaults import trial_rows

    for index, (cell, points) in enumerate([({"lr": 0.001}, 2), ({"lr": 0.01}, 1)]):
        folder = tmp_path / f"trial_{index}"
        folder.mkdir()
        (folder / "params.json").write_text(json.dumps({"cell": cell, "seed": 0, "spec": {}}))
        lines = ["env_steps,diverged,return_mean_at_3,time_total_s"] + [
            f"{100 * (i + 1)},False,-50,1.0" for i in range(points)
        ]
        (folder / "progress.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "trial_2").mkdir()  # a trial that has not reported yet
    rows = trial_rows(tmp_path)
    assert [(row["cell"], row["env_steps"]) for row in rows] == [
        ('{"lr": 0.001}', "100"),
        ('{"lr": 0.001}', "200"),
        ('{"lr": 0.01}', "100"),
    ]
    assert "time_total_s" not in rows[0], "only the sweep's own figures"


def test_a_curve_row_is_normalised_by_its_own_episodes_yardstick_where_measured():
    from benchmarks.bench_convergence import Yardstick

    reference = {("heuristic", 3): {"return_mean": "-20"}, ("random", 3): {"return_mean": "-80"}}
    paired = {("heuristic", "1", 3): {"return_mean": "-30"}, ("random", "1", 3): {"return_mean": "-90"}}
    yardstick = Yardstick(reference, paired)
    # seed 1's episodes are harder: -36 there is as good as -26 on the 100 reference episodes
    assert yardstick.score({"eval_agents": "3", "seed": "1", "return_mean": "-36"}) == pytest.approx(0.9)
    assert yardstick.score({"eval_agents": "3", "seed": "0", "return_mean": "-26"}) == pytest.approx(0.9)


@pytest.mark.slow
def test_gpu_benchmark_measures_the_cpu_rows_without_a_gpu(tmp_path):
    out = tmp_path / "gpu.csv"
    printed = run_benchmark(
        "bench_gpu",
        "--sections",
        "learner,vmas",
        "--cpu-threads",
        "1",
        "--worlds",
        "8",
        "--vmas-steps",
        "64",
        "--csv",
        str(out),
    )
    rows = read_csv(out)
    learners = [row for row in rows if row["section"] == "learner"]
    assert [row["what"] for row in learners] == ["qmix-concat", "qmix-graph", "central_v_sac-graph", "maddpg-graph"]
    assert all(row["where"] == "cpu, 1 threads" and float(row["value"]) > 0 for row in learners)
    assert [(row["what"], row["where"], row["size"]) for row in rows if row["section"] == "vmas"] == [
        ("raw vmas:spread N=3", "cpu", "8")
    ]
    assert "none (CPU rows only)" in printed and "| qmix-graph | cpu, 1 threads | 800 |" in printed


def test_mixer_sensitivity_measures_a_qmix_checkpoint_at_each_team_size(ray_session, tmp_path):
    import rl_algos
    from benchmarks.bench_mixer_sensitivity import checkpoint_rows

    spread = {"scenario": "spread", "n_agents": 2, "n_max": 3, "max_cycles": 5}
    algo = (
        rl_algos.get_config("qmix")
        .environment("team", env_config=spread)
        .env_runners(num_env_runners=0)
        .training(learning_starts=50, train_batch_size_per_learner=16)
        .reporting(min_sample_timesteps_per_iteration=50)
        .build_algo()
    )
    algo.train()
    checkpoint = algo.save_to_path(str(tmp_path / "qmix"))
    algo.stop()
    rows = checkpoint_rows(checkpoint, [2, 3], episodes=2)
    assert [(row["eval_agents"], row["steps"]) for row in rows] == [(2, 10), (3, 10)]
    for row in rows:  # QMIX's mixer is monotonic: every agent's gain is positive
        assert row["gain"] > 0 and np.isfinite(row["q_tot_at_zero"]) and row["action_gap"] >= 0


def test_team_embedding_benchmark_times_both_paths_of_every_network(tmp_path):
    from benchmarks.bench_team_embedding import main

    out = tmp_path / "embedding.csv"
    main(["--agents", "2,3", "--n-max", "4", "--batch", "8", "--repeats", "5", "--csv", str(out)])
    rows = read_csv(out)
    assert [(row["network"], row["n_agents"]) for row in rows] == [
        (network, n) for n in ("2", "3") for network in ("graph", "mean", "coma-graph", "joint-graph")
    ]
    assert all(float(row["filled_ms"]) > 0 and float(row["masked_ms"]) > 0 for row in rows)
    with pytest.raises(ValueError, match="team size 5 must be between 1 and --n-max 4"):
        main(["--agents", "5", "--n-max", "4", "--csv", str(out)])
