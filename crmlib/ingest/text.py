"""The data-quality report of 01_ingest in words: verdict, reconciliation, rejects, coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmlib.formatting import counted, listed
from crmlib.ingest.models import _require_quality, rejects_by_reason

__all__ = [
    "describe_reconciliation",
    "describe_rejects",
    "describe_coverage",
    "describe_quality",
]


_SINGULAR = {
    "transactions": "transaction",
    "customers": "customer",
    "events": "event",
    "assignments": "assignment",
    "surveys": "survey response",
    "marketing_spend": "marketing spend",
}


def _amount(value: float, currency: str) -> str:
    """Money for a sentence: the source keeps fractions of a cent, the page shows cents."""
    return f"{currency} {value:,.2f}"


def _percent(share: float) -> str:
    """A share for a sentence: two decimals below 1% (0.02%), one above (25.3%)."""
    return f"{share:.2%}" if 0 < share < 0.01 else f"{share:.1%}"


def _reason_label(reason: str) -> str:
    return reason.replace("_", " ")


def _verdict_text(quality: Mapping[str, Any]) -> str:
    word = {"pass": "Pass", "warn": "Warning", "fail": "Fail"}[quality["verdict"]]
    return f"{word}: {_verdict_body(quality)}"


def _verdict_body(quality: Mapping[str, Any]) -> str:
    """What the verdict rests on, with the params key behind each threshold."""
    tables = quality["tables"]
    worst = quality["worst_table"]
    summary = tables[worst]
    thresholds = quality["thresholds"]
    judged = summary["rows_read"] - summary.get("rows_after_as_of", 0)
    reasons = summary.get("rejected_by_reason", {})
    top = max(reasons, key=lambda r: reasons[r], default=None)
    most = f", most often {_reason_label(top)} ({reasons[top]:,})" if top else ""
    share = (
        f"{quality['reject_share']:.2%} of {_SINGULAR[worst]} rows are invalid and were rejected "
        f"({summary['rows_rejected']:,} of {judged:,}{most}; warn above "
        f"{thresholds['reject_share_warn']:.1%} (ingest.reject_share_warn), fail above "
        f"{thresholds['reject_share_fail']:.1%} (ingest.reject_share_fail))"
    )
    tx = tables["transactions"]
    guests = ""
    if tx.get("rows_unattributed"):
        guests = (
            f"; {_percent(quality['unattributed_share'])} of transaction rows have no customer id (guest orders: "
            f"counted in revenue, kept out of customer analytics; warn above "
            f"{thresholds['unattributed_share_warn']:.0%}, ingest.unattributed_share_warn)"
        )
    after = sum(t.get("rows_after_as_of", 0) for t in tables.values() if t.get("present"))
    window = (
        f"; {counted(after, 'row')} dated after as_of_date {quality['as_of_date']} {'is' if after == 1 else 'are'} outside the report window "
        "and not judged"
        if after
        else ""
    )
    if not quality["reconciles"]:
        return (
            "totals do not reconcile (rows or revenue), so this run must not be used; this is a defect of "
            f"the ingest stage, not of the data; {share}."
        )
    if tx["rows_accepted"] == 0:
        return (
            f"no transaction row was accepted: of {tx['rows_read']:,} rows read, {tx['rows_rejected']:,} were "
            f"rejected, {tx.get('rows_unattributed', 0):,} have no customer id and "
            f"{tx.get('rows_after_as_of', 0):,} are dated after as_of_date {quality['as_of_date']} "
            "(check source.transactions.columns and as_of_date)."
        )
    return f"{share}{guests}{window}; rows and revenue reconcile."


def describe_reconciliation(quality: Mapping[str, Any]) -> str:
    """One paragraph: do rows and revenue reconcile? (Markdown, no customer identifiers.)"""
    _require_quality(quality)
    tx = quality["transactions"]
    currency = quality["currency"]
    bins = [f"{quality['rows_accepted']:,} accepted"]
    if quality.get("rows_unattributed"):
        bins.append(f"{quality['rows_unattributed']:,} without a customer id (guest orders)")
    if quality.get("rows_after_as_of"):
        bins.append(
            f"{quality['rows_after_as_of']:,} dated after the as-of date {quality['as_of_date']}"
        )
    bins.append(f"{quality['rows_rejected']:,} rejected")
    rows = f"All {quality['rows_read']:,} transaction rows are accounted for: {listed(bins)}."
    others = [
        f"{table} {s['rows_accepted']:,} of {s['rows_read']:,}"
        for table, s in quality["tables"].items()
        if table != "transactions" and s["present"]
    ]
    other_text = f" Other tables accepted: {', '.join(others)}." if others else ""
    if not quality["reconciles"]:
        return (
            f"**Totals do not reconcile.** Revenue read {_amount(tx['revenue_read'], currency)}, accepted "
            f"{_amount(tx['revenue_accepted'], currency)}, rejected {_amount(tx['revenue_rejected'], currency)}. "
            "This is a defect of the ingest stage, not of the data: do not use this run."
        )
    parts = [f"{_amount(tx['revenue_accepted'], currency)} accepted"]
    if tx.get("revenue_unattributed"):
        parts.append(f"{_amount(tx['revenue_unattributed'], currency)} of guest orders")
    if tx.get("revenue_after_as_of"):
        parts.append(f"{_amount(tx['revenue_after_as_of'], currency)} after the as-of date")
    parts.append(f"{_amount(tx['revenue_rejected'], currency)} on rejected rows")
    return (
        f"{rows}{other_text} Revenue reconciles exactly: {_amount(tx['revenue_read'], currency)} read = "
        f"{' + '.join(parts)}. Accepted revenue is net of {counted(tx['refund_rows_netted'], 'refund row')} netted "
        f"into their orders and {counted(tx['returns_kept'], 'unmatched refund')} kept as returns."
    )


def describe_rejects(quality: Mapping[str, Any]) -> str:
    """One paragraph: what was rejected and why, and unknown customers kept. (Markdown.)"""
    _require_quality(quality)
    reasons = rejects_by_reason(quality)
    tx = quality["transactions"]
    unknown = ""
    if tx["unknown_customer_orders"]:
        orders = int(tx["unknown_customer_orders"])
        unknown = (
            f" {counted(orders, 'order')} from {counted(int(tx['unknown_customers']), 'customer id')} "
            f"not in the customers table {'was' if orders == 1 else 'were'} kept and flagged "
            "(`customer_known = false`), not rejected."
        )
    elif tx["unknown_customer_orders"] is None:
        unknown = " There is no customers table, so orders cannot be checked against it."
    unknown += _kept_notes(tx, quality["currency"])
    if reasons.empty:
        return f"No row of any table was rejected.{unknown}"
    total = int(reasons["rows"].sum())
    top = ", ".join(
        f"{_reason_label(r.reason)} ({r.rows:,}{'' if r.table == 'transactions' else ' ' + r.table})"
        for r in reasons.head(5).itertuples()
    )
    extra = len(reasons) - 5
    more = f" and {extra} more reason{'s' if extra > 1 else ''}" if extra > 0 else ""
    share = quality["tables"]["transactions"]["reject_share"]
    by_money = tx.get("revenue_rejected_by_reason", {})
    biggest = max(by_money, key=lambda r: abs(by_money[r]), default=None)
    money = ""
    if biggest is not None and abs(by_money[biggest]) > 0.5 * abs(tx["revenue_rejected"]) > 0:
        money = f", most of it on {_reason_label(biggest)} rows ({_amount(by_money[biggest], quality['currency'])})"
    return (
        f"{total:,} rows were rejected in all: {top}{more}. That is {share:.2%} of transaction rows, carrying "
        f"{_amount(tx['revenue_rejected'], quality['currency'])} of parseable amounts{money}.{unknown} Every "
        "rejected row is in the `rejects` artifact with its file, row number, reason and the value found."
    )


def _kept_notes(tx: Mapping[str, Any], currency: str) -> str:
    """Sentences on valid rows that are easy to mistake for errors: guest, free and extreme orders."""
    notes = ""
    if tx.get("unattributed_orders"):
        notes += (
            f" Guest orders without a customer id: {tx['unattributed_orders']:,} "
            f"({_amount(tx['revenue_unattributed'], currency)}), valid — counted in revenue and orders, kept out "
            "of customer analytics (the `unattributed` artifact)."
        )
    if tx.get("zero_value_purchases"):
        notes += (
            f" Orders of zero value (free items, full discounts): {tx['zero_value_purchases']:,}, counted as "
            "purchases with no revenue (ingest.zero_value_orders: purchase)."
        )
    if tx.get("zero_value_orders_ignored"):
        notes += (
            f" Orders of zero value: {tx['zero_value_orders_ignored']:,}, kept but not counted as purchases "
            "(ingest.zero_value_orders: ignore)."
        )
    if tx.get("extreme_orders"):
        notes += (
            f" Extreme orders, far above the usual order (above {_amount(tx['extreme_order_fence'], currency)}): "
            f"{tx['extreme_orders']:,}, {_amount(tx['extreme_orders_amount'], currency)} in all, the largest "
            f"{_amount(tx['largest_order'], currency)} — kept and flagged, not rejected (set ingest.amount_max "
            "to reject orders above a bound)."
        )
    return notes


def describe_coverage(quality: Mapping[str, Any]) -> str:
    """One paragraph: the order dates covered and the days without orders. (Markdown.)"""
    _require_quality(quality)
    tx = quality["transactions"]
    if tx["first_order_date"] is None:
        return "No accepted order has a date: there is nothing to chart."
    span = f"Orders run from {tx['first_order_date']} to {tx['last_order_date']} ({tx['days_in_range']:,} days)"
    if tx["days_without_orders"] == 0:
        gaps = "every day in that range has orders"
    else:
        longest = f"the longest gap is {tx['longest_gap_days']} day(s), {tx['longest_gap_start']} to {tx['longest_gap_end']}"
        gaps = f"{tx['days_without_orders']:,} day(s) have no orders ({longest}) — check for missing exports"
    after = tx["days_after_last_order"]
    tail = (
        ""
        if not after
        else f" The last order is {after} day(s) before the as-of date {quality['as_of_date']}."
    )
    return f"{span}; {gaps}.{tail}"


def describe_quality(quality: Mapping[str, Any]) -> str:
    """The verdict in words, with what to do next. (Markdown, one or two sentences.)"""
    _require_quality(quality)
    advice = {
        "pass": "The later stages can rely on these tables.",
        "warn": "Read the `rejects` artifact before relying on the figures: the rejected share is above the "
        "warning threshold.",
        "fail": "Fix the source (or the params file's `source:` section) and rerun before using this report.",
    }[quality["verdict"]]
    body = _verdict_body(quality)
    return f"**Verdict: {quality['verdict']}.** {body[:1].upper()}{body[1:]} {advice}"
