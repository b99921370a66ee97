"""Tests of the churn baselines: recency rule, recency rank, BTYD churn probability."""

from __future__ import annotations

import dataclasses
import inspect
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.integrate import quad

from crmlib.churn.models.baselines import (
    BTYD_COLUMNS,
    RecencyRule,
    btyd_churn_from_summary,
    btyd_churn_probability,
    recency_score,
)
from crmlib.clv import customer_summary, fit_with_fallback
from crmlib.clv.models.fitting import fit_transactions_model
from crmlib.clv.value import probability_alive
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.privacy import small_counts_in_html
from crmlib.sampling import sample_rows

#: The module of 05_clv's fallback chain (it looks fit_transactions_model up by name there),
#: found from the public name so that 05's own layout stays its business.
clv_fallback = sys.modules[fit_with_fallback.__module__]

BG_PARAMS = {"r": 0.6, "alpha": 8.0, "a": 0.8, "b": 2.5}  # weeks
PNBD_PARAMS = {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}  # weeks (CDNOW-like)
HORIZON_DAYS = 91  # 13 weeks


def _lifetimes() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return lifetimes


def _quiet(function: Any, *args: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return function(*args)


def _fitter(name: str, params: dict[str, float]) -> Any:
    fitter = getattr(_lifetimes(), name)()
    fitter.params_ = pd.Series(params)
    return fitter


def _summary(x: Any, t_x: Any, T: Any, unit: str = "week") -> pd.DataFrame:
    summary = pd.DataFrame({"frequency": x, "recency": t_x, "T": T})
    summary.attrs["unit"] = unit
    return summary


# -- the recency rule -----------------------------------------------------------------------------
def _train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": list("abcdefgh"),
            "recency_days": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.0, 9.0],
            "churned": [False, True, False, True, True, True, False, True],
        }
    )


def test_recency_rule_is_the_pooled_adjacent_violators_fit() -> None:
    rule = RecencyRule().fit(_train())
    # hand PAV on (1:0) (2:1) (3:0) (4:1) (5:1) (6:1,0 -> 0.5) (9:1): 2 and 3 violate the
    # order and pool to 0.5; then 0, 0.5, 0.5, 1, 1, 0.5 violates at 6: pool 5,6 with
    # weights 1 and 2 -> (1 + 1) / 3 = 2/3; then 4 (1) > 2/3 pools: (1 + 1 + 1) / 4 = 0.75
    expected = [0.0, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 1.0]
    predicted = rule.predict_proba(_train())
    assert predicted == pytest.approx(expected, abs=1e-12)  # exact fractions
    between = rule.predict_proba(pd.DataFrame({"recency_days": [0.0, 1.5, 7.5, 400.0]}))
    # linear interpolation between training recencies, flat beyond them
    assert between == pytest.approx([0.0, 0.25, 0.875, 1.0], abs=1e-12)


def test_recency_rule_interface_and_no_mutation() -> None:
    train = _train()
    before = train.copy()
    rule = RecencyRule().fit(train)
    pd.testing.assert_frame_equal(train, before)
    assert rule.name == "recency rule"
    assert rule.numeric_ == ("recency_days",)
    assert rule.categorical_ == ()
    assert rule.n_train_ == 8 and rule.churn_rate_ == pytest.approx(5 / 8)
    grid = pd.DataFrame({"recency_days": np.linspace(0, 30, 61)})
    proba = rule.predict_proba(grid)
    assert proba.dtype == np.float64 and proba.shape == (61,)
    assert np.all(np.diff(proba) >= 0) and proba.min() >= 0 and proba.max() <= 1


def test_recency_rule_accepts_zero_one_labels() -> None:
    train = _train().assign(churned=lambda f: f["churned"].astype(int))
    assert RecencyRule().fit(train).predict_proba(train)[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("churned", "recency", "match"),
    [
        ([True] * 5, [1, 2, 3, 4, 5], "all 5 training customers churned"),
        ([False] * 5, [1, 2, 3, 4, 5], "all 5 training customers stayed"),
        ([True, False, True, False, True], [7] * 5, "at least 2 distinct recencies"),
    ],
    ids=["all-churned", "none-churned", "one-recency"],
)
def test_recency_rule_cannot_be_fitted(churned: list[bool], recency: list[int], match: str) -> None:
    frame = pd.DataFrame({"recency_days": recency, "churned": churned})
    with pytest.raises(ValueError, match=match):
        RecencyRule().fit(frame)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"churned": [True, False]}), "recency_days"),
        (pd.DataFrame({"recency_days": [1.0, 2.0]}), "churned"),
        (pd.DataFrame({"recency_days": [1.0, np.nan], "churned": [True, False]}), "recency_days"),
        (pd.DataFrame({"recency_days": [1.0, -2.0], "churned": [True, False]}), "negative"),
        (pd.DataFrame({"recency_days": [1.0, 2.0], "churned": [True, None]}), "churned"),
        (pd.DataFrame({"recency_days": [1.0, 2.0], "churned": ["yes", "no"]}), "churned"),
        (pd.DataFrame({"recency_days": ["x", "y"], "churned": [True, False]}), "not numeric"),
    ],
    ids=["no-recency", "no-label", "null-recency", "negative", "null-label", "text-label",
         "text-recency"],
)  # fmt: skip
def test_recency_rule_bad_input(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataContractError, match=match):
        RecencyRule().fit(frame)


def test_recency_rule_predict_before_fit() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        RecencyRule().predict_proba(_train())


# -- the recency rank -----------------------------------------------------------------------------
def test_recency_score_is_clipped_share_of_lookback() -> None:
    frame = pd.DataFrame({"recency_days": [0.0, 30.0, 90.0, 120.0, np.nan]})
    score = recency_score(frame, lookback_days=90)
    # hand: 0/90, 30/90, 90/90, 120/90 clipped to 1, unknown stays NaN
    np.testing.assert_allclose(score, [0.0, 1 / 3, 1.0, 1.0, np.nan], rtol=1e-15)


def test_recency_score_bad_input() -> None:
    with pytest.raises(ValueError, match="lookback_days"):
        recency_score(pd.DataFrame({"recency_days": [1.0]}), lookback_days=0)
    with pytest.raises(DataContractError, match="recency_days"):
        recency_score(pd.DataFrame({"tenure_days": [1.0]}), lookback_days=365)


# -- BTYD: formulas against lifetimes -------------------------------------------------------------
def _histories() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Varied histories in weeks: one-time buyers, last purchase at T, heavy buyers."""
    rng = np.random.default_rng(11)
    T = rng.uniform(0.5, 80, 300)
    x = rng.poisson(rng.gamma(1.0, 3.0, 300)).astype(float)
    x[:20] = rng.integers(40, 200, 20)
    t_x = np.where(x > 0, T * rng.beta(2, 1, 300), 0.0)
    t_x[20:30] = np.where(x[20:30] > 0, T[20:30], 0.0)
    return x, t_x, T


@pytest.mark.parametrize(
    ("model", "fitter", "params"),
    [
        ("bgnbd", "BetaGeoFitter", BG_PARAMS),
        ("mbgnbd", "ModifiedBetaGeoFitter", BG_PARAMS),
        ("paretonbd", "ParetoNBDFitter", PNBD_PARAMS),
    ],
    ids=["bgnbd", "mbgnbd", "paretonbd"],
)
def test_p_alive_equals_lifetimes(model: str, fitter: str, params: dict[str, float]) -> None:
    x, t_x, T = _histories()
    result = btyd_churn_from_summary(_summary(x, t_x, T), params=params,
                                     horizon_days=HORIZON_DAYS, model=model)  # fmt: skip
    expected = _quiet(_fitter(fitter, params).conditional_probability_alive, x, t_x, T)
    usable = np.isfinite(expected)  # lifetimes' Pareto/NBD is NaN for some recency == T
    assert usable.sum() >= 290
    # lifetimes' closed forms; ours are the same formulas (BG/MBG) or a 64-point quadrature
    # (Pareto/NBD), equal to ~1e-13 here: tolerance 1e-9 absolute
    np.testing.assert_allclose(result["p_alive"].to_numpy()[usable], expected[usable],
                               rtol=0, atol=1e-9)  # fmt: skip


def test_pareto_no_purchase_equals_lifetimes_and_quadrature() -> None:
    x, t_x, T = _histories()
    t = HORIZON_DAYS / 7
    result = btyd_churn_from_summary(_summary(x, t_x, T), params=PNBD_PARAMS,
                                     horizon_days=HORIZON_DAYS, model="paretonbd")  # fmt: skip
    fitter = _fitter("ParetoNBDFitter", PNBD_PARAMS)
    expected = _quiet(fitter.conditional_probability_of_n_purchases_up_to_time, 0, t, x, t_x, T)
    usable = np.isfinite(expected)
    # lifetimes' eq. (16) of Fader & Hardie note 028 vs our quadrature: ~1e-13 apart
    np.testing.assert_allclose(result["p_churn"].to_numpy()[usable], expected[usable],
                               rtol=0, atol=1e-9)  # fmt: skip
    # and P(buy | alive) by scipy's adaptive quadrature over the next purchase time
    r, alpha, s, beta = PNBD_PARAMS.values()
    for i in (0, 5, 25, 100, 250):
        k = r + x[i]
        density = lambda u, k=k, i=i: (  # noqa: E731
            k / (alpha + T[i]) * ((alpha + T[i]) / (alpha + T[i] + u)) ** (k + 1)
            * ((beta + T[i]) / (beta + T[i] + u)) ** s
        )  # fmt: skip
        p_buy = quad(density, 0, t, epsabs=1e-13, epsrel=1e-12)[0]
        p_alive = result["p_alive"].iloc[i]
        assert result["p_churn"].iloc[i] == pytest.approx(1 - p_alive * p_buy, abs=1e-10)


def test_bgnbd_hand_calculation() -> None:
    summary = _summary([0, 4], [0.0, 10.0], [20.0, 20.0])
    result = btyd_churn_from_summary(summary, params={"r": 0.25, "alpha": 4.0, "a": 0.8,
                                                      "b": 2.5}, horizon_days=91)  # fmt: skip
    # x = 0: alive; P(no purchase) = (24/37)^0.25. x = 4: P(alive) = 1 / (1 + 0.8/5.5 *
    # (24/14)^4.25); P(no purchase) = 1 - P(alive) (1 - (24/37)^4.25). Eq. 13 of Fader et al.
    p_alive = 1 / (1 + 0.8 / 5.5 * (24 / 14) ** 4.25)
    assert result["p_alive"].tolist() == pytest.approx([1.0, p_alive], rel=1e-12)
    expected = [(24 / 37) ** 0.25, 1 - p_alive * (1 - (24 / 37) ** 4.25)]
    assert result["p_churn"].tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": BG_PARAMS, "horizon_days": 91, "model": "weibull"}, "model="),
        ({"params": {"r": 1.0}, "horizon_days": 91}, "missing"),
        ({"params": {**BG_PARAMS, "a": -1.0}, "horizon_days": 91}, "not positive"),
        ({"params": BG_PARAMS, "horizon_days": 0}, "horizon_days"),
    ],
    ids=["model", "missing-param", "negative-param", "horizon"],
)
def test_btyd_from_summary_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        btyd_churn_from_summary(_summary([1], [1.0], [2.0]), **kwargs)


def test_btyd_from_summary_bad_summary() -> None:
    with pytest.raises(ValueError, match="attrs"):
        btyd_churn_from_summary(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]}),
                                params=BG_PARAMS, horizon_days=91)  # fmt: skip
    with pytest.raises(DataContractError, match="recency > T"):
        btyd_churn_from_summary(_summary([1], [3.0], [2.0]), params=BG_PARAMS, horizon_days=91)


# -- BTYD: simulated populations with planted parameters ------------------------------------------
def _simulate(model: str, params: dict[str, float], n: int, t: float, seed: int
              ) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """Histories at T and whether each customer made no purchase in (T, T + t], vectorized."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(10.0, 78.0, n)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    wait = rng.exponential(1.0 / lam)  # next purchase after T (memoryless)
    if model == "paretonbd":
        lifetime = rng.exponential(1.0 / rng.gamma(params["s"], 1.0 / params["beta"], n))
        active = np.minimum(lifetime, T)
        x = rng.poisson(lam * active)
        t_x = active * rng.beta(np.maximum(x, 1), 1.0) * (x > 0)  # last of x uniform times
        bought = (lifetime > T) & (wait <= t) & (T + wait < lifetime)
    else:
        p = rng.beta(params["a"], params["b"], n)
        # dropout right after the J-th repeat purchase (MBG/NBD: also after the first, J = 0)
        repeats_until_death = rng.geometric(p) - (1 if model == "mbgnbd" else 0)
        arrivals = rng.poisson(lam * T)
        x = np.minimum(arrivals, repeats_until_death)
        # the x-th of `arrivals` uniform purchase times on (0, T]
        t_x = T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x + 1, 1)) * (x > 0)
        bought = (repeats_until_death > arrivals) & (wait <= t)
    return _summary(x.astype(float), t_x, T), ~bought


@pytest.mark.parametrize(
    ("model", "params"),
    [("bgnbd", BG_PARAMS), ("mbgnbd", BG_PARAMS), ("paretonbd", PNBD_PARAMS)],
    ids=["bgnbd", "mbgnbd", "paretonbd"],
)
def test_true_parameters_predict_simulated_churn_by_decile(
    model: str, params: dict[str, float]
) -> None:
    summary, churned = _simulate(model, params, 30_000, HORIZON_DAYS / 7, seed=5)
    predicted = btyd_churn_from_summary(summary, params=params, horizon_days=HORIZON_DAYS,
                                        model=model)["p_churn"].to_numpy()  # fmt: skip
    deciles = np.array_split(np.argsort(predicted, kind="stable"), 10)
    for members in deciles:
        p = predicted[members]
        # the share of a sum of independent Bernoulli(p_i): sd = sqrt(sum p(1-p)) / n
        se = np.sqrt(np.sum(p * (1 - p))) / p.size
        gap = abs(churned[members].mean() - p.mean())
        assert gap <= 3 * max(se, 1 / p.size), (model, p.mean(), churned[members].mean(), se)


# -- BTYD on the engine ---------------------------------------------------------------------------


def _orders_of(days: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    """Transactions from a customers x orders matrix of days since 2023-01-01 (kept cells)."""
    customer, order = np.nonzero(keep)
    return pd.DataFrame({
        "order_id": [f"O{c}-{o}" for c, o in zip(customer, order, strict=True)],
        "customer_id": pd.Series([f"C{c:03d}" for c in customer], dtype="str"),
        "order_ts": pd.Timestamp("2023-01-01") + pd.to_timedelta(days[keep], unit="D"),
        "amount": 25.0,
        "gross_amount": 25.0,
        "refund_amount": 0.0,
        "is_purchase": True,
    })  # fmt: skip


def _orders(n_customers: int = 600, seed: int = 3) -> pd.DataFrame:
    """BG/NBD-like purchases from 2023-01-01: Poisson buying, dropout after a purchase."""
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, 500, n_customers)  # first purchase, days after 2023-01-01
    rate = rng.gamma(0.8, 1 / 40.0, n_customers)  # purchases per day
    dropout = rng.beta(1.0, 4.0, n_customers)
    gaps = rng.exponential(1.0, (n_customers, 25)) / rate[:, None]
    days = first[:, None] + np.cumsum(np.c_[np.zeros(n_customers), gaps], axis=1)
    repeats_until_death = rng.geometric(dropout)
    keep = (np.arange(26)[None, :] <= repeats_until_death[:, None]) & (days < 700)
    return _orders_of(days, keep)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as connection:
        connection.register("transactions", _orders())
        yield connection


def test_btyd_on_engine_matches_clv_p_alive_and_formula(engine: Engine) -> None:
    result = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90)
    summary = customer_summary(engine, observation_end="2024-06-30", unit="week")
    fitted = fit_transactions_model(summary, model="bgnbd", unit="week")
    assert result.columns.tolist() == list(BTYD_COLUMNS)
    assert result["customer_id"].tolist() == summary["customer_id"].tolist()
    assert result.attrs["converged"] and result.attrs["params"] == fitted.params
    assert result.attrs["horizon_units"] == pytest.approx(90 / 7)
    # P(alive) of 05_clv (checked there against lifetimes) on the same fit: equal to rounding
    expected_alive = probability_alive(fitted.fitter, summary).to_numpy()
    np.testing.assert_allclose(result["p_alive"], expected_alive, rtol=1e-10, atol=1e-12)
    # the no-purchase formula by hand from the fitted parameters
    r, alpha = fitted.params["r"], fitted.params["alpha"]
    x, T = summary["frequency"].to_numpy(float), summary["T"].to_numpy()
    stay = ((alpha + T) / (alpha + T + 90 / 7)) ** (r + x)
    np.testing.assert_allclose(result["p_churn"], 1 - expected_alive * (1 - stay), rtol=1e-10)
    assert result["p_churn"].between(0, 1).all()


def test_btyd_on_engine_customer_order_and_unknown_ids(engine: Engine) -> None:
    wanted = ["C010", "C002", "NOPE", "C010"]
    result = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90,
                                    customer_ids=wanted, model="mbgnbd")  # fmt: skip
    assert result["customer_id"].tolist() == wanted
    assert result["p_churn"].isna().tolist() == [False, False, True, False]
    assert result.iloc[0, 1:].tolist() == result.iloc[3, 1:].tolist()
    assert any("no purchase by the cutoff" in note for note in result.attrs["notes"])
    # 1 unknown of 4 requested: a count below the limit is a phrase ("fewer than 10 ...")
    notes = " ".join(result.attrs["notes"])
    assert "for fewer than 10 requested customers (of fewer than 10 customers)" in notes
    assert small_counts_in_html(f"<p>{notes}</p>") == []
    shown = btyd_churn_probability(
        engine,
        cutoff="2024-06-30",
        horizon_days=90,
        customer_ids=wanted,
        model="mbgnbd",
        min_cell_size=1,
    )
    assert "for 1 requested customer (of 4 customers)" in " ".join(shown.attrs["notes"])


def test_btyd_on_engine_pareto(engine: Engine) -> None:
    result = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90,
                                    model="paretonbd", unit="day")  # fmt: skip
    summary = customer_summary(engine, observation_end="2024-06-30", unit="day")
    fitted = fit_transactions_model(summary, model="paretonbd", unit="day")
    expected = probability_alive(fitted.fitter, summary).to_numpy()
    # 05_clv's guarded closed form vs our quadrature on the same parameters
    np.testing.assert_allclose(result["p_alive"], expected, rtol=0, atol=1e-8)
    assert result.attrs["horizon_units"] == 90.0


def test_btyd_fit_that_did_not_converge_is_never_used(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """05's eligibility rule: a BG/NBD that did not converge is not the baseline. These
    buyers drop out (Beta(1, 4) after each purchase), so the NBD does not apply either: the
    baseline is left out with the reason (06 prints it), never scored with the failed fit."""
    real = fit_transactions_model

    def failing(summary: pd.DataFrame, **kwargs: Any) -> Any:
        fitted = real(summary, **kwargs)
        if kwargs.get("model") != "bgnbd":
            return fitted
        return dataclasses.replace(
            fitted, converged=False,
            attempts=("attempt 1: BFGS: failed, the gradient is not zero where it stopped",),
        )  # fmt: skip

    monkeypatch.setattr(clv_fallback, "fit_transactions_model", failing)
    with pytest.raises(ValueError, match="not usable") as error:
        btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90)
    message = str(error.value)
    assert "the gradient is not zero" in message and "left out" in message
    assert "fits better than a model without dropout" in message


def _orders_without_dropout(n_customers: int = 400, seed: int = 6) -> pd.DataFrame:
    """Poisson buyers who never leave (rate ~ Gamma(3, 3 x 30 days)), from 2023-01-01.

    With seed 6 the BG/NBD's dropout estimate runs to the edge (with other seeds it may also
    converge at a dropout near 0, which is then a usable model).
    """
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, 300, n_customers)
    rate = rng.gamma(3.0, 1 / 90.0, n_customers)  # one purchase a month on average
    gaps = rng.exponential(1.0, (n_customers, 40)) / rate[:, None]
    days = first[:, None] + np.cumsum(np.c_[np.zeros(n_customers), gaps], axis=1)
    keep = days < 700
    return _orders_of(days, keep)


def test_btyd_baseline_is_the_nbd_for_buyers_who_never_leave() -> None:
    """The BG/NBD's dropout estimate collapses: 05's fallback, the NBD, is the baseline."""
    with Engine(threads=1) as connection:
        connection.register("transactions", _orders_without_dropout())
        result = btyd_churn_probability(connection, cutoff="2024-06-30", horizon_days=90)
        summary = customer_summary(connection, observation_end="2024-06-30", unit="week")
    assert result.attrs["model"] == "nbd" and result.attrs["converged"]
    assert result.attrs["fallback"]["step"] == "nbd"
    notes = " ".join(result.attrs["notes"])
    assert "the baseline is 05's fallback, the NBD (no dropout)" in notes
    assert "dropout estimate collapsed" in notes
    assert (result["p_alive"] == 1.0).all()
    # independent: P(no purchase in 90 days | x, T) is the NBD's zero term of the posterior
    # Gamma(r + x, alpha + T) rate, scipy.stats.nbinom(n = r + x, p = (alpha+T)/(alpha+T+t))
    r, alpha = result.attrs["params"]["r"], result.attrs["params"]["alpha"]
    x, T = summary["frequency"].to_numpy(float), summary["T"].to_numpy(float)
    t = 90 / 7
    expected = stats.nbinom.pmf(0, r + x, (alpha + T) / (alpha + T + t))
    np.testing.assert_allclose(result["p_churn"], expected, rtol=1e-12)
    # planted mean rate: one purchase per 30 days = 7/30 per week
    assert r / alpha == pytest.approx(7 / 30, rel=0.1)


def test_btyd_on_engine_bad_input(engine: Engine) -> None:
    with pytest.raises(DataContractError, match="no purchase"):
        btyd_churn_probability(engine, cutoff="2020-01-01", horizon_days=90)
    with pytest.raises(StageInputMissing, match="orders_v2"):
        btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90,
                               transactions="orders_v2")  # fmt: skip
    with pytest.raises(ValueError, match="model="):
        btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90, model="x")
    with pytest.raises(ValueError, match="unit="):
        btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90, unit="fortnight")
    with pytest.raises(ValueError, match="horizon_days"):
        btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=0)


# -- BTYD fitted on a sample, applied to everyone -------------------------------------------------
def test_btyd_below_the_sample_limit_is_the_full_fit_bit_for_bit(engine: Engine) -> None:
    """600 customers, limit 100,000 (the default) or exactly 600: the model is fitted on all of
    them, whatever the seed, and the result is the same as fitting 05's chain on the summary."""
    result = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90)
    at_limit = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90,
                                      max_customers=600, seed=99)  # fmt: skip
    summary = customer_summary(engine, observation_end="2024-06-30", unit="week")
    assert len(summary) == 600
    pd.testing.assert_frame_equal(result, at_limit, check_exact=True)
    assert result.attrs["notes"] == at_limit.attrs["notes"]
    chain = fit_with_fallback(summary, model="bgnbd", unit="week", allow_empirical=False)
    by_hand = btyd_churn_from_summary(summary, params=chain.model.params, horizon_days=90)
    np.testing.assert_array_equal(result["p_churn"], by_hand["p_churn"])
    np.testing.assert_array_equal(result["p_alive"], by_hand["p_alive"])
    assert result.attrs["notes"][0] == "BG/NBD refitted at the cutoff 2024-06-30 on 600 customers"
    assert (result.attrs["fit_customers"], result.attrs["summary_customers"]) == (600, 600)
    assert np.isnan(result.attrs["p_churn_sd"])


@pytest.fixture(scope="module")
def many() -> Iterator[Engine]:
    """6,000 BG/NBD-like customers: the full refit is the reference for a sample of 2,000."""
    with Engine(threads=1) as connection:
        connection.register("transactions", _orders(n_customers=6_000, seed=11))
        yield connection


def test_btyd_fitted_on_a_sample_scores_everyone_close_to_the_full_fit(many: Engine) -> None:
    """Known answer: the full refit on all 6,000 customers. Fitted on a random 2,000 (a third),
    every customer is still scored, with parameters fitted on exactly sample_rows' rows, and
    P(churn) moves by a mean absolute 0.002-0.010 over seeds 1-10 (0.0044 with seed 5;
    tolerance 0.01); the stated uncertainty (the delta method's sd, ~0.007, whose mean
    absolute normal error times sqrt(1 - 1/3) is 0.0044) is of the size of the differences."""
    summary = customer_summary(many, observation_end="2024-06-30", unit="week")
    full = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90,
                                  max_customers=10_000)  # fmt: skip
    wanted = summary["customer_id"].iloc[::2]  # e.g. the validation customers
    sampled = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90,
                                     customer_ids=wanted, max_customers=2_000, seed=5)  # fmt: skip
    assert len(summary) == 6_000 and sampled["customer_id"].tolist() == wanted.tolist()
    assert sampled["p_churn"].notna().all()
    assert (sampled.attrs["fit_customers"], sampled.attrs["summary_customers"]) == (2_000, 6_000)
    # the parameters are the chain's on the sample's rows, and they score everyone
    rows = sample_rows(6_000, 2_000, seed=5).take(summary)
    chain = fit_with_fallback(rows, model="bgnbd", unit="week", allow_empirical=False)
    assert sampled.attrs["params"] == chain.model.params != full.attrs["params"]
    by_hand = btyd_churn_from_summary(summary, params=chain.model.params, horizon_days=90)
    np.testing.assert_array_equal(sampled["p_churn"], by_hand["p_churn"].to_numpy()[::2])
    difference = np.abs(sampled["p_churn"].to_numpy() - full["p_churn"].to_numpy()[::2])
    assert difference.mean() < 0.01
    spread = sampled.attrs["p_churn_sd"]
    assert 0.002 < spread < 0.02 and difference.mean() < 2 * spread
    # and the BG/NBD's ranking of the customers is all but unchanged
    assert stats.spearmanr(sampled["p_churn"], full["p_churn"].to_numpy()[::2])[0] > 0.99


@pytest.mark.parametrize("model", ["mbgnbd", "paretonbd"])
def test_btyd_other_models_on_a_sample_stay_close_to_the_full_fit(many: Engine, model: str) -> None:
    """The same on the MBG/NBD and the Pareto/NBD (quadrature): seed 5 moves P(churn) by a
    mean absolute 0.003 and 0.008, below 0.01 and below twice the stated sd (0.006, 0.007)."""
    full = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90, model=model,
                                  max_customers=10_000)  # fmt: skip
    sampled = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90, model=model,
                                     max_customers=2_000, seed=5)  # fmt: skip
    assert sampled.attrs["model"] == model and sampled["p_churn"].notna().all()
    difference = np.abs(sampled["p_churn"] - full["p_churn"]).mean()
    assert difference < 0.01 and difference < 2 * sampled.attrs["p_churn_sd"]


def test_btyd_notes_say_the_sample_only_when_there_is_one(many: Engine) -> None:
    sampled = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90,
                                     max_customers=2_000, seed=5)  # fmt: skip
    first = sampled.attrs["notes"][0]
    assert first.startswith(
        "BG/NBD refitted at the cutoff 2024-06-30 on a random sample of 2,000 of the 6,000 "
        "customers with a purchase by then, and applied to all of them; the sample's "
        "estimation error moves a customer's P(churn) by about ±"
    )
    assert first.endswith("percentage points (one standard deviation, averaged over the "
                          "customers fitted on)")  # fmt: skip
    full = btyd_churn_probability(many, cutoff="2024-06-30", horizon_days=90,
                                  max_customers=6_000)  # fmt: skip
    notes = " ".join(full.attrs["notes"])
    assert full.attrs["notes"][0] == "BG/NBD refitted at the cutoff 2024-06-30 on 6,000 customers"
    assert "sample" not in notes and "estimation error" not in notes


def test_btyd_sample_defaults_are_the_params_files() -> None:
    parameters = inspect.signature(btyd_churn_probability).parameters
    assert parameters["max_customers"].default == DEFAULTS.churn.btyd_max_customers
    assert parameters["seed"].default == DEFAULTS.seed
