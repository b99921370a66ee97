"""The empirical fallback: each customer's observed repeat-purchase rate continues (no model).

Not a fitted model (:func:`crmlib.clv.choice.empirical_model`): rate = frequency / T, P(alive) = 1,
no population distribution and no likelihood; its closed forms let it be used wherever a
transaction model is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crmlib.clv.models.base import Kernel, Theta, always_alive

__all__ = [
    "observed_rate",
    "empirical_alive_expected",
    "empirical_pmf",
    "empirical_expected",
    "empirical_log_likelihood",
    "KERNEL",
]


def observed_rate(x: Any, T: Any) -> np.ndarray:
    """Repeat purchases per unit of time observed, x / T (0 for a customer observed for 0 time)."""
    x, T = np.broadcast_arrays(np.asarray(x, dtype="float64"), np.asarray(T, dtype="float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(T > 0, x / np.where(T > 0, T, 1.0), 0.0))


def empirical_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """The empirical fallback: the customer's observed rate x / T continues for t."""
    return np.asarray(observed_rate(x, T) * t)


def empirical_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """No population distribution without a model: NaN."""
    return np.full((len(np.atleast_1d(t)), max_n + 1), np.nan)


def empirical_expected(theta: Theta, t: Any) -> np.ndarray:
    """A new customer at the pooled observed rate (theta = (sum x / sum T,))."""
    return np.asarray(theta[0] * np.asarray(t, dtype="float64"))


def empirical_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """No likelihood: the empirical CLV is not a fitted model."""
    return np.full(np.broadcast(np.asarray(x), np.asarray(t_x), np.asarray(T)).shape, np.nan)


#: The empirical fallback's closed forms (P(alive) = 1).
KERNEL = Kernel(
    empirical_alive_expected,
    always_alive,
    empirical_pmf,
    empirical_expected,
    empirical_log_likelihood,
)
