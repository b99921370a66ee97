"""Stage 01_ingest: read the CRM sources, reject what is invalid, net refunds, report data quality.

Public API: :func:`read_source` (one source table into the engine), :func:`run_ingest` (the
whole stage), :func:`ingest_metrics` (headline figures for ``metrics.json``), the sentences
``describe_*`` and :func:`quality_scorecard` for the notebook, and the charts
:func:`plot_orders_per_day` and :func:`plot_rejects_by_reason`. The rules below are also in
``data/README.md`` ("Ingest rules").

Reading
    Every CSV column is read as text (DuckDB ``read_csv(all_varchar=true)``) and parsed with
    ``TRY_CAST``/``try_strptime``: a value that does not parse makes its row a reject, never a
    crash. ``source_row`` is the 1-based data row number within its file, the header excluded
    (row 1 is the first line after the header; a quoted field spanning lines is one row).
    Text is trimmed; empty strings and the null tokens ``null``, ``nan``, ``n/a`` and
    ``\\N`` (any case) are empty. Timestamps are ISO 8601 unless ``timestamp_format`` is set;
    a UTC offset is converted to UTC; results are timezone-naive. Money is rounded to the
    cent. Parquet columns are read by their type.

One reason per rejected row, the first that applies, in this order
    transactions: ``missing_customer_id`` > ``missing_order_id`` (column present, value
    empty) > ``bad_timestamp`` > ``bad_amount`` (not a number; or negative on a row that is
    not a refund) > ``bad_quantity`` > ``future_timestamp`` (after the end of ``as_of_date``)
    > ``amount_out_of_bounds`` (outside ``ingest.amount_min..amount_max``, refunds included)
    > ``duplicate_row`` (exact copy of an earlier row, or a later row of the same order with
    the same parsed content; the first is kept) > ``conflicting_order`` (a later positive row
    of an order already seen with different content; the first by file and row is kept; with
    ``line_items`` only lines disagreeing with the first line on customer or timestamp).
    customers: ``missing_customer_id`` > ``bad_timestamp`` > ``invalid_value`` (birth_year,
    opt-in flags) > ``future_timestamp`` > ``duplicate_row`` > ``duplicate_customer``.
    events: ``missing_customer_id`` > ``bad_timestamp`` > ``invalid_value`` (channel not
    email/sms/push, event_type not sent/open/click/unsubscribe) > ``future_timestamp`` >
    ``duplicate_row``. assignments: ``missing_customer_id`` > ``invalid_value`` (empty
    experiment_id or variant) > ``bad_timestamp`` > ``bad_amount`` (cost) > ``invalid_value``
    (negative cost) > ``future_timestamp`` > ``duplicate_row`` > ``conflicting_assignment``.

Refunds
    A transaction row is a refund when any rule of ``ingest.refund_when`` holds: a negative
    amount, a negative quantity, or an order id matching ``ingest.refund_order_id_pattern``
    (its first group, if any, is the original order id; otherwise the refund's own order id
    is). A refund counts as ``-|amount|``. A refund whose original order was accepted is
    netted into it (``refund_amount``, net ``amount``, net ``quantity``); otherwise it is kept
    as a return row (``is_return``) on its own date. Nothing is dropped silently. A fully
    cancelled order stays in ``transactions`` with ``is_purchase = false``.

Customers absent from a present customers table are kept and flagged
(``customer_known = false``); without a customers table ``customer_known`` is null.
Without an ``order_id`` column each row is its own order (``row-<n>``) and refunds become returns.

Reconciliation (checked on every run): per table rows read = accepted + rejected; revenue
read (every parseable amount) = accepted (sum of canonical ``amount``) + rejected, in cents.
"""

from __future__ import annotations

from crmlib.ingest.pipeline import ARTIFACT_DTYPES, IngestResult, run_ingest
from crmlib.ingest.quality import (
    build_quality,
    describe_coverage,
    describe_quality,
    describe_reconciliation,
    describe_rejects,
    ingest_metrics,
    plot_orders_per_day,
    plot_rejects_by_reason,
    quality_scorecard,
    rejects_by_reason,
)
from crmlib.ingest.sources import (
    CHANNELS,
    CONTRACT_COLUMNS,
    EVENT_TYPES,
    TABLES,
    ColumnSpec,
    SourceFile,
    StagedTable,
    read_source,
    resolve_files,
)

__all__ = [
    "ARTIFACT_DTYPES",
    "CHANNELS",
    "CONTRACT_COLUMNS",
    "EVENT_TYPES",
    "REJECT_REASONS",
    "TABLES",
    "ColumnSpec",
    "IngestResult",
    "SourceFile",
    "StagedTable",
    "build_quality",
    "describe_coverage",
    "describe_quality",
    "describe_reconciliation",
    "describe_rejects",
    "ingest_metrics",
    "plot_orders_per_day",
    "plot_rejects_by_reason",
    "quality_scorecard",
    "read_source",
    "rejects_by_reason",
    "resolve_files",
    "run_ingest",
]

#: Reject reason codes per table, in precedence order (the first that applies is recorded).
REJECT_REASONS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "missing_customer_id", "missing_order_id", "bad_timestamp", "bad_amount", "bad_quantity",
        "future_timestamp", "amount_out_of_bounds", "duplicate_row", "conflicting_order",
    ),
    "customers": (
        "missing_customer_id", "bad_timestamp", "invalid_value", "future_timestamp", "duplicate_row",
        "duplicate_customer",
    ),
    "events": ("missing_customer_id", "bad_timestamp", "invalid_value", "future_timestamp", "duplicate_row"),
    "assignments": (
        "missing_customer_id", "invalid_value", "bad_timestamp", "bad_amount", "future_timestamp",
        "duplicate_row", "conflicting_assignment",
    ),
}  # fmt: skip
