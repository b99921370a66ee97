"""Fitter objects: lifetimes' (lazy import, the guarded Pareto/NBD class, set to estimates),
crmlib's own for the fallbacks lifetimes does not have (NBD, observed spend rate, observed
spend), and reading a fitter back: its kind, parameter names and values."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.models.base import PARAMETER_NAMES, Array, Params
from crmlib.clv.models.paretonbd import pareto_conditional_ll, pareto_log_a0

__all__ = [
    "import_lifetimes",
    "guarded_pareto_class",
    "NBDFitter",
    "EmpiricalRateModel",
    "ObservedSpendModel",
    "load_fitter",
    "TransactionModel",
    "unwrap",
    "model_kind",
    "transaction_model",
    "spend_names",
    "spend_params",
]


def __getattr__(name: str) -> Any:
    """``GuardedParetoNBDFitter`` is built on first access (lifetimes is imported lazily).

    The class is created by :func:`guarded_pareto_class` and names this module as its home,
    so that a pickled fitter finds its class here.
    """
    if name == "GuardedParetoNBDFitter":
        return guarded_pareto_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- lifetimes, imported without touching global state -----------------------------------------
def import_lifetimes() -> Any:
    """The lifetimes package; its import-time warning filters are undone on return."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.generate_data  # noqa: F401  (its import sets filters too)
    return lifetimes


@functools.cache
def guarded_pareto_class() -> type:
    """:class:`GuardedParetoNBDFitter`, created on first use (lifetimes is imported lazily)."""
    base = import_lifetimes().ParetoNBDFitter

    class GuardedParetoNBDFitter(base):  # type: ignore[misc,valid-type]
        """lifetimes' ParetoNBDFitter whose ``log A_0`` is finite for heavy buyers at T.

        Overrides the three static methods that compute the likelihood (lifetimes calls them
        through the class name, so all three are needed); every other method (P(alive),
        conditional expectations) goes through ``self._log_A_0`` and is guarded too.
        """

        @staticmethod
        def _log_A_0(params: Params, freq: Any, recency: Any, age: Any) -> Any:
            return pareto_log_a0(params, freq, recency, age)

        @staticmethod
        def _conditional_log_likelihood(params: Params, freq: Any, rec: Any, T: Any) -> Any:
            return pareto_conditional_ll(params, freq, rec, T)

        @staticmethod
        def _negative_log_likelihood(
            params: Params,
            freq: Any,
            rec: Any,
            T: Any,
            weights: Any,
            penalizer_coef: float,
        ) -> float:
            if np.any(np.asarray(params) <= 0.0):
                return float("inf")
            ll = pareto_conditional_ll(params, freq, rec, T)
            penalizer_term = penalizer_coef * np.sum(np.asarray(params) ** 2)
            return float(-(weights * ll).sum() / weights.mean() + penalizer_term)

    # its home: this module serves it (module __getattr__), so pickles find it here
    GuardedParetoNBDFitter.__module__ = __name__
    GuardedParetoNBDFitter.__qualname__ = "GuardedParetoNBDFitter"
    return GuardedParetoNBDFitter


# -- crmlib's fitter objects for the fallbacks ---------------------------------------------------
class NBDFitter:
    """The NBD fit (Poisson purchases at Gamma(r, alpha) rates, no dropout), lifetimes-style.

    lifetimes has no NBD fitter; this holds crmlib's fit (``fit_transactions_model(...,
    model="nbd")``) with the attributes and methods the workbook reads from lifetimes'
    fitters: ``params_`` (r, alpha in the summary's unit), ``data`` (one row per customer),
    ``variance_matrix_``, ``standard_errors_``, and the predictions E[X(t)] = r t / alpha,
    E[Y(t) | x, T] = (r + x) t / (alpha + T) and P(alive) = 1.

    References
    ----------
    .. [1] Ehrenberg, A. S. C. (1959). The pattern of consumer purchases. Applied Statistics
       8(1), 26-41.
    .. [2] Morrison, D. G. & Schmittlein, D. C. (1988). Generalizing the NBD model for
       customer purchases. Journal of Business & Economic Statistics 6(2), 145-159.
    """

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef
        self.params_: pd.Series | None = None
        self.data: pd.DataFrame | None = None
        self.variance_matrix_: pd.DataFrame | None = None
        self.standard_errors_: pd.Series | None = None
        self._hessian_: Array | None = None
        self._negative_log_likelihood_ = float("nan")
        self._scale = 1.0

    def _r_alpha(self) -> tuple[float, float]:
        if self.params_ is None:
            raise ValueError("NBDFitter is not fitted (no params_)")
        return float(self.params_["r"]), float(self.params_["alpha"])

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """E[X(t)] of a new customer: r t / alpha."""
        r, alpha = self._r_alpha()
        return r / alpha * np.asarray(t, dtype=float)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """E[Y(t) | x, T] = (r + x) t / (alpha + T); recency carries no information."""
        r, alpha = self._r_alpha()
        return (r + np.asarray(frequency, dtype=float)) / (alpha + np.asarray(T, dtype=float)) * t

    predict = conditional_expected_number_of_purchases_up_to_time

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """1: the NBD has no dropout."""
        return np.ones(
            np.broadcast(np.asarray(frequency), np.asarray(recency), np.asarray(T)).shape
        )

    def _compute_standard_errors(self) -> pd.Series:
        if self.variance_matrix_ is None:
            raise ValueError("NBDFitter has no variance_matrix_")
        return pd.Series(np.sqrt(np.diag(self.variance_matrix_)), index=self.variance_matrix_.index)

    def __repr__(self) -> str:
        params = (
            "not fitted"
            if self.params_ is None
            else ", ".join(f"{k}: {v:.3g}" for k, v in self.params_.items())
        )
        return f"<crmlib NBDFitter: {params}>"


class EmpiricalRateModel:
    """The empirical CLV's "model": each customer's observed repeat-purchase rate continues.

    Not a fit: rate = frequency / T (repeat purchases per unit of time since the first
    purchase; 0 for a customer observed for no time), P(alive) = 1 (nobody is assumed gone).
    ``params_["repeat_rate"]`` is the pooled rate sum(frequency) / sum(T), used only for the
    expectation of a new customer (the tracking chart). ``data`` has one row per customer.
    """

    def __init__(self, repeat_rate: float, data: pd.DataFrame) -> None:
        self.params_ = pd.Series({"repeat_rate": float(repeat_rate)}, dtype=float)
        self.data = data

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        return float(self.params_["repeat_rate"]) * np.asarray(t, dtype=float)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        x, age = np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(age > 0, x / np.where(age > 0, age, 1.0), 0.0) * t

    predict = conditional_expected_number_of_purchases_up_to_time

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        return np.ones(
            np.broadcast(np.asarray(frequency), np.asarray(recency), np.asarray(T)).shape
        )

    def __repr__(self) -> str:
        return f"<crmlib EmpiricalRateModel: pooled repeat rate {self.params_['repeat_rate']:.3g}>"


class ObservedSpendModel:
    """The spend fallback: a repeat customer's own mean spend per order; others the pooled mean.

    Not a fit: ``params_["mean_spend"]`` is the mean spend per repeat order over all repeat
    customers, sum(frequency x monetary_value) / sum(frequency); the expected spend per order of
    a repeat customer is their ``monetary_value``, of a one-time buyer ``mean_spend``.
    """

    def __init__(self, mean_spend: float, data: pd.DataFrame) -> None:
        self.params_ = pd.Series({"mean_spend": float(mean_spend)}, dtype=float)
        self.data = data

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> Any:
        x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
        return np.where(x > 0, m, float(self.params_["mean_spend"]))

    def __repr__(self) -> str:
        return f"<crmlib ObservedSpendModel: mean spend per order {self.params_['mean_spend']:.4g}>"


# -- lifetimes fitter objects -------------------------------------------------------------------
def load_fitter(
    model: str,
    params: Mapping[str, float],
    *,
    penalizer: float,
    scale: float,
    value: float,
    hessian: Array | None,
    covariance: Array | None,
    data: pd.DataFrame,
) -> Any:
    """A lifetimes fitter in the state its ``fit`` leaves it in, with these parameters.

    ``data`` has one row per customer (weights 1), like lifetimes' ``fit`` on all rows, so
    ``generate_new_data`` and the plotting helpers see every customer.
    """
    lifetimes = import_lifetimes()
    generate = lifetimes.generate_data
    names = PARAMETER_NAMES[model]
    values = [params[n] for n in names]
    fitter: Any
    if model == "gammagamma":
        fitter = lifetimes.GammaGammaFitter(penalizer_coef=penalizer)
    elif model == "nbd":
        fitter = NBDFitter(penalizer_coef=penalizer)
        fitter._scale = scale
    else:
        classes = {
            "bgnbd": (lifetimes.BetaGeoFitter, generate.beta_geometric_nbd_model),
            "mbgnbd": (lifetimes.ModifiedBetaGeoFitter, generate.modified_beta_geometric_nbd_model),
            "paretonbd": (guarded_pareto_class(), generate.pareto_nbd_model),
        }
        cls, simulate = classes[model]
        fitter = cls(penalizer_coef=penalizer)
        fitter._scale = scale
        fitter.generate_new_data = functools.partial(simulate, data["T"].to_numpy(), *values)
    fitter.params_ = pd.Series(values, index=list(names), dtype=float)
    fitter._negative_log_likelihood_ = value
    fitter._hessian_ = hessian
    fitter.data = data
    if model != "gammagamma":
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    if covariance is not None:
        fitter.variance_matrix_ = pd.DataFrame(covariance, index=list(names), columns=list(names))
        fitter.standard_errors_ = fitter._compute_standard_errors()
        if model != "nbd":
            fitter.confidence_intervals_ = fitter._compute_confidence_intervals()
    return fitter


# -- fitted models: kind, parameter names and values ------------------------------------------
@dataclass(frozen=True)
class TransactionModel:
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
    # crmlib's own (above): the fallbacks without dropout
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


def unwrap(fitted: Any) -> Any:
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
    fitter = unwrap(fitter)
    name = _class_name(fitter, _TRANSACTION_CLASSES)
    if name is None:
        raise ValueError(
            f"transaction model {type(fitter).__name__} is not supported; expected one of "
            f"{sorted(_TRANSACTION_CLASSES)}"
        )
    return _TRANSACTION_CLASSES[name][0]


def transaction_model(fitter: Any) -> TransactionModel:
    fitter = unwrap(fitter)
    kind = model_kind(fitter)
    names = _NAMES[kind]
    return TransactionModel(kind, names, _fitted_params(fitter, names, "transaction model"))


def spend_names(fitter: Any) -> tuple[str, ...]:
    """Parameter names of a spend model: Gamma-Gamma ``(p, q, v)`` or ``(mean_spend,)``."""
    name = _class_name(unwrap(fitter), _SPEND_CLASSES)
    if name is None:
        raise ValueError(
            f"spend model {type(unwrap(fitter)).__name__}: expected a GammaGammaFitter "
            "(or crmlib's ObservedSpendModel)"
        )
    return _SPEND_CLASSES[name]


def spend_params(fitter: Any) -> np.ndarray:
    """The spend model's parameters: Gamma-Gamma's (p, q, v), or the observed mean spend."""
    return _fitted_params(unwrap(fitter), spend_names(fitter), "spend model")
