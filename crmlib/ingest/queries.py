"""The cleaning and reconciliation SQL of 01_ingest: rejects, refund netting, parquet artifacts.

Every row-level step runs on the engine (``crmlib/sql/ingest_*``); artifacts are written to
hidden temporary files and moved into place together by :func:`crmlib.ingest.stage.run_ingest`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from crmlib.config import TableSource, WorkbookParams
from crmlib.engine import Engine, load_sql, quote_identifier
from crmlib.errors import StageInputMissing
from crmlib.facts import FACT_TABLES, build_facts
from crmlib.ingest.sources import StagedTable, drop_raw, transaction_expressions
from crmlib.io import RunFolder, published_path

__all__ = [
    "ARTIFACT_DTYPES",
]


_TRANSACTION_DTYPES = {
    "order_id": "str", "customer_id": "str", "order_ts": "datetime64[us]", "amount": "float64",
    "gross_amount": "float64", "refund_amount": "float64", "quantity": "Int64", "product_id": "str",
    "category": "str", "channel": "str", "is_purchase": "bool", "is_return": "bool",
    "customer_known": "boolean", "source_row": "int64",
}  # fmt: skip


log = logging.getLogger(__name__)


#: The pandas dtypes of every artifact 01_ingest writes (stored in the parquet metadata, so
#: ``RunFolder.read_table`` restores nullable integers and booleans).
ARTIFACT_DTYPES: dict[str, dict[str, str]] = {
    "transactions": _TRANSACTION_DTYPES,
    # guest orders (no customer id): the same columns, customer_id and customer_known empty
    "unattributed": _TRANSACTION_DTYPES,
    "customers": {
        "customer_id": "str", "signup_ts": "datetime64[us]", "acquisition_channel": "str", "region": "str",
        "birth_year": "Int64", "email_opt_in": "boolean", "sms_opt_in": "boolean", "push_opt_in": "boolean",
        "loyalty_tier": "str",
    },
    "events": {
        "customer_id": "str", "event_ts": "datetime64[us]", "channel": "str", "event_type": "str",
        "campaign_id": "str",
    },
    "assignments": {
        "customer_id": "str", "experiment_id": "str", "variant": "str", "assigned_ts": "datetime64[us]",
        "cost": "float64",
    },
    "surveys": {"customer_id": "str", "response_ts": "datetime64[us]", "survey": "str", "score": "Int64"},
    # date: a calendar day (read as datetime.date, as daily_orders' date)
    "marketing_spend": {"date": "object", "acquisition_channel": "str", "spend": "float64", "campaign": "str"},
    "rejects": {
        "table": "str", "source_file": "str", "source_row": "int64", "reason": "str", "column": "str",
        "detail": "str", "amount": "float64", "raw_record": "str",
    },
    "daily_orders": {"date": "object", "orders": "int64", "net_revenue": "float64"},
    # the shared purchase facts (crmlib.facts), for the later stages
    "customer_days": {
        "customer_key": "int32", "day": "object", "purchases": "int32", "purchase_amount": "float64",
        "amount": "float64", "gross_amount": "float64", "refund_amount": "float64",
    },
    "customer_facts": {
        "customer_key": "int32", "customer_id": "str", "first_purchase_ts": "datetime64[us]",
        "first_purchase_day": "object", "second_purchase_day": "object", "last_purchase_day": "object",
        "purchase_days": "int32", "purchases": "int64", "purchase_amount": "float64", "amount": "float64",
    },
}  # fmt: skip


#: SQL types of the canonical columns of the optional tables (the accepted-rows query casts to them).
#: ("object" columns of these tables are calendar days.)
_SQL_TYPES = {"str": "VARCHAR", "datetime64[us]": "TIMESTAMP", "float64": "DOUBLE", "Int64": "BIGINT",
              "boolean": "BOOLEAN", "object": "DATE"}  # fmt: skip


@dataclass(frozen=True)
class _Key:
    """A set-level key rule of an optional table: a later row of the same key with other content
    is rejected with ``reason`` (in ``column``); the detail names the key as ``label``."""

    columns: tuple[str, ...]
    reason: str
    label: str
    column: str


#: Set-level key rules of the optional tables (None: exact duplicates only).
_KEYS: dict[str, _Key | None] = {
    "customers": _Key(("customer_id",), "duplicate_customer", "customer_id", "customer_id"),
    "events": None,
    "assignments": _Key(
        ("customer_id", "experiment_id"),
        "conflicting_assignment",
        "customer_id in this experiment",
        "customer_id",
    ),
    "surveys": None,
    "marketing_spend": _Key(
        ("date", "acquisition_channel", "campaign"),
        "conflicting_spend",
        "date, acquisition_channel and campaign",
        "spend",
    ),
}


# -- helpers ----------------------------------------------------------------------------------


def _pandas_metadata(artifact: str) -> str:
    """The pandas schema metadata of an artifact, as pyarrow writes it for an empty frame."""
    frame = pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in ARTIFACT_DTYPES[artifact].items()}
    )
    metadata = pa.Schema.from_pandas(frame, preserve_index=False).metadata
    return metadata[b"pandas"].decode("utf-8")


def _copy(engine: Engine, query: str, target: Path, artifact: str, values: dict[str, Any]) -> int:
    """Write a query to parquet (zstd, pandas dtypes in the metadata); return its row count."""
    return engine.copy_to_parquet(
        query, target, values, metadata={"pandas": _pandas_metadata(artifact)}
    )


def _render(name: str, identifiers: dict[str, str]) -> str:
    """A query file with its ``{{ name }}`` placeholders filled (for nesting into a COPY)."""
    text = load_sql(name)
    for key, value in identifiers.items():
        text = text.replace("{{ " + key + " }}", value)
    return text


class _Artifacts:
    """Artifacts written to hidden temporary files first, moved into place together at the end."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.pending: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        temp = self.run.data_dir / f".{name}.parquet.ingest-tmp"
        self.pending[name] = temp
        return temp

    def commit(self, absent: list[str]) -> None:
        for name, temp in self.pending.items():
            os.replace(temp, self.run.table_path(name))
            log.info("wrote %s", self.run.table_path(name).name)
        for name in absent:
            stale = self.run.table_path(name)
            if stale.is_file():
                stale.unlink()
                log.info(
                    "removed %s left by an earlier run: %s is not configured", stale.name, name
                )
        self.pending.clear()

    def discard(self) -> None:
        for temp in self.pending.values():
            temp.unlink(missing_ok=True)
        self.pending.clear()


def _prepare(engine: Engine) -> None:
    engine.execute("ingest_macros")
    engine.execute(
        """
        CREATE OR REPLACE TABLE ingest_rejects ("table" VARCHAR, file_no INTEGER, source_row BIGINT,
            reason VARCHAR, "column" VARCHAR, detail VARCHAR, amount DOUBLE);
        CREATE OR REPLACE TABLE ingest_reject_records ("table" VARCHAR, file_no INTEGER, source_row BIGINT,
            raw_record VARCHAR);
        CREATE OR REPLACE TABLE ingest_files ("table" VARCHAR, file_no INTEGER, source_file VARCHAR);
        CREATE OR REPLACE TABLE ingest_known_customers (customer_id VARCHAR);
        """
    )


def _cleanup(engine: Engine) -> None:
    engine.drop_tables("ingest_")


def _source_base(params: WorkbookParams) -> Path:
    """The folder source paths are published against: the params file's (as ``params.resolve``)."""
    return params.path.parent if params.path is not None else Path.cwd()


def _register_files(engine: Engine, staged: StagedTable, *, base: Path) -> None:
    """Number the table's files for the rejects; each named as :func:`published_path` says."""
    for source_file in staged.files:
        engine.execute(
            "INSERT INTO ingest_files VALUES ($table, $file_no, $source_file)",
            {
                "table": staged.table,
                "file_no": source_file.file_no,
                "source_file": published_path(source_file.path, base=base),
            },
        )


#: Up to this many rejects of one file are fetched by row id (no scan of the raw table).
_ROWID_LOOKUP_MAX = 100_000


def _collect_rejects(engine: Engine, staged: StagedTable, set_rejects: str, amount: str) -> None:
    """Append the table's rejects to ingest_rejects with their raw records; drop the raw tables.

    A file without rejects is not read again; a file with few is read by row id only.
    """
    identifiers = {"stage": staged.relation, "set_rejects": set_rejects, "amount": amount}
    engine.execute("ingest_rejects_collect", {"table": staged.table}, identifiers=identifiers)
    for source_file in staged.files:
        keys = {"table": staged.table, "file_no": source_file.file_no}
        rows = engine.query(
            'SELECT source_row FROM ingest_rejects WHERE "table" = $table AND file_no = $file_no',
            keys,
        )["source_row"]
        if rows.empty:
            continue
        if len(rows) <= _ROWID_LOOKUP_MAX:  # integers from the engine: safe to inline
            rowids = "rowid IN (" + ", ".join(str(int(row) - 1) for row in rows) + ")"
        else:
            rowids = (
                "CAST(rowid AS BIGINT) + 1 IN (SELECT source_row FROM ingest_rejects"
                ' WHERE "table" = $table AND file_no = $file_no)'
            )
        engine.execute(
            "ingest_reject_records",
            keys,
            identifiers={
                "raw": source_file.raw_table,
                "record": source_file.record_sql,
                "rowids": rowids,
            },
        )
    drop_raw(engine, staged)


def _counts(engine: Engine, staged: StagedTable, set_rejects: str, amount: str) -> dict[str, int]:
    purchase = "NOT s.is_refund" if staged.table == "transactions" else "true"
    frame = engine.query(
        "ingest_stage_counts",
        identifiers={
            "stage": staged.relation,
            "set_rejects": set_rejects,
            "amount": amount,
            "purchase": purchase,
        },
    )
    return {name: int(value) for name, value in frame.iloc[0].items()}


def _table_summary(
    staged: StagedTable, counts: dict[str, int], rows_written: int, *, base: Path
) -> dict[str, Any]:
    """Rows of one table in its bins: read = accepted + unattributed + after_as_of + rejected.

    The files are named as :func:`crmlib.io.published_path` says (relative to ``base``, the
    params file's folder, or ``<outside>#<fingerprint>/<name>``).
    """
    rejected = counts["rows_rejected_field"] + counts["rows_rejected_set"]
    summary = {
        "present": True,
        "files": [published_path(f.path, base=base) for f in staged.files],
        "formats": sorted({f.format for f in staged.files}),
        "columns_absent": sorted(name for name, column in staged.columns.items() if column is None),
        "rows_read": counts["rows_read"],
        "rows_accepted": counts["rows_accepted"],
        "rows_unattributed": counts["rows_unattributed"],
        "rows_after_as_of": counts["rows_after_as_of"],
        "rows_rejected": rejected,
        "rows_written": rows_written,
    }
    binned = (
        counts["rows_accepted"]
        + counts["rows_unattributed"]
        + counts["rows_after_as_of"]
        + rejected
    )
    summary["rows_reconcile"] = counts["rows_read"] == binned
    if not summary["rows_reconcile"]:
        log.error("%s: rows do not reconcile: %s", staged.table, counts)
    return summary


# -- the optional tables --------------------------------------------------------------------------


def _ingest_other(
    engine: Engine,
    staged: StagedTable,
    artifacts: _Artifacts,
    *,
    base: Path,
    has_customers: bool = False,
) -> dict[str, Any]:
    """Set-level rejects, accepted rows to parquet, rejects collected; the table's summary.

    With a customers table (read first, ``has_customers``), the summary of ``surveys`` counts
    the accepted responses of customers it lacks (``unknown_customer_rows``: kept, as events
    are) and that of ``marketing_spend`` lists the channels of accepted spend through which
    no customer was acquired (``channels_without_customers``: a warning, kept).
    """
    table = staged.table
    set_rejects = f"ingest_set_rejects_{table}"
    dtypes = ARTIFACT_DTYPES[table]
    key = _KEYS[table]
    key_columns = ", ".join(quote_identifier(name) for name in key.columns) if key else ""
    engine.execute(
        "ingest_set_rejects",
        {
            "has_key": key is not None,
            "key_reason": key.reason if key else "",
            "key_column": key.column if key else "",
            "key_label": key.label if key else "",
        },
        identifiers={
            "stage": staged.relation,
            "target": set_rejects,
            "content": ", ".join(quote_identifier(name) for name in dtypes),
            "key": key_columns if key else "file_no",
            "group_key": f"hash({key_columns})" if key else "row_hash",
        },
    )
    counts = _counts(engine, staged, set_rejects, "NULL")
    _collect_rejects(engine, staged, set_rejects, "NULL")
    columns = ", ".join(
        f"CAST(s.{quote_identifier(name)} AS {_SQL_TYPES[dtype]}) AS {quote_identifier(name)}"
        for name, dtype in dtypes.items()
    )
    query = _render(
        "ingest_accepted",
        {"stage": staged.relation, "set_rejects": set_rejects, "columns": columns},
    )
    rows_written = _copy(engine, query, artifacts.path(table), table, {})
    if table == "customers":
        engine.register_parquet("ingest_customers_written", artifacts.pending["customers"])
        engine.execute(
            "INSERT INTO ingest_known_customers SELECT DISTINCT customer_id FROM ingest_customers_written"
        )
    summary = _table_summary(staged, counts, rows_written, base=base)
    summary["rows_reconcile"] = (
        summary["rows_reconcile"] and rows_written == counts["rows_accepted"]
    )
    if table in ("surveys", "marketing_spend"):
        summary.update(_customer_checks(engine, table, artifacts, has_customers=has_customers))
    engine.execute(f"DROP TABLE IF EXISTS {staged.relation}; DROP TABLE IF EXISTS {set_rejects}")
    return summary


def _customer_checks(
    engine: Engine, table: str, artifacts: _Artifacts, *, has_customers: bool
) -> dict[str, Any]:
    """Surveys of unknown customers, spend on channels without customers (None: no customers)."""
    written = f"ingest_{table}_written"
    engine.register_parquet(written, artifacts.pending[table])
    if table == "surveys":
        unknown = engine.scalar(
            f"SELECT count(*) FROM {written} AS w WHERE NOT EXISTS "
            "(SELECT 1 FROM ingest_known_customers AS k WHERE k.customer_id = w.customer_id)"
        )
        if has_customers and unknown:
            log.warning("surveys: %d response(s) of customers not in customers", unknown)
        return {"unknown_customer_rows": int(unknown or 0) if has_customers else None}
    if not has_customers:
        return {"channels_without_customers": None}
    channels = engine.query(
        f"SELECT DISTINCT acquisition_channel FROM {written} AS w WHERE NOT EXISTS "
        "(SELECT 1 FROM ingest_customers_written AS c "
        "WHERE c.acquisition_channel = w.acquisition_channel) ORDER BY acquisition_channel"
    )["acquisition_channel"]
    unmatched = [str(channel) for channel in channels]
    if unmatched:
        log.warning(
            "marketing_spend: no customer was acquired through %s (kept)", ", ".join(unmatched)
        )
    return {"channels_without_customers": unmatched}


# -- transactions ------------------------------------------------------------------------------------


def _ingest_transactions(
    engine: Engine,
    staged: StagedTable,
    params: WorkbookParams,
    artifacts: _Artifacts,
    *,
    has_customers: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set-level rejects, refund netting, canonical transactions (attributed and guest orders
    apart) and daily orders to parquet; the table's summary and its money facts."""
    source = _transactions_source(params)
    ingest = params.ingest
    line_items = bool(source.line_items)
    set_rejects = "ingest_set_rejects_transactions"
    has_bounds = ingest.amount_min is not None or ingest.amount_max is not None
    engine.execute(
        "ingest_set_rejects_transactions",
        {
            "line_items": line_items,
            "tolerance_seconds": ingest.order_time_tolerance_minutes * 60.0,
            "has_bounds": has_bounds,
            "amount_min": float("-inf") if ingest.amount_min is None else ingest.amount_min,
            "amount_max": float("inf") if ingest.amount_max is None else ingest.amount_max,
        },
        identifiers={
            "group_key": "hash(order_id)" if staged.columns.get("order_id") else "row_hash"
        },
    )
    counts = _counts(engine, staged, set_rejects, "s.amount")
    _collect_rejects(engine, staged, set_rejects, "s.amount")
    expressions = transaction_expressions(source, params)
    engine.execute(
        "ingest_tx_refunds",
        {"refund_pattern": ingest.refund_order_id_pattern},
        identifiers={"refund_target": expressions["refund_target"]},
    )
    orders = load_sql("ingest_tx_orders_lines" if line_items else "ingest_tx_orders_single")
    values = {
        "n_files": len(staged.files),
        "has_customers": has_customers,
        "zero_is_purchase": ingest.zero_value_orders == "purchase",
    }
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE ingest_tx_canonical AS "
        + _render("ingest_tx_output", {"orders": orders}),
        values,
    )
    # the staged rows live on in the canonical table and the rejects: free them before the
    # writes and the facts (at 100M orders DuckDB ran out of memory with them still held)
    engine.execute(f"DROP TABLE IF EXISTS {staged.relation}; DROP TABLE IF EXISTS {set_rejects}")
    rows_written = _copy(
        engine,
        "SELECT * FROM ingest_tx_canonical WHERE customer_id IS NOT NULL",
        artifacts.path("transactions"),
        "transactions",
        {},
    )
    guest_rows = _copy(
        engine,
        "SELECT * FROM ingest_tx_canonical WHERE customer_id IS NULL",
        artifacts.path("unattributed"),
        "unattributed",
        {},
    )
    written = engine.query("ingest_tx_summary").iloc[0].to_dict()
    refunds = engine.query(
        "SELECT count(*) FILTER (WHERE matched) AS netted, count(*) FILTER (WHERE NOT matched) AS kept "
        "FROM ingest_tx_refunds"
    ).iloc[0]
    daily_rows = _copy(
        engine, load_sql("ingest_daily_orders"), artifacts.path("daily_orders"), "daily_orders", {}
    )
    build_facts(
        engine,
        transactions="(SELECT * FROM ingest_tx_canonical WHERE customer_id IS NOT NULL)",
        customer_days="ingest_customer_days",
        customer_facts="ingest_customer_facts",
        keys="ingest_customer_keys",
    )
    fact_rows = {
        name: _copy(
            engine,
            f"SELECT {', '.join(ARTIFACT_DTYPES[name])} FROM ingest_{name}",
            artifacts.path(name),
            name,
            {},
        )
        for name in FACT_TABLES
    }

    summary = _table_summary(staged, counts, rows_written, base=_source_base(params))
    summary["unattributed_rows_written"] = guest_rows

    # every in-window purchase row is in exactly one order, every refund row netted or in a return
    purchase_rows = counts["purchase_rows_in_window"]
    orders_written = int(written["orders"]) + int(written["unattributed_orders"])
    returns_written = int(written["returns_kept"]) + int(written["unattributed_returns"])
    in_window = counts["rows_accepted"] + counts["rows_unattributed"]
    rows_match = purchase_rows + int(refunds["netted"]) + int(refunds["kept"]) == in_window
    rows_match = rows_match and returns_written <= int(refunds["kept"])
    rows_match = rows_match and (returns_written > 0) == (int(refunds["kept"]) > 0)
    rows_match = rows_match and (
        orders_written <= purchase_rows if line_items else orders_written == purchase_rows
    )
    rows_match = rows_match and rows_written + guest_rows == orders_written + returns_written
    # the shared facts hold every attributed customer once, and every attributed order on a day
    fact_counts = engine.query(
        "SELECT (SELECT count(*) FROM ingest_customer_facts) AS customers, "
        "(SELECT coalesce(sum(purchases), 0) FROM ingest_customer_days) AS purchases"
    ).iloc[0]
    rows_match = rows_match and int(fact_counts["customers"]) == int(written["customers"])
    rows_match = rows_match and int(fact_counts["purchases"]) == int(written["purchases"])
    if not rows_match:
        log.error(
            "transactions: accepted rows %s do not match the canonical table %s", counts, written
        )
    summary["rows_reconcile"] = summary["rows_reconcile"] and rows_match

    micros_accepted = int(written["net_micros"])
    micros_unattributed = int(written["unattributed_micros"])
    binned = (
        micros_accepted
        + micros_unattributed
        + counts["micros_after_as_of"]
        + counts["micros_rejected"]
    )
    facts = {
        "micros_read": counts["micros_read"],
        "micros_accepted": micros_accepted,
        "micros_unattributed": micros_unattributed,
        "micros_after_as_of": counts["micros_after_as_of"],
        "micros_rejected": counts["micros_rejected"],
        "revenue_reconciles": counts["micros_read"] == binned,
        "gross_micros": int(written["gross_micros"]),
        "refunds_netted_micros": int(written["refunds_netted_micros"]),
        "returns_micros": int(written["returns_micros"]),
        "extreme_micros": int(written["extreme_micros"]),
        "orders": int(written["orders"]),
        "purchases": int(written["purchases"]),
        "zero_value_purchases": int(written["zero_value_purchases"]),
        "zero_value_orders_ignored": int(written["zero_value_orders_ignored"]),
        "cancelled_orders": int(written["cancelled_orders"]),
        "over_refunded_orders": int(written["over_refunded_orders"]),
        "orders_with_refunds": int(written["orders_with_refunds"]),
        "refund_rows_netted": int(refunds["netted"]),
        "refund_rows_kept": int(refunds["kept"]),
        "returns_kept": int(written["returns_kept"]),
        "unattributed_orders": int(written["unattributed_orders"]),
        "unattributed_returns": int(written["unattributed_returns"]),
        "extreme_orders": int(written["extreme_orders"]),
        "extreme_order_fence": _finite(written["extreme_order_fence"]),
        "largest_order": _finite(written["largest_order"]),
        "unknown_customer_orders": int(written["unknown_customer_orders"])
        if has_customers
        else None,
        "unknown_customers": int(written["unknown_customers"]) if has_customers else None,
        "customers": int(written["customers"]),
        "purchasing_customers": int(written["purchasing_customers"]),
        "first_order_date": _date(written["first_order_date"]),
        "last_order_date": _date(written["last_order_date"]),
        "daily_rows": daily_rows,
        **{f"{name}_rows": rows for name, rows in fact_rows.items()},
        "line_items": line_items,
        "order_id_column": staged.columns.get("order_id") is not None,
    }
    if not facts["revenue_reconciles"]:
        log.error("transactions: revenue does not reconcile: %s", facts)
    engine.execute(
        "DROP TABLE IF EXISTS ingest_tx_canonical; DROP TABLE IF EXISTS ingest_tx_refunds"
    )
    return summary, facts


def _transactions_source(params: WorkbookParams) -> TableSource:
    source = params.source.transactions
    if source is None:
        raise StageInputMissing(
            "01_ingest: source.transactions is not set in the params file; the ingest stage needs a "
            "transactions table (an experiment export alone is read by 07_ab_test)"
        )
    return source


def _finite(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _date(value: Any) -> dt.date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()
