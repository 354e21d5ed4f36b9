"""Small helpers the transfer experiment, the other experiment scripts and the benchmarks share: CSV rows and mean ±
std cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def csv_bytes(columns: Sequence[str], rows: Iterable[dict]) -> bytes:
    """`rows` as CSV text under a header of `columns`, a row's missing columns left empty."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), restval="")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def write_rows(rows: Sequence[dict], path: str | Path) -> Path:
    """Write `rows` to the CSV file `path`, creating its folder: one column per key of any row, in the order they first
    appear (a row without a key, such as a run without `q_bias_mean`, leaves its cell empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(dict.fromkeys(key for row in rows for key in row), rows))
    return path


def mean_std(values: Sequence[float]) -> str:
    """`"mean ± std"` of `values`, two decimals."""
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.2f} ± {values.std():.2f}"
