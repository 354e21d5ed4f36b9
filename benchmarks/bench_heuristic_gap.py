"""Where a learned team loses against the scripted heuristic: the team reward per step of an episode.

Plays a checkpoint's greedy team and the scenario's heuristic (`envs.heuristics`) on the same seeded episodes (the
checkpoint through its rebuilt algorithm's env runner, the heuristic through `scripted_policy_evaluation`'s env, so
the first states agree), and writes, per step of the episode, the mean team reward of each and their difference;
it prints the gap summed over the first `--travel-steps` steps (reaching the landmarks) and over the rest (holding
them), and each team's task metrics at the last step. For a value learner (IQL, VDN, QMIX, gum: agent Qs per move)
it also measures the action gap along the heuristic's episodes: per present agent and step, its best move's Q, the
difference between its best and second-best move's Q, the best Q minus that of the heuristic's move (medians over
the reaching steps and over the rest), and how often the greedy move is the heuristic's:

    python benchmarks/bench_convergence.py --runs qmix-concat --seeds 0 --keep-checkpoint --out results/x
    python benchmarks/bench_heuristic_gap.py --checkpoint results/x/checkpoints/qmix-concat_seed0 --agents 3
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import envs  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.settings import EVAL_SEED  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import (  # noqa: E402
    AGENT_ID_MODES,
    checkpoint_config,
    checkpoint_module,
    greedy_episodes,
    has_heuristic,
    scripted_episodes,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a checkpoint folder (bench_convergence --keep-checkpoint)")
    parser.add_argument("--agents", type=int, default=None, help="team size to play (default: the trained one)")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="the episodes' seed (both teams)")
    parser.add_argument("--agent-ids", default="reuse", choices=AGENT_ID_MODES)
    parser.add_argument("--travel-steps", type=int, default=10, help="the first steps counted as reaching")
    parser.add_argument(
        "--out",
        default=None,
        help="CSV of the per-step rewards (default: heuristic_gap/ beside the checkpoints folder)",
    )
    return parser.parse_args()


def learned_step_rewards(
    checkpoint: str, env_config: dict, episodes: int, seed: int, agent_ids: str
) -> tuple[np.ndarray, dict[str, float]]:
    """The greedy team's reward per episode and step `[episodes, T]`, and its task metrics' means at the last step."""
    module, _ = checkpoint_module(checkpoint, env_config, agent_ids)
    played = greedy_episodes(module, env_config, episodes, seed)
    rewards = np.array([episode.rewards for episode in played])
    metrics = [episode.info.get("task_metrics", {}) for episode in played]
    return rewards, {name: float(np.mean([m[name] for m in metrics])) for name in metrics[0]}


def heuristic_step_rewards(
    env_config: dict, episodes: int, seed: int, observe: Callable[[int, dict, np.ndarray], None] | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """The heuristic team's reward per episode and step `[episodes, T]` on the episodes `evaluate` plays with `seed`
    (`scripted_episodes`), and its task metrics' means at the last step; `observe` as `scripted_episodes` takes it."""
    played = list(scripted_episodes(env_config, episodes, seed, "heuristic", observe))
    metrics = [info.get("task_metrics", {}) for _, info in played]
    return np.array([rewards for rewards, _ in played], dtype=np.float64), {
        name: float(np.mean([m[name] for m in metrics])) for name in metrics[0]
    }


def action_gaps(checkpoint: str, env_config: dict, episodes: int, seed: int, agent_ids: str) -> np.ndarray | None:
    """Along the heuristic's episodes, per present agent and step: `[step, best Q, best - second-best Q, best Q - Q
    of the heuristic's move, greedy move == heuristic's]` rows, from the checkpoint's agent Qs; None for a checkpoint
    whose module has no agent Qs per move (`agent_q`: the value learners)."""
    rows: list[tuple[int, float, float, float, float]] = []
    module, _ = checkpoint_module(checkpoint, env_config, agent_ids)
    if not callable(getattr(module, "agent_q", None)) or getattr(module, "recurrent", False):
        return None

    @torch.no_grad()
    def observe(t: int, obs: dict, action: np.ndarray) -> None:
        batch = {key: torch.as_tensor(np.asarray(value))[None] for key, value in obs.items()}
        q = module.agent_q(module.agent, batch)[0][0].numpy()  # [n_max, A]
        for slot in np.flatnonzero(obs["mask"]):
            ranked = np.sort(q[slot])[::-1]
            greedy = q[slot].argmax()
            heuristic_gap = ranked[0] - q[slot, action[slot]]
            rows.append((t, ranked[0], ranked[0] - ranked[1], heuristic_gap, float(greedy == action[slot])))

    heuristic_step_rewards(env_config, episodes, seed, observe)
    return np.array(rows)


def main() -> None:
    args = parse_args()
    env_config = dict(checkpoint_config(args.checkpoint).env_config)
    if args.agents is not None:
        env_config["n_agents"] = args.agents
    if not has_heuristic(env_config):
        raise SystemExit(
            f"scenario {env_config['scenario']!r} has no scripted heuristic; scenarios with one: "
            f"{', '.join(envs.heuristic_scenario_names())}"
        )
    learned, learned_metrics = learned_step_rewards(
        args.checkpoint, env_config, args.episodes, args.seed, args.agent_ids
    )
    gaps = action_gaps(args.checkpoint, env_config, args.episodes, args.seed, args.agent_ids)
    scripted, scripted_metrics = heuristic_step_rewards(env_config, args.episodes, args.seed)
    learned_mean, scripted_mean = learned.mean(axis=0), scripted.mean(axis=0)  # [T]
    gap = learned_mean - scripted_mean
    rows = [
        {"step": t, "learned": learned_mean[t], "heuristic": scripted_mean[t], "gap": gap[t]} for t in range(len(gap))
    ]
    checkpoint = Path(args.checkpoint)
    default_out = checkpoint.parent.parent / "heuristic_gap" / f"{checkpoint.name}_n{env_config['n_agents']}.csv"
    out = write_rows(rows, args.out or default_out)
    print(f"{args.checkpoint} at {env_config['n_agents']} agents, {args.episodes} episodes (seed {args.seed}):")
    print(f"  return: learned {learned.sum(axis=1).mean():.2f}, heuristic {scripted.sum(axis=1).mean():.2f}")
    k = args.travel_steps
    print(f"  gap over steps 0-{k - 1}: {gap[:k].sum():.2f}; over steps {k}-{len(gap) - 1}: {gap[k:].sum():.2f}")
    print(f"  reward at the last step: learned {learned_mean[-1]:.3f}, heuristic {scripted_mean[-1]:.3f}")
    for name in learned_metrics:
        print(f"  {name} at the last step: learned {learned_metrics[name]:.3f}, heuristic {scripted_metrics[name]:.3f}")
    for name, phase in (("reaching", gaps[:, 0] < k), ("holding", gaps[:, 0] >= k)) if gaps is not None else ():
        best_q, best_second, best_heuristic = (np.median(gaps[phase, column]) for column in (1, 2, 3))
        print(
            f"  agent Qs while {name} (the heuristic's episodes, medians): best {best_q:.4f}, best - second-best "
            f"{best_second:.4f}, best - the heuristic's move {best_heuristic:.4f}; greedy move = the heuristic's "
            f"{gaps[phase, 4].mean():.2f}"
        )
    print(f"per-step rewards: {out}")


if __name__ == "__main__":
    main()
