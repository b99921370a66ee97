"""Shared build for the cohort matrices: input checks, temp tables and the cached count grid."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import weakref
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from crmlib.checks import require_view
from crmlib.engine import Engine, quote_identifier
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.facts import purchase_facts
from crmlib.periods import period_index, period_spine

__all__ = ["COHORT_BASES"]

log = logging.getLogger(__name__)

#: How a customer's acquisition cohort is dated.
COHORT_BASES: tuple[str, ...] = ("first_order", "signup")

_ALL = "all"
_UNKNOWN = "(unknown)"
_DERIVED = ("first_category",)
_TX_COLUMNS = ("customer_id", "order_ts", "amount", "is_purchase")
#: The transactions columns the first_category split reads (cohorts_firsts_category.sql).
_CATEGORY_COLUMNS = ("customer_id", "order_id", "order_ts", "category", "is_purchase")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = ["dimension", "cohort_start", "dimension_value"]
#: Temp tables the cohort matrices create on the engine (and drops before returning); each call
#: suffixes them with its own token, so concurrent calls on one engine never share one.
_TEMP_KINDS = (
    "customer_periods", "firsts", "members", "labels", "activity", "hits", "brackets",
    "member_brackets",
)  # fmt: skip
#: An empty customers relation, substituted when a dimension needs no customers table.
_NO_CUSTOMERS = "(SELECT CAST(NULL AS VARCHAR) AS customer_id WHERE FALSE)"
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
            require_view(engine, transactions, _CATEGORY_COLUMNS, producer="01_ingest")
            expression = f"coalesce(nullif(m.first_category, ''), '{_UNKNOWN}')"
            resolved.append(
                (dimension, {"dimension_value": expression, "customers": _NO_CUSTOMERS})
            )
            continue
        if not has_customers:
            log.warning("no %s table: the %s split is skipped", customers, dimension)
            continue
        require_view(engine, customers, ("customer_id", dimension), producer="01_ingest")
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
) -> None:
    if cohort_basis not in COHORT_BASES:
        raise ValueError(f"cohort_basis={cohort_basis!r}: expected one of {COHORT_BASES}")
    require_view(engine, transactions, _TX_COLUMNS, producer="01_ingest")
    if cohort_basis == "signup":
        if not engine.has_table(customers):
            raise StageInputMissing(
                f"cohort_basis='signup' needs the {customers} table, and the run has none: "
                "use cohort_basis='first_order' or add a customers source to the params file"
            )
        require_view(engine, customers, ("customer_id", "signup_ts"), producer="01_ingest")


def _build_members(
    engine: Engine,
    temp: dict[str, str],
    facts: Mapping[str, str],
    *,
    cohort_basis: str,
    period: str,
    end_ts: dt.datetime,
    transactions: str,
    customers: str,
    dimensions: Sequence[str],
) -> None:
    """Fill ``temp["members"]`` (and ``temp["firsts"]``) from the purchase facts ``facts``
    (:func:`crmlib.facts.purchase_facts` of ``transactions``); the first purchase's category
    is read from ``transactions`` only when the first_category split is asked for."""
    if "first_category" in dimensions:
        engine.execute(
            "cohorts_firsts_category",
            {"end_ts": end_ts},
            identifiers={
                "firsts": temp["firsts"],
                "customer_facts": facts["customer_facts"],
                "transactions": transactions,
            },
        )
    else:
        engine.execute(
            "cohorts_firsts",
            {"end_ts": end_ts},
            identifiers={"firsts": temp["firsts"], "customer_facts": facts["customer_facts"]},
        )
    engine.execute(
        "cohorts_members_first_order"
        if cohort_basis == "first_order"
        else "cohorts_members_signup",
        {"period": period, "end_ts": end_ts},
        identifiers={
            "members": temp["members"],
            "firsts": temp["firsts"],
            "customers": customers,
            "customer_facts": facts["customer_facts"],
        },
    )


def _label_column(index: int) -> str:
    """Name of the label column of the ``index``-th resolved dimension in ``temp["labels"]``."""
    return f"dim_{index}"


def _build_labels(
    engine: Engine, temp: dict[str, str], resolved: Sequence[tuple[str, dict[str, str]]]
) -> list[str]:
    """Fill ``temp["labels"]``: every member with its value of every dimension, one join.

    Returns the label column of each resolved dimension (``dim_0`` is "all"), so each count
    groups one pre-joined table instead of joining the members and customers again.
    """
    columns = [_label_column(i) for i in range(len(resolved))]
    joined = next(
        (ids["customers"] for _, ids in resolved if ids["customers"] != _NO_CUSTOMERS),
        _NO_CUSTOMERS,
    )
    engine.execute(
        "cohorts_labels",
        identifiers={
            "labels": temp["labels"],
            "members": temp["members"],
            "customers": joined,
            "label_columns": ", ".join(
                f"{ids['dimension_value']} AS {column}"
                for (_, ids), column in zip(resolved, columns, strict=True)
            ),
        },
    )
    return columns


def _fingerprint(
    engine: Engine,
    facts: Mapping[str, str],
    *,
    cohort_basis: str,
    transactions: str,
    customers: str,
    dimensions: Sequence[str],
) -> tuple[object, ...]:
    """Row count and sum of row hashes of every column the count grid reads.

    Changes whenever the rows behind the views change (a re-registered view, a rewritten
    parquet file, purchase facts built from other transactions), so a cached grid is only
    reused for the very same inputs. The purchase facts are named by their kind, not by their
    table name, so facts built afresh for each call of the same transactions still match.
    """
    reads: list[tuple[str, str, list[str]]] = [
        ("customer_days", facts["customer_days"], ["customer_key", "day", "purchases", "amount"]),
        (
            "customer_facts",
            facts["customer_facts"],
            ["customer_key", "customer_id", "first_purchase_ts"],
        ),
    ]
    if "first_category" in dimensions:
        reads.append((transactions, transactions, list(_CATEGORY_COLUMNS)))
    customer_columns = [name for name in dimensions if name not in (_ALL, *_DERIVED)]
    if cohort_basis == "signup":
        customer_columns.append("signup_ts")
    if customer_columns:
        reads.append((customers, customers, ["customer_id", *customer_columns]))
    parts: list[object] = []
    for label, table, columns in reads:
        found = engine.query(
            "cohorts_fingerprint",
            identifiers={
                "table": table,
                "columns": ", ".join(quote_identifier(name) for name in columns),
            },
        )
        parts.append((label, tuple(columns), *found.iloc[0].tolist()))
    return tuple(parts)


# -- periods ---------------------------------------------------------------------------------
def _period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the period containing ``day``."""
    return pd.Timestamp(period_index(day, day, period)[0].start_time).date()


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

    It is computed from the purchase facts of ``transactions``
    (:func:`crmlib.facts.purchase_facts`). The grid is cached per engine (a few entries) under
    its arguments and a fingerprint of the rows it reads (:func:`_fingerprint`), so
    :func:`cohort_retention` and :func:`cohort_revenue` on the same inputs build it once;
    callers get their own copy.
    """
    resolved = _dimension_sql(engine, dimensions, transactions=transactions, customers=customers)
    names = [name for name, _ in resolved]
    with purchase_facts(engine, transactions=transactions) as facts:
        key = (
            as_of,
            period,
            cohort_basis,
            transactions,
            customers,
            tuple(names),
            _fingerprint(
                engine,
                facts,
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
            facts,
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
    facts: Mapping[str, str],
    *,
    as_of: dt.date,
    period: str,
    cohort_basis: str,
    transactions: str,
    customers: str,
) -> pd.DataFrame:
    """The count grid of :func:`_cohort_counts`, computed on the engine from ``facts``."""
    names = [name for name, _ in resolved]
    # only complete periods: every row dated before the first day after the last complete one
    complete_end = _period_start(as_of + dt.timedelta(days=1), period)
    last_start = _period_start(complete_end - dt.timedelta(days=1), period)
    end_ts = dt.datetime.combine(complete_end, dt.time())
    with engine.temp_tables("cohorts_mx", _TEMP_KINDS) as temp:
        # one pass over the customer-days: one row per customer and period
        engine.execute(
            "cohorts_customer_periods",
            {"period": period, "end_day": complete_end},
            identifiers={
                "customer_periods": temp["customer_periods"],
                "customer_days": facts["customer_days"],
            },
        )
        _build_members(
            engine,
            temp,
            facts,
            cohort_basis=cohort_basis,
            period=period,
            end_ts=end_ts,
            transactions=transactions,
            customers=customers,
            dimensions=names,
        )
        labels = _build_labels(engine, temp, resolved)
        engine.execute(
            "cohorts_activity",
            {"period": period},
            identifiers={
                "labels": temp["labels"],
                "activity": temp["activity"],
                "customer_periods": temp["customer_periods"],
                "label_columns": ", ".join(f"l.{column}" for column in labels),
            },
        )
        tables = [
            engine.query(
                "cohorts_counts",
                identifiers={
                    "labels": temp["labels"],
                    "activity": temp["activity"],
                    "dimension_value": column,
                },
            ).assign(dimension=dimension)
            for (dimension, _), column in zip(resolved, labels, strict=True)
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
