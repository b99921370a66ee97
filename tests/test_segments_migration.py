"""Tests of segment migration: a hand table with known moves, invariants on the sample, plots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_tables import contract_transactions

from crmlib.engine import Engine
from crmlib.errors import StageInputMissing
from crmlib.privacy import HIDDEN, small_counts_in_html
from crmlib.segments.models.migration import migration_matrix, migration_summary
from crmlib.segments.models.profiles import segment_profiles
from crmlib.segments.models.rfm import segment_summary
from crmlib.segments.models.rules import DEFAULT_SEGMENT_RULES, rules_from_params
from crmlib.segments.plots import plot_migration_heatmap
from crmlib.segments.queries.clusters import behaviour_features
from crmlib.segments.queries.migration import MIGRATION_COLUMNS, segment_migration
from crmlib.segments.queries.rfm import rfm_table
from crmlib.segments.tables import profile_table
from crmlib.segments.text import describe_migration, describe_segments, migration_counts

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-06-30"  # lookback 30 days: the earlier date is 2025-05-31

# bins = 2 and two rules on recency only: R2 "Active", R1 "Lapsed" (value order: Active first).
RULES_2 = rules_from_params(
    [{"name": "Active", "r": 2, "f": None}, {"name": "Lapsed", "r": 1, "f": [1, 2]}]
)

HAND = contract_transactions(
    [
        ("A1", "A", "2025-01-10 10:00:00", 10.0, 10.0, 0.0, "purchase"),
        ("A2", "A", "2025-06-20 10:00:00", 20.0, 20.0, 0.0, "purchase"),
        ("B1", "B", "2025-05-30 10:00:00", 40.0, 40.0, 0.0, "purchase"),
        ("C1", "C", "2025-02-01 10:00:00", 5.0, 5.0, 0.0, "purchase"),
        ("C2", "C", "2025-06-02 10:00:00", -5.0, 0.0, -5.0, "return"),
        ("D1", "D", "2025-05-15 10:00:00", 7.0, 7.0, 0.0, "purchase"),
        ("D2", "D", "2025-06-25 10:00:00", 8.0, 8.0, 0.0, "purchase"),
        ("E1", "E", "2025-06-10 10:00:00", 100.0, 100.0, 0.0, "purchase"),
        ("F1", "F", "2025-06-12 10:00:00", -9.0, 0.0, -9.0, "return"),  # never a customer
    ]
)
# Recency at 2025-05-31 (A, B, C, D exist): A 141, B 1, C 119, D 16.
#   bins 2, n 4, score = 1 + (2 * n_worse) // 4: A 0 worse -> 1, C 1 -> 1, D 2 -> 2, B 3 -> 2.
#   Before: A Lapsed, C Lapsed, D Active, B Active.
# Recency at 2025-06-30 (E is new): A 10, B 31, C 149, D 5, E 20.
#   n 5, score = 1 + (2 * n_worse) // 5: C 0 -> 1, B 1 -> 1, E 2 -> 1, A 3 -> 2, D 4 -> 2.
#   After: A Active, D Active, B Lapsed, C Lapsed, E Lapsed.
# Moves: A up, B down, C stayed, D stayed, E new.
# Net monetary at 2025-06-30 (365 days): A 30, B 40, C 5 - 5 = 0, D 15, E 100.
HAND_EXPECTED = pd.DataFrame(
    {
        "segment_before": ["Active", "Active", "Lapsed", "Lapsed", "(new)"],
        "segment_after": ["Active", "Lapsed", "Active", "Lapsed", "Lapsed"],
        "direction": ["stayed", "down", "up", "stayed", "new"],
        "customers": np.array([1, 1, 1, 1, 1], dtype="int64"),
        "revenue": [15.0, 40.0, 30.0, 0.0, 100.0],  # D, B, A, C, E
    }
).astype({"segment_before": "str", "segment_after": "str", "direction": "str"})


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", HAND)
        yield eng


def test_migration_by_hand(engine: Engine) -> None:
    migration = segment_migration(engine, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES_2)
    assert tuple(migration.columns) == MIGRATION_COLUMNS
    pd.testing.assert_frame_equal(migration, HAND_EXPECTED)
    summary = migration_summary(migration, rules=RULES_2)
    assert summary == {
        "customers": 5,
        "existing_customers": 4,
        "moved_up": 1,
        "moved_down": 1,
        "stayed": 2,
        "new": 1,
        "share_moved_up": 0.25,
        "share_moved_down": 0.25,
        "share_stayed": 0.5,
        "share_new": 0.2,
        "revenue_moved_up": 30.0,
        "revenue_moved_down": 40.0,
        "revenue_stayed": 15.0,
        "revenue_new": 100.0,
        "largest_up": {"from": "Lapsed", "to": "Active", "customers": 1},
        "largest_down": {"from": "Active", "to": "Lapsed", "customers": 1},
    }
    matrix = migration_matrix(migration, rules=RULES_2)
    assert matrix.index.tolist() == ["Active", "Lapsed", "(new)"]
    assert matrix.columns.tolist() == ["Active", "Lapsed"]
    assert matrix.to_numpy().tolist() == [[1, 1], [1, 1], [0, 1]]
    revenue = migration_matrix(migration, value="revenue", rules=RULES_2)
    assert revenue.loc["(new)", "Lapsed"] == 100.0 and revenue.loc["(new)", "Active"] == 0.0


def test_migration_agrees_with_rfm_at_both_dates(engine: Engine) -> None:
    migration = segment_migration(engine, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES_2)
    _assert_invariants(
        engine, migration, as_of=AS_OF, lookback_days=30, window_days=365, bins=2, rules=RULES_2
    )


def _assert_invariants(
    engine: Engine,
    migration: pd.DataFrame,
    *,
    as_of: str,
    lookback_days: int,
    window_days: int,
    bins: int,
    rules: tuple,
) -> None:
    before_date = (pd.Timestamp(as_of) - pd.Timedelta(days=lookback_days)).date()
    after = rfm_table(engine, as_of_date=as_of, window_days=window_days, bins=bins, rules=rules)
    before = rfm_table(
        engine, as_of_date=before_date, window_days=window_days, bins=bins, rules=rules
    )
    # every customer at as_of is in exactly one cell
    assert migration["customers"].sum() == len(after)
    # the whole matrix agrees with joining the two RFM tables customer by customer
    joined = after[["customer_id", "segment", "monetary"]].merge(
        before[["customer_id", "segment"]], on="customer_id", how="left", suffixes=("", "_b")
    )
    reference = (
        joined.assign(segment_before=joined["segment_b"].fillna("(new)"))
        .groupby(["segment_before", "segment"])
        .agg(customers=("customer_id", "size"), revenue=("monetary", "sum"))
    )
    computed = migration.set_index(["segment_before", "segment_after"])[["customers", "revenue"]]
    reference.index.names = computed.index.names
    pd.testing.assert_frame_equal(computed.sort_index(), reference.sort_index(), check_dtype=False)
    # rows of the matrix (without new) = segment sizes at the earlier date
    by_before = (
        migration[migration["segment_before"] != "(new)"]
        .groupby("segment_before")["customers"]
        .sum()
    )
    assert by_before.to_dict() == before["segment"].value_counts().to_dict()
    # new = customers whose first purchase is after the earlier date
    new = migration.loc[migration["segment_before"] == "(new)", "customers"].sum()
    assert new == len(after) - len(before)
    # columns = segment sizes at as_of, and revenue = the after-window monetary
    by_after = migration.groupby("segment_after")[["customers", "revenue"]].sum()
    assert by_after["customers"].to_dict() == after["segment"].value_counts().to_dict()
    revenue = after.groupby("segment")["monetary"].sum()
    np.testing.assert_allclose(by_after["revenue"], revenue.reindex(by_after.index), atol=1e-6)
    # the matrix keeps the totals at both dates
    matrix = migration_matrix(migration, rules=rules)
    assert matrix.to_numpy().sum() == len(after)
    assert matrix.drop(index="(new)").sum(axis=1).sum() == len(before)
    summary = migration_summary(migration, rules=rules)
    assert summary["moved_up"] + summary["moved_down"] + summary["stayed"] + summary["new"] == len(
        after
    )
    assert summary["existing_customers"] == len(before)


def test_migration_bad_input(engine: Engine) -> None:
    with pytest.raises(ValueError, match="lookback_days"):
        segment_migration(engine, as_of_date=AS_OF, lookback_days=0)
    with pytest.raises(ValueError, match="bins=5"):
        segment_migration(engine, as_of_date=AS_OF, bins=2)
    with pytest.raises(ValueError, match="overlap"):
        segment_migration(
            engine, as_of_date=AS_OF, bins=2, rules=(*RULES_2, RULES_2[0].__class__("X", r=2, f=1))
        )
    with Engine(threads=1) as empty, pytest.raises(StageInputMissing, match="transactions"):
        segment_migration(empty, as_of_date=AS_OF)
    migration = segment_migration(engine, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES_2)
    with pytest.raises(ValueError, match="'Active' is not one of the rules"):
        migration_summary(migration)  # computed with RULES_2, summarised with the defaults
    with pytest.raises(ValueError, match="value="):
        migration_matrix(migration, value="orders", rules=RULES_2)


def test_migration_before_any_purchase(engine: Engine) -> None:
    # the earlier date precedes every purchase: everybody is new
    migration = segment_migration(
        engine, as_of_date=AS_OF, lookback_days=365, bins=2, rules=RULES_2
    )
    assert set(migration["segment_before"]) == {"(new)"}
    summary = migration_summary(migration, rules=RULES_2)
    assert summary["new"] == 5 and summary["share_moved_up"] is None
    assert "No customer had bought 365 days ago" in describe_migration(summary, lookback_days=365)


def test_migration_plot_and_description(engine: Engine) -> None:
    migration = segment_migration(engine, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES_2)
    matrix = migration_matrix(migration, rules=RULES_2)
    fig, ax = plt.subplots()
    # min_cell_size 1: five customers, every pair shown (the rule is tested below)
    assert plot_migration_heatmap(matrix, ax=ax, min_cell_size=1) is ax
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    # row-normalised: Active -> 50% / 50%, (new) -> nobody / 100% (empty pairs stay blank)
    assert [t.get_text() for t in ax.texts] == ["50%", "50%", "50%", "50%", "", "100%"]
    labels = [t.get_text() for t in ax.texts + ax.get_xticklabels() + ax.get_yticklabels()]
    assert not set(labels) & {"A", "B", "C", "D", "E"}
    plt.close(fig)
    text = describe_migration(
        migration_summary(migration, rules=RULES_2), lookback_days=30, min_cell_size=1
    )
    assert "Of the 4 customers who had already bought 30 days ago" in text
    assert "**25.0% moved up**" in text and "**50.0% stayed**" in text
    assert "**25.0% moved down**" in text and "1 customer (20.0% of today's 5)" in text
    assert "Lapsed \u2192 Active" in text


def _cell_texts(ax: plt.Axes) -> dict[tuple[int, int], str]:
    """Annotation of each heatmap cell: (column, row) -> text."""
    return {(int(t.get_position()[0]), int(t.get_position()[1])): t.get_text() for t in ax.texts}


def test_migration_heatmap_hides_small_pairs() -> None:
    # Gold row: 6 is small, and 100% minus Gold's 87% would reveal it, so Gold's share is
    # hidden too; Silver row: two small pairs hide each other, Bronze's 91% is shown
    matrix = pd.DataFrame(
        [[40, 6, 0], [3, 2, 50], [0, 0, 0]],
        index=pd.Index(["Gold", "Silver", "(new)"], name="segment_before"),
        columns=pd.Index(["Gold", "Silver", "Bronze"], name="segment_after"),
    )
    fig, ax = plt.subplots()
    try:
        plot_migration_heatmap(matrix, ax=ax)
        cells = _cell_texts(ax)
        assert cells[(0, 0)] == HIDDEN and cells[(1, 0)] == "<10" and cells[(2, 0)] == ""
        assert cells[(0, 1)] == "<10" and cells[(1, 1)] == "<10" and cells[(2, 1)] == "91%"
        assert "87%" not in cells.values() and "13%" not in cells.values()
        colours = ax.collections[0].get_array()
        drawn = ~np.ma.getmaskarray(colours).reshape(matrix.shape)
        # hidden pairs are not coloured; a row without customers stays blank as before
        assert drawn.tolist() == [[False, False, True], [False, False, True], [False] * 3]
        assert "<10: fewer than 10 customers" in ax.get_title()
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        plot_migration_heatmap(matrix, ax=ax, min_cell_size=1)  # the rule off: all shown
        assert _cell_texts(ax)[(0, 0)] == "87%" and "\n" not in ax.get_title()
    finally:
        plt.close(fig)


SMALL_MOVES = {
    "customers": 300, "existing_customers": 252, "moved_up": 53, "stayed": 192,
    "moved_down": 7, "new": 48, "share_moved_up": 53 / 252, "share_stayed": 192 / 252,
    "share_moved_down": 7 / 252, "share_new": 48 / 300,
    "largest_up": {"from": "Loyal", "to": "Champions", "customers": 8},
    "largest_down": {"from": "About to sleep", "to": "Hibernating", "customers": 7},
}  # fmt: skip


def test_describe_migration_never_states_a_small_count() -> None:
    text = describe_migration(SMALL_MOVES, lookback_days=90)
    assert small_counts_in_html(f"<p>{text}</p>") == []
    # 7 moved down: "fewer than 10"; 252 - 192 - 7 = 53 would reveal it, so up has no count
    assert "**2.8% moved down** (fewer than 10)" in text
    assert "to a more valuable segment, **" in text and "(53)" not in text
    assert "**76.2% stayed** (192)" in text and "Of the 252 customers" in text
    assert "Loyal \u2192 Champions (fewer than 10 customers)" in text
    assert "48 customers (16.0% of today's 300)" in text
    assert migration_counts(SMALL_MOVES)["moved_up"] is None
    # the rule off: the same sentence states every count (so the checks above can fail)
    plain = describe_migration(SMALL_MOVES, lookback_days=90, min_cell_size=1)
    assert "(53)" in plain and "(8 customers)" in plain
    assert len(small_counts_in_html(f"<p>{plain}</p>")) == 2


# -- the embedded sample --------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, str, pd.DataFrame]]:
    """01_ingest on params/default.yaml into a temporary run folder: (engine, as_of, customers)."""
    from crmlib.config import load_params
    from crmlib.ingest import run_ingest
    from crmlib.io import RunFolder

    if not (ROOT / "data" / "sample" / "transactions.csv.gz").is_file():
        pytest.fail("data/sample is missing: regenerate it with `python -m crmlib.synth`")
    params = load_params(ROOT / "params" / "default.yaml")
    run = RunFolder(tmp_path_factory.mktemp("segments") / "sample")
    run_ingest(params, run)
    with Engine(threads=2) as eng:
        run.register(eng, "transactions", "customer_days", "customer_facts")
        yield eng, str(params.as_of_date), run.read_table("customers")


def test_migration_invariants_on_sample(sample_engine: tuple[Engine, str, pd.DataFrame]) -> None:
    engine, as_of, _ = sample_engine
    migration = segment_migration(engine, as_of_date=as_of)
    assert migration["customers"].sum() > 1000
    _assert_invariants(
        engine,
        migration,
        as_of=as_of,
        lookback_days=90,
        window_days=365,
        bins=5,
        rules=DEFAULT_SEGMENT_RULES,
    )
    summary = migration_summary(migration)
    assert 0 < summary["moved_up"] and 0 < summary["moved_down"] and 0 < summary["new"]
    shares = summary["share_moved_up"] + summary["share_moved_down"] + summary["share_stayed"]
    assert shares == pytest.approx(1.0)
    # a different lookback keeps the invariants too
    migration_30 = segment_migration(engine, as_of_date=as_of, lookback_days=30, window_days=180)
    _assert_invariants(
        engine,
        migration_30,
        as_of=as_of,
        lookback_days=30,
        window_days=180,
        bins=5,
        rules=DEFAULT_SEGMENT_RULES,
    )


def test_run_facts_and_facts_of_other_transactions_agree_on_sample(
    sample_engine: tuple[Engine, str, pd.DataFrame],
) -> None:
    """The run's customer_days / customer_facts artifacts (no first_purchase_ts) give the same
    features as facts built from a transactions view of another name (crmlib.facts)."""
    engine, as_of, _ = sample_engine
    engine.execute("CREATE OR REPLACE VIEW own_transactions AS SELECT * FROM transactions")
    assert "first_purchase_ts" not in engine.column_types("customer_days")

    def features(transactions: str) -> dict[str, pd.DataFrame]:
        return {
            "rfm": rfm_table(engine, as_of_date=as_of, transactions=transactions),
            "migration": segment_migration(engine, as_of_date=as_of, transactions=transactions),
            "behaviour": behaviour_features(
                engine, as_of_date=as_of, transactions=transactions, events="no_events"
            ),
        }

    from_artifacts, built = features("transactions"), features("own_transactions")
    for key, frame in from_artifacts.items():
        pd.testing.assert_frame_equal(frame, built[key], check_exact=False, rtol=1e-12)
    assert len(from_artifacts["rfm"]) == len(from_artifacts["behaviour"]) > 1000


def test_rfm_and_profiles_on_sample(sample_engine: tuple[Engine, str, pd.DataFrame]) -> None:
    engine, as_of, customers = sample_engine
    rfm = rfm_table(engine, as_of_date=as_of)
    # two threads sum in any order: the table is the same on every call
    pd.testing.assert_frame_equal(rfm_table(engine, as_of_date=as_of), rfm)
    summary = segment_summary(rfm)
    assert summary["share_customers"].sum() == pytest.approx(1.0)
    assert summary["revenue"].sum() == pytest.approx(rfm["monetary"].sum())
    assert (summary["customers"] > 0).all()  # every default segment is populated on the sample
    # Champions buy more often and more recently than Lost customers
    by = summary.set_index("segment")
    assert by.loc["Champions", "mean_frequency"] > by.loc["Lost", "mean_frequency"]
    assert by.loc["Champions", "mean_recency_days"] < by.loc["Lost", "mean_recency_days"]
    # recency agrees with the last purchase date, window sums with a direct pandas check
    last = pd.to_datetime(rfm["last_order_date"])
    assert ((pd.Timestamp(as_of) - last).dt.days == rfm["recency_days"]).all()
    profiles = segment_profiles(rfm, customers, as_of_date=as_of)
    sums = profiles.groupby(["dimension", "segment"])["share"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    counts = profiles.groupby(["dimension", "segment"])["customers"].sum().unstack("dimension")
    sizes = rfm["segment"].value_counts()
    for dimension in ("region", "age_band", "acquisition_channel"):
        assert counts[dimension].to_dict() == sizes.reindex(counts.index).to_dict()
    description = describe_segments(summary, currency="EUR")
    assert "-0.0%" not in description and "\u22120.0%" not in description
    assert "**Lost**" in description  # the largest segment of the sample
    table = profile_table(profiles)
    masked = profiles[profiles["masked"]]
    for row in masked.itertuples():
        assert table.loc[(row.dimension, row.value), row.segment] == "\u2013"


def test_monetary_on_sample_matches_pandas(
    sample_engine: tuple[Engine, str, pd.DataFrame],
) -> None:
    engine, as_of, _ = sample_engine
    rfm = rfm_table(engine, as_of_date=as_of, window_days=90).set_index("customer_id")
    transactions = engine.query(
        "SELECT customer_id, order_ts, amount, is_purchase FROM transactions"
    )
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    window = transactions[(transactions["order_ts"] >= end - pd.Timedelta(days=90))
                          & (transactions["order_ts"] < end)]  # fmt: skip
    monetary = window.groupby("customer_id")["amount"].sum()
    frequency = window[window["is_purchase"]].groupby("customer_id").size()
    joined = rfm.join(monetary.rename("check_m")).join(frequency.rename("check_f"))
    np.testing.assert_allclose(joined["monetary"], joined["check_m"].fillna(0.0), atol=1e-6)
    np.testing.assert_array_equal(joined["frequency"], joined["check_f"].fillna(0).astype(int))
    buyers = transactions[transactions["is_purchase"] & (transactions["order_ts"] < end)]
    assert len(rfm) == buyers["customer_id"].nunique()
    assert dt.date.fromisoformat(as_of) == dt.date(2025, 12, 31)


def test_directions_follow_the_default_value_order() -> None:
    migration = pd.DataFrame(
        {
            "segment_before": ["Can't lose", "At risk", "Loyal", "Lost", "(new)", "Lost"],
            "segment_after": ["At risk", "Can't lose", "Champions", "Lost", "New", "Hibernating"],
            "customers": [5, 1, 7, 20, 3, 2],
            "revenue": [50.0, 30.0, 700.0, 0.0, 90.0, 4.0],
        }
    )
    summary = migration_summary(migration)
    # up: At risk -> Can't lose (F 3-4 -> 5), Loyal -> Champions, Lost -> Hibernating
    assert (summary["moved_up"], summary["moved_down"], summary["stayed"], summary["new"]) == (
        10, 5, 20, 3,
    )  # fmt: skip
    assert summary["largest_up"] == {"from": "Loyal", "to": "Champions", "customers": 7}
    assert summary["largest_down"] == {"from": "Can't lose", "to": "At risk", "customers": 5}
    assert summary["revenue_moved_up"] == pytest.approx(734.0)
