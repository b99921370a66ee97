"""Known-answer and bad-input tests of crmlib.experiments: effects, CUPED, corrections, power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from crmlib.errors import DataContractError
from crmlib.experiments import analyze_experiment, effects_table
from crmlib.experiments.models.effects import (
    RESULT_COLUMNS,
    cuped_theta,
    proportion_effect,
    ratio_effect,
    welch_effect,
)
from crmlib.experiments.models.health import srm_test
from crmlib.experiments.models.power import power_and_mde, sample_size
from crmlib.experiments.models.verdicts import guardrail_status, non_inferiority

CONTROL_ORDERED = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
EMAIL_ORDERED = [1, 1, 0, 1, 0, 1, 0, 1, 1, 0]
CONTROL_REVENUE = [0.0, 20.0, 5.0, 0.0, 35.0, 2.0, 0.0, 8.0, 40.0, 0.0, 1.0, 3.0]
EMAIL_REVENUE = [25.0, 30.0, 0.0, 15.0, 4.0, 60.0, 0.0, 22.0, 18.0, 9.0]
CONTROL_PRE = [1.0, 18.0, 6.0, 0.0, 30.0, 4.0, 1.0, 7.0, 35.0, 2.0, 0.0, 5.0]
EMAIL_PRE = [20.0, 26.0, 2.0, 12.0, 6.0, 50.0, 1.0, 20.0, 15.0, 10.0]
CONTROL_ORDERS = [1, 2, 1, 1, 3, 1, 1, 2, 4, 1, 1, 1]
EMAIL_ORDERS = [2, 3, 1, 1, 1, 4, 1, 2, 2, 1]


def _customers() -> pd.DataFrame:
    n_c, n_t = len(CONTROL_ORDERED), len(EMAIL_ORDERED)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n_c + n_t)],
            "experiment_id": "winback",
            "variant": ["control"] * n_c + ["email"] * n_t,
            "ordered": CONTROL_ORDERED + EMAIL_ORDERED,
            "revenue": CONTROL_REVENUE + EMAIL_REVENUE,
            "revenue_pre": CONTROL_PRE + EMAIL_PRE,
            "orders": CONTROL_ORDERS + EMAIL_ORDERS,
            "region": (["north", "south"] * 11)[: n_c + n_t],
        }
    )


def _row(results: pd.DataFrame, metric: str, **where: object) -> pd.Series:
    mask = (results["metric"] == metric) & results["segment_col"].isna()
    for column, value in where.items():
        mask &= results[column] == value
    assert mask.sum() == 1
    return results[mask].iloc[0]


def test_binary_matches_statsmodels() -> None:
    results = analyze_experiment(_customers(), metrics=["ordered"])
    row = _row(results, "ordered")
    x_t, n_t, x_c, n_c = sum(EMAIL_ORDERED), len(EMAIL_ORDERED), sum(CONTROL_ORDERED), 12
    # reference: statsmodels unpooled Wald CI of the difference and pooled two-proportion z-test
    low, high = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
    _, p_value = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert row["abs_diff"] == pytest.approx(x_t / n_t - x_c / n_c, rel=1e-12)
    assert row["abs_ci_low"] == pytest.approx(low, rel=1e-9)
    assert row["abs_ci_high"] == pytest.approx(high, rel=1e-9)
    assert row["p_value"] == pytest.approx(p_value, rel=1e-9)
    assert row["metric_kind"] == "binary"
    assert (row["n"], row["n_control"]) == (10, 12)
    assert row["rel_lift"] == pytest.approx((x_t / n_t) / (x_c / n_c) - 1, rel=1e-12)


def test_continuous_matches_scipy_and_compare_means() -> None:
    results = analyze_experiment(_customers(), metrics=["revenue"], alpha=0.1)
    row = _row(results, "revenue")
    # reference: scipy Welch t-test and statsmodels CompareMeans with unequal variances
    scipy_test = stats.ttest_ind(EMAIL_REVENUE, CONTROL_REVENUE, equal_var=False)
    scipy_ci = scipy_test.confidence_interval(confidence_level=0.9)
    compare = CompareMeans(
        DescrStatsW(np.array(EMAIL_REVENUE)), DescrStatsW(np.array(CONTROL_REVENUE))
    )
    sm_low, sm_high = compare.tconfint_diff(alpha=0.1, usevar="unequal")
    assert row["p_value"] == pytest.approx(scipy_test.pvalue, rel=1e-9)
    assert row["abs_ci_low"] == pytest.approx(scipy_ci.low, rel=1e-9)
    assert row["abs_ci_high"] == pytest.approx(scipy_ci.high, rel=1e-9)
    assert (row["abs_ci_low"], row["abs_ci_high"]) == pytest.approx((sm_low, sm_high), rel=1e-9)
    assert row["metric_kind"] == "continuous"
    assert not row["cuped"] and row["variance_reduction"] == 0.0
    # delta method on the ratio of means, computed by hand with the normal quantile
    m_t, m_c = np.mean(EMAIL_REVENUE), np.mean(CONTROL_REVENUE)
    v_t = np.var(EMAIL_REVENUE, ddof=1) / 10
    v_c = np.var(CONTROL_REVENUE, ddof=1) / 12
    se = np.sqrt(v_t / m_c**2 + m_t**2 * v_c / m_c**4)
    z = stats.norm.ppf(0.95)
    assert row["rel_ci_low"] == pytest.approx(m_t / m_c - 1 - z * se, rel=1e-9)
    assert row["rel_ci_high"] == pytest.approx(m_t / m_c - 1 + z * se, rel=1e-9)


def test_ratio_metric_matches_linearization() -> None:
    results = analyze_experiment(
        _customers(), metrics=[], ratio_metrics={"revenue_per_order": ("revenue", "orders")}
    )
    row = _row(results, "revenue_per_order")

    # reference: the delta method equals a z-test on the linearized per-customer values
    def linearized(num: list[float], den: list[int]) -> tuple[float, float]:
        num_a, den_a = np.array(num, float), np.array(den, float)
        ratio = num_a.sum() / den_a.sum()
        values = (num_a - ratio * den_a) / den_a.mean()
        return ratio, values.var(ddof=1) / len(values)

    r_t, var_t = linearized(EMAIL_REVENUE, EMAIL_ORDERS)
    r_c, var_c = linearized(CONTROL_REVENUE, CONTROL_ORDERS)
    se = np.sqrt(var_t + var_c)
    assert row["metric_kind"] == "ratio"
    assert (row["mean"], row["control_mean"]) == pytest.approx((r_t, r_c), rel=1e-12)
    assert row["abs_ci_low"] == pytest.approx(r_t - r_c - 1.959963984540054 * se, rel=1e-9)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(r_t - r_c) / se), rel=1e-9)


def test_ratio_with_unit_denominator_is_the_mean() -> None:
    mean_t, var_t, n_t = 5.0, 4.0, 50
    ratio = ratio_effect(mean_t, 1.0, var_t, 0.0, 0.0, n_t, 4.0, 1.0, 9.0, 0.0, 0.0, 60)
    welch = welch_effect(mean_t, var_t, n_t, 4.0, 9.0, 60)
    assert float(ratio.se) == pytest.approx(float(welch.se), rel=1e-12)


def test_cuped_matches_hand_computation() -> None:
    customers = _customers()
    results = analyze_experiment(customers, metrics=["revenue"], covariates="revenue_pre")
    row = _row(results, "revenue")
    y = customers["revenue"].to_numpy(float)
    x = customers["revenue_pre"].to_numpy(float)
    theta = np.polyfit(x, y, 1)[0]  # reference: OLS slope of Y on X, pooled over arms
    assert float(cuped_theta(y, x)[0]) == pytest.approx(theta, rel=1e-9)
    adjusted = y - theta * (x - x.mean())
    is_email = (customers["variant"] == "email").to_numpy()
    reference = stats.ttest_ind(adjusted[is_email], adjusted[~is_email], equal_var=False)
    raw = stats.ttest_ind(y[is_email], y[~is_email], equal_var=False)
    assert row["cuped"]
    assert row["abs_diff"] == pytest.approx(adjusted[is_email].mean() - adjusted[~is_email].mean())
    assert row["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    ci = reference.confidence_interval()
    assert (row["abs_ci_low"], row["abs_ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    # Welch standard errors = difference / t statistic; reduction = 1 - Var_cuped / Var_raw
    se_cuped = row["abs_diff"] / reference.statistic
    se_raw = (y[is_email].mean() - y[~is_email].mean()) / raw.statistic
    assert row["variance_reduction"] == pytest.approx(1 - (se_cuped / se_raw) ** 2, rel=1e-9)
    assert row["variance_reduction"] > 0.5  # the pre-period spend correlates strongly


def test_cuped_names_its_covariate_and_keeps_the_unadjusted_estimate() -> None:
    customers = _customers().rename(columns={"revenue_pre": "pre_spend"})
    adjusted = analyze_experiment(
        customers, metrics=["revenue", "ordered"], covariates={"revenue": "pre_spend"}
    )
    plain = analyze_experiment(customers, metrics=["revenue", "ordered"])
    row, without = _row(adjusted, "revenue"), _row(plain, "revenue")
    assert row["cuped"] and row["covariate"] == "pre_spend"
    # the raw_* columns are exactly the analysis without CUPED (scipy's Welch test, above)
    for raw, column in [("raw_mean", "mean"), ("raw_control_mean", "control_mean"),
                        ("raw_abs_diff", "abs_diff"), ("raw_abs_ci_low", "abs_ci_low"),
                        ("raw_abs_ci_high", "abs_ci_high"), ("raw_p_value", "p_value")]:  # fmt: skip
        assert row[raw] == pytest.approx(without[column], rel=1e-12), raw
    reference = stats.ttest_ind(EMAIL_REVENUE, CONTROL_REVENUE, equal_var=False)
    assert row["raw_p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert row["abs_diff"] != pytest.approx(row["raw_abs_diff"])  # the adjustment moved it
    # a metric without a covariate: no covariate, raw = adjusted, a proportion test's numbers
    ordered = _row(adjusted, "ordered")
    assert not ordered["cuped"] and pd.isna(ordered["covariate"])
    assert ordered["raw_abs_diff"] == ordered["abs_diff"]
    # the page names the covariate in words and shows the unadjusted difference beside it
    table = effects_table(adjusted).loc[("winback", "email", "revenue")]
    assert table["Adjusted for (CUPED)"].startswith("pre-period spend (variance cut ")
    assert table["Unadjusted difference (95% CI)"] == (
        f"{row['raw_abs_diff']:.2f} ({row['raw_abs_ci_low']:.2f} to {row['raw_abs_ci_high']:.2f})"
    )
    assert table["Variant mean"] == f"{np.mean(EMAIL_REVENUE):,.2f}"  # observed, not adjusted
    assert (
        effects_table(adjusted).loc[("winback", "email", "ordered")][
            "Unadjusted difference (95% CI)"
        ]
        == "same (not adjusted)"
    )


def test_cuped_skipped_for_constant_covariate() -> None:
    customers = _customers().assign(flat_pre=3.0)
    results = analyze_experiment(customers, metrics=["revenue"], covariates={"revenue": "flat_pre"})
    row = _row(results, "revenue")
    assert not row["cuped"] and row["variance_reduction"] == 0.0
    reference = stats.ttest_ind(EMAIL_REVENUE, CONTROL_REVENUE, equal_var=False)
    assert row["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)


def test_holm_across_variants_and_metrics_and_bh_across_segments() -> None:
    customers = _customers()
    extra = customers[customers["variant"] == "email"].assign(
        variant="sms",
        customer_id=lambda frame: frame["customer_id"] + "s",
        revenue=lambda frame: frame["revenue"] * 0.5,
    )
    table = pd.concat([customers, extra], ignore_index=True)
    results = analyze_experiment(table, metrics=["ordered", "revenue"], segment_cols=["region"])
    assert list(results.columns) == RESULT_COLUMNS
    overall = results[results["segment_col"].isna()]
    assert len(overall) == 4  # 2 variants x 2 metrics
    # reference: statsmodels Holm over the four overall p-values
    expected = multipletests(overall["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(overall["p_adjusted"].to_numpy(), expected, rtol=1e-12)
    segments = results[results["segment_col"] == "region"]
    assert len(segments) == 8 and set(segments["segment"]) == {"north", "south"}
    for _, group in segments.groupby(["variant", "metric"]):
        bh = multipletests(group["p_value"].to_numpy(), method="fdr_bh")[1]
        np.testing.assert_allclose(group["p_adjusted"].to_numpy(), bh, rtol=1e-12)
    north = segments[(segments["segment"] == "north") & (segments["variant"] == "email")]
    in_north = customers["region"] == "north"
    assert north["n"].tolist() == [int((in_north & (customers["variant"] == "email")).sum())] * 2


def test_two_experiments_are_analysed_separately() -> None:
    first = _customers()
    second = first.assign(experiment_id="welcome", revenue=first["revenue"] + 1.0)
    results = analyze_experiment(pd.concat([first, second]), metrics=["revenue"])
    assert results["experiment_id"].tolist() == ["welcome", "winback"]
    assert results["abs_diff"].iloc[0] == pytest.approx(results["abs_diff"].iloc[1])
    # a single test per experiment: Holm leaves its p-value unchanged
    assert results["p_adjusted"].tolist() == pytest.approx(results["p_value"].tolist())


def test_constant_metric_gives_nan_p_not_a_crash() -> None:
    customers = _customers().assign(flat=1.5)
    results = analyze_experiment(customers, metrics=["flat"])
    row = _row(results, "flat")
    assert row["abs_diff"] == 0.0
    assert np.isnan(row["p_value"]) and np.isnan(row["p_adjusted"])
    assert "constant" in row["note"]


def test_segment_without_control_is_reported() -> None:
    customers = _customers()
    customers.loc[customers["variant"] == "email", "region"] = "east"
    results = analyze_experiment(customers, metrics=["revenue"], segment_cols=["region"])
    east = results[results["segment"] == "east"].iloc[0]
    assert east["n_control"] == 0 and np.isnan(east["p_value"])
    assert "no customers in the control" in east["note"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda t: t.assign(revenue=t["revenue"].where(t.index != 3)),
            "winback.*'revenue'.*missing",
        ),
        (
            lambda t: t.assign(revenue_pre=t["revenue_pre"].where(t.index != 0)),
            "winback.*'revenue_pre'",
        ),
        (
            lambda t: t.assign(variant=t["variant"].replace("control", "holdout")),
            "winback.*'variant'.*control",
        ),
        (lambda t: t.assign(variant="control"), "winback.*'variant'.*only the control"),
        (lambda t: t.drop(columns="revenue"), "'revenue' is missing"),
        (
            lambda t: t.assign(
                variant=pd.Categorical(t["variant"], categories=["control", "email", "sms"])
            ),
            "winback.*'variant'.*'sms'.*no customers",
        ),
        (lambda t: t.assign(revenue="x"), "winback.*'revenue'.*expected numbers"),
    ],
    ids=[
        "missing-metric",
        "missing-covariate",
        "no-control",
        "no-variant",
        "no-column",
        "empty-variant",
        "text-metric",
    ],
)
def test_bad_input_names_experiment_and_column(change, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataContractError, match=match):
        analyze_experiment(change(_customers()), metrics=["revenue"], covariates="revenue_pre")


def test_input_not_mutated() -> None:
    customers = _customers()
    before = customers.copy()
    analyze_experiment(
        customers, metrics=["revenue"], covariates="revenue_pre", segment_cols=["region"]
    )
    pd.testing.assert_frame_equal(customers, before)


def test_vectorized_estimators_match_scalar_calls() -> None:
    counts_t, counts_c = np.array([30, 45, 50]), np.array([40, 40, 40])
    batch = proportion_effect(counts_t, 400, counts_c, 410)
    for index, count in enumerate(counts_t):
        single = proportion_effect(count, 400, counts_c[index], 410)
        assert float(batch.p_value[index]) == pytest.approx(float(single.p_value), rel=1e-12)


def test_srm_test_matches_scipy() -> None:
    counts = {"control": 10120, "email": 9880, "sms": 5200}
    shares = {"control": 0.4, "email": 0.4, "sms": 0.2}
    result = srm_test(counts, shares)
    # reference: scipy chi-square goodness of fit against the planned 40/40/20 split
    chi2, p_value = stats.chisquare([10120, 9880, 5200], [10080, 10080, 5040])
    assert result["chi2"] == pytest.approx(chi2, rel=1e-12)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-12)
    assert result["df"] == 2 and not result["srm"]
    assert srm_test({"control": 10500, "email": 9500})["srm"]
    with pytest.raises(ValueError, match="expected_shares"):
        srm_test(counts, [0.5, 0.5])


@pytest.mark.parametrize(
    ("n_control", "n_treatment", "baseline", "sd"),
    [(5000, 5000, 0.1, None), (2000, 6000, 0.3, None), (800, 1200, 50.0, 20.0)],
    ids=["binary-equal", "binary-unequal", "continuous"],
)
def test_power_and_mde_matches_statsmodels(n_control, n_treatment, baseline, sd) -> None:  # type: ignore[no-untyped-def]
    result = power_and_mde(n_control, n_treatment, baseline=baseline, sd=sd)
    unit_sd = sd if sd is not None else np.sqrt(baseline * (1 - baseline))
    # reference: statsmodels NormalIndPower solved for the standardized effect
    effect_size = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_control, alpha=0.05, power=0.8, ratio=n_treatment / n_control
    )
    assert result["mde_abs"] == pytest.approx(effect_size * unit_sd, rel=1e-4)
    assert result["kind"] == ("binary" if sd is None else "continuous")


@pytest.mark.parametrize(
    ("baseline", "mde", "sd"),
    [(0.1, 0.01, None), (0.05, 0.005, None), (50.0, 2.0, 20.0)],
    ids=["binary-10pct", "binary-5pct", "continuous"],
)
def test_sample_size_matches_statsmodels(baseline, mde, sd) -> None:  # type: ignore[no-untyped-def]
    unit_sd = sd if sd is not None else np.sqrt(baseline * (1 - baseline))
    # reference: statsmodels NormalIndPower solved for nobs1 at the standardized effect
    reference = NormalIndPower().solve_power(effect_size=mde / unit_sd, alpha=0.05, power=0.8)
    assert sample_size(baseline, mde, sd=sd) == int(np.ceil(reference - 1e-6))
    n = sample_size(baseline, mde, sd=sd)
    assert power_and_mde(n, n, baseline=baseline, sd=sd)["mde_abs"] <= mde


def test_power_bad_input() -> None:
    with pytest.raises(ValueError, match="baseline=1.5"):
        sample_size(1.5, 0.1)
    with pytest.raises(ValueError, match="sd=-1"):
        power_and_mde(100, 100, baseline=3.0, sd=-1)


@pytest.mark.parametrize(
    ("diff", "ci_high", "verdict"),
    [
        (-0.001, 0.002, "non-inferior"),
        (0.002, 0.006, "inconclusive"),
        (0.006, 0.009, "inferior"),
        (float("nan"), float("nan"), "inconclusive"),
    ],
    ids=["non-inferior", "inconclusive", "inferior", "nan"],
)
def test_non_inferiority(diff: float, ci_high: float, verdict: str) -> None:
    assert non_inferiority(diff, ci_high, 0.005) == verdict


def test_non_inferiority_on_unsubscribe_guardrail() -> None:
    customers = _customers().assign(unsubscribed=[0] * 12 + [0] * 9 + [1])
    row = _row(analyze_experiment(customers, metrics=["unsubscribed"]), "unsubscribed")
    assert non_inferiority(row["abs_diff"], row["abs_ci_high"], 0.15) == "inconclusive"
    assert non_inferiority(row["abs_diff"], row["abs_ci_high"], 0.05) == "inferior"
    with pytest.raises(ValueError, match="margin"):
        non_inferiority(0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("diff", "ci_low", "ci_high", "worse", "status"),
    [
        (-0.03, -0.05, -0.01, "lower", "inferior"),  # retention fell beyond the margin
        (-0.03, -0.05, -0.01, "higher", "non-inferior"),  # the same numbers, a rise is bad
        (-0.005, -0.015, 0.005, "lower", "non-inferior"),  # -ci_low 0.015 < 0.02
        (-0.01, -0.03, 0.01, "lower", "inconclusive"),  # the fall may exceed 0.02
        (0.03, 0.01, 0.05, "higher", "inferior"),
    ],
    ids=["fall-lower", "fall-higher", "small-fall", "unclear-fall", "rise-higher"],
)
def test_guardrail_status_judges_each_direction(
    diff: float, ci_low: float, ci_high: float, worse: str, status: str
) -> None:
    assert guardrail_status(diff, ci_low, ci_high, margin=0.02, worse=worse) == status


def test_guardrail_status_bad_direction() -> None:
    with pytest.raises(ValueError, match="worse='down'"):
        guardrail_status(0.0, 0.0, 0.0, margin=0.01, worse="down")


def test_holm_matches_statsmodels_with_ties() -> None:
    from crmlib.experiments.models.effects import _holm

    p_values = np.array([0.01, 0.04, 0.04, 0.2, 0.001, 0.5, 0.03])
    # reference: statsmodels multipletests(method="holm")
    expected = multipletests(p_values, method="holm")[1]
    np.testing.assert_allclose(_holm(p_values), expected, rtol=1e-12)


def test_ratio_with_zero_denominator_is_explained() -> None:
    customers = _customers().assign(orders=lambda t: t["orders"].where(t["variant"] == "email", 0))
    results = analyze_experiment(customers, metrics=[], ratio_metrics=[("revenue", "orders")])
    row = _row(results, "revenue/orders")
    assert np.isnan(row["p_value"]) and "'orders' sums to 0" in row["note"]
