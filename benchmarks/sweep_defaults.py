"""Defaults by search: a Ray Tune grid over one algorithm's `.training()` options at a real budget, each trial a
convergence run (spread, trained at 3 agents with `n_max` 6, a greedy curve point every `--eval-every` env steps at
3 and zero-shot at 6, heuristic-normalised), ranked by the mean over seeds of its last points' normalised score.

    python benchmarks/sweep_defaults.py --algo gum --grid '{"cql_alpha": [0.0, 0.1, 1.0]}' --timesteps 300000
    python benchmarks/sweep_defaults.py --algo qmix --embedding graph --grid '{"lr": [5e-4, 1e-3]}' --seeds 0,1
    python benchmarks/sweep_defaults.py --out results/sweeps/gum --report        # the table so far, at any time
    python benchmarks/sweep_defaults.py ... --resume                              # continue an interrupted sweep

Trials (every grid cell x seed) run in parallel as far as `--cpus` allows, one CPU each, under
`<out>/tune/` (resumable with `--resume`). Each reported point goes to `<out>/sweep.csv`; `<out>/sweep.md` ranks the
cells: the score is the mean normalised return at 3 over a trial's last `--last-points` curve points (a collapse
late in training counts against it, where the final point alone could be a lucky episode batch), its 95% bootstrap
interval over seeds, the zero-shot score at 6 and whether the final point is still within the best point's reach.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Ray starts its workers (here: the trials) at niceness 15, so beside any other job on the machine a trial got a
# fraction of a core (11% CPU against 65-79% for two plain runs, measured); a sweep's trials are its whole work
os.environ.setdefault("RAY_worker_niceness", "0")

import ray  # noqa: E402
from ray import tune  # noqa: E402

from benchmarks.bench_convergence import (  # noqa: E402
    TRAIN_AGENTS,
    Yardstick,
    convergence_config,
    convergence_curve,
    paired_reference_rows,
    read_rows,
    reference_rows,
)
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.stats import mean_estimate  # noqa: E402
from rl_algos.common.loops.divergence import ValueDivergenceError  # noqa: E402

ZERO_SHOT_AGENTS = 6


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="qmix")
    parser.add_argument("--embedding", default="concat", help="the team embedding of every trial")
    parser.add_argument(
        "--grid", default="{}", help='JSON {option: [values]} of .training() options, e.g. {"lr": [1e-3]}'
    )
    parser.add_argument("--training", default="{}", help="JSON .training() options fixed for every trial")
    parser.add_argument(
        "--env-options", default="{}", help='JSON team env options of every trial, e.g. {"slots": "random"}'
    )
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--eval-every", type=int, default=100_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--last-points", type=int, default=3, help="curve points averaged into a trial's score")
    parser.add_argument("--scenario", default="spread", choices=("spread", "vmas:spread"))
    parser.add_argument("--cpus", type=int, default=2, help="trials side by side (one CPU each)")
    parser.add_argument("--out", default=None, help="default: results/sweeps/<algo>-<embedding>")
    parser.add_argument("--resume", action="store_true", help="continue the sweep under <out>/tune")
    parser.add_argument(
        "--report", action="store_true", help="only rebuild sweep.csv (from the trials' folders) and sweep.md"
    )
    args = parser.parse_args(argv)
    grid, fixed = json.loads(args.grid), json.loads(args.training)
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        parser.error(f"--grid must be a JSON object of non-empty lists, got {args.grid}")
    if set(grid) & set(fixed):
        parser.error(f"options both swept and fixed: {', '.join(sorted(set(grid) & set(fixed)))}")
    args.grid, args.training, args.env_options = grid, fixed, json.loads(args.env_options)
    args.out = Path(args.out or f"results/sweeps/{args.algo}-{args.embedding}")
    return args


def cells(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, as `.training()` option dicts (one empty cell for an empty grid)."""
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def validate_cells(args: argparse.Namespace) -> None:
    """Build every cell's config once before starting Ray, so a bad option fails here with its message."""
    for cell in cells(args.grid):
        training = {"team_embedding": args.embedding, **args.training, **cell}
        convergence_config(
            args.algo, args.scenario, args.timesteps, 0, training, env_options=args.env_options
        ).validate()


def sweep_trial(trial: dict) -> None:
    """A Tune trainable: one convergence run of `trial["cell"]` and `trial["seed"]`, reporting each curve point."""
    spec, cell, seed = trial["spec"], trial["cell"], trial["seed"]
    training = {"team_embedding": spec["embedding"], **spec["training"], **cell}
    env_options = spec.get("env_options", {})  # absent from sweeps started before the option existed
    config = convergence_config(
        spec["algo"], spec["scenario"], spec["timesteps"], seed, training, env_options=env_options
    )
    eval_agents = f"{TRAIN_AGENTS},{ZERO_SHOT_AGENTS}"
    curve = convergence_curve(
        spec["scenario"], eval_agents, spec["eval_every"], spec["eval_episodes"], seed, env_options
    )
    algo, env_steps = config.build_algo(), 0
    try:
        while env_steps < spec["timesteps"]:
            result = algo.train()
            env_steps = int(result["num_env_steps_sampled_lifetime"])
            if curve.due(env_steps) or env_steps >= spec["timesteps"]:
                point = {"env_steps": env_steps, "diverged": False}
                for row in curve.evaluate(algo, env_steps):
                    n = int(row["eval_agents"])
                    point |= {f"{key}_at_{n}": value for key, value in row.items() if key.endswith("_mean")}
                tune.report(point)
    except ValueDivergenceError as error:
        tune.report({"env_steps": env_steps, "diverged": True, "message": str(error)})
    finally:
        algo.stop()


def run_sweep(args: argparse.Namespace) -> None:
    spec = {
        "algo": args.algo,
        "embedding": args.embedding,
        "scenario": args.scenario,
        "training": args.training,
        "env_options": args.env_options,
        "timesteps": args.timesteps,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
    }
    path = str((args.out / "tune").resolve())
    trainable = tune.with_resources(sweep_trial, {"cpu": 1})
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    if args.resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={
                "spec": spec,
                "cell": tune.grid_search(cells(args.grid)),
                "seed": tune.grid_search([int(s) for s in args.seeds.split(",")]),
            },
            run_config=tune.RunConfig(storage_path=str(args.out.resolve()), name="tune", verbose=1),
        )
    tuner.fit()
    ray.shutdown()


def trial_rows(tune_dir: Path) -> list[dict]:
    """Every curve point reported so far by the sweep's trials (finished, running or stopped), read from their
    folders: a `sweep.csv` row each (the cell as sorted JSON, the seed, env steps, the divergence flag and the
    guard's message, and each `<metric>_at_<agents>`)."""
    rows = []
    for folder in sorted(path for path in tune_dir.iterdir() if (path / "progress.csv").exists()):
        params = json.loads((folder / "params.json").read_text())
        cell = json.dumps(params["cell"], sort_keys=True)
        for point in read_rows(folder / "progress.csv"):
            kept = {
                key: value
                for key, value in point.items()
                if key in ("env_steps", "diverged", "message") or "_at_" in key
            }
            rows.append({"cell": cell, "seed": params["seed"], **kept})
    return rows


def curve_row(point: dict, n: int) -> dict:
    """A sweep point's greedy return at `n` agents as a convergence curve row (for `Yardstick.score`)."""
    return {"seed": str(point["seed"]), "eval_agents": n, "return_mean": point[f"return_mean_at_{n}"]}


def normalised_curve(points: list[dict], n: int, yardstick: Yardstick) -> list[float]:
    """A trial's heuristic-normalised greedy returns at `n` agents, in env-step order (against the heuristic and the
    random team on the trial's own evaluation episodes)."""
    ordered = sorted(points, key=lambda row: float(row["env_steps"]))
    return [yardstick.score(curve_row(row, n)) for row in ordered]


def ranking(rows: list[dict], yardstick: Yardstick, last: int) -> list[dict]:
    """One entry per grid cell, best first: its seeds, the furthest env steps, the score at 3 (mean over each seed's
    last `last` normalised points, then over seeds, with a 95% interval) and at 6, the seeds whose final point fell
    more than 0.1 below their best, and the seeds the divergence guard stopped (their score is NaN, ranked last)."""
    trials: dict[str, dict[str, list[dict]]] = {}
    for row in rows:
        trials.setdefault(row["cell"], {}).setdefault(row["seed"], []).append(row)
    entries = []
    for cell, seeds in trials.items():
        at_train, at_large, collapsed, diverged = [], [], 0, 0
        for points in seeds.values():
            if any(str(row["diverged"]).lower() == "true" for row in points):
                diverged += 1
                at_train.append(float("nan"))
                at_large.append(float("nan"))
                continue
            curve = normalised_curve(points, TRAIN_AGENTS, yardstick)
            at_train.append(float(np.mean(curve[-last:])))
            at_large.append(float(np.mean(normalised_curve(points, ZERO_SHOT_AGENTS, yardstick)[-last:])))
            collapsed += curve[-1] < max(curve) - 0.1
        entries.append(
            {
                "cell": cell,
                "seeds": len(seeds),
                "env_steps": max(int(float(row["env_steps"])) for points in seeds.values() for row in points),
                "score": mean_estimate([np.array([value]) for value in at_train]),
                "zero_shot": float(np.mean(at_large)),
                "collapsed": collapsed,
                "diverged": diverged,
            }
        )
    return sorted(entries, key=lambda entry: -entry["score"].point if np.isfinite(entry["score"].point) else np.inf)


def report(args: argparse.Namespace) -> str:
    """`sweep.md`: the grid, the ranked cells and the winner, from `sweep.csv` (rebuilt first from the trials'
    folders where they are, so an unfinished sweep reports its points so far)."""
    if (args.out / "tune").is_dir():  # the trials' folders are here: the table as far as they have come
        write_rows(trial_rows(args.out / "tune"), args.out / "sweep.csv")
    reference = {(row["policy"], int(row["eval_agents"])): row for row in read_rows(args.out / "reference.csv")}
    rows = read_rows(args.out / "sweep.csv")
    episodes = [
        {"seed": str(row["seed"]), "eval_agents": n, "episodes": args.eval_episodes}
        for row in rows
        for n in (TRAIN_AGENTS, ZERO_SHOT_AGENTS)
    ]
    paired = paired_reference_rows(args.out, args.scenario, episodes, args.env_options)
    entries = ranking(rows, Yardstick(reference, paired), args.last_points)
    title = f"# {args.algo} ({args.embedding}) on {args.scenario}: grid {json.dumps(args.grid)}"
    legend = (
        f"score: the heuristic-normalised greedy return at {TRAIN_AGENTS} agents (the heuristic and the random team on "
        f"each seed's own evaluation episodes), mean over each trial's last {args.last_points} curve points, then over "
        f"seeds [95% bootstrap]; zero-shot: the same at {ZERO_SHOT_AGENTS}"
    )
    lines = [
        f"{title}, fixed {json.dumps(args.training)}"
        + (f", env options {json.dumps(args.env_options)}" if args.env_options else ""),
        "",
        legend,
        "",
        "| cell | seeds | env steps | score at 3 [95%] | zero-shot at 6 | final point > 0.1 below the best "
        "| diverged |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for entry in entries:
        lines.append(
            f"| `{entry['cell']}` | {entry['seeds']} | {entry['env_steps']} | {entry['score']} "
            f"| {entry['zero_shot']:.2f} | {entry['collapsed']} | {entry['diverged']} |"
        )
    furthest = max((entry["env_steps"] for entry in entries), default=0)
    finished = [entry for entry in entries if entry["env_steps"] == furthest]  # cells still running do not win
    if finished:
        unfinished = len(entries) - len(finished)
        lines += [
            "",
            f"winner: `{finished[0]['cell']}`"
            + (f" ({unfinished} cells still short of the furthest one)" if unfinished else ""),
        ]
    table = "\n".join(lines) + "\n"
    (args.out / "sweep.md").write_text(table)
    return table


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reference_rows(args.out, [TRAIN_AGENTS, ZERO_SHOT_AGENTS], args.scenario, args.env_options)
    if not args.report:
        validate_cells(args)
        run_sweep(args)
    print(report(args))


if __name__ == "__main__":
    main()
