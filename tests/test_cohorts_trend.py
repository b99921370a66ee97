"""Tests of the retention trend across cohorts and the channel gap: planted truth, closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import confint_proportions_2indep

from crmlib.cohorts.models.trend import channel_gap, retention_trend
from crmlib.errors import DataContractError

Z95 = 1.959963984540054


def _cohorts(
    rng: np.random.Generator,
    *,
    n_cohorts: int = 24,
    intercept: float = -1.0,
    slope_per_year: float = 0.3,
    overdispersion: float = 0.0,
) -> tuple[pd.DataFrame, float]:
    """Monthly cohorts with logit(p) = intercept + slope * years; returns (rows, true AME)."""
    years = np.arange(n_cohorts) / 12
    size = rng.integers(200, 600, n_cohorts)
    logit = intercept + slope_per_year * years + rng.normal(0, overdispersion, n_cohorts)
    prob = 1 / (1 + np.exp(-(intercept + slope_per_year * years)))
    retained = rng.binomial(size, 1 / (1 + np.exp(-logit)))
    rows = pd.DataFrame(
        {
            "cohort_start": pd.date_range("2023-01-01", periods=n_cohorts, freq="MS"),
            "cohort_size": size,
            "customers": retained,
        }
    )
    # the true average marginal effect on these cohorts, weighted by size (what is estimated)
    ame = float(np.sum(size * slope_per_year * prob * (1 - prob)) / size.sum())
    return rows, ame


def test_recovers_planted_trend() -> None:
    rows, true_ame = _cohorts(np.random.default_rng(1))
    trend = retention_trend(rows, k=3)
    assert trend.n_cohorts == 24 and trend.customers == rows["cohort_size"].sum()
    assert trend.or_ci_lower < np.exp(0.3) < trend.or_ci_upper
    assert trend.pp_ci_lower < 100 * true_ame < trend.pp_ci_upper
    assert trend.p_value < 0.05
    sentence = trend.describe()
    assert sentence.startswith("3-month retention rose by ")
    assert f"{trend.pp_per_year:.1f} pp per year" in sentence and "24 cohorts" in sentence


def test_no_trend_covers_zero() -> None:
    rows, _ = _cohorts(np.random.default_rng(2), slope_per_year=0.0)
    trend = retention_trend(rows, k=1)
    assert trend.pp_ci_lower < 0 < trend.pp_ci_upper
    assert trend.or_ci_lower < 1 < trend.or_ci_upper


@pytest.mark.parametrize(
    ("overdispersion", "dispersion"),
    [(0.0, "pearson"), (0.15, "pearson")],
    ids=["binomial-data", "overdispersed-data"],
)
def test_ci_coverage(overdispersion: float, dispersion: str) -> None:
    # 200 simulations; the coverage of a 95% CI has a binomial SE of ~1.5 pp at n=200, so
    # [0.90, 0.99] is about +-3 SE (the Wald/normal interval with an estimated scale
    # undercovers slightly with 24 cohorts).
    rng = np.random.default_rng(20250101)
    covered = 0
    for _ in range(200):
        rows, true_ame = _cohorts(rng, overdispersion=overdispersion)
        trend = retention_trend(rows, k=2, dispersion=dispersion)  # type: ignore[arg-type]
        covered += trend.pp_ci_lower <= 100 * true_ame <= trend.pp_ci_upper
    assert 0.90 <= covered / 200 <= 0.99


def test_overdispersion_widens_interval() -> None:
    rows, _ = _cohorts(np.random.default_rng(3), overdispersion=0.3)
    pearson = retention_trend(rows, k=1)
    binomial = retention_trend(rows, k=1, dispersion="binomial")
    assert pearson.dispersion > 2 and binomial.dispersion == 1
    assert (pearson.pp_ci_upper - pearson.pp_ci_lower) > (
        binomial.pp_ci_upper - binomial.pp_ci_lower
    )


def test_matches_statsmodels_quasi_binomial() -> None:
    rows, _ = _cohorts(np.random.default_rng(4), overdispersion=0.1)
    trend = retention_trend(rows, k=1)
    size = rows["cohort_size"].to_numpy(float)
    retained = rows["customers"].to_numpy(float)
    years = np.arange(24) / 12
    # statsmodels on the same data (identical by construction: the same GLM call)
    reference = sm.GLM(
        retained / size, sm.add_constant(years), family=sm.families.Binomial(), var_weights=size
    ).fit(scale="X2")
    assert trend.odds_ratio_per_year == pytest.approx(np.exp(reference.params[1]), rel=1e-10)
    assert trend.p_value == pytest.approx(reference.pvalues[1], rel=1e-8)
    low, high = np.exp(reference.conf_int()[1])
    assert (trend.or_ci_lower, trend.or_ci_upper) == pytest.approx((low, high), rel=1e-8)
    # independently: Pearson chi2 / (n - 2) by hand from the fitted probabilities, and the
    # quasi-binomial SE = binomial SE (scale 1) * sqrt(dispersion)
    prob = reference.fittedvalues
    pearson = np.sum((retained - size * prob) ** 2 / (size * prob * (1 - prob))) / 22
    assert trend.dispersion == pytest.approx(pearson, rel=1e-8)
    binomial = retention_trend(rows, k=1, dispersion="binomial")
    log_width = np.log(trend.or_ci_upper / trend.or_ci_lower)
    assert log_width == pytest.approx(
        np.log(binomial.or_ci_upper / binomial.or_ci_lower) * np.sqrt(pearson), rel=1e-6
    )


@pytest.mark.filterwarnings("ignore:Perfect separation:UserWarning")
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_closed_form_two_cohorts() -> None:  # saturated: statsmodels warns, harmlessly
    # Two cohorts a year apart: the logit model is saturated, so (independently of any GLM)
    # b = log odds ratio = logit(p1) - logit(p0), SE = sqrt(1/a + 1/b + 1/c + 1/d) (Woolf),
    # fitted p = observed p, and AME = b * sum_i w_i p_i (1 - p_i).
    rows = pd.DataFrame(
        {"cohort_start": ["2024-01-01", "2025-01-01"], "cohort_size": [400, 500],
         "customers": [100, 175]}
    )  # fmt: skip
    trend = retention_trend(rows, k=1, dispersion="binomial")
    log_or = np.log(175 / 325) - np.log(100 / 300)
    se = np.sqrt(1 / 100 + 1 / 300 + 1 / 175 + 1 / 325)
    assert trend.odds_ratio_per_year == pytest.approx(np.exp(log_or), rel=1e-6)
    assert trend.or_ci_lower == pytest.approx(np.exp(log_or - Z95 * se), rel=1e-6)
    assert trend.or_ci_upper == pytest.approx(np.exp(log_or + Z95 * se), rel=1e-6)
    ame = log_or * (400 * 0.25 * 0.75 + 500 * 0.35 * 0.65) / 900
    assert trend.pp_per_year == pytest.approx(100 * ame, rel=1e-6)


def test_trend_accepts_tidy_matrix_and_rejects_bad_input() -> None:
    rows, _ = _cohorts(np.random.default_rng(5), n_cohorts=6)
    tidy = pd.concat(
        [
            rows.assign(periods_since=3, definition="on", observed=True),
            rows.assign(periods_since=3, definition="on_or_after", observed=True, customers=0),
            rows.assign(periods_since=4, definition="on", observed=[True] * 5 + [False]),
        ]
    )
    assert retention_trend(tidy, k=3) == retention_trend(rows, k=3)
    assert retention_trend(tidy, k=4).n_cohorts == 5
    with pytest.raises(DataContractError, match="cohort_size"):
        retention_trend(rows.drop(columns="cohort_size"), k=1)
    with pytest.raises(DataContractError, match="several rows"):
        retention_trend(pd.concat([rows, rows]), k=1)
    with pytest.raises(DataContractError, match="needs >= 3"):
        retention_trend(rows.head(2), k=1)


def test_channel_gap_matches_statsmodels_newcombe() -> None:
    starts = ["2024-01-01", "2024-02-01"]
    tidy = pd.DataFrame(
        {
            "cohort_start": starts * 3,
            "dimension": "acquisition_channel",
            "dimension_value": ["email"] * 2 + ["social"] * 2 + ["paid"] * 2,
            "periods_since": 3,
            "definition": "on",
            "observed": True,
            "cohort_size": [100, 150, 200, 220, 80, 90],
            "customers": [40, 66, 50, 48, 30, 31],
        }
    )
    gap = channel_gap(tidy, k=3)
    # pooled: email 106/250 = 42.4%, social 98/420 = 23.3%, paid 61/170 = 35.9%
    assert (gap.best, gap.worst) == ("email", "social")
    assert gap.gap_pp == pytest.approx(100 * (106 / 250 - 98 / 420))
    low, high = confint_proportions_2indep(106, 250, 98, 420, method="newcomb", compare="diff")
    assert gap.ci_lower_pp == pytest.approx(100 * low, rel=1e-9)
    assert gap.ci_upper_pp == pytest.approx(100 * high, rel=1e-9)
    assert gap.n_cohorts == 2
    assert "email" in gap.describe() and "social" in gap.describe()
    with pytest.raises(DataContractError, match="channels"):
        channel_gap(tidy, k=3, min_customers=300)
