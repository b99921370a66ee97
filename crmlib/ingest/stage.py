"""The 01_ingest stage: run it, and its quality.json, headline metrics and business checks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crmlib.checks import Checks
from crmlib.config import WorkbookParams
from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError
from crmlib.facts import FACT_TABLES
from crmlib.formatting import counted
from crmlib.ingest.models import _TABLE_ORDER, _require_quality, _share
from crmlib.ingest.postgres import connection_string
from crmlib.ingest.queries import (
    _Artifacts,
    _cleanup,
    _copy,
    _ingest_other,
    _ingest_transactions,
    _prepare,
    _register_files,
    _source_base,
    _transactions_source,
)
from crmlib.ingest.sources import TABLES, read_source, resolve_files, run_date
from crmlib.ingest.text import _amount, _verdict_text
from crmlib.io import RunFolder

__all__ = [
    "IngestResult",
    "run_ingest",
    "build_quality",
    "ingest_metrics",
    "ingest_checks",
]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What :func:`run_ingest` did.

    Attributes
    ----------
    quality : dict
        The content of ``quality.json`` (counts only, no customer identifiers).
    rows : dict
        Rows written per artifact (``transactions``, ``rejects``, ``daily_orders``, and the
        optional tables that were present).
    tables_present : tuple of str
        The contract tables configured in ``params.source``.
    seconds : float
        Wall time of the stage.
    """

    quality: dict[str, Any]
    rows: dict[str, int]
    tables_present: tuple[str, ...]
    seconds: float

    @property
    def verdict(self) -> str:
        """``pass``, ``warn`` or ``fail``."""
        return str(self.quality["verdict"])


# -- quality.json ---------------------------------------------------------------------------------


def _money(micros: int) -> float:
    """Money from integer millionths of the currency unit (the source's precision, not cents)."""
    return round(micros / 1_000_000, 6)


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


# -- the stage ----------------------------------------------------------------------------------------


def run_ingest(
    params: WorkbookParams, run: RunFolder, *, engine: Engine | None = None
) -> IngestResult:
    """Run stage 01_ingest: read, validate and net every source; write the artifacts.

    Transforms the configured sources (``params.source``: transactions required; customers,
    events, assignments, surveys, marketing_spend optional) into the run folder's ``transactions`` (one row per order
    with a customer id, net of its matched refunds, plus one row per refund order id matching
    no accepted order, kept as a return), ``unattributed`` (the same for guest orders, without
    a customer id), ``customers``, ``events``, ``assignments``, ``surveys``,
    ``marketing_spend`` (one row per accepted source row; written only when configured, and a stale one from an earlier run is removed),
    ``rejects`` (one row per rejected source row: table, file, row, reason, column, detail,
    amount, raw record), ``daily_orders`` (one row per calendar day) and ``quality.json``
    (counts only). Rows dated after ``as_of_date`` (but not after the run date) are counted
    and left out. Artifacts appear together at the end. All row-level work is SQL on the
    engine (``crmlib/sql/ingest_*``).

    Invariants, checked on every run: per table, rows read = accepted + unattributed + after
    as-of date + rejected; for transactions, revenue read = the same bins' revenue, exactly
    (integer millionths of the currency unit). A broken invariant writes ``quality.json`` with
    verdict ``fail`` and raises.

    Parameters
    ----------
    params : WorkbookParams
        The validated params (``source``, ``as_of_date``, ``ingest``, ``engine``).
    run : RunFolder
        Where the artifacts go.
    engine : Engine, optional
        An engine to use (its ``ingest_*`` tables are dropped afterwards); by default one is
        made from ``params.engine`` and closed at the end.

    Returns
    -------
    IngestResult
        The quality report, rows written per artifact, the tables present, the wall time.

    Raises
    ------
    SourceFileError
        A source file is missing, empty, unreadable or lacks a required column (fail fast,
        before anything is written).
    DataContractError
        Rows or revenue do not reconcile (a bug: quality.json is written first).
    """
    started = time.perf_counter()
    owns_engine = engine is None
    active = Engine.from_config(params.engine) if engine is None else engine
    artifacts = _Artifacts(run)
    present = tuple(t for t in TABLES if getattr(params.source, t) is not None)
    base = _source_base(params)
    for table in present:  # fail fast on missing files or connection settings before any work
        source = getattr(params.source, table)
        if source.postgres is not None:
            connection_string(source.postgres, table=table)
        resolve_files(source, table=table, params=params)
    try:
        _prepare(active)
        summaries: dict[str, dict[str, Any]] = {}
        for table in TABLES[1:]:  # customers first: surveys and spend are checked against it
            source = getattr(params.source, table)
            if source is None:
                summaries[table] = {"present": False}
                continue
            staged = read_source(source, table=table, params=params, engine=active)
            _register_files(active, staged, base=base)
            summaries[table] = _ingest_other(
                active, staged, artifacts, base=base, has_customers="customers" in present
            )
        staged_tx = read_source(
            _transactions_source(params), table="transactions", params=params, engine=active
        )
        _register_files(active, staged_tx, base=base)
        summaries["transactions"], facts = _ingest_transactions(
            active, staged_tx, params, artifacts, has_customers="customers" in present
        )
        rejected_rows = _copy(
            active, load_sql("ingest_rejects_output"), artifacts.path("rejects"), "rejects", {}
        )
        by_reason = active.query(
            'SELECT "table", reason, count(*) AS n, coalesce(sum(ingest_micros(amount)), 0) AS micros '
            'FROM ingest_rejects GROUP BY ALL ORDER BY "table", n DESC, reason'
        )
        daily = pd.read_parquet(artifacts.pending["daily_orders"])
        quality = build_quality(
            params,
            tables=summaries,
            facts=facts,
            rejects_by_reason=by_reason,
            daily_orders=daily,
            rejects_written=rejected_rows,
            run_date=run_date(params),
        )
        artifacts.commit([t for t in TABLES if t not in present])
    except BaseException:
        artifacts.discard()
        raise
    finally:
        _cleanup(active)
        if owns_engine:
            active.close()
    seconds = time.perf_counter() - started
    quality["seconds"] = round(seconds, 2)
    run.write_json("quality", quality)
    rows = {name: int(summaries[name]["rows_written"]) for name in present}
    rows.update({
        "unattributed": int(summaries["transactions"]["unattributed_rows_written"]),
        "rejects": rejected_rows,
        "daily_orders": int(facts["daily_rows"]),
        **{name: int(facts[f"{name}_rows"]) for name in FACT_TABLES},
    })  # fmt: skip
    log.info("ingest: %s in %.1f s (%s)", quality["verdict"], seconds, json.dumps(rows))
    if not quality["reconciles"]:
        raise DataContractError(
            "ingest: rows or revenue do not reconcile (rows read != accepted + rejected, or revenue read != "
            f"accepted + rejected to the cent); see {run.root / 'quality.json'}"
        )
    return IngestResult(quality=quality, rows=rows, tables_present=present, seconds=seconds)


# -- metrics and checks ---------------------------------------------------------------------------


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
