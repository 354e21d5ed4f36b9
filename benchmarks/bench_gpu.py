"""What a GPU changes, measured on one machine in one run: each figure on CUDA beside the same figure on its CPU.

1. **The learner** (`num_gpus_per_learner` 1 against 0): time per gradient step of QMIX (concat, graph), Central-V
   SAC (graph) and MADDPG (graph) at each one's default batch, on a replay of spread N=3 in 6 slots (as the
   convergence runs), the CPU learner at each of `--cpu-threads` torch threads;
2. **VMAS** (`device` "cuda" against "cpu"): world steps/s of the raw `vmas:spread` simulator (N=3) with random
   actions at each of `--worlds` parallel worlds;
3. **A whole training loop**: QMIX concat and Central-V SAC graph, synchronous, on `vmas:spread` N=3 in 6 slots at
   `--loop-worlds` worlds, env steps/s with the worlds and the learner both on the CPU, and both on the GPU.

Writes `--csv` (default `results/bench_gpu.csv`) and prints markdown tables. Without a CUDA device it measures the
CPU rows only and says so.

    python benchmarks/bench_gpu.py [--cpu-threads 2,16] [--worlds 64,1024,8192] [--loop-steps 3000]
"""

from __future__ import annotations

import argparse
import os

import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from benchmarks.bench_env import raw_vmas_steps_per_s  # noqa: E402
from benchmarks.bench_throughput import build, filled_replay, learner_update_ms, loop_steps_per_s  # noqa: E402
from experiments.transfer_experiment.results_io import write_rows  # noqa: E402

N_MAX = 6  # slots of the teams of 3, as the convergence runs train them
# (label, algorithm, .training() options)
LEARNERS = [
    ("qmix-concat", "qmix", {}),
    ("qmix-graph", "qmix", {"team_embedding": "graph"}),
    ("central_v_sac-graph", "central_v_sac", {"team_embedding": "graph"}),
    ("maddpg-graph", "maddpg", {"team_embedding": "graph"}),
]
LOOPS = [("qmix-concat", "qmix", {}), ("central_v_sac-graph", "central_v_sac", {"team_embedding": "graph"})]


def learner_rows(cpu_threads: list[int], gpu: bool) -> list[dict]:
    """Section 1: ms per gradient step of each learner on the CPU (at each thread count) and, with `gpu`, on it."""
    rows = []
    for label, algo_name, training in LEARNERS:
        places = [(f"cpu, {threads} threads", 0.0, threads) for threads in cpu_threads]
        places += [("cuda", 1.0, cpu_threads[0])] if gpu else []
        for place, gpus, threads in places:
            torch.set_num_threads(threads)
            algo = build(algo_name, 3, n_max=N_MAX, gpus=gpus, **training)
            batch_size = algo.config.train_batch_size_per_learner
            ms = learner_update_ms(algo, filled_replay(algo, 20_000), batch_size)
            algo.stop()
            rows.append({"section": "learner", "what": label, "where": place, "size": batch_size, "value": ms})
    return rows


def raw_vmas_rows(worlds_list: list[int], steps: int, gpu: bool) -> list[dict]:
    """Section 2: raw `vmas:spread` world steps/s on the CPU and, with `gpu`, on it."""
    devices = ["cpu", "cuda"] if gpu else ["cpu"]
    return [
        {
            "section": "vmas",
            "what": "raw vmas:spread N=3",
            "where": device,
            "size": worlds,
            "value": raw_vmas_steps_per_s("spread", 3, worlds, max(steps, 4 * worlds), device),
        }
        for worlds in worlds_list
        for device in devices
    ]


def loop_rows(worlds: int, steps: int, threads: int, gpu: bool) -> list[dict]:
    """Section 3: env steps/s of whole synchronous loops on `vmas:spread`, all on the CPU and, with `gpu`, all on
    it."""
    torch.set_num_threads(threads)
    places = [("cpu", 0.0, "cpu")] + ([("cuda", 1.0, "cuda")] if gpu else [])
    rows = []
    for label, algo_name, training in LOOPS:
        for place, gpus, device in places:
            rate, _ = loop_steps_per_s(
                algo_name,
                3,
                0,
                steps,
                scenario="vmas:spread",
                worlds=worlds,
                n_max=N_MAX,
                gpus=gpus,
                env_options={"device": device},
                **training,
            )
            rows.append({"section": "loop", "what": label, "where": place, "size": worlds, "value": rate})
    return rows


def print_section(rows: list[dict], title: str, size: str, unit: str) -> None:
    print(
        f"\n{title}\n\n| what | where | {size} | {unit} | ratio to the first row |\n| --- | --- | ---: | ---: | ---: |"
    )
    first: dict[tuple, float] = {}
    for row in rows:
        key = (row["what"], row["size"])
        first.setdefault(key, row["value"])
        ratio = row["value"] / first[key]
        print(f"| {row['what']} | {row['where']} | {row['size']} | {row['value']:,.2f} | {ratio:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cpu-threads", default="2", help="torch threads of the CPU learner rows (2: this project's machines)"
    )
    parser.add_argument("--worlds", default="64,1024,8192", help="parallel worlds of the raw VMAS rows")
    parser.add_argument("--vmas-steps", type=int, default=100_000, help="world steps per raw VMAS timing")
    parser.add_argument("--loop-worlds", type=int, default=64, help="worlds of the whole-loop rows ('0' skips them)")
    parser.add_argument("--loop-steps", type=int, default=3000, help="env steps timed per whole loop")
    parser.add_argument("--sections", default="learner,vmas,loop", help="which sections to run")
    parser.add_argument("--csv", default="results/bench_gpu.csv", help="where to write the rows")
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    print(f"CUDA: {torch.cuda.get_device_name(0) if gpu else 'none (CPU rows only)'}; torch {torch.__version__}")
    sections = args.sections.split(",")
    threads = [int(t) for t in args.cpu_threads.split(",")]
    ray.init(num_cpus=2, num_gpus=1 if gpu else 0, include_dashboard=False, log_to_driver=False)
    rows: list[dict] = []
    if "learner" in sections:
        learners = learner_rows(threads, gpu)
        print_section(learners, "Learner time per gradient step (spread N=3 in 6 slots)", "batch", "ms")
        rows += learners
    if "vmas" in sections:
        worlds = raw_vmas_rows([int(w) for w in args.worlds.split(",")], args.vmas_steps, gpu)
        print_section(worlds, "Raw vmas:spread, random actions", "worlds", "world steps/s")
        rows += worlds
    if "loop" in sections and args.loop_worlds:
        loops = loop_rows(args.loop_worlds, args.loop_steps, threads[0], gpu)
        print_section(loops, "Synchronous training loops on vmas:spread N=3 in 6 slots", "worlds", "env steps/s")
        rows += loops
    ray.shutdown()
    print(f"\nrows written to {write_rows(rows, args.csv)}")


if __name__ == "__main__":
    main()
