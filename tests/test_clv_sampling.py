"""Tests of 05's stated samples: the cut-off refits (crmlib.clv.stage.cutoff_fits) and the
bootstrap draws of the intervals (crmlib.clv.intervals.clv_intervals) on a random sample of
customers above a size, the page's sentences about them, and nothing changed below it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from contract_tables import simulated_orders
from test_clv_queries import with_fact_columns
from test_clv_validation import lifetimes_module, quiet, simulate_bgnbd

from crmlib.clv.choice import fit_with_fallback, spend_model
from crmlib.clv.intervals import MIN_GROUP_SAMPLE, clv_intervals, customer_sample
from crmlib.clv.queries import customer_summary
from crmlib.clv.stage import CutoffFits, cutoff_fits
from crmlib.clv.text import describe_intervals, describe_sensitivity, refit_uncertainty
from crmlib.clv.value import Valuation, cutoff_sensitivity
from crmlib.engine import Engine

AS_OF = "2024-12-30"
#: Planted BG/NBD truth of the transaction log (alpha in weeks).
TRUTH = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}
N_CUSTOMERS = 20_000
REFIT_SAMPLE = 5_000
VALUATION = Valuation(as_of_date=AS_OF)


def _bgnbd_orders(n: int, seed: int) -> pd.DataFrame:
    """Orders of ``n`` BG/NBD customers (planted :data:`TRUTH`): first orders uniform over
    600 days from 2023-01-01 (so the cut-offs have different customers), then a Poisson process of weekly rate lambda ~ Gamma(r, alpha) until the customer
    leaves, with probability p ~ Beta(a, b) after each repeat order; observed to AS_OF."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUTH["r"], 1 / TRUTH["alpha"], n) / 7.0  # orders per day
    dropout = rng.beta(TRUTH["a"], TRUTH["b"], n)
    first = rng.uniform(0, 600, n)
    repeats = rng.geometric(dropout)  # repeat orders before leaving (at least one)
    width = int(min(repeats.max(), 400))
    gaps = rng.exponential(1.0, (n, width)) / rate[:, None]
    days = first[:, None] + np.cumsum(np.c_[np.zeros(n), gaps], axis=1)
    keep = (days < 730) & (np.arange(width + 1)[None, :] <= repeats[:, None])
    return with_fact_columns(simulated_orders(days, keep, rng, id_digits=5))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", _bgnbd_orders(N_CUSTOMERS, seed=7))
        yield eng


@pytest.fixture(scope="module")
def stage(engine: Engine) -> dict[str, Any]:
    """05's calls on the planted log: the final fit, its intervals, and the cut-off refits
    on all calibration customers and on samples of REFIT_SAMPLE."""
    summary = customer_summary(engine, observation_end=AS_OF, unit="week")
    final = fit_with_fallback(summary, model="bgnbd", penalizer=0.0, unit="week")
    spend = spend_model(summary, final, penalizer=0.0)
    intervals = clv_intervals(final.model, spend.model, None, summary, None, by="group",
                              valuation=VALUATION, draws=100, seed=3)  # fmt: skip
    kwargs: dict[str, Any] = {"final": (final.model, spend.model), "as_of_date": AS_OF,
                              "holdout_days": [91, 182], "model": "bgnbd", "penalizer": 0.0,
                              "unit": "week", "seed": 11}  # fmt: skip
    full = cutoff_fits(engine, max_customers=N_CUSTOMERS, **kwargs)
    sampled = cutoff_fits(engine, max_customers=REFIT_SAMPLE, **kwargs)
    return {"summary": summary, "final": final, "intervals": intervals, "full": full,
            "sampled": sampled}  # fmt: skip


def _percent(share: float) -> str:
    """Two significant digits, as the page writes a share: 0.27%, 4.7%."""
    digits = max(0, 1 - int(np.floor(np.log10(share * 100))))
    return f"{share * 100:.{digits}f}%"


def _sensitivity(stage: dict[str, Any], refits: CutoffFits) -> pd.DataFrame:
    return cutoff_sensitivity(refits.fits, stage["summary"], base=refits.base,
                              valuation=VALUATION, refit_samples=refits.samples)  # fmt: skip


# -- the cut-off refits ---------------------------------------------------------------------------
def test_refits_run_on_the_stated_sample(stage):
    full, sampled = stage["full"], stage["sampled"]
    assert list(sampled.fits) == list(full.fits)  # no refit fell back
    assert sampled.base == full.base and sampled.fits[sampled.base] is full.fits[full.base]
    for label, sample in sampled.samples.items():
        assert sample.sampled and sample.n == REFIT_SAMPLE
        assert sample.n_total == full.samples[label].n_total > REFIT_SAMPLE
        assert not full.samples[label].sampled
        assert sampled.fits[label][0].n_customers == REFIT_SAMPLE
        assert full.fits[label][0].n_customers == sample.n_total


def test_sampled_refits_agree_with_the_full_refits_within_their_standard_errors(stage):
    """Known answer: a refit on a random sample of n of N customers estimates the same
    parameters as the refit on all N, with standard errors sqrt(N / n) (the widening) times
    the full refit's; each sampled parameter is within 3 of those of the full one."""
    full, sampled = stage["full"], stage["sampled"]
    for label, sample in sampled.samples.items():
        whole, part = full.fits[label][0], sampled.fits[label][0]
        assert whole.name == part.name == "bgnbd" and whole.converged and part.converged
        errors = whole.standard_errors
        assert errors is not None
        for name, value in whole.params.items():
            tolerance = 3 * errors[name] * sample.widening
            assert abs(part.params[name] - value) <= tolerance, (label, name)


def test_sampled_refits_find_the_planted_parameters(stage):
    """Planted truth: each refit on 5,000 customers is within 4 of its own standard errors
    of the BG/NBD parameters the orders were drawn from."""
    for label, (model, _) in list(stage["sampled"].fits.items())[1:]:
        errors = model.standard_errors
        for name, truth in TRUTH.items():
            assert abs(model.params[name] - truth) <= 4 * errors[name], (label, name)


def test_sampled_cutoff_totals_stay_within_the_stated_uncertainty(stage):
    """Every customer is still valued; the sampled refits' totals differ from the full
    refits' by less than twice the page's +-X (the 95% half-width at the sample's size)."""
    full = _sensitivity(stage, stage["full"])
    sampled = _sensitivity(stage, stage["sampled"])
    assert (sampled["customers"] == len(stage["summary"])).all()
    assert sampled["total_clv"].iloc[0] == full["total_clv"].iloc[0]  # the base: same fit
    uncertainty = refit_uncertainty(stage["intervals"], REFIT_SAMPLE)
    assert uncertainty is not None
    refit, whole = uncertainty
    assert refit == pytest.approx(whole * np.sqrt(len(stage["summary"]) / REFIT_SAMPLE))
    change = (sampled["total_clv"] / full["total_clv"] - 1).abs()
    assert (change.iloc[1:] <= 2 * refit).all(), (change.tolist(), refit)


def test_the_page_states_the_refit_sample_only_when_there_is_one(stage):
    full = _sensitivity(stage, stage["full"])
    sampled = _sensitivity(stage, stage["sampled"])
    assert "refit_samples" not in full.attrs
    plain = describe_sensitivity(full, currency="EUR")
    assert describe_sensitivity(full, currency="EUR", intervals=stage["intervals"]) == plain
    assert "sample" not in plain
    totals = [f"{s.n_total:,}" for s in stage["sampled"].samples.values()]
    refit, whole = refit_uncertainty(stage["intervals"], REFIT_SAMPLE) or (0.0, 0.0)
    text = describe_sensitivity(sampled, currency="EUR", intervals=stage["intervals"])
    bare = sampled.copy()
    bare.attrs = {}
    assert text.startswith(describe_sensitivity(bare, currency="EUR") + " Each cut-off is ")
    assert (
        f"Each cut-off is refitted on a random sample of {REFIT_SAMPLE:,} of its calibration "
        f"customers (of {totals[0]} and {totals[1]}); at that size the parameter uncertainty "
        "of a refit's total is about \u00b1"
    ) in text
    assert (
        f"about \u00b1{_percent(refit)} (95%), against \u00b1{_percent(whole)} for the fit on all "
        f"{len(stage['summary']):,} customers, so changes smaller than that are within the "
        "refits' own uncertainty."
    ) in text
    without = describe_sensitivity(sampled, currency="EUR")  # no intervals: no uncertainty
    assert without.endswith(f"(of {totals[0]} and {totals[1]}).")


def test_cutoff_fits_below_the_limit_fit_all_customers(stage, engine):
    again = cutoff_fits(engine, final=stage["full"].fits[stage["full"].base], as_of_date=AS_OF,
                        holdout_days=[91], model="bgnbd", penalizer=0.0, unit="week",
                        max_customers=10**9, seed=999)  # fmt: skip
    label = list(again.fits)[1]
    assert not again.samples[label].sampled
    assert again.fits[label][0].params == stage["full"].fits[label][0].params  # seed unused


# -- the intervals --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    """20,000 BG/NBD customers in three groups (14,000, 4,500 and 1,500) and their fits."""
    lifetimes = lifetimes_module()
    customers = simulate_bgnbd(N_CUSTOMERS, (0.5, 6.0, 0.8, 3.0), t_max=52, seed=21)
    repeat = customers[customers["frequency"] > 0]
    bgf = quiet(lifetimes.BetaGeoFitter().fit, customers["frequency"], customers["recency"],
                customers["T"])  # fmt: skip
    ggf = quiet(lifetimes.GammaGammaFitter().fit, repeat["frequency"], repeat["monetary_value"])
    names = np.repeat(["big", "mid", "small"], [14_000, 4_500, 1_500])
    groups = pd.DataFrame({"customer_id": customers["customer_id"],
                           "channel": np.random.default_rng(2).permutation(names)})  # fmt: skip
    return {"customers": customers, "bgf": bgf, "ggf": ggf, "groups": groups}


def _intervals(base: dict[str, Any], **kwargs: Any) -> pd.DataFrame:
    return clv_intervals(base["bgf"], base["ggf"], None, base["customers"], base["groups"],
                         by="channel", valuation=VALUATION, draws=200, seed=5,
                         **kwargs)  # fmt: skip


def test_customer_sample_keeps_each_groups_share_and_at_least_2000():
    codes = np.repeat([0, 1, 2], [14_000, 4_500, 1_500])
    sample = customer_sample(codes, 3, 5_000, seed=5)
    assert np.bincount(codes[sample.positions]).tolist() == [3_500, MIN_GROUP_SAMPLE, 1_500]
    assert np.all(np.diff(sample.positions) > 0) and sample.n_total == 20_000
    one = customer_sample(np.zeros(20_000, dtype="int64"), 1, 5_000, seed=5)
    assert one.n == 5_000  # without groups: sample_rows(n, max_customers)
    assert not customer_sample(codes, 3, 20_000, seed=5).sampled


def test_sampled_intervals_keep_the_point_estimates_and_match_the_full_bounds(base):
    """The draws on 7,000 of 20,000 customers: the estimates are the full data's, exactly;
    each bound is within 0.3% (relative) and 10% of the interval's width of the bound from
    all customers, and the group kept whole ("small") within interpolation accuracy."""
    full = _intervals(base)
    sampled = _intervals(base, max_customers=5_000)
    assert "customer_sample" not in full.attrs
    assert sampled.attrs["customer_sample"] == {
        "words": "a random sample of 7,000 of the 20,000 customers", "customers": 7_000,
        "of": 20_000, "min_per_group": MIN_GROUP_SAMPLE,
    }  # fmt: skip
    for column in ("channel", "customers", "clv_mean", "clv_total"):
        assert sampled[column].tolist() == full[column].tolist()
    for stat in ("clv_mean", "clv_total"):
        width = full[f"{stat}_upper"] - full[f"{stat}_lower"]
        for bound in ("_lower", "_upper"):
            gap = (sampled[stat + bound] - full[stat + bound]).abs()
            assert (gap <= 0.003 * full[stat + bound]).all(), (stat + bound, gap.tolist())
            assert (gap <= 0.10 * width).all(), (stat + bound, (gap / width).tolist())
    small = full["channel"] == "small"
    np.testing.assert_allclose(sampled.loc[small, "clv_mean_lower"],
                               full.loc[small, "clv_mean_lower"], rtol=1e-4)  # fmt: skip


def test_intervals_below_the_limit_are_unchanged(base):
    """Bit-identical: at most max_customers customers, nothing is sampled (the default, the
    exact count and a larger limit give the same table and attrs)."""
    default = _intervals(base)
    for limit in (N_CUSTOMERS, 10**9):
        same = _intervals(base, max_customers=limit)
        pd.testing.assert_frame_equal(same, default, check_exact=True)
        assert same.attrs == default.attrs


def test_the_page_states_the_interval_sample_only_when_there_is_one(base):
    full = describe_intervals(_intervals(base), by="channel", currency="EUR", min_cell_size=10)
    sampled = describe_intervals(_intervals(base, max_customers=5_000), by="channel",
                                 currency="EUR", min_cell_size=10)  # fmt: skip
    assert "sample" not in full
    assert (
        "200 parametric-bootstrap draws of the model parameters, evaluated on a random sample "
        "of 7,000 of the 20,000 customers (each channel keeping its share of them, at least "
        "2,000 or all of a smaller one) and scaled to each group's total: they cover"
    ) in sampled
