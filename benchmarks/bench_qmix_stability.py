"""QMIX's stability under an update regime: the mixer's internals along a run, on spread (3 agents, `n_max` 6).

Every `--every` env steps it samples 1,024 replayed transitions and measures, with the learner's own networks:
`q_taken` (the logged mean of Q_tot at the actions taken), `gain` (the mean over present agents of dQ_tot / dQ_a, by
autograd), `agent_q` (the agents' Qs of the actions taken), `w2_sum` (sum of the second mixing layer's weights),
`saturated` (the share of first-layer mixing units below -3, where ELU is flat), `features_norm` (the mean L2 norm of
the team embedding before the hypernetworks' input normalisation), `gain_norm_corr` (the correlation over the
transitions of each one's gain with its embedding's norm: how much the weighting follows the raw scale),
`q_tot_at_zero` (the mixer's output with every agent's Q set to 0: its state-dependent bias path, `w2(e) .
elu(b1(e)) + V(e)`) and the training return. A run
stops early when the divergence guard fires. How the regimes compare, and why, is in `rl_algos/common/config/value.py`.

    python benchmarks/bench_qmix_stability.py --regime default --timesteps 120000
    python benchmarks/bench_qmix_stability.py --regime small_batch --timesteps 120000   # 64 per step, 0.25 per env step
    python benchmarks/bench_qmix_stability.py --regime small_batch --training '{"hypernet_input_norm": false}' \
        --tag raw_input

Writes `<out>/qmix_stability_<regime>_<embedding>[_<tag>]_seed<k>.csv`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from torch.nn import functional as F

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

import rl_algos  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402
from rl_algos.common.loops.divergence import ValueDivergenceError  # noqa: E402

# regime -> .training(...) options on top of QMIX's defaults (800 transitions per step, one step per 25 env steps)
REGIMES = {
    "default": {},
    "small_batch": {"train_batch_size_per_learner": 64, "train_ratio": 0.25},
    "large_batch_frequent": {"train_ratio": 0.25},  # 800 per step at the former rate: noise or update rate?
    "small_batch_slow_target": {
        "train_batch_size_per_learner": 64,
        "train_ratio": 0.25,
        "target_update_interval": 1250,
    },
}


def mixer_diagnostics(module, batch: dict) -> dict[str, float]:
    """The mixer's gain, input Qs, output-layer weight sum, ELU saturation and running Q scale (1 without
    `mixer_q_norm`) on a replayed batch."""
    obs = {key: torch.as_tensor(value) for key, value in batch["obs"].items()}
    mask = obs["mask"]
    actions = torch.as_tensor(batch["actions"]).long()
    with torch.no_grad():
        q = module.agent(module.agent_inputs(obs))  # [B, n_max, A]
        agent_q = module.mixer_inputs(q.gather(-1, actions.unsqueeze(-1)).squeeze(-1), q) * mask  # what is mixed
    taken = agent_q.clone().requires_grad_(True)
    gain = torch.autograd.grad(module.mix(taken, obs).sum(), taken)[0]  # [B, n_max]
    with torch.no_grad():
        q_tot_at_zero = module.mix(torch.zeros_like(agent_q), obs)  # [B]
    mixer = module.mixer
    with torch.no_grad():
        features = mixer.team_features(obs["obs"], mask, obs["state"])
        embedding = mixer.input_norm(features)
        hidden_in = mixer.first_layer(agent_q, mask, embedding)
        w2 = mixer.hyper_w2(embedding).abs()
    present = mask.sum()
    gain_per_sample = (gain * mask).sum(-1) / mask.sum(-1)  # [B]
    gain_norm_corr = torch.corrcoef(torch.stack([gain_per_sample, features.norm(dim=-1)]))[0, 1]
    return {
        "gain": float((gain * mask).sum() / present),
        "agent_q": float(agent_q.sum() / present),
        "w2_sum": float(w2.sum(-1).mean()),
        "saturated": float((hidden_in < -3).float().mean()),
        "elu_mean": float(F.elu(hidden_in).mean()),
        "features_norm": float(features.norm(dim=-1).mean()),
        "gain_norm_corr": float(gain_norm_corr),
        "q_tot_at_zero": float(q_tot_at_zero.mean()),
        "q_scale": float(mixer.scale()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regime", default="default", choices=sorted(REGIMES))
    parser.add_argument("--embedding", default="concat")
    parser.add_argument("--timesteps", type=int, default=120_000)
    parser.add_argument("--every", type=int, default=4_800, help="env steps between measurements")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--training", type=json.loads, default={}, help="JSON .training(...) options on top")
    parser.add_argument("--tag", default="", help="added to the CSV's name, for runs with --training options")
    parser.add_argument("--out", default="results/convergence/qmix_stability")
    args = parser.parse_args()
    config = (
        rl_algos.get_config("qmix")
        .environment("team", env_config={"scenario": "spread", "n_agents": 3, "n_max": 6})
        .env_runners(num_env_runners=0)
        .training(team_embedding=args.embedding, **REGIMES[args.regime], **args.training)
        .debugging(seed=args.seed)
    )
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    algo = config.build_algo()
    module = algo.learner_group._learner.module["default_policy"].unwrapped()
    rows, measured_at, env_steps = [], 0, 0
    tag = f"_{args.tag}" if args.tag else ""
    path = Path(args.out) / f"qmix_stability_{args.regime}_{args.embedding}{tag}_seed{args.seed}.csv"
    try:
        while env_steps < args.timesteps:
            result = algo.train()
            env_steps = int(result["num_env_steps_sampled_lifetime"])
            if env_steps - measured_at < args.every or len(algo.replay) < 1024:
                continue
            measured_at = env_steps
            learner = result.get("learners", {}).get("default_policy", {})
            row = {
                "env_steps": env_steps,
                "train_return": result["env_runners"].get("episode_return_mean", float("nan")),
                "q_taken": learner.get("q_taken_mean", float("nan")),
                **mixer_diagnostics(module, algo.replay.sample_transitions(1024, 1, config.gamma)),
            }
            rows.append(row)
            write_rows(rows, path)
            print(" ".join(f"{key}={value:.4g}" for key, value in row.items()), flush=True)
    except ValueDivergenceError as error:
        print(f"stopped: {error}")
    finally:
        algo.stop()
        ray.shutdown()


if __name__ == "__main__":
    main()
