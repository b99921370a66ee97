"""Shared helpers of the generator: the observation window, ids, categoricals, category draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from crmlib.synth._constants import DAY_S

__all__ = ["Window", "categorical", "format_ids", "pick", "str_series"]


@dataclass(frozen=True)
class Window:
    """The observation window; times inside it are counted in seconds since ``start_ts``."""

    start: str
    end: str
    start_ts: np.datetime64  # midnight of the first day
    end_excl: np.datetime64  # the day after the last day
    n_days: int
    t_last: int  # last valid second

    @classmethod
    def from_dates(cls, start: str, end: str) -> Window:
        """The window from ``start`` to ``end`` inclusive (``YYYY-MM-DD``), at least 400 days."""
        start_ts = np.datetime64(start, "s")
        end_excl = np.datetime64(end, "D") + np.timedelta64(1, "D")
        n_days = int((end_excl - np.datetime64(start, "D")).astype(int))
        if n_days < 400:
            raise ValueError(f"start={start}, end={end}: expected a window of at least 400 days")
        return cls(start, end, start_ts, end_excl, n_days, n_days * DAY_S - 1)


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Format non-negative integers as zero-padded string ids (``C0000001``), vectorized."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size and numbers.max() >= 10**width:
        width = len(str(int(numbers.max())))
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = head.size + width
    text = np.empty((numbers.size, row), dtype=np.uint8)
    text[:, : head.size] = head
    rest = numbers.copy()
    for col in range(row - 1, head.size - 1, -1):
        text[:, col] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(
        0, numbers.size * row + 1, row, dtype=np.int32 if numbers.size * row < 2**31 else np.int64
    )
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(
        kind, numbers.size, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def str_series(values: pa.Array) -> pd.Series:
    """An Arrow string array as a pandas ``str`` Series."""
    return pa.table({"v": values}).to_pandas()["v"]


def categorical(codes: np.ndarray, labels: Sequence[str]) -> pd.Categorical:
    """Integer codes as a pandas Categorical with the given labels, in that order."""
    return pd.Categorical.from_codes(codes.astype(np.int16), categories=list(labels))


def pick(rng: np.random.Generator, probs: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Draw category codes with the given probabilities (vectorized inverse CDF)."""
    cdf = np.cumsum(np.asarray(probs, dtype=float))
    return np.searchsorted(cdf / cdf[-1], rng.random(size), side="right").astype(np.int16)
