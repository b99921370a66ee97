"""Closed-form BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma formulas, vectorised over histories.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the easy
   way: an alternative to the Pareto/NBD model." Marketing Science 24(2), 275-284.
.. [2] Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). "Empirical validation and
   comparison of models for customer base analysis." IJRM 24(3), 201-209 (MBG/NBD).
.. [3] Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). "Counting your customers:
   who are they and what will they do next?" Management Science 33(1), 1-24 (Pareto/NBD);
   Fader, P. S. and Hardie, B. G. S. (2005). "A note on deriving the Pareto/NBD model and
   related expressions." http://brucehardie.com/notes/009/
.. [4] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: using iso-value
   curves for customer base analysis." Journal of Marketing Research 42(4), 415-430
   (Gamma-Gamma spend model).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, xlogy

__all__: list[str] = []

_LEGENDRE_NODES = 64

Theta = Sequence[Any] | np.ndarray  # parameters in model order; floats or arrays that broadcast


def _bg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """BG/NBD E[Y(t) | alive at T, x, T]: the numerator of eq. (10) of [1].

    lifetimes takes log(2F1), which is NaN when 2F1 is negative (a + b + x - 1 < 0, e.g.
    a + b < 1 for x = 0, as some bootstrap draws have); the product form here is the same
    number elsewhere. Where 2F1 overflows, lifetimes' fallback is used: Euler's
    transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), in logs.
    """
    r, alpha, a, b = theta
    _a, _b, _c = r + x, b + x, a + b + x - 1
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (r + x) * np.log((alpha + T) / (alpha + t + T))
        hyp = hyp2f1(_a, _b, _c, z)
        tail = hyp * np.exp(log_ratio)
        overflow = ~np.isfinite(hyp)
        if np.any(overflow):
            alt = np.log(hyp2f1(_c - _a, _c - _b, _c, z)) + (_c - _a - _b) * np.log(1 - z)
            tail = np.where(overflow, np.exp(alt + log_ratio), tail)
    return np.asarray((a + b + x - 1) / (a - 1) * (1 - tail))


def _mbg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """MBG/NBD E[Y(t) | alive at T, x, T] (lifetimes' numerator, [2])."""
    r, alpha, a, b = theta
    hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
    second = 1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x)
    return np.asarray((a + b + x) / (a - 1) * second)


def _pnbd_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """Pareto/NBD E[Y(t) | alive at T, x, T]: eq. (41) of [3] without P(alive)."""
    r, alpha, s, beta = theta
    growth = 1 - ((beta + T) / (beta + T + t)) ** (s - 1)
    return np.asarray((r + x) * (beta + T) / ((alpha + T) * (s - 1)) * growth)


def _bg_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.asarray(np.where(x == 0, 1.0, expit(-log_div)))


def _mbg_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    return np.asarray(1.0 / (1 + (a / (b + x)) * ((alpha + T) / (alpha + t_x)) ** (r + x)))


def _pnbd_log_part(theta: Theta, x: Any, time: Any) -> np.ndarray:
    """One of the two terms of log A_0 (eq. 19-20 of [3]): log 2F1(..) - (r+s+x) log(max+time)."""
    r, alpha, s, beta = theta
    alpha_smaller = alpha < beta
    high = np.where(alpha_smaller, beta, alpha)
    second = np.where(alpha_smaller, r + x, s + 1)
    rsx = r + s + x
    with np.errstate(divide="ignore"):
        hyp = hyp2f1(rsx, second, rsx + 1.0, np.abs(alpha - beta) / (high + time))
        return np.asarray(np.log(hyp) - rsx * np.log(high + time))


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - exp(d)) for d <= 0 (-inf at 0), clipping rounding noise above 0."""
    d = np.minimum(d, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(np.where(d > -math.log(2), np.log(-np.expm1(d)), np.log1p(-np.exp(d))))


def _pnbd_log_a0(theta: Theta, x: Any, part_tx: Any, part_T: Any) -> np.ndarray:
    """log A_0 = log(exp(part(t_x)) - exp(part(T))): -inf when t_x = T."""
    return np.asarray(part_tx + _log1mexp(part_T - part_tx))


def _pnbd_p_alive_from_parts(theta: Theta, x: Any, T: Any, part_tx: Any, part_T: Any) -> np.ndarray:
    r, alpha, s, beta = theta
    log_a0 = _pnbd_log_a0(theta, x, part_tx, part_T)
    exponent = (
        np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
    )
    return np.asarray(expit(-exponent))


def _pnbd_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    return _pnbd_p_alive_from_parts(
        theta, x, T, _pnbd_log_part(theta, x, t_x), _pnbd_log_part(theta, x, T)
    )


def _nb_log_pmf(r: Any, alpha: Any, t: Any, n: Any) -> np.ndarray:
    """log P(N(t) = n) for a Poisson process whose rate is Gamma(r, alpha): the NBD."""
    return np.asarray(
        gammaln(r + n) - gammaln(r) - gammaln(n + 1)
        + r * np.log(alpha / (alpha + t)) + xlogy(n, t / (alpha + t))
    )  # fmt: skip


def _bg_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """BG/NBD P(X(t) = n), n = 0..max_n: eq. (8) of [1]; rows are t, columns n."""
    r, alpha, a, b = theta
    n = np.arange(max_n + 1)
    nb = np.exp(_nb_log_pmf(r, alpha, t[:, None], n[None, :]))
    below = np.concatenate([np.zeros((len(t), 1)), np.cumsum(nb, axis=1)[:, :-1]], axis=1)
    first = np.exp(betaln(a, b + n) - betaln(a, b)) * nb
    with np.errstate(invalid="ignore"):
        weight = np.where(n > 0, np.exp(betaln(a + 1, b + np.maximum(n, 1) - 1) - betaln(a, b)), 0)
    return np.asarray(first + weight * (1 - below))


def _mbg_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """MBG/NBD P(X(t) = n), n = 0..max_n (lifetimes' formula, [2])."""
    r, alpha, a, b = theta
    n = np.arange(max_n + 1)
    nb = np.exp(_nb_log_pmf(r, alpha, t[:, None], n[None, :]))
    below = np.concatenate([np.zeros((len(t), 1)), np.cumsum(nb, axis=1)[:, :-1]], axis=1)
    first = np.exp(betaln(a, b + n + 1) - betaln(a, b)) * nb
    return np.asarray(first + np.exp(betaln(a + 1, b + n) - betaln(a, b)) * (1 - below))


def _pnbd_pmf_general(
    r: Any, alpha: Any, s: Any, beta: Any, t: np.ndarray, max_n: int
) -> np.ndarray:
    """Pareto/NBD P(X(t) = n), n = 0..max_n, by Gauss-Legendre quadrature over the lifetime.

    P(X(t)=n) = NBD(n; t) (beta/(beta+t))^s + int_0^t NBD(n; tau) s beta^s (beta+tau)^-(s+1)
    dtau, integrated in u = log(beta + tau) (where the integrand is smooth) with 64 nodes.
    Parameters broadcast against ``t`` (one row per t, columns n).
    """
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    t = np.asarray(t, dtype="float64")
    n = np.arange(max_n + 1)
    r, alpha, s, beta = (np.asarray(p, dtype="float64")[..., None] for p in (r, alpha, s, beta))
    half = np.log1p(t[..., None] / beta) / 2  # half the length of the u-interval
    step = half * (nodes + 1)  # u - log(beta) at the nodes
    tau = beta * np.expm1(step)
    density = s * np.exp(-s * step)  # s (beta / (beta + tau))^s: dtau = (beta + tau) du
    nb = np.exp(_nb_log_pmf(r[..., None], alpha[..., None], tau[..., None], n))
    integral = half * np.einsum("...g,...gn->...n", weights * density, nb)
    at_t = np.exp(_nb_log_pmf(r, alpha, t[..., None], n)) * (beta / (beta + t[..., None])) ** s
    return np.asarray(at_t + integral)


def _pnbd_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    r, alpha, s, beta = theta
    return _pnbd_pmf_general(r, alpha, s, beta, t, max_n)


def _p_zero_alive(kind: str, theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """P(no purchase in the next t | alive at T, x, T)."""
    r, alpha, third, fourth = theta
    if kind in ("bgnbd", "mbgnbd"):  # no purchase, so no chance to drop out: NBD zero term
        return np.asarray(((alpha + T) / (alpha + T + t)) ** (r + x))
    # Pareto/NBD: given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T)
    t_b, x_b, T_b = np.broadcast_arrays(np.asarray(t, "float64"), x, T)
    zero = _pnbd_pmf_general(r + x_b, alpha + T_b, third, fourth + T_b, t_b, 0)
    return np.asarray(zero[..., 0])


def _bg_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha, a, b = theta
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return np.asarray((a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


def _mbg_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha, a, b = theta
    hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
    return np.asarray(b / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


def _pnbd_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha, s, beta = theta
    return np.asarray(r * beta / alpha / (s - 1) * (1 - (beta / (beta + t)) ** (s - 1)))


def _bg_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(t_x + alpha)
    top = np.maximum(a3, a4)
    return np.asarray(a1 + a2 + np.log(np.exp(a3 - top) + np.exp(a4 - top) * (x > 0)) + top)


def _mbg_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.asarray(a1 + a2 + a3 + np.logaddexp(a4, 0))


def _pnbd_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, s, beta = theta
    log_a0 = _pnbd_log_a0(theta, x, _pnbd_log_part(theta, x, t_x), _pnbd_log_part(theta, x, T))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    a2 = np.logaddexp(
        -(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) + log_a0 - np.log(r + s + x)
    )
    return np.asarray(a1 + a2)


@dataclass(frozen=True)
class _Kernel:
    alive_expected: Callable[[Theta, Any, Any, Any], np.ndarray]
    p_alive: Callable[[Theta, Any, Any, Any], np.ndarray]
    pmf: Callable[[Theta, np.ndarray, int], np.ndarray]
    expected: Callable[[Theta, Any], np.ndarray]
    log_likelihood: Callable[[Theta, Any, Any, Any], np.ndarray]


_KERNELS = {
    "bgnbd": _Kernel(_bg_alive_expected, _bg_p_alive, _bg_pmf, _bg_expected, _bg_log_likelihood),
    "mbgnbd": _Kernel(
        _mbg_alive_expected, _mbg_p_alive, _mbg_pmf, _mbg_expected, _mbg_log_likelihood
    ),
    "pnbd": _Kernel(
        _pnbd_alive_expected, _pnbd_p_alive, _pnbd_pmf, _pnbd_expected, _pnbd_log_likelihood
    ),
}


def _spend_per_order(spend: Theta, x: Any, m: Any) -> np.ndarray:
    """Gamma-Gamma E[spend per order | x, m]: (1 - w) population mean + w m, w = px/(px+q-1).

    lifetimes calls this ``conditional_expected_average_profit``; it is spend (revenue).
    """
    p, q, v = spend
    weight = p * x / (p * x + q - 1)
    return np.asarray((1 - weight) * (v * p / (q - 1)) + weight * m)


def _spend_coefficients(spend: Theta, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with E[spend per order | x, m] = A + B m."""
    p, q, v = spend
    weight = p * x / (p * x + q - 1)
    return np.asarray((1 - weight) * (v * p / (q - 1))), np.asarray(weight)
