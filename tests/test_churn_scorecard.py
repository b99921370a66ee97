"""Tests of the churn scorecard, calibration and gains tables and their plots."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from crmlib.churn.models.scorecard import (  # noqa: E402
    CALIBRATION_COLUMNS,
    GAINS_COLUMNS,
    SCORECARD_COLUMNS,
    SCORECARD_METRICS,
    HoldoutScores,  # noqa: E402
    _metrics,
    _Ranked,
    calibration_table,
    gains_table,
    scorecard,
)
from crmlib.churn.plots import plot_calibration, plot_gains, plot_holdout, plot_roc  # noqa: E402

LABELS = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0]
MODEL = [0.1, 0.2, 0.7, 0.3, 0.6, 0.9, 0.2, 0.4, 0.5, 0.1]
RULE = [0.3, 0.3, 0.6, 0.3, 0.3, 0.6, 0.6, 0.6, 0.3, 0.3]


def _population(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels and three scorers: continuous, coarse (many ties) and a rank outside [0, 1]."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(risk - 0.8)))).astype(int)
    model = 1 / (1 + np.exp(-(risk + rng.normal(scale=0.7, size=n) - 0.8)))
    rule = np.round(1 / (1 + np.exp(-(risk + rng.normal(scale=1.2, size=n) - 0.8))), 1)
    days = np.round(40 * (risk + rng.normal(size=n)) + 100)
    return labels, {"model": model, "rule": rule, "days": days}


def _value(card: pd.DataFrame, scorer: str, metric: str, column: str = "value") -> float:
    return float(card.set_index(["scorer", "metric"]).loc[(scorer, metric), column])


# -- values equal scikit-learn --------------------------------------------------------------------
def test_values_equal_sklearn_on_the_full_data() -> None:
    labels, scores = _population(3000, seed=1)
    card = scorecard(labels, scores, n_boot=0)
    assert card.columns.tolist() == list(SCORECARD_COLUMNS)
    for name, values in scores.items():
        # scikit-learn on the same arrays; only summation order differs: 1e-12
        assert _value(card, name, "roc_auc") == pytest.approx(roc_auc_score(labels, values),
                                                              abs=1e-12)  # fmt: skip
        assert _value(card, name, "pr_auc") == pytest.approx(
            average_precision_score(labels, values), abs=1e-12)  # fmt: skip
    for name in ("model", "rule"):
        assert _value(card, name, "brier") == pytest.approx(
            brier_score_loss(labels, scores[name]), abs=1e-12)  # fmt: skip
        assert _value(card, name, "log_loss") == pytest.approx(
            log_loss(labels, y_proba=scores[name]), abs=1e-12)  # fmt: skip
    # a rank outside [0, 1] is not a probability
    assert math.isnan(_value(card, "days", "brier"))
    assert math.isnan(_value(card, "days", "log_loss"))
    assert card["n"].unique().tolist() == [3000]
    assert card["n_churned"].unique().tolist() == [int(labels.sum())]


def test_auc_from_ranks_with_ties_equals_mann_whitney() -> None:
    labels, scores = _population(500, seed=2)
    rule = scores["rule"]  # ~10 distinct values: heavy ties
    ranks = rankdata(rule)  # ties get their average rank
    n1, n0 = labels.sum(), (1 - labels).sum()
    # the rank formula of the brief: (sum of positive ranks - n1 (n1 + 1) / 2) / (n1 n0)
    expected = (ranks[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    card = scorecard(labels, {"rule": rule}, n_boot=0)
    assert _value(card, "rule", "roc_auc") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["draw-0", "draw-1", "draw-2"])
def test_weighted_bootstrap_draw_equals_sklearn_on_the_resample(seed: int) -> None:
    labels, scores = _population(400, seed=3)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, 400, 400)
    counts = np.bincount(picks, minlength=400).astype(float)
    for name, values in scores.items():
        got = dict(zip(SCORECARD_METRICS,
                       _metrics(_Ranked.of(values, labels.astype(float)), counts, 0.1),
                       strict=True))  # fmt: skip
        y, s = labels[picks], values[picks]
        # scikit-learn on the explicitly resampled customers: 1e-12
        assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert got["pr_auc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
        if name != "days":
            assert got["brier"] == pytest.approx(brier_score_loss(y, s), abs=1e-12)
            assert got["log_loss"] == pytest.approx(log_loss(y, y_proba=s), abs=1e-12)


def test_top_decile_by_hand() -> None:
    card = scorecard(LABELS, {"model": MODEL, "rule": RULE}, n_boot=0)
    # model: the top 10% is 1 customer (0.9, a churner): capture 1/4, lift 0.25 / 0.1 = 2.5
    assert _value(card, "model", "top_decile_capture") == pytest.approx(0.25, abs=1e-12)
    assert _value(card, "model", "top_decile_lift") == pytest.approx(2.5, abs=1e-12)
    # rule: 4 customers tie at 0.6 (3 churners); the top 1 of 10 takes 1/4 of that group pro
    # rata: 0.75 churners, capture 0.75 / 4 = 0.1875, lift 1.875
    assert _value(card, "rule", "top_decile_capture") == pytest.approx(0.1875, abs=1e-12)
    assert _value(card, "rule", "top_decile_lift") == pytest.approx(1.875, abs=1e-12)


def test_top_share_without_ties_counts_the_top_customers() -> None:
    labels, scores = _population(1000, seed=4)
    model = scores["model"]
    top = np.argsort(-model)[:100]  # no ties in a continuous score; 10% of 1000 = 100
    card = scorecard(labels, {"model": model}, n_boot=0)
    assert _value(card, "model", "top_decile_capture") == pytest.approx(
        labels[top].sum() / labels.sum(), abs=1e-12)  # fmt: skip
    assert _value(card, "model", "top_decile_lift") == pytest.approx(
        labels[top].mean() / labels.mean(), abs=1e-12)  # fmt: skip


# -- bootstrap intervals --------------------------------------------------------------------------
def test_intervals_cover_the_value_and_are_reproducible() -> None:
    labels, scores = _population(1500, seed=5)
    card = scorecard(labels, scores, n_boot=100, seed=3)
    again = scorecard(labels, scores, n_boot=100, seed=3)
    pd.testing.assert_frame_equal(card, again)
    finite = card.dropna(subset=["ci_low"])
    assert len(finite) == len(card) - 3  # NaN: the rank's brier and log_loss, "model - days" brier
    assert (finite["ci_low"] <= finite["value"]).all() and (
        finite["value"] <= finite["ci_high"]
    ).all()
    assert card.attrs["bootstrap_rows"] == 1500 and card.attrs["bootstrap_scale"] == 1.0


def test_auc_interval_width_matches_hanley_mcneil() -> None:
    labels, scores = _population(2000, seed=6)
    card = scorecard(labels, {"model": scores["model"]}, n_boot=400, seed=1)
    auc = _value(card, "model", "roc_auc")
    n1, n0 = labels.sum(), (1 - labels).sum()
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    # Hanley & McNeil (1982) eq. 2: the AUC's standard error from n1, n0 and the AUC
    se = math.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2))
                   / (n1 * n0))  # fmt: skip
    width = _value(card, "model", "roc_auc", "ci_high") - _value(card, "model", "roc_auc", "ci_low")
    # 400 draws estimate a 95% interval's width to ~10%; the formula is an approximation: 20%
    assert width == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_paired_differences() -> None:
    labels, scores = _population(1000, seed=7)
    card = scorecard(labels, {"model": scores["model"], "copy": scores["model"].copy(),
                              "rule": scores["rule"]}, n_boot=60)  # fmt: skip
    assert card["scorer"].unique().tolist() == ["model", "copy", "rule", "model - copy",
                                                "model - rule"]  # fmt: skip
    diffs = card[card["scorer"].str.contains(" - ")]
    assert diffs["metric"].tolist() == ["roc_auc", "brier"] * 2
    # the same customers in every draw: identical scorers differ by exactly 0 in every draw
    same = diffs[diffs["scorer"] == "model - copy"]
    assert same[["value", "ci_low", "ci_high"]].to_numpy() == pytest.approx(0.0, abs=1e-15)
    value = _value(card, "model", "roc_auc") - _value(card, "rule", "roc_auc")
    assert _value(card, "model - rule", "roc_auc") == pytest.approx(value, abs=1e-15)
    # paired: the interval of the difference is narrower than the separate intervals added
    separate = sum(
        _value(card, name, "roc_auc", "ci_high") - _value(card, name, "roc_auc", "ci_low")
        for name in ("model", "rule")
    )
    paired = (_value(card, "model - rule", "roc_auc", "ci_high")
              - _value(card, "model - rule", "roc_auc", "ci_low"))  # fmt: skip
    assert paired < separate


def test_subsampled_bootstrap_is_rescaled_to_the_full_size() -> None:
    labels, scores = _population(6000, seed=8)
    full = scorecard(labels, {"model": scores["model"]}, n_boot=300, seed=2)
    capped = scorecard(labels, {"model": scores["model"]}, n_boot=300, seed=2, max_rows=1500)
    assert capped.attrs["bootstrap_rows"] == 1500
    assert capped.attrs["bootstrap_scale"] == pytest.approx(0.5)  # sqrt(1500 / 6000)
    assert "subsample of 1,500 of 6,000" in capped.attrs["method"]
    pd.testing.assert_series_equal(full["value"], capped["value"])  # values use every row
    width = (full["ci_high"] - full["ci_low"]).to_numpy()
    capped_width = (capped["ci_high"] - capped["ci_low"]).to_numpy()
    # m-out-of-n: the rescaled width estimates the full-data width; 300 draws each: 25%
    np.testing.assert_allclose(capped_width, width, rtol=0.25)


def test_scorecard_speed_shape_on_a_large_holdout() -> None:
    labels, scores = _population(50_000, seed=9)
    card = scorecard(labels, scores, n_boot=10, max_rows=20_000)
    assert len(card) == 3 * len(SCORECARD_METRICS) + 4
    assert card.attrs["bootstrap_rows"] == 20_000


@pytest.mark.parametrize(
    ("labels", "scores", "match"),
    [
        ([1, 1, 1], {"m": [0.1, 0.2, 0.3]}, "single class"),
        ([0, 0, 0], {"m": [0.1, 0.2, 0.3]}, "single class"),
        ([0, 1, 2], {"m": [0.1, 0.2, 0.3]}, "not 0/1"),
        ([0, 1, None], {"m": [0.1, 0.2, 0.3]}, "missing"),
        ([0, 1, 1], {"m": [0.1, 0.2]}, "2 values for 3 labels"),
        ([0, 1, 1], {"m": [0.1, np.nan, 0.3]}, "missing or infinite"),
        ([0, 1, 1], {}, "non-empty mapping"),
    ],
    ids=["all-churned", "none-churned", "not-binary", "null-label", "length", "nan-score",
         "no-scorer"],
)  # fmt: skip
def test_bad_input(labels: list, scores: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        scorecard(labels, scores)
    with pytest.raises(ValueError, match=match):
        calibration_table(labels, scores)
    with pytest.raises(ValueError, match=match):
        gains_table(labels, scores)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_boot": -1}, "n_boot"), ({"top_share": 0.0}, "top_share"), ({"max_rows": 2}, "max_rows")],
    ids=["n_boot", "top_share", "max_rows"],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        scorecard(LABELS, {"model": MODEL}, **kwargs)


# -- calibration and gains ------------------------------------------------------------------------
@pytest.mark.parametrize("scorer", ["model", "rule"], ids=["continuous", "ties"])
def test_calibration_table_equals_sklearn(scorer: str) -> None:
    labels, scores = _population(2000, seed=10)
    table = calibration_table(labels, scores, bins=10)
    assert table.columns.tolist() == list(CALIBRATION_COLUMNS)
    assert table.attrs["skipped"] == ["days"]
    rows = table[table["scorer"] == scorer]
    observed, predicted = calibration_curve(labels, scores[scorer], n_bins=10,
                                            strategy="quantile")  # fmt: skip
    # scikit-learn's quantile bins on the same data: identical up to summation order
    np.testing.assert_allclose(rows["observed_rate"], observed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows["mean_predicted"], predicted, rtol=0, atol=1e-12)
    assert rows["n"].sum() == 2000
    if scorer == "model":
        assert rows["bin"].tolist() == list(range(1, 11))
        assert rows["n"].tolist() == [200] * 10


def test_gains_table_matches_scorecard_and_hand_values() -> None:
    labels, scores = _population(1200, seed=11)
    table = gains_table(labels, scores, bins=10)
    card = scorecard(labels, scores, n_boot=0)
    assert table.columns.tolist() == list(GAINS_COLUMNS)
    for name in scores:
        rows = table[table["scorer"] == name]
        first = rows.iloc[0]
        assert first["captured_share"] == pytest.approx(_value(card, name, "top_decile_capture"))
        assert first["lift"] == pytest.approx(_value(card, name, "top_decile_lift"))
        assert np.all(np.diff(rows["captured_share"]) >= -1e-12)
        assert rows["captured_share"].iloc[-1] == pytest.approx(1.0)
        assert rows["lift"].iloc[-1] == pytest.approx(1.0)
    # by hand on the toy holdout: scores 0.9, 0.7 (churners) | 0.6 (churner), 0.5 | 0.4 ...
    toy = gains_table(LABELS, {"model": MODEL}, bins=5)
    assert toy["captured_share"].tolist() == pytest.approx([0.5, 0.75, 1.0, 1.0, 1.0])
    assert toy["share_targeted"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


# -- plots ----------------------------------------------------------------------------------------
def test_plot_roc() -> None:
    fig, ax = plt.subplots()
    returned = plot_roc(LABELS, {"model": MODEL, "rule": RULE}, ax=ax)
    assert returned is ax
    assert "ROC" in ax.get_title()
    assert ax.get_xlabel().startswith("Stayers flagged") and ax.get_ylabel().startswith("Churners")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[0] == "model (AUC 0.96)" and legend[-1].startswith("random")
    assert ax.xaxis.get_major_formatter()(0.5, 0) == "50%"
    plt.close(fig)


def test_plot_holdout_draws_the_three_charts_or_says_why_not() -> None:
    labels, scores = _population(600, seed=12)
    both = HoldoutScores(labels=np.asarray(labels, dtype="float64"), scores=scores,
                         probabilities={"model": scores["model"]}, notes=())  # fmt: skip
    figure = plot_holdout(both)
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 3 and titles[0].startswith("ROC") and all(titles)
    plt.close(figure)
    # a holdout where nobody churned: no metric to draw, a sentence instead, and no error
    stayers = HoldoutScores(labels=np.zeros(40), scores={"model": np.linspace(0, 1, 40)},
                            probabilities={"model": np.linspace(0, 1, 40)}, notes=())  # fmt: skip
    figure = plot_holdout(stayers, min_cell_size=10)
    words = " ".join(" ".join(text.get_text().split()) for ax in figure.axes for text in ax.texts)
    assert words.startswith("No customer of the holdout (40 customers) churned")
    assert not any(ax.axison for ax in figure.axes)
    plt.close(figure)


def test_plot_calibration_and_gains() -> None:
    labels, scores = _population(600, seed=12)
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_calibration(calibration_table(labels, scores), ax=left) is left
    assert "Calibration" in left.get_title()
    assert left.get_ylabel() == "Observed churn rate (%)"
    legend = [text.get_text() for text in left.get_legend().get_texts()]
    assert legend == ["model", "rule", "perfect calibration"]
    assert plot_gains(gains_table(labels, scores), ax=right) is right
    assert "gains" in right.get_title()
    assert right.get_xlabel() == "Customers contacted, highest risk first (%)"
    assert right.yaxis.get_major_formatter()(0.25, 0) == "25%"
    line = right.get_lines()[0]
    assert line.get_xdata()[0] == 0 and line.get_ydata()[-1] == pytest.approx(1.0)
    plt.close(fig)


def test_plot_tables_need_their_columns() -> None:
    from crmlib.errors import DataContractError

    with pytest.raises(DataContractError, match="mean_predicted"):
        plot_calibration(pd.DataFrame({"scorer": ["m"]}))
    with pytest.raises(DataContractError, match="captured_share"):
        plot_gains(pd.DataFrame({"scorer": ["m"], "share_targeted": [0.1]}))
