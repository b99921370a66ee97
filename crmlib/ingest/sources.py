"""Reading one source table: resolve its files, check them, map and parse its columns in SQL."""

from __future__ import annotations

import datetime as dt
import glob
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmlib.config import TableSource, WorkbookParams
from crmlib.engine import Engine, file_reader_sql, load_sql, quote_identifier, quote_literal
from crmlib.errors import ConfigError, EngineError, SourceFileError
from crmlib.ingest.postgres import load_postgres

__all__ = [
    "TABLES",
    "REQUIRED_TABLES",
    "ColumnSpec",
    "CONTRACT_COLUMNS",
    "CHANNELS",
    "EVENT_TYPES",
    "SURVEY_SCORES",
    "REJECT_REASONS",
    "SourceFile",
    "StagedTable",
    "resolve_files",
    "file_format",
    "reader_sql",
    "find_column",
    "open_source_file",
    "source_error",
    "delimiter_hint",
    "read_source",
    "drop_raw",
    "run_date",
]

log = logging.getLogger(__name__)

#: The contract tables, in the order ingest processes and reports them.
TABLES: tuple[str, ...] = (
    "transactions", "customers", "events", "assignments", "surveys", "marketing_spend",
)  # fmt: skip
REQUIRED_TABLES: tuple[str, ...] = ("transactions",)

#: Allowed values of events.channel and events.event_type (compared in lower case).
CHANNELS: tuple[str, ...] = ("email", "sms", "push")
EVENT_TYPES: tuple[str, ...] = ("sent", "open", "click", "unsubscribe")
#: Allowed values of surveys.survey (compared in lower case) and the whole scores each allows.
SURVEY_SCORES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}

#: Every reject reason code and every contract column, as ENUM types for the staged tables.
_REASON_CODES = (
    "missing_customer_id", "missing_order_id", "bad_timestamp", "bad_amount", "bad_quantity", "future_timestamp",
    "amount_out_of_bounds", "invalid_value", "duplicate_row", "conflicting_order", "duplicate_customer",
    "conflicting_assignment", "conflicting_spend",
)  # fmt: skip

#: Reject reason codes per table, in precedence order (the first that applies is recorded).
REJECT_REASONS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "missing_order_id", "bad_timestamp", "bad_amount", "bad_quantity", "future_timestamp",
        "duplicate_row", "conflicting_order", "amount_out_of_bounds",
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
    "surveys": ("missing_customer_id", "bad_timestamp", "invalid_value", "future_timestamp", "duplicate_row"),
    "marketing_spend": (
        "bad_timestamp", "invalid_value", "bad_amount", "future_timestamp", "duplicate_row",
        "conflicting_spend",
    ),
}  # fmt: skip


_DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_TEMPORAL_TYPES = ("DATE", "TIMESTAMP")
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT",
                  "UINTEGER", "USMALLINT", "UTINYINT")  # fmt: skip
_COMPRESSIONS = (".gz", ".zst")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table: its name, whether the source must have it, its kind."""

    name: str
    required: bool
    kind: str  # "text", "timestamp", "number", "integer" or "boolean"


def _spec(names: str, kind: str = "text", *, required: bool = False) -> list[ColumnSpec]:
    return [ColumnSpec(name, required, kind) for name in names.split()]


#: The contract columns of each table (DESIGN.md, "Data contract"), in canonical order.
CONTRACT_COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    "transactions": (
        *_spec("order_id"),
        *_spec("customer_id", required=True),
        *_spec("order_ts", "timestamp", required=True),
        *_spec("amount", "number", required=True),
        *_spec("quantity", "integer"),
        *_spec("product_id category channel"),
    ),
    "customers": (
        *_spec("customer_id", required=True),
        *_spec("signup_ts", "timestamp"),
        *_spec("acquisition_channel region"),
        *_spec("birth_year", "integer"),
        *_spec("email_opt_in sms_opt_in push_opt_in", "boolean"),
        *_spec("loyalty_tier"),
    ),
    "events": (
        *_spec("customer_id", required=True),
        *_spec("event_ts", "timestamp", required=True),
        *_spec("channel event_type", required=True),
        *_spec("campaign_id"),
    ),
    "assignments": (
        *_spec("customer_id experiment_id variant", required=True),
        *_spec("assigned_ts", "timestamp", required=True),
        *_spec("cost", "number"),
    ),
    "surveys": (
        *_spec("customer_id", required=True),
        *_spec("response_ts", "timestamp", required=True),
        *_spec("survey", required=True),
        *_spec("score", "integer", required=True),
    ),
    "marketing_spend": (
        *_spec("date", "timestamp", required=True),
        *_spec("acquisition_channel", required=True),
        *_spec("spend", "number", required=True),
        *_spec("campaign"),
    ),
}


def _enum(values: Sequence[str]) -> str:
    return "ENUM(" + ", ".join(quote_literal(v) for v in values) + ")"


REASON_TYPE = _enum(_REASON_CODES)
COLUMN_TYPE = _enum(sorted({spec.name for specs in CONTRACT_COLUMNS.values() for spec in specs}))


@dataclass(frozen=True)
class SourceFile:
    """One file of a source table as staged: where it is, how it was read, its raw table.

    ``raw_table`` holds the file's rows exactly as read (every column as text for CSV), in file
    order, plus ``ingest_row_hash``; ``record_sql`` renders one of its rows as JSON.
    """

    file_no: int
    path: Path
    format: str
    columns: tuple[str, ...]
    rows_read: int
    raw_table: str
    record_sql: str = field(repr=False)


@dataclass(frozen=True)
class StagedTable:
    """A source table read into the engine: one row per source data row, parsed and checked.

    Attributes
    ----------
    table : str
        The contract table (``transactions``, ``customers``, ``events``, ``assignments``).
    relation : str
        The engine table holding the staged rows (``ingest_stage_<table>``): ``file_no``,
        ``source_row`` (1-based data row number within its file, header excluded),
        ``row_hash`` (of every source column), the contract columns parsed, and ``reason``,
        ``reason_column``, ``detail`` for rows failing a field-level check (null otherwise).
    files : tuple of SourceFile
        The files read, in order (``file_no`` 1, 2, ...), each with its raw table
        (``ingest_raw_<table>_<file_no>``, kept for the raw records of rejects; drop it with
        :func:`drop_raw` when done).
    rows_read : int
        Data rows read over all files.
    columns : dict
        Contract column -> source column it was read from (None when the source lacks it).
    """

    table: str
    relation: str
    files: tuple[SourceFile, ...]
    rows_read: int
    columns: dict[str, str | None]


# -- files ----------------------------------------------------------------------------------
def resolve_files(source: TableSource, *, table: str, params: WorkbookParams) -> list[Path]:
    """The files of one source table: its path patterns resolved against the params file.

    Parameters
    ----------
    source : TableSource
        ``params.source.<table>``; ``path`` is a file, a glob or a list of them.
    table : str
        The contract table, for messages.
    params : WorkbookParams
        Resolves relative paths against the params file's folder.

    Returns
    -------
    list of Path
        Existing files, each once, in pattern order then sorted within a glob.

    Raises
    ------
    SourceFileError
        A pattern matches no file.
    """
    files: list[Path] = []  # none for a PostgreSQL source
    for pattern in source.paths():
        resolved = params.resolve(pattern)
        if glob.has_magic(str(resolved)):
            matches = [
                Path(p)
                for p in sorted(glob.glob(str(resolved), recursive=True))
                if Path(p).is_file()
            ]
        else:
            matches = [resolved] if resolved.is_file() else []
        if not matches:
            raise SourceFileError(
                f"{Path(pattern).name}: source.{table}.path {pattern!r} matches no file "
                f"(looked for {resolved}); expected an existing {table} file or a glob that matches one"
            )
        files.extend(p for p in matches if p not in files)
    return files


def file_format(path: Path, configured: str, table: str) -> str:
    """The format of one source file: ``configured`` unless "auto", else from its extension.

    ``.csv``, ``.tsv`` and ``.txt`` (optionally ``.gz``/``.zst`` compressed) are "csv";
    ``.parquet`` and ``.pq`` are "parquet". ``table`` names the ``source.<table>`` section in
    the message of a :class:`SourceFileError` for any other extension.

    Examples
    --------
    >>> file_format(Path("orders.csv.gz"), "auto", "transactions")
    'csv'
    """
    if configured != "auto":
        return configured
    name = path.name.lower()
    for suffix in _COMPRESSIONS:
        name = name.removesuffix(suffix)
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise SourceFileError(
        f"{path.name}: cannot tell the file format from its extension; expected .csv, .csv.gz, .tsv, .txt "
        f"or .parquet, or set source.{table}.format to csv or parquet"
    )


def reader_sql(path: Path, file_format: str, source: TableSource) -> str:
    """DuckDB's table function reading one file, every CSV column as text.

    CSV is read with the source's delimiter and encoding, a header row, and every field in
    ``source.null_values`` read as NULL; parquet is read with its own column types.
    """
    return file_reader_sql(path, file_format, **_read_settings(source))


def _read_settings(source: TableSource) -> dict[str, Any]:
    """The reading rules of a source's files, as :meth:`Engine.load_file` takes them."""
    return {
        "delimiter": source.delimiter,
        "encoding": source.encoding,
        "null_values": tuple(source.null_values),
    }


def _engine_message(exc: Exception) -> str:
    """DuckDB's message without the query label, trimmed to its first lines."""
    text = str(exc)
    text = (
        re.sub(r"^[^:]*: ", "", text, count=1)
        if text.startswith(("inline query", "ingest_"))
        else text
    )
    lines = [line for line in text.splitlines() if line.strip()][:3]
    return " ".join(lines)


def source_error(
    path: Path, table: str, source: TableSource, file_format: str, exc: Exception
) -> SourceFileError:
    """The error for a file the engine could not read: parquet, encoding or delimiter named."""
    message = _engine_message(exc)
    if file_format == "parquet":
        return SourceFileError(
            f"{path.name}: not a readable parquet file ({message}); expected a parquet {table} file"
        )
    if "unicode" in message.lower() or "encod" in message.lower():
        return SourceFileError(
            f"{path.name}: not valid {source.encoding} text ({message}); set source.{table}.encoding "
            f"(utf-8, latin-1 or utf-16) to the file's encoding"
        )
    return SourceFileError(
        f"{path.name}: cannot be read as CSV with delimiter {source.delimiter!r} ({message}); "
        f"check source.{table}.delimiter and that every row has the header's number of fields"
    )


# -- columns ----------------------------------------------------------------------------------
def _check_mapping_keys(source: TableSource, table: str) -> None:
    known = {spec.name for spec in CONTRACT_COLUMNS[table]}
    unknown = sorted(set(source.columns) - known)
    if unknown:
        raise ConfigError(
            f"source.{table}.columns: unknown contract column(s) {', '.join(unknown)}; "
            f"expected keys among {', '.join(sorted(known))} (contract name -> column in the file)"
        )


def delimiter_hint(found: Sequence[str], source: TableSource, table: str) -> str:
    """' (a column name containing ';' — is the delimiter ';'? ...)' when one looks likely, else ''."""
    for candidate in _DELIMITER_CANDIDATES:
        if candidate != source.delimiter and any(candidate in name for name in found):
            shown = "\\t" if candidate == "\t" else candidate
            which = "one column" if len(found) == 1 else "a column name"
            return f" ({which} containing {shown!r} — is the delimiter {shown!r}? set source.{table}.delimiter)"
    return ""


def find_column(wanted: str, found: Sequence[str]) -> str | None:
    """The column of ``found`` named ``wanted``: exactly, else the one case-insensitive match.

    Examples
    --------
    >>> find_column("customer_id", ["Customer_ID", "amount"])
    'Customer_ID'
    """
    if wanted in found:
        return wanted
    folded = [name for name in found if name.strip().lower() == wanted.strip().lower()]
    return folded[0] if len(folded) == 1 else None


def _map_columns(
    path: Path, table: str, source: TableSource, found: Sequence[str]
) -> tuple[dict[str, str | None], str | None]:
    """Contract column -> source column (None when absent), and the unit-price source column."""
    shown = ", ".join(found) if len(found) > 1 else (found[0] if found else "(none)")
    mapped: dict[str, str | None] = {}
    for spec in CONTRACT_COLUMNS[table]:
        wanted = source.columns.get(spec.name, spec.name)
        column = find_column(wanted, found)
        if column is None and spec.name in source.columns:
            raise SourceFileError(
                f"{path.name}: source.{table}.columns maps {spec.name!r} to column {wanted!r}, which is not in "
                f"the file; columns found: {shown}{delimiter_hint(found, source, table)}"
            )
        exempt = (
            table == "transactions"
            and spec.name == "amount"
            and source.unit_price_column is not None
        )
        if column is None and spec.required and not exempt:
            raise SourceFileError(
                f"{path.name}: required column {spec.name!r} not found; columns found: {shown}"
                f"{delimiter_hint(found, source, table)}"
                + (
                    ""
                    if source.columns
                    else f"; map it with source.{table}.columns: {{{spec.name}: <column in file>}}"
                )
            )
        mapped[spec.name] = column
    unit_price: str | None = None
    if table == "transactions" and source.unit_price_column is not None:
        unit_price = find_column(source.unit_price_column, found)
        if unit_price is None:
            raise SourceFileError(
                f"{path.name}: source.transactions.unit_price_column {source.unit_price_column!r} not found; "
                f"columns found: {shown}{delimiter_hint(found, source, table)}"
            )
        if mapped.get("quantity") is None:
            raise SourceFileError(
                f"{path.name}: required column 'quantity' not found (needed with unit_price_column); "
                f"columns found: {shown}"
            )
    return mapped, unit_price


def _is_type(column_type: str, prefixes: Sequence[str]) -> bool:
    return column_type.upper().startswith(tuple(prefixes))


def _text_expression(column: str, column_type: str, kind: str, source: TableSource) -> str:
    """SQL turning one source column into the text the table's parsers read.

    CSV columns are text already. Typed parquet columns are rendered in the source's own
    conventions (a decimal comma, the first configured true/false spelling), so one parser
    reads them; temporal columns are read as ISO 8601 (see :func:`_ts_parser`).
    """
    ident = quote_identifier(column)
    upper = column_type.upper()
    if upper == "VARCHAR":
        nulls = ", ".join(quote_literal(token) for token in source.null_values) or "''"
        return f"CASE WHEN {ident} IN ({nulls}) THEN NULL ELSE {ident} END"
    if upper == "BOOLEAN":
        true_text = quote_literal(source.true_values[0] if source.true_values else "true")
        false_text = quote_literal(source.false_values[0] if source.false_values else "false")
        return f"CASE WHEN {ident} THEN {true_text} WHEN NOT {ident} THEN {false_text} END"
    if (
        kind in ("number", "integer")
        and source.decimal_separator == ","
        and _is_type(upper, _NUMERIC_TYPES)
    ):
        return f"replace(CAST({ident} AS VARCHAR), '.', ',')"
    return f"CAST({ident} AS VARCHAR)"


def _mapping_sql(
    table: str,
    mapped: Mapping[str, str | None],
    unit_price: str | None,
    types: Mapping[str, str],
    source: TableSource,
    file_format: str,
) -> str:
    """``<source column> AS <contract>_text, ...`` for the stage query (NULL for absent columns)."""

    def text(column: str | None, kind: str) -> str:
        if column is None:
            return "CAST(NULL AS VARCHAR)"
        if file_format == "csv":  # read as text, empty fields and null tokens already NULL
            return quote_identifier(column)
        return _text_expression(column, types[column], kind, source)

    parts = [
        f"{text(mapped[spec.name], spec.kind)} AS {spec.name}_text"
        for spec in CONTRACT_COLUMNS[table]
    ]
    if table == "transactions":
        parts.append(f"{text(unit_price, 'number')} AS unit_price_text")
    return ",\n        ".join(parts)


def _record_sql(found: Sequence[str]) -> str:
    """A JSON object of every source column (the raw record of a reject)."""
    pairs = ", ".join(f"{quote_literal(name)}, {quote_identifier(name)}" for name in found)
    return f"json_object({pairs})"


def _ts_parser(
    table: str, mapped: Mapping[str, str | None], types: Mapping[str, str], source: TableSource
) -> str:
    ts_column = next(spec.name for spec in CONTRACT_COLUMNS[table] if spec.kind == "timestamp")
    column = mapped.get(ts_column)
    typed = column is not None and _is_type(types[column], _TEMPORAL_TYPES)
    if typed or source.timestamp_format is None:
        return "ingest_ts_iso"
    return (
        "ingest_ts_format_tz"
        if re.search(r"%[zZ]", source.timestamp_format)
        else "ingest_ts_format"
    )


# -- parameters ---------------------------------------------------------------------------------
def _day_end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def run_date(params: WorkbookParams) -> dt.date:
    """The day the run happens: ``ingest.run_date``, else today (UTC).

    Rows dated after it are ``future_timestamp`` rejects; rows after ``as_of_date`` but not
    after it are outside the report window (``after_as_of``), never invalid.
    """
    return params.ingest.run_date or dt.datetime.now(dt.UTC).date()


def _future_detail(params: WorkbookParams) -> str:
    day = run_date(params)
    which = "ingest.run_date" if params.ingest.run_date else "today; set ingest.run_date to fix it"
    return (
        f"is after the run date {day.isoformat()} ({which}); expected a timestamp on or before it"
    )


def _number_parser(source: TableSource) -> str:
    """The macro parsing the source's numbers (``ingest_number_grouped`` is made by read_source)."""
    if source.thousands_separator is not None:
        return "ingest_number_grouped"
    return "ingest_number_comma" if source.decimal_separator == "," else "ingest_number_dot"


def _grouped_number_macro(source: TableSource) -> str:
    """``ingest_number_grouped(x)``: numbers with the source's grouping and decimal characters.

    '1,234.50' with thousands ',' and decimal '.'; groups must be of three digits ('1,23.4' is
    not a number), and numbers without grouping ('1234.5', '-12') are read too.
    """
    thousands, decimal = source.thousands_separator or "", source.decimal_separator
    pattern = rf"[+-]?(\d{{1,3}}({re.escape(thousands)}\d{{3}})+|\d*)({re.escape(decimal)}\d+)?"
    return (
        "CREATE OR REPLACE TEMP MACRO ingest_number_grouped(x) AS CASE WHEN regexp_full_match(x, "
        f"{quote_literal(pattern)}) AND regexp_matches(x, '\\d') THEN try_cast(replace(replace(x, "
        f"{quote_literal(thousands)}, ''), {quote_literal(decimal)}, '.') AS DOUBLE) END"
    )


def _refund_pattern_groups(pattern: str | None) -> int:
    return 0 if pattern is None else min(1, re.compile(pattern).groups)


def _stage_values(
    table: str, source: TableSource, params: WorkbookParams, *, has_order_id: bool
) -> dict[str, Any]:
    ingest = params.ingest
    fmt = source.timestamp_format
    values: dict[str, Any] = {
        "timestamp_format": fmt or "",
        "as_of_end": _day_end(params.as_of_date),
        "future_end": _day_end(max(run_date(params), params.as_of_date)),
        "future_detail": _future_detail(params),
        "as_of_date": params.as_of_date.isoformat(),
        "as_of_year": params.as_of_date.year,
        "timestamp_expected": (
            "an ISO 8601 timestamp such as 2025-03-01 13:45:00"
            if fmt is None
            else f"a timestamp in the format {fmt} (source.{table}.timestamp_format)"
        ),
        "date_expected": (
            "an ISO 8601 date such as 2025-03-01"
            if fmt is None
            else f"a date in the format {fmt} (source.{table}.timestamp_format)"
        ),
        "number_expected": _number_expected(source, table),
        "true_values": [v.lower() for v in source.true_values],
        "false_values": [v.lower() for v in source.false_values],
        "bool_expected": ", ".join([*source.true_values, *source.false_values]),
        "channels": list(CHANNELS),
        "event_types": list(EVENT_TYPES),
        "survey_types": list(SURVEY_SCORES),
        **{f"{survey}_min": low for survey, (low, _) in SURVEY_SCORES.items()},
        **{f"{survey}_max": high for survey, (_, high) in SURVEY_SCORES.items()},
        "amount_min": float("-inf") if ingest.amount_min is None else float(ingest.amount_min),
        "amount_max": float("inf") if ingest.amount_max is None else float(ingest.amount_max),
        "has_order_id": has_order_id,
        "use_unit_price": source.unit_price_column is not None,
        "refund_pattern": ingest.refund_order_id_pattern or r"[^\s\S]",
        "refund_rules": "[" + ", ".join(ingest.refund_when) + "]",
    }
    return values


def _number_expected(source: TableSource, table: str) -> str:
    if source.thousands_separator is not None:
        example = f"1{source.thousands_separator}234{source.decimal_separator}50"
        return (
            f"a number such as {example} (source.{table}.thousands_separator "
            f"{source.thousands_separator!r}, decimal_separator {source.decimal_separator!r})"
        )
    if source.decimal_separator == ",":
        return f"a number with a decimal comma such as 1.234,50 (source.{table}.decimal_separator)"
    return "a number such as 1234.50"


def transaction_expressions(source: TableSource, params: WorkbookParams) -> dict[str, str]:
    """The transactions stage's setting-dependent expressions (fixed SQL snippets, no values)."""
    ingest = params.ingest
    unit_price = source.unit_price_column is not None
    rules = []
    if "negative_amount" in ingest.refund_when:
        rules.append("line_amount < 0")
    if "negative_quantity" in ingest.refund_when:
        rules.append("quantity_number < 0")
    by_pattern = (
        "order_id_pattern" in ingest.refund_when and ingest.refund_order_id_pattern is not None
    )
    if by_pattern:
        rules.append("regexp_matches(order_key, $refund_pattern)")
    grouped = by_pattern and _refund_pattern_groups(ingest.refund_order_id_pattern) > 0
    # refund_target is used by ingest_tx_refunds.sql on staged rows (alias s)
    return {
        "price_number": "unit_price_number" if unit_price else "amount_number",
        "line_amount": "round(quantity_number * unit_price_number, 6)"
        if unit_price
        else "round(amount_number, 6)",
        "refund_rule": f"coalesce({' OR '.join(f'({rule})' for rule in rules)}, false)"
        if rules
        else "false",
        "refund_target": (
            "coalesce(nullif(regexp_extract(s.order_id, $refund_pattern, 1), ''), s.order_id)"
            if grouped
            else "s.order_id"
        ),
    }


def _check_refund_pattern(engine: Engine, params: WorkbookParams) -> None:
    ingest = params.ingest
    if "order_id_pattern" in ingest.refund_when and ingest.refund_order_id_pattern is None:
        raise ConfigError(
            "ingest.refund_when includes 'order_id_pattern' but ingest.refund_order_id_pattern is not set; "
            "expected a regular expression such as '^R-(.+)$'"
        )
    if ingest.refund_order_id_pattern is not None:
        try:
            engine.scalar(
                "SELECT regexp_matches('', $pattern)",
                {"pattern": ingest.refund_order_id_pattern},
            )
        except EngineError as exc:
            raise ConfigError(
                f"ingest.refund_order_id_pattern {ingest.refund_order_id_pattern!r} is not supported by the SQL "
                f"engine's regular expressions (RE2: no look-arounds or back-references): {_engine_message(exc)}"
            ) from None


def drop_raw(engine: Engine, staged: StagedTable) -> None:
    """Drop the raw tables of a staged source (after the raw records of its rejects are taken)."""
    for source_file in staged.files:
        engine.execute(f"DROP TABLE IF EXISTS {source_file.raw_table}")


# -- reading --------------------------------------------------------------------------------------
def _describe(
    engine: Engine, reader: str, path: Path, table: str, source: TableSource, fmt: str
) -> dict[str, str]:
    try:
        engine.execute(f"CREATE OR REPLACE TEMP VIEW ingest_source AS SELECT * FROM {reader}")
        described = engine.query("DESCRIBE SELECT * FROM ingest_source")
    except EngineError as exc:
        raise source_error(path, table, source, fmt, exc) from None
    return dict(
        zip(described["column_name"].astype(str), described["column_type"].astype(str), strict=True)
    )


def open_source_file(
    engine: Engine, path: Path, *, source: TableSource, table: str
) -> tuple[str, str, dict[str, str]]:
    """One file of a source table: its format, the table function reading it, its columns.

    Returns ``(format, reader, types)``: "csv" or "parquet" (:func:`file_format`), the SQL
    table function of :func:`reader_sql` and column name -> engine type, in file order.

    Raises
    ------
    SourceFileError
        An unknown extension, an empty file, a file the engine cannot read (the message says
        whether the encoding, the delimiter or the parquet file is at fault, and the
        ``source.<table>`` setting to change), or a CSV file without a header row.
    """
    fmt = file_format(path, source.format, table)
    if path.stat().st_size == 0:
        raise SourceFileError(
            f"{path.name}: file is empty (0 bytes); expected a header row and data rows"
        )
    reader = reader_sql(path, fmt, source)
    with engine.source_files() as files:  # Spark: the header is looked at on DuckDB
        types = _describe(files, reader, path, table, source, fmt)
        if fmt == "csv" and list(types) == ["column0"]:
            raise SourceFileError(
                f"{path.name}: no header row found; expected a header naming the columns"
            )
        _check_unique_header(files, path, fmt, source, table)
    return fmt, reader, types


def _check_unique_header(
    engine: Engine, path: Path, fmt: str, source: TableSource, table: str
) -> None:
    """Fail on a header that names a column twice (the reader would rename the second copy)."""
    if fmt == "parquet":
        names = [
            str(name)
            for name in engine.query(
                f"SELECT name FROM parquet_schema({quote_literal(path)}) WHERE num_children IS NULL "
                "OR num_children = 0"
            )["name"]
        ]
    else:
        header = engine.query(
            f"SELECT * FROM read_csv({quote_literal(path)}, all_varchar = true, header = false, "
            f"delim = {quote_literal(source.delimiter)}, quote = '\"', escape = '\"', "
            f"encoding = {quote_literal(source.encoding)}, compression = 'auto') LIMIT 1"
        )
        values = header.iloc[0].tolist() if len(header) else []
        names = [str(value).strip() for value in values if isinstance(value, str) and value.strip()]
    seen: dict[str, str] = {}
    for name in names:
        folded = name.lower()
        if folded in seen:
            same = "" if seen[folded] == name else f" (as {seen[folded]!r} and {name!r})"
            raise SourceFileError(
                f"{path.name}: the header names column {name!r} twice{same}; expected each column once "
                f"(rename one in the file, or export it again), so that source.{table}.columns is unambiguous"
            )
        seen[folded] = name


def read_source(
    source: TableSource,
    *,
    table: str,
    params: WorkbookParams,
    engine: Engine,
) -> StagedTable:
    """Read one source table into the engine, every row parsed and checked field by field.

    Transforms the files of ``source`` (one row per data row; CSV read with every column as
    text, or parquet), or the rows of its PostgreSQL table or query (``source.postgres``, read
    by :func:`crmlib.ingest.postgres.load_postgres`: one input, ``source_row`` its position in
    the result), into the engine table ``ingest_stage_<table>``: one row per source data
    row with ``file_no``, ``source_row`` (the 1-based data row number within its file, the
    header excluded, so row 1 is the line after the header), ``row_hash`` of every source
    column, the contract columns parsed (``TRY_CAST``/``try_strptime``: a value that does not
    parse becomes a reject, never a crash) and the first field-level reject reason that
    applies (``reason``, ``reason_column``, ``detail``; null for rows that pass).

    Settings applied from ``source``: ``columns`` (contract name -> source column; unmapped
    names are matched exactly, then case-insensitively), ``delimiter``, ``decimal_separator``
    (``,`` reads ``1.234,50`` and ``12,5``), ``encoding``, ``timestamp_format`` (strptime;
    None = ISO 8601, offsets converted to UTC), ``true_values``/``false_values``,
    ``unit_price_column`` (amount = quantity x unit price) and, for transactions, refund rows
    (``params.ingest.refund_when``) signed negative with their target order id.

    Parameters
    ----------
    source : TableSource
        ``params.source.<table>``.
    table : str
        One of :data:`TABLES`.
    params : WorkbookParams
        For paths (relative to the params file), ``as_of_date`` and the ``ingest`` section.
    engine : Engine
        Where the staged table is created (replacing an earlier one).

    Returns
    -------
    StagedTable
        The staged relation's name, the files read and the column mapping.

    Raises
    ------
    SourceFileError
        A pattern matches no file; a file is empty, unreadable, not valid text in the
        configured encoding, or lacks a required column (the message names the file, the
        column, the columns found and, when one looks like it, the right delimiter); the
        transactions table has no data rows.
    ConfigError
        ``columns`` names an unknown contract column, or the refund pattern is unusable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crmlib.config import WorkbookParams
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "tx.csv").write_text("order_id,customer_id,order_ts,amount\\nO1,C1,2025-01-02,9.5\\n")
    >>> params = WorkbookParams.model_validate({"run_name": "doc", "as_of_date": "2025-12-31",
    ...     "source": {"transactions": {"path": str(folder / "tx.csv")}}})
    >>> with Engine(threads=1) as engine:
    ...     staged = read_source(params.source.transactions, table="transactions", params=params, engine=engine)
    ...     engine.arrow("SELECT source_row, amount, reason FROM ingest_stage_transactions").to_pylist()
    [{'source_row': 1, 'amount': 9.5, 'reason': None}]
    """
    if table not in CONTRACT_COLUMNS:
        raise ConfigError(f"unknown source table {table!r}; expected one of {', '.join(TABLES)}")
    _check_mapping_keys(source, table)
    engine.execute("ingest_macros")
    if table == "transactions":
        _check_refund_pattern(engine, params)
    paths = resolve_files(source, table=table, params=params)
    relation = f"ingest_stage_{table}"
    engine.execute(f"DROP TABLE IF EXISTS {relation}")
    staged_files: list[SourceFile] = []
    columns: dict[str, str | None] = {}
    # a PostgreSQL source is one input, named by its label (never by its connection)
    inputs = [Path(source.postgres.label())] if source.postgres is not None else paths
    for file_no, path in enumerate(inputs, start=1):
        raw = f"ingest_raw_{table}_{file_no}"
        if source.postgres is not None:  # streamed into the raw table first, then described
            fmt, reader = "postgres", ""
            types = load_postgres(engine, source.postgres, table=table, raw=raw)
        else:
            fmt, reader, types = open_source_file(engine, path, source=source, table=table)
        found = [name for name in types if name != "ingest_row_hash"]
        mapped, unit_price = _map_columns(path, table, source, found)
        if file_no > 1 and mapped != columns:
            log.info("%s: columns differ from the first %s file: %s", path.name, table, mapped)
        columns = columns or mapped
        if source.postgres is None:
            try:  # one parallel pass over the file; the table keeps the file's row order
                engine.load_file(raw, path, fmt, columns=found, **_read_settings(source))
            except EngineError as exc:
                raise source_error(path, table, source, fmt, exc) from None
        statement = load_sql(f"ingest_stage_{table}")
        identifiers = {
            "raw": raw,
            "reason_type": REASON_TYPE,
            "column_type": COLUMN_TYPE,
            "mapping": _mapping_sql(table, mapped, unit_price, types, source, fmt),
            "ts_parser": _ts_parser(table, mapped, types, source),
            "number_parser": _number_parser(source),
        }
        if source.thousands_separator is not None:
            engine.execute(_grouped_number_macro(source))
        if table == "transactions":
            identifiers.update(transaction_expressions(source, params))
        prefix = f"CREATE TABLE {relation} AS\n" if file_no == 1 else f"INSERT INTO {relation}\n"
        values = _stage_values(
            table, source, params, has_order_id=mapped.get("order_id") is not None
        )
        values["file_no"] = file_no
        engine.execute(prefix + statement, values, identifiers=identifiers)
        rows = int(engine.scalar(f"SELECT count(*) FROM {raw}") or 0)
        if rows == 0:
            log.warning("%s: header but no data rows (%s)", path.name, table)
        staged_files.append(
            SourceFile(file_no, path, fmt, tuple(found), rows, raw, _record_sql(found))
        )
    rows_read = sum(f.rows_read for f in staged_files)
    if table in REQUIRED_TABLES and rows_read == 0:
        names = ", ".join(f.path.name for f in staged_files)
        raise SourceFileError(
            f"{names}: header found but no data rows; expected at least one {table} row"
        )
    log.info("staged %s: %d rows from %d file(s)", table, rows_read, len(staged_files))
    return StagedTable(table, relation, tuple(staged_files), rows_read, columns)
