"""Log-likelihoods and gradients of BG/NBD, MBG/NBD, Pareto/NBD, NBD and Gamma-Gamma on patterns.

Every objective is written in the log-parameters the optimizer walks in: ``log a`` enters as
itself (never ``log(exp(log a))``), ratios of gamma functions that cancel at the edges of the
parameter space (``gammaln(a + b) - gammaln(b)`` loses every digit once ``b`` is ~1e12) are
cumulative sums of ``log1p`` terms over the distinct frequencies, and a parameter vector whose
exponential under- or overflows gives the objective ``+inf`` (the line search steps back). So a
fit whose optimizer walks to a boundary (dropout ``a -> 0``, ``b -> inf``) sees a finite value or
``+inf``, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

__all__ = [
    "MODELS",
    "TRANSACTION_MODELS",
    "MODEL_LABELS",
    "PARAMETER_NAMES",
]

# -- the models, their parameters and time units -----------------------------------------------
Array = npt.NDArray[np.float64]
#: Model parameters, as lifetimes passes them (a list) or as the fits do (an array).
Params = Sequence[float] | Array
IntArray = npt.NDArray[np.int64]

#: Candidate transaction models (with dropout), in the order they are fitted and reported.
MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "paretonbd")
#: Every transaction model :func:`crmlib.clv.fit_transactions_model` fits: the candidates and
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
#: Time units of recency and T (those of :mod:`crmlib.clv._summary`, and month), in words.
_UNIT_WORDS = {"day": "days", "week": "weeks", "calendar_week": "weeks", "month": "months"}


# -- Pareto/NBD log A_0, guarded --------------------------------------------------------------
_GL3_NODES, _GL3_WEIGHTS = np.polynomial.legendre.leggauss(3)
_GL32_NODES, _GL32_WEIGHTS = np.polynomial.legendre.leggauss(32)
#: Below this |log ratio| of the two tail terms, A_0 is integrated directly (3-point GL).
_NEAR_CANCEL = 1e-2


def _pareto_log_tail(params: Params, x: Any, u: Any) -> Array:
    """``log(2F1(r+s+x, t; r+s+x+1; z) / (max(alpha, beta) + u)^(r+s+x))`` of Fader-Hardie note 009.

    The hypergeometric function is evaluated after Euler's transformation
    ``2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z)``, which stays finite for heavy
    buyers where the untransformed function overflows.
    """
    r, alpha, s, beta = (float(p) for p in params)
    x = np.asarray(x, dtype=float)
    u = np.asarray(u, dtype=float)
    big, t = (beta, r + x) if alpha < beta else (alpha, s + 1.0 + 0.0 * x)
    rsf = r + s + x
    z = abs(alpha - beta) / (big + u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hyp = np.asarray(special.hyp2f1(1.0, rsf + 1.0 - t, rsf + 1.0, z), dtype=float)
        bad = ~np.isfinite(hyp)
        if bad.any():
            # scipy returns inf when c - a - b is exactly an integer (here r + x - 1, e.g. an
            # integer r) and z is near 1; the function is smooth in c, so nudge c by 1e-11.
            b_bad, c_bad, z_bad = np.broadcast_arrays(rsf + 1.0 - t, rsf + 1.0, z)
            hyp[bad] = special.hyp2f1(1.0, b_bad[bad], c_bad[bad] * (1.0 + 1e-11), z_bad[bad])
        log_f = (1.0 - t) * np.log1p(-z) + np.log(hyp)
        return np.asarray(log_f - rsf * np.log(big + u), dtype=float)


def _log1mexp(d: Array) -> Array:
    """``log(1 - exp(d))`` for ``d < 0`` (``expm1`` keeps it accurate for d near 0)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(np.log(-np.expm1(d)), dtype=float)


def _pareto_log_a0_quadrature(
    params: Params, x: Array, t_x: Array, age: Array, nodes: Array, weights: Array
) -> Array:
    """``log A_0 = log(r+s+x) + log(integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1))``."""
    r, alpha, s, beta = (float(p) for p in params)
    half = (age - t_x) / 2.0
    tau = (t_x + half)[:, None] + half[:, None] * nodes[None, :]
    log_f = -(r + x)[:, None] * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau)
    log_w = np.log(weights)[None, :] + np.log(half)[:, None]
    return np.asarray(np.log(r + s + x) + special.logsumexp(log_f + log_w, axis=1), dtype=float)


def _pareto_combine(
    params: Params, x: Array, t_x: Array, age: Array, log_rec: Array, log_age: Array
) -> Array:
    """``log A_0`` from the two tail terms: their guarded difference in log space.

    ``A_0 = exp(log_rec) - exp(log_age)``, i.e. ``(r+s+x)`` times the integral over the
    unseen time ``(t_x, T]``. It is exactly 0 (log: ``-inf``) when ``t_x == T``; when the two
    terms nearly cancel (or either is not finite) the integral is computed directly.
    """
    with np.errstate(invalid="ignore"):
        diff = log_age - log_rec
    out = log_rec + _log1mexp(diff)
    near = np.flatnonzero(~(diff <= -_NEAR_CANCEL))
    near = near[t_x[near] < age[near]]
    if near.size:
        fallback = ~np.isfinite(diff[near])
        nodes, weights = (
            (_GL32_NODES, _GL32_WEIGHTS) if fallback.any() else (_GL3_NODES, _GL3_WEIGHTS)
        )
        out[near] = _pareto_log_a0_quadrature(params, x[near], t_x[near], age[near], nodes, weights)
    out[t_x >= age] = -np.inf
    return out


def _pareto_log_a0(params: Params, freq: Any, recency: Any, age: Any) -> Any:
    """Guarded ``log A_0`` with lifetimes' signature; scalars in, scalar out."""
    scalar = np.ndim(freq) == 0 and np.ndim(recency) == 0 and np.ndim(age) == 0
    x, t_x, t_age = np.broadcast_arrays(
        np.atleast_1d(np.asarray(freq, dtype=float)),
        np.atleast_1d(np.asarray(recency, dtype=float)),
        np.atleast_1d(np.asarray(age, dtype=float)),
    )
    x, t_x, t_age = (np.array(v, dtype=float) for v in (x, t_x, t_age))
    out = _pareto_combine(
        params, x, t_x, t_age, _pareto_log_tail(params, x, t_x), _pareto_log_tail(params, x, t_age)
    )
    return float(out[0]) if scalar else out


def _pareto_conditional_ll(params: Params, freq: Any, rec: Any, T: Any) -> Any:
    """lifetimes' Pareto/NBD individual log-likelihood (note 009, eq. 18) with the guard."""
    r, alpha, s, beta = (float(p) for p in params)
    x = np.asarray(freq, dtype=float)
    age = np.asarray(T, dtype=float)
    a_1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_a0 = _pareto_log_a0(params, freq, rec, T)
    a_2 = np.logaddexp(
        -(r + x) * np.log(alpha + age) - s * np.log(beta + age),
        np.log(s) + log_a0 - np.log(r + s + x),
    )
    return a_1 + a_2


# -- patterns -----------------------------------------------------------------------------------
def _group_codes(*columns: np.ndarray) -> tuple[IntArray, IntArray]:
    """Codes 0..k-1 of the distinct rows of ``columns`` (sorted), and each code's first row."""
    frame = pd.DataFrame({f"c{i}": col for i, col in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy(dtype=np.int64)
    first = np.unique(codes, return_index=True)[1].astype(np.int64)
    return codes, first


@dataclass(frozen=True)
class _Data:
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
    def build(cls, x: Array, t_x: Array, age: Array, w: Array) -> _Data:
        x_u, ix = np.unique(x, return_inverse=True)
        iT, first_T = _group_codes(x, age)
        iR, first_R = _group_codes(x, t_x)
        return cls(
            x=x, t_x=t_x, age=age, w=w, x_u=x_u,
            w_x=np.bincount(ix, weights=w, minlength=x_u.size).astype(float), ix=ix.astype(np.int64),
            xT_x=x[first_T], xT_T=age[first_T], iT=iT,
            xR_x=x[first_R], xR_t=t_x[first_R], iR=iR,
        )  # fmt: skip

    def scaled(self, scale: float) -> _Data:
        """The same patterns with every time multiplied by ``scale``."""
        return _Data(
            x=self.x, t_x=self.t_x * scale, age=self.age * scale, w=self.w, x_u=self.x_u,
            w_x=self.w_x, ix=self.ix, xT_x=self.xT_x, xT_T=self.xT_T * scale, iT=self.iT,
            xR_x=self.xR_x, xR_t=self.xR_t * scale, iR=self.iR,
        )  # fmt: skip

    def subsample(self, size: int, seed: int) -> _Data:
        """A weighted random subsample of ``size`` patterns (for a warm start only)."""
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(self.x.size, size=size, replace=False))
        factor = self.total / float(self.w[rows].sum())
        return _Data.build(self.x[rows], self.t_x[rows], self.age[rows], self.w[rows] * factor)


@dataclass(frozen=True)
class _SpendData:
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
    def build(cls, x: Array, m: Array, w: Array) -> _SpendData:
        x_u, ix = np.unique(x, return_inverse=True)
        return cls(
            x=x, m=m, w=w, x_u=x_u, w_x=np.bincount(ix, weights=w, minlength=x_u.size).astype(float),
            xm=x * m, wx=w * x, log_m_x=float(np.sum(w * x * np.log(m))),
            log_m=float(np.sum(w * np.log(m))), x_log_x=float(np.sum(w * x * np.log(x))),
        )  # fmt: skip

    def scaled(self, scale: float) -> _SpendData:
        """The same customers with every average spend multiplied by ``scale``."""
        return _SpendData.build(self.x, self.m * scale, self.w)

    def subsample(self, size: int, seed: int) -> _SpendData:
        """A weighted random subsample of ``size`` pairs (for a warm start only)."""
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(self.x.size, size=size, replace=False))
        factor = self.total / float(self.w[rows].sum())
        return _SpendData.build(self.x[rows], self.m[rows], self.w[rows] * factor)


# -- likelihoods: mean negative log-likelihood per customer and its gradient --------------------
#: The objective and gradient where the parameters leave the floating-point range.
_OUT_OF_RANGE = math.inf


def _positive(log_params: Array) -> Array | None:
    """``exp(log_params)`` when every parameter is a finite positive float, else None."""
    with np.errstate(over="ignore", under="ignore"):
        params = np.exp(log_params)
    if np.all(np.isfinite(log_params)) and np.all(params > 0) and np.all(np.isfinite(params)):
        return np.asarray(params, dtype=float)
    return None


def _out_of_range(log_params: Array) -> tuple[float, Array]:
    return _OUT_OF_RANGE, np.zeros(np.shape(log_params))


def _finish_objective(
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
        return _out_of_range(params)
    return value, np.asarray(gradient, dtype=float)


def _rising(z: float, top: int) -> tuple[Array, Array]:
    """``log(z (z+1) ... (z+n-1))`` and its derivative in ``log z``, for n = 0..top.

    Cumulative sums of ``log(z + k)`` and ``z / (z + k)``: ``gammaln(z + n) - gammaln(z)``
    and ``z (digamma(z + n) - digamma(z))`` without their cancellation for large ``z``.
    """
    terms = z + np.arange(top, dtype=float)
    return (
        np.concatenate(([0.0], np.cumsum(np.log(terms)))),
        np.concatenate(([0.0], np.cumsum(z / terms))),
    )


def _beta_ratio(a: float, b: float, top: int) -> tuple[Array, Array, Array]:
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


def _bg_family(
    log_params: Array, data: _Data, penalizer: float, *, modified: bool
) -> tuple[float, Array]:
    """BG/NBD (Fader, Hardie & Lee 2005) or MBG/NBD (Batislam et al. 2007), as in lifetimes.

    Per customer: ``A_1 + A_2 + log(exp(A_3) + [x > 0] exp(A_4))`` (BG/NBD) with lifetimes'
    terms; MBG/NBD moves ``+1`` into the beta terms and keeps ``A_4`` for one-time buyers.
    ``A_1 = log Gamma(r+x) - log Gamma(r) + r log alpha`` and ``A_2 = log B(a, b+x) - log B(a, b)``
    are cumulative sums (:func:`_rising`, :func:`_beta_ratio`); ``log a`` is the parameter.
    """
    params = _positive(log_params)
    if params is None:
        return _out_of_range(log_params)
    r, alpha, a, b = params
    log_alpha, log_a = float(log_params[1]), float(log_params[2])
    shift = 1 if modified else 0
    x_u, w_x = data.x_u, data.w_x
    xi = x_u.astype(np.int64)
    top = int(xi.max()) if xi.size else 0
    log_r_rise, d_r_rise = _rising(r, top)
    log_beta, d_a_beta, d_b_beta = _beta_ratio(a, b, top + shift)
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
    return _finish_objective(ll, grad, params, data.total, penalizer)


def _bgnbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    return _bg_family(log_params, data, penalizer, modified=False)


def _mbgnbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    return _bg_family(log_params, data, penalizer, modified=True)


def _nbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    """NBD (Ehrenberg 1959; Morrison & Schmittlein 1988): Poisson purchases, Gamma rates, no dropout.

    Purchases of a customer in (0, T] are Poisson(lambda T), lambda ~ Gamma(r, alpha); with the
    purchase times the likelihood is ``Gamma(r+x)/Gamma(r) alpha^r / (alpha+T)^(r+x)``
    (recency carries no information), i.e. the BG/NBD's ``A_1 + A_3``: BG/NBD at ``a -> 0``.
    """
    params = _positive(log_params)
    if params is None:
        return _out_of_range(log_params)
    r, alpha = params
    log_alpha = float(log_params[1])
    xi = data.x_u.astype(np.int64)
    log_r_rise, d_r_rise = _rising(r, int(xi.max()) if xi.size else 0)
    w_T = np.bincount(data.iT, weights=data.w, minlength=data.xT_T.size)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_at = np.log(alpha + data.xT_T)
        ll = float(
            np.dot(data.w_x, log_r_rise[xi] + r * log_alpha) - w_T @ ((r + data.xT_x) * log_at)
        )
        d_r = np.dot(data.w_x, d_r_rise[xi] + r * log_alpha) - r * (w_T @ log_at)
        d_alpha = data.total * r - w_T @ ((r + data.xT_x) * alpha / (alpha + data.xT_T))
    grad = np.array([d_r, d_alpha], dtype=float)
    return _finish_objective(ll, grad, params, data.total, penalizer)


def _pareto_value(log_params: Array, data: _Data, penalizer: float) -> float:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) as in lifetimes, guarded."""
    params = _positive(log_params)
    if params is None:
        return math.inf
    r, alpha, s, beta = params
    log_alpha, log_s, log_beta = (float(log_params[i]) for i in (1, 2, 3))
    xi = data.x_u.astype(np.int64)
    log_r_rise, _ = _rising(r, int(xi.max()) if xi.size else 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        const = log_r_rise[xi] + r * log_alpha + s * log_beta
        alive = -(r + data.xT_x) * np.log(alpha + data.xT_T) - s * np.log(beta + data.xT_T)
        log_age = _pareto_log_tail(params, data.xT_x, data.xT_T)[data.iT]
        log_rec = _pareto_log_tail(params, data.xR_x, data.xR_t)[data.iR]
        log_a0 = _pareto_combine(params, data.x, data.t_x, data.age, log_rec, log_age)
        second = log_s - np.log(r + s + data.x) + log_a0
        ll = float(np.dot(data.w_x, const) + np.dot(data.w, np.logaddexp(alive[data.iT], second)))
        value = -ll / data.total + penalizer * float(np.sum(params**2))
    return value if math.isfinite(value) else math.inf


_FD_STEP = 1e-5


def _paretonbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    """Value and central-difference gradient of :func:`_pareto_value`."""
    value = _pareto_value(log_params, data, penalizer)
    grad = np.empty(log_params.size)
    for i in range(log_params.size):
        step = np.zeros(log_params.size)
        step[i] = _FD_STEP
        up = _pareto_value(log_params + step, data, penalizer)
        down = _pareto_value(log_params - step, data, penalizer)
        grad[i] = (up - down) / (2.0 * _FD_STEP)
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        return _out_of_range(log_params)
    return value, grad


def _gammagamma(log_params: Array, data: _SpendData, penalizer: float) -> tuple[float, Array]:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005; note 025) as in lifetimes."""
    params = _positive(log_params)
    if params is None:
        return _out_of_range(log_params)
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
    return _finish_objective(float(ll), grad, params, data.total, penalizer)


_OBJECTIVES: dict[str, Callable[..., tuple[float, Array]]] = {
    "bgnbd": _bgnbd,
    "mbgnbd": _mbgnbd,
    "paretonbd": _paretonbd,
    "nbd": _nbd,
    "gammagamma": _gammagamma,
}


def _value(model: str, log_params: Array, data: Any, penalizer: float) -> float:
    if model == "paretonbd":
        return _pareto_value(log_params, data, penalizer)
    return _OBJECTIVES[model](log_params, data, penalizer)[0]
