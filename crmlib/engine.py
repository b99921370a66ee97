"""The SQL engine: an embedded DuckDB that runs the queries in crmlib/sql with bound parameters.

:class:`Engine` is DuckDB; :class:`SparkEngine` runs the same queries on Apache Spark (transpiled
by sqlglot; see the section "Apache Spark" below), chosen by ``engine.name`` in the params file.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from crmlib.errors import EngineError
from crmlib.spark_sql import ROWID_COLUMN, Macro, macro_definition, spark_text, to_spark_sql

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


def file_reader_sql(
    path: str | Path,
    file_format: str,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    null_values: Sequence[str] = (),
) -> str:
    """DuckDB's table function reading one source file, every CSV column as text.

    CSV is read with the delimiter and encoding, a header row, ``"`` as quote and escape, and
    every field equal to one of ``null_values`` read as NULL; parquet with its own column types.
    """
    if file_format == "parquet":
        return f"read_parquet({quote_literal(path)})"
    return (
        f"read_csv({quote_literal(path)}, all_varchar = true, header = true, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', "
        f"encoding = {quote_literal(encoding)}, skip = 0, comment = '', compression = 'auto', "
        f"nullstr = [{', '.join(quote_literal(token) for token in null_values)}])"
    )


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
    def from_config(cls, engine_config: Any) -> Engine:
        """An engine from the params file's ``engine`` section (:class:`crmlib.config.EngineConfig`).

        ``name: spark`` gives a :class:`SparkEngine` (the same methods), its tables written
        under ``temp_directory``.
        """
        if getattr(engine_config, "name", "duckdb") == "spark":
            return SparkEngine(
                master=engine_config.master,
                conf=engine_config.conf,
                scratch=engine_config.temp_directory,
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
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Write a query's result to a parquet file (zstd; ``metadata``: key-value pairs of the
        file, e.g. ``pandas``); return its row count."""
        text = self._sql_text(sql, identifiers).strip().rstrip(";")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pairs = ", ".join(
            f"{quote_identifier(k)}: {quote_literal(v)}" for k, v in (metadata or {}).items()
        )
        options = f", KV_METADATA {{{pairs}}}" if pairs else ""
        with self._timed(sql):
            self.con.execute(
                f"COPY ({text}) TO {quote_literal(path)} (FORMAT parquet, COMPRESSION zstd{options})",
                _bind(text, params),
            )
            count = self.con.execute(
                f"SELECT count(*) FROM read_parquet({quote_literal(path)})"
            ).fetchall()
        return int(count[0][0])

    def load_file(
        self,
        name: str,
        path: str | Path,
        file_format: str,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
        null_values: Sequence[str] = (),
        columns: Sequence[str] = (),
    ) -> None:
        """Read one source file into table ``name``, in file order (``rowid`` = data row - 1).

        The table has ``ingest_row_hash`` (a hash of the whole row) then the file's columns:
        CSV as text (:func:`file_reader_sql` says how), parquet with its own types. One
        parallel pass over the file. ``columns``: the names DuckDB's reader gives the file's
        columns (:class:`SparkEngine` names them so; DuckDB needs nothing).
        """
        self._check_name(name)
        reader = file_reader_sql(
            path, file_format, delimiter=delimiter, encoding=encoding, null_values=null_values
        )
        self.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT hash(*COLUMNS(*)) AS ingest_row_hash, * FROM {reader}"
        )

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

    def drop_tables(self, prefix: str) -> None:
        """Drop every table and view whose name starts with ``prefix``."""
        self._check_name(prefix)
        found = self.query(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE starts_with(table_name, $prefix)",
            {"prefix": prefix},
        )
        for name, kind in zip(found["table_name"], found["table_type"], strict=True):
            self.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {name}")

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
    # json_object keeps keys with NULL values, as DuckDB's does
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
    # the tables statements create are parquet (SparkEngine._register_frame): 16 MiB row groups
    # instead of 128 MiB, so that a writer's buffer fits a small heap (a 684 MB CSV ingested
    # with a 512 MiB driver heap in local mode; with 128 MiB groups it ran out of memory)
    "spark.hadoop.parquet.block.size": str(16 * 2**20),
}

#: Encoding names as the source settings spell them -> as Spark's CSV reader does.
_SPARK_ENCODINGS = {"utf-8": "UTF-8", "latin-1": "ISO-8859-1", "utf-16": "UTF-16"}

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


def quote_spark(name: str) -> str:
    """A column name as Spark's ``col()`` reads it literally (dots and spaces included)."""
    return "`" + name.replace("`", "``") + "`"


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
    scratch : str, optional
        Where the tables that statements create are written (parquet; a folder of this
        engine's own inside, removed on :meth:`close`). On a cluster it must be storage every
        executor reaches (``hdfs://...``, ``s3a://...``; the params file's
        ``engine.temp_directory``). Default: a local temporary folder.
    """

    def __init__(
        self,
        *,
        master: str = "local[2]",
        conf: Mapping[str, str] | None = None,
        scratch: str | None = None,
    ) -> None:
        root = _session(master, conf or {})
        self.spark = root if master.startswith("sc://") else root.newSession()
        self.master = master
        token = uuid.uuid4().hex[:12]
        self.scratch = (
            tempfile.mkdtemp(prefix="crm-spark-tables-")
            if scratch is None
            else f"{scratch.rstrip('/')}/crm-spark-tables-{token}"
        )
        self._locations: dict[str, str] = {}  # view -> the folder of its rows (_register_frame)
        self._views: set[str] = set()
        self._macros: dict[str, Macro] = {}
        self._links: Path | None = None  # see _visible
        self._statement_views: list[str] = []  # see _materialize_ctes

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
        import sqlglot

        lowered = statement.lower() if isinstance(statement, str) else ""
        if (
            isinstance(statement, str)
            and not self._macros
            and "strptime" not in lowered
            and "materialized" not in lowered
        ):
            duck, text = statement, to_spark_sql(statement)
        else:
            if isinstance(statement, str):
                statement = sqlglot.parse_one(statement, read="duckdb")
            statement = self._materialize_ctes(statement, params)
            formats = {k: v for k, v in (params or {}).items() if isinstance(v, str)}
            duck, text = (
                statement.sql(dialect="duckdb"),
                spark_text(statement, self._macros, formats),
            )
        return self.spark.sql(text, args=self._args(duck, params))

    def _materialize_ctes(self, tree: Any, params: Mapping[str, Any] | None) -> Any:
        """The statement with each CTE that is named more than once, or that DuckDB is told to
        materialise (``AS MATERIALIZED``), computed once, as a cached view.

        Spark inlines a CTE wherever it is named: a chain of CTEs that name one another
        several times (ingest's set-level rejects) grows into a plan too large to optimise
        (the driver ran out of memory planning it). Each CTE of such a statement is computed
        once, in order, into a view under a fresh name, and the statement reads the views.
        All of them: Spark fails (NoSuchElementException) on a plan that names a lazy view of
        a correlated subquery twice, and on caching a plan that still holds CTE references.
        """
        from sqlglot import exp

        with_ = tree.args.get("with_")
        if with_ is None:
            return tree

        def named(alias: str) -> int:
            return sum(1 for t in tree.find_all(exp.Table) if t.name == alias and not t.db)

        chosen = {
            cte.alias
            for cte in with_.expressions
            if cte.args.get("materialized") or named(cte.alias) > 1
        }
        if not chosen:
            return tree
        tree = tree.copy()
        for alias in [cte.alias for cte in with_.expressions]:
            cte = next(c for c in tree.args["with_"].expressions if c.alias == alias)
            view = f"spark_cte_{alias}_{uuid.uuid4().hex[:12]}"
            self._register_frame(view, self._frame(cte.this.copy(), params))
            self._statement_views.append(view)
            cte.pop()

            def rename(node: Any, alias: str = alias, view: str = view) -> Any:
                if isinstance(node, exp.Table) and node.name == alias and not node.db:
                    named_as = node.args.get("alias") or exp.TableAlias(
                        this=exp.to_identifier(alias)
                    )
                    return exp.Table(this=exp.to_identifier(view), alias=named_as)
                return node

            tree = tree.transform(rename)
        if not tree.args["with_"].expressions:
            tree.set("with_", None)
        return tree

    def _drop_statement_views(self) -> None:
        """Drop the CTE views of the statement just run (its own result is materialised)."""
        while self._statement_views:
            self.unregister(self._statement_views.pop())

    def _register_frame(self, name: str, frame: Any) -> None:
        self._check_name(name)
        # a table, as CREATE TABLE makes one: the rows written (parquet, in the scratch folder)
        # and read back. The view then depends on nothing it was computed from: dropping
        # those recomputes nothing, and an INSERT's union does not grow a plan that every
        # later query re-analyses. (Spark's cache keeps the lineage and recomputes dependents
        # when a source view is dropped; a local checkpoint fails on unions of checkpoints.)
        void = [f.name for f in frame.schema.fields if f.dataType.typeName() == "void"]
        if void:  # parquet has no NULL type: an untyped NULL column is text, as on DuckDB
            from pyspark.sql import functions as F

            frame = frame.select(*[
                F.col(quote_spark(c)).cast("string").alias(c) if c in void else F.col(quote_spark(c))
                for c in frame.columns
            ])  # fmt: skip
        location = f"{self.scratch.rstrip('/')}/{name}_{uuid.uuid4().hex[:12]}"
        frame.write.mode("overwrite").parquet(location)
        self._drop_view(name)
        self.spark.read.parquet(location).createOrReplaceTempView(name)
        self._locations[name] = location
        self._views.add(name)

    def _drop_view(self, name: str) -> None:
        """Drop view ``name`` and the rows a statement wrote for it (if any)."""
        self.spark.catalog.dropTempView(name)
        self._views.discard(name)
        location = self._locations.pop(name, None)
        if location is not None:
            self._delete(location)

    def _delete(self, location: str) -> None:
        if "://" not in location or location.startswith("file://"):
            shutil.rmtree(location.removeprefix("file://"), ignore_errors=True)
            return
        jvm = self.spark.sparkContext._jvm  # a remote folder: Hadoop's file system deletes it
        path = jvm.org.apache.hadoop.fs.Path(location)
        path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)

    @staticmethod
    def _target(tree: Any) -> str:
        from sqlglot import exp

        table = tree.this if isinstance(tree.this, exp.Table) else tree.this.this
        return str(table.name)

    def _run_statement(self, tree: Any, params: Mapping[str, Any] | None) -> None:
        from sqlglot import exp

        if isinstance(tree, exp.Create) and str(tree.kind) in ("TABLE", "VIEW"):
            if tree.expression is not None:
                self._register_frame(self._target(tree), self._frame(tree.expression, params))
            elif isinstance(tree.this, exp.Schema):  # CREATE TABLE t (column type, ...): empty
                columns = ", ".join(
                    f"{quote_spark(c.name)} {c.args['kind'].sql(dialect='spark')}"
                    for c in tree.this.expressions
                )
                self._register_frame(self._target(tree), self.spark.createDataFrame([], columns))
            else:
                raise EngineError("CREATE without AS SELECT or columns is not supported on Spark")
        elif isinstance(tree, exp.Insert):
            name = self._target(tree)
            added = self._frame(tree.expression, params)
            existing = self.spark.table(name)
            self._register_frame(name, existing.unionAll(added.toDF(*existing.columns)))
        elif isinstance(tree, exp.Drop) and str(tree.kind) in ("TABLE", "VIEW"):
            for table in tree.args.get("tables") or [tree.this]:
                self._drop_view(str(table.name))
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
                macro = macro_definition(tree)
                if macro is not None:  # kept, and expanded in the statements that call it
                    self._macros[macro[0]] = macro[1]
                else:
                    try:
                        self._run_statement(tree, params)
                    finally:
                        self._drop_statement_views()

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
            try:
                return self._frame(text, params).toArrow()
            finally:
                self._drop_statement_views()

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
        self._drop_view(name)

    def register_parquet(self, name: str, paths: str | Path | Sequence[str | Path]) -> None:
        """Make parquet file(s) queryable as view ``name`` (read lazily by Spark).

        Spark skips files whose names start with ``.`` or ``_`` (an artifact before it is
        committed is one): such a file is read through a link with a plain name.
        """
        self._check_name(name)
        items = [
            self._visible(Path(p)) for p in ([paths] if isinstance(paths, (str, Path)) else paths)
        ]
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
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Write a query's result to one parquet file; return its row count.

        Spark writes one part file per partition (no row passes through the driver); they are
        then streamed, batch by batch and in partition order (a sorted result stays sorted),
        into the one file, with ``metadata`` as its key-value pairs.
        """
        import pyarrow.parquet as pq

        text = self._sql_text(sql, identifiers).strip().rstrip(";")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with (
            self._timed(sql),
            tempfile.TemporaryDirectory(dir=target.parent, prefix=".spark-") as parts,
        ):
            frame = self._frame(text, params)
            frame.write.mode("overwrite").option("compression", "zstd").parquet(parts)
            files = sorted(Path(parts).glob("part-*.parquet"))
            schema = frame.toArrow().schema if not files else pq.read_schema(files[0])
            schema = schema.with_metadata({**(schema.metadata or {}), **{
                k.encode(): v.encode() for k, v in (metadata or {}).items()}})  # fmt: skip
            self._drop_statement_views()
            with pq.ParquetWriter(target, schema, compression="zstd") as writer:
                for part in files:
                    for batch in pq.ParquetFile(part).iter_batches():
                        writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                        rows += batch.num_rows
        return rows

    def load_file(
        self,
        name: str,
        path: str | Path,
        file_format: str,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
        null_values: Sequence[str] = (),
        columns: Sequence[str] = (),
    ) -> None:
        """Read one source file with Spark into view ``name``, as :meth:`Engine.load_file` does.

        CSV: every column as text, ``"`` as quote and escape, quoted line breaks kept (so a
        file is one task: rows stay in file order, and a file of any size streams through it),
        a row with too many fields fails; a field equal to one of ``null_values`` is NULL.
        Parquet: its own types, rows numbered by Spark's ``_metadata.row_index``. The view has
        ``ingest_row_hash`` (NULLs hashed apart from values), the columns (named ``columns``,
        as DuckDB names them) and ``ingest_rowid``, the 0-based row in the file (DuckDB's
        ``rowid``; see :mod:`crmlib.spark_sql`).
        """
        from pyspark.sql import functions as F

        self._check_name(name)
        with self._timed(f"read {Path(path).name}"):
            if file_format == "parquet":
                frame = self.spark.read.parquet(str(path)).select("*", F.col("_metadata.row_index"))
            else:
                frame = self.spark.read.csv(
                    str(path), header=True, sep=delimiter, quote='"', escape='"',
                    encoding=_SPARK_ENCODINGS.get(encoding.lower(), encoding),
                    inferSchema=False, multiLine=True, mode="FAILFAST",
                )  # fmt: skip
                frame = frame.select("*", F.monotonically_increasing_id().alias("row_index"))
            names = list(columns) or frame.columns[:-1]
            if len(names) != len(frame.columns) - 1:
                raise EngineError(
                    f"{Path(path).name}: Spark found {len(frame.columns) - 1} columns, "
                    f"the header names {len(names)}"
                )
            frame = frame.toDF(*names, ROWID_COLUMN)
            values = [F.col(quote_spark(column)) for column in names]
            if file_format != "parquet" and null_values:
                tokens = list(null_values)
                values = [
                    F.when(v.isin(tokens), None).otherwise(v).alias(c)
                    for v, c in zip(values, names, strict=True)
                ]
            hashed = [part for v in values for part in (v, v.isNull())]
            frame = frame.select(
                F.xxhash64(*hashed).alias("ingest_row_hash"), *values, F.col(ROWID_COLUMN)
            )
            self._register_frame(name, frame)

    @contextmanager
    def source_files(self) -> Iterator[Engine]:
        """A DuckDB engine for reading local source files (closed after the block)."""
        with Engine() as reader:
            yield reader

    def _visible(self, path: Path) -> Path:
        if not path.name.startswith((".", "_")):
            return path
        if self._links is None:
            self._links = Path(tempfile.mkdtemp(prefix="crm-spark-links-"))
        link = self._links / f"{uuid.uuid4().hex}.parquet"
        link.symlink_to(path.resolve())
        return link

    def drop_tables(self, prefix: str) -> None:
        """Drop every temporary view of this engine whose name starts with ``prefix``."""
        self._check_name(prefix)
        for name in sorted(v for v in self._views if v.startswith(prefix)):
            self.unregister(name)

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
            self._drop_view(name)
        self._delete(self.scratch)
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
            self._links = None
