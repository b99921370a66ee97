"""Shared CLV building blocks: time units and discounting, fitted parameters, histories, values."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._formulas import (
    _KERNELS,
    _pnbd_log_part,
    _pnbd_p_alive_from_parts,
    _spend_per_order,
)
from crmlib.errors import DataContractError

__all__ = [
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "UNKNOWN_GROUP",
    "discount_rate_per_unit",
    "monthly_discount_rate",
    "model_kind",
]

log = logging.getLogger(__name__)

#: Days in a year and in a month (Julian year), the basis of every rate and horizon conversion.
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: Group value of customers without a row (or with a null value) in the ``groups`` table.
UNKNOWN_GROUP = "(unknown)"

_KNOWN_UNITS = {"day": 1.0, "week": 7.0}
_SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
_ALL_GROUPS = "All customers"


# -- time units and discounting ---------------------------------------------------------------
def discount_rate_per_unit(annual_rate: float, *, days_per_unit: float) -> float:
    """The discount rate per period of ``days_per_unit`` days equivalent to ``annual_rate``.

    Compounding: ``(1 + annual_rate) ** (days_per_unit / 365.25) - 1``, so discounting over a
    year of such periods gives exactly ``1 / (1 + annual_rate)``.

    Examples
    --------
    >>> round(discount_rate_per_unit(0.10, days_per_unit=7), 8)  # one week at 10% a year
    0.00182828
    >>> round(discount_rate_per_unit(0.10, days_per_unit=365.25), 12)
    0.1
    """
    if not annual_rate > -1:
        raise ValueError(f"annual_rate={annual_rate}: expected a rate above -1 (e.g. 0.10)")
    if not days_per_unit > 0:
        raise ValueError(f"days_per_unit={days_per_unit}: expected a positive number of days")
    return float((1.0 + annual_rate) ** (days_per_unit / DAYS_PER_YEAR) - 1.0)


def monthly_discount_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to ``annual_rate``: ``(1 + annual_rate) ** (1 / 12) - 1``.

    Examples
    --------
    >>> round(monthly_discount_rate(0.10), 10)
    0.0079741404
    """
    return discount_rate_per_unit(annual_rate, days_per_unit=DAYS_PER_MONTH)


def _check_unit(unit: str, days_per_unit: float) -> None:
    if not days_per_unit > 0:
        raise ValueError(f"days_per_unit={days_per_unit}: expected a positive number of days")
    known = _KNOWN_UNITS.get(unit)
    if known is not None and known != days_per_unit:
        raise ValueError(
            f"unit={unit!r} but days_per_unit={days_per_unit}: a {unit} is {known:g} days"
        )


def _days_per_unit(unit: str, days_per_unit: float | None) -> float:
    if days_per_unit is None:
        if unit not in _KNOWN_UNITS:
            raise ValueError(
                f"unit={unit!r}: pass days_per_unit (known units: {sorted(_KNOWN_UNITS)})"
            )
        return _KNOWN_UNITS[unit]
    _check_unit(unit, days_per_unit)
    return float(days_per_unit)


# -- fitted models: kind, parameter names and values ------------------------------------------
@dataclass(frozen=True)
class _Model:
    """A fitted transaction model: its kind, parameter names and values."""

    kind: str  # "bgnbd" | "mbgnbd" | "pnbd"
    names: tuple[str, ...]
    theta: np.ndarray

    @property
    def label(self) -> str:
        return _LABELS[self.kind]


_TRANSACTION_CLASSES = {
    "BetaGeoFitter": ("bgnbd", ("r", "alpha", "a", "b")),
    "ModifiedBetaGeoFitter": ("mbgnbd", ("r", "alpha", "a", "b")),
    "ParetoNBDFitter": ("pnbd", ("r", "alpha", "s", "beta")),
    # crmlib's own (crmlib.clv._models_fitters): the fallbacks without dropout
    "NBDFitter": ("nbd", ("r", "alpha")),
    "EmpiricalRateModel": ("empirical", ("repeat_rate",)),
}
_LABELS = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "pnbd": "Pareto/NBD",
    "nbd": "NBD (no dropout)",
    "empirical": "Observed spend rate",
}
_NAMES = {kind: names for kind, names in _TRANSACTION_CLASSES.values()}
#: Spend models: lifetimes' Gamma-Gamma, or crmlib's observed spend (the fallback).
_SPEND_CLASSES = {"GammaGammaFitter": ("p", "q", "v"), "ObservedSpendModel": ("mean_spend",)}
_SPEND_NAMES = _SPEND_CLASSES["GammaGammaFitter"]


def _unwrap(fitted: Any) -> Any:
    """A lifetimes fitter, also when wrapped in an object with a ``fitter`` attribute."""
    if not hasattr(fitted, "params_") and hasattr(fitted, "fitter"):
        return fitted.fitter
    return fitted


def _fitted_params(fitter: Any, names: Sequence[str], what: str) -> np.ndarray:
    params = getattr(fitter, "params_", None)
    if params is None:
        raise ValueError(f"{what} {type(fitter).__name__} is not fitted (no params_)")
    try:
        values = np.array([float(params[name]) for name in names])
    except KeyError as exc:
        raise ValueError(
            f"{what} {type(fitter).__name__}: parameter {exc} missing from params_"
        ) from None
    return values


def _class_name(fitter: Any, known: Mapping[str, Any] | Sequence[str]) -> str | None:
    """The first class of ``fitter``'s MRO that is ``known`` (subclasses of lifetimes' fitters)."""
    for cls in type(fitter).__mro__:
        if cls.__name__ in known:
            return cls.__name__
    return None


def model_kind(fitter: Any) -> str:
    """``"bgnbd"``, ``"mbgnbd"`` or ``"pnbd"`` for a fitted lifetimes transaction model.

    Subclasses count as their lifetimes base class (e.g. a guarded ParetoNBDFitter).
    """
    fitter = _unwrap(fitter)
    name = _class_name(fitter, _TRANSACTION_CLASSES)
    if name is None:
        raise ValueError(
            f"transaction model {type(fitter).__name__} is not supported; expected one of "
            f"{sorted(_TRANSACTION_CLASSES)}"
        )
    return _TRANSACTION_CLASSES[name][0]


def _transaction_model(fitter: Any) -> _Model:
    fitter = _unwrap(fitter)
    kind = model_kind(fitter)
    names = _NAMES[kind]
    return _Model(kind, names, _fitted_params(fitter, names, "transaction model"))


def _spend_names(fitter: Any) -> tuple[str, ...]:
    """Parameter names of a spend model: Gamma-Gamma ``(p, q, v)`` or ``(mean_spend,)``."""
    name = _class_name(_unwrap(fitter), _SPEND_CLASSES)
    if name is None:
        raise ValueError(
            f"spend model {type(_unwrap(fitter)).__name__}: expected a GammaGammaFitter "
            "(or crmlib's ObservedSpendModel)"
        )
    return _SPEND_CLASSES[name]


def _spend_params(fitter: Any) -> np.ndarray:
    """The spend model's parameters: Gamma-Gamma's (p, q, v), or the observed mean spend."""
    return _fitted_params(_unwrap(fitter), _spend_names(fitter), "spend model")


# -- summary tables and unique histories ------------------------------------------------------
def _history(
    table: pd.DataFrame,
    columns: Sequence[str],
    *,
    table_name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataContractError(
            f"{table_name}: column '{missing[0]}' is missing; found "
            f"{sorted(map(str, table.columns))}, expected {list(columns)}"
        )
    arrays = [pd.to_numeric(table[c], errors="coerce").to_numpy(dtype="float64") for c in columns]
    frequency, recency, age = arrays
    for name, values in zip(columns, arrays, strict=True):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise DataContractError(
                f"{table_name}: column '{name}' has {int(bad.sum())} missing, non-numeric or "
                "negative values"
            )
    if np.any(frequency != np.round(frequency)):
        raise DataContractError(f"{table_name}: column '{columns[0]}' has non-integer values")
    late = recency > age * (1 + 1e-12)
    if late.any():
        raise DataContractError(
            f"{table_name}: {int(late.sum())} customers have {columns[1]} > {columns[2]} "
            "(last purchase after the end of the observation)"
        )
    return frequency, recency, age


def _unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(inverse, uniques): ``uniques[k][inverse] == columns[k]``."""
    inverse = np.zeros(len(columns[0]), dtype="int64")
    n_codes = 1
    for column in columns:
        codes, uniques = pd.factorize(column, sort=False)
        inverse, combined = pd.factorize(inverse * max(len(uniques), 1) + codes, sort=False)
        n_codes = len(combined)
    representatives = np.zeros(n_codes, dtype="int64")
    representatives[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return inverse.astype("int64"), [column[representatives] for column in columns]


def _customer_ids(summary: pd.DataFrame) -> pd.Series:
    if "customer_id" in summary.columns:
        return summary["customer_id"].reset_index(drop=True)
    return pd.Series(summary.index.to_numpy(), name="customer_id")


def _monetary(summary: pd.DataFrame, x: np.ndarray) -> np.ndarray:
    if "monetary_value" not in summary.columns:
        raise DataContractError(
            f"summary: column 'monetary_value' is missing; found "
            f"{sorted(map(str, summary.columns))}, expected {list(_SUMMARY_COLUMNS)}"
        )
    m = pd.to_numeric(summary["monetary_value"], errors="coerce").to_numpy(dtype="float64")
    m = np.where((x == 0) & ~np.isfinite(m), 0.0, m)  # no repeat order: weight 0 in Gamma-Gamma
    bad = (x > 0) & (~np.isfinite(m) | (m < 0))
    if bad.any():
        raise DataContractError(
            f"summary: {int(bad.sum())} customers with repeat purchases have a missing or "
            "negative 'monetary_value' (mean spend per repeat order)"
        )
    return m


# -- horizon grid and per-customer values ----------------------------------------------------
@dataclass(frozen=True)
class _Grid:
    """Month boundaries of the horizon in model units and each month's discount factor."""

    times: np.ndarray  # (H + 1,), times[0] = 0
    discount: np.ndarray  # (H,), factor of month k = 1..H

    @property
    def months(self) -> int:
        return len(self.discount)


def _grid(horizon_months: int, *, units_per_month: float, monthly_rate: float) -> _Grid:
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months}: expected a whole number >= 1")
    steps = np.arange(1, int(horizon_months) + 1)
    times = np.concatenate([[0.0], steps * units_per_month])
    return _Grid(times, 1.0 / (1.0 + monthly_rate) ** steps)


def _monthly_increments(model: _Model, x: np.ndarray, T: np.ndarray, grid: _Grid) -> np.ndarray:
    """E[purchases in month k | alive, x, T] for each (x, T) row: shape (len(x), H)."""
    alive_expected = _KERNELS[model.kind].alive_expected
    cumulative = alive_expected(model.theta, grid.times[None, 1:], x[:, None], T[:, None])
    return np.diff(cumulative, axis=1, prepend=0.0)


@dataclass(frozen=True)
class _Values:
    p_alive: np.ndarray
    purchases: np.ndarray  # expected purchases over the horizon
    spend_per_order: np.ndarray
    discounted_purchases: np.ndarray  # sum_k discount_k * E[purchases in month k]
    pair_index: np.ndarray  # (x, T) pair of each customer
    pair_x: np.ndarray
    pair_T: np.ndarray
    pair_increments: np.ndarray  # (pairs, H)


def _p_alive_unique(model: _Model, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive) per customer, each formula evaluated once per unique history."""
    if model.kind == "pnbd":
        rec_index, (rec_x, rec_tx) = _unique_rows(x, t_x)
        age_index, (age_x, age_T) = _unique_rows(x, T)
        part_tx = _pnbd_log_part(model.theta, rec_x, rec_tx)[rec_index]
        part_T = _pnbd_log_part(model.theta, age_x, age_T)[age_index]
        return _pnbd_p_alive_from_parts(model.theta, x, T, part_tx, part_T, t_x)
    return np.broadcast_to(_KERNELS[model.kind].p_alive(model.theta, x, t_x, T), x.shape)


def _values(
    model: _Model,
    spend: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    m: np.ndarray,
    grid: _Grid,
) -> _Values:
    pair_index, (pair_x, pair_T) = _unique_rows(x, T)
    increments = _monthly_increments(model, pair_x, pair_T, grid)
    p_alive = _p_alive_unique(model, x, t_x, T)
    purchases = p_alive * increments.sum(axis=1)[pair_index]
    discounted = p_alive * (increments @ grid.discount)[pair_index]
    return _Values(
        p_alive=np.asarray(p_alive, dtype="float64"),
        purchases=purchases,
        spend_per_order=_spend_per_order(spend, x, m),
        discounted_purchases=discounted,
        pair_index=pair_index,
        pair_x=pair_x,
        pair_T=pair_T,
        pair_increments=increments,
    )


# -- groups -----------------------------------------------------------------------------------
def _group_labels(customer_ids: pd.Series, groups: pd.DataFrame | None, by: str) -> pd.Series:
    if groups is None:
        return pd.Series(_ALL_GROUPS, index=range(len(customer_ids)), dtype="str")
    for column in ("customer_id", by):
        if column not in groups.columns:
            raise DataContractError(
                f"groups: column '{column}' is missing; found "
                f"{sorted(map(str, groups.columns))}, expected ['customer_id', '{by}']"
            )
    duplicated = groups["customer_id"].duplicated()
    if duplicated.any():
        raise DataContractError(
            f"groups: {int(duplicated.sum())} customer_id values appear more than once"
        )
    lookup = pd.Series(
        groups[by].astype("object").to_numpy(), index=groups["customer_id"].astype("str")
    )
    labels = customer_ids.astype("str").map(lookup)
    labels = labels.where(labels.notna(), UNKNOWN_GROUP).astype("str")
    unmatched = int((labels == UNKNOWN_GROUP).sum())
    if unmatched:
        log.info("%d customers have no %r: grouped as %r", unmatched, by, UNKNOWN_GROUP)
    return labels.reset_index(drop=True)
