"""Cohort matrices computed in SQL: customer retention and revenue by cohort."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import pandas as pd

from crmlib.cohorts.queries.data_start import _check_rule, _mark, data_start
from crmlib.cohorts.queries.grid import _KEYS, _check_inputs, _cohort_counts
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.periods import as_date, check_period, safe_ratio
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "RETENTION_DEFINITIONS",
    "RETENTION_COLUMNS",
    "REVENUE_COLUMNS",
    "cohort_retention",
    "cohort_revenue",
]


#: "on": active in exactly period k; "on_or_after": active in period k or any later observed one.
RETENTION_DEFINITIONS: tuple[str, ...] = ("on", "on_or_after")

#: Columns of :func:`cohort_retention`.
RETENTION_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "present_at_start", "dimension", "dimension_value",
    "periods_since", "definition", "cohort_size", "customers", "retention", "observed", "masked",
)  # fmt: skip
#: Columns of :func:`cohort_revenue`.
REVENUE_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "present_at_start", "dimension", "dimension_value",
    "periods_since", "cohort_size", "net_revenue", "revenue_per_customer", "revenue_retention",
    "cumulative_revenue_per_customer", "observed", "masked",
)  # fmt: skip


# -- public functions ------------------------------------------------------------------------
def cohort_retention(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    dimensions: Sequence[str] = ("acquisition_channel",),
    cohort_basis: Literal["first_order", "signup"] = DEFAULTS.cohorts.cohort_basis,
    min_cell_size: int = MIN_CELL_SIZE,
    first_cohort: str = DEFAULTS.cohorts.first_cohort,
    transactions: str = "transactions",
    customers: str = "customers",
) -> pd.DataFrame:
    """Customer retention by acquisition cohort, overall and split by dimensions.

    Transforms *transactions* (one row per netted order or unmatched refund, a view on
    ``engine``) and optionally *customers* (one row per customer) into a tidy table: one row
    per cohort x dimension value x periods since acquisition (k) x definition.

    Definitions:

    - **cohort**: the period (ISO week from Monday, month or quarter) of the customer's first
      purchase (``cohort_basis="first_order"``) or of ``customers.signup_ts``
      (``"signup"``; customers without a signup date are in no cohort, and period 0 is then
      the share who bought in their signup period, not 1).
    - **active** in a period: >= 1 purchase (``is_purchase``) dated in it. Cancelled orders
      and returns never make a customer active.
    - ``definition="on"``: share of the cohort active in exactly period k.
      ``"on_or_after"``: share active in period k or any later observed period (the
      "unbounded" curve; never increases with k).
    - **observed**: only complete periods are included: period k appears only when it ends
      on or before ``as_of_date``, so the partial period containing ``as_of_date`` is left
      out (its rows, and cohorts that start in it). ``observed`` is False only for the
      periods before the data begin of a signup cohort that signed up before them (their
      purchases are not in the data); such cells count nothing and are blank in matrices.
    - **present_at_start**: the cohort holds the customers present at the start of the data
      (left-censored), as decided by :func:`crmlib.cohorts.data_start` (the rule is there):
      with first-order cohorts the first cohort unless signup dates or ``first_cohort`` say
      it is new customers; with signup cohorts every cohort that signed up before the data's
      first day. Its label reads ``≤ 2024-01 (present at start)`` (first order) or
      ``2023-06 (present at start)`` (signup); the statements about acquisition cohorts
      (trend, newer vs older, pooled figures) leave it out.
    - ``masked``: the cohort (per dimension value) holds fewer than ``min_cell_size``
      customers (:meth:`crmlib.privacy.SmallCells.is_small`). The value is kept in the
      table; every display leaves the cohort's row undrawn.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` (and ``customers``, for customer dimensions) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default ``cohorts.period``
    dimensions : sequence of str, default ("acquisition_channel",)
        Splits besides the overall matrix (``dimension="all"``, always included): any column of
        ``customers`` (skipped with a warning when the run has no customers table), or
        ``"first_category"``, the category of the first purchase (orders at the same first
        timestamp: the lowest order_id's). A null or empty value is ``"(unknown)"``.
    cohort_basis : {"first_order", "signup"}, default ``cohorts.cohort_basis``
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: cohorts (per dimension value) of fewer customers are
        flagged ``masked``.
    first_cohort : {"auto", "new_customers", "present_at_start"}, default ``cohorts.first_cohort``
        Whether the first cohort holds the customers present at the start (params
        ``cohorts.first_cohort``); see :func:`crmlib.cohorts.data_start`.
    transactions, customers : str
        View names. The purchase facts of ``transactions`` are read
        (:func:`crmlib.facts.purchase_facts`: the run folder's, or built for the call); the
        transactions themselves only for the first_category split.

    Returns
    -------
    pd.DataFrame
        Columns :data:`RETENTION_COLUMNS`: *cohort_start* (date), *cohort_label*,
        *present_at_start*, *dimension*,
        *dimension_value*, *periods_since* (k >= 0), *definition*, *cohort_size*, *customers*
        (retained), *retention* (= customers / cohort_size), *observed*, *masked*.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered (or ``customers``, with ``cohort_basis="signup"``).
    DataContractError
        A needed column is missing (the message names table and column), or there are fewer
        than two complete periods of data.
    """
    rule = SmallCells(min_cell_size)
    grid = _checked_counts(
        engine,
        as_of_date=as_of_date,
        period=period,
        dimensions=dimensions,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
        first_cohort=first_cohort,
    )
    tables = [
        grid.assign(definition=definition, customers=grid[source])
        for definition, source in zip(RETENTION_DEFINITIONS, ("active", "on_or_after"), strict=True)
    ]
    tidy = pd.concat(tables, ignore_index=True)
    tidy["definition"] = tidy["definition"].astype("str")
    tidy["retention"] = safe_ratio(tidy["customers"], tidy["cohort_size"])
    tidy["masked"] = rule.is_small(tidy["cohort_size"])
    tidy = tidy.sort_values(
        ["_dimension_order", "dimension_value", "definition", "cohort_start", "periods_since"],
        ignore_index=True,
    )
    return tidy[list(RETENTION_COLUMNS)].astype({"cohort_size": "int64", "customers": "int64"})


def cohort_revenue(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    dimensions: Sequence[str] = ("acquisition_channel",),
    cohort_basis: Literal["first_order", "signup"] = DEFAULTS.cohorts.cohort_basis,
    min_cell_size: int = MIN_CELL_SIZE,
    first_cohort: str = DEFAULTS.cohorts.first_cohort,
    transactions: str = "transactions",
    customers: str = "customers",
) -> pd.DataFrame:
    """Net revenue by acquisition cohort and period since acquisition, overall and split.

    Transforms *transactions* (one row per netted order or unmatched refund) and optionally
    *customers* (one row per customer) into one row per cohort x dimension value x period k
    (complete periods only, as in :func:`cohort_retention`; cohorts are defined the same way):

    - ``net_revenue``: sum of ``amount`` of every row of the cohort's customers dated in
      period k: purchases (net of matched refunds), cancelled orders (0) and unmatched
      refunds (negative). Rows dated before the cohort period are left out.
    - ``revenue_per_customer``: net_revenue / cohort_size.
    - ``revenue_retention``: net revenue in k / net revenue in period 0 (null when period 0
      has none); can exceed 1 when customers spend more later.
    - ``cumulative_revenue_per_customer``: net revenue from period 0 through k / cohort_size,
      the realized value curve.
    - ``masked``, ``present_at_start`` and ``observed`` as in :func:`cohort_retention`.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` (and ``customers``, for customer dimensions) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default ``cohorts.period``
    dimensions : sequence of str, default ("acquisition_channel",)
        As in :func:`cohort_retention`.
    cohort_basis : {"first_order", "signup"}, default ``cohorts.cohort_basis``
    min_cell_size : int, default MIN_CELL_SIZE
        As in :func:`cohort_retention`.
    first_cohort : {"auto", "new_customers", "present_at_start"}, default ``cohorts.first_cohort``
        As in :func:`cohort_retention`.
    transactions, customers : str
        View names, as in :func:`cohort_retention`.

    Returns
    -------
    pd.DataFrame
        Columns :data:`REVENUE_COLUMNS`, one row per cohort x dimension value x k.

    Raises
    ------
    StageInputMissing, DataContractError
        As :func:`cohort_retention`.
    """
    rule = SmallCells(min_cell_size)
    grid = _checked_counts(
        engine,
        as_of_date=as_of_date,
        period=period,
        dimensions=dimensions,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
        first_cohort=first_cohort,
    )
    first = grid.groupby(_KEYS, sort=False)["net_revenue"].transform("first")
    cumulative = grid.groupby(_KEYS, sort=False)["net_revenue"].cumsum()
    revenue = grid.assign(
        revenue_per_customer=safe_ratio(grid["net_revenue"], grid["cohort_size"]),
        revenue_retention=safe_ratio(grid["net_revenue"], first),
        cumulative_revenue_per_customer=safe_ratio(cumulative, grid["cohort_size"]),
        masked=rule.is_small(grid["cohort_size"]),
    )
    revenue = revenue.sort_values(
        ["_dimension_order", "dimension_value", "cohort_start", "periods_since"],
        ignore_index=True,
    )
    return revenue[list(REVENUE_COLUMNS)].astype({"cohort_size": "int64"})


def _checked_counts(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str,
    dimensions: Sequence[str],
    cohort_basis: str,
    transactions: str,
    customers: str,
    first_cohort: str,
) -> pd.DataFrame:
    """Check the inputs, then the shared count grid behind retention and revenue (one build),
    with the customers present at the start marked (:func:`crmlib.cohorts.data_start`)."""
    checked_period = check_period(period)
    _check_rule(first_cohort)
    _check_inputs(
        engine,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
    )
    grid, _names = _cohort_counts(
        engine,
        as_of=as_date(as_of_date),
        period=checked_period,
        dimensions=dimensions,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
    )
    start = data_start(
        engine,
        as_of_date=as_of_date,
        period=checked_period,
        cohort_basis=cohort_basis,
        first_cohort=first_cohort,
        transactions=transactions,
        customers=customers,
    )
    return _mark(grid, start, period=checked_period)
