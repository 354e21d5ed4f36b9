"""Run a gum ablation grid from a YAML file: every combination of the `grid` switches, for each seed, trained
for `timesteps` env steps on `scenario` with `train_agents` agents, then evaluated greedily.

    python experiments/gum_ablation.py [--config experiments/configs/gum_ablation.yaml] [--timesteps N]
        [--seeds 0,1] [--scenario-options '{"game": "penalty"}'] [--out results/gum_ablation]

Writes `<out>/gum_ablation.csv` (one row per cell and seed) and prints a markdown table per cell: the greedy return's
mean over seeds with its 95% bootstrap interval over seeds (and the interquartile mean with 5 or more seeds), and the
mean q_bias (predicted team value minus the discounted return obtained; `rl_algos.common.evaluation.q_bias`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

import numpy as np
import yaml

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.stats import iqm_estimate, mean_estimate  # noqa: E402
from rl_algos.common.training import budget_config, train_and_evaluate  # noqa: E402

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "gum_ablation.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--timesteps", type=int, default=None, help="override the file's timesteps")
    parser.add_argument("--seeds", default=None, help="override the file's seeds, e.g. 0,1")
    parser.add_argument("--scenario-options", type=json.loads, default={}, help="JSON dict over the file's options")
    parser.add_argument("--out", default="results/gum_ablation")
    args = parser.parse_args()
    spec = yaml.safe_load(Path(args.config).read_text())
    if spec.get("algos", ["gum"]) != ["gum"]:
        raise ValueError(f"{args.config}: this script runs gum ablations only; algos must be [gum]")
    timesteps = args.timesteps or spec["timesteps"]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else spec["seeds"]
    options = {**spec.get("scenario_options", {}), **args.scenario_options}
    env_config = {"scenario": spec["scenario"], "n_agents": spec["train_agents"], **options}
    names = list(spec["grid"])
    cells = [dict(zip(names, values, strict=True)) for values in itertools.product(*spec["grid"].values())]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    rows = []
    for cell in cells:
        for seed in seeds:
            config = budget_config("gum", env_config, timesteps, seed, **cell)
            episodes = spec.get("eval_episodes", 10)
            run = train_and_evaluate(config, timesteps, [env_config], episodes=episodes, seed=10_000 + seed)
            rows.append({**cell, "seed": seed, "timesteps": timesteps, **run.summary()})
            print(rows[-1], flush=True)
    ray.shutdown()

    csv_path = write_rows(rows, Path(args.out) / "gum_ablation.csv")
    print(f"\n{spec['scenario']} {options}, {timesteps} env steps, seeds {seeds}\n")
    print("| " + " | ".join(names) + " | greedy return, mean [95% interval] | IQM [95% interval] | q_bias (mean) |")
    print("| " + " | ".join("---" for _ in names) + " | ---: | ---: | ---: |")
    for cell in cells:
        runs = [r for r in rows if all(r[k] == v for k, v in cell.items())]
        per_seed = [np.array([r["return_mean"]]) for r in runs]
        iqm = iqm_estimate(per_seed)
        q_bias = np.mean([r["q_bias_mean"] for r in runs])
        print(
            "| "
            + " | ".join(str(cell[k]) for k in names)
            + f" | {mean_estimate(per_seed)} | {iqm if iqm is not None else '-'} | {q_bias:.2f} |"
        )
    print(f"\nper-run rows: {csv_path}")


if __name__ == "__main__":
    main()
