"""How much a QMIX-type mixer's `Q_tot` depends on its agents' Qs along greedy episodes, at each team size: the
gain `mean dQ_tot / dQ_a` over present agents and states, and the other internals `bench_qmix_stability.py`
measures (its `mixer_diagnostics`: `q_tot_at_zero`, the state-dependent path; `w2_sum`; ...), from checkpoints.

A mixer whose gain falls to 0 (`Q_tot` a function of the state only) passes its TD gradient to no agent; for gum it
also reads as perfectly conservative (its `gap_mix`, `Q_tot(greedy) - Q_tot(behaviour)`, falls to 0), so greedy
unmixing's inverse weights hand it the whole loss. Each checkpoint (QMIX, or gum with its `"qmix"` mixer) plays
`--episodes` greedy episodes at each `--eval-agents` size, the agents in slots the training team never sat in acting
with trained ids as zero-shot evaluation does; also `action_gap`, the agents' mean `max_u Q_a - mean_u Q_a`:

    python benchmarks/bench_mixer_sensitivity.py --eval-agents 3,6 \\
        --checkpoints results/study/vmas_spread/gum-s0/train/train_gum_concat_n3_seed0/checkpoint_000015
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

import numpy as np
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from benchmarks.bench_qmix_stability import mixer_diagnostics  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from experiments.transfer_experiment.settings import EVAL_SEED  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import checkpoint_config, checkpoint_module, greedy_episodes  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkpoints", required=True, help="comma-separated checkpoint folders of QMIX-mixed learners"
    )
    parser.add_argument("--eval-agents", default="3,6", help="team sizes to play at (default: 3,6)")
    parser.add_argument("--episodes", type=int, default=5, help="greedy episodes per checkpoint and size (default: 5)")
    parser.add_argument("--out", default="results/mixer_sensitivity.csv", help="the CSV written")
    return parser.parse_args(argv)


def action_gap(module: torch.nn.Module, obs: Mapping[str, torch.Tensor]) -> float:
    """The present agents' mean `max_u Q_a(o_a, u) - mean_u Q_a(o_a, u)` over the observations `[T, ...]`."""
    with torch.no_grad():
        q, _ = module.agent_q(module.agent, obs)  # [T, n_max, A]
    return float((q.max(-1).values - q.mean(-1))[obs["mask"].bool()].mean())


def checkpoint_rows(path: str, sizes: list[int], episodes: int) -> list[dict]:
    """One row per team size: the mixer's internals over the steps of `episodes` greedy episodes of the checkpoint."""
    env_config = dict(checkpoint_config(path).env_config)
    rows = []
    for n in sizes:
        at_n = {**env_config, "n_agents": n}
        module, _ = checkpoint_module(path, at_n, "reuse")
        if not hasattr(getattr(module, "mixer", None), "hyper_w1"):
            raise SystemExit(f"{path}: its module has no QMIX-type mixer; give checkpoints of QMIX or gum")
        played = greedy_episodes(module, at_n, episodes, EVAL_SEED)
        observed = {
            key: np.concatenate([e.observations[key][: len(e)] for e in played]) for key in played[0].observations
        }
        steps = {"obs": observed, "actions": np.concatenate([e.actions for e in played])}  # each step with its action
        obs = {key: torch.as_tensor(value) for key, value in steps["obs"].items()}
        rows.append(
            {"checkpoint": path, "eval_agents": n, "steps": len(steps["actions"]),
             **mixer_diagnostics(module, steps), "action_gap": action_gap(module, obs)}
        )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(size) for size in args.eval_agents.split(",")]
    rows = []
    for path in args.checkpoints.split(","):
        for row in checkpoint_rows(path, sizes, args.episodes):
            rows.append(row)
            print(f"{path} at {row['eval_agents']}: gain dQ_tot/dQ_a {row['gain']:.4f}, Q_tot at Q = 0 "
                  f"{row['q_tot_at_zero']:.2f}, agents' max - mean Q {row['action_gap']:.3f}", flush=True)  # fmt: skip
    write_rows(rows, args.out)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
