"""Every benchmark script imports and parses its arguments; the slow ones also write their first rows at a tiny
budget, so that a refactor cannot leave a benchmark broken until someone next runs it."""

import csv
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(path.stem for path in (ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_imports_and_parses_its_arguments(name, monkeypatch, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 0
    assert "usage:" in capsys.readouterr().out


def run_benchmark(name: str, *args: str) -> None:
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


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


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
def test_spread_twins_evaluates_each_policy_on_both(tmp_path):
    run_benchmark(
        "bench_spread_twins", "--timesteps", "1000", "--episodes", "2", "--worlds", "16", "--out", str(tmp_path)
    )
    rows = read_csv(tmp_path / "spread_twins.csv")
    trained = {(row["trained_on"], row["evaluated_on"]) for row in rows if row["policy"].startswith("mappo")}
    assert trained == {(a, b) for a in ("spread", "vmas:spread") for b in ("spread", "vmas:spread")}
