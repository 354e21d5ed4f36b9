"""Does fine-tuning at the larger team help, and which strategy is safe? Spread, trained at 3 agents and evaluated at 6
(n_max 6): zero-shot, after each fine-tuning strategy (`rl_algos.common.config.finetune`) with the same budget, and from
scratch at 6 with the training + fine-tuning budget; for agent slots "first" and "random"; several seeds; greedy
evaluation.

Writes `<out>/bench_finetune.csv` (one row per evaluation, appended as they finish) and prints a markdown table of
the mean ± standard error over seeds, with whether each strategy is at least as good as zero-shot within one
standard error of their difference.

    python benchmarks/bench_finetune.py [--variants qmix-concat,qmix-graph,iql,central_v,maddpg] [--seeds 0,1,2]
        [--slots first,random] [--strategies naive,conservative,kl,others] [--timesteps 20000]
        [--finetune-timesteps 5000] [--episodes 50]

Value learners anneal epsilon over the first half of the training budget (as `bench_learning.py` does); every
pre-training run checkpoints its replay (`checkpoint_replay=True`), so the strategies that start from it can.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

import rl_algos  # noqa: E402
from rl_algos.common import evaluate  # noqa: E402
from rl_algos.common.config.finetune import FINETUNE_STRATEGIES, finetune_config, loads_pretrained_replay  # noqa: E402
from rl_algos.common.config.value import TeamQConfig  # noqa: E402
from rl_algos.common.training import train_and_evaluate  # noqa: E402

VARIANTS = {
    "qmix-concat": ("qmix", {"team_embedding": "concat"}),
    "qmix-graph": ("qmix", {"team_embedding": "graph"}),
    "iql": ("iql", {}),
    "central_v": ("central_v", {}),
    "maddpg": ("maddpg", {}),
}
COLUMNS = ("variant", "slots", "seed", "phase", "eval_agents", "return_mean", "return_std", "episodes", "env_steps")


def base_config(variant: str, env_config: dict, seed: int, budget: int):
    """The variant's config at `env_config`, as it trains from scratch for `budget` env steps."""
    algo, training = VARIANTS[variant]
    config = rl_algos.get_config(algo)
    if isinstance(config, TeamQConfig):
        training = {"epsilon": [[0, 1.0], [budget // 2, 0.05]], **training}
    return config.environment("team", env_config=env_config).training(**training).debugging(seed=seed)


def train(config, steps: int, checkpoint: str, prepare=None) -> int:
    """Train until `steps` env steps (after `prepare(algo)`), save to `checkpoint`; returns the env steps sampled."""
    return train_and_evaluate(config, steps, checkpoint_dir=checkpoint, prepare=prepare).env_steps


class Ledger:
    """`bench_finetune.csv`, appended row by row; rows already there are skipped on a rerun."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = list(csv.DictReader(path.open())) if path.is_file() else []

    def has(self, **key) -> bool:
        return any(all(str(row[k]) == str(v) for k, v in key.items()) for row in self.rows)

    def add(self, row: dict) -> None:
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: row[k] for k in COLUMNS})
        self.rows.append({k: str(row[k]) for k in COLUMNS})
        print(
            f"{row['variant']} slots={row['slots']} seed {row['seed']} {row['phase']} at {row['eval_agents']}: "
            f"{row['return_mean']:.2f} ± {row['return_std']:.2f}",
            flush=True,
        )


def run_one(args, ledger: Ledger, variant: str, slots: str, seed: int, workdir: Path) -> None:
    """Pre-train at `args.train_agents`, evaluate zero-shot, fine-tune with each strategy, train from scratch."""
    small, large = args.train_agents, args.eval_agents
    env_small = {"scenario": "spread", "n_agents": small, "n_max": large, "slots": slots}
    env_large = {**env_small, "n_agents": large}
    key = {"variant": variant, "slots": slots, "seed": seed}

    def record(phase: str, checkpoint: str, env_steps: int, n_agents: int) -> None:
        result = evaluate(checkpoint, {**env_small, "n_agents": n_agents}, episodes=args.episodes, seed=10_000 + seed)
        ledger.add({**key, "phase": phase, "eval_agents": n_agents, "env_steps": env_steps, **result})

    pretrained_config = base_config(variant, env_small, seed, args.timesteps).training(checkpoint_replay=True)
    pretrained = str(workdir / f"{variant}-{slots}-{seed}-pretrained")
    strategies = [s for s in args.strategies if not (s == "others" and slots == "random")]
    if not all(ledger.has(**key, phase=f"finetune:{s}") for s in strategies) or not ledger.has(
        **key, phase="zero_shot"
    ):
        pretrained_steps = train(pretrained_config, args.timesteps, pretrained)
        for n in (small, large):
            if not ledger.has(**key, phase="zero_shot", eval_agents=n):
                record("zero_shot", pretrained, pretrained_steps, n)
        for strategy in strategies:
            if ledger.has(**key, phase=f"finetune:{strategy}"):
                continue
            config = finetune_config(
                base_config(variant, env_large, seed, args.timesteps),
                strategy,
                pretrained=pretrained_config,
                pretrained_env_steps=pretrained_steps,
                lr_scale=args.lr_scale,
                kl=args.kl,
                kl_steps=args.finetune_timesteps,
            )

            def load_pretrained(trainer, strategy=strategy) -> None:
                trainer.load_pretrained(pretrained, replay=loads_pretrained_replay(strategy))

            finetuned = str(workdir / f"{variant}-{slots}-{seed}-{strategy}")
            steps = train(config, args.finetune_timesteps, finetuned, prepare=load_pretrained)
            record(f"finetune:{strategy}", finetuned, steps, large)
    if args.scratch and not ledger.has(**key, phase="scratch"):
        budget = args.timesteps + args.finetune_timesteps
        scratch = str(workdir / f"{variant}-{slots}-{seed}-scratch")
        record(
            "scratch",
            scratch,
            train(base_config(variant, env_large, seed, budget), budget, scratch),
            large,
        )


def markdown(rows: list[dict], eval_agents: int) -> str:
    """Mean ± standard error over seeds at `eval_agents`, per variant x slots x phase, and whether each fine-tuning
    strategy is at least as good as zero-shot (difference of means >= -1 standard error of the difference)."""
    returns: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if int(row["eval_agents"]) == eval_agents:
            returns[(row["variant"], row["slots"], row["phase"])].append(float(row["return_mean"]))
    phases = ["zero_shot"] + [f"finetune:{s}" for s in FINETUNE_STRATEGIES] + ["scratch"]
    phases = [p for p in phases if any(key[2] == p for key in returns)]

    def cell(values: list[float] | None) -> str:
        if not values:
            return "-"
        se = np.std(values, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
        return f"{np.mean(values):.1f} ± {se:.1f}"

    def verdict(finetuned: list[float] | None, zero_shot: list[float] | None) -> str:
        if not finetuned or not zero_shot or len(finetuned) < 2 or len(zero_shot) < 2:
            return ""
        se = np.hypot(
            np.std(finetuned, ddof=1) / np.sqrt(len(finetuned)), np.std(zero_shot, ddof=1) / np.sqrt(len(zero_shot))
        )
        return " ✓" if np.mean(finetuned) - np.mean(zero_shot) >= -se else " ✗"

    header = "| variant | slots | " + " | ".join(p.replace("finetune:", "") for p in phases) + " |"
    lines = [header, "| --- | --- |" + " ---: |" * len(phases)]
    for variant, slots in sorted(
        {(key[0], key[1]) for key in returns}, key=lambda k: (list(VARIANTS).index(k[0]), k[1])
    ):
        zero = returns.get((variant, slots, "zero_shot"))
        cells = []
        for phase in phases:
            values = returns.get((variant, slots, phase))
            cells.append(cell(values) + (verdict(values, zero) if phase.startswith("finetune:") else ""))
        lines.append(f"| {variant} | {slots} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--slots", default="first,random")
    parser.add_argument("--strategies", default=",".join(FINETUNE_STRATEGIES))
    parser.add_argument("--train-agents", type=int, default=3)
    parser.add_argument("--eval-agents", type=int, default=6)
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--finetune-timesteps", type=int, default=5_000)
    parser.add_argument("--lr-scale", type=float, default=0.3)
    parser.add_argument("--kl", type=float, default=1.0)
    parser.add_argument("--episodes", type=int, default=50, help="greedy evaluation episodes per run")
    parser.add_argument("--no-scratch", dest="scratch", action="store_false")
    parser.add_argument("--out", default="results/bench_finetune")
    args = parser.parse_args()
    args.strategies = args.strategies.split(",")
    unknown = sorted(set(args.variants.split(",")) - set(VARIANTS)) + sorted(
        set(args.strategies) - set(FINETUNE_STRATEGIES)
    )
    if unknown:
        parser.error(
            f"unknown variant or strategy {', '.join(unknown)}; variants: {', '.join(VARIANTS)}; "
            f"strategies: {', '.join(FINETUNE_STRATEGIES)}"
        )
    ledger = Ledger(Path(args.out) / "bench_finetune.csv")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=f"/tmp/ray-{os.getuid()}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        for seed in (int(s) for s in args.seeds.split(",")):  # seeds outermost: a cut-short run stays balanced
            for variant in args.variants.split(","):
                for slots in args.slots.split(","):
                    run_one(args, ledger, variant, slots, seed, Path(workdir))
    ray.shutdown()
    print(f"\nwall time {time.perf_counter() - start:.0f} s; rows: {ledger.path}\n")
    print(
        f"Greedy return at {args.eval_agents} agents, mean ± standard error over seeds "
        f"({args.episodes} episodes each):\n"
    )
    print(markdown(ledger.rows, args.eval_agents))


if __name__ == "__main__":
    main()
