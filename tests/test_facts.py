"""The shared purchase facts (crmlib.facts): known answers on a hand table, invariants, and that
a stage reads the run folder's artifacts only for the run's own transactions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import DEFAULT_PARAMS

from crmlib.engine import Engine
from crmlib.facts import FACT_TABLES, purchase_facts

D = pd.Timestamp  # the engine returns calendar days as midnight timestamps


def _orders() -> pd.DataFrame:
    rows = [  # customer_id, order_ts, amount, gross, refund, is_purchase
        ("b", "2024-03-01 09:00", 10.0, 10.0, 0.0, True),
        ("b", "2024-03-01 17:30", 5.0, 8.0, -3.0, True),  # same day: one purchase day, two orders
        ("b", "2024-03-04 08:00", -4.0, 0.0, -4.0, False),  # an unmatched refund: not a purchase
        ("b", "2024-03-09 12:00", 7.5, 7.5, 0.0, True),
        ("b", "2024-03-20 12:00", 2.0, 2.0, None, True),
        ("a", "2024-02-29 23:59", 20.0, 20.0, 0.0, True),  # leap day, a minute before midnight
        ("c", "2024-01-05 10:00", -6.0, 0.0, 6.0, False),  # returns only (positive refund sign)
        (None, "2024-01-05 10:00", 99.0, 99.0, 0.0, True),  # a guest order: no customer
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "order_ts",
            "amount",
            "gross_amount",
            "refund_amount",
            "is_purchase",
        ],
    )
    frame["order_ts"] = pd.to_datetime(frame["order_ts"])
    return frame


def _facts(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Engine(threads=1) as engine:
        engine.register("transactions", orders)
        with purchase_facts(engine) as names:
            days = engine.query(f"SELECT * FROM {names['customer_days']}")
            facts = engine.query(f"SELECT * FROM {names['customer_facts']}")
        assert not any(engine.has_table(name) for name in FACT_TABLES)  # dropped after the call
    return days, facts


def test_known_answers_on_a_hand_table() -> None:
    days, facts = _facts(_orders())
    assert facts["customer_id"].tolist() == ["a", "b", "c"]  # keys in id order, guests left out
    assert facts["customer_key"].tolist() == [1, 2, 3]
    b = facts.set_index("customer_id").loc["b"]
    assert (b["first_purchase_day"], b["second_purchase_day"], b["last_purchase_day"]) == (
        D(2024, 3, 1),
        D(2024, 3, 9),
        D(2024, 3, 20),
    )
    assert (b["purchase_days"], b["purchases"]) == (3, 4)
    assert b["purchase_amount"] == pytest.approx(24.5)
    assert b["amount"] == pytest.approx(20.5)  # the unmatched refund nets in
    assert b["first_purchase_ts"] == pd.Timestamp("2024-03-01 09:00")
    a = facts.set_index("customer_id").loc["a"]
    assert (a["first_purchase_day"], a["purchase_days"]) == (D(2024, 2, 29), 1)
    assert pd.isna(a["second_purchase_day"])
    c = facts.set_index("customer_id").loc["c"]  # returns only: no purchase facts, zero counts
    assert pd.isna(c["first_purchase_day"]) and (c["purchase_days"], c["purchases"]) == (0, 0)

    b_days = days[days["customer_key"] == 2]
    assert b_days["day"].tolist() == [D(2024, 3, 1), D(2024, 3, 4), D(2024, 3, 9), D(2024, 3, 20)]
    first = b_days.iloc[0]
    assert (first["purchases"], first["purchase_amount"], first["amount"]) == (2, 15.0, 15.0)
    assert (first["gross_amount"], first["refund_amount"]) == (18.0, 3.0)
    refund_day = b_days.iloc[1]
    assert refund_day["purchases"] == 0 and pd.isna(refund_day["purchase_amount"])
    assert refund_day["refund_amount"] == 4.0  # |refund|, either sign convention
    assert pd.isna(b_days.iloc[3]["refund_amount"])  # every refund of the day unknown
    assert days[["customer_key", "day"]].equals(
        days[["customer_key", "day"]].sort_values(["customer_key", "day"], ignore_index=True)
    )


def test_the_facts_reconcile_with_the_orders() -> None:
    orders = _orders()
    days, facts = _facts(orders)
    attributed = orders[orders["customer_id"].notna()]
    assert days["purchases"].sum() == facts["purchases"].sum() == attributed["is_purchase"].sum()
    assert days["amount"].sum() == pytest.approx(attributed["amount"].sum())
    assert facts["amount"].sum() == pytest.approx(attributed["amount"].sum())
    assert len(facts) == attributed["customer_id"].nunique()
    per_day = attributed.assign(day=attributed["order_ts"].dt.date)
    assert len(days) == len(per_day[["customer_id", "day"]].drop_duplicates())


def test_the_run_folder_facts_serve_only_the_runs_own_transactions() -> None:
    orders = _orders()
    with Engine(threads=1) as engine:
        engine.register("transactions", orders)
        engine.register("other", orders[orders["customer_id"] == "a"])
        engine.register("customer_days", pd.DataFrame({"marker": [1]}))
        engine.register("customer_facts", pd.DataFrame({"marker": [1]}))
        with purchase_facts(engine) as names:
            assert names == {"customer_days": "customer_days", "customer_facts": "customer_facts"}
        with purchase_facts(engine, transactions="other") as names:  # another table: built
            built = engine.query(f"SELECT customer_id FROM {names['customer_facts']}")
        assert built["customer_id"].tolist() == ["a"]


def test_ingest_writes_the_facts_of_its_transactions(tmp_path: Path) -> None:
    """Round trip on the sample: 01's artifacts equal the facts built again from its transactions."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    run = RunFolder(tmp_path / "run")
    result = run_ingest(load_params(DEFAULT_PARAMS), run)
    written = {name: _days_as_timestamps(run.read_table(name)) for name in FACT_TABLES}
    assert result.rows["customer_facts"] == len(written["customer_facts"])
    days, facts = (_days_as_timestamps(f) for f in _facts(run.read_table("transactions")))
    columns = list(written["customer_days"].columns)
    assert len(written["customer_days"]) > len(facts) > 1000  # the sample, not an empty table
    pd.testing.assert_frame_equal(written["customer_days"], days[columns], check_dtype=False)
    pd.testing.assert_frame_equal(written["customer_facts"], facts, check_dtype=False)


def _days_as_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    days = [name for name in frame.columns if name == "day" or name.endswith("_day")]
    return frame.astype({name: "datetime64[us]" for name in days})
