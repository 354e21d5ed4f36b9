"""Train one algorithm on one team env, save a checkpoint, and evaluate it greedily at other team sizes.

    python experiments/train.py --algo qmix --embedding graph --scenario spread --n-agents 3 --n-max 6 \\
        --timesteps 5000 --eval-agents 3,6

`--embedding` takes a name (concat, mean, graph) or a JSON dict such as
'{"type": "graph", "conv": "gcn", "pool": "attention"}'; `--training` takes any other `.training(...)` option
as JSON, e.g. '{"munchausen": {}, "n_step": 3}'. `--finetune-from CHECKPOINT` starts from another run's checkpoint
(same `n_max`) with the `--finetune` strategy (naive, conservative, kl, others; see rl_algos.common.config.finetune):

    python experiments/train.py --n-agents 6 --n-max 6 --timesteps 5000 --finetune-from results/train --finetune kl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

import rl_algos  # noqa: E402
from rl_algos.common.checkpoints import checkpoint_config, checkpoint_env_steps  # noqa: E402
from rl_algos.common.config.finetune import FINETUNE_STRATEGIES, finetune_config, loads_pretrained_replay  # noqa: E402
from rl_algos.common.evaluation.team_evaluation import AGENT_ID_MODES  # noqa: E402
from rl_algos.common.training import train_and_evaluate  # noqa: E402


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="qmix", choices=sorted(rl_algos.ALGORITHMS))
    parser.add_argument("--embedding", default="concat", help="team embedding: a name or a JSON dict")
    parser.add_argument("--scenario", default="spread")
    parser.add_argument("--scenario-options", default="{}", help="JSON dict of env options")
    parser.add_argument("--n-agents", type=int_list, default=[3], help="training team size(s), e.g. 3 or 2,3,4")
    parser.add_argument("--n-max", type=int, default=None, help="padded team size (default: largest size named)")
    parser.add_argument("--timesteps", type=int, default=5000, help="env steps to train for")
    parser.add_argument("--training", default="{}", help="JSON dict of extra .training(...) options")
    parser.add_argument("--eval-agents", type=int_list, default=None, help="team sizes to evaluate at")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--zero-shot-ids",
        choices=AGENT_ID_MODES,
        default="reuse",
        help="at an eval size above the trained team, agents in slots it never sat in act with trained ids (reuse: "
        "slot k as k mod N) or their own, untrained ones (see docs/transfer.md, 'Agent ids at a larger team')",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--env-runners",
        type=int,
        default=None,
        help="remote env runners (default: the algorithm's; replay learners: 1, sampling asynchronously; "
        "0 trains synchronously in this process, reproducible for a seed)",
    )
    parser.add_argument("--finetune-from", default=None, help="start from this algorithm checkpoint (fine-tuning)")
    parser.add_argument("--finetune", default="conservative", choices=FINETUNE_STRATEGIES, help="fine-tuning strategy")
    parser.add_argument("--out", default="results/train", help="checkpoint directory")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    embedding = json.loads(args.embedding) if args.embedding.startswith("{") else args.embedding
    eval_agents = args.eval_agents or args.n_agents
    n_max = args.n_max or max(args.n_agents + eval_agents)
    env_config = {
        "scenario": args.scenario,
        "n_agents": args.n_agents if len(args.n_agents) > 1 else args.n_agents[0],
        "n_max": n_max,
        **json.loads(args.scenario_options),
    }
    training = {"team_embedding": embedding, **json.loads(args.training)}
    config = (
        rl_algos.get_config(args.algo)
        .environment("team", env_config=env_config)
        .training(**training)
        .debugging(seed=args.seed)
    )
    if args.env_runners is not None:
        config.env_runners(num_env_runners=args.env_runners)
    if args.finetune_from:
        pretrained = args.finetune_from
        config = finetune_config(
            config,
            args.finetune,
            pretrained=checkpoint_config(pretrained),
            pretrained_env_steps=checkpoint_env_steps(pretrained),
            kl_steps=args.timesteps,
        )
    config.validate()

    def load_pretrained(trainer) -> None:
        with_replay = trainer.load_pretrained(args.finetune_from, replay=loads_pretrained_replay(args.finetune))
        print(f"fine-tuning ({args.finetune}) from {args.finetune_from}" + (", with its replay" if with_replay else ""))

    start = time.perf_counter()

    def report(result: dict) -> None:
        episode_return = result["env_runners"].get("episode_return_mean", float("nan"))
        loss = result.get("learners", {}).get("default_policy", {}).get("total_loss", float("nan"))
        steps = result["num_env_steps_sampled_lifetime"]
        print(
            f"env steps {steps:>7}  return {episode_return:9.2f}  loss {loss:8.4f}  {time.perf_counter() - start:6.0f}s"
        )

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    run = train_and_evaluate(
        config,
        args.timesteps,
        [{**env_config, "n_agents": n_agents} for n_agents in eval_agents],
        episodes=args.eval_episodes,
        seed=args.seed,
        checkpoint_dir=str(Path(args.out).resolve()),
        prepare=load_pretrained if args.finetune_from else None,
        on_result=report,
        agent_ids=args.zero_shot_ids,
    )
    print(f"checkpoint: {run.checkpoint}")
    print("| team size | greedy return (mean ± std) | episodes |")
    print("| ---: | ---: | ---: |")
    for n_agents, result in zip(eval_agents, run.evaluations, strict=True):
        print(f"| {n_agents} | {result['return_mean']:.2f} ± {result['return_std']:.2f} | {result['episodes']} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
