"""What an experiment ran with: each start and each `--resume` of `transfer.py` appends one entry to the experiment's
`provenance.yaml` (the command, the time, the code's git commit and the tracked code files that differed from it,
the versions of the packages that decide the numbers, the machine's CPUs and GPUs), and the report lists them, so a
result can be traced to the code that made it and chunks run with different code or packages can be told apart.

    - started: '2026-12-06T14:05:00+00:00'
      command: python experiments/transfer.py --config experiments/configs/study_spread.yaml --algos iql ...
      code: {commit: 4f1c..., modified: []}
      packages: {python: 3.11.9, torch: 2.13.0, ray: 2.60.0, vmas: 1.5.0, ...}
      machine: {cpus: 2, gpus: []}
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import ray
import torch
import yaml

from experiments.transfer_experiment.ledgers import ExperimentFiles

PROVENANCE_FILE = "provenance.yaml"
# The distributions whose versions can change an experiment's numbers, in the order the report's columns take.
PACKAGES = ("torch", "ray", "torch_geometric", "vmas", "pettingzoo", "mpe2", "numpy")
REPOSITORY = Path(__file__).resolve().parents[2]
GIT_TIMEOUT_S = 10
NOT_CODE = (":(exclude)results", ":(exclude)docs")  # tracked, but written by experiments and reports


def code_version(repository: Path = REPOSITORY) -> dict[str, Any] | None:
    """The git commit `repository`'s checkout is at and the tracked files that differ from it (`modified`), results
    and docs aside (experiments write there), or None where it is not a git checkout or git is not installed (a copy
    of the code, e.g. on a cluster node)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repository, capture_output=True, text=True, check=True, timeout=GIT_TIMEOUT_S
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": [line[3:] for line in status.splitlines()]}


def package_versions() -> dict[str, str]:
    """Python's version and each installed distribution of `PACKAGES`'s (one not installed is left out)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine() -> dict[str, Any]:
    """The CPUs this process may use, the names of the GPUs torch sees here (none on a CPU-only machine) and, once
    Ray is up, the CPUs and GPUs of its cluster, where the trials run (more than here on a multi-node cluster)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    found = {"cpus": cpus, "gpus": gpus}
    if ray.is_initialized():
        resources = ray.cluster_resources()
        found["cluster"] = {"cpus": int(resources.get("CPU", 0)), "gpus": int(resources.get("GPU", 0))}
    return found


def invocation(argv: list[str], now: datetime.datetime | None = None) -> dict[str, Any]:
    """The provenance entry of one `transfer.py` command line `argv` (its arguments, without the program)."""
    started = (now or datetime.datetime.now(datetime.UTC)).isoformat(timespec="seconds")
    return {
        "started": started,
        "command": shlex.join(["python", "experiments/transfer.py", *argv]),
        "code": code_version(),
        "packages": package_versions(),
        "machine": machine(),
    }


def read_provenance(files: ExperimentFiles) -> list[dict[str, Any]]:
    """The experiment's entries, oldest first; none for an experiment started before `provenance.yaml` existed.
    Raises `ValueError` naming the file where it is not a list (cut or hand-edited)."""
    if not files.exists(PROVENANCE_FILE):
        return []
    try:
        entries = yaml.safe_load(files.read_text(PROVENANCE_FILE)) or []
    except yaml.YAMLError:
        entries = None
    if not isinstance(entries, list):
        raise ValueError(
            f"{files.path(PROVENANCE_FILE)} is not a YAML list of starts; restore it from version control or delete it"
        )
    return entries


def record_invocation(files: ExperimentFiles, entry: dict[str, Any]) -> None:
    """Append `entry` (`invocation`) to the experiment's `provenance.yaml`."""
    entries = [*read_provenance(files), entry]
    files.write_bytes(PROVENANCE_FILE, yaml.safe_dump(entries, sort_keys=False).encode())


def _code_label(code: dict[str, Any] | None) -> str:
    if code is None:
        return "not a git checkout"
    modified = code["modified"]
    return f"`{code['commit'][:10]}`" + (f" (modified: {', '.join(modified)})" if modified else "")


def _machine_label(found: dict[str, Any]) -> str:
    gpus = found.get("gpus") or []
    label = f"{found.get('cpus', '?')} CPUs" + (f", {len(gpus)} x {gpus[0]}" if gpus else "")
    cluster = found.get("cluster")
    if cluster and (cluster["cpus"], cluster["gpus"]) != (found.get("cpus"), len(gpus)):
        label += f"; Ray cluster {cluster['cpus']} CPUs, {cluster['gpus']} GPUs"
    return label


def provenance_markdown(entries_by_experiment: dict[str, list[dict[str, Any]]]) -> str:
    """The report's "Provenance" section: one row per start or resume of each experiment (its time, code, package
    versions and machine), then the experiments that have no record; empty for no experiments."""
    if not entries_by_experiment:
        return ""
    recorded = {name: entries for name, entries in entries_by_experiment.items() if entries}
    lines = ["", "## Provenance", ""]
    if recorded:
        packages = [
            name
            for name in ("python", *PACKAGES)
            if any(name in entry.get("packages", {}) for entries in recorded.values() for entry in entries)
        ]
        lines += [
            f"Each start or `--resume` of an experiment ({PROVENANCE_FILE} in its folder): when, the code's commit "
            "(and the tracked files that differed from it), the packages' versions and the machine.",
            "",
            "| experiment | started (UTC) | code | " + " | ".join(packages) + " | machine |",
            "| --- | --- | --- | " + " | ".join("---" for _ in packages) + " | --- |",
        ]
        for name, entries in recorded.items():
            for entry in entries:
                versions = [entry.get("packages", {}).get(package, "-") for package in packages]
                started = str(entry.get("started", "-"))[:16].replace("T", " ")
                lines.append(
                    f"| {name} | {started} | {_code_label(entry.get('code'))} | "
                    + " | ".join(versions)
                    + f" | {_machine_label(entry.get('machine', {}))} |"
                )
        lines.append("")
    unrecorded = [name for name, entries in entries_by_experiment.items() if not entries]
    if unrecorded:
        lines.append(f"No {PROVENANCE_FILE} (started before it was written): {', '.join(unrecorded)}.")
        lines.append("")
    return "\n".join(lines)
