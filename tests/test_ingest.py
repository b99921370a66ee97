"""crmlib.ingest: reject reasons, fail-fast errors, reconciliation, refunds, formats, the sample's truth."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmlib.config import WorkbookParams, load_params
from crmlib.engine import Engine
from crmlib.errors import ConfigError, DataContractError, SourceFileError
from crmlib.ingest import (
    describe_coverage,
    describe_quality,
    describe_reconciliation,
    describe_rejects,
    ingest_metrics,
    plot_orders_per_day,
    plot_rejects_by_reason,
    quality_scorecard,
    run_ingest,
)
from crmlib.ingest.sources import REJECT_REASONS, read_source
from crmlib.io import RunFolder
from crmlib.privacy import small_counts_in_html

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

TX_HEADER = "order_id,customer_id,order_ts,amount,quantity,product_id,category,channel"
TX_GOOD_1 = "O1,CUST-SECRET-1,2025-01-05 10:00:00,10.00,1,P1,coffee,web"
TX_GOOD_3 = "O2,CUST-SECRET-2,2025-01-06 11:00:00,20.50,2,P2,tea,app"
CUSTOMERS_HEADER = "customer_id,signup_ts,acquisition_channel,region,birth_year,email_opt_in,sms_opt_in,push_opt_in,loyalty_tier"
CUSTOMER_1 = "CUST-SECRET-1,2024-01-01 09:00:00,social,north,1980,true,false,true,none"
CUSTOMER_3 = "CUST-SECRET-2,2024-02-01 09:00:00,affiliate,south,,false,false,false,gold"
EVENTS_HEADER = "customer_id,event_ts,channel,event_type,campaign_id"
EVENT_1 = "CUST-SECRET-1,2025-01-05 10:00:00,email,sent,CMP-1"
EVENT_3 = "CUST-SECRET-2,2025-01-05 10:00:05,sms,open,CMP-2"
ASSIGNMENTS_HEADER = "customer_id,experiment_id,variant,assigned_ts,cost"
ASSIGNMENT_1 = "CUST-SECRET-1,winback,control,2025-11-01 09:00:00,0.00"
ASSIGNMENT_3 = "CUST-SECRET-2,winback,treatment,2025-11-01 09:00:00,1.50"

TABLE_FILES = {
    "transactions": (TX_HEADER, TX_GOOD_1, TX_GOOD_3),
    "customers": (CUSTOMERS_HEADER, CUSTOMER_1, CUSTOMER_3),
    "events": (EVENTS_HEADER, EVENT_1, EVENT_3),
    "assignments": (ASSIGNMENTS_HEADER, ASSIGNMENT_1, ASSIGNMENT_3),
}


# -- helpers ----------------------------------------------------------------------------------
def write(folder: Path, name: str, lines: list[str] | str, *, encoding: str = "utf-8") -> Path:
    """Write a small source file (lines joined with newlines) and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def make_params(
    transactions: Path | str | dict[str, Any],
    *,
    customers: Path | dict[str, Any] | None = None,
    events: Path | dict[str, Any] | None = None,
    assignments: Path | dict[str, Any] | None = None,
    as_of_date: str = "2025-12-31",
    **ingest: Any,
) -> WorkbookParams:
    """Params built in code; a path becomes ``{"path": <absolute path>}``.

    The run date defaults to the as-of date (no test depends on the wall clock): rows after it
    are ``future_timestamp`` rejects.
    """
    ingest.setdefault("run_date", as_of_date)

    def table(value: Path | str | dict[str, Any]) -> dict[str, Any]:
        return value if isinstance(value, dict) else {"path": str(value)}

    source: dict[str, Any] = {"transactions": table(transactions)}
    for name, value in (("customers", customers), ("events", events), ("assignments", assignments)):
        if value is not None:
            source[name] = table(value)
    return WorkbookParams.model_validate(
        {"run_name": "test", "as_of_date": as_of_date, "source": source, "ingest": ingest}
    )


def ingest(params: WorkbookParams, folder: Path) -> tuple[Any, RunFolder]:
    run = RunFolder(folder / "run")
    with Engine(threads=1, memory_limit="1GB") as engine:
        result = run_ingest(params, run, engine=engine)
    return result, run


def tx_file(folder: Path, rows: list[str], name: str = "tx.csv") -> Path:
    return write(folder, name, [TX_HEADER, *rows])


# -- one test per reject reason -------------------------------------------------------------------
#: (table, the bad row placed between two good rows, expected reason, expected column)
REJECT_CASES = [
    ("transactions", ",CUST-SECRET-3,2025-01-07 10:00:00,5.00,1,P1,coffee,web", "missing_order_id", "order_id"),
    ("transactions", "O9,CUST-SECRET-3,2025-02-30 10:00:00,5.00,1,P1,coffee,web", "bad_timestamp", "order_ts"),
    ("transactions", "O9,CUST-SECRET-3,yesterday,5.00,1,P1,coffee,web", "bad_timestamp", "order_ts"),
    ("transactions", "O9,CUST-SECRET-3,2025-01-07 10:00:00,twelve,1,P1,coffee,web", "bad_amount", "amount"),
    ("transactions", "O9,CUST-SECRET-3,2025-01-07 10:00:00,inf,1,P1,coffee,web", "bad_amount", "amount"),
    ("transactions", "O9,CUST-SECRET-3,2025-01-07 10:00:00,5.00,2.5,P1,coffee,web", "bad_quantity", "quantity"),
    ("transactions", "O9,CUST-SECRET-3,2026-01-01 00:00:00,5.00,1,P1,coffee,web", "future_timestamp", "order_ts"),
    ("transactions", "O9,CUST-SECRET-3,2025-01-07 10:00:00,250000.00,1,P1,coffee,web", "amount_out_of_bounds",
     "amount"),
    ("transactions", "O9,CUST-SECRET-3,2025-01-07 10:00:00,-10000.01,-1,P1,coffee,web", "amount_out_of_bounds",
     "amount"),
    ("transactions", TX_GOOD_1, "duplicate_row", None),
    ("transactions", "O1,CUST-SECRET-3,2025-01-05 10:00:00,99.00,1,P1,coffee,web", "conflicting_order", "customer_id"),
    ("customers", ",2024-01-01 09:00:00,social,north,1980,true,false,true,none", "missing_customer_id",
     "customer_id"),
    ("customers", "CUST-SECRET-3,01/02/2024,social,north,1980,true,false,true,none", "bad_timestamp", "signup_ts"),
    ("customers", "CUST-SECRET-3,2024-01-01 09:00:00,social,north,nineteen,true,false,true,none", "invalid_value",
     "birth_year"),
    ("customers", "CUST-SECRET-3,2024-01-01 09:00:00,social,north,1980,maybe,false,true,none", "invalid_value",
     "email_opt_in"),
    ("customers", "CUST-SECRET-3,2026-03-01 09:00:00,social,north,1980,true,false,true,none", "future_timestamp",
     "signup_ts"),
    ("customers", CUSTOMER_1, "duplicate_row", None),
    ("customers", "CUST-SECRET-1,2024-01-01 09:00:00,social,east,1980,true,false,true,none", "duplicate_customer",
     "customer_id"),
    ("events", "CUST-SECRET-1,2025-01-05 10:00:00,fax,sent,CMP-1", "invalid_value", "channel"),
    ("events", "CUST-SECRET-1,2025-01-05 10:00:00,email,bounced,CMP-1", "invalid_value", "event_type"),
    ("events", "CUST-SECRET-1,not a time,email,sent,CMP-1", "bad_timestamp", "event_ts"),
    ("events", EVENT_1, "duplicate_row", None),
    ("assignments", "CUST-SECRET-3,winback,,2025-11-01 09:00:00,1.50", "invalid_value", "variant"),
    ("assignments", "CUST-SECRET-3,winback,control,2025-11-01 09:00:00,free", "bad_amount", "cost"),
    ("assignments", "CUST-SECRET-1,winback,treatment,2025-11-01 09:00:00,1.50", "conflicting_assignment",
     "customer_id"),
]  # fmt: skip
REJECT_IDS = [
    "tx-missing_order_id", "tx-bad_timestamp-feb30", "tx-bad_timestamp-word",
    "tx-bad_amount-word", "tx-bad_amount-inf", "tx-bad_quantity", "tx-future_timestamp",
    "tx-amount_out_of_bounds-high", "tx-amount_out_of_bounds-refund", "tx-duplicate_row", "tx-conflicting_order",
    "cust-missing_customer_id", "cust-bad_timestamp", "cust-invalid_birth_year", "cust-invalid_boolean",
    "cust-future_signup", "cust-duplicate_row", "cust-duplicate_customer", "ev-invalid_channel",
    "ev-invalid_event_type", "ev-bad_timestamp", "ev-duplicate_row", "asg-empty_variant", "asg-bad_cost",
    "asg-conflicting_assignment",
]  # fmt: skip


@pytest.mark.parametrize(("table", "bad_row", "reason", "column"), REJECT_CASES, ids=REJECT_IDS)
def test_reject_reason(tmp_path, table, bad_row, reason, column):
    header, good_1, good_3 = TABLE_FILES[table]
    files = {
        name: write(tmp_path, f"{name}.csv", [h, g1, g3])
        for name, (h, g1, g3) in TABLE_FILES.items()
    }
    files[table] = write(tmp_path, f"{table}.csv", [header, good_1, bad_row, good_3])
    result, run = ingest(make_params(**files, amount_min=-10_000, amount_max=10_000), tmp_path)

    rejects = run.read_table("rejects")
    assert rejects[["table", "source_row", "reason"]].values.tolist() == [[table, 2, reason]]
    assert (rejects["column"].iloc[0] if pd.notna(rejects["column"].iloc[0]) else None) == column
    assert rejects["detail"].iloc[0] and rejects["source_file"].iloc[0].endswith(f"{table}.csv")
    assert json.loads(rejects["raw_record"].iloc[0])  # the source row as JSON
    summary = result.quality["tables"][table]
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (3, 2, 1)
    assert summary["rejected_by_reason"] == {reason: 1}
    assert len(run.read_table(table)) == 2  # the two good rows are accepted
    assert reason in REJECT_REASONS[table]


def test_reject_detail_says_what_was_found_and_expected(tmp_path):
    path = tx_file(tmp_path, [TX_GOOD_1, "O9,C3,2025-01-07 10:00:00,twelve,1,P1,coffee,web"])
    _, run = ingest(make_params(path), tmp_path)
    detail = run.read_table("rejects")["detail"].iloc[0]
    assert "'twelve'" in detail and "expected a number" in detail


def test_reject_precedence_one_reason_per_row_first_that_applies(tmp_path):
    # empty customer (not a defect), bad timestamp and bad amount at once: bad_timestamp first;
    # a future row out of bounds is future_timestamp
    rows = [TX_GOOD_1, "O9,,not-a-date,twelve,x,P1,coffee,web", "O8,C3,not-a-date,twelve,x,P1,coffee,web",
            "O7,C3,2026-05-01 00:00:00,250000,1,P1,coffee,web"]  # fmt: skip
    _, run = ingest(make_params(tx_file(tmp_path, rows), **BOUNDS), tmp_path)
    reasons = run.read_table("rejects")[["source_row", "reason"]].values.tolist()
    assert reasons == [[2, "bad_timestamp"], [3, "bad_timestamp"], [4, "future_timestamp"]]


def test_last_second_of_as_of_date_is_accepted(tmp_path):
    rows = [TX_GOOD_1, "O9,C3,2025-12-31 23:59:59,5.00,1,P1,coffee,web"]
    result, run = ingest(make_params(tx_file(tmp_path, rows)), tmp_path)
    assert result.quality["rows_rejected"] == 0
    assert run.read_table("transactions")["order_ts"].max() == pd.Timestamp("2025-12-31 23:59:59")


def test_duplicate_keeps_the_first_copy_even_when_it_comes_later_in_the_order(tmp_path):
    rows = [TX_GOOD_1, TX_GOOD_3, TX_GOOD_1, TX_GOOD_1]
    _, run = ingest(make_params(tx_file(tmp_path, rows)), tmp_path)
    assert run.read_table("rejects")["source_row"].tolist() == [3, 4]
    assert run.read_table("transactions")["source_row"].tolist() == [1, 2]


# -- fail fast ----------------------------------------------------------------------------------------
def _missing_column(tmp_path: Path) -> WorkbookParams:
    return make_params(
        write(tmp_path, "transactions.csv", ["order_id,customer_id,order_ts", "O1,C1,2025-01-01"])
    )


def _wrong_delimiter(tmp_path: Path) -> WorkbookParams:
    lines = [TX_HEADER.replace(",", ";"), TX_GOOD_1.replace(",", ";")]
    return make_params(write(tmp_path, "transactions.csv", lines))


def _bad_mapping(tmp_path: Path) -> WorkbookParams:
    path = tx_file(tmp_path, [TX_GOOD_1], name="transactions.csv")
    return make_params({"path": str(path), "columns": {"amount": "Betrag"}})


def _no_match(tmp_path: Path) -> WorkbookParams:
    return make_params(str(tmp_path / "exports" / "transactions-*.csv"))


def _empty_file(tmp_path: Path) -> WorkbookParams:
    return make_params(write(tmp_path, "transactions.csv", ""))


def _header_only(tmp_path: Path) -> WorkbookParams:
    return make_params(write(tmp_path, "transactions.csv", [TX_HEADER]))


def _bad_encoding(tmp_path: Path) -> WorkbookParams:
    lines = [TX_HEADER, "O1,Café Müller,2025-01-05 10:00:00,10.00,1,P1,coffee,web"]
    return make_params(write(tmp_path, "transactions.csv", lines, encoding="latin-1"))


def _bad_parquet(tmp_path: Path) -> WorkbookParams:
    path = tmp_path / "transactions.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file at all PAR1")
    return make_params(path)


def _unknown_extension(tmp_path: Path) -> WorkbookParams:
    return make_params(write(tmp_path, "transactions.xlsx", [TX_HEADER, TX_GOOD_1]))


def _ragged_rows(tmp_path: Path) -> WorkbookParams:
    lines = [TX_HEADER, TX_GOOD_1, TX_GOOD_3 + ",extra,fields", TX_GOOD_1.replace("O1", "O5")]
    return make_params(write(tmp_path, "transactions.csv", lines))


def _optional_table_missing_column(tmp_path: Path) -> WorkbookParams:
    events = write(
        tmp_path,
        "events.csv",
        ["customer_id,event_ts,channel,campaign_id", "C1,2025-01-01,email,X"],
    )
    return make_params(tx_file(tmp_path, [TX_GOOD_1]), events=events)


def _unit_price_column_missing(tmp_path: Path) -> WorkbookParams:
    path = tx_file(tmp_path, [TX_GOOD_1], name="transactions.csv")
    return make_params({"path": str(path), "line_items": True, "unit_price_column": "unit_price"})


FAIL_FAST_CASES = [
    (_missing_column, r"transactions\.csv: required column 'amount' not found; columns found: order_id, customer_id"),
    (_wrong_delimiter, r"transactions\.csv: required column '\w+' not found.*is the delimiter ';'\? "
                       r"set source\.transactions\.delimiter"),
    (_bad_mapping, r"transactions\.csv: source\.transactions\.columns maps 'amount' to column 'Betrag'"),
    (_no_match, r"transactions-\*\.csv: source\.transactions\.path .* matches no file"),
    (_empty_file, r"transactions\.csv: file is empty \(0 bytes\)"),
    (_header_only, r"transactions\.csv: header found but no data rows"),
    (_bad_encoding, r"transactions\.csv: not valid utf-8 text.*source\.transactions\.encoding"),
    (_bad_parquet, r"transactions\.parquet: not a readable parquet file"),
    (_unknown_extension, r"transactions\.xlsx: cannot tell the file format.*source\.transactions\.format"),
    (_ragged_rows, r"transactions\.csv: cannot be read as CSV"),
    (_optional_table_missing_column, r"events\.csv: required column 'event_type' not found"),
    (_unit_price_column_missing, r"transactions\.csv: source\.transactions\.unit_price_column 'unit_price' not found"),
]  # fmt: skip
FAIL_FAST_IDS = [
    "missing-required-column", "wrong-delimiter", "mapping-names-absent-column", "glob-matches-nothing",
    "empty-file", "header-without-rows", "bad-encoding", "unreadable-parquet", "unknown-extension",
    "ragged-rows", "optional-table-missing-column", "unit-price-column-missing",
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), FAIL_FAST_CASES, ids=FAIL_FAST_IDS)
def test_fail_fast(tmp_path, make, message):
    params = make(tmp_path)
    with pytest.raises(SourceFileError, match=message):
        ingest(params, tmp_path)
    assert not (tmp_path / "run" / "data").exists() or not list(
        (tmp_path / "run" / "data").glob("*.parquet")
    )


@pytest.mark.parametrize(
    ("columns", "ingest_section", "message"),
    [
        ({"amount_eur": "Betrag"}, {}, r"source\.transactions\.columns: unknown contract column\(s\) amount_eur"),
        ({}, {"refund_when": ["order_id_pattern"]}, r"refund_order_id_pattern is not set"),
        ({}, {"refund_when": ["order_id_pattern"], "refund_order_id_pattern": "^R-(?=O)"},
         r"refund_order_id_pattern .* not supported"),
    ],
    ids=["unknown-contract-column", "pattern-rule-without-pattern", "pattern-not-re2"],
)  # fmt: skip
def test_config_errors_name_the_key(tmp_path, columns, ingest_section, message):
    path = tx_file(tmp_path, [TX_GOOD_1])
    with pytest.raises(ConfigError, match=message):
        ingest(make_params({"path": str(path), "columns": columns}, **ingest_section), tmp_path)


# -- reconciliation ----------------------------------------------------------------------------------
MESSY_ROWS = [
    "O1,C1,2025-01-05 10:00:00,10.00,1,P1,coffee,web",
    "O2,C2,2025-01-05 11:00:00,20.10,2,P2,tea,app",
    "O1,C1,2025-01-05 10:00:00,10.00,1,P1,coffee,web",  # duplicate
    "O3,,2025-01-06 11:00:00,7.77,1,P2,tea,app",  # no customer id: a guest order, unattributed
    "O4,C3,bad,8.88,1,P2,tea,app",  # bad timestamp (amount still counts as read)
    "O5,C3,2025-01-06 12:00:00,abc,1,P2,tea,app",  # bad amount (no parseable amount)
    "O6,C4,2025-01-07 12:00:00,300000.00,1,P2,tea,app",  # out of bounds (with bounds set)
    "O7,C4,2026-02-07 12:00:00,5.55,1,P2,tea,app",  # future
    "O2,C9,2025-01-05 11:00:00,99.99,2,P2,tea,app",  # conflicting
    "O2,C2,2025-01-20 11:00:00,-5.05,-1,P2,tea,app",  # partial refund, netted
    "O1,C1,2025-01-21 11:00:00,-10.00,-1,P1,coffee,web",  # full refund, netted
    "O404,C5,2025-01-22 11:00:00,-3.33,-1,P1,coffee,web",  # orphan refund -> return
    "O8,C5,2025-01-23 11:00:00,0.10,1,P1,coffee,web",
    "O9,C6,2025-01-23 11:00:00,0.20,x,P1,coffee,web",  # bad quantity
    "O10,C6,2025-01-24 11:00:00,1234.56,3,P1,coffee,web",
]


BOUNDS = {"amount_min": -10_000, "amount_max": 10_000}


def _parseable_micros(text: str) -> int | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return int(value * 1_000_000) if value.is_finite() else None


def _micros(values: pd.Series) -> int:
    return int(sum(round(v * 1_000_000) for v in values.fillna(0)))


def test_reconciliation_rows_and_revenue_in_four_bins(tmp_path):
    result, run = ingest(make_params(tx_file(tmp_path, MESSY_ROWS), **BOUNDS), tmp_path)
    quality = result.quality
    summary = quality["tables"]["transactions"]
    bins = ("rows_accepted", "rows_unattributed", "rows_after_as_of", "rows_rejected")
    assert summary["rows_read"] == len(MESSY_ROWS) == sum(summary[b] for b in bins)
    assert tuple(summary[b] for b in bins) == (7, 1, 0, 7)

    # known answer: every parseable amount in the file, summed by hand (Decimal, exact)
    read = sum(c for c in (_parseable_micros(r.split(",")[3]) for r in MESSY_ROWS) if c is not None)
    accepted = _micros(run.read_table("transactions")["amount"])
    guests = _micros(run.read_table("unattributed")["amount"])
    rejects = run.read_table("rejects")
    rejected = _micros(rejects["amount"])
    assert guests == 7_770_000  # the guest order O3
    assert read == accepted + guests + rejected
    tx = quality["transactions"]
    assert round(tx["revenue_read"] * 1e6) == read
    assert round(tx["revenue_accepted"] * 1e6) == accepted
    assert round(tx["revenue_unattributed"] * 1e6) == guests
    assert round(tx["revenue_rejected"] * 1e6) == rejected
    assert tx["total_revenue"] == pytest.approx(tx["revenue_accepted"] + tx["revenue_unattributed"])
    assert quality["reconciles"] and tx["revenue_reconciles"]
    assert len(rejects) == summary["rows_rejected"]


def test_reconciliation_failure_is_a_fail_verdict_and_raises(tmp_path, monkeypatch):
    import crmlib.ingest.stage as stage

    original = stage.build_quality

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs["rejects_written"] += 1  # as if one reject went missing from the artifact
        return original(*args, **kwargs)

    monkeypatch.setattr(stage, "build_quality", broken)
    with pytest.raises(DataContractError, match="do not reconcile"):
        ingest(make_params(tx_file(tmp_path, MESSY_ROWS)), tmp_path)
    quality = json.loads((tmp_path / "run" / "quality.json").read_text())
    assert quality["verdict"] == "fail" and quality["reconciles"] is False


# -- refunds -----------------------------------------------------------------------------------------
def _by_id(run: RunFolder) -> pd.DataFrame:
    return run.read_table("transactions").set_index("order_id")


def test_refund_netting_matched_partial_unmatched_and_cancelled(tmp_path):
    rows = [
        "O1,C1,2025-01-05 10:00:00,10.00,2,P1,coffee,web",
        "O2,C2,2025-01-05 11:00:00,20.00,1,P2,tea,app",
        "O1,C1,2025-01-09 10:00:00,-10.00,-2,P1,coffee,web",  # full refund of O1
        "O2,C2,2025-01-10 10:00:00,-4.50,0,P2,tea,app",  # partial refund of O2
        "O77,C3,2025-01-11 10:00:00,-3.00,-1,P3,tea,app",  # orphan: order not in the file
    ]
    result, run = ingest(make_params(tx_file(tmp_path, rows)), tmp_path)
    tx = _by_id(run)
    assert len(tx) == 3
    o1, o2, ret = tx.loc["O1"], tx.loc["O2"], tx.loc["O77"]
    assert (o1["amount"], o1["gross_amount"], o1["refund_amount"], o1["quantity"]) == (
        0.0,
        10.0,
        -10.0,
        0,
    )
    assert not o1["is_purchase"] and not o1["is_return"]  # fully cancelled: not a purchase
    assert (o2["amount"], o2["gross_amount"], o2["refund_amount"]) == (15.5, 20.0, -4.5)
    assert o2["is_purchase"] and o2["order_ts"] == pd.Timestamp(
        "2025-01-05 11:00:00"
    )  # netted on the order date
    assert (ret["amount"], ret["gross_amount"], ret["refund_amount"]) == (-3.0, 0.0, -3.0)
    assert (
        ret["is_return"]
        and not ret["is_purchase"]
        and ret["order_ts"] == pd.Timestamp("2025-01-11 10:00:00")
    )
    facts = result.quality["transactions"]
    assert (facts["refund_rows_netted"], facts["returns_kept"], facts["cancelled_orders"]) == (
        2,
        1,
        1,
    )
    assert facts["purchases"] == 1 and facts["orders"] == 2


def test_refund_to_a_rejected_order_is_kept_as_a_return(tmp_path):
    rows = [
        "O1,C1,2025-01-05 10:00:00,twelve,1,P1,coffee,web",
        "O1,C1,2025-01-09 10:00:00,-10.00,-1,P1,coffee,web",
    ]
    result, run = ingest(make_params(tx_file(tmp_path, rows)), tmp_path)
    tx = run.read_table("transactions")
    assert tx["is_return"].tolist() == [True] and tx["amount"].tolist() == [-10.0]
    assert result.quality["reconciles"]


def test_refund_by_negative_quantity_rule(tmp_path):
    rows = [
        "O1,C1,2025-01-05 10:00:00,10.00,2,P1,coffee,web",
        "O1,C1,2025-01-07 10:00:00,4.00,-1,P1,coffee,web",  # positive amount, negative quantity: a refund
    ]
    result, run = ingest(
        make_params(tx_file(tmp_path, rows), refund_when=["negative_quantity"]), tmp_path
    )
    o1 = _by_id(run).loc["O1"]
    assert (o1["amount"], o1["refund_amount"], o1["quantity"]) == (6.0, -4.0, 1)
    assert result.quality["transactions"]["refund_rows_netted"] == 1
    assert result.quality["transactions"]["revenue_read"] == 6.0  # a refund counts as -|amount|


def test_negative_amount_that_is_not_a_refund_under_the_rules_is_rejected(tmp_path):
    rows = [TX_GOOD_1, "O5,C1,2025-01-07 10:00:00,-4.00,1,P1,coffee,web"]
    _, run = ingest(
        make_params(tx_file(tmp_path, rows), refund_when=["negative_quantity"]), tmp_path
    )
    rejects = run.read_table("rejects")
    assert rejects[["source_row", "reason"]].values.tolist() == [[2, "bad_amount"]]
    assert "not a refund" in rejects["detail"].iloc[0]


@pytest.mark.parametrize(
    ("pattern", "netted", "returns"),
    [(r"^R-(.+)$", 1, 0), (r"^R-", 0, 1)],
    ids=["group-is-original-order", "no-group-kept-as-return"],
)
def test_refund_by_order_id_pattern(tmp_path, pattern, netted, returns):
    rows = [
        "O1,C1,2025-01-05 10:00:00,10.00,1,P1,coffee,web",
        "R-O1,C1,2025-01-08 10:00:00,3.00,1,P1,coffee,web",
    ]
    params = make_params(
        tx_file(tmp_path, rows), refund_when=["order_id_pattern"], refund_order_id_pattern=pattern
    )
    result, run = ingest(params, tmp_path)
    facts = result.quality["transactions"]
    assert (facts["refund_rows_netted"], facts["returns_kept"]) == (netted, returns)
    tx = _by_id(run)
    assert tx.loc["O1", "amount"] == (7.0 if netted else 10.0)
    assert tx["amount"].sum() == pytest.approx(7.0)  # 10 - 3 either way: net revenue


# -- layouts ------------------------------------------------------------------------------------------
def test_line_items_with_unit_price_are_summed_per_order(tmp_path):
    path = write(tmp_path, "lines.csv", [
        "order_id,customer_id,order_ts,sku,qty,unit_price",
        "O1,C1,2025-01-05 10:00:00,P1,2,3.50",
        "O1,C1,2025-01-05 10:00:00,P2,1,10.00",
        "O2,C2,2025-01-06 10:00:00,P1,1,3.50",
        "O2,C9,2025-01-06 10:00:00,P3,1,1.00",  # customer disagrees with O2's first line
        "O1,C1,2025-01-07 10:00:00,P1,-1,3.50",  # a returned line: refund netted into O1
    ])  # fmt: skip
    source = {"path": str(path), "line_items": True, "unit_price_column": "unit_price",
              "columns": {"product_id": "sku", "quantity": "qty"}}  # fmt: skip
    result, run = ingest(make_params(source), tmp_path)
    tx = _by_id(run)
    assert sorted(tx.index) == ["O1", "O2"]
    assert (
        tx.loc["O1", "gross_amount"],
        tx.loc["O1", "refund_amount"],
        tx.loc["O1", "amount"],
    ) == (17.0, -3.5, 13.5)
    assert (
        tx.loc["O1", "quantity"] == 2 and tx.loc["O1", "product_id"] == "P1"
    )  # 2 + 1 - 1 units; first line
    assert tx.loc["O2", "amount"] == 3.5 and tx.loc["O2", "source_row"] == 3
    rejects = run.read_table("rejects")
    assert rejects[["source_row", "reason", "column"]].values.tolist() == [
        [4, "conflicting_order", "customer_id"]
    ]
    assert result.quality["reconciles"]


def test_line_items_without_unit_price_sum_the_line_amounts(tmp_path):
    rows = [
        "O1,C1,2025-01-05 10:00:00,4.00,1,P1,coffee,web",
        "O1,C1,2025-01-05 10:00:00,6.25,1,P2,tea,web",
    ]
    _, run = ingest(
        make_params({"path": str(tx_file(tmp_path, rows)), "line_items": True}), tmp_path
    )
    tx = run.read_table("transactions")
    assert tx[["order_id", "amount", "quantity"]].values.tolist() == [["O1", 10.25, 2]]


def test_absent_order_id_makes_each_row_an_order_and_refunds_returns(tmp_path):
    path = write(tmp_path, "tx.csv", [
        "customer_id,order_ts,amount", "C1,2025-01-05 10:00:00,10.00", "C1,2025-01-05 10:00:00,10.00",
        "C2,2025-01-06 10:00:00,5.00", "C1,2025-01-08 10:00:00,-2.00",
    ])  # fmt: skip
    result, run = ingest(make_params(path), tmp_path)
    tx = run.read_table("transactions")
    assert tx["order_id"].tolist() == [
        "row-1",
        "row-3",
        "row-4",
    ]  # row 2 is an exact duplicate of row 1
    assert tx["is_return"].tolist() == [False, False, True]
    assert tx["quantity"].isna().all() and tx["product_id"].isna().all()
    assert result.quality["transactions"]["order_id_column"] is False


def test_foreign_export_brought_by_params_only(tmp_path):
    """';' delimiter, latin-1, decimal comma, day-first timestamps, German column names."""
    transactions = write(tmp_path, "umsatz.csv", [
        "Bestellnummer;Kunde;Datum;Betrag;Menge;Ort",
        "B-1;K-1;05/01/2025 10:30;1.234,50;1;Köln",
        "B-2;K-2;06/01/2025 11:00;12,5;2;Düsseldorf",
        "B-3;K-1;2025-01-07 11:00;7,00;1;Köln",  # ISO date: not this export's format
        "B-4;K-2;07/01/2025 12:00;12.50;1;Bonn",  # a decimal point: not this export's convention
    ], encoding="latin-1")  # fmt: skip
    customers = write(tmp_path, "kunden.csv", [
        "Kundennummer;Newsletter;Geburtsjahr", "K-1;ja;1980", "K-2;nein;",
    ], encoding="latin-1")  # fmt: skip
    common = {"delimiter": ";", "encoding": "latin-1", "decimal_separator": ","}
    params = make_params(
        {"path": str(transactions), "timestamp_format": "%d/%m/%Y %H:%M", **common,
         "columns": {"order_id": "Bestellnummer", "customer_id": "Kunde", "order_ts": "Datum", "amount": "Betrag",
                     "quantity": "Menge"}},
        customers={"path": str(customers), "true_values": ["ja"], "false_values": ["nein"], **common,
                   "columns": {"customer_id": "Kundennummer", "email_opt_in": "Newsletter",
                               "birth_year": "Geburtsjahr"}},
    )  # fmt: skip
    result, run = ingest(params, tmp_path)
    tx = _by_id(run)
    assert tx.loc["B-1", "amount"] == 1234.5 and tx.loc["B-2", "amount"] == 12.5
    assert tx.loc["B-1", "order_ts"] == pd.Timestamp("2025-01-05 10:30:00")
    assert tx["customer_known"].tolist() == [True, True]
    rejects = run.read_table("rejects")
    assert rejects[["source_row", "reason"]].values.tolist() == [
        [3, "bad_timestamp"],
        [4, "bad_amount"],
    ]
    assert json.loads(rejects["raw_record"].iloc[0])["Ort"] == "Köln"  # decoded from latin-1
    assert (
        "%d/%m/%Y %H:%M" in rejects["detail"].iloc[0]
        and "decimal comma" in rejects["detail"].iloc[1]
    )
    customers_out = run.read_table("customers")
    assert customers_out["email_opt_in"].tolist() == [True, False]
    assert customers_out["birth_year"].tolist()[0] == 1980 and pd.isna(
        customers_out["birth_year"].iloc[1]
    )
    assert (
        customers_out["region"].isna().all() and str(customers_out["sms_opt_in"].dtype) == "boolean"
    )
    assert result.quality["tables"]["customers"]["columns_absent"] == [
        "acquisition_channel", "loyalty_tier", "push_opt_in", "region", "signup_ts", "sms_opt_in",
    ]  # fmt: skip


def test_iso_timestamps_with_an_offset_become_utc(tmp_path):
    rows = ["O1,C1,2025-01-05T10:00:00+02:00,1.00,1,P1,coffee,web", "O2,C1,2025-01-05T10:00:00Z,1.00,1,P1,tea,web",
            "O3,C1,2025-01-05,1.00,1,P1,tea,web"]  # fmt: skip
    _, run = ingest(make_params(tx_file(tmp_path, rows)), tmp_path)
    assert run.read_table("transactions")["order_ts"].tolist() == [
        pd.Timestamp("2025-01-05 08:00:00"), pd.Timestamp("2025-01-05 10:00:00"), pd.Timestamp("2025-01-05"),
    ]  # fmt: skip


def test_parquet_source_read_by_type(tmp_path):
    table = pa.table({
        "order_id": ["O1", "O2", "O3"],
        "customer_id": ["C1", "C2", None],
        "order_ts": pa.array([pd.Timestamp("2025-01-05 10:00"), pd.Timestamp("2025-01-06 10:00"),
                              pd.Timestamp("2025-01-07 10:00")], type=pa.timestamp("us")),
        "amount": [10.5, 20.0, 5.0],
        "quantity": pa.array([1, 2, 1], type=pa.int32()),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "tx.parquet")
    customers = pa.table({"customer_id": ["C1", "C2"], "email_opt_in": [True, False]})
    pq.write_table(customers, tmp_path / "customers.parquet")
    # a decimal comma and a timestamp format apply to text, not to typed parquet columns
    source = {
        "path": str(tmp_path / "tx.parquet"),
        "decimal_separator": ",",
        "timestamp_format": "%d.%m.%Y",
    }
    result, run = ingest(make_params(source, customers=tmp_path / "customers.parquet"), tmp_path)
    tx = run.read_table("transactions")
    assert tx["amount"].tolist() == [10.5, 20.0] and tx["quantity"].tolist() == [1, 2]
    assert tx["order_ts"].tolist() == [
        pd.Timestamp("2025-01-05 10:00"),
        pd.Timestamp("2025-01-06 10:00"),
    ]
    assert run.read_table("rejects").empty  # no customer id: a guest order, not a reject
    assert run.read_table("unattributed")["order_id"].tolist() == ["O3"]
    assert run.read_table("customers")["email_opt_in"].tolist() == [True, False]
    assert result.quality["tables"]["transactions"]["formats"] == ["parquet"]


def test_glob_of_several_files_numbers_rows_per_file(tmp_path):
    write(tmp_path, "exports/tx-2025-01.csv", [TX_HEADER, TX_GOOD_1, TX_GOOD_3])
    write(
        tmp_path,
        "exports/tx-2025-02.csv",
        [TX_HEADER, "O3,C3,2025-02-01 10:00:00,3.00,1,P1,tea,web", TX_GOOD_1],
    )
    result, run = ingest(make_params(str(tmp_path / "exports" / "tx-*.csv")), tmp_path)
    rejects = run.read_table("rejects")
    assert rejects[["source_row", "reason"]].values.tolist() == [[2, "duplicate_row"]]
    assert rejects["source_file"].iloc[0].endswith("tx-2025-02.csv")
    assert "of file 1" in rejects["detail"].iloc[0]
    assert result.quality["tables"]["transactions"]["rows_read"] == 4


def test_gzip_csv_source(tmp_path):
    import gzip

    path = tmp_path / "tx.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([TX_HEADER, TX_GOOD_1, TX_GOOD_3]) + "\n").encode()))
    result, _ = ingest(make_params(path), tmp_path)
    assert result.quality["rows_accepted"] == 2


# -- optional tables, unknown customers --------------------------------------------------------------
def test_missing_optional_tables_are_absent_not_written(tmp_path):
    run_data = tmp_path / "run" / "data"
    run_data.mkdir(parents=True)
    (run_data / "customers.parquet").write_bytes(b"stale artifact of an earlier run")
    result, run = ingest(make_params(tx_file(tmp_path, [TX_GOOD_1, TX_GOOD_3])), tmp_path)
    for table in ("customers", "events", "assignments"):
        assert not run.has_table(table)
        assert result.quality["tables"][table]["present"] is False
    assert result.tables_present == ("transactions",)
    tx = run.read_table("transactions")
    assert tx["customer_known"].isna().all()
    assert result.quality["transactions"]["unknown_customer_orders"] is None
    assert {"transactions", "rejects", "daily_orders"} <= set(result.rows)
    assert "no customers table" in describe_rejects(result.quality)


def test_unknown_customers_are_kept_and_flagged(tmp_path):
    customers = write(tmp_path, "customers.csv", [CUSTOMERS_HEADER, CUSTOMER_1])
    result, run = ingest(
        make_params(tx_file(tmp_path, [TX_GOOD_1, TX_GOOD_3]), customers=customers), tmp_path
    )
    tx = run.read_table("transactions").set_index("customer_id")
    assert (
        tx.loc["CUST-SECRET-1", "customer_known"] is True
        or tx.loc["CUST-SECRET-1", "customer_known"]
    )
    assert not tx.loc["CUST-SECRET-2", "customer_known"]
    facts = result.quality["transactions"]
    assert (facts["unknown_customer_orders"], facts["unknown_customers"]) == (1, 1)
    assert result.quality["rows_rejected"] == 0
    text = describe_rejects(result.quality)
    assert "1 order from 1 customer id not in the customers table was kept" in text
    assert small_counts_in_html(f"<p>{text}</p>") == []  # ids of input rows, shown exactly


def test_canonical_schemas_and_dtypes(tmp_path):
    files = {
        name: write(tmp_path, f"{name}.csv", [h, g1, g3])
        for name, (h, g1, g3) in TABLE_FILES.items()
    }
    _, run = ingest(make_params(**files), tmp_path)
    expected = {
        "transactions": {"order_id": "str", "customer_id": "str", "order_ts": "datetime64[us]", "amount": "float64",
                         "gross_amount": "float64", "refund_amount": "float64", "quantity": "Int64",
                         "product_id": "str", "category": "str", "channel": "str", "is_purchase": "bool",
                         "is_return": "bool", "customer_known": "boolean", "source_row": "int64"},
        "customers": {"customer_id": "str", "signup_ts": "datetime64[us]", "acquisition_channel": "str",
                      "region": "str", "birth_year": "Int64", "email_opt_in": "boolean", "sms_opt_in": "boolean",
                      "push_opt_in": "boolean", "loyalty_tier": "str"},
        "events": {"customer_id": "str", "event_ts": "datetime64[us]", "channel": "str", "event_type": "str",
                   "campaign_id": "str"},
        "assignments": {"customer_id": "str", "experiment_id": "str", "variant": "str",
                        "assigned_ts": "datetime64[us]", "cost": "float64"},
        "rejects": {"table": "str", "source_file": "str", "source_row": "int64", "reason": "str", "column": "str",
                    "detail": "str", "amount": "float64", "raw_record": "str"},
        "daily_orders": {"date": "object", "orders": "int64", "net_revenue": "float64"},
    }  # fmt: skip
    for name, dtypes in expected.items():
        frame = run.read_table(name)
        assert {c: str(t) for c, t in frame.dtypes.items()} == dtypes, name
    assert run.read_table("customers")["loyalty_tier"].tolist() == [
        "none",
        "gold",
    ]  # 'none' is a value


def test_read_source_stages_one_row_per_source_row(tmp_path):
    params = make_params(tx_file(tmp_path, [TX_GOOD_1, "O9,,2025-01-07,1,1,P,c,w", TX_GOOD_3]))
    with Engine(threads=1) as engine:
        staged = read_source(
            params.source.transactions, table="transactions", params=params, engine=engine
        )
        rows = engine.arrow(
            f"SELECT source_row, reason, bin FROM {staged.relation} ORDER BY source_row"
        ).to_pylist()
    assert staged.rows_read == 3 and staged.files[0].columns[0] == "order_id"
    assert [(r["source_row"], r["reason"], r["bin"]) for r in rows] == [
        (1, None, None),
        (2, None, "unattributed"),
        (3, None, None),
    ]


# -- quality, metrics, words, charts -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_bad", "verdict"), [(0, "pass"), (2, "warn"), (9, "fail")], ids=["pass", "warn", "fail"]
)
def test_verdict_follows_the_reject_share_thresholds(tmp_path, n_bad, verdict):
    good = [f"O{i},C{i},2025-01-05 10:00:00,1.00,1,P1,coffee,web" for i in range(100 - n_bad)]
    bad = [f"B{i},C{i},2025-01-05 10:00:00,oops,1,P1,coffee,web" for i in range(n_bad)]
    result, _ = ingest(make_params(tx_file(tmp_path, good + bad)), tmp_path)
    assert result.quality["verdict"] == verdict  # shares 0%, 2% (> 1% warn), 9% (> 5% fail)
    assert (
        result.quality["verdict_text"]
        .lower()
        .startswith({"pass": "pass", "warn": "warning", "fail": "fail"}[verdict])
    )


def test_metrics_and_quality_hold_no_customer_identifiers(tmp_path):
    files = {
        name: write(tmp_path, f"{name}.csv", [h, g1, g3])
        for name, (h, g1, g3) in TABLE_FILES.items()
    }
    result, run = ingest(make_params(**files), tmp_path)
    metrics = ingest_metrics(result.quality)
    for key in ("verdict", "verdict_text", "conclusion", "rows_read", "rows_accepted", "rows_rejected",
                "revenue_read", "revenue_accepted", "revenue_rejected", "reconciles", "customers",
                "first_order_date", "last_order_date", "days_without_orders"):  # fmt: skip
        assert key in metrics, key
    assert metrics["verdict"] in {"pass", "warn", "fail"} and metrics["reconciles"] is True
    assert (metrics["rows_read"], metrics["customers"]) == (2, 2)
    texts = [
        json.dumps(metrics), (run.root / "quality.json").read_text(), describe_quality(result.quality),
        describe_rejects(result.quality), describe_reconciliation(result.quality), describe_coverage(result.quality),
        quality_scorecard(result.quality).to_string(),
    ]  # fmt: skip
    assert not any("SECRET" in text for text in texts)
    json.dumps(metrics)  # JSON-ready


def test_sentences_are_built_from_the_numbers(tmp_path):
    result, _ = ingest(make_params(tx_file(tmp_path, MESSY_ROWS), **BOUNDS), tmp_path)
    quality = result.quality
    assert (
        "All 15 transaction rows are accounted for: 7 accepted, 1 without a customer id (guest orders) "
        "and 7 rejected" in describe_reconciliation(quality)
    )
    assert "7 rows were rejected" in describe_rejects(quality)
    assert "Guest orders without a customer id: 1 (EUR 7.77), valid" in describe_rejects(quality)
    assert "day(s) have no orders" in describe_coverage(
        quality
    )  # 2025-01-08 .. 2025-01-19 have none
    assert describe_quality(quality).startswith("**Verdict: fail.**")  # 7 of 15 rejected
    # the verdict names the keys behind it
    assert "ingest.reject_share_fail" in quality["verdict_text"]
    assert "ingest.unattributed_share_warn" in quality["verdict_text"]
    card = quality_scorecard(quality)
    assert card.index.tolist()[0] == "transactions (rows)" and card.iloc[0]["read"] == "15"
    assert card.iloc[0]["no customer id"] == "1"
    assert card.iloc[1]["read"] == "not configured"


def test_plot_orders_per_day_highlights_days_without_orders():
    daily = pd.DataFrame({"date": pd.date_range("2025-01-01", periods=6).date, "orders": [3, 0, 0, 2, 5, 1],
                          "net_revenue": [30.0, 0.0, 0.0, 20.0, 50.0, 10.0]})  # fmt: skip
    ax = plot_orders_per_day(daily)
    assert ax.get_title() == "Orders per day (2 day(s) without orders highlighted)"
    assert ax.get_xlabel() == "Order date (UTC)" and ax.get_ylabel() == "Orders per day (count)"
    assert any("without orders" in text.get_text() for text in ax.get_legend().get_texts())
    plt.close(ax.figure)
    with pytest.raises(DataContractError, match="orders"):
        plot_orders_per_day(daily.drop(columns="orders"))


def test_plot_rejects_by_reason(tmp_path):
    result, _ = ingest(make_params(tx_file(tmp_path, MESSY_ROWS), **BOUNDS), tmp_path)
    fig, ax = plt.subplots()
    assert plot_rejects_by_reason(result.quality, ax=ax) is ax
    assert ax.get_title() == "Rejected rows by reason (7 rows)"
    assert ax.get_xlabel() == "Rejected rows (count)" and ax.get_ylabel() == "Reject reason"
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert {"duplicate row", "conflicting order", "bad amount"} <= labels
    plt.close(fig)


# -- the embedded sample: planted truth ------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, RunFolder, dict[str, Any]]:
    if not (SAMPLE / "truth.json").is_file():
        pytest.skip("data/sample has not been generated (python -m crmlib.synth)")
    truth = json.loads((SAMPLE / "truth.json").read_text())
    params = load_params(ROOT / "params" / "default.yaml")
    run = RunFolder(tmp_path_factory.mktemp("sample"))
    result = run_ingest(params, run)
    return result, run, truth


def test_sample_rejects_equal_the_planted_dirty_rows(sample_run):
    result, _, truth = sample_run
    # orders of unknown customers are kept and flagged; rows without a customer id are guest
    # orders (unattributed), not rejects
    valid = ("unknown_customer", "missing_customer_id")
    planted = {reason: n for reason, n in truth["dirty"].items() if reason not in valid}
    assert result.quality["tables"]["transactions"]["rejected_by_reason"] == planted
    assert result.quality["rows_unattributed"] == truth["dirty"]["missing_customer_id"]
    assert (
        result.quality["transactions"]["unknown_customer_orders"]
        == truth["dirty"]["unknown_customer"]
    )
    assert result.quality["verdict"] == "pass" and result.quality["reconciles"]


def test_sample_counts_and_money_equal_the_realized_truth(sample_run):
    result, run, truth = sample_run
    realized, facts = truth["realized"], result.quality["transactions"]
    assert result.quality["rows_read"] == realized["n_transaction_rows"]
    assert facts["orders"] == realized["n_orders"] + truth["dirty"]["unknown_customer"]
    assert facts["refund_rows_netted"] + facts["returns_kept"] == realized["n_refund_rows"]
    assert facts["returns_kept"] == truth["refunds"]["n_orphan_refunds"]
    assert facts["refunds_netted_amount"] + facts["returns_amount"] == pytest.approx(
        realized["refund_amount"], abs=0.005
    )
    # gross revenue, to the cent: the truth's clean orders plus the valid orders of unknown
    # customers (the synth writes every planted conflicting copy after its original, so ingest
    # keeps the genuine order); the unknown customers' part is also summed independently
    tx = run.read_table("transactions")
    unknown = tx.loc[tx["customer_known"] == False, "gross_amount"].sum()  # noqa: E712
    assert unknown == pytest.approx(realized["unknown_customer_revenue"], abs=0.005)
    assert facts["gross_revenue"] == pytest.approx(
        realized["gross_revenue"] + realized["unknown_customer_revenue"], abs=0.005
    )
    known = tx.loc[tx["customer_known"] == True, "gross_amount"].sum()  # noqa: E712
    assert known == pytest.approx(realized["gross_revenue"], abs=0.005)
    # the kept order of each rejected conflicting copy is the genuine one (copies are scaled up)
    rejects = run.read_table("rejects")
    conflicts = rejects[rejects["reason"] == "conflicting_order"]
    kept = tx.set_index("order_id").loc[
        conflicts["raw_record"].map(lambda r: json.loads(r)["order_id"]), "gross_amount"
    ]
    assert (conflicts["amount"].to_numpy() > kept.to_numpy()).all()  # planted copies are larger
    assert len(run.read_table("customers")) == realized["n_customers"]
    assert len(run.read_table("events")) == realized["n_events"]
    assert len(run.read_table("assignments")) == realized["n_assignments"]
    assert math.isclose(tx["amount"].sum(), facts["revenue_accepted"], abs_tol=0.005)


@pytest.mark.parametrize("lookup_max", [100_000, 0], ids=["by-rowid", "by-semi-join"])
def test_raw_records_of_rejects_are_the_source_rows(tmp_path, monkeypatch, lookup_max):
    """Both ways of fetching rejected rows' raw records give the exact source text."""
    from crmlib.ingest import queries

    monkeypatch.setattr(queries, "_ROWID_LOOKUP_MAX", lookup_max)
    header, good_1, good_3 = TABLE_FILES["transactions"]
    bad = "O9,C9,2025-03-32 10:00:00,12.50,1,P9,coffee,web"  # bad timestamp
    files = {
        name: write(tmp_path, f"{name}.csv", [h, g1, g3])
        for name, (h, g1, g3) in TABLE_FILES.items()
    }
    files["transactions"] = write(tmp_path, "transactions.csv", [header, good_1, bad, good_3, bad])
    _, run = ingest(make_params(**files), tmp_path)
    rejects = run.read_table("rejects").sort_values("source_row")
    assert rejects["source_row"].tolist() == [2, 4]
    records = [json.loads(text) for text in rejects["raw_record"]]
    expected = dict(zip(TX_HEADER.split(","), bad.split(","), strict=True))
    for record in records:
        assert {k: v for k, v in record.items() if v} == {k: v for k, v in expected.items() if v}
