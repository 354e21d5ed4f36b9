"""Forward and backward time of the pooled team embeddings and the critics built on them, a batch whose teams fill
every slot against the masked code path on the same batch, measured in the same run.

A replay batch of one team size, cut to its used slots, has no absent agent: `GraphEmbedding` then passes one
adjacency for the whole batch and no node mask, and both pooled embeddings pool by segment offsets instead of
gathering the present rows (`policies/networks/team_embedding.py`). The masked path (every team's adjacency, node
mask and gathered rows; the only path before) is timed on the same batch by making the check report a gap. Both
give the same values (tests/test_value_networks.py). For each team size N (`--agents`) in `--n-max` slots, a batch
of `--batch` teams (the replay actor-critics' 100), on one CPU thread:

- `graph` and `mean`: the team embedding of the agents' observations;
- `coma-graph`: Central-V SAC's counterfactual critic `Q(s, (u^-a, .))` (one team view per agent);
- `joint-graph`: MADDPG's critic at the actor's view `Q_a(o, (u^-a, u'_a))` (one critic pass per agent).

Writes `--csv` (default `results/bench_team_embedding.csv`) and prints a markdown table.

    python benchmarks/bench_team_embedding.py [--agents 3,6] [--batch 100] [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from experiments.transfer_experiment.results_io import write_rows
from policies.networks import team_embedding
from policies.networks.team_critics import CounterfactualCritic, JointActionCritic

OBS_DIM, N_ACTIONS, HIDDEN = 34, 5, [64, 64]  # vmas:spread's observation at n_max 8, its 5 moves


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="3,6", help="comma-separated team sizes")
    parser.add_argument("--n-max", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--repeats",
        type=int,
        default=200,
        help="timed forward-backward passes per row and path, in 5 alternating rounds",
    )
    parser.add_argument("--csv", default="results/bench_team_embedding.csv")
    return parser.parse_args(argv)


def network_calls(n_max: int) -> dict[str, Callable]:
    """Each timed network's call on (obs [B, n_max, d], one-hot actions [B, n_max, A], mask [B, n_max])."""
    coma = CounterfactualCritic(OBS_DIM, N_ACTIONS, n_max, "graph", HIDDEN)
    joint = JointActionCritic(OBS_DIM, N_ACTIONS, n_max, "graph", HIDDEN)
    graph = team_embedding.make_team_embedding("graph", OBS_DIM, n_max)
    mean = team_embedding.make_team_embedding("mean", OBS_DIM, n_max)
    return {
        "graph": lambda obs, actions, mask: graph(obs, mask),
        "mean": lambda obs, actions, mask: mean(obs, mask),
        "coma-graph": coma,
        "joint-graph": lambda obs, actions, mask: joint.own_action_values(obs, actions, actions, mask),
    }


def seconds_per_pass(call: Callable, inputs: tuple[torch.Tensor, ...], repeats: int) -> float:
    """Mean wall time of `call(*inputs).sum().backward()` over `repeats` passes."""
    start = time.perf_counter()
    for _ in range(repeats):
        call(*inputs).sum().backward()
    return (time.perf_counter() - start) / repeats


def filled_and_masked(call: Callable, inputs: tuple[torch.Tensor, ...], repeats: int, rounds: int = 5):
    """(seconds per pass on the filled path, on the masked path): the median of `rounds` alternating rounds of
    `repeats / rounds` passes each, after an untimed round of each path."""
    every_slot_check = team_embedding.fills_every_slot
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for timed in [False] + [True] * rounds:
            for filled in (True, False):
                team_embedding.fills_every_slot = every_slot_check if filled else (lambda _: False)
                seconds = seconds_per_pass(call, inputs, max(1, repeats // rounds))
                if timed:
                    times[filled].append(seconds)
    finally:
        team_embedding.fills_every_slot = every_slot_check
    return statistics.median(times[True]), statistics.median(times[False])


def rows_for(n_agents: int, n_max: int, batch: int, repeats: int) -> list[dict]:
    if not 1 <= n_agents <= n_max:
        raise ValueError(f"team size {n_agents} must be between 1 and --n-max {n_max}")
    torch.manual_seed(0)
    obs = torch.randn(batch, n_max, OBS_DIM)
    actions = F.one_hot(torch.randint(0, N_ACTIONS, (batch, n_max)), N_ACTIONS).float()
    mask = torch.zeros(batch, n_max)
    mask[:, :n_agents] = 1.0
    rows = []
    for name, call in network_calls(n_max).items():
        filled, masked = filled_and_masked(call, (obs, actions, mask), repeats)
        rows.append(
            {
                "network": name,
                "n_agents": n_agents,
                "n_max": n_max,
                "batch": batch,
                "filled_ms": round(1e3 * filled, 3),
                "masked_ms": round(1e3 * masked, 3),
                "speedup": round(masked / filled, 3),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    sizes = [int(n) for n in args.agents.split(",")]
    rows = [row for n in sizes for row in rows_for(n, args.n_max, args.batch, args.repeats)]
    write_rows(rows, Path(args.csv))
    print("| network | N | filled ms | masked ms | masked / filled |\n| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['network']} | {row['n_agents']} | {row['filled_ms']} | {row['masked_ms']} | {row['speedup']} |")


if __name__ == "__main__":
    main()
