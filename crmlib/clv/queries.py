"""BTYD customer summaries in SQL: frequency, recency, T and monetary value, with lifetimes' semantics.

The buy-till-you-die models (BG/NBD, MBG/NBD, Pareto/NBD) and Gamma-Gamma read one row per
customer: *frequency* (repeat purchases), *recency* (age at the last purchase), *T* (age at the
end of the observation) and *monetary_value* (mean value of the repeat purchases). The tables
here equal ``lifetimes.utils.summary_data_from_transaction_data`` and
``calibration_and_holdout_data`` on the same purchases: frequency, recency and T identical,
monetary values equal to within floating-point rounding (relative 1e-12 for amounts in cents).
All transaction-level work is one SQL pass on the engine over the shared purchase facts, one row
per customer and day (:func:`crmlib.facts.purchase_facts`; ``crmlib/sql/clv_summary.sql``,
``clv_calibration_holdout.sql``).

Definitions (lifetimes' own):

- only purchases (``is_purchase``) count: cancelled orders and refund rows are ignored; the
  amount of a purchase is its net amount (refunds netted in by 01_ingest);
- time is cut into **periods** of the unit: a calendar day for units ``"day"`` and ``"week"``,
  an ISO week (Monday to Sunday, pandas' ``"W"`` = ``"W-SUN"``) for ``"calendar_week"``.
  A customer's purchases in the same period are **merged** into one purchase whose amount is
  their sum (two orders on one day are one transaction);
- **frequency** = periods with a purchase - 1 (the first purchase is not a repeat);
- **recency** = last period - first period, **T** = the observation end's period - first
  period, both in **units**: days for ``"day"``; days / 7 for ``"week"`` (lifetimes'
  ``freq="D", freq_multiplier=7``: periods are days, so recency and T are fractional weeks such
  as 30.43); whole weeks between the Mondays for ``"calendar_week"`` (lifetimes' ``freq="W"``);
- **monetary_value** = mean of the repeat periods' summed amounts; 0 when frequency is 0.
  Zero-spend and negative period totals (possible in a view that is not 01_ingest's, where
  purchases are > 0) stay in the mean, as in lifetimes;
- a customer whose only purchase is on the observation end has frequency 0, recency 0 and
  T = 0 (kept, as lifetimes keeps it);
- days are the calendar days of ``order_ts``: a purchase at any time of ``observation_end``
  counts. lifetimes compares timestamps with the end date's *midnight* (a purchase at 14:00
  on ``calibration_period_end`` falls in its holdout); both agree on day-level timestamps, and
  always when lifetimes is given the end dates as end-of-day timestamps
  (``"2025-06-30 23:59:59.999999"``). Purchases after ``observation_end`` are never seen, even
  in the same calendar week (lifetimes' summary counts them when it is given them);
- the unit of a summary is in ``frame.attrs["unit"]`` (:func:`summary_units`).

The holdout statistics follow ``calibration_and_holdout_data`` exactly, including its
asymmetries: *frequency_holdout* counts the holdout periods with a purchase (all of them: none
is a first purchase), *monetary_value_holdout* is the mean amount per holdout **order** (not
per merged period), 0 without one, and *duration_holdout* is the number of units from the
calibration end's period to the observation end's.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the easy
   way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
.. [2] Davidson-Pilon, C. lifetimes 0.11.3, ``lifetimes/utils.py``:
   ``summary_data_from_transaction_data``, ``calibration_and_holdout_data``.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import as_date

__all__ = [
    "UNITS",
    "UNIT_DAYS",
    "SUMMARY_COLUMNS",
    "CALIBRATION_COLUMNS",
    "customer_summary",
    "calibration_holdout",
    "summary_units",
    "model_summary",
]

log = logging.getLogger(__name__)

#: BTYD time units: ``day``; ``week`` (7 days; recency and T in fractional weeks);
#: ``calendar_week`` (ISO weeks, Monday to Sunday; whole weeks).
UNITS: tuple[str, ...] = ("day", "week", "calendar_week")
#: Days in one unit.
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7, "calendar_week": 7}
#: Columns of :func:`customer_summary` (one row per customer); recency and T in units.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "first_purchase_date",
)  # fmt: skip
#: Columns of :func:`calibration_holdout` (one row per calibration customer).
CALIBRATION_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
    "frequency_holdout", "monetary_value_holdout", "duration_holdout",
)  # fmt: skip

#: Day 0 of the period arithmetic in SQL: a Monday, so that 7-day periods are ISO weeks.
_EPOCH = dt.date(1900, 1, 1)
#: Length of a period in days: a day, except ISO weeks for calendar_week.
_PERIOD_DAYS = {"day": 1, "week": 1, "calendar_week": 7}


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r}: expected one of {UNITS}")
    return unit


def _period_day(day: dt.date, unit: str) -> int:
    """Start of the period holding ``day``, in days since the epoch (as the SQL computes it)."""
    days = (day - _EPOCH).days
    return days - days % _PERIOD_DAYS[unit]


def _unit_params(unit: str) -> dict[str, object]:
    return {
        "epoch": _EPOCH,
        "period_days": _PERIOD_DAYS[unit],
        "unit_days": float(UNIT_DAYS[unit]),
    }


def _typed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Stable dtypes whatever DuckDB returns (e.g. for an empty result)."""
    types = {
        column: "str"
        if column == "customer_id"
        else "datetime64[us]"
        if column.endswith("_date")
        else "int64"
        if column.startswith("frequency")
        else "float64"
        for column in columns
    }
    return frame.astype(types)[list(columns)]


def summary_units(frame: pd.DataFrame) -> str:
    """The time unit of a summary from :func:`customer_summary` or :func:`calibration_holdout`.

    Examples
    --------
    >>> summary = pd.DataFrame({"T": [3.0]})
    >>> summary.attrs["unit"] = "week"
    >>> summary_units(summary)
    'week'
    >>> summary_units(pd.DataFrame({"T": [3.0]}))
    Traceback (most recent call last):
    ...
    ValueError: the summary has no attrs['unit'] (found none): build it with customer_summary or calibration_holdout, or set frame.attrs['unit'] to one of ('day', 'week', 'calendar_week')
    """
    unit = frame.attrs.get("unit")
    if unit not in UNITS:
        found = "none" if unit is None else repr(unit)
        raise ValueError(
            f"the summary has no attrs['unit'] (found {found}): build it with customer_summary "
            f"or calibration_holdout, or set frame.attrs['unit'] to one of {UNITS}"
        )
    return str(unit)


def customer_summary(
    engine: Engine,
    *,
    observation_end: dt.date | str,
    unit: str = "week",
    first_purchase_from: dt.date | str | None = None,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value of every customer at ``observation_end``.

    Transforms *transactions* (one row per netted order or unmatched refund) into one row per
    customer with a purchase on or before ``observation_end``: *customer_id, frequency,
    recency, T, monetary_value, first_purchase_date* (definitions in the module docstring),
    equal to lifetimes' ``summary_data_from_transaction_data(..., monetary_value_col=...)``
    on the same purchases with ``freq="D"`` (unit day), ``freq="D", freq_multiplier=7``
    (week) or ``freq="W"`` (calendar_week). One SQL pass over the purchase facts of
    ``transactions`` (``clv_summary.sql``).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and, in a run, its purchase facts).
    observation_end : date or str
        Last day observed (inclusive); T is measured to it.
    unit : {"week", "day", "calendar_week"}, default "week"
        Time unit of recency and T (see :data:`UNITS`); kept in ``frame.attrs["unit"]``.
    first_purchase_from : date or str, optional
        Keep only customers whose first purchase (ever, up to ``observation_end``) is on or
        after this day, e.g. the start of a data extract, whose earlier customers have a
        truncated history and so a wrong T. None keeps every customer.
    transactions : str
        View name; other than ``"transactions"``, its purchase facts are built for the call
        (:func:`crmlib.facts.purchase_facts`).

    Returns
    -------
    pd.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, by customer_id: ``frequency`` int64, ``recency``,
        ``T`` and ``monetary_value`` float64, ``first_purchase_date`` datetime64 (midnight).
        ``attrs``: ``unit``, ``observation_end`` (ISO date). Empty when nobody purchased.

    Raises
    ------
    StageInputMissing
        ``transactions`` (or its facts) is not registered.
    DataContractError
        A column the facts are built from is missing (:data:`crmlib.facts.SOURCE_COLUMNS`).
    ValueError
        An unknown ``unit``, or ``first_purchase_from`` after ``observation_end``.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:00",
    ...                                 "2024-01-15 10:00", "2024-01-08 12:00"]),
    ...     "amount": [10.0, 5.0, 30.0, 20.0], "gross_amount": [10.0, 5.0, 30.0, 20.0],
    ...     "refund_amount": 0.0, "is_purchase": [True, True, True, True],
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     summary = customer_summary(engine, observation_end="2024-01-29")
    >>> summary[["customer_id", "frequency", "recency", "T", "monetary_value"]]
      customer_id  frequency  recency    T  monetary_value
    0           a          1      2.0  4.0            30.0
    1           b          0      0.0  3.0             0.0
    >>> summary_units(summary)
    'week'
    """
    _check_unit(unit)
    end = as_date(observation_end, name="observation_end")
    first_from = (
        None
        if first_purchase_from is None
        else as_date(first_purchase_from, name="first_purchase_from")
    )
    if first_from is not None and first_from > end:
        raise ValueError(
            f"first_purchase_from={first_from} is after observation_end={end}: no customer "
            "can qualify"
        )
    with purchase_facts(engine, transactions=transactions) as facts:
        summary = engine.query(
            "clv_summary",
            {
                **_unit_params(unit),
                "end_day": end,
                "end_period": _period_day(end, unit),
                "first_from": first_from,
            },
            identifiers=facts,
        )
    summary = _typed(summary, SUMMARY_COLUMNS)
    summary.attrs.update({"unit": unit, "observation_end": end.isoformat()})
    log.info(
        "BTYD summary at %s in %ss: %d customers, %d with a repeat purchase",
        end,
        unit,
        len(summary),
        int((summary["frequency"] > 0).sum()),
    )
    if summary.empty:
        log.warning("no customer has a purchase on or before %s", end)
    return summary


def calibration_holdout(
    engine: Engine,
    *,
    calibration_end: dt.date | str,
    observation_end: dt.date | str,
    unit: str = "week",
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Calibration summary and holdout purchases of every customer acquired by ``calibration_end``.

    Transforms *transactions* (one row per netted order or unmatched refund) into one row per
    customer whose first purchase is on or before ``calibration_end``: the summary of the
    calibration purchases (*frequency_cal, recency_cal, T_cal, monetary_value_cal*, as in
    :func:`customer_summary` at ``calibration_end``) and of the purchases after it up to
    ``observation_end`` (*frequency_holdout, monetary_value_holdout, duration_holdout*; see
    the module docstring). Equal to lifetimes' ``calibration_and_holdout_data(...,
    monetary_value_col=...)`` with the ``freq``/``freq_multiplier`` of :func:`customer_summary`.
    One SQL pass over the purchase facts of ``transactions`` (``clv_calibration_holdout.sql``).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and, in a run, its purchase facts).
    calibration_end : date or str
        Last day of the calibration period (inclusive).
    observation_end : date or str
        Last day of the holdout period (inclusive); after ``calibration_end``.
    unit : {"week", "day", "calendar_week"}, default "week"
        Time unit (see :data:`UNITS`); kept in ``frame.attrs["unit"]``.
    transactions : str
        View name; other than ``"transactions"``, its purchase facts are built for the call
        (:func:`crmlib.facts.purchase_facts`).

    Returns
    -------
    pd.DataFrame
        Columns :data:`CALIBRATION_COLUMNS`, by customer_id: frequencies int64, the rest
        float64. ``attrs``: ``unit``, ``calibration_end``, ``observation_end``, and
        ``holdout_note`` when nobody bought anything in the holdout period (data that ended
        before it: every holdout is zero; lifetimes raises there, the page says so and the
        stage goes on).

    Raises
    ------
    ValueError
        An unknown ``unit``; ``calibration_end`` on or after ``observation_end`` (an empty
        holdout); no customer with a purchase on or before ``calibration_end``.
    StageInputMissing
        ``transactions`` (or its facts) is not registered.
    DataContractError
        A column the facts are built from is missing (:data:`crmlib.facts.SOURCE_COLUMNS`).

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-10", "2024-01-02"]),
    ...     "amount": [10.0, 20.0, 30.0, 5.0], "gross_amount": [10.0, 20.0, 30.0, 5.0],
    ...     "refund_amount": 0.0, "is_purchase": [True, True, True, True],
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     split = calibration_holdout(
    ...         engine, calibration_end="2024-01-07", observation_end="2024-01-14", unit="day"
    ...     )
    >>> split[["customer_id", "frequency_cal", "T_cal", "frequency_holdout", "duration_holdout"]]
      customer_id  frequency_cal  T_cal  frequency_holdout  duration_holdout
    0           a              1    6.0                  1               7.0
    1           b              0    5.0                  0               7.0
    """
    _check_unit(unit)
    calibration = as_date(calibration_end, name="calibration_end")
    end = as_date(observation_end, name="observation_end")
    if calibration >= end:
        raise ValueError(
            f"calibration_end={calibration} is not before observation_end={end}: the holdout "
            "period would be empty; choose a calibration_end before observation_end"
        )
    with purchase_facts(engine, transactions=transactions) as facts:
        split = engine.query(
            "clv_calibration_holdout",
            {
                **_unit_params(unit),
                "calibration_end": calibration,
                "end_day": end,
                "calibration_period": _period_day(calibration, unit),
                "end_period": _period_day(end, unit),
            },
            identifiers=facts,
        )
        split = _typed(split, CALIBRATION_COLUMNS)
        if split.empty:
            raise ValueError(
                f"no customer has a purchase on or before calibration_end={calibration}: choose "
                "a later calibration_end"
            )
        if split["frequency_holdout"].sum() == 0:
            holdout_purchases = engine.scalar(
                f"SELECT coalesce(sum(purchases), 0) FROM {facts['customer_days']} "
                "WHERE day > $calibration_end AND day <= $end_day",
                {"calibration_end": calibration, "end_day": end},
            )
            if not holdout_purchases:  # data that ended: said on the page, the stage goes on
                split.attrs["holdout_note"] = (
                    f"Nobody bought anything after {calibration.isoformat()} (to "
                    f"{end.isoformat()}): every model is judged against a holdout of zeros, so "
                    "the comparison says little; check as_of_date against the data's last purchase."
                )
                log.warning("no purchase in the holdout %s to %s", calibration, end)
            else:
                log.warning(
                    "no calibration customer purchased in the holdout (%d purchases by new "
                    "customers)",
                    holdout_purchases,
                )
    split.attrs.update(
        {
            "unit": unit,
            "calibration_end": calibration.isoformat(),
            "observation_end": end.isoformat(),
        }
    )
    log.info(
        "BTYD calibration to %s, holdout to %s in %ss: %d customers, %d repeat in the "
        "calibration, %d buying in the holdout",
        calibration,
        end,
        unit,
        len(split),
        int((split["frequency_cal"] > 0).sum()),
        int((split["frequency_holdout"] > 0).sum()),
    )
    return split


_CAL_NAMES = {
    "frequency_cal": "frequency",
    "recency_cal": "recency",
    "T_cal": "T",
    "monetary_value_cal": "monetary_value",
}


def model_summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """The calibration columns of :func:`crmlib.clv.calibration_holdout` under lifetimes' names.

    One row per customer: customer_id, frequency, recency, T, monetary_value (the calibration
    period only), with the frame's ``attrs`` (unit, dates) kept, so the models fit on it.
    """
    missing = [name for name in ("customer_id", *_CAL_NAMES) if name not in calibration.columns]
    if missing:
        raise ValueError(
            f"calibration summary: column '{missing[0]}' is missing; expected the output of "
            "crmlib.clv.calibration_holdout"
        )
    summary = calibration[["customer_id", *_CAL_NAMES]].rename(columns=_CAL_NAMES)
    summary.attrs = dict(calibration.attrs)
    return summary
