"""What every CLV model shares: names, labels, parameter names, time-unit words, the purchase
patterns the likelihoods run on, the guards of an objective, and the kernel record.

The per-model modules import from here and nothing here imports them; the registries keyed
by model name (:data:`~crmlib.clv.models.registry.KERNELS`,
:data:`~crmlib.clv.models.registry.OBJECTIVES`) are assembled in
:mod:`crmlib.clv.models.registry`.

Every objective is written in the log-parameters the optimizer walks in: ``log a`` enters as
itself (never ``log(exp(log a))``), ratios of gamma functions that cancel at the edges of the
parameter space (``gammaln(a + b) - gammaln(b)`` loses every digit once ``b`` is ~1e12) are
cumulative sums of ``log1p`` terms over the distinct frequencies (:func:`rising`,
:func:`beta_ratio`), and a parameter vector whose exponential under- or overflows gives the
objective ``+inf`` (the line search steps back). So a fit whose optimizer walks to a boundary
(dropout ``a -> 0``, ``b -> inf``) sees a finite value or ``+inf``, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "Array",
    "Params",
    "IntArray",
    "Theta",
    "MODELS",
    "TRANSACTION_MODELS",
    "MODEL_LABELS",
    "PARAMETER_NAMES",
    "UNIT_WORDS",
    "group_codes",
    "PatternData",
    "SpendData",
    "positive",
    "out_of_range",
    "finish_objective",
    "rising",
    "beta_ratio",
    "always_alive",
    "Kernel",
]

# -- the models, their parameters and time units -----------------------------------------------
Array = npt.NDArray[np.float64]
#: Model parameters, as lifetimes passes them (a list) or as the fits do (an array).
Params = Sequence[float] | Array
IntArray = npt.NDArray[np.int64]

#: Candidate transaction models (with dropout), in the order they are fitted and reported.
MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "paretonbd")
#: Every transaction model :func:`crmlib.clv.models.fitting.fit_transactions_model` fits: the candidates and
#: the NBD (purchases without dropout), the fallback when the dropout estimate collapses.
TRANSACTION_MODELS: tuple[str, ...] = (*MODELS, "nbd")
#: Display names of the models (including the spend model ``"gammagamma"`` and the fallbacks).
MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "paretonbd": "Pareto/NBD",
    "nbd": "NBD (no dropout)",
    "empirical": "Observed spend rate",
    "gammagamma": "Gamma-Gamma",
    "observed_spend": "Observed spend per order",
}
#: Parameter names per model, as lifetimes names them (Gamma-Gamma ``v`` is the paper's gamma).
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
    "nbd": ("r", "alpha"),
    "gammagamma": ("p", "q", "v"),
}
#: Time units of recency and T (those of :mod:`crmlib.clv.queries`, and month), in words.
UNIT_WORDS = {"day": "days", "week": "weeks", "calendar_week": "weeks", "month": "months"}

Theta = Sequence[Any] | np.ndarray  # parameters in model order; floats or arrays that broadcast


# -- patterns -----------------------------------------------------------------------------------
def group_codes(*columns: np.ndarray) -> tuple[IntArray, IntArray]:
    """Codes 0..k-1 of the distinct rows of ``columns`` (sorted), and each code's first row."""
    frame = pd.DataFrame({f"c{i}": col for i, col in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy(dtype=np.int64)
    first = np.unique(codes, return_index=True)[1].astype(np.int64)
    return codes, first


@dataclass(frozen=True)
class PatternData:
    """Purchase patterns laid out for fast likelihood evaluation (one row per pattern).

    ``x_u``: distinct frequencies (row -> ``ix``), ``xT_*``: distinct (frequency, T) pairs
    (row -> ``iT``), ``xR_*``: distinct (frequency, recency) pairs (row -> ``iR``).
    """

    x: Array
    t_x: Array
    age: Array
    w: Array
    x_u: Array
    w_x: Array
    ix: IntArray
    xT_x: Array
    xT_T: Array
    iT: IntArray
    xR_x: Array
    xR_t: Array
    iR: IntArray

    @property
    def total(self) -> float:
        return float(self.w.sum())

    @classmethod
    def build(cls, x: Array, t_x: Array, age: Array, w: Array) -> PatternData:
        x_u, ix = np.unique(x, return_inverse=True)
        iT, first_T = group_codes(x, age)
        iR, first_R = group_codes(x, t_x)
        return cls(
            x=x, t_x=t_x, age=age, w=w, x_u=x_u,
            w_x=np.bincount(ix, weights=w, minlength=x_u.size).astype(float), ix=ix.astype(np.int64),
            xT_x=x[first_T], xT_T=age[first_T], iT=iT,
            xR_x=x[first_R], xR_t=t_x[first_R], iR=iR,
        )  # fmt: skip

    def scaled(self, scale: float) -> PatternData:
        """The same patterns with every time multiplied by ``scale``."""
        return PatternData(
            x=self.x, t_x=self.t_x * scale, age=self.age * scale, w=self.w, x_u=self.x_u,
            w_x=self.w_x, ix=self.ix, xT_x=self.xT_x, xT_T=self.xT_T * scale, iT=self.iT,
            xR_x=self.xR_x, xR_t=self.xR_t * scale, iR=self.iR,
        )  # fmt: skip

    def subsample(self, size: int, seed: int) -> PatternData:
        """A weighted random subsample of ``size`` patterns (for a warm start only)."""
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(self.x.size, size=size, replace=False))
        factor = self.total / float(self.w[rows].sum())
        return PatternData.build(
            self.x[rows], self.t_x[rows], self.age[rows], self.w[rows] * factor
        )


@dataclass(frozen=True)
class SpendData:
    """Repeat customers' (frequency, average spend) pairs for the Gamma-Gamma likelihood."""

    x: Array
    m: Array
    w: Array
    x_u: Array
    w_x: Array
    xm: Array  # x * m
    wx: Array  # w * x
    log_m_x: float  # sum of w * x * log(m)
    log_m: float  # sum of w * log(m)
    x_log_x: float  # sum of w * x * log(x)

    @property
    def total(self) -> float:
        return float(self.w.sum())

    @classmethod
    def build(cls, x: Array, m: Array, w: Array) -> SpendData:
        x_u, ix = np.unique(x, return_inverse=True)
        return cls(
            x=x, m=m, w=w, x_u=x_u, w_x=np.bincount(ix, weights=w, minlength=x_u.size).astype(float),
            xm=x * m, wx=w * x, log_m_x=float(np.sum(w * x * np.log(m))),
            log_m=float(np.sum(w * np.log(m))), x_log_x=float(np.sum(w * x * np.log(x))),
        )  # fmt: skip

    def scaled(self, scale: float) -> SpendData:
        """The same customers with every average spend multiplied by ``scale``."""
        return SpendData.build(self.x, self.m * scale, self.w)

    def subsample(self, size: int, seed: int) -> SpendData:
        """A weighted random subsample of ``size`` pairs (for a warm start only)."""
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(self.x.size, size=size, replace=False))
        factor = self.total / float(self.w[rows].sum())
        return SpendData.build(self.x[rows], self.m[rows], self.w[rows] * factor)


# -- likelihoods: mean negative log-likelihood per customer and its gradient --------------------
#: The objective and gradient where the parameters leave the floating-point range.
_OUT_OF_RANGE = math.inf


def positive(log_params: Array) -> Array | None:
    """``exp(log_params)`` when every parameter is a finite positive float, else None."""
    with np.errstate(over="ignore", under="ignore"):
        params = np.exp(log_params)
    if np.all(np.isfinite(log_params)) and np.all(params > 0) and np.all(np.isfinite(params)):
        return np.asarray(params, dtype=float)
    return None


def out_of_range(log_params: Array) -> tuple[float, Array]:
    return _OUT_OF_RANGE, np.zeros(np.shape(log_params))


def finish_objective(
    ll: float, grad: Array, params: Array, total: float, penalizer: float
) -> tuple[float, Array]:
    """Mean negative log-likelihood + L2 penalty, and its gradient in log-parameters.

    ``grad`` is the gradient of the summed log-likelihood in log-parameters. A value or
    gradient that is not finite is reported as ``+inf`` (the line search steps back).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        squares = params**2
        value = -ll / total + penalizer * float(np.sum(squares))
        gradient = -grad / total + 2.0 * penalizer * squares
    if not (math.isfinite(value) and np.all(np.isfinite(gradient))):
        return out_of_range(params)
    return value, np.asarray(gradient, dtype=float)


def rising(z: float, top: int) -> tuple[Array, Array]:
    """``log(z (z+1) ... (z+n-1))`` and its derivative in ``log z``, for n = 0..top.

    Cumulative sums of ``log(z + k)`` and ``z / (z + k)``: ``gammaln(z + n) - gammaln(z)``
    and ``z (digamma(z + n) - digamma(z))`` without their cancellation for large ``z``.
    """
    terms = z + np.arange(top, dtype=float)
    return (
        np.concatenate(([0.0], np.cumsum(np.log(terms)))),
        np.concatenate(([0.0], np.cumsum(z / terms))),
    )


def beta_ratio(a: float, b: float, top: int) -> tuple[Array, Array, Array]:
    """``log B(a, b + n) - log B(a, b)`` and its derivatives in ``log a``, ``log b``, n = 0..top.

    ``= sum_{k<n} log1p(-a / (a + b + k))``: exact for a -> 0 and b -> inf, where the gamma
    functions of lifetimes' form cancel to nothing (b = 1e15 gives 4.0 instead of ~1e-14).
    """
    k = np.arange(top, dtype=float)
    ab = a + b + k
    return (
        np.concatenate(([0.0], np.cumsum(np.log1p(-a / ab)))),
        np.concatenate(([0.0], np.cumsum(-a / ab))),
        np.concatenate(([0.0], np.cumsum(a * b / ((b + k) * ab)))),
    )


# -- closed forms: the kernel of a model, and P(alive) without dropout -----------------------
def always_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(alive) = 1: a model without dropout (the NBD; the observed rates of the empirical CLV)."""
    return np.ones(np.broadcast(np.asarray(x), np.asarray(t_x), np.asarray(T)).shape)


@dataclass(frozen=True)
class Kernel:
    """A transaction model's closed forms, vectorised over histories (by kind: ``KERNELS``)."""

    alive_expected: Callable[[Theta, Any, Any, Any], np.ndarray]
    p_alive: Callable[[Theta, Any, Any, Any], np.ndarray]
    pmf: Callable[[Theta, np.ndarray, int], np.ndarray]
    expected: Callable[[Theta, Any], np.ndarray]
    log_likelihood: Callable[[Theta, Any, Any, Any], np.ndarray]
