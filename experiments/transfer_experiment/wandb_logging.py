"""Weights & Biases logging of a transfer experiment: Tune's `WandbLoggerCallback` for training curves, one run
per evaluated checkpoint for the greedy returns, all in the project `--name`, grouped by (algo, embedding) and
tagged with the scenario and team sizes. Without an API key, or without a way to the wandb server, everything runs
offline."""

from __future__ import annotations

import netrc
import os
import socket
import urllib.parse
from collections import defaultdict
from pathlib import Path

from ray.air.integrations.wandb import WandbLoggerCallback

from experiments.transfer_experiment.report import SCRIPTED_PHASES
from experiments.transfer_experiment.settings import TransferSettings
from experiments.transfer_experiment.trial_spec import TrialSpec


def has_api_key() -> bool:
    """Whether wandb can log in without a prompt: `WANDB_API_KEY`, or `wandb login`'s entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def server_address() -> tuple[str, int]:
    """(host, port) of the wandb server: `WANDB_BASE_URL`, else api.wandb.ai over HTTPS."""
    url = urllib.parse.urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    return url.hostname or "api.wandb.ai", url.port or (80 if url.scheme == "http" else 443)


def reachable(timeout_s: float = 5.0) -> str | None:
    """None if the wandb server accepts a connection within `timeout_s`, else why not (wandb itself retries for
    minutes before it gives up). Behind an HTTPS proxy the connection is wandb's to make: not probed."""
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return None
    host, port = server_address()
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as error:
        return f"{host}:{port}: {error.strerror or error}"
    return None


def choose_mode(local_dir: Path) -> str:
    """`WANDB_MODE`: as set, else online with an API key, else offline (no login prompt, no hang); online but the
    server out of reach within seconds: offline, said in one line. Must run before `ray.init`, because the logger
    runs in a Ray actor that inherits the environment."""
    if "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "online" if has_api_key() else "offline"
    os.environ.setdefault("WANDB_DISABLE_GIT", "true")
    if os.environ["WANDB_MODE"] == "online" and (problem := reachable()) is not None:
        os.environ["WANDB_MODE"] = "offline"
        print(f"wandb unreachable ({problem}): logging offline to {local_dir / 'wandb'}")
    return os.environ["WANDB_MODE"]


def run_group(algo: str, embedding: str) -> str:
    return f"{algo}-{embedding}"


def run_tags(settings: TransferSettings, phase: str, n_agents: list[int]) -> list[str]:
    return [
        settings.scenario,
        phase,
        f"train_agents={settings.train_label}",
        f"agents={'-'.join(map(str, n_agents))}",
        f"eval_agents={','.join(map(str, settings.eval_agents))}",
    ]


class TeamWandbCallback(WandbLoggerCallback):
    """`WandbLoggerCallback` that groups each trial's run by its (algo, embedding) and tags it with its phase,
    scenario and team sizes, so that wandb's grouped views line up the algorithms and embeddings."""

    def __init__(self, settings: TransferSettings, local_dir: Path):
        local_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(project=settings.name, dir=str(local_dir), excludes=["config"])
        self.settings = settings
        self._base_kwargs = dict(self.kwargs)

    def log_trial_start(self, trial) -> None:
        spec = TrialSpec.from_dict(trial.config["trial"])
        self.group = run_group(self.settings.run_algo(spec.algo), spec.embedding)
        self.kwargs = {
            **self._base_kwargs,
            "job_type": spec.phase,
            "tags": run_tags(self.settings, spec.phase, list(spec.n_agents)),
            "config": {k: v for k, v in trial.config["trial"].items() if k != "settings"},
        }
        super().log_trial_start(trial)


def log_evaluations(settings: TransferSettings, rows: list[dict], local_dir: Path) -> None:
    """One wandb run per (algo, embedding, phase, seed) with its greedy return and task metrics stepped by eval team
    size (and as summary metrics `eval/<name>_at_<n>_agents`), in the same groups as the training runs; then one
    `comparison` run holding `transfer.csv` as the table `transfer`."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    runs: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row["phase"] not in SCRIPTED_PHASES:
            runs[(row["algo"], row["embedding"], row["phase"], row["seed"])].append(row)
    for (algo, embedding, phase, seed), run_rows in runs.items():
        run = wandb.init(
            project=settings.name,
            group=run_group(algo, embedding),
            job_type=f"eval_{phase}",
            name=f"eval_{phase}_{algo}_{embedding}_seed{seed}",
            tags=run_tags(settings, f"eval_{phase}", settings.train_agents),
            config={"algo": algo, "embedding": embedding, "phase": phase, "seed": seed, **settings.to_dict()},
            dir=str(local_dir),
            reinit="finish_previous",
        )
        for row in sorted(run_rows, key=lambda r: int(r["eval_agents"])):
            n = int(row["eval_agents"])
            means = {
                column.removesuffix("_mean"): float(value)
                for column, value in row.items()
                if column.endswith("_mean") and value not in ("", None)
            }
            run.log({**{f"eval/{name}": value for name, value in means.items()}, "eval/agents": n}, step=n)
            for name, value in means.items():
                run.summary[f"eval/{name}_at_{n}_agents"] = value
        run.finish()
    comparison = wandb.init(
        project=settings.name,
        job_type="comparison",
        name="comparison",
        config=settings.to_dict(),
        dir=str(local_dir),
        reinit="finish_previous",
    )
    columns = list(rows[0]) if rows else []
    comparison.log({"transfer": wandb.Table(columns=columns, data=[[row.get(c, "") for c in columns] for row in rows])})
    comparison.finish()


def offline_notice(local_dir: Path) -> str:
    return (
        f"wandb ran offline: its runs are in {local_dir / 'wandb'}; upload them with "
        f"`wandb login` then `wandb sync {local_dir / 'wandb'}/offline-run-*`"
    )
