"""Statistics of transfer results: 95% bootstrap confidence intervals over seeds (over episodes when there is one
seed), the interquartile mean across seeds when there are 5 or more, and the transfer ratio's interval.

`scipy.stats.bootstrap` does the resampling (percentile intervals; `rliable` does not import with the pinned stack:
its `arch` dependency fails against the installed pandas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2_000
IQM_MIN_SEEDS = 5


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval (`low == high` when nothing can be resampled)."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.point:.2f} [{self.low:.2f}, {self.high:.2f}]"


def _bootstrap(samples: tuple[np.ndarray, ...], statistic, point: float) -> Estimate:
    if all(len(s) < 2 or np.ptp(s) == 0 for s in samples):
        return Estimate(point, point, point)
    # scipy resamples only samples of two or more; one value (one seed's mean without its episodes) is held fixed,
    # as two copies of itself, which leaves every mean-based statistic unchanged
    samples = tuple(np.repeat(s, 2) if len(s) == 1 else s for s in samples)
    result = stats.bootstrap(
        samples,
        statistic,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(0),
    )
    return Estimate(point, float(result.confidence_interval.low), float(result.confidence_interval.high))


def resampled_units(per_seed: Sequence[np.ndarray]) -> np.ndarray:
    """What is resampled: the seeds' means when there are 2 or more seeds, else the one seed's episodes."""
    if len(per_seed) >= 2:
        return np.array([np.mean(values) for values in per_seed])
    return np.asarray(per_seed[0], dtype=np.float64)


def mean_estimate(per_seed: Sequence[np.ndarray]) -> Estimate:
    """The mean over seeds of the per-seed mean values (`per_seed`: one array of per-episode values per seed), with
    a bootstrap interval over seeds, or over episodes for one seed."""
    units = resampled_units(per_seed)
    return _bootstrap((units,), lambda x, axis: np.mean(x, axis=axis), float(units.mean()))


def iqm_estimate(per_seed: Sequence[np.ndarray]) -> Estimate | None:
    """The interquartile mean across seeds (the mean of the middle 50% of the seeds' means) with its bootstrap
    interval, or None below `IQM_MIN_SEEDS` seeds."""
    if len(per_seed) < IQM_MIN_SEEDS:
        return None
    means = resampled_units(per_seed)

    def iqm(x: np.ndarray, axis: int) -> np.ndarray:
        return stats.trim_mean(x, 0.25, axis=axis)

    return _bootstrap((means,), iqm, float(stats.trim_mean(means, 0.25)))


# ratio = (zero_shot - random) / (scratch - random)
def ratio_estimate(
    zero_shot: Sequence[np.ndarray], scratch: Sequence[np.ndarray], random: Sequence[np.ndarray]
) -> Estimate:
    """The transfer ratio of the three phases' means, with a bootstrap interval resampling each phase on its own."""
    units = tuple(resampled_units(phase) for phase in (zero_shot, scratch, random))

    def ratio(z: np.ndarray, s: np.ndarray, r: np.ndarray, axis: int) -> np.ndarray:
        random_mean = np.mean(r, axis=axis)
        return (np.mean(z, axis=axis) - random_mean) / (np.mean(s, axis=axis) - random_mean)

    return _bootstrap(units, ratio, float(ratio(*units, axis=-1)))


def difference_estimate(first: Sequence[np.ndarray], second: Sequence[np.ndarray]) -> Estimate:
    """`mean(first) - mean(second)` with a bootstrap interval resampling each on its own."""
    units = (resampled_units(first), resampled_units(second))

    def difference(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        return np.mean(a, axis=axis) - np.mean(b, axis=axis)

    return _bootstrap(units, difference, float(difference(*units, axis=-1)))
