"""crmlib.engine: bound parameters, SQL files, parquet views, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlib.engine import Engine, load_sql, quote_literal
from crmlib.errors import EngineError


@pytest.fixture
def engine():
    with Engine(threads=1, memory_limit="512MB") as con:
        yield con


def test_bound_parameters_are_values_not_sql(engine):
    hostile = "x'); DROP TABLE t; --"
    assert engine.query("select $v as v", {"v": hostile})["v"].tolist() == [hostile]


def test_parquet_round_trip_and_views(engine, tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b", "a"], "amount": [1.5, 2.0, 3.25]})
    engine.register("orders", frame)
    path = tmp_path / "it's here" / "sums.parquet"
    rows = engine.copy_to_parquet(
        "select customer_id, sum(amount) as total from orders group by all order by 1", path
    )
    assert rows == 2
    engine.register_parquet("sums", path)
    assert engine.has_table("sums")
    result = engine.query("select * from sums order by customer_id")
    pd.testing.assert_frame_equal(
        result, pd.DataFrame({"customer_id": ["a", "b"], "total": [4.75, 2.0]}), check_dtype=False
    )
    assert engine.arrow("select count(*) as n from sums").column("n").to_pylist() == [2]


def test_multi_statement_execute_binds_only_the_parameters_each_statement_uses(engine):
    engine.execute("create table z as select $a as a; insert into z select $b", {"a": 1, "b": 2})
    assert engine.query("select a from z order by a")["a"].tolist() == [1, 2]


def test_identifier_placeholders_are_checked(engine):
    with pytest.raises(EngineError, match="placeholder"):
        engine.query("select * from {{ table }}")
    with pytest.raises(EngineError, match="not a valid table name"):
        engine.register("bad name", pd.DataFrame({"a": [1]}))


def test_engine_errors_name_the_query(engine):
    with pytest.raises(EngineError, match="inline query"):
        engine.query("select * from no_such_table")
    with pytest.raises(EngineError, match="no query named 'nope'"):
        load_sql("nope")


def test_quote_literal_escapes_quotes():
    assert quote_literal("it's") == "'it''s'"


def test_no_result_is_left_unread_between_calls(engine, tmp_path):
    """DuckDB 2 refuses a new statement while an execute() result is unread."""
    frame = pd.DataFrame({"a": [1, 2]})
    engine.register("first", frame)
    assert engine.has_table("first")
    engine.register("second", frame)
    assert engine.scalar("select sum(a) from second") == 3
    engine.register("third", frame)
    assert engine.copy_to_parquet("select * from third", tmp_path / "t.parquet") == 2
    engine.register("fourth", frame)
    assert engine.scalar("select count(*) from fourth") == 2


def test_column_types_in_column_order(engine):
    engine.register(
        "people",
        pd.DataFrame({"customer_id": ["A"], "seen_ts": pd.to_datetime(["2025-01-02"]), "n": [3]}),
    )
    assert engine.column_types("people") == {
        "customer_id": "VARCHAR",
        "seen_ts": "TIMESTAMP",
        "n": "BIGINT",
    }
    with pytest.raises(EngineError, match="not a valid table name"):
        engine.column_types("people; DROP TABLE people")
