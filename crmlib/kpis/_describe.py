"""Markdown sentences stating the KPI findings for the 02_kpis notebook and the front page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.kpis._common import _complete
from crmlib.kpis._tiles import _change, _fmt, _latest_complete, _year_ago, headline_tiles
from crmlib.periods import safe_ratio

__all__ = [
    "describe_kpis",
    "kpi_conclusion",
    "describe_active_customers",
    "describe_retention",
    "describe_revenue",
    "describe_contactable_base",
    "describe_channel_engagement",
]


def _tile(tiles: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(tile for tile in tiles if tile["key"] == key)


def _changes(tile: dict[str, Any]) -> str:
    """`` (+4.3% vs 2025-11, +56.2% vs 2024-12)``, or nothing without comparisons."""
    parts = [
        f"{c['display']} vs {c['period_label']}"
        for c in (tile["vs_previous"], tile["vs_year_ago"])
        if c
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _with_changes(tile: dict[str, Any]) -> str:
    return f"{tile['display']}{_changes(tile)}"


def describe_kpis(kpis: pd.DataFrame, *, currency: str) -> str:
    """Two sentences of markdown stating the latest complete period's retention and revenue.

    Transforms *kpis* (one row per period) into text such as "In **2025-11** retention was
    31.4% (−2.1 pp vs 2025-10, +0.8 pp vs 2024-11) ...".
    """
    tiles = headline_tiles(kpis, currency=currency)
    if not tiles:
        return "No period is complete yet, so there are no headline KPIs."
    label = tiles[0]["period_label"]
    row = kpis.iloc[_latest_complete(kpis) or 0]
    active = _tile(tiles, "active_customers")
    return (
        f"In **{label}** retention was {_with_changes(_tile(tiles, 'retention_rate'))}: "
        f"{_fmt(row['returning_customers'], 'count')} of the previous period's active customers bought again. "
        f"{active['display']} customers were active{_changes(active)}, {_fmt(row['new_customers'], 'count')} "
        f"of them new; net revenue was {_with_changes(_tile(tiles, 'revenue'))} at an average order value "
        f"of {_tile(tiles, 'aov')['display']}."
    )


def kpi_conclusion(kpis: pd.DataFrame, *, currency: str) -> str:
    """One line for the front page: the latest complete period's retention, revenue and base."""
    tiles = headline_tiles(kpis, currency=currency)
    if not tiles:
        return "No complete period yet."
    retention, revenue, active = (
        _tile(tiles, k) for k in ("retention_rate", "revenue", "active_customers")
    )
    prev = retention["vs_previous"]
    vs = f" ({prev['display']} vs {prev['period_label']})" if prev else ""
    return (
        f"{retention['period_label']}: retention {retention['display']}{vs}, "
        f"net revenue {revenue['display']}, {active['display']} active customers."
    )


def describe_active_customers(kpis: pd.DataFrame) -> str:
    """Markdown: the latest complete period's active customers split by type, and the trend."""
    done = _complete(kpis)
    if done.empty:
        return "No period is complete yet."
    row = done.iloc[-1]
    active = row["active_customers"]
    shares = {k: _fmt(safe_ratio(pd.Series([row[f"{k}_customers"]]), pd.Series([active])).iloc[0], "rate")
              for k in ("new", "returning", "reactivated")}  # fmt: skip
    text = (
        f"In **{row['period_label']}** {_fmt(active, 'count')} customers bought: "
        f"{_fmt(row['new_customers'], 'count')} new ({shares['new']}), "
        f"{_fmt(row['returning_customers'], 'count')} returning ({shares['returning']}) and "
        f"{_fmt(row['reactivated_customers'], 'count')} reactivated ({shares['reactivated']})."
    )
    year_ago = _year_ago(kpis, int(np.flatnonzero(kpis["is_complete"].to_numpy(dtype=bool))[-1]))
    if year_ago is not None:
        then = kpis.iloc[year_ago]
        change = _change(active, then["active_customers"], "count")["display"]
        text += f" A year earlier ({then['period_label']}) {_fmt(then['active_customers'], 'count')} were active ({change})."
    return text


def describe_retention(kpis: pd.DataFrame, *, recent: int = 12) -> str:
    """Markdown: the latest retention and churn rate and the range over the last ``recent`` complete periods."""
    done = _complete(kpis).dropna(subset=["retention_rate"])
    if done.empty:
        return "Retention needs two periods of data; there is not enough history yet."
    row, window = done.iloc[-1], done.tail(recent)
    low, high = (
        window.loc[window["retention_rate"].idxmin()],
        window.loc[window["retention_rate"].idxmax()],
    )
    return (
        f"In **{row['period_label']}** {_fmt(row['retention_rate'], 'rate')} of the previous period's active "
        f"customers bought again (churn {_fmt(row['churn_rate'], 'rate')}). Over the last {len(window)} "
        f"complete periods retention averaged {_fmt(window['retention_rate'].mean(), 'rate')}, from "
        f"{_fmt(low['retention_rate'], 'rate')} ({low['period_label']}) to "
        f"{_fmt(high['retention_rate'], 'rate')} ({high['period_label']}). "
        f"{_fmt(row['repeat_purchase_rate'], 'rate')} of all customers acquired so far have bought at least twice."
    )


def describe_revenue(
    kpis: pd.DataFrame,
    *,
    currency: str,
    recent: int = 12,
    guests: Mapping[str, Any] | None = None,
) -> str:
    """Markdown: the latest complete period's net revenue, refunds and AOV, and the last
    ``recent`` periods' total; with ``guests`` (:func:`crmlib.kpis.guest_totals`), what guest
    orders add to the revenue of the customers above."""
    done = _complete(kpis)
    if done.empty:
        return "No period is complete yet."
    row = done.iloc[-1]
    refund_share = safe_ratio(pd.Series([-row["refunds"]]), pd.Series([row["gross_revenue"]])).iloc[
        0
    ]
    text = (
        f"Net revenue in **{row['period_label']}** was {_fmt(row['revenue'], 'money', currency)} "
        f"(gross {_fmt(row['gross_revenue'], 'money', currency)}, refunds "
        f"{_fmt(row['refunds'], 'money', currency)} = {_fmt(refund_share, 'rate')} of gross), from "
        f"{_fmt(row['orders'], 'count')} orders at an average of {_fmt(row['aov'], 'money', currency)} "
        f"and {row['orders_per_customer']:.2f} orders per active customer."
    )
    if len(done) >= 2 * recent:
        last, before = (
            done["revenue"].iloc[-recent:].sum(),
            done["revenue"].iloc[-2 * recent : -recent].sum(),
        )
        text += (
            f" The last {recent} complete periods brought {_fmt(last, 'money', currency)} "
            f"({_change(last, before, 'money')['display']} vs the {recent} before)."
        )
    if guests is not None and guests["transaction_rows"]:
        customers = float(kpis["revenue"].sum())
        total = customers + float(guests["net_amount"])
        text += (
            f"\n\nGuest orders (no customer id) add {_fmt(guests['net_amount'], 'money', currency)} "
            f"from {_fmt(guests['purchases'], 'count')} orders over the whole data, "
            f"{_fmt(safe_ratio(pd.Series([guests['net_amount']]), pd.Series([total])).iloc[0], 'rate')} "
            f"of total revenue {_fmt(total, 'money', currency)}; they count in total revenue only, "
            "not in the customer KPIs above."
        )
    return text


def _skipped(table_name: str, section: str) -> str:
    return (
        f"*Section skipped:* this run has no `{table_name}` table (01_ingest found no {table_name} "
        f"source in the params file), so {section} cannot be measured."
    )


def describe_contactable_base(contactable: pd.DataFrame | None) -> str:
    """Markdown: how many customers each channel can reach at the latest period end, or why skipped."""
    if contactable is None:
        return _skipped("customers", "the contactable base")
    latest = contactable[contactable["period_start"] == contactable["period_start"].max()]
    parts = [
        f"{row.channel} {_fmt(row.contactable, 'count')} ({_fmt(row.contactable_rate, 'rate')})"
        for row in latest.itertuples()
    ]
    text = (
        f"On **{latest['counted_at'].iloc[0]}** (end of {latest['period_label'].iloc[0]}), of "
        f"{_fmt(latest['customers'].iloc[0], 'count')} customers signed up these could be reached: "
        f"{'; '.join(parts)}. "
        "Consent is the customers table's current snapshot, applied to every period."
    )
    if not bool(latest["unsubscribes_known"].iloc[0]):
        return (
            text
            + " This run has no messaging events, so no unsubscribes are known: contactable = consented."
        )
    unsubscribed = ", ".join(
        f"{r.channel} {_fmt(r.unsubscribed, 'count')}" for r in latest.itertuples()
    )
    return text + f" Unsubscribed so far: {unsubscribed}."


def describe_channel_engagement(engagement: pd.DataFrame | None) -> str:
    """Markdown: open, click and conversion rates per channel in the latest period with sends, or why skipped."""
    if engagement is None:
        return _skipped("events", "channel engagement")
    sent = engagement[engagement["sends"] > 0]
    if sent.empty:
        return "The `events` table holds no sends up to the end of the data, so there is no engagement to measure."
    latest = sent[sent["period_start"] == sent["period_start"].max()]
    window = int(engagement["conversion_window_days"].iloc[0])
    parts = [
        f"{row.channel}: {_fmt(row.sends, 'count')} sends, {_fmt(row.open_rate, 'rate')} opened, "
        f"{_fmt(row.click_rate, 'rate')} clicked, {_fmt(row.conversion_rate, 'rate')} bought within {window} days"
        for row in latest.itertuples()
    ]
    text = f"In **{latest['period_label'].iloc[0]}**, " + "; ".join(parts) + "."
    if not latest["conversion_window_complete"].all():
        text += f" Some sends were less than {window} days before the end of the data, so conversion is understated."
    return text
