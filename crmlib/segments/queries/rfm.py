"""RFM in SQL: recency, frequency and net monetary value per customer, then scores and segments.

Definitions (``as_of_date`` is the last day observed; everything before
``exclusive_end(as_of_date)`` is covered):

- the **customers** are everyone with at least one purchase (``is_purchase``) on or before
  ``as_of_date``, ever: lapsed customers with nothing in the window are kept;
- **recency_days** = ``as_of_date`` - the calendar day of the last purchase (0 = bought on
  ``as_of_date``); **tenure_days** the same from the first purchase;
- the **window** is (``as_of_date`` - ``window_days``, ``as_of_date``], i.e.
  ``exclusive_end(as_of_date - window_days) <= order_ts < exclusive_end(as_of_date)``;
- **frequency** = purchase orders in the window (cancelled orders and refund rows do not
  count); **monetary** = net sum of ``amount`` over every row in the window, refunds included
  (0 or negative for a customer whose window holds only refunds or cancellations), rounded
  to cents like the canonical amounts so that equal spend always compares equal (a parallel
  sum adds in any order).

The features are one GROUP BY over the shared purchase facts (:mod:`crmlib.facts`: one row per
customer and calendar day, integer customer keys), not over the transactions: every window
starts and ends at a midnight, so the days hold exactly the rows a scan of the transactions
would read. The scores and segments of :func:`rfm_table` are computed on the result
(:mod:`crmlib.segments.models.rfm`, :mod:`crmlib.segments.models.rules`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import pandas as pd

from crmlib.checks import positive_days
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import as_date
from crmlib.segments.models.rfm import FEATURE_COLUMNS, RFM_COLUMNS, _check_bins, rfm_scores
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    SegmentRule,
    assign_segments,
    validate_rules,
)

__all__ = [
    "rfm_features",
    "rfm_table",
]

log = logging.getLogger(__name__)


def _window_params(as_of: dt.date, window_days: int) -> dict[str, object]:
    end_day = as_of + dt.timedelta(days=1)
    return {
        "as_of": as_of,
        "end_day": end_day,
        "window_start": end_day - dt.timedelta(days=window_days),
    }


def _feature_types(features: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes whatever DuckDB returns (e.g. for an empty result)."""
    types = {
        column: "str"
        if column == "customer_id"
        else "datetime64[us]"
        if column.endswith("_date")
        else "float64"
        if column == "monetary"
        else "int64"
        for column in FEATURE_COLUMNS
    }
    return features.astype(types)[list(FEATURE_COLUMNS)]


def rfm_features(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = DEFAULTS.segments.window_days,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Recency, frequency and net monetary value of every customer at ``as_of_date``.

    Transforms *transactions* (one row per netted order or unmatched refund) into one row
    per customer with at least one purchase on or before ``as_of_date`` (ever, so lapsed
    customers appear with frequency 0): *customer_id, last_order_date, recency_days,
    frequency, monetary, first_order_date, tenure_days* (definitions in the module
    docstring). One SQL pass on the engine (``segments_rfm_features.sql``) over the purchase
    facts of ``transactions`` (:func:`crmlib.facts.purchase_facts`: the run's artifacts, or
    built for this call from another relation).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and, in a run, its ``customer_days`` and
        ``customer_facts``).
    as_of_date : date or str
        Last day observed (inclusive).
    window_days : int, default ``segments.window_days``
        Length of the frequency / monetary window, in days, ending on ``as_of_date``.
    transactions : str
        View name.

    Returns
    -------
    pd.DataFrame
        Columns :data:`FEATURE_COLUMNS`, by customer_id. Dates are datetime64 at midnight;
        ``recency_days``, ``frequency``, ``tenure_days`` int64; ``monetary`` float64.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered (and its purchase facts are not).
    DataContractError
        A column the purchase facts are built from is missing.
    """
    as_of = as_date(as_of_date)
    window_days = positive_days("window_days", window_days)
    with purchase_facts(engine, transactions=transactions) as facts:
        features = engine.query(
            "segments_rfm_features", _window_params(as_of, window_days), identifiers=facts
        )
    features = _feature_types(features)
    log.info(
        "RFM features at %s: %d customers, %d with a purchase in the last %d days",
        as_of,
        len(features),
        int((features["frequency"] > 0).sum()),
        window_days,
    )
    return features


def rfm_table(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = DEFAULTS.segments.window_days,
    bins: int = DEFAULTS.segments.bins,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Features, scores and named segment of every customer at ``as_of_date``.

    Transforms *transactions* into one row per customer with a purchase on or before
    ``as_of_date``: :func:`rfm_features`, then :func:`rfm_scores`, then
    :func:`crmlib.segments.models.rules.assign_segments` with ``rules``.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered.
    as_of_date : date or str
        Last day observed (inclusive).
    window_days : int, default ``segments.window_days``
        Frequency / monetary window in days.
    bins : int, default ``segments.bins``
        Score bins; the default rules need 5.
    rules : sequence of SegmentRule, default DEFAULT_SEGMENT_RULES
        A partition of the ``bins**3`` score grid, most valuable first.
    transactions : str
        View name.

    Returns
    -------
    pd.DataFrame
        Columns :data:`RFM_COLUMNS`, by customer_id.

    Raises
    ------
    ValueError
        Bad rules (checked before any query runs).
    """
    bins = _check_bins(bins)
    rules = tuple(rules)
    validate_rules(rules, bins=bins)
    features = rfm_features(
        engine, as_of_date=as_of_date, window_days=window_days, transactions=transactions
    )
    table = assign_segments(rfm_scores(features, bins=bins), rules, bins=bins)
    return table if list(table.columns) == list(RFM_COLUMNS) else table[list(RFM_COLUMNS)]
