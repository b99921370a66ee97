"""Tests of 05_clv's glue: cut-off, calibration names, groups, masking, tracking inputs, refits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contract_tables import contract_transactions

from crmlib.clv._stage import (
    calibration_cutoff,
    clv_conclusion,
    cutoff_fits,
    mask_small_groups,
    model_summary,
    tracking_table,
    value_groups,
)
from crmlib.clv._summary import calibration_holdout, customer_summary
from crmlib.engine import Engine
from crmlib.io import RunFolder

# A: first 2025-01-02, repeats on 01-02 (same day: not a repeat), 01-10 (twice: one repeat day)
# and 03-01; B: first 2025-02-01, repeat 02-15; C: first 2025-03-20 (after the cohort end
# 2025-03-01 of the tracking test), repeat 03-25 (not counted); a cancelled order never counts.
TX = contract_transactions(
    [
        ("A1", "A", "2025-01-02 09:00", 10.0, 10.0, 0.0, "purchase"),
        ("A2", "A", "2025-01-02 18:00", 5.0, 5.0, 0.0, "purchase"),
        ("A3", "A", "2025-01-10 09:00", 7.0, 7.0, 0.0, "purchase"),
        ("A4", "A", "2025-01-10 19:00", 3.0, 3.0, 0.0, "purchase"),
        ("A5", "A", "2025-03-01 09:00", 8.0, 8.0, 0.0, "purchase"),
        ("B1", "B", "2025-02-01 09:00", 20.0, 20.0, 0.0, "purchase"),
        ("B2", "B", "2025-02-15 09:00", 30.0, 30.0, 0.0, "purchase"),
        ("B3", "B", "2025-02-20 09:00", 0.0, 9.0, -9.0, "cancelled"),
        ("C1", "C", "2025-03-20 09:00", 40.0, 40.0, 0.0, "purchase"),
        ("C2", "C", "2025-03-25 09:00", 45.0, 45.0, 0.0, "purchase"),
    ]
)
AS_OF = "2025-03-31"


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TX)
        yield eng


def test_calibration_cutoff() -> None:
    assert calibration_cutoff("2025-03-31", calibration_end=None, holdout_days=30) == dt.date(
        2025, 3, 1
    )
    assert calibration_cutoff(
        "2025-03-31", calibration_end="2025-02-28", holdout_days=30
    ) == dt.date(2025, 2, 28)
    with pytest.raises(ValueError, match="holdout is empty"):
        calibration_cutoff("2025-03-31", calibration_end="2025-03-31", holdout_days=30)


def test_model_summary_renames_and_keeps_units(engine: Engine) -> None:
    calibration = calibration_holdout(
        engine, calibration_end="2025-02-28", observation_end=AS_OF, unit="day"
    )
    summary = model_summary(calibration)
    assert summary.columns.tolist() == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
    ]
    assert summary.attrs["unit"] == "day"
    a = summary.set_index("customer_id").loc["A"]
    # by 2025-02-28: A bought on days 0 and 8 (01-02, 01-10): frequency 1, recency 8, T 57
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 8.0, 57.0, 10.0)
    with pytest.raises(ValueError, match="frequency_cal"):
        model_summary(summary)


def test_tracking_counts_repeat_days_of_the_calibration_cohort(engine: Engine) -> None:
    summary = customer_summary(engine, observation_end=AS_OF, unit="day")

    from crmlib.clv._models import fit_transactions_model

    fitted = fit_transactions_model(
        pd.DataFrame({"frequency": [1, 1, 1, 2, 0, 3] * 5, "recency": [8.0, 14.0, 5.0, 30.0, 0.0,
                      50.0] * 5, "T": [60.0, 40.0, 10.0, 70.0, 20.0, 80.0] * 5}),
        model="bgnbd", unit="day",
    )  # fmt: skip
    table = tracking_table(
        engine, fitted, summary, calibration_end="2025-03-01", observation_end=AS_OF, unit="day"
    )
    actual = table.set_index("date")["actual_cumulative_purchases"]
    # repeat days of A and B (C's first purchase is after the cohort end): 01-10, 02-15, 03-01
    assert actual.loc[pd.Timestamp("2025-01-09")] == 0
    assert actual.loc[pd.Timestamp("2025-01-10")] == 1
    assert actual.loc[pd.Timestamp("2025-02-15")] == 2
    assert actual.iloc[-1] == 3
    assert set(table["period"]) == {"calibration", "holdout"}
    assert np.all(np.diff(table["expected_cumulative_purchases"].to_numpy()) >= 0)


def test_value_groups_from_customers_rfm_and_first_purchase(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    summary = customer_summary(engine, observation_end=AS_OF, unit="week")
    groups = value_groups(run, summary)
    assert set(groups["acquisition_channel"]) == {"(unknown)"}
    assert set(groups["segment"]) == {"(unknown)"}
    run.write_table(
        "customers",
        pd.DataFrame({"customer_id": ["A", "B"], "acquisition_channel": ["social", ""]}),
    )
    run.write_table("rfm", pd.DataFrame({"customer_id": ["B"], "segment": ["Champions"]}))
    groups = value_groups(run, summary).set_index("customer_id")
    assert groups.loc["A", "acquisition_channel"] == "social"
    assert groups.loc["B", "acquisition_channel"] == "(unknown)"  # empty value
    assert groups.loc["B", "segment"] == "Champions"
    assert groups.loc["C", "cohort"] == "2025Q1"


def test_mask_small_groups_blanks_values_not_counts() -> None:
    table = pd.DataFrame(
        {"channel": ["big", "small"], "customers": [50, 3], "clv_mean": [10.0, 99.0],
         "clv_total": [500.0, 297.0]}
    )  # fmt: skip
    masked = mask_small_groups(table, min_cell_size=10)
    assert masked["masked"].tolist() == [False, True]
    assert masked.loc[1, ["clv_mean", "clv_total"]].isna().all()
    assert masked.loc[0, "clv_mean"] == 10.0 and masked.loc[1, "customers"] == 3


def test_cutoff_fits_and_conclusion(engine: Engine) -> None:
    from crmlib.clv._models import fit_spend_model, fit_transactions_model

    summary = customer_summary(engine, observation_end=AS_OF, unit="day")
    final = (fit_transactions_model(summary, model="bgnbd", unit="day"), fit_spend_model(summary))
    fits, base = cutoff_fits(
        engine, final=final, as_of_date=AS_OF, holdout_days=[20], model="bgnbd", penalizer=0.0,
        unit="day",
    )  # fmt: skip
    assert base == "all data to 2025-03-31"
    assert list(fits) == [base, "data to 2025-03-11"]
    assert fits[base] is final
    values = pd.DataFrame({"clv": [100.0, 50.0, 0.0, 850.0]})
    assert clv_conclusion(
        values, chosen="bgnbd", horizon_months=12, currency="EUR", top_decile=0.85
    ) == (
        "The 4 customers are worth €1.0k in discounted margin over the next 12 months "
        "(€250.00 each on average, model BG/NBD); the top 10% hold 85% of it."
    )


def test_clv_artifact_keeps_units_through_the_run_folder(tmp_path: Path) -> None:
    from crmlib.clv._stage import clv_artifact

    values = pd.DataFrame({"customer_id": ["A", "B"], "clv": [1.5, 2.5]})
    values.attrs = {"units": {"clv": "currency: margin over 12 months"}, "unit": "week"}
    groups = pd.DataFrame({"customer_id": ["A", "B"], "segment": ["Lost", "New"]})
    run = RunFolder(tmp_path / "run")
    run.write_table("clv", clv_artifact(values, groups))
    back = run.read_table("clv")
    assert back["segment"].tolist() == ["Lost", "New"]
    assert back.attrs["units"]["clv"] == "currency: margin over 12 months"
