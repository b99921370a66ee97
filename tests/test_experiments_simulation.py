"""Simulation study of the experiment estimators: coverage, false positives, SRM alarms, CUPED.

Every study is vectorized across experiments (arrays of shape ``(n_experiments, n_customers)``
or binomial counts per experiment); the planted truths are known exactly, so the checks are
coverage of 95% CIs within 95 +- 1.5%, A/A false-positive rates within 5 +- 1.5% (both about
4 Monte-Carlo standard errors at 4000 experiments), SRM false alarms <= 0.2% and CUPED
estimates within 3 Monte-Carlo standard errors of the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib.experiments import analyze_experiment
from crmlib.experiments.models.effects import (
    arm_moments,
    cuped_theta,
    proportion_effect,
    ratio_effect,
    welch_effect,
)
from crmlib.experiments.models.health import srm_test

N_EXPERIMENTS = 4000
TOLERANCE = 0.015


def _covered(estimate_low: np.ndarray, estimate_high: np.ndarray, truth: float) -> float:
    return float(np.mean((estimate_low <= truth) & (truth <= estimate_high)))


@pytest.mark.parametrize("effect", [0.0, 0.03], ids=["aa", "planted"])
def test_binary_coverage_and_false_positives(effect: float) -> None:
    rng = np.random.default_rng(11)
    n_t, n_c, base = 1500, 1000, 0.2
    count_t = rng.binomial(n_t, base + effect, size=N_EXPERIMENTS)
    count_c = rng.binomial(n_c, base, size=N_EXPERIMENTS)
    estimate = proportion_effect(count_t, n_t, count_c, n_c)
    assert _covered(estimate.abs_ci_low, estimate.abs_ci_high, effect) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    rel_truth = (base + effect) / base - 1
    assert _covered(estimate.rel_ci_low, estimate.rel_ci_high, rel_truth) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    if effect == 0.0:
        assert float(np.mean(estimate.p_value < 0.05)) == pytest.approx(0.05, abs=TOLERANCE)
    else:
        # the planted effect is found as often as the normal approximation of power says
        se = np.sqrt((base + effect) * (1 - base - effect) / n_t + base * (1 - base) / n_c)
        power = stats.norm.cdf(effect / se - stats.norm.ppf(0.975))
        assert float(np.mean(estimate.p_value < 0.05)) == pytest.approx(power, abs=0.03)


@pytest.mark.parametrize("effect", [0.0, 2.0], ids=["aa", "planted"])
def test_continuous_coverage_and_false_positives(effect: float) -> None:
    rng = np.random.default_rng(12)
    # skewed revenue: lognormal with mean exp(mu + sigma^2 / 2) = 20, unequal arm sizes
    sigma = 0.8
    mu = np.log(20.0) - sigma**2 / 2
    control = rng.lognormal(mu, sigma, size=(N_EXPERIMENTS, 300))
    treatment = rng.lognormal(mu, sigma, size=(N_EXPERIMENTS, 400)) + effect
    estimate = welch_effect(*arm_moments(treatment)[1:], 400, *arm_moments(control)[1:], 300)
    assert _covered(estimate.abs_ci_low, estimate.abs_ci_high, effect) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    assert _covered(estimate.rel_ci_low, estimate.rel_ci_high, effect / 20.0) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    if effect == 0.0:
        assert float(np.mean(estimate.p_value < 0.05)) == pytest.approx(0.05, abs=TOLERANCE)


@pytest.mark.parametrize("lift", [1.0, 1.1], ids=["aa", "planted"])
def test_ratio_metric_coverage(lift: float) -> None:
    rng = np.random.default_rng(13)
    n, order_value = 400, 30.0

    def arm(value: float) -> tuple[np.ndarray, np.ndarray]:
        orders = 1 + rng.poisson(1.5, size=(N_EXPERIMENTS, n))
        # revenue = sum of `orders` gamma(2, value / 2) order values = gamma(2 orders, value / 2)
        revenue = rng.gamma(2.0 * orders, value / 2.0)
        return revenue, orders.astype(float)

    def moments(num: np.ndarray, den: np.ndarray) -> list[np.ndarray | int]:
        cov = ((num - num.mean(1, keepdims=True)) * (den - den.mean(1, keepdims=True))).sum(1)
        return [
            num.mean(1),
            den.mean(1),
            num.var(1, ddof=1),
            den.var(1, ddof=1),
            cov / (n - 1),
            n,
        ]

    estimate = ratio_effect(
        *moments(*arm(order_value * lift)), *moments(*arm(order_value)), alpha=0.05
    )
    truth = order_value * (lift - 1)
    assert _covered(estimate.abs_ci_low, estimate.abs_ci_high, truth) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    if lift == 1.0:
        assert float(np.mean(estimate.p_value < 0.05)) == pytest.approx(0.05, abs=TOLERANCE)


def _cuped_arrays(
    effect: float, rng: np.random.Generator, n: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Y = 10 + 0.8 X + noise (+ effect for treatment), corr(X, Y) about 0.8
    x_c = rng.normal(10.0, 3.0, size=(N_EXPERIMENTS, n))
    x_t = rng.normal(10.0, 3.0, size=(N_EXPERIMENTS, n))
    y_c = 10 + 0.8 * x_c + rng.normal(0.0, 1.8, size=x_c.shape)
    y_t = 10 + 0.8 * x_t + rng.normal(0.0, 1.8, size=x_t.shape) + effect
    return y_t, x_t, y_c, x_c


def _cuped(
    y_t: np.ndarray, x_t: np.ndarray, y_c: np.ndarray, x_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    theta, x_mean = cuped_theta(np.hstack([y_t, y_c]), np.hstack([x_t, x_c]))
    adjust = theta[:, None], x_mean[:, None]
    return y_t - adjust[0] * (x_t - adjust[1]), y_c - adjust[0] * (x_c - adjust[1])


@pytest.mark.parametrize("effect", [0.0, 0.5], ids=["aa", "planted"])
def test_cuped_unbiased_covering_and_narrower(effect: float) -> None:
    rng = np.random.default_rng(14)
    y_t, x_t, y_c, x_c = _cuped_arrays(effect, rng)
    adj_t, adj_c = _cuped(y_t, x_t, y_c, x_c)
    n_t, mean_t, var_t = arm_moments(adj_t)
    n_c, mean_c, var_c = arm_moments(adj_c)
    cuped = welch_effect(mean_t, var_t, n_t, mean_c, var_c, n_c)
    raw = welch_effect(
        y_t.mean(1), y_t.var(1, ddof=1), y_t.shape[1], y_c.mean(1), y_c.var(1, ddof=1), 200
    )
    mc_se = cuped.abs_diff.std(ddof=1) / np.sqrt(N_EXPERIMENTS)
    assert abs(cuped.abs_diff.mean() - effect) < 3 * mc_se
    assert _covered(cuped.abs_ci_low, cuped.abs_ci_high, effect) == pytest.approx(
        0.95, abs=TOLERANCE
    )
    if effect == 0.0:
        assert float(np.mean(cuped.p_value < 0.05)) == pytest.approx(0.05, abs=TOLERANCE)
    width_ratio = np.mean(cuped.abs_ci_high - cuped.abs_ci_low) / np.mean(
        raw.abs_ci_high - raw.abs_ci_low
    )
    # planted truth: Var(Y | X) / Var(Y) = 1.8^2 / (0.8^2 9 + 1.8^2) = 0.36, width ratio 0.6
    assert width_ratio == pytest.approx(0.6, abs=0.02)
    assert cuped.abs_diff.std() < 0.7 * raw.abs_diff.std()


def test_cuped_with_uncorrelated_covariate_changes_little() -> None:
    rng = np.random.default_rng(15)
    y_t, _, y_c, _ = _cuped_arrays(0.0, rng)
    noise_t, noise_c = rng.normal(size=y_t.shape), rng.normal(size=y_c.shape)
    adj_t, adj_c = _cuped(y_t, noise_t, y_c, noise_c)
    assert np.mean(adj_t.var(1) / y_t.var(1)) == pytest.approx(1.0, abs=0.02)


def test_srm_false_alarms_are_rare() -> None:
    rng = np.random.default_rng(16)
    totals = rng.integers(2000, 20000, size=10_000)
    control = rng.binomial(totals, 0.5)
    alarms = [srm_test([int(c), int(t - c)])["srm"] for c, t in zip(control, totals, strict=True)]
    assert np.mean(alarms) <= 0.002
    mismatched = rng.binomial(totals[:200], 0.47)
    detected = [
        srm_test([int(c), int(t - c)])["srm"] for c, t in zip(mismatched, totals, strict=False)
    ]
    assert np.mean(detected) > 0.5


def test_full_analysis_agrees_with_vectorized_estimators() -> None:
    rng = np.random.default_rng(17)
    n_experiments, n = 40, 150
    y_t, x_t, y_c, x_c = (array[:n_experiments, :n] for array in _cuped_arrays(0.5, rng))
    converted_t = (rng.random((n_experiments, n)) < 0.3).astype(int)
    converted_c = (rng.random((n_experiments, n)) < 0.25).astype(int)
    table = pd.DataFrame(
        {
            "experiment_id": np.repeat([f"E{i:02d}" for i in range(n_experiments)], 2 * n),
            "variant": np.tile(["email"] * n + ["control"] * n, n_experiments),
            "spend": np.hstack([y_t, y_c]).ravel(),
            "spend_pre": np.hstack([x_t, x_c]).ravel(),
            "converted": np.hstack([converted_t, converted_c]).ravel(),
        }
    )
    results = analyze_experiment(
        table, metrics=["spend", "converted"], covariates={"spend": "spend_pre"}
    )
    spend = results[results["metric"] == "spend"].reset_index(drop=True)
    adj_t, adj_c = _cuped(y_t, x_t, y_c, x_c)
    expected = welch_effect(
        adj_t.mean(1), adj_t.var(1, ddof=1), n, adj_c.mean(1), adj_c.var(1, ddof=1), n
    )
    np.testing.assert_allclose(spend["abs_diff"], expected.abs_diff, rtol=1e-9)
    np.testing.assert_allclose(spend["p_value"], expected.p_value, rtol=1e-9)
    assert spend["cuped"].all() and (spend["variance_reduction"] > 0.5).all()
    converted = results[results["metric"] == "converted"].reset_index(drop=True)
    binary = proportion_effect(converted_t.sum(1), n, converted_c.sum(1), n)
    np.testing.assert_allclose(converted["abs_ci_low"], binary.abs_ci_low, rtol=1e-9)
    np.testing.assert_allclose(converted["p_value"], binary.p_value, rtol=1e-9)
    assert (converted["metric_kind"] == "binary").all()
