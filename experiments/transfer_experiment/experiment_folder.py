"""Where a transfer experiment's folder lives (`<storage>/<name>`, a local folder or a cloud URI), the checks that it
can be written (and shared, on a multi-node cluster), and the stored settings a `--resume` continues with."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow
import pyarrow.fs
import ray
import yaml

from experiments.transfer_experiment.ledgers import ExperimentFiles
from experiments.transfer_experiment.ray_session import BOOTSTRAP_CONFIG
from experiments.transfer_experiment.settings import (
    RESUMABLE_OVERRIDES,
    SettingsError,
    TransferSettings,
    settings_values,
)
from experiments.transfer_experiment.validation import validate

SETTINGS_FILE = "settings.yaml"
SUMMARY_FILE = "summary.md"  # written when the experiment has finished


def is_uri(storage: str) -> bool:
    """Whether `--storage` names a cloud filesystem (`s3://...`, `gs://...`) rather than a local folder."""
    return "://" in storage


def experiment_uri(settings: TransferSettings) -> str:
    """The experiment's folder, `<storage>/<name>`: a URI as given, a local folder made absolute."""
    base = settings.storage if is_uri(settings.storage) else str(Path(settings.storage).expanduser().resolve())
    return f"{base.rstrip('/')}/{settings.name}"


def local_dir(settings: TransferSettings) -> Path:
    """A local folder for what cannot go to cloud storage directly (wandb's files)."""
    if is_uri(settings.storage):
        return Path("~/ray_results").expanduser() / settings.name
    return Path(experiment_uri(settings))


def check_storage(settings: TransferSettings) -> None:
    """A local --storage must be a folder this process can create and write; a URI must name a filesystem pyarrow
    knows (its credentials are only tried when the first file is written)."""
    if is_uri(settings.storage):
        try:
            pyarrow.fs.FileSystem.from_uri(settings.storage)
        except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, OSError) as error:
            raise SettingsError(f"--storage {settings.storage}: {str(error).splitlines()[0]}") from None
        return
    folder = Path(settings.storage).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise SettingsError(
            f"--storage {settings.storage} is not writable ({error.strerror or error}); choose a folder you can write"
        ) from None


def resolve_resume(settings: TransferSettings, explicit: set[str]) -> TransferSettings:
    """New experiment: refuse to overwrite one. `--resume`: its stored settings, with `--wandb` allowed to change."""
    files = ExperimentFiles(experiment_uri(settings))
    if not settings.resume:
        if files.exists(SETTINGS_FILE):
            raise SettingsError(
                f"experiment {files.uri} already exists; pass --resume --name {settings.name} to continue it, or "
                "choose another --name"
            )
        return settings
    if "name" not in explicit:
        raise SettingsError("--resume needs --name: the experiment folder under --storage to continue")
    if not files.exists(SETTINGS_FILE):
        raise SettingsError(f"--resume: no experiment at {files.uri} (no {SETTINGS_FILE}); check --storage and --name")
    stored = stored_settings(files)
    for key in sorted(explicit - RESUMABLE_OVERRIDES):
        if getattr(stored, key) != getattr(settings, key):
            raise SettingsError(
                f"--resume continues {settings.name} with its stored settings, but {key} differs (stored "
                f"{getattr(stored, key)!r}, given {getattr(settings, key)!r}); drop the flag or start a new --name"
            )
    stored.resume = True
    stored.storage = settings.storage
    stored.wandb = settings.wandb if "wandb" in explicit else stored.wandb
    return stored


def store_settings(files: ExperimentFiles, settings: TransferSettings) -> None:
    """Write `settings.yaml`, what `--resume` continues with: every setting but `resume` itself, so a resumed
    experiment's file reads as its first start's (each start and resume is in `provenance.yaml`)."""
    stored = {key: value for key, value in settings.to_dict().items() if key != "resume"}
    files.write_bytes(SETTINGS_FILE, yaml.safe_dump(stored, sort_keys=False).encode())


def read_settings(files: ExperimentFiles, source: str, remedy: str) -> TransferSettings:
    """The settings in an experiment folder's `settings.yaml`, typed as a config file's are; `SettingsError` naming
    `source` (the file, as the message should call it) and, for a file that is not YAML or is empty, `remedy`."""
    try:
        content = yaml.safe_load(files.read_text(SETTINGS_FILE))
    except yaml.YAMLError:
        raise SettingsError(f"{source} is not valid YAML; restore it, or {remedy}") from None
    if not content:
        raise SettingsError(f"{source} is empty; restore it, or {remedy}")
    return TransferSettings(**settings_values(content, source))


def stored_settings(files: ExperimentFiles) -> TransferSettings:
    """The settings a resumed run continues with, checked as a new run's are (types, then `validate`)."""
    settings = read_settings(files, f"--resume: {files.path(SETTINGS_FILE)}", "start a new --name")
    validate(settings)
    return settings


def check_shared_storage(settings: TransferSettings, joined_cluster: bool) -> None:
    """On a multi-node cluster every node writes checkpoints to --storage, so it must be shared (nodes on one host,
    as `ray start` twice on one machine gives, share its folders)."""
    if is_uri(settings.storage) or not joined_cluster:
        return
    hosts = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
    if len(hosts) > 1 or BOOTSTRAP_CONFIG.is_file():
        raise SettingsError(
            f"--storage {settings.storage} is a local folder, but this Ray cluster has (or may autoscale to) several "
            "nodes: pass shared storage every node can write, e.g. --storage s3://my-bucket/marl, or an NFS path "
            "mounted at the same place on every node"
        )
