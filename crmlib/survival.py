"""Kaplan–Meier, once: the survival curve, its Greenwood error, log-log intervals and the RMST.

Used by 03_cohorts (time to a second order) and 07_ab_test (time to first purchase after
assignment). Vectorized over one group's customers (sorting and ``searchsorted``, no loop over
rows); the tests check it against statsmodels' ``SurvfuncRight``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

__all__ = ["KaplanMeier", "kaplan_meier", "loglog_interval", "restricted_mean"]


class KaplanMeier(NamedTuple):
    """One Kaplan–Meier curve, one entry per distinct event time (ascending)."""

    #: Distinct times at which at least one event happened.
    time: np.ndarray
    #: Units at risk just before each time (not yet an event, not censored earlier).
    at_risk: np.ndarray
    #: Events at each time.
    events: np.ndarray
    #: S(t), the share still without the event just after each time.
    survival: np.ndarray
    #: Greenwood standard error of S(t); NaN from the time the risk set is exhausted.
    se: np.ndarray


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """The Kaplan–Meier estimate of S(t) for right-censored data.

    Transforms one row per unit (*time*: the event or censoring time; *event*: True when the
    event was seen at *time*, False when the unit was censored there) into one entry per
    distinct event time. A unit censored at t is still at risk at t and never an event.

    Parameters
    ----------
    time : np.ndarray
        Non-negative times, one per unit.
    event : np.ndarray
        Booleans (or 0/1), one per unit.

    Returns
    -------
    KaplanMeier
        ``survival`` is the product of (1 - events / at_risk); ``se`` is Greenwood's
        S(t) * sqrt(sum events / (at_risk (at_risk - events))).

    References
    ----------
    .. [1] Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. JASA 53(282), 457-481.
    .. [2] Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health
       and Medical Subjects 33, HMSO.

    Examples
    --------
    >>> km = kaplan_meier(np.array([2.0, 3.0, 5.0, 5.0]), np.array([True, False, True, False]))
    >>> km.time.tolist(), km.at_risk.tolist(), km.survival.tolist()
    ([2.0, 5.0], [4, 2], [0.75, 0.375])
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    days = np.unique(time[event])
    at_risk = len(time) - np.searchsorted(np.sort(time), days, side="left")
    event_times = np.sort(time[event])
    events = np.searchsorted(event_times, days, side="right") - np.searchsorted(
        event_times, days, side="left"
    )
    survival = np.cumprod(1.0 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > events, events / (at_risk * (at_risk - events)), np.nan)
    se = survival * np.sqrt(np.cumsum(terms))
    return KaplanMeier(days, at_risk.astype(np.int64), events.astype(np.int64), survival, se)


def loglog_interval(
    survival: np.ndarray, se: np.ndarray, *, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval of S(t) on the log(-log) scale from the standard error of S(t).

    Bounds S^exp(+z*s) (lower) and S^exp(-z*s) (upper) with s = se / (S |log S|); where S is
    1 (no event yet) or 0, or the error is unknown, the interval is the point itself.

    References
    ----------
    .. [1] Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data, 2nd ed., section 1.4.
    """
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival)
        scale = se / (survival * np.abs(log_s))
        lower = np.power(survival, np.exp(z * scale))
        upper = np.power(survival, np.exp(-z * scale))
    degenerate = (survival >= 1.0) | (survival <= 0.0) | ~np.isfinite(scale)
    return np.where(degenerate, survival, lower), np.where(degenerate, survival, upper)


def restricted_mean(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """Restricted mean survival time up to *horizon* and its Greenwood-based variance.

    ``RMST = int_0^h S(t) dt``; ``Var = sum_{t_j <= h} A_j^2 d_j / (Y_j (Y_j - d_j))`` with
    ``A_j = int_{t_j}^h S(t) dt``.

    References
    ----------
    .. [1] Klein, J. P. & Moeschberger, M. L. (2003). Survival Analysis, 2nd ed., section 4.5.

    Examples
    --------
    >>> restricted_mean(np.array([2.0, 4.0]), np.array([True, True]), 10.0)[0]
    3.0
    """
    km = kaplan_meier(time, event)
    keep = km.time <= horizon
    days, at_risk, events, survival = (
        km.time[keep], km.at_risk[keep], km.events[keep], km.survival[keep],
    )  # fmt: skip
    edges = np.concatenate([[0.0], days, [horizon]])
    levels = np.concatenate([[1.0], survival])
    areas = levels * np.diff(edges)
    rmst = float(areas.sum())
    # A_j: area under S from t_j to the horizon (the pieces after the j-th step)
    tail = np.cumsum(areas[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > events, tail**2 * events / (at_risk * (at_risk - events)), 0.0)
    return rmst, float(terms.sum())
