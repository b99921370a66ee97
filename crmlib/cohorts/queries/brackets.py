"""Bracket retention computed in SQL: repeat purchase within day brackets after the first order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from crmlib.cohorts.queries.data_start import _check_rule, _mark, data_start
from crmlib.cohorts.queries.grid import (
    _TEMP_KINDS,
    _build_labels,
    _build_members,
    _check_inputs,
    _dimension_sql,
    _finish,
)
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.errors import DataContractError
from crmlib.facts import purchase_facts
from crmlib.periods import as_date, check_period, exclusive_end, safe_ratio
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = ["BRACKET_COLUMNS", "DEFAULT_BRACKETS", "bracket_retention"]

#: Day brackets after the first order used by :func:`bracket_retention` by default (the
#: default of ``cohorts.brackets``).
DEFAULT_BRACKETS: tuple[tuple[int, int], ...] = tuple(
    (low, high) for low, high in DEFAULTS.cohorts.brackets
)

#: Columns of :func:`bracket_retention`.
BRACKET_COLUMNS: tuple[str, ...] = (
    "cohort_start", "cohort_label", "present_at_start", "dimension", "dimension_value",
    "bracket", "days_from", "days_to", "cohort_size", "customers", "retention", "masked",
)  # fmt: skip


#: Each bracket is one bit of a BIGINT mask (cohorts_bracket_hits.sql).
_MAX_BRACKETS = 62


def _bracket_frame(brackets: Sequence[tuple[int, int]]) -> pd.DataFrame:
    rows: list[tuple[str, int, int, int]] = []
    for bracket in brackets:
        if len(bracket) != 2:
            raise ValueError(f"brackets: {bracket!r} is not a (first_day, last_day) pair")
        lo, hi = (int(day) for day in bracket)
        if not 1 <= lo <= hi:
            raise ValueError(
                f"brackets: ({lo}, {hi}) is not a day range with 1 <= first_day <= last_day "
                "(day 0 is the first order's day)"
            )
        rows.append((f"days {lo}\u2013{hi}", lo, hi, 1 << len(rows)))
    if not rows:
        raise ValueError("brackets: expected at least one (first_day, last_day) pair")
    if len(rows) > _MAX_BRACKETS:
        raise ValueError(f"brackets: {len(rows)} brackets; at most {_MAX_BRACKETS} are supported")
    frame = pd.DataFrame(rows, columns=["bracket", "days_from", "days_to", "bit"])
    if frame["bracket"].duplicated().any():
        raise ValueError(f"brackets: {list(brackets)} lists a bracket twice")
    return frame.astype(
        {"bracket": "str", "days_from": "int32", "days_to": "int32", "bit": "int64"}
    )


def bracket_retention(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    brackets: Sequence[tuple[int, int]] = DEFAULT_BRACKETS,
    period: str = DEFAULTS.cohorts.period,
    dimensions: Sequence[str] = ("acquisition_channel",),
    min_cell_size: int = MIN_CELL_SIZE,
    first_cohort: str = DEFAULTS.cohorts.first_cohort,
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
    brackets : sequence of (int, int), default :data:`DEFAULT_BRACKETS` (``cohorts.brackets``)
        Inclusive day ranges, 1 <= first_day <= last_day; labelled ``"days 1–7"``.
    period : {"week", "month", "quarter"}, default ``cohorts.period``
        Granularity of the cohorts.
    dimensions : sequence of str, default ("acquisition_channel",)
        As in :func:`cohort_retention`.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: cells with fewer eligible customers are flagged
        ``masked`` (:meth:`crmlib.privacy.SmallCells.is_small`).
    first_cohort : {"auto", "new_customers", "present_at_start"}, default ``cohorts.first_cohort``
        Whether the first cohort holds the customers present at the start (their "first
        order" in the data need not be their first); see :func:`crmlib.cohorts.data_start`.
    transactions, customers : str
        View names, as in :func:`cohort_retention`.

    Returns
    -------
    pd.DataFrame
        Columns :data:`BRACKET_COLUMNS`: *cohort_start, cohort_label, present_at_start,
        dimension,
        dimension_value, bracket, days_from, days_to, cohort_size* (eligible customers),
        *customers* (retained), *retention, masked*.
    """
    rule = SmallCells(min_cell_size)
    period = check_period(period)
    as_of = as_date(as_of_date)
    bounds = _bracket_frame(brackets)
    _check_rule(first_cohort)
    _check_inputs(
        engine,
        cohort_basis="first_order",
        transactions=transactions,
        customers=customers,
    )
    resolved = _dimension_sql(engine, dimensions, transactions=transactions, customers=customers)
    end_ts = exclusive_end(as_of)
    with (
        purchase_facts(engine, transactions=transactions) as facts,
        engine.temp_tables("cohorts_mx", _TEMP_KINDS) as temp,
    ):
        engine.register(temp["brackets"], bounds)
        try:
            _build_members(
                engine,
                temp,
                facts,
                cohort_basis="first_order",
                period=period,
                end_ts=end_ts,
                transactions=transactions,
                customers=customers,
                dimensions=[name for name, _ in resolved],
            )
            labels = _build_labels(engine, temp, resolved)
            engine.execute(
                "cohorts_bracket_hits",
                {"end_day": end_ts.date(), "max_days": int(bounds["days_to"].max())},
                identifiers={
                    "hits": temp["hits"],
                    "labels": temp["labels"],
                    "brackets": temp["brackets"],
                    "customer_days": facts["customer_days"],
                },
            )
            engine.execute(
                "cohorts_member_brackets",
                {"as_of": as_of},
                identifiers={
                    "member_brackets": temp["member_brackets"],
                    "labels": temp["labels"],
                    "hits": temp["hits"],
                    "brackets": temp["brackets"],
                    "label_columns": ", ".join(f"l.{column}" for column in labels),
                },
            )
            tables = [
                engine.query(
                    "cohorts_brackets",
                    identifiers={
                        "member_brackets": temp["member_brackets"],
                        "dimension_value": column,
                    },
                ).assign(dimension=dimension)
                for (dimension, _), column in zip(resolved, labels, strict=True)
            ]
        finally:
            engine.unregister(temp["brackets"])
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
    table["retention"] = safe_ratio(table["customers"], table["cohort_size"])
    table["masked"] = rule.is_small(table["cohort_size"])
    start = data_start(
        engine,
        as_of_date=as_of,
        period=period,
        first_cohort=first_cohort,
        transactions=transactions,
        customers=customers,
    )
    table = _mark(table, start, period=period)
    table = table.sort_values(
        ["_dimension_order", "dimension_value", "cohort_start", "days_from", "days_to"],
        ignore_index=True,
    )
    return table[list(BRACKET_COLUMNS)]
