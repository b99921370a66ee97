"""01_ingest on Spark: the same rows, rejects, raw records and reconciliation as on DuckDB.

A hand-made export the generator did not shape: a CSV with a quoted line break, a quoted
delimiter, headers with spaces and capitals, several null spellings, ISO timestamps with
offsets, ``Z``, and the words 'infinity' and 'epoch' (DuckDB alone would read them as dates),
a second transactions file in parquet with typed columns, a latin-1 events file, customers
with a strptime format carrying a UTC offset, copies, a conflicting order, a refund and an
order outside the amount bounds. :func:`crmlib.ingest.run_ingest` runs on a
:class:`dual_engine.DualEngine`: every file is read by both engines (compared row by row,
row numbers included) and every statement's result is compared (tests/dual_engine.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dual_engine import DualEngine

from crmlib.config import WorkbookParams
from crmlib.engine import Engine, SparkEngine
from crmlib.errors import SourceFileError
from crmlib.ingest import run_ingest
from crmlib.io import RunFolder

pytestmark = pytest.mark.slow

ORDERS = (
    "Order ID,Customer,When,Amount EUR,Note\n"
    'O1,C1,2025-03-01T10:00:00+02:00,10.50,"first line\nsecond line"\n'
    'O2,C2,2025-03-02 09:00:00Z,"1,5",quoted comma\n'  # "1,5" is not a number with "."
    "O3,C1,infinity,5.00,a word is not a date\n"
    "O4,C3,epoch,5.00,nor is this one\n"
    "O5,NA,2025-03-03,7.25,a guest (NA)\n"
    "O6,C2,2025-03-04 12:00:00-0500,20.00,offset\n"
    "O6,C2,2025-03-04 12:00:00-0500,20.00,offset\n"  # a copy
    "O7,C3,2025-03-05,30.00,\n"
    'O7,C4,2025-03-05,30.00,"same order, another customer"\n'
    "R7,C3,2025-03-06,-30.00,a refund under its own number\n"
    "O8,C4,2025-03-07,99999.00,outside the bounds\n"
    "O9,\\N,2025-03-08,N/A,null spellings\n"
)

CUSTOMERS = (
    "customer_id,signup_ts,acquisition_channel\n"
    "C1,01/02/2025 10:00 +0100,email\n"
    "C2,29/02/2024 23:30 -0500,search\n"
    "C3,31/02/2025 10:00 +0000,social\n"  # no such day
    "C4,15/01/2025 08:00 +0000,\n"
)

EVENTS = (
    "customer_id,event_ts,event_type,channel,campaign_id\n"
    "C1,2025-03-01 08:00:00,email_open,email,Café-1\n"
    "C2,2025-03-02 08:00:00,email_click,email,Café-1\n"
    "C9,not a time,email_open,email,Café-2\n"
)


#: The hand-made surveys and spend files of tests/test_ingest_surveys_spend.py.
SURVEYS_SPEND = Path(__file__).resolve().parent / "data" / "surveys_spend"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    yield engine
    engine.close()


def _export(folder: Path) -> WorkbookParams:
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    pd.DataFrame({
        "Order ID": ["P1", "P2"],
        "Customer": ["C5", "C1"],
        "When": pd.to_datetime(["2025-03-09 10:00", "2025-03-10 11:30"]),
        "Amount EUR": [12.5, 8.0],
        "Note": ["parquet", None],
    }).to_parquet(folder / "orders_more.parquet", index=False)  # fmt: skip
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "events.csv").write_bytes(EVENTS.encode("latin-1"))
    columns = {"order_id": "Order ID", "customer_id": "Customer", "order_ts": "When",
               "amount": "Amount EUR"}  # fmt: skip
    return WorkbookParams.model_validate({
        "run_name": "spark-ingest",
        "as_of_date": "2025-12-31",
        "source": {
            "transactions": {"path": [str(folder / "orders.csv"), str(folder / "orders_more.parquet")],
                             "columns": columns, "null_values": ["", "NA", "N/A", "\\N"]},
            "customers": {"path": str(folder / "customers.csv"),
                          "timestamp_format": "%d/%m/%Y %H:%M %z"},
            "events": {"path": str(folder / "events.csv"), "encoding": "latin-1"},
            "surveys": {"path": str(SURVEYS_SPEND / "surveys.csv")},
            "marketing_spend": {"path": str(SURVEYS_SPEND / "marketing_spend.csv")},
        },
        "ingest": {"amount_max": 1000, "reject_share_warn": 0.6, "reject_share_fail": 0.9},
    })  # fmt: skip


def test_ingest_on_spark_matches_duckdb_statement_by_statement(
    spark: SparkEngine, tmp_path: Path
) -> None:
    params = _export(tmp_path)
    dual = DualEngine(spark)
    try:
        result = run_ingest(params, RunFolder(tmp_path / "run"), engine=dual)
    finally:
        dual.close()
    for name in ("ingest_macros", "ingest_stage_transactions", "ingest_stage_customers",
                 "ingest_stage_events", "ingest_set_rejects_transactions", "facts_customer_facts"):  # fmt: skip
        assert name in dual.ran, f"{name} did not run on both engines"
    tx = result.quality["tables"]["transactions"]
    # the invariant on both engines (each statement compared): read = the bins
    assert tx["rows_read"] == 14
    assert tx["rows_read"] == (
        tx["rows_accepted"] + tx["rows_unattributed"] + tx["rows_after_as_of"] + tx["rows_rejected"]
    )
    rejects = pd.read_parquet(tmp_path / "run" / "data" / "rejects.parquet")
    by_row = {(r.table, r.source_row): r for r in rejects.itertuples(index=False)}
    # words are not dates on either engine; the bad number, the copy, the conflict, the bounds
    assert by_row[("transactions", 3)].reason == "bad_timestamp"
    assert by_row[("transactions", 4)].reason == "bad_timestamp"
    assert by_row[("transactions", 2)].reason == "bad_amount"
    assert by_row[("transactions", 7)].reason == "duplicate_row"
    assert by_row[("transactions", 9)].reason == "conflicting_order"
    assert by_row[("transactions", 11)].reason == "amount_out_of_bounds"
    assert by_row[("customers", 3)].reason == "bad_timestamp"
    # the raw record of the row with a quoted line break: every source column, as read
    record = json.loads(by_row[("transactions", 3)].raw_record)
    assert record == {"Order ID": "O3", "Customer": "C1", "When": "infinity",
                      "Amount EUR": "5.00", "Note": "a word is not a date"}  # fmt: skip
    transactions = pd.read_parquet(tmp_path / "run" / "data" / "transactions.parquet")
    first = transactions.set_index("order_id").loc["O1"]
    assert first["order_ts"] == pd.Timestamp("2025-03-01 08:00:00")  # +02:00 as UTC
    # R7 names no order of its own id: a return on its own date, O7 kept whole
    by_order = transactions.set_index("order_id")
    assert (by_order.loc["O7", "amount"], by_order.loc["R7", "amount"]) == (30.0, -30.0)
    assert bool(by_order.loc["R7", "is_return"])
    for name in ("ingest_stage_surveys", "ingest_stage_marketing_spend", "ingest_set_rejects"):
        assert name in dual.ran, f"{name} did not run on both engines"
    for table, read in (("surveys", 16), ("marketing_spend", 15)):
        summary = result.quality["tables"][table]
        assert summary["rows_read"] == read and summary["rows_reconcile"]
        assert (
            read
            == summary["rows_accepted"] + summary["rows_after_as_of"] + summary["rows_rejected"]
        )
    # the hand-made surveys and spend files: each reject as DuckDB gives it
    reasons = {key: r.reason for key, r in by_row.items()}
    assert reasons[("surveys", 9)] == "invalid_value"  # 7.5 is not a whole score
    assert reasons[("marketing_spend", 4)] == "bad_timestamp"  # 01/03/2025 is not ISO 8601
    assert reasons[("marketing_spend", 11)] == "conflicting_spend"
    assert reasons[("marketing_spend", 14)] == "duplicate_row"  # a copy with an empty campaign
    spend = pd.read_parquet(tmp_path / "run" / "data" / "marketing_spend.parquet")
    assert sorted(spend["spend"]) == [1.234, 55.0, 80.0, 120.5, 1000.0]


def test_a_row_with_too_many_fields_stops_spark_as_it_stops_duckdb(
    spark: SparkEngine, tmp_path: Path
) -> None:
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,order_ts,amount\nO1,C1,2025-01-02,9.5\nO2,C2,2025-01-03,1.0,extra\n",
        encoding="utf-8",
    )
    params = WorkbookParams.model_validate({
        "run_name": "too-many", "as_of_date": "2025-12-31",
        "source": {"transactions": {"path": str(tmp_path / "orders.csv")}},
    })  # fmt: skip
    messages = []
    for engine in (Engine(threads=1), spark):
        with pytest.raises(SourceFileError, match=r"orders.csv: cannot be read as CSV") as caught:
            run_ingest(params, RunFolder(tmp_path / "run"), engine=engine)
        messages.append(str(caught.value))
    assert all("source.transactions.delimiter" in m for m in messages), messages
