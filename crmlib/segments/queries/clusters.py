"""Behaviour features for the clusters: one row per customer, in one SQL query.

The clusters are fitted on them by :mod:`crmlib.segments.models.clusters`.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from crmlib.checks import require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import as_date
from crmlib.segments.models.clusters import BEHAVIOUR_FEATURES

__all__ = [
    "behaviour_features",
]

log = logging.getLogger(__name__)


_NO_EVENTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS event_ts, "
    "CAST(NULL AS VARCHAR) AS event_type WHERE FALSE)"
)


def behaviour_features(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int = DEFAULTS.segments.window_days,
    engagement_days: int = 90,
    transactions: str = "transactions",
    events: str = "events",
) -> pd.DataFrame:
    """Per-customer behaviour for clustering, in one query (``crmlib/sql/segments_behaviour.sql``).

    Transforms *transactions* (one row per netted order or unmatched refund) and, when
    registered, *events* (one row per messaging event) into one row per customer with at least
    one purchase (``is_purchase``) on or before ``as_of_date``, ordered by customer_id:

    - *recency_days*: ``as_of_date`` - the calendar day of the last purchase;
    - *frequency*: distinct purchase orders in the window (the canonical table holds one row
      per order, so this counts purchase rows);
    - *monetary*: net amount in the window, every row (purchases, cancelled orders, returns),
      so it can be 0 or negative;
    - *tenure_days*: ``as_of_date`` - the calendar day of the first purchase;
    - *category_diversity*: distinct non-null categories of the purchases in the window (0
      when none, or when every category is null);
    - *engagement*: (open + click events) / sent events over the engagement window; each open
      and click counts, so it can exceed 1; 0 for a customer with no send in the window.

    The window is the ``window_days`` calendar days ending on ``as_of_date`` (``as_of_date -
    window_days + 1`` to ``as_of_date``), the engagement window likewise ``engagement_days``.
    Without an ``events`` table engagement is 0 for everyone (a warning is logged; the
    constant column is then left out of the clusters by :func:`prepare_features`).

    Recency, frequency, monetary and tenure come from the purchase facts of ``transactions``
    (:func:`crmlib.facts.purchase_facts`: one row per customer and day, the run's artifacts or
    built for this call); only the categories are read from the transactions themselves.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and, in a run, its ``customer_days`` and
        ``customer_facts``); ``events`` is optional.
    as_of_date : date or str
        Last day covered (inclusive).
    window_days : int, default ``segments.window_days``
        Length of the frequency / monetary / category window.
    engagement_days : int, default 90
        Length of the engagement window.
    transactions, events : str
        View names.

    Returns
    -------
    pd.DataFrame
        *customer_id* and :data:`BEHAVIOUR_FEATURES`, one row per customer.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing from ``transactions`` or ``events``.
    """
    as_of = as_date(as_of_date)
    for name, value in (("window_days", window_days), ("engagement_days", engagement_days)):
        if int(value) < 1:
            raise ValueError(f"{name}={value!r}: expected a whole number of days >= 1")
    require_view(
        engine,
        transactions,
        ("customer_id", "order_ts", "is_purchase", "category"),
        producer="01_ingest",
    )
    if engine.has_table(events):
        require_view(
            engine, events, ("customer_id", "event_ts", "event_type"), producer="01_ingest"
        )
        events_view = events
    else:
        log.warning(
            "no %s table: engagement is 0 for every customer and is left out of the clusters",
            events,
        )
        events_view = _NO_EVENTS
    end_day = as_of + dt.timedelta(days=1)
    with purchase_facts(engine, transactions=transactions) as facts:
        features = engine.query(
            "segments_behaviour",
            {
                "as_of": as_of,
                "end_day": end_day,
                "window_start": end_day - dt.timedelta(days=int(window_days)),
                "engagement_start": end_day - dt.timedelta(days=int(engagement_days)),
            },
            identifiers={**facts, "transactions": transactions, "events": events_view},
        )
    features = features.astype(
        {
            "customer_id": "str",
            "recency_days": "int64",
            "frequency": "int64",
            "monetary": "float64",
            "tenure_days": "int64",
            "category_diversity": "int64",
            "engagement": "float64",
        }
    )
    log.info("behaviour features of %d customers as of %s", len(features), as_of)
    return features[["customer_id", *BEHAVIOUR_FEATURES]]
