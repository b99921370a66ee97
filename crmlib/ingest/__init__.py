"""Stage 01_ingest: read the CRM sources, reject what is invalid, net refunds, report data quality.

Public API: :func:`read_source` (one source table into the engine), :func:`run_ingest` (the
whole stage), :func:`ingest_metrics` (headline figures for ``metrics.json``), the sentences
``describe_*`` and :func:`quality_scorecard` for the notebook, and the charts
:func:`plot_orders_per_day` and :func:`plot_rejects_by_reason`. The rules below are also in
``data/README.md`` ("Ingest rules").

Bins
    Every row read lands in exactly one bin: accepted; unattributed (transactions without a
    customer id: guest orders, counted in revenue, written to ``unattributed``, kept out of
    customer analytics); after as-of date (valid, dated after ``as_of_date`` but not after the
    run date ``ingest.run_date`` (default today, UTC): outside the report window, never judged);
    rejected (invalid, with a reason).

Reading
    Every CSV column is read as text (DuckDB ``read_csv(all_varchar=true)``) and parsed with
    ``TRY_CAST``/``try_strptime``: a value that does not parse makes its row a reject, never a
    crash. ``source_row`` is the 1-based data row number within its file, the header excluded
    (row 1 is the first line after the header; a quoted field spanning lines is one row).
    Text is trimmed; empty strings and ``source.<table>.null_values`` (default empty, ``NA``,
    ``N/A``, ``null``, ``NULL``, ``None``) are empty, ids included. A header naming a column
    twice fails. Timestamps are ISO 8601 unless ``timestamp_format`` is set; a UTC offset is
    converted to UTC; results are timezone-naive. Numbers follow ``decimal_separator`` and
    ``thousands_separator``. Money keeps the source's precision (millionths of the unit).
    Parquet columns are read by their type.

One reason per rejected row, the first that applies, in this order
    transactions: ``missing_order_id`` (column present, value empty) > ``bad_timestamp`` >
    ``bad_amount`` (not a number; or negative on a row that is not a refund) > ``bad_quantity``
    > ``future_timestamp`` (after the run date) > ``duplicate_row`` (exact copy of an earlier
    row, or a later row of the same order with the same parsed content; the first is kept) >
    ``conflicting_order`` (a later positive row of an order already seen with different
    content; the first by file and row is kept; with ``line_items`` only lines disagreeing with
    the first line on customer, or on timestamp by more than
    ``ingest.order_time_tolerance_minutes``) > ``amount_out_of_bounds`` (only when
    ``ingest.amount_min``/``amount_max`` are set: every line of an order whose summed lines fall
    outside them). customers: ``missing_customer_id`` > ``bad_timestamp`` > ``invalid_value``
    (birth_year, opt-in flags) > ``future_timestamp`` > ``duplicate_row`` >
    ``duplicate_customer``. events: ``missing_customer_id`` > ``bad_timestamp`` >
    ``invalid_value`` (channel not email/sms/push, event_type not sent/open/click/unsubscribe)
    > ``future_timestamp`` > ``duplicate_row``. assignments: ``missing_customer_id`` >
    ``invalid_value`` (empty experiment_id or variant) > ``bad_timestamp`` > ``bad_amount``
    (cost) > ``invalid_value`` (negative cost) > ``future_timestamp`` > ``duplicate_row`` >
    ``conflicting_assignment``.

Refunds
    A transaction row is a refund when any rule of ``ingest.refund_when`` holds: a negative
    amount, a negative quantity, or an order id matching ``ingest.refund_order_id_pattern``
    (its first group, if any, is the original order id; otherwise the refund's own order id
    is). A refund counts as ``-|amount|``. A refund whose original order was accepted is
    netted into it (``refund_amount``, net ``amount``, net ``quantity``); otherwise the refund
    rows of one id are kept as one return row (``is_return``) on their earliest date. Nothing
    is dropped silently. A fully cancelled order stays in ``transactions`` with
    ``is_purchase = false``; an order of zero value is a purchase with no revenue
    (``ingest.zero_value_orders: purchase``) or not a purchase (``ignore``).

Customers absent from a present customers table are kept and flagged
(``customer_known = false``); without a customers table ``customer_known`` is null.
Without an ``order_id`` column each row is its own order (``row-<n>``) and refunds become returns.

Reconciliation (checked on every run): per table rows read = accepted + unattributed + after
as-of date + rejected; revenue read (every parseable amount) = the same four bins, exactly, in
integer millionths of the currency unit.
"""

from __future__ import annotations

from crmlib.ingest.plots import plot_orders_per_day, plot_rejects_by_reason
from crmlib.ingest.sources import (
    TABLES,
    delimiter_hint,
    find_column,
    open_source_file,
    resolve_files,
    source_error,
)
from crmlib.ingest.stage import ingest_checks, ingest_metrics, run_ingest
from crmlib.ingest.tables import quality_scorecard
from crmlib.ingest.text import (
    describe_coverage,
    describe_quality,
    describe_reconciliation,
    describe_rejects,
)

__all__ = [
    "TABLES",
    "delimiter_hint",
    "describe_coverage",
    "describe_quality",
    "describe_reconciliation",
    "describe_rejects",
    "find_column",
    "ingest_checks",
    "ingest_metrics",
    "open_source_file",
    "plot_orders_per_day",
    "plot_rejects_by_reason",
    "quality_scorecard",
    "resolve_files",
    "run_ingest",
    "source_error",
]
