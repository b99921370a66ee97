"""The registries keyed by model name, assembled from the per-model modules in one place.

:data:`OBJECTIVES` (model -> mean negative log-likelihood and gradient, for the optimizer) and
:data:`KERNELS` (kind -> closed forms, for predictions and values; the kind of a Pareto/NBD
fitter is ``"pnbd"``, :func:`crmlib.clv.models.fitters.model_kind`), and the functions that
dispatch on the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from crmlib.clv.models import bgnbd, empirical, gamma_gamma, mbgnbd, nbd, paretonbd
from crmlib.clv.models.base import Array, Theta
from crmlib.clv.models.empirical import observed_rate
from crmlib.clv.models.paretonbd import pareto_value, pnbd_pmf_general

__all__ = ["OBJECTIVES", "KERNELS", "objective_value", "p_zero_alive"]

#: Model name -> its objective: ``(log_params, data, penalizer) -> (value, gradient)``.
OBJECTIVES: dict[str, Callable[..., tuple[float, Array]]] = {
    "bgnbd": bgnbd.bgnbd_objective,
    "mbgnbd": mbgnbd.mbgnbd_objective,
    "paretonbd": paretonbd.paretonbd_objective,
    "nbd": nbd.nbd_objective,
    "gammagamma": gamma_gamma.gammagamma_objective,
}

#: Model kind -> its closed forms.
KERNELS = {
    "bgnbd": bgnbd.KERNEL,
    "mbgnbd": mbgnbd.KERNEL,
    "pnbd": paretonbd.KERNEL,
    "nbd": nbd.KERNEL,
    "empirical": empirical.KERNEL,
}


def objective_value(model: str, log_params: Array, data: Any, penalizer: float) -> float:
    if model == "paretonbd":
        return pareto_value(log_params, data, penalizer)
    return OBJECTIVES[model](log_params, data, penalizer)[0]


def p_zero_alive(kind: str, theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """P(no purchase in the next t | alive at T, x, T)."""
    if kind == "empirical":  # Poisson purchases at the observed rate
        return np.asarray(np.exp(-observed_rate(x, T) * t))
    if kind == "nbd":
        r, alpha = theta[0], theta[1]
        return np.asarray(((alpha + T) / (alpha + T + t)) ** (r + x))
    r, alpha, third, fourth = theta
    if kind in ("bgnbd", "mbgnbd"):  # no purchase, so no chance to drop out: NBD zero term
        return np.asarray(((alpha + T) / (alpha + T + t)) ** (r + x))
    # Pareto/NBD: given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T)
    t_b, x_b, T_b = np.broadcast_arrays(np.asarray(t, "float64"), x, T)
    zero = pnbd_pmf_general(r + x_b, alpha + T_b, third, fourth + T_b, t_b, 0)
    return np.asarray(zero[..., 0])
