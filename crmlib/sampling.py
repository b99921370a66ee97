"""One way to spend statistical effort where it buys accuracy: a stated random sample of rows.

Refits for a sensitivity table, parametric bootstraps, permutation importance and partial
dependence do not become more accurate in proportion to the rows they are given: past a few
tens of thousands of customers their sampling error is far below the differences a page
reports, while their cost keeps growing with the rows. Such steps draw their rows with
:func:`sample_rows` (above a configured size; all rows below it, so small data are untouched),
and the page says what was used with :meth:`RowSample.words` and, where an uncertainty is
quoted, how much the sample widens it (:attr:`RowSample.widening`: standard errors of a mean or
of a fitted parameter grow as the square root of the ratio of rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["RowSample", "sample_rows"]


@dataclass(frozen=True)
class RowSample:
    """The row positions a step uses (sorted, so the rows keep their order) out of ``n_total``.

    Examples
    --------
    >>> sample = sample_rows(1_000_000, 100_000, seed=1)
    >>> sample.n, sample.sampled, round(sample.widening, 2)
    (100000, True, 3.16)
    >>> sample.words("customers")
    'a random sample of 100,000 of the 1,000,000 customers'
    >>> sample_rows(4_992, 100_000, seed=1).words("customers")
    'all 4,992 customers'
    """

    positions: np.ndarray
    n_total: int

    @property
    def n(self) -> int:
        """Rows used."""
        return int(self.positions.size)

    @property
    def sampled(self) -> bool:
        """True when some rows are left out."""
        return self.n < self.n_total

    @property
    def widening(self) -> float:
        """How much wider a standard error is on the sample than on all rows: sqrt(total / n)."""
        return math.sqrt(self.n_total / self.n) if self.n else math.inf

    def take(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The sampled rows of *frame* (which has ``n_total`` rows), in their order, its
        attrs kept; *frame* itself when nothing is left out."""
        if len(frame) != self.n_total:
            raise ValueError(
                f"RowSample.take: the sample is of {self.n_total:,} rows, the table has "
                f"{len(frame):,}"
            )
        if not self.sampled:
            return frame
        taken = frame.iloc[self.positions].reset_index(drop=True)
        taken.attrs = dict(frame.attrs)
        return taken

    def words(self, noun: str) -> str:
        """What was used, for a page: "all 4,992 customers" or "a random sample of ..."."""
        if not self.sampled:
            return f"all {self.n_total:,} {noun}"
        return f"a random sample of {self.n:,} of the {self.n_total:,} {noun}"


def sample_rows(n_total: int, max_rows: int, *, seed: int) -> RowSample:
    """All ``n_total`` row positions, or ``max_rows`` of them drawn without replacement.

    The draw is seeded (``numpy.random.default_rng(seed)``), so a run is reproducible, and the
    positions are sorted. ``max_rows`` must be at least 1.
    """
    if int(max_rows) < 1:
        raise ValueError(f"sample_rows: max_rows={max_rows!r}; expected a whole number >= 1")
    n_total = int(n_total)
    if n_total <= int(max_rows):
        return RowSample(np.arange(n_total), n_total)
    chosen = np.random.default_rng(seed).choice(n_total, size=int(max_rows), replace=False)
    return RowSample(np.sort(chosen), n_total)
