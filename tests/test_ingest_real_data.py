"""crmlib.ingest on data as companies export it: guest orders, line items, cancellation invoices,
minute ticks, free items, large orders, fractions of a cent, reports as of an earlier date,
and input hygiene (duplicate headers, null spellings, thousands separators)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_ingest import ROOT, ingest, make_params, write

from crmlib.config import load_params
from crmlib.errors import SourceFileError
from crmlib.ingest import describe_rejects
from crmlib.io import RunFolder

LINE_HEADER = "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID"
LINE_COLUMNS = {"order_id": "Invoice", "product_id": "StockCode", "quantity": "Quantity",
                "order_ts": "InvoiceDate", "customer_id": "Customer ID"}  # fmt: skip


def line_source(path: Path, **extra: Any) -> dict[str, Any]:
    """A line-item export mapped by columns only (amount = Quantity x Price)."""
    return {"path": str(path), "columns": LINE_COLUMNS, "line_items": True,
            "unit_price_column": "Price", **extra}  # fmt: skip


# -- three bins: accepted, unattributed (guest orders), rejected -------------------------------------
def test_guest_orders_are_unattributed_counted_in_revenue_and_kept_out_of_customers(tmp_path):
    rows = [
        "I1,P1,2,2025-03-01 10:00:00,5.00,C1",
        "I2,P1,1,2025-03-02 10:00:00,5.00,",  # a guest invoice of two lines
        "I2,P2,3,2025-03-02 10:00:00,2.50,",
        "C9,P1,-1,2025-03-03 10:00:00,5.00,",  # a guest cancellation invoice
        "I3,P1,1,2025-03-04 10:00:00,5.00,NA",  # 'NA' is no customer id (source null_values)
    ]
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path)), tmp_path)
    quality = result.quality
    assert (quality["rows_accepted"], quality["rows_unattributed"], quality["rows_rejected"]) == (
        1,
        4,
        0,
    )
    assert run.read_table("transactions")["order_id"].tolist() == ["I1"]
    guests = run.read_table("unattributed").sort_values("order_id")
    assert guests["order_id"].tolist() == ["C9", "I2", "I3"]
    assert guests["customer_id"].isna().all()
    assert guests.set_index("order_id")["amount"].to_dict() == {"C9": -5.0, "I2": 12.5, "I3": 5.0}
    tx = quality["transactions"]
    assert (tx["unattributed_orders"], tx["unattributed_returns"]) == (2, 1)
    assert tx["revenue_unattributed"] == 12.5 and tx["total_revenue"] == 22.5
    assert tx["customers"] == 1  # guests are not customers
    # guests are 80% of the rows: a warning that names its key, never a failure
    assert quality["verdict"] == "warn"
    assert "ingest.unattributed_share_warn" in quality["verdict_text"]


def test_null_values_are_configurable_per_source(tmp_path):
    rows = ["I1,P1,1,2025-03-01 10:00:00,5.00,NA", "I2,P1,1,2025-03-01 11:00:00,5.00,C2"]
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path, null_values=[""])), tmp_path)
    assert sorted(run.read_table("transactions")["customer_id"]) == ["C2", "NA"]
    assert result.quality["rows_unattributed"] == 0


# -- the report window: after as_of_date is not invalid; after the run date is ------------------------
def test_rows_after_as_of_are_outside_the_window_and_after_the_run_date_are_rejected(tmp_path):
    header = "order_id,customer_id,order_ts,amount"
    rows = ["O1,C1,2025-05-01 10:00:00,10.00", "O2,C1,2025-06-15 10:00:00,20.00",
            "O3,C2,2025-06-30 10:00:00,-5.00", "O4,C2,2025-07-02 10:00:00,1.00"]  # fmt: skip
    path = write(tmp_path, "tx.csv", [header, *rows])
    params = make_params(path, as_of_date="2025-05-31", run_date="2025-07-01")
    result, run = ingest(params, tmp_path)
    quality = result.quality
    bins = [quality[k] for k in ("rows_accepted", "rows_after_as_of", "rows_rejected")]
    assert bins == [1, 2, 1] and quality["reconciles"]
    assert run.read_table("rejects")["reason"].tolist() == ["future_timestamp"]
    assert "2025-07-01 (ingest.run_date)" in run.read_table("rejects")["detail"].iloc[0]
    assert quality["transactions"]["revenue_after_as_of"] == 15.0
    # the verdict judges the invalid row among the rows of the window, not the later rows
    assert quality["reject_share"] == pytest.approx(1 / 2)
    assert run.read_table("transactions")["order_id"].tolist() == ["O1"]


@pytest.mark.parametrize("as_of", ["2025-11-30", "2025-06-30"])
def test_the_sample_runs_as_of_an_earlier_date(tmp_path, as_of):
    """A month-end rerun or a backfill on the full export: later rows are outside the window."""
    params = load_params(ROOT / "params" / "default.yaml", overrides={"as_of_date": as_of})
    run = RunFolder(tmp_path / "run")
    from crmlib.ingest import run_ingest

    quality = run_ingest(params, run).quality
    assert quality["verdict"] == "pass" and quality["reconciles"]
    for table in ("transactions", "events", "assignments"):
        summary = quality["tables"][table]
        assert summary["rows_read"] == sum(
            summary[k]
            for k in ("rows_accepted", "rows_unattributed", "rows_after_as_of", "rows_rejected")
        )
    assert quality["tables"]["transactions"]["rows_after_as_of"] > 0
    assert quality["tables"]["events"]["rows_after_as_of"] > 0
    # the planted future rows (dated after the export day) are still the only future rejects
    assert quality["tables"]["transactions"]["rejected_by_reason"]["future_timestamp"] == 12
    tx = run.read_table("transactions")
    assert tx["order_ts"].max() < pd.Timestamp(as_of) + pd.Timedelta(days=1)
    assert (run.read_table("events")["event_ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)).all()


# -- line items ---------------------------------------------------------------------------------------
def test_lines_of_one_invoice_minutes_apart_are_one_order_at_the_earliest_time(tmp_path):
    rows = ["I1,P1,1,2025-03-01 10:01:00,5.00,C1", "I1,P2,1,2025-03-01 10:00:00,5.00,C1",
            "I1,P3,1,2025-03-01 10:03:00,5.00,C1",
            "I2,P1,1,2025-03-01 11:00:00,5.00,C2", "I2,P2,1,2025-03-01 11:20:00,5.00,C2"]  # fmt: skip
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path)), tmp_path)
    tx = run.read_table("transactions").set_index("order_id")
    assert tx.loc["I1", "order_ts"] == pd.Timestamp("2025-03-01 10:00:00")
    assert tx.loc["I1", "amount"] == 15.0 and tx.loc["I1", "quantity"] == 3
    rejects = run.read_table("rejects")
    assert rejects[["source_row", "reason", "column"]].values.tolist() == [
        [5, "conflicting_order", "order_ts"]
    ]
    assert "ingest.order_time_tolerance_minutes" in rejects["detail"].iloc[0]
    # with a tolerance of 30 minutes, I2 is one order too
    result, run = ingest(make_params(line_source(path), order_time_tolerance_minutes=30), tmp_path)
    assert result.quality["rows_rejected"] == 0 and len(run.read_table("transactions")) == 2


def test_amount_bounds_judge_order_totals_and_are_off_by_default(tmp_path):
    # every line is under 10,000; the wholesale invoice totals 12,000
    rows = [f"W1,P{i},100,2025-03-01 10:00:00,30.00,C1" for i in range(4)] + [
        "I2,P1,1,2025-03-02 10:00:00,5.00,C2", "I3,P1,2,2025-03-03 10:00:00,4.00,C3",
        "I4,P1,1,2025-03-04 10:00:00,6.00,C2", "I5,P1,1,2025-03-05 10:00:00,5.50,C3",
    ]  # fmt: skip
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path)), tmp_path)
    tx = result.quality["transactions"]
    assert result.quality["rows_rejected"] == 0  # no bound: the large order is kept ...
    assert tx["extreme_orders"] == 1 and tx["largest_order"] == 12_000.0  # ... and flagged
    assert "Extreme orders, far above the usual order" in describe_rejects(result.quality)
    result, run = ingest(make_params(line_source(path), amount_max=10_000), tmp_path)
    rejects = run.read_table("rejects")
    assert rejects["source_row"].tolist() == [1, 2, 3, 4]  # every line of the order
    assert set(rejects["reason"]) == {"amount_out_of_bounds"}
    assert "order W1 totals 12000.00 (4 lines summed)" in rejects["detail"].iloc[0]
    assert "W1" not in set(run.read_table("transactions")["order_id"])
    assert result.quality["reconciles"]


@pytest.mark.parametrize("with_order_id", [True, False])
def test_a_copied_row_beyond_the_bounds_is_rejected_once_per_row(tmp_path, with_order_id):
    """The first copy is out of bounds, the second a duplicate: no row is rejected twice.

    Without an order_id column every row is an order of its own, so copies are found by their
    content (row_hash) and each row is judged by its own amount."""
    header = "order_id,customer_id,order_ts,amount,quantity,product_id,category,channel"
    rows = [
        "O1,C1,2025-03-01 10:00:00,10.00,1,P1,tea,web",
        "O2,C2,2025-03-02 10:00:00,25000.00,1,P1,tea,web",  # beyond amount_max
        "O2,C2,2025-03-02 10:00:00,25000.00,1,P1,tea,web",  # its exact copy
        "O3,C1,2025-03-03 10:00:00,-20000.00,-1,P1,tea,web",  # a refund beyond amount_min
        "O4,C2,2025-03-04 10:00:00,30.00,1,P1,tea,web",
    ]
    if not with_order_id:
        header = header.removeprefix("order_id,")
        rows = [row.split(",", 1)[1] for row in rows]
    path = write(tmp_path, "tx.csv", [header, *rows])
    result, run = ingest(make_params(path, amount_min=-10_000, amount_max=10_000), tmp_path)
    rejects = run.read_table("rejects").sort_values("source_row")
    assert rejects[["source_row", "reason"]].values.tolist() == [
        [2, "amount_out_of_bounds"],
        [3, "duplicate_row"],
        [4, "amount_out_of_bounds"],
    ]
    first, refund = rejects["detail"].iloc[0], rejects["detail"].iloc[2]
    assert first.startswith(
        "order O2 totals 25000.00, outside" if with_order_id else "order row 2 of file"
    )
    assert refund.startswith(
        "refund O3 totals -20000.00" if with_order_id else "refund row 4 of file"
    )
    quality = result.quality
    assert (quality["rows_accepted"], quality["rows_rejected"]) == (2, 3)
    assert quality["reconciles"]


def test_a_cancellation_invoice_is_one_return_row(tmp_path):
    rows = ["I1,P1,2,2025-03-01 10:00:00,5.00,C1", "I1,P2,1,2025-03-01 10:00:00,7.00,C1",
            "C1,P1,-2,2025-03-05 09:00:00,5.00,C1", "C1,P2,-1,2025-03-05 09:00:00,7.00,C1"]  # fmt: skip
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path)), tmp_path)
    tx = run.read_table("transactions").set_index("order_id")
    assert (
        tx.loc["C1", "is_return"]
        and tx.loc["C1", "amount"] == -17.0
        and tx.loc["C1", "quantity"] == -3
    )
    assert tx.loc["I1", "amount"] == 17.0 and bool(tx.loc["I1", "is_purchase"])
    facts = result.quality["transactions"]
    assert (facts["returns_kept"], facts["refund_rows_kept"]) == (1, 2)
    assert result.quality["reconciles"]


def test_amounts_keep_the_source_precision_and_revenue_read_is_the_files_own_total(tmp_path):
    prices = ["16.448", "0.0125", "1.995", "3.3333", "12.50"]
    rows = [f"I{i},P{i},{q},2025-03-0{i + 1} 10:00:00,{p},C{i}" for i, (p, q) in
            enumerate(zip(prices, [12, 7, 3, 9, 1], strict=True))]  # fmt: skip
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path)), tmp_path)
    exact = sum(Decimal(p) * q for p, q in zip(prices, [12, 7, 3, 9, 1], strict=True))
    assert exact == Decimal("245.9482")  # not a whole number of cents
    tx = result.quality["transactions"]
    assert Decimal(str(tx["revenue_read"])) == exact
    assert Decimal(str(tx["revenue_accepted"])) == exact and result.quality["reconciles"]
    amounts = run.read_table("transactions").set_index("order_id")["amount"]
    assert amounts["I0"] == pytest.approx(197.376, abs=1e-12)


# -- what a purchase is ------------------------------------------------------------------------------
@pytest.mark.parametrize(("setting", "purchases"), [("purchase", 3), ("ignore", 2)])
def test_zero_value_orders(tmp_path, setting, purchases):
    rows = ["I1,P1,1,2025-03-01 10:00:00,5.00,C1", "I2,P9,1,2025-03-02 10:00:00,0.00,C2",  # a free item
            "I3,P1,1,2025-03-03 10:00:00,5.00,C3", "I3,P1,-1,2025-03-04 10:00:00,5.00,C3",  # cancelled
            "I4,P1,2,2025-03-05 10:00:00,4.00,C3"]  # fmt: skip
    path = write(tmp_path, "lines.csv", [LINE_HEADER, *rows])
    result, run = ingest(make_params(line_source(path), zero_value_orders=setting), tmp_path)
    tx = run.read_table("transactions").set_index("order_id")
    assert int(tx["is_purchase"].sum()) == purchases
    assert bool(tx.loc["I2", "is_purchase"]) == (setting == "purchase")
    assert not tx.loc["I3", "is_purchase"]  # a cancelled order is never a purchase
    assert result.quality["transactions"]["purchasing_customers"] == (
        3 if setting == "purchase" else 2
    )


# -- input hygiene ------------------------------------------------------------------------------------
def test_a_header_naming_a_column_twice_fails_naming_it(tmp_path):
    path = write(
        tmp_path, "tx.csv", ["order_id,customer_id,amount,order_ts,Amount", "O1,C1,5,2025-01-01,7"]
    )
    with pytest.raises(SourceFileError, match=r"tx\.csv: the header names column 'Amount' twice"):
        ingest(make_params(path), tmp_path)


@pytest.mark.parametrize(
    ("settings", "text", "expected"),
    [({"thousands_separator": ","}, '"1,234.50"', 1234.5),
     ({"thousands_separator": ".", "decimal_separator": ",", "delimiter": ";"}, "1.234,50", 1234.5),
     ({"thousands_separator": " ", "decimal_separator": ",", "delimiter": ";"}, "12 345,5", 12345.5),
     ({"thousands_separator": ","}, "999.5", 999.5),
     ({"thousands_separator": ","}, '"1,23.4"', None),  # groups of three digits only
     ({}, '"1,234.50"', None)],  # no separator declared: not a number
    ids=["comma", "dot-with-decimal-comma", "space", "no-grouping", "bad-grouping", "undeclared"],
)  # fmt: skip
def test_thousands_separator(tmp_path, settings, text, expected):
    delimiter = settings.get("delimiter", ",")
    header = delimiter.join(["order_id", "customer_id", "order_ts", "amount"])
    row = delimiter.join(["O1", "C1", "2025-01-01", text])
    path = write(tmp_path, "tx.csv", [header, row])
    result, run = ingest(make_params({"path": str(path), **settings}), tmp_path)
    if expected is None:
        rejects = run.read_table("rejects")
        assert rejects["reason"].tolist() == ["bad_amount"]
    else:
        assert run.read_table("transactions")["amount"].tolist() == [expected]


def test_ingest_checks_name_every_bin_and_fail_on_a_fail_verdict(tmp_path):
    from test_ingest import MESSY_ROWS, tx_file

    from crmlib.errors import CheckFailed
    from crmlib.ingest import ingest_checks

    result, _ = ingest(make_params(tx_file(tmp_path, MESSY_ROWS), amount_max=10_000), tmp_path)
    checks = ingest_checks(result.quality)
    assert [(r.name, r.passed) for r in checks.results] == [
        ("rows reconcile", True),
        ("revenue reconciles exactly", True),
        ("verdict is not fail", False),  # 7 of 15 rows are invalid
    ]
    assert (
        "15 read = 7 accepted + 1 without a customer id + 0 after the as-of date + 7 rejected"
        in (checks.results[0].detail)
    )
    with pytest.raises(CheckFailed, match="ingest.reject_share_fail"):
        checks.raise_if_failed()
