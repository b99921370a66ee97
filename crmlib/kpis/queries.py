"""KPI tables computed in SQL: KPIs by period, transaction totals, contactable base, engagement."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

import pandas as pd

from crmlib.checks import require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.formatting import plain_value
from crmlib.periods import (
    as_date,
    check_period,
    exclusive_end,
    period_index,
    period_spine,
    safe_ratio,
    to_periods,
)

__all__ = [
    "MESSAGING_CHANNELS",
    "KPI_COLUMNS",
    "KPI_RATES",
    "ENGAGEMENT_COLUMNS",
    "kpis_by_period",
    "kpis_by_group",
    "GROUP_COLUMNS",
    "transaction_totals",
    "guest_totals",
    "contactable_base",
    "channel_engagement",
]


MESSAGING_CHANNELS: tuple[str, ...] = ("email", "sms", "push")


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


#: Columns of :func:`kpis_by_group`.
GROUP_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete", "group",
    "active_customers", "returning_customers", "at_risk_customers", "revenue",
)  # fmt: skip


#: The KPI columns that are shares in [0, 1] (or null).
KPI_RATES: tuple[str, ...] = ("retention_rate", "churn_rate", "repeat_purchase_rate")


log = logging.getLogger(__name__)


_TX_COLUMNS = ("customer_id", "order_ts", "amount", "gross_amount", "refund_amount", "is_purchase")


_CUSTOMER_COLUMNS = ("customer_id", "signup_ts", "email_opt_in", "sms_opt_in", "push_opt_in")


_EVENT_COLUMNS = ("customer_id", "event_ts", "channel", "event_type", "campaign_id")


# -- KPIs by period --------------------------------------------------------------------------


def kpis_by_period(
    engine: Engine,
    *,
    period: str = DEFAULTS.kpis.period,
    as_of_date: dt.date | str,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Retention, customer mix, orders and revenue per period.

    Transforms *transactions* (one row per netted order or unmatched refund, a view on
    ``engine``) into one row per period, from the period of the earliest transaction row to
    the period containing ``as_of_date``, with no gaps: a period without rows is a row of
    zeros. Rows dated after ``as_of_date`` are left out.

    Definitions (a "purchase" is a row with ``is_purchase``: a positive order with net > 0;
    only purchases make a customer active; cancelled orders and refunds never do):

    - ``active_customers``: customers with >= 1 purchase in the period
      = ``new_customers`` + ``returning_customers`` + ``reactivated_customers``.
    - ``new_customers``: first purchase ever in the period.
    - ``returning_customers``: not new, active in the calendar-previous period.
    - ``reactivated_customers``: not new, not active in the previous period.
    - ``retention_rate``: share of the previous period's active customers who purchase again
      in this period (= returning / previous active); null for the first period or when the
      previous period had no active customers. ``churn_rate`` = 1 - retention_rate.
    - ``repeat_purchase_rate``: cumulative, among customers with >= 1 purchase by the
      period's end, the share with >= 2 purchases (orders, even on the same day) by then.
    - ``orders``: purchases; ``orders_per_customer`` = orders / active customers;
      ``aov`` = net amount of the purchases / orders.
    - ``revenue``: net revenue, the sum of ``amount`` of every row dated in the period
      (purchases, cancelled orders at 0, unmatched refunds negative; refunds matched to an
      order are netted on the order's date); ``gross_revenue`` = sum of ``gross_amount``;
      ``refunds`` = sum of ``refund_amount`` (<= 0); ``revenue_per_active`` = revenue /
      active customers.

    Divisions by zero give null. ``is_complete`` says ``period_end <= as_of_date``: the
    last, partial period's figures are not comparable with full periods.

    Parameters
    ----------
    engine : Engine
        With the ``transactions`` view registered (``RunFolder.register``).
    period : {"week", "month", "quarter"}, default ``kpis.period``
        Weeks are ISO weeks from Monday, labelled ``2025-W10``; ``2025-03``; ``2025-Q1``.
    as_of_date : date or str
        Last day covered (inclusive).
    transactions : str, default "transactions"
        Name of the view; needs customer_id, order_ts, amount, gross_amount,
        refund_amount, is_purchase.

    Returns
    -------
    pd.DataFrame
        One row per period, oldest first, columns :data:`KPI_COLUMNS`.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing, or ``order_ts`` is not a timestamp.
    """
    check_period(period)
    as_of = as_date(as_of_date)
    require_view(engine, transactions, _TX_COLUMNS, producer="01_ingest")
    sums = engine.query(
        "kpis_by_period",
        {"period": period, "end_ts": exclusive_end(as_of)},
        identifiers={"transactions": transactions},
    )
    if sums.empty:
        log.warning("%s has no rows dated on or before %s: no KPIs", transactions, as_of)
        return _empty_kpis()
    periods = period_index(pd.Timestamp(sums["period_start"].min()).date(), as_of, period)
    by_period = sums.drop(columns="period_start").set_axis(to_periods(sums["period_start"], period))
    by_period = by_period.reindex(periods, fill_value=0).reset_index(drop=True)
    spine = period_spine(periods[0].start_time, as_of, period=period)

    active = by_period["active_customers"]
    retention = safe_ratio(by_period["returning_customers"], active.shift(1))
    acquired = by_period["new_customers"].cumsum()
    repeaters = by_period["new_repeat_customers"].cumsum()
    kpis = spine.assign(
        is_complete=spine["period_end"] <= as_of,
        active_customers=active,
        new_customers=by_period["new_customers"],
        returning_customers=by_period["returning_customers"],
        reactivated_customers=by_period["reactivated_customers"],
        retention_rate=retention,
        churn_rate=1.0 - retention,
        repeat_purchase_rate=safe_ratio(repeaters, acquired),
        orders=by_period["orders"],
        orders_per_customer=safe_ratio(by_period["orders"], active),
        aov=safe_ratio(by_period["purchase_amount"], by_period["orders"]),
        revenue=by_period["revenue"].astype("float64"),
        gross_revenue=by_period["gross_revenue"].astype("float64"),
        refunds=by_period["refunds"].astype("float64"),
        revenue_per_active=safe_ratio(by_period["revenue"], active),
    )
    counts = [
        "active_customers",
        "new_customers",
        "returning_customers",
        "reactivated_customers",
        "orders",
    ]
    kpis[counts] = kpis[counts].astype("int64")
    log.info(
        "KPIs for %d %ss, %s to %s",
        len(kpis),
        period,
        kpis["period_label"].iloc[0],
        kpis["period_label"].iloc[-1],
    )
    return kpis[list(KPI_COLUMNS)]


def kpis_by_group(
    engine: Engine,
    *,
    by: str,
    period: str = DEFAULTS.kpis.period,
    as_of_date: dt.date | str,
    transactions: str = "transactions",
    customers: str = "customers",
    missing: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame | None:
    """The retention and revenue of every period, split by the groups of a customer column.

    Transforms *transactions* and *customers* into one row per period and group of
    ``customers.<by>`` (a customer missing from the table, or without a value, is in the
    group ``(unknown)``), every period from the first with a purchase to the one containing
    ``as_of_date``, with the same definitions as :func:`kpis_by_period`:

    - ``active_customers``: customers of the group with >= 1 purchase in the period;
    - ``returning_customers``: of those, active in the previous period as well;
    - ``at_risk_customers``: the group's active customers of the previous period, so that
      ``returning / at_risk`` is the group's retention and the groups' sums are
      :func:`kpis_by_period`'s (returning customers, the previous period's active ones);
    - ``revenue``: the net amount of the period's rows of the group's active customers.
      Summed over groups it is :func:`kpis_by_period`'s revenue less the rows of customers
      who bought nothing in the period (refunds that match no order, guests).

    Parameters
    ----------
    engine : Engine
        With ``transactions`` and ``customers`` registered.
    by : str
        The customers column that defines the groups (e.g. ``acquisition_channel``).
    period, as_of_date, transactions, customers
        As :func:`kpis_by_period`; ``customers`` is the view name.
    missing : {"raise", "skip"}, default "raise"
        Without a ``customers`` view: raise StageInputMissing, or return None.

    Returns
    -------
    pd.DataFrame or None
        :data:`GROUP_COLUMNS`, ordered by period and group.
    """
    check_period(period)
    as_of = as_date(as_of_date)
    require_view(engine, transactions, _TX_COLUMNS, producer="01_ingest")
    if missing == "skip" and not engine.has_table(customers):
        log.info("no %s table: KPIs by %s skipped", customers, by)
        return None
    require_view(engine, customers, ("customer_id", by), producer="01_ingest")
    sums = engine.query(
        "kpis_by_group",
        {"period": period, "end_ts": exclusive_end(as_of)},
        identifiers={"transactions": transactions, "customers": customers, "dimension": by},
    )
    if sums.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in GROUP_COLUMNS})
    periods = period_index(pd.Timestamp(sums["period_start"].min()).date(), as_of, period)
    sums = sums.assign(period=to_periods(sums["period_start"], period))
    groups = sorted(sums["group_label"].astype(str).unique())
    grid = pd.MultiIndex.from_product([groups, periods], names=["group_label", "period"])
    values = ["active_customers", "returning_customers", "revenue"]
    full = sums.set_index(["group_label", "period"])[values].reindex(grid, fill_value=0)
    at_risk = full["active_customers"].groupby(level="group_label").shift(1, fill_value=0)
    spine = period_spine(periods[0].start_time, as_of, period=period)
    spine = spine.assign(is_complete=spine["period_end"] <= as_of)
    table = full.assign(at_risk_customers=at_risk).reset_index()
    table = table.assign(position=table["period"].map({p: i for i, p in enumerate(periods)}))
    table = table.join(spine, on="position").rename(columns={"group_label": "group"})
    table[["active_customers", "returning_customers", "at_risk_customers"]] = table[
        ["active_customers", "returning_customers", "at_risk_customers"]
    ].astype("int64")
    table["revenue"] = table["revenue"].astype("float64")
    return table.sort_values(["position", "group"])[list(GROUP_COLUMNS)].reset_index(drop=True)


def _empty_kpis() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in KPI_COLUMNS})
    return frame.astype(
        {
            "period_start": "object",
            "period_end": "object",
            "period_label": "str",
            "is_complete": "bool",
        }
    )


def transaction_totals(
    engine: Engine, *, as_of_date: dt.date | str, transactions: str = "transactions"
) -> dict[str, Any]:
    """Plain totals of the transactions up to ``as_of_date``, to reconcile KPIs against.

    Transforms *transactions* (one row per netted order or refund) into one summary:
    ``transaction_rows``, ``purchases``, ``net_amount``, ``gross_amount``,
    ``refund_amount`` (all dated on or before ``as_of_date``) and ``rows_after_as_of``.
    """
    as_of = as_date(as_of_date)
    require_view(engine, transactions, _TX_COLUMNS, producer="01_ingest")
    row = engine.query(
        "kpis_transaction_totals",
        {"end_ts": exclusive_end(as_of)},
        identifiers={"transactions": transactions},
    ).to_dict("records")[0]
    totals = {str(key): (plain_value(value) or 0) for key, value in row.items()}
    if totals["rows_after_as_of"]:
        log.warning(
            "%d %s rows are dated after %s and left out",
            totals["rows_after_as_of"],
            transactions,
            as_of,
        )
    return totals


def guest_totals(
    engine: Engine, *, as_of_date: dt.date | str, unattributed: str = "unattributed"
) -> dict[str, Any] | None:
    """Totals of the guest orders (rows without a customer id) up to ``as_of_date``, or None.

    01_ingest keeps guest orders out of the customer tables and writes them to the
    ``unattributed`` artifact (same columns as *transactions*); they belong in total revenue
    but in no customer KPI. Same keys as :func:`transaction_totals`; None when the run has no
    ``unattributed`` view registered (an older run, or none written).
    """
    if not engine.has_table(unattributed):
        return None
    return transaction_totals(engine, as_of_date=as_of_date, transactions=unattributed)


# -- contactable base and channel engagement --------------------------------------------------


def contactable_base(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.kpis.period,
    customers: str = "customers",
    events: str = "events",
    missing: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame | None:
    """Customers who may be messaged, per channel, at the end of every period.

    Transforms *customers* (one row per customer) and *events* (one row per messaging event,
    optional) into one row per period and channel (email, sms, push), from the period of
    the first signup to the one containing ``as_of_date``, counted at the period's end
    (``counted_at``: ``as_of_date`` for the last, partial period):

    - ``customers``: signed up by then (an unknown signup date counts from the start);
    - ``consented``: of those, opted in to the channel (``<channel>_opt_in``). Consent is
      the customers table's snapshot at extraction, applied to every period: history of
      consent changes is not in the data, so earlier periods are approximate;
    - ``unsubscribed``: of those, with an ``unsubscribe`` event on the channel by then;
    - ``contactable``: consented and not unsubscribed;
    - ``consent_rate``, ``contactable_rate``: shares of ``customers``;
    - ``unsubscribes_known``: False when the run has no events table, in which case
      nothing is known about unsubscribes and contactable = consented.

    Parameters
    ----------
    engine : Engine
        With ``customers`` (required) and ``events`` (optional) registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default ``kpis.period``
    customers, events : str
        View names.
    missing : {"raise", "skip"}, default "raise"
        What to do without a ``customers`` view: raise StageInputMissing, or return None
        (the notebook then says the section is skipped; see :func:`describe_contactable_base`).

    Returns
    -------
    pd.DataFrame or None
        One row per period and channel.
    """
    check_period(period)
    as_of = as_date(as_of_date)
    if missing == "skip" and not engine.has_table(customers):
        log.info("no %s table: contactable base skipped", customers)
        return None
    require_view(engine, customers, _CUSTOMER_COLUMNS, producer="01_ingest")
    unsubscribes_known = engine.has_table(events)
    if unsubscribes_known:
        require_view(engine, events, _EVENT_COLUMNS[:4], producer="01_ingest")
        events_view = events
    else:
        log.info("no %s table: no unsubscribes are known, contactable = consented", events)
        events_view = _NO_EVENTS
    increments = engine.query(
        "kpis_contactable_base",
        {"period": period, "end_ts": exclusive_end(as_of)},
        identifiers={"customers": customers, "events": events_view},
    )
    known = pd.to_datetime(increments["period_start"]) > pd.Timestamp("1900-01-01")
    first = (
        pd.to_datetime(increments.loc[known, "period_start"]).min()
        if known.any()
        else pd.Timestamp(as_of)
    )
    periods = period_index(min(first, pd.Timestamp(as_of)).date(), as_of, period)
    increments["period_start"] = pd.to_datetime(increments["period_start"]).clip(
        lower=periods[0].start_time
    )
    spine = period_spine(periods[0].start_time, as_of, period=period)
    tables = []
    for channel in MESSAGING_CHANNELS:  # three channels, per-period rows: no data loop
        rows = increments[increments["channel"] == channel]
        sums = rows.groupby("period_start")[
            ["customers", "consented", "unsubscribed", "consented_unsubscribed"]
        ].sum()
        stocks = (
            sums.set_axis(to_periods(sums.index.to_series(), period))
            .reindex(periods, fill_value=0)
            .cumsum()
        )
        tables.append(
            spine.assign(
                channel=channel,
                customers=stocks["customers"].to_numpy(),
                consented=stocks["consented"].to_numpy(),
                unsubscribed=stocks["unsubscribed"].to_numpy(),
                contactable=(stocks["consented"] - stocks["consented_unsubscribed"]).to_numpy(),
            )
        )
    base = pd.concat(tables, ignore_index=True)
    base["channel"] = base["channel"].astype("str")
    base = base.sort_values(
        ["period_start", "channel"], key=_channel_order, kind="stable", ignore_index=True
    )
    base.insert(3, "is_complete", base["period_end"] <= as_of)
    base.insert(4, "counted_at", base["period_end"].map(lambda end: min(end, as_of)))
    counts = ["customers", "consented", "unsubscribed", "contactable"]
    base[counts] = base[counts].astype("int64")
    base["consent_rate"] = safe_ratio(base["consented"], base["customers"])
    base["contactable_rate"] = safe_ratio(base["contactable"], base["customers"])
    base["unsubscribes_known"] = unsubscribes_known
    return base


def _channel_order(values: pd.Series) -> pd.Series:
    if values.name == "channel":
        order = {name: i for i, name in enumerate(MESSAGING_CHANNELS)}
        return values.map(lambda c: order.get(c, len(order)))
    return values


#: An empty events relation, substituted for ``{{ events }}`` when the run has none.
_NO_EVENTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS event_ts, "
    "CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS event_type WHERE FALSE)"
)


def channel_engagement(
    engine: Engine,
    *,
    period: str = DEFAULTS.kpis.period,
    as_of_date: dt.date | str,
    conversion_window_days: int = DEFAULTS.kpis.conversion_window_days,
    events: str = "events",
    transactions: str = "transactions",
    missing: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame | None:
    """Sends, opens, clicks, unsubscribes and conversions per period and messaging channel.

    Transforms *events* (one row per messaging event) and *transactions* (one row per netted
    order) into one row per period and channel, from the first send's period to the one
    containing ``as_of_date`` (periods without sends are rows of zeros with null rates).
    A **send** is one (customer, campaign, channel), dated by its first ``sent`` event;
    reactions are attributed to the send's period:

    - ``sends``, ``customers_sent`` (distinct customers);
    - ``open_rate``: sends opened / sends; a send counts as opened when the customer has an
      ``open`` or a ``click`` event for the campaign (a click proves an open that
      image blocking may have hidden), so ``click_to_open_rate`` stays in [0, 1];
    - ``click_rate``: sends clicked / sends; ``click_to_open_rate``: clicked / opened;
    - ``unsubscribe_rate``: sends followed by an unsubscribe from that campaign / sends;
    - ``conversion_rate``: sends followed by a purchase within ``conversion_window_days``
      days (strictly after the send) / sends. ``conversion_window_complete`` is False when
      the window of some send in the period ends after ``as_of_date``: that rate is
      understated.

    Events without a campaign_id count as sends but cannot be matched to reactions.

    Parameters
    ----------
    engine : Engine
        With ``events`` and ``transactions`` registered.
    period : {"week", "month", "quarter"}, default ``kpis.period``
    as_of_date : date or str
        Last day covered (inclusive).
    conversion_window_days : int, default ``kpis.conversion_window_days``
        A purchase within this many days (24-hour days) after a send is a conversion.
    events, transactions : str
        View names.
    missing : {"raise", "skip"}, default "raise"
        Without an ``events`` view: raise StageInputMissing, or return None.

    Returns
    -------
    pd.DataFrame or None
        One row per period and channel.
    """
    check_period(period)
    as_of = as_date(as_of_date)
    if conversion_window_days < 1:
        raise ValueError(f"conversion_window_days={conversion_window_days}: expected >= 1")
    if missing == "skip" and not engine.has_table(events):
        log.info("no %s table: channel engagement skipped", events)
        return None
    require_view(engine, events, _EVENT_COLUMNS, producer="01_ingest")
    require_view(
        engine, transactions, ("customer_id", "order_ts", "is_purchase"), producer="01_ingest"
    )
    end_ts = exclusive_end(as_of)
    sums = engine.query(
        "kpis_channel_engagement",
        {"period": period, "end_ts": end_ts, "window_seconds": conversion_window_days * 86_400},
        identifiers={"events": events, "transactions": transactions},
    )
    if sums.empty:
        log.warning("%s has no 'sent' events on or before %s: no engagement", events, as_of)
        return pd.DataFrame(columns=ENGAGEMENT_COLUMNS)
    window = pd.Timedelta(days=conversion_window_days)
    sums["conversion_window_complete"] = pd.to_datetime(
        sums["last_sent_ts"]
    ) + window < pd.Timestamp(end_ts)
    periods = period_index(pd.Timestamp(sums["period_start"].min()).date(), as_of, period)
    spine = period_spine(periods[0].start_time, as_of, period=period)
    channels = sorted(sums["channel"].unique(), key=lambda c: (MESSAGING_CHANNELS + (c,)).index(c))
    values = ["sends", "customers_sent", "opened", "clicked", "unsubscribed", "conversions"]
    grid = pd.MultiIndex.from_product([periods, channels], names=["period", "channel"])
    keyed = sums.set_index([to_periods(sums["period_start"], period), sums["channel"]])
    filled = keyed[values].reindex(grid, fill_value=0).astype("int64")
    complete = keyed["conversion_window_complete"].reindex(grid, fill_value=True).astype("bool")
    engagement = spine.loc[spine.index.repeat(len(channels))].reset_index(drop=True)
    engagement.insert(3, "is_complete", engagement["period_end"] <= as_of)
    engagement = engagement.assign(channel=pd.array(list(channels) * len(periods), dtype="str"))
    engagement[values] = filled.to_numpy()
    engagement = engagement.assign(
        open_rate=safe_ratio(engagement["opened"], engagement["sends"]),
        click_rate=safe_ratio(engagement["clicked"], engagement["sends"]),
        click_to_open_rate=safe_ratio(engagement["clicked"], engagement["opened"]),
        unsubscribe_rate=safe_ratio(engagement["unsubscribed"], engagement["sends"]),
        conversion_rate=safe_ratio(engagement["conversions"], engagement["sends"]),
        conversion_window_days=int(conversion_window_days),
        conversion_window_complete=complete.to_numpy(),
    )
    return engagement[list(ENGAGEMENT_COLUMNS)]
