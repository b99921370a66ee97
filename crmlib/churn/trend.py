"""Churn over time by group: each period's retention and churn per RFM segment and per channel.

Definitions (the same as 02_kpis, :func:`crmlib.kpis.kpis_by_period`): for a period *p*, the
**base** is the customers with a purchase in the calendar-previous period *p-1*; **retained**
are those of them with a purchase in *p*; the **retention rate** is retained / base and the
**churn rate** 1 - retention. Summed over the groups of a split, base and retained equal 02's
previous period's active customers and its returning customers.

- **By RFM segment:** the segment the customer was in at the **end of p-1**, scored exactly
  as 04_segments scores at its as-of date (:func:`crmlib.segments.rfm_table`: recency over
  every customer who ever bought by then, frequency and net monetary value over the last
  ``window_days`` days, quantile scores 1..``bins``, the segment rules). Every cutoff is one
  pass of ``churn_segment_members.sql`` on the engine; only one row per (period, segment)
  comes back.
- **By acquisition channel:** ``customers.acquisition_channel`` (blank or no customer row:
  ``"(unknown)"``); skipped, with a note, when there is no customers table.

Each rate carries its 95% Wilson score interval (Wilson 1927), the interval of a binomial
share that stays inside [0, 1] and keeps its coverage on small groups. The small-cell rule
(``privacy.min_cell_size``) masks a (period, group) cell whose base holds fewer customers:
no rate, no interval, not drawn.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from crmlib.checks import positive_days, require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.intervals import wilson_interval
from crmlib.periods import as_date, check_period, exclusive_end, period_spine
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    SegmentRule,
    assign_segments,
    segment_names,
    validate_rules,
)

__all__ = [
    "TREND_COLUMNS",
    "DIMENSIONS",
    "UNKNOWN_CHANNEL",
    "newcombe_difference",
    "trend_cutoffs",
    "segment_map",
    "churn_by_segment",
    "latest_changes",
]

log = logging.getLogger(__name__)

#: Columns of :func:`churn_by_segment` (one row per period, dimension and group).
TREND_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete", "dimension", "dimension_value",
    "base_customers", "retained_customers", "retention_rate", "retention_lower",
    "retention_upper", "churn_rate", "churn_lower", "churn_upper", "masked",
)  # fmt: skip

#: The splits, in page order: dimension -> its name on the page.
DIMENSIONS: dict[str, str] = {
    "segment": "RFM segment",
    "acquisition_channel": "Acquisition channel",
}

#: The channel of a customer without one (or without a customers row).
UNKNOWN_CHANNEL = "(unknown)"

#: Periods in a year, for "a year earlier" (52 weeks for weeks, as 02_kpis).
PERIODS_PER_YEAR: dict[str, int] = {"week": 52, "month": 12, "quarter": 4}

_CUSTOMER_COLUMNS = ("customer_id", "acquisition_channel")


# -- intervals -------------------------------------------------------------------------------
def newcombe_difference(
    x1: float, n1: float, x0: float, n0: float, *, level: float = 0.95
) -> tuple[float, float]:
    """The 95% interval of ``x1/n1 - x0/n0`` from the two Wilson intervals (Newcombe's method 10).

    Equal to statsmodels' ``confint_proportions_2indep(method="newcomb")``; NaN when a
    group is empty.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. *Statistics in Medicine* 17(8), 873-890.
    """
    if n1 <= 0 or n0 <= 0:
        return float("nan"), float("nan")
    (l1,), (u1,) = wilson_interval([x1], [n1], level=level)
    (l0,), (u0,) = wilson_interval([x0], [n0], level=level)
    p1, p0 = x1 / n1, x0 / n0
    difference = p1 - p0
    lower = difference - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = difference + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return float(lower), float(upper)


# -- inputs of the query ---------------------------------------------------------------------
def trend_cutoffs(
    first_day: dt.date | str,
    as_of_date: dt.date | str,
    *,
    period: str = DEFAULTS.kpis.period,
    window_days: int = DEFAULTS.segments.window_days,
    periods: int | None = None,
) -> pd.DataFrame:
    """The periods whose retention is measured, each with the cutoff its segments are scored at.

    One row per period *p* from the second period of the data (the one after ``first_day``'s)
    to the one holding ``as_of_date``, or its last ``periods``: *period_start, period_end,
    period_label* of *p*; *previous_start* (first day of *p-1*), *cutoff* (last day of *p-1*:
    the day the segments are scored at) and *window_start* (``cutoff + 1 - window_days``:
    the first day of the RFM window). Dates are ``datetime.date``.

    Examples
    --------
    >>> table = trend_cutoffs("2025-01-15", "2025-03-31", window_days=365)
    >>> table[["period_label", "previous_start", "cutoff", "window_start"]].astype(str).values.tolist()
    [['2025-02', '2025-01-01', '2025-01-31', '2024-02-02'], ['2025-03', '2025-02-01', '2025-02-28', '2024-03-01']]
    """
    period = check_period(period)
    window_days = positive_days("window_days", window_days)
    spine = period_spine(as_date(first_day, name="first_day"), as_date(as_of_date), period=period)
    frame = spine.iloc[1:].reset_index(drop=True)
    cutoff = spine["period_end"].iloc[:-1].reset_index(drop=True)
    frame["previous_start"] = spine["period_start"].iloc[:-1].reset_index(drop=True)
    frame["cutoff"] = cutoff
    frame["window_start"] = [day + dt.timedelta(days=1 - window_days) for day in cutoff]
    if periods is not None:
        frame = frame.tail(int(periods)).reset_index(drop=True)
    return frame


def segment_map(
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES, *, bins: int = DEFAULTS.segments.bins
) -> pd.DataFrame:
    """The segment of every score cell: *r_score, f_score, m_score, segment*, ``bins**3`` rows.

    Named by :func:`crmlib.segments.models.rules.assign_segments` itself, so the engine
    applies exactly 04_segments' rules.

    Examples
    --------
    >>> table = segment_map()
    >>> len(table), table.iloc[-1].astype(str).tolist()
    (125, ['5', '5', '5', 'Champions'])
    """
    scores = np.arange(1, bins + 1, dtype="int64")
    r, f, m = (grid.ravel() for grid in np.meshgrid(scores, scores, scores, indexing="ij"))
    cells = pd.DataFrame({"r_score": r, "f_score": f, "m_score": m})
    named = assign_segments(cells, tuple(rules), bins=bins)
    return named.assign(segment=named["segment"].astype("object"))


def _cutoff_table(cutoffs: pd.DataFrame) -> pa.Table:
    columns = ["period_start", "period_end", "previous_start", "cutoff", "window_start"]
    return pa.table({name: pa.array(list(cutoffs[name]), type=pa.date32()) for name in columns})


def _map_table(cells: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "r_score": pa.array(cells["r_score"].to_numpy(dtype="int64")),
            "f_score": pa.array(cells["f_score"].to_numpy(dtype="int64")),
            "m_score": pa.array(cells["m_score"].to_numpy(dtype="int64")),
            "segment": pa.array(cells["segment"].astype("str").tolist(), type=pa.string()),
        }
    )


# -- the table -------------------------------------------------------------------------------
def _empty(note: str) -> pd.DataFrame:
    types = {
        "period_start": "object", "period_end": "object", "period_label": "str",
        "is_complete": "bool", "dimension": "str", "dimension_value": "str",
        "base_customers": "int64", "retained_customers": "int64", "masked": "bool",
    }  # fmt: skip
    table = pd.DataFrame(
        {name: pd.Series(dtype=types.get(name, "float64")) for name in TREND_COLUMNS}
    )
    table.attrs["notes"] = {"all": note}
    return table


def _grid(
    counts: pd.DataFrame,
    cutoffs: pd.DataFrame,
    *,
    dimension: str,
    groups: Sequence[str],
    as_of: dt.date,
    rule: SmallCells,
) -> pd.DataFrame:
    """Every (period, group) of ``cutoffs`` x ``groups``, counts 0 where absent, rates computed."""
    index = pd.MultiIndex.from_product(
        [list(cutoffs["period_start"]), list(groups)], names=["period_start", "dimension_value"]
    )
    found = counts.assign(
        period_start=[as_date(day) for day in counts["period_start"]],
        dimension_value=counts["dimension_value"].astype("str"),
    ).set_index(["period_start", "dimension_value"])
    full = found[["base_customers", "retained_customers"]].reindex(index, fill_value=0)
    full = full.astype("int64").reset_index()
    spine = cutoffs[["period_start", "period_end", "period_label"]]
    table = spine.merge(full, on="period_start", how="right", validate="one_to_many")
    base = table["base_customers"].to_numpy(dtype="float64")
    retained = table["retained_customers"].to_numpy(dtype="float64")
    masked = (base < rule.min_cell_size) | (base == 0)
    lower, upper = wilson_interval(retained, base)
    with np.errstate(invalid="ignore", divide="ignore"):
        retention = np.where(base > 0, retained / np.where(base > 0, base, 1.0), np.nan)
    shown = np.where(masked, np.nan, 1.0)
    table["is_complete"] = [end <= as_of for end in table["period_end"]]
    table["dimension"] = dimension
    table["retention_rate"] = retention * shown
    table["retention_lower"] = lower * shown
    table["retention_upper"] = upper * shown
    table["churn_rate"] = (1.0 - retention) * shown
    table["churn_lower"] = (1.0 - upper) * shown
    table["churn_upper"] = (1.0 - lower) * shown
    table["masked"] = masked
    table["period_label"] = table["period_label"].astype("str")
    return table[list(TREND_COLUMNS)]


def _channel_order(counts: pd.DataFrame) -> list[str]:
    """Channels by their customers over the periods, largest first, ``(unknown)`` last."""
    totals = counts.groupby(counts["dimension_value"].astype("str"))["base_customers"].sum()
    ordered = totals.sort_values(ascending=False, kind="stable").index.tolist()
    return [c for c in ordered if c != UNKNOWN_CHANNEL] + [
        c for c in ordered if c == UNKNOWN_CHANNEL
    ]


def churn_by_segment(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.kpis.period,
    window_days: int = DEFAULTS.segments.window_days,
    bins: int = DEFAULTS.segments.bins,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
    periods: int | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
    transactions: str = "transactions",
    customers: str = "customers",
) -> pd.DataFrame:
    """Retention and churn rate per period, by RFM segment and by acquisition channel.

    Transforms *transactions* (through its purchase facts, :func:`crmlib.facts.purchase_facts`)
    and the optional *customers* into one row per period *p*, dimension and group:
    *period_start, period_end, period_label, is_complete* (``period_end <= as_of_date``),
    *dimension* (``"segment"`` or ``"acquisition_channel"``), *dimension_value* (the segment
    or channel), *base_customers* (bought in *p-1*, in that group), *retained_customers* (of
    them, bought in *p*), *retention_rate* with its 95% Wilson interval *retention_lower,
    retention_upper*, *churn_rate* (1 - retention) with *churn_lower, churn_upper*, and
    *masked*. Every segment of ``rules`` has a row in every period, in rule order (0 customers
    where none); channels as found, largest first, ``"(unknown)"`` last.

    Definitions in the module docstring: the 02_kpis retention, the segment at the end of
    *p-1* scored as 04_segments does (same ``window_days``, ``bins``, ``rules``), the channel
    of the customers table. The small-cell rule (``min_cell_size``): a cell whose base holds
    fewer customers (or none) is ``masked``, and its rates and intervals are NaN; its counts
    stay in the table, which is an artifact and not a page.

    The periods run from the second of the data (the first has no previous period) to the
    one holding ``as_of_date`` (``is_complete`` False when it ends later); ``periods`` keeps
    the last ones only (a year and one at least). ``attrs["notes"]`` maps a dimension that could not be computed to the
    reason in one sentence (``"all"``: nothing could, e.g. one period of data only).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and, in a run, ``customer_days``,
        ``customer_facts``; ``customers`` when present).
    as_of_date : date or str
        Last day observed (inclusive).
    period : {"week", "month", "quarter"}, default ``kpis.period``
        The grain; pass the run's ``kpis.period`` so that the figures add up to 02's.
    window_days, bins, rules
        04_segments' ``segments.window_days``, ``segments.bins`` and rules
        (:func:`crmlib.segments.segment_rules`).
    periods : int, optional
        Only the last ``periods`` periods, and at least a year and one period (13 months,
        53 weeks, 5 quarters) for the change against a year earlier; None: all.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.
    transactions, customers : str
        View names; ``customers`` is optional (needs customer_id, acquisition_channel).

    Returns
    -------
    pd.DataFrame
        Columns :data:`TREND_COLUMNS`, by dimension (segment first), period, group.

    Raises
    ------
    ValueError
        Bad rules, bins, window or period (checked before any query runs).
    StageInputMissing
        ``transactions`` is not registered.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["a", "b", "a", "c"],
    ...     "order_ts": pd.to_datetime(["2025-01-05", "2025-01-09", "2025-02-03", "2025-02-04"]),
    ...     "amount": [10.0, 20.0, 5.0, 7.0], "gross_amount": [10.0, 20.0, 5.0, 7.0],
    ...     "refund_amount": [0.0] * 4, "is_purchase": [True] * 4})
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     table = churn_by_segment(engine, as_of_date="2025-02-28", min_cell_size=1)
    >>> shown = table[table["base_customers"] > 0]
    >>> shown[["period_label", "dimension_value", "base_customers", "retained_customers"]].values.tolist()
    [['2025-02', 'About to sleep', 1, 0], ['2025-02', 'Lost', 1, 1]]
    >>> table.attrs["notes"]["acquisition_channel"]
    'There is no customers table, so retention by acquisition channel is not shown.'
    """
    as_of = as_date(as_of_date)
    period = check_period(period)
    window_days = positive_days("window_days", window_days)
    rules = tuple(rules)
    validate_rules(rules, bins=bins)
    rule = SmallCells(min_cell_size)
    cells = segment_map(rules, bins=bins)
    end_day = exclusive_end(as_of).date()
    notes: dict[str, str] = {}
    with purchase_facts(engine, transactions=transactions) as facts:
        first = engine.scalar(
            f"SELECT min(day) FROM {facts['customer_days']} WHERE purchases > 0 AND day < $end_day",
            {"end_day": end_day},
        )
        if first is None:
            return _empty(
                f"No customer bought on or before {as_of}, so there is no retention to split."
            )
        kept = None if periods is None else max(int(periods), PERIODS_PER_YEAR[period] + 1)
        cutoffs = trend_cutoffs(first, as_of, period=period, window_days=window_days, periods=kept)
        if cutoffs.empty:
            return _empty(
                f"The data cover one {period} only; retention by segment needs a previous "
                f"{period} to start from."
            )
        has_customers = engine.has_table(customers)
        if has_customers:
            require_view(engine, customers, _CUSTOMER_COLUMNS, producer="01_ingest")
        else:
            notes["acquisition_channel"] = (
                "There is no customers table, so retention by acquisition channel is not shown."
            )
        kinds = ["members", "cutoffs", "segment_map"]
        with engine.temp_tables("churn_trend", kinds) as temp:
            engine.register(temp["cutoffs"], _cutoff_table(cutoffs))
            engine.register(temp["segment_map"], _map_table(cells))
            try:
                engine.execute(
                    "churn_segment_members",
                    {"end_day": end_day, "bins": int(bins)},
                    identifiers={
                        "target": temp["members"],
                        "customer_days": facts["customer_days"],
                        "cutoffs": temp["cutoffs"],
                        "segment_map": temp["segment_map"],
                    },
                )
                by_segment = engine.query(
                    "churn_segment_periods", identifiers={"members": temp["members"]}
                )
                by_channel = (
                    engine.query(
                        "churn_channel_periods",
                        identifiers={
                            "members": temp["members"],
                            "customer_facts": facts["customer_facts"],
                            "customers": customers,
                        },
                    )
                    if has_customers
                    else None
                )
            finally:
                engine.unregister(temp["cutoffs"])
                engine.unregister(temp["segment_map"])
    parts = [
        _grid(by_segment, cutoffs, dimension="segment", groups=segment_names(rules), as_of=as_of,
              rule=rule)
    ]  # fmt: skip
    if by_channel is not None:
        parts.append(
            _grid(by_channel, cutoffs, dimension="acquisition_channel",
                  groups=_channel_order(by_channel), as_of=as_of, rule=rule)
        )  # fmt: skip
    table = pd.concat(parts, ignore_index=True)
    table.attrs["notes"] = notes
    table.attrs["period"] = period
    log.info(
        "retention by segment: %d %ss from %s to %s, %d rows",
        len(cutoffs), period, cutoffs["period_label"].iloc[0], cutoffs["period_label"].iloc[-1],
        len(table),
    )  # fmt: skip
    return table


# -- the latest period and its changes -------------------------------------------------------
#: Columns of :func:`latest_changes`.
CHANGE_COLUMNS: tuple[str, ...] = (
    "dimension", "dimension_value", "period_label", "base_customers", "retention_rate",
    "retention_lower", "retention_upper", "churn_rate", "previous_label", "previous_rate",
    "change_previous_pp", "change_previous_lower_pp", "change_previous_upper_pp",
    "year_ago_label", "year_ago_rate", "change_year_pp", "masked",
)  # fmt: skip


def latest_changes(trend: pd.DataFrame, *, dimension: str = "segment") -> pd.DataFrame:
    """The latest complete period of one dimension, each group's rate against the previous
    period and a year earlier.

    Transforms :func:`churn_by_segment` (one row per period and group) into one row per group
    of ``dimension`` (its order): the latest complete period's *base_customers*, rates and
    interval, *previous_rate* and *year_ago_rate* (NaN when masked or out of the table), the
    changes in percentage points (*change_previous_pp* with the 95% interval of the
    difference, Newcombe's method 10; *change_year_pp*), and *masked*. Empty when no period
    of ``dimension`` is complete.
    """
    part = trend[(trend["dimension"] == dimension) & trend["is_complete"].astype(bool)]
    columns = list(CHANGE_COLUMNS)
    if part.empty:
        return pd.DataFrame(columns=columns)
    starts = sorted(part["period_start"].unique())
    latest = starts[-1]
    period = str(trend.attrs.get("period", "month"))
    year_start = pd.Timestamp(latest) - (
        pd.Timedelta(weeks=52) if period == "week" else pd.DateOffset(years=1)
    )
    current = part[part["period_start"] == latest].set_index("dimension_value")
    previous = (
        part[part["period_start"] == starts[-2]].set_index("dimension_value")
        if len(starts) > 1
        else None
    )
    year_ago = part[[pd.Timestamp(s) == year_start for s in part["period_start"]]].set_index(
        "dimension_value"
    )
    rows = []
    for group, row in current.iterrows():  # one row per group, not per customer
        before = previous.loc[group] if previous is not None and group in previous.index else None
        year = year_ago.loc[group] if group in year_ago.index else None
        rate = float(row["retention_rate"])
        previous_rate = float(before["retention_rate"]) if before is not None else np.nan
        change_low, change_high = (np.nan, np.nan)
        if before is not None and np.isfinite(rate) and np.isfinite(previous_rate):
            change_low, change_high = newcombe_difference(
                float(row["retained_customers"]), float(row["base_customers"]),
                float(before["retained_customers"]), float(before["base_customers"]),
            )  # fmt: skip
        year_rate = float(year["retention_rate"]) if year is not None else np.nan
        rows.append(
            {
                "dimension": dimension,
                "dimension_value": str(group),
                "period_label": str(row["period_label"]),
                "base_customers": int(row["base_customers"]),
                "retention_rate": rate,
                "retention_lower": float(row["retention_lower"]),
                "retention_upper": float(row["retention_upper"]),
                "churn_rate": float(row["churn_rate"]),
                "previous_label": str(before["period_label"]) if before is not None else "",
                "previous_rate": previous_rate,
                "change_previous_pp": 100 * (rate - previous_rate),
                "change_previous_lower_pp": 100 * change_low,
                "change_previous_upper_pp": 100 * change_high,
                "year_ago_label": str(year["period_label"]) if year is not None else "",
                "year_ago_rate": year_rate,
                "change_year_pp": 100 * (rate - year_rate),
                "masked": bool(row["masked"]),
            }
        )
    return pd.DataFrame(rows, columns=columns)
