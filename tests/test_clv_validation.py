"""Tests of holdout validation, model choice and BTYD diagnostics (crmlib.clv)."""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from crmlib.clv.plots import (
    cumulative_tracking,
    palive_calibration,
    palive_matrix,
    period_transactions,
    plot_calibration_holdout,
    plot_cumulative_tracking,
    plot_palive_calibration,
    plot_palive_matrix,
    plot_period_transactions,
)
from crmlib.clv.text import describe_model_choice
from crmlib.clv.validation import (
    compare_models,
    errors_by_frequency,
    holdout_metrics,
    holdout_predictions,
    merge_small_buckets,
)
from crmlib.clv.value import probability_alive
from crmlib.errors import DataContractError
from crmlib.privacy import small_counts_in_html

#: CDNOW calibration: 1997-01-01 to 1997-09-30 (39 weeks), holdout to 1998-06-30 (39 weeks),
#: as in Fader, Hardie and Lee (2005).
CALIBRATION_END, OBSERVATION_END = "1997-09-30", "1998-06-30"
TRUE_BGNBD = (0.5, 6.0, 0.8, 3.0)  # r, alpha (weeks), a, b of the planted simulations


def lifetimes_module() -> Any:
    """lifetimes, imported without letting its warning filters leak into other tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.datasets
        import lifetimes.utils
    return lifetimes


def quiet(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a lifetimes function with its warnings (and warning filters) contained."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def fitted_with(cls_name: str, params: dict[str, float]) -> Any:
    """A lifetimes fitter carrying given parameters (the planted truth), without fitting."""
    fitter = getattr(lifetimes_module(), cls_name)()
    fitter.params_ = pd.Series(params, dtype="float64")
    return fitter


def simulate_bgnbd(
    n: int,
    theta: tuple[float, float, float, float],
    *,
    t_max: float,
    holdout: float = 0.0,
    seed: int,
    spend: tuple[float, float, float] = (6.0, 4.0, 15.0),
) -> pd.DataFrame:
    """Customers from the BG/NBD generative model (Fader, Hardie and Lee 2005, section 2).

    One row per customer: calibration frequency/recency/T (T uniform on [0, t_max]), the
    repeat purchases in the following ``holdout`` time units, whether the customer is alive at
    T, and a Gamma-Gamma mean spend (p, q, v = ``spend``). Purchase times: a Poisson process
    of rate lambda ~ Gamma(r, alpha); after each repeat purchase the customer drops out with
    probability p ~ Beta(a, b), so the number of repeat purchases before dropping out is
    geometric; the first K of the N Poisson arrivals in [0, T + holdout] are kept.
    """
    r, alpha, a, b = theta
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    age = rng.uniform(0, t_max, n)
    span = age + holdout
    arrivals = rng.poisson(rate * span)
    lifetime_purchases = rng.geometric(dropout)
    kept = np.minimum(arrivals, lifetime_purchases)
    owner = np.repeat(np.arange(n), kept)
    gaps = np.cumsum(rng.exponential(size=kept.sum()))
    starts = np.concatenate([[0], np.cumsum(kept)[:-1]])
    before = np.concatenate([[0.0], gaps])[starts]
    partial = gaps - before[owner]  # cumulative exponential gaps within each customer
    last = np.zeros(n)
    np.maximum.at(last, owner, partial)
    total = last + rng.gamma(arrivals - kept + 1.0)  # order statistics of N uniforms
    times = partial / total[owner] * span[owner]
    in_calibration = times <= age[owner]
    frequency = np.bincount(owner[in_calibration], minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, owner[in_calibration], times[in_calibration])
    p, q, v = spend
    scale = rng.gamma(q, 1 / v, n)
    mean_spend = rng.gamma(np.maximum(p * frequency, 1e-12), 1 / scale) / np.maximum(frequency, 1)
    return pd.DataFrame(
        {
            "customer_id": [f"SIM{i:06d}" for i in range(n)],
            "frequency": frequency,
            "recency": recency,
            "T": age,
            "monetary_value": np.where(frequency > 0, mean_spend, 0.0),
            "frequency_holdout": np.bincount(owner[~in_calibration], minlength=n),
            "alive": frequency < lifetime_purchases,
        }
    )


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """CDNOW sample (2,357 customers) as calibration/holdout summary in weeks."""
    lifetimes = lifetimes_module()
    raw = lifetimes.datasets.load_dataset(
        "CDNOW_sample.txt", header=None, sep=r"\s+", dtype={"date": str},
        names=["master_id", "customer_id", "date", "cds", "amount"],
    )  # fmt: skip
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    days = quiet(
        lifetimes.utils.calibration_and_holdout_data,
        raw, "customer_id", "date", calibration_period_end=CALIBRATION_END,
        observation_period_end=OBSERVATION_END, freq="D", monetary_value_col="amount",
    )  # fmt: skip
    weeks = days.copy()
    for column in ("recency_cal", "T_cal", "duration_holdout"):
        weeks[column] = days[column] / 7
    return weeks.reset_index()


@pytest.fixture(scope="module")
def cdnow_fits(cdnow: pd.DataFrame) -> dict[str, Any]:
    lifetimes = lifetimes_module()
    args = (cdnow["frequency_cal"], cdnow["recency_cal"], cdnow["T_cal"])
    return {
        "BG/NBD": quiet(lifetimes.BetaGeoFitter().fit, *args),
        "MBG/NBD": quiet(lifetimes.ModifiedBetaGeoFitter().fit, *args),
        "Pareto/NBD": quiet(lifetimes.ParetoNBDFitter().fit, *args),
    }


@pytest.fixture
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# -- metrics on hand tables -----------------------------------------------------------------------
HAND = pd.DataFrame(
    {
        "frequency_cal": [0, 0, 1, 2, 3, 4, 5, 12],
        "predicted_holdout_purchases": [0.5, 0.5, 1.0, 2.0, 2.0, 3.0, 4.0, 10.0],
        "actual_holdout_purchases": [0, 1, 2, 2, 4, 3, 6, 7],
    }
)


def test_holdout_metrics_on_a_hand_table():
    metrics = holdout_metrics(HAND)
    # errors: 0.5, -0.5, -1, 0, -2, 0, -2, 3 -> |e| sum 9, e^2 sum 18.5, e sum -2
    assert metrics["n"] == 8
    assert metrics["mae"] == pytest.approx(9 / 8)
    assert metrics["rmse"] == pytest.approx(np.sqrt(18.5 / 8))
    assert metrics["bias"] == pytest.approx(-2 / 8)
    assert metrics["predicted_total"] == pytest.approx(23.0)
    assert metrics["actual_total"] == pytest.approx(25.0)
    assert metrics["aggregate_error"] == pytest.approx(23 / 25 - 1)


def test_holdout_metrics_without_any_actual_purchase_has_no_aggregate_error():
    table = HAND.assign(actual_holdout_purchases=0)
    assert np.isnan(holdout_metrics(table)["aggregate_error"])


def test_errors_by_frequency_buckets_add_up():
    table = errors_by_frequency(HAND, min_cell_size=1)  # every bucket shown: the arithmetic
    assert table["frequency_bucket"].tolist() == ["0", "1", "2", "3\u20134", "5\u20139", "10+"]
    assert table["customers"].tolist() == [2, 1, 1, 2, 1, 1]
    metrics = holdout_metrics(HAND)
    assert table["customers"].sum() == metrics["n"]
    assert table["predicted_total"].sum() == pytest.approx(metrics["predicted_total"])
    assert table["actual_total"].sum() == pytest.approx(metrics["actual_total"])
    three_four = table.set_index("frequency_bucket").loc["3\u20134"]
    assert three_four["mae"] == pytest.approx(1.0)  # |2-4|, |3-3|
    assert three_four["rmse"] == pytest.approx(np.sqrt(2.0))
    assert three_four["bias"] == pytest.approx(-1.0)


def test_errors_by_frequency_keeps_empty_buckets():
    table = errors_by_frequency(HAND, buckets=(0, 20, 30), min_cell_size=1)
    assert table["customers"].tolist() == [8, 0, 0]
    assert np.isnan(table["mae"].iloc[1])


@pytest.mark.parametrize("buckets", [(1, 2), (0, 3, 2), ()], ids=["no-zero", "unsorted", "empty"])
def test_errors_by_frequency_rejects_bad_buckets(buckets):
    with pytest.raises(ValueError, match="buckets"):
        errors_by_frequency(HAND, buckets=buckets, min_cell_size=10)


def _holdout_of(frequencies: dict[int, int], seed: int = 0) -> pd.DataFrame:
    """Predictions of customers with the given calibration frequencies (frequency -> customers)."""
    frequency = np.repeat(list(frequencies), list(frequencies.values()))
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "frequency_cal": frequency,
        "predicted_holdout_purchases": rng.gamma(2.0, 1.0, frequency.size),
        "actual_holdout_purchases": rng.poisson(2.0, frequency.size),
    })  # fmt: skip


def test_merge_small_buckets_merges_neighbours_until_none_is_small():
    # buckets 0, 1, 2, 3-4, 5-9, 10+ hold 40, 3, 20, 12, 4, 2 customers
    frequency = [0] * 40 + [1] * 3 + [2] * 20 + [3] * 12 + [7] * 4 + [15] * 2
    bounds = merge_small_buckets(frequency, buckets=(0, 1, 2, 3, 5, 10), min_cell_size=10)
    assert bounds == [0, 1, 3]  # "1" joins "2" (23); "5-9" and "10+" (6) join "3-4" (18)
    sizes = np.bincount(np.searchsorted(bounds, frequency, side="right") - 1)
    assert sizes.tolist() == [40, 23, 18] and sizes.sum() == len(frequency)
    # an empty bucket stays; a small last bucket joins the one below, across empty ones
    assert merge_small_buckets([0] * 30 + [9] * 2, buckets=(0, 1, 5), min_cell_size=10) == [0]
    assert merge_small_buckets([0] * 30 + [3] * 12, buckets=(0, 1, 5), min_cell_size=10) == [
        0, 1, 5
    ]  # fmt: skip
    # nothing to merge at a limit of 1; everything merged when all customers are too few
    assert merge_small_buckets(frequency, buckets=(0, 1, 2), min_cell_size=1) == [0, 1, 2]
    assert merge_small_buckets([0, 1, 2], buckets=(0, 1, 2), min_cell_size=10) == [0]


def test_errors_by_frequency_shows_no_bucket_of_few_customers():
    predictions = _holdout_of({0: 40, 1: 3, 2: 20, 3: 12, 7: 4, 15: 2})
    table = errors_by_frequency(predictions, min_cell_size=10)
    assert table["frequency_bucket"].tolist() == ["0", "1–2", "3+"]
    assert table["customers"].tolist() == [40, 23, 18]
    assert small_counts_in_html(table.to_html()) == []
    metrics = holdout_metrics(predictions)
    assert table["customers"].sum() == metrics["n"]
    assert table["predicted_total"].sum() == pytest.approx(metrics["predicted_total"])
    assert table["actual_total"].sum() == pytest.approx(metrics["actual_total"])
    merged = predictions[predictions["frequency_cal"] >= 3]
    assert table["mae"].iloc[2] == pytest.approx(
        (merged["predicted_holdout_purchases"] - merged["actual_holdout_purchases"]).abs().mean()
    )
    # at 25 the table merges further, still no bucket of 1 to 24 customers
    wider = errors_by_frequency(predictions, min_cell_size=25)
    assert wider["customers"].tolist() == [40, 41]
    assert small_counts_in_html(wider.to_html(), min_cell_size=25) == []


def test_errors_by_frequency_of_too_few_customers_hides_the_one_row():
    table = errors_by_frequency(HAND, min_cell_size=10)  # 8 customers in all
    assert table["frequency_bucket"].tolist() == ["0+"]
    assert table["customers"].tolist() == ["<10"]
    assert table.drop(columns=["frequency_bucket", "customers"]).isna().all(axis=None)
    assert small_counts_in_html(table.to_html()) == []


def test_holdout_metrics_names_a_missing_column():
    with pytest.raises(DataContractError, match="actual_holdout_purchases"):
        holdout_metrics(HAND.drop(columns="actual_holdout_purchases"))


# -- predictions vs lifetimes ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["BG/NBD", "MBG/NBD", "Pareto/NBD"])
def test_holdout_predictions_equal_lifetimes_predict(cdnow, cdnow_fits, name):
    fitter = cdnow_fits[name]
    predictions = holdout_predictions(fitter, cdnow, unit="week")
    expected = quiet(
        fitter.predict, cdnow["duration_holdout"].iloc[0], cdnow["frequency_cal"],
        cdnow["recency_cal"], cdnow["T_cal"],
    )  # fmt: skip
    finite = np.isfinite(expected.to_numpy())  # lifetimes' Pareto/NBD has NaN at recency = T
    np.testing.assert_allclose(
        predictions["predicted_holdout_purchases"].to_numpy()[finite],
        expected.to_numpy()[finite],
        rtol=1e-9,
    )
    assert predictions["predicted_holdout_purchases"].notna().all()
    assert predictions["customer_id"].tolist() == cdnow["customer_id"].tolist()
    assert (predictions["error"] == predictions["predicted_holdout_purchases"]
            - predictions["actual_holdout_purchases"]).all()  # fmt: skip
    assert predictions.attrs["unit"] == "week"


def test_cdnow_bgnbd_holdout_totals(cdnow, cdnow_fits):
    # the fit reproduces the published BG/NBD estimates (Fader, Hardie and Lee 2005, table 1)
    params = cdnow_fits["BG/NBD"].params_
    assert params.round(2).to_dict() == {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}
    metrics = holdout_metrics(holdout_predictions(cdnow_fits["BG/NBD"], cdnow, unit="week"))
    # 1,882 repeat purchase days in weeks 40-78 (lifetimes counts one purchase per customer
    # and day); the model expects about 1,653 of them: 12% short, a regression guard
    assert metrics["actual_total"] == 1882
    assert metrics["predicted_total"] == pytest.approx(1653, abs=5)
    assert metrics["n"] == 2357


def test_holdout_predictions_reject_bad_input(cdnow, cdnow_fits):
    with pytest.raises(DataContractError, match="duration_holdout"):
        holdout_predictions(cdnow_fits["BG/NBD"], cdnow.drop(columns="duration_holdout"),
                            unit="week")  # fmt: skip
    late = cdnow.assign(recency_cal=cdnow["T_cal"] + 1)
    with pytest.raises(DataContractError, match="recency_cal > T_cal"):
        holdout_predictions(cdnow_fits["BG/NBD"], late, unit="week")


# -- model choice ---------------------------------------------------------------------------------
def test_compare_models_table_and_choice(cdnow, cdnow_fits):
    table, chosen = compare_models(cdnow_fits, cdnow, unit="week", criterion="mae")
    assert table["model"].tolist() == list(cdnow_fits)
    assert table["chosen"].sum() == 1
    assert chosen == table.loc[table["mae"].idxmin(), "model"]
    # log-likelihood of the calibration data: lifetimes' own BG/NBD objective (mean neg. LL)
    bg = cdnow_fits["BG/NBD"]
    lifetimes = lifetimes_module()
    expected = -quiet(
        lifetimes.BetaGeoFitter._negative_log_likelihood,
        np.log(bg.params_.to_numpy()), cdnow["frequency_cal"].to_numpy(),
        cdnow["recency_cal"].to_numpy(), cdnow["T_cal"].to_numpy(), np.ones(len(cdnow)), 0.0,
    ) * len(cdnow)  # fmt: skip
    row = table.set_index("model").loc["BG/NBD"]
    assert row["log_likelihood"] == pytest.approx(expected, rel=1e-12)
    assert row["aic"] == pytest.approx(8 - 2 * expected)


@pytest.mark.parametrize("criterion", ["rmse", "aggregate_error", "log_likelihood"])
def test_compare_models_by_each_criterion(cdnow, cdnow_fits, criterion):
    table, chosen = compare_models(cdnow_fits, cdnow, unit="week", criterion=criterion)
    scores = table.set_index("model")[criterion]
    if criterion == "log_likelihood":
        assert chosen == scores.idxmax()
    else:
        assert chosen == scores.abs().idxmin()


def test_compare_models_never_picks_a_model_that_did_not_converge(cdnow, cdnow_fits):
    _, best = compare_models(cdnow_fits, cdnow, unit="week")
    flags = {name: name != best for name in cdnow_fits}
    table, chosen = compare_models(cdnow_fits, cdnow, unit="week", converged=flags)
    assert chosen != best
    row = table.set_index("model").loc[best]
    assert not row["eligible"] and not row["chosen"]
    assert "did not converge" in row["note"]
    text = describe_model_choice(table, chosen, "mae")
    assert f"{best} was not considered: did not converge" in text
    assert chosen in text


def test_compare_models_reads_convergence_from_wrappers(cdnow, cdnow_fits):
    wrapped = {
        name: types.SimpleNamespace(fitter=fitter, converged=name == "MBG/NBD")
        for name, fitter in cdnow_fits.items()
    }
    _, chosen = compare_models(wrapped, cdnow, unit="week", criterion="log_likelihood")
    assert chosen == "MBG/NBD"


def test_compare_models_errors(cdnow, cdnow_fits):
    with pytest.raises(ValueError, match="criterion"):
        compare_models(cdnow_fits, cdnow, unit="week", criterion="r2")
    with pytest.raises(ValueError, match="no converged model"):
        compare_models(cdnow_fits, cdnow, unit="week",
                       converged=dict.fromkeys(cdnow_fits, False))  # fmt: skip
    with pytest.raises(ValueError, match="no entry for model"):
        compare_models(cdnow_fits, cdnow, unit="week", converged={"BG/NBD": True})
    with pytest.raises(ValueError, match="no model"):
        compare_models({}, cdnow, unit="week")


def test_describe_model_choice_states_the_numbers(cdnow, cdnow_fits):
    table, chosen = compare_models(cdnow_fits, cdnow, unit="week")
    text = describe_model_choice(table, chosen, "mae")
    row = table.set_index("model").loc[chosen]
    assert f"{row['mae']:.3f}" in text
    assert f"{row['actual_total']:,.0f}" in text
    assert "SIM" not in text and str(cdnow["customer_id"].iloc[0]) + " " not in text


# -- diagnostics ----------------------------------------------------------------------------------
def test_period_transactions_are_lifetimes_probabilities_summed_over_customers(cdnow, cdnow_fits):
    fitter = cdnow_fits["BG/NBD"]
    summary = cdnow.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                    "T_cal": "T"})  # fmt: skip
    table = period_transactions(fitter, summary, max_frequency=4, min_cell_size=10)
    assert table["frequency"].tolist() == ["0", "1", "2", "3", "4+"]
    assert not table.attrs["merged"]
    assert table["actual_customers"].sum() == len(cdnow)
    assert table["expected_customers"].sum() == pytest.approx(len(cdnow))
    ages, counts = np.unique(summary["T"], return_counts=True)
    for n in range(4):
        expected = sum(
            count * quiet(fitter.probability_of_n_purchases_up_to_time, age, n)
            for age, count in zip(ages, counts, strict=True)
        )
        assert table["expected_customers"].iloc[n] == pytest.approx(expected, rel=1e-9)
    assert "closed form" in table.attrs["method"]


def test_pareto_period_transactions_sum_to_customers_and_track_actual(cdnow, cdnow_fits):
    summary = cdnow.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                    "T_cal": "T"})  # fmt: skip
    table = period_transactions(cdnow_fits["Pareto/NBD"], summary, min_cell_size=10)
    assert table["expected_customers"].sum() == pytest.approx(len(cdnow))
    # CDNOW: about 1,400 of 2,357 customers made no repeat purchase in 39 weeks; the model
    # reproduces that count within 5% (Fader, Hardie and Lee 2005, figure 1)
    zero = table.iloc[0]
    assert zero["expected_customers"] == pytest.approx(zero["actual_customers"], rel=0.05)


def test_period_transactions_merge_counts_of_few_customers(cdnow, cdnow_fits, close_figures):
    fitter = cdnow_fits["BG/NBD"]
    summary = cdnow.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                    "T_cal": "T"}).head(120)  # fmt: skip
    every = period_transactions(fitter, summary, max_frequency=7, min_cell_size=1)
    assert (every["actual_customers"].between(1, 9)).any()  # the small shop has small counts
    table = period_transactions(fitter, summary, max_frequency=7, min_cell_size=10)
    assert table.attrs["merged"] and len(table) < len(every)
    assert not table["actual_customers"].between(1, 9).any()
    assert table["actual_customers"].sum() == every["actual_customers"].sum() == 120
    assert table["expected_customers"].sum() == pytest.approx(120)
    labels = table["frequency"].tolist()
    assert labels[0] == "0" and labels[-1].endswith("+")
    ax = plot_period_transactions(table, ax=plt.figure().gca())
    assert "fewer than 10 customers merged" in ax.get_xlabel()
    predictions = holdout_predictions(fitter, cdnow.head(120), unit="week")
    ax = plot_calibration_holdout(predictions, min_cell_size=10, ax=plt.figure().gca())
    ticks = [tick.get_text() for tick in ax.get_xticklabels()]
    capped = np.minimum(predictions["frequency_cal"], 7)
    bounds = merge_small_buckets(capped, buckets=range(8), min_cell_size=10)
    assert len(ticks) == len(bounds) < 8 and "fewer than 10 customers merged" in ax.get_xlabel()
    sizes = np.bincount(np.searchsorted(bounds, capped, side="right") - 1)
    assert not ((sizes >= 1) & (sizes < 10)).any()


def test_cumulative_tracking_equals_lifetimes_expected_cumulative_transactions():
    lifetimes = lifetimes_module()
    transactions = lifetimes.datasets.load_transaction_data()
    transactions["date"] = pd.to_datetime(transactions["date"]).dt.normalize()
    summary = quiet(lifetimes.utils.summary_data_from_transaction_data, transactions, "id",
                    "date", freq="D")  # fmt: skip
    fitter = quiet(lifetimes.BetaGeoFitter().fit, summary["frequency"], summary["recency"],
                   summary["T"])  # fmt: skip
    days = 200
    reference = quiet(lifetimes.utils.expected_cumulative_transactions, fitter, transactions,
                      "date", "id", days, freq="D")  # fmt: skip
    # one purchase per customer and day; the first day of each customer is not a repeat
    visits = transactions.drop_duplicates(["id", "date"])
    first = visits.groupby("id")["date"].min()
    repeats = visits[visits["date"] > visits["id"].map(first)]
    daily = repeats.groupby("date").size().rename("repeat_purchases").reset_index()
    table = cumulative_tracking(
        fitter, daily, calibration_end="2014-06-30", unit="day", first_purchase_dates=first,
        end_date=first.min() + pd.Timedelta(days=days),
    )  # fmt: skip
    # our day k (through its end, age k - first) is lifetimes' row k - 1 for the expectation
    np.testing.assert_allclose(
        table["expected_cumulative_purchases"].to_numpy()[1 : days + 1],
        reference["predicted"].to_numpy(),
        rtol=1e-9,
    )
    # lifetimes' "actual" at row k - 1 counts purchases through day k - 1
    np.testing.assert_allclose(
        table["actual_cumulative_purchases"].to_numpy()[:days], reference["actual"].to_numpy()
    )
    assert set(table["period"]) == {"calibration", "holdout"}


def test_palive_matrix_equals_lifetimes(cdnow_fits):
    fitter = cdnow_fits["BG/NBD"]
    matrix = palive_matrix(fitter, max_frequency=10, max_recency=30, T=30)
    expected = quiet(fitter.conditional_probability_alive_matrix, max_frequency=10,
                     max_recency=30)  # fmt: skip
    np.testing.assert_allclose(matrix.to_numpy(), expected, rtol=1e-12)
    assert matrix.index.name == "recency_weeks" and matrix.shape == (31, 11)
    with pytest.raises(ValueError, match="larger than T"):
        palive_matrix(fitter, max_frequency=3, max_recency=40, T=30)


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    """40,000 simulated BG/NBD customers, 52-week calibration window, 26-week holdout."""
    customers = simulate_bgnbd(40_000, TRUE_BGNBD, t_max=52, holdout=26, seed=7)
    return customers.rename(columns={"frequency": "frequency_cal", "recency": "recency_cal",
                                     "T": "T_cal"}).assign(duration_holdout=26.0)  # fmt: skip


def _truth() -> Any:
    return fitted_with("BetaGeoFitter", dict(zip(("r", "alpha", "a", "b"), TRUE_BGNBD,
                                                 strict=True)))  # fmt: skip


def _tolerance(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """3.5 binomial standard errors (each bin's share of Bernoulli draws with mean p)."""
    return 3.5 * np.sqrt(p * (1 - p) / n) + 0.005


def test_palive_calibration_matches_planted_purchases(planted):
    table = palive_calibration(_truth(), planted, bins=10)
    assert table["customers"].sum() == len(planted)
    assert table["customers"].min() >= len(planted) // 10
    # with the true parameters, the predicted P(purchase in the holdout) of each decile is the
    # share that bought, within binomial tolerance (3.5 standard errors + 0.5 pp)
    gap = np.abs(table["share_purchased"] - table["mean_p_purchase"])
    assert (gap <= _tolerance(table["mean_p_purchase"], table["customers"])).all()
    # an active customer need not buy within 26 weeks: P(alive) bounds the share from above
    assert (table["mean_p_alive"] >= table["share_purchased"] - 0.02).all()
    assert table["mean_p_alive"].is_monotonic_increasing


def test_palive_calibration_bins_keep_the_small_cell_rule(planted):
    # 25 customers: two bins of 13 and 12 (never one below 10), every customer counted once
    table = palive_calibration(_truth(), planted.iloc[:25], bins=10, min_cell_size=10)
    assert table["customers"].tolist() == [13, 12]
    assert table["bin"].tolist() == [1, 2]
    # 9 customers: no bin at all; the note says why and the chart draws it instead of points
    empty = palive_calibration(_truth(), planted.iloc[:9], bins=10, min_cell_size=10)
    assert empty.empty and list(empty.columns) == list(table.columns)
    assert "9 customers" in empty.attrs["note"]
    ax = plot_palive_calibration(empty, ax=plt.figure().gca())
    assert "fewer than 10" in " ".join(" ".join(text.get_text().split()) for text in ax.texts)
    plt.close("all")


def test_predicted_palive_deciles_match_the_planted_share_alive(planted):
    summary = planted.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                      "T_cal": "T"})  # fmt: skip
    p_alive = probability_alive(_truth(), summary).to_numpy()
    order = np.argsort(p_alive, kind="stable")
    decile = np.empty(len(order), dtype="int64")
    decile[order] = np.arange(len(order)) * 10 // len(order)
    grouped = (
        pd.DataFrame({"decile": decile, "p": p_alive, "alive": planted["alive"]})
        .groupby("decile")
        .agg(p=("p", "mean"), alive=("alive", "mean"), n=("p", "size"))
    )
    gap = np.abs(grouped["alive"] - grouped["p"])
    assert (gap <= _tolerance(grouped["p"].to_numpy(), grouped["n"].to_numpy())).all()


# -- plots ----------------------------------------------------------------------------------------
def _texts(ax: plt.Axes) -> str:
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    legend = ax.get_legend()
    if legend is not None:
        labels += [t.get_text() for t in legend.get_texts()]
    return " ".join([ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), *labels])


def test_plots_have_titles_and_labels_and_no_customer_ids(cdnow, cdnow_fits, close_figures):
    fitter = cdnow_fits["BG/NBD"]
    cdnow = cdnow.assign(customer_id="CUST-SECRET-" + cdnow["customer_id"].astype(str))
    summary = cdnow.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency",
                                    "T_cal": "T"})  # fmt: skip
    predictions = holdout_predictions(fitter, cdnow, unit="week")
    daily = pd.DataFrame({"date": pd.date_range("1997-01-02", periods=500, freq="D"),
                          "repeat_purchases": 1})  # fmt: skip
    firsts = pd.Series(pd.date_range("1997-01-01", periods=84, freq="D").repeat(28))
    tracking = cumulative_tracking(fitter, daily, calibration_end=CALIBRATION_END, unit="week",
                                   first_purchase_dates=firsts)  # fmt: skip
    axes = [
        plot_period_transactions(period_transactions(fitter, summary, min_cell_size=10),
                                 ax=plt.figure().gca()),
        plot_calibration_holdout(predictions, min_cell_size=10, ax=plt.figure().gca()),
        plot_cumulative_tracking(tracking, ax=plt.figure().gca()),
        plot_palive_matrix(palive_matrix(fitter, max_frequency=10, max_recency=39, T=39),
                           ax=plt.figure().gca()),
        plot_palive_calibration(palive_calibration(fitter, cdnow), ax=plt.figure().gca()),
    ]  # fmt: skip
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert "SECRET" not in _texts(ax)
    assert "39 weeks" in axes[1].get_ylabel()


def test_cumulative_tracking_rejects_bad_input(cdnow_fits):
    fitter = cdnow_fits["BG/NBD"]
    with pytest.raises(DataContractError, match="repeat_purchases"):
        cumulative_tracking(fitter, pd.DataFrame({"date": ["2025-01-01"]}),
                            calibration_end="2025-01-01", unit="week",
                            first_purchase_dates=["2025-01-01"])  # fmt: skip
    with pytest.raises(ValueError, match="days_per_unit"):
        cumulative_tracking(fitter, pd.DataFrame({"date": ["2025-01-01"], "repeat_purchases": 1}),
                            calibration_end="2025-01-01", unit="fortnight",
                            first_purchase_dates=["2025-01-01"])  # fmt: skip
