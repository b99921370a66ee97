"""Known-answer, reference and simulation tests of crmlib.experiments.models.money (campaign economics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from crmlib.errors import DataContractError
from crmlib.experiments.models.money import ECONOMICS_COLUMNS, campaign_economics

CONTROL_REVENUE = [0.0, 20.0, 5.0, 0.0, 35.0, 2.0, 0.0, 8.0, 40.0, 0.0, 1.0, 3.0]
EMAIL_REVENUE = [25.0, 30.0, 0.0, 15.0, 4.0, 60.0, 0.0, 22.0, 18.0, 9.0]
CONTROL_REPURCHASE = [0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1]
EMAIL_REPURCHASE = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]


def _outcomes() -> pd.DataFrame:
    n_c, n_t = len(CONTROL_REVENUE), len(EMAIL_REVENUE)
    return pd.DataFrame(
        {
            "experiment_id": "winback",
            "customer_id": [f"C{i}" for i in range(n_c + n_t)],
            "variant": ["control"] * n_c + ["email"] * n_t,
            "cost": [np.nan] * n_c + [1.5] * n_t,
            "net_revenue": CONTROL_REVENUE + EMAIL_REVENUE,
            "repurchase": np.array(CONTROL_REPURCHASE + EMAIL_REPURCHASE, dtype=float),
            "window_closed": True,
        }
    )


def test_hand_numbers_on_a_tiny_table() -> None:
    row = campaign_economics(_outcomes(), margin=0.4).iloc[0]
    # by hand: mean email 18.3, mean control 114/12 = 9.5 -> 8.8 per customer, x 10 treated
    assert row["incremental_revenue_per_customer"] == pytest.approx(8.8, abs=1e-12)
    assert row["incremental_revenue_total"] == pytest.approx(88.0, abs=1e-9)
    assert row["incremental_profit"] == pytest.approx(35.2, abs=1e-9)
    assert row["cost_total"] == pytest.approx(15.0, abs=1e-12)  # 10 x 1.5, known
    assert row["net_profit"] == pytest.approx(20.2, abs=1e-9)
    assert row["roi"] == pytest.approx(20.2 / 15.0, abs=1e-12)
    # repurchase share 0.8 vs 8/12: lift 2/15 x 10 treated = 4/3 customers
    assert row["incremental_retained"] == pytest.approx(4 / 3, abs=1e-12)
    # the lift's CI reaches 0 on 22 customers: cost per retained customer unbounded
    assert np.isnan(row["cost_per_incremental_retained"])
    assert np.isnan(row["cost_per_incremental_retained_ci_low"])
    assert "no upper bound" in row["note"]
    assert (row["n"], row["n_control"]) == (10, 12)
    assert list(campaign_economics(_outcomes()).columns) == list(ECONOMICS_COLUMNS)


def test_cis_equal_scipy_welch_and_known_cost_shifts_them() -> None:
    alpha = 0.1
    row = campaign_economics(_outcomes(), margin=0.4, alpha=alpha).iloc[0]
    # reference: scipy's Welch test on the same data
    ci = stats.ttest_ind(EMAIL_REVENUE, CONTROL_REVENUE, equal_var=False).confidence_interval(
        confidence_level=1 - alpha
    )
    assert row["incremental_revenue_per_customer_ci_low"] == pytest.approx(ci.low, rel=1e-10)
    assert row["incremental_revenue_per_customer_ci_high"] == pytest.approx(ci.high, rel=1e-10)
    assert row["incremental_revenue_total_ci_low"] == pytest.approx(10 * ci.low, rel=1e-10)
    assert row["incremental_profit_ci_high"] == pytest.approx(0.4 * 10 * ci.high, rel=1e-10)
    assert row["net_profit_ci_low"] == pytest.approx(0.4 * 10 * ci.low - 15.0, rel=1e-10)
    assert row["roi_ci_high"] == pytest.approx((0.4 * 10 * ci.high - 15.0) / 15.0, rel=1e-10)
    # reference: statsmodels' unpooled Wald CI of the difference of proportions, x 10 treated
    low, high = confint_proportions_2indep(8, 10, 8, 12, method="wald", alpha=alpha)
    assert row["incremental_retained_ci_low"] == pytest.approx(10 * low, rel=1e-9)
    assert row["incremental_retained_ci_high"] == pytest.approx(10 * high, rel=1e-9)


def test_cost_per_contact_and_cost_per_retained_ci() -> None:
    n = 400
    outcomes = pd.DataFrame(
        {
            "experiment_id": "reactivate",
            "customer_id": [f"C{i}" for i in range(2 * n)],
            "variant": ["control"] * n + ["sms"] * n,
            "cost": np.nan,
            "net_revenue": 0.0,
            # 20% vs 40% repurchase
            "repurchase": np.r_[np.arange(n) < 80, np.arange(n) < 160].astype(float),
        }
    )
    row = campaign_economics(outcomes, cost_per_contact=0.25).iloc[0]
    assert row["cost_total"] == pytest.approx(100.0)  # 400 x 0.25
    assert row["incremental_retained"] == pytest.approx(80.0)
    assert row["cost_per_incremental_retained"] == pytest.approx(1.25)
    # CI is the lift's CI mapped through 100 / x (by hand, unpooled Wald, 400 per arm)
    se = np.sqrt(0.4 * 0.6 / n + 0.2 * 0.8 / n)
    z = stats.norm.ppf(0.975)
    assert row["cost_per_incremental_retained_ci_low"] == pytest.approx(
        100.0 / (n * (0.2 + z * se)), rel=1e-10
    )
    assert row["cost_per_incremental_retained_ci_high"] == pytest.approx(
        100.0 / (n * (0.2 - z * se)), rel=1e-10
    )
    assert row["note"] == ""
    # without cost_per_contact the cost column is all NaN: unknown, said in the note
    unknown = campaign_economics(outcomes).iloc[0]
    assert np.isnan(unknown["cost_total"]) and np.isnan(unknown["roi"])
    assert "cost unknown for 400 of 400" in unknown["note"]


def test_clv_lift_net_of_cost() -> None:
    outcomes = _outcomes()
    clv_values = np.r_[np.full(12, 100.0), np.full(10, 110.0)] + np.tile([-1.0, 1.0], 11)
    clv = pd.DataFrame({"customer_id": outcomes["customer_id"], "clv": clv_values})
    row = campaign_economics(outcomes, clv=clv).iloc[0]
    # mean CLV 110 vs 100, minus cost 1.5 per treated customer
    assert row["clv_net_lift_per_customer"] == pytest.approx(8.5, abs=1e-9)
    ci = stats.ttest_ind(clv_values[12:], clv_values[:12], equal_var=False).confidence_interval()
    assert row["clv_net_lift_per_customer_ci_low"] == pytest.approx(ci.low - 1.5, rel=1e-10)
    with pytest.raises(DataContractError, match="'clv' has no value for 1 .*winback"):
        campaign_economics(outcomes, clv=clv.iloc[1:])


def test_open_windows_are_noted() -> None:
    outcomes = _outcomes().assign(window_closed=[True] * 20 + [False] * 2)
    assert "2 of 10 outcome windows still open" in campaign_economics(outcomes).iloc[0]["note"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: t.drop(columns="net_revenue"), "net_revenue"),
        (lambda t: t.assign(variant="email"), "experiment 'winback': column 'variant'"),
        (lambda t: t.assign(repurchase=np.nan), "experiment 'winback': column 'repurchase'"),
    ],
    ids=["missing-column", "no-control", "missing-repurchase"],
)
def test_bad_input(change: object, match: str) -> None:
    with pytest.raises(DataContractError, match=match):
        campaign_economics(change(_outcomes()))  # type: ignore[operator]


def test_money_metrics_are_named_by_the_caller() -> None:
    renamed = _outcomes().rename(columns={"net_revenue": "spend", "repurchase": "converted"})
    named = campaign_economics(renamed, margin=0.4, revenue_col="spend", retention_col="converted")
    # the same numbers as with the default names: only the columns read changed
    pd.testing.assert_frame_equal(named, campaign_economics(_outcomes(), margin=0.4))
    with pytest.raises(DataContractError, match="'net_revenue'"):
        campaign_economics(renamed)  # the defaults are not in this table


def test_without_a_retention_metric_money_is_still_computed() -> None:
    row = campaign_economics(_outcomes(), margin=0.4, retention_col=None).iloc[0]
    assert row["net_profit"] == pytest.approx(20.2, abs=1e-9)  # by hand, as above
    retained = [c for c in ECONOMICS_COLUMNS if "retained" in c]
    assert row[retained].isna().all()
    assert "no retention metric" in row["note"]


def test_retention_metric_must_be_yes_no() -> None:
    with pytest.raises(DataContractError, match="'net_revenue' .*retention metric.*0 and 1"):
        campaign_economics(_outcomes(), retention_col="net_revenue")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="alpha"):
        campaign_economics(_outcomes(), alpha=1.5)
    with pytest.raises(ValueError, match="cost_per_contact"):
        campaign_economics(_outcomes(), cost_per_contact=-1.0)


def test_simulation_recovers_planted_uplift_and_cost_with_nominal_coverage() -> None:
    rng = np.random.default_rng(20261123)
    replications, n_arm = 2000, 150
    uplift, cost = 4.0, 0.5  # planted: +4.0 mean revenue per treated customer, 0.5 per contact
    # zero-inflated exponential revenue: 30% buy, mean basket 40 (control) -> mean 12.0
    buys = rng.random((replications, 2, n_arm)) < 0.3
    basket = rng.exponential(40.0, size=(replications, 2, n_arm))
    revenue = buys * basket
    revenue[:, 1, :] += uplift
    ids = np.arange(replications * 2 * n_arm)
    outcomes = pd.DataFrame(
        {
            "experiment_id": np.repeat([f"E{r:04d}" for r in range(replications)], 2 * n_arm),
            "customer_id": ids.astype(str),
            "variant": np.tile(np.repeat(["control", "email"], n_arm), replications),
            "cost": np.tile(np.repeat([np.nan, cost], n_arm), replications),
            "net_revenue": revenue.ravel(),
            "repurchase": buys.ravel().astype(float),
        }
    )
    result = campaign_economics(outcomes, margin=0.5)
    assert len(result) == replications
    covered = (result["incremental_revenue_per_customer_ci_low"] <= uplift) & (
        uplift <= result["incremental_revenue_per_customer_ci_high"]
    )
    # planted truth: 95% CIs cover the uplift in 95 +- 2% of replications
    assert covered.mean() == pytest.approx(0.95, abs=0.02)
    # the mean estimate recovers the uplift within 4 Monte Carlo SEs (about 4 x 0.074)
    estimates = result["incremental_revenue_per_customer"]
    monte_carlo_se = estimates.std() / np.sqrt(replications)
    assert estimates.mean() == pytest.approx(uplift, abs=4 * monte_carlo_se)
    assert np.allclose(result["cost_total"], cost * n_arm)  # the known cost, exactly
    expected_net = 0.5 * uplift * n_arm - cost * n_arm  # 300 - 75
    assert result["net_profit"].mean() == pytest.approx(
        expected_net, abs=4 * 0.5 * n_arm * monte_carlo_se
    )
