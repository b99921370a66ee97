"""Gamma-Gamma spend model: likelihood and the expected spend per order.

The expected spend per order also covers the spend fallback (each repeat customer's observed
mean spend, :func:`crmlib.clv.choice.observed_spend_model`): one parameter instead of three.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: using iso-value
   curves for customer base analysis." Journal of Marketing Research 42(4), 415-430.
.. [2] Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma model of monetary value."
   http://brucehardie.com/notes/025/
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from crmlib.clv.models.base import Array, SpendData, Theta, finish_objective, out_of_range, positive

__all__ = ["gammagamma_objective", "spend_coefficients", "spend_per_order"]


# -- likelihood: mean negative log-likelihood per customer and its gradient ----------------
def gammagamma_objective(
    log_params: Array, data: SpendData, penalizer: float
) -> tuple[float, Array]:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005; note 025) as in lifetimes."""
    params = positive(log_params)
    if params is None:
        return out_of_range(log_params)
    p, q, v = params
    log_v = float(log_params[2])
    px = p * data.x_u
    lg, dg = special.gammaln, special.digamma
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xm_v = data.xm + v
        log_xm_v = np.log(xm_v)
        inv_xm_v = 1.0 / xm_v
        sum_log, sum_x_log = np.dot(data.w, log_xm_v), np.dot(data.wx, log_xm_v)
        ll = (
            np.dot(data.w_x, lg(px + q) - lg(px) - lg(q) + q * log_v)
            + p * data.log_m_x - data.log_m + p * data.x_log_x
            - (p * sum_x_log + q * sum_log)
        )  # fmt: skip
        d_p = (
            np.dot(data.w_x, data.x_u * (dg(px + q) - dg(px)))
            + data.log_m_x + data.x_log_x - sum_x_log
        )  # fmt: skip
        d_q = np.dot(data.w_x, dg(px + q) - dg(q) + log_v) - sum_log
        d_v = data.total * q / v - (p * np.dot(data.wx, inv_xm_v) + q * np.dot(data.w, inv_xm_v))
        grad = np.array([d_p, d_q, d_v], dtype=float) * params
    return finish_objective(float(ll), grad, params, data.total, penalizer)


# -- closed forms --------------------------------------------------------------------------
def spend_coefficients(spend: Theta, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with E[spend per order | x, m] = A + B m.

    ``spend`` is the Gamma-Gamma's ``(p, q, v)``: A = (1 - w) v p / (q - 1), B = w,
    w = p x / (p x + q - 1). Or the observed spend's one parameter ``(mean_spend,)`` (the
    fallback when Gamma-Gamma is not usable): a repeat customer's own mean spend per order
    (A = 0, B = 1); the pooled mean spend per repeat order for the others (A = mean, B = 0).
    """
    if len(spend) == 1:
        repeat, mean = np.broadcast_arrays(np.asarray(x) > 0, np.asarray(spend[0], "float64"))
        return np.asarray(np.where(repeat, 0.0, mean)), np.asarray(np.where(repeat, 1.0, 0.0))
    p, q, v = spend
    weight = p * x / (p * x + q - 1)
    return np.asarray((1 - weight) * (v * p / (q - 1))), np.asarray(weight)


def spend_per_order(spend: Theta, x: Any, m: Any) -> np.ndarray:
    """E[spend per order | x, m] = A + B m (:func:`spend_coefficients`).

    Gamma-Gamma: (1 - w) population mean + w m, w = px/(px+q-1); lifetimes calls it
    ``conditional_expected_average_profit``; it is spend (revenue).
    """
    fixed, slope = spend_coefficients(spend, x)
    return np.asarray(fixed + slope * m)
