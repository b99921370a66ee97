"""The SQL engine: an embedded DuckDB that runs the queries in crmlib/sql with bound parameters."""

from __future__ import annotations

import logging
import re
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

__all__ = ["Engine", "load_sql", "quote_literal", "quote_identifier"]

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
    def from_config(cls, engine_config: Any) -> Engine:
        """An engine from the params file's ``engine`` section (:class:`crmlib.config.EngineConfig`)."""
        return cls(
            memory_limit=engine_config.memory_limit,
            threads=engine_config.threads,
            temp_directory=engine_config.temp_directory,
        )

    # -- running queries ---------------------------------------------------------------------
    def _sql_text(self, sql: str, identifiers: Mapping[str, str] | None) -> str:
        text = load_sql(sql) if _IDENTIFIER.match(sql) else sql
        return _render(text, identifiers)

    @contextmanager
    def _timed(self, sql: str) -> Iterator[None]:
        started = time.perf_counter()
        label = sql if _IDENTIFIER.match(sql) else "inline query"
        try:
            yield
        except duckdb.Error as exc:
            raise EngineError(f"{label}: {exc}") from exc
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
