"""The divergence guard: a run whose value estimates leave every range a return could reach stops, naming the value.

Any discounted return, bootstrapped or not, satisfies `|G| <= max|r| / (1 - gamma)`. A learner's logged value
estimates (`VALUE_METRICS`: Qs of the actions taken, TD targets, state values, mixed and independent Qs) far
outside that range are garbage: QMIX's once climbed to +366 on spread, where every reward is negative. The guard
allows `factor` times the bound (default 10: soft values carry an entropy bonus, and `max|r|` is only the largest
reward sampled so far) and raises `ValueDivergenceError` with the metric, the env step and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Learner metrics that estimate a (team or agent) return, as logged by the team learners.
VALUE_METRICS = ("q_taken_mean", "target_mean", "value_mean", "q_mix_mean", "q_ind_mean")


class ValueDivergenceError(FloatingPointError):
    """A learner's value estimates left the range any return could reach: the run has diverged."""


def plausible_value_bound(max_abs_reward: float, gamma: float, factor: float) -> float:
    """`factor * max|r| / (1 - gamma)`: no return, discounted by `gamma`, of rewards bounded by `max_abs_reward`
    exceeds `1 / factor` of it in magnitude."""
    return factor * max_abs_reward / (1.0 - gamma)


def implausible_values(learner_results: Mapping[str, Any], bound: float) -> dict[str, float]:
    """The `VALUE_METRICS` among a result's learner metrics (module -> metric -> value) that are non-finite or
    whose magnitude exceeds `bound`, by `module/metric`."""
    found = {}
    for module, metrics in learner_results.items():
        if not isinstance(metrics, Mapping):
            continue
        for name in VALUE_METRICS:
            value = metrics.get(name)
            if isinstance(value, (int, float)) and not (math.isfinite(value) and abs(value) <= bound):
                found[f"{module}/{name}"] = float(value)
    return found


def check_value_estimates(
    learner_results: Mapping[str, Any], max_abs_reward: float, gamma: float, factor: float, env_steps: int
) -> None:
    """Raise `ValueDivergenceError` if any value estimate in `learner_results` lies outside
    `plausible_value_bound(max_abs_reward, gamma, factor)`; `factor` 0 (or no reward seen yet) turns the check off."""
    if not factor or not max_abs_reward > 0:
        return
    bound = plausible_value_bound(max_abs_reward, gamma, factor)
    found = implausible_values(learner_results, bound)
    if found:
        values = ", ".join(f"{name}={value:.4g}" for name, value in found.items())
        raise ValueDivergenceError(
            f"value estimates diverged at env step {env_steps}: {values}, outside +-{bound:.4g} "
            f"({factor:g} x max|r| {max_abs_reward:.4g} / (1 - gamma {gamma:g})); stopped before writing results "
            "(see README, 'Convergence'; value_bound_factor=0 turns this check off)"
        )
