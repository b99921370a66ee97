"""Time to second order computed in SQL: one censoring-aware duration per customer."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlib.checks import require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine, quote_identifier
from crmlib.facts import purchase_facts
from crmlib.periods import as_date, check_period, period_spine, to_periods

__all__ = ["UNKNOWN_GROUP", "second_order_durations"]

log = logging.getLogger(__name__)


#: Group value of customers without a customers row or with a null group column.
UNKNOWN_GROUP = "(unknown)"

_NO_CUSTOMERS = "(SELECT CAST(NULL AS VARCHAR) AS customer_id WHERE FALSE)"


def second_order_durations(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    group_cols: Sequence[str] = ("acquisition_channel",),
    period: str = DEFAULTS.cohorts.period,
    transactions: str = "transactions",
    customers: str = "customers",
) -> pd.DataFrame:
    """Days from each customer's first order to the second, or to ``as_of_date`` if none yet.

    Transforms *transactions* (one row per netted order or unmatched refund) and, when
    registered, *customers* (one row per customer) into one row per customer with a purchase
    on or before ``as_of_date``: *customer_id, first_order_date, second_order_date,
    duration_days, event, followup_days, cohort_start, cohort_label* and the ``group_cols``.

    Definitions:

    - only purchases (``is_purchase``) count: cancelled orders and refund rows are ignored;
    - the **second order** is the first purchase on a later calendar day than the first
      purchase. Further orders on the first day (split baskets, retried payments) do not make
      a repeat customer, so every event has ``duration_days >= 1``. (This differs from the
      ``repeat_purchase_rate`` of :func:`crmlib.kpis.kpis_by_period`, which counts orders.)
    - ``event`` is True when the second order happened on or before ``as_of_date``; then
      ``duration_days`` = its date - the first order's date, in days. Otherwise the customer
      is right-censored: ``duration_days`` = ``as_of_date`` - first order date (an order
      after ``as_of_date`` is not seen);
    - ``followup_days`` = ``as_of_date`` - first order date, whatever happened;
    - ``cohort_start``/``cohort_label``: the first order's ``period`` (``2025-03``);
    - group columns come from ``customers``; a customer without a customers row, or with a
      null value, is ``"(unknown)"``, as is everyone when there is no customers table.

    One query over the shared purchase facts (:func:`crmlib.facts.purchase_facts`): the first
    and second purchase days of each customer's whole history are those of any earlier
    ``as_of_date``, so ``customer_facts`` answers every end date.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered; ``customers`` is optional.
    as_of_date : date or str
        Last day observed (inclusive).
    group_cols : sequence of str, default ("acquisition_channel",)
        Columns of ``customers`` to carry (as strings).
    period : {"week", "month", "quarter"}, default ``cohorts.period``
        Period of the acquisition cohort.
    transactions, customers : str
        View names.

    Returns
    -------
    pd.DataFrame
        One row per customer, oldest first order first.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing from ``transactions`` or ``customers``.
    """
    check_period(period)
    as_of = as_date(as_of_date)
    group_cols = list(group_cols)
    if engine.has_table(customers):
        require_view(engine, customers, ("customer_id", *group_cols), producer="01_ingest")
        customers_view = customers
        selects = [
            f"coalesce(CAST(c.{quote_identifier(col)} AS VARCHAR), '{UNKNOWN_GROUP}') "
            f"AS {quote_identifier(col)}"
            for col in group_cols
        ]
    else:
        log.info("no %s table: every group column is %r", customers, UNKNOWN_GROUP)
        customers_view = _NO_CUSTOMERS
        selects = [f"'{UNKNOWN_GROUP}' AS {quote_identifier(col)}" for col in group_cols]
    selects = selects or ["NULL AS _no_group"]
    with purchase_facts(engine, transactions=transactions) as facts:
        durations = engine.query(
            "survival_second_order",
            {"as_of": as_of},
            identifiers={
                "customer_facts": facts["customer_facts"],
                "customers": customers_view,
                "group_select": ", ".join(selects),
            },
        ).drop(columns="_no_group", errors="ignore")
    durations["event"] = durations["event"].astype("bool")
    for column in ("first_order_date", "second_order_date"):
        durations[column] = pd.to_datetime(durations[column]).dt.date
    for col in group_cols:
        durations[col] = durations[col].astype("str")
    if durations.empty:
        durations.insert(6, "cohort_start", pd.Series(dtype="object"))
        durations.insert(7, "cohort_label", pd.Series(dtype="str"))
        return durations
    cohorts = to_periods(pd.Series(durations["first_order_date"]), period)
    spine = period_spine(cohorts.min().start_time, cohorts.max().start_time, period=period)
    labels = dict(zip(spine["period_start"], spine["period_label"], strict=True))
    codes, periods = pd.factorize(cohorts)  # a few dozen periods, not one object per row
    period_starts = [p.start_time.date() for p in periods]
    starts = np.asarray(period_starts, dtype=object)[codes]
    period_labels = np.asarray([labels[start] for start in period_starts], dtype=object)
    durations.insert(6, "cohort_start", starts)
    durations.insert(7, "cohort_label", pd.array(period_labels[codes], dtype="str"))
    log.info(
        "%d customers, %d with a second order by %s",
        len(durations),
        int(durations["event"].sum()),
        as_of,
    )
    return durations
