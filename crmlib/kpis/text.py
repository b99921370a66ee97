"""Markdown sentences stating the KPI findings for the 02_kpis notebook and the front page.

Every count of customers goes through :meth:`crmlib.privacy.SmallCells.phrase` ("fewer than 10
customers"), and a rate or amount computed on fewer than ``min_cell_size`` customers is not
stated: the sentence says it is not shown and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.formatting import counted, format_figure, format_money, listed
from crmlib.kpis.mix import PeriodMix
from crmlib.kpis.models import (
    _bases,
    _complete,
    _latest_complete,
    _suppressed_contactable,
    _year_ago,
)
from crmlib.kpis.tables import _change, headline_tiles
from crmlib.periods import safe_ratio
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "describe_kpis",
    "kpi_conclusion",
    "describe_active_customers",
    "describe_retention",
    "describe_revenue",
    "describe_contactable_base",
    "describe_channel_engagement",
    "describe_mix",
]


def _capital(text: str) -> str:
    """``text`` with its first letter upper-case (a sentence that starts with a phrase)."""
    return text[:1].upper() + text[1:]


def _tile(tiles: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(tile for tile in tiles if tile["key"] == key)


def _changes(tile: dict[str, Any]) -> str:
    """`` (+4.3% vs 2025-11, +56.2% vs 2024-12)``, or nothing without (shown) comparisons."""
    parts = [
        f"{c['display']} vs {c['period_label']}"
        for c in (tile["vs_previous"], tile["vs_year_ago"])
        if c and c["display"] != HIDDEN
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _with_changes(tile: dict[str, Any]) -> str:
    return f"{tile['display']}{_changes(tile)}"


def _hidden(tile: dict[str, Any], rule: SmallCells) -> bool:
    """True when the tile's figure is, or is computed on, too few customers to be shown."""
    return not rule.shown(tile["customers"])


def _were(n: Any, rule: SmallCells) -> str:
    return "was" if rule.shown(n) and n == 1 else "were"


def describe_kpis(kpis: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Two sentences of markdown stating the latest complete period's retention and revenue.

    Transforms *kpis* (one row per period) into text such as "In **2025-11** retention was
    31.4% (−2.1 pp vs 2025-10, +0.8 pp vs 2024-11) ...". Counts of customers follow the
    small-cell rule ("fewer than 10 customers"); retention, revenue and AOV computed on fewer
    than ``min_cell_size`` customers are said to be not shown.
    """
    rule = SmallCells(min_cell_size)
    tiles = headline_tiles(kpis, currency=currency, min_cell_size=min_cell_size)
    if not tiles:
        return "No period is complete yet, so there are no headline KPIs."
    label = tiles[0]["period_label"]
    row = kpis.iloc[_latest_complete(kpis) or 0]
    retention, active = _tile(tiles, "retention_rate"), _tile(tiles, "active_customers")
    if _hidden(retention, rule):
        first = (
            f"In **{label}** retention is not shown: "
            f"{rule.phrase(retention['customers'], 'customer')} were active in the previous period."
        )
    elif retention["value"] is None:
        first = (
            f"In **{label}** retention is undefined: no customer was active in the previous period."
        )
    else:
        returning = row["returning_customers"]
        first = (
            f"In **{label}** retention was {_with_changes(retention)}: {rule.phrase(returning)} "
            f"active in the previous period bought again."
        )
    count = row["active_customers"]
    active_text = f"{_capital(rule.phrase(count))} {_were(count, rule)} active{_changes(active)}"
    if _hidden(active, rule):
        return f"{first} {active_text}, so net revenue and the average order value are not shown."
    return (
        f"{first} {active_text}, {rule.phrase(row['new_customers'], 'new customer')} among them; "
        f"net revenue was {_with_changes(_tile(tiles, 'revenue'))} at an average order value "
        f"of {_tile(tiles, 'aov')['display']}."
    )


def kpi_conclusion(kpis: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """One line for the front page: the latest complete period's retention, revenue and base.

    A figure computed on fewer than ``min_cell_size`` customers reads "not shown"; the count
    of active customers follows the small-cell rule.
    """
    rule = SmallCells(min_cell_size)
    tiles = headline_tiles(kpis, currency=currency, min_cell_size=min_cell_size)
    if not tiles:
        return "No complete period yet."
    retention, revenue, active = (
        _tile(tiles, k) for k in ("retention_rate", "revenue", "active_customers")
    )
    prev = retention["vs_previous"]
    vs = (
        f" ({prev['display']} vs {prev['period_label']})"
        if prev and prev["display"] != HIDDEN
        else ""
    )
    retention_text = "not shown" if _hidden(retention, rule) else f"{retention['display']}{vs}"
    revenue_text = "not shown" if _hidden(revenue, rule) else revenue["display"]
    return (
        f"{retention['period_label']}: retention {retention_text}, "
        f"net revenue {revenue_text}, {rule.phrase(active['value'], 'active customer')}."
    )


def describe_active_customers(kpis: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: the latest complete period's active customers split by type, and the trend.

    New, returning and reactivated customers add up to the active customers, so when one of
    them is below ``min_cell_size`` (stated as "fewer than 10") the next smallest is not
    shown either (complementary suppression); the split is not given when the active
    customers themselves are fewer than ``min_cell_size``.
    """
    rule = SmallCells(min_cell_size)
    done = _complete(kpis)
    if done.empty:
        return "No period is complete yet."
    row = done.iloc[-1]
    active = row["active_customers"]
    label = row["period_label"]
    if not rule.shown(active):
        text = (
            f"In **{label}** {rule.phrase(active)} bought: too few to split into new, "
            "returning and reactivated customers."
        )
    else:
        text = f"In **{label}** {rule.phrase(active)} bought: {_split(row, rule)}."
    year_ago = _year_ago(kpis, int(np.flatnonzero(kpis["is_complete"].to_numpy(dtype=bool))[-1]))
    if year_ago is not None:
        then = kpis.iloc[year_ago]
        earlier = then["active_customers"]
        change = ""
        if rule.shown(active) and rule.shown(earlier):
            change = f" ({_change(active, earlier, 'count')['display']})"
        text += (
            f" A year earlier ({then['period_label']}) {rule.phrase(earlier)} "
            f"{_were(earlier, rule)} active{change}."
        )
    return text


def _split(row: pd.Series, rule: SmallCells) -> str:
    """ "12 new (12.0%), 61 returning (61.0%) and 27 reactivated (27.0%)", small parts hidden."""
    kinds = ("new", "returning", "reactivated")
    counts = [row[f"{kind}_customers"] for kind in kinds]
    hidden = rule.complement(counts)
    parts = []
    for kind, n, hide in zip(kinds, counts, hidden, strict=True):
        if not hide:
            share = safe_ratio(pd.Series([n]), pd.Series([row["active_customers"]])).iloc[0]
            parts.append(f"{rule.phrase(n, kind, kind)} ({format_figure(share, 'rate')})")
        elif not rule.shown(n):
            parts.append(rule.phrase(n, kind, kind))
        else:
            parts.append(f"{kind} not shown (so that the total does not reveal the smaller group)")
    return listed(parts)


def describe_retention(
    kpis: pd.DataFrame, *, recent: int = 12, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: the latest retention and churn rate and the range over the last ``recent`` complete periods.

    Retention is computed on the previous period's active customers and the repeat-purchase
    rate on every customer acquired so far: a rate on fewer than ``min_cell_size`` customers
    is not stated, and periods whose retention is not shown are left out of the range.
    """
    rule = SmallCells(min_cell_size)
    bases = _bases(kpis)
    done = _complete(kpis).dropna(subset=["retention_rate"])
    if done.empty:
        return "Retention needs two periods of data; there is not enough history yet."
    row, window = done.iloc[-1], done.tail(recent)
    small = pd.Series(rule.is_small(bases.loc[window.index, "retention_rate"]), window.index)
    visible = window[~small]
    label = row["period_label"]
    if small.iloc[-1]:
        text = (
            f"In **{label}** retention is not shown: "
            f"{rule.phrase(bases.loc[row.name, 'retention_rate'])} were active in the previous period."
        )
    else:
        text = (
            f"In **{label}** {format_figure(row['retention_rate'], 'rate')} of the previous period's active "
            f"customers bought again (churn {format_figure(row['churn_rate'], 'rate')})."
        )
    if visible.empty:
        text += (
            f" Over the last {len(window)} complete periods every retention rate was computed on "
            f"fewer than {rule.min_cell_size:,} customers, so none is shown."
        )
    else:
        low = visible.loc[visible["retention_rate"].idxmin()]
        high = visible.loc[visible["retention_rate"].idxmax()]
        left_out = ""
        if small.any():
            left_out = (
                f" ({counted(int(small.sum()), 'period')} computed on fewer than "
                f"{rule.min_cell_size:,} customers left out)"
            )
        text += (
            f" Over the last {len(window)} complete periods{left_out} retention averaged "
            f"{format_figure(visible['retention_rate'].mean(), 'rate')}, from "
            f"{format_figure(low['retention_rate'], 'rate')} ({low['period_label']}) to "
            f"{format_figure(high['retention_rate'], 'rate')} ({high['period_label']})."
        )
    acquired = bases.loc[row.name, "repeat_purchase_rate"]
    if rule.shown(acquired):
        return (
            f"{text} {format_figure(row['repeat_purchase_rate'], 'rate')} of all customers acquired so far "
            "have bought at least twice."
        )
    return f"{text} The repeat-purchase rate is not shown: {rule.phrase(acquired)} were acquired so far."


def describe_revenue(
    kpis: pd.DataFrame,
    *,
    currency: str,
    recent: int = 12,
    guests: Mapping[str, Any] | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the latest complete period's net revenue, refunds and AOV, and the last
    ``recent`` periods' total; with ``guests`` (:func:`crmlib.kpis.guest_totals`), what guest
    orders add to the revenue of the customers above.

    Amounts of a period with fewer than ``min_cell_size`` active customers are not stated;
    the totals over ``recent`` periods only when each span had at least that many customers
    active in one of its periods."""
    rule = SmallCells(min_cell_size)
    done = _complete(kpis)
    if done.empty:
        return "No period is complete yet."
    row = done.iloc[-1]
    if row["active_customers"] == 0:  # no average to give (0 / 0)
        text = (
            f"Nobody bought in **{row['period_label']}** (net revenue "
            f"{format_figure(row['revenue'], 'money', currency)})."
        )
    elif not rule.shown(row["active_customers"]):
        text = (
            f"Net revenue in **{row['period_label']}** is not shown: "
            f"{rule.phrase(row['active_customers'])} bought in that period."
        )
    else:
        refund_share = safe_ratio(
            pd.Series([-row["refunds"]]), pd.Series([row["gross_revenue"]])
        ).iloc[0]
        text = (
            f"Net revenue in **{row['period_label']}** was {format_figure(row['revenue'], 'money', currency)} "
            f"(gross {format_figure(row['gross_revenue'], 'money', currency)}, refunds "
            f"{format_figure(row['refunds'], 'money', currency)} = {format_figure(refund_share, 'rate')} of gross), from "
            f"{format_figure(row['orders'], 'count')} orders at an average of {format_figure(row['aov'], 'money', currency)} "
            f"and {row['orders_per_customer']:.2f} orders per active customer."
        )
    spans = (done.iloc[-recent:], done.iloc[-2 * recent : -recent])
    if len(done) >= 2 * recent and all(rule.shown(s["active_customers"].max()) for s in spans):
        last, before = (span["revenue"].sum() for span in spans)
        text += (
            f" The last {recent} complete periods brought {format_figure(last, 'money', currency)} "
            f"({_change(last, before, 'money')['display']} vs the {recent} before)."
        )
    if guests is not None and guests["transaction_rows"]:
        customers = float(kpis["revenue"].sum())
        total = customers + float(guests["net_amount"])
        text += (
            f"\n\nGuest orders (no customer id) add {format_figure(guests['net_amount'], 'money', currency)} "
            f"from {counted(int(guests['purchases']), 'order')} over the whole data, "
            f"{format_figure(safe_ratio(pd.Series([guests['net_amount']]), pd.Series([total])).iloc[0], 'rate')} "
            f"of total revenue {format_figure(total, 'money', currency)}; they count in total revenue only, "
            "not in the customer KPIs above."
        )
    return text


def _skipped(table_name: str, section: str) -> str:
    return (
        f"*Section skipped:* this run has no `{table_name}` table (01_ingest found no {table_name} "
        f"source in the params file), so {section} cannot be measured."
    )


def describe_contactable_base(
    contactable: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: how many customers each channel can reach at the latest period end, or why skipped.

    The counts are those of :func:`crmlib.kpis.contactable_table`: a count below
    ``min_cell_size`` reads "fewer than 10 customers", a count hidden so that the opted-in
    total does not reveal it reads "not shown".
    """
    if contactable is None:
        return _skipped("customers", "the contactable base")
    rule = SmallCells(min_cell_size)
    last = contactable[contactable["period_start"] == contactable["period_start"].max()]
    latest = last.reset_index(drop=True)
    shown = _suppressed_contactable(latest, min_cell_size=min_cell_size)
    parts = []
    for position, channel in enumerate(latest["channel"].astype("str")):
        rate = shown["contactable_rate"].iloc[position]
        reach = _stated(latest, shown, rule, row=position, column="contactable")
        if reach == "not shown" and shown["consented"].iloc[position] != HIDDEN:
            opted_in = _stated(latest, shown, rule, row=position, column="consented")
            reach += f" ({opted_in} opted in)"
        parts.append(f"{channel} {reach}" + ("" if rate == HIDDEN else f" ({rate})"))
    text = (
        f"On **{latest['counted_at'].iloc[0]}** (end of {latest['period_label'].iloc[0]}), of "
        f"{rule.phrase(latest['customers'].iloc[0])} signed up these could be reached: "
        f"{'; '.join(parts)}. "
        "Consent is the customers table's current snapshot, applied to every period."
    )
    if (shown[["consented", "unsubscribed", "contactable"]] == HIDDEN).any(axis=None):
        text += (
            " A count not shown is hidden so that opted in = unsubscribed + contactable does "
            f"not reveal a count of fewer than {rule.min_cell_size:,} customers."
        )
    if not bool(latest["unsubscribes_known"].iloc[0]):
        return (
            text
            + " This run has no messaging events, so no unsubscribes are known: contactable = consented."
        )
    unsubscribed = ", ".join(
        f"{channel} {_stated(latest, shown, rule, row=position, column='unsubscribed')}"
        for position, channel in enumerate(latest["channel"].astype("str"))
    )
    return text + f" Unsubscribed so far: {unsubscribed}."


def _stated(
    latest: pd.DataFrame, shown: pd.DataFrame, rule: SmallCells, *, row: int, column: str
) -> str:
    """A count of the contactable base for a sentence: "156 customers", "fewer than 10
    customers", or "not shown" where the table hides it as a complementary cell."""
    if shown[column].iloc[row] == HIDDEN:
        return "not shown"
    return rule.phrase(latest[column].iloc[row])


def describe_channel_engagement(
    engagement: pd.DataFrame | None, *, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: open, click and conversion rates per channel in the latest period with sends, or why skipped.

    The rates of a channel whose sends reached fewer than ``min_cell_size`` customers are not
    stated.
    """
    if engagement is None:
        return _skipped("events", "channel engagement")
    sent = engagement[engagement["sends"] > 0]
    if sent.empty:
        return "The `events` table holds no sends up to the end of the data, so there is no engagement to measure."
    rule = SmallCells(min_cell_size)
    latest = sent[sent["period_start"] == sent["period_start"].max()]
    window = int(engagement["conversion_window_days"].iloc[0])
    parts = [
        f"{row.channel}: {counted(int(row.sends), 'send')}, {format_figure(row.open_rate, 'rate')} opened, "
        f"{format_figure(row.click_rate, 'rate')} clicked, {format_figure(row.conversion_rate, 'rate')} bought within {window} days"
        if rule.shown(row.customers_sent)
        else f"{row.channel}: {counted(int(row.sends), 'send')} to {rule.phrase(row.customers_sent)}, "
        "too few to show rates"
        for row in latest.itertuples()
    ]
    text = f"In **{latest['period_label'].iloc[0]}**, " + "; ".join(parts) + "."
    if not latest["conversion_window_complete"].all():
        text += f" Some sends were less than {window} days before the end of the data, so conversion is understated."
    return text


def _mix_amount(mix: PeriodMix, value: float, *, currency: str, signed: bool) -> str:
    """A rate of ``mix`` as a page reads it: 31.2% or €54.10; a change as +1.3 pp or +€2.05."""
    if mix.metric == "retention":
        text = f"{abs(value) * 100:.1f} pp" if signed else f"{value:.1%}"
    else:
        text = format_money(abs(value) if signed else value, currency, small_decimals=2)
    if not signed:
        return text
    return ("+" if round(value, 6) > 0 else "\u2212" if round(value, 6) < 0 else "\u00b1") + text


def describe_mix(mix: PeriodMix, *, currency: str) -> str:
    """Why the rate moved, in words: the change, its rate and mix effects, the main group.

    The rate effect is the change had every group kept its share of the base; the mix
    effect the change had every group kept its rate (the midpoint convention of
    :mod:`crmlib.kpis.mix`). Groups are named only when they are shown in the table (small
    ones are pooled into ``(other)`` before).
    """
    dimension = mix.by.replace("_", " ")
    if mix.split is None:
        return f"The change of the {mix.label} is not split by {dimension}: {mix.reason}."
    split = mix.split

    def amount(value: float, signed: bool = True) -> str:
        return _mix_amount(mix, value, currency=currency, signed=signed)

    moved = "rose" if split.change > 0 else "fell" if split.change < 0 else "did not move"
    text = (
        f"The {mix.label} {moved} from {amount(split.rate_before, False)} in {mix.before} to "
        f"{amount(split.rate_after, False)} in {mix.after} ({amount(split.change)}). Of that, "
        f"{amount(split.rate_effect)} is the **rate effect** (each {dimension}'s own "
        f"{mix.label} moved) and {amount(split.mix_effect)} the **mix effect** (the base "
        f"shifted between {dimension}s that do better or worse)."
    )
    named = split.table[split.table["group"] != "(other)"]
    if len(named) and split.table["rate_effect"].abs().max() > 0:
        main = split.table.loc[split.table["rate_effect"].abs().idxmax()]
        text += f" The largest rate effect is {main['group']}'s ({amount(main['rate_effect'])})."
    if abs(split.mix_effect) > abs(split.rate_effect):
        text += f" The mix, more than the {dimension}s' own performance, moved the figure."
    if mix.pooled:
        text += f" {counted(mix.pooled, dimension)} with few customers are pooled into (other)."
    return text
