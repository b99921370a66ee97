"""DuckDB's dialect, as Spark SQL: what sqlglot transpiles, plus DuckDB's meaning where they differ.

Every query in ``crmlib/sql`` is written once, in DuckDB's dialect. :func:`to_spark_sql` turns
one statement into Spark SQL for :class:`crmlib.engine.SparkEngine`: sqlglot transpiles it, and
the rewrites below keep DuckDB's meaning where sqlglot's output would differ or would not run:

- ``date_diff('day' | 'second', a, b)`` counts unit boundaries on DuckDB, whole units on Spark;
- DuckDB macros (``CREATE MACRO``, used by ingest's parsers) do not exist on Spark: each call is
  replaced by the macro's body with the arguments in place (:func:`macro_definition`);
- ``timezone('UTC', x)`` (a time-zone-aware timestamp as naive UTC), ``TIMESTAMPTZ``,
  ``regexp_full_match``, ``isfinite``, ``try_strptime`` (its format written in Java's
  pattern letters, :func:`java_datetime_pattern`), ``json_object`` and ``ENUM`` types have no
  Spark spelling in sqlglot's output, and get one here;
- ``ROW(...)`` is a ``STRUCT(...)``; ``AS MATERIALIZED`` on a CTE (a DuckDB planner hint) is
  dropped (:meth:`crmlib.engine.SparkEngine` computes such a CTE once, into a view);
- ``rowid`` (a DuckDB table's row number, 0-based, in insertion order) is the column
  :data:`ROWID_COLUMN` that :meth:`crmlib.engine.SparkEngine.load_file` adds.

Sessions run with ``spark.sql.timestampType = TIMESTAMP_NTZ`` and time zone UTC (see
:data:`crmlib.engine.DEFAULT_SPARK_CONF`): Spark's ``TIMESTAMP`` is DuckDB's ``TIMESTAMP``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from crmlib.errors import EngineError

__all__ = ["ROWID_COLUMN", "java_datetime_pattern", "macro_definition", "to_spark_sql"]

#: The column a raw table read by Spark carries for DuckDB's ``rowid`` (0-based file order).
ROWID_COLUMN = "ingest_rowid"

#: A macro: its parameter names and its body (a parsed expression).
Macro = tuple[tuple[str, ...], Any]

#: DuckDB's ``date_diff`` counts unit boundaries crossed (2025-01-05 12:00 to 2025-01-06 00:00 is
#: one day); Spark's ``DATEDIFF(unit, ...)`` counts whole units (zero days). These spell
#: DuckDB's meaning in Spark SQL; ``__end`` and ``__start`` stand for the two arguments.
#: Microseconds need nothing: there is no smaller boundary.
_SPARK_DATE_DIFF = {
    "DAY": "DATEDIFF(CAST(__end AS DATE), CAST(__start AS DATE))",
    "SECOND": (
        "CAST(FLOOR(UNIX_MICROS(CAST(__end AS TIMESTAMP)) / 1000000) "
        "- FLOOR(UNIX_MICROS(CAST(__start AS TIMESTAMP)) / 1000000) AS BIGINT)"
    ),
}

#: Functions written in DuckDB's names, as Spark SQL templates over ``__0``, ``__1``, ...
_SPARK_FUNCTIONS = {
    # a finite number: not NaN, not an infinity (NULL stays NULL)
    "ISFINITE": "(NOT ISNAN(__0) AND ABS(__0) <> CAST('Infinity' AS DOUBLE))",
    # a time-zone-aware timestamp as the naive timestamp of its UTC wall clock (session zone UTC)
    "TIMEZONE": "CAST(__1 AS TIMESTAMP_NTZ)",
    "TRY_STRPTIME": "TRY_TO_TIMESTAMP(__0, __1)",
    "STRPTIME": "TO_TIMESTAMP(__0, __1)",
}

#: ``timezone('UTC', try_strptime(x, fmt))`` with an offset in ``fmt``. Spark's TRY_TO_TIMESTAMP
#: gives TIMESTAMP_NTZ (the offset ignored), TO_TIMESTAMP_LTZ fails on bad text: the first
#: tells whether the text parses, the second reads it.
_ZONED_STRPTIME = (
    "CASE WHEN TRY_TO_TIMESTAMP(__0, __1) IS NOT NULL "
    "THEN CAST(TO_TIMESTAMP_LTZ(__0, __1) AS TIMESTAMP_NTZ) END"
)

#: strptime directives -> Java DateTimeFormatter pattern letters (what Spark's parsers read).
_JAVA_DIRECTIVES = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "p": "a",
    "b": "MMM",
    "B": "MMMM",
    "a": "EEE",
    "A": "EEEE",
    "j": "DDD",
    "z": "XX",
    "Z": "z",
    "-m": "M",
    "-d": "d",
    "-H": "H",
}


def java_datetime_pattern(strptime_format: str) -> str:
    """A strptime format (``%d/%m/%Y %H:%M``) in Java's pattern letters, as Spark parses it.

    Text between directives is quoted, so letters in it stay literal.

    Examples
    --------
    >>> java_datetime_pattern("%d/%m/%Y %H:%M")
    'dd/MM/yyyy HH:mm'
    >>> java_datetime_pattern("%Y-%m-%dT%H:%M:%S%z")
    "yyyy-MM-dd'T'HH:mm:ssXX"
    """
    out: list[str] = []
    for token in re.findall(r"%-?.|[^%]+", strptime_format):
        if token.startswith("%"):
            directive = token[1:]
            if directive == "%":
                out.append("%")
            elif directive in _JAVA_DIRECTIVES:
                out.append(_JAVA_DIRECTIVES[directive])
            else:
                raise EngineError(
                    f"the timestamp format directive {token!r} has no Spark equivalent; "
                    f"expected one of {', '.join('%' + d for d in _JAVA_DIRECTIVES)}"
                )
        elif re.search(r"[A-Za-z']", token):
            out.append("'" + token.replace("'", "''") + "'")
        else:
            out.append(token)
    return "".join(out)


def macro_definition(tree: Any) -> tuple[str, Macro] | None:
    """``(name, (parameters, body))`` of a parsed ``CREATE MACRO`` statement; None for others."""
    from sqlglot import exp

    if not (isinstance(tree, exp.Create) and str(tree.kind).upper() == "MACRO"):
        return None
    function = tree.this
    name = function.this.name if isinstance(function.this, exp.Table) else function.name
    parameters = tuple(part.name for part in function.expressions)
    return name.lower(), (parameters, tree.expression)


def _expand_macros(tree: Any, macros: Mapping[str, Macro]) -> Any:
    """Every call of a macro replaced by its body, the arguments in place (nested calls too)."""
    from sqlglot import exp

    def expand(node: Any) -> Any:
        if not (isinstance(node, exp.Anonymous) and str(node.name).lower() in macros):
            return node
        parameters, body = macros[str(node.name).lower()]
        arguments = node.expressions
        if len(arguments) != len(parameters):
            raise EngineError(
                f"macro {node.name} takes {len(parameters)} arguments, the query gives {len(arguments)}"
            )
        values = dict(zip(parameters, arguments, strict=True))

        def fill(part: Any) -> Any:
            if isinstance(part, exp.Column) and not part.table and part.name in values:
                return values[part.name].copy()
            return part

        return exp.Paren(this=body.copy().transform(fill))

    for _ in range(8):  # macros calling macros: a few levels at most
        if not any(
            isinstance(node, exp.Anonymous) and str(node.name).lower() in macros
            for node in tree.walk()
        ):
            return tree
        tree = tree.transform(expand)
    raise EngineError("macros nest more than 8 levels deep (a macro that calls itself?)")


def _template(template: str, parts: Mapping[str, Any]) -> Any:
    import sqlglot
    from sqlglot import exp

    def fill(part: Any) -> Any:
        if isinstance(part, exp.Column) and part.name in parts:
            return parts[part.name].copy()
        return part

    return sqlglot.parse_one(template, read="spark").transform(fill)


def _rewrite(node: Any, formats: Mapping[str, str]) -> Any:
    """One node in Spark's spelling where DuckDB's meaning needs it (see the module docstring)."""
    from sqlglot import exp

    if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
        unit = node.args.get("unit")
        template = _SPARK_DATE_DIFF.get(unit.name.upper() if unit is not None else "DAY")
        if template is None:
            return node
        return _template(template, {"__end": node.this, "__start": node.expression})
    if isinstance(node, exp.RegexpFullMatch):  # the whole text matches: anchored RLIKE
        pattern = node.expression
        if not isinstance(pattern, exp.Literal):
            raise EngineError("regexp_full_match needs a constant pattern on Spark")
        anchored = exp.Literal.string("^(?:" + pattern.this + ")$")
        return exp.RegexpLike(this=node.this.copy(), expression=anchored)
    if isinstance(node, exp.JSONObject):  # {"key":value,...}, nulls kept (see DEFAULT_SPARK_CONF)
        pairs: list[Any] = []
        for pair in node.expressions:
            pairs.extend([pair.this.copy(), pair.expression.copy()])
        return exp.Anonymous(
            this="TO_JSON", expressions=[exp.Anonymous(this="NAMED_STRUCT", expressions=pairs)]
        )
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # a hint to DuckDB's planner; Spark plans on its own
        return node
    if isinstance(node, exp.DataType):
        if node.this == exp.DataType.Type.ENUM:
            return exp.DataType.build("STRING")
        if node.this == exp.DataType.Type.TIMESTAMPTZ:
            return exp.DataType.build("TIMESTAMPLTZ")
    if isinstance(node, exp.Column) and not node.table and node.name.lower() == "rowid":
        return exp.column(ROWID_COLUMN)
    if isinstance(node, exp.Anonymous):
        return _rewrite_function(node, formats)
    return node


def _rewrite_function(node: Any, formats: Mapping[str, str]) -> Any:
    """A function DuckDB knows by a name Spark does not (see :data:`_SPARK_FUNCTIONS`)."""
    from sqlglot import exp

    name = str(node.name).upper()
    arguments = list(node.expressions)
    if name == "ROW":  # an unnamed row value: a struct, compared field by field
        return exp.Anonymous(this="STRUCT", expressions=[a.copy() for a in arguments])
    parsed = arguments[1] if name == "TIMEZONE" and len(arguments) == 2 else None
    if isinstance(parsed, exp.Anonymous) and str(parsed.name).upper() == "TRY_STRPTIME":
        # an offset in the text (%z): parsed as a zoned instant, then its UTC wall clock
        text, pattern = parsed.expressions[0], _java_format(parsed.expressions[1], formats)
        return _template(_ZONED_STRPTIME, {"__0": text, "__1": pattern})
    template = _SPARK_FUNCTIONS.get(name)
    if template is None:
        return node
    if name in ("TRY_STRPTIME", "STRPTIME"):
        arguments[1] = _java_format(arguments[1], formats)
    return _template(template, {f"__{i}": arg for i, arg in enumerate(arguments)})


def _java_format(argument: Any, formats: Mapping[str, str]) -> Any:
    """A strptime format argument (a literal or a bound parameter) as a Java pattern literal."""
    from sqlglot import exp

    if isinstance(argument, exp.Literal) and argument.is_string:
        return exp.Literal.string(java_datetime_pattern(argument.this))
    if isinstance(argument, exp.Placeholder) and str(argument.name) in formats:
        return exp.Literal.string(java_datetime_pattern(formats[str(argument.name)]))
    raise EngineError("a strptime format must be a constant or a bound text parameter on Spark")


def spark_text(
    tree: Any, macros: Mapping[str, Macro] | None = None, formats: Mapping[str, str] | None = None
) -> str:
    """A parsed DuckDB statement as Spark SQL (macros expanded, DuckDB's meaning kept).

    ``formats`` are the bound text parameters a ``strptime`` may use as its format: they are
    written into the statement in Java's pattern letters (they are settings, not data).
    """
    import sqlglot

    try:
        tree = tree.copy()
        if macros:
            tree = _expand_macros(tree, macros)
        for _ in range(4):  # a rewritten node's arguments may need rewriting too
            before = tree.sql(dialect="duckdb")
            tree = tree.transform(lambda node: _rewrite(node, formats or {}))
            if tree.sql(dialect="duckdb") == before:
                break
        return str(tree.sql(dialect="spark"))
    except sqlglot.errors.SqlglotError as exc:
        raise EngineError(f"cannot translate the statement to Spark SQL: {exc}") from exc


@lru_cache(maxsize=1024)
def to_spark_sql(statement: str) -> str:
    """One statement in DuckDB's dialect (no macros), transpiled to Spark SQL.

    >>> to_spark_sql("SELECT date_diff('day', a, b) AS d FROM t WHERE x < $end_ts")
    'SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) AS d FROM t WHERE x < :end_ts'
    """
    import sqlglot  # imported on first use: a DuckDB run never needs it

    try:
        tree = sqlglot.parse_one(statement, read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        raise EngineError(f"cannot translate the statement to Spark SQL: {exc}") from exc
    return spark_text(tree)
