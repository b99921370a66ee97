"""The data-quality report of 01_ingest: quality.json, headline metrics, sentences and charts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from crmlib.checks import Checks
from crmlib.config import WorkbookParams
from crmlib.errors import DataContractError
from crmlib.plotting import counted

__all__ = [
    "build_quality",
    "ingest_metrics",
    "quality_scorecard",
    "rejects_by_reason",
    "describe_reconciliation",
    "describe_rejects",
    "describe_coverage",
    "describe_quality",
    "ingest_checks",
    "plot_orders_per_day",
    "plot_rejects_by_reason",
]

log = logging.getLogger(__name__)

_TABLE_ORDER = ("transactions", "customers", "events", "assignments")
_GAP_COLOUR = "#c0392b"
_SINGULAR = {
    "transactions": "transaction",
    "customers": "customer",
    "events": "event",
    "assignments": "assignment",
}


def _money(micros: int) -> float:
    """Money from integer millionths of the currency unit (the source's precision, not cents)."""
    return round(micros / 1_000_000, 6)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _gaps(
    daily_orders: pd.DataFrame, first: dt.date | None, last: dt.date | None
) -> dict[str, Any]:
    """Days without orders between the first and last order date, and the longest run of them."""
    empty = {"days_in_range": 0, "days_without_orders": 0, "longest_gap_days": 0, "longest_gap_start": None,
             "longest_gap_end": None}  # fmt: skip
    if first is None or last is None or daily_orders.empty:
        return empty
    dates = pd.to_datetime(daily_orders["date"])
    window = daily_orders[(dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))]
    zero = (window["orders"] == 0).to_numpy()
    runs = pd.Series((~zero).cumsum())[zero]
    result = dict(empty, days_in_range=len(window), days_without_orders=int(zero.sum()))
    if len(runs):
        lengths = runs.value_counts()
        longest = lengths.idxmax()
        gap_dates = pd.to_datetime(window["date"]).to_numpy()[zero][(runs == longest).to_numpy()]
        result.update(
            longest_gap_days=int(lengths.max()),
            longest_gap_start=pd.Timestamp(gap_dates[0]).date(),
            longest_gap_end=pd.Timestamp(gap_dates[-1]).date(),
        )
    return result


def build_quality(
    params: WorkbookParams,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    facts: Mapping[str, Any],
    rejects_by_reason: pd.DataFrame,
    daily_orders: pd.DataFrame,
    rejects_written: int,
    run_date: dt.date,
) -> dict[str, Any]:
    """Assemble ``quality.json`` from the stage's counts (no customer identifiers).

    Parameters
    ----------
    params : WorkbookParams
        For the run's names, dates and the ``ingest`` thresholds.
    tables : mapping
        Per contract table: ``present`` and, when present, rows read/accepted/rejected/written,
        ``rows_reconcile``, files (as :func:`crmlib.io.published_path` writes them: relative
        to the params file's folder, or ``<outside>#<fingerprint>/<name>``), formats, absent
        columns.
    facts : mapping
        Transactions figures in integer millionths of the currency unit (``micros_*``) and
        counts (from :func:`run_ingest`).
    rejects_by_reason : pd.DataFrame
        One row per (table, reason): ``n`` rows and ``micros`` of parseable amounts.
    daily_orders : pd.DataFrame
        One row per day: ``date``, ``orders``, ``net_revenue``.
    rejects_written : int
        Rows of the rejects artifact (must equal the rejected rows of all tables).
    run_date : date
        The day the run happens (rows after it are ``future_timestamp`` rejects).

    Returns
    -------
    dict
        ``tables`` (per table), ``transactions`` (revenue, orders, refunds, coverage),
        ``rows_read``/``rows_accepted``/``rows_unattributed``/``rows_after_as_of``/
        ``rows_rejected`` (transactions), ``reject_share`` (the worst table's, of the rows
        not after ``as_of_date``), ``unattributed_share``, ``reconciles``, ``verdict`` and
        ``verdict_text`` (which names the params key behind it).
    """
    ingest = params.ingest
    by_table: dict[str, dict[str, Any]] = {}
    rows_reconcile = True
    for table in _TABLE_ORDER:
        summary = dict(tables.get(table, {"present": False}))
        if not summary.get("present"):
            by_table[table] = {
                "present": False,
                "note": f"not configured (source.{table} is absent)",
            }
            continue
        reasons = rejects_by_reason[rejects_by_reason["table"] == table]
        summary["rejected_by_reason"] = {
            str(r): int(n) for r, n in zip(reasons["reason"], reasons["n"], strict=True)
        }
        # the verdict judges invalid rows among the rows of the report window (and the future
        # rows rejected): rows after as_of_date are neither valid nor invalid here
        judged = summary["rows_read"] - summary["rows_after_as_of"]
        summary["reject_share"] = _share(summary["rows_rejected"], judged)
        summary["unattributed_share"] = _share(summary["rows_unattributed"], judged)
        if sum(summary["rejected_by_reason"].values()) != summary["rows_rejected"]:
            summary["rows_reconcile"] = False
        rows_reconcile = rows_reconcile and bool(summary["rows_reconcile"])
        by_table[table] = summary
    total_rejected = sum(t["rows_rejected"] for t in by_table.values() if t["present"])
    rows_reconcile = rows_reconcile and rejects_written == total_rejected

    tx_reasons = rejects_by_reason[rejects_by_reason["table"] == "transactions"]
    first, last = facts["first_order_date"], facts["last_order_date"]
    coverage = _gaps(daily_orders, first, last)
    transactions = {
        "revenue_read": _money(facts["micros_read"]),
        "revenue_accepted": _money(facts["micros_accepted"]),
        "revenue_unattributed": _money(facts["micros_unattributed"]),
        "revenue_after_as_of": _money(facts["micros_after_as_of"]),
        "revenue_rejected": _money(facts["micros_rejected"]),
        "revenue_rejected_by_reason": {
            str(r): _money(int(c))
            for r, c in zip(tx_reasons["reason"], tx_reasons["micros"], strict=True)
        },
        "revenue_reconciles": bool(facts["revenue_reconciles"]),
        "gross_revenue": _money(facts["gross_micros"]),
        "refunds_netted_amount": _money(facts["refunds_netted_micros"]),
        "returns_amount": _money(facts["returns_micros"]),
        "net_revenue": _money(facts["micros_accepted"]),
        "total_revenue": _money(facts["micros_accepted"] + facts["micros_unattributed"]),
        "extreme_orders_amount": _money(facts["extreme_micros"]),
        **{
            k: facts[k]
            for k in (
                "orders",
                "purchases",
                "zero_value_purchases",
                "zero_value_orders_ignored",
                "cancelled_orders",
                "over_refunded_orders",
                "orders_with_refunds",
                "refund_rows_netted",
                "refund_rows_kept",
                "returns_kept",
                "unattributed_orders",
                "unattributed_returns",
                "extreme_orders",
                "extreme_order_fence",
                "largest_order",
                "unknown_customer_orders",
                "unknown_customers",
                "customers",
                "purchasing_customers",
                "line_items",
                "order_id_column",
            )
        },  # fmt: skip
        "first_order_date": first,
        "last_order_date": last,
        **coverage,
        "days_after_last_order": (params.as_of_date - last).days if last is not None else None,
    }
    tx_table = by_table["transactions"]
    reconciles = rows_reconcile and transactions["revenue_reconciles"]
    present = [t for t in _TABLE_ORDER if by_table[t]["present"]]
    worst = max(present, key=lambda t: by_table[t]["reject_share"])
    share = float(by_table[worst]["reject_share"])
    unattributed = float(tx_table["unattributed_share"])
    if not reconciles:
        verdict = "fail"
    elif tx_table["rows_accepted"] == 0 or share > ingest.reject_share_fail:
        verdict = "fail"
    elif share > ingest.reject_share_warn or unattributed > ingest.unattributed_share_warn:
        verdict = "warn"
    else:
        verdict = "pass"
    quality: dict[str, Any] = {
        "run_name": params.run_name,
        "as_of_date": params.as_of_date,
        "run_date": run_date,
        "currency": params.currency,
        "tables": by_table,
        "transactions": transactions,
        "rows_read": tx_table["rows_read"],
        "rows_accepted": tx_table["rows_accepted"],
        "rows_unattributed": tx_table["rows_unattributed"],
        "rows_after_as_of": tx_table["rows_after_as_of"],
        "rows_rejected": tx_table["rows_rejected"],
        "rows_reconcile": rows_reconcile,
        "rejects_written": rejects_written,
        "reject_share": share,
        "unattributed_share": unattributed,
        "worst_table": worst,
        "reconciles": reconciles,
        "thresholds": {
            "reject_share_warn": ingest.reject_share_warn,
            "reject_share_fail": ingest.reject_share_fail,
            "unattributed_share_warn": ingest.unattributed_share_warn,
            "amount_min": ingest.amount_min,
            "amount_max": ingest.amount_max,
            "order_time_tolerance_minutes": ingest.order_time_tolerance_minutes,
        },
        "refund_when": list(ingest.refund_when),
        "refund_order_id_pattern": ingest.refund_order_id_pattern,
        "zero_value_orders": ingest.zero_value_orders,
        "verdict": verdict,
    }
    quality["verdict_text"] = _verdict_text(quality)
    return quality


# -- words ---------------------------------------------------------------------------------------
def _require_quality(quality: Mapping[str, Any]) -> None:
    missing = [
        k
        for k in ("tables", "transactions", "verdict", "reconciles", "currency")
        if k not in quality
    ]
    if missing:
        raise DataContractError(
            f"quality: key(s) {', '.join(missing)} not found; expected the dict returned by run_ingest "
            "(IngestResult.quality) or quality.json"
        )


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


def ingest_metrics(quality: Mapping[str, Any]) -> dict[str, Any]:
    """Headline figures of 01_ingest for ``metrics.json["ingest"]`` (no customer identifiers).

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``).

    Returns
    -------
    dict
        ``verdict``, ``verdict_text``, ``conclusion`` (one line for the report's front page),
        ``rows_read``/``rows_accepted``/``rows_unattributed``/``rows_after_as_of``/
        ``rows_rejected`` (transactions), ``reject_share``, ``unattributed_share``,
        ``revenue_read``/``revenue_accepted``/``revenue_unattributed``/``revenue_after_as_of``/
        ``revenue_rejected``, ``total_revenue`` (accepted + guest orders), ``unattributed_orders``,
        ``extreme_orders``, ``reconciles``,
        ``customers``, ``orders``, ``first_order_date``, ``last_order_date``,
        ``days_without_orders``, ``currency``.
    """
    _require_quality(quality)
    tx = quality["transactions"]
    currency = quality["currency"]
    dates = (
        f"{tx['first_order_date']} to {tx['last_order_date']}"
        if tx["first_order_date"]
        else "no order dates"
    )
    rejected_share = quality["tables"]["transactions"]["reject_share"]
    guests = (
        f"{counted(quality['rows_unattributed'], 'guest row')} without a customer id counted "
        "in revenue only, "
        if quality.get("rows_unattributed")
        else ""
    )
    after = (
        f"{counted(quality['rows_after_as_of'], 'row')} after the as-of date left out, "
        if quality.get("rows_after_as_of")
        else ""
    )
    conclusion = (
        f"{quality['rows_accepted']:,} of {quality['rows_read']:,} transaction rows accepted "
        f"({rejected_share:.2%} rejected); {guests}{after}"
        + (
            "totals reconcile to the cent; "
            if quality["reconciles"]
            else "totals do NOT reconcile; "
        )
        + f"{tx['orders']:,} orders from {tx['customers']:,} customers, {dates}; "
        f"net revenue {_amount(tx['revenue_accepted'], currency)}"
        + (
            f" ({_amount(tx['total_revenue'], currency)} with guest orders)."
            if tx.get("revenue_unattributed")
            else "."
        )
    )
    return {
        "verdict": quality["verdict"],
        "verdict_text": quality["verdict_text"],
        "conclusion": conclusion,
        "rows_read": quality["rows_read"],
        "rows_accepted": quality["rows_accepted"],
        "rows_rejected": quality["rows_rejected"],
        "rows_unattributed": quality["rows_unattributed"],
        "rows_after_as_of": quality["rows_after_as_of"],
        "reject_share": rejected_share,
        "unattributed_share": quality["unattributed_share"],
        "revenue_read": tx["revenue_read"],
        "revenue_accepted": tx["revenue_accepted"],
        "revenue_unattributed": tx["revenue_unattributed"],
        "revenue_after_as_of": tx["revenue_after_as_of"],
        "revenue_rejected": tx["revenue_rejected"],
        "total_revenue": tx["total_revenue"],
        "unattributed_orders": tx["unattributed_orders"],
        "extreme_orders": tx["extreme_orders"],
        "reconciles": bool(quality["reconciles"]),
        "customers": tx["customers"],
        "orders": tx["orders"],
        "first_order_date": _iso(tx["first_order_date"]),
        "last_order_date": _iso(tx["last_order_date"]),
        "days_without_orders": tx["days_without_orders"],
        "currency": currency,
    }


def _iso(value: Any) -> str | None:
    return (
        None
        if value is None
        else (value.isoformat() if hasattr(value, "isoformat") else str(value))
    )


def quality_scorecard(quality: Mapping[str, Any]) -> pd.DataFrame:
    """The row and revenue accounting of every table, formatted for display.

    Transforms ``quality`` into one row per contract table (rows read, accepted, without a
    customer id (guest orders), after the as-of date, rejected, the rejected share and whether
    rows reconcile; "not configured" for an absent table), one row for transaction revenue
    (read = accepted + no customer id + after the as-of date + rejected, in the run's
    currency) and, when there are any, one row counting the extreme orders (kept, flagged).

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``).

    Returns
    -------
    pd.DataFrame
        Indexed by ``item``; columns ``read``, ``accepted``, ``no customer id``, ``after as-of
        date``, ``rejected``, ``rejected share``, ``reconciles``; text cells, ready to show.
    """
    _require_quality(quality)
    columns = ["item", "read", "accepted", "no customer id", "after as-of date", "rejected",
               "rejected share", "reconciles"]  # fmt: skip
    rows = []
    for table in _TABLE_ORDER:
        summary = quality["tables"][table]
        if not summary["present"]:
            rows.append(
                dict.fromkeys(columns[1:], "–")
                | {"item": f"{table} (rows)", "read": "not configured"}
            )
            continue
        rows.append({
            "item": f"{table} (rows)",
            "read": f"{summary['rows_read']:,}",
            "accepted": f"{summary['rows_accepted']:,}",
            "no customer id": f"{summary['rows_unattributed']:,}" if table == "transactions" else "–",
            "after as-of date": f"{summary['rows_after_as_of']:,}",
            "rejected": f"{summary['rows_rejected']:,}",
            "rejected share": f"{summary['reject_share']:.2%}",
            "reconciles": "yes" if summary["rows_reconcile"] else "NO",
        })  # fmt: skip
    tx = quality["transactions"]
    currency = quality["currency"]
    rows.append({
        "item": f"transaction revenue ({currency})",
        "read": f"{tx['revenue_read']:,.2f}",
        "accepted": f"{tx['revenue_accepted']:,.2f}",
        "no customer id": f"{tx['revenue_unattributed']:,.2f}",
        "after as-of date": f"{tx['revenue_after_as_of']:,.2f}",
        "rejected": f"{tx['revenue_rejected']:,.2f}",
        "rejected share": f"{_share(abs(tx['revenue_rejected']), abs(tx['revenue_read'])):.2%}",
        "reconciles": "yes" if tx["revenue_reconciles"] else "NO",
    })  # fmt: skip
    if tx.get("extreme_orders"):
        fence = tx["extreme_order_fence"]
        rows.append(dict.fromkeys(columns[1:], "–") | {
            "item": f"extreme orders, above {currency} {fence:,.0f} (kept, flagged)",
            "read": f"{tx['extreme_orders']:,}",
            "accepted": f"{tx['extreme_orders']:,}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("item")


def rejects_by_reason(quality: Mapping[str, Any]) -> pd.DataFrame:
    """Rejected rows per table and reason code.

    Returns
    -------
    pd.DataFrame
        One row per (table, reason) with at least one rejected row: ``table``, ``reason``,
        ``rows``; most frequent first.
    """
    _require_quality(quality)
    records = [
        {"table": table, "reason": reason, "rows": int(n)}
        for table in _TABLE_ORDER
        for reason, n in quality["tables"][table].get("rejected_by_reason", {}).items()
        if n
    ]
    frame = pd.DataFrame(records, columns=["table", "reason", "rows"])
    return frame.sort_values(
        ["rows", "table", "reason"], ascending=[False, True, True], ignore_index=True
    )


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
    rows = f"All {quality['rows_read']:,} transaction rows are accounted for: {_join(bins)}."
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


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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


def ingest_checks(quality: Mapping[str, Any]) -> Checks:
    """Business rules 01_ingest must meet before later stages use its tables.

    Rows reconcile (per table: read = accepted + unattributed + after as-of date + rejected),
    revenue reconciles exactly (the same bins), and the verdict is not ``fail`` (its text
    names the params key behind it).
    """
    _require_quality(quality)
    tx = quality["tables"]["transactions"]
    revenue = quality["transactions"]
    currency = quality["currency"]
    checks = Checks()
    checks.expect(
        "rows reconcile",
        quality["rows_reconcile"],
        f"transactions: {tx['rows_read']:,} read = {tx['rows_accepted']:,} accepted + "
        f"{tx['rows_unattributed']:,} without a customer id + {tx['rows_after_as_of']:,} after the as-of "
        f"date + {tx['rows_rejected']:,} rejected; every other table likewise",
    )
    checks.expect(
        "revenue reconciles exactly",
        revenue["revenue_reconciles"],
        f"{revenue['revenue_read']:,.2f} read = {revenue['revenue_accepted']:,.2f} accepted + "
        f"{revenue['revenue_unattributed']:,.2f} guest orders + {revenue['revenue_after_as_of']:,.2f} after the "
        f"as-of date + {revenue['revenue_rejected']:,.2f} rejected ({currency})",
    )
    checks.expect("verdict is not fail", quality["verdict"] != "fail", quality["verdict_text"])
    return checks


# -- charts -----------------------------------------------------------------------------------------
def plot_rejects_by_reason(quality: Mapping[str, Any], *, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars: rejected rows per reason code, coloured by table.

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``); counts only, no raw rows.
    ax : matplotlib Axes, optional
        Where to draw; the current axes by default.

    Returns
    -------
    matplotlib Axes
    """
    ax = ax or plt.gca()
    reasons = rejects_by_reason(quality)
    if reasons.empty:
        ax.text(0.5, 0.5, "No rows rejected", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[])
    else:
        reasons = reasons.assign(reason=reasons["reason"].map(_reason_label))
        sns.barplot(data=reasons, x="rows", y="reason", hue="table", orient="h", ax=ax, dodge=False)
        for container in ax.containers:
            ax.bar_label(container, fmt="{:,.0f}", padding=3, fontsize=9)  # type: ignore[arg-type]
        ax.margins(x=0.12)
        legend = ax.get_legend()
        if reasons["table"].nunique() == 1 and legend is not None:
            legend.remove()
    total = int(reasons["rows"].sum()) if not reasons.empty else 0
    ax.set(
        title=f"Rejected rows by reason ({total:,} rows)",
        xlabel="Rejected rows (count)",
        ylabel="Reject reason",
    )
    return ax


def plot_orders_per_day(daily_orders: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Orders per day with a 7-day average; days without orders shaded.

    Parameters
    ----------
    daily_orders : pd.DataFrame
        One row per calendar day (the ``daily_orders`` artifact): ``date``, ``orders``.
    ax : matplotlib Axes, optional
        Where to draw; the current axes by default.

    Returns
    -------
    matplotlib Axes
    """
    missing = [c for c in ("date", "orders") if c not in daily_orders.columns]
    if missing:
        raise DataContractError(
            f"daily_orders: column(s) {', '.join(missing)} not found; expected the daily_orders artifact of 01_ingest"
        )
    ax = ax or plt.gca()
    dates = pd.to_datetime(daily_orders["date"])
    orders = daily_orders["orders"].astype(float)
    zero = (orders == 0).to_numpy()
    ax.plot(dates, orders, linewidth=0.6, alpha=0.5, label="orders")
    ax.plot(dates, orders.rolling(7, min_periods=1).mean(), linewidth=1.6, label="7-day average")
    n_gaps = int(zero.sum())
    if n_gaps:
        ax.fill_between(dates, 0, 1, where=zero, step="mid", color=_GAP_COLOUR, alpha=0.35,
                        transform=ax.get_xaxis_transform(), label=f"day without orders ({n_gaps:,})")  # fmt: skip
        ax.scatter(dates[zero], orders[zero], color=_GAP_COLOUR, s=12, zorder=3)
    ax.set_ylim(bottom=0)
    gaps = f"{n_gaps:,} day(s) without orders highlighted" if n_gaps else "no day without orders"
    ax.set(
        title=f"Orders per day ({gaps})", xlabel="Order date (UTC)", ylabel="Orders per day (count)"
    )
    ax.legend(loc="upper left")
    return ax
