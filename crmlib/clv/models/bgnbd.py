"""BG/NBD: likelihood (with the MBG/NBD variant) and closed forms, vectorised over histories.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the easy
   way: an alternative to the Pareto/NBD model." Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1

from crmlib.clv.models.base import (
    Array,
    Kernel,
    PatternData,
    Theta,
    beta_ratio,
    finish_objective,
    out_of_range,
    positive,
    rising,
)
from crmlib.clv.models.nbd import nb_log_pmf

__all__ = [
    "bg_family",
    "bgnbd_objective",
    "hyp_tail",
    "bg_alive_expected",
    "bg_p_alive",
    "bg_pmf",
    "bg_expected",
    "bg_log_likelihood",
    "KERNEL",
]


# -- likelihood: mean negative log-likelihood per customer and its gradient ----------------
def bg_family(
    log_params: Array, data: PatternData, penalizer: float, *, modified: bool
) -> tuple[float, Array]:
    """BG/NBD (Fader, Hardie & Lee 2005) or MBG/NBD (Batislam et al. 2007), as in lifetimes.

    Per customer: ``A_1 + A_2 + log(exp(A_3) + [x > 0] exp(A_4))`` (BG/NBD) with lifetimes'
    terms; MBG/NBD moves ``+1`` into the beta terms and keeps ``A_4`` for one-time buyers.
    ``A_1 = log Gamma(r+x) - log Gamma(r) + r log alpha`` and ``A_2 = log B(a, b+x) - log B(a, b)``
    are cumulative sums (:func:`rising`, :func:`beta_ratio`); ``log a`` is the parameter.
    """
    params = positive(log_params)
    if params is None:
        return out_of_range(log_params)
    r, alpha, a, b = params
    log_alpha, log_a = float(log_params[1]), float(log_params[2])
    shift = 1 if modified else 0
    x_u, w_x = data.x_u, data.w_x
    xi = x_u.astype(np.int64)
    top = int(xi.max()) if xi.size else 0
    log_r_rise, d_r_rise = rising(r, top)
    log_beta, d_a_beta, d_b_beta = beta_ratio(a, b, top + shift)
    const = log_r_rise[xi] + r * log_alpha + log_beta[xi + shift]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_at = np.log(alpha + data.xT_T)
        log_ar = np.log(alpha + data.xR_t)
        a3 = -(r + data.xT_x) * log_at
        if modified:
            denom = b + data.xR_x
            a4 = log_a - np.log(denom) - (r + data.xR_x) * log_ar
        else:
            denom = b + np.maximum(data.xR_x, 1.0) - 1.0
            a4 = np.where(data.xR_x > 0, log_a - np.log(denom) - (r + data.xR_x) * log_ar, -np.inf)
        row3, row4 = a3[data.iT], a4[data.iR]
        both = np.logaddexp(row3, row4)
        ll = float(np.dot(w_x, const) + np.dot(data.w, both))
        s3 = np.bincount(data.iT, weights=data.w * np.exp(row3 - both), minlength=a3.size)
        s4 = np.bincount(data.iR, weights=data.w * np.exp(row4 - both), minlength=a4.size)
        d_r = (
            np.dot(w_x, d_r_rise[xi] + r * log_alpha)
            - r * (s3 @ log_at) - r * (s4 @ log_ar)
        )  # fmt: skip
        d_alpha = (
            data.total * r
            - s3 @ ((r + data.xT_x) * alpha / (alpha + data.xT_T))
            - s4 @ ((r + data.xR_x) * alpha / (alpha + data.xR_t))
        )
        d_a = np.dot(w_x, d_a_beta[xi + shift]) + s4.sum()
        d_b = np.dot(w_x, d_b_beta[xi + shift]) - s4 @ (b / denom)
    grad = np.array([d_r, d_alpha, d_a, d_b], dtype=float)
    return finish_objective(ll, grad, params, data.total, penalizer)


def bgnbd_objective(log_params: Array, data: PatternData, penalizer: float) -> tuple[float, Array]:
    return bg_family(log_params, data, penalizer, modified=False)


# -- closed forms --------------------------------------------------------------------------
def hyp_tail(r: Any, alpha: Any, t: Any, x: Any, T: Any, _b: Any, _c: Any) -> Any:
    """((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, _b; _c; t / (alpha + T + t)).

    The product form (not log 2F1, which is NaN where 2F1 < 0); where 2F1 overflows, Euler's
    transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), in logs.
    """
    _a = r + x
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (r + x) * np.log((alpha + T) / (alpha + t + T))
        hyp = hyp2f1(_a, _b, _c, z)
        tail = hyp * np.exp(log_ratio)
        overflow = ~np.isfinite(hyp)
        if np.any(overflow):
            alt = np.log(hyp2f1(_c - _a, _c - _b, _c, z)) + (_c - _a - _b) * np.log(1 - z)
            tail = np.where(overflow, np.exp(alt + log_ratio), tail)
    return tail


def bg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """BG/NBD E[Y(t) | alive at T, x, T]: the numerator of eq. (10) of [1].

    lifetimes takes log(2F1), which is NaN when 2F1 is negative (a + b + x - 1 < 0, e.g.
    a + b < 1 for x = 0, as some bootstrap draws have); the product form here is the same
    number elsewhere. Where 2F1 overflows, lifetimes' fallback is used: Euler's
    transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), in logs.
    """
    r, alpha, a, b = theta
    tail = hyp_tail(r, alpha, t, x, T, b + x, a + b + x - 1)
    return np.asarray((a + b + x - 1) / (a - 1) * (1 - tail))


def bg_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.asarray(np.where(x == 0, 1.0, expit(-log_div)))


def bg_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """BG/NBD P(X(t) = n), n = 0..max_n: eq. (8) of [1]; rows are t, columns n."""
    r, alpha, a, b = theta
    n = np.arange(max_n + 1)
    nb = np.exp(nb_log_pmf(r, alpha, t[:, None], n[None, :]))
    below = np.concatenate([np.zeros((len(t), 1)), np.cumsum(nb, axis=1)[:, :-1]], axis=1)
    first = np.exp(betaln(a, b + n) - betaln(a, b)) * nb
    with np.errstate(invalid="ignore"):
        weight = np.where(n > 0, np.exp(betaln(a + 1, b + np.maximum(n, 1) - 1) - betaln(a, b)), 0)
    return np.asarray(first + weight * (1 - below))


def bg_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha, a, b = theta
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return np.asarray((a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


def bg_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)  # lifetimes' gammaln sum, without its cancellation
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(t_x + alpha)
    top = np.maximum(a3, a4)
    return np.asarray(a1 + a2 + np.log(np.exp(a3 - top) + np.exp(a4 - top) * (x > 0)) + top)


#: The BG/NBD's closed forms.
KERNEL = Kernel(bg_alive_expected, bg_p_alive, bg_pmf, bg_expected, bg_log_likelihood)
