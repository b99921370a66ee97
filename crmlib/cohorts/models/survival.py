"""Kaplan–Meier estimates of the time to a second order: curves and second-order rates.

Self-contained (statsmodels, scipy, pandas): it works on the per-customer durations of
:func:`crmlib.cohorts.second_order_durations` and nothing else of the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from crmlib.errors import DataContractError

__all__ = ["KM_COLUMNS", "RATE_COLUMNS", "km_curves", "second_order_rates"]


#: Columns of :func:`km_curves`.
KM_COLUMNS: tuple[str, ...] = (
    "group", "time_days", "survival", "ci_lower", "ci_upper", "at_risk", "events",
)  # fmt: skip
#: Columns of :func:`second_order_rates`.
RATE_COLUMNS: tuple[str, ...] = (
    "group", "days", "customers", "events", "known", "at_risk",
    "second_order_rate", "ci_lower", "ci_upper", "sparse",
)  # fmt: skip

_ALL = "all"


def _check_durations(durations: pd.DataFrame, by: str | None) -> None:
    needed = ["duration_days", "event"] + ([by] if by is not None else [])
    missing = [c for c in needed if c not in durations.columns]
    if missing:
        raise DataContractError(
            f"durations: columns {missing} are missing; found {list(durations.columns)}, "
            f"expected {needed} (as from second_order_durations)"
        )
    if (durations["duration_days"] < 0).any():
        raise DataContractError("durations: column 'duration_days' has negative values")


def _groups(durations: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [(_ALL, durations)]
    return [(str(key), rows) for key, rows in durations.groupby(by, sort=True, observed=True)]


def _fit(rows: pd.DataFrame) -> SurvfuncRight:
    return SurvfuncRight(
        rows["duration_days"].to_numpy(dtype="float64"),
        rows["event"].to_numpy(dtype="float64"),
    )


def _loglog_ci(
    survival: np.ndarray, se: np.ndarray, *, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S(t) on the log(-log) scale from Greenwood's standard error of S(t).

    Bounds S^exp(+z*s) (lower) and S^exp(-z*s) (upper) with s = se / (S |log S|); where
    S is 1 (no event yet) or 0 the interval is the point itself.
    """
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival)
        scale = se / (survival * np.abs(log_s))
        lower = np.power(survival, np.exp(z * scale))
        upper = np.power(survival, np.exp(-z * scale))
    degenerate = (survival >= 1.0) | (survival <= 0.0) | ~np.isfinite(scale)
    return np.where(degenerate, survival, lower), np.where(degenerate, survival, upper)


def km_curves(durations: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier curves of the time to a second order, overall or by group.

    Transforms *durations* (one row per customer: ``duration_days``, ``event``, as from
    :func:`second_order_durations`) into one row per group and distinct event time:
    *group, time_days, survival* (S(t), the share still without a second order after
    ``time_days`` days), *ci_lower, ci_upper* (95% pointwise, Greenwood variance from
    statsmodels' ``SurvfuncRight.surv_prob_se``, log-log transform), *at_risk* (customers
    with no event and not censored before t) and *events* (second orders at t). Censored
    customers leave the risk set after their time and are never counted as events.

    Parameters
    ----------
    durations : pd.DataFrame
        One row per customer.
    by : str, optional
        A group column (e.g. ``"acquisition_channel"``); None gives one curve, group ``"all"``.

    Returns
    -------
    pd.DataFrame
        Columns :data:`KM_COLUMNS`, by group then time.

    References
    ----------
    .. [1] Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. JASA 53(282), 457-481.
    .. [2] Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health
       and Medical Subjects 33, HMSO.
    .. [3] Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data, 2nd ed., section 1.4 (log-log confidence limits).
    """
    _check_durations(durations, by)
    curves = []
    for group, rows in _groups(durations, by):
        fit = _fit(rows)
        survival = np.asarray(fit.surv_prob, dtype="float64")
        lower, upper = _loglog_ci(survival, np.asarray(fit.surv_prob_se, dtype="float64"))
        curves.append(
            pd.DataFrame(
                {
                    "group": pd.array([group] * len(survival), dtype="str"),
                    "time_days": np.asarray(fit.surv_times, dtype="float64"),
                    "survival": survival,
                    "ci_lower": lower,
                    "ci_upper": upper,
                    "at_risk": np.asarray(fit.n_risk, dtype="int64"),
                    "events": np.asarray(fit.n_events, dtype="int64"),
                }
            )
        )
    if not curves:
        return pd.DataFrame(columns=list(KM_COLUMNS))
    return pd.concat(curves, ignore_index=True)[list(KM_COLUMNS)]


def second_order_rates(
    durations: pd.DataFrame,
    *,
    by: str | None = None,
    days: Sequence[int] = (30, 60, 90),
    min_known: int = 30,
) -> pd.DataFrame:
    """Share of customers with a second order within 30, 60, 90 days, censoring-aware.

    Transforms *durations* (one row per customer, as from :func:`second_order_durations`)
    into one row per group and horizon in ``days``: *group, days, customers, events* (second
    orders within ``days``), *known* (customers whose outcome at ``days`` is known: a second
    order by then, or observed for at least ``days`` days), *at_risk* (no second order and
    observed at ``days``), *second_order_rate* = 1 - S(days) from the Kaplan-Meier curve,
    *ci_lower, ci_upper* (95%: 1 minus the log-log Greenwood bounds of S, as in
    :func:`km_curves`) and *sparse*: True when fewer than ``min_known`` customers are known
    at ``days`` (the estimate rests on few customers; beyond the longest follow-up it is
    the last value carried forward).

    Parameters
    ----------
    durations : pd.DataFrame
        One row per customer.
    by : str, optional
        A group column; None gives one row per horizon with group ``"all"``.
    days : sequence of int, default (30, 60, 90)
    min_known : int, default 30

    Returns
    -------
    pd.DataFrame
        Columns :data:`RATE_COLUMNS`.

    References
    ----------
    .. [1] Kaplan, E. L. & Meier, P. (1958). JASA 53(282), 457-481.
    .. [2] Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data, 2nd ed., section 1.4.
    """
    _check_durations(durations, by)
    rows_out = []
    for group, rows in _groups(durations, by):
        fit = _fit(rows)
        times = np.asarray(fit.surv_times, dtype="float64")
        survival = np.asarray(fit.surv_prob, dtype="float64")
        se = np.asarray(fit.surv_prob_se, dtype="float64")
        lower, upper = _loglog_ci(survival, se)
        duration = rows["duration_days"].to_numpy(dtype="float64")
        event = rows["event"].to_numpy(dtype="bool")
        for horizon in days:
            at = int(np.searchsorted(times, horizon, side="right")) - 1
            s, lo, hi = (1.0, 1.0, 1.0) if at < 0 else (survival[at], lower[at], upper[at])
            events = event & (duration <= horizon)
            rows_out.append(
                {
                    "group": group,
                    "days": int(horizon),
                    "customers": len(rows),
                    "events": int(events.sum()),
                    "known": int((events | (duration >= horizon)).sum()),
                    "at_risk": int(((duration >= horizon) & ~events).sum()),
                    "second_order_rate": 1.0 - s,
                    "ci_lower": 1.0 - hi,
                    "ci_upper": 1.0 - lo,
                }
            )
    rates = pd.DataFrame(rows_out, columns=list(RATE_COLUMNS[:-1]))
    rates["group"] = rates["group"].astype("str")
    rates["sparse"] = rates["known"] < min_known
    return rates
