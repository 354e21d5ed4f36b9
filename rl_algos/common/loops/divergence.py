"""The divergence guard: a run whose value estimates leave every range a return could reach stops, naming the value.

With team rewards in `[r_min, r_max]` so far, every discounted return, bootstrapped or not, lies in
`[min(r_min, 0) / (1 - gamma), max(r_max, 0) / (1 - gamma)]` (0 included: an episode may end). A learner's logged
value estimates (`VALUE_METRICS`: Qs of the actions taken, TD targets, state values, mixed and independent Qs)
beyond that range by more than `margin` times its width are garbage: QMIX's reached +977 on spread, where every
reward is negative, while its greedy return fell to -75. The margin leaves room for soft values' entropy bonus and
for estimates still settling; `ValueDivergenceError` names the metric, the env step and the value.

A bound on `|Q|` alone (`10 max|r| / (1 - gamma)`) would not have caught that run: spread's largest team reward is
about -15, so it allows |Q| up to ~15,000 on either side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Learner metrics that estimate a (team or agent) return, as logged by the team learners.
VALUE_METRICS = ("q_taken_mean", "target_mean", "value_mean", "q_mix_mean", "q_ind_mean")


class ValueDivergenceError(FloatingPointError):
    """A learner's value estimates left the range any return could reach: the run has diverged."""


def plausible_value_range(reward_min: float, reward_max: float, gamma: float, margin: float) -> tuple[float, float]:
    """The returns' range `[min(r_min, 0), max(r_max, 0)] / (1 - gamma)`, widened on each side by `margin` times
    its width."""
    low, high = min(reward_min, 0.0) / (1.0 - gamma), max(reward_max, 0.0) / (1.0 - gamma)
    slack = margin * (high - low)
    return low - slack, high + slack


def implausible_values(learner_results: Mapping[str, Any], low: float, high: float) -> dict[str, float]:
    """The `VALUE_METRICS` among a result's learner metrics (module -> metric -> value) that are non-finite or
    outside `[low, high]`, by `module/metric`."""
    found = {}
    for module, metrics in learner_results.items():
        if not isinstance(metrics, Mapping):
            continue
        for name in VALUE_METRICS:
            value = metrics.get(name)
            if isinstance(value, (int, float)) and not (math.isfinite(value) and low <= value <= high):
                found[f"{module}/{name}"] = float(value)
    return found


def check_value_estimates(
    learner_results: Mapping[str, Any],
    reward_min: float,
    reward_max: float,
    gamma: float,
    margin: float,
    env_steps: int,
) -> None:
    """Raise `ValueDivergenceError` if any value estimate in `learner_results` lies outside
    `plausible_value_range(reward_min, reward_max, gamma, margin)`. `margin` 0 turns the check off, as does a reward
    range that is empty (nothing sampled yet: `reward_min > reward_max`) or a single point at 0."""
    if not margin or reward_min > reward_max or reward_min == reward_max == 0:
        return
    low, high = plausible_value_range(reward_min, reward_max, gamma, margin)
    found = implausible_values(learner_results, low, high)
    if found:
        values = ", ".join(f"{name}={value:.4g}" for name, value in found.items())
        raise ValueDivergenceError(
            f"value estimates diverged at env step {env_steps}: {values}, outside [{low:.4g}, {high:.4g}] (team "
            f"rewards so far in [{reward_min:.4g}, {reward_max:.4g}], gamma {gamma:g}, margin {margin:g} x the "
            "returns' range); stopped before writing results (docs/convergence.md; value_bound_margin=0 turns "
            "this check off)"
        )
