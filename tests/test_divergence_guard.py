"""The divergence guard: value estimates outside the returns' range (widened by a margin) stop a run with one line."""

import pytest

from rl_algos.common.loops.divergence import (
    ValueDivergenceError,
    check_value_estimates,
    implausible_values,
    plausible_value_range,
)
from rl_algos.common.training import budget_config

SPREAD = {"scenario": "spread", "n_agents": 2, "n_max": 3}


def test_the_range_is_that_of_the_returns_widened_by_the_margin():
    # rewards in [-3, -1], gamma 0.9: returns in [-30, 0] (0: an episode may end); margin 0.5 adds 15 on each side
    assert plausible_value_range(-3.0, -1.0, 0.9, 0.5) == pytest.approx((-45.0, 15.0))
    # rewards in [1, 2], gamma 0.5: returns in [0, 4]; margin 0.25 adds 1
    assert plausible_value_range(1.0, 2.0, 0.5, 0.25) == pytest.approx((-1.0, 5.0))


def test_only_value_metrics_outside_the_range_or_non_finite_are_reported():
    results = {
        "default_policy": {
            "q_taken_mean": 366.0,  # QMIX's diverged Q on spread
            "target_mean": -350.0,  # inside [-400, 100]
            "value_mean": float("nan"),
            "total_loss": 1e9,  # not a value estimate
        },
        "__all_modules__": {"q_taken_mean": -1e9},
        "scalar": 3.0,
    }
    found = implausible_values(results, low=-400.0, high=100.0)
    assert found.keys() == {"default_policy/q_taken_mean", "default_policy/value_mean", "__all_modules__/q_taken_mean"}


def test_the_error_names_the_metric_the_env_step_the_value_and_the_range():
    results = {"default_policy": {"q_taken_mean": 366.0, "target_mean": -20.0}}
    # spread-like rewards in [-15, -0.5], gamma 0.99: returns in [-1500, 0], margin 0.2 adds 300 on each side
    with pytest.raises(ValueDivergenceError) as error:
        check_value_estimates(results, -15.0, -0.5, gamma=0.99, margin=0.2, env_steps=76_800)
    message = str(error.value)
    assert "env step 76800" in message and "default_policy/q_taken_mean=366" in message and "[-1800, 300]" in message
    assert "\n" not in message
    check_value_estimates(results, -15.0, -0.5, gamma=0.99, margin=0.3, env_steps=1)  # up to +450: fine
    check_value_estimates(results, -15.0, -0.5, gamma=0.99, margin=0.0, env_steps=1)  # off
    check_value_estimates(results, float("inf"), float("-inf"), gamma=0.99, margin=0.2, env_steps=1)  # no reward yet


def test_a_negative_or_non_numeric_margin_is_rejected_before_building():
    for bad in (-1.0, "10", True):
        config = budget_config("qmix", SPREAD, 1000, seed=0, value_bound_margin=bad)
        with pytest.raises(ValueError, match="value_bound_margin must be a number >= 0"):
            config.validate()


def test_a_run_whose_values_leave_the_range_stops_at_that_iteration(ray_session):
    """QMIX on spread (every reward about -3) told its rewards lie in [0.001, 0.001]: its TD targets fall below the
    range [0, 0.1] at the first update, and that iteration raises."""
    config = budget_config("qmix", SPREAD, 2000, seed=0, value_bound_margin=1e-6).training(learning_starts=100)
    run = config.build_algo()
    run.observe_rewards = lambda rewards: None
    run.reward_min = run.reward_max = 1e-3
    try:
        with pytest.raises(ValueDivergenceError, match=r"value estimates diverged at env step \d+: default_policy/"):
            for _ in range(5):
                run.train()
    finally:
        run.stop()


@pytest.mark.parametrize("algo", ["qmix", "central_v"])
def test_both_loops_track_the_sampled_reward_range_and_a_healthy_run_trains(ray_session, algo):
    run = budget_config(algo, SPREAD, 2000, seed=0).build_algo()
    try:
        run.train()
        assert run.reward_min < run.reward_max < 0, "spread's team rewards are negative"
    finally:
        run.stop()
