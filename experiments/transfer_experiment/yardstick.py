"""The normalised score `(x - random) / (reference - random)` (the reference: the scripted heuristic, or where a
scenario has none, the run's own from-scratch policy), measured per seed.

Seed s's evaluations play seed s's seeded episodes, and the scripted teams play the same ones, so a learner's seed-s
return is normalised by the reference's and the random team's returns on seed s: paired by initial states, and
unchanged when another seed's experiment is merged into the report (a yardstick pooled over the seeds present moved
seed-0-only scores by up to 0.02 when a seed-1 chunk was added). A seed the reference or the random team was not
evaluated on takes their means over the seeds that were. The yardstick is held fixed, as rliable's normalisation
constants are: intervals resample the learner's seeds (or its one seed's episodes), not the scripted teams'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from experiments.transfer_experiment.cells import Cell


class Yardstick:
    """Per cell and seed, the mean return of `transfer.csv`'s rows, and from them each seed's (offset, scale) of the
    normalised score."""

    def __init__(self, ledger_rows: Iterable[dict]):
        self.means: dict[Cell, dict[str, float]] = defaultdict(dict)
        for row in ledger_rows:
            if str(row.get("return_mean", "")) != "":
                self.means[Cell.of(row)][str(row["seed"])] = float(row["return_mean"])

    def has(self, cell: Cell) -> bool:
        """Whether `cell` (e.g. `Cell.scripted("heuristic", 6)`) was evaluated on some seed."""
        return bool(self.means.get(cell))

    def _mean(self, cell: Cell, seed: str | None) -> float | None:
        per_seed = self.means.get(cell)
        if not per_seed:
            return None
        return per_seed[seed] if seed in per_seed else float(np.mean(list(per_seed.values())))

    def scaling(self, n: int, seed: object = None, reference: Cell | None = None) -> tuple[float, float] | None:
        """(offset, scale) of seed `seed`'s score `(x - offset) / scale` at `n` agents (without a seed, the means
        over seeds): the random team's return and `reference`'s (default the heuristic's) minus it; None unless
        both were evaluated at `n` and differ."""
        seed = None if seed is None else str(seed)
        random = self._mean(Cell.scripted("random", n), seed)
        top = self._mean(reference or Cell.scripted("heuristic", n), seed)
        if random is None or top is None or top == random:
            return None
        return random, top - random

    def score(self, value: float, n: int, seed: object) -> float:
        """`value` (a return of seed `seed` at `n` agents) heuristic-normalised, or as it is where the scripted teams
        were not both evaluated at `n`."""
        offset, scale = self.scaling(n, seed) or (0.0, 1.0)
        return (value - offset) / scale

    def scores(self, cell: Cell) -> dict[str, float]:
        """Each seed's normalised score of `cell`'s mean return (`score`); empty where `cell` was not evaluated or
        the scripted teams were not both evaluated at its size."""
        if self.scaling(cell.n) is None:
            return {}
        return {seed: self.score(value, cell.n, seed) for seed, value in self.means.get(cell, {}).items()}

    def normalise(
        self, seeded: dict[str, np.ndarray] | None, n: int, reference: Cell | None = None
    ) -> list[np.ndarray] | None:
        """Per seed of `seeded` (seed -> per-episode returns at `n` agents), the episodes' normalised scores with that
        seed's yardstick; None without samples or a yardstick at `n`."""
        if not seeded:
            return None
        scores = []
        for seed, values in seeded.items():
            scaling = self.scaling(n, seed, reference)
            if scaling is None:
                return None
            offset, scale = scaling
            scores.append((np.asarray(values, dtype=np.float64) - offset) / scale)
        return scores
