"""Churn queries: the feature tables at the cutoffs, one row per active customer, in SQL.

:func:`churn_features` builds the table at one cutoff on the engine; :func:`churn_cutoffs`
places the three cutoffs of 06_churn and :func:`churn_tables` reads the table at each.

Definitions (the ``cutoff`` date is inclusive, like ``as_of_date``; "before the cutoff" means
``order_ts < cutoff + 1 day``, :func:`crmlib.periods.exclusive_end`):

- a customer is **active** at the cutoff with at least one purchase (``is_purchase``) in the
  ``lookback_days`` days up to the end of the cutoff day
  (``cutoff + 1 day - lookback_days <= order_ts < cutoff + 1 day``); only active customers get
  a row, so ``recency_days <= lookback_days - 1``;
- the **label** window is ``cutoff + 1 day <= order_ts < cutoff + 1 day + horizon_days``;
  ``churned`` is True when the customer made no purchase in it;
- **features** read nothing dated after the cutoff day (only ``churned`` reads the label
  window):

  - ``recency_days`` / ``tenure_days``: days from the last / first purchase day to the cutoff
    day (0 = bought on the cutoff day);
  - ``orders_{N}d``: purchase orders in the last N days up to the cutoff (two orders on one day
    are two); ``spend_{N}d``: net ``amount`` of every row there (purchases, cancelled orders at
    0, unmatched refunds negative), rounded to cents; ``orders_total`` / ``spend_total`` the same
    over all history before the cutoff;
  - ``mean_gap_days`` / ``sd_gap_days``: mean and sample standard deviation of the days between
    consecutive distinct purchase days (all history; NaN with fewer than 2 resp. 3 purchase
    days); ``recency_gap_ratio`` = ``recency_days / mean_gap_days`` (NaN when the mean is NaN
    or 0);
  - ``orders_trend_90d`` / ``spend_trend_90d``: the last 90 days minus the 90 days before;
  - ``return_share``: sum of ``|refund_amount|`` / sum of ``gross_amount`` over every row in the
    lookback window (0 when the gross is 0; above 1 only through unmatched refunds);
  - ``category_count``: distinct non-null categories of the purchases in the lookback window;
  - ``age_years`` = cutoff year - ``birth_year`` (NaN unknown, or outside 0-120 like
    :func:`crmlib.segments.age_bands`); ``email_opt_in``, ``sms_opt_in``, ``push_opt_in`` 1.0 /
    0.0 (NaN unknown);
  - ``sends_{E}d``, ``opens_{E}d``, ``clicks_{E}d``, ``unsubscribes_{E}d``: events of type sent,
    open, click, unsubscribe (every channel) in the last E days; ``open_rate_90d`` = opens /
    sends over the last 90 days (NaN without a send); ``unsubscribed_ever`` 1.0 / 0.0; a
    customer without events counts 0;
  - categorical ``acquisition_channel``, ``region``, ``loyalty_tier`` (the customers row) and
    ``age_band`` (:func:`crmlib.segments.age_bands` at the cutoff); ``"(unknown)"`` when missing.

Without a customers (events) table the columns that depend on it are NaN / ``"(unknown)"`` and
``frame.attrs["notes"]`` says so. Refunds matched to an order are netted into the order's row
by 01_ingest, whatever the refund's date: a refund booked after the cutoff already lowers the
order's ``amount`` (and a full one makes it a cancellation). The canonical table has no refund
date, so this is the one way later information reaches the features.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crmlib.checks import positive_days, require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine, quote_identifier
from crmlib.errors import DataContractError
from crmlib.facts import purchase_facts
from crmlib.periods import as_date, exclusive_end
from crmlib.segments import UNKNOWN_VALUE, age_bands

__all__ = [
    "CATEGORICAL_FEATURES",
    "numeric_features",
    "churn_features",
    "active_customers_count",
    "ChurnCutoffs",
    "churn_cutoffs",
    "ChurnTables",
    "churn_tables",
]

log = logging.getLogger(__name__)

#: Categorical features of :func:`churn_features` (str, ``"(unknown)"`` when missing).
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "acquisition_channel",
    "region",
    "age_band",
    "loyalty_tier",
)

_TRANSACTION_COLUMNS = (
    "customer_id", "order_ts", "amount", "gross_amount", "refund_amount", "category",
    "is_purchase",
)  # fmt: skip

_CUSTOMER_COLUMNS = (
    "customer_id", "acquisition_channel", "region", "birth_year", "email_opt_in", "sms_opt_in",
    "push_opt_in", "loyalty_tier",
)  # fmt: skip

_EVENT_COLUMNS = ("customer_id", "event_ts", "event_type")

#: Engagement counts per window: column prefix -> event_type.
_EVENT_TYPES = {"sends": "sent", "opens": "open", "clicks": "click", "unsubscribes": "unsubscribe"}

_CUSTOMER_NUMERIC = ("age_years", "email_opt_in", "sms_opt_in", "push_opt_in")

#: Empty relations standing in for a missing events / customers table.
_NO_EVENTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS event_ts, "
    "CAST(NULL AS VARCHAR) AS event_type WHERE FALSE)"
)

_NO_CUSTOMERS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS VARCHAR) AS acquisition_channel, "
    "CAST(NULL AS VARCHAR) AS region, CAST(NULL AS BIGINT) AS birth_year, "
    "CAST(NULL AS BOOLEAN) AS email_opt_in, CAST(NULL AS BOOLEAN) AS sms_opt_in, "
    "CAST(NULL AS BOOLEAN) AS push_opt_in, CAST(NULL AS VARCHAR) AS loyalty_tier WHERE FALSE)"
)

_TREND_DAYS = 90

_RATE_DAYS = 90


def _check_windows(name: str, windows: Sequence[int]) -> tuple[int, ...]:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
        raise ValueError(f"{name}={windows!r}: expected a sequence of whole numbers of days")
    days = tuple(positive_days(name, w) for w in windows)
    if len(set(days)) != len(days):
        raise ValueError(f"{name}={windows!r}: expected distinct windows, got a repeat")
    return days


def numeric_features(
    windows_days: Sequence[int] = tuple(DEFAULTS.churn.windows_days),
    engagement_windows_days: Sequence[int] = tuple(DEFAULTS.churn.engagement_windows_days),
) -> tuple[str, ...]:
    """The numeric feature columns of :func:`churn_features`, in order, for these windows.

    Parameters
    ----------
    windows_days : sequence of int, default ``churn.windows_days``
        Windows of ``orders_{N}d`` and ``spend_{N}d``.
    engagement_windows_days : sequence of int, default ``churn.engagement_windows_days``
        Windows of ``sends_{E}d``, ``opens_{E}d``, ``clicks_{E}d``, ``unsubscribes_{E}d``.

    Returns
    -------
    tuple of str
        Column names, all float64 in the feature table.

    Examples
    --------
    >>> numeric_features((30,), (7,))[:6]
    ('recency_days', 'tenure_days', 'orders_30d', 'spend_30d', 'orders_total', 'spend_total')
    >>> len(numeric_features())
    31
    """
    windows = _check_windows("windows_days", windows_days)
    engagement = _check_windows("engagement_windows_days", engagement_windows_days)
    return (
        "recency_days",
        "tenure_days",
        *(f"orders_{w}d" for w in windows),
        *(f"spend_{w}d" for w in windows),
        "orders_total",
        "spend_total",
        "mean_gap_days",
        "sd_gap_days",
        "recency_gap_ratio",
        "orders_trend_90d",
        "spend_trend_90d",
        "return_share",
        "category_count",
        *_CUSTOMER_NUMERIC,
        *(f"{kind}_{e}d" for e in engagement for kind in _EVENT_TYPES),
        "open_rate_90d",
        "unsubscribed_ever",
    )


def _event_columns(engagement: tuple[int, ...]) -> tuple[str, ...]:
    return (
        *(f"{kind}_{e}d" for e in engagement for kind in _EVENT_TYPES),
        "open_rate_90d",
        "unsubscribed_ever",
    )


#: Money summed exactly before rounding to cents (ingest keeps amounts to the millionth).
_EXACT_AMOUNT = "CAST(amount AS DECIMAL(18, 6))"


def _window_sql(windows: tuple[int, ...]) -> str:
    """Conditional aggregates per window (windows are checked integers; values stay bound)."""
    return "".join(
        f"CAST(sum(CASE WHEN day >= $start_{w}d THEN purchases ELSE 0 END) "
        f"AS DOUBLE) AS orders_{w}d,\n        "
        f"CAST(round(sum(CASE WHEN day >= $start_{w}d THEN {_EXACT_AMOUNT} ELSE 0 END), 2) "
        f"AS DOUBLE) AS spend_{w}d,\n        "
        for w in windows
    )


def _engagement_sql(engagement: tuple[int, ...]) -> dict[str, str]:
    """Event counts per window and the select list that carries them to the result."""
    counts = [
        (f"{kind}_{e}d", event_type, e)
        for e in engagement
        for kind, event_type in _EVENT_TYPES.items()
    ]
    return {
        "engagement_aggregates": "".join(
            f"CAST(sum(CASE WHEN event_type = '{event_type}' AND event_ts >= $engagement_{e}d "
            f"THEN 1 ELSE 0 END) AS DOUBLE) AS {column},\n        "
            for column, event_type, e in counts
        ),
        "engagement_columns": "".join(f"e.{column},\n    " for column, _, _ in counts),
    }


def _params(
    cutoff: dt.date,
    *,
    lookback_days: int,
    horizon_days: int,
    windows: tuple[int, ...],
    engagement: tuple[int, ...],
) -> dict[str, object]:
    end_ts = exclusive_end(cutoff)
    params: dict[str, object] = {
        "cutoff": cutoff,
        "end_ts": end_ts,
        "lookback_start": end_ts - dt.timedelta(days=lookback_days),
        "trend_split": end_ts - dt.timedelta(days=_TREND_DAYS),
        "trend_start": end_ts - dt.timedelta(days=2 * _TREND_DAYS),
        "label_end": end_ts + dt.timedelta(days=horizon_days),
        "rate_start": end_ts - dt.timedelta(days=_RATE_DAYS),
    }
    params.update({f"start_{w}d": end_ts - dt.timedelta(days=w) for w in windows})
    params.update({f"engagement_{e}d": end_ts - dt.timedelta(days=e) for e in engagement})
    return params


def _check_label_window(
    cutoff: dt.date, *, horizon_days: int, observed_until: dt.date | str | None
) -> None:
    first, last = cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=horizon_days)
    window = (
        f"the label window {first.isoformat()} to {last.isoformat()} (horizon_days={horizon_days})"
    )
    if observed_until is None:
        raise ValueError(
            f"with_label=True needs observed_until (the last day of data, inclusive) to check "
            f"that {window} is fully observed; pass it, or with_label=False"
        )
    until = as_date(observed_until, name="observed_until")
    if last > until:
        latest = until - dt.timedelta(days=horizon_days)
        raise ValueError(
            f"{window} is not fully observed: data exists until {until.isoformat()}; use a "
            f"cutoff on or before {latest.isoformat()} or with_label=False"
        )


def _as_labels(values: pd.Series) -> pd.Series:
    """Stripped text (dtype str); null or blank is ``"(unknown)"``."""
    text = values.astype("str").str.strip()
    return text.mask(text.isna() | (text == ""), UNKNOWN_VALUE)


def _empty_note(
    engine: Engine, *, cutoff: dt.date, lookback_days: int, params: dict[str, object], view: str
) -> str:
    span = engine.query("churn_purchase_span", params, identifiers={"transactions": view})
    first, last = span["first_purchase_ts"].iloc[0], span["last_before_end_ts"].iloc[0]
    if pd.isna(first):
        return f"no active customer: {view} holds no purchase (is_purchase) at all"
    if pd.isna(last):
        return (
            f"no active customer: cutoff {cutoff.isoformat()} is before the first purchase in "
            f"{view} ({pd.Timestamp(first).date().isoformat()})"
        )
    return (
        f"no active customer: nobody made a purchase in the {lookback_days} days up to "
        f"{cutoff.isoformat()}; the last purchase before it is on "
        f"{pd.Timestamp(last).date().isoformat()}"
    )


def churn_features(
    engine: Engine,
    *,
    cutoff: dt.date | str,
    lookback_days: int = DEFAULTS.churn.lookback_days,
    horizon_days: int = DEFAULTS.churn.horizon_days,
    windows_days: Sequence[int] = tuple(DEFAULTS.churn.windows_days),
    engagement_windows_days: Sequence[int] = tuple(DEFAULTS.churn.engagement_windows_days),
    with_label: bool = True,
    observed_until: dt.date | str | None = None,
    transactions: str = "transactions",
    customers: str = "customers",
    events: str = "events",
    purchase_gaps: str | None = None,
    facts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The churn feature table at ``cutoff``: one row per customer active at the cutoff.

    Transforms *transactions* (one row per netted order or unmatched refund), *customers* (one
    row per customer, optional) and *events* (one row per messaging event, optional) into one
    row per customer with a purchase in the ``lookback_days`` days up to the cutoff:
    *customer_id*, *churned* (with ``with_label``), the :func:`numeric_features` and
    :data:`CATEGORICAL_FEATURES` (definitions in the module docstring). Features read nothing
    dated after the cutoff day. Two statements on the engine: ``churn_features_purchases.sql``
    builds a temporary table keyed by customer_key of one GROUP BY customer over the shared
    purchase facts' customer-days before the cutoff (conditional aggregates per window;
    :mod:`crmlib.facts`), the mean and sd of the gaps between purchase days (from
    ``purchase_gaps``: one lag over the purchase days, shared by :func:`churn_tables`' three
    cutoffs) and the label window's buyers; ``churn_features.sql`` joins it to the distinct
    categories of the lookback window's purchases, one GROUP BY over the events and the
    customers.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (``customers`` and ``events`` when available).
    cutoff : date or str
        Last day the features see (inclusive).
    lookback_days : int, default ``churn.lookback_days``
        A customer is active with a purchase in this many days up to the cutoff; also the
        window of ``return_share`` and ``category_count``.
    horizon_days : int, default ``churn.horizon_days``
        Length of the label window, starting the day after the cutoff.
    windows_days : sequence of int, default ``churn.windows_days``
        Windows of ``orders_{N}d`` / ``spend_{N}d``.
    engagement_windows_days : sequence of int, default ``churn.engagement_windows_days``
        Windows of the event counts.
    with_label : bool, default True
        Add ``churned``; needs ``observed_until``.
    observed_until : date or str, optional
        Last day of data (inclusive); must be on or after ``cutoff + horizon_days``.
    transactions, customers, events : str
        View names. ``customers`` and ``events`` may be absent.
    purchase_gaps : str, optional
        A table of the gaps between purchase days (:func:`purchase_gaps_table`) built for this
        cutoff or a later one: :func:`churn_tables` builds it once for its three cutoffs. None
        builds one for this cutoff (and drops it afterwards).
    facts : mapping, optional
        The purchase facts of ``transactions`` (:func:`crmlib.facts.purchase_facts`'s names);
        None looks them up, or builds them for this call.

    Returns
    -------
    pd.DataFrame
        By customer_id: ``customer_id`` (str), ``churned`` (bool), numeric features
        (float64), categorical features (str). ``attrs``: ``cutoff`` (ISO date),
        ``lookback_days``, ``horizon_days`` and ``notes`` (list of str: missing optional
        tables and the features they leave empty; why the table is empty). A cutoff before
        the first purchase, or with no active customer, gives an empty table with the same
        columns and a note.

    Raises
    ------
    ValueError
        A bad argument, or ``with_label`` while the label window is not fully observed.
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing, or ``customers.customer_id`` is not unique.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["A", "A", "B"],
    ...     "order_ts": pd.to_datetime(["2025-05-01 09:00", "2025-06-20 14:00", "2025-06-29 23:59"]),
    ...     "amount": [20.0, 30.0, 15.0], "gross_amount": [20.0, 30.0, 15.0],
    ...     "refund_amount": [0.0, 0.0, 0.0], "category": ["books", "toys", "books"],
    ...     "is_purchase": [True, True, True],
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     table = churn_features(engine, cutoff="2025-06-30", with_label=False)
    >>> table[["customer_id", "recency_days", "orders_90d", "mean_gap_days"]].values.tolist()
    [['A', 10.0, 2.0, 50.0], ['B', 1.0, 1.0, nan]]
    >>> table["region"].tolist(), len(table.attrs["notes"])
    (['(unknown)', '(unknown)'], 2)
    """
    cutoff_day = as_date(cutoff, name="cutoff")
    lookback_days = positive_days("lookback_days", lookback_days)
    horizon_days = positive_days("horizon_days", horizon_days)
    windows = _check_windows("windows_days", windows_days)
    engagement = _check_windows("engagement_windows_days", engagement_windows_days)
    if with_label:
        _check_label_window(cutoff_day, horizon_days=horizon_days, observed_until=observed_until)
    require_view(engine, transactions, _TRANSACTION_COLUMNS, producer="01_ingest")
    notes: list[str] = []
    has_customers = engine.has_table(customers)
    if has_customers:
        require_view(engine, customers, _CUSTOMER_COLUMNS, producer="01_ingest")
    else:
        notes.append(
            f"no {customers} table: {', '.join(_CUSTOMER_NUMERIC)} are unknown (blank) and "
            f"{', '.join(CATEGORICAL_FEATURES)} are '{UNKNOWN_VALUE}' for every customer"
        )
    has_events = engine.has_table(events)
    if has_events:
        require_view(engine, events, _EVENT_COLUMNS, producer="01_ingest")
    else:
        notes.append(
            f"no {events} table: {', '.join(_event_columns(engagement))} are unknown (blank) for every "
            "customer"
        )
    for note in notes:
        log.warning("churn features at %s: %s", cutoff_day, note)
    params = _params(
        cutoff_day,
        lookback_days=lookback_days,
        horizon_days=horizon_days if with_label else 0,
        windows=windows,
        engagement=engagement,
    )
    with contextlib.ExitStack() as own:
        if facts is None:
            facts = own.enter_context(purchase_facts(engine, transactions=transactions))
        gaps = purchase_gaps
        if gaps is None:  # called alone: this cutoff's own gaps, dropped afterwards
            gaps = own.enter_context(engine.temp_tables("churn", ["gaps"]))["gaps"]
            purchase_gaps_table(engine, name=gaps, end_ts=exclusive_end(cutoff_day), facts=facts)
        # two statements: the integer-keyed purchase half first, into a table, so that its hash
        # tables are freed before the text-keyed joins build theirs (peak -0.24 GiB at 1M)
        purchases = own.enter_context(engine.temp_tables("churn", ["purchases"]))["purchases"]
        engine.execute(
            "churn_features_purchases",
            params,
            identifiers={
                "target": quote_identifier(purchases),
                "customer_days": facts["customer_days"],
                "purchase_gaps": quote_identifier(gaps),
                "window_aggregates": _window_sql(windows),
            },
        )
        from_engine = engine.arrow(
            "churn_features",
            params,
            identifiers={
                "purchase_features": quote_identifier(purchases),
                "transactions": transactions,
                "customer_facts": facts["customer_facts"],
                "events": events if has_events else _NO_EVENTS,
                "customers": customers if has_customers else _NO_CUSTOMERS,
                **_engagement_sql(engagement),
            },
        ).to_pandas()
    if from_engine.empty:
        notes.append(
            _empty_note(
                engine,
                cutoff=cutoff_day,
                lookback_days=lookback_days,
                params=params,
                view=transactions,
            )
        )
        log.warning("churn features at %s: %s", cutoff_day, notes[-1])
    table = _assemble(
        from_engine,
        cutoff=cutoff_day,
        windows=windows,
        engagement=engagement,
        has_events=has_events,
        customers=customers if has_customers else None,
    )
    if not with_label:
        table = table.drop(columns="churned")
    table.attrs = {
        "cutoff": cutoff_day.isoformat(),
        "lookback_days": lookback_days,
        "horizon_days": horizon_days,
        "notes": notes,
    }
    log.info(
        "churn features at %s: %d active customers%s",
        cutoff_day,
        len(table),
        f", churn rate {table['churned'].mean():.1%}" if with_label and len(table) else "",
    )
    return table


def _assemble(
    from_engine: pd.DataFrame,
    *,
    cutoff: dt.date,
    windows: tuple[int, ...],
    engagement: tuple[int, ...],
    has_events: bool,
    customers: str | None,
) -> pd.DataFrame:
    """The feature table from the query's result (one row per active customer, by customer_id)."""
    n = len(from_engine)
    index = pd.RangeIndex(n)
    from_engine = from_engine.set_axis(index)
    ids = from_engine["customer_id"].astype("str")
    if customers is not None and n > 1:
        following = ids.iloc[1:].reset_index(drop=True)
        repeated = (following == ids.iloc[:-1].reset_index(drop=True)).to_numpy(dtype=bool)
        if repeated.any():
            raise DataContractError(
                f"{customers}: column 'customer_id' is not unique: "
                f"{following[repeated].iloc[0]!r} and {int(repeated.sum()) - 1} more active "
                "customers have several rows; expected one row per customer"
            )
    # Series, not to_numpy() views: pandas hands out read-only views, and a frame built from
    # them could not be edited in place; Series stay copy-on-write, so nothing is copied here
    numbers: dict[str, pd.Series] = {
        column: from_engine[column].astype("float64")
        for column in (*numeric_features(windows, ()), "email_opt_in", "sms_opt_in", "push_opt_in")
        if column in from_engine.columns
    }
    birth_year = from_engine["birth_year"].astype("float64")
    band = age_bands(birth_year, as_of_date=cutoff)
    numbers["age_years"] = (cutoff.year - birth_year).where(band != UNKNOWN_VALUE)
    # without an events table the counts stay NaN; with one, no event means 0
    counts = [*_event_columns(engagement)[:-2], "rate_sends", "rate_opens", "unsubscribed_ever"]
    for column in counts:
        values = from_engine[column].astype("float64")
        numbers[column] = values.fillna(0.0) if has_events else values
    sends, opens = numbers.pop("rate_sends"), numbers.pop("rate_opens")
    numbers["open_rate_90d"] = (opens / sends).where(sends > 0)
    labels = {
        "acquisition_channel": _as_labels(from_engine["acquisition_channel"]),
        "region": _as_labels(from_engine["region"]),
        "age_band": band.astype("str"),
        "loyalty_tier": _as_labels(from_engine["loyalty_tier"]),
    }
    numeric = numeric_features(windows, engagement)
    # one block per column, none copied (a consolidated block would copy ~250 MB at 1M rows)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "churned": from_engine["churned"].astype(bool),
            **{column: numbers[column] for column in numeric},
            **{column: labels[column] for column in CATEGORICAL_FEATURES},
        },
        index=index,
        copy=False,
    )


def active_customers_count(
    engine: Engine,
    *,
    cutoff: dt.date | str,
    lookback_days: int = DEFAULTS.churn.lookback_days,
    transactions: str = "transactions",
) -> int:
    """How many customers are active at ``cutoff``: a purchase in the ``lookback_days`` up to it.

    The number of rows :func:`churn_features` returns for the same arguments, in one cheap
    SQL count (``churn_active_count.sql``).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered.
    cutoff : date or str
        Last day counted (inclusive).
    lookback_days : int, default ``churn.lookback_days``
        Length of the window ending on the cutoff day.
    transactions : str
        View name.

    Returns
    -------
    int

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "customer_id": ["A", "B", "C"],
    ...     "order_ts": pd.to_datetime(["2024-01-10", "2025-06-01", "2025-07-01"]),
    ...     "amount": 10.0, "gross_amount": 10.0, "refund_amount": 0.0,
    ...     "is_purchase": [True, True, True],
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     active_customers_count(engine, cutoff="2025-06-30")
    1
    """
    cutoff_day = as_date(cutoff, name="cutoff")
    lookback_days = positive_days("lookback_days", lookback_days)
    end_ts = exclusive_end(cutoff_day)
    with purchase_facts(engine, transactions=transactions) as facts:
        count = engine.query(
            "churn_active_count",
            {"end_ts": end_ts, "lookback_start": end_ts - dt.timedelta(days=lookback_days)},
            identifiers={"customer_days": facts["customer_days"]},
        )
    return int(count["active_customers"].iloc[0])


@dataclasses.dataclass(frozen=True)
class ChurnCutoffs:
    """The three cutoffs: train at as_of - 2 horizons, validate at as_of - 1, score at as_of."""

    train: dt.date
    validation: dt.date
    score: dt.date
    horizon_days: int


def churn_cutoffs(as_of_date: dt.date | str, *, horizon_days: int) -> ChurnCutoffs:
    """Train, validation and scoring cutoffs; labels of the first two are fully observed.

    Examples
    --------
    >>> churn_cutoffs("2025-12-31", horizon_days=90)
    ChurnCutoffs(train=datetime.date(2025, 7, 4), validation=datetime.date(2025, 10, 2), score=datetime.date(2025, 12, 31), horizon_days=90)
    """
    if int(horizon_days) < 1:
        raise ValueError(f"horizon_days={horizon_days}: expected a positive number of days")
    score = as_date(as_of_date)
    step = dt.timedelta(days=int(horizon_days))
    return ChurnCutoffs(score - 2 * step, score - step, score, int(horizon_days))


@dataclasses.dataclass(frozen=True)
class ChurnTables:
    """Feature tables at the three cutoffs (labels on train and validation) and the features used."""

    cutoffs: ChurnCutoffs
    train: pd.DataFrame
    validation: pd.DataFrame
    score: pd.DataFrame
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    notes: tuple[str, ...]


def purchase_gaps_table(
    engine: Engine,
    *,
    name: str,
    end_ts: dt.datetime,
    facts: Mapping[str, str],
) -> str:
    """Create the temporary table ``name`` of the positive gaps between each customer's
    consecutive purchase days before ``end_ts`` (``churn_purchase_gaps.sql``: one window pass
    over the purchase days of ``facts["customer_days"]``, :func:`crmlib.facts.purchase_facts`)
    and return its name. A gap depends only on earlier purchases, so one table built for the
    latest cutoff serves every earlier one (:func:`churn_features` reads its rows before each
    cutoff's end)."""
    engine.execute(
        "churn_purchase_gaps",
        {"gaps_end": end_ts},
        identifiers={"customer_days": facts["customer_days"], "target": quote_identifier(name)},
    )
    return name


def churn_tables(
    engine: Engine,
    cutoffs: ChurnCutoffs,
    *,
    lookback_days: int = DEFAULTS.churn.lookback_days,
    windows_days: Sequence[int] = tuple(DEFAULTS.churn.windows_days),
    engagement_windows_days: Sequence[int] = tuple(DEFAULTS.churn.engagement_windows_days),
    exclude_features: Sequence[str] = (),
) -> ChurnTables:
    """The feature tables at the three cutoffs (:func:`crmlib.churn.churn_features`).

    ``exclude_features`` names features left out of the models (an unknown name is a
    ValueError listing the known ones); numeric features without a single value at the training
    cutoff (e.g. engagement without an events table) are left out too, with a note.
    """
    numeric = numeric_features(windows_days, engagement_windows_days)
    known = (*numeric, *CATEGORICAL_FEATURES)
    unknown = [name for name in exclude_features if name not in known]
    if unknown:
        raise ValueError(
            f"churn.exclude_features: {unknown[0]!r} is not a feature; expected some of {list(known)}"
        )
    common: dict[str, Any] = {
        "lookback_days": lookback_days,
        "horizon_days": cutoffs.horizon_days,
        "windows_days": windows_days,
        "engagement_windows_days": engagement_windows_days,
    }
    require_view(engine, "transactions", _TRANSACTION_COLUMNS, producer="01_ingest")
    latest = max(cutoffs.train, cutoffs.validation, cutoffs.score)
    with (
        purchase_facts(engine) as facts,
        engine.temp_tables("churn", ["gaps"]) as names,  # one table for the three cutoffs
    ):
        common["facts"] = facts
        common["purchase_gaps"] = purchase_gaps_table(
            engine, name=names["gaps"], end_ts=exclusive_end(latest), facts=facts
        )
        train = churn_features(
            engine, cutoff=cutoffs.train, with_label=True, observed_until=cutoffs.score, **common
        )
        validation = churn_features(
            engine, cutoff=cutoffs.validation, with_label=True, observed_until=cutoffs.score,
            **common,
        )  # fmt: skip
        score = churn_features(engine, cutoff=cutoffs.score, with_label=False, **common)
    notes = [note for table in (train, validation, score) for note in table.attrs.get("notes", [])]
    empty = [name for name in numeric if name in train and len(train) and train[name].isna().all()]
    if empty:
        notes.append(
            f"Features without any value at the training cutoff, left out: {', '.join(empty)}."
        )
    excluded = set(exclude_features) | set(empty)
    return ChurnTables(
        cutoffs=cutoffs,
        train=train,
        validation=validation,
        score=score,
        numeric=tuple(name for name in numeric if name not in excluded),
        categorical=tuple(name for name in CATEGORICAL_FEATURES if name not in excluded),
        notes=tuple(dict.fromkeys(notes)),
    )
