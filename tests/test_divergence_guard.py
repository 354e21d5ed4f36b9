"""The divergence guard: value estimates outside `factor * max|r| / (1 - gamma)` stop a run with a one-line error."""

import pytest

from rl_algos.common.divergence import (
    ValueDivergenceError,
    check_value_estimates,
    implausible_values,
    plausible_value_bound,
)
from rl_algos.common.training import budget_config

SPREAD = {"scenario": "spread", "n_agents": 2, "n_max": 3}


def test_the_bound_is_factor_times_the_largest_reward_over_one_minus_gamma():
    # 10 * 4 / (1 - 0.99) = 4000; 2 * 1 / (1 - 0.5) = 4
    assert plausible_value_bound(4.0, 0.99, 10.0) == pytest.approx(4000.0)
    assert plausible_value_bound(1.0, 0.5, 2.0) == pytest.approx(4.0)


def test_only_value_metrics_beyond_the_bound_or_non_finite_are_reported():
    results = {
        "default_policy": {
            "q_taken_mean": 366.0,  # QMIX's diverged Q on spread
            "target_mean": -350.0,  # inside +-360
            "value_mean": float("nan"),
            "total_loss": 1e9,  # not a value estimate
        },
        "__all_modules__": {"q_taken_mean": 1e9},
        "scalar": 3.0,
    }
    found = implausible_values(results, bound=360.0)
    assert found.keys() == {"default_policy/q_taken_mean", "default_policy/value_mean", "__all_modules__/q_taken_mean"}


def test_the_error_names_the_metric_the_env_step_the_value_and_the_bound():
    results = {"default_policy": {"q_taken_mean": 366.0, "target_mean": -20.0}}
    # bound: 10 * 3.6 / (1 - 0.9) = 360
    with pytest.raises(ValueDivergenceError) as error:
        check_value_estimates(results, max_abs_reward=3.6, gamma=0.9, factor=10.0, env_steps=76_800)
    message = str(error.value)
    assert "env step 76800" in message and "default_policy/q_taken_mean=366" in message and "+-360" in message
    assert "\n" not in message
    check_value_estimates(results, max_abs_reward=3.7, gamma=0.9, factor=10.0, env_steps=1)  # bound 370: fine
    check_value_estimates(results, max_abs_reward=3.6, gamma=0.9, factor=0.0, env_steps=1)  # off
    check_value_estimates(results, max_abs_reward=0.0, gamma=0.9, factor=10.0, env_steps=1)  # no reward seen yet


def test_a_negative_or_non_numeric_factor_is_rejected_before_building():
    for bad in (-1.0, "10", True):
        config = budget_config("qmix", SPREAD, 1000, seed=0, value_bound_factor=bad)
        with pytest.raises(ValueError, match="value_bound_factor must be a number >= 0"):
            config.validate()


@pytest.mark.parametrize("algo", ["qmix", "central_v"])
def test_a_run_whose_values_leave_the_bound_stops_at_that_iteration(ray_session, algo):
    """With a bound far below any real value (factor 1e-6), the first iteration that logs a value estimate raises;
    the default factor lets the same run train."""
    config = budget_config(algo, SPREAD, 2000, seed=0, value_bound_factor=1e-6)
    if algo == "qmix":
        config.training(learning_starts=100)
    algo_run = config.build_algo()
    try:
        with pytest.raises(ValueDivergenceError, match=r"value estimates diverged at env step \d+: default_policy/"):
            for _ in range(5):
                algo_run.train()
        assert algo_run.max_abs_reward > 0
    finally:
        algo_run.stop()
    healthy = budget_config(algo, SPREAD, 2000, seed=0).build_algo()
    try:
        healthy.train()
    finally:
        healthy.stop()
