"""The NBD (no dropout): Poisson purchases at Gamma(r, alpha) rates; likelihood and closed forms.

The fallback of :func:`crmlib.clv.choose_model` when the candidates' dropout estimate
collapses. Purchases of a customer in (0, T] are Poisson(lambda T), lambda ~ Gamma(r, alpha);
E[Y(t) | x, T] = (r + x) t / (alpha + T), P(alive) = 1.

References
----------
.. [1] Ehrenberg, A. S. C. (1959). "The pattern of consumer purchases." Applied Statistics
   8(1), 26-41.
.. [2] Morrison, D. G. and Schmittlein, D. C. (1988). "Generalizing the NBD model for customer
   purchases: what are the implications and is it worth the effort?" Journal of Business &
   Economic Statistics 6(2), 145-159.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, xlogy

from crmlib.clv.models.base import (
    Array,
    Kernel,
    PatternData,
    Theta,
    always_alive,
    finish_objective,
    out_of_range,
    positive,
    rising,
)

__all__ = [
    "nbd_objective",
    "nb_log_pmf",
    "nbd_alive_expected",
    "nbd_pmf",
    "nbd_expected",
    "nbd_log_likelihood",
    "KERNEL",
]


# -- likelihood: mean negative log-likelihood per customer and its gradient ----------------
def nbd_objective(log_params: Array, data: PatternData, penalizer: float) -> tuple[float, Array]:
    """NBD (Ehrenberg 1959; Morrison & Schmittlein 1988): Poisson purchases, Gamma rates, no dropout.

    Purchases of a customer in (0, T] are Poisson(lambda T), lambda ~ Gamma(r, alpha); with the
    purchase times the likelihood is ``Gamma(r+x)/Gamma(r) alpha^r / (alpha+T)^(r+x)``
    (recency carries no information), i.e. the BG/NBD's ``A_1 + A_3``: BG/NBD at ``a -> 0``.
    """
    params = positive(log_params)
    if params is None:
        return out_of_range(log_params)
    r, alpha = params
    log_alpha = float(log_params[1])
    xi = data.x_u.astype(np.int64)
    log_r_rise, d_r_rise = rising(r, int(xi.max()) if xi.size else 0)
    w_T = np.bincount(data.iT, weights=data.w, minlength=data.xT_T.size)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_at = np.log(alpha + data.xT_T)
        ll = float(
            np.dot(data.w_x, log_r_rise[xi] + r * log_alpha) - w_T @ ((r + data.xT_x) * log_at)
        )
        d_r = np.dot(data.w_x, d_r_rise[xi] + r * log_alpha) - r * (w_T @ log_at)
        d_alpha = data.total * r - w_T @ ((r + data.xT_x) * alpha / (alpha + data.xT_T))
    grad = np.array([d_r, d_alpha], dtype=float)
    return finish_objective(ll, grad, params, data.total, penalizer)


# -- closed forms --------------------------------------------------------------------------
def nb_log_pmf(r: Any, alpha: Any, t: Any, n: Any) -> np.ndarray:
    """log P(N(t) = n) for a Poisson process whose rate is Gamma(r, alpha): the NBD."""
    return np.asarray(
        gammaln(r + n) - gammaln(r) - gammaln(n + 1)
        + r * np.log(alpha / (alpha + t)) + xlogy(n, t / (alpha + t))
    )  # fmt: skip


def nbd_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """NBD E[Y(t) | x, T] = (r + x) / (alpha + T) t: the posterior mean rate times t ([5])."""
    r, alpha = theta[0], theta[1]
    return np.asarray((r + x) / (alpha + T) * t)


def nbd_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """NBD P(X(t) = n), n = 0..max_n; rows are t, columns n."""
    r, alpha = theta[0], theta[1]
    n = np.arange(max_n + 1)
    return np.exp(nb_log_pmf(r, alpha, np.asarray(t, dtype="float64")[:, None], n[None, :]))


def nbd_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha = theta[0], theta[1]
    return np.asarray(r / alpha * np.asarray(t, dtype="float64"))


def nbd_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Per customer: log Gamma(r+x) - log Gamma(r) + r log alpha - (r+x) log(alpha+T) (timing
    likelihood, as BG/NBD's: recency carries no information without dropout)."""
    r, alpha = theta[0], theta[1]
    x, _, T = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (x, t_x, T)))
    return np.asarray(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T))


#: The NBD's closed forms (P(alive) = 1).
KERNEL = Kernel(nbd_alive_expected, always_alive, nbd_pmf, nbd_expected, nbd_log_likelihood)
