"""Tests of the churn feature table: hand-computed values, the label, no leakage, edge cases, the sample."""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlglot
from contract_tables import contract_transactions

from crmlib.churn.queries import (
    _NO_CUSTOMERS,
    _NO_EVENTS,
    CATEGORICAL_FEATURES,
    _engagement_sql,
    _window_sql,
    active_customers_count,
    churn_features,
    numeric_features,
    purchase_gaps_table,
)
from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.facts import purchase_facts

ROOT = Path(__file__).resolve().parents[1]
CUTOFF = "2025-06-30"
#: the label window of CUTOFF with horizon 90 ends on 2025-09-28 (inclusive)
OBSERVED_UNTIL = "2025-12-31"
NUMERIC = numeric_features()
COLUMNS = ["customer_id", "churned", *NUMERIC, *CATEGORICAL_FEATURES]

# Cutoff 2025-06-30: features see order_ts < 2025-07-01 00:00. Windows start at
# 2025-06-01 (30 d), 2025-04-02 (90 d), 2024-07-01 (365 d = lookback); the trend's prior 90 days
# are [2025-01-02, 2025-04-02). Label window: [2025-07-01, 2025-09-29).
TRANSACTIONS = contract_transactions(
    [
        # A: six purchases (two on 2025-06-10, one on the cutoff day), a partial refund, a
        # cancelled order; one purchase on the day after the cutoff (label only)
        ("A1", "A", "2024-03-10 10:00:00", 100.0, 100.0, 0.0, "purchase", "coffee"),
        ("A2", "A", "2025-01-15 09:00:00", 40.0, 40.0, 0.0, "purchase", "mugs"),
        ("A3", "A", "2025-05-20 12:00:00", 40.0, 60.0, -20.0, "purchase", "coffee"),
        ("A4", "A", "2025-06-10 08:00:00", 25.0, 25.0, 0.0, "purchase", "mugs"),
        ("A5", "A", "2025-06-10 18:00:00", 15.0, 15.0, 0.0, "purchase", "books"),
        ("AX", "A", "2025-06-20 11:00:00", 0.0, 80.0, -80.0, "cancelled", "toys"),
        ("A6", "A", "2025-06-30 23:30:00", 30.0, 30.0, 0.0, "purchase", "coffee"),
        ("A7", "A", "2025-07-01 00:00:00", 50.0, 50.0, 0.0, "purchase", "toys"),
        # B: two purchases, an unmatched refund; next purchase on the day after the label window
        ("B1", "B", "2024-08-01 10:00:00", 200.0, 200.0, 0.0, "purchase", "books"),
        ("B2", "B", "2024-12-01 10:00:00", 50.0, 50.0, 0.0, "purchase", "books"),
        ("row-9", "B", "2025-06-15 10:00:00", -10.0, 0.0, -10.0, "return", "books"),
        ("B4", "B", "2025-09-29 00:00:00", 70.0, 70.0, 0.0, "purchase", "books"),
        # C: only buys after the cutoff (absent); D: last purchase 1 s before the lookback
        ("C1", "C", "2025-07-05 10:00:00", 20.0, 20.0, 0.0, "purchase", "toys"),
        ("D1", "D", "2024-06-30 23:59:59", 20.0, 20.0, 0.0, "purchase", "toys"),
        ("D2", "D", "2025-08-01 10:00:00", 20.0, 20.0, 0.0, "purchase", "toys"),
        # E: one purchase at the very start of the lookback, no category, no customers row
        ("E1", "E", "2024-07-01 00:00:00", 10.0, 10.0, 0.0, "purchase", None),
        # F: one purchase in the trend's prior window; buys on the last second of the label window
        ("F1", "F", "2025-03-01 10:00:00", 20.0, 20.0, 0.0, "purchase", "toys"),
        ("F2", "F", "2025-09-28 23:59:59", 20.0, 20.0, 0.0, "purchase", "toys"),
    ]
)

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": pd.array(["A", "B", "C", "D", "F", "Z"], dtype="str"),
        "signup_ts": pd.to_datetime(["2024-03-01"] * 6).astype("datetime64[us]"),
        "acquisition_channel": pd.array(
            ["email_referral", None, "social", "social", "social", "affiliate"], dtype="str"
        ),
        "region": pd.array([" north ", "", "east", "east", "west", "south"], dtype="str"),
        "birth_year": pd.array([1980, None, 1990, 1990, 2001, 1970], dtype="Int64"),
        "email_opt_in": pd.array([True, False, True, True, True, True], dtype="boolean"),
        "sms_opt_in": pd.array([False, None, True, True, True, True], dtype="boolean"),
        "push_opt_in": pd.array([None, True, True, True, True, True], dtype="boolean"),
        "loyalty_tier": pd.array(["gold", "none", "silver", "none", None, "gold"], dtype="str"),
    }
)


def _events(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "event_ts", "channel", "event_type"])
    return frame.assign(
        event_ts=pd.to_datetime(frame["event_ts"]).astype("datetime64[us]"),
        campaign_id="CMP-1",
    )


# Engagement windows start at 2025-06-01 (30 d) and 2025-04-02 (90 d); events from 2025-07-01 on
# are after the cutoff.
EVENTS = _events(
    [
        ("A", "2025-03-05 09:00:00", "email", "sent"),  # before both windows
        ("A", "2025-05-05 09:00:00", "email", "sent"),  # 90 d
        ("A", "2025-05-06 09:00:00", "email", "open"),  # 90 d
        ("A", "2025-06-05 09:00:00", "sms", "sent"),  # 30 d
        ("A", "2025-06-06 09:00:00", "sms", "open"),  # 30 d
        ("A", "2025-06-06 09:01:00", "sms", "click"),  # 30 d
        ("A", "2025-06-30 23:59:59", "push", "sent"),  # 30 d, last second
        ("A", "2024-12-01 09:00:00", "email", "unsubscribe"),  # ever, in no window
        ("A", "2025-07-05 09:00:00", "email", "sent"),  # after the cutoff
        ("A", "2025-07-06 09:00:00", "email", "open"),  # after the cutoff
        ("B", "2025-07-02 09:00:00", "email", "unsubscribe"),  # after the cutoff
        ("F", "2025-04-10 09:00:00", "email", "sent"),  # 90 d
        ("F", "2025-04-11 09:00:00", "email", "open"),  # 90 d
        ("F", "2025-06-15 09:00:00", "email", "unsubscribe"),  # 30 d
    ]
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TRANSACTIONS)
        eng.register("customers", CUSTOMERS)
        eng.register("events", EVENTS)
        yield eng


def _features(engine: Engine, **kwargs: object) -> pd.DataFrame:
    options: dict[str, object] = {"cutoff": CUTOFF, "observed_until": OBSERVED_UNTIL}
    options.update(kwargs)
    return churn_features(engine, **options)  # type: ignore[arg-type]


# -- hand-computed values --------------------------------------------------------------------
NAN = math.nan
EXPECTED: dict[str, list[object]] = {
    "customer_id": ["A", "B", "E", "F"],
    # A: A7 on 2025-07-01 is in the label window; B: B4 on 2025-09-29 is the day after it;
    # E: nothing after; F: F2 on 2025-09-28 23:59:59, the last second of the window
    "churned": [False, True, True, False],
    # A: last purchase A6 on the cutoff day; B: 2024-12-01 -> 2025-06-30 = 211 days;
    # E: 2024-07-01 -> 2025-06-30 = 364 = lookback_days - 1; F: 2025-03-01 -> 121 days
    "recency_days": [0.0, 211.0, 364.0, 121.0],
    # A: 2024-03-10 -> 2025-06-30 = 365 + 112 = 477; B: 2024-08-01 -> 333 (122 + 211)
    "tenure_days": [477.0, 333.0, 364.0, 121.0],
    # since 2025-06-01: A4, A5, A6 (3 orders; the cancelled AX does not count)
    "orders_30d": [3.0, 0.0, 0.0, 0.0],
    # since 2025-04-02: A3, A4, A5, A6
    "orders_90d": [4.0, 0.0, 0.0, 0.0],
    # since 2024-07-01: A2..A6 = 5; B1, B2; E1 (exactly on the lookback start); F1
    "orders_365d": [5.0, 2.0, 1.0, 1.0],
    # A: 25 + 15 + 30 + 0 (AX) = 70; B: the unmatched refund -10 on 2025-06-15
    "spend_30d": [70.0, -10.0, 0.0, 0.0],
    # A: 40 (A3 net of its 20 refund) + 70 = 110
    "spend_90d": [110.0, -10.0, 0.0, 0.0],
    # A: 40 + 110 = 150; B: 200 + 50 - 10 = 240
    "spend_365d": [150.0, 240.0, 10.0, 20.0],
    # A: A1..A6 (A7 is after the cutoff)
    "orders_total": [6.0, 2.0, 1.0, 1.0],
    # A: 100 + 150 = 250
    "spend_total": [250.0, 240.0, 10.0, 20.0],
    # A: purchase days 2024-03-10, 2025-01-15, 2025-05-20, 2025-06-10, 2025-06-30: gaps 311,
    # 125, 21, 20 (the two orders of 2025-06-10 are one day), mean 477 / 4 = 119.25;
    # B: one gap of 122 days; E, F: one purchase day, no gap
    "mean_gap_days": [119.25, 122.0, NAN, NAN],
    # sample sd of A's gaps (statistics.stdev below, an independent computation); B: < 3 days
    "sd_gap_days": [statistics.stdev([311, 125, 21, 20]), NAN, NAN, NAN],
    # A: 0 / 119.25; B: 211 / 122
    "recency_gap_ratio": [0.0, 211.0 / 122.0, NAN, NAN],
    # A: 4 orders since 2025-04-02 - 1 (A2) in [2025-01-02, 2025-04-02); F: 0 - 1 (F1)
    "orders_trend_90d": [3.0, 0.0, 0.0, -1.0],
    # A: 110 - 40; B: -10 - 0; F: 0 - 20
    "spend_trend_90d": [70.0, -10.0, 0.0, -20.0],
    # A: refunds (20 + 80) / gross (40 + 60 + 25 + 15 + 80 + 30 = 250) = 0.4 (A1 is before the
    # lookback); B: 10 / (200 + 50 + 0) = 0.04
    "return_share": [0.4, 0.04, 0.0, 0.0],
    # A: purchases since 2024-07-01 in mugs, coffee, books (toys only on the cancelled order);
    # E: its only purchase has no category
    "category_count": [3.0, 1.0, 0.0, 1.0],
    # 2025 - 1980; B: no birth year; E: no customers row; 2025 - 2001
    "age_years": [45.0, NAN, NAN, 24.0],
    "email_opt_in": [1.0, 0.0, NAN, 1.0],
    "sms_opt_in": [0.0, NAN, NAN, 1.0],
    "push_opt_in": [NAN, 1.0, NAN, 1.0],
    # A: sent 06-05 and 06-30 23:59:59; open 06-06; click 06-06; F: unsubscribe 06-15
    "sends_30d": [2.0, 0.0, 0.0, 0.0],
    "opens_30d": [1.0, 0.0, 0.0, 0.0],
    "clicks_30d": [1.0, 0.0, 0.0, 0.0],
    "unsubscribes_30d": [0.0, 0.0, 0.0, 1.0],
    # A: + sent 05-05, open 05-06 (the 03-05 send is older, 07-05/07-06 after the cutoff)
    "sends_90d": [3.0, 0.0, 0.0, 1.0],
    "opens_90d": [2.0, 0.0, 0.0, 1.0],
    "clicks_90d": [1.0, 0.0, 0.0, 0.0],
    "unsubscribes_90d": [0.0, 0.0, 0.0, 1.0],
    # A: 2 / 3; B, E: no send; F: 1 / 1
    "open_rate_90d": [2.0 / 3.0, NAN, NAN, 1.0],
    # A: 2024-12-01; B's unsubscribe is after the cutoff
    "unsubscribed_ever": [1.0, 0.0, 0.0, 1.0],
    "acquisition_channel": ["email_referral", "(unknown)", "(unknown)", "social"],
    # " north " is stripped, "" is unknown
    "region": ["north", "(unknown)", "(unknown)", "west"],
    # crmlib.segments.age_bands: 45 -> "45–54", 24 -> "<25"
    "age_band": ["45–54", "(unknown)", "(unknown)", "<25"],
    "loyalty_tier": ["gold", "none", "(unknown)", "(unknown)"],
}


def _expected_frame() -> pd.DataFrame:
    return pd.DataFrame(EXPECTED).astype(
        {
            "customer_id": "str",
            "churned": "bool",
            **dict.fromkeys(NUMERIC, "float64"),
            **dict.fromkeys(CATEGORICAL_FEATURES, "str"),
        }
    )[COLUMNS]


def test_every_column_equals_the_hand_computation(engine: Engine) -> None:
    table = _features(engine)
    assert list(table.columns) == COLUMNS
    # rtol 1e-12: sums of cents and one division; the hand values are exact or a float ratio
    pd.testing.assert_frame_equal(table, _expected_frame(), rtol=1e-12, atol=0)
    assert table.attrs == {
        "cutoff": "2025-06-30",
        "lookback_days": 365,
        "horizon_days": 90,
        "notes": [],
    }


def test_dtypes(engine: Engine) -> None:
    table = _features(engine)
    assert table["customer_id"].dtype == "str"
    assert table["churned"].dtype == bool
    assert (table[list(NUMERIC)].dtypes == "float64").all()
    assert all(table[column].dtype == "str" for column in CATEGORICAL_FEATURES)


def test_without_label_and_other_windows(engine: Engine) -> None:
    table = churn_features(
        engine, cutoff=CUTOFF, with_label=False, windows_days=(7, 60), engagement_windows_days=(14,)
    )
    numeric = numeric_features((7, 60), (14,))
    assert list(table.columns) == ["customer_id", *numeric, *CATEGORICAL_FEATURES]
    # since 2025-06-24: A6; since 2025-05-02: A3, A4, A5, A6 (net 40 + 25 + 15 + 30 + 0)
    assert table["orders_7d"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert table["spend_60d"].tolist() == [110.0, -10.0, 0.0, 0.0]
    # since 2025-06-17: A's sends on 06-30 only; F's unsubscribe on 06-15 is older
    assert table["sends_14d"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert table["unsubscribes_14d"].tolist() == [0.0, 0.0, 0.0, 0.0]
    # the fixed 90-day columns do not depend on the windows
    assert table["open_rate_90d"].iloc[0] == pytest.approx(2 / 3, rel=1e-12)
    assert table["orders_trend_90d"].tolist() == [3.0, 0.0, 0.0, -1.0]


def test_implausible_birth_year_is_unknown(engine: Engine) -> None:
    # 2025 - 1890 = 135 > 120 and 2025 - 2030 < 0: unknown, as in crmlib.segments.age_bands
    years = pd.array([1890, None, 1990, 1990, 2030, 1970], dtype="Int64")
    engine.register("old", CUSTOMERS.assign(birth_year=years))
    table = _features(engine, customers="old")
    assert table["age_years"].isna().all()
    assert (table["age_band"] == "(unknown)").all()


def test_refund_sign_convention_does_not_matter(engine: Engine) -> None:
    # refund_amount stored >= 0 (the shared brief's convention) instead of <= 0 (01_ingest's)
    engine.register(
        "positive", TRANSACTIONS.assign(refund_amount=TRANSACTIONS["refund_amount"].abs())
    )
    table = _features(engine, transactions="positive")
    assert table["return_share"].tolist() == pytest.approx([0.4, 0.04, 0.0, 0.0], rel=1e-12)


def test_active_customers_count(engine: Engine) -> None:
    # A, B, E, F purchased in [2024-07-01, 2025-07-01); C only after, D only before
    assert active_customers_count(engine, cutoff=CUTOFF, lookback_days=365) == 4
    # lookback 30 days: only A
    assert active_customers_count(engine, cutoff=CUTOFF, lookback_days=30) == 1
    assert len(_features(engine, lookback_days=30)) == 1


# -- the label -------------------------------------------------------------------------------
def test_label_window_edges(engine: Engine) -> None:
    table = _features(engine).set_index("customer_id")
    assert not table.loc["A", "churned"]  # purchase at cutoff + 1 day, 00:00:00
    assert not table.loc["F", "churned"]  # purchase at cutoff + 90 days, 23:59:59
    assert table.loc["B", "churned"]  # purchase at cutoff + 91 days, 00:00:00
    # a cancelled order in the window is not a purchase
    cancelled = pd.concat(
        [
            TRANSACTIONS,
            contract_transactions(
                [("EX", "E", "2025-08-01 10:00:00", 0.0, 30.0, -30.0, "cancelled", "toys")]
            ),
        ],
        ignore_index=True,
    )
    engine.register("transactions", cancelled)
    assert _features(engine).set_index("customer_id").loc["E", "churned"]


def test_label_needs_observed_data(engine: Engine) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "the label window 2025-07-01 to 2025-09-28 (horizon_days=90) is not fully observed: "
            "data exists until 2025-09-27; use a cutoff on or before 2025-06-29"
        ),
    ):
        _features(engine, observed_until="2025-09-27")
    with pytest.raises(ValueError, match="with_label=True needs observed_until"):
        churn_features(engine, cutoff=CUTOFF)
    # the last day of the window observed is enough
    assert len(_features(engine, observed_until="2025-09-28")) == 4


# -- no leakage ------------------------------------------------------------------------------
def _perturb_after_cutoff(
    rng: np.random.Generator, transactions: pd.DataFrame, events: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove, edit and add transactions and events dated on or after 2025-07-01 00:00."""
    end = pd.Timestamp("2025-07-01")
    customers = np.array(["A", "B", "C", "D", "E", "F", "NEW"])
    categories = np.array(["toys", "coffee", "garden", None], dtype=object)

    def later(n: int) -> pd.Series:
        offsets = rng.integers(0, 400 * 86_400, size=n) * 1_000_000  # microseconds
        return pd.Series(end + pd.to_timedelta(offsets, unit="us")).astype("datetime64[us]")

    after = transactions["order_ts"] >= end
    keep = ~after | (rng.random(len(transactions)) < 0.6)
    changed = transactions[keep].reset_index(drop=True)
    edit = (changed["order_ts"] >= end).to_numpy() & (rng.random(len(changed)) < 0.5)
    n_edit = int(edit.sum())
    gross = np.round(rng.uniform(1, 500, n_edit), 2)
    changed.loc[edit, "gross_amount"] = gross
    changed.loc[edit, "refund_amount"] = -np.round(gross * rng.random(n_edit), 2)
    changed.loc[edit, "amount"] = (
        changed.loc[edit, "gross_amount"] + changed.loc[edit, "refund_amount"]
    )
    changed.loc[edit, "category"] = pd.array(rng.choice(categories, n_edit), dtype="str")
    changed.loc[edit, "is_purchase"] = rng.random(n_edit) < 0.8
    n_new = int(rng.integers(0, 8))
    added_gross = np.round(rng.uniform(1, 500, n_new), 2)
    added = contract_transactions(
        [
            (
                f"N{i}",
                str(rng.choice(customers)),
                "2030-01-01",
                added_gross[i],
                added_gross[i],
                0.0,
                "purchase" if rng.random() < 0.8 else "cancelled",
                rng.choice(categories),
            )
            for i in range(n_new)
        ]
    )
    added["order_ts"] = later(n_new).to_numpy()
    if n_new:
        changed = pd.concat([changed, added], ignore_index=True)

    event_after = events["event_ts"] >= end
    new_events = events[~event_after | (rng.random(len(events)) < 0.5)].reset_index(drop=True)
    retype = (new_events["event_ts"] >= end).to_numpy() & (rng.random(len(new_events)) < 0.5)
    new_events.loc[retype, "event_type"] = pd.array(
        rng.choice(["sent", "open", "click", "unsubscribe"], int(retype.sum())), dtype="str"
    )
    n_events = int(rng.integers(0, 8))
    extra = _events(
        [
            (
                str(rng.choice(customers)),
                "2030-01-01",
                "email",
                str(rng.choice(["sent", "open", "click", "unsubscribe"])),
            )
            for _ in range(n_events)
        ]
    )
    extra["event_ts"] = later(n_events).to_numpy()
    if n_events:
        new_events = pd.concat([new_events, extra], ignore_index=True)
    order = rng.permutation(len(changed))
    return changed.iloc[order].reset_index(drop=True), new_events


def test_no_leakage_from_after_the_cutoff(engine: Engine) -> None:
    """30 seeded perturbations of everything dated after the cutoff day: features unchanged."""
    baseline = _features(engine).drop(columns="churned")
    rng = np.random.default_rng(20251231)
    labels_changed = 0
    for _ in range(30):
        transactions, events = _perturb_after_cutoff(rng, TRANSACTIONS, EVENTS)
        assert (transactions["order_ts"] < pd.Timestamp("2025-07-01")).sum() == (
            TRANSACTIONS["order_ts"] < pd.Timestamp("2025-07-01")
        ).sum()
        engine.register("transactions", transactions)
        engine.register("events", events)
        table = _features(engine)
        pd.testing.assert_frame_equal(table.drop(columns="churned"), baseline)
        labels_changed += int(table["churned"].tolist() != EXPECTED["churned"])
    # the perturbations did reach the label (so they did touch the data the features ignore)
    assert labels_changed > 0


def test_inactive_and_future_only_customers_are_absent(engine: Engine) -> None:
    ids = _features(engine)["customer_id"].tolist()
    assert "C" not in ids  # only purchase after the cutoff
    assert "D" not in ids  # last purchase 1 s before the lookback window
    assert "E" in ids  # purchase at the first instant of the lookback window


# -- missing tables, empty results, bad input -------------------------------------------------
@pytest.mark.parametrize(
    ("registered", "empty_columns"),
    [
        (("transactions",), ("age_years", "sends_30d", "open_rate_90d", "unsubscribed_ever")),
        (("transactions", "events"), ("age_years", "email_opt_in", "push_opt_in")),
        (("transactions", "customers"), ("sends_30d", "unsubscribes_90d", "unsubscribed_ever")),
    ],
    ids=["no-customers-no-events", "no-customers", "no-events"],
)
def test_missing_optional_tables(
    registered: tuple[str, ...], empty_columns: tuple[str, ...]
) -> None:
    tables = {"transactions": TRANSACTIONS, "customers": CUSTOMERS, "events": EVENTS}
    with Engine(threads=1) as eng:
        for name in registered:
            eng.register(name, tables[name])
        table = churn_features(eng, cutoff=CUTOFF, observed_until=OBSERVED_UNTIL)
    notes = table.attrs["notes"]
    expected = _expected_frame()
    assert list(table.columns) == COLUMNS
    for column in empty_columns:
        assert table[column].isna().all(), column
    if "customers" not in registered:
        assert any(
            "no customers table" in note and "age_years" in note and "region" in note
            for note in notes
        )
        for column in CATEGORICAL_FEATURES:
            assert (table[column] == "(unknown)").all()
    if "events" not in registered:
        assert any("no events table" in note and "open_rate_90d" in note for note in notes)
        event_columns = [
            c for c in NUMERIC if c.startswith(("sends", "opens", "clicks", "unsubscribes"))
        ]
        assert len(event_columns) == 8
        for column in event_columns:
            assert table[column].isna().all(), column
    # the transaction features do not depend on the optional tables
    transaction_columns = list(numeric_features()[:17])
    pd.testing.assert_frame_equal(table[transaction_columns], expected[transaction_columns])
    assert len(notes) == 3 - len(registered)


@pytest.mark.parametrize(
    ("cutoff", "note"),
    [
        (
            "2020-01-01",
            "cutoff 2020-01-01 is before the first purchase in transactions (2024-03-10)",
        ),
        (
            "2027-06-30",
            "nobody made a purchase in the 365 days up to 2027-06-30; the last purchase",
        ),
    ],
    ids=["before-data", "after-data"],
)
def test_no_active_customer_gives_an_empty_table(engine: Engine, cutoff: str, note: str) -> None:
    table = churn_features(engine, cutoff=cutoff, with_label=False)
    expected = _expected_frame().drop(columns="churned").iloc[:0]
    pd.testing.assert_frame_equal(table, expected, check_index_type=False)
    assert any(note in text for text in table.attrs["notes"]), table.attrs["notes"]
    labelled = churn_features(engine, cutoff=cutoff, observed_until="2030-12-31")
    assert list(labelled.columns) == COLUMNS and labelled.empty
    assert labelled["churned"].dtype == bool


def test_no_purchase_at_all() -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", TRANSACTIONS.assign(is_purchase=False))
        table = churn_features(eng, cutoff=CUTOFF, with_label=False)
    assert table.empty
    assert "transactions holds no purchase" in table.attrs["notes"][-1]


def test_bad_input(engine: Engine) -> None:
    engine.register("thin", TRANSACTIONS.drop(columns="gross_amount"))
    with pytest.raises(DataContractError, match="thin: column 'gross_amount' is missing"):
        _features(engine, transactions="thin")
    with pytest.raises(StageInputMissing, match="'nowhere' is not registered"):
        _features(engine, transactions="nowhere")
    engine.register("no_type", EVENTS.drop(columns="event_type"))
    with pytest.raises(DataContractError, match="no_type: column 'event_type' is missing"):
        _features(engine, events="no_type")
    engine.register("twice", pd.concat([CUSTOMERS, CUSTOMERS.iloc[[0]]], ignore_index=True))
    with pytest.raises(DataContractError, match="twice: column 'customer_id' is not unique: 'A'"):
        _features(engine, customers="twice")
    with pytest.raises(ValueError, match="cutoff='soon'"):
        _features(engine, cutoff="soon")
    with pytest.raises(ValueError, match="lookback_days=0"):
        _features(engine, lookback_days=0)
    with pytest.raises(ValueError, match="windows_days=\\(30, 30\\): expected distinct"):
        _features(engine, windows_days=(30, 30))
    with pytest.raises(ValueError, match="engagement_windows_days='30'"):
        numeric_features(engagement_windows_days="30")  # type: ignore[arg-type]


def test_result_can_be_edited_in_place(engine: Engine) -> None:
    table = _features(engine)
    table.loc[0, "recency_days"] = 99.0
    table["spend_30d"] += 1.0
    table.loc[1, "region"] = "south"
    assert table.loc[0, "recency_days"] == 99.0 and table.loc[0, "spend_30d"] == 71.0
    assert table.loc[1, "region"] == "south"
    # a second call is not affected
    assert _features(engine).loc[0, "recency_days"] == 0.0


def test_arguments_are_not_mutated(engine: Engine) -> None:
    before = (TRANSACTIONS.copy(), CUSTOMERS.copy(), EVENTS.copy())
    _features(engine)
    for frame, copy in zip((TRANSACTIONS, CUSTOMERS, EVENTS), before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


def test_numeric_feature_order() -> None:
    assert numeric_features((30, 90, 365), (30, 90)) == (
        "recency_days", "tenure_days", "orders_30d", "orders_90d", "orders_365d", "spend_30d",
        "spend_90d", "spend_365d", "orders_total", "spend_total", "mean_gap_days", "sd_gap_days",
        "recency_gap_ratio", "orders_trend_90d", "spend_trend_90d", "return_share",
        "category_count", "age_years", "email_opt_in", "sms_opt_in", "push_opt_in", "sends_30d",
        "opens_30d", "clicks_30d", "unsubscribes_30d", "sends_90d", "opens_90d", "clicks_90d",
        "unsubscribes_90d", "open_rate_90d", "unsubscribed_ever",
    )  # fmt: skip
    assert CATEGORICAL_FEATURES == ("acquisition_channel", "region", "age_band", "loyalty_tier")


@pytest.mark.parametrize("optional", ["present", "missing"])
def test_sql_transpiles_to_spark(optional: str) -> None:
    """The portable subset of crmlib/sql: the rendered queries transpile to Spark SQL."""
    present = optional == "present"
    values = {
        "transactions": "t_transactions",
        "customer_days": "t_days",
        "customer_facts": "t_facts",
        "events": "t_events" if present else _NO_EVENTS,
        "customers": "t_customers" if present else _NO_CUSTOMERS,
        "window_aggregates": _window_sql((30, 90, 365)),
        "purchase_gaps": "t_gaps",
        "target": "t_gaps",
        "purchase_features": "t_purchases",
        **_engagement_sql((30, 90)),
    }
    names = (
        "churn_features_purchases",
        "churn_features",
        "churn_purchase_gaps",
        "churn_active_count",
        "churn_purchase_span",
    )
    for name in names:
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values[m.group(1)], load_sql(name))
        (spark,) = sqlglot.transpile(text, read="duckdb", write="spark")
        assert "FILTER" not in spark.upper(), name
        if name == "churn_features_purchases":
            assert "DATEDIFF" in spark and "t_gaps" in spark
        if name == "churn_features":
            assert "t_purchases" in spark
            assert ("t_events" in spark) == present
        if name == "churn_purchase_gaps":
            assert "DATEDIFF" in spark and "LAG(" in spark.upper()


# -- the embedded sample, through 01_ingest --------------------------------------------------
@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """01_ingest on params/default.yaml into a temporary run folder, its tables registered."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    if not (ROOT / "data" / "sample" / "transactions.csv.gz").is_file():
        pytest.fail("data/sample is missing: regenerate it with `python -m crmlib.synth`")
    params = load_params(ROOT / "params" / "default.yaml")
    run = RunFolder(tmp_path_factory.mktemp("churn_features") / "sample")
    run_ingest(params, run)
    with Engine(threads=2) as eng:
        run.register(eng, "transactions", "customers", "events")
        yield eng


def test_sample_at_a_cutoff(sample_engine: Engine) -> None:
    cutoff = dt.date(2025, 7, 4)
    table = churn_features(sample_engine, cutoff=cutoff, observed_until="2025-12-31")
    # independent count in pandas: purchases in [2024-07-05 00:00, 2025-07-05 00:00)
    canonical = sample_engine.query(
        "SELECT customer_id, order_ts, amount, is_purchase FROM transactions"
    )
    end = pd.Timestamp("2025-07-05")
    purchases = canonical[canonical["is_purchase"]]
    in_window = purchases[
        (purchases["order_ts"] >= end - pd.Timedelta(days=365)) & (purchases["order_ts"] < end)
    ]
    assert len(table) == in_window["customer_id"].nunique() > 100
    assert table["customer_id"].tolist() == sorted(in_window["customer_id"].unique())
    assert active_customers_count(sample_engine, cutoff=cutoff) == len(table)
    assert 0.0 < table["churned"].mean() < 1.0
    assert table["recency_days"].max() <= 365 - 1
    assert table.attrs["notes"] == []
    # orders_365d and spend_total recomputed with pandas (every row before the end counts
    # towards spend); 1e-6: cents summed in another order
    orders = in_window.groupby("customer_id").size()
    np.testing.assert_array_equal(table["orders_365d"], orders.loc[table["customer_id"]].to_numpy())
    before = canonical[canonical["order_ts"] < end]
    spend = before.groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(
        table["spend_total"], spend.loc[table["customer_id"]], rtol=0, atol=1e-6
    )
    # the label recomputed with pandas: a purchase in [2025-07-05, 2025-10-03)
    label_end = end + pd.Timedelta(days=90)
    buyers = set(
        purchases.loc[
            (purchases["order_ts"] >= end) & (purchases["order_ts"] < label_end), "customer_id"
        ]
    )
    np.testing.assert_array_equal(table["churned"], ~table["customer_id"].isin(buyers))
    assert (
        table[list(NUMERIC)]
        .drop(
            columns=[
                "mean_gap_days",
                "sd_gap_days",
                "recency_gap_ratio",
                "open_rate_90d",
                "age_years",
                "email_opt_in",
                "sms_opt_in",
                "push_opt_in",
            ]
        )
        .notna()
        .all()
        .all()
    )


def test_gaps_built_for_a_later_cutoff_serve_an_earlier_one() -> None:
    """churn_tables builds the purchase gaps once, for its latest cutoff: an earlier cutoff's
    features from that table equal those from gaps built for the cutoff itself (a gap depends
    only on earlier purchases), with same-day orders, equal timestamps and later purchases."""
    orders = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "B", "C"],
        "order_ts": pd.to_datetime([
            "2025-01-05 10:00", "2025-01-05 18:00", "2025-02-01 09:00", "2025-02-01 09:00",
            "2025-03-15 12:00", "2025-01-10 08:00", "2025-02-20 08:00", "2025-06-01 08:00",
            "2025-02-25 08:00",
        ]),
        "amount": 10.0, "gross_amount": 10.0, "refund_amount": 0.0, "category": "books",
        "is_purchase": True,
    })  # fmt: skip
    with Engine(threads=1) as engine:
        engine.register("transactions", orders)
        own = churn_features(engine, cutoff="2025-03-31", with_label=False)
        left = (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name LIKE 'churn_%' OR table_name LIKE 'facts_%'"
        )
        assert engine.query(left).empty  # its own gaps and facts tables are dropped
        with purchase_facts(engine) as facts:
            shared = purchase_gaps_table(
                engine, name="later_gaps", end_ts=dt.datetime(2025, 7, 1), facts=facts
            )
            from_later = churn_features(
                engine, cutoff="2025-03-31", with_label=False, purchase_gaps=shared, facts=facts
            )
        assert engine.has_table(shared)  # the caller's table is left for its other cutoffs
    pd.testing.assert_frame_equal(own, from_later)
    gaps = own.set_index("customer_id")[["mean_gap_days", "sd_gap_days"]]
    assert gaps.loc["A"].tolist() == [34.5, pytest.approx(statistics.stdev([27, 42]))]
    assert gaps.loc["B", "mean_gap_days"] == 41.0 and math.isnan(gaps.loc["B", "sd_gap_days"])
    assert math.isnan(gaps.loc["C", "mean_gap_days"])
