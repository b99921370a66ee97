"""Tests of churn value at risk, risk bands and the contact decision (models.value, tables, plots)."""

from __future__ import annotations

import itertools
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmlib.churn.models.value import (
    OTHER_GROUP,
    RISK_BANDS,
    UNKNOWN_GROUP,
    band_summary,
    break_even,
    contact_plan,
    customer_values,
    risk_bands,
    value_at_risk,
    value_at_risk_by,
)
from crmlib.churn.plots import plot_contact_curve, plot_risk_bands, plot_value_at_risk_by
from crmlib.churn.tables import band_table, value_at_risk_table
from crmlib.errors import DataContractError
from crmlib.privacy import HIDDEN, small_counts_in_html

#: Exact sums of a handful of products of short decimals: only float rounding separates them.
EXACT = 1e-12

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run (no database, no wall-clock seed)
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def values_frame() -> pd.DataFrame:
    """Six customers with P(churn) and value; hand-computed risk figures in the tests."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "p_churn": [0.9, 0.5, 0.2, 0.75, 0.4, 0.05],
            "value": [100.0, 40.0, 300.0, 0.0, 50.0, 1000.0],
            "channel": ["web", "web", "shop", "shop", "app", None],
        }
    )


@st.composite
def random_values(draw: st.DrawFn) -> pd.DataFrame:
    """5-40 customers with random P(churn) (some exactly 0 or 1) and values (some 0)."""
    size = draw(st.integers(min_value=5, max_value=40))
    seed = draw(st.integers(min_value=0, max_value=2**31))
    rng = np.random.default_rng(seed)
    p_churn = rng.uniform(0, 1, size)
    p_churn[rng.uniform(size=size) < 0.1] = rng.choice([0.0, 1.0])
    value = np.round(rng.lognormal(4, 1.2, size), 2)
    value[rng.uniform(size=size) < 0.15] = 0.0
    return pd.DataFrame(
        {
            "customer_id": [f"k{i:03d}" for i in range(size)],
            "p_churn": p_churn,
            "value": value,
            "group": rng.choice(
                ["a", "b", "c", "d", "e", "f"], size, p=[0.4, 0.3, 0.1] + [0.2 / 3] * 3
            ),
        }
    )


# -- risk bands ------------------------------------------------------------------------------------
def test_risk_bands_cut_at_the_thresholds_lower_bound_inclusive() -> None:
    p_churn = pd.Series([0.0, 0.39999, 0.4, 0.69999, 0.7, 1.0, np.nan], index=list("abcdefg"))
    bands = risk_bands(p_churn)
    assert bands.tolist()[:6] == ["Low", "Low", "Medium", "Medium", "High", "High"]
    assert pd.isna(bands["g"])  # a missing probability has no band
    assert list(bands.index) == list("abcdefg")
    assert bands.dtype == pd.CategoricalDtype(list(RISK_BANDS), ordered=True)
    assert bands.name == "risk_band"


def test_risk_bands_custom_thresholds() -> None:
    assert risk_bands(np.array([0.1, 0.3, 0.6]), thresholds=(0.25, 0.5)).tolist() == [
        "Low",
        "Medium",
        "High",
    ]


@pytest.mark.parametrize(
    "thresholds",
    [(0.0, 0.7), (0.4, 1.0), (0.7, 0.4), (0.5, 0.5), (0.4,), ("low", "high")],
    ids=["low-zero", "high-one", "reversed", "equal", "one-value", "text"],
)
def test_risk_bands_refuse_bad_thresholds(thresholds: tuple) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        risk_bands([0.5], thresholds=thresholds)


def test_risk_bands_refuse_probabilities_outside_0_1() -> None:
    with pytest.raises(DataContractError, match=r"p_churn.*outside \[0, 1\]"):
        risk_bands([0.5, 1.2])
    with pytest.raises(DataContractError, match="p_churn: expected numbers"):
        risk_bands(["high", 0.2])


# -- customer values -------------------------------------------------------------------------------
def scored_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "p_churn": [0.2, 0.5, 0.9, 0.6],
            "spend_365d": [100.0, 200.0, -50.0, 10.0],
            "acquisition_channel": ["web", "shop", "web", "(unknown)"],
        }
    )


def test_customer_values_take_clv_where_known_else_last_years_margin() -> None:
    scored = scored_frame()
    before = scored.copy()
    clv = pd.DataFrame(
        {"customer_id": ["a", "d", "zz"], "clv": [80.0, np.nan, 5.0], "p_alive": [0.9, 0.5, 0.1]}
    )
    values = customer_values(scored, clv=clv, margin=0.25)
    # a: its CLV 80; b: 200 x 0.25 = 50; c: -50 x 0.25 = -12.5 floored at 0; d: null CLV, so
    # historical 10 x 0.25 = 2.5; zz is not scored and is ignored.
    assert values["value"].tolist() == pytest.approx([80.0, 50.0, 0.0, 2.5], abs=EXACT)
    assert values["value_source"].tolist() == ["clv", "historical", "historical", "historical"]
    assert values.attrs["value_sources"] == {"clv": 1, "historical": 3}
    assert values.attrs["values_floored_at_zero"] == 1
    assert values.attrs["margin"] == 0.25
    assert list(values.columns) == [*scored.columns, "value", "value_source"]
    pd.testing.assert_frame_equal(scored, before)  # the argument is not mutated
    json.dumps(values.attrs)


def test_customer_values_without_clv_are_all_historical() -> None:
    values = customer_values(scored_frame())
    # default margin 0.3: 100 x 0.3, 200 x 0.3, floored, 10 x 0.3
    assert values["value"].tolist() == pytest.approx([30.0, 60.0, 0.0, 3.0], abs=EXACT)
    assert values.attrs["value_sources"] == {"clv": 0, "historical": 4}
    # an empty CLV table values everyone on history too (it indexed an empty array)
    empty = pd.DataFrame(
        {"customer_id": pd.Series([], dtype="str"), "clv": pd.Series([], dtype="float64")}
    )
    same = customer_values(scored_frame(), clv=empty)
    assert same["value"].tolist() == values["value"].tolist()
    assert same.attrs["value_sources"] == {"clv": 0, "historical": 4}


def test_customer_values_floor_a_negative_clv_and_need_no_spend_when_clv_covers_all() -> None:
    scored = scored_frame().drop(columns="spend_365d")
    clv = pd.DataFrame({"customer_id": ["d", "c", "b", "a"], "clv": [4.0, -1.0, 2.0, 1.0]})
    values = customer_values(scored, clv=clv)
    assert values["value"].tolist() == [1.0, 2.0, 0.0, 4.0]  # matched by id, not by position
    assert values.attrs["values_floored_at_zero"] == 1


def test_customer_values_with_another_spend_window() -> None:
    scored = scored_frame().rename(columns={"spend_365d": "spend_180d"})
    values = customer_values(scored, margin=0.5, spend_col="spend_180d")
    assert values["value"].tolist() == pytest.approx([50.0, 100.0, 0.0, 5.0], abs=EXACT)


@pytest.mark.parametrize(
    ("scored", "clv", "match"),
    [
        (scored_frame().drop(columns="spend_365d"), None, "scored: column 'spend_365d' is missing"),
        (
            scored_frame().assign(spend_365d=[1.0, np.nan, 2.0, 3.0]),
            None,
            r"scored: column 'spend_365d' has 1 missing.*\['b'\]",
        ),
        (
            scored_frame().assign(spend_365d=["1", "2", "3", "4"]),
            None,
            "spend_365d.*expected numbers",
        ),
        (scored_frame().assign(customer_id=["a", "a", "c", "d"]), None, "scored.*duplicate"),
        (scored_frame().drop(columns="customer_id"), None, "scored: column 'customer_id'"),
        (scored_frame(), pd.DataFrame({"customer_id": ["a"]}), "clv: column 'clv' is missing"),
        (
            scored_frame(),
            pd.DataFrame({"customer_id": ["a", "a"], "clv": [1.0, 2.0]}),
            "clv.*duplicate",
        ),
        (
            scored_frame(),
            pd.DataFrame({"customer_id": ["a"], "clv": ["many"]}),
            "clv.*expected numbers",
        ),
        (scored_frame(), pd.DataFrame({"customer_id": ["a"], "clv": [np.inf]}), "clv.*infinite"),
    ],
    ids=[
        "no-spend",
        "null-spend",
        "text-spend",
        "duplicate-customer",
        "no-customer-id",
        "no-clv-column",
        "duplicate-clv",
        "text-clv",
        "infinite-clv",
    ],
)
def test_customer_values_refuse_bad_tables(
    scored: pd.DataFrame, clv: pd.DataFrame | None, match: str
) -> None:
    with pytest.raises(DataContractError, match=match):
        customer_values(scored, clv=clv)


@pytest.mark.parametrize("margin", [-0.1, 1.5, float("nan")], ids=["negative", "above-one", "nan"])
def test_customer_values_refuse_a_bad_margin(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        customer_values(scored_frame(), margin=margin)


# -- value at risk ---------------------------------------------------------------------------------
def test_value_at_risk_is_p_churn_times_value() -> None:
    frame = values_frame()
    result = value_at_risk(frame)
    # 0.9 x 100, 0.5 x 40, 0.2 x 300, 0.75 x 0, 0.4 x 50, 0.05 x 1000
    expected = [90.0, 20.0, 60.0, 0.0, 20.0, 50.0]
    assert result["value_at_risk"].tolist() == pytest.approx(expected, abs=EXACT)
    assert "value_at_risk" not in frame.columns


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"p_churn": [1.5, 0.5, 0.2, 0.75, 0.4, 0.05]}, r"p_churn.*outside \[0, 1\]"),
        ({"p_churn": [np.nan, 0.5, 0.2, 0.75, 0.4, 0.05]}, r"p_churn.*missing.*\['c1'\]"),
        ({"value": [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0]}, r"'value' has 1 missing"),
        ({"value": ["a", "b", "c", "d", "e", "f"]}, "'value' has dtype"),
    ],
    ids=["p-above-one", "p-null", "value-null", "value-text"],
)
def test_value_at_risk_refuses_bad_values(change: dict, match: str) -> None:
    with pytest.raises(DataContractError, match=match):
        value_at_risk(values_frame().assign(**change))


def test_value_at_risk_needs_a_value_column() -> None:
    with pytest.raises(DataContractError, match="churn values: column 'value' is missing"):
        value_at_risk(values_frame().drop(columns="value"))


# -- contact plan ----------------------------------------------------------------------------------
def test_contact_plan_by_hand() -> None:
    frame = values_frame()
    plan = contact_plan(frame, save_rate=0.25, cost_per_contact=10.0)
    # saved = p x value x 0.25: c1 22.5, c2 5, c3 15, c4 0, c5 5, c6 12.5; net = saved - 10.
    # Ranked by net, ties (c2, c5 at -5) by customer_id.
    assert plan["customer_id"].tolist() == ["c1", "c3", "c6", "c2", "c5", "c4"]
    assert plan["expected_saved_value"].tolist() == pytest.approx(
        [22.5, 15.0, 12.5, 5.0, 5.0, 0.0], abs=EXACT
    )
    assert plan["expected_net_value"].tolist() == pytest.approx(
        [12.5, 5.0, 2.5, -5.0, -5.0, -10.0], abs=EXACT
    )
    assert plan["contact"].tolist() == [True, True, True, False, False, False]
    assert plan["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert plan.index.tolist() == [0, 1, 2, 3, 4, 5]
    assert plan.attrs["save_rate"] == 0.25 and plan.attrs["cost_per_contact"] == 10.0
    pd.testing.assert_frame_equal(frame, values_frame())  # the argument is not mutated


def test_contact_plan_does_not_contact_at_exact_break_even() -> None:
    frame = pd.DataFrame({"customer_id": ["x", "y"], "p_churn": [0.5, 1.0], "value": [100.0, 0.0]})
    plan = contact_plan(frame, save_rate=0.5, cost_per_contact=25.0)  # 0.5 x 100 x 0.5 = 25
    assert plan["expected_net_value"].tolist() == [0.0, -25.0]
    assert not plan["contact"].any()
    free = contact_plan(frame, save_rate=0.5, cost_per_contact=0.0)
    assert free["contact"].tolist() == [True, False]  # free contacts: anyone with value at risk


@pytest.mark.parametrize(
    ("save_rate", "cost", "match"),
    [
        (0.0, 1.0, "save_rate"),
        (1.2, 1.0, "save_rate"),
        (float("nan"), 1.0, "save_rate"),
        (0.2, -1.0, "cost_per_contact"),
        (0.2, float("inf"), "cost_per_contact"),
        (0.2, "cheap", "cost_per_contact"),
    ],
    ids=["rate-zero", "rate-above-one", "rate-nan", "cost-negative", "cost-infinite", "cost-text"],
)
def test_contact_plan_refuses_bad_costs(save_rate: float, cost: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        contact_plan(values_frame(), save_rate=save_rate, cost_per_contact=cost)


def test_contact_plan_needs_customer_ids() -> None:
    with pytest.raises(DataContractError, match="customer_id"):
        contact_plan(values_frame().drop(columns="customer_id"), save_rate=0.2, cost_per_contact=1)


def test_contact_plan_equals_the_best_subset_by_brute_force() -> None:
    # Independent check: try all 2^8 subsets of customers; the plan's contacts must be a best one.
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "customer_id": [f"b{i}" for i in range(8)],
            "p_churn": rng.uniform(0, 1, 8),
            "value": rng.uniform(0, 200, 8),
        }
    )
    save_rate, cost = 0.3, 12.0
    net = frame["p_churn"].to_numpy() * frame["value"].to_numpy() * save_rate - cost
    best = max(
        sum(net[list(subset)])
        for size in range(9)
        for subset in itertools.combinations(range(8), size)
    )
    plan = contact_plan(frame, save_rate=save_rate, cost_per_contact=cost)
    planned = float(plan.loc[plan["contact"], "expected_net_value"].sum())
    assert planned == pytest.approx(best, abs=1e-9)  # same sums in another order: rounding only
    assert 0 < plan["contact"].sum() < 8  # the seed gives a non-trivial plan


@PROPERTY_SETTINGS
@given(
    frame=random_values(),
    save_rate=st.floats(min_value=0.01, max_value=1.0),
    cost=st.floats(min_value=0.0, max_value=60.0),
)
def test_contact_plan_invariants(frame: pd.DataFrame, save_rate: float, cost: float) -> None:
    plan = contact_plan(frame, save_rate=save_rate, cost_per_contact=cost)
    saved = plan["p_churn"] * plan["value"] * save_rate
    # every contacted customer saves more than the contact costs, and no excluded one does
    assert (saved[plan["contact"]] > cost).all()
    assert not (saved[~plan["contact"]] > cost).any()
    # contacts are the top ranks; the cumulative net value in rank order peaks exactly there
    contacts = int(plan["contact"].sum())
    assert plan["contact"].tolist() == [True] * contacts + [False] * (len(plan) - contacts)
    cumulative = np.concatenate([[0.0], np.cumsum(plan["expected_net_value"].to_numpy())])
    assert int(np.argmax(cumulative)) == contacts
    assert sorted(plan["customer_id"]) == sorted(frame["customer_id"])
    summary = break_even(plan, save_rate=save_rate, cost_per_contact=cost)
    assert summary["contacts"] == contacts
    assert summary["expected_net_value"] == pytest.approx(cumulative[contacts], rel=1e-9, abs=1e-9)


# -- break-even ------------------------------------------------------------------------------------
def test_break_even_by_hand() -> None:
    plan = contact_plan(values_frame(), save_rate=0.25, cost_per_contact=10.0)
    summary = break_even(plan, save_rate=0.25, cost_per_contact=10.0)
    # contacts c1, c3, c6: saved 22.5 + 15 + 12.5 = 50, cost 3 x 10 = 30, net 20.
    # median value of (0, 40, 50, 100, 300, 1000) = 75; break-even p at it = 10 / (0.25 x 75).
    expected = {
        "customers": 6,
        "contacts": 3,
        "share_contacted": 0.5,
        "value_at_risk": 240.0,  # 90 + 20 + 60 + 0 + 20 + 50
        "expected_saved_value": 50.0,
        "total_cost": 30.0,
        "expected_net_value": 20.0,
        "break_even_value_at_risk": 40.0,  # 10 / 0.25
        "break_even_p_churn_at_median_value": 10 / (0.25 * 75),
        "break_even_value_at_p_churn_50": 80.0,  # 10 / (0.25 x 0.5)
        "median_value": 75.0,
        "save_rate": 0.25,
        "cost_per_contact": 10.0,
    }
    assert summary == pytest.approx(expected, abs=EXACT)
    assert all(type(value) in (int, float) for value in summary.values())
    json.loads(json.dumps(summary))
    # the rule: contact when p x value exceeds cost / save_rate (c6: 0.05 x 1000 = 50 > 40)
    at_risk = plan["p_churn"] * plan["value"]
    assert (plan["contact"] == (at_risk > summary["break_even_value_at_risk"])).all()


def test_break_even_with_median_value_zero_and_without_customers() -> None:
    frame = pd.DataFrame({"customer_id": list("abc"), "p_churn": [0.5] * 3, "value": [0, 0, 9.0]})
    summary = break_even(frame, save_rate=0.5, cost_per_contact=1.0)
    assert math.isnan(summary["break_even_p_churn_at_median_value"])
    assert summary["contacts"] == 1  # 0.5 x 9 x 0.5 = 2.25 > 1
    empty = break_even(frame.iloc[:0], save_rate=0.5, cost_per_contact=1.0)
    assert (empty["customers"], empty["contacts"], empty["expected_net_value"]) == (0, 0, 0.0)
    assert math.isnan(empty["median_value"]) and math.isnan(empty["share_contacted"])


def test_break_even_refuses_other_costs_than_the_plans() -> None:
    plan = contact_plan(values_frame(), save_rate=0.25, cost_per_contact=10.0)
    with pytest.raises(ValueError, match="cost_per_contact=12.0, but the contact plan"):
        break_even(plan, save_rate=0.25, cost_per_contact=12.0)


# -- value at risk by group ------------------------------------------------------------------------
def test_value_at_risk_by_hand_with_pooling() -> None:
    frame = pd.concat([values_frame()] * 2, ignore_index=True)  # 12 customers
    table = value_at_risk_by(frame, by="channel", min_cell_size=3)
    # web (c1, c2) x 2 = 4 customers: VaR 2 x (90 + 20) = 220; shop (c3, c4) x 2: 2 x 60 = 120;
    # app (c5) x 2 and (unknown) (c6) x 2 are small: pooled, VaR 2 x (20 + 50) = 140.
    assert table["channel"].tolist() == ["web", OTHER_GROUP, "shop"]
    assert table["groups"].tolist() == [1, 2, 1]
    assert table["customers"].tolist() == [4, 4, 4]
    assert table["value_at_risk"].tolist() == pytest.approx([220.0, 140.0, 120.0], abs=EXACT)
    assert table["value"].tolist() == pytest.approx([280.0, 2100.0, 600.0], abs=EXACT)
    assert table["mean_p_churn"].tolist() == pytest.approx([0.7, 0.225, 0.475], abs=EXACT)
    assert table["share_of_value_at_risk"].tolist() == pytest.approx(
        [220 / 480, 140 / 480, 120 / 480], abs=EXACT
    )
    assert table["high_risk_customers"].tolist() == [2, 0, 2]  # c1 (0.9), c4 (0.75) twice


def test_value_at_risk_by_keeps_unknown_and_omits_other_when_all_groups_are_large() -> None:
    table = value_at_risk_by(values_frame(), by="channel", min_cell_size=1)
    assert set(table["channel"]) == {"web", "shop", "app", UNKNOWN_GROUP}
    assert OTHER_GROUP not in set(table["channel"])


def test_value_at_risk_by_never_shows_one_small_group_alone() -> None:
    frame = pd.DataFrame(
        {
            "segment": ["A"] * 12 + ["B"] * 11 + ["C"] * 3,
            "p_churn": 0.5,
            "value": 10.0,
        }
    )
    table = value_at_risk_by(frame, by="segment", min_cell_size=10)
    # C (3) alone would be shown under another name: the smallest shown group, B, joins it.
    assert table["segment"].tolist() == [OTHER_GROUP, "A"]
    assert table["customers"].tolist() == [14, 12]
    assert table["groups"].tolist() == [2, 1]
    everything = value_at_risk_by(frame, by="segment", min_cell_size=100)
    assert everything["segment"].tolist() == [OTHER_GROUP]
    assert everything["customers"].tolist() == [26]


@PROPERTY_SETTINGS
@given(frame=random_values(), min_cell_size=st.integers(min_value=1, max_value=15))
def test_value_at_risk_by_totals_reconcile(frame: pd.DataFrame, min_cell_size: int) -> None:
    table = value_at_risk_by(frame, by="group", min_cell_size=min_cell_size)
    ungrouped = value_at_risk(frame)
    assert table["customers"].sum() == len(frame)
    assert table["value_at_risk"].sum() == pytest.approx(
        ungrouped["value_at_risk"].sum(), rel=1e-12
    )
    assert table["value"].sum() == pytest.approx(frame["value"].sum(), rel=1e-12)
    assert table["high_risk_customers"].sum() == int((frame["p_churn"] >= 0.7).sum())
    assert table["groups"].sum() == frame["group"].nunique()
    shown = table[table["group"] != OTHER_GROUP]
    assert (shown["customers"] >= min_cell_size).all()
    other = table[table["group"] == OTHER_GROUP]
    if len(other) and len(table) > 1:
        assert other["groups"].iloc[0] >= 2 and other["customers"].iloc[0] >= min_cell_size
    assert table["value_at_risk"].is_monotonic_decreasing
    if ungrouped["value_at_risk"].sum() > 0:
        assert table["share_of_value_at_risk"].sum() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("min_cell_size", [0, 2.5, True], ids=["zero", "fraction", "bool"])
def test_value_at_risk_by_refuses_a_bad_min_cell_size(min_cell_size: int) -> None:
    with pytest.raises(ValueError, match="min_cell_size"):
        value_at_risk_by(values_frame(), by="channel", min_cell_size=min_cell_size)


def test_value_at_risk_by_names_a_missing_group_column() -> None:
    with pytest.raises(DataContractError, match="column 'segment' is missing"):
        value_at_risk_by(values_frame(), by="segment")
    with pytest.raises(ValueError, match="by='value': expected a group column"):
        value_at_risk_by(values_frame(), by="value")


def _shop(groups: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Customers by segment: (customers, of whom High risk) per segment; P(churn) 0.9 or 0.2."""
    rows = [
        (name, 0.9 if i < high else 0.2)
        for name, (size, high) in groups.items()
        for i in range(size)
    ]
    frame = pd.DataFrame(rows, columns=["segment", "p_churn"])
    return frame.assign(value=100.0)


def test_value_at_risk_table_hides_small_high_risk_counts_and_their_complement() -> None:
    frame = _shop({"Loyal": (39, 0), "Lost": (60, 25), "New": (4, 4), "Promising": (6, 0),
                   "At risk": (12, 4), "Champions": (34, 0)})  # fmt: skip
    table = value_at_risk_by(frame, by="segment", min_cell_size=10)
    assert set(table["segment"]) == {"Loyal", "Lost", "At risk", "Champions", OTHER_GROUP}
    shown = value_at_risk_table(table, currency="EUR", min_cell_size=10)
    assert small_counts_in_html(shown.to_html()) == []
    high = shown["High-risk customers"]
    # (other) (New + Promising: 4) and At risk (4) are small; Lost (25) is not hidden: two
    # hidden counts cannot be told apart from the High band's total
    assert high[OTHER_GROUP] == "<10" and high["At risk"] == "<10"
    assert high["Lost"] == "25" and high["Loyal"] == "0"
    assert shown["Customers"].tolist() == table["customers"].map("{:,}".format).tolist()
    # one hidden count: the next smallest (non-zero) count is hidden too, as "–"
    frame = _shop({"Loyal": (39, 0), "Lost": (60, 25), "New": (4, 4), "Promising": (6, 0),
                   "At risk": (12, 11), "Champions": (34, 0)})  # fmt: skip
    shown = value_at_risk_table(value_at_risk_by(frame, by="segment", min_cell_size=10),
                                currency="EUR", min_cell_size=10)  # fmt: skip
    high = shown["High-risk customers"]
    assert high[OTHER_GROUP] == "<10" and high["At risk"] == HIDDEN and high["Lost"] == "25"
    assert small_counts_in_html(shown.to_html()) == []
    assert shown.index.name == "RFM segment" and "High-risk customers" in shown.columns


def test_value_at_risk_table_of_too_few_customers_hides_the_means() -> None:
    frame = _shop({"a": (4, 1), "b": (3, 0)})
    shown = value_at_risk_table(value_at_risk_by(frame, by="segment", min_cell_size=10),
                                currency="EUR", min_cell_size=10)  # fmt: skip
    assert shown["Customers"].tolist() == ["<10"]
    means = ["Mean P(churn) (%)", "Value at risk (EUR)", "Share of value at risk (%)"]
    assert shown[means].eq(HIDDEN).all(axis=None)
    assert small_counts_in_html(shown.to_html()) == []


# -- band summary ----------------------------------------------------------------------------------
def test_band_summary_by_hand() -> None:
    summary = band_summary(values_frame())
    # Low: c3 (0.2), c6 (0.05): VaR 60 + 50; Medium: c2 (0.5), c5 (0.4): 20 + 20;
    # High: c1 (0.9), c4 (0.75): 90 + 0. Total 240.
    assert summary["band"].tolist() == list(RISK_BANDS)
    assert summary["threshold"].tolist() == ["p < 40%", "40% <= p < 70%", "p >= 70%"]
    assert summary["customers"].tolist() == [2, 2, 2]
    assert summary["share"].tolist() == pytest.approx([1 / 3] * 3, abs=EXACT)
    assert summary["mean_p_churn"].tolist() == pytest.approx([0.125, 0.45, 0.825], abs=EXACT)
    assert summary["value_at_risk"].tolist() == pytest.approx([110.0, 40.0, 90.0], abs=EXACT)
    assert summary["share_of_value_at_risk"].tolist() == pytest.approx(
        [110 / 240, 40 / 240, 90 / 240], abs=EXACT
    )


def test_band_summary_keeps_empty_bands_and_custom_thresholds() -> None:
    frame = pd.DataFrame({"p_churn": [0.1, 0.2], "value": [10.0, 20.0]})
    summary = band_summary(frame, thresholds=(0.25, 0.5))
    assert summary["threshold"].tolist() == ["p < 25%", "25% <= p < 50%", "p >= 50%"]
    assert summary["customers"].tolist() == [2, 0, 0]
    assert summary["value_at_risk"].tolist() == pytest.approx([5.0, 0.0, 0.0], abs=EXACT)
    assert math.isnan(summary["mean_p_churn"].iloc[1])


def test_band_table_hides_a_small_band_and_its_complement() -> None:
    frame = _shop({"x": (200, 6)}).assign(p_churn=[0.1] * 150 + [0.5] * 44 + [0.9] * 6)
    summary = band_summary(frame)
    assert summary["customers"].tolist() == [150, 44, 6]
    table = band_table(summary, currency="EUR", min_cell_size=10)
    assert table.index.tolist() == list(RISK_BANDS)
    assert table["Customers"].tolist() == ["150", HIDDEN, "<10"]  # 200 - 150 - 44 = 6 otherwise
    assert table["Share of customers (%)"].tolist() == ["75.0%", HIDDEN, HIDDEN]
    assert (
        table.loc[
            "High", ["Mean P(churn) (%)", "Value at risk (EUR)", "Share of value at risk (%)"]
        ]
        .eq(HIDDEN)
        .all()
    )
    assert table.loc["Medium", "Mean P(churn) (%)"] == "50.0%"  # a rate on 44 customers is shown
    assert table.loc["Medium", "Value at risk (EUR)"] == "€2.2k"
    assert small_counts_in_html(table.to_html()) == []
    # every band large: nothing hidden; an empty band reads 0
    frame = _shop({"x": (40, 0)}).assign(p_churn=[0.1] * 25 + [0.5] * 15)
    table = band_table(band_summary(frame), currency="EUR", min_cell_size=10)
    assert table["Customers"].tolist() == ["25", "15", "0"]
    assert HIDDEN not in table[["Customers", "Share of customers (%)"]].to_numpy()


# -- plots -----------------------------------------------------------------------------------------
def test_plot_value_at_risk_by() -> None:
    table = value_at_risk_by(values_frame(), by="channel", min_cell_size=1)
    fig, ax = plt.subplots()
    returned = plot_value_at_risk_by(table, currency="USD", ax=ax)
    assert returned is ax
    assert ax.get_title() == "Value at risk of churn by channel"
    assert ax.get_xlabel() == "Value at risk: P(churn) x value (USD)"
    assert ax.get_ylabel() == "Channel"
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[-1] == "web"  # largest value at risk (110) on top
    assert [patch.get_width() for patch in ax.patches][-1] == pytest.approx(110.0)
    plt.close(fig)


def test_plot_risk_bands() -> None:
    fig, ax = plt.subplots()
    returned = plot_risk_bands(band_summary(values_frame()), min_cell_size=1, ax=ax)
    assert returned is ax
    assert ax.get_title() == "Customers by churn risk band"
    assert ax.get_ylabel() == "Customers" and "P(churn)" in ax.get_xlabel()
    assert [tick.get_text() for tick in ax.get_xticklabels()][2] == "High\np >= 70%"
    assert [patch.get_height() for patch in ax.patches] == [2, 2, 2]
    plt.close(fig)


def test_plot_risk_bands_draws_no_small_band_nor_its_complement() -> None:
    frame = _shop({"x": (200, 6)}).assign(p_churn=[0.1] * 150 + [0.5] * 44 + [0.9] * 6)
    fig, ax = plt.subplots()
    plot_risk_bands(band_summary(frame), min_cell_size=10, ax=ax)
    assert [patch.get_height() for patch in ax.patches] == [150, 0, 0]
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["150 (75%)", HIDDEN, "<10"]
    assert "fewer than 10 customers" in ax.get_xlabel()
    plt.close(fig)


def test_plot_contact_curve_marks_the_peak() -> None:
    plan = contact_plan(values_frame(), save_rate=0.25, cost_per_contact=10.0)
    fig, ax = plt.subplots()
    returned = plot_contact_curve(plan, currency="EUR", min_cell_size=1, ax=ax)
    assert returned is ax
    assert ax.get_title() == "Expected net value of the contact list by customers contacted"
    assert ax.get_ylabel() == "Cumulative expected net value (EUR)"
    curve, marker = ax.get_lines()[0], ax.get_lines()[2]  # [1] is the zero line
    # cumulative net: 0, 12.5, 17.5, 20, 15, 10, 0 (see test_contact_plan_by_hand)
    assert list(curve.get_ydata()) == pytest.approx([0, 12.5, 17.5, 20, 15, 10, 0], abs=EXACT)
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (3, pytest.approx(20.0))
    assert "Contact 3 customers" in marker.get_label()
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_contact_curve(plan, currency="EUR", min_cell_size=10, ax=ax)
    assert "Contact fewer than 10 customers" in ax.get_lines()[2].get_label()
    plt.close(fig)


def test_money_ticks_never_repeat_a_label() -> None:
    # money_axis rounds to whole thousands: ticks every 250 up to 1,600 would read €1k twice
    table = pd.DataFrame({"segment": ["A", "B"], "value_at_risk": [1600.0, 900.0]})
    fig, ax = plt.subplots()
    plot_value_at_risk_by(table, currency="EUR", ax=ax)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    labels = [
        tick.get_text()
        for tick, position in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)
        if low <= position <= high
    ]
    assert labels == ["€0", "€1k"]
    plt.close(fig)
