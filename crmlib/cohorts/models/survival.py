"""Kaplan–Meier estimates of the time to a second order: curves and second-order rates.

It works on the per-customer durations of :func:`crmlib.cohorts.second_order_durations`; the
estimator is :mod:`crmlib.survival`'s, shared with 07_ab_test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlib.errors import DataContractError
from crmlib.survival import KaplanMeier, kaplan_meier, loglog_interval

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


def _fit(rows: pd.DataFrame) -> KaplanMeier:
    return kaplan_meier(rows["duration_days"].to_numpy(), rows["event"].to_numpy(dtype=bool))


def km_curves(durations: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier curves of the time to a second order, overall or by group.

    Transforms *durations* (one row per customer: ``duration_days``, ``event``, as from
    :func:`second_order_durations`) into one row per group and distinct event time:
    *group, time_days, survival* (S(t), the share still without a second order after
    ``time_days`` days), *ci_lower, ci_upper* (95% pointwise, Greenwood variance from
    Greenwood standard error, log-log transform; :mod:`crmlib.survival`), *at_risk* (customers
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
        lower, upper = loglog_interval(fit.survival, fit.se)
        curves.append(
            pd.DataFrame(
                {
                    "group": pd.array([group] * len(fit.time), dtype="str"),
                    "time_days": fit.time,
                    "survival": fit.survival,
                    "ci_lower": lower,
                    "ci_upper": upper,
                    "at_risk": fit.at_risk,
                    "events": fit.events,
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
        times, survival = fit.time, fit.survival
        lower, upper = loglog_interval(survival, fit.se)
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
