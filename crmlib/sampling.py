"""One way to spend statistical effort where it buys accuracy: a stated random sample of rows.

Refits for a sensitivity table, parametric bootstraps, permutation importance and partial
dependence do not become more accurate in proportion to the rows they are given: past a few
tens of thousands of customers their sampling error is far below the differences a page
reports, while their cost keeps growing with the rows. Such steps draw their rows with
:func:`sample_rows` (above a configured size; all rows below it, so small data are untouched),
and the page says what was used with :meth:`RowSample.words` and, where an uncertainty is
quoted, how much the sample widens it (:attr:`RowSample.widening`: standard errors of a mean or
of a fitted parameter grow as the square root of the ratio of rows).

The models fitted on the driver itself (the BTYD and Gamma-Gamma fits of 05_clv, the churn
classifiers of 06_churn, the k-means of 04_segments) receive their rows through
:func:`fit_sample`: every row up to ``engine.driver_max_rows``, a random sample of that many
above it. The fitted model then scores every customer; :func:`fitted_on` is the sentence the
page states the sample with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = ["DRIVER_SETTING", "RowSample", "sample_rows", "fit_sample", "fitted_on"]

#: The params key that bounds the rows a model fitted on the driver receives (:func:`fit_sample`).
DRIVER_SETTING = "engine.driver_max_rows"

#: A table or an array with one row per customer (what :meth:`RowSample.take` takes rows of).
Rows = TypeVar("Rows", pd.DataFrame, np.ndarray)


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

    def take(self, frame: Rows) -> Rows:
        """The sampled rows of *frame* (a table or an array of ``n_total`` rows), in their
        order, a table's attrs kept (its index reset); *frame* itself when nothing is left out."""
        if len(frame) != self.n_total:
            raise ValueError(
                f"RowSample.take: the sample is of {self.n_total:,} rows, the table has "
                f"{len(frame):,}"
            )
        if not self.sampled:
            return frame
        if isinstance(frame, np.ndarray):
            return frame[self.positions]
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


def fit_sample(frame: Rows, max_rows: int | None, *, seed: int) -> tuple[Rows, RowSample]:
    """The rows a model fitted on the driver receives: all of *frame*, or a random sample.

    Transforms *frame* (one row per customer, a table or an array) into the rows to fit on and
    the :class:`RowSample` that says which: *frame* itself, unchanged, when ``max_rows`` is
    None (``engine.driver_max_rows`` unset) or *frame* has at most ``max_rows`` rows; else
    ``max_rows`` distinct rows drawn without replacement by :func:`sample_rows` (seeded with
    ``seed``, in *frame*'s order, a table's attrs kept, its index reset). The model is then
    fitted on the rows and scores every row of *frame*; :func:`fitted_on` words the sample
    for the page.

    Parameters
    ----------
    frame : pd.DataFrame or np.ndarray
        One row per customer.
    max_rows : int or None
        Most rows to fit on (the run's ``engine.driver_max_rows``); None: every row.
    seed : int
        The run's ``seed``.

    Returns
    -------
    (pd.DataFrame or np.ndarray, RowSample)
        The rows to fit on (the same type as *frame*) and their positions in *frame*.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(5_000)]})
    >>> rows, sample = fit_sample(customers, 1_000, seed=7)
    >>> len(rows), rows["customer_id"].is_unique, sample.words("customers")
    (1000, True, 'a random sample of 1,000 of the 5,000 customers')
    >>> fit_sample(customers, None, seed=7)[0] is customers
    True
    """
    n_total = len(frame)
    sample = sample_rows(n_total, max(n_total, 1) if max_rows is None else max_rows, seed=seed)
    return sample.take(frame), sample


def fitted_on(sample: RowSample, *, noun: str = "customers", subject: str = "The model was") -> str:
    """The page's sentence on a :func:`fit_sample` that left rows out; "" when it kept all.

    Examples
    --------
    >>> fitted_on(sample_rows(1_000_000, 200_000, seed=1))
    'The model was fitted on a random sample of 200,000 of the 1,000,000 customers (engine.driver_max_rows).'
    >>> fitted_on(sample_rows(4_992, 200_000, seed=1))
    ''
    """
    if not sample.sampled:
        return ""
    return f"{subject} fitted on {sample.words(noun)} ({DRIVER_SETTING})."
