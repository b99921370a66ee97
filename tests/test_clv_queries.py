"""Tests of the BTYD summaries: equal to lifetimes on CDNOW and the sample, published CDNOW values, edge cases."""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot
from contract_tables import purchase_transactions

from crmlib.clv.queries import (
    CALIBRATION_COLUMNS,
    SUMMARY_COLUMNS,
    UNIT_DAYS,
    UNITS,
    calibration_holdout,
    customer_summary,
    summary_units,
)
from crmlib.clv.text import describe_summary
from crmlib.datasets import cdnow_source_dir
from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing

ROOT = Path(__file__).resolve().parents[1]
#: lifetimes' freq / freq_multiplier for each unit.
LIFETIMES_FREQ = {"day": ("D", 1), "week": ("D", 7), "calendar_week": ("W", 1)}
#: monetary values: the spec's tolerance against lifetimes (the sums are added in another order).
RTOL = 1e-9


def with_fact_columns(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` with the two columns the purchase facts are also built from
    (:data:`crmlib.facts.SOURCE_COLUMNS`): a positive amount is gross, a negative one refunded."""
    return orders.assign(
        gross_amount=orders["amount"].clip(lower=0.0),
        refund_amount=(-orders["amount"]).clip(lower=0.0),
    )


def _lifetimes_utils() -> tuple[Callable[..., pd.DataFrame], Callable[..., pd.DataFrame]]:
    """lifetimes' two functions, imported without its global warning-filter changes leaking."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data
    return summary_data_from_transaction_data, calibration_and_holdout_data


def _end_of_day(day: str) -> str:
    """lifetimes compares timestamps with its end dates: the end of the day covers the whole day."""
    return f"{day} 23:59:59.999999"


def lifetimes_summary(purchases: pd.DataFrame, *, observation_end: str, unit: str) -> pd.DataFrame:
    """lifetimes' summary of ``purchases`` (customer_id, order_ts, amount) seen up to the end day."""
    summary_data, _ = _lifetimes_utils()
    freq, multiplier = LIFETIMES_FREQ[unit]
    seen = purchases[purchases["order_ts"] <= pd.Timestamp(_end_of_day(observation_end))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return summary_data(
            seen,
            "customer_id",
            "order_ts",
            monetary_value_col="amount",
            observation_period_end=_end_of_day(observation_end),
            freq=freq,
            freq_multiplier=multiplier,
        )


def lifetimes_split(
    purchases: pd.DataFrame, *, calibration_end: str, observation_end: str, unit: str
) -> pd.DataFrame:
    """lifetimes' calibration_and_holdout_data of ``purchases`` with end-of-day ends."""
    _, split_data = _lifetimes_utils()
    freq, multiplier = LIFETIMES_FREQ[unit]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return split_data(
            purchases,
            "customer_id",
            "order_ts",
            calibration_period_end=_end_of_day(calibration_end),
            observation_period_end=_end_of_day(observation_end),
            freq=freq,
            freq_multiplier=multiplier,
            monetary_value_col="amount",
        )


def assert_equal_to_lifetimes(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Same customers in the same order; counts and durations identical; money within RTOL."""
    reference = reference.sort_index()
    assert ours["customer_id"].tolist() == [str(c) for c in reference.index]
    for column in reference.columns:
        mine = ours[column].to_numpy(dtype="float64")
        theirs = reference[column].to_numpy(dtype="float64")
        if column.startswith("monetary"):
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=0, err_msg=column)
        else:
            np.testing.assert_array_equal(mine, theirs, err_msg=column)


# -- CDNOW, read straight from lifetimes' datasets folder ---------------------------------------
def _cdnow_purchases(which: str) -> pd.DataFrame:
    """A CDNOW log as canonical purchases: every row a purchase (as lifetimes counts them)."""
    folder = cdnow_source_dir()
    if which == "sample":
        names = ["master_id", "customer_id", "day", "cds", "amount"]
        raw = pd.read_csv(folder / "CDNOW_sample.txt", sep=r"\s+", header=None, names=names, dtype={"customer_id": "str", "day": "str"})  # fmt: skip
    else:
        names = ["customer_id", "day", "cds", "amount"]
        raw = pd.read_csv(folder / "CDNOW_master.txt", sep=r"\s+", header=0, names=names, dtype={"customer_id": "str", "day": "str"})  # fmt: skip
    return with_fact_columns(
        pd.DataFrame(
            {
                "customer_id": raw["customer_id"].astype("str"),
                "order_ts": pd.to_datetime(raw["day"], format="%Y%m%d").astype("datetime64[us]"),
                "amount": raw["amount"].astype("float64"),
                "is_purchase": True,
            }
        )
    )


@pytest.fixture(scope="module")
def cdnow() -> Iterator[tuple[Engine, dict[str, pd.DataFrame]]]:
    logs = {which: _cdnow_purchases(which) for which in ("sample", "master")}
    with Engine(threads=2) as eng:
        for which, purchases in logs.items():
            eng.register(f"cdnow_{which}", purchases)
        yield eng, logs


def test_cdnow_logs_are_as_documented(cdnow: tuple[Engine, dict[str, pd.DataFrame]]) -> None:
    _, logs = cdnow
    # lifetimes 0.11.3's files: the 1/10 sample and the master log of Fader & Hardie
    assert (len(logs["sample"]), logs["sample"]["customer_id"].nunique()) == (6_919, 2_357)
    assert (len(logs["master"]), logs["master"]["customer_id"].nunique()) == (69_659, 23_570)
    assert (logs["sample"]["amount"] == 0).sum() == 8  # zero-spend records: kept as purchases here


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("which", ["sample", "master"])
def test_cdnow_summary_equals_lifetimes(
    cdnow: tuple[Engine, dict[str, pd.DataFrame]], which: str, unit: str
) -> None:
    engine, logs = cdnow
    for end in ("1997-09-30", "1998-06-30"):
        ours = customer_summary(
            engine, observation_end=end, unit=unit, transactions=f"cdnow_{which}"
        )
        assert list(ours.columns) == list(SUMMARY_COLUMNS)
        assert summary_units(ours) == unit
        reference = lifetimes_summary(logs[which], observation_end=end, unit=unit)
        assert_equal_to_lifetimes(ours.drop(columns="first_purchase_date"), reference)


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("which", ["sample", "master"])
def test_cdnow_calibration_holdout_equals_lifetimes(
    cdnow: tuple[Engine, dict[str, pd.DataFrame]], which: str, unit: str
) -> None:
    engine, logs = cdnow
    ours = calibration_holdout(
        engine,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        unit=unit,
        transactions=f"cdnow_{which}",
    )
    assert list(ours.columns) == list(CALIBRATION_COLUMNS)
    reference = lifetimes_split(
        logs[which], calibration_end="1997-09-30", observation_end="1998-06-30", unit=unit
    )
    assert_equal_to_lifetimes(ours, reference)
    # 39 weeks of calibration, 273 days (39 weeks) of holdout; calendar weeks: Mondays apart
    expected_duration = {"day": 273.0, "week": 39.0, "calendar_week": 39.0}[unit]
    assert (ours["duration_holdout"] == expected_duration).all()


def test_cdnow_calibration_equals_published_summary(
    cdnow: tuple[Engine, dict[str, pd.DataFrame]],
) -> None:
    """lifetimes' cdnow_customers_summary.csv (Fader, Hardie & Lee 2005's calibration data).

    Its ID is the sample id of CDNOW_sample.txt (second column); recency and T are rounded to
    2 decimals there, so they agree within 0.005 weeks; frequency exactly.
    """
    engine, _ = cdnow
    published = pd.read_csv(cdnow_source_dir() / "cdnow_customers_summary.csv")
    with_spend = pd.read_csv(cdnow_source_dir() / "cdnow_customers_summary_with_transactions.csv")
    ours = customer_summary(
        engine, observation_end="1997-09-30", unit="week", transactions="cdnow_sample"
    )
    split = calibration_holdout(
        engine,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        unit="week",
        transactions="cdnow_sample",
    )
    assert len(ours) == len(published) == len(split) == 2_357
    ids = ours["customer_id"].astype("int64").to_numpy()
    assert ids.tolist() == published["ID"].tolist() == with_spend["ID"].tolist()
    np.testing.assert_array_equal(ours["frequency"], published["frequency"])
    np.testing.assert_allclose(ours["recency"], published["recency"], rtol=0, atol=0.005)
    np.testing.assert_allclose(ours["T"], published["T"], rtol=0, atol=0.005)
    # the same file with the mean repeat spend (zbar, 2 decimals); 1e-9: 0.005 is hit exactly
    np.testing.assert_allclose(
        ours["monetary_value"], with_spend["zbar"], rtol=0, atol=0.005 + 1e-9
    )
    np.testing.assert_array_equal(split["frequency_cal"], ours["frequency"])
    np.testing.assert_array_equal(split["recency_cal"], ours["recency"])
    np.testing.assert_array_equal(split["T_cal"], ours["T"])
    # first purchases in 1997-Q1: T of 26 to 39 weeks
    assert ours["T"].between(26.0, 39.0).all()
    assert ours["first_purchase_date"].max() <= pd.Timestamp("1997-03-31")


# -- the embedded synthetic sample, through 01_ingest --------------------------------------------
@pytest.fixture(scope="module")
def sample_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, pd.DataFrame]]:
    """01_ingest on params/default.yaml into a temporary run folder: (engine, purchases)."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    if not (ROOT / "data" / "sample" / "transactions.csv.gz").is_file():
        pytest.fail("data/sample is missing: regenerate it with `python -m crmlib.synth`")
    params = load_params(ROOT / "params" / "default.yaml")
    run = RunFolder(tmp_path_factory.mktemp("clv_summary") / "sample")
    run_ingest(params, run)
    with Engine(threads=2) as eng:
        run.register(eng, "transactions")
        canonical = eng.query("SELECT customer_id, order_ts, amount, is_purchase FROM transactions")
        purchases = canonical[canonical["is_purchase"]].reset_index(drop=True)
        yield eng, purchases


def test_sample_has_what_the_comparison_needs(sample_engine: tuple[Engine, pd.DataFrame]) -> None:
    engine, purchases = sample_engine
    # timestamps carry times of day, and cancelled orders exist (they must be ignored)
    assert (purchases["order_ts"].dt.hour > 0).mean() > 0.5
    assert engine.scalar("SELECT count(*) FROM transactions WHERE NOT is_purchase") > 0
    assert purchases.groupby(["customer_id", purchases["order_ts"].dt.date]).size().max() > 1


@pytest.mark.parametrize("unit", UNITS)
def test_sample_summary_equals_lifetimes(
    sample_engine: tuple[Engine, pd.DataFrame], unit: str
) -> None:
    engine, purchases = sample_engine
    # 2025-12-31 is a Wednesday: lifetimes is given only what is seen by then
    for end in ("2025-12-31", "2025-06-29"):
        ours = customer_summary(engine, observation_end=end, unit=unit)
        reference = lifetimes_summary(purchases, observation_end=end, unit=unit)
        assert_equal_to_lifetimes(ours.drop(columns="first_purchase_date"), reference)
        seen = purchases[purchases["order_ts"] < pd.Timestamp(end) + pd.Timedelta(days=1)]
        firsts = seen.groupby("customer_id")["order_ts"].min().dt.normalize().sort_index()
        assert ours["first_purchase_date"].tolist() == firsts.tolist()


@pytest.mark.parametrize("unit", UNITS)
def test_sample_calibration_holdout_equals_lifetimes(
    sample_engine: tuple[Engine, pd.DataFrame], unit: str
) -> None:
    engine, purchases = sample_engine
    ours = calibration_holdout(
        engine, calibration_end="2025-06-30", observation_end="2025-12-31", unit=unit
    )
    reference = lifetimes_split(
        purchases, calibration_end="2025-06-30", observation_end="2025-12-31", unit=unit
    )
    assert_equal_to_lifetimes(ours, reference)
    assert ours.attrs == {
        "unit": unit,
        "calibration_end": "2025-06-30",
        "observation_end": "2025-12-31",
    }


def test_first_purchase_from_keeps_the_later_customers(
    sample_engine: tuple[Engine, pd.DataFrame],
) -> None:
    engine, _ = sample_engine
    everyone = customer_summary(engine, observation_end="2025-12-31")
    recent = customer_summary(
        engine, observation_end="2025-12-31", first_purchase_from="2025-01-01"
    )
    expected = everyone[everyone["first_purchase_date"] >= pd.Timestamp("2025-01-01")]
    assert 0 < len(recent) < len(everyone)
    pd.testing.assert_frame_equal(recent, expected.reset_index(drop=True))
    assert recent["T"].max() <= 364 / 7


# -- edge cases by hand ----------------------------------------------------------------------
END = "2025-03-31"  # a Monday
EDGES = with_fact_columns(purchase_transactions(
    [
        ("O1", "ONE", "2025-03-03 10:00", 20.0, True),  # one purchase: frequency 0
        ("O2", "LAST", "2025-03-31 23:30", 15.0, True),  # only purchase on the end day: T 0
        ("O3", "SAME", "2025-03-10 09:00", 10.0, True),
        ("O4", "SAME", "2025-03-17 08:00", 4.0, True),  # two orders on one day: merged
        ("O5", "SAME", "2025-03-17 20:00", 6.0, True),
        ("O6", "ZERO", "2025-03-01 12:00", 30.0, True),
        ("O7", "ZERO", "2025-03-08 12:00", 0.0, True),  # zero-spend repeat: stays in the mean
        ("O8", "ZERO", "2025-03-15 12:00", 10.0, True),
        ("O9", "CANC", "2025-03-02 12:00", 0.0, False),  # cancelled: not CANC's first purchase
        ("O10", "CANC", "2025-03-09 12:00", 8.0, True),
        ("O11", "CANC", "2025-03-20 12:00", 0.0, False),  # cancelled: not a repeat
        ("R1", "RET", "2025-03-05 12:00", -5.0, False),  # a return only: not a customer
        ("O12", "LATE", "2025-04-01 00:00", 9.0, True),  # after the end: not seen
        ("O13", "NEG", "2025-03-03 12:00", 10.0, True),  # a view where a repeat is negative
        ("O14", "NEG", "2025-03-04 12:00", -4.0, True),
        ("O15", "NEG", "2025-03-05 12:00", 2.5, True),
    ]
))  # fmt: skip


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", EDGES)
        yield eng


def _by_customer(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return frame.set_index("customer_id").to_dict("index")


def test_edge_cases_by_hand(engine: Engine) -> None:
    rows = _by_customer(customer_summary(engine, observation_end=END, unit="day"))
    assert sorted(rows) == ["CANC", "LAST", "NEG", "ONE", "SAME", "ZERO"]
    assert rows["ONE"] | {"first_purchase_date": None} == {
        "frequency": 0, "recency": 0.0, "T": 28.0, "monetary_value": 0.0,
        "first_purchase_date": None,
    }  # fmt: skip
    assert (rows["LAST"]["frequency"], rows["LAST"]["T"]) == (0, 0.0)
    assert rows["LAST"]["first_purchase_date"] == pd.Timestamp(END)
    # 03-17's two orders are one purchase of 10.0
    assert (rows["SAME"]["frequency"], rows["SAME"]["recency"]) == (1, 7.0)
    assert rows["SAME"]["monetary_value"] == 10.0
    # repeats 0.0 and 10.0: mean 5.0, as lifetimes
    assert (rows["ZERO"]["frequency"], rows["ZERO"]["monetary_value"]) == (2, 5.0)
    # the cancelled orders count for nothing: first purchase 03-09, no repeat
    assert (rows["CANC"]["frequency"], rows["CANC"]["T"], rows["CANC"]["monetary_value"]) == (
        0, 22.0, 0.0,
    )  # fmt: skip
    assert rows["CANC"]["first_purchase_date"] == pd.Timestamp("2025-03-09")
    assert rows["NEG"]["monetary_value"] == (-4.0 + 2.5) / 2


@pytest.mark.parametrize("unit", UNITS)
def test_edge_cases_equal_lifetimes(engine: Engine, unit: str) -> None:
    purchases = EDGES[EDGES["is_purchase"]][["customer_id", "order_ts", "amount"]]
    ours = customer_summary(engine, observation_end=END, unit=unit)
    assert_equal_to_lifetimes(
        ours.drop(columns="first_purchase_date"),
        lifetimes_summary(purchases, observation_end=END, unit=unit),
    )
    split = calibration_holdout(
        engine, calibration_end="2025-03-09", observation_end=END, unit=unit
    )
    assert_equal_to_lifetimes(
        split,
        lifetimes_split(purchases, calibration_end="2025-03-09", observation_end=END, unit=unit),
    )


def test_week_units(engine: Engine) -> None:
    week = _by_customer(customer_summary(engine, observation_end=END, unit="week"))
    day = _by_customer(customer_summary(engine, observation_end=END, unit="day"))
    for customer, values in week.items():
        assert values["T"] == day[customer]["T"] / UNIT_DAYS["week"]
        assert values["recency"] == day[customer]["recency"] / 7
    # ZERO: Sat 03-01, Sat 03-08, Sat 03-15 are three ISO weeks; NEG's Mon-Wed orders are one
    calendar = _by_customer(customer_summary(engine, observation_end=END, unit="calendar_week"))
    assert (calendar["ZERO"]["frequency"], calendar["ZERO"]["T"]) == (2, 5.0)
    assert (calendar["NEG"]["frequency"], calendar["NEG"]["monetary_value"]) == (0, 0.0)
    assert calendar["NEG"]["T"] == 4.0  # Monday 03-03 to Monday 03-31


def test_calibration_holdout_by_hand(engine: Engine) -> None:
    split = calibration_holdout(
        engine, calibration_end="2025-03-09", observation_end=END, unit="day"
    )
    rows = _by_customer(split)
    # customers: first purchase by 03-09; LAST (03-31) joins after the calibration
    assert sorted(rows) == ["CANC", "NEG", "ONE", "ZERO"]
    assert rows["ZERO"] == {
        "frequency_cal": 1, "recency_cal": 7.0, "T_cal": 8.0, "monetary_value_cal": 0.0,
        "frequency_holdout": 1, "monetary_value_holdout": 10.0, "duration_holdout": 22.0,
    }  # fmt: skip
    assert (rows["CANC"]["frequency_holdout"], rows["CANC"]["monetary_value_holdout"]) == (0, 0.0)
    assert summary_units(split) == "day"


def test_holdout_mean_is_per_order(engine: Engine) -> None:
    split = calibration_holdout(
        engine, calibration_end="2025-03-09", observation_end=END, unit="day"
    )
    assert "SAME" not in set(
        split["customer_id"]
    )  # first purchase 03-10: not a calibration customer
    split = calibration_holdout(
        engine, calibration_end="2025-03-10", observation_end=END, unit="day"
    )
    same = _by_customer(split)["SAME"]
    # calibration: 03-10; holdout: 03-17's two orders (4.0 + 6.0), one period
    assert (same["frequency_cal"], same["frequency_holdout"]) == (0, 1)
    assert same["monetary_value_holdout"] == 5.0  # (4.0 + 6.0) / 2 orders, as lifetimes


def test_leap_day_and_refund_only_days_by_hand() -> None:
    """Customer-day facts: a refund-only day is no purchase day, 02-29 is a day like another."""
    orders = with_fact_columns(purchase_transactions(
        [
            ("L1", "LEAP", "2024-02-28 10:00", 10.0, True),
            ("L2", "LEAP", "2024-02-29 09:00", 4.0, True),  # two orders on the leap day
            ("L3", "LEAP", "2024-02-29 21:00", 6.0, True),
            ("R1", "LEAP", "2024-03-01 12:00", -5.0, False),  # an unmatched refund only
            ("L4", "LEAP", "2024-03-04 12:00", 30.0, True),
            ("R2", "LEAP", "2024-03-05 12:00", -3.0, False),  # refund after the last purchase
            ("R3", "RET", "2024-02-29 12:00", -7.0, False),  # returns only: not a customer
        ]
    ))  # fmt: skip
    purchases = orders[orders["is_purchase"]][["customer_id", "order_ts", "amount"]]
    with Engine(threads=1) as eng:
        eng.register("transactions", orders)
        summary = customer_summary(eng, observation_end="2024-03-10", unit="day")
        split = calibration_holdout(
            eng, calibration_end="2024-02-29", observation_end="2024-03-10", unit="day"
        )
    leap = _by_customer(summary)["LEAP"]
    assert list(_by_customer(summary)) == ["LEAP"]
    # purchase days 02-28, 02-29 (merged: 10.0), 03-04: recency 5 days across the leap day
    assert (leap["frequency"], leap["recency"], leap["T"]) == (2, 5.0, 11.0)
    assert leap["monetary_value"] == (10.0 + 30.0) / 2
    assert_equal_to_lifetimes(
        summary.drop(columns="first_purchase_date"),
        lifetimes_summary(purchases, observation_end="2024-03-10", unit="day"),
    )
    held = _by_customer(split)["LEAP"]
    assert (held["frequency_cal"], held["T_cal"], held["monetary_value_cal"]) == (1, 1.0, 10.0)
    # the refund days are not holdout purchases; 03-04's one order of 30.0
    assert (held["frequency_holdout"], held["monetary_value_holdout"]) == (1, 30.0)
    assert_equal_to_lifetimes(
        split,
        lifetimes_split(
            purchases, calibration_end="2024-02-29", observation_end="2024-03-10", unit="day"
        ),
    )


@pytest.mark.parametrize(
    ("calibration_end", "observation_end", "message"),
    [
        ("2025-03-31", "2025-03-31", "holdout period would be empty"),
        ("2025-04-10", "2025-03-31", "is not before observation_end"),
        ("2025-02-01", "2025-03-31", "no customer has a purchase on or before"),
    ],
    ids=["equal-ends", "reversed-ends", "no-calibration-customer"],
)
def test_bad_splits_are_explained(
    engine: Engine, calibration_end: str, observation_end: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        calibration_holdout(
            engine, calibration_end=calibration_end, observation_end=observation_end
        )


def test_a_holdout_without_any_purchase_is_zeros_and_said() -> None:
    """Data that ended before the holdout: zeros and a note for the page, not an error (05_clv
    stopped here with a ValueError; the guide asks a stage to say why and go on)."""
    orders = with_fact_columns(purchase_transactions(
        [("O1", "A", "2025-01-05 10:00", 10.0, True), ("O2", "A", "2025-01-20 10:00", 5.0, True)]
    ))  # fmt: skip
    with Engine(threads=1) as eng:
        eng.register("transactions", orders)
        split = calibration_holdout(eng, calibration_end="2025-01-31", observation_end="2025-03-31")
        summary = customer_summary(eng, observation_end="2025-03-31")
    assert split["customer_id"].tolist() == ["A"] and split.loc[0, "frequency_holdout"] == 0
    note = split.attrs["holdout_note"]
    assert note.startswith("Nobody bought anything after 2025-01-31 (to 2025-03-31)")
    assert note in describe_summary(summary, split, unit="week", min_cell_size=1)


def test_holdout_with_only_new_customers_is_zeros(caplog: pytest.LogCaptureFixture) -> None:
    orders = with_fact_columns(purchase_transactions(
        [("O1", "CUST-SECRET-1", "2025-01-05 10:00", 10.0, True),
         ("O2", "CUST-SECRET-2", "2025-02-20 10:00", 5.0, True)]
    ))  # fmt: skip
    with Engine(threads=1) as eng, caplog.at_level(logging.INFO, logger="crmlib"):
        eng.register("transactions", orders)
        split = calibration_holdout(
            eng, calibration_end="2025-01-31", observation_end="2025-03-31", unit="day"
        )
    assert split["customer_id"].tolist() == ["CUST-SECRET-1"]
    assert split.loc[0, "frequency_holdout"] == 0
    assert "no calibration customer purchased in the holdout" in caplog.text
    assert "CUST-SECRET" not in caplog.text


def test_no_purchase_gives_an_empty_summary(engine: Engine) -> None:
    summary = customer_summary(engine, observation_end="2024-12-31")
    assert summary.empty and list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary.dtypes.astype(str).to_dict() == {
        "customer_id": "str", "frequency": "int64", "recency": "float64", "T": "float64",
        "monetary_value": "float64", "first_purchase_date": "datetime64[us]",
    }  # fmt: skip


def test_logs_say_counts_without_ids(caplog: pytest.LogCaptureFixture) -> None:
    orders = with_fact_columns(
        purchase_transactions([("O1", "CUST-SECRET-9", "2025-01-05 10:00", 10.0, True)])
    )
    with Engine(threads=1) as eng, caplog.at_level(logging.DEBUG, logger="crmlib"):
        eng.register("transactions", orders)
        customer_summary(eng, observation_end="2025-01-31")
    assert "1 customers, 0 with a repeat purchase" in caplog.text
    assert "CUST-SECRET" not in caplog.text


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("drop", ["customer_id", "order_ts", "amount", "is_purchase"])
def test_missing_column_is_named(drop: str) -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", EDGES.drop(columns=drop))
        with pytest.raises(DataContractError, match=f"transactions: column '{drop}' is missing"):
            customer_summary(eng, observation_end=END)
        with pytest.raises(DataContractError, match=f"column '{drop}'"):
            calibration_holdout(eng, calibration_end="2025-03-09", observation_end=END)


def test_missing_table_names_the_stage() -> None:
    with Engine(threads=1) as eng:
        with pytest.raises(StageInputMissing, match="run 01_ingest first"):
            customer_summary(eng, observation_end=END)
        with pytest.raises(StageInputMissing, match="table 'orders'"):
            calibration_holdout(
                eng, calibration_end="2025-03-09", observation_end=END, transactions="orders"
            )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unit": "month"}, "unit='month'"),
        ({"unit": "W"}, "expected one of"),
        ({"observation_end": "not-a-date"}, "observation_end='not-a-date': expected a date"),
        ({"first_purchase_from": "2025-04-01"}, "first_purchase_from=2025-04-01 is after"),
    ],
    ids=["month", "pandas-alias", "bad-date", "first-after-end"],
)
def test_bad_options(engine: Engine, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        customer_summary(engine, **{"observation_end": END, **options})


def test_bad_unit_in_split(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unit='days'"):
        calibration_holdout(engine, calibration_end="2025-03-09", observation_end=END, unit="days")


def test_summary_units_reads_and_checks_attrs(engine: Engine) -> None:
    summary = customer_summary(engine, observation_end=END, unit="calendar_week")
    assert summary_units(summary) == "calendar_week"
    assert summary.attrs == {"unit": "calendar_week", "observation_end": END}
    stripped = summary.copy()
    stripped.attrs = {"unit": "fortnight"}
    with pytest.raises(ValueError, match=r"found 'fortnight'"):
        summary_units(stripped)


def test_arguments_are_not_mutated(engine: Engine) -> None:
    before = EDGES.copy()
    customer_summary(engine, observation_end=dt.date(2025, 3, 31))
    pd.testing.assert_frame_equal(EDGES, before)


def test_sql_transpiles_to_spark() -> None:
    """The portable-subset rule of crmlib/sql: the files parse and transpile to Spark SQL."""
    for name in ("clv_summary", "clv_calibration_holdout", "clv_daily_repeats"):
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: f"t_{m.group(1)}", load_sql(name))
        spark = sqlglot.transpile(text, read="duckdb", write="spark")
        assert spark and all(statement.strip() for statement in spark), name
        assert "FILTER" not in text.upper().replace("-- ", "")
        if name != "clv_daily_repeats":
            assert "MIN_BY" in spark[0]
