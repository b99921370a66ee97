"""Tests of crmlib.experiments.queries.outcomes: per-assignment experiment outcomes built in SQL."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot

from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.experiments.queries.outcomes import _NO_EVENTS, OUTCOME_COLUMNS, experiment_outcomes
from crmlib.privacy import small_counts_in_html

ROOT = Path(__file__).resolve().parents[1]
NAN = np.nan
ASSIGNED_A = "2025-10-01 09:00:00"  # exp-a: window ends 10-31 09:00, retention 12-30 09:00
ASSIGNED_B = "2025-12-15 12:00:00"  # exp-b: window ends 2026-01-14 12:00, open on 2025-12-31


def _assignments() -> pd.DataFrame:
    rows = [
        ("C1", "exp-a", "control", ASSIGNED_A, None),
        ("C2", "exp-a", "treatment", ASSIGNED_A, 1.5),
        ("C3", "exp-a", "treatment", ASSIGNED_A, 1.5),
        ("C4", "exp-a", "control", ASSIGNED_A, 0.0),
        ("C5", "exp-a", "control", ASSIGNED_A, 0.0),  # C5 has two variants of exp-a: excluded
        ("C5", "exp-a", "treatment", ASSIGNED_A, 1.5),
        ("C1", "exp-b", "treatment", ASSIGNED_B, 2.0),
        ("C5", "exp-b", "control", ASSIGNED_B, None),
        ("C6", "exp-b", "control", ASSIGNED_B, None),
    ]
    table = pd.DataFrame(
        rows, columns=["customer_id", "experiment_id", "variant", "assigned_ts", "cost"]
    )
    table["assigned_ts"] = pd.to_datetime(table["assigned_ts"])
    return table


def _transactions() -> pd.DataFrame:
    # gross_amount > 0 is a placed order; amount is net of its refunds
    rows = [
        ("C1", "2025-10-01 09:00:00", 99.0, 99.0),  # at assignment: neither window nor pre-period
        ("C1", "2025-10-31 09:00:00", 20.0, 20.0),  # last instant of exp-a's window: inside
        ("C1", "2025-12-20 12:00:00", 30.0, 30.0),  # exp-b: 5 days after assignment
        ("C1", "2026-01-02 10:00:00", 80.0, 80.0),  # after as_of: never read
        ("C2", "2025-08-02 08:59:59", 70.0, 70.0),  # 1 s before the 60-day pre-period
        ("C2", "2025-08-02 09:00:00", 50.0, 50.0),  # first instant of the pre-period
        ("C2", "2025-10-10 12:00:00", 0.0, 25.0),  # cancelled later: placed, counts at net 0
        ("C2", "2025-10-31 09:00:01", 40.0, 40.0),  # 1 s after the window: retained only
        ("C3", "2025-10-02 21:00:00", 10.0, 10.0),
        ("C3", "2025-10-15 08:00:00", 15.5, 20.0),  # partly refunded: net 15.5
        ("C3", "2025-10-20 08:00:00", -5.0, 0.0),  # unmatched return in the window: not an order
        ("C4", "2025-12-30 10:00:00", 12.0, 12.0),  # 1 h after the 90-day retention window
        ("C7", "2025-10-05 10:00:00", 60.0, 60.0),  # never assigned
    ]
    table = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount", "gross_amount"])
    table["order_ts"] = pd.to_datetime(table["order_ts"])
    table["is_purchase"] = table["amount"] > 0
    return table


def _events() -> pd.DataFrame:
    rows = [
        ("C1", "2025-10-01 09:00:00", "open"),  # at assignment: outside the window
        ("C1", "2025-10-05 10:00:00", "open"),
        ("C1", "2025-10-06 10:00:00", "click"),
        ("C1", "2025-10-31 09:00:00", "open"),  # last instant of the window
        ("C1", "2025-11-05 10:00:00", "open"),  # after exp-a's window, before exp-b
        ("C1", "2025-10-05 09:00:00", "sent"),
        ("C2", "2025-10-20 10:00:00", "unsubscribe"),
        ("C6", "2025-12-16 10:00:00", "open"),
        ("C6", "2026-01-02 10:00:00", "click"),  # after as_of: never read
    ]
    table = pd.DataFrame(rows, columns=["customer_id", "event_ts", "event_type"])
    table["event_ts"] = pd.to_datetime(table["event_ts"])
    table["channel"] = "email"
    return table


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("assignments", _assignments())
        eng.register("transactions", _transactions())
        eng.register("events", _events())
        yield eng


# observed_days_total: exp-a 2025-10-01 09:00 -> 2026-01-01 00:00 = 91 days 15 h; exp-b 16.5 days
OBS_A, OBS_B = 91 + 15 / 24, 16.5
#: Hand-computed outcomes at as_of 2025-12-31, window 30, retention 90, pre-period 60 days.
EXPECTED = [
    # exp, cust, variant, ts, cost, closed, days_obs, rep, orders, net, retained,
    # opens, clicks, unsubs, pre_orders, pre_spend, days_to_purchase, observed_days_total
    ("exp-a", "C1", "control", ASSIGNED_A, NAN, True, 30.0, 1.0, 1.0, 20.0, 1.0,
     2.0, 1.0, 0.0, 0.0, 0.0, 30.0, OBS_A),
    ("exp-a", "C2", "treatment", ASSIGNED_A, 1.5, True, 30.0, 1.0, 1.0, 0.0, 1.0,
     0.0, 0.0, 1.0, 1.0, 50.0, 9.125, OBS_A),
    ("exp-a", "C3", "treatment", ASSIGNED_A, 1.5, True, 30.0, 1.0, 2.0, 25.5, 1.0,
     0.0, 0.0, 0.0, 0.0, 0.0, 1.5, OBS_A),
    ("exp-a", "C4", "control", ASSIGNED_A, 0.0, True, 30.0, 0.0, 0.0, 0.0, 0.0,
     0.0, 0.0, 0.0, 0.0, 0.0, 90.0 + 1 / 24, OBS_A),
    ("exp-b", "C1", "treatment", ASSIGNED_B, 2.0, False, OBS_B, 1.0, 1.0, 30.0, NAN,
     0.0, 0.0, 0.0, 1.0, 20.0, 5.0, OBS_B),
    ("exp-b", "C5", "control", ASSIGNED_B, NAN, False, OBS_B, 0.0, 0.0, 0.0, NAN,
     0.0, 0.0, 0.0, 0.0, 0.0, NAN, OBS_B),
    ("exp-b", "C6", "control", ASSIGNED_B, NAN, False, OBS_B, 0.0, 0.0, 0.0, NAN,
     1.0, 0.0, 0.0, 0.0, 0.0, NAN, OBS_B),
]  # fmt: skip


def _expected() -> pd.DataFrame:
    columns = [column for column in OUTCOME_COLUMNS if column != "unsubscribed"]
    table = pd.DataFrame(EXPECTED, columns=columns)
    # unsubscribed: 1.0 for a customer with at least one unsubscribe in the window (C2)
    table.insert(
        columns.index("unsubscribes") + 1, "unsubscribed", table["unsubscribes"].clip(0, 1)
    )
    for column in ("experiment_id", "customer_id", "variant"):
        table[column] = table[column].astype("str")
    table["assigned_ts"] = pd.to_datetime(table["assigned_ts"])
    return table


def test_hand_computed_outcomes(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="crmlib.experiments.queries.outcomes"):
        table = experiment_outcomes(engine, as_of_date="2025-12-31", pre_period_days=60)
    # every value computed by hand from the tables above (comments give the reasons)
    pd.testing.assert_frame_equal(
        table, _expected(), check_dtype=True, check_exact=False, rtol=0, atol=1e-9
    )
    assert table["window_closed"].dtype == bool
    assert table.attrs["excluded_multiple_variants"] == {"exp-a": 1, "exp-b": 0}
    assert "exp-a': 1 customers assigned to more than one variant" in caplog.text
    assert table.attrs["as_of_date"] == "2025-12-31"
    assert table.attrs["pre_period_days"] == 60
    notes = table.attrs["notes"]
    assert len(notes) == 2
    # exp-b has 3 assignments: the notes (shown on the page) count them by the small-cell rule
    assert "'exp-b'" in notes[0]
    assert "30-day outcome window of all assignments (fewer than 10) is still open" in notes[0]
    assert "'exp-b'" in notes[1] and "90-day retention window of all assignments" in notes[1]
    assert not any(small_counts_in_html(f"<p>{note}</p>") for note in notes)
    assert not any(" 3 " in note for note in notes)
    # with a rule of 1 customer the exact counts are given
    exact = experiment_outcomes(
        engine, as_of_date="2025-12-31", pre_period_days=60, min_cell_size=1
    ).attrs["notes"]
    assert "30-day outcome window of 3 of 3 assignments is still open" in exact[0]
    assert "90-day retention window of 3 of 3 assignments" in exact[1]


def test_default_pre_period_and_arguments(engine: Engine) -> None:
    table = experiment_outcomes(engine, as_of_date="2025-12-31").set_index(
        ["experiment_id", "customer_id"]
    )
    # with 365 days, C2's order 1 s before the 60-day edge counts too
    assert table.loc[("exp-a", "C2"), "pre_orders"] == 2.0
    assert table.loc[("exp-a", "C2"), "pre_spend"] == 120.0
    # exp-b 2025-12-15: C1's two October orders (at 10-01 09:00 and 10-31 09:00) are pre-period
    assert table.loc[("exp-b", "C1"), "pre_spend"] == 119.0
    # a 31-day window takes in C2's order at 30 days + 1 s
    wide = experiment_outcomes(engine, as_of_date="2025-12-31", window_days=31).set_index(
        ["experiment_id", "customer_id"]
    )
    assert wide.loc[("exp-a", "C2"), "orders"] == 2.0
    assert wide.loc[("exp-a", "C2"), "net_revenue"] == 40.0
    # a 9-day window ends before the cancelled order (placed 9 days 3 h after assignment)
    short = experiment_outcomes(engine, as_of_date="2025-12-31", window_days=9).set_index(
        ["experiment_id", "customer_id"]
    )
    assert short.loc[("exp-a", "C2"), "repurchase"] == 0.0
    assert short.loc[("exp-a", "C3"), "orders"] == 1.0


def test_as_of_inside_the_window(engine: Engine) -> None:
    engine.register("assignments_a", _assignments().query("experiment_id == 'exp-a'"))
    table = experiment_outcomes(engine, as_of_date="2025-10-10", assignments="assignments_a")
    # the end of 2025-10-10 is 9 days 15 h after assignment
    assert table["days_observed"].tolist() == [9 + 15 / 24] * 4
    assert not table["window_closed"].any()
    # seen by then: C2's (later cancelled) order of 10-10 12:00 and C3's of 10-02, not 10-15
    assert table["repurchase"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert table["orders"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert table["retained"].isna().all()
    assert table["days_to_purchase"].tolist()[2] == 1.5
    assert np.isnan(table["days_to_purchase"].tolist()[0])
    # C1's open of 10-05 is seen, the click of 10-06 too, the open of 10-31 not yet
    assert table["opens"].tolist()[0] == 1.0
    assert table.attrs["excluded_multiple_variants"] == {"exp-a": 1}


EVENT_COLUMNS = ["opens", "clicks", "unsubscribes", "unsubscribed"]


def test_without_events_table(engine: Engine) -> None:
    table = experiment_outcomes(engine, as_of_date="2025-12-31", events="no_such_events")
    for column in ("opens", "clicks", "unsubscribes", "unsubscribed"):
        assert table[column].isna().all()
        assert table[column].dtype == "float64"
    expected = _expected()
    pd.testing.assert_frame_equal(
        table.drop(columns=[*EVENT_COLUMNS, "pre_orders", "pre_spend"]),
        expected.drop(columns=[*EVENT_COLUMNS, "pre_orders", "pre_spend"]),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )
    assert table.attrs["notes"][0].startswith("no events table 'no_such_events'")


def test_without_cost_column(engine: Engine) -> None:
    engine.register("assignments_no_cost", _assignments().drop(columns="cost"))
    table = experiment_outcomes(engine, as_of_date="2025-12-31", assignments="assignments_no_cost")
    assert table["cost"].isna().all() and len(table) == 7
    assert any("no 'cost' column" in note for note in table.attrs["notes"])


def test_repeated_single_variant_keeps_the_first_assignment(engine: Engine) -> None:
    assigned = _assignments()
    again = assigned.iloc[[0]].assign(assigned_ts=pd.Timestamp("2025-10-03 09:00"), cost=9.0)
    engine.register("assignments_repeat", pd.concat([again, assigned], ignore_index=True))
    table = experiment_outcomes(engine, as_of_date="2025-12-31", assignments="assignments_repeat")
    first = table.iloc[0]
    assert (first["experiment_id"], first["customer_id"]) == ("exp-a", "C1")
    assert first["assigned_ts"] == pd.Timestamp(ASSIGNED_A) and np.isnan(first["cost"])
    assert len(table) == 7 and table.attrs["excluded_multiple_variants"]["exp-a"] == 1


def test_no_assignments_gives_an_empty_table(engine: Engine) -> None:
    engine.register("assignments_empty", _assignments().iloc[:0])
    table = experiment_outcomes(engine, as_of_date="2025-12-31", assignments="assignments_empty")
    assert table.empty and list(table.columns) == list(OUTCOME_COLUMNS)
    assert table.attrs["excluded_multiple_variants"] == {}


# -- errors ---------------------------------------------------------------------------------------
def test_assignments_after_as_of(engine: Engine) -> None:
    with pytest.raises(
        DataContractError,
        match=r"assignments: column 'assigned_ts' of experiment 'exp-b': 3 assignments are after "
        r"as_of_date 2025-12-14 \(the first on 2025-12-15\)",
    ):
        experiment_outcomes(engine, as_of_date="2025-12-14")


def test_assignments_without_timestamp(engine: Engine) -> None:
    assigned = _assignments()
    assigned.loc[6, "assigned_ts"] = pd.NaT
    engine.register("assignments_undated", assigned)
    with pytest.raises(DataContractError, match=r"'assigned_ts' of experiment 'exp-b': 1 "):
        experiment_outcomes(engine, as_of_date="2025-12-31", assignments="assignments_undated")


@pytest.mark.parametrize(
    ("view", "match"),
    [
        ("assignments", r"table 'assignments' is not registered.*run 01_ingest"),
        ("transactions", r"table 'transactions' is not registered.*run 01_ingest"),
    ],
    ids=["assignments", "transactions"],
)
def test_missing_view(view: str, match: str) -> None:
    with Engine(threads=1) as eng:
        if view != "assignments":
            eng.register("assignments", _assignments())
        with pytest.raises(StageInputMissing, match=match):
            experiment_outcomes(eng, as_of_date="2025-12-31")


@pytest.mark.parametrize(
    ("table", "column"),
    [("assignments", "variant"), ("transactions", "gross_amount"), ("events", "event_type")],
    ids=["assignments", "transactions", "events"],
)
def test_missing_column(table: str, column: str) -> None:
    frames = {"assignments": _assignments(), "transactions": _transactions(), "events": _events()}
    frames[table] = frames[table].drop(columns=column)
    with Engine(threads=1) as eng:
        for name, frame in frames.items():
            eng.register(name, frame)
        with pytest.raises(DataContractError, match=f"{table}: column '{column}' is missing"):
            experiment_outcomes(eng, as_of_date="2025-12-31")


@pytest.mark.parametrize(
    "kwargs",
    [{"window_days": 0}, {"pre_period_days": 1.5}, {"retention_days": True}, {"as_of_date": "x"}],
    ids=["window", "pre-period", "retention", "as-of"],
)
def test_bad_arguments(engine: Engine, kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"as_of_date": "2025-12-31", **kwargs}
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        experiment_outcomes(engine, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("events", ["present", "missing"])
def test_sql_transpiles_to_spark(events: str) -> None:
    """The portable subset of crmlib/sql: the rendered queries transpile to Spark SQL."""
    values = {
        "assignments": "t_assignments",
        "transactions": "t_transactions",
        "events": "t_events" if events == "present" else _NO_EVENTS,
        "cost": "cost",
    }
    for name in ("experiments_outcomes", "experiments_assignment_checks"):
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values[m.group(1)], load_sql(name))
        (spark,) = sqlglot.transpile(text, read="duckdb", write="spark")
        assert "FILTER" not in spark.upper(), name


# -- the embedded synthetic sample, through 01_ingest --------------------------------------------
@pytest.fixture(scope="module")
def sample_outcomes(sample_ingested: tuple[Any, Any]) -> pd.DataFrame:
    """The outcomes of the sample's experiment, from 01_ingest's canonical tables."""
    params, run = sample_ingested
    with Engine(threads=2) as eng:
        run.register(eng, "transactions", "events", "assignments")
        return experiment_outcomes(eng, as_of_date=params.as_of_date)


def test_sample_outcomes_equal_planted_truth(sample_outcomes: pd.DataFrame) -> None:
    truth = json.loads((ROOT / "data" / "sample" / "truth.json").read_text())["experiment"]
    table = sample_outcomes
    assert table["experiment_id"].unique().tolist() == [truth["experiment_id"]]
    assert (table["assigned_ts"] == pd.Timestamp(truth["assigned_ts"])).all()
    counts = table["variant"].value_counts().to_dict()
    assert counts == {"control": truth["n_control"], "treatment": truth["n_treatment"]}
    # the generator's own outcome ("any positive order in (assigned_ts, assigned_ts + 30 d]"):
    # 93 of 431 and 122 of 448, counting 3 orders that 01_ingest later nets to cancellations
    for variant, rate in truth["realized_30d_repurchase"].items():
        ours = table.loc[table["variant"] == variant, "repurchase"].mean()
        assert ours == pytest.approx(rate, abs=1e-12), variant
    treated = table[table["variant"] == "treatment"]
    assert (treated["cost"] == truth["cost_per_contact"]).all()
    # the window closed on 2025-12-01 09:00, a month before as_of; the 90-day retention did not
    assert table["window_closed"].all() and (table["days_observed"] == 30.0).all()
    assert table["retained"].isna().all()
    assert table.attrs["excluded_multiple_variants"] == {truth["experiment_id"]: 0}
    assert (table["orders"] >= table["repurchase"]).all()
    assert ((table["days_to_purchase"] <= 30.0) == (table["repurchase"] == 1.0)).all()
    assert table["opens"].notna().all() and table["opens"].sum() > 0


def test_planted_uplift_lies_inside_the_reported_interval(sample_outcomes: pd.DataFrame) -> None:
    from crmlib.experiments import analyze_experiment
    from crmlib.experiments.models.health import srm_test

    truth = json.loads((ROOT / "data" / "sample" / "truth.json").read_text())["experiment"]
    for covariates in (None, {"repurchase": "pre_orders"}):  # without and with CUPED
        row = analyze_experiment(
            sample_outcomes, metrics=["repurchase"], covariates=covariates
        ).iloc[0]
        # truth.json: planted uplift of the 30-day repurchase share (0.05)
        assert row["abs_ci_low"] < truth["planted_uplift_30d_repurchase"] < row["abs_ci_high"]
    # a fair 50/50 coin: no sample-ratio mismatch flagged
    counts = sample_outcomes["variant"].value_counts().to_dict()
    assert not srm_test(counts)["srm"]


def test_planted_cost_and_incremental_revenue_are_reported(sample_outcomes: pd.DataFrame) -> None:
    from crmlib.experiments import campaign_economics

    truth = json.loads((ROOT / "data" / "sample" / "truth.json").read_text())["experiment"]
    row = campaign_economics(sample_outcomes, margin=0.3).iloc[0]
    # the planted per-contact cost (truth.json) comes back exactly from assignments.cost
    assert row["cost_total"] / truth["n_treatment"] == pytest.approx(truth["cost_per_contact"])
    # incremental retained customers: the realized lift times the treated customers
    realized = truth["realized_30d_repurchase"]
    lift = realized["treatment"] - realized["control"]
    assert row["incremental_retained"] == pytest.approx(lift * truth["n_treatment"], rel=1e-9)
    assert row["incremental_retained_ci_low"] < row["incremental_retained"]
