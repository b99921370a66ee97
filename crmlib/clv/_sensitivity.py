"""CLV sensitivity to the discount rate, the horizon and the calibration cut-off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._value_base import (
    _SUMMARY_COLUMNS,
    DAYS_PER_MONTH,
    _check_unit,
    _grid,
    _history,
    _monetary,
    _spend_params,
    _transaction_model,
    _values,
    monthly_discount_rate,
)
from crmlib.errors import DataContractError

__all__ = ["SENSITIVITY_COLUMNS", "sensitivity", "sensitivity_table", "cutoff_sensitivity"]

#: Columns of :func:`sensitivity_table` and :func:`cutoff_sensitivity`.
SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "parameter", "setting", "customers", "total_clv", "mean_clv", "is_base", "change_vs_base",
)  # fmt: skip


def sensitivity(
    transaction_fitter: Any,
    spend_fitter: Any,
    summary: pd.DataFrame,
    *,
    annual_discount_rates: Sequence[float] = (0.0, 0.05, 0.10, 0.15, 0.20),
    horizons_months: Sequence[int] = (6, 12, 24, 36),
    base_discount_rate: float = 0.10,
    base_horizon_months: int = 12,
    margin: float = 0.30,
    unit: str = "week",
    days_per_unit: float = 7.0,
) -> pd.DataFrame:
    """Total and mean CLV over a grid of annual discount rates x horizons.

    Transforms *summary* (one row per customer, as for :func:`customer_value`) into one row
    per (``annual_discount_rate``, ``horizon_months``): ``customers``, ``total_clv``,
    ``mean_clv`` (currency), ``is_base`` and ``change_vs_base`` (relative to the base
    setting's total, which is added to the grid when missing). Expected purchases are computed
    once for the longest horizon; each cell is then a weighted sum.
    """
    _check_unit(unit, days_per_unit)
    model = _transaction_model(transaction_fitter)
    spend = _spend_params(spend_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    m = _monetary(summary, x)
    rates = sorted({float(r) for r in annual_discount_rates} | {float(base_discount_rate)})
    horizons = sorted({int(h) for h in horizons_months} | {int(base_horizon_months)})
    grid = _grid(max(horizons), units_per_month=DAYS_PER_MONTH / days_per_unit, monthly_rate=0)
    values = _values(model, spend, x, t_x, T, m, grid)
    weight = np.bincount(
        values.pair_index,
        weights=margin * values.p_alive * values.spend_per_order,
        minlength=len(values.pair_x),
    )
    monthly_margin = weight @ values.pair_increments  # undiscounted margin of month k
    months = np.arange(1, grid.months + 1)
    rows = []
    for rate in rates:
        discounted = monthly_margin / (1 + monthly_discount_rate(rate)) ** months
        for horizon in horizons:
            total = float(discounted[:horizon].sum())
            rows.append((rate, horizon, len(x), total, total / len(x) if len(x) else np.nan))
    table = pd.DataFrame(
        rows, columns=["annual_discount_rate", "horizon_months", "customers", "total_clv",
                       "mean_clv"],
    )  # fmt: skip
    table["is_base"] = (table["annual_discount_rate"] == float(base_discount_rate)) & (
        table["horizon_months"] == int(base_horizon_months)
    )
    base_total = float(table.loc[table["is_base"], "total_clv"].iloc[0])
    table["change_vs_base"] = table["total_clv"] / base_total - 1 if base_total else np.nan
    table.attrs = {
        "margin": float(margin),
        "units": {"total_clv": "currency", "mean_clv": "currency per customer"},
    }
    return table


def sensitivity_table(
    rows: Iterable[Mapping[str, Any]],
    *,
    base: str | None = None,
) -> pd.DataFrame:
    """Format caller-computed sensitivity results (e.g. refits at other calibration cut-offs).

    Transforms *rows* (one mapping per scenario with ``parameter`` (what was varied),
    ``setting`` (its value), ``total_clv`` and ``mean_clv``, optionally ``customers``) into one
    row per scenario with the columns :data:`SENSITIVITY_COLUMNS`; ``change_vs_base`` is
    relative to the row whose ``setting`` equals ``base`` (the first row when None).

    Examples
    --------
    >>> sensitivity_table([
    ...     {"parameter": "calibration cut-off", "setting": "2025-06-30", "total_clv": 100.0,
    ...      "mean_clv": 1.0},
    ...     {"parameter": "calibration cut-off", "setting": "2025-03-31", "total_clv": 90.0,
    ...      "mean_clv": 0.9}])["change_vs_base"].round(3).tolist()
    [0.0, -0.1]
    """
    frame = pd.DataFrame(list(rows))
    needed = ["parameter", "setting", "total_clv", "mean_clv"]
    missing = [c for c in needed if c not in frame.columns]
    if frame.empty or missing:
        raise DataContractError(
            f"sensitivity rows: expected keys {needed}; missing {missing or needed}"
        )
    if "customers" not in frame.columns:
        frame["customers"] = pd.NA
    frame["setting"] = frame["setting"].astype("str")
    if base is None:
        is_base = np.arange(len(frame)) == 0
    else:
        is_base = (frame["setting"] == str(base)).to_numpy()
        if not is_base.any():
            raise ValueError(f"base={base!r} is not one of the settings {list(frame['setting'])}")
    frame["is_base"] = is_base
    base_total = float(frame.loc[frame["is_base"], "total_clv"].iloc[0])
    frame["change_vs_base"] = frame["total_clv"].astype("float64") / base_total - 1
    return frame[list(SENSITIVITY_COLUMNS)].reset_index(drop=True)


def cutoff_sensitivity(
    fits: Mapping[str, tuple[Any, Any]],
    summary: pd.DataFrame,
    *,
    base: str,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 0.30,
    unit: str = "week",
    days_per_unit: float = 7.0,
    as_of_date: dt.date | str,
) -> pd.DataFrame:
    """CLV of the same customers scored with models fitted at different calibration cut-offs.

    *fits* maps a cut-off label to the (transaction, spend) fitters the caller fitted on data
    up to that cut-off; *summary* (one row per customer, observed to ``as_of_date``) is scored
    with each. Returns :func:`sensitivity_table` rows with ``parameter`` = "calibration
    cut-off".
    """
    # imported here: crmlib.clv._value re-exports this module, so a top-level import would cycle
    from crmlib.clv._value import customer_value

    rows = []
    for label, (transaction_fitter, spend_fitter) in fits.items():
        clv = customer_value(
            transaction_fitter, spend_fitter, summary,
            horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
            margin=margin, unit=unit, days_per_unit=days_per_unit, as_of_date=as_of_date,
        )["clv"]  # fmt: skip
        rows.append({"parameter": "calibration cut-off", "setting": str(label),
                     "customers": len(clv), "total_clv": float(clv.sum()),
                     "mean_clv": float(clv.mean())})  # fmt: skip
    return sensitivity_table(rows, base=base)
