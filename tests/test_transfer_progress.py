"""The experiment's progress line (phase, trials, env steps, elapsed, ETA), its callback's pace, the phase wall times,
and the embedded Ray's dashboard (slow: its own Ray)."""

import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from experiments.transfer_experiment import progress
from experiments.transfer_experiment.progress import ExperimentProgress, ProgressCallback, duration

ROOT = Path(__file__).resolve().parents[1]


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", fake)
    return fake


def _trial(status: str, steps: int | None, budget: int):
    last = {} if steps is None else {"num_env_steps_sampled_lifetime": steps}
    return SimpleNamespace(status=status, last_result=last, config={"trial": {"timesteps": budget}})


def test_durations_read_as_a_person_would():
    assert [duration(s) for s in (4.4, 65, 3600 + 125)] == ["4s", "1m 05s", "1h 02m"]


def test_the_eta_comes_from_the_rate_measured_since_this_process_s_first_report(clock):
    progress = ExperimentProgress(total_env_steps=10_000)
    progress.finished_steps = 2_000  # a phase already over (a resumed run's, say)
    clock.now += 30
    first = progress.line("finetune", 0, 4, 1_000, 8_000)
    assert first == (
        "progress: finetune phase, trials 0/4 finished, env steps 1,000/8,000; experiment 3,000/10,000 env steps "
        "(30%), elapsed 30s, ETA after the next report"
    )
    clock.now += 20  # 2,000 more env steps in 20 s: 100 env steps/s, 5,000 left
    second = progress.line("finetune", 1, 4, 3_000, 8_000)
    assert second.endswith("experiment 5,000/10,000 env steps (50%), elapsed 50s, ETA 50s at 100 env steps/s")


def test_phases_are_timed_and_summed(clock):
    progress = ExperimentProgress(total_env_steps=1)
    for name, seconds in (("train", 120), ("train evaluation", 5), ("train", 30)):
        with progress.phase(name):
            clock.now += seconds
    assert progress.summary() == "wall time per phase: train 2m 30s, train evaluation 5s; total 2m 35s"


def test_the_callback_reports_at_tune_s_pace_and_at_every_finished_trial(clock, capsys):
    progress = ExperimentProgress(total_env_steps=3_000)
    callback = ProgressCallback(progress, "train", phase_total=3_000, every_s=30)
    trials = [_trial("RUNNING", 400, 1_000), _trial("PENDING", None, 1_000), _trial("TERMINATED", 1_010, 1_000)]
    callback.on_trial_result(1, trials, trials[0], {})
    clock.now += 10
    callback.on_trial_result(2, trials, trials[0], {})  # within 30 s of the last line: quiet
    callback.on_trial_complete(3, trials, trials[0])  # Tune calls it while the trial's status is still RUNNING
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("progress: train phase, trials 1/3 finished, env steps 1,400/3,000; experiment 1,400")
    assert lines[1].startswith("progress: train phase, trials 2/3 finished, env steps 2,000/3,000; experiment 2,000")
    assert pickle.loads(pickle.dumps(callback)).phase_total == 3_000, "Tune stores its callbacks with its state"


DASHBOARD = """
import time, urllib.request
from pathlib import Path
import ray
from experiments.transfer_experiment import ray_session
ray_session.RAY_START_ADDRESS_FILE = Path("/nonexistent")  # no `ray start` cluster: the embedded Ray, as a user gets
ray_session.start_ray(dashboard=True)
base = "http://" + ray.worker.get_dashboard_url()
for path in ("/api/version", "/", "/api/jobs/"):
    for _ in range(60):  # the dashboard's server comes up a few seconds after ray.init returns
        try:
            with urllib.request.urlopen(base + path, timeout=5) as reply:
                print("GET", base + path, reply.status, flush=True)
            break
        except OSError:
            time.sleep(1)
ray.shutdown()
"""


@pytest.mark.slow
def test_the_embedded_ray_serves_its_dashboard_at_the_printed_url():
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", DASHBOARD], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    printed = next(line for line in lines if line.startswith("Ray dashboard: "))
    url = printed.split()[2]
    assert url.startswith("http://127.0.0.1:"), "served on localhost only"
    served = [line.split()[1:] for line in lines if line.startswith("GET ")]
    assert served == [[url + path, "200"] for path in ("/api/version", "/", "/api/jobs/")], lines
