"""`provenance.yaml`: what each start of an experiment ran with (the code's commit and its modified files, the
packages, the machine), appended per start and listed by the report."""

import datetime
import shlex
import subprocess

import numpy as np
import torch
import yaml

from experiments.report import main as report_main
from experiments.transfer_experiment.ledgers import ExperimentFiles
from experiments.transfer_experiment.provenance import (
    PROVENANCE_FILE,
    code_version,
    invocation,
    package_versions,
    provenance_markdown,
    read_provenance,
    record_invocation,
)
from tests.test_report import write_experiment


def _git(folder, *args):
    identity = ("-c", "user.name=test", "-c", "user.email=test@example.com")
    return subprocess.run(["git", *identity, *args], cwd=folder, check=True, capture_output=True, text=True).stdout


def test_the_code_version_is_the_commit_and_the_tracked_code_files_that_differ_from_it(tmp_path):
    for name in ("algo.py", "results/run/settings.yaml", "docs/page.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    commit = _git(tmp_path, "rev-parse", "HEAD").strip()
    assert code_version(tmp_path) == {"commit": commit, "modified": []}

    (tmp_path / "results/run/settings.yaml").write_text("resume: true\n")
    (tmp_path / "docs/page.md").write_text("edited\n")
    (tmp_path / "new_module.py").write_text("untracked = True\n")
    assert code_version(tmp_path)["modified"] == [], "results, docs and untracked files are not the code"
    (tmp_path / "algo.py").write_text("x = 2\n")
    assert code_version(tmp_path) == {"commit": commit, "modified": ["algo.py"]}


def test_outside_a_git_checkout_there_is_no_code_version(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # git looks no higher than tmp_path
    assert code_version(tmp_path) is None, "a copy of the code without .git"
    assert code_version(tmp_path / "missing") is None


def test_an_entry_names_the_command_the_installed_versions_and_this_machine():
    argv = ["--config", "study.yaml", "--training", '{"maddpg": {"unmix": "inverse"}}', "--name", "a b"]
    now = datetime.datetime(2026, 12, 6, 14, 5, 7, tzinfo=datetime.UTC)
    entry = invocation(argv, now=now)
    assert entry["started"] == "2026-12-06T14:05:07+00:00"
    assert shlex.split(entry["command"]) == ["python", "experiments/transfer.py", *argv], "quoted to paste back"
    assert entry["packages"] == package_versions()
    assert entry["packages"]["torch"] == torch.__version__ and entry["packages"]["numpy"] == np.__version__
    assert entry["machine"]["cpus"] >= 1 and entry["machine"]["gpus"] == [
        torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
    ]
    assert entry["code"] == code_version(), "this checkout's commit"


def test_each_start_appends_an_entry_and_the_file_reads_back_in_order(tmp_path):
    files = ExperimentFiles(tmp_path / "run")
    assert read_provenance(files) == [], "an experiment from before provenance.yaml has none"
    first = {"started": "2026-12-06T14:00:00+00:00", "command": "python experiments/transfer.py --name run"}
    second = {**first, "started": "2026-12-06T15:00:00+00:00", "command": first["command"] + " --resume"}
    record_invocation(files, first)
    record_invocation(files, second)
    assert read_provenance(files) == [first, second]
    assert yaml.safe_load((tmp_path / "run" / PROVENANCE_FILE).read_text()) == [first, second]


def _entry(started, commit, modified=(), torch_version="2.13.0", machine=None):
    return {
        "started": started,
        "command": "python experiments/transfer.py",
        "code": None if commit is None else {"commit": commit, "modified": list(modified)},
        "packages": {"python": "3.11.7", "torch": torch_version, "ray": "2.60.0"},
        "machine": machine or {"cpus": 2, "gpus": []},
    }


def test_the_report_section_has_a_row_per_start_and_names_the_experiments_without_a_record():
    on_gpu = {"cpus": 16, "gpus": ["NVIDIA H100", "NVIDIA H100"], "cluster": {"cpus": 48, "gpus": 6}}
    markdown = provenance_markdown(
        {
            "qmix-s0": [
                _entry("2026-12-06T14:05:07+00:00", "0123456789abcdef"),
                _entry("2026-12-07T09:00:00+00:00", "fedcba9876543210", ["rl_algos/qmix/learner.py"], "2.14.0"),
            ],
            "vdn-s0": [],
            "iql-s0": [_entry("2026-12-08T10:00:00+00:00", None, machine=on_gpu)],
            "gum-s0": [],
        }
    )
    lines = markdown.splitlines()
    assert "## Provenance" in lines
    assert "| experiment | started (UTC) | code | python | torch | ray | machine |" in lines
    assert "| qmix-s0 | 2026-12-06 14:05 | `0123456789` | 3.11.7 | 2.13.0 | 2.60.0 | 2 CPUs |" in lines
    assert (
        "| qmix-s0 | 2026-12-07 09:00 | `fedcba9876` (modified: rl_algos/qmix/learner.py) | 3.11.7 | 2.14.0 | 2.60.0 "
        "| 2 CPUs |" in lines
    ), "a resume with other code or packages shows as a row of its own"
    assert (
        "| iql-s0 | 2026-12-08 10:00 | not a git checkout | 3.11.7 | 2.13.0 | 2.60.0 "
        "| 16 CPUs, 2 x NVIDIA H100; Ray cluster 48 CPUs, 6 GPUs |" in lines
    )
    assert lines[-1] == f"No {PROVENANCE_FILE} (started before it was written): vdn-s0, gum-s0."
    assert provenance_markdown({}) == ""
    only_old = provenance_markdown({"vdn-s0": []})
    assert "| experiment |" not in only_old and only_old.splitlines()[-1].endswith(": vdn-s0.")


def test_the_merged_report_lists_each_folders_starts(tmp_path):
    write_experiment(tmp_path / "old", "spread", "qmix", [-60.0, -40.0])
    write_experiment(tmp_path / "new", "spread", "iql", [-80.0, -70.0])
    record_invocation(ExperimentFiles(tmp_path / "new"), _entry("2026-12-06T14:05:07+00:00", "0123456789abcdef"))
    assert report_main([str(tmp_path / "old"), str(tmp_path / "new"), "--out", str(tmp_path / "both")]) == 0
    summary = (tmp_path / "both" / "summary.md").read_text()
    provenance = summary[summary.index("## Provenance") :]
    assert "| new | 2026-12-06 14:05 | `0123456789` |" in provenance
    assert provenance.rstrip().endswith(f"No {PROVENANCE_FILE} (started before it was written): old.")


def test_a_provenance_file_that_is_not_a_list_is_named_with_what_to_do(tmp_path, capsys):
    write_experiment(tmp_path / "cut", "spread", "qmix", [-60.0, -40.0])
    (tmp_path / "cut" / PROVENANCE_FILE).write_text("- started: [unclosed\n")
    assert report_main([str(tmp_path / "cut")]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'cut' / PROVENANCE_FILE} is not a YAML list of starts" in error and "delete it" in error
