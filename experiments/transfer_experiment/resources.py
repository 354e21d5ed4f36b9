"""Can a trial ever be placed? Checked against the cluster before any trial starts, so a request no node can meet
(a GPU on a CPU-only machine, more env runners than cores) fails at once with the numbers instead of pending forever."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import ray
import yaml

Resources = Mapping[str, float]


def node_capacities(bootstrap_config: Path) -> tuple[list[dict[str, float]], bool]:
    """The resources of every alive node, plus one entry per autoscaler node type (from `ray up`'s bootstrap config
    on the head node); and whether the autoscaler can add nodes."""
    nodes = [dict(node["Resources"]) for node in ray.nodes() if node["Alive"]]
    node_types = {}
    if bootstrap_config.is_file():
        node_types = (yaml.safe_load(bootstrap_config.read_text()) or {}).get("available_node_types", {})
    nodes += [dict(node.get("resources", {})) for node in node_types.values()]
    return nodes, bool(node_types)


def _fits(bundle: Resources, node: Resources) -> bool:
    return all(node.get(name, 0.0) >= amount for name, amount in bundle.items() if amount > 0)


def _describe(resources: Resources) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in sorted(resources.items()) if amount > 0) or "nothing"


def why_unplaceable(bundles: Sequence[Resources], nodes: Sequence[Resources], can_grow: bool) -> str | None:
    """Why a trial asking for `bundles` (its placement group: the learner's bundle first, then one per env runner)
    can never run on `nodes`, or None if it can: a bundle that fits on no node, or, when the cluster cannot grow, a
    total above the cluster's."""
    for bundle in bundles:
        if not any(_fits(bundle, node) for node in nodes):
            largest = {name: max(node.get(name, 0.0) for node in nodes) for name in bundle}
            return f"one of its bundles needs {_describe(bundle)}, and the largest node has {_describe(largest)}"
    if not can_grow:
        demand: dict[str, float] = {}
        for bundle in bundles:
            for name, amount in bundle.items():
                demand[name] = demand.get(name, 0.0) + amount
        total = {name: sum(node.get(name, 0.0) for node in nodes) for name in demand}
        if any(demand[name] > total[name] for name in demand):
            return f"it needs {_describe(demand)} in all, and the cluster has {_describe(total)}"
    return None
