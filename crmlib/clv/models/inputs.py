"""Checked inputs of the model fits and predictions: summary arrays, purchase patterns, spend
arrays, options, and the per-customer histories (and their unique rows) the closed forms read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.clv.models.base import (
    TRANSACTION_MODELS,
    UNIT_WORDS,
    Array,
    IntArray,
    PatternData,
    group_codes,
)
from crmlib.errors import DataContractError

__all__ = [
    "summary_arrays",
    "patterns_of",
    "Prepared",
    "check_options",
    "check_summary_unit",
    "spend_arrays",
    "HISTORY_COLUMNS",
    "history",
    "unique_rows",
    "customer_ids",
    "monetary",
]

_UNITS = tuple(UNIT_WORDS)
_SUMMARY_COLUMNS = ("frequency", "recency", "T")


def summary_arrays(summary: pd.DataFrame) -> tuple[Array, Array, Array]:
    """frequency, recency, T as float arrays, checked against lifetimes' rules."""
    require_columns(summary, list(_SUMMARY_COLUMNS), table_name="summary")
    if summary.empty:
        raise DataContractError("summary: no customers; expected one row per customer")
    arrays = []
    for column in _SUMMARY_COLUMNS:
        values = _numbers(summary[column])
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise DataContractError(
                f"summary: column '{column}' has {bad} customers with a missing or non-numeric "
                "value; expected a finite number for every customer"
            )
        if np.any(values < 0):
            raise DataContractError(
                f"summary: column '{column}' is negative for "
                f"{int(np.count_nonzero(values < 0))} customers; expected >= 0"
            )
        arrays.append(values)
    x, t_x, age = arrays
    problems = {
        "frequency is not a whole number": x != np.round(x),
        "recency > T": t_x > age,
        "recency != 0 with frequency 0": (x == 0) & (t_x != 0),
    }
    for what, mask in problems.items():
        if mask.any():
            raise DataContractError(
                f"summary: {what} for {int(mask.sum())} customers; expected lifetimes' "
                "frequency (repeat purchases), recency and T (time since the first purchase)"
            )
    return x, t_x, age


def patterns_of(x: Array, t_x: Array, age: Array) -> tuple[pd.DataFrame, IntArray]:
    codes, first = group_codes(x, t_x, age)
    patterns = pd.DataFrame(
        {
            "frequency": x[first].astype(np.int64),
            "recency": t_x[first],
            "T": age[first],
            "weights": np.bincount(codes, minlength=first.size).astype(np.int64),
        }
    )
    return patterns, codes


@dataclass(frozen=True)
class Prepared:
    """A checked summary: per-customer arrays, the lifetimes ``data`` frame and the patterns."""

    x: Array
    t_x: Array
    age: Array
    frame: pd.DataFrame
    data: PatternData

    @classmethod
    def of(cls, summary: pd.DataFrame) -> Prepared:
        x, t_x, age = summary_arrays(summary)
        patterns, _ = patterns_of(x, t_x, age)
        data = PatternData.build(
            patterns["frequency"].to_numpy(dtype=float), patterns["recency"].to_numpy(dtype=float),
            patterns["T"].to_numpy(dtype=float), patterns["weights"].to_numpy(dtype=float),
        )  # fmt: skip
        frame = pd.DataFrame(
            {"frequency": x.astype(np.int64), "recency": t_x, "T": age,
             "weights": np.ones(x.size, dtype=np.int64)},
            index=summary.index,
        )  # fmt: skip
        return cls(x=x, t_x=t_x, age=age, frame=frame, data=data)


def check_options(model: str, penalizer: float, unit: str) -> None:
    if model not in TRANSACTION_MODELS:
        raise ValueError(
            f"model={model!r} is not a transaction model; expected one of "
            f"{list(TRANSACTION_MODELS)}"
        )
    if unit not in _UNITS:
        raise ValueError(f"unit={unit!r} is not supported; expected one of {list(_UNITS)}")
    if not (penalizer >= 0 and math.isfinite(penalizer)):
        raise ValueError(f"penalizer={penalizer!r}: expected a finite number >= 0")


def check_summary_unit(summary: pd.DataFrame, unit: str) -> None:
    """A summary that says its unit (``attrs["unit"]``, see crmlib.clv) must match ``unit``."""
    found = summary.attrs.get("unit")
    if found is not None and found != unit:
        raise ValueError(
            f"the summary's recency and T are in {found!r} (attrs['unit']) but unit={unit!r}; "
            f"pass unit={found!r}"
        )


def _numbers(column: pd.Series) -> Array:
    """A column as floats, NaN where missing or not a number (nullable dtypes too)."""
    return np.asarray(
        pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan),
        dtype=float,
    )


def spend_arrays(summary: pd.DataFrame) -> tuple[Array, Array]:
    """frequency and monetary_value as floats; monetary_value may be missing for one-timers."""
    require_columns(summary, ["frequency", "monetary_value"], table_name="summary")
    x, m = _numbers(summary["frequency"]), _numbers(summary["monetary_value"])
    checks = {
        "frequency": ~np.isfinite(x),
        "monetary_value": ~np.isfinite(m) & np.isfinite(x) & (x > 0),
    }
    for column, bad in checks.items():
        if bad.any():
            raise DataContractError(
                f"summary: column '{column}' has {int(bad.sum())} "
                f"{'repeat ' if column == 'monetary_value' else ''}customers with a missing or "
                "non-numeric value; expected a finite number"
            )
    if np.any((x < 0) | (x != np.round(x))):
        raise DataContractError(
            "summary: column 'frequency' is negative or not a whole number for "
            f"{int(np.count_nonzero((x < 0) | (x != np.round(x))))} customers"
        )
    return x, np.where(x > 0, m, 0.0)


# -- summary tables and unique histories ------------------------------------------------
#: The summary columns the value functions read (one row per customer).
HISTORY_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def history(
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


def unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
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


def customer_ids(summary: pd.DataFrame) -> pd.Series:
    if "customer_id" in summary.columns:
        return summary["customer_id"].reset_index(drop=True)
    return pd.Series(summary.index.to_numpy(), name="customer_id")


def monetary(summary: pd.DataFrame, x: np.ndarray) -> np.ndarray:
    if "monetary_value" not in summary.columns:
        raise DataContractError(
            f"summary: column 'monetary_value' is missing; found "
            f"{sorted(map(str, summary.columns))}, expected {list(HISTORY_COLUMNS)}"
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
