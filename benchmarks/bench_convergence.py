"""Convergence: every learner's greedy learning curve on spread at a real budget, against the scripted heuristic.

Each run trains at 3 agents (`n_max` 6) for `--timesteps` env steps (default 1,000,000; synchronous, seeded, the
value learners' epsilon annealed over the first tenth and their discount the scenario's, as the transfer experiment
sets them) and is evaluated greedily every `--eval-every` env steps at 3 and, zero-shot, at 6 agents
(`rl_algos.common.evaluation.learning_curve`; the agents in slots 3-5, whose ids the training team never trained,
act with the trained ids 0-2 unless `--zero-shot-ids own`).
Scores are normalised by the scripted heuristic (`envs.heuristics`): `(x - random) / (heuristic - random)`, 1 =
the heuristic. The heuristic and the random team play each seed's own evaluation episodes (the same first states as
the curve's points, `reference_paired.csv`), so an evaluation set that happens to be hard or easy moves the policy
and its yardstick together; the 100-episode reference rows (`reference.csv`) are the table's footnote.
`--scenario vmas:spread` trains on spread's VMAS twin instead, `--worlds` worlds per env runner; `--env-options`
sets team env options (e.g. `{"slots": "random"}`) of the runs, their curves and the reference rows (give either its
own `--out`: the reference rows are measured on the scenario the folder was started with).
`--keep-checkpoint` saves each run's final algorithm under `<out>/checkpoints/` (ignored by git) for analysis.

Long: on the 2-core machine a 1M-step run takes 20-60 min. Runs are independent jobs that append their curve to
`<out>/curves/<run>_seed<k>.csv` as each point is measured and write `<run>_seed<k>.done.json` when finished (or
stopped by the divergence guard). After each curve point an unfinished job keeps its algorithm in
`<out>/resume/<run>_seed<k>/` (weights, optimisers, env-step counters, the replay learners' replay; ignored by git), so
a restarted script skips finished jobs and resumes unfinished ones from their last point: the curve goes on from
there, its envs starting new episodes (so not bit for bit as an uninterrupted run would).
Run two processes side by side on different `--runs`, then `--report` (CSV -> table and figure, no training):

    nohup python benchmarks/bench_convergence.py --runs qmix-concat,vdn > conv1.log &
    nohup python benchmarks/bench_convergence.py --runs qmix-graph,iql > conv2.log &
    python benchmarks/bench_convergence.py --report
    nohup python benchmarks/bench_convergence.py --scenario vmas:spread --runs mappo-graph \
        --out results/convergence/vmas_spread > conv3.log &

Writes `<out>/reference.csv` (heuristic and random at each size), `<out>/convergence.md` (the table) and
`<out>/curves.png` (mean and 95% bootstrap interval over seeds of the normalised score against env steps).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402
from ray.rllib.algorithms.algorithm import Algorithm  # noqa: E402
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig  # noqa: E402
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME  # noqa: E402

from experiments.transfer_experiment.measured_defaults import measured_defaults  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.settings import EVAL_SEED, VMAS_WORLDS  # noqa: E402
from experiments.transfer_experiment.stats import Estimate, mean_estimate  # noqa: E402
from rl_algos.common.config.actor_critic import TeamActorCriticConfig  # noqa: E402
from rl_algos.common.config.replay import ReplayOptions  # noqa: E402
from rl_algos.common.evaluation.learning_curve import LearningCurve  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import AGENT_ID_MODES, scripted_policy_evaluation  # noqa: E402
from rl_algos.common.loops.divergence import ValueDivergenceError  # noqa: E402
from rl_algos.common.training import budget_config  # noqa: E402

# run name -> (algorithm, team embedding); the order is the order they run in
RUNS = {
    "qmix-concat": ("qmix", "concat"),
    "qmix-graph": ("qmix", "graph"),
    "vdn": ("vdn", "concat"),
    "iql": ("iql", "concat"),
    "central_v-graph": ("central_v", "graph"),
    "iac": ("iac", "concat"),
    "mappo-graph": ("mappo", "graph"),
    "mappo-concat": ("mappo", "concat"),
    "ippo": ("ippo", "concat"),
    "gum": ("gum", "concat"),
    "maddpg-graph": ("maddpg", "graph"),
    "central_v_sac-graph": ("central_v_sac", "graph"),
    "iac_awac": ("iac_awac", "concat"),
    "coma-graph": ("coma", "graph"),
    "lica-concat": ("lica", "concat"),
}
TRAIN_AGENTS, N_MAX = 3, 6
REFERENCE_EPISODES = 100
REFERENCE_SEED = 30_000  # the heuristic's and the random team's episodes
DEFAULT_EPISODES = 20  # evaluation episodes per curve point in CSVs written before they recorded it


def env_config(n_agents: int, scenario: str = "spread", options: dict | None = None) -> dict:
    """The team env config of a convergence run at `n_agents`, with the scenario `options` (e.g. `slots`) over it."""
    return {"scenario": scenario, "n_agents": n_agents, "n_max": N_MAX, **(options or {})}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--eval-every", type=int, default=100_000, help="env steps between curve points")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--eval-agents", default="3,6")
    parser.add_argument("--training", default="{}", help="JSON .training(...) options added to every run")
    parser.add_argument(
        "--env-options",
        default="{}",
        help='JSON team env options of every run, its curve and its reference rows, e.g. {"slots": "random"}',
    )
    parser.add_argument(
        "--zero-shot-ids",
        choices=AGENT_ID_MODES,
        default="reuse",
        help="at sizes above the trained team, agents in untrained slots act with trained ids (reuse) or their own",
    )
    parser.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="save each run's final algorithm to <out>/checkpoints/<run>_seed<k> (not committed) for later analysis",
    )
    parser.add_argument("--scenario", default="spread", choices=("spread", "vmas:spread"))
    parser.add_argument("--worlds", type=int, default=VMAS_WORLDS, help="VMAS worlds per env runner (vmas:spread)")
    parser.add_argument("--out", default="results/convergence")
    parser.add_argument("--report", action="store_true", help="only rebuild the table and figure from the CSVs")
    args = parser.parse_args()
    unknown = sorted(set(args.runs.split(",")) - set(RUNS))
    if unknown:
        parser.error(f"unknown runs {', '.join(unknown)}; known: {', '.join(RUNS)}")
    return args


def reference_rows(out: Path, sizes: list[int], scenario: str, env_options: dict | None = None) -> list[dict]:
    """Heuristic and random returns and occupancy at each size, measured once and kept in `reference.csv`."""
    path = out / "reference.csv"
    rows = read_rows(path)
    if {int(row["eval_agents"]) for row in rows} >= set(sizes):
        return rows
    rows = []
    for n in sizes:
        for policy in ("heuristic", "random"):
            result = scripted_policy_evaluation(
                env_config(n, scenario, env_options), REFERENCE_EPISODES, seed=REFERENCE_SEED, policy=policy
            )
            metrics = {f"{k}_mean": float(np.mean(v)) for k, v in result["task_metrics"].items()}
            rows.append({"policy": policy, "eval_agents": n, "return_mean": result["return_mean"], **metrics})
    write_rows(rows, path)
    return rows


def paired_reference_rows(
    out: Path, scenario: str, curve_rows: list[dict], env_options: dict | None = None
) -> dict[tuple[str, str, int], dict]:
    """The heuristic's and the random team's returns on each curve's own evaluation episodes (seed `EVAL_SEED` +
    the run's seed, as many episodes as its points), by `(policy, seed, eval_agents)`, measured once per seed and size
    and kept in `reference_paired.csv`."""
    path = out / "reference_paired.csv"
    rows = read_rows(path)
    have = {(row["seed"], int(row["eval_agents"])) for row in rows}
    wanted = {
        (row["seed"], int(row["eval_agents"])): int(row.get("episodes") or DEFAULT_EPISODES) for row in curve_rows
    }
    missing = sorted(key for key in wanted if key not in have)
    for seed, n in missing:
        episodes = wanted[(seed, n)]
        for policy in ("heuristic", "random"):
            result = scripted_policy_evaluation(
                env_config(n, scenario, env_options), episodes, seed=EVAL_SEED + int(seed), policy=policy
            )
            rows.append(
                {
                    "policy": policy,
                    "seed": seed,
                    "eval_agents": n,
                    "episodes": episodes,
                    "return_mean": result["return_mean"],
                }
            )
    if missing:
        write_rows(rows, path)
    return {(row["policy"], row["seed"], int(row["eval_agents"])): row for row in rows}


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def convergence_config(
    algo_name: str,
    scenario: str,
    timesteps: int,
    seed: int,
    training: dict,
    worlds: int = VMAS_WORLDS,
    env_options: dict | None = None,
) -> AlgorithmConfig:
    """A convergence run's config: `budget_config` at the training size with `training` over it, VMAS's `worlds`
    per env runner (and an on-policy batch of at least 10 steps per world, unless `training` sets it), the scenario's
    discount and the value learners' epsilon as the transfer experiment sets them (`measured_defaults`),
    and for the replay learners the replay in checkpoints (a job resumes with it)."""
    config = budget_config(algo_name, env_config(TRAIN_AGENTS, scenario, env_options), timesteps, seed, **training)
    if scenario.startswith("vmas:"):
        config.env_runners(num_envs_per_env_runner=worlds)
        if isinstance(config, TeamActorCriticConfig) and "train_batch_size_per_learner" not in training:
            config.cover_every_env()
    measured_defaults(config, training, timesteps)
    if config.takes(ReplayOptions):
        config.training(checkpoint_replay=True)  # a run resumed from its last point goes on with its replay
    return config


def convergence_curve(
    scenario: str,
    eval_agents: str,
    every: int,
    episodes: int,
    seed: int,
    env_options: dict | None = None,
    agent_ids: str = "reuse",
) -> LearningCurve:
    """The greedy curve of a convergence run: every `every` env steps at each of the comma-separated `eval_agents`,
    the agents in slots the training team never sat in acting with trained ids unless `agent_ids="own"`."""
    configs = [env_config(int(n), scenario, env_options) for n in eval_agents.split(",")]
    return LearningCurve(configs, every, episodes, EVAL_SEED + seed, agent_ids)


def run_job(run: str, seed: int, args: argparse.Namespace, out: Path) -> None:
    """Train one (run, seed) to the budget, appending a curve point every `--eval-every` env steps."""
    algo_name, embedding = RUNS[run]
    stem = out / "curves" / f"{run}_seed{seed}"
    training = {"team_embedding": embedding, **json.loads(args.training)}
    env_options = json.loads(args.env_options)
    config = convergence_config(algo_name, args.scenario, args.timesteps, seed, training, args.worlds, env_options)
    curve = convergence_curve(
        args.scenario, args.eval_agents, args.eval_every, args.eval_episodes, seed, env_options, args.zero_shot_ids
    )
    status = {"run": run, "seed": seed, "diverged": False}
    algo = config.build_algo()
    resume = out / "resume" / stem.name
    rows, env_steps, training_s = resumed(algo, resume, stem.with_suffix(".csv"))
    if env_steps:
        curve.resume_after(env_steps)
        print(f"{run} seed {seed}: resumed at {env_steps} env steps from {resume}", flush=True)
    start = time.perf_counter()
    try:
        while env_steps < args.timesteps:
            tick = time.perf_counter()
            result = algo.train()
            training_s += time.perf_counter() - tick
            env_steps = int(result["num_env_steps_sampled_lifetime"])
            if curve.due(env_steps) or env_steps >= args.timesteps:
                train_return = result["env_runners"].get("episode_return_mean", float("nan"))
                for row in curve.evaluate(algo, env_steps):
                    point = {"run": run, "seed": seed, "point": env_steps // args.eval_every}
                    rows.append({**point, **row, "train_return": train_return, "steps_per_s": env_steps / training_s})
                write_rows(rows, stem.with_suffix(".csv"))
                print(
                    f"{run} seed {seed}: {env_steps} env steps, greedy return at {TRAIN_AGENTS}: "
                    f"{rows[-len(curve.env_configs)]['return_mean']:.2f}",
                    flush=True,
                )
                if env_steps < args.timesteps:
                    keep_for_resuming(algo, resume)
        if args.keep_checkpoint:
            algo.save_to_path((out / "checkpoints" / stem.name).absolute())
    except ValueDivergenceError as error:
        status |= {"diverged": True, "message": str(error)}
        print(f"{run} seed {seed}: {error}", flush=True)
    finally:
        algo.stop()
    status |= {"env_steps": env_steps, "wall_s": time.perf_counter() - start, "steps_per_s": env_steps / training_s}
    stem.with_suffix(".done.json").write_text(json.dumps(status))
    shutil.rmtree(resume, ignore_errors=True)


def keep_for_resuming(algo: Algorithm, resume: Path) -> None:
    """Save `algo` (weights, optimisers, env-step counters and, for the replay learners, the replay) to `resume`,
    replacing the checkpoint there only once the new one is whole."""
    fresh = resume.with_name(resume.name + ".saving")
    shutil.rmtree(fresh, ignore_errors=True)
    algo.save_to_path(fresh.absolute())
    stale = resume.with_name(resume.name + ".stale")
    if resume.exists():
        os.replace(resume, stale)
    os.replace(fresh, resume)
    shutil.rmtree(stale, ignore_errors=True)


def resumed(algo: Algorithm, resume: Path, curve_csv: Path) -> tuple[list[dict], int, float]:
    """Restore `algo` from an unfinished job's last kept checkpoint, if there is one: (the curve rows measured up to
    it, its env steps, the training seconds they took); `([], 0, 0.0)` for a fresh start."""
    if not (resume / "rllib_checkpoint.json").exists():
        return [], 0, 0.0
    algo.restore_from_path(resume.absolute())
    env_steps = int(algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))
    rows = [row for row in read_rows(curve_csv) if int(row["env_steps"]) <= env_steps]
    if not env_steps or not rows:
        raise RuntimeError(
            f"{resume} holds a checkpoint at {env_steps} env steps but {curve_csv} has no point up to it: delete "
            f"{resume} to start this job again from scratch"
        )
    return rows, env_steps, env_steps / float(rows[-1]["steps_per_s"])


def normalised(value: float, heuristic: float, random: float) -> float:
    return (value - random) / (heuristic - random)


class Yardstick:
    """The heuristic's and the random team's returns that normalise a curve row: those on the row's own evaluation
    episodes (`paired_reference_rows`) where measured, else the folder's 100-episode reference rows."""

    def __init__(self, reference: dict, paired: dict):
        self.reference, self.paired = reference, paired

    def score(self, row: dict) -> float:
        """The row's return, heuristic-normalised."""
        n, seed = int(row["eval_agents"]), row["seed"]
        h, rnd = (
            float(self.paired[(policy, seed, n)]["return_mean"])
            if (policy, seed, n) in self.paired
            else float(self.reference[(policy, n)]["return_mean"])
            for policy in ("heuristic", "random")
        )
        return normalised(float(row["return_mean"]), h, rnd)


def report(out: Path, sizes: list[int], scenario: str, env_options: dict | None = None) -> str:
    """The table (`convergence.md`) and figure (`curves.png`) of every curve under `out`."""
    reference = {(row["policy"], int(row["eval_agents"])): row for row in read_rows(out / "reference.csv")}
    curves: dict[str, list[dict]] = {}
    for path in sorted((out / "curves").glob("*.csv")):
        for row in read_rows(path):
            curves.setdefault(row["run"], []).append(row)
    paired = paired_reference_rows(out, scenario, [row for rows in curves.values() for row in rows], env_options)
    yardstick = Yardstick(reference, paired)
    lines = [
        (
            "| run | seeds (done; the table uses the done ones) | env steps | greedy return at 3 [95%] "
            "| best point at 3 | end within best's interval |"
            " normalised at 3 | normalised at 6 (zero-shot) | occupied within 0.2 at 3 | env steps/s | diverged |"
        ),
        "| --- | --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in [r for r in RUNS if r in curves]:
        done = [json.loads(p.read_text()) for p in (out / "curves").glob(f"{run}_seed*.done.json")]
        started = len({r["seed"] for r in curves[run]})
        finished = {str(d["seed"]) for d in done}
        # the finished seeds once there are some: a run still in progress would cut every seed's curve short
        rows = [r for r in curves[run] if r["seed"] in finished] if finished else curves[run]
        at = {n: [r for r in rows if int(r["eval_agents"]) == n] for n in sizes}
        # the last curve point every seed reached, and each point's per-seed returns
        by_step = {}
        for row in at[TRAIN_AGENTS]:
            by_step.setdefault(int(row["point"]), {})[row["seed"]] = float(row["return_mean"])
        seeds = {r["seed"] for r in rows}
        full = [step for step, per_seed in sorted(by_step.items()) if len(per_seed) == len(seeds)]
        if not full:
            continue
        estimates = {step: mean_estimate([np.array([v]) for v in by_step[step].values()]) for step in full}
        final, best_step = estimates[full[-1]], max(full, key=lambda s: estimates[s].point)
        best = estimates[best_step]
        if len(seeds) == 1:  # one seed: the best point's interval from its evaluation episodes (normal approximation)
            row = next(r for r in at[TRAIN_AGENTS] if int(r["point"]) == best_step)
            half = 1.96 * float(row["return_std"]) / np.sqrt(float(row.get("episodes") or DEFAULT_EPISODES))
            best = Estimate(best.point, best.point - half, best.point + half)
        cells = []
        for n in (TRAIN_AGENTS, max(sizes)):
            last = [yardstick.score(r) for r in at[n] if int(r["point"]) == full[-1]]
            cells.append(f"{np.mean(last):.2f}" if last else "-")
        last_rows = [r for r in at[TRAIN_AGENTS] if int(r["point"]) == full[-1]]
        occupancy = [float(r["occupied_landmarks_r02_mean"]) for r in last_rows]
        end_steps = int(np.mean([int(r["env_steps"]) for r in last_rows]))
        speed = np.mean([float(r["steps_per_s"]) for r in rows])
        lines.append(
            f"| {run} | {started} ({len(done)}) | {end_steps} | {final.point:.1f} [{final.low:.1f}, "
            f"{final.high:.1f}] | {best.point:.1f} at point {best_step} | "
            f"{'yes' if final.point >= best.low else 'no'} | {cells[0]} | {cells[1]} | {np.mean(occupancy):.2f} | "
            f"{speed:.0f} | {sum(d['diverged'] for d in done)} |"
        )
    for policy in ("heuristic", "random"):
        cells = " / ".join(f"{float(reference[(policy, n)]['return_mean']):.1f}" for n in sizes)
        lines.append(
            f"\n{policy}: return {cells} at {' / '.join(map(str, sizes))} agents ({REFERENCE_EPISODES} episodes)"
        )
    if paired:
        lines.append(
            "\nnormalised against the heuristic and the random team on each seed's own evaluation episodes "
            "(`reference_paired.csv`)"
        )
    table = "\n".join(lines) + "\n"
    (out / "convergence.md").write_text(table)
    plot_curves(curves, yardstick, sizes, scenario, out / "curves.png")
    return table


def plot_curves(
    curves: dict[str, list[dict]], yardstick: Yardstick, sizes: list[int], scenario: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        for run, rows in curves.items():
            by_point: dict[int, list[tuple[int, float]]] = {}
            for row in rows:
                if int(row["eval_agents"]) == n:
                    score = yardstick.score(row)
                    by_point.setdefault(int(row["point"]), []).append((int(row["env_steps"]), score))
            points = sorted(by_point)
            steps = [np.mean([s for s, _ in by_point[p]]) for p in points]
            estimates = [mean_estimate([np.array([v]) for _, v in by_point[p]]) for p in points]
            ax.plot(steps, [e.point for e in estimates], label=run)
            ax.fill_between(steps, [e.low for e in estimates], [e.high for e in estimates], alpha=0.2)
        ax.axhline(1.0, color="k", linestyle="--", linewidth=0.8)
        ax.axhline(0.0, color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(
            f"{scenario}, trained at {TRAIN_AGENTS}, evaluated at {n}" + (" (zero-shot)" if n != TRAIN_AGENTS else "")
        )
        ax.set_xlabel("env steps")
        ax.set_ylabel("(return - random) / (heuristic - random)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.eval_agents.split(",")]
    reference_rows(out, sizes, args.scenario, json.loads(args.env_options))
    if not args.report:
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
        for run in args.runs.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                if not (out / "curves" / f"{run}_seed{seed}.done.json").exists():
                    run_job(run, seed, args, out)
        ray.shutdown()
    print(report(out, sizes, args.scenario, json.loads(args.env_options)))


if __name__ == "__main__":
    main()
