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
.. [5] Morrison, D. G. and Schmittlein, D. C. (1988). "Generalizing the NBD model for customer
   purchases: what are the implications and is it worth the effort?" Journal of Business &
   Economic Statistics 6(2), 145-159 (the NBD; Ehrenberg, A. S. C. (1959). "The pattern of
   consumer purchases." Applied Statistics 8(1), 26-41).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, logsumexp, xlogy

__all__: list[str] = []

_LEGENDRE_NODES = 64

Theta = Sequence[Any] | np.ndarray  # parameters in model order; floats or arrays that broadcast


def _hyp_tail(r: Any, alpha: Any, t: Any, x: Any, T: Any, _b: Any, _c: Any) -> Any:
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


def _bg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """BG/NBD E[Y(t) | alive at T, x, T]: the numerator of eq. (10) of [1].

    lifetimes takes log(2F1), which is NaN when 2F1 is negative (a + b + x - 1 < 0, e.g.
    a + b < 1 for x = 0, as some bootstrap draws have); the product form here is the same
    number elsewhere. Where 2F1 overflows, lifetimes' fallback is used: Euler's
    transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), in logs.
    """
    r, alpha, a, b = theta
    tail = _hyp_tail(r, alpha, t, x, T, b + x, a + b + x - 1)
    return np.asarray((a + b + x - 1) / (a - 1) * (1 - tail))


def _mbg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """MBG/NBD E[Y(t) | alive at T, x, T] (lifetimes' numerator, [2]).

    Where 2F1 overflows (heavy buyers), Euler's transformation in logs, as for BG/NBD.
    """
    r, alpha, a, b = theta
    tail = _hyp_tail(r, alpha, t, x, T, b + x + 1, a + b + x)
    return np.asarray((a + b + x) / (a - 1) * (1 - tail))


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
    """One of the two terms of log A_0 (eq. 19-20 of [3]): log 2F1(..) - (r+s+x) log(max+time).

    ``2F1(r+s+x, t; r+s+x+1; z)`` is evaluated after Euler's transformation
    ``(1-z)^(1-t) 2F1(1, r+s+x+1-t; r+s+x+1; z)`` (as the Pareto/NBD likelihood of
    :mod:`crmlib.clv._likelihoods` does): the untransformed function overflows for heavy
    buyers when beta is far above alpha (z -> 1), and P(alive) became NaN (a 4-year retail
    sample: 648 of 800 customers). Where scipy returns inf because c - a - b is an integer
    with z near 1, c is nudged by 1e-11 (the function is smooth in c).
    """
    r, alpha, s, beta = theta
    alpha_smaller = alpha < beta
    high = np.where(alpha_smaller, beta, alpha)
    second = np.where(alpha_smaller, r + x, s + 1)
    rsx = r + s + x
    z = np.abs(alpha - beta) / (high + time)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hyp = np.asarray(hyp2f1(1.0, rsx + 1.0 - second, rsx + 1.0, z), dtype="float64")
        bad = ~np.isfinite(hyp)
        if bad.any():
            b_bad, c_bad, z_bad = np.broadcast_arrays(rsx + 1.0 - second, rsx + 1.0, z)
            hyp = np.array(np.broadcast_to(hyp, b_bad.shape))
            hyp[bad] = hyp2f1(1.0, b_bad[bad], c_bad[bad] * (1.0 + 1e-11), z_bad[bad])
        return np.asarray((1.0 - second) * np.log1p(-z) + np.log(hyp) - rsx * np.log(high + time))


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - exp(d)) for d <= 0 (-inf at 0), clipping rounding noise above 0."""
    d = np.minimum(d, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(np.where(d > -math.log(2), np.log(-np.expm1(d)), np.log1p(-np.exp(d))))


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
#: e-folds of the integrand kept by the direct log A_0 (the rest weighs < exp(-40) ~ 4e-18).
_E_FOLDS = 40.0


def _pnbd_log_a0_direct(r: Any, alpha: Any, s: Any, beta: Any, x: Any, t_x: Any, T: Any
                        ) -> np.ndarray:  # fmt: skip
    """log A_0 = log(r+s+x) + log int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau, directly.

    The fallback where the hypergeometric closed form is not finite (scipy's 2F1 returns NaN
    for parameters in the hundreds with z near 1: a Pareto/NBD with a nearly homogeneous,
    nearly zero dropout rate). In z = log((alpha+tau)/(alpha+t_x)) the log-integrand is
    ``(1-k) log(alpha+tau) - (s+1) log(beta+tau)`` (k = r + x), which falls at least at the rate
    ``c = k - 1 + (s+1) min((alpha+tau)/(beta+tau))``; the range is cut where it has fallen by
    40 e-folds and integrated by 64-point Gauss-Legendre in log space. Arguments broadcast.
    """
    r, alpha, s, beta, x, t_x, T = np.broadcast_arrays(
        *(np.asarray(v, dtype="float64") for v in (r, alpha, s, beta, x, t_x, T))
    )
    k = r + x
    length = np.log(alpha + T) - np.log(alpha + t_x)
    ratio = np.minimum((alpha + t_x) / (beta + t_x), (alpha + T) / (beta + T))
    rate = k - 1.0 + (s + 1.0) * ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.where(rate > 0, np.minimum(length, _E_FOLDS / rate), length)
        z = top[..., None] / 2.0 * (_GL_NODES + 1.0)
        tau = (alpha + t_x)[..., None] * np.exp(z) - alpha[..., None]
        log_f = (1.0 - k)[..., None] * np.log(alpha[..., None] + tau) - (s + 1.0)[
            ..., None
        ] * np.log(beta[..., None] + tau)
        log_w = np.log(_GL_WEIGHTS) + np.log(top / 2.0)[..., None]
        log_a0 = np.log(r + s + x) + logsumexp(log_f + log_w, axis=-1)
    return np.asarray(np.where(t_x < T, log_a0, -np.inf))


def _pnbd_log_a0(theta: Theta, x: Any, part_tx: Any, part_T: Any, t_x: Any = None, T: Any = None
                 ) -> np.ndarray:  # fmt: skip
    """log A_0 = log(exp(part(t_x)) - exp(part(T))): -inf when t_x = T.

    Given ``t_x`` and ``T``, log A_0 is exactly -inf where t_x = T (even where 2F1 failed) and
    the entries where the closed form is not finite (t_x < T) are computed directly
    (:func:`_pnbd_log_a0_direct`).
    """
    log_a0 = np.asarray(part_tx + _log1mexp(part_T - part_tx))
    if t_x is None or T is None:
        return log_a0
    r, alpha, s, beta = theta
    arrays = np.broadcast_arrays(log_a0, r, alpha, s, beta, x, t_x, T)
    at_end = arrays[6] >= arrays[7]  # no time to die unseen: A_0 = 0, whatever 2F1 gave
    bad = ~np.isfinite(arrays[0]) & ~at_end
    if not (bad.any() or (at_end & ~np.isneginf(arrays[0])).any()):
        return log_a0
    log_a0 = np.array(arrays[0])
    log_a0[at_end] = -np.inf
    if bad.any():
        log_a0[bad] = _pnbd_log_a0_direct(*(values[bad] for values in arrays[1:]))
    return log_a0


def _pnbd_p_alive_from_parts(
    theta: Theta, x: Any, T: Any, part_tx: Any, part_T: Any, t_x: Any = None
) -> np.ndarray:
    r, alpha, s, beta = theta
    log_a0 = _pnbd_log_a0(theta, x, part_tx, part_T, t_x, None if t_x is None else T)
    exponent = (
        np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
    )
    return np.asarray(expit(-exponent))


def _pnbd_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    return _pnbd_p_alive_from_parts(
        theta, x, T, _pnbd_log_part(theta, x, t_x), _pnbd_log_part(theta, x, T), t_x
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
    if kind == "empirical":  # Poisson purchases at the observed rate
        return np.asarray(np.exp(-_observed_rate(x, T) * t))
    if kind == "nbd":
        r, alpha = theta[0], theta[1]
        return np.asarray(((alpha + T) / (alpha + T + t)) ** (r + x))
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
    a2 = betaln(a, b + x) - betaln(a, b)  # lifetimes' gammaln sum, without its cancellation
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(t_x + alpha)
    top = np.maximum(a3, a4)
    return np.asarray(a1 + a2 + np.log(np.exp(a3 - top) + np.exp(a4 - top) * (x > 0)) + top)


def _mbg_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.asarray(a1 + a2 + a3 + np.logaddexp(a4, 0))


def _pnbd_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, s, beta = theta
    log_a0 = _pnbd_log_a0(
        theta, x, _pnbd_log_part(theta, x, t_x), _pnbd_log_part(theta, x, T), t_x, T
    )
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    a2 = np.logaddexp(
        -(r + x) * np.log(alpha + T) - s * np.log(beta + T), np.log(s) + log_a0 - np.log(r + s + x)
    )
    return np.asarray(a1 + a2)


# -- no dropout: the NBD, and each customer's observed rate ------------------------------------
def _nbd_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """NBD E[Y(t) | x, T] = (r + x) / (alpha + T) t: the posterior mean rate times t ([5])."""
    r, alpha = theta[0], theta[1]
    return np.asarray((r + x) / (alpha + T) * t)


def _always_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(alive) = 1: a model without dropout (the NBD; the observed rates of the empirical CLV)."""
    return np.ones(np.broadcast(np.asarray(x), np.asarray(t_x), np.asarray(T)).shape)


def _nbd_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """NBD P(X(t) = n), n = 0..max_n; rows are t, columns n."""
    r, alpha = theta[0], theta[1]
    n = np.arange(max_n + 1)
    return np.exp(_nb_log_pmf(r, alpha, np.asarray(t, dtype="float64")[:, None], n[None, :]))


def _nbd_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha = theta[0], theta[1]
    return np.asarray(r / alpha * np.asarray(t, dtype="float64"))


def _nbd_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Per customer: log Gamma(r+x) - log Gamma(r) + r log alpha - (r+x) log(alpha+T) (timing
    likelihood, as BG/NBD's: recency carries no information without dropout)."""
    r, alpha = theta[0], theta[1]
    x, _, T = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (x, t_x, T)))
    return np.asarray(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T))


def _observed_rate(x: Any, T: Any) -> np.ndarray:
    """Repeat purchases per unit of time observed, x / T (0 for a customer observed for 0 time)."""
    x, T = np.broadcast_arrays(np.asarray(x, dtype="float64"), np.asarray(T, dtype="float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(T > 0, x / np.where(T > 0, T, 1.0), 0.0))


def _empirical_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """The empirical fallback: the customer's observed rate x / T continues for t."""
    return np.asarray(_observed_rate(x, T) * t)


def _empirical_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """No population distribution without a model: NaN."""
    return np.full((len(np.atleast_1d(t)), max_n + 1), np.nan)


def _empirical_expected(theta: Theta, t: Any) -> np.ndarray:
    """A new customer at the pooled observed rate (theta = (sum x / sum T,))."""
    return np.asarray(theta[0] * np.asarray(t, dtype="float64"))


def _empirical_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """No likelihood: the empirical CLV is not a fitted model."""
    return np.full(np.broadcast(np.asarray(x), np.asarray(t_x), np.asarray(T)).shape, np.nan)


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
    "nbd": _Kernel(
        _nbd_alive_expected, _always_alive, _nbd_pmf, _nbd_expected, _nbd_log_likelihood
    ),
    "empirical": _Kernel(
        _empirical_alive_expected,
        _always_alive,
        _empirical_pmf,
        _empirical_expected,
        _empirical_log_likelihood,
    ),
}


def _spend_coefficients(spend: Theta, x: Any) -> tuple[np.ndarray, np.ndarray]:
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


def _spend_per_order(spend: Theta, x: Any, m: Any) -> np.ndarray:
    """E[spend per order | x, m] = A + B m (:func:`_spend_coefficients`).

    Gamma-Gamma: (1 - w) population mean + w m, w = px/(px+q-1); lifetimes calls it
    ``conditional_expected_average_profit``; it is spend (revenue).
    """
    fixed, slope = _spend_coefficients(spend, x)
    return np.asarray(fixed + slope * m)
