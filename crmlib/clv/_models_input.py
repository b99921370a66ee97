"""Checked inputs of the model fits: summary arrays, purchase patterns, spend arrays, options."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.clv._likelihoods import (
    _UNIT_WORDS,
    TRANSACTION_MODELS,
    Array,
    IntArray,
    _Data,
    _group_codes,
)
from crmlib.errors import DataContractError

__all__: list[str] = []

_UNITS = tuple(_UNIT_WORDS)
_SUMMARY_COLUMNS = ("frequency", "recency", "T")


def _summary_arrays(summary: pd.DataFrame) -> tuple[Array, Array, Array]:
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


def _patterns_of(x: Array, t_x: Array, age: Array) -> tuple[pd.DataFrame, IntArray]:
    codes, first = _group_codes(x, t_x, age)
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
class _Prepared:
    """A checked summary: per-customer arrays, the lifetimes ``data`` frame and the patterns."""

    x: Array
    t_x: Array
    age: Array
    frame: pd.DataFrame
    data: _Data

    @classmethod
    def of(cls, summary: pd.DataFrame) -> _Prepared:
        x, t_x, age = _summary_arrays(summary)
        patterns, _ = _patterns_of(x, t_x, age)
        data = _Data.build(
            patterns["frequency"].to_numpy(dtype=float), patterns["recency"].to_numpy(dtype=float),
            patterns["T"].to_numpy(dtype=float), patterns["weights"].to_numpy(dtype=float),
        )  # fmt: skip
        frame = pd.DataFrame(
            {"frequency": x.astype(np.int64), "recency": t_x, "T": age,
             "weights": np.ones(x.size, dtype=np.int64)},
            index=summary.index,
        )  # fmt: skip
        return cls(x=x, t_x=t_x, age=age, frame=frame, data=data)


def _check_options(model: str, penalizer: float, unit: str) -> None:
    if model not in TRANSACTION_MODELS:
        raise ValueError(
            f"model={model!r} is not a transaction model; expected one of "
            f"{list(TRANSACTION_MODELS)}"
        )
    if unit not in _UNITS:
        raise ValueError(f"unit={unit!r} is not supported; expected one of {list(_UNITS)}")
    if not (penalizer >= 0 and math.isfinite(penalizer)):
        raise ValueError(f"penalizer={penalizer!r}: expected a finite number >= 0")


def _check_summary_unit(summary: pd.DataFrame, unit: str) -> None:
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


def _spend_arrays(summary: pd.DataFrame) -> tuple[Array, Array]:
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
