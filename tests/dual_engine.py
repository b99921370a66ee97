"""An engine that runs every call on DuckDB and on Spark and fails on the first difference.

:class:`DualEngine` is what the engine conformance tests (tests/test_engine_conformance.py)
hand to the stages in place of their engine: each statement runs on an
:class:`crmlib.engine.Engine` and on a :class:`crmlib.engine.SparkEngine`, each result is
compared (:func:`compare`: same columns and rows, whatever the row order; integers, text,
dates and flags identical; floats within 1e-9 relative) and DuckDB's result is returned, so
the stage goes on exactly as on DuckDB. The SQL file names run are collected in ``ran``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlib.engine import _IDENTIFIER, Engine, SparkEngine, quote_identifier

TOLERANCE = 1e-9
#: Columns whose values are each engine's own by design, never compared: a cache key built
#: from the engine's hash function (only ever compared with keys of the same engine).
ENGINE_OWN = {("cohorts_fingerprint", "row_hash")}


#: Each SQL file's first line (a comment naming it, unique across crmlib/sql).
_FIRST_LINES = {
    path.stem: path.read_text(encoding="utf-8").splitlines()[0]
    for path in (Path(__file__).resolve().parents[1] / "crmlib" / "sql").glob("*.sql")
}


def _cell(value: Any) -> Any:
    """One value in a comparable form: None for every missing value, numbers as float."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return _cell(value.item())
    return value


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    rows = [tuple(_cell(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    return sorted(rows, key=lambda row: tuple((v is None, str(type(v)), str(v)) for v in row))


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if hasattr(left, "date") and hasattr(right, "isoformat") and type(left) is not type(right):
        return pd.Timestamp(left) == pd.Timestamp(right)
    return bool(left == right)


def compare(label: str, duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Raise AssertionError naming ``label`` and the first difference of the two results."""
    if list(duck.columns) != list(spark.columns):
        raise AssertionError(
            f"{label}: columns {list(spark.columns)} on Spark, {list(duck.columns)} on DuckDB"
        )
    if len(duck) != len(spark):
        raise AssertionError(f"{label}: {len(spark)} rows on Spark, {len(duck)} on DuckDB")
    own = [c for c in duck.columns if (label, c) in ENGINE_OWN]
    duck, spark = duck.drop(columns=own), spark.drop(columns=own)
    for left, right in zip(_rows(duck), _rows(spark), strict=True):
        for column, a, b in zip(duck.columns, left, right, strict=True):
            if not _same(a, b):
                raise AssertionError(
                    f"{label}: column {column}: {b!r} on Spark, {a!r} on DuckDB (row {left})"
                )


class DualEngine(Engine):
    """Both engines behind one :class:`crmlib.engine.Engine` (see the module docstring)."""

    def __init__(self, spark: SparkEngine) -> None:
        self.duck = Engine(threads=2)
        self.spark = spark
        self.ran: set[str] = set()

    def _note(self, sql: str) -> str:
        if _IDENTIFIER.match(sql):
            self.ran.add(sql)
            return sql
        # a file's text run inline (rendered, nested or prefixed): known by its first line
        self.ran.update(name for name, first in _FIRST_LINES.items() if first in sql)
        return " ".join(sql.split())[:90]

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> None:
        self._note(sql)
        self.duck.execute(sql, params, identifiers=identifiers)
        self.spark.execute(sql, params, identifiers=identifiers)

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        label = self._note(sql)
        duck = self.duck.query(sql, params, identifiers=identifiers)
        compare(label, duck, self.spark.query(sql, params, identifiers=identifiers))
        return duck

    def arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
    ) -> pa.Table:
        label = self._note(sql)
        duck = self.duck.arrow(sql, params, identifiers=identifiers)
        spark = self.spark.arrow(sql, params, identifiers=identifiers)
        compare(label, duck.to_pandas(), spark.to_pandas())
        return duck

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        label = self._note(sql)
        duck, spark = self.duck.scalar(sql, params), self.spark.scalar(sql, params)
        compare(label, pd.DataFrame({"value": [duck]}), pd.DataFrame({"value": [spark]}))
        return duck

    def copy_to_parquet(
        self,
        sql: str,
        path: str | Path,
        params: Mapping[str, Any] | None = None,
        *,
        identifiers: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        label = self._note(sql)
        rows = self.duck.copy_to_parquet(
            sql, path, params, identifiers=identifiers, metadata=metadata
        )
        other = Path(str(path) + ".spark")
        self.spark.copy_to_parquet(sql, other, params, identifiers=identifiers, metadata=metadata)
        for key, value in (metadata or {}).items():  # the key-value pairs asked for, on both
            for written in (path, other):
                assert (pq.read_schema(written).metadata or {}).get(key.encode()) == value.encode()
        compare(label, pd.read_parquet(path), pd.read_parquet(other))
        other.unlink()
        return rows

    def register(self, name: str, table: pd.DataFrame | pa.Table | pa.RecordBatchReader) -> None:
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        self.duck.register(name, table)
        self.spark.register(name, table)

    def unregister(self, name: str) -> None:
        self.duck.unregister(name)
        self.spark.unregister(name)

    def register_parquet(self, name: str, paths: str | Path | Sequence[str | Path]) -> None:
        self.duck.register_parquet(name, paths)
        self.spark.register_parquet(name, paths)

    def load_file(self, name: str, path: str | Path, file_format: str, **settings: Any) -> None:
        self.duck.load_file(name, path, file_format, **settings)
        self.spark.load_file(name, path, file_format, **settings)
        columns = [
            quote_identifier(c) for c in self.duck.column_types(name) if c != "ingest_row_hash"
        ]
        # every column and the row number; the row hashes are each engine's own
        rows = f"SELECT CAST(rowid AS BIGINT) AS row_number, {', '.join(columns)} FROM {name}"
        compare(f"load_file {Path(path).name}", self.duck.query(rows), self.spark.query(rows))

    def drop_tables(self, prefix: str) -> None:
        self.duck.drop_tables(prefix)
        self.spark.drop_tables(prefix)

    @contextmanager
    def source_files(self) -> Iterator[Engine]:
        yield self.duck

    def has_table(self, name: str) -> bool:
        found = self.duck.has_table(name)
        assert found == self.spark.has_table(name), f"has_table({name}) differs"
        return found

    def column_types(self, name: str) -> dict[str, str]:
        found = self.duck.column_types(name)
        assert list(found) == list(self.spark.column_types(name)), f"columns of {name} differ"
        return found

    def close(self) -> None:
        self.duck.close()
        self.spark.close()


def run_notebooks_in_process(
    notebooks: Path,
    names: Sequence[str],
    *,
    params_file: Path,
    run_dir: Path,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Execute the code cells of each notebook in this process, parameters cell replaced.

    The notebooks call ``crm.engine.Engine.from_config``; the caller decides what it returns
    (the conformance tests patch it to give a :class:`DualEngine`). Charts draw on Agg.
    """
    import json
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    here = Path.cwd()
    os.chdir(notebooks)
    try:
        for name in names:
            cells = json.loads((notebooks / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
            code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
            scope: dict[str, Any] = {
                "params_file": str(params_file), "run_dir": str(run_dir),
                "overrides": dict(overrides or {}),
            }  # fmt: skip
            for number, source in enumerate(code[1:], start=2):
                exec(compile(source, f"{name} cell {number}", "exec"), scope)  # noqa: S102
            plt.close("all")
    finally:
        os.chdir(here)
