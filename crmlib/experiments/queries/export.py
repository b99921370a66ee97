"""Input (b) of the A/B-test stage: an experimentation platform's per-customer export, read in SQL.

An export has one row per customer (per experiment): the arm, the outcome columns (visited,
converted, spend, ...), pre-period covariates and perhaps segment columns. It is described in
the params file like any other source (``source.experiment_export``, a
:class:`crmlib.config.TableSource`) and read with the ingest stage's readers and parsing macros:
every CSV column as text, parsed by DuckDB over the whole file, a value that does not parse
becoming a reject rather than a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.config import TableSource, WorkbookParams
from crmlib.engine import Engine, quote_identifier, quote_literal
from crmlib.errors import CheckFailed, ConfigError, EngineError, SourceFileError
from crmlib.ingest.sources import (
    delimiter_hint,
    find_column,
    open_source_file,
    resolve_files,
    source_error,
)

__all__ = [
    "EXPORT_REJECT_REASONS",
    "EXPORT_REJECT_COLUMNS",
    "ExperimentExport",
    "check_export_columns",
    "read_experiment_export",
]

log = logging.getLogger(__name__)


#: Reject reasons, in the order they are checked (the first that applies is a row's reason).
EXPORT_REJECT_REASONS: tuple[str, ...] = (
    "missing_value",
    "not_a_number",
    "duplicate_row",
    "conflicting_rows",
)


#: Columns of :attr:`ExperimentExport.rejects`, in order.
EXPORT_REJECT_COLUMNS: tuple[str, ...] = ("file", "source_row", "reason", "column", "detail")


_TABLE = "experiment_export"


_ID_NAMES: tuple[str, ...] = ("experiment_id", "customer_id", "variant")


_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                  "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "UHUGEINT", "BOOLEAN")  # fmt: skip


_KNOWN_SUFFIXES = (".gz", ".zst", ".csv", ".tsv", ".txt", ".parquet", ".pq")


@dataclass(frozen=True)
class ExperimentExport:
    """An experiment export as read: the accepted rows, the rejected ones, and how they add up.

    Attributes
    ----------
    table : pd.DataFrame
        One row per experiment x customer: ``experiment_id``, ``customer_id``, ``variant``
        (str), each metric then each covariate (float64) and each segment (object: str or
        None), ordered by ``experiment_id``, ``customer_id``.
    rejects : pd.DataFrame
        One row per rejected source row, columns :data:`EXPORT_REJECT_COLUMNS`: ``file`` (the
        file's name), ``source_row`` (1-based data row within the file, header excluded),
        ``reason`` (one of :data:`EXPORT_REJECT_REASONS`), ``column`` (the logical column, None
        for the set-level reasons) and ``detail`` (what was found and what was expected; never
        a customer id). Ordered by file, then ``source_row``.
    rows_read : int
        Data rows read over all files; always ``len(table) + len(rejects)``.
    files : tuple of str
        The files read, in order (full paths).
    notes : tuple of str
        Plain sentences about how the files were read (a missing experiment_id or segment
        column, rows rejected).
    """

    table: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    files: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Roles:
    """The logical columns asked for, and the engine-side alias of each (no name clashes)."""

    numbers: tuple[str, ...]  # metrics then covariates then optional numbers, each once
    segments: tuple[str, ...]
    optional: frozenset[str] = frozenset()  # numbers that may be absent from the files
    origins: Mapping[str, str] = field(default_factory=dict)  # name -> the params key asking

    def number_alias(self, index: int) -> str:
        return f"n{index}"

    def segment_alias(self, index: int) -> str:
        return f"s{index}"

    def logical_names(self) -> tuple[str, ...]:
        return (*_ID_NAMES, *self.numbers, *self.segments)

    def without(self, absent: Sequence[str]) -> _Roles:
        """The same roles without the numbers ``absent`` (optional columns no file has)."""
        kept = tuple(name for name in self.numbers if name not in absent)
        return _Roles(kept, self.segments, self.optional, self.origins)


def _roles(
    source: TableSource,
    metrics: Sequence[str],
    covariates: Sequence[str],
    segments: Sequence[str],
    *,
    optional: Sequence[str] = (),
    origins: Mapping[str, str] | None = None,
) -> _Roles:
    if any(isinstance(names, str) for names in (metrics, covariates, segments, optional)):
        raise ConfigError(
            "read_experiment_export: metrics, covariates, segments and optional are lists of "
            "column names; got a single string (write [name], not name)"
        )
    required = tuple(dict.fromkeys([*metrics, *covariates]))
    extra = tuple(name for name in dict.fromkeys(optional) if name not in required)
    numbers = (*required, *extra)
    segment_names = tuple(dict.fromkeys(segments))
    for name in (*numbers, *segment_names):
        if name in _ID_NAMES:
            raise ConfigError(
                f"source.{_TABLE}: {name!r} is an id column and cannot be a metric, covariate or "
                f"segment; expected names other than {', '.join(_ID_NAMES)}"
            )
    both = sorted(set(numbers) & set(segment_names))
    if both:
        raise ConfigError(
            f"source.{_TABLE}: {', '.join(map(repr, both))} is both a metric/covariate and a "
            "segment; expected each name in one role (numbers are parsed, segments kept as text)"
        )
    roles = _Roles(numbers, segment_names, frozenset(extra), dict(origins or {}))
    known = set(roles.logical_names())
    unknown = sorted(set(source.columns) - known)
    if unknown:
        raise ConfigError(
            f"source.{_TABLE}.columns: unknown name(s) {', '.join(map(repr, unknown))}; expected keys "
            f"among {', '.join(roles.logical_names())} (logical name -> column in the file)"
        )
    return roles


def _export_name(path: Path) -> str:
    """The file's name without its known extensions (``ab.csv.gz`` -> ``ab``)."""
    name = path.name
    while name.lower().endswith(_KNOWN_SUFFIXES):
        name = name[: name.rfind(".")]
    return name or path.stem


def _map_columns(
    path: Path, source: TableSource, roles: _Roles, found: Sequence[str]
) -> dict[str, str | None]:
    """Logical name -> column of the file (None for an absent optional column).

    Required: ``variant``, every metric and covariate, and every name mapped in
    ``source.columns``. ``customer_id`` (row numbers instead), ``experiment_id`` (the file
    is one experiment), segments and the optional numbers may be absent.
    """
    shown = ", ".join(found) if found else "(none)"
    required = {"variant", *(name for name in roles.numbers if name not in roles.optional)}
    mapped: dict[str, str | None] = {}
    for name in roles.logical_names():
        wanted = source.columns.get(name, name)
        column = find_column(wanted, found)
        if column is None and (name in required or name in source.columns):
            role = "metric or covariate" if name in roles.numbers else "column"
            origin = roles.origins.get(name)
            asked = f" (named in {origin})" if origin else ""
            how = (
                f"source.{_TABLE}.columns maps it to {wanted!r}"
                if name in source.columns
                else f"looked for column {wanted!r}; map it with source.{_TABLE}.columns: "
                f"{{{name}: <column in file>}}"
            )
            raise SourceFileError(
                f"{path.name}: required {role} {name!r}{asked} not found ({how}); columns "
                f"found: {shown}{delimiter_hint(found, source, _TABLE)}"
            )
        mapped[name] = column
    return mapped


@dataclass(frozen=True)
class _FileHeader:
    """One export file as opened: its format, reader, column types and the logical mapping."""

    path: Path
    fmt: str
    reader: str
    types: dict[str, str]
    mapped: dict[str, str | None]


def _read_headers(
    source: TableSource, roles: _Roles, *, params: WorkbookParams, engine: Engine
) -> list[_FileHeader]:
    """Every file's header against the mapping (no data row is parsed)."""
    headers = []
    for path in resolve_files(source, table=_TABLE, params=params):
        fmt, reader, types = open_source_file(engine, path, source=source, table=_TABLE)
        headers.append(
            _FileHeader(path, fmt, reader, types, _map_columns(path, source, roles, list(types)))
        )
    return headers


def _absent_optional(headers: Sequence[_FileHeader], roles: _Roles) -> list[str]:
    """Optional numbers that some file lacks (they are left out of the whole export)."""
    return [
        name
        for name in roles.numbers
        if name in roles.optional and any(header.mapped[name] is None for header in headers)
    ]


def _header_notes(
    headers: Sequence[_FileHeader], roles: _Roles, source: TableSource, experiment_name: str
) -> list[str]:
    """Plain sentences about absent optional columns, file by file."""
    notes: list[str] = []
    first = headers[0].path.name
    for file_no, header in enumerate(headers, start=1):
        name = header.path.name
        if header.mapped["experiment_id"] is None:
            notes.append(
                f"{name} has no experiment_id column "
                f"(looked for {source.columns.get('experiment_id', 'experiment_id')!r}), so all "
                f"its rows belong to one experiment, {experiment_name!r}, named after "
                f"{'the file' if file_no == 1 else 'the first file, ' + first}."
            )
        if header.mapped["customer_id"] is None:
            notes.append(
                f"{name} has no customer id column (looked for "
                f"{source.columns.get('customer_id', 'customer_id')!r}), so each row counts as one "
                "customer, identified by its row number: a customer listed twice cannot be "
                "recognised, and nothing known about customers elsewhere (such as their CLV) "
                f"can be joined. If the file has an id column, map it with source.{_TABLE}.columns "
                "(customer_id: the column's name)."
            )
        for segment in roles.segments:
            if header.mapped[segment] is None:
                notes.append(
                    f"{name} has no column {source.columns.get(segment, segment)!r} for segment "
                    f"{segment!r}, so that segment is missing for all its rows."
                )
    for number in _absent_optional(headers, roles):
        lacking = [h.path.name for h in headers if h.mapped[number] is None]
        origin = roles.origins.get(number)
        notes.append(
            f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no column "
            f"{source.columns.get(number, number)!r}, so {number!r}"
            f"{f' (named in {origin})' if origin else ''} is not read."
        )
    return notes


def check_export_columns(
    source: TableSource,
    *,
    params: WorkbookParams,
    engine: Engine,
    metrics: Sequence[str],
    covariates: Sequence[str] = (),
    segments: Sequence[str] = (),
    optional: Sequence[str] = (),
    origins: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Check an export's headers against the mapping, before any row is read.

    The same checks as :func:`read_experiment_export` makes before it parses a row (each
    file exists and opens, every required column is found), in a fraction of a second: the
    runner calls it before any notebook runs, so a mapping error stops the run at once.

    Returns
    -------
    tuple of str
        The sentences :func:`read_experiment_export` will add to its notes about the
        columns (no experiment_id or customer id column, an absent segment or optional
        number).

    Raises
    ------
    SourceFileError
        A pattern matches no file, a file is empty or unreadable, or a required column is not
        in a file: the message names the file, the logical name, the params key that asks for
        it (``origins``), the column looked for and the columns found.
    ConfigError
        A key of ``source.columns`` is none of the logical names, or a name has two roles.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crmlib.config import WorkbookParams
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ab.csv").write_text("arm,converted\\ncontrol,1\\ntreatment,0\\n")
    >>> params = WorkbookParams.model_validate({"run_name": "doc", "as_of_date": "2025-12-31",
    ...     "source": {"experiment_export": {"path": str(folder / "ab.csv"),
    ...                                      "columns": {"variant": "arm"}}}})
    >>> with Engine(threads=1) as engine:
    ...     notes = check_export_columns(params.source.experiment_export, params=params,
    ...                                  engine=engine, metrics=["converted"])
    >>> [note.split(" (")[0] for note in notes]
    ['ab.csv has no experiment_id column', 'ab.csv has no customer id column']
    """
    roles = _roles(source, metrics, covariates, segments, optional=optional, origins=origins)
    headers = _read_headers(source, roles, params=params, engine=engine)
    return tuple(_header_notes(headers, roles, source, _export_name(headers[0].path)))


def _is_typed(column_type: str) -> bool:
    return column_type.upper().startswith(_NUMERIC_TYPES)


def _text_sql(column: str, column_type: str) -> str:
    """A source column as trimmed text, NULL when empty (CSV null tokens are NULL already)."""
    ident = quote_identifier(column)
    as_text = ident if column_type.upper() == "VARCHAR" else f"CAST({ident} AS VARCHAR)"
    return f"nullif(ingest_text({as_text}), '')"


def _stage_select(
    roles: _Roles,
    mapped: Mapping[str, str | None],
    types: Mapping[str, str],
    *,
    raw: str,
    number_parser: str,
    several_files: bool = False,
) -> str:
    """The query parsing one raw file into the stage table's columns, with each row's reason."""
    texts = ["CAST(rowid AS BIGINT) + 1 AS source_row"]
    for name in _ID_NAMES:
        column = mapped[name]
        if column is None and name == "customer_id":  # no id: the row number is the id
            row = "CAST(CAST(rowid AS BIGINT) + 1 AS VARCHAR)"
            prefix = "CAST($file_no AS VARCHAR) || ':' || " if several_files else ""
            texts.append(f"{prefix}{row} AS {name}")
        elif column is None:  # experiment_id absent: the whole file is one experiment
            texts.append(f"CAST($experiment_name AS VARCHAR) AS {name}")
        else:
            texts.append(f"{_text_sql(column, types[column])} AS {name}")
    values = []
    for index, name in enumerate(roles.numbers):
        alias = roles.number_alias(index)
        column = mapped[name]
        assert column is not None  # required: checked by _map_columns
        if _is_typed(types[column]):  # parquet numbers and booleans cast directly; NaN is empty
            number = f"CAST({quote_identifier(column)} AS DOUBLE)"
            texts.append(
                f"CASE WHEN isnan({number}) THEN NULL ELSE CAST({quote_identifier(column)} AS VARCHAR) "
                f"END AS {alias}_text"
            )
            texts.append(f"{number} AS {alias}_typed")
            values.append(f"ingest_finite({alias}_typed) AS {alias}")
        else:
            texts.append(f"{_text_sql(column, types[column])} AS {alias}_text")
            values.append(
                f"coalesce(ingest_finite({number_parser}({alias}_text)), "
                f"CAST(ingest_bool({alias}_text, $true_values, $false_values) AS DOUBLE)) AS {alias}"
            )
    for index, name in enumerate(roles.segments):
        column = mapped[name]
        text = "CAST(NULL AS VARCHAR)" if column is None else _text_sql(column, types[column])
        texts.append(f"{text} AS {roles.segment_alias(index)}")

    checks: list[tuple[str, str, str, str]] = []  # condition, reason, column, detail (SQL)
    for name in ("customer_id", "variant", "experiment_id"):
        column = mapped[name]
        if column is not None:
            detail = f"{name} is empty (column {column!r}); expected a value"
            checks.append((f"{name} IS NULL", "missing_value", name, quote_literal(detail)))
    for index, name in enumerate(roles.numbers):
        alias = roles.number_alias(index)
        detail = quote_literal(f"{name} is empty (column {mapped[name]!r}); expected ")
        checks.append(
            (f"{alias}_text IS NULL", "missing_value", name, f"{detail} || $number_expected")
        )
    for index, name in enumerate(roles.numbers):
        alias = roles.number_alias(index)
        checks.append(
            (
                f"{alias} IS NULL",
                "not_a_number",
                name,
                f"ingest_quote({alias}_text) || ' is not a number; expected ' || $number_expected",
            )
        )

    def case(pick: int) -> str:
        if not checks:
            return "CAST(NULL AS VARCHAR)"
        whens = " ".join(
            f"WHEN {check[0]} THEN {check[pick] if pick == 3 else quote_literal(check[pick])}"
            for check in checks
        )
        return f"CASE {whens} END"

    outputs = [
        "CAST($file_no AS INTEGER) AS file_no",
        "source_row",
        *_ID_NAMES,
        *(roles.number_alias(i) for i in range(len(roles.numbers))),
        *(roles.segment_alias(i) for i in range(len(roles.segments))),
        f"{case(1)} AS reason",
        f"{case(2)} AS reason_column",
        f"{case(3)} AS detail",
    ]
    parsed = ",\n        ".join(["*", *values])
    return (
        "WITH texts AS (\n    SELECT\n        "
        + ",\n        ".join(texts)
        + f"\n    FROM {raw}\n),\n"
        f"parsed AS (\n    SELECT\n        {parsed}\n    FROM texts\n)\n"
        "SELECT\n    " + ",\n    ".join(outputs) + "\nFROM parsed"
    )


def _stage_schema(roles: _Roles) -> str:
    columns = [
        "file_no INTEGER",
        "source_row BIGINT",
        *(f"{name} VARCHAR" for name in _ID_NAMES),
        *(f"{roles.number_alias(i)} DOUBLE" for i in range(len(roles.numbers))),
        *(f"{roles.segment_alias(i)} VARCHAR" for i in range(len(roles.segments))),
        "reason VARCHAR",
        "reason_column VARCHAR",
        "detail VARCHAR",
    ]
    return ", ".join(columns)


#: Set-level rejects among the rows that passed every field check: rows sharing
#: (experiment_id, customer_id). Identical content (variant, numbers, segments): the first by
#: file and row is kept, later ones are duplicate_row; different content: all conflicting_rows.
_SET_REJECTS_SQL = """
CREATE TABLE {{ sets }} AS
WITH repeated AS (
    SELECT experiment_id, customer_id
    FROM {{ stage }}
    WHERE reason IS NULL
    GROUP BY experiment_id, customer_id
    HAVING count(*) > 1
),
candidates AS MATERIALIZED (
    SELECT s.file_no, s.source_row, s.experiment_id, s.customer_id, {{ content }} AS content
    FROM {{ stage }} AS s
    SEMI JOIN repeated AS r ON s.experiment_id = r.experiment_id AND s.customer_id = r.customer_id
    WHERE s.reason IS NULL
),
keys AS (
    SELECT experiment_id, customer_id, count(*) AS n_rows, count(DISTINCT content) AS n_contents
    FROM candidates
    GROUP BY experiment_id, customer_id
),
ranked AS (
    SELECT
        c.file_no,
        c.source_row,
        c.experiment_id,
        k.n_rows,
        k.n_contents,
        row_number() OVER same_key AS row_in_key,
        first_value(c.file_no) OVER same_key AS first_file,
        first_value(c.source_row) OVER same_key AS first_row
    FROM candidates AS c
    JOIN keys AS k ON c.experiment_id = k.experiment_id AND c.customer_id = k.customer_id
    WINDOW same_key AS (PARTITION BY c.experiment_id, c.customer_id ORDER BY c.file_no, c.source_row)
)
SELECT
    file_no,
    source_row,
    CASE WHEN n_contents = 1 THEN 'duplicate_row' ELSE 'conflicting_rows' END AS reason,
    CAST(NULL AS VARCHAR) AS reason_column,
    CASE
        WHEN n_contents = 1 THEN
            'identical to row ' || first_row || ' of ' || list_extract($file_names, first_file)
            || ' (kept); expected one row per customer'
        ELSE
            n_rows || ' rows for one customer of experiment ''' || experiment_id
            || ''' with different values; expected one row per customer'
    END AS detail
FROM ranked
WHERE n_contents > 1 OR row_in_key > 1
"""


def _count_rows(engine: Engine, relation: str) -> int:
    return int(engine.scalar(f"SELECT count(*) FROM {relation}") or 0)


def _stage_values(source: TableSource) -> dict[str, Any]:
    booleans = ", ".join(source.true_values) + " / " + ", ".join(source.false_values)
    number = (
        "a number such as 12.50"
        if source.decimal_separator == "."
        else f"a number with a decimal comma such as 12,50 (source.{_TABLE}.decimal_separator)"
    )
    return {
        "true_values": [v.lower() for v in source.true_values],
        "false_values": [v.lower() for v in source.false_values],
        "number_expected": f"{number} or a true/false value ({booleans})",
    }


def _segment_object(values: pd.Series) -> pd.Series:
    """A text column as object dtype, missing values as None."""
    as_object = values.astype(object)
    return as_object.where(values.notna(), None)


def read_experiment_export(
    source: TableSource,
    *,
    params: WorkbookParams,
    engine: Engine,
    metrics: Sequence[str],
    covariates: Sequence[str] = (),
    segments: Sequence[str] = (),
    optional: Sequence[str] = (),
    origins: Mapping[str, str] | None = None,
) -> ExperimentExport:
    """Read an experimentation platform's export: one row per customer per experiment.

    Transforms the files of ``source`` (one row per customer per experiment: arm, outcomes,
    covariates, segments; CSV read with every column as text, or parquet) into one row per
    experiment x customer (``experiment_id``, ``customer_id``, ``variant``, the metrics and
    covariates as float64, the segments as text or None), plus one reject row per source row
    that cannot be used. Parsing runs in DuckDB over whole files (two passes per file: the raw
    read, then the parse), never row by row in Python.

    Column mapping: the file column of each logical name (``customer_id``, ``variant``,
    ``experiment_id``, each metric, covariate and segment) is ``source.columns.get(name,
    name)``, matched exactly, then case-insensitively. Without an ``experiment_id`` column every
    row belongs to one experiment named after the first file (its name without extensions:
    ``ab_export.csv.gz`` -> ``ab_export``), said in ``notes``. Without a customer id column
    (none found, none mapped: a common export has one row per user and no id) each row is one
    customer whose id is its row number (``file_no:row`` over several files), also noted: a
    customer listed twice then cannot be recognised. A segment column absent from the file
    (and not mapped) reads as None, and an ``optional`` number absent from any file is left
    out of the table; both noted. Every file's header is checked (:func:`check_export_columns`)
    before any row is parsed.

    Numbers: decimal dot or comma per ``source.decimal_separator`` (``1.234,50`` with a comma);
    a value in ``source.true_values`` / ``source.false_values`` (any case) reads as 1.0 / 0.0,
    so ``converted = yes/no`` works; parquet numeric and boolean columns are cast directly
    (a parquet NaN is missing, an infinity is not a number).
    Text is trimmed; empty fields and the null tokens of :data:`crmlib.ingest.sources.NULL_TOKENS`
    are missing.

    Rejects, the first reason that applies: ``missing_value`` (customer_id, variant, or a
    mapped experiment_id empty; then any metric or covariate empty) > ``not_a_number`` (a
    metric or covariate that does not parse, or is infinite) > ``duplicate_row`` (a later row
    of the same experiment and customer identical in every mapped column to the first, which
    is kept) > ``conflicting_rows`` (rows of one experiment and customer that differ: all of
    them are rejected). A missing segment value is never a reason.

    Parameters
    ----------
    source : TableSource
        ``params.source.experiment_export``: path/glob/list relative to the params file,
        ``format``, ``columns``, ``delimiter``, ``decimal_separator``, ``encoding``,
        ``true_values``, ``false_values``.
    params : WorkbookParams
        Resolves the paths.
    engine : Engine
        Runs the parsing; the temporary tables it creates are dropped before returning.
    metrics : sequence of str
        Outcome columns (required in the file).
    covariates : sequence of str, default ()
        Pre-period covariate columns (required in the file).
    segments : sequence of str, default ()
        Segment columns, kept as text.
    optional : sequence of str, default ()
        Number columns read when every file has them, else left out with a note (e.g. the
        parts of a ratio metric).
    origins : mapping of str to str, optional
        Logical name -> the params key that asks for it (``"ab_test.metrics"``), named in the
        message when the column is missing.

    Returns
    -------
    ExperimentExport
        The table, the rejects, ``rows_read == len(table) + len(rejects)``, the files and notes.

    Raises
    ------
    SourceFileError
        A pattern matches no file; a file is empty or unreadable; a required column (or a
        mapped one) is not in a file: the message names the file, the logical name, the params
        key asking for it, the column looked for and the columns found.
    ConfigError
        A key of ``source.columns`` is none of the logical names, or a name has two roles.
    CheckFailed
        The accepted and rejected rows do not add up to the rows read (a bug, never data).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crmlib.config import WorkbookParams
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ab.csv").write_text(
    ...     "user;arm;converted;spend\\nU2;treatment;yes;12,50\\nU1;control;no;0\\nU3;control;no;abc\\n")
    >>> params = WorkbookParams.model_validate({"run_name": "doc", "as_of_date": "2025-12-31",
    ...     "source": {"transactions": {"path": str(folder / "ab.csv")},
    ...                "experiment_export": {"path": str(folder / "ab.csv"), "delimiter": ";",
    ...                    "decimal_separator": ",", "columns": {"customer_id": "user", "variant": "arm"}}}})
    >>> with Engine(threads=1) as engine:
    ...     export = read_experiment_export(params.source.experiment_export, params=params,
    ...         engine=engine, metrics=["converted", "spend"])
    >>> export.table.to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'experiment_id': 'ab', 'customer_id': 'U1', 'variant': 'control', 'converted': 0.0, 'spend': 0.0},
     {'experiment_id': 'ab', 'customer_id': 'U2', 'variant': 'treatment', 'converted': 1.0, 'spend': 12.5}]
    >>> export.rejects[["file", "source_row", "reason", "column"]].to_dict("records")
    [{'file': 'ab.csv', 'source_row': 3, 'reason': 'not_a_number', 'column': 'spend'}]
    >>> export.rows_read
    3
    """
    with engine.source_files() as reader:  # Spark: the files are read on DuckDB
        return _read_export(
            source, params=params, engine=reader, metrics=metrics, covariates=covariates,
            segments=segments, optional=optional, origins=origins,
        )  # fmt: skip


def _read_export(
    source: TableSource,
    *,
    params: WorkbookParams,
    engine: Engine,
    metrics: Sequence[str],
    covariates: Sequence[str],
    segments: Sequence[str],
    optional: Sequence[str],
    origins: Mapping[str, str] | None,
) -> ExperimentExport:
    """:func:`read_experiment_export` on an engine that reads local files."""
    roles = _roles(source, metrics, covariates, segments, optional=optional, origins=origins)
    headers = _read_headers(source, roles, params=params, engine=engine)
    paths = [header.path for header in headers]
    experiment_name = _export_name(paths[0])
    notes = _header_notes(headers, roles, source, experiment_name)
    roles = roles.without(_absent_optional(headers, roles))
    engine.execute("ingest_macros")
    values = _stage_values(source)
    values["experiment_name"] = experiment_name
    values["file_names"] = [path.name for path in paths]
    number_parser = (
        "ingest_number_comma" if source.decimal_separator == "," else "ingest_number_dot"
    )
    rows_read = 0
    with engine.temp_tables("experiment_export", ["raw", "stage", "sets"]) as temp:
        engine.execute(f"CREATE TABLE {temp['stage']} ({_stage_schema(roles)})")
        for file_no, header in enumerate(headers, start=1):
            path = header.path
            try:  # one parallel pass over the file; the table keeps the file's row order
                engine.execute(
                    f"CREATE OR REPLACE TABLE {temp['raw']} AS SELECT * FROM {header.reader}"
                )
            except EngineError as exc:
                raise source_error(path, _TABLE, source, header.fmt, exc) from None
            file_rows = _count_rows(engine, temp["raw"])
            if file_rows == 0:
                log.warning("%s: header but no data rows (experiment export)", path.name)
            rows_read += file_rows
            statement = _stage_select(
                roles,
                header.mapped,
                header.types,
                raw=temp["raw"],
                number_parser=number_parser,
                several_files=len(headers) > 1,
            )
            engine.execute(
                f"INSERT INTO {temp['stage']}\n{statement}", {**values, "file_no": file_no}
            )
        engine.execute(f"DROP TABLE IF EXISTS {temp['raw']}")
        content = ", ".join(
            [
                "variant",
                *(roles.number_alias(i) for i in range(len(roles.numbers))),
                *(roles.segment_alias(i) for i in range(len(roles.segments))),
            ]
        )
        engine.execute(
            _SET_REJECTS_SQL,
            values,
            identifiers={
                "sets": temp["sets"],
                "stage": temp["stage"],
                "content": f"ROW({content})",
            },
        )
        selected = ", ".join(
            [
                *_ID_NAMES,
                *(f"{roles.number_alias(i)}" for i in range(len(roles.numbers))),
                *(f"{roles.segment_alias(i)}" for i in range(len(roles.segments))),
            ]
        )
        accepted = engine.query(
            f"SELECT {selected} FROM {temp['stage']} AS s WHERE s.reason IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {temp['sets']} AS r WHERE r.file_no = s.file_no AND r.source_row = s.source_row) "
            "ORDER BY experiment_id, customer_id"
        )
        rejected = engine.query(
            "SELECT list_extract($file_names, file_no) AS file, source_row, reason, "
            'reason_column AS "column", detail FROM ('
            f"SELECT file_no, source_row, reason, reason_column, detail FROM {temp['stage']} "
            "WHERE reason IS NOT NULL "
            f"UNION ALL SELECT file_no, source_row, reason, reason_column, detail FROM {temp['sets']}"
            ") ORDER BY file_no, source_row",
            values,
        )
    table = _as_table(accepted, roles)
    rejects = _as_rejects(rejected)
    if rows_read != len(table) + len(rejects):
        raise CheckFailed(
            f"{', '.join(p.name for p in paths)}: {rows_read} rows read but {len(table)} accepted and "
            f"{len(rejects)} rejected; expected every row read to be accepted or rejected once"
        )
    counts = rejects["reason"].value_counts().reindex(list(EXPORT_REJECT_REASONS)).dropna()
    if len(rejects):
        by_reason = ", ".join(f"{int(n)} {reason}" for reason, n in counts.items())
        notes.append(f"{len(rejects)} of {rows_read} rows rejected ({by_reason}).")
    log.info(
        "experiment export: %d rows read from %d file(s), %d accepted, %d rejected %s",
        rows_read,
        len(paths),
        len(table),
        len(rejects),
        {str(reason): int(n) for reason, n in counts.items()},
    )
    return ExperimentExport(
        table=table,
        rejects=rejects,
        rows_read=rows_read,
        files=tuple(str(path) for path in paths),
        notes=tuple(notes),
    )


def _as_table(accepted: pd.DataFrame, roles: _Roles) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {name: accepted[name].astype("str") for name in _ID_NAMES}
    for index, name in enumerate(roles.numbers):
        columns[name] = accepted[roles.number_alias(index)].astype("float64")
    for index, name in enumerate(roles.segments):
        columns[name] = _segment_object(accepted[roles.segment_alias(index)])
    return pd.DataFrame(columns, index=pd.RangeIndex(len(accepted)))


def _as_rejects(rejected: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": rejected["file"].astype("str"),
            "source_row": rejected["source_row"].astype("int64"),
            "reason": rejected["reason"].astype("str"),
            "column": _segment_object(rejected["column"]),
            "detail": rejected["detail"].astype("str"),
        },
        index=pd.RangeIndex(len(rejected)),
    )
