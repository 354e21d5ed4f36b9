"""Whose Ray a transfer run uses: the cluster `RAY_ADDRESS` or `ray start` names, else a private embedded Ray for the
run alone (never another run's embedded one), with or without its dashboard; and whether the cluster has, or can
autoscale to, GPUs."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import ray
import yaml

from experiments.transfer_experiment.settings import SettingsError

BOOTSTRAP_CONFIG = Path("~/ray_bootstrap_config.yaml").expanduser()  # written by `ray up` on the head node

# Where `ray start` records the cluster it started on this machine (ray.init's documented lookup, its step 2).
RAY_START_ADDRESS_FILE = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"


def cluster_to_join() -> tuple[str, str] | None:
    """The Ray cluster this run joins, and why: `RAY_ADDRESS` (unless `local`), else the cluster `ray start` last
    started on this machine (as on `ray submit`'s head node). Never another run's embedded Ray: `ray.init`'s
    `address="auto"` would join any Ray process it finds running, a concurrent `transfer.py`'s included."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if address:
        return None if address == "local" else (address, "RAY_ADDRESS")
    if RAY_START_ADDRESS_FILE.is_file() and (recorded := RAY_START_ADDRESS_FILE.read_text().strip()):
        return recorded, f"started by `ray start`, recorded in {RAY_START_ADDRESS_FILE}"
    return None


def answers(address: str, timeout_s: float = 5.0) -> bool:
    """Whether something accepts connections at a `host:port` Ray address (`ray.init` itself waits minutes on one
    where nothing listens). Other forms (`ray://`, `auto`) are left to `ray.init`."""
    host, _, port = address.rpartition(":")
    if "://" in address or not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def dashboard_packages_installed() -> bool:
    """Whether Ray's dashboard can start here: the packages `ray[default]` adds import (Ray's own check, whose
    `ray.init(include_dashboard=True)` otherwise fails the run)."""
    try:
        import ray.dashboard.optional_deps  # noqa: F401
    except ImportError:
        return False
    return True


def start_ray(dashboard: bool = True) -> bool:
    """Join the cluster `cluster_to_join` names, else start a private embedded Ray for this run alone (with its
    dashboard on localhost, `dashboard`). Says which, and where the dashboard is; returns whether a cluster was
    joined."""
    if ray.is_initialized():
        return False
    target = cluster_to_join()
    if target is not None:
        address, source = target
        try:
            if not answers(address):
                raise ConnectionError(address)
            context = ray.init(address=address, log_to_driver=False)
        except ConnectionError:
            if source == "RAY_ADDRESS":
                raise SettingsError(
                    f"RAY_ADDRESS={address}: no Ray cluster answers there; start it (`ray start --head`), or unset "
                    "RAY_ADDRESS (RAY_ADDRESS=local) to run on a private embedded Ray"
                ) from None
            print(f"the cluster `ray start` recorded at {address} is not running; starting a private one")
        else:
            print(f"joined the Ray cluster at {ray.get_runtime_context().gcs_address} ({source})")
            print_dashboard(context.dashboard_url)
            return True
    if dashboard and not dashboard_packages_installed():
        print("Ray's dashboard packages (ray[default], in requirements.txt) are not installed: no dashboard this run")
        dashboard = False
    context = ray.init(
        address="local",
        num_cpus=os.cpu_count(),
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        log_to_driver=False,
        object_store_memory=512 * 1024**2,
        _temp_dir=f"/tmp/ray-{os.getuid()}",
    )
    print(
        f"started a private embedded Ray for this run ({os.cpu_count()} CPUs); to share a cluster, `ray start --head` "
        "or set RAY_ADDRESS"
    )
    if dashboard:
        print_dashboard(context.dashboard_url)
    return False


def print_dashboard(address: str | None) -> None:
    """The dashboard's URL, where Ray runs one (`ray.init`'s `dashboard_url`, host:port)."""
    if address:
        print(f"Ray dashboard: http://{address} (Jobs: this run; Actors: one per trial, with its logs; Metrics)")


def cluster_can_have_gpus() -> bool:
    """GPUs now, or GPU worker types the autoscaler may start (they scale from 0, so none may be up yet)."""
    if ray.cluster_resources().get("GPU", 0) > 0:
        return True
    if BOOTSTRAP_CONFIG.is_file():
        node_types = (yaml.safe_load(BOOTSTRAP_CONFIG.read_text()) or {}).get("available_node_types", {})
        return any(node.get("resources", {}).get("GPU", 0) > 0 for node in node_types.values())
    return False
