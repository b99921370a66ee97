"""Tests of 05's eligibility rule and fallback chain, and of the likelihoods at their boundaries.

Known answers: the NBD fit against scipy.stats.nbinom maximised by scipy.optimize; planted
no-dropout buyers (the fallback engages and recovers the planted mean purchase rate); the
BG/NBD and Pareto/NBD likelihoods at no dropout equal the NBD's (their limit); CDNOW's
published BG/NBD through the chain.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.integrate import quad
from scipy.special import gammaln

from crmlib.clv.choice import (
    COLLAPSE_CRITICAL_VALUE,
    choose_model,
    comparison_records,
    dropout_collapse,
    empirical_model,
    fit_with_fallback,
    observed_spend_model,
    spend_model,
)
from crmlib.clv.models import fitting
from crmlib.clv.models.base import PARAMETER_NAMES, PatternData, SpendData
from crmlib.clv.models.fitting import eligibility, fit_transactions_model, unique_patterns
from crmlib.clv.models.paretonbd import pareto_value, pnbd_log_a0_direct, pnbd_p_alive
from crmlib.clv.models.registry import KERNELS, OBJECTIVES
from crmlib.clv.tables import comparison_table
from crmlib.clv.text import describe_choice
from crmlib.clv.value import Valuation, customer_value

#: Planted no-dropout buyers: purchase rate ~ Gamma(r, alpha) per week, nobody leaves.
PLANTED_R, PLANTED_ALPHA = 0.8, 8.0  # mean rate r / alpha = 0.1 purchases per week
HOLDOUT_WEEKS = 26.0


def _no_dropout_calibration(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Calibration/holdout table of Poisson buyers with Gamma rates and no dropout, in weeks.

    Each customer buys at rate lambda ~ Gamma(r, alpha) forever: frequency ~ Poisson(lambda T)
    over their age T (uniform 20-80 weeks), the last purchase is the largest of frequency
    uniform times on (0, T] (Beta(frequency, 1) x T), and the holdout count is
    Poisson(lambda x 26 weeks); spend per order is Gamma(4, 1/10) (mean 40).
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(PLANTED_R, 1 / PLANTED_ALPHA, n)
    age = rng.uniform(20, 80, n).round(1)
    x = rng.poisson(rate * age)
    recency = np.where(x > 0, (age * rng.beta(np.maximum(x, 1), 1)).round(2), 0.0)
    spend = np.where(x > 0, rng.gamma(4.0 * np.maximum(x, 1), 10.0 / np.maximum(x, 1)), 0.0)
    table = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "frequency_cal": x,
            "recency_cal": recency,
            "T_cal": age,
            "monetary_value_cal": spend,
            "frequency_holdout": rng.poisson(rate * HOLDOUT_WEEKS),
            "duration_holdout": HOLDOUT_WEEKS,
        }
    )
    table.attrs["unit"] = "week"
    return table


@pytest.fixture(scope="module")
def no_dropout() -> pd.DataFrame:
    return _no_dropout_calibration()


@pytest.fixture(scope="module")
def no_dropout_choice(no_dropout: pd.DataFrame) -> Any:
    """BG/NBD and MBG/NBD on the 3,000 planted customers (Pareto/NBD's fit is slow where its
    dropout rate runs to 0: scipy's 2F1 near z = 1; it is a candidate in every_model_choice)."""
    return choose_model(no_dropout, models=["bgnbd", "mbgnbd"], unit="week")


@pytest.fixture(scope="module")
def every_model_choice() -> Any:
    """All three candidates on 500 planted no-dropout customers (seed 7: none converges)."""
    calibration = _no_dropout_calibration(n=500, seed=7)
    return choose_model(calibration, models=["bgnbd", "mbgnbd", "paretonbd"], unit="week")


def _summary_of(calibration: pd.DataFrame) -> pd.DataFrame:
    summary = calibration.rename(
        columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T",
                 "monetary_value_cal": "monetary_value"}
    )[["customer_id", "frequency", "recency", "T", "monetary_value"]]  # fmt: skip
    summary.attrs["unit"] = "week"
    return summary


def _lifetimes() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.datasets
        import lifetimes.utils
    return lifetimes


@pytest.fixture(scope="module")
def cdnow_calibration() -> pd.DataFrame:
    """CDNOW sample (2,357 customers), calibration to 1997-09-30, holdout to 1998-06-30, weeks."""
    lifetimes = _lifetimes()
    raw = lifetimes.datasets.load_dataset(
        "CDNOW_sample.txt", header=None, sep=r"\s+", dtype={"date": str},
        names=["master_id", "customer_id", "date", "cds", "amount"],
    )  # fmt: skip
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        days = lifetimes.utils.calibration_and_holdout_data(
            raw, "customer_id", "date", calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30", freq="D", monetary_value_col="amount",
        )  # fmt: skip
    weeks = days.copy()
    for column in ("recency_cal", "T_cal", "duration_holdout"):
        weeks[column] = days[column] / 7
    weeks = weeks.reset_index()
    weeks["customer_id"] = weeks["customer_id"].astype("str")
    return weeks


# -- the likelihoods at the boundaries ------------------------------------------------------------
def _cdnow_like_data() -> PatternData:
    calibration = _no_dropout_calibration(n=400, seed=1)
    patterns, _ = unique_patterns(_summary_of(calibration))
    return PatternData.build(*(patterns[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T",
                                                                    "weights")))  # fmt: skip


BOUNDARIES = {
    # log-parameters (time scaled so that the longest age is ~1); e^-27.6 = 1e-12, e^27.6 = 1e12
    "dropout a -> 1e-12": [0.0, 0.0, -27.6, 0.0],
    "b -> 1e12": [0.0, 0.0, 0.0, 27.6],
    "a -> 1e-12, b -> 1e12": [0.0, 0.0, -27.6, 27.6],
    "r -> 1e12": [27.6, 27.6, 0.0, 0.0],
    "r -> 1e-12": [-27.6, 0.0, 0.0, 0.0],
    "alpha -> 1e-12": [0.0, -27.6, 0.0, 0.0],
    "a underflows to 0": [0.0, 0.0, -800.0, 0.0],
    "b overflows": [0.0, 0.0, 0.0, 800.0],
    "not a number": [0.0, np.nan, 0.0, 0.0],
}


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "paretonbd", "nbd"])
@pytest.mark.parametrize("where", list(BOUNDARIES), ids=list(BOUNDARIES))
def test_likelihoods_are_finite_or_inf_at_the_boundaries(model: str, where: str) -> None:
    """Never an exception (the old math.log(a) raised 'math domain error' at a = 0)."""
    data = _cdnow_like_data()
    log_params = np.array(BOUNDARIES[where][: 2 if model == "nbd" else 4], dtype=float)
    with warnings.catch_warnings():  # no floating-point warning escapes the objective either
        warnings.simplefilter("error")
        value, grad = OBJECTIVES[model](log_params, data, 0.0)
    assert value == math.inf or math.isfinite(value)
    assert np.all(np.isfinite(grad))
    representable = np.all(np.abs(log_params) < 700)
    if representable and model != "paretonbd":
        assert math.isfinite(value), "a representable boundary point has a finite objective"


def test_gamma_gamma_is_finite_or_inf_at_the_boundaries() -> None:
    data = SpendData.build(np.array([1.0, 2.0, 5.0]), np.array([20.0, 35.0, 18.0]),
                            np.ones(3))  # fmt: skip
    for log_params in ([-27.6, 0.0, 0.0], [0.0, 27.6, 27.6], [0.0, 0.0, -800.0], [800.0, 0, 0]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value, grad = OBJECTIVES["gammagamma"](np.array(log_params), data, 0.0)
        assert (value == math.inf or math.isfinite(value)) and np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    ("model", "no_dropout_tail"),
    [
        ("bgnbd", [-27.6, 0.0]),
        ("mbgnbd", [-27.6, 0.0]),
        ("bgnbd", [0.0, 34.5]),
        ("paretonbd", [-27.6, 0.0]),
    ],
    ids=["bgnbd a=1e-12", "mbgnbd a=1e-12", "bgnbd b=1e15", "paretonbd s=1e-12"],
)
def test_dropout_models_tend_to_the_nbd_without_dropout(
    model: str, no_dropout_tail: list[float]
) -> None:
    """a -> 0 (BG/NBD, MBG/NBD), b -> inf (BG/NBD) or s -> 0 (Pareto/NBD): no dropout, so the
    likelihood is the NBD's. With lifetimes' gammaln(a+b) - gammaln(b) the b = 1e15 case is
    off by ~4 per distinct frequency; the cumulative log1p sums are exact."""
    data = _cdnow_like_data()
    r_alpha = [np.log(0.8), np.log(0.1)]
    nbd, _ = OBJECTIVES["nbd"](np.array(r_alpha), data, 0.0)
    log_params = np.array(r_alpha + no_dropout_tail)
    value = (
        pareto_value(log_params, data, 0.0)
        if model == "paretonbd"
        else OBJECTIVES[model](log_params, data, 0.0)[0]
    )
    # the dropout terms are O(a) = O(1e-12) (O(1/b) = 1e-15) per customer
    assert value == pytest.approx(nbd, abs=1e-9)


def test_nbd_gradient_is_the_derivative_of_the_value() -> None:
    data = _cdnow_like_data()
    for log_params in (np.log([0.8, 0.1]), np.log([3.0, 2.5]), np.array([27.6, 27.6])):
        _, grad = OBJECTIVES["nbd"](log_params, data, 0.01)
        numeric = optimize.approx_fprime(
            log_params, lambda p: OBJECTIVES["nbd"](p, data, 0.01)[0], 1e-7
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_pareto_p_alive_is_finite_where_scipy_2f1_fails() -> None:
    """The reported 'predictions: 795 customers have no finite predicted purchases': a
    Pareto/NBD with a nearly homogeneous, nearly zero dropout (fitted on a 4-year retail
    sample of 800 buyers who never leave) made scipy's hyp2f1 return NaN for most customers."""
    theta = (3.40214, 109.75361, 410.9562, 8233406.0)  # the stopping point on that data
    x = np.array([3.0, 5.0, 8.0, 7.0])
    t_x = np.array([100.0, 150.0, 160.0, 154.142857])
    age = np.array([170.0, 180.0, 190.0, 154.142857])  # the last one bought at T
    p_alive = pnbd_p_alive(theta, x, t_x, age)
    assert np.all(np.isfinite(p_alive)) and p_alive[-1] == 1.0
    # the direct integral by scipy.integrate.quad (scaled by its integrand at t_x, its maximum):
    # log A_0 = log(r+s+x) + log int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau
    r, alpha, s, beta = theta
    for k in range(3):

        def log_f(tau: float, k: int = k) -> float:
            return -(r + x[k]) * math.log(alpha + tau) - (s + 1) * math.log(beta + tau)

        top = log_f(t_x[k])
        integral, _ = quad(lambda tau, k=k, top=top: math.exp(log_f(tau, k) - top), t_x[k], age[k],
                           epsabs=0, epsrel=1e-12)  # fmt: skip
        expected = math.log(r + s + x[k]) + math.log(integral) + top
        direct = pnbd_log_a0_direct(r, alpha, s, beta, x[k], t_x[k], age[k])
        assert float(direct) == pytest.approx(expected, abs=1e-9)


# -- the NBD fit, against scipy -------------------------------------------------------------------
def test_nbd_fit_matches_scipy_nbinom_maximum_likelihood(no_dropout: pd.DataFrame) -> None:
    """Independent computation: x_i ~ NBD(n = r, p = alpha / (alpha + T_i)) by scipy.stats,
    maximised by scipy.optimize (Nelder-Mead). The two likelihoods differ by sum(x log T -
    log x!), which does not depend on (r, alpha), so the maxima coincide."""
    summary = _summary_of(no_dropout)
    fitted = fit_transactions_model(summary, model="nbd", unit="week")
    assert fitted.converged and fitted.covariance is not None
    x, age = summary["frequency"].to_numpy(), summary["T"].to_numpy()

    def negative(log_params: np.ndarray) -> float:
        r, alpha = np.exp(log_params)
        return -float(stats.nbinom.logpmf(x, r, alpha / (alpha + age)).sum())

    best = optimize.minimize(negative, np.log([1.0, 10.0]), method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    r_scipy, alpha_scipy = np.exp(best.x)
    assert fitted.params["r"] == pytest.approx(r_scipy, rel=1e-4)
    assert fitted.params["alpha"] == pytest.approx(alpha_scipy, rel=1e-4)
    constant = float(np.sum(x * np.log(age) - gammaln(x + 1)))
    assert fitted.log_likelihood + constant == pytest.approx(-best.fun, abs=1e-3)
    # method of moments: the pooled rate sum x / sum T estimates the mean rate r / alpha
    assert fitted.params["r"] / fitted.params["alpha"] == pytest.approx(x.sum() / age.sum(),
                                                                        rel=0.03)  # fmt: skip


# -- the chain on planted no-dropout buyers ------------------------------------------------------
def test_no_dropout_buyers_engage_the_fallback_and_recover_the_rate(
    no_dropout_choice: Any, no_dropout: pd.DataFrame
) -> None:
    choice = no_dropout_choice
    table = choice.comparison.set_index("model")
    # every candidate's dropout estimate runs to the edge: none is eligible, none is used
    assert not table.loc[["bgnbd", "mbgnbd"], "eligible"].any()
    assert table.loc[["bgnbd", "mbgnbd"], "mae"].isna().all()  # never predicted
    assert choice.fallback is not None and choice.fallback["step"] == "nbd"
    assert "dropout estimate collapsed" in choice.fallback["reason"]
    assert choice.chosen == "nbd" and table.loc["nbd", "chosen"]
    r, alpha = choice.model.params["r"], choice.model.params["alpha"]
    # planted mean rate r / alpha = 0.1 purchases per week; 3,000 customers give a standard
    # error of about 2% (sd of the rate 0.11 / sqrt(3000) / 0.1), so 10% is ~5 SE
    assert r / alpha == pytest.approx(PLANTED_R / PLANTED_ALPHA, rel=0.10)
    # and its holdout prediction of the planted future purchases
    assert table.loc["nbd", "aggregate_error"] == pytest.approx(0.0, abs=0.10)
    text = describe_choice(choice)
    assert "Fallback (b), a model without dropout (NBD) is used" in text
    assert "likelihood-ratio statistic" in text and "never leaving" in text


def test_comparison_lists_every_model_with_parameters(every_model_choice: Any) -> None:
    records = comparison_records(every_model_choice)
    assert [r["model"] for r in records] == ["bgnbd", "mbgnbd", "paretonbd", "nbd"]
    assert [r["role"] for r in records] == ["candidate"] * 3 + ["fallback"]
    for record in records:
        assert set(record["parameters"]) == set(PARAMETER_NAMES[record["model"]])
        assert {"log_likelihood", "converged", "eligible", "chosen", "note"} <= set(record)
    by_model = {r["model"]: r for r in records}
    assert by_model["nbd"]["chosen"] and by_model["nbd"]["converged"]
    assert not any(by_model[m]["converged"] for m in ("bgnbd", "mbgnbd", "paretonbd"))
    json.dumps(records, allow_nan=False)  # metrics.json: no NaN


def test_cdnow_through_the_chain_is_the_published_bgnbd(cdnow_calibration: pd.DataFrame) -> None:
    """No fallback on CDNOW; every candidate in the comparison, BG/NBD as published."""
    choice = choose_model(cdnow_calibration, models=["bgnbd", "mbgnbd", "paretonbd"],
                          unit="week", criterion="log_likelihood")  # fmt: skip
    assert choice.fallback is None and choice.eligible
    records = {r["model"]: r for r in comparison_records(choice)}
    assert list(records) == ["bgnbd", "mbgnbd", "paretonbd"]
    assert all(r["converged"] and r["eligible"] for r in records.values())
    # Fader, Hardie & Lee (2005): r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert records["bgnbd"]["parameters"][name] == pytest.approx(value, rel=2e-3), name
    assert records["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    # the NBD fits CDNOW much worse: its dropout is real, nothing collapses
    nbd = fit_transactions_model(_summary_of(cdnow_calibration), model="nbd", unit="week")
    collapsed = dropout_collapse([choice.fits["bgnbd"]], nbd)
    assert not collapsed.eligible and "fits better than a model without dropout" in collapsed.reason
    assert 2 * (choice.fits["bgnbd"].log_likelihood - nbd.log_likelihood) > COLLAPSE_CRITICAL_VALUE


def test_penalized_refit_is_the_first_fallback(
    cdnow_calibration: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpenalized attempts are made to fail: only the penalized refit (attempt 3) converges."""
    real = fitting.minimize

    def unpenalized_fail(model: str, data: Any, penalizer: float, x0: Any, **kw: Any) -> Any:
        result = real(model, data, penalizer, x0, **kw)
        if penalizer == 0.0:
            result.x = np.full(np.size(result.x), -40.0)  # at the edge: not an optimum
        return result

    monkeypatch.setattr(fitting, "minimize", unpenalized_fail)
    choice = choose_model(cdnow_calibration, models=["bgnbd"], unit="week")
    assert choice.fallback is not None and choice.fallback["step"] == "penalized_refit"
    assert choice.model.converged and choice.model.penalizer == pytest.approx(0.001)
    assert "L2 penalizer 0.001" in choice.fallback["reason"]
    assert "Fallback (a), a penalized refit is used" in describe_choice(choice)


def test_empirical_fallback_when_nothing_fits(
    no_dropout: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fit (NBD included) fails: the observed spend rate values the customers."""
    real = fitting.minimize

    def always_fail(model: str, data: Any, penalizer: float, x0: Any, **kw: Any) -> Any:
        result = real(model, data, penalizer, x0, **kw)
        result.x = np.full(np.size(result.x), 40.0)
        return result

    monkeypatch.setattr(fitting, "minimize", always_fail)
    small = no_dropout.iloc[:300].copy()
    small.attrs = dict(no_dropout.attrs)
    choice = choose_model(small, models=["bgnbd", "paretonbd"], unit="week")
    assert choice.chosen == "empirical" and choice.fallback is not None
    assert choice.fallback["step"] == "empirical"
    assert [r["model"] for r in comparison_records(choice)] == [
        "bgnbd", "paretonbd", "nbd", "empirical"]  # fmt: skip
    row = choice.comparison.set_index("model").loc["empirical"]
    assert row["eligible"] and row["chosen"] and np.isfinite(row["mae"])
    assert "observed spend" in describe_choice(choice)


def test_empirical_clv_is_the_observed_spend_rate() -> None:
    """Known answer by hand: spend per week observed, times the horizon, discounted, margin."""
    summary = pd.DataFrame({"customer_id": ["a", "b", "c"], "frequency": [4, 0, 2],
                            "recency": [30.0, 0.0, 5.0], "T": [40.0, 12.0, 0.0 + 10.0],
                            "monetary_value": [25.0, 0.0, 60.0]})  # fmt: skip
    summary.attrs["unit"] = "week"
    empirical = empirical_model(summary, unit="week")
    spend = spend_model(summary, empirical)
    assert spend.model.name == "observed_spend" and spend.fallback is not None
    assert empirical.params["repeat_rate"] == pytest.approx(6 / 62)
    values = customer_value(empirical, spend.model, summary, valuation=Valuation(
        horizon_months=12, annual_discount_rate=0.10, margin=0.3, unit="week", days_per_unit=7.0,
        as_of_date="2025-12-31"))  # fmt: skip
    weeks_per_month = 365.25 / 12 / 7
    discount = sum(1.10 ** (-k / 12) for k in range(1, 13))
    # a: 4 repeat orders of 25 in 40 weeks = 2.5 per week; b: none; c: 120 in 10 weeks
    expected = [
        0.3 * 2.5 * weeks_per_month * discount,
        0.0,
        0.3 * 12.0 * weeks_per_month * discount,
    ]
    np.testing.assert_allclose(values["clv"], expected, rtol=1e-12)
    assert values["p_alive"].tolist() == [1.0, 1.0, 1.0]


def test_nan_predictions_lead_to_the_fallback_not_an_exception(
    cdnow_calibration: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A converged model whose predictions are not finite is not eligible (was a
    DataContractError 'predictions: N customers have no finite predicted purchases')."""
    kernel = KERNELS["bgnbd"]

    def broken(theta: Any, t: Any, x: Any, T: Any) -> np.ndarray:
        values = np.array(kernel.alive_expected(theta, t, x, T), dtype=float)
        values[np.asarray(x) > 3] = np.nan
        return values

    monkeypatch.setitem(KERNELS, "bgnbd", dataclasses.replace(kernel, alive_expected=broken))
    choice = choose_model(cdnow_calibration, models=["bgnbd", "mbgnbd"], unit="week")
    row = choice.comparison.set_index("model").loc["bgnbd"]
    assert not row["eligible"] and "predictions are not finite for" in row["note"]
    assert choice.chosen == "mbgnbd" and choice.fallback is None


# -- eligibility, refits, spend -----------------------------------------------------------------
def test_eligibility_rule() -> None:
    nobody_returns = pd.DataFrame({"frequency": 0, "recency": 0.0,
                                   "T": np.linspace(1.0, 50.0, 200)})  # fmt: skip
    failed = fit_transactions_model(nobody_returns, model="bgnbd")
    verdict = eligibility(failed)
    assert not verdict.eligible and verdict.reason.startswith("did not converge (")
    summary = _summary_of(_no_dropout_calibration(n=500, seed=3))
    nbd = fit_transactions_model(summary, model="nbd", unit="week")
    assert eligibility(nbd) == (True, "converged")
    assert not eligibility(nbd, predictions=[1.0, np.nan, np.inf]).eligible
    assert eligibility(nbd, predictions=[1.0, np.nan]).reason == (
        "its predictions are not finite for 50.0% of the 2 customers"
    )  # a share: the reason reaches the page, where a count of 1 customer may not
    assert eligibility(empirical_model(summary)).eligible
    assert eligibility(dataclasses.replace(nbd, log_likelihood=math.nan)).reason == (
        "its log-likelihood is not finite"
    )


def test_refit_falls_back_to_the_nbd_and_06_never_gets_a_failed_fit(
    no_dropout: pd.DataFrame,
) -> None:
    summary = _summary_of(no_dropout.iloc[:1500])
    refit = fit_with_fallback(summary, model="bgnbd", unit="week", allow_empirical=False)
    assert refit.eligible and refit.chosen == "nbd"
    assert refit.fallback is not None and refit.fallback["step"] == "nbd"
    assert not refit.fits["bgnbd"].converged and list(refit.fits) == ["bgnbd", "nbd"]


def test_observed_spend_replaces_a_gamma_gamma_that_cannot_be_fitted() -> None:
    summary = pd.DataFrame({"frequency": [0, 0, 0], "monetary_value": [0.0, 0.0, 0.0],
                            "recency": 0.0, "T": [3.0, 4.0, 5.0]})  # fmt: skip
    nbd_like = dataclasses.replace(empirical_model(summary), name="nbd")
    spend = spend_model(summary, nbd_like)
    assert spend.fallback == {
        "step": "observed_spend",
        "reason": "no repeat customer has a positive spend, so Gamma-Gamma cannot be fitted",
    }
    assert observed_spend_model(summary).params == {"mean_spend": 0.0}


def test_comparison_table_for_the_page(every_model_choice: Any) -> None:
    table = comparison_table(every_model_choice)
    assert table.index.tolist() == ["BG/NBD", "MBG/NBD", "Pareto/NBD", "NBD (no dropout)"]
    assert table["Used"].tolist() == ["", "", "", "yes"]
    assert table.loc["BG/NBD", "MAE (purchases per customer)"] == ""  # never predicted
    assert table.loc["BG/NBD", "Note"].startswith("did not converge (")
    assert not table.astype(str).apply(lambda c: c.str.contains("nan|None")).any().any()
