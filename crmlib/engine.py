"""The SQL engine: an embedded DuckDB that runs the queries in crmlib/sql with bound parameters.

:class:`Engine` is DuckDB; :class:`SparkEngine` runs the same queries on Apache Spark (transpiled
by sqlglot; see the section "Apache Spark" below), chosen by ``engine.name`` in the params file.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from crmlib.errors import EngineError

__all__ = [
    "Engine",
    "SparkEngine",
    "DEFAULT_SPARK_CONF",
    "load_sql",
    "quote_literal",
    "quote_identifier",
    "to_spark_sql",
]

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@cache
def load_sql(name: str) -> str:
    """The text of ``crmlib/sql/<name>.sql``."""
    try:
        return resources.files("crmlib").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EngineError(f"no query named {name!r} in crmlib/sql") from exc


def quote_literal(value: str | Path) -> str:
    """A SQL string literal for text that cannot be a bound parameter (view bodies, COPY targets)."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A double-quoted SQL identifier (for source column names with spaces or capitals)."""
    return '"' + name.replace('"', '""') + '"'


def _bind(text: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parameters a statement uses (``$name``): DuckDB refuses values it has no use for."""
    names = set(re.findall(r"\$(\w+)", text))
    bound = {k: v for k, v in (params or {}).items() if k in names}
    return bound or None


def _render(text: str, identifiers: Mapping[str, str] | None) -> str:
    """Substitute ``{{ name }}`` placeholders with validated identifiers or pre-quoted SQL."""
    identifiers = identifiers or {}

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise EngineError(f"query placeholder {{{{ {key} }}}} has no value")
        return identifiers[key]

    return _PLACEHOLDER.sub(substitute, text)


class Engine:
    """An embedded DuckDB connection with the workbook's settings.

    Parameters
    ----------
    memory_limit : str, default "2.5GB"
        DuckDB's ``memory_limit``; larger work spills to ``temp_directory``.
    threads : int, optional
        Worker threads; None uses every core.
    temp_directory : str, optional
        Where DuckDB spills; None keeps DuckDB's default.

    Examples
    --------
    >>> with Engine(threads=1) as engine:
    ...     engine.query("select $x + 1 as y", {"x": 41})["y"].tolist()
    [42]
    """

    def __init__(
        self,
        *,
        memory_limit: str = "2.5GB",
        threads: int | None = None,
        temp_directory: str | None = None,
    ) -> None:
        self.con = duckdb.connect(database=":memory:")
        self.con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        if temp_directory is not None:
            self.con.execute(f"SET temp_directory = {quote_literal(temp_directory)}")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET allocator_background_threads = true")
        # Progress-bar settings are left alone: inside Jupyter, DuckDB 2 refuses any change to them
        # unless ipywidgets is installed (InvalidInputException), and without it draws no bar.

    @classmethod
    def from_config(cls, engine_config: Any, *, reads_source_files: bool = False) -> Engine:
        """An engine from the params file's ``engine`` section (:class:`crmlib.config.EngineConfig`).

        ``name: spark`` gives a :class:`SparkEngine` (the same methods), except for the stage
        that reads the source files (``reads_source_files``: 01_ingest), which runs on DuckDB
        until ingest on Spark exists: its artifacts are parquet files that Spark then reads.
        """
        if getattr(engine_config, "name", "duckdb") == "spark":
            if not reads_source_files:
                return SparkEngine(master=engine_config.master, conf=engine_config.conf)
            log.warning(
                "engine.name is spark: 01_ingest reads and checks the source files on DuckDB "
                "(ingest on Spark is not built yet); the later stages run on Spark"
            )
        return cls(
            memory_limit=engine_config.memory_limit,
            threads=engine_config.threads,
            temp_directory=engine_config.temp_directory,
        )

    # -- running queries ---------------------------------------------------------------------
    def _sql_text(self, sql: str, identifiers: Mapping[str, str] | None) -> str:
        text = load_sql(sql) if _IDENTIFIER.match(sql) else sql
        return _render(text, identifiers)

    def _errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions this engine raises for a failed statement."""
        return (duckdb.Error,)

    def _error_text(self, label: str, exc: BaseException) -> str:
        return f"{label}: {exc}"

    @contextmanager
    def _timed(self, sql: str) -> Iterator[None]:
        started = time.perf_counter()
        label = sql if _IDENTIFIER.match(sql) else "inline query"
        try:
            yield
        except self._errors() as exc:
            raise EngineError(self._error_text(label, exc)) from exc
        snippet = "" if _IDENTIFIER.match(sql) else f" ({' '.join(sql.split())[:70]}...)"
        log.debug("%s%s ran in %.3f s", label, snippet, time.perf_counter() - started)

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> None:
        """Run a statement (DDL, COPY) or a whole ``.sql`` file of statements; fetch nothing."""
        text = self._sql_text(sql, identifiers)
        with self._timed(sql):
            for statement in self.con.extract_statements(text):
                self.con.execute(statement.query, _bind(statement.query, params))

    def arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """Run one query (a name in crmlib/sql or SQL text) and return an Arrow table."""
        text = self._sql_text(sql, identifiers)
        with self._timed(sql):
            return self.con.sql(text, params=_bind(text, params)).to_arrow_table()

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Run one query (a name in crmlib/sql or SQL text) and return a pandas frame."""
        text = self._sql_text(sql, identifiers)
        with self._timed(sql):
            return self.con.execute(text, _bind(text, params)).df()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The single value of a one-row, one-column query."""
        with self._timed(sql):
            rows = self.con.execute(
                self._sql_text(sql, None), dict(params) if params else None
            ).fetchall()
        return rows[0][0] if rows else None

    # -- tables --------------------------------------------------------------------------------
    def register(self, name: str, table: pd.DataFrame | pa.Table | pa.RecordBatchReader) -> None:
        """Make an in-memory frame, or a stream of Arrow batches (read once), queryable as ``name``."""
        self._check_name(name)
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        """Forget what :meth:`register` made queryable as ``name``."""
        self._check_name(name)
        self.con.unregister(name)

    def register_parquet(self, name: str, paths: str | Path | Sequence[str | Path]) -> None:
        """Make parquet file(s) queryable as view ``name`` (read lazily by the engine)."""
        self._check_name(name)
        items = [paths] if isinstance(paths, (str, Path)) else list(paths)
        listed = ", ".join(quote_literal(p) for p in items)
        with self._timed(f"register {name}"):
            self.con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{listed}])"
            )

    def copy_to_parquet(
        self,
        sql: str,
        path: str | Path,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> int:
        """Write a query's result to a parquet file; return its row count."""
        text = self._sql_text(sql, identifiers).strip().rstrip(";")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._timed(sql):
            self.con.execute(
                f"COPY ({text}) TO {quote_literal(path)} (FORMAT parquet, COMPRESSION zstd)",
                _bind(text, params),
            )
            count = self.con.execute(
                f"SELECT count(*) FROM read_parquet({quote_literal(path)})"
            ).fetchall()
        return int(count[0][0])

    @contextmanager
    def temp_tables(self, prefix: str, kinds: Sequence[str]) -> Iterator[dict[str, str]]:
        """Names of one call's own temp tables, by kind, dropped however the block ends.

        Each name is ``<prefix>_<kind>_<token>`` with a fresh random token, so concurrent
        calls on one engine never share a table.

        Examples
        --------
        >>> with Engine(threads=1) as engine, engine.temp_tables("demo", ["a"]) as names:
        ...     names["a"].startswith("demo_a_")
        True
        """
        token = uuid.uuid4().hex[:16]
        names = {kind: f"{prefix}_{kind}_{token}" for kind in kinds}
        for name in names.values():
            self._check_name(name)
        try:
            yield names
        finally:
            for name in names.values():
                self.execute(f"DROP TABLE IF EXISTS {name}")

    @contextmanager
    def source_files(self) -> Iterator[Engine]:
        """An engine that reads the user's local source files (CSV, parquet): this one.

        A :class:`SparkEngine` gives a DuckDB engine instead, closed after the block: the
        readers' rules (encodings, null tokens, row numbers) are DuckDB's table functions.
        """
        yield self

    def has_table(self, name: str) -> bool:
        """Whether a table or view called ``name`` exists."""
        self._check_name(name)
        # fetchall, never fetchone: DuckDB 2 refuses the next statement while a result is unread
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = $n", {"n": name}
        ).fetchall()
        return bool(found[0][0])

    def column_types(self, name: str) -> dict[str, str]:
        """Column name -> engine type of the table or view ``name``, in column order."""
        self._check_name(name)
        found = self.query(f"DESCRIBE {name}")
        return dict(zip(found["column_name"], found["column_type"].astype(str), strict=True))

    @staticmethod
    def _check_name(name: str) -> None:
        if not _IDENTIFIER.match(name):
            raise EngineError(f"{name!r} is not a valid table name")

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- Apache Spark ----------------------------------------------------------------------------------
# The same SQL on Apache Spark: :class:`SparkEngine`, a drop-in for :class:`crmlib.engine.Engine`.
#
# Every query in ``crmlib/sql`` is written once in DuckDB's dialect. On Spark, ``sqlglot``
# transpiles it (DuckDB in, Spark SQL out) and a SparkSession runs it; bound parameters stay
# bound (``$name`` becomes Spark's named marker ``:name``, its value passed in ``args``, never
# formatted into the text). Statements Spark has no equivalent for are carried out with the
# DataFrame API, with the same meaning:
#
# - ``CREATE [OR REPLACE] [TEMP] TABLE t AS SELECT ...``: the SELECT's result, materialised
#   (cached) and registered as the temporary view ``t``;
# - ``INSERT INTO t SELECT ...``: ``t`` replaced by ``t`` UNION ALL the new rows;
# - ``DROP TABLE|VIEW [IF EXISTS] t``: the temporary view dropped.
#
# Results come back as Arrow (``DataFrame.toArrow``) and pandas, so stage code reads the same
# frames on both engines and never branches on the engine. Timestamps are ``TIMESTAMP_NTZ``
# (DuckDB's ``TIMESTAMP``) and the session time zone is UTC.
#
# Sessions: one SparkSession per ``(master, conf)`` in a process; each engine gets its own
# ``newSession()`` (its own temporary views) and drops them on :meth:`SparkEngine.close`.


#: Settings every session gets (a params file's ``engine.conf`` may override them).
DEFAULT_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}

_SESSIONS: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

#: Spark's type names -> DuckDB's (what :meth:`Engine.column_types` returns).
_TYPE_NAMES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp_ntz": "TIMESTAMP",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "binary": "BLOB",
}


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


def _spark_text(tree: Any) -> str:
    """A parsed DuckDB statement as Spark SQL, with DuckDB's meaning kept where the two differ."""
    import sqlglot
    from sqlglot import exp

    def boundary_diff(node: Any) -> Any:
        if not (isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary")):
            return node
        unit = node.args.get("unit")
        template = _SPARK_DATE_DIFF.get(unit.name.upper() if unit is not None else "DAY")
        if template is None:
            return node
        parts = {"__end": node.this, "__start": node.expression}

        def fill(part: Any) -> Any:
            if isinstance(part, exp.Column) and part.name in parts:
                return parts[part.name].copy()
            return part

        return sqlglot.parse_one(template, read="spark").transform(fill)

    try:
        return str(tree.copy().transform(boundary_diff).sql(dialect="spark"))
    except sqlglot.errors.SqlglotError as exc:
        raise EngineError(f"cannot translate the statement to Spark SQL: {exc}") from exc


@lru_cache(maxsize=1024)
def to_spark_sql(statement: str) -> str:
    """One statement in DuckDB's dialect, transpiled to Spark SQL (sqlglot, plus :func:`_spark_text`).

    >>> to_spark_sql("SELECT date_diff('day', a, b) AS d FROM t WHERE x < $end_ts")
    'SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) AS d FROM t WHERE x < :end_ts'
    """
    import sqlglot  # imported on first use: a DuckDB run never needs it

    try:
        tree = sqlglot.parse_one(statement, read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        raise EngineError(f"cannot translate the statement to Spark SQL: {exc}") from exc
    return _spark_text(tree)


def _python_value(value: Any) -> Any:
    """A bound value as a plain Python object (Spark refuses numpy and pandas scalars)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _session(master: str, conf: Mapping[str, str]) -> Any:
    """The process's SparkSession for ``master`` and ``conf`` (started on first use)."""
    settings = {**DEFAULT_SPARK_CONF, **{str(k): str(v) for k, v in conf.items()}}
    key = (master, tuple(sorted(settings.items())))
    if key not in _SESSIONS:
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise EngineError(
                "engine.name is spark but pyspark is not installed; install it with "
                "pip install 'crmlib[spark]' (make install does)"
            ) from exc

        builder = SparkSession.builder.appName("crm-workbook")
        builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
        for name, value in settings.items():
            builder = builder.config(name, value)
        started = time.perf_counter()
        try:
            _SESSIONS[key] = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start: say what to install, never a bare trace
            raise EngineError(
                f"engine.name is spark but no Spark session could start on {master}: "
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}; "
                "Spark needs Java 17 or newer on the driver (Debian: sudo apt-get install -y "
                "openjdk-17-jre-headless) and, for a cluster, a reachable master"
            ) from exc
        log.info("Spark session on %s started in %.1f s", master, time.perf_counter() - started)
    return _SESSIONS[key]


def _type_name(spark_type: str) -> str:
    lowered = spark_type.lower()
    if lowered.startswith("decimal"):
        return lowered.upper()
    return _TYPE_NAMES.get(lowered, spark_type.upper())


class SparkEngine(Engine):
    """:class:`crmlib.engine.Engine`'s methods, run on a SparkSession.

    Parameters
    ----------
    master : str, default "local[2]"
        ``local[N]``, ``spark://host:7077``, ``yarn``, ``k8s://...``, or ``sc://host`` (Spark
        Connect).
    conf : mapping, optional
        Spark settings added to :data:`DEFAULT_SPARK_CONF`.
    """

    def __init__(self, *, master: str = "local[2]", conf: Mapping[str, str] | None = None) -> None:
        root = _session(master, conf or {})
        self.spark = root if master.startswith("sc://") else root.newSession()
        self.master = master
        self._views: set[str] = set()

    # -- running statements --------------------------------------------------------------------
    def _errors(self) -> tuple[type[BaseException], ...]:
        """Spark's errors, and Py4JError: the JVM itself failed (e.g. out of memory)."""
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        return (PySparkException, Py4JError)

    def _error_text(self, label: str, exc: BaseException) -> str:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        message = " ".join(lines[:3]) if lines else type(exc).__name__
        return f"{label} (Spark): {type(exc).__name__}: {message[:600]}"

    @staticmethod
    def _args(text: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The parameters a statement uses, as Python values Spark can bind (no numpy scalars)."""
        bound = _bind(text, params)
        return {k: _python_value(v) for k, v in bound.items()} if bound else None

    def _frame(self, statement: Any, params: Mapping[str, Any] | None) -> Any:
        """A Spark DataFrame of one SELECT written in DuckDB's dialect (text or parsed)."""
        if not isinstance(statement, str):
            duck, spark_text = statement.sql(dialect="duckdb"), _spark_text(statement)
        else:
            duck, spark_text = statement, to_spark_sql(statement)
        return self.spark.sql(spark_text, args=self._args(duck, params))

    def _register_frame(self, name: str, frame: Any) -> None:
        self._check_name(name)
        frame = frame.cache()
        frame.count()  # materialise now, as CREATE TABLE does
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    @staticmethod
    def _target(tree: Any) -> str:
        from sqlglot import exp

        table = tree.this if isinstance(tree.this, exp.Table) else tree.this.this
        return str(table.name)

    def _run_statement(self, tree: Any, params: Mapping[str, Any] | None) -> None:
        from sqlglot import exp

        if isinstance(tree, exp.Create) and str(tree.kind) in ("TABLE", "VIEW"):
            if tree.expression is None:
                raise EngineError("CREATE without AS SELECT is not supported on Spark")
            self._register_frame(self._target(tree), self._frame(tree.expression, params))
        elif isinstance(tree, exp.Insert):
            name = self._target(tree)
            added = self._frame(tree.expression, params)
            existing = self.spark.table(name)
            self._register_frame(name, existing.unionAll(added.toDF(*existing.columns)))
        elif isinstance(tree, exp.Drop) and str(tree.kind) in ("TABLE", "VIEW"):
            for table in tree.args.get("tables") or [tree.this]:
                self.spark.catalog.dropTempView(str(table.name))
                self._views.discard(str(table.name))
        else:
            self._frame(tree, params)

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> None:
        """Run a statement or a whole ``.sql`` file of statements (see the module docstring)."""
        import sqlglot

        text = self._sql_text(sql, identifiers)
        with self._timed(sql):
            try:
                trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
            except sqlglot.errors.SqlglotError as exc:
                raise EngineError(f"{sql}: cannot translate to Spark SQL: {exc}") from exc
            for tree in trees:
                self._run_statement(tree, params)

    def arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """Run one query (a name in crmlib/sql or SQL text) and return an Arrow table."""
        text = self._sql_text(sql, identifiers).strip().rstrip(";")
        with self._timed(sql):
            return self._frame(text, params).toArrow()

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Run one query (a name in crmlib/sql or SQL text) and return a pandas frame.

        DATE columns become datetime64[us], as DuckDB's ``df()`` gives them.
        """
        table = self.arrow(sql, params, identifiers=identifiers)
        for position, field in enumerate(table.schema):
            if pa.types.is_date(field.type):
                day = table.column(position).cast(pa.timestamp("us"))
                table = table.set_column(position, field.name, day)
        return table.to_pandas()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The single value of a one-row, one-column query."""
        table = self.arrow(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    # -- tables --------------------------------------------------------------------------------
    def register(self, name: str, table: pd.DataFrame | pa.Table | pa.RecordBatchReader) -> None:
        """Make an in-memory frame (or a stream of Arrow batches) queryable as ``name``."""
        self._check_name(name)
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        if isinstance(
            table, pd.DataFrame
        ):  # through Arrow, so that an empty frame keeps its schema
            table = pa.Table.from_pandas(table, preserve_index=False)
        for position, field in enumerate(table.schema):
            if pa.types.is_null(
                field.type
            ):  # a column with no value at all: text, as DuckDB reads it
                table = table.set_column(
                    position, field.name, table.column(position).cast(pa.string())
                )
        with self._timed(f"register {name}"):
            frame = self.spark.createDataFrame(table)
            frame.createOrReplaceTempView(name)
        self._views.add(name)

    def unregister(self, name: str) -> None:
        """Forget what :meth:`register` made queryable as ``name``."""
        self._check_name(name)
        self.spark.catalog.dropTempView(name)
        self._views.discard(name)

    def register_parquet(self, name: str, paths: str | Path | Sequence[str | Path]) -> None:
        """Make parquet file(s) queryable as view ``name`` (read lazily by Spark)."""
        self._check_name(name)
        items = [paths] if isinstance(paths, (str, Path)) else list(paths)
        with self._timed(f"register {name}"):
            self.spark.read.parquet(*[str(p) for p in items]).createOrReplaceTempView(name)
        self._views.add(name)

    def copy_to_parquet(
        self,
        sql: str,
        path: str | Path,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> int:
        """Write a query's result to one parquet file (through the driver); return its row count."""
        table = self.arrow(sql, params, identifiers=identifiers)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression="zstd")
        return int(table.num_rows)

    @contextmanager
    def source_files(self) -> Iterator[Engine]:
        """A DuckDB engine for reading local source files (closed after the block)."""
        with Engine() as reader:
            yield reader

    def has_table(self, name: str) -> bool:
        """Whether a table or view called ``name`` exists."""
        self._check_name(name)
        return bool(self.spark.catalog.tableExists(name))

    def column_types(self, name: str) -> dict[str, str]:
        """Column name -> type (DuckDB's names: VARCHAR, BIGINT, TIMESTAMP, ...), in order."""
        self._check_name(name)
        return {column: _type_name(kind) for column, kind in self.spark.table(name).dtypes}

    def close(self) -> None:
        """Drop this engine's temporary views (the session lives on for the process)."""
        for name in sorted(self._views):
            self.spark.catalog.dropTempView(name)
        self._views.clear()
