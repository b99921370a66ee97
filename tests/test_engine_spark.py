"""SparkEngine (crmlib.engine): the DuckDB engine's methods on a local SparkSession.

Every test runs the same statement on both engines and compares the results: the point of
the Spark engine is that stage code cannot tell them apart. Java 17 comes from make test's
set-up; a Spark session that cannot start fails these tests, never skips them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crmlib.config import EngineConfig
from crmlib.engine import Engine, SparkEngine, to_spark_sql
from crmlib.errors import EngineError

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c", "c", "c"],
        "order_ts": pd.to_datetime(
            [
                "2024-02-28 10:00:00",
                "2024-02-29 23:59:59",
                "2024-12-30 00:00:00",
                "2025-01-05 12:00:00",
                "2025-01-06 00:00:00",
                "2025-03-01 08:30:00",
            ]
        ),  # fmt: skip
        "amount": [10.0, -2.5, 7.25, 1.0 / 3.0, 0.0, 12.0],
        "quantity": [1, -1, 2, 1, 1, 3],
    }
)


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, SparkEngine]]:
    duck, spark = Engine(threads=1), SparkEngine(master="local[1]")
    for engine in (duck, spark):
        engine.register("orders", ORDERS)
    yield duck, spark
    duck.close()
    spark.close()


def _same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark)
    for column in duck.columns:
        left, right = duck[column].tolist(), spark[column].tolist()
        if pd.api.types.is_float_dtype(duck[column].dtype):
            assert right == pytest.approx(left, rel=1e-12, nan_ok=True), column
        else:
            assert [None if pd.isna(v) else v for v in left] == [
                None if pd.isna(v) else v for v in right
            ], column


QUERIES = {
    "per customer, ISO weeks and a leap day": (
        "SELECT customer_id, count(*) AS orders, sum(amount) AS net, "
        "CAST(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS DOUBLE) / count(*) AS mean_positive, "
        "min(CAST(order_ts AS DATE)) AS first_day, max(order_ts) AS last_ts, "
        "CAST(date_trunc('week', min(order_ts)) AS DATE) AS first_week, "
        "date_diff('day', min(order_ts), max(order_ts)) AS span_days "
        "FROM orders WHERE order_ts < $end_ts GROUP BY customer_id ORDER BY customer_id",
        {"end_ts": dt.datetime(2025, 3, 1)},
    ),
    "window with ties and nulls": (
        "SELECT customer_id, order_ts, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts) AS n, "
        "lag(amount) OVER (PARTITION BY customer_id ORDER BY order_ts) AS previous "
        "FROM orders ORDER BY customer_id, order_ts",
        {},
    ),
    "date_diff counts boundaries, as DuckDB does": (
        "SELECT date_diff('second', $a, $b) AS seconds, date_diff('day', $a, $b) AS days, "
        "date_diff('microsecond', $a, $b) AS micros",
        {
            "a": dt.datetime(2025, 1, 1, 23, 59, 59, 900_000),
            "b": dt.datetime(2025, 1, 2, 0, 0, 0, 100_000),
        },
    ),
    "empty result keeps its columns": (
        "SELECT customer_id, sum(amount) AS net FROM orders WHERE amount > $floor GROUP BY customer_id",
        {"floor": 1e9},
    ),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_a_query_returns_the_same_frame_on_both_engines(
    engines: tuple[Engine, SparkEngine], name: str
) -> None:
    duck, spark = engines
    sql, params = QUERIES[name]
    _same(duck.query(sql, params), spark.query(sql, params))


def test_create_insert_drop_become_cached_views_with_the_same_rows(
    engines: tuple[Engine, SparkEngine],
) -> None:
    results = []
    for engine in engines:
        engine.execute(
            "CREATE OR REPLACE TEMP TABLE refunds AS SELECT customer_id, amount FROM orders "
            "WHERE amount < 0; INSERT INTO refunds SELECT customer_id, amount FROM orders "
            "WHERE amount = $zero",
            {"zero": 0.0},
        )  # fmt: skip
        assert engine.has_table("refunds")
        results.append(engine.query("SELECT * FROM refunds ORDER BY customer_id"))
        assert engine.column_types("refunds") == {"customer_id": "VARCHAR", "amount": "DOUBLE"}
        engine.execute("DROP TABLE IF EXISTS refunds")
        assert not engine.has_table("refunds")
    _same(*results)


def test_bound_values_stay_values(engines: tuple[Engine, SparkEngine]) -> None:
    """A parameter that looks like SQL is compared as text, never run."""
    hostile = "a' OR '1'='1"
    for engine in engines:
        found = engine.query(
            "SELECT count(*) AS n FROM orders WHERE customer_id = $id", {"id": hostile}
        )
        assert int(found["n"].iloc[0]) == 0
        assert (
            engine.scalar("SELECT count(*) FROM orders WHERE customer_id = $id", {"id": "a"}) == 2
        )


def test_parquet_round_trip_and_artifacts(
    engines: tuple[Engine, SparkEngine], tmp_path: Path
) -> None:
    duck, spark = engines
    path = tmp_path / "orders.parquet"
    assert duck.copy_to_parquet("SELECT * FROM orders", path) == len(ORDERS)
    spark.register_parquet("orders_file", path)
    out = tmp_path / "spark.parquet"
    assert spark.copy_to_parquet("SELECT * FROM orders_file ORDER BY order_ts", out) == len(ORDERS)
    _same(ORDERS.sort_values("order_ts").reset_index(drop=True), pd.read_parquet(out))


def test_spark_errors_are_engine_errors_naming_the_query(
    engines: tuple[Engine, SparkEngine],
) -> None:
    _, spark = engines
    with pytest.raises(EngineError, match=r"inline query \(Spark\)"):
        spark.query("SELECT no_such_column FROM orders")


def test_the_params_choose_the_engine() -> None:
    config = EngineConfig(name="spark", master="local[1]")
    chosen = Engine.from_config(config)
    assert isinstance(chosen, SparkEngine)
    assert chosen.scratch.startswith(tempfile.gettempdir())  # no temp_directory: a local one
    scratch = Path(chosen.scratch)
    chosen.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert any(scratch.iterdir()), "a created table is written to the scratch folder"
    chosen.close()
    assert not scratch.exists(), "the engine's tables are removed when it closes"
    assert type(Engine.from_config(EngineConfig())) is Engine
    assert "DATEDIFF(CAST(b AS DATE)" in to_spark_sql("SELECT date_diff('day', a, b) FROM t")
