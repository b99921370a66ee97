"""Periods, KPI column names and small helpers shared by the retention KPI modules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PERIODS",
    "MESSAGING_CHANNELS",
    "KPI_COLUMNS",
    "KPI_RATES",
    "ENGAGEMENT_COLUMNS",
    "period_spine",
    "last_periods",
]

PERIODS: tuple[str, ...] = ("week", "month", "quarter")
MESSAGING_CHANNELS: tuple[str, ...] = ("email", "sms", "push")

_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q-DEC"}

KPI_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete",
    "active_customers", "new_customers", "returning_customers", "reactivated_customers",
    "retention_rate", "churn_rate", "repeat_purchase_rate",
    "orders", "orders_per_customer", "aov", "revenue", "gross_revenue", "refunds", "revenue_per_active",
)  # fmt: skip
#: Columns of :func:`channel_engagement`.
ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete", "channel",
    "sends", "customers_sent", "opened", "clicked", "unsubscribed", "conversions",
    "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "conversion_rate",
    "conversion_window_days", "conversion_window_complete",
)  # fmt: skip
#: The KPI columns that are shares in [0, 1] (or null).
KPI_RATES: tuple[str, ...] = ("retention_rate", "churn_rate", "repeat_purchase_rate")


# -- inputs and periods ----------------------------------------------------------------------
def _as_date(value: dt.date | str) -> dt.date:
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of_date={value!r}: expected a date such as '2025-12-31'") from exc


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period={period!r}: expected one of {PERIODS}")
    return period


def period_spine(
    first: dt.date | str, last: dt.date | str, *, period: str = "month"
) -> pd.DataFrame:
    """Every period from the one containing ``first`` to the one containing ``last``.

    Weeks are ISO weeks (Monday to Sunday) labelled ``2025-W10`` by ISO year and week;
    months ``2025-03``; quarters ``2025-Q1``.

    Parameters
    ----------
    first, last : date or str
        Any day of the first and of the last period.
    period : {"week", "month", "quarter"}, default "month"

    Returns
    -------
    pd.DataFrame
        One row per period, in order: *period_start, period_end* (dates, end inclusive),
        *period_label*.

    Examples
    --------
    >>> period_spine("2024-12-30", "2025-01-06", period="week")["period_label"].tolist()
    ['2025-W01', '2025-W02']
    """
    freq = _FREQ[_check_period(period)]
    periods = pd.period_range(
        pd.Timestamp(_as_date(first)), pd.Timestamp(_as_date(last)), freq=freq
    )
    starts = periods.start_time
    if period == "week":
        iso = starts.isocalendar()
        labels = [f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"], strict=True)]
    elif period == "quarter":
        labels = [f"{p.year}-Q{p.quarter}" for p in periods]
    else:
        labels = list(periods.strftime("%Y-%m"))
    return pd.DataFrame(
        {
            "period_start": [t.date() for t in starts],
            "period_end": [t.date() for t in periods.end_time.normalize()],
            "period_label": pd.array(labels, dtype="str"),
        }
    )


def _periods(first: dt.date, last: dt.date, period: str) -> pd.PeriodIndex:
    return pd.period_range(pd.Timestamp(first), pd.Timestamp(last), freq=_FREQ[period])


def _to_periods(starts: pd.Series, period: str) -> pd.PeriodIndex:
    return pd.DatetimeIndex(pd.to_datetime(starts)).to_period(_FREQ[period])


def _infer_period(table: pd.DataFrame) -> str:
    days = (
        pd.to_datetime(table["period_end"]) - pd.to_datetime(table["period_start"])
    ).dt.days.max()
    return "week" if days <= 6 else "month" if days <= 30 else "quarter"


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as float, null where the denominator is 0 or null."""
    den = denominator.astype("float64")
    return (numerator.astype("float64") / den.where(den != 0)).astype("float64")


def last_periods(table: pd.DataFrame | None, n: int) -> pd.DataFrame | None:
    """The rows of the last ``n`` periods of a per-period table (``None`` passes through).

    Works on any table with a ``period_start`` column, one or several rows per period.
    """
    if table is None or table.empty:
        return table
    keep = sorted(table["period_start"].unique())[-n:]
    return table[table["period_start"].isin(keep)].reset_index(drop=True)


def _plain(value: Any) -> Any:
    if value is None or pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _complete(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis[kpis["is_complete"]]
