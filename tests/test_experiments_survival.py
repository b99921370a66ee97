"""Reference and known-answer tests of crmlib.experiments.models.survival (time to first purchase)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from statsmodels.duration.survfunc import SurvfuncRight  # noqa: E402

from crmlib.errors import DataContractError  # noqa: E402
from crmlib.experiments.models.survival import (  # noqa: E402
    CURVE_COLUMNS,
    RMST_COLUMNS,
    rmst_difference,
    time_to_purchase_curves,
)
from crmlib.experiments.plots import plot_time_to_purchase  # noqa: E402
from crmlib.survival import restricted_mean  # noqa: E402


def _exponential_outcomes(
    rng: np.random.Generator, *, rates: dict[str, float], n: int, experiment: str = "winback"
) -> pd.DataFrame:
    """First purchase after Exp(rate) days; follow-up (as_of) uniform on 20-90 days."""
    frames = []
    for variant, rate in rates.items():
        purchase = rng.exponential(1 / rate, size=n)
        observed = rng.uniform(20.0, 90.0, size=n)
        frames.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment,
                    "variant": variant,
                    "days_to_purchase": np.where(purchase <= observed, purchase, np.nan),
                    "observed_days_total": observed,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _with_ties() -> pd.DataFrame:
    # whole days, ties between purchases and with censoring times, two experiments
    return pd.DataFrame(
        {
            "experiment_id": ["a"] * 10 + ["b"] * 4,
            "variant": ["control"] * 5 + ["email"] * 5 + ["control", "control", "sms", "sms"],
            "days_to_purchase": [3, np.nan, 3, 7, np.nan, 1, 2, 2, np.nan, 9, 4, np.nan, 1, 6],
            "observed_days_total": [30, 7, 30, 30, 3, 30, 30, 30, 2, 30, 10, 10, 10, 10],
        }
    ).astype({"days_to_purchase": float, "observed_days_total": float})


def test_curves_equal_statsmodels_survfuncright() -> None:
    rng = np.random.default_rng(7)
    outcomes = pd.concat(
        [_with_ties(), _exponential_outcomes(rng, rates={"control": 0.02, "email": 0.04}, n=200)],
        ignore_index=True,
    )
    curves = time_to_purchase_curves(outcomes)
    assert list(curves.columns) == list(CURVE_COLUMNS)
    for (experiment, variant), rows in outcomes.groupby(["experiment_id", "variant"]):
        purchased = rows["days_to_purchase"].notna()
        time = rows["days_to_purchase"].where(purchased, rows["observed_days_total"])
        # reference: statsmodels' Kaplan-Meier on the same (time, status) pairs
        reference = SurvfuncRight(time.to_numpy(), purchased.to_numpy().astype(int))
        mine = curves[(curves["experiment_id"] == experiment) & (curves["variant"] == variant)]
        np.testing.assert_allclose(mine["day"], reference.surv_times, rtol=1e-12)
        np.testing.assert_allclose(mine["survival"], reference.surv_prob, rtol=1e-12)
        np.testing.assert_array_equal(mine["at_risk"], reference.n_risk)
        np.testing.assert_array_equal(mine["events"], reference.n_events)


def test_curves_by_hand_censoring_is_not_a_failure() -> None:
    curves = time_to_purchase_curves(_with_ties())
    control_a = curves[(curves["experiment_id"] == "a") & (curves["variant"] == "control")]
    # by hand: 5 at risk on day 3, 2 purchases -> 3/5; the one censored on day 3 is at risk
    # then and gone after; day 7: 2 at risk (one censored on 7), 1 purchase -> 3/5 x 1/2
    expected = pd.DataFrame(
        {
            "experiment_id": ["a", "a"],
            "variant": ["control", "control"],
            "day": [3.0, 7.0],
            "at_risk": [5, 2],
            "events": [2, 1],
            "survival": [0.6, 0.3],
            "customers": [5, 5],
        }
    )
    pd.testing.assert_frame_equal(control_a.reset_index(drop=True), expected)


def test_rmst_se_matches_a_seeded_bootstrap() -> None:
    rng = np.random.default_rng(11)
    arm = _exponential_outcomes(rng, rates={"control": 0.03}, n=300)
    purchased = arm["days_to_purchase"].notna().to_numpy()
    time = arm["days_to_purchase"].fillna(arm["observed_days_total"]).to_numpy()
    _, variance = restricted_mean(time, purchased, 45.0)
    draws = rng.integers(0, len(time), size=(1000, len(time)))
    boot = np.array([restricted_mean(time[rows], purchased[rows], 45.0)[0] for rows in draws])
    # reference: bootstrap SE of the RMST, agreement within 15%
    assert np.sqrt(variance) == pytest.approx(boot.std(ddof=1), rel=0.15)


def test_rmst_recovers_the_exponential_closed_form() -> None:
    rng = np.random.default_rng(3)
    rates, horizon = {"control": 0.02, "email": 0.05}, 30.0
    outcomes = _exponential_outcomes(rng, rates=rates, n=800)
    result = rmst_difference(outcomes, horizon_days=horizon)
    assert list(result.columns) == list(RMST_COLUMNS)
    truth = {variant: (1 - np.exp(-rate * horizon)) / rate for variant, rate in rates.items()}
    for row in result.itertuples(index=False):
        # planted truth: RMST of Exp(rate) up to h is (1 - exp(-rate h)) / rate, within 3 SE
        assert abs(row.rmst_days - truth[row.variant]) < 3 * row.rmst_se
    email = result[result["variant"] == "email"].iloc[0]
    true_diff = truth["email"] - truth["control"]
    assert email["ci_low"] < true_diff < email["ci_high"]
    assert email["p_value"] < 1e-6
    control = result[result["variant"] == "control"].iloc[0]
    assert np.isnan(control["rmst_diff_days"])
    assert email["control_rmst_days"] == control["rmst_days"]


def test_rmst_unknown_when_follow_up_ends_before_the_horizon() -> None:
    result = rmst_difference(_with_ties(), horizon_days=20)
    b_rows = result[result["experiment_id"] == "b"]
    # experiment b is followed for 10 days only: its control still has a customer without a
    # purchase (RMST unknown); every sms customer purchased (S = 0 from day 6: 1 + 5 x 0.5)
    assert b_rows["rmst_days"].isna().tolist() == [True, False]
    assert "before the 20-day horizon" in b_rows["note"].iloc[0]
    assert b_rows["rmst_days"].iloc[1] == pytest.approx(3.5, abs=1e-12)
    assert np.isnan(b_rows["rmst_diff_days"].iloc[1])
    a_email = result[(result["experiment_id"] == "a") & (result["variant"] == "email")]
    # by hand: S = 1 on [0, 1), 0.8 on [1, 2), 0.4 on [2, 9), 0 from day 9 -> 1 + 0.8 + 2.8
    assert a_email["rmst_days"].iloc[0] == pytest.approx(4.6, abs=1e-12)
    at_7 = rmst_difference(_with_ties(), horizon_days=7).set_index(["experiment_id", "variant"])
    # by hand: control of a, S = 1 on [0, 3), 0.6 on [3, 7] -> 3 + 2.4
    assert at_7.loc[("a", "control"), "rmst_days"] == pytest.approx(5.4, abs=1e-12)
    assert at_7.loc[("a", "email"), "rmst_diff_days"] == pytest.approx(3.8 - 5.4, abs=1e-12)


def test_bad_input() -> None:
    with pytest.raises(DataContractError, match="observed_days_total"):
        time_to_purchase_curves(_with_ties().drop(columns="observed_days_total"))
    with pytest.raises(DataContractError, match="experiment 'a'.*observed_days_total"):
        time_to_purchase_curves(_with_ties().assign(observed_days_total=np.nan))
    with pytest.raises(DataContractError, match="experiment 'a'.*no control 'holdout'"):
        rmst_difference(_with_ties(), control="holdout", horizon_days=5)
    with pytest.raises(ValueError, match="horizon_days"):
        rmst_difference(_with_ties(), horizon_days=0)


def test_plot_time_to_purchase() -> None:
    fig, ax = plt.subplots()
    # a rule of 1 customer: every arm of the tiny table is drawn
    returned = plot_time_to_purchase(time_to_purchase_curves(_with_ties()), ax=ax, min_cell_size=1)
    assert returned is ax
    assert ax.get_title() == "Time to first purchase after assignment, by variant"
    assert ax.get_xlabel() == "Days since assignment"
    assert ax.get_ylabel() == "Customers without a purchase yet"
    assert ax.yaxis.get_major_formatter().format_pct(0.5, 1.0) == "50%"
    assert len(ax.get_lines()) == 4
    assert not ax.texts
    plt.close(fig)


def _caption_of(ax: plt.Axes) -> str:
    return " ".join(text.get_text() for text in ax.texts)


def test_time_to_purchase_leaves_out_small_arms_and_small_risk_sets() -> None:
    rng = np.random.default_rng(5)
    outcomes = pd.concat(
        [
            _exponential_outcomes(rng, rates={"control": 0.03}, n=60),
            _exponential_outcomes(rng, rates={"email": 0.05}, n=6),
        ],
        ignore_index=True,
    )
    curves = time_to_purchase_curves(outcomes)
    fig, ax = plt.subplots()
    plot_time_to_purchase(curves, ax=ax)
    # the arm of 6 customers is not drawn, and the chart says so without its count
    assert [line.get_label() for line in ax.get_lines()] == ["control"]
    words = _caption_of(ax)
    assert "Not drawn: email (fewer than 10 customers)." in words
    assert "6" not in words
    # the control's line stops before the first step whose risk set is under 10
    control = curves[curves["variant"] == "control"]
    last_drawn = float(ax.get_lines()[0].get_xdata()[-1])
    first_small = float(control.loc[control["at_risk"] < 10, "day"].min())
    assert last_drawn < first_small
    assert (control.loc[control["day"] <= last_drawn, "at_risk"] >= 10).all()
    assert "A line stops where fewer than 10" in words
    plt.close(fig)
