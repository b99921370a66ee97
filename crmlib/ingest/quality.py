"""The data-quality report of 01_ingest: quality.json, headline metrics, sentences and charts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from crmlib.config import WorkbookParams
from crmlib.errors import DataContractError

__all__ = [
    "build_quality",
    "ingest_metrics",
    "quality_scorecard",
    "rejects_by_reason",
    "describe_reconciliation",
    "describe_rejects",
    "describe_coverage",
    "describe_quality",
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


def _money(cents: int) -> float:
    return round(cents / 100.0, 2)


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
) -> dict[str, Any]:
    """Assemble ``quality.json`` from the stage's counts (no customer identifiers).

    Parameters
    ----------
    params : WorkbookParams
        For the run's names, dates and the ``ingest`` thresholds.
    tables : mapping
        Per contract table: ``present`` and, when present, rows read/accepted/rejected/written,
        ``rows_reconcile``, files, formats, absent columns.
    facts : mapping
        Transactions figures in integer cents and counts (from :func:`run_ingest`).
    rejects_by_reason : pd.DataFrame
        One row per (table, reason): ``n`` rows and ``cents`` of parseable amounts.
    daily_orders : pd.DataFrame
        One row per day: ``date``, ``orders``, ``net_revenue``.
    rejects_written : int
        Rows of the rejects artifact (must equal the rejected rows of all tables).

    Returns
    -------
    dict
        ``tables`` (per table), ``transactions`` (revenue, orders, refunds, coverage),
        ``rows_read``/``rows_accepted``/``rows_rejected`` (transactions), ``reject_share``
        (the worst table's), ``reconciles``, ``verdict`` and ``verdict_text``.
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
        summary["reject_share"] = _share(summary["rows_rejected"], summary["rows_read"])
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
        "revenue_read": _money(facts["cents_read"]),
        "revenue_accepted": _money(facts["cents_accepted"]),
        "revenue_rejected": _money(facts["cents_rejected"]),
        "revenue_rejected_by_reason": {
            str(r): _money(int(c))
            for r, c in zip(tx_reasons["reason"], tx_reasons["cents"], strict=True)
        },
        "revenue_reconciles": bool(facts["revenue_reconciles"]),
        "gross_revenue": _money(facts["gross_cents"]),
        "refunds_netted_amount": _money(facts["refunds_netted_cents"]),
        "returns_amount": _money(facts["returns_cents"]),
        "net_revenue": _money(facts["cents_accepted"]),
        **{
            k: facts[k]
            for k in (
                "orders",
                "purchases",
                "cancelled_orders",
                "over_refunded_orders",
                "orders_with_refunds",
                "refund_rows_netted",
                "returns_kept",
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
    if not reconciles:
        verdict = "fail"
    elif tx_table["rows_accepted"] == 0 or share > ingest.reject_share_fail:
        verdict = "fail"
    elif share > ingest.reject_share_warn:
        verdict = "warn"
    else:
        verdict = "pass"
    quality: dict[str, Any] = {
        "run_name": params.run_name,
        "as_of_date": params.as_of_date,
        "currency": params.currency,
        "tables": by_table,
        "transactions": transactions,
        "rows_read": tx_table["rows_read"],
        "rows_accepted": tx_table["rows_accepted"],
        "rows_rejected": tx_table["rows_rejected"],
        "rows_reconcile": rows_reconcile,
        "rejects_written": rejects_written,
        "reject_share": share,
        "worst_table": worst,
        "reconciles": reconciles,
        "thresholds": {
            "reject_share_warn": ingest.reject_share_warn,
            "reject_share_fail": ingest.reject_share_fail,
            "amount_min": ingest.amount_min,
            "amount_max": ingest.amount_max,
        },
        "refund_when": list(ingest.refund_when),
        "refund_order_id_pattern": ingest.refund_order_id_pattern,
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
    return f"{currency} {value:,.2f}"


def _reason_label(reason: str) -> str:
    return reason.replace("_", " ")


def _verdict_text(quality: Mapping[str, Any]) -> str:
    word = {"pass": "Pass", "warn": "Warning", "fail": "Fail"}[quality["verdict"]]
    return f"{word}: {_verdict_body(quality)}"


def _verdict_body(quality: Mapping[str, Any]) -> str:
    tables = quality["tables"]
    worst = quality["worst_table"]
    worst_summary = tables[worst]
    thresholds = quality["thresholds"]
    limits = f"warn above {thresholds['reject_share_warn']:.1%}, fail above {thresholds['reject_share_fail']:.1%}"
    share = (
        f"{quality['reject_share']:.2%} of {_SINGULAR[worst]} rows were rejected "
        f"({worst_summary['rows_rejected']:,} of {worst_summary['rows_read']:,}; {limits})"
    )
    if not quality["reconciles"]:
        return f"totals do not reconcile (rows or revenue to the cent), so this run must not be used; {share}."
    if quality["tables"]["transactions"]["rows_accepted"] == 0:
        return "no transaction row was accepted."
    return f"{share}, and rows and revenue reconcile to the cent."


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
        ``rows_read``/``rows_accepted``/``rows_rejected`` (transactions), ``reject_share``,
        ``revenue_read``/``revenue_accepted``/``revenue_rejected``, ``reconciles``,
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
    rejected_share = _share(quality["rows_rejected"], quality["rows_read"])
    conclusion = (
        f"{quality['rows_accepted']:,} of {quality['rows_read']:,} transaction rows accepted "
        f"({rejected_share:.2%} rejected); "
        + (
            "totals reconcile to the cent; "
            if quality["reconciles"]
            else "totals do NOT reconcile; "
        )
        + f"{tx['orders']:,} orders from {tx['customers']:,} customers, {dates}; "
        f"net revenue {_amount(tx['revenue_accepted'], currency)}."
    )
    return {
        "verdict": quality["verdict"],
        "verdict_text": quality["verdict_text"],
        "conclusion": conclusion,
        "rows_read": quality["rows_read"],
        "rows_accepted": quality["rows_accepted"],
        "rows_rejected": quality["rows_rejected"],
        "reject_share": rejected_share,
        "revenue_read": tx["revenue_read"],
        "revenue_accepted": tx["revenue_accepted"],
        "revenue_rejected": tx["revenue_rejected"],
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

    Transforms ``quality`` into one row per contract table (rows read, accepted, rejected, the
    rejected share and whether rows reconcile; "not configured" for an absent table) plus one
    row for transaction revenue (read = accepted + rejected, in the run's currency).

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``).

    Returns
    -------
    pd.DataFrame
        Indexed by ``item``; columns ``read``, ``accepted``, ``rejected``, ``rejected share``,
        ``reconciles``; text cells, ready to show.
    """
    _require_quality(quality)
    rows = []
    for table in _TABLE_ORDER:
        summary = quality["tables"][table]
        if not summary["present"]:
            rows.append({"item": f"{table} rows", "read": "not configured", "accepted": "–", "rejected": "–",
                         "rejected share": "–", "reconciles": "–"})  # fmt: skip
            continue
        rows.append({
            "item": f"{table} rows",
            "read": f"{summary['rows_read']:,}",
            "accepted": f"{summary['rows_accepted']:,}",
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
        "rejected": f"{tx['revenue_rejected']:,.2f}",
        "rejected share": f"{_share(abs(tx['revenue_rejected']), abs(tx['revenue_read'])):.2%}",
        "reconciles": "yes" if tx["revenue_reconciles"] else "NO",
    })  # fmt: skip
    return pd.DataFrame(
        rows, columns=["item", "read", "accepted", "rejected", "rejected share", "reconciles"]
    ).set_index("item")


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
    rows = (
        f"All {quality['rows_read']:,} transaction rows are accounted for: {quality['rows_accepted']:,} accepted "
        f"and {quality['rows_rejected']:,} rejected."
    )
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
    return (
        f"{rows}{other_text} Revenue reconciles to the cent: {_amount(tx['revenue_read'], currency)} read = "
        f"{_amount(tx['revenue_accepted'], currency)} accepted (net of {tx['refund_rows_netted']:,} refunds netted "
        f"into their orders and {tx['returns_kept']:,} unmatched refunds kept as returns) + "
        f"{_amount(tx['revenue_rejected'], currency)} on rejected rows."
    )


def describe_rejects(quality: Mapping[str, Any]) -> str:
    """One paragraph: what was rejected and why, and unknown customers kept. (Markdown.)"""
    _require_quality(quality)
    reasons = rejects_by_reason(quality)
    tx = quality["transactions"]
    unknown = ""
    if tx["unknown_customer_orders"]:
        unknown = (
            f" {tx['unknown_customer_orders']:,} orders from {tx['unknown_customers']:,} customers missing from the "
            "customers table were kept and flagged (`customer_known = false`), not rejected."
        )
    elif tx["unknown_customer_orders"] is None:
        unknown = " There is no customers table, so orders cannot be checked against it."
    if reasons.empty:
        return f"No row of any table was rejected.{unknown}"
    total = int(reasons["rows"].sum())
    top = ", ".join(
        f"{_reason_label(r.reason)} ({r.rows:,}{'' if r.table == 'transactions' else ' ' + r.table})"
        for r in reasons.head(5).itertuples()
    )
    more = f" and {len(reasons) - 5} more reasons" if len(reasons) > 5 else ""
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
