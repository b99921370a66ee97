"""Dates, reporting periods and safe ratios shared by every stage.

Weeks are ISO weeks (Monday to Sunday), months and quarters calendar ones. A stage covers every
timestamp before :func:`exclusive_end` of its ``as_of_date``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = [
    "PERIODS",
    "as_date",
    "check_period",
    "exclusive_end",
    "period_index",
    "period_spine",
    "safe_ratio",
    "to_periods",
]

#: Reporting periods every stage accepts.
PERIODS: tuple[str, ...] = ("week", "month", "quarter")

_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q-DEC"}


def as_date(value: dt.date | str, *, name: str = "as_of_date") -> dt.date:
    """``value`` as a date; a clear ValueError naming the option (``name``) when it is not one.

    Examples
    --------
    >>> as_date("2025-12-31")
    datetime.date(2025, 12, 31)
    >>> as_date("soon", name="cutoff")
    Traceback (most recent call last):
    ValueError: cutoff='soon': expected a date such as '2025-12-31'
    """
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r}: expected a date such as '2025-12-31'") from exc


def check_period(period: str) -> str:
    """``period`` when it is one of :data:`PERIODS`, else a ValueError listing them."""
    if period not in PERIODS:
        raise ValueError(f"period={period!r}: expected one of {PERIODS}")
    return period


def exclusive_end(as_of_date: dt.date) -> dt.datetime:
    """The exclusive upper bound of the timestamps covered: midnight after ``as_of_date``.

    Examples
    --------
    >>> exclusive_end(dt.date(2025, 12, 31))
    datetime.datetime(2026, 1, 1, 0, 0)
    """
    return dt.datetime.combine(as_of_date + dt.timedelta(days=1), dt.time())


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
    freq = _FREQ[check_period(period)]
    periods = pd.period_range(pd.Timestamp(as_date(first)), pd.Timestamp(as_date(last)), freq=freq)
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


def period_index(first: dt.date, last: dt.date, period: str) -> pd.PeriodIndex:
    """The pandas periods from the one containing ``first`` to the one containing ``last``."""
    return pd.period_range(pd.Timestamp(first), pd.Timestamp(last), freq=_FREQ[period])


def to_periods(starts: pd.Series, period: str) -> pd.PeriodIndex:
    """The pandas period containing each date of ``starts``."""
    return pd.DatetimeIndex(pd.to_datetime(starts)).to_period(_FREQ[period])


def safe_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as float, null where the denominator is 0 or null.

    Examples
    --------
    >>> safe_ratio(pd.Series([1, 2]), pd.Series([4, 0])).tolist()
    [0.25, nan]
    """
    den = denominator.astype("float64")
    return (numerator.astype("float64") / den.where(den != 0)).astype("float64")
