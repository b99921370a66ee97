"""Tests of behavioural clusters: SQL features by hand, planted clusters, stability, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_tables import contract_transactions
from sklearn.metrics import adjusted_rand_score

from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.formatting import format_money
from crmlib.privacy import OTHER, small_counts_in_html
from crmlib.segments.models.clusters import (
    BEHAVIOUR_FEATURES,
    ClusterResult,
    cluster_customers,
    cluster_labels,
    name_clusters,
    prepare_features,
    shown_profiles,
)
from crmlib.segments.plots import plot_cluster_profiles
from crmlib.segments.queries.clusters import behaviour_features
from crmlib.segments.stage import clusters_or_reason
from crmlib.segments.tables import cluster_table
from crmlib.segments.text import describe_clusters

# -- behaviour_features: one query, checked by hand -------------------------------------------
AS_OF = "2025-06-30"
# window_days=90: the window is the 90 days ending 2025-06-30, i.e. from 2025-04-02 00:00
# (2025-07-01 minus 90 days: 30 June + 31 May + 29 April days). engagement_days=30: from
# 2025-06-01 00:00.
TINY = contract_transactions(
    [
        # order, customer, ts, amount, gross, refund, kind, category
        ("O1", "A", "2025-01-15 10:00", 30.0, 30.0, 0.0, "purchase", "coffee"),
        ("O2", "A", "2025-04-01 23:00", 20.0, 20.0, 0.0, "purchase", "mugs"),  # 1 h before window
        ("O3", "A", "2025-04-02 00:00", 50.0, 50.0, 0.0, "purchase", "coffee"),  # window start
        ("O4", "A", "2025-06-10 12:00", 40.0, 50.0, -10.0, "purchase", "books"),  # partly refunded
        ("O5", "A", "2025-06-20 12:00", 0.0, 25.0, -25.0, "cancelled", "toys"),  # not a purchase
        ("R1", "A", "2025-06-25 12:00", -15.0, 0.0, -15.0, "return", None),  # unmatched refund
        ("O6", "B", "2024-12-01 09:00", 30.0, 30.0, 0.0, "purchase", None),
        ("O7", "B", "2025-07-01 00:00", 100.0, 100.0, 0.0, "purchase", "coffee"),  # after as_of
        ("R2", "C", "2025-05-01 09:00", -5.0, 0.0, -5.0, "return", None),  # returns only
        ("O8", "D", "2025-05-05 09:00", 8.0, 8.0, 0.0, "purchase", "mugs"),
        ("O9", "D", "2025-06-30 23:59:59", 12.0, 12.0, 0.0, "purchase", None),  # on as_of
        ("O10", "E", "2025-06-01 09:00", 0.0, 9.0, -9.0, "cancelled", "mugs"),  # never bought
    ]
)
EVENTS = pd.DataFrame(
    [
        ("A", "2025-05-20 09:00", "sent"),  # before the engagement window
        ("A", "2025-05-21 09:00", "open"),  # before the engagement window
        ("A", "2025-06-05 09:00", "sent"),
        ("A", "2025-06-06 09:00", "open"),
        ("A", "2025-06-06 09:01", "click"),
        ("A", "2025-06-07 09:00", "open"),  # a second open of the same mail counts too
        ("A", "2025-06-12 09:00", "sent"),
        ("B", "2025-06-15 09:00", "open"),  # an open without a send in the window
        ("D", "2025-06-02 09:00", "sent"),
        ("D", "2025-06-03 09:00", "click"),
        ("D", "2025-06-16 09:00", "sent"),
        ("D", "2025-06-16 10:00", "unsubscribe"),  # neither a send nor a response
        ("D", "2025-07-01 01:00", "open"),  # after as_of
        ("F", "2025-06-05 09:00", "sent"),  # no purchase: not in the features
    ],
    columns=["customer_id", "event_ts", "event_type"],
).assign(
    event_ts=lambda e: pd.to_datetime(e["event_ts"]).astype("datetime64[us]"),
    channel="email",
    campaign_id="CMP-1",
)
EXPECTED_FEATURES = pd.DataFrame(
    {
        "customer_id": pd.array(["A", "B", "D"], dtype="str"),
        # A: last purchase Jun 10 -> 20 days; B: Dec 1 2024 -> 30 + 31 + 28 + 31 + 30 + 31 + 30
        # = 211 days (the Jul 1 order is after as_of); D: bought on as_of -> 0
        "recency_days": [20, 211, 0],
        # A: O3 and O4 in the window (O2 an hour before it, O5 cancelled); B: none; D: O8, O9
        "frequency": [2, 0, 2],
        # A: 50 + 40 + 0 (cancelled O5) - 15 (return R1) = 75; B: 0; D: 8 + 12 = 20
        "monetary": [75.0, 0.0, 20.0],
        # A: Jan 15 -> Jun 30 = 16 + 28 + 31 + 30 + 31 + 30 = 166; B: 211; D: May 5 -> 26 + 30 = 56
        "tenure_days": [166, 211, 56],
        # A: coffee, books (toys was cancelled); B: none in window; D: mugs (null not counted)
        "category_diversity": [2, 0, 1],
        # A: (open, click, open) / 2 sends = 1.5; B: no send -> 0; D: 1 click / 2 sends = 0.5
        "engagement": [1.5, 0.0, 0.5],
    }
).astype({c: "int64" for c in ("recency_days", "frequency", "tenure_days", "category_diversity")})


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        eng.register("events", EVENTS)
        yield eng


def test_features_hand_checked(engine: Engine) -> None:
    features = behaviour_features(engine, as_of_date=AS_OF, window_days=90, engagement_days=30)
    assert list(features.columns) == ["customer_id", *BEHAVIOUR_FEATURES]
    pd.testing.assert_frame_equal(features, EXPECTED_FEATURES)


def test_features_default_window_takes_every_purchase_of_a_year(engine: Engine) -> None:
    features = behaviour_features(engine, as_of_date=dt.date(2025, 6, 30)).set_index("customer_id")
    # 365 days from 2024-07-01: every order of A (O1-O4), B's December order, D's two
    assert features["frequency"].to_dict() == {"A": 4, "B": 1, "D": 2}
    assert features.loc["A", "monetary"] == pytest.approx(30 + 20 + 50 + 40 - 15)
    assert features.loc["A", "category_diversity"] == 3  # coffee, mugs, books
    assert features.loc["B", "category_diversity"] == 0  # a null category is not a category


def test_features_without_events_table(caplog: pytest.LogCaptureFixture) -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        with caplog.at_level(logging.WARNING, logger="crmlib.segments.queries.clusters"):
            features = behaviour_features(eng, as_of_date=AS_OF, window_days=90)
    assert (features["engagement"] == 0.0).all()
    pd.testing.assert_frame_equal(
        features.drop(columns="engagement"), EXPECTED_FEATURES.drop(columns="engagement")
    )
    assert "no events table: engagement is 0" in caplog.text


def test_features_bad_input(engine: Engine) -> None:
    with Engine(threads=1) as eng:
        with pytest.raises(StageInputMissing, match="transactions"):
            behaviour_features(eng, as_of_date=AS_OF)
        eng.register("transactions", TINY)
        eng.register("events", EVENTS.drop(columns="event_type"))
        with pytest.raises(DataContractError, match="event_type"):
            behaviour_features(eng, as_of_date=AS_OF)
        eng.register("transactions", TINY.drop(columns="category"))
        with pytest.raises(DataContractError, match="category"):
            behaviour_features(eng, as_of_date=AS_OF)
    with pytest.raises(ValueError, match="window_days"):
        behaviour_features(engine, as_of_date=AS_OF, window_days=0)


# -- prepare_features ------------------------------------------------------------------------
def test_prepare_features_by_hand() -> None:
    features = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "recency_days": [0, 3, 7, 15],
            "frequency": [1, 1, 3, 0],
            "monetary": [-20.0, 0.0, 9.0, 99.0],  # a: clipped to 0 before log1p
            "tenure_days": [10, 10, 10, 10],  # constant: dropped
            "category_diversity": [1, 2, 1, 0],
            "engagement": [0.0, 0.5, 1.5, 0.0],  # used as is
        }
    )
    matrix, columns = prepare_features(features)
    assert columns == [
        "recency_days", "frequency", "monetary", "category_diversity", "engagement",
    ]  # fmt: skip
    # by hand: log1p, then (x - mean) / population standard deviation
    recency = np.log([1, 4, 8, 16])
    monetary = np.log([1, 1, 10, 100])
    for values, j in ((recency, 0), (monetary, 2), (np.array([0, 0.5, 1.5, 0]), 4)):
        np.testing.assert_allclose(
            matrix[:, j], (values - values.mean()) / values.std(), atol=1e-12
        )
    assert matrix.shape == (4, 5)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("frequency", -1.0, "frequency.*negative"),
        ("engagement", np.nan, "engagement.*missing"),
        ("monetary", np.inf, "monetary.*non-finite"),
    ],
    ids=["negative", "missing", "infinite"],
)
def test_prepare_features_bad_values(column: str, value: float, message: str) -> None:
    features = EXPECTED_FEATURES.copy()
    features[column] = features[column].astype("float64")
    features.loc[1, column] = value
    with pytest.raises(DataContractError, match=message):
        prepare_features(features)


# -- clusters on planted truth ---------------------------------------------------------------
#: Four planted groups: centres of log1p(recency, frequency, monetary, tenure, categories) and
#: engagement. Over the four equal groups their centroid z-scores are (by hand, noise ignored):
#: regulars z_frequency 1.7 and z_monetary 1.6; lapsed z_recency 1.6; new z_tenure -1.7;
#: browsers z_engagement 1.7 with z_frequency -0.4 and z_recency 0.2: each gets its name.
CENTRES: dict[str, tuple[list[float], float]] = {
    "High-value regulars": ([10, 20, 2000, 900, 6], 0.3),
    "Lapsed": ([500, 0.2, 5, 800, 0.2], 0.1),
    "New": ([10, 1, 60, 15, 1], 0.3),
    "Engaged browsers": ([60, 1, 50, 700, 1], 2.0),
}


def _frame(logs: np.ndarray) -> pd.DataFrame:
    raw = np.clip(np.expm1(logs[:, :5]), 0.0, None)
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"C{i:05d}" for i in range(len(logs))], dtype="str"),
            **{feature: raw[:, j] for j, feature in enumerate(BEHAVIOUR_FEATURES[:5])},
            "engagement": np.clip(logs[:, 5], 0.0, None),
        }
    )


def planted(n_per: int = 300, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Well-separated groups: noise sd 0.15 in log space around :data:`CENTRES`."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(list(CENTRES), n_per)
    centres = np.array([[*np.log1p(CENTRES[name][0]), CENTRES[name][1]] for name in truth])
    noise = rng.normal(0.0, 0.15, centres.shape) * np.array([1, 1, 1, 1, 1, 0.3])
    return _frame(centres + noise), truth


def blob(n: int = 1500, seed: int = 4) -> pd.DataFrame:
    """No structure: one isotropic Gaussian in log space (standardized: a round ball)."""
    rng = np.random.default_rng(seed)
    return _frame(rng.normal(0.0, 0.5, (n, 6)) + np.array([3, 1, 4, 5, 1, 0]))


@pytest.fixture(scope="module")
def planted_result() -> tuple[ClusterResult, np.ndarray, pd.DataFrame]:
    features, truth = planted()
    return cluster_customers(features, seed=0), truth, features


@pytest.fixture(scope="module")
def blob_result() -> ClusterResult:
    return cluster_customers(blob(), seed=0)


def test_planted_clusters_recovered(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result, truth, features = planted_result
    assert result.k == 4  # planted truth: four groups
    assert result.algorithm == "KMeans"
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.95
    assert result.stable and result.stability_ari_mean > 0.95 and result.stability_ari_p05 > 0.9
    # the best silhouette is at the planted k, and well above the "clearly separated" 0.5
    assert result.silhouette["k"].tolist() == [3, 4, 5, 6, 7, 8]
    assert result.chosen_silhouette == result.silhouette["silhouette"].max() > 0.7
    # each planted group is named after its planted profile
    named = pd.crosstab(truth, result.labels["cluster_name"].to_numpy())
    assert {group: named.loc[group].idxmax() for group in CENTRES} == {g: g for g in CENTRES}
    pd.testing.assert_series_equal(
        result.labels["customer_id"], features["customer_id"], check_names=False
    )


def test_profiles_invariants(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result, _, features = planted_result
    profiles = result.profiles
    assert profiles["cluster"].tolist() == list(range(result.k))
    assert profiles["customers"].sum() == len(features)
    assert profiles["customers"].is_monotonic_decreasing  # cluster 0 is the largest
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["cluster_name"].is_unique
    # raw means equal a groupby of the input by the assigned cluster (brute force)
    by_cluster = features.assign(cluster=result.labels["cluster"]).groupby("cluster")
    for feature in BEHAVIOUR_FEATURES:
        np.testing.assert_allclose(profiles[feature], by_cluster[feature].mean(), rtol=1e-12)
    # centroid z-scores are the mean of the standardized matrix per cluster
    matrix, columns = prepare_features(features)
    for j, feature in enumerate(columns):
        expected = pd.Series(matrix[:, j]).groupby(result.labels["cluster"]).mean()
        np.testing.assert_allclose(profiles[f"z_{feature}"], expected, atol=1e-12)
    names = dict(zip(profiles["cluster"], profiles["cluster_name"], strict=True))
    assert (result.labels["cluster"].map(names) == result.labels["cluster_name"]).all()


def test_structureless_blob_is_flagged(
    blob_result: ClusterResult,
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result = blob_result
    # a round Gaussian ball has no clusters: k-means cuts it into arbitrary slices, which
    # score a low silhouette and change from one resample to the next
    assert result.chosen_silhouette < 0.25
    assert not result.stable
    assert result.stability_ari_mean < planted_result[0].stability_ari_mean - 0.3
    text = describe_clusters(result, currency="EUR")
    assert "is low: customers form a continuum" in text
    assert (
        f"The clusters are not stable (mean adjusted Rand index {result.stability_ari_mean:.2f} "
        f"over 10 resamples): treat them as a rough grouping."
    ) in text


def test_deterministic_and_row_order_free(blob_result: ClusterResult) -> None:
    features = blob()
    again = cluster_customers(features, seed=0)
    pd.testing.assert_frame_equal(again.labels, blob_result.labels)
    pd.testing.assert_frame_equal(again.profiles, blob_result.profiles)
    assert again.stability_ari_mean == blob_result.stability_ari_mean
    # the same customers in another order: the same partition, even without structure
    shuffled = features.sample(frac=1.0, random_state=7).reset_index(drop=True)
    other = cluster_customers(shuffled, seed=0)
    merged = blob_result.labels.merge(other.labels, on="customer_id", suffixes=("", "_shuffled"))
    assert len(merged) == len(features)
    assert adjusted_rand_score(merged["cluster"], merged["cluster_shuffled"]) == 1.0
    assert (merged["cluster"] == merged["cluster_shuffled"]).all()
    assert other.labels["customer_id"].tolist() == shuffled["customer_id"].tolist()


def test_minibatch_path() -> None:
    features, truth = planted(n_per=150, seed=11)
    result = cluster_customers(features, minibatch_above=500, n_bootstrap=3, seed=1)
    assert result.algorithm == "MiniBatchKMeans"
    assert result.k == 4
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.95


def test_constant_engagement_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    features, truth = planted(n_per=100, seed=5)
    features["engagement"] = 0.0  # as without an events table
    with caplog.at_level(logging.WARNING, logger="crmlib.segments.models.clusters"):
        result = cluster_customers(features, k_range=(2, 6), n_bootstrap=3)
    assert "engagement" in caplog.text
    assert "engagement" not in result.feature_columns
    assert (result.profiles["z_engagement"] == 0.0).all()
    # browsers and regulars/lapsed/new still separate on the other five features
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.95
    assert "Left out because every customer has the same value: opens + clicks per send" in (
        describe_clusters(result, currency="EUR")
    )


def test_cluster_customers_bad_input() -> None:
    features, _ = planted(n_per=20, seed=2)  # 80 customers
    with pytest.raises(DataContractError, match="'engagement' is missing"):
        cluster_customers(features.drop(columns="engagement"))
    with pytest.raises(DataContractError, match="customer_id values appear more than once"):
        cluster_customers(pd.concat([features, features.head(1)], ignore_index=True))
    with pytest.raises(ValueError, match="40 customers; clustering needs at least 50"):
        cluster_customers(features.head(40))
    with pytest.raises(ValueError, match="needs at least 61"):
        cluster_customers(features.head(60), k_range=(3, 60))
    with pytest.raises(ValueError, match="k_range"):
        cluster_customers(features, k_range=(1, 4))
    with pytest.raises(ValueError, match="n_bootstrap"):
        cluster_customers(features, n_bootstrap=0)
    constant = features.assign(**{f: 1.0 for f in BEHAVIOUR_FEATURES})
    with pytest.raises(ValueError, match="every behaviour feature is constant"):
        cluster_customers(constant)


def test_unclusterable_shops_get_a_reason_and_the_page_goes_on() -> None:
    """Too few customers, or no spread: a sentence and no clusters; bad options still raise."""
    features, _ = planted(n_per=20, seed=2)  # 80 customers
    result, reason = clusters_or_reason(features.head(12), n_bootstrap=2)
    assert result is None
    assert (
        reason
        == "Behavioural clusters are not fitted: 12 customers, and clustering needs at least 50."
    )
    constant = features.assign(**{f: 1.0 for f in BEHAVIOUR_FEATURES})
    assert clusters_or_reason(constant)[1] == (
        "Behavioural clusters are not fitted: the 80 customers do not differ on any behaviour feature."
    )
    labels = cluster_labels(None)
    assert labels.empty and list(labels.columns) == ["customer_id", "cluster", "cluster_name"]
    assert describe_clusters(None, currency="CHF", reason=reason) == reason
    fig, ax = plt.subplots()
    plot_cluster_profiles(None, ax=ax, reason=reason)
    assert [text.get_text() for text in ax.texts] == [reason]
    plt.close(fig)
    with pytest.raises(ValueError, match="k_range"):
        clusters_or_reason(features, k_range=(1, 4))
    fitted, none = clusters_or_reason(features, n_bootstrap=2, seed=1)
    assert none is None and cluster_labels(fitted) is fitted.labels


# -- naming ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("z", "name"),
    [
        ({"z_recency_days": 0.9, "z_frequency": 1.0, "z_monetary": 1.0}, "Lapsed"),
        ({"z_recency_days": 0.9, "z_engagement": 0.6}, "Lapsed but engaged"),
        ({"z_tenure_days": -0.5, "z_frequency": 2.0}, "New"),
        ({"z_frequency": 0.5, "z_monetary": 0.5}, "High-value regulars"),
        ({"z_monetary": 0.7, "z_frequency": 0.2}, "Big spenders"),
        ({"z_frequency": 0.7}, "Frequent buyers"),
        ({"z_engagement": 1.0, "z_frequency": -0.1}, "Engaged browsers"),
        ({"z_engagement": 1.0, "z_frequency": 0.3}, "Engaged buyers"),
        ({"z_category_diversity": 0.8}, "Explorers"),
        ({"z_recency_days": 0.49, "z_tenure_days": -0.49}, "Occasional"),
    ],
    ids=[
        "lapsed-first", "lapsed-engaged", "new", "regulars", "spenders", "frequent",
        "browsers", "engaged-buyers", "explorers", "default",
    ],
)  # fmt: skip
def test_name_rules(z: dict[str, float], name: str) -> None:
    assert name_clusters(pd.DataFrame([z])) == [name]


def test_names_are_unique() -> None:
    z = pd.DataFrame({"z_recency_days": [1.0, 0.0, 2.0, 0.0, 1.5]})
    assert name_clusters(z) == ["Lapsed", "Occasional", "Lapsed 2", "Occasional 2", "Lapsed 3"]


# -- report helpers --------------------------------------------------------------------------
def test_describe_stable_clusters(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result = planted_result[0]
    text = describe_clusters(result, currency="EUR")
    assert "into **4 behavioural clusters** (k chosen among 3\u20138" in text
    assert "**1,200 customers**" in text
    assert "clearly separated" in text
    assert "The clusters are stable (mean adjusted Rand index" in text
    assert "not stable" not in text
    for name in CENTRES:
        assert f"**{name}** (25.0%, 300 customers)" in text
    assert "C0" not in text  # no customer id in the report


@pytest.mark.parametrize(
    ("currency", "symbol", "others"),
    [("GBP", "£", ("€", "$", "EUR")), ("USD", "$", ("€", "£", "EUR")), ("CHF", "CHF ", ("€", "£"))],
    ids=["gbp", "usd", "iso-code"],
)
def test_describe_clusters_speaks_the_run_currency(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
    currency: str,
    symbol: str,
    others: tuple[str, ...],
) -> None:
    result, truth, features = planted_result
    text = describe_clusters(result, currency=currency)
    # known answer: the planted groups are recovered exactly, so each bullet quotes the mean
    # net spend of its planted group, e.g. High-value regulars around 2,000 -> "£2.0k"
    spend = features.groupby(truth)["monetary"].mean()
    for name, mean in spend.items():
        assert f"**{name}** " in text
        assert f"{format_money(mean, currency)} net in the window" in text
    assert text.count(f"{symbol}") >= len(CENTRES)
    assert not [other for other in others if other in text]


def test_plot_cluster_profiles(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result = planted_result[0]
    fig, ax = plt.subplots()
    try:
        out = plot_cluster_profiles(result, ax=ax)
        assert out is ax
        assert ax.get_title() == "Behavioural clusters vs the average customer"
        assert ax.get_xlabel().startswith("Behaviour feature") and ax.get_ylabel()
        rows = [label.get_text() for label in ax.get_yticklabels()]
        assert len(rows) == result.k
        assert rows[0] == f"{result.profiles['cluster_name'].iloc[0]} (25%)"
        assert len(ax.get_xticklabels()) == len(BEHAVIOUR_FEATURES)
        assert len(ax.texts) == result.k * len(BEHAVIOUR_FEATURES)  # every cell annotated
    finally:
        plt.close(fig)


def test_cluster_table(planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame]) -> None:
    result = planted_result[0]
    table = cluster_table(result, currency="GBP")
    assert list(table.columns[:4]) == ["Cluster", "Name", "Customers", "Share (%)"]
    assert "Net spend in window (GBP)" in table.columns  # money headers name the run's currency
    assert table["Net spend in window (GBP)"].equals(result.profiles["monetary"].round(1))
    assert len(table.columns) == 4 + len(BEHAVIOUR_FEATURES)
    assert table["Customers"].sum() == 1200
    assert table["Share (%)"].tolist() == [25.0] * 4
    assert table["Recency (days)"].equals(result.profiles["recency_days"].round(1))


def _with_small_clusters(result: ClusterResult) -> ClusterResult:
    """The planted result with its four clusters resized to 1,000, 186, 8 and 6 customers."""
    sizes = np.array([1000, 186, 8, 6])
    profiles = result.profiles.assign(customers=sizes, share=sizes / sizes.sum())
    return dataclasses.replace(result, profiles=profiles)


def test_small_clusters_are_pooled_into_other(
    planted_result: tuple[ClusterResult, np.ndarray, pd.DataFrame],
) -> None:
    result = _with_small_clusters(planted_result[0])
    names = result.profiles["cluster_name"].tolist()
    shown = shown_profiles(result.profiles)
    assert shown["cluster_name"].tolist() == [names[0], names[1], OTHER]
    assert shown["customers"].tolist() == [1000, 186, 14]  # still adds up to 1,200
    assert shown["pooled"].tolist() == ["", "", f"{names[2]}, {names[3]}"]
    small = result.profiles.iloc[2:]
    for column in ("frequency", "monetary", "z_recency_days"):  # means over their customers
        expected = float((small[column] * small["customers"]).sum() / 14)
        assert shown[column].iloc[-1] == pytest.approx(expected)
    text = describe_clusters(result, currency="EUR")
    assert small_counts_in_html(f"<p>{text}</p>") == []
    assert f"**{OTHER}** ({names[2]}, {names[3]} together" in text
    assert "1.2%, 14 customers)" in text
    assert f"**{names[2]}** (" not in text
    # the rule off: each cluster described alone, with its small count
    assert (
        len(
            small_counts_in_html(
                f"<p>{describe_clusters(result, currency='EUR', min_cell_size=1)}</p>"
            )
        )
        == 2
    )
    table = cluster_table(result, currency="EUR")
    assert small_counts_in_html(table.to_html()) == []
    assert table["Name"].tolist() == [names[0], names[1], OTHER]
    assert table["Customers"].sum() == 1200 and pd.isna(table["Cluster"].iloc[-1])
    fig, ax = plt.subplots()
    try:
        plot_cluster_profiles(result, ax=ax)
        rows = [label.get_text() for label in ax.get_yticklabels()]
        assert rows == [f"{names[0]} (83%)", f"{names[1]} (16%)", f"{OTHER} (1%)"]
        assert f"{OTHER}: {names[2]}, {names[3]}" in ax.get_ylabel()
    finally:
        plt.close(fig)
