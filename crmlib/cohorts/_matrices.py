"""Cohort matrices computed in SQL: customer retention, bracket retention and revenue by cohort."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np
import pandas as pd

from crmlib.engine import Engine, quote_identifier
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.kpis._common import _as_date, _check_period, _periods, _ratio, period_spine
from crmlib.kpis._queries import _end_ts, _require_view

__all__ = [
    "COHORT_BASES",
    "RETENTION_DEFINITIONS",
    "RETENTION_COLUMNS",
    "BRACKET_COLUMNS",
    "REVENUE_COLUMNS",
    "DEFAULT_BRACKETS",
    "cohort_retention",
    "bracket_retention",
    "cohort_revenue",
    "cohort_matrix",
]

log = logging.getLogger(__name__)

#: How a customer's acquisition cohort is dated.
COHORT_BASES: tuple[str, ...] = ("first_order", "signup")
#: "on": active in exactly period k; "on_or_after": active in period k or any later observed one.
RETENTION_DEFINITIONS: tuple[str, ...] = ("on", "on_or_after")
#: Day brackets after the first order used by :func:`bracket_retention` by default.
DEFAULT_BRACKETS: tuple[tuple[int, int], ...] = ((1, 7), (8, 30), (31, 90), (91, 180))

#: Columns of :func:`cohort_retention`.
RETENTION_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "dimension", "dimension_value", "periods_since",
    "definition", "cohort_size", "customers", "retention", "observed", "masked",
)  # fmt: skip
#: Columns of :func:`bracket_retention`.
BRACKET_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "dimension", "dimension_value", "bracket", "days_from",
    "days_to", "cohort_size", "customers", "retention", "masked",
)  # fmt: skip
#: Columns of :func:`cohort_revenue`.
REVENUE_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "dimension", "dimension_value", "periods_since",
    "cohort_size", "net_revenue", "revenue_per_customer", "revenue_retention",
    "cumulative_revenue_per_customer", "observed", "masked",
)  # fmt: skip

_ALL = "all"
_UNKNOWN = "(unknown)"
_DERIVED = ("first_category",)
_TX_COLUMNS = ("order_id", "customer_id", "order_ts", "amount", "is_purchase")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = ["dimension", "cohort_start", "dimension_value"]
#: Temp tables this module creates on the engine (and drops before returning); each call
#: suffixes them with its own token, so concurrent calls on one engine never share one.
_TEMP_KINDS = (
    "customer_periods", "firsts", "members", "activity", "days", "brackets", "member_brackets",
)  # fmt: skip
#: An empty customers relation, substituted when a dimension needs no customers table.
_NO_CUSTOMERS = "(SELECT CAST(NULL AS VARCHAR) AS customer_id WHERE FALSE)"
#: The category of the earliest purchase, ties broken by order_id.
_FIRST_CATEGORY = "arg_min(category, struct_pack(ts := order_ts, id := order_id))"
#: Per engine, the last few per-cohort count grids, keyed by their arguments and a fingerprint
#: of the rows they read: cohort_retention and cohort_revenue on the same inputs share one build.
_GRID_CACHE: weakref.WeakKeyDictionary[Engine, dict[tuple[object, ...], pd.DataFrame]] = (
    weakref.WeakKeyDictionary()
)
_GRID_CACHE_LOCK = threading.Lock()
_GRID_CACHE_SIZE = 4


# -- inputs ----------------------------------------------------------------------------------
def _dimension_sql(
    engine: Engine,
    dimensions: Sequence[str],
    *,
    transactions: str,
    customers: str,
) -> list[tuple[str, dict[str, str]]]:
    """``(dimension, identifiers)`` per dimension, "all" first; unusable customer columns fail.

    A customer column asked for without a ``customers`` view is skipped with a warning (the
    table is optional); a column missing from an existing view is a DataContractError.
    """
    if isinstance(dimensions, str):
        raise ValueError(f"dimensions={dimensions!r}: expected a sequence of column names")
    resolved: list[tuple[str, dict[str, str]]] = [
        (_ALL, {"dimension_value": f"'{_ALL}'", "customers": _NO_CUSTOMERS})
    ]
    has_customers = engine.has_table(customers)
    for dimension in dict.fromkeys(dimensions):
        if dimension == _ALL:
            continue
        if not _IDENTIFIER.match(dimension):
            raise ValueError(f"dimensions: {dimension!r} is not a column name")
        if dimension in _DERIVED:
            _require_view(engine, transactions, ("category",), producer="01_ingest")
            expression = f"coalesce(nullif(m.first_category, ''), '{_UNKNOWN}')"
            resolved.append(
                (dimension, {"dimension_value": expression, "customers": _NO_CUSTOMERS})
            )
            continue
        if not has_customers:
            log.warning("no %s table: the %s split is skipped", customers, dimension)
            continue
        _require_view(engine, customers, ("customer_id", dimension), producer="01_ingest")
        column = f"c.{quote_identifier(dimension)}"
        expression = f"coalesce(nullif(CAST({column} AS VARCHAR), ''), '{_UNKNOWN}')"
        resolved.append((dimension, {"dimension_value": expression, "customers": customers}))
    return resolved


def _check_inputs(
    engine: Engine,
    *,
    cohort_basis: str,
    transactions: str,
    customers: str,
    min_cell_size: int,
) -> None:
    if cohort_basis not in COHORT_BASES:
        raise ValueError(f"cohort_basis={cohort_basis!r}: expected one of {COHORT_BASES}")
    if min_cell_size < 1:
        raise ValueError(f"min_cell_size={min_cell_size}: expected >= 1")
    _require_view(engine, transactions, _TX_COLUMNS, producer="01_ingest")
    if cohort_basis == "signup":
        if not engine.has_table(customers):
            raise StageInputMissing(
                f"cohort_basis='signup' needs the {customers} table, and the run has none: "
                "use cohort_basis='first_order' or add a customers source to the params file"
            )
        _require_view(engine, customers, ("customer_id", "signup_ts"), producer="01_ingest")


@contextmanager
def _temp_tables(engine: Engine) -> Iterator[dict[str, str]]:
    """Names of this call's own temp tables (by kind), dropped however the block ends."""
    token = uuid.uuid4().hex[:16]
    names = {kind: f"cohorts_mx_{kind}_{token}" for kind in _TEMP_KINDS}
    try:
        yield names
    finally:
        for name in names.values():
            engine.execute(f"DROP TABLE IF EXISTS {name}")


def _build_members(
    engine: Engine,
    temp: dict[str, str],
    *,
    cohort_basis: str,
    period: str,
    end_ts: dt.datetime,
    transactions: str,
    customers: str,
    dimensions: Sequence[str],
    from_periods: bool = False,
) -> None:
    """Fill ``temp["members"]`` (and ``temp["firsts"]``). With ``from_periods`` the first
    purchases come from ``temp["customer_periods"]`` (built with the same period and end_ts)
    rather than from every transaction row, unless the first_category split needs its arg_min.
    """
    # the first purchase's category costs an arg_min: computed only when the split is asked for
    needs_category = "first_category" in dimensions
    if from_periods and not needs_category:
        engine.execute(
            "cohorts_firsts_from_periods",
            identifiers={"firsts": temp["firsts"], "customer_periods": temp["customer_periods"]},
        )
    else:
        engine.execute(
            "cohorts_firsts",
            {"end_ts": end_ts},
            identifiers={
                "firsts": temp["firsts"],
                "transactions": transactions,
                "first_category": _FIRST_CATEGORY if needs_category else "NULL",
            },
        )
    engine.execute(
        "cohorts_members_first_order"
        if cohort_basis == "first_order"
        else "cohorts_members_signup",
        {"period": period, "end_ts": end_ts},
        identifiers={"members": temp["members"], "firsts": temp["firsts"], "customers": customers},
    )


def _fingerprint(
    engine: Engine,
    *,
    cohort_basis: str,
    transactions: str,
    customers: str,
    dimensions: Sequence[str],
) -> tuple[object, ...]:
    """Row count and sum of row hashes of every column the count grid reads.

    Changes whenever the rows behind the views change (a re-registered view, a rewritten
    parquet file), so a cached grid is only reused for the very same inputs.
    """
    tx_columns = ["customer_id", "order_ts", "amount", "is_purchase"]
    if "first_category" in dimensions:
        tx_columns += ["order_id", "category"]
    customer_columns = [name for name in dimensions if name not in (_ALL, *_DERIVED)]
    if cohort_basis == "signup":
        customer_columns.append("signup_ts")
    parts: list[object] = []
    for table, columns in (
        (transactions, tx_columns),
        (customers, ["customer_id", *customer_columns] if customer_columns else []),
    ):
        if not columns:
            continue
        found = engine.query(
            "cohorts_fingerprint",
            identifiers={
                "table": table,
                "columns": ", ".join(quote_identifier(name) for name in columns),
            },
        )
        parts.append((table, tuple(columns), *found.iloc[0].tolist()))
    return tuple(parts)


# -- periods ---------------------------------------------------------------------------------
def _period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the period containing ``day``."""
    return pd.Timestamp(_periods(day, day, period)[0].start_time).date()


def _periods_between(starts: pd.Series, last: dt.date, period: str) -> np.ndarray:
    """Whole periods from each period start in ``starts`` to the period starting on ``last``."""
    first = pd.to_datetime(starts)
    end = pd.Timestamp(last)
    if period == "week":
        return ((end - first).dt.days // 7).to_numpy(dtype="int64")
    months = (end.year - first.dt.year) * 12 + (end.month - first.dt.month)
    return (months // 3 if period == "quarter" else months).to_numpy(dtype="int64")


def _labels(starts: pd.Series, *, period: str) -> pd.Series:
    """The period label (``2025-03``, ``2025-W10``, ``2025-Q1``) of each period start."""
    if starts.empty:
        return pd.Series([], index=starts.index, dtype="str")
    spine = period_spine(min(starts), max(starts), period=period)
    lookup = dict(zip(spine["period_start"], spine["period_label"], strict=True))
    return starts.map(lookup).astype("str")


def _finish(frame: pd.DataFrame, *, period: str, dimensions: Sequence[str]) -> pd.DataFrame:
    """Cast the key columns, add the cohort label, order rows by dimension as asked."""
    frame = frame.copy()
    frame["cohort_start"] = pd.to_datetime(frame["cohort_start"]).dt.date
    frame["cohort_label"] = _labels(frame["cohort_start"], period=period)
    for column in ("dimension", "dimension_value"):
        frame[column] = frame[column].astype("str")
    order = {name: i for i, name in enumerate(dimensions)}
    frame["_dimension_order"] = frame["dimension"].map(order)
    return frame


# -- the shared per-cohort counts ------------------------------------------------------------
def _cohort_counts(
    engine: Engine,
    *,
    as_of: dt.date,
    period: str,
    dimensions: Sequence[str],
    cohort_basis: str,
    transactions: str,
    customers: str,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per dimension, cohort, value and period k of the full grid (k = 0 .. last
    complete period), with *cohort_size, active, on_or_after, net_revenue*.

    The grid is cached per engine (a few entries) under its arguments and a fingerprint of the
    rows it reads (:func:`_fingerprint`), so :func:`cohort_retention` and :func:`cohort_revenue`
    on the same inputs build it once; callers get their own copy.
    """
    resolved = _dimension_sql(engine, dimensions, transactions=transactions, customers=customers)
    names = [name for name, _ in resolved]
    key = (
        as_of,
        period,
        cohort_basis,
        transactions,
        customers,
        tuple(names),
        _fingerprint(
            engine,
            cohort_basis=cohort_basis,
            transactions=transactions,
            customers=customers,
            dimensions=names,
        ),
    )
    with _GRID_CACHE_LOCK:
        cached = _GRID_CACHE.get(engine, {}).get(key)
    if cached is not None:
        log.debug("cohort counts: reusing the %s grid built for these inputs", period)
        return cached.copy(deep=True), names
    grid = _build_grid(
        engine,
        resolved,
        as_of=as_of,
        period=period,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
    )
    with _GRID_CACHE_LOCK:
        entries = _GRID_CACHE.setdefault(engine, {})
        entries[key] = grid
        while len(entries) > _GRID_CACHE_SIZE:
            del entries[next(iter(entries))]
    return grid.copy(deep=True), names


def _build_grid(
    engine: Engine,
    resolved: list[tuple[str, dict[str, str]]],
    *,
    as_of: dt.date,
    period: str,
    cohort_basis: str,
    transactions: str,
    customers: str,
) -> pd.DataFrame:
    """The count grid of :func:`_cohort_counts`, computed on the engine."""
    names = [name for name, _ in resolved]
    # only complete periods: every row dated before the first day after the last complete one
    complete_end = _period_start(as_of + dt.timedelta(days=1), period)
    last_start = _period_start(complete_end - dt.timedelta(days=1), period)
    end_ts = dt.datetime.combine(complete_end, dt.time())
    with _temp_tables(engine) as temp:
        # one pass over the transactions: one row per customer and period
        engine.execute(
            "cohorts_customer_periods",
            {"period": period, "end_ts": end_ts},
            identifiers={
                "customer_periods": temp["customer_periods"],
                "transactions": transactions,
            },
        )
        _build_members(
            engine,
            temp,
            cohort_basis=cohort_basis,
            period=period,
            end_ts=end_ts,
            transactions=transactions,
            customers=customers,
            dimensions=names,
            from_periods=True,
        )
        engine.execute(
            "cohorts_activity",
            {"period": period},
            identifiers={
                "members": temp["members"],
                "activity": temp["activity"],
                "customer_periods": temp["customer_periods"],
            },
        )
        tables = [
            engine.query(
                "cohorts_counts",
                identifiers={
                    "members": temp["members"],
                    "activity": temp["activity"],
                    **identifiers,
                },
            ).assign(dimension=dimension)
            for dimension, identifiers in resolved
        ]
    counts = pd.concat(tables, ignore_index=True)
    _check_enough_periods(
        counts,
        as_of=as_of,
        period=period,
        last_start=last_start,
        cohort_basis=cohort_basis,
        transactions=transactions,
    )

    counts["cohort_start"] = pd.to_datetime(counts["cohort_start"]).dt.date
    sizes = counts[[*_KEYS, "cohort_size"]].drop_duplicates(_KEYS, ignore_index=True)
    spans = _periods_between(sizes["cohort_start"], last_start, period) + 1
    grid = sizes.loc[sizes.index.repeat(spans)]
    grid = grid.assign(periods_since=grid.groupby(level=0).cumcount().astype("int64"))
    grid = grid.reset_index(drop=True)
    found = counts.dropna(subset=["periods_since"]).astype({"periods_since": "int64"})
    grid = grid.merge(
        found[[*_KEYS, "periods_since", "active", "last_active", "net_revenue"]],
        on=[*_KEYS, "periods_since"],
        how="left",
        validate="one_to_one",
    )
    grid[["active", "last_active"]] = grid[["active", "last_active"]].fillna(0).astype("int64")
    grid["net_revenue"] = grid["net_revenue"].fillna(0.0).astype("float64")
    # active in k or later = last active period >= k: a reverse running sum over k
    grid = grid.sort_values([*_KEYS, "periods_since"], ascending=[True, True, True, False])
    grid["on_or_after"] = grid.groupby(_KEYS, sort=False)["last_active"].cumsum().astype("int64")
    grid = grid.sort_values([*_KEYS, "periods_since"], ignore_index=True)
    log.info(
        "cohort counts: %d %s cohorts up to %s, splits %s",
        sizes["cohort_start"].nunique(),
        period,
        last_start,
        names,
    )
    return _finish(grid, period=period, dimensions=names)


def _check_enough_periods(
    counts: pd.DataFrame,
    *,
    as_of: dt.date,
    period: str,
    last_start: dt.date,
    cohort_basis: str,
    transactions: str,
) -> None:
    """A cohort matrix needs at least two complete periods of data (k = 0 and k = 1)."""
    what = "purchases" if cohort_basis == "first_order" else "signups"
    if counts.empty:
        raise DataContractError(
            f"{transactions}: no {what} in a complete {period} up to as_of_date {as_of}; "
            f"cohort matrices need at least two complete {period}s of data"
        )
    first = pd.Series([pd.to_datetime(counts["cohort_start"]).min()])
    complete = int(_periods_between(first, last_start, period)[0]) + 1
    if complete < 2:
        raise DataContractError(
            f"{transactions}: {what} cover only {complete} complete {period} "
            f"({first.iloc[0].date()} to {last_start}) up to as_of_date {as_of}; cohort "
            f"matrices need at least two complete {period}s: use an earlier period "
            f"(e.g. period='week') or a later as_of_date"
        )


# -- public functions ------------------------------------------------------------------------
def cohort_retention(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = "month",
    dimensions: Sequence[str] = ("acquisition_channel",),
    cohort_basis: Literal["first_order", "signup"] = "first_order",
    min_cell_size: int = 10,
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
      out (its rows, and cohorts that start in it). ``observed`` is therefore always True; it
      is kept so later stages can rely on the column.
    - ``masked``: ``cohort_size < min_cell_size``. The value is kept; the notebook hides it.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` (and ``customers``, for customer dimensions) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default "month"
    dimensions : sequence of str, default ("acquisition_channel",)
        Splits besides the overall matrix (``dimension="all"``, always included): any column of
        ``customers`` (skipped with a warning when the run has no customers table), or
        ``"first_category"``, the category of the first purchase. A null or empty value is
        ``"(unknown)"``.
    cohort_basis : {"first_order", "signup"}, default "first_order"
    min_cell_size : int, default 10
        Cohorts (per dimension value) smaller than this are flagged ``masked``.
    transactions, customers : str
        View names.

    Returns
    -------
    pd.DataFrame
        Columns :data:`RETENTION_COLUMNS`: *cohort_start* (date), *cohort_label*, *dimension*,
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
    period = _check_period(period)
    as_of = _as_date(as_of_date)
    _check_inputs(
        engine,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
        min_cell_size=min_cell_size,
    )
    grid, _names = _cohort_counts(
        engine,
        as_of=as_of,
        period=period,
        dimensions=dimensions,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
    )
    tables = [
        grid.assign(definition=definition, customers=grid[source])
        for definition, source in zip(RETENTION_DEFINITIONS, ("active", "on_or_after"), strict=True)
    ]
    tidy = pd.concat(tables, ignore_index=True)
    tidy["definition"] = tidy["definition"].astype("str")
    tidy["retention"] = _ratio(tidy["customers"], tidy["cohort_size"])
    tidy["observed"] = True
    tidy["masked"] = (tidy["cohort_size"] < min_cell_size).astype("bool")
    tidy = tidy.sort_values(
        ["_dimension_order", "dimension_value", "definition", "cohort_start", "periods_since"],
        ignore_index=True,
    )
    return tidy[list(RETENTION_COLUMNS)].astype({"cohort_size": "int64", "customers": "int64"})


def cohort_revenue(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = "month",
    dimensions: Sequence[str] = ("acquisition_channel",),
    cohort_basis: Literal["first_order", "signup"] = "first_order",
    min_cell_size: int = 10,
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
    - ``masked``: cohort_size < min_cell_size.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` (and ``customers``, for customer dimensions) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default "month"
    dimensions : sequence of str, default ("acquisition_channel",)
        As in :func:`cohort_retention`.
    cohort_basis : {"first_order", "signup"}, default "first_order"
    min_cell_size : int, default 10
    transactions, customers : str
        View names.

    Returns
    -------
    pd.DataFrame
        Columns :data:`REVENUE_COLUMNS`, one row per cohort x dimension value x k.

    Raises
    ------
    StageInputMissing, DataContractError
        As :func:`cohort_retention`.
    """
    period = _check_period(period)
    as_of = _as_date(as_of_date)
    _check_inputs(
        engine,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
        min_cell_size=min_cell_size,
    )
    grid, _names = _cohort_counts(
        engine,
        as_of=as_of,
        period=period,
        dimensions=dimensions,
        cohort_basis=cohort_basis,
        transactions=transactions,
        customers=customers,
    )
    first = grid.groupby(_KEYS, sort=False)["net_revenue"].transform("first")
    cumulative = grid.groupby(_KEYS, sort=False)["net_revenue"].cumsum()
    revenue = grid.assign(
        revenue_per_customer=_ratio(grid["net_revenue"], grid["cohort_size"]),
        revenue_retention=_ratio(grid["net_revenue"], first),
        cumulative_revenue_per_customer=_ratio(cumulative, grid["cohort_size"]),
        observed=True,
        masked=(grid["cohort_size"] < min_cell_size).astype("bool"),
    )
    revenue = revenue.sort_values(
        ["_dimension_order", "dimension_value", "cohort_start", "periods_since"],
        ignore_index=True,
    )
    return revenue[list(REVENUE_COLUMNS)].astype({"cohort_size": "int64"})


def _bracket_frame(brackets: Sequence[tuple[int, int]]) -> pd.DataFrame:
    rows = []
    for bracket in brackets:
        if len(bracket) != 2:
            raise ValueError(f"brackets: {bracket!r} is not a (first_day, last_day) pair")
        lo, hi = (int(day) for day in bracket)
        if not 1 <= lo <= hi:
            raise ValueError(
                f"brackets: ({lo}, {hi}) is not a day range with 1 <= first_day <= last_day "
                "(day 0 is the first order's day)"
            )
        rows.append((f"days {lo}\u2013{hi}", lo, hi))
    if not rows:
        raise ValueError("brackets: expected at least one (first_day, last_day) pair")
    frame = pd.DataFrame(rows, columns=["bracket", "days_from", "days_to"])
    if frame["bracket"].duplicated().any():
        raise ValueError(f"brackets: {list(brackets)} lists a bracket twice")
    return frame.astype({"bracket": "str", "days_from": "int32", "days_to": "int32"})


def bracket_retention(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    brackets: Sequence[tuple[int, int]] = DEFAULT_BRACKETS,
    period: str = "month",
    dimensions: Sequence[str] = ("acquisition_channel",),
    min_cell_size: int = 10,
    transactions: str = "transactions",
    customers: str = "customers",
) -> pd.DataFrame:
    """Repeat purchase within day brackets after each customer's first order, by cohort.

    Transforms *transactions* (one row per netted order or unmatched refund) and optionally
    *customers* into one row per cohort (period of the first purchase, up to ``as_of_date``)
    x dimension value x bracket. The clock is each customer's own: day 0 is the calendar day
    of the first purchase, and a customer is **retained in bracket [lo, hi]** with a purchase
    on a day d with lo <= d <= hi (calendar days; only ``is_purchase`` rows count).

    Only customers whose bracket has **fully elapsed** by ``as_of_date`` (first order day +
    hi <= as_of_date) are in the denominator ``cohort_size``; a (cohort, value, bracket) with
    none is left out, so recent cohorts have only the short brackets.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` (and ``customers``, for customer dimensions) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    brackets : sequence of (int, int), default ((1, 7), (8, 30), (31, 90), (91, 180))
        Inclusive day ranges, 1 <= first_day <= last_day; labelled ``"days 1–7"``.
    period : {"week", "month", "quarter"}, default "month"
        Granularity of the cohorts.
    dimensions : sequence of str, default ("acquisition_channel",)
        As in :func:`cohort_retention`.
    min_cell_size : int, default 10
        Cells with fewer eligible customers are flagged ``masked``.
    transactions, customers : str
        View names.

    Returns
    -------
    pd.DataFrame
        Columns :data:`BRACKET_COLUMNS`: *cohort_start, cohort_label, dimension,
        dimension_value, bracket, days_from, days_to, cohort_size* (eligible customers),
        *customers* (retained), *retention, masked*.
    """
    period = _check_period(period)
    as_of = _as_date(as_of_date)
    bounds = _bracket_frame(brackets)
    _check_inputs(
        engine,
        cohort_basis="first_order",
        transactions=transactions,
        customers=customers,
        min_cell_size=min_cell_size,
    )
    resolved = _dimension_sql(engine, dimensions, transactions=transactions, customers=customers)
    end_ts = _end_ts(as_of)
    with _temp_tables(engine) as temp:
        engine.register(temp["brackets"], bounds)
        try:
            _build_members(
                engine,
                temp,
                cohort_basis="first_order",
                period=period,
                end_ts=end_ts,
                transactions=transactions,
                customers=customers,
                dimensions=[name for name, _ in resolved],
            )
            engine.execute(
                "cohorts_bracket_days",
                {"end_ts": end_ts, "max_days": int(bounds["days_to"].max())},
                identifiers={
                    "members": temp["members"],
                    "days": temp["days"],
                    "transactions": transactions,
                },
            )
            engine.execute(
                "cohorts_member_brackets",
                {"as_of": as_of},
                identifiers={
                    "member_brackets": temp["member_brackets"],
                    "members": temp["members"],
                    "days": temp["days"],
                    "brackets": temp["brackets"],
                },
            )
            tables = [
                engine.query(
                    "cohorts_brackets",
                    identifiers={"member_brackets": temp["member_brackets"], **identifiers},
                ).assign(dimension=dimension)
                for dimension, identifiers in resolved
            ]
        finally:
            engine.con.unregister(temp["brackets"])
    table = pd.concat(tables, ignore_index=True)
    if table.empty:
        raise DataContractError(
            f"{transactions}: no customer's first purchase is {int(bounds['days_to'].min())} "
            f"or more days before as_of_date {as_of}: no bracket has elapsed for anyone"
        )
    table = _finish(table, period=period, dimensions=[name for name, _ in resolved])
    table = table.astype(
        {
            "bracket": "str",
            "days_from": "int64",
            "days_to": "int64",
            "cohort_size": "int64",
            "customers": "int64",
        }
    )
    table["retention"] = _ratio(table["customers"], table["cohort_size"])
    table["masked"] = (table["cohort_size"] < min_cell_size).astype("bool")
    table = table.sort_values(
        ["_dimension_order", "dimension_value", "cohort_start", "days_from", "days_to"],
        ignore_index=True,
    )
    return table[list(BRACKET_COLUMNS)]


def cohort_matrix(
    tidy: pd.DataFrame,
    *,
    definition: str = "on",
    dimension: str = "all",
    dimension_value: str = "all",
    value: str = "retention",
) -> pd.DataFrame:
    """One cohort matrix, wide, for a heatmap: cohorts down, periods since acquisition across.

    Transforms the tidy output of :func:`cohort_retention`, :func:`cohort_revenue` or
    :func:`bracket_retention` (one row per cohort x k x dimension value [x definition]) into
    one row per cohort (index ``cohort_label``, oldest first) and one column per
    ``periods_since`` (or per ``bracket``, in day order). Masked cells (cohorts smaller than
    the minimum cell size) are NaN; so are periods a cohort has not reached yet.

    Parameters
    ----------
    tidy : pd.DataFrame
        A tidy cohort table.
    definition : {"on", "on_or_after"}, default "on"
        Ignored for tables without a ``definition`` column (revenue, brackets).
    dimension, dimension_value : str, default "all"
        Which split and which of its values, e.g. ``"acquisition_channel"``, ``"social"``.
    value : str, default "retention"
        The column to spread, e.g. ``"customers"``, ``"revenue_retention"``,
        ``"cumulative_revenue_per_customer"``.

    Returns
    -------
    pd.DataFrame
        Floats, index ``cohort_label``, columns ``periods_since`` (or ``bracket``).

    Examples
    --------
    >>> tidy = pd.DataFrame({"cohort_start": [1, 1, 2], "cohort_label": ["2025-01", "2025-01",
    ...     "2025-02"], "dimension": "all", "dimension_value": "all", "periods_since": [0, 1, 0],
    ...     "retention": [1.0, 0.5, 1.0], "masked": False})
    >>> cohort_matrix(tidy).to_dict()
    {0: {'2025-01': 1.0, '2025-02': 1.0}, 1: {'2025-01': 0.5, '2025-02': nan}}
    """
    needed = ["cohort_start", "cohort_label", "dimension", "dimension_value", value, "masked"]
    missing = [column for column in needed if column not in tidy.columns]
    if missing:
        raise DataContractError(
            f"cohort table: columns {missing} are missing; found {list(tidy.columns)}"
        )
    across = "periods_since" if "periods_since" in tidy.columns else "bracket"
    keep = (tidy["dimension"] == dimension) & (tidy["dimension_value"] == dimension_value)
    if "definition" in tidy.columns:
        if definition not in RETENTION_DEFINITIONS:
            raise ValueError(f"definition={definition!r}: expected one of {RETENTION_DEFINITIONS}")
        keep &= tidy["definition"] == definition
    rows = tidy[keep]
    if rows.empty:
        available = sorted(
            {f"{d}={v}" for d, v in zip(tidy["dimension"], tidy["dimension_value"], strict=True)}
        )
        raise ValueError(
            f"no cohort rows for {dimension}={dimension_value!r}; available: {available[:20]}"
        )
    cells = rows[value].astype("float64").where(~rows["masked"].astype("bool"))
    wide = rows.assign(_cell=cells).pivot_table(
        index="cohort_label", columns=across, values="_cell", aggfunc="first", dropna=False
    )
    cohorts = rows.drop_duplicates("cohort_label").sort_values("cohort_start")["cohort_label"]
    if across == "bracket":
        order = rows.drop_duplicates("bracket").sort_values(["days_from", "days_to"])["bracket"]
    else:
        order = pd.Series(sorted(rows["periods_since"].unique()))
    wide = wide.reindex(index=cohorts.tolist(), columns=order.tolist()).astype("float64")
    wide.index.name = "cohort_label"
    wide.columns.name = across
    return wide
