"""Bootstrap intervals, the interquartile mean and the transfer ratio's interval on hand-made samples."""

import numpy as np
import pytest

from experiments.transfer_experiment.stats import (
    Estimate,
    difference_estimate,
    iqm_estimate,
    mean_estimate,
    ratio_estimate,
    resampled_units,
)


def seeds(*means, episodes=4):
    """One array per seed whose episodes average to each of `means`."""
    return [np.full(episodes, float(m)) + np.array([-1.0, 1.0] * (episodes // 2)) for m in means]


def test_two_seeds_resample_the_seed_means():
    # resampled means of {-70, -50} are -70, -60 or -50: the percentile interval is their extremes
    estimate = mean_estimate(seeds(-70, -50))
    assert (estimate.point, estimate.low, estimate.high) == (pytest.approx(-60.0), -70.0, -50.0)
    np.testing.assert_array_equal(resampled_units(seeds(-70, -50)), [-70.0, -50.0])


def test_one_seed_resamples_its_episodes():
    episodes = np.array([1.0, 2.0, 3.0, 10.0])
    estimate = mean_estimate([episodes])
    assert estimate.point == pytest.approx(4.0)
    assert 1.0 <= estimate.low < 4.0 < estimate.high <= 10.0
    assert mean_estimate([np.array([5.0, 5.0])]) == Estimate(5.0, 5.0, 5.0), "nothing to resample: no width"


def test_interquartile_mean_needs_five_seeds_and_drops_the_outer_quarters():
    assert iqm_estimate(seeds(1, 2, 3, 4)) is None
    estimate = iqm_estimate(seeds(1, 2, 3, 4, 5, 100))
    assert estimate.point == pytest.approx(3.5), "mean of 2, 3, 4, 5: the outlier 100 and the 1 are trimmed"
    assert estimate.low <= estimate.point <= estimate.high


def test_transfer_ratio_and_difference_intervals():
    ratio = ratio_estimate(seeds(-70, -50), seeds(-40, -40), seeds(-100, -100))
    # (-60 + 100) / (-40 + 100); zero-shot's resampled means -70, -60, -50 give 0.5 .. 0.83
    assert (ratio.point, ratio.low, ratio.high) == (pytest.approx(2 / 3), pytest.approx(0.5), pytest.approx(5 / 6))
    better = difference_estimate(seeds(-40, -30), seeds(-70, -50))
    assert better.point == pytest.approx(25.0) and better.low == pytest.approx(10.0) and better.high == 40.0


def test_a_reference_known_by_one_value_is_held_fixed_while_the_seeds_are_resampled():
    seeds = [np.array([value]) for value in (-80.0, -60.0, -40.0)]  # scores 0.25, 0.5, 0.75 against -100 / -20
    estimate = ratio_estimate(seeds, [np.array([-20.0])], [np.array([-100.0])])
    assert estimate.point == pytest.approx(0.5) and 0.25 <= estimate.low < 0.5 < estimate.high <= 0.75
