"""Tests of churn drivers: sklearn's permutation importance and partial dependence, reason codes."""

from __future__ import annotations

import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.inspection import partial_dependence, permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from crmlib.churn.models.drivers import partial_dependence_table, permutation_importance_table
from crmlib.churn.models.training import ChurnModel, fit_churn_models
from crmlib.churn.plots import plot_importance, plot_partial_dependence
from crmlib.churn.stage import churn_drivers
from crmlib.churn.text import (
    _contributions,
    describe_dependence,
    describe_importance,
    reason_codes,
)
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.sampling import sample_rows

NUMERIC = ["recency_days", "orders_90d", "noise"]
CATEGORICAL = ["region"]


def simulate(n: int, seed: int) -> pd.DataFrame:
    """Customers with a planted logistic truth: recency strong, orders weaker, noise none."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 300, n)
    orders = rng.poisson(2, n).astype(float)
    region = rng.choice(["north", "south"], n)
    logit = -1.5 + 0.012 * (recency - 150) - 0.35 * (orders - 2) + 0.3 * (region == "south")
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "recency_days": recency,
            "orders_90d": orders,
            "noise": rng.normal(size=n),
            "region": pd.array(region, dtype="str"),
            "churned": rng.random(n) < 1 / (1 + np.exp(-logit)),
        }
    )


@pytest.fixture(scope="module")
def logistic() -> ChurnModel:
    frame = simulate(6_000, 1)
    return fit_churn_models(frame, numeric=NUMERIC, categorical=CATEGORICAL, models=("logistic",))[
        "logistic"
    ]


@pytest.fixture(scope="module")
def validation() -> pd.DataFrame:
    return simulate(3_000, 2)


class Wrapped(ClassifierMixin, BaseEstimator):
    """The test's own sklearn view of a fitted churn model (independent of the module's)."""

    def __init__(self, model: object = None) -> None:
        self.model = model

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Wrapped:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.model.predict_proba(X)  # type: ignore[attr-defined]
        return np.column_stack([1 - p, p])


class Additive:
    """A stand-in model: P(churn) = recency / 1000 + 0.2 in region s (no interactions)."""

    name = "additive"
    numeric_: tuple[str, ...] = ("recency_days",)
    categorical_: tuple[str, ...] = ("region",)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        recency = frame["recency_days"].to_numpy(dtype=float)
        return recency / 1000 + (frame["region"].to_numpy() == "s") * 0.2


# -- permutation importance ---------------------------------------------------------------------
def _sklearn_importance(
    model: object, frame: pd.DataFrame, *, n_repeats: int, seed: int
) -> pd.DataFrame:
    """sklearn's permutation importance of ``model`` on ``frame``: mean and sd by feature."""
    y = frame["churned"].to_numpy().astype(int)
    features = NUMERIC + CATEGORICAL
    reference = permutation_importance(
        Wrapped(model).fit(frame[features], y),
        frame[features].reset_index(drop=True),
        y,
        scoring="roc_auc",
        n_repeats=n_repeats,
        random_state=seed,
    )
    return pd.DataFrame(
        {"importance_mean": reference.importances_mean, "importance_sd": reference.importances_std},
        index=features,
    )


def _assert_equals_sklearn(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same shuffles, same scorer, same rows: equal to float precision."""
    got = table.set_index("feature")[["importance_mean", "importance_sd"]]
    pd.testing.assert_frame_equal(got, expected.loc[got.index], check_names=False, rtol=1e-12)


def test_permutation_importance_equals_sklearn_on_the_same_rows_and_seed(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    frame = validation.head(1_500)
    table = permutation_importance_table(logistic, frame, n_repeats=4, seed=3)
    _assert_equals_sklearn(table, _sklearn_importance(logistic, frame, n_repeats=4, seed=3))
    assert table["importance_mean"].is_monotonic_decreasing
    y = frame["churned"].to_numpy().astype(int)
    assert table.attrs["baseline_roc_auc"] == pytest.approx(
        roc_auc_score(y, logistic.predict_proba(frame))
    )


def test_permutation_importance_equals_sklearn_for_gradient_boosting_too(
    validation: pd.DataFrame,
) -> None:
    """The batched shuffles give sklearn's numbers on a tree model with calibration as well."""
    model = fit_churn_models(
        simulate(4_000, 5), numeric=NUMERIC, categorical=CATEGORICAL,
        models=("hist_gradient_boosting",),
    )["hist_gradient_boosting"]  # fmt: skip
    frame = validation.head(2_000)
    table = permutation_importance_table(model, frame, n_repeats=3, seed=11)
    _assert_equals_sklearn(table, _sklearn_importance(model, frame, n_repeats=3, seed=11))


def test_permutation_importance_ranks_the_planted_strong_feature_first(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    table = permutation_importance_table(logistic, validation, n_repeats=3)
    assert table["feature"].tolist()[:2] == ["recency_days", "orders_90d"]
    # the planted truth has no noise term: its importance is within noise of 0
    noise = table.set_index("feature").loc["noise", "importance_mean"]
    assert abs(noise) < 0.005


def test_permutation_importance_subsamples_and_refuses_one_class(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    table = permutation_importance_table(logistic, validation, max_rows=500, n_repeats=1)
    assert table.attrs["rows"] == 500
    with pytest.raises(DataContractError, match="single class"):
        permutation_importance_table(logistic, validation.assign(churned=True), n_repeats=1)
    with pytest.raises(DataContractError, match="churned"):
        permutation_importance_table(logistic, validation.drop(columns="churned"))


def _old_sample_rows(n_rows: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """drivers.py's private draw before crmlib.sampling (kept here to compare the draws)."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=int(max_rows), replace=False))


@pytest.mark.parametrize(
    ("n_rows", "max_rows", "seed"),
    [(3_000, 1_000, 3), (696_710, 10_000, 20251231), (20_000, 19_999, 1), (3_512, 10_000, 7)],
)
def test_sample_rows_draws_the_rows_drivers_drew_before(
    n_rows: int, max_rows: int, seed: int
) -> None:
    new = sample_rows(n_rows, max_rows, seed=seed).positions
    np.testing.assert_array_equal(
        new, _old_sample_rows(n_rows, max_rows, np.random.default_rng(seed))
    )


def test_permutation_importance_on_a_sample_uses_those_rows(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    """Sampled: sklearn's permutation importance on exactly the rows the old draw picked."""
    table = permutation_importance_table(logistic, validation, max_rows=1_000, n_repeats=2, seed=3)
    rows = _old_sample_rows(len(validation), 1_000, np.random.default_rng(3))
    frame = validation.iloc[rows].reset_index(drop=True)
    y = frame["churned"].to_numpy().astype(int)
    features = NUMERIC + CATEGORICAL
    reference = permutation_importance(
        Wrapped(logistic).fit(frame[features], y), frame[features], y, scoring="roc_auc",
        n_repeats=2, random_state=3,
    )  # fmt: skip
    got = table.set_index("feature").loc[features, "importance_mean"].to_numpy()
    np.testing.assert_allclose(got, reference.importances_mean, rtol=1e-12)
    assert (table.attrs["rows"], table.attrs["rows_total"], table.attrs["n_repeats"]) == (
        1_000, 3_000, 2,
    )  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_permutation_importance_on_a_sample_ranks_as_on_all_rows(
    logistic: ChurnModel, validation: pd.DataFrame, seed: int
) -> None:
    """Planted truth: recency strong (drop ~0.22 in AUC on all 3,000 rows), orders weaker
    (~0.05). On a random third of the rows the two lead in the same order, and recency's drop
    stays within 0.05 of all rows' (seeds 1-7 moved it by at most 0.041)."""
    everyone = permutation_importance_table(logistic, validation, n_repeats=3, seed=seed)
    sampled = permutation_importance_table(
        logistic, validation, max_rows=1_000, n_repeats=3, seed=seed
    )
    assert everyone["feature"].tolist()[:2] == ["recency_days", "orders_90d"]
    assert sampled["feature"].tolist()[:2] == everyone["feature"].tolist()[:2]
    strong = [
        t.set_index("feature").loc["recency_days", "importance_mean"] for t in (everyone, sampled)
    ]
    assert abs(strong[0] - strong[1]) < 0.05
    assert everyone.attrs["rows"] == everyone.attrs["rows_total"] == 3_000


def test_importance_and_dependence_sentences_only_when_sampled(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    everyone = permutation_importance_table(logistic, validation, n_repeats=2)
    sampled = permutation_importance_table(logistic, validation, max_rows=1_000, n_repeats=2)
    assert describe_importance(everyone) == ""
    assert describe_importance(sampled) == (
        "Importance measured on a random sample of 1,000 of the 3,000 validation customers; "
        "± (the whiskers) is the spread over 2 shuffles of that sample."
    )
    for table, expected in ((everyone, []), (sampled, [describe_importance(sampled)])):
        fig, ax = plt.subplots()
        plot_importance(table, ax=ax)
        assert [text.get_text() for text in fig.texts] == expected
        plt.close(fig)
    all_rows = partial_dependence_table(logistic, validation, features=["noise"], max_rows=3_000)
    some = partial_dependence_table(logistic, validation, features=["noise"], max_rows=500)
    assert (all_rows.attrs["rows"], some.attrs["rows"], some.attrs["rows_total"]) == (
        3_000,
        500,
        3_000,
    )
    assert describe_dependence(all_rows) == ""
    assert describe_dependence(some) == (
        "Mean P(churn) over a random sample of 500 of the 3,000 customers scored."
    )
    for table, expected in ((all_rows, []), (some, [describe_dependence(some)])):
        fig, axes = plt.subplots(1, 1, squeeze=False)
        plot_partial_dependence(table, features=["noise"], axes=axes.ravel())
        captions = [text.get_text() for text in fig.texts]
        assert captions == [fig.get_suptitle(), *expected]
        plt.close(fig)


def test_churn_drivers_sample_default_is_the_params_files() -> None:
    parameters = inspect.signature(churn_drivers).parameters
    assert parameters["max_rows"].default == DEFAULTS.churn.importance_max_rows
    default = inspect.signature(permutation_importance_table).parameters["max_rows"].default
    assert default == DEFAULTS.churn.importance_max_rows


# -- partial dependence -------------------------------------------------------------------------
def test_partial_dependence_equals_sklearn_brute_force_on_an_uncalibrated_estimator() -> None:
    frame = simulate(400, 4)
    features = NUMERIC + CATEGORICAL
    pipeline = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(), CATEGORICAL)]
        ),
        LogisticRegression(),
    ).fit(frame[features], frame["churned"])

    class Uncalibrated:
        name, numeric_, categorical_ = "raw", tuple(NUMERIC), tuple(CATEGORICAL)

        def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
            return pipeline.predict_proba(table[features])[:, 1]

    table = partial_dependence_table(
        Uncalibrated(), frame, features=["recency_days", "region"], grid_points=7
    )
    for feature, kind in (("recency_days", "numeric"), ("region", "categorical")):
        part = table[table["feature"] == feature]
        assert set(part["kind"]) == {kind}
        grid = part["value"].to_numpy()
        reference = partial_dependence(
            pipeline,
            frame[features],
            [feature],
            custom_values={feature: grid},
            method="brute",
            kind="average",
            categorical_features=CATEGORICAL,
        )
        # both average the same predictions over the same rows: equal to float precision
        np.testing.assert_allclose(part["mean_p_churn"], reference["average"][0], rtol=1e-12)
    numeric_grid = table.loc[table["feature"] == "recency_days", "value"].astype(float)
    # the grid is observed values: quantiles 0, 1/6, ..., 1 of recency (inverted CDF)
    expected = np.quantile(frame["recency_days"], np.linspace(0, 1, 7), method="inverted_cdf")
    np.testing.assert_array_equal(numeric_grid, expected)
    assert table["value"].dtype == object


def test_partial_dependence_by_hand_on_an_additive_model() -> None:
    frame = pd.DataFrame(
        {"recency_days": [0.0, 100.0, 200.0, 300.0], "region": ["n", None, "n", "s"]}
    )
    table = partial_dependence_table(Additive(), frame, features=["region", "recency_days"])
    assert table["feature"].tolist()[0] == "region"  # in the order asked for
    # recency grid: the 4 observed values (20 quantiles, duplicates dropped);
    # PD(v) = v / 1000 + 0.2 * share of region s (1 of 4 customers)
    recency = table[table["feature"] == "recency_days"]
    assert recency["value"].tolist() == [0.0, 100.0, 200.0, 300.0]
    assert recency["mean_p_churn"].tolist() == pytest.approx([0.05, 0.15, 0.25, 0.35])
    # levels most frequent first: n (2), then (unknown) and s (1 each, by name);
    # PD(level) = mean recency / 1000 (0.15) + 0.2 if the level is s
    region = table[table["feature"] == "region"]
    assert region["value"].tolist() == ["n", "(unknown)", "s"]
    assert region["mean_p_churn"].tolist() == pytest.approx([0.15, 0.15, 0.35])
    assert set(region["kind"]) == {"categorical"} and set(recency["kind"]) == {"numeric"}


def test_partial_dependence_refuses_unknown_features(logistic: ChurnModel) -> None:
    with pytest.raises(ValueError, match="tenure_days"):
        partial_dependence_table(logistic, simulate(50, 1), features=["tenure_days"])
    with pytest.raises(DataContractError, match="noise"):
        partial_dependence_table(
            logistic, simulate(50, 1).drop(columns="noise"), features=["recency_days"]
        )


# -- reason codes -------------------------------------------------------------------------------
class Toy:
    """A stand-in model that reads whatever features a reason-code test needs."""

    def __init__(self, numeric: tuple[str, ...], categorical: tuple[str, ...] = ()) -> None:
        self.name, self.numeric_, self.categorical_ = "toy", numeric, categorical


def pd_rows(feature: str, kind: str, values: list, p_churn: list[float]) -> pd.DataFrame:  # type: ignore[type-arg]
    return pd.DataFrame(
        {
            "feature": feature,
            "value": pd.Series(values, dtype=object),
            "kind": kind,
            "mean_p_churn": p_churn,
        }
    )


def test_contributions_by_hand() -> None:
    frame = pd.DataFrame(
        {"x": [0.0, 5.0, 10.0, np.nan, 20.0], "region": ["n", "s", "s", "zz", None]}
    )
    part = pd_rows("x", "numeric", [10.0, 0.0], [0.3, 0.1])  # grid out of order on purpose
    # PD: 0.1, 0.2 (interpolated), 0.3, missing, 0.3 (held flat beyond the grid);
    # mean of the known = 0.9 / 4 = 0.225
    expected = [-0.125, -0.025, 0.075, 0.0, 0.075]
    assert _contributions(frame, part, "x", "numeric") == pytest.approx(expected)
    levels = pd_rows("region", "categorical", ["n", "s", "(unknown)"], [0.5, 0.1, 0.2])
    # PD: 0.5, 0.1, 0.1, off-grid (zz), 0.2 ((unknown)); mean of the known = 0.9 / 4 = 0.225
    expected = [0.275, -0.125, -0.125, 0.0, -0.025]
    assert _contributions(frame, levels, "region", "categorical") == pytest.approx(expected)


def test_reason_codes_order_the_positive_contributions() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "orders_90d": [0.0, 1.0, 4.0],
            "return_share": [0.35, 0.0, 0.0],
            "region": ["n", "s", "s"],
        }
    )
    pd_table = pd.concat(
        [
            # PD 0.5, 0.4, 0.1 (mean 1/3): a +0.167, b +0.067, c -0.233
            pd_rows("orders_90d", "numeric", [0.0, 4.0], [0.50, 0.10]),
            # PD 0.5, 0.2, 0.2 (mean 0.3): a +0.2, b and c -0.1
            pd_rows("return_share", "numeric", [0.0, 0.35], [0.20, 0.50]),
            # PD 0.2, 0.35, 0.35 (mean 0.3): a -0.1, b and c +0.05
            pd_rows("region", "categorical", ["n", "s"], [0.20, 0.35]),
        ],
        ignore_index=True,
    )
    model = Toy(("orders_90d", "return_share"), ("region",))
    reasons = reason_codes(model, frame, pd_table=pd_table, top_n=3)
    assert reasons.columns.tolist() == ["customer_id", "reason_1", "reason_2", "reason_3"]
    assert reasons.to_dict("records") == [
        {
            "customer_id": "a",
            "reason_1": "returned 35% of what they bought",
            "reason_2": "no order in the last 90 days",
            "reason_3": "",
        },
        {
            "customer_id": "b",
            "reason_1": "only 1 order in the last 90 days",
            "reason_2": "region s",
            "reason_3": "",
        },
        {"customer_id": "c", "reason_1": "region s", "reason_2": "", "reason_3": ""},
    ]
    assert str(reasons["reason_1"].dtype) == "str"
    # a contribution below min_contribution is not a reason
    strict = reason_codes(model, frame, pd_table=pd_table, top_n=2, min_contribution=0.06)
    assert strict["reason_1"].tolist() == [
        "returned 35% of what they bought", "only 1 order in the last 90 days", "",
    ]  # fmt: skip
    assert strict["reason_2"].tolist() == ["no order in the last 90 days", "", ""]


BASE = {"customer_id": ["x1", "x2"]}


@pytest.mark.parametrize(
    ("feature", "kind", "columns", "expected"),
    [
        (
            "recency_days",
            "numeric",
            {"recency_days": [140.0, 10.0], "mean_gap_days": [35.0, 20.0]},
            "no order for 140 days, usually every 35",
        ),
        ("recency_days", "numeric", {"recency_days": [140.0, 10.0]}, "no order for 140 days"),
        (
            "recency_gap_ratio",
            "numeric",
            {
                "recency_gap_ratio": [4.0, 0.5],
                "recency_days": [140.0, 10.0],
                "mean_gap_days": [35.0, 20.0],
            },
            "no order for 140 days, usually every 35",
        ),
        ("orders_90d", "numeric", {"orders_90d": [0.0, 5.0]}, "no order in the last 90 days"),
        ("orders_90d", "numeric", {"orders_90d": [1.0, 5.0]}, "only 1 order in the last 90 days"),
        (
            "orders_trend_90d",
            "numeric",
            {"orders_trend_90d": [-3.0, 2.0], "orders_90d": [1.0, 4.0]},
            "ordering less: 1 order in the last 90 days vs 4 in the 90 before",
        ),
        (
            "spend_trend_90d",
            "numeric",
            {"spend_trend_90d": [-65.0, 10.0], "spend_90d": [20.0, 90.0]},
            "spending less: 20 in the last 90 days vs 85 in the 90 before",
        ),
        ("spend_90d", "numeric", {"spend_90d": [0.0, 90.0]}, "no spend in the last 90 days"),
        (
            "return_share",
            "numeric",
            {"return_share": [0.35, 0.0]},
            "returned 35% of what they bought",
        ),
        (
            "unsubscribed_ever",
            "numeric",
            {"unsubscribed_ever": [1.0, 0.0]},
            "unsubscribed from messages",
        ),
        (
            "opens_90d",
            "numeric",
            {"opens_90d": [0.0, 3.0], "sends_90d": [6.0, 6.0]},
            "opened none of 6 messages in the last 90 days",
        ),
        (
            "open_rate_90d",
            "numeric",
            {"open_rate_90d": [0.0, 0.5], "sends_90d": [6.0, 6.0], "opens_90d": [0.0, 3.0]},
            "opened none of 6 messages in the last 90 days",
        ),
        (
            "sends_90d",
            "numeric",
            {"sends_90d": [0.0, 6.0]},
            "received no messages in the last 90 days",
        ),
        (
            "tenure_days",
            "numeric",
            {"tenure_days": [40.0, 900.0]},
            "new customer: first order 40 days ago",
        ),
        ("orders_total", "numeric", {"orders_total": [1.0, 9.0]}, "only one order so far"),
        ("email_opt_in", "numeric", {"email_opt_in": [0.0, 1.0]}, "no e-mail consent"),
        (
            "acquisition_channel",
            "categorical",
            {"acquisition_channel": ["paid_search", "organic"]},
            "acquired via paid_search",
        ),
        ("loyalty_tier", "categorical", {"loyalty_tier": ["none", "gold"]}, "loyalty tier none"),
        ("basket_size", "numeric", {"basket_size": [2.5, 1.0]}, "basket size is 2.50"),
        ("basket_size", "numeric", {"basket_size": [3.0, 1.0]}, "basket size is 3"),
    ],
    ids=[
        "recency-gap", "recency", "gap-ratio", "no-orders", "one-order", "orders-trend",
        "spend-trend", "no-spend", "returns", "unsubscribed", "opens", "open-rate", "no-sends",
        "new", "one-order-total", "consent", "channel", "tier", "generic", "generic-whole",
    ],
)  # fmt: skip
def test_reason_words_come_from_the_customers_own_values(
    feature: str,
    kind: str,
    columns: dict,
    expected: str,  # type: ignore[type-arg]
) -> None:
    frame = pd.DataFrame({**BASE, **columns})
    values = frame[feature].tolist()
    # the first customer's value has the higher partial dependence: a positive contribution
    pd_table = pd_rows(feature, kind, values, [0.6, 0.2])
    model = Toy((feature,) if kind == "numeric" else (), (feature,) if kind != "numeric" else ())
    reasons = reason_codes(model, frame, pd_table=pd_table, top_n=1)
    assert reasons["reason_1"].tolist() == [expected, ""]
    assert "x1" not in expected


def test_recency_and_its_gap_ratio_make_one_reason() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "recency_days": [140.0, 10.0],
            "recency_gap_ratio": [4.0, 0.5],
            "mean_gap_days": [35.0, 20.0],
        }
    )
    pd_table = pd.concat(
        [
            pd_rows("recency_days", "numeric", [10.0, 140.0], [0.2, 0.5]),
            pd_rows("recency_gap_ratio", "numeric", [0.5, 4.0], [0.2, 0.4]),
        ]
    )
    model = Toy(("recency_days", "recency_gap_ratio"))
    reasons = reason_codes(model, frame, pd_table=pd_table, top_n=2)
    assert reasons.iloc[0].tolist() == ["a", "no order for 140 days, usually every 35", ""]


def test_reason_codes_refuse_inconsistent_input() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "orders_90d": [1.0]})
    pd_table = pd_rows("orders_90d", "numeric", [0.0, 4.0], [0.5, 0.1])
    with pytest.raises(DataContractError, match="orders_90d"):
        reason_codes(Toy(("recency_days",)), frame, pd_table=pd_table)
    with pytest.raises(DataContractError, match="customer_id"):
        reason_codes(Toy(("orders_90d",)), frame.drop(columns="customer_id"), pd_table=pd_table)
    with pytest.raises(DataContractError, match="mean_p_churn"):
        reason_codes(Toy(("orders_90d",)), frame, pd_table=pd_table.drop(columns="mean_p_churn"))
    with pytest.raises(ValueError, match="top_n"):
        reason_codes(Toy(("orders_90d",)), frame, pd_table=pd_table, top_n=0)


def test_reason_codes_end_to_end_on_a_fitted_model(
    logistic: ChurnModel, validation: pd.DataFrame
) -> None:
    pd_table = partial_dependence_table(logistic, validation, features=NUMERIC + CATEGORICAL)
    reasons = reason_codes(logistic, validation, pd_table=pd_table)
    assert reasons["customer_id"].tolist() == validation["customer_id"].tolist()
    at_risk = validation["recency_days"].to_numpy() > 280
    # long-absent customers (planted: recency is the strongest driver) lead with recency
    assert reasons.loc[at_risk, "reason_1"].str.startswith("no order for").mean() > 0.9
    assert not reasons.drop(columns="customer_id").apply(lambda c: c.str.contains("C0")).any().any()


# -- plots --------------------------------------------------------------------------------------
def test_plot_importance_labels_and_order() -> None:
    table = pd.DataFrame(
        {
            "feature": ["region", "recency_days", "noise"],
            "importance_mean": [0.02, 0.15, 0.0],
            "importance_sd": [0.01, 0.01, 0.002],
        }
    )
    fig, ax = plt.subplots()
    returned = plot_importance(table, top=2, ax=ax)
    assert returned is ax
    assert ax.get_title() == "What drives the churn model: permutation importance"
    assert ax.get_xlabel().startswith("Drop in ROC AUC") and ax.get_ylabel() == "Feature"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Region", "Recency (days)"]
    plt.close(fig)


def test_plot_partial_dependence_draws_one_panel_per_feature() -> None:
    table = pd.concat(
        [
            pd_rows("recency_days", "numeric", [0.0, 100.0, 200.0], [0.1, 0.2, 0.4]),
            pd_rows("region", "categorical", ["n", "s"], [0.2, 0.3]),
            pd_rows("return_share", "numeric", [0.0, 0.5], [0.2, 0.3]),
            pd_rows("orders_90d", "numeric", [0.0, 5.0], [0.4, 0.1]),
        ],
        ignore_index=True,
    )
    features = ["recency_days", "region", "return_share", "orders_90d"]
    fig, axes = plt.subplots(2, 3, figsize=(12.6, 6.4), squeeze=False, sharey=True)
    drawn = plot_partial_dependence(table, features=features, axes=axes.ravel())
    assert drawn == list(axes.ravel()[:4])
    assert len(fig.axes) == 4  # a 2 x 3 grid with the two empty panels removed
    assert fig.get_suptitle().startswith("Predicted churn risk")
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "Recency (days)", "Region", "Return share (share)", "Orders 90d",
    ]  # fmt: skip
    assert all(ax.get_ylabel() == "Mean P(churn)" for ax in fig.axes)
    assert fig.axes[0].yaxis.get_major_formatter()(0.25, 0) == "25%"
    plt.close(fig)
