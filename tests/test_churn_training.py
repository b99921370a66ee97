"""Tests of the churn models: planted logistic truth, calibration, sklearn metrics, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline

from crmlib.churn.models.training import (
    ChurnModel,
    FittedChurnModel,
    _fit_quietly,
    _stratified_pick,
    choose_model,
    fit_churn_models,
    model_comparison,
    trainability,
)
from crmlib.config import DEFAULT_SEED
from crmlib.errors import DataContractError

NUMERIC = ["recency_days", "orders_90d", "noise"]
CATEGORICAL = ["region"]


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers with a planted logistic truth: recency strong, orders weaker, noise none."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 300, n)
    orders = rng.poisson(2, n).astype(float)
    region = rng.choice(["north", "south"], n)
    logit = -1.5 + 0.012 * (recency - 150) - 0.35 * (orders - 2) + 0.3 * (region == "south")
    p_true = 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "recency_days": recency,
            "orders_90d": orders,
            "noise": rng.normal(size=n),
            "region": pd.array(region, dtype="str"),
            "churned": rng.random(n) < p_true,
        }
    )
    return frame, p_true


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return simulate(8_000, 1)[0]


@pytest.fixture(scope="module")
def holdout() -> tuple[pd.DataFrame, np.ndarray]:
    return simulate(20_000, 2)


@pytest.fixture(scope="module")
def models(train: pd.DataFrame) -> dict[str, ChurnModel]:
    return fit_churn_models(train, numeric=NUMERIC, categorical=CATEGORICAL)


def calibration_part(
    frame: pd.DataFrame, *, share: float = 0.25, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The rows fit_churn_models held out to calibrate (its default seed, no subsample)."""
    labels = frame["churned"].to_numpy(dtype=bool)
    rows, _ = _stratified_pick(labels, round(len(labels) * share), np.random.default_rng(seed))
    return frame.iloc[rows]


# -- planted truth ----------------------------------------------------------------------------
def test_logistic_brier_is_close_to_the_truths(
    models: dict[str, ChurnModel], holdout: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, p_true = holdout
    y = frame["churned"].to_numpy()
    brier_model = brier_score_loss(y, models["logistic"].predict_proba(frame))
    brier_truth = brier_score_loss(y, p_true)
    # the planted probabilities are the best possible; a well-specified logistic model fitted
    # on 6,000 rows and calibrated on 2,000 loses well under 0.003 (measured: 0.0007)
    assert brier_model == pytest.approx(brier_truth, abs=0.003)
    assert brier_model >= brier_truth - 0.001
    # probabilities themselves track the truth: mean absolute error below 3 points (0.021)
    assert np.abs(models["logistic"].predict_proba(frame) - p_true).mean() < 0.03


def test_both_models_rank_far_better_than_chance(
    models: dict[str, ChurnModel], holdout: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, p_true = holdout
    best_auc = roc_auc_score(frame["churned"], p_true)
    for model in models.values():
        # within 0.02 of the ROC AUC of the planted probabilities
        assert roc_auc_score(frame["churned"], model.predict_proba(frame)) > best_auc - 0.02


def test_fitted_models_follow_the_interface(models: dict[str, ChurnModel]) -> None:
    assert list(models) == ["logistic", "hist_gradient_boosting"]
    for name, model in models.items():
        assert isinstance(model, FittedChurnModel)
        assert model.name == name
        assert model.numeric_ == tuple(NUMERIC) and model.categorical_ == tuple(CATEGORICAL)
        assert (model.train_rows_, model.calibration_rows_) == (6_000, 2_000)
        assert model.calibration_ == "isotonic"
    assert "early stopping" in models["hist_gradient_boosting"].notes[-1]


# -- calibration ------------------------------------------------------------------------------
def test_isotonic_mean_equals_the_churn_rate_on_the_calibration_part(
    train: pd.DataFrame, models: dict[str, ChurnModel]
) -> None:
    part = calibration_part(train)
    assert len(part) == 2_000
    for model in models.values():
        # isotonic regression preserves the mean of the labels it is fitted on (pool adjacent
        # violators averages blocks), so the two agree up to float error; tolerance 0.01
        assert model.predict_proba(part).mean() == pytest.approx(part["churned"].mean(), abs=0.01)
        assert model.base_rate_ == pytest.approx(train["churned"].mean())


def test_sigmoid_calibration_matches_a_one_dimensional_logistic_fit(train: pd.DataFrame) -> None:
    model = fit_churn_models(
        train, numeric=NUMERIC, categorical=CATEGORICAL, models=("logistic",), calibration="sigmoid"
    )["logistic"]
    part = calibration_part(train)
    score = model.pipeline_.decision_function(part[NUMERIC + CATEGORICAL])
    # independent: an unpenalized statsmodels logit of the labels on the raw score. Platt
    # shrinks the targets to (N+ + 1)/(N+ + 2) and N- -> 1/(N- + 2), a change of < 0.001 in
    # the fitted probabilities at 2,000 rows; tolerance 0.005
    logit = sm.Logit(part["churned"].astype(float), sm.add_constant(score)).fit(disp=0)
    expected = logit.predict(sm.add_constant(score))
    assert model.predict_proba(part) == pytest.approx(np.asarray(expected), abs=0.005)


def test_balanced_class_weight_overstates_raw_scores_and_calibration_restores_them() -> None:
    frame = simulate(6_000, 5)[0]
    model = fit_churn_models(
        frame,
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        models=("logistic",),
        class_weight="balanced",
    )["logistic"]
    part = calibration_part(frame)
    raw = model.pipeline_.predict_proba(part[NUMERIC + CATEGORICAL])[:, 1]
    observed = part["churned"].mean()  # about 0.24
    assert raw.mean() > observed + 0.1  # balanced weights pull raw scores towards 0.5
    assert model.predict_proba(part).mean() == pytest.approx(observed, abs=0.01)
    assert any("balanced" in note for note in model.notes)


# -- rows: subsample, split, determinism -------------------------------------------------------
def test_large_tables_are_subsampled_stratified_and_said_so(train: pd.DataFrame) -> None:
    model = fit_churn_models(
        train, numeric=NUMERIC, categorical=CATEGORICAL, models=("logistic",), max_train_rows=2_000
    )["logistic"]
    assert model.train_rows_ + model.calibration_rows_ == 2_000
    assert "subsample of 2,000 customers (of 8,000 customers;" in model.notes[0]
    # stratified: the churn share of the subsample is the table's up to rounding (1 row)
    assert model.base_rate_ == pytest.approx(train["churned"].mean(), abs=1 / 2_000)


def test_the_seed_makes_fits_reproducible(train: pd.DataFrame) -> None:
    small = train.head(1_500)
    first = fit_churn_models(small, numeric=NUMERIC, categorical=CATEGORICAL, seed=7)
    second = fit_churn_models(small, numeric=NUMERIC, categorical=CATEGORICAL, seed=7)
    for name in first:
        np.testing.assert_array_equal(
            first[name].predict_proba(small), second[name].predict_proba(small)
        )


def test_stratified_pick_keeps_class_shares_and_both_classes() -> None:
    labels = np.array([True] * 30 + [False] * 70)
    first, rest = _stratified_pick(labels, 25, np.random.default_rng(0))
    assert (len(first), labels[first].sum()) == (25, 8)  # round(30 / 4) = 8 churners, 17 others
    assert sorted([*first, *rest]) == list(range(100))
    few = np.array([True, True, False, False, False])
    first, rest = _stratified_pick(few, 0, np.random.default_rng(0))
    assert set(few[first]) == {True, False} and set(few[rest]) == {True, False}


# -- scoring input -----------------------------------------------------------------------------
def test_predict_proba_names_a_missing_column(models: dict[str, ChurnModel]) -> None:
    frame = pd.DataFrame({"recency_days": [3.0], "noise": [0.0], "region": ["north"]})
    with pytest.raises(DataContractError, match="orders_90d"):
        models["logistic"].predict_proba(frame)


def test_predict_proba_names_a_non_numeric_column(models: dict[str, ChurnModel]) -> None:
    frame = pd.DataFrame(
        {"recency_days": ["twelve"], "orders_90d": [1.0], "noise": [0.0], "region": ["north"]}
    )
    with pytest.raises(DataContractError, match="recency_days"):
        models["hist_gradient_boosting"].predict_proba(frame)


def test_predict_proba_takes_missing_unseen_and_nullable_values(
    models: dict[str, ChurnModel],
) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "recency_days": pd.array([10, None, 200, 50], dtype="Int64"),
            "orders_90d": [1.0, np.inf, np.nan, 2.0],  # inf counts as missing
            "noise": [0.0, 0.0, 0.0, 0.0],
            "region": pd.array(["north", None, "atlantis", "south"], dtype="str"),
        },
        index=[10, 11, 12, 13],
    )
    for model in models.values():
        proba = model.predict_proba(frame)
        assert proba.shape == (4,) and np.isfinite(proba).all()
        assert ((proba >= 0) & (proba <= 1)).all()
        assert model.predict_proba(frame.iloc[:0]).shape == (0,)


def test_a_categorical_with_more_levels_than_boosting_takes(train: pd.DataFrame) -> None:
    frame = train.head(1_000).assign(region=[f"r{i % 300}" for i in range(1_000)])
    fitted = fit_churn_models(frame, numeric=NUMERIC, categorical=CATEGORICAL)
    assert fitted["hist_gradient_boosting"].predict_proba(frame).shape == (1_000,)


# -- bad training input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.drop(columns="churned"), "churned"),
        (lambda f: f.drop(columns="noise"), "noise"),
        (lambda f: f.assign(churned=f["churned"].astype(object).where(f.index > 0)), "missing"),
        (lambda f: f.assign(churned="yes"), "expected booleans"),
        (lambda f: f.assign(churned=False), "single class"),
        (lambda f: f.head(12), "only 12 customers"),
    ],
    ids=["no-label", "no-feature", "missing-label", "text-label", "one-class", "too-few"],
)
def test_bad_training_tables_are_refused_with_the_reason(change, match: str) -> None:  # type: ignore[no-untyped-def]
    frame = simulate(200, 3)[0]
    with pytest.raises(DataContractError, match=match):
        fit_churn_models(change(frame), numeric=NUMERIC, categorical=CATEGORICAL)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"models": ("forest",)}, "models="),
        ({"calibration": "beta"}, "calibration="),
        ({"class_weight": "auto"}, "class_weight="),
        ({"calibration_share": 1.0}, "calibration_share="),
        ({"numeric": [], "categorical": []}, "both empty"),
        ({"numeric": ["noise", "noise"]}, "listed twice"),
    ],
    ids=["model", "calibration", "class-weight", "share", "no-features", "twice"],
)
def test_bad_options_are_refused(options: dict, match: str) -> None:  # type: ignore[type-arg]
    frame = simulate(200, 3)[0]
    arguments = {"numeric": NUMERIC, "categorical": CATEGORICAL, **options}
    with pytest.raises(ValueError, match=match):
        fit_churn_models(frame, **arguments)


def test_a_convergence_warning_is_logged_and_noted_not_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = simulate(500, 4)[0]
    pipeline = make_pipeline(LogisticRegression(max_iter=1))
    with caplog.at_level(logging.WARNING, logger="crmlib.churn.models.training"):
        notes = _fit_quietly(pipeline, frame[["recency_days", "orders_90d"]], frame["churned"])
    assert notes and "did not converge" in notes[0]
    assert "did not converge" in caplog.text


# -- trainability --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([True] * 40 + [False] * 360, None),
        (
            [True] * 20 + [False] * 130,
            "only 150 customers with a label; at least 200 are needed to train a churn model",
        ),
        (
            [True] * 400,
            "all 400 customers churned (a single class): there is nothing to learn from",
        ),
        (
            [False] * 400,
            "none of the 400 customers churned (a single class): there is nothing to learn from",
        ),
        (
            [True] * 12 + [False] * 388,
            "only 12 churners among 400 customers; at least 30 are needed to train a churn model",
        ),
        (
            [True] * 390 + [False] * 10,
            "only 10 non-churners among 400 customers; at least 30 are needed to train a churn "
            "model",
        ),
    ],
    ids=["ok", "few-customers", "all-churned", "none-churned", "few-churners", "few-stayers"],
)
def test_trainability_says_why_not(labels: list[bool], expected: str | None) -> None:
    assert trainability(labels) == expected


def test_trainability_states_small_counts_by_the_small_cell_rule() -> None:
    assert trainability([True] * 4 + [False] * 396) == (
        "fewer than 10 churners among 400 customers; at least 30 are needed to train a churn model"
    )
    assert trainability([True] * 3, min_customers=200) == (
        "fewer than 10 customers with a label; at least 200 are needed to train a churn model"
    )
    assert trainability([True] * 12 + [False] * 388, min_cell_size=25).startswith(
        "fewer than 25 churners among 400 customers"
    )
    assert trainability([True] * 4 + [False] * 396, min_cell_size=1).startswith("only 4 churners")


def test_trainability_accepts_zero_one_and_custom_thresholds() -> None:
    assert trainability(np.array([1] * 3 + [0] * 7), min_customers=10, min_class_count=3) is None
    with pytest.raises(DataContractError, match="expected booleans"):
        trainability(["churned", "stayed"])


# -- comparison ----------------------------------------------------------------------------------
def test_model_comparison_equals_sklearn_metrics_on_the_same_data(
    models: dict[str, ChurnModel], holdout: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame = holdout[0].head(5_000)
    comparison = model_comparison(models, frame)
    assert list(comparison.columns) == [
        "model", "log_loss", "brier", "roc_auc", "pr_auc", "n", "churn_rate",
    ]  # fmt: skip
    assert comparison["log_loss"].is_monotonic_increasing
    y = frame["churned"].to_numpy()
    for row in comparison.itertuples():
        proba = models[row.model].predict_proba(frame)
        # the same sklearn.metrics calls on the same numbers: equal to float precision
        assert row.log_loss == pytest.approx(log_loss(y, proba), rel=1e-12)
        assert row.brier == pytest.approx(brier_score_loss(y, proba), rel=1e-12)
        assert row.roc_auc == pytest.approx(roc_auc_score(y, proba), rel=1e-12)
        assert row.pr_auc == pytest.approx(average_precision_score(y, proba), rel=1e-12)
        assert (row.n, row.churn_rate) == (5_000, pytest.approx(y.mean()))
    assert choose_model(comparison) == comparison["model"].iloc[0]


class Constant:
    """A stand-in model predicting the same probability for everyone."""

    numeric_: tuple[str, ...] = ("x",)
    categorical_: tuple[str, ...] = ()

    def __init__(self, name: str, p_churn: float) -> None:
        self.name, self.p_churn = name, p_churn

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.p_churn)


def test_model_comparison_by_hand_and_with_a_single_class() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "churned": [True, False, False, False]})
    comparison = model_comparison(
        {"half": Constant("half", 0.5), "quarter": Constant("q", 0.25)}, frame
    )
    # by hand: Brier = (0.75^2 + 3 * 0.25^2) / 4 = 0.1875; log loss = -(ln 0.25 + 3 ln 0.75) / 4
    quarter = comparison.iloc[0]
    assert quarter["model"] == "quarter"
    assert quarter["brier"] == pytest.approx(0.1875)
    assert quarter["log_loss"] == pytest.approx(-(np.log(0.25) + 3 * np.log(0.75)) / 4)
    single = model_comparison({"half": Constant("half", 0.5)}, frame.assign(churned=False))
    assert np.isnan(single["roc_auc"].iloc[0]) and np.isnan(single["pr_auc"].iloc[0])


def test_choose_model_takes_the_lowest_log_loss_and_refuses_an_empty_table() -> None:
    table = pd.DataFrame({"model": ["a", "b", "c"], "log_loss": [0.5, 0.4, np.nan]})
    assert choose_model(table) == "b"
    with pytest.raises(DataContractError, match="no model with a log loss"):
        choose_model(table.iloc[2:])
    with pytest.raises(DataContractError, match="log_loss"):
        choose_model(table[["model"]])
    with pytest.raises(DataContractError, match="churned"):
        model_comparison({"a": Constant("a", 0.5)}, pd.DataFrame({"x": [1.0]}))
