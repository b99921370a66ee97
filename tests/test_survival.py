"""crmlib.survival against statsmodels' Kaplan–Meier (SurvfuncRight) on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from crmlib.survival import kaplan_meier, loglog_interval, restricted_mean


def _censored(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Event after Exp(1/20) days, censored at a uniform follow-up; whole days give ties."""
    rng = np.random.default_rng(seed)
    event_time = np.ceil(rng.exponential(20.0, n))
    follow_up = rng.integers(1, 60, n).astype(float)
    return np.minimum(event_time, follow_up), event_time <= follow_up


@pytest.mark.parametrize("seed, n", [(1, 40), (2, 500), (3, 5)])
def test_kaplan_meier_equals_statsmodels(seed: int, n: int) -> None:
    time, event = _censored(seed, n)
    km = kaplan_meier(time, event)
    reference = SurvfuncRight(time, event.astype(int))
    np.testing.assert_array_equal(km.time, reference.surv_times)
    np.testing.assert_array_equal(km.at_risk, reference.n_risk)
    np.testing.assert_array_equal(km.events, reference.n_events)
    np.testing.assert_allclose(km.survival, reference.surv_prob, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(km.se, reference.surv_prob_se, rtol=1e-12, equal_nan=True)


def test_an_exhausted_risk_set_ends_at_zero_with_an_unknown_error() -> None:
    # the last two units both have the event on day 4: S drops to 0, Greenwood's term divides by 0
    time, event = np.array([1.0, 2.0, 4.0, 4.0]), np.array([True, False, True, True])
    km = kaplan_meier(time, event)
    reference = SurvfuncRight(time, event.astype(int))
    assert km.survival.tolist() == [0.75, 0.0]
    np.testing.assert_allclose(km.se, reference.surv_prob_se, equal_nan=True)
    assert np.isnan(km.se[-1])
    lower, upper = loglog_interval(km.survival, km.se)
    assert lower[-1] == upper[-1] == 0.0  # the point itself


def test_no_events_gives_an_empty_curve() -> None:
    km = kaplan_meier(np.array([3.0, 5.0]), np.array([False, False]))
    assert len(km.time) == len(km.survival) == 0
    assert restricted_mean(np.array([3.0, 5.0]), np.array([False, False]), 10.0)[0] == 10.0


def test_loglog_interval_covers_the_planted_survival() -> None:
    # planted truth: S(t) = exp(-t / 20) before censoring; 95% pointwise coverage at day 15
    hits = []
    for seed in range(200):
        time, event = _censored(seed, 300)
        km = kaplan_meier(time, event)
        lower, upper = loglog_interval(km.survival, km.se)
        at = np.searchsorted(km.time, 15.0, side="right") - 1
        truth = np.exp(-np.ceil(15.0) / 20.0)  # ceil: event days are whole days
        hits.append(lower[at] <= truth <= upper[at])
    assert 0.90 <= np.mean(hits) <= 0.99


def test_restricted_mean_recovers_the_exponential_closed_form() -> None:
    rng = np.random.default_rng(5)
    n, rate, horizon = 4000, 0.05, 30.0
    event_time = rng.exponential(1 / rate, n)
    follow_up = rng.uniform(20, 90, n)
    time, event = np.minimum(event_time, follow_up), event_time <= follow_up
    rmst, variance = restricted_mean(time, event, horizon)
    # planted truth: RMST of Exp(rate) up to h is (1 - exp(-rate h)) / rate, within 3 SE
    assert abs(rmst - (1 - np.exp(-rate * horizon)) / rate) < 3 * np.sqrt(variance)
