"""VMAS tasks as team scenarios: `vmas:<task>`, the VMAS tasks whose per-agent observation keeps its size as the
team grows, so that a policy trained at one team size reads the same observation at another, and `vmas:spread`, the
PettingZoo `spread` rebuilt on VMAS (`envs.vmas_spread`).

Each VMAS task's options are VMAS's own (`make_world`'s keyword arguments, read from the installed task's source,
with their defaults), plus `max_steps` (the horizon; VMAS's own default is none) and `device` (where the worlds are
simulated: "cpu", or "cuda" on a GPU runner). `vmas:spread` takes `spread`'s `neighbors` and `local_ratio`, with
`max_steps` 25 (`spread`'s `max_cycles`) and `device`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any

from envs.scenarios import CONTINUOUS, DISCRETE, Scenario
from envs.task_metrics import NavigationMetrics

VMAS_PREFIX = "vmas:"

# task -> its per-agent observation size with default options, the same at N=3 and N=6 (tests/test_vmas_env.py).
# VMAS's simple_spread and dispersion are left out: their per-agent observation grows with the team.
VMAS_TASKS: dict[str, int] = {
    "navigation": 18,
    "balance": 16,
    "transport": 11,
    "flocking": 18,
    "discovery": 19,
    "sampling": 24,
    "wheel": 13,
    "reverse_transport": 10,
    "dropout": 7,
}
# tasks built in this project on VMAS's simulator -> their per-agent observation size with default options
BUILT_TASKS: dict[str, int] = {"spread": 18}
VMAS_OPTIONS: dict[str, Any] = {"max_steps": 100, "device": "cpu"}
TASK_METRICS = {"navigation": NavigationMetrics}


@cache
def vmas_task_options(task: str) -> dict[str, Any]:
    """The options VMAS's `task` accepts and their defaults: every `kwargs.pop(name, default)` in its `make_world`
    (`n_agents` excluded: the team env sets it)."""
    module_name = f"vmas.scenarios.{task}"
    tree = ast.parse(Path(importlib.util.find_spec(module_name).origin).read_text())
    make_world = next(
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "make_world"
    )
    options: dict[str, Any] = {}
    for call in ast.walk(make_world):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("pop", "get")
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "kwargs"
        ):
            name, default = call.args[0].value, call.args[1]
            if isinstance(default, ast.Name):  # a module constant, e.g. dropout's DEFAULT_ENERGY_COEFF
                options[name] = getattr(importlib.import_module(module_name), default.id)
            else:
                options[name] = ast.literal_eval(default)
    options.pop("n_agents", None)
    return options


def vmas_task_names() -> list[str]:
    """Every task `vmas:<task>` names: VMAS's own, then those built here."""
    return [*VMAS_TASKS, *BUILT_TASKS]


def _check_horizon_and_device(task: str, options: Mapping[str, Any]) -> None:
    steps = options["max_steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"vmas:{task} option max_steps={steps!r} must be an int >= 1 (the episode's horizon)")
    _check_device(task, options["device"])


def _check_vmas_options(task: str, options: Mapping[str, Any]) -> None:
    _check_horizon_and_device(task, options)
    for name, default in vmas_task_options(task).items():
        value = options[name]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"vmas:{task} option {name}={value!r} must be a bool (default {default!r})")
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if isinstance(default, (int, float)) and not isinstance(default, bool) and not number:
            raise ValueError(f"vmas:{task} option {name}={value!r} must be a finite number (default {default!r})")


def _check_device(task: str, device: Any) -> None:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"vmas:{task} option device={device!r} is not a torch device; use 'cpu' or 'cuda'") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"vmas:{task} option device={device!r}, but torch sees no CUDA GPU here; use device='cpu'")


def make_vmas_env(
    scenario: Any,
    n_agents: int,
    continuous_actions: bool,
    *,
    num_envs: int,
    max_steps: int,
    device: str,
    **options: Any,
):
    """`num_envs` worlds of a VMAS scenario (a task's name or a `BaseScenario`) with `n_agents` agents, as one VMAS
    env, episodes truncated at `max_steps`; `options` go to the scenario's `make_world`."""
    import vmas

    return vmas.make_env(
        scenario,
        num_envs=num_envs,
        device=device,
        continuous_actions=continuous_actions,
        max_steps=max_steps,
        terminated_truncated=True,
        n_agents=n_agents,
        **options,
    )


@cache
def vmas_scenario(name: str) -> Scenario:
    """The `Scenario` for `vmas:<task>`; raises `ValueError` naming the tasks offered for an unknown one."""
    task = name.removeprefix(VMAS_PREFIX)
    if not name.startswith(VMAS_PREFIX) or task not in vmas_task_names():
        offered = ", ".join(VMAS_PREFIX + t for t in vmas_task_names())
        raise ValueError(
            f"unknown VMAS scenario {name!r}; offered: {offered} (VMAS tasks whose per-agent observation keeps its "
            "size as the team grows)"
        )
    if task == "spread":
        return _spread_scenario()
    return Scenario(
        name=name,
        build=partial(make_vmas_env, task),
        options={**VMAS_OPTIONS, **vmas_task_options(task)},
        action_types=(DISCRETE, CONTINUOUS),
        grows_with_n="agents (and what the task scales with them)",
        obs_size=str(VMAS_TASKS[task]),
        check_options=lambda options: _check_vmas_options(task, options),
        metrics=TASK_METRICS.get(task),
        vectorised=True,
    )


def _spread_scenario() -> Scenario:
    from envs import vmas_spread  # imports VMAS's simulator (seconds): only when asked for

    def check_options(options: Mapping[str, Any]) -> None:
        _check_horizon_and_device("spread", options)
        vmas_spread.check_vmas_spread_options(options)

    return Scenario(
        name=VMAS_PREFIX + "spread",
        build=vmas_spread.build_vmas_spread,
        options={"max_steps": 25, "device": "cpu", "neighbors": (2, 3), "local_ratio": 0.5},
        action_types=(DISCRETE, CONTINUOUS),
        grows_with_n="agents and landmarks",
        obs_size=f"{BUILT_TASKS['spread']} with `neighbors=(2, 3)`, as `spread`'s",
        check_options=check_options,
        metrics=vmas_spread.VmasSpreadMetrics,
        heuristic=vmas_spread.vmas_spread_heuristic,
        vectorised=True,
        twin="spread",
    )
