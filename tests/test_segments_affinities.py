"""Tests of affinities: association rules vs a brute-force count, pruning, errors, planted pairs."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import sqlglot

from crmlib.engine import Engine, load_sql
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.privacy import small_counts_in_html
from crmlib.segments.models.affinities import (
    CROSS_SELL_COLUMNS,
    PAIR_COLUMNS,
    RULE_COLUMNS,
    cross_sell_by_segment,
    lift_matrix,
    top_pairs,
)
from crmlib.segments.plots import plot_affinity_heatmap
from crmlib.segments.queries.affinities import association_rules
from crmlib.segments.tables import affinity_table
from crmlib.segments.text import describe_affinities, describe_cross_sell

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-06-30"
WINDOW_DAYS = 181  # 2025-01-01 to 2025-06-30
WINDOW_START = pd.Timestamp("2025-01-01")  # exclusive_end(2025-06-30) - 181 days
ITEMS = ["books", "coffee", "mugs", "sportswear", "stationery", "toys"]
SEGMENTS = ["bronze", "gold", "silver"]


# -- a small random table and its brute-force rules --------------------------------------------
def _random_transactions(seed: int = 7, n_customers: int = 60) -> pd.DataFrame:
    """Purchases in the window plus every kind of row that must not count.

    Customers CUST-SECRET-00..59 buy 1-6 orders of a random item (repeats included); items are
    correlated (a customer favours two items) so some lifts are well above 1. Extra rows:
    refunds (unmatched returns) and a cancelled order with items the customer never bought,
    a purchase the day before the window and one the day after as_of, purchases with a null
    category or product, and purchases exactly on both window bounds (counted).
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []

    def add(customer: str, ts: pd.Timestamp, item: str | None, kind: str = "purchase") -> None:
        amount = {"purchase": 20.0, "cancelled": 0.0, "return": -5.0}[kind]
        rows.append(
            {
                "order_id": f"O{len(rows):04d}",
                "customer_id": customer,
                "order_ts": ts,
                "amount": amount,
                "category": item,
                # two products per category: P-<item>-1 / -2
                "product_id": None if item is None else f"P-{item}-{int(rng.integers(1, 3))}",
                "is_purchase": kind == "purchase",
                "is_return": kind == "return",
            }
        )

    for c in range(n_customers):
        customer = f"CUST-SECRET-{c:02d}"
        favourites = rng.choice(len(ITEMS), size=2, replace=False)
        weights = np.full(len(ITEMS), 0.4 / (len(ITEMS) - 2))
        weights[favourites] = 0.3
        for _ in range(int(rng.integers(1, 7))):
            item = ITEMS[int(rng.choice(len(ITEMS), p=weights))]
            ts = WINDOW_START + pd.Timedelta(minutes=int(rng.integers(0, WINDOW_DAYS * 24 * 60)))
            add(customer, ts, item)
    # rows that must not count
    add("CUST-SECRET-00", pd.Timestamp("2025-03-01 10:00"), "toys", "return")
    add("CUST-SECRET-01", pd.Timestamp("2025-03-02 10:00"), "books", "return")
    add("CUST-SECRET-02", pd.Timestamp("2025-03-03 10:00"), "stationery", "cancelled")
    add("CUST-SECRET-03", WINDOW_START - pd.Timedelta(seconds=1), "sportswear")
    add("CUST-SECRET-04", pd.Timestamp("2025-07-01 00:00"), "coffee")
    add("CUST-SECRET-05", pd.Timestamp("2025-04-01 10:00"), None)
    add("CUST-SECRET-60", pd.Timestamp("2025-04-01 10:00"), None)  # only a null item: no basket
    add("CUST-SECRET-61", pd.Timestamp("2025-04-01 10:00"), "mugs", "return")  # return only
    # rows on the bounds: counted
    add("CUST-SECRET-06", WINDOW_START, "mugs")
    add("CUST-SECRET-07", pd.Timestamp("2025-06-30 23:59:59"), "coffee")
    frame = pd.DataFrame(rows)
    frame["order_ts"] = frame["order_ts"].astype("datetime64[us]")
    frame["category"] = frame["category"].astype("object")
    return frame


def _random_segments(seed: int = 11) -> pd.DataFrame:
    """A segment per customer 0..57 (58 and 59 have none); customer 10's segment is null."""
    rng = np.random.default_rng(seed)
    ids = [f"CUST-SECRET-{c:02d}" for c in range(58)]
    values: list[str | None] = [SEGMENTS[int(i)] for i in rng.integers(0, 3, size=len(ids))]
    values[10] = None
    return pd.DataFrame({"customer_id": ids, "segment": values})


def _baskets(transactions: pd.DataFrame, item_col: str) -> dict[str, set[str]]:
    """Each customer's set of items bought in the window, row by row (the reference)."""
    start = WINDOW_START
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    baskets: dict[str, set[str]] = {}
    for row in transactions.to_dict("records"):
        item = row[item_col]
        if row["is_purchase"] and pd.notna(item) and start <= row["order_ts"] < end:
            baskets.setdefault(str(row["customer_id"]), set()).add(str(item))
    return baskets


def _brute_force_rules(
    baskets: Mapping[str, set[str]],
    population: str,
    members: set[str] | None,
    *,
    min_support: float,
    min_pair_customers: int,
) -> dict[tuple[str, str, str], dict[str, float]]:
    """Every rule A -> B of a population by enumerating customers and item pairs."""
    chosen = {c: b for c, b in baskets.items() if b and (members is None or c in members)}
    n = len(chosen)
    items = sorted(set().union(*chosen.values())) if chosen else []
    rules: dict[tuple[str, str, str], dict[str, float]] = {}
    for a, b in itertools.permutations(items, 2):
        n_a = sum(a in basket for basket in chosen.values())
        n_b = sum(b in basket for basket in chosen.values())
        n_ab = sum({a, b} <= basket for basket in chosen.values())
        if n_ab < min_pair_customers or n_ab / n < min_support:
            continue
        confidence = n_ab / n_a
        rules[(population, a, b)] = {
            "n_customers": n,
            "n_a": n_a,
            "n_b": n_b,
            "n_ab": n_ab,
            "support": n_ab / n,
            "confidence": confidence,
            "lift": confidence / (n_b / n),
            "conviction": (1 - n_b / n) / (1 - confidence) if confidence < 1 else np.inf,
        }
    return rules


def _all_brute_force(
    transactions: pd.DataFrame,
    segments: pd.DataFrame | None,
    *,
    item_col: str = "category",
    min_support: float = 0.0,
    min_pair_customers: int = 1,
) -> dict[tuple[str, str, str], dict[str, float]]:
    baskets = _baskets(transactions, item_col)
    kwargs = {"min_support": min_support, "min_pair_customers": min_pair_customers}
    expected = _brute_force_rules(baskets, "all", None, **kwargs)
    if segments is not None:
        for segment in SEGMENTS:
            members = set(segments.loc[segments["segment"] == segment, "customer_id"])
            expected |= _brute_force_rules(baskets, segment, members, **kwargs)
    return expected


def _assert_rules_equal(
    rules: pd.DataFrame, expected: Mapping[tuple[str, str, str], Mapping[str, float]]
) -> None:
    assert list(rules.columns) == list(RULE_COLUMNS)
    found = rules.set_index(["population", "antecedent", "consequent"])
    assert found.index.is_unique
    assert sorted(found.index) == sorted(expected)
    for key, values in expected.items():
        row = found.loc[key]
        for column in ("n_customers", "n_a", "n_b", "n_ab"):
            assert row[column] == values[column], (key, column)  # exact counts
        for column in ("support", "confidence", "lift", "conviction"):
            # reference: the same ratios from the brute-force counts; 1e-12 is float rounding
            assert row[column] == pytest.approx(values[column], rel=1e-12), (key, column)


TRANSACTIONS = _random_transactions()
SEGMENT_TABLE = _random_segments()


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TRANSACTIONS)
        eng.register("customer_segments", SEGMENT_TABLE)
        yield eng


def _rules(engine: Engine, **options: object) -> pd.DataFrame:
    kwargs: dict[str, object] = {
        "as_of_date": AS_OF,
        "window_days": WINDOW_DAYS,
        "min_support": 0.0,
        "min_pair_customers": 1,
    } | options
    return association_rules(engine, **kwargs)  # type: ignore[arg-type]


# -- equality with brute force ---------------------------------------------------------------
def test_fixture_exercises_every_exclusion() -> None:
    baskets = _baskets(TRANSACTIONS, "category")
    assert len(baskets) == 60  # 60: a null item only, 61: a return only: no basket
    excluded = TRANSACTIONS[
        ~TRANSACTIONS["is_purchase"]
        | (TRANSACTIONS["order_ts"] < WINDOW_START)
        | (TRANSACTIONS["order_ts"] >= pd.Timestamp("2025-07-01"))
    ]
    assert len(excluded) == 6
    # most excluded rows would add an item the customer's basket does not have
    would_add = [
        row.category not in baskets.get(row.customer_id, set()) for row in excluded.itertuples()
    ]
    assert sum(would_add) >= 4
    counts = TRANSACTIONS[TRANSACTIONS["is_purchase"]].groupby(["customer_id", "category"]).size()
    assert (counts > 1).sum() >= 10  # many customers buy the same item more than once


def test_rules_equal_brute_force(engine: Engine) -> None:
    rules = _rules(engine)
    expected = _all_brute_force(TRANSACTIONS, None)
    assert len(expected) == 30  # 6 items: every ordered pair is co-bought by someone
    _assert_rules_equal(rules, expected)
    assert set(rules["population"]) == {"all"}
    assert (rules["n_customers"] == 60).all()
    # a lift above 1 is planted by the favourite items
    assert rules["lift"].max() > 1.2


def test_rules_per_segment_equal_brute_force(engine: Engine) -> None:
    rules = _rules(engine, segments="customer_segments")
    expected = _all_brute_force(TRANSACTIONS, SEGMENT_TABLE)
    _assert_rules_equal(rules, expected)
    assert rules["population"].drop_duplicates().tolist() == ["all", *SEGMENTS]
    # "all" keeps everyone: customers without a segment row or with a null segment included
    assert (rules.loc[rules["population"] == "all", "n_customers"] == 60).all()
    sizes = rules.groupby("population")["n_customers"].first()
    assert sizes[SEGMENTS].sum() == 60 - 3  # 58, 59 have no row; 10 has a null segment
    # sorted by lift within each population
    for _, rows in rules.groupby("population"):
        assert rows["lift"].is_monotonic_decreasing


@pytest.mark.parametrize(
    ("min_support", "min_pair_customers"),
    [(0.0, 8), (0.15, 1), (0.12, 4), (0.5, 1)],
    ids=["pair-customers", "support", "both", "nothing-left"],
)
def test_pruning_equals_brute_force_filter(
    engine: Engine, min_support: float, min_pair_customers: int
) -> None:
    rules = _rules(
        engine,
        segments="customer_segments",
        min_support=min_support,
        min_pair_customers=min_pair_customers,
    )
    expected = _all_brute_force(
        TRANSACTIONS,
        SEGMENT_TABLE,
        min_support=min_support,
        min_pair_customers=min_pair_customers,
    )
    if min_support == 0.5:
        assert rules.empty and not expected
    else:
        assert 0 < len(expected) < len(_all_brute_force(TRANSACTIONS, SEGMENT_TABLE))
    _assert_rules_equal(rules, expected)
    assert (rules["n_ab"] >= min_pair_customers).all()
    assert (rules["support"] >= min_support).all()


def test_default_min_pair_customers_is_ten(engine: Engine) -> None:
    rules = association_rules(engine, as_of_date=AS_OF, window_days=WINDOW_DAYS)
    expected = _all_brute_force(TRANSACTIONS, None, min_support=0.001, min_pair_customers=10)
    _assert_rules_equal(rules, expected)
    assert rules["n_ab"].min() >= 10


def test_product_level_equals_brute_force(engine: Engine) -> None:
    rules = _rules(engine, level="product", segments="customer_segments", min_pair_customers=2)
    expected = _all_brute_force(
        TRANSACTIONS, SEGMENT_TABLE, item_col="product_id", min_pair_customers=2
    )
    assert len(expected) > 20
    _assert_rules_equal(rules, expected)
    assert rules["antecedent"].str.startswith("P-").all()


def test_window_bounds() -> None:
    """(as_of - window_days, as_of] in whole days: both bounds by hand."""
    first, last = "2025-01-01 00:00:00", "2025-06-30 23:59:59"
    rows = [  # customer, order_ts, category
        ("X", first, "mugs"), ("X", last, "coffee"),  # both on the bounds: a pair
        ("Y", "2024-12-31 23:59:59", "mugs"), ("Y", last, "coffee"),  # mugs before the window
        ("Z", first, "coffee"), ("Z", "2025-07-01 00:00:00", "mugs"),  # mugs after as_of
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "order_ts", "category"])
    frame["order_ts"] = pd.to_datetime(frame["order_ts"]).astype("datetime64[us]")
    frame["is_purchase"] = True
    with Engine(threads=1) as eng:
        eng.register("transactions", frame)
        rules = association_rules(
            eng, as_of_date=AS_OF, window_days=181, min_support=0.0, min_pair_customers=1
        )
    # X, Y, Z have baskets (N = 3); coffee: X, Y, Z; mugs: X; both: X
    assert rules[["antecedent", "consequent", "n_customers", "n_a", "n_b", "n_ab"]].to_dict(
        "records"
    ) == [
        {"antecedent": "coffee", "consequent": "mugs", "n_customers": 3, "n_a": 3, "n_b": 1, "n_ab": 1},
        {"antecedent": "mugs", "consequent": "coffee", "n_customers": 3, "n_a": 1, "n_b": 3, "n_ab": 1},
    ]  # fmt: skip
    assert rules["lift"].tolist() == [1.0, 1.0]  # 1 * 3 / (1 * 3)


def test_empty_window_gives_empty_table(engine: Engine) -> None:
    rules = association_rules(engine, as_of_date="2020-12-31")
    assert rules.empty
    assert list(rules.columns) == list(RULE_COLUMNS)
    assert rules["n_ab"].dtype == "int64" and rules["lift"].dtype == "float64"
    assert top_pairs(rules).empty and list(top_pairs(rules).columns) == list(PAIR_COLUMNS)
    assert cross_sell_by_segment(rules).empty
    assert "No category pair" in describe_affinities(rules)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("drop", "level"),
    [("category", "category"), ("product_id", "product"), ("is_purchase", "category")],
    ids=["category", "product_id", "is_purchase"],
)
def test_missing_column_is_named(drop: str, level: str) -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", TRANSACTIONS.drop(columns=drop))
        with pytest.raises(DataContractError, match=f"transactions: column '{drop}' is missing"):
            association_rules(eng, as_of_date=AS_OF, level=level)


def test_missing_tables() -> None:
    with Engine(threads=1) as eng:
        with pytest.raises(StageInputMissing, match="transactions"):
            association_rules(eng, as_of_date=AS_OF)
        eng.register("transactions", TRANSACTIONS)
        with pytest.raises(StageInputMissing, match="no_segments"):
            association_rules(eng, as_of_date=AS_OF, segments="no_segments")


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        (pd.DataFrame({"customer_id": ["A", "A"], "segment": ["x", "y"]}), "'customer_id' is repeated"),
        (pd.DataFrame({"customer_id": ["A", None], "segment": ["x", "y"]}), "'customer_id' is null"),
        (pd.DataFrame({"customer_id": ["A", "B"], "segment": ["x", "all"]}), "'segment' has the value 'all'"),
        (pd.DataFrame({"customer_id": ["A"], "label": ["x"]}), "column 'segment' is missing"),
    ],
    ids=["repeated-customer", "null-customer", "segment-named-all", "no-segment-column"],
)  # fmt: skip
def test_bad_segments_are_named(engine: Engine, segments: pd.DataFrame, message: str) -> None:
    engine.register("bad_segments", segments)
    with pytest.raises(DataContractError, match=f"bad_segments: .*{re.escape(message)}"):
        association_rules(engine, as_of_date=AS_OF, segments="bad_segments")


@pytest.mark.parametrize(
    "options",
    [
        {"level": "brand"},
        {"window_days": 0},
        {"min_support": 1.5},
        {"min_pair_customers": 0},
    ],
    ids=["level", "window", "support", "pair-customers"],
)
def test_bad_options(engine: Engine, options: dict[str, object]) -> None:
    name = next(iter(options))
    with pytest.raises(ValueError, match=name):
        association_rules(engine, as_of_date=AS_OF, **options)  # type: ignore[arg-type]


def test_sql_transpiles_to_spark() -> None:
    """The portable-subset rule of crmlib/sql: both files parse and transpile to Spark SQL."""
    for name in ("segments_affinity_baskets", "segments_affinity_rules"):
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: f"t_{m.group(1)}", load_sql(name))
        spark = sqlglot.transpile(text, read="duckdb", write="spark")
        assert spark and all(statement.strip() for statement in spark), name
        assert "FILTER" not in text.upper().replace("-- ", "")


# -- pairs and cross-sell ---------------------------------------------------------------------
def test_top_pairs_are_rules_folded(engine: Engine) -> None:
    rules = _rules(engine)
    pairs = top_pairs(rules, n=100)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert len(pairs) == len(rules) // 2 == 15
    assert (pairs["item_a"] < pairs["item_b"]).all()
    assert pairs["lift"].is_monotonic_decreasing
    found = rules.set_index(["antecedent", "consequent"])
    for pair in pairs.itertuples():
        forward, backward = (
            found.loc[(pair.item_a, pair.item_b)],
            found.loc[(pair.item_b, pair.item_a)],
        )
        assert pair.confidence_a_to_b == forward["confidence"]
        assert pair.confidence_b_to_a == backward["confidence"]
        assert pair.lift == pytest.approx(backward["lift"], rel=1e-12)  # lift is symmetric
        assert (pair.n_a, pair.n_b, pair.n_ab) == (forward["n_a"], forward["n_b"], forward["n_ab"])
    by_support = top_pairs(rules, n=3, by="support")
    assert len(by_support) == 3
    assert by_support["support"].tolist() == sorted(pairs["support"], reverse=True)[:3]
    with pytest.raises(ValueError, match="by="):
        top_pairs(rules, by="conviction")
    with pytest.raises(DataContractError, match="rules: column 'lift'"):
        top_pairs(rules.drop(columns="lift"))


def test_cross_sell_by_segment_picks_best_direction(engine: Engine) -> None:
    rules = _rules(engine, segments="customer_segments", min_pair_customers=2)
    cross_sell = cross_sell_by_segment(rules, n=3)
    assert list(cross_sell.columns) == list(CROSS_SELL_COLUMNS)
    assert cross_sell["segment"].drop_duplicates().tolist() == SEGMENTS
    for segment, rows in cross_sell.groupby("segment"):
        assert rows["rank"].tolist() == [1, 2, 3]
        candidates = rules[rules["population"] == segment]
        # expected by hand: per unordered pair the direction with the larger confidence, then lift
        best = (
            candidates.assign(pair=[frozenset(p) for p in zip(candidates["antecedent"], candidates["consequent"], strict=True)])
            .sort_values(["confidence", "antecedent"], ascending=[False, True])
            .drop_duplicates("pair")
            .sort_values(["lift", "n_ab", "antecedent"], ascending=[False, False, True])
            .head(3)
        )  # fmt: skip
        assert rows["antecedent"].tolist() == best["antecedent"].tolist()
        assert rows["consequent"].tolist() == best["consequent"].tolist()
        np.testing.assert_allclose(rows["consequent_share"], rows["n_b"] / rows["n_customers"])
    assert "all" not in set(cross_sell["segment"])


# -- report helpers ---------------------------------------------------------------------------
def test_describe_and_table_say_numbers_without_ids(engine: Engine) -> None:
    rules = _rules(engine, segments="customer_segments", min_pair_customers=3)
    # min_cell_size 1: every pair the thresholds keep is displayed (segment pairs have < 10)
    text = describe_affinities(rules, n=2, min_cell_size=1)
    best = top_pairs(rules, n=1).iloc[0]
    assert f"**{best['item_a']} + {best['item_b']}**: {best['lift']:.1f}\u00d7" in text
    assert f"{best['n_ab']:.0f} customers bought both" in text
    assert "Among 60 customers" in text
    segment_text = describe_affinities(rules, population="gold", min_cell_size=1)
    assert "of segment **gold**" in segment_text
    cross_text = describe_cross_sell(cross_sell_by_segment(rules), min_cell_size=1)
    assert cross_text.count("\n") == len(SEGMENTS) - 1
    table = affinity_table(top_pairs(rules, n=4), min_cell_size=1)
    assert table.shape == (4, 6) and table.index.tolist() == [1, 2, 3, 4]
    assert table["support"].str.endswith("%").all()
    for shown in (text, segment_text, cross_text, table.to_string()):
        assert "CUST-SECRET" not in shown
    with pytest.raises(ValueError, match="level="):
        describe_affinities(rules, level="brand")


def test_pairs_bought_by_fewer_customers_than_the_cell_size_are_not_displayed(
    engine: Engine,
) -> None:
    # min_pair_customers 1 keeps every pair: of the 15 pairs of "all", 9 are bought by 10-15
    # customers and 6 by 8 or 9; every pair within a segment by 1 to 7
    rules = _rules(engine, segments="customer_segments")
    pairs = top_pairs(rules, n=100)
    small = pairs[pairs["n_ab"] < 10]
    assert (len(pairs), len(small)) == (15, 6)
    hidden = {f"{a} + {b}" for a, b in zip(small["item_a"], small["item_b"], strict=True)}
    # the scanner finds them when the rule is off, so the checks below can fail
    assert len(small_counts_in_html(affinity_table(pairs, min_cell_size=1).to_html())) == 6
    table = affinity_table(pairs, min_cell_size=10)
    assert small_counts_in_html(table.to_html()) == []
    assert table.index.tolist() == list(range(1, 10)) and not hidden & set(table["pair"])
    assert table["pair"].tolist() == [
        p for p in affinity_table(pairs, min_cell_size=1)["pair"] if p not in hidden
    ]
    text = describe_affinities(rules, n=15, min_cell_size=10)
    assert small_counts_in_html(f"<p>{text}</p>") == []
    assert not [pair for pair in hidden if f"**{pair}**" in text]
    assert "8 of 9 category pairs" in text  # stationery + toys has lift 1.0, not above
    matrix = lift_matrix(rules, min_cell_size=10)
    for pair in small.itertuples():
        assert np.isnan(matrix.loc[pair.item_a, pair.item_b])
        assert np.isnan(matrix.loc[pair.item_b, pair.item_a])
    assert int(np.isfinite(matrix.to_numpy()).sum()) == 2 * 9
    fig, ax = plt.subplots()
    try:
        plot_affinity_heatmap(rules, ax=ax, min_cell_size=10)
        assert len(ax.texts) == 2 * 9  # the small pairs are not drawn
    finally:
        plt.close(fig)
    # within segments every pair is small at 10; at 5 the bullets quote pairs of 5 to 7
    assert describe_affinities(rules, population="gold").startswith("No category pair")
    assert describe_cross_sell(cross_sell_by_segment(rules)).startswith("No segment")
    cross = describe_cross_sell(cross_sell_by_segment(rules, n=100), min_cell_size=5)
    quoted = [int(n) for n in re.findall(r"(\d+) customers bought both", cross)]
    assert quoted and min(quoted) >= 5
    assert small_counts_in_html(f"<p>{cross}</p>", min_cell_size=5) == []


def test_heatmap_is_symmetric_and_labelled(engine: Engine) -> None:
    rules = _rules(engine)
    matrix = lift_matrix(rules, min_cell_size=1)
    assert matrix.shape == (6, 6)
    assert np.isnan(np.diag(matrix.to_numpy())).all()
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T, rtol=1e-12)
    fig, ax = plt.subplots()
    try:
        returned = plot_affinity_heatmap(rules, ax=ax, min_cell_size=1)
        assert returned is ax
        assert ax.get_title().startswith("Category affinity")
        assert "(B)" in ax.get_xlabel() and "(A)" in ax.get_ylabel()
        assert len(ax.texts) == 30  # annotated off-diagonal cells
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert sorted(labels) == ITEMS
        best = top_pairs(rules, n=1).iloc[0]  # the strongest pair sits side by side, first
        assert labels[:2] == [best["item_a"], best["item_b"]]
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        plot_affinity_heatmap(rules.iloc[0:0], ax=ax)
        assert "no category pair" in ax.texts[0].get_text()
    finally:
        plt.close(fig)


# -- the embedded sample: planted pairs --------------------------------------------------------
@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    """01_ingest on params/default.yaml into a temporary run folder: (engine, as_of_date)."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    if not (ROOT / "data" / "sample" / "transactions.csv.gz").is_file():
        pytest.fail("data/sample is missing: regenerate it with `python -m crmlib.synth`")
    params = load_params(ROOT / "params" / "default.yaml")
    run = RunFolder(tmp_path_factory.mktemp("affinities") / "sample")
    run_ingest(params, run)
    with Engine(threads=2) as eng:
        run.register(eng, "transactions")
        yield eng, str(params.as_of_date)


def test_sample_finds_the_planted_pairs(sample_engine: tuple[Engine, str]) -> None:
    engine, as_of = sample_engine
    truth = json.loads((ROOT / "data" / "sample" / "truth.json").read_text())
    planted = {tuple(sorted(pair)) for pair in truth["affinities"]["planted_pairs"]}
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE sample_segments AS SELECT customer_id, "
        "'s' || CAST(hash(customer_id) % 3 AS VARCHAR) AS segment "
        "FROM (SELECT DISTINCT customer_id FROM transactions)"
    )
    rules = association_rules(engine, as_of_date=as_of, segments="sample_segments")
    pairs = top_pairs(rules, n=10)
    # planted truth: exactly the six planted pairs are the top six by lift (66 pairs in all)
    assert {(p.item_a, p.item_b) for p in pairs.head(6).itertuples()} == planted
    # and clearly so: the sample gives lift ~2.2-2.35 for them vs at most ~1.4 for the rest
    assert pairs["lift"].iloc[5] > 1.4 * pairs["lift"].iloc[6]
    assert len(top_pairs(rules, n=100)) == 66  # 12 categories, every pair kept
    # each random third of the customers shows the same planted pairs on top
    for segment in ("s0", "s1", "s2"):
        top = top_pairs(rules, n=6, population=segment)
        assert {(p.item_a, p.item_b) for p in top.itertuples()} == planted, segment
    text = describe_affinities(rules)
    assert any(f"**{a.replace('_', ' ')} + {b.replace('_', ' ')}**" in text for a, b in planted)
