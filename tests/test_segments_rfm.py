"""Tests of RFM: features and scores by hand, the Sam/Billy example, ties, rules, summaries, profiles."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import sqlglot
from contract_tables import contract_transactions

from crmlib.config import SegmentRuleParams
from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.privacy import OTHER, small_counts_in_html
from crmlib.segments.models.profiles import PROFILE_COLUMNS, age_bands, segment_profiles
from crmlib.segments.models.rfm import (
    FEATURE_COLUMNS,
    GRID_COLUMNS,
    RFM_COLUMNS,
    SUMMARY_COLUMNS,
    rfm_grid,
    rfm_scores,
    segment_summary,
)
from crmlib.segments.models.rules import (
    DEFAULT_SEGMENT_RULES,
    NEW_SEGMENT,
    SegmentRule,
    assign_segments,
    rules_from_params,
    validate_rules,
)
from crmlib.segments.plots import plot_rfm_heatmap, plot_segment_sizes
from crmlib.segments.queries.rfm import rfm_features, rfm_table
from crmlib.segments.tables import profile_table
from crmlib.segments.text import describe_segments

T = pd.Timestamp
AS_OF = "2025-06-30"

# A 30-day window ending 2025-06-30 covers 2025-06-01 00:00 <= order_ts < 2025-07-01 00:00.
TINY = contract_transactions(
    [
        # A: two purchases in the window (one partly refunded, net 40) and one the day before it
        ("A1", "A", "2025-06-30 23:59:59", 60.0, 60.0, 0.0, "purchase"),
        ("A2", "A", "2025-06-10 10:00:00", 40.0, 50.0, -10.0, "purchase"),
        ("A3", "A", "2025-05-31 23:59:59", 100.0, 100.0, 0.0, "purchase"),
        # B: a purchase on the window's first instant; one after as_of is not seen
        ("B1", "B", "2025-06-01 00:00:00", 20.0, 20.0, 0.0, "purchase"),
        ("B2", "B", "2025-07-01 00:00:00", 999.0, 999.0, 0.0, "purchase"),
        # C: lapsed (last purchase in March) with an unmatched refund in the window
        ("C1", "C", "2025-03-01 12:00:00", 30.0, 30.0, 0.0, "purchase"),
        ("C2", "C", "2025-06-15 09:00:00", -12.0, 0.0, -12.0, "return"),
        # D: one purchase and one cancelled order (not a purchase, net 0)
        ("D1", "D", "2025-06-05 08:00:00", 25.0, 25.0, 0.0, "purchase"),
        ("D2", "D", "2025-06-20 08:00:00", 0.0, 25.0, -25.0, "cancelled"),
        # E: returns only: never a customer of the RFM table
        ("E1", "E", "2025-06-10 08:00:00", -5.0, 0.0, -5.0, "return"),
        # F: two orders on one day are two orders
        ("F1", "F", "2025-06-20 08:00:00", 10.0, 10.0, 0.0, "purchase"),
        ("F2", "F", "2025-06-20 18:00:00", 15.0, 15.0, 0.0, "purchase"),
        # G: first purchase after as_of
        ("G1", "G", "2025-07-02 08:00:00", 50.0, 50.0, 0.0, "purchase"),
    ]
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        yield eng


def test_features_by_hand(engine: Engine) -> None:
    features = rfm_features(engine, as_of_date=AS_OF, window_days=30)
    assert tuple(features.columns) == FEATURE_COLUMNS
    expected = pd.DataFrame(
        {
            "customer_id": pd.array(["A", "B", "C", "D", "F"], dtype="str"),
            "last_order_date": pd.to_datetime(
                ["2025-06-30", "2025-06-01", "2025-03-01", "2025-06-05", "2025-06-20"]
            ).astype("datetime64[us]"),
            # as_of 2025-06-30 minus the last purchase day; C: Mar 1 -> Jun 30 = 31+30+31+29
            "recency_days": np.array([0, 29, 121, 25, 10], dtype="int64"),
            # A: A1, A2 (A3 is before the window); C: none (lapsed); D: cancelled order ignored
            "frequency": np.array([2, 1, 0, 1, 2], dtype="int64"),
            # A: 60 + 40 net; C: only the unmatched refund; D: 25 + 0 (cancelled); F: 10 + 15
            "monetary": np.array([100.0, 20.0, -12.0, 25.0, 25.0]),
            "first_order_date": pd.to_datetime(
                ["2025-05-31", "2025-06-01", "2025-03-01", "2025-06-05", "2025-06-20"]
            ).astype("datetime64[us]"),
            "tenure_days": np.array([30, 29, 121, 25, 10], dtype="int64"),
        }
    )
    pd.testing.assert_frame_equal(features, expected)


# A leap year: the 365 days ending 2024-12-31 start on 2024-01-02 (2025-01-01 minus 365 days),
# so 2024-01-01 is outside the window and 2024-02-29 inside it.
LEAP = contract_transactions(
    [
        # L: an order a day before the window; on the leap day two orders and a refund of a
        # third, older order (one customer-day: 2 purchases, net 40 + 20 - 10)
        ("L1", "L", "2024-01-01 23:00:00", 70.0, 70.0, 0.0, "purchase"),
        ("L2", "L", "2024-02-29 10:00:00", 40.0, 40.0, 0.0, "purchase"),
        ("L3", "L", "2024-02-29 18:00:00", 20.0, 20.0, 0.0, "purchase"),
        ("L4", "L", "2024-02-29 15:00:00", -10.0, 0.0, -10.0, "return"),
        # M: returns only, on the leap day: never an RFM customer
        ("M1", "M", "2024-02-29 12:00:00", -5.0, 0.0, -5.0, "return"),
        # N: a purchase on the window's first instant, a day with only a refund, a cancelled
        # order on as_of (not a purchase: the last purchase stays Jan 2)
        ("N1", "N", "2024-01-02 00:00:00", 10.0, 10.0, 0.0, "purchase"),
        ("N2", "N", "2024-03-01 09:00:00", -4.0, 0.0, -4.0, "return"),
        ("N3", "N", "2024-12-31 23:59:59", 0.0, 15.0, -15.0, "cancelled"),
    ]
)


def test_features_leap_year_same_day_orders_and_refund_days() -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", LEAP)
        features = rfm_features(eng, as_of_date="2024-12-31", window_days=365)
    expected = pd.DataFrame(
        {
            "customer_id": pd.array(["L", "N"], dtype="str"),
            "last_order_date": pd.to_datetime(["2024-02-29", "2024-01-02"]).astype(
                "datetime64[us]"
            ),
            # Feb 29 -> Dec 31: the days of March to December, 306; Jan 2 -> Dec 31: 366 - 2
            "recency_days": np.array([306, 364], dtype="int64"),
            # L: L2 and L3 (L1 is a day before the window); N: N1 (N3 was cancelled)
            "frequency": np.array([2, 1], dtype="int64"),
            # L: 40 + 20 - 10; N: 10 - 4 + 0
            "monetary": np.array([50.0, 6.0]),
            "first_order_date": pd.to_datetime(["2024-01-01", "2024-01-02"]).astype(
                "datetime64[us]"
            ),
            "tenure_days": np.array([365, 364], dtype="int64"),  # Jan 1 -> Dec 31: 366 - 1
        }
    )
    pd.testing.assert_frame_equal(features, expected)


def test_a_half_cent_rounds_the_same_whatever_the_order_of_the_sum() -> None:
    """Money to the millionth (as ingest keeps it) summed in any order: 0.1 + 0.2 + 1.705 is
    2.005 exactly, rounded half away from zero to 2.01, while the same sum in doubles is
    2.0049999999999999 or 2.005 depending on the order."""
    amounts = [0.1, 0.2, 1.705, 0.001, -0.001]
    orders_of_sum = list(itertools.permutations(range(len(amounts))))[::6]
    in_doubles = {round(sum(amounts[i] for i in order), 2) for order in orders_of_sum}
    assert in_doubles == {2.0, 2.01}  # a sum in doubles would round either way
    found = []
    with Engine(threads=2) as eng:
        for order in orders_of_sum:
            days = pd.to_datetime([f"2024-06-{day + 1:02d}" for day in order])
            orders = pd.DataFrame({
                "customer_id": "H", "order_ts": days, "amount": [amounts[i] for i in order],
                "gross_amount": 0.0, "refund_amount": 0.0, "is_purchase": True,
            })  # fmt: skip
            eng.register("transactions", orders)
            found.append(float(rfm_features(eng, as_of_date="2024-12-31")["monetary"].iloc[0]))
    assert set(found) == {2.01}


def test_scores_and_segments_by_hand(engine: Engine) -> None:
    rfm = rfm_table(engine, as_of_date=AS_OF, window_days=30).set_index("customer_id")
    assert list(rfm.reset_index().columns) == list(RFM_COLUMNS)
    # score = 1 + (5 * n_strictly_worse) // n
    # R over all 5: worse-than counts A 4, F 3, D 2, B 1, C 0 -> scores 5, 4, 3, 2, 1.
    # F over the 4 with a purchase in the window (C gets 1): A, F (2 orders) have 2 below
    #   -> 1 + 10 // 4 = 3; B, D (1 order) have 0 below -> 1.
    # M over the same 4: B 20 -> 1; D, F 25 (tie, 1 below) -> 1 + 5 // 4 = 2;
    #   A 100 (3 below) -> 1 + 15 // 4 = 4; C (no purchase in the window) -> 1.
    expected = {
        "A": (5, 3, 4, "5-3-4", 12, "Potential loyalist"),
        "B": (2, 1, 1, "2-1-1", 4, "Hibernating"),
        "C": (1, 1, 1, "1-1-1", 3, "Lost"),
        "D": (3, 1, 2, "3-1-2", 6, "About to sleep"),
        "F": (4, 3, 2, "4-3-2", 9, "Potential loyalist"),
    }
    columns = ["r_score", "f_score", "m_score", "rfm_cell", "rfm_score", "segment"]
    for customer, row in expected.items():
        assert tuple(rfm.loc[customer, columns]) == row, customer


# Sam/Billy: six customers, bins = 3, as_of 2025-06-30, default 365-day window (from 2024-07-01).
# customer: recency days, orders in the window, net monetary
#   Sam 300, 6, 900 | X 250, 1, 40 | Billy 120, 1, 150 | Y 60, 2, 100 | Z 10, 3, 300 | W 2, 2, 200
SAM_BILLY = contract_transactions(
    [
        *[
            (f"S{i}", "Sam", f"{day} 10:00:00", 150.0, 150.0, 0.0, "purchase")
            for i, day in enumerate(
                ["2024-07-05", "2024-07-15", "2024-07-25", "2024-08-05", "2024-08-20", "2024-09-03"]
            )
        ],
        ("S9", "Sam", "2024-06-30 10:00:00", 500.0, 500.0, 0.0, "purchase"),  # before the window
        ("B1", "Billy", "2025-03-02 10:00:00", 150.0, 180.0, -30.0, "purchase"),  # partly refunded
        ("X1", "X", "2024-10-23 10:00:00", 40.0, 40.0, 0.0, "purchase"),
        ("Y1", "Y", "2024-12-12 10:00:00", 60.0, 60.0, 0.0, "purchase"),
        ("Y2", "Y", "2025-05-01 10:00:00", 40.0, 40.0, 0.0, "purchase"),
        ("Z1", "Z", "2025-03-22 10:00:00", 120.0, 120.0, 0.0, "purchase"),
        ("Z2", "Z", "2025-05-11 10:00:00", 100.0, 100.0, 0.0, "purchase"),
        ("Z3", "Z", "2025-06-20 10:00:00", 100.0, 100.0, 0.0, "purchase"),
        ("Z4", "Z", "2025-06-25 10:00:00", -20.0, 0.0, -20.0, "return"),  # 320 - 20 = 300
        ("W1", "W", "2025-05-31 10:00:00", 120.0, 120.0, 0.0, "purchase"),
        ("W2", "W", "2025-06-28 10:00:00", 80.0, 80.0, 0.0, "purchase"),
    ]
)
RULES_3 = rules_from_params(
    [
        {"name": "Champions", "r": [3, 3], "f": [2, 3]},
        {"name": "New", "r": 3, "f": 1},
        {"name": "Loyal", "r": [2, 2], "f": [2, 3], "m": [1, 3]},
        {"name": "Needs attention", "r": [2, 2], "f": [1, 1]},
        {"name": "Can't lose", "r": [1, 1], "f": [3, 3]},
        {"name": "Lost", "r": [1, 1], "f": [1, 2]},
    ]
)


def test_sam_billy_bins_3() -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", SAM_BILLY)
        rfm = rfm_table(eng, as_of_date=AS_OF, bins=3, rules=RULES_3).set_index("customer_id")
    # bins = 3, n = 6: score = 1 + (3 * n_strictly_worse) // 6 = 1 + n_strictly_worse // 2.
    # Sam: R - nobody bought longer ago (0 worse) -> 1; F - 6 orders, 5 below -> 3;
    #      M - 900, 5 below -> 3; total 1 + 3 + 3 = 7.
    # Billy: R - Sam and X bought longer ago (2 worse) -> 2; F - 1 order, 0 below (ties with
    #      X share the score) -> 1; M - 150, 2 below (40, 100) -> 2; total 2 + 1 + 2 = 5.
    assert tuple(rfm.loc["Sam", ["r_score", "f_score", "m_score", "rfm_score"]]) == (1, 3, 3, 7)
    assert tuple(rfm.loc["Billy", ["r_score", "f_score", "m_score", "rfm_score"]]) == (2, 1, 2, 5)
    assert rfm.loc["Sam", "rfm_cell"] == "1-3-3" and rfm.loc["Billy", "rfm_cell"] == "2-1-2"
    assert rfm.loc["Sam", "segment"] == "Can't lose"
    assert rfm.loc["Billy", "segment"] == "Needs attention"
    # the others: X 1-1-1, Y 2-2-1, Z 3-3-3, W 3-2-2
    assert rfm["rfm_cell"].to_dict() == {
        "Billy": "2-1-2", "Sam": "1-3-3", "W": "3-2-2", "X": "1-1-1", "Y": "2-2-1", "Z": "3-3-3",
    }  # fmt: skip
    assert rfm.loc[["W", "Z"], "segment"].tolist() == ["Champions", "Champions"]
    assert rfm.loc["Sam", "frequency"] == 6 and rfm.loc["Sam", "monetary"] == 900.0


def test_default_rules_need_bins_5() -> None:
    with pytest.raises(ValueError, match="default segment rules are written for bins=5"):
        validate_rules(DEFAULT_SEGMENT_RULES, bins=3)
    with Engine(threads=1) as eng:
        eng.register("transactions", SAM_BILLY)
        with pytest.raises(ValueError, match="bins=5"):
            rfm_table(eng, as_of_date=AS_OF, bins=3)


def _brute_force_scores(values: np.ndarray, bins: int) -> np.ndarray:
    """1 + floor(bins * (#values strictly below) / n), one comparison per pair."""
    below = (values[None, :] < values[:, None]).sum(axis=1)
    return np.floor(1 + bins * below / len(values)).astype("int64")


def _heavy_ties(n: int = 400, seed: int = 7, *, decimals: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.choice([1, 2, 3, 4, 7, 12], size=n, p=[0.6, 0.2, 0.1, 0.05, 0.03, 0.02])
    monetary = np.round(rng.gamma(2.0, 40.0, size=n) * frequency, decimals)
    if decimals < 0:  # whole numbers spread far wider than n: not a counting sort
        monetary = monetary * 1000.0
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "recency_days": rng.integers(0, 60, size=n),  # ~7 customers per value
            "frequency": frequency,
            "monetary": monetary,
        }
    )


@pytest.mark.parametrize(
    ("bins", "decimals"),
    [(3, 0), (5, 0), (10, 0), (5, 2), (5, -1)],
    ids=["bins3", "bins5", "bins10", "bins5-cents", "bins5-wide-whole"],
)
def test_scores_ties_brute_force_and_shuffle(bins: int, decimals: int) -> None:
    features = _heavy_ties(decimals=decimals)
    if decimals == 2:  # some exact ties in cents too
        features.loc[::7, "monetary"] = 19.99
    scores = rfm_scores(features, bins=bins)
    for column, score in (("frequency", "f_score"), ("monetary", "m_score")):
        np.testing.assert_array_equal(
            scores[score], _brute_force_scores(features[column].to_numpy("float64"), bins)
        )
        # ties share a score, and a higher value never scores lower
        assert (scores.groupby(column)[score].nunique() == 1).all()
        ordered = scores.sort_values(column)
        assert ordered[score].is_monotonic_increasing
    np.testing.assert_array_equal(
        scores["r_score"], _brute_force_scores(-features["recency_days"].to_numpy("float64"), bins)
    )
    assert (scores.groupby("recency_days")["r_score"].nunique() == 1).all()
    # 60% one-time buyers: frequency 1 scores 1, frequency 2 has ~60% strictly below
    assert set(scores.loc[scores["frequency"] == 1, "f_score"]) == {1}
    share_below_2 = (features["frequency"] < 2).mean()
    assert set(scores.loc[scores["frequency"] == 2, "f_score"]) == {1 + int(bins * share_below_2)}
    # row order does not matter
    shuffled = rfm_scores(features.sample(frac=1.0, random_state=3), bins=bins)
    pd.testing.assert_frame_equal(shuffled.sort_index(), scores)
    assert scores[["r_score", "f_score", "m_score"]].isin(range(1, bins + 1)).all().all()


def test_scores_inactive_customers_and_bad_input() -> None:
    features = pd.DataFrame(
        {
            "recency_days": [400, 5, 10, 700],
            "frequency": [0, 3, 1, 0],
            "monetary": [-40.0, 80.0, 30.0, 0.0],  # refunds in the window of a lapsed customer
        }
    )
    scores = rfm_scores(features, bins=5)
    # only the two active customers are ranked: the larger has 1 of 2 below -> 1 + 5 // 2 = 3;
    # the lapsed ones get 1 whatever their (negative or zero) monetary value
    assert scores["f_score"].tolist() == [1, 3, 1, 1]
    assert scores["m_score"].tolist() == [1, 3, 1, 1]
    with pytest.raises(DataContractError, match="monetary"):
        rfm_scores(features.assign(monetary=[1.0, None, 2.0, 3.0]))
    with pytest.raises(DataContractError, match="frequency"):
        rfm_scores(features.drop(columns="frequency"))
    with pytest.raises(ValueError, match="bins"):
        rfm_scores(features, bins=1)
    empty = rfm_scores(features.iloc[:0])
    assert empty.empty and "rfm_cell" in empty.columns


EXPECTED_NAMES = [
    "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
    "About to sleep", "Can't lose", "At risk", "Hibernating", "Lost",
]  # fmt: skip


def test_default_rules_partition_the_grid() -> None:
    assert [rule.name for rule in DEFAULT_SEGMENT_RULES] == EXPECTED_NAMES
    validate_rules(DEFAULT_SEGMENT_RULES, bins=5)
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        matching = [rule.name for rule in DEFAULT_SEGMENT_RULES if rule.matches(r, f, m)]
        assert len(matching) == 1, (r, f, m, matching)
    # the vectorized lookup agrees with the rule boxes on all 125 cells
    grid = pd.DataFrame(
        list(itertools.product(range(1, 6), repeat=3)), columns=["r_score", "f_score", "m_score"]
    )
    assigned = assign_segments(grid)
    for row in assigned.itertuples():
        (rule,) = [
            r for r in DEFAULT_SEGMENT_RULES if r.matches(row.r_score, row.f_score, row.m_score)
        ]
        assert row.segment == rule.name
    # a few cells of the widely used map
    lookup = assigned.set_index(["r_score", "f_score", "m_score"])["segment"]
    assert lookup[(5, 5, 5)] == "Champions" and lookup[(1, 1, 1)] == "Lost"
    assert lookup[(5, 1, 3)] == "New" and lookup[(1, 5, 5)] == "Can't lose"
    assert lookup[(3, 3, 2)] == "Need attention" and lookup[(2, 4, 1)] == "At risk"


def _without(name: str) -> list[SegmentRule]:
    return [rule for rule in DEFAULT_SEGMENT_RULES if rule.name != name]


@pytest.mark.parametrize(
    ("rules", "bins", "message"),
    [
        (_without("Lost"), 5, r"leave 10 of 125 score cells unassigned.*no rule covers R1 F1 M1"),
        (
            [SegmentRule("Loyal", r=(3, 5), f=(4, 5)), *_without("Loyal")],
            5,
            r"rules 'Loyal' and 'Champions' overlap at R5 F4 M1",
        ),
        (
            [*_without("Lost"), SegmentRule("Lost", r=(1, 1), f=(1, 2), m=(1, 6))],
            5,
            r"'Lost': m range \[1, 6\] goes beyond the scores 1\.\.5",
        ),
        ([*DEFAULT_SEGMENT_RULES, DEFAULT_SEGMENT_RULES[0]], 5, r"'Champions' is listed twice"),
        ([], 5, "empty"),
        (DEFAULT_SEGMENT_RULES, 1, "bins=1"),
    ],
    ids=["gap", "overlap", "beyond-bins", "duplicate", "empty", "bins"],
)
def test_validate_rules_errors(rules: list[SegmentRule], bins: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_rules(rules, bins=bins)


RULE_RANGE = r"expected \[low, high\] with 1 <= low <= high"
NOT_A_RANGE = r"not a score range; expected \[low, high\]"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "Champions", "r": [5, 4], "f": [4, 5]}], rf"'Champions': key 'r': .*\[5, 4\] is empty.*{RULE_RANGE}"),
        ([{"name": "Champions", "r": [0, 4], "f": [4, 5]}], r"'Champions': key 'r': .*\[0, 4\] is empty or below 1"),
        ([{"name": "Champions", "r": [4, 5], "f": [4, 5], "m": [3, 2]}], r"'Champions': key 'm': .*\[3, 2\] is empty"),
        ([{"name": "Champions", "r": [4, 5, 6], "f": [4, 5]}], r"'Champions': key 'r': .*at most 2 items"),
        ([{"name": "Champions", "r": "high", "f": [4, 5]}], rf"'Champions': key 'r': .*{NOT_A_RANGE}.*\(got 'high'\)"),
        ([{"name": "Champions", "r": [4, 5.5], "f": [4, 5]}], rf"'Champions': key 'r': .*{NOT_A_RANGE}"),
        ([{"name": "Champions", "r": True, "f": [4, 5]}], rf"'Champions': key 'r': .*{NOT_A_RANGE}"),
        ([{"name": "Champions", "r": [4, 5], "f": [4, 5], "mm": [1, 5]}], r"'Champions': unknown key 'mm'"),
        ([{"name": "Champions", "f": [4, 5]}], r"'Champions': missing required key 'r'"),
        (
            [{"name": "Loyal", "r": [4, 5], "f": [4, 5]}, {"name": "Loyal", "r": 1, "f": 1}],
            r"'Loyal' is listed twice \(rules #1 and #2\)",
        ),
        ([{"r": [4, 5], "f": [4, 5]}], r"rule #1: missing required key 'name'"),
        ([{"name": " ", "r": [4, 5], "f": [4, 5]}], r"rule ' ': key 'name': .*blank"),
        ([{"name": "(new)", "r": [4, 5], "f": [4, 5]}], r"'\(new\)' is reserved"),
        (["Champions"], r"segment rule #1: expected a mapping"),
        ([], "non-empty list"),
    ],
    ids=[
        "lo-gt-hi", "below-1", "m-lo-gt-hi", "three", "text", "fraction", "bool", "unknown-key",
        "missing-r", "duplicate", "no-name", "blank-name", "reserved", "not-a-mapping", "empty",
    ],
)  # fmt: skip
def test_rules_from_params_errors(rows: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules_from_params(rows)


def test_one_rule_validator_for_params_mappings_and_code() -> None:
    """SegmentRule, rules_from_params and the params model check a rule the same way."""
    params = [
        SegmentRuleParams(name="Top", r=[2, 3], f=None),
        SegmentRuleParams.model_validate({"name": "Rest", "r": 1, "f": None, "m": None}),
    ]
    rules = rules_from_params(params)
    assert rules == (SegmentRule("Top", r=(2, 3), f=None), SegmentRule("Rest", r=(1, 1), f=None))
    assert rules == rules_from_params([p.model_dump() for p in params])
    validate_rules(rules, bins=3)
    assert SegmentRule("One", r=np.int64(2), f=[1, 2]).r == (2, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"segment rule 'Bad': key 'f': .*{RULE_RANGE}"):
        SegmentRule("Bad", r=None, f=(3, 2))
    with pytest.raises(ValueError, match=r"segment rule '\(new\)': key 'name': .*reserved"):
        SegmentRule(NEW_SEGMENT, r=None, f=None)
    assert SegmentRuleParams.RESERVED_NAME == NEW_SEGMENT
    with pytest.raises(ValueError, match=r"'Top' is listed twice \(rules #1 and #2\)"):
        rules_from_params([params[0], params[0]])


def test_rules_from_params_round_trip() -> None:
    rows = [
        {"name": r.name, "r": list(r.r), "f": list(r.f)}
        for r in DEFAULT_SEGMENT_RULES
        if r.r is not None and r.f is not None
    ]
    assert rules_from_params(rows) == DEFAULT_SEGMENT_RULES
    assert DEFAULT_SEGMENT_RULES[0].describe() == "R 5, F 4\u20135, M any"


def test_assign_segments_bad_scores() -> None:
    scores = pd.DataFrame({"r_score": [5, 6], "f_score": [1, 1], "m_score": [1, 1]})
    with pytest.raises(DataContractError, match="'r_score'.*outside the scores 1..5"):
        assign_segments(scores)
    with pytest.raises(DataContractError, match="m_score"):
        assign_segments(scores.drop(columns="m_score"))
    scores = pd.DataFrame({"r_score": [5, 1], "f_score": [1, 1], "m_score": [1, 1]})
    assert scores.equals(assign_segments(scores).drop(columns="segment"))  # input untouched


def test_segment_summary(engine: Engine) -> None:
    rfm = rfm_table(engine, as_of_date=AS_OF, window_days=30)
    summary = segment_summary(rfm)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert summary["segment"].tolist() == EXPECTED_NAMES  # rule order, empty segments kept
    assert summary["customers"].sum() == len(rfm) == 5
    assert summary["share_customers"].sum() == pytest.approx(1.0)
    assert summary["share_revenue"].sum() == pytest.approx(1.0)
    assert summary["revenue"].sum() == pytest.approx(rfm["monetary"].sum())  # 158 = 100+20-12+25+25
    row = summary.set_index("segment").loc["Potential loyalist"]  # A and F
    assert row["customers"] == 2 and row["revenue"] == pytest.approx(125.0)
    assert row["share_revenue"] == pytest.approx(125.0 / 158.0)
    assert row["mean_recency_days"] == pytest.approx(5.0) and row["mean_frequency"] == 2.0
    lost = summary.set_index("segment").loc["Lost"]  # C: only a refund in the window
    assert lost["revenue"] == -12.0
    empty = summary.set_index("segment").loc["Champions"]
    assert empty["customers"] == 0 and empty["revenue"] == 0.0
    assert np.isnan(empty["mean_monetary"])
    assert "mean_clv" not in summary.columns  # CLV by segment is 05_clv's (it runs after 04)
    with pytest.raises(ValueError, match="'About to sleep' is not one of the rules"):
        segment_summary(rfm, rules=RULES_3)


def test_rfm_grid(engine: Engine) -> None:
    rfm = rfm_table(engine, as_of_date=AS_OF, window_days=30)
    grid = rfm_grid(rfm)
    assert tuple(grid.columns) == GRID_COLUMNS and len(grid) == 25
    assert grid["customers"].sum() == 5 and grid["share_customers"].sum() == pytest.approx(1.0)
    cell = grid.set_index(["r_score", "f_score"])
    assert cell.loc[(5, 3), "customers"] == 1 and cell.loc[(5, 3), "mean_monetary"] == 100.0
    assert cell.loc[(5, 5), "customers"] == 0 and np.isnan(cell.loc[(5, 5), "mean_monetary"])
    assert len(rfm_grid(rfm, bins=3)) == 9


def test_features_bad_input() -> None:
    with Engine(threads=1) as eng:
        with pytest.raises(StageInputMissing, match="transactions"):
            rfm_features(eng, as_of_date=AS_OF)
        eng.register("transactions", TINY.drop(columns="is_purchase"))
        with pytest.raises(DataContractError, match="is_purchase"):
            rfm_features(eng, as_of_date=AS_OF)
        eng.register("transactions", TINY)
        with pytest.raises(ValueError, match="window_days"):
            rfm_features(eng, as_of_date=AS_OF, window_days=0)
        with pytest.raises(ValueError, match="as_of_date"):
            rfm_features(eng, as_of_date="not a date")
        empty = rfm_features(eng, as_of_date="2020-01-01")
        assert empty.empty and tuple(empty.columns) == FEATURE_COLUMNS


# -- profiles -----------------------------------------------------------------------------
def _profile_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """24 customers: 20 Champions (12 north, 8 south), 4 Lost (3 north, 1 with no row)."""
    ids = [f"K{i:02d}" for i in range(24)]
    rfm = pd.DataFrame({"customer_id": ids, "segment": ["Champions"] * 20 + ["Lost"] * 4})
    customers = pd.DataFrame(
        {
            "customer_id": ids[:23],  # K23 (Lost) has no customers row
            "region": ["north"] * 12 + ["south"] * 7 + [None] + ["north"] * 3,
            # ages at 2025: 12 x 30 (25–34), 6 x 50 (45–54), 1 x 20 (<25), 1 missing; Lost 70
            "birth_year": [1995] * 12 + [1975] * 6 + [2005, None] + [1955] * 3,
            "acquisition_channel": ["social"] * 23,
        }
    )
    return rfm, customers


def test_segment_profiles_shares_and_masking() -> None:
    rfm, customers = _profile_inputs()
    profiles = segment_profiles(rfm, customers, as_of_date="2025-12-31", min_cell_size=5)
    assert tuple(profiles.columns) == PROFILE_COLUMNS
    sums = profiles.groupby(["dimension", "segment"])["share"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    region = profiles[profiles["dimension"] == "region"].set_index(["segment", "value"])
    # Champions: 12 north, 7 south, 1 null region -> (unknown)
    assert region.loc[("Champions", "north"), "customers"] == 12
    assert region.loc[("Champions", "north"), "share"] == pytest.approx(12 / 20)
    assert region.loc[("Champions", "(unknown)"), "customers"] == 1
    assert bool(region.loc[("Champions", "(unknown)"), "masked"])
    # south (7) is not small, but 100% - 60% (north) would give (unknown)'s 5%: hidden too
    assert bool(region.loc[("Champions", "south"), "masked"])
    assert not bool(region.loc[("Champions", "north"), "masked"])
    # no segment and dimension hides exactly one of several cells
    for (_, _), cells in profiles.groupby(["dimension", "segment"]):
        assert int(cells["masked"].sum()) != 1 or len(cells) == 1
        assert cells.loc[cells["customers"] < 5, "masked"].all()
    # Lost: 3 north + K23 without a customers row
    assert region.loc[("Lost", "(unknown)"), "customers"] == 1
    assert region.loc[("Lost", "north"), "share"] == pytest.approx(0.75)
    age = profiles[profiles["dimension"] == "age_band"]
    champions = age[age["segment"] == "Champions"]
    assert champions["value"].tolist() == ["<25", "25–34", "45–54", "(unknown)"]  # band order
    assert champions["customers"].tolist() == [1, 12, 6, 1]
    assert profiles["dimension"].unique().tolist() == ["region", "age_band", "acquisition_channel"]
    # display: masked cells read "–", never their value
    table = profile_table(profiles)
    assert table.loc[("region", "north"), "Champions"] == "60%"
    assert table.loc[("region", "(unknown)"), "Champions"] == "\u2013"
    assert table.loc[("region", "south"), "Champions"] == "\u2013"
    assert table.loc[("region", "north"), "Lost"] == "\u2013"  # 3 customers < 5
    assert table.loc[("age_band", "65+"), "Champions"] == "\u2013"  # no customers
    assert list(table.columns) == ["Champions", "Lost"]
    masked_values = {f"{v:.0%}" for v in profiles.loc[profiles["masked"], "share"]}
    shown = set(table.to_numpy().ravel())
    assert not masked_values & (
        shown - {f"{v:.0%}" for v in profiles.loc[~profiles["masked"], "share"]}
    )


def test_segment_profiles_bad_input() -> None:
    rfm, customers = _profile_inputs()
    with pytest.raises(DataContractError, match="'region'"):
        segment_profiles(rfm, customers.drop(columns="region"), as_of_date="2025-12-31")
    with pytest.raises(DataContractError, match="'birth_year'"):
        segment_profiles(rfm, customers.drop(columns="birth_year"), as_of_date="2025-12-31")
    with pytest.raises(DataContractError, match="customer_id.*duplicated"):
        segment_profiles(rfm, pd.concat([customers, customers.head(1)]), as_of_date="2025-12-31")


def test_age_bands_edges() -> None:
    years = pd.Series([2001, 2000, 1991, 1990, 1961, 1960, 2030, 1800, None])
    # ages at 2025: 24, 25, 34, 35, 64, 65, -5 (unknown), 225 (unknown), missing
    assert age_bands(years, as_of_date="2025-06-30").tolist() == [
        "<25", "25–34", "25–34", "35–44", "55–64", "65+", "(unknown)", "(unknown)", "(unknown)",
    ]  # fmt: skip


# -- report ---------------------------------------------------------------------------------
def _texts(fig: plt.Figure) -> str:
    parts = []
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        parts += [t.get_text() for t in ax.texts]
        parts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        legend = ax.get_legend()
        if legend is not None:
            parts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(parts)


def test_plots_and_description(engine: Engine) -> None:
    rfm = rfm_table(engine, as_of_date=AS_OF, window_days=30)
    summary = segment_summary(rfm)
    fig, (left, right) = plt.subplots(1, 2)
    # min_cell_size 1: five customers, every segment shown (the rule is tested below)
    ax = plot_segment_sizes(summary, ax=left, min_cell_size=1)
    assert ax is left and ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == EXPECTED_NAMES
    ax = plot_rfm_heatmap(rfm_grid(rfm), ax=right, currency="EUR", min_cell_size=1)
    assert ax is right and "recency" in ax.get_title().lower()
    assert "€100" in [t.get_text() for t in ax.texts]  # A's cell R5 F3: mean net spend 100
    text = _texts(fig)
    assert not any(customer in text.split() for customer in rfm["customer_id"])
    plt.close(fig)
    description = describe_segments(summary, currency="EUR", min_cell_size=1)
    assert "**5 customers**" in description and "Potential loyalist" in description
    assert "40.0% of customers" in description  # the largest segment: 2 of 5
    assert "79.1% of net revenue" in description  # 125 / 158
    assert "Champions** and **Loyal**" in description
    for customer in rfm["customer_id"]:
        assert f" {customer} " not in description
    assert "no segments" in describe_segments(summary.assign(customers=0), currency="EUR")
    assert "CLV" not in description  # 04 runs before 05_clv: it never speaks of CLV


def test_rfm_pages_speak_the_run_currency(engine: Engine) -> None:
    rfm = rfm_table(engine, as_of_date=AS_OF, window_days=30)
    fig, ax = plt.subplots()
    try:
        plot_rfm_heatmap(rfm_grid(rfm), ax=ax, currency="GBP", min_cell_size=1)
        labels = [t.get_text() for t in ax.texts]
        assert "£100" in labels  # A's cell R5 F3: mean net spend 100, as in the EUR test
        assert ax.get_title().endswith("(labels: mean net spend, GBP)")
        assert "€" not in _texts(fig) and "EUR" not in _texts(fig)
    finally:
        plt.close(fig)
    text = describe_segments(segment_summary(rfm), currency="GBP", min_cell_size=1)
    assert "they brought £158.00 of net revenue" in text  # 100 + 20 - 12 + 25 + 25
    assert "€" not in text
    with pytest.raises(TypeError, match="currency"):
        plot_rfm_heatmap(rfm_grid(rfm))  # type: ignore[call-arg]


def _summary_with_small_segments() -> pd.DataFrame:
    """A segment table of 479 customers in which New, Promising, Can't lose, At risk have < 10."""
    customers = [120, 80, 60, 4, 3, 30, 25, 2, 5, 50, 100]
    revenue = [6000.0, 3000.0, 1200.0, 40.0, 30.0, 450.0, 300.0, 90.0, 120.0, 200.0, 50.0]
    summary = pd.DataFrame({"segment": EXPECTED_NAMES, "customers": customers, "revenue": revenue})
    summary["share_customers"] = summary["customers"] / summary["customers"].sum()
    summary["share_revenue"] = summary["revenue"] / summary["revenue"].sum()
    return summary


def test_small_segments_are_pooled_in_the_chart() -> None:
    summary = _summary_with_small_segments()
    fig, ax = plt.subplots()
    try:
        plot_segment_sizes(summary, ax=ax)
        small = ["New", "Promising", "Can't lose", "At risk"]
        shown = [name for name in EXPECTED_NAMES if name not in small]
        assert [t.get_text() for t in ax.get_yticklabels()] == [*shown, OTHER]
        assert "(other) pools New, Promising, Can't lose, At risk" in ax.get_xlabel()
        customers_bars = ax.containers[0]
        widths = [bar.get_width() for bar in customers_bars]
        assert sum(widths) == pytest.approx(1.0)  # the bars still add up to every customer
        assert widths[-1] == pytest.approx(14 / 479)  # (other): 4 + 3 + 2 + 5 customers
        revenue_bars = [bar.get_width() for bar in ax.containers[1]]
        assert revenue_bars[-1] == pytest.approx(280.0 / summary["revenue"].sum())
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        plot_segment_sizes(summary, ax=ax, min_cell_size=1)  # the rule off: 11 bars
        assert len(ax.get_yticklabels()) == 11 and OTHER not in ax.get_xlabel()
    finally:
        plt.close(fig)


def test_describe_segments_never_states_a_small_group() -> None:
    summary = _summary_with_small_segments()
    text = describe_segments(summary, currency="EUR")
    assert small_counts_in_html(f"<p>{text}</p>") == []
    # win-back: Can't lose (2) + At risk (5) = 7 customers, neither counted nor their revenue
    assert "**At risk** hold fewer than 10 customers" in text
    assert "too few to describe their revenue" in text and "€210" not in text
    assert "**Champions** and **Loyal**, are 41.8% of customers (200 customers)" in text
    plain = describe_segments(summary, currency="EUR", min_cell_size=1)  # the rule off
    assert "hold 7 customers" in plain
    assert small_counts_in_html(f"<p>{plain}</p>")


def test_rfm_heatmap_hides_small_cells() -> None:
    grid = pd.DataFrame(
        {
            "r_score": [1, 1, 2, 2],
            "f_score": [1, 2, 1, 2],
            "customers": [30, 4, 0, 12],
            "share_customers": [30 / 46, 4 / 46, 0.0, 12 / 46],
            "mean_monetary": [10.0, 55.0, np.nan, 80.0],
        }
    )
    fig, ax = plt.subplots()
    try:
        plot_rfm_heatmap(grid, ax=ax, currency="EUR")
        # rows: f_score 2 on top; columns: r_score 1, 2
        cells = {
            (int(t.get_position()[0]), int(t.get_position()[1])): t.get_text() for t in ax.texts
        }
        assert cells == {(0, 0): "<10", (1, 0): "€80", (0, 1): "€10", (1, 1): ""}
        colours = np.ma.getmaskarray(ax.collections[0].get_array()).reshape(2, 2)
        assert colours.tolist() == [[True, False], [False, False]]  # the small cell: no colour
        assert "a cell of fewer than 10 customers" in ax.get_title()
    finally:
        plt.close(fig)


def test_sql_transpiles_to_spark() -> None:
    """The portable subset of crmlib/sql: the per-customer queries transpile to Spark SQL."""
    for name in ("segments_rfm_features", "segments_rfm_features_pair", "segments_behaviour"):
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: f"t_{m.group(1)}", load_sql(name))
        (spark,) = sqlglot.transpile(text, read="duckdb", write="spark")
        assert "DATEDIFF" in spark and "FILTER" not in spark.upper(), name
