"""Tests of CLV with discounting, intervals and sensitivity (crmlib.clv.value, crmlib.clv.intervals)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_clv_validation import fitted_with, lifetimes_module, quiet, simulate_bgnbd

from crmlib.clv.intervals import _layout, _p_alive_patterns, clv_intervals
from crmlib.clv.models.fitters import transaction_model
from crmlib.clv.models.registry import KERNELS
from crmlib.clv.plots import plot_clv_intervals, plot_sensitivity
from crmlib.clv.stage import pool_groups
from crmlib.clv.text import describe_clv, describe_intervals, describe_sensitivity
from crmlib.clv.value import (
    DAYS_PER_MONTH,
    SENSITIVITY_COLUMNS,
    Valuation,
    clv_by_month,
    customer_value,
    cutoff_sensitivity,
    discount_rate_per_unit,
    expected_purchases,
    lifetimes_clv_equivalent,
    monthly_discount_rate,
    probability_alive,
    sensitivity,
    sensitivity_table,
    top_decile_share,
    value_by_group,
)
from crmlib.config import ClvParams, load_stage_params
from crmlib.errors import DataContractError
from crmlib.privacy import OTHER, small_counts_in_html

DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "params" / "default.yaml"
AS_OF = "1997-09-30"  # end of CDNOW's 39-week calibration period
#: ClvParams' defaults (12 months, 10% a year, 30% margin, weeks), valued at AS_OF.
VALUATION = Valuation(as_of_date=AS_OF)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """lifetimes' CDNOW summary with monetary value (2,357 customers, weeks)."""
    summary = lifetimes_module().datasets.load_cdnow_summary_data_with_monetary_value()
    return summary


@pytest.fixture(scope="module")
def fits(cdnow: pd.DataFrame) -> dict[str, Any]:
    lifetimes = lifetimes_module()
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    repeat = cdnow[cdnow["frequency"] > 0]
    return {
        "bgf": quiet(lifetimes.BetaGeoFitter().fit, *args),
        "mbgf": quiet(lifetimes.ModifiedBetaGeoFitter().fit, *args),
        "pnbd": quiet(lifetimes.ParetoNBDFitter().fit, *args),
        "ggf": quiet(
            lifetimes.GammaGammaFitter().fit, repeat["frequency"], repeat["monetary_value"]
        ),  # fmt: skip
    }


# -- discounting ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("annual", "days", "expected"),
    [
        (0.10, DAYS_PER_MONTH, 1.1 ** (1 / 12) - 1),
        (0.10, 7.0, 1.1 ** (7 / 365.25) - 1),
        (0.10, 1.0, 1.1 ** (1 / 365.25) - 1),
        (0.10, 365.25, 0.10),
        (0.0, 7.0, 0.0),
        (0.21, 365.25 / 2, 0.10),  # two half-years at 10% compound to 21%
    ],
    ids=["monthly", "weekly", "daily", "annual", "zero", "half-year"],
)
def test_discount_rate_per_unit_known_answers(annual, days, expected):
    assert discount_rate_per_unit(annual, days_per_unit=days) == pytest.approx(expected, rel=1e-12)


def test_monthly_rate_compounds_back_to_the_annual_rate():
    assert monthly_discount_rate(0.10) == pytest.approx(1.1 ** (1 / 12) - 1, rel=1e-12)
    assert (1 + monthly_discount_rate(0.10)) ** 12 == pytest.approx(1.10, rel=1e-12)
    weekly = discount_rate_per_unit(0.10, days_per_unit=7)
    assert (1 + weekly) ** (365.25 / 7) == pytest.approx(1.10, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"annual_rate": -1.0, "days_per_unit": 7}, "annual_rate"),
     ({"annual_rate": 0.1, "days_per_unit": 0}, "days_per_unit")],
    ids=["rate", "days"],
)  # fmt: skip
def test_discount_rate_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        discount_rate_per_unit(**kwargs)


# -- equality with lifetimes ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "freq", "time", "rate"),
    [("bgf", "W", 12, 0.01), ("bgf", "D", 6, 0.02), ("bgf", "W", 24, 0.0), ("mbgf", "W", 12, 0.01)],
    ids=["bgnbd-weeks", "bgnbd-days-factor", "bgnbd-undiscounted", "mbgnbd"],
)
def test_vectorised_clv_equals_lifetimes_customer_lifetime_value(cdnow, fits, model, freq, time,
                                                                 rate):  # fmt: skip
    expected = quiet(
        fits["ggf"].customer_lifetime_value, fits[model], cdnow["frequency"], cdnow["recency"],
        cdnow["T"], cdnow["monetary_value"], time=time, discount_rate=rate, freq=freq,
    )  # fmt: skip
    found = lifetimes_clv_equivalent(fits[model], fits["ggf"], cdnow, time=time,
                                     discount_rate=rate, freq=freq)  # fmt: skip
    pd.testing.assert_index_equal(found.index, expected.index)
    np.testing.assert_allclose(found.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_pareto_clv_equals_lifetimes_where_lifetimes_is_finite(cdnow, fits):
    expected = quiet(
        fits["ggf"].customer_lifetime_value, fits["pnbd"], cdnow["frequency"], cdnow["recency"],
        cdnow["T"], cdnow["monetary_value"], time=12, discount_rate=0.01, freq="W",
    ).to_numpy()  # fmt: skip
    found = lifetimes_clv_equivalent(fits["pnbd"], fits["ggf"], cdnow, freq="W").to_numpy()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(found[finite], expected[finite], rtol=1e-9)
    assert np.isfinite(found).all()


def test_pareto_palive_is_one_when_the_last_purchase_is_at_T(fits):
    # lifetimes' logsumexp of two equal terms with weights (1, -1) gives NaN here
    heavy = pd.DataFrame({"frequency": [30, 5], "recency": [38.0, 20.0], "T": [38.0, 38.0]})
    p_alive = probability_alive(fits["pnbd"], heavy)
    assert p_alive.iloc[0] == pytest.approx(1.0)
    assert 0 < p_alive.iloc[1] < 1
    assert np.isfinite(expected_purchases(fits["pnbd"], heavy, t=10)).all()


# -- customer_value -------------------------------------------------------------------------------
def test_customer_value_columns_units_and_definitions(cdnow, fits):
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=Valuation(
        horizon_months=12, annual_discount_rate=0.0, margin=1.0, as_of_date=AS_OF))  # fmt: skip
    assert values.columns.tolist() == [
        "customer_id", "p_alive", "expected_purchases_12m", "expected_spend_per_order",
        "expected_spend_12m", "clv", "expected_next_order_date",
    ]  # fmt: skip
    assert set(values.attrs["units"]) == set(values.columns) - {"customer_id"}
    assert values["customer_id"].tolist() == cdnow.index.tolist()
    horizon_weeks = 12 * DAYS_PER_MONTH / 7
    expected = quiet(fits["bgf"].predict, horizon_weeks, cdnow["frequency"], cdnow["recency"],
                     cdnow["T"])  # fmt: skip
    np.testing.assert_allclose(values["expected_purchases_12m"], expected, rtol=1e-9)
    spend = quiet(fits["ggf"].conditional_expected_average_profit, cdnow["frequency"],
                  cdnow["monetary_value"])  # fmt: skip
    np.testing.assert_allclose(values["expected_spend_per_order"], spend, rtol=1e-12)
    # undiscounted, margin 1: CLV is expected purchases x spend per order
    np.testing.assert_allclose(values["clv"], values["expected_spend_12m"], rtol=1e-9)
    assert values.attrs["discount_rate_per_week"] == 0.0


def test_margin_scales_and_discounting_lowers_clv(cdnow, fits):
    base = customer_value(fits["bgf"], fits["ggf"], cdnow,
                          valuation=Valuation(margin=1.0, as_of_date=AS_OF))  # fmt: skip
    scaled = customer_value(fits["bgf"], fits["ggf"], cdnow,
                            valuation=Valuation(margin=0.3, as_of_date=AS_OF))  # fmt: skip
    np.testing.assert_allclose(scaled["clv"], 0.3 * base["clv"], rtol=1e-12)
    steep = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=Valuation(
        margin=1.0, annual_discount_rate=0.5, as_of_date=AS_OF))  # fmt: skip
    assert (steep["clv"] < base["clv"]).all()
    assert (base["clv"] < base["expected_spend_12m"]).all()  # 10% a year discounts every month


def test_clv_equals_the_discounted_monthly_sum_of_lifetimes_predictions(cdnow, fits):
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=Valuation(
        horizon_months=3, margin=0.5, annual_discount_rate=0.12, as_of_date=AS_OF))  # fmt: skip
    spend = quiet(fits["ggf"].conditional_expected_average_profit, cdnow["frequency"],
                  cdnow["monetary_value"])  # fmt: skip
    expected = 0.0
    for month in (1, 2, 3):
        t1, t0 = month * DAYS_PER_MONTH / 7, (month - 1) * DAYS_PER_MONTH / 7
        purchases = quiet(fits["bgf"].predict, t1, cdnow["frequency"], cdnow["recency"],
                          cdnow["T"]) - quiet(fits["bgf"].predict, t0, cdnow["frequency"],
                                               cdnow["recency"], cdnow["T"])  # fmt: skip
        expected = expected + 0.5 * spend * purchases / 1.12 ** (month / 12)
    np.testing.assert_allclose(values["clv"], expected, rtol=1e-9)


def test_expected_next_order_date_is_when_expected_orders_if_alive_reach_one(cdnow, fits):
    values = customer_value(fits["bgf"], fits["ggf"], cdnow,
                            valuation=Valuation(horizon_months=12, as_of_date=AS_OF))  # fmt: skip
    dated = values["expected_next_order_date"].notna().to_numpy()
    assert dated.any() and (~dated).any()
    weeks = (values["expected_next_order_date"] - pd.Timestamp(AS_OF)).dt.days / 7

    def if_alive(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        part = cdnow[rows]
        conditional = quiet(fits["bgf"].predict, t, part["frequency"], part["recency"],
                            part["T"])  # fmt: skip
        alive = quiet(fits["bgf"].conditional_probability_alive, part["frequency"],
                      part["recency"], part["T"])  # fmt: skip
        return np.asarray(conditional / alive)

    # the first whole day on which E[orders | alive] reaches 1: not yet one day earlier
    assert (if_alive(weeks[dated].to_numpy(), dated) >= 1 - 1e-9).all()
    assert (if_alive(weeks[dated].to_numpy() - 1 / 7, dated) < 1).all()
    horizon = 12 * DAYS_PER_MONTH / 7
    assert (if_alive(np.full((~dated).sum(), horizon), ~dated) < 1).all()


def test_clv_by_month_adds_up_to_customer_value(cdnow, fits):
    six_months = Valuation(horizon_months=6, as_of_date=AS_OF)
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=six_months)
    months = clv_by_month(fits["bgf"], fits["ggf"], cdnow, valuation=six_months)
    assert months["month"].tolist() == [1, 2, 3, 4, 5, 6]
    assert months["clv"].sum() == pytest.approx(values["clv"].sum(), rel=1e-10)
    assert months["expected_purchases"].sum() == pytest.approx(
        values["expected_purchases_6m"].sum(), rel=1e-10
    )
    assert months["cumulative_clv"].iloc[-1] == pytest.approx(values["clv"].sum(), rel=1e-10)
    assert months["month_start"].iloc[0] == pd.Timestamp(AS_OF)
    assert (months["month_end"].iloc[:-1].to_numpy() == months["month_start"].iloc[1:]).all()


def test_customer_value_works_on_a_fitted_model_wrapper(cdnow, fits):
    class Wrapper:  # like crmlib.clv.FittedModel: the lifetimes fitter in .fitter
        def __init__(self, fitter: Any) -> None:
            self.fitter, self.covariance = fitter, None

    direct = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION)
    wrapped = customer_value(Wrapper(fits["bgf"]), Wrapper(fits["ggf"]), cdnow,
                             valuation=VALUATION)  # fmt: skip
    pd.testing.assert_frame_equal(direct, wrapped)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda s: s.drop(columns="monetary_value"), DataContractError, "monetary_value"),
        (lambda s: s.assign(recency=s["T"] + 1), DataContractError, "recency > T"),
        (lambda s: s.assign(frequency=s["frequency"] + 0.5), DataContractError, "non-integer"),
        (lambda s: s.assign(monetary_value=np.where(s["frequency"] > 0, -1.0, 0.0)),
         DataContractError, "negative 'monetary_value'"),
        (lambda s: s.assign(T=np.nan), DataContractError, "'T' has 2357 missing"),
    ],
    ids=["no-monetary", "recency-after-T", "fractional-frequency", "negative-spend", "missing-T"],
)  # fmt: skip
def test_customer_value_rejects_bad_summaries(cdnow, fits, change, error, match):
    with pytest.raises(error, match=match):
        customer_value(fits["bgf"], fits["ggf"], change(cdnow), valuation=VALUATION)


def test_customer_value_rejects_bad_options(cdnow, fits):
    with pytest.raises(ValueError, match="horizon_months"):
        customer_value(fits["bgf"], fits["ggf"], cdnow,
                       valuation=Valuation(horizon_months=0, as_of_date=AS_OF))  # fmt: skip
    with pytest.raises(ValueError, match="a week is 7 days"):
        customer_value(fits["bgf"], fits["ggf"], cdnow,
                       valuation=Valuation(days_per_unit=1, as_of_date=AS_OF))  # fmt: skip
    with pytest.raises(ValueError, match="margin"):
        customer_value(fits["bgf"], fits["ggf"], cdnow,
                       valuation=Valuation(margin=30, as_of_date=AS_OF))  # fmt: skip
    with pytest.raises(ValueError, match="GammaGammaFitter"):
        customer_value(fits["bgf"], fits["bgf"], cdnow, valuation=VALUATION)
    with pytest.raises(ValueError, match="not supported"):
        customer_value(fits["ggf"], fits["ggf"], cdnow, valuation=VALUATION)


def test_valuation_defaults_are_clv_params_and_an_as_of_date_is_required(cdnow, fits):
    shared = [f.name for f in fields(Valuation) if f.name in ClvParams.model_fields]
    assert shared == ["horizon_months", "annual_discount_rate", "margin", "unit"]
    defaults, section = Valuation(), ClvParams()
    assert {name: getattr(defaults, name) for name in shared} == {
        name: getattr(section, name) for name in shared
    }
    assert defaults.as_of_date is None and defaults.days_per_unit == 7.0
    params = load_stage_params(DEFAULT_PARAMS, "clv", {"horizon_months": 24, "unit": "day"})
    valuation = Valuation.of(params)
    assert (valuation.horizon_months, valuation.unit, valuation.days_per_unit) == (24, "day", 1.0)
    assert (valuation.annual_discount_rate, valuation.margin) == (
        params.annual_discount_rate, params.margin,
    )  # fmt: skip
    assert valuation.as_of_date == params.as_of_date == dt.date(2025, 12, 31)
    assert Valuation.of(params.section).as_of_date is None  # the section alone has no date
    assert Valuation(as_of_date="2025-12-31").as_of_date == dt.date(2025, 12, 31)
    with pytest.raises(ValueError, match=r"customer_value: valuation\.as_of_date is None"):
        customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=Valuation())
    with pytest.raises(ValueError, match=r"cutoff_sensitivity: valuation\.as_of_date is None"):
        cutoff_sensitivity({"a": (fits["bgf"], fits["ggf"])}, cdnow, base="a",
                           valuation=Valuation())  # fmt: skip


def test_every_unit_the_params_accept_has_its_days():
    """ClvParams.unit accepts calendar_week (ISO weeks): valuing with it needs no days_per_unit
    (it used to raise "pass days_per_unit" in 05's valuation cell)."""
    units = ClvParams.model_fields["unit"].annotation.__args__
    assert {unit: Valuation(unit=unit).days_per_unit for unit in units} == {
        "day": 1.0, "week": 7.0, "calendar_week": 7.0,
    }  # fmt: skip


def test_a_zero_repeat_customer_without_monetary_value_gets_the_population_mean(cdnow, fits):
    summary = cdnow.head(3).assign(monetary_value=[np.nan, 10.0, np.nan], frequency=[0, 1, 0],
                                   recency=[0.0, 5.0, 0.0])  # fmt: skip
    values = customer_value(fits["bgf"], fits["ggf"], summary, valuation=VALUATION)
    p, q, v = fits["ggf"].params_[["p", "q", "v"]]
    assert values["expected_spend_per_order"].iloc[0] == pytest.approx(p * v / (q - 1))


# -- aggregates -------------------------------------------------------------------------------------
def test_top_decile_share_on_hand_examples():
    ten = np.array([50.0, 10, 10, 10, 5, 5, 5, 3, 2, 0])  # top 1 of 10 holds 50 of 100
    assert top_decile_share(ten) == pytest.approx(0.5)
    fifteen = np.array([30.0, 20] + [50 / 13] * 13)  # ceil(1.5) = 2 customers hold 50 of 100
    assert top_decile_share(fifteen) == pytest.approx(0.5)
    assert top_decile_share(pd.DataFrame({"clv": [1.0] * 20})) == pytest.approx(0.1)
    assert math.isnan(top_decile_share(np.zeros(5)))


def test_value_by_group_on_a_hand_table():
    values = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                           "clv": [10.0, 30.0, 20.0, 40.0, 0.0]})  # fmt: skip
    groups = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                           "segment": ["Champions", "Champions", "At risk", None]})  # fmt: skip
    table = value_by_group(values, groups, by="segment").set_index("segment")
    assert table.loc["Champions", "customers"] == 2
    assert table.loc["Champions", "clv_total"] == pytest.approx(40.0)
    assert table.loc["Champions", "clv_mean"] == pytest.approx(20.0)
    assert table.loc["(unknown)", "customers"] == 2  # d has no segment, e no row
    assert table["clv_share"].sum() == pytest.approx(1.0)
    assert table.loc["At risk", "clv_share"] == pytest.approx(0.2)
    with pytest.raises(DataContractError, match="segment"):
        value_by_group(values, groups.drop(columns="segment"), by="segment")


# -- intervals ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def channels(cdnow: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"customer_id": cdnow.index,
                         "channel": rng.choice(["email", "search", "social"], len(cdnow))})  # fmt: skip


def test_intervals_contain_the_point_estimate_and_match_customer_value(cdnow, fits, channels):
    intervals = clv_intervals(fits["bgf"], fits["ggf"], None, cdnow, channels, by="channel",
                              valuation=VALUATION, draws=200, seed=1)  # fmt: skip
    assert intervals["channel"].tolist() == ["email", "search", "social", "All customers"]
    assert (intervals["clv_mean_lower"] < intervals["clv_mean"]).all()
    assert (intervals["clv_mean"] < intervals["clv_mean_upper"]).all()
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION)
    by_group = value_by_group(values, channels, by="channel").set_index("channel")
    for row in intervals.itertuples():
        expected = values["clv"].sum() if row.channel == "All customers" else by_group.loc[
            row.channel, "clv_total"]  # fmt: skip
        assert row.clv_total == pytest.approx(expected, rel=1e-10)
    assert intervals.attrs["draws"] == 200
    assert set(intervals.attrs["rejected"]) == {"transaction_model", "spend_model"}


def test_interval_width_shrinks_as_customers_grow(fits):
    lifetimes = lifetimes_module()
    widths = []
    for n in (600, 6000):
        customers = simulate_bgnbd(n, (0.5, 6.0, 0.8, 3.0), t_max=52, seed=11)
        repeat = customers[customers["frequency"] > 0]
        bgf = quiet(lifetimes.BetaGeoFitter().fit, customers["frequency"], customers["recency"],
                    customers["T"])  # fmt: skip
        ggf = quiet(lifetimes.GammaGammaFitter().fit, repeat["frequency"],
                    repeat["monetary_value"])  # fmt: skip
        row = clv_intervals(bgf, ggf, None, customers, None, by="channel", valuation=VALUATION,
                            draws=100, seed=2).iloc[0]  # fmt: skip
        assert row["clv_mean_lower"] < row["clv_mean"] < row["clv_mean_upper"]
        widths.append((row["clv_mean_upper"] - row["clv_mean_lower"]) / row["clv_mean"])
    assert widths[1] < widths[0] / 2  # ~ 1/sqrt(10) in theory


def test_intervals_cover_the_planted_value():
    """Planted truth: 30 samples of 1,500 BG/NBD customers, each refitted; nominal 90% intervals.

    Spend is held at its true parameters (zero covariance) so only the BG/NBD fit varies; the
    target is the group-mean CLV under the true parameters for the sampled histories.
    """
    lifetimes = lifetimes_module()
    truth = (0.5, 6.0, 0.8, 3.0)
    true_bgf = fitted_with("BetaGeoFitter", dict(zip(("r", "alpha", "a", "b"), truth,
                                                     strict=True)))  # fmt: skip
    ggf = fitted_with("GammaGammaFitter", {"p": 6.0, "q": 4.0, "v": 15.0})
    covered = 0
    for repeat in range(30):
        customers = simulate_bgnbd(1500, truth, t_max=52, seed=100 + repeat)
        bgf = quiet(lifetimes.BetaGeoFitter().fit, customers["frequency"], customers["recency"],
                    customers["T"])  # fmt: skip
        row = clv_intervals(bgf, ggf, (None, np.zeros((3, 3))), customers, None, by="all",
                            valuation=VALUATION, draws=80, seed=repeat,
                            level=0.90).iloc[0]  # fmt: skip
        target = customer_value(true_bgf, ggf, customers, valuation=VALUATION)["clv"].mean()
        covered += row["clv_mean_lower"] <= target <= row["clv_mean_upper"]
    # 90% nominal: 27 of 30 expected (38 of 40 seen while writing this with 100 draws);
    # P(fewer than 22 | p = 0.9) = 0.2%
    assert covered >= 22


def test_interpolated_draws_match_the_exact_computation(fits):
    customers = simulate_bgnbd(5000, (0.5, 6.0, 0.8, 3.0), t_max=52, seed=5)
    groups = pd.DataFrame({"customer_id": customers["customer_id"],
                           "channel": np.where(customers.index % 2, "odd", "even")})  # fmt: skip
    kwargs: dict[str, Any] = {"by": "channel", "valuation": VALUATION, "draws": 50, "seed": 9}
    exact = clv_intervals(fits["bgf"], fits["ggf"], None, customers, groups, knots=None, **kwargs)
    fast = clv_intervals(fits["bgf"], fits["ggf"], None, customers, groups, knots=16, **kwargs)
    assert exact.attrs["interpolation"] == "exact"
    assert fast.attrs["interpolation"].startswith("ratio")
    for column in ("clv_mean_lower", "clv_mean_upper"):
        np.testing.assert_allclose(fast[column], exact[column], rtol=1e-4)


@pytest.mark.parametrize("model", ["mbgf", "pnbd"])
def test_intervals_for_the_other_transaction_models(cdnow, fits, channels, model):
    fitter = fits[model]
    covariance = np.diag((0.05 * fitter.params_.to_numpy()) ** 2)  # lifetimes' Pareto has none
    intervals = clv_intervals(fitter, fits["ggf"], (covariance, None), cdnow, channels,
                              by="channel", valuation=VALUATION, draws=50, seed=4)  # fmt: skip
    values = customer_value(fitter, fits["ggf"], cdnow, valuation=VALUATION)
    assert intervals["clv_total"].iloc[-1] == pytest.approx(values["clv"].sum(), rel=1e-10)
    assert (intervals["clv_mean_lower"] < intervals["clv_mean"]).all()
    assert (intervals["clv_mean"] < intervals["clv_mean_upper"]).all()


def test_invalid_draws_are_rejected_and_counted(cdnow, fits):
    wide = np.diag((0.6 * fits["bgf"].params_.to_numpy()) ** 2)  # ~5% of draws have a value <= 0
    intervals = clv_intervals(fits["bgf"], fits["ggf"], (wide, None), cdnow, None, by="all",
                              valuation=VALUATION, draws=100, seed=8)  # fmt: skip
    assert intervals.attrs["rejected"]["transaction_model"] > 0
    with pytest.raises(ValueError, match="too wide"):
        clv_intervals(fits["bgf"], fits["ggf"], (wide * 1e6, None), cdnow, None, by="all",
                      valuation=VALUATION, draws=100, seed=8)  # fmt: skip
    with pytest.raises(DataContractError, match="no customers"):
        clv_intervals(fits["bgf"], fits["ggf"], None, cdnow.head(0), None, by="all",
                      valuation=VALUATION, seed=1)  # fmt: skip
    asymmetric = fits["bgf"].variance_matrix_  # lifetimes scales H^-1 by column only
    with pytest.raises(ValueError, match="not symmetric"):
        clv_intervals(fits["bgf"], fits["ggf"], (asymmetric, None), cdnow, None, by="all",
                      valuation=VALUATION, draws=10, seed=8)  # fmt: skip


# -- sensitivity ------------------------------------------------------------------------------------
def test_sensitivity_grid_matches_customer_value(cdnow, fits):
    grid = sensitivity(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION,
                       annual_discount_rates=(0.0, 0.1, 0.2),
                       horizons_months=(6, 12, 24))  # fmt: skip
    assert len(grid) == 9 and grid["is_base"].sum() == 1
    base = grid[grid["is_base"]].iloc[0]
    assert (base["annual_discount_rate"], base["horizon_months"]) == (0.10, 12)
    assert base["change_vs_base"] == 0
    for rate, months in ((0.0, 6), (0.2, 24)):
        total = customer_value(
            fits["bgf"],
            fits["ggf"],
            cdnow,
            valuation=Valuation(horizon_months=months, annual_discount_rate=rate, as_of_date=AS_OF),
        )["clv"].sum()
        cell = grid[(grid["annual_discount_rate"] == rate) & (grid["horizon_months"] == months)]
        assert cell["total_clv"].iloc[0] == pytest.approx(total, rel=1e-10)  # fmt: skip
    by_rate = grid[grid["horizon_months"] == 12].sort_values("annual_discount_rate")
    assert by_rate["total_clv"].is_monotonic_decreasing
    by_horizon = grid[grid["annual_discount_rate"] == 0.1].sort_values("horizon_months")
    assert by_horizon["total_clv"].is_monotonic_increasing
    text = describe_sensitivity(grid, currency="USD")
    assert "10% a year, 12 months" in text and "$" in text


def test_cutoff_sensitivity_and_table(cdnow, fits):
    table = cutoff_sensitivity({"39 weeks": (fits["bgf"], fits["ggf"]),
                                "39 weeks (MBG/NBD)": (fits["mbgf"], fits["ggf"])},
                               cdnow, base="39 weeks", valuation=VALUATION)  # fmt: skip
    assert table.columns.tolist() == list(SENSITIVITY_COLUMNS)
    assert table["is_base"].tolist() == [True, False]
    assert table["change_vs_base"].iloc[0] == 0
    text = describe_sensitivity(table, currency="USD")
    assert "calibration cut-off" in text
    with pytest.raises(DataContractError, match="total_clv"):
        sensitivity_table([{"parameter": "x", "setting": "a", "mean_clv": 1.0}])
    with pytest.raises(ValueError, match="base"):
        sensitivity_table([{"parameter": "x", "setting": "a", "total_clv": 1.0,
                            "mean_clv": 1.0}], base="b")  # fmt: skip


# -- words and charts ------------------------------------------------------------------------------
def test_describe_clv_and_intervals_state_the_numbers(cdnow, fits, channels):
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION)
    text = describe_clv(values, currency="USD", horizon_months=12, min_cell_size=10)
    assert "2,357 customers" in text and "30% margin" in text and "10% annual discount" in text
    assert f"{top_decile_share(values):.0%}" in text
    assert "the fewer than 10 customers are worth" in describe_clv(
        values.head(7), currency="USD", horizon_months=12, min_cell_size=10
    )
    intervals = clv_intervals(fits["bgf"], fits["ggf"], None, cdnow, channels, by="channel",
                              valuation=VALUATION, draws=50, seed=1)  # fmt: skip
    words = describe_intervals(intervals, by="channel", currency="USD", min_cell_size=10)
    assert "email" in words and "50 parametric-bootstrap draws" in words
    assert "not which customers will actually buy" in words
    assert OTHER not in words and "not shown" not in words


def _with_small_channels(channels: pd.DataFrame) -> pd.DataFrame:
    """The channels with three small ones: tv (3 customers), print (5) and radio (6)."""
    small = channels.copy()
    small.loc[small.index[:14], "channel"] = ["tv"] * 3 + ["print"] * 5 + ["radio"] * 6
    return small


def test_intervals_of_pooled_channels_show_no_small_group(cdnow, fits, channels):
    small = _with_small_channels(channels)
    pooled = pool_groups(small, by="channel", min_cell_size=10)
    intervals = clv_intervals(fits["bgf"], fits["ggf"], None, cdnow, pooled, by="channel",
                              valuation=VALUATION, draws=50, seed=1)  # fmt: skip
    assert intervals["channel"].tolist() == [OTHER, "email", "search", "social", "All customers"]
    other = intervals.set_index("channel").loc[OTHER]
    assert other["customers"] == 14
    assert other["clv_mean_lower"] < other["clv_mean"] < other["clv_mean_upper"]
    values = customer_value(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION)
    assert other["clv_total"] == pytest.approx(values["clv"].iloc[:14].sum(), rel=1e-9)
    words = describe_intervals(intervals, by="channel", currency="USD", min_cell_size=10)
    assert "(other) (" in words and "14 customers" in words
    assert "(other) pools the smallest channels, so that none of fewer than 10" in words
    assert small_counts_in_html(f"<p>{words}</p>") == []
    try:
        ax = plot_clv_intervals(intervals, by="channel", currency="USD", min_cell_size=10,
                                ax=plt.figure().gca())  # fmt: skip
        assert OTHER in [tick.get_text() for tick in ax.get_yticklabels()]
        assert "(other): the smallest channels pooled" in ax.get_xlabel()
    finally:
        plt.close("all")


def test_intervals_of_small_channels_not_pooled_are_not_shown(cdnow, fits, channels):
    intervals = clv_intervals(fits["bgf"], fits["ggf"], None, cdnow,
                              _with_small_channels(channels), by="channel",
                              valuation=VALUATION, draws=20, seed=1)  # fmt: skip
    words = describe_intervals(intervals, by="channel", currency="USD", min_cell_size=10)
    assert not any(f" {name} " in words for name in ("tv", "print", "radio"))
    assert "Channels of fewer than 10 customers are not shown." in words
    assert small_counts_in_html(f"<p>{words}</p>") == []
    try:
        ax = plot_clv_intervals(intervals, by="channel", currency="USD", min_cell_size=10,
                                ax=plt.figure().gca())  # fmt: skip
        labels = {tick.get_text() for tick in ax.get_yticklabels()}
        assert labels == {"email", "search", "social", "All customers"}
        assert "channels of fewer than 10 customers are not drawn" in ax.get_xlabel()
    finally:
        plt.close("all")


def test_clv_charts_have_titles_and_labels(cdnow, fits, channels):
    intervals = clv_intervals(fits["bgf"], fits["ggf"], None, cdnow, channels, by="channel",
                              valuation=VALUATION, draws=20, seed=1)  # fmt: skip
    grid = sensitivity(fits["bgf"], fits["ggf"], cdnow, valuation=VALUATION)
    try:
        for ax in (plot_clv_intervals(intervals, by="channel", currency="USD", min_cell_size=10,
                                      ax=plt.figure().gca()),
                   plot_sensitivity(grid, currency="USD", ax=plt.figure().gca())):  # fmt: skip
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    finally:
        plt.close("all")


@pytest.mark.parametrize("model", ["bgf", "mbgf", "pnbd"])
def test_bootstrap_palive_per_history_equals_the_direct_formula(cdnow, fits, model):
    fitted = transaction_model(fits[model])
    x, t_x, T = (cdnow[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    layout = _layout(fitted.kind, x, t_x, T, np.zeros(len(x)), np.zeros(len(x), "int64"), 1)
    draws = fitted.theta * np.array([[1.0], [0.9], [1.1]])  # three parameter vectors
    batch = [draws[:, k] for k in range(4)]
    found = _p_alive_patterns(fitted, batch, layout)
    for k, theta in enumerate(draws):
        expected = KERNELS[fitted.kind].p_alive(theta, layout.x, layout.t_x, layout.T)
        np.testing.assert_allclose(found[:, k], expected, rtol=1e-10)


def test_clv_functions_change_no_global_state(cdnow, fits, channels):
    import warnings

    filters, numpy_errors = list(warnings.filters), np.geterr()
    customer_value(fits["pnbd"], fits["ggf"], cdnow, valuation=VALUATION)
    clv_intervals(fits["bgf"], fits["ggf"], None, cdnow, channels, by="channel",
                  valuation=VALUATION, draws=10, seed=1)  # fmt: skip
    assert warnings.filters == filters and np.geterr() == numpy_errors
