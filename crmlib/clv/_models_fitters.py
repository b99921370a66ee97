"""lifetimes fitters: the lazy import, the guarded Pareto/NBD class, fitters set to estimates."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._likelihoods import (
    PARAMETER_NAMES,
    Array,
    Params,
    _pareto_conditional_ll,
    _pareto_log_a0,
)

__all__: list[str] = []


# -- lifetimes, imported without touching global state -----------------------------------------
def _lifetimes() -> Any:
    """The lifetimes package; its import-time warning filters are undone on return."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.generate_data  # noqa: F401  (its import sets filters too)
    return lifetimes


@functools.cache
def _guarded_pareto_class() -> type:
    """:class:`GuardedParetoNBDFitter`, created on first use (lifetimes is imported lazily)."""
    base = _lifetimes().ParetoNBDFitter

    class GuardedParetoNBDFitter(base):  # type: ignore[misc,valid-type]
        """lifetimes' ParetoNBDFitter whose ``log A_0`` is finite for heavy buyers at T.

        Overrides the three static methods that compute the likelihood (lifetimes calls them
        through the class name, so all three are needed); every other method (P(alive),
        conditional expectations) goes through ``self._log_A_0`` and is guarded too.
        """

        @staticmethod
        def _log_A_0(params: Params, freq: Any, recency: Any, age: Any) -> Any:
            return _pareto_log_a0(params, freq, recency, age)

        @staticmethod
        def _conditional_log_likelihood(params: Params, freq: Any, rec: Any, T: Any) -> Any:
            return _pareto_conditional_ll(params, freq, rec, T)

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
            ll = _pareto_conditional_ll(params, freq, rec, T)
            penalizer_term = penalizer_coef * np.sum(np.asarray(params) ** 2)
            return float(-(weights * ll).sum() / weights.mean() + penalizer_term)

    # its public home: crmlib.clv._models serves it (module __getattr__), so pickles find it there
    GuardedParetoNBDFitter.__module__ = "crmlib.clv._models"
    GuardedParetoNBDFitter.__qualname__ = "GuardedParetoNBDFitter"
    return GuardedParetoNBDFitter


# -- lifetimes fitter objects -------------------------------------------------------------------
def _load_fitter(
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
    lifetimes = _lifetimes()
    generate = lifetimes.generate_data
    names = PARAMETER_NAMES[model]
    values = [params[n] for n in names]
    if model == "gammagamma":
        fitter = lifetimes.GammaGammaFitter(penalizer_coef=penalizer)
    else:
        classes = {
            "bgnbd": (lifetimes.BetaGeoFitter, generate.beta_geometric_nbd_model),
            "mbgnbd": (lifetimes.ModifiedBetaGeoFitter, generate.modified_beta_geometric_nbd_model),
            "paretonbd": (_guarded_pareto_class(), generate.pareto_nbd_model),
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
        fitter.confidence_intervals_ = fitter._compute_confidence_intervals()
    return fitter
