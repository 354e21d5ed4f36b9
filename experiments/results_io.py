"""Small helpers the experiment scripts share: CSV rows and mean ± std cells."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_rows(rows: Sequence[dict], path: str | Path) -> Path:
    """Write `rows` (dicts with the same keys) to the CSV file `path`, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def mean_std(values: Sequence[float]) -> str:
    """`"mean ± std"` of `values`, two decimals."""
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.2f} ± {values.std():.2f}"
