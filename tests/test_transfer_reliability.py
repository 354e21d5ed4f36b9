"""The transfer experiment on a shared machine and when things go wrong: whose Ray it runs on, one run per
experiment folder, Ctrl-C, a full disk, a wandb server out of reach, and settings files of the wrong types."""

import csv
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
import pytest
import yaml

import experiments.transfer_experiment.run as transfer
from experiments.transfer_experiment import ray_session, storage_guard, wandb_logging
from experiments.transfer_experiment.command_line import parse_settings
from experiments.transfer_experiment.ledgers import ExperimentFiles, TransferLedger
from experiments.transfer_experiment.lock import ExperimentLock
from experiments.transfer_experiment.run import main
from experiments.transfer_experiment.settings import SettingsError
from experiments.transfer_experiment.storage_guard import storage_full

ROOT = Path(__file__).parents[1]


def _ray_must_not_start(*_):
    raise AssertionError("bad settings must be rejected before Ray starts")


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Whose Ray a run uses


def test_a_run_joins_only_the_cluster_ray_address_or_ray_start_names(monkeypatch, tmp_path):
    recorded = tmp_path / "ray_current_cluster"
    monkeypatch.setattr(ray_session, "RAY_START_ADDRESS_FILE", recorded)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_session.cluster_to_join() is None, "nothing named: a private embedded Ray, whatever else is running"
    recorded.write_text("10.0.0.5:6379\n")
    assert ray_session.cluster_to_join() == ("10.0.0.5:6379", f"started by `ray start`, recorded in {recorded}")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.7:6379")
    assert ray_session.cluster_to_join() == ("10.0.0.7:6379", "RAY_ADDRESS")
    monkeypatch.setenv("RAY_ADDRESS", "local")
    assert ray_session.cluster_to_join() is None


def test_a_ray_address_where_nothing_answers_is_refused_at_once(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(ray_session.ray, "is_initialized", lambda: False)  # a fresh driver's, even beside a test Ray
    monkeypatch.setattr(ray_session.ray, "init", lambda **kwargs: pytest.fail("ray.init would wait minutes"))
    with pytest.raises(
        SettingsError, match="no Ray cluster answers there; start it \\(`ray start --head`\\), or unset"
    ):
        ray_session.start_ray()


FIRST_RUN_RAY = """
import ray, time
ray.init(address="local", num_cpus=1, include_dashboard=False)
print(ray.get_runtime_context().gcs_address, flush=True)
time.sleep(600)
"""
SECOND_RUN_RAY = """
from pathlib import Path
import ray
from experiments.transfer_experiment import ray_session
ray_session.RAY_START_ADDRESS_FILE = Path("/nonexistent")  # no `ray start` cluster on this machine
joined = ray_session.start_ray()
print(joined, ray.get_runtime_context().gcs_address)
ray.shutdown()
"""


@pytest.mark.slow
def test_a_second_run_starts_its_own_ray_beside_a_running_one(tmp_path):
    """`ray.init(address="auto")` would join the first run's embedded Ray; the second run must not."""
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST_RUN_RAY], stdout=subprocess.PIPE, text=True, env={**os.environ, "RAY_ADDRESS": ""}
    )
    try:
        first_address = first.stdout.readline().strip()
        env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(ROOT)}
        second = subprocess.run(
            [sys.executable, "-c", SECOND_RUN_RAY], capture_output=True, text=True, timeout=300, env=env, check=False
        )
    finally:
        first.kill()
    assert second.returncode == 0, second.stderr[-2000:]
    lines = second.stdout.strip().splitlines()
    assert lines[0].startswith("started a private embedded Ray for this run")
    joined, address = lines[-1].split()
    assert joined == "False" and address != first_address


# One run per experiment folder


def test_a_second_run_of_the_same_experiment_is_refused_while_the_first_holds_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    first = ExperimentLock(tmp_path / "shared").acquire()
    try:
        for resume in ([], ["--resume"]):
            if resume:
                settings, _ = parse_settings(["--name", "shared", "--storage", str(tmp_path)])
                (tmp_path / "shared" / "settings.yaml").write_text(yaml.safe_dump(settings.to_dict()))
            assert main([*resume, "--name", "shared", "--storage", str(tmp_path)]) == 2
            error = capsys.readouterr().err
            assert f"experiment {tmp_path / 'shared'} is in use by another transfer.py (pid {os.getpid()} on " in error
            assert error.count("\n") == 1
    finally:
        first.release()
    second = ExperimentLock(tmp_path / "shared").acquire()  # released: free again
    second.release()


HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from experiments.transfer_experiment.lock import ExperimentLock
lock = ExperimentLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SettingsError, match=f"in use by another transfer.py \\(pid {holder.pid} on "):
            ExperimentLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    ExperimentLock(tmp_path).acquire().release()  # `kill -9` left nothing stale


# Interrupts


def _result(done: bool | None, error: Exception | None = None):
    spec = {"phase": "train", "algo": "qmix", "embedding": "graph", "n_agents": [3], "seed": 0}
    metrics = None if done is None else {"done": done}
    return SimpleNamespace(config={"trial": spec}, metrics=metrics, error=error)


def test_trials_stopped_before_their_budget_are_unfinished_failed_ones_are_not():
    assert transfer.unfinished_trials([_result(True), _result(None, RuntimeError("boom"))]) == []
    assert transfer.unfinished_trials([_result(False), _result(None), _result(True)]) == [
        "train_qmix_graph_n3_seed0",
        "train_qmix_graph_n3_seed0",
    ]
    never_started = SimpleNamespace(
        config=None, metrics=None, error=None, path="/s/x/train/scratch_qmix_graph_n6_seed0"
    )
    assert transfer.unfinished_trials([never_started]) == ["scratch_qmix_graph_n6_seed0"], "Ctrl-C while PENDING"


@pytest.mark.parametrize("interrupt", [transfer.RunInterrupted("the train phase stopped"), KeyboardInterrupt()])
def test_an_interrupt_exits_130_with_the_resume_command_and_releases_the_folder(
    interrupt, tmp_path, capsys, monkeypatch
):
    def interrupted_run(settings, provenance):
        raise interrupt

    monkeypatch.setattr(transfer, "start_ray", lambda dashboard=True: False)
    monkeypatch.setattr(transfer, "check_resources", lambda settings: None)
    monkeypatch.setattr(transfer, "run", interrupted_run)
    assert main(["--name", "stopped", "--storage", str(tmp_path), "--gpus-per-trial", "0"]) == 130
    error = capsys.readouterr().err
    assert error.startswith("transfer.py: interrupted")
    assert error.strip().endswith(
        f"continue with: python experiments/transfer.py --resume --name stopped --storage {tmp_path}"
    )
    ExperimentLock(tmp_path / "stopped").acquire().release()


@pytest.mark.slow
def test_ctrl_c_during_training_evaluates_nothing_and_resume_finishes_the_run(tmp_path):
    """A real SIGINT to the driver mid-training: Tune saves the trials' state, the driver exits 130 without
    evaluating a half-trained checkpoint; `--resume` continues them to their budget and evaluates them."""
    argv = ["--smoke", "--timesteps", "6000", "--no-scratch", "--finetune-timesteps", "0", "--embeddings", "concat"]
    argv += ["--checkpoint-every", "1", "--storage", str(tmp_path), "--name", "ctrl-c"]
    env = {**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(ROOT)}
    script = [sys.executable, str(ROOT / "experiments" / "transfer.py")]
    driver = subprocess.Popen([*script, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not list((tmp_path / "ctrl-c" / "train").glob("*/checkpoint_*")):
            time.sleep(1)
        driver.send_signal(signal.SIGINT)
        _, err = driver.communicate(timeout=300)
    finally:
        driver.kill()
    assert driver.returncode == 130, err[-3000:]
    assert f"continue with: python experiments/transfer.py --resume --name ctrl-c --storage {tmp_path}" in err
    with open(tmp_path / "ctrl-c" / "transfer.csv") as f:
        assert {row["phase"] for row in csv.DictReader(f)} == {"random", "heuristic"}, "no trial evaluated"
    resume = ["--resume", "--name", "ctrl-c", "--storage", str(tmp_path)]
    resumed = subprocess.run([*script, *resume], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(tmp_path / "ctrl-c" / "transfer.csv") as f:
        zero_shot = [row for row in csv.DictReader(f) if row["phase"] == "zero_shot"]
    assert len(zero_shot) == 2 and all(int(row["timesteps"]) >= 6000 for row in zero_shot)


# A full disk


class _FullDisk:
    """A local filesystem whose writes fail with ENOSPC after `room` bytes (as pyarrow reports a full disk)."""

    def __init__(self, room: int):
        self.real, self.room = pyarrow.fs.LocalFileSystem(), room

    def __getattr__(self, name):
        return getattr(self.real, name)

    def open_output_stream(self, path):
        stream, disk = self.real.open_output_stream(path), self

        class Stream:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                stream.close()

            def write(self, data: bytes):
                stream.write(data[: disk.room])
                if len(data) > disk.room:
                    raise OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")

        return Stream()


def test_a_write_that_fills_the_disk_keeps_every_row_written_before(tmp_path):
    files = ExperimentFiles(str(tmp_path))
    ledger = TransferLedger(files)
    row = {"algo": "qmix", "embedding": "graph", "scenario": "spread", "train_agents": "3", "phase": "zero_shot"}
    ledger.add([{**row, "eval_agents": 3, "seed": 0, "return_mean": -30.0}])
    before = (tmp_path / "transfer.csv").read_text()
    files.filesystem = _FullDisk(room=10)
    with pytest.raises(OSError) as error:
        ledger.add([{**row, "eval_agents": 6, "seed": 0, "return_mean": -90.0}])
    assert storage_full(error.value)
    assert (tmp_path / "transfer.csv").read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["transfer.csv"], "no partial file left behind"


def test_a_full_disk_is_one_line_naming_the_folder_and_the_resume(tmp_path, capsys, monkeypatch):
    def run_out_of_space(settings, provenance):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(transfer, "start_ray", lambda dashboard=True: False)
    monkeypatch.setattr(transfer, "check_resources", lambda settings: None)
    monkeypatch.setattr(transfer, "run", run_out_of_space)
    assert main(["--name", "full", "--storage", str(tmp_path), "--gpus-per-trial", "0"]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"transfer.py: error: storage full at {tmp_path / 'full'}; what was written is kept: free space, then "
        f"continue with: python experiments/transfer.py --resume --name full --storage {tmp_path}\n"
    )


def test_the_storage_guard_stops_the_phase_once_while_a_checkpoint_still_fits(tmp_path, monkeypatch):
    signals = []
    monkeypatch.setattr(storage_guard.os, "kill", lambda pid, sig: signals.append((pid, sig)))
    roomy = storage_guard.StorageGuard(tmp_path / "roomy" / "train", min_free=0)
    roomy.on_trial_result(1, [], None, {})
    assert signals == [] and not storage_guard.StorageGuard.tripped(tmp_path / "roomy" / "train")

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "replay.npz").write_bytes(b"x" * 1000)
    guard = storage_guard.StorageGuard(tmp_path / "train", min_free=1)
    guard.on_checkpoint(1, [], None, SimpleNamespace(path=str(checkpoint)))
    assert guard.largest_checkpoint == 1000 and guard.needed() == 2000
    guard.free_bytes = lambda: 1999  # less than two such checkpoints
    guard.on_trial_result(2, [], None, {})
    guard.on_trial_error(2, [], None)
    assert signals == [(os.getpid(), signal.SIGUSR1)], "Tune's graceful stop, asked once"
    assert storage_guard.StorageGuard.tripped(tmp_path / "train")


def test_a_resume_retries_only_trials_the_full_disk_failed_and_spots_a_cut_state(tmp_path):
    phase = tmp_path / "train"
    (phase / "diverged").mkdir(parents=True)
    (phase / "diverged" / "error.txt").write_text("ValueDivergenceError: q_taken_mean=812.0 at env step 96000")
    assert not storage_guard.StorageGuard.clear_full_disk_failures(phase)
    (phase / "cut").mkdir()
    (phase / "cut" / "error.txt").write_text("")
    (phase / "cut" / "error.pkl").write_bytes(b"")
    assert storage_guard.StorageGuard.clear_full_disk_failures(phase)
    assert not (phase / "cut" / "error.pkl").exists(), "Tune cannot read an empty error.pkl back"
    assert (phase / "diverged" / "error.txt").exists()

    assert not storage_guard.readable_state(phase)
    (phase / "experiment_state-2026-12-03_03-42-06.json").write_text('{"trial_data": [["{\\"config')
    assert not storage_guard.readable_state(phase)
    (phase / "experiment_state-2026-12-03_03-42-06.json").write_text('{"trial_data": []}')
    assert storage_guard.readable_state(phase)


@pytest.mark.slow
def test_a_real_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(tmp_path):
    """The smoke run on a 100 MB tmpfs: the guard stops the train phase when the first checkpoint with its replay
    leaves less than it keeps free, one line says so, exit 1; with room again, `--resume` finishes every row. Needs
    root (mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100M", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    env = {**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": str(ROOT)}
    script = [sys.executable, str(ROOT / "experiments" / "transfer.py"), "--storage", str(disk), "--name", "full"]
    try:
        first = subprocess.run([*script, "--smoke"], env=env, capture_output=True, text=True, timeout=900, check=False)
        assert first.returncode == 1, first.stderr[-3000:]
        assert first.stderr.strip().splitlines()[-1] == (
            f"transfer.py: error: storage full at {disk / 'full'}; what was written is kept: free space, then "
            f"continue with: python experiments/transfer.py --resume --name full --storage {disk}"
        )
        assert first.stderr.count("Traceback") <= 2, "stopped at the first failure, not after every trial failed"
        subprocess.run(["mount", "-o", "remount,size=400M", str(disk)], check=True)
        resumed = subprocess.run(
            [*script, "--resume"], env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        with open(disk / "full" / "transfer.csv") as f:
            phases = [row["phase"] for row in csv.DictReader(f)]
        assert phases.count("zero_shot") == 4 and phases.count("finetune") == 4 and phases.count("scratch") == 4
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# wandb without a network


def test_wandb_out_of_reach_logs_offline_within_seconds(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    assert wandb_logging.choose_mode(tmp_path) == "offline"
    assert os.environ["WANDB_MODE"] == "offline"
    out = capsys.readouterr().out
    assert out.startswith("wandb unreachable (127.0.0.1:") and out.strip().endswith(
        f"logging offline to {tmp_path / 'wandb'}"
    )


# Settings of the wrong type


@pytest.mark.parametrize(
    "content, message",
    [
        ("seeds: abc\n", "seeds must be a list of integers such as [3, 6] or 3,6, got 'abc'"),
        ("timesteps: abc\n", "timesteps must be an integer, got 'abc'"),
        ("timesteps: 1.5e5\n", "timesteps must be an integer, got '1.5e5'"),
        ("scratch: 3\n", "scratch must be true or false, got 3"),
        ("n_max: [6]\n", "n_max must be an integer (or null), got [6]"),
        ("finetune_lr_scale: high\n", "finetune_lr_scale must be a number, got 'high'"),
        ("training: {qmix: 5}\n", "training must be a mapping of algorithm names (or all) to option mappings"),
        ("algos: {qmix: 1}\n", "algos must be a list of names such as [qmix, vdn] or qmix,vdn"),
    ],
)
def test_a_config_value_of_the_wrong_type_is_one_line_naming_the_key(content, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    config = tmp_path / "grid.yaml"
    config.write_text(content)
    assert main(["--config", str(config), "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"--config {config}: {message}" in error and error.count("\n") == 1, error


@pytest.mark.parametrize(
    "stored, message",
    [
        ("", "is empty; restore it, or start a new --name"),
        ("algos: [qmix\n", "is not valid YAML"),
        ("bogus: 1\n", "unknown key 'bogus'; known keys: algos"),
        ("timesteps: many\n", "timesteps must be an integer, got 'many'"),
        ("timesteps: -5\n", "--timesteps must be at least 1, got -5"),
    ],
)
def test_a_resumed_run_s_stored_settings_are_checked_like_new_ones(stored, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "settings.yaml").write_text(stored)
    assert main(["--resume", "--name", "run", "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
