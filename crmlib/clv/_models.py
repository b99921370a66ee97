"""BTYD models via lifetimes: BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma, fitted on patterns.

Input: a customer summary, one row per customer, in lifetimes' convention:

- ``frequency``: repeat purchases (purchase days after the first one; an integer >= 0);
- ``recency``: time from the first to the last purchase, in ``unit`` (0 for one-time buyers);
- ``T``: time from the first purchase to the end of the calibration period, in ``unit``;
- ``monetary_value`` (spend model only): average net value of the repeat purchases.

The likelihoods are lifetimes' own (checked against its functions in the tests), maximised
in log-parameters by BFGS with analytic gradients (Pareto/NBD: central differences) on the
**unique (frequency, recency, T) patterns** with weights = number of customers. The summed
log-likelihood is the same function of the parameters as on all rows, so the estimates are
the same; each evaluation additionally works on the unique (frequency, T) and
(frequency, recency) pairs, which makes a million customers cheap without rounding any time.
Time is scaled inside the fit as lifetimes does (the longest customer age becomes 1), and the
time-scale parameters (``alpha``, Pareto/NBD ``beta``) are converted back to ``unit``.

Every fit is checked (finite log-likelihood, parameters away from the edge of the parameter
space, gradient ~ 0, positive definite Hessian, no log-parameter with a standard error above
5). A failed fit is retried with time rescaled by the mean customer age (Gamma-Gamma: spend
by its mean) from another start, then with a small penalizer; every attempt is recorded in
words, and if all fail the model says ``converged=False`` (and logs a warning) instead of
returning a silent bad fit. The covariance of the parameters comes from the Hessian of the
log-likelihood (lifetimes' own ``variance_matrix_`` has the right diagonal but wrong
off-diagonal terms, and none for Pareto/NBD).

Pareto/NBD: lifetimes computes ``log A_0`` as scipy's ``logsumexp`` with weights (1, -1) of
two terms that are equal when the last purchase is at the end of the observation
(``recency == T``). There ``A_0 = 0`` exactly (no time to die unseen), so ``log A_0 = -inf``
must drop out of the outer sum; scipy returns -inf for small terms but NaN once they exceed
~709 (heavy buyers), and the hypergeometric function itself can overflow or return inf.
:class:`GuardedParetoNBDFitter` (a subclass: lifetimes is not patched) computes the same
quantity as a guarded difference in log space: ``-inf`` at ``recency == T``, a Gauss-Legendre
integral when the two terms nearly cancel, and the hypergeometric function after Euler's
transformation. It is equal to lifetimes wherever lifetimes is finite.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from crmlib.checks import require_columns
from crmlib.errors import DataContractError

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "PARAMETER_NAMES",
    "FittedModel",
    "unique_patterns",
    "fit_transactions_model",
    "fit_spend_model",
    "spend_independence",
    "fit_all",
    "describe_fit",
    "parameter_table",
]

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float64]
#: Model parameters, as lifetimes passes them (a list) or as the fits do (an array).
Params = Sequence[float] | Array
IntArray = npt.NDArray[np.int64]

#: Transaction models, in the order they are fitted and reported.
MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "paretonbd")
#: Display names of the models (including the spend model ``"gammagamma"``).
MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "paretonbd": "Pareto/NBD",
    "gammagamma": "Gamma-Gamma",
}
#: Parameter names per model, as lifetimes names them (Gamma-Gamma ``v`` is the paper's gamma).
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
    "gammagamma": ("p", "q", "v"),
}
#: Parameters measured in the time unit (they scale with it).
_TIME_PARAMETERS = ("alpha", "beta")
#: Parameters that scale with the data inside a fit: times (alpha, beta), money (v).
_SCALED_PARAMETERS = ("alpha", "beta", "v")
#: Time units of recency and T (those of :mod:`crmlib.clv._summary`, and month), in words.
_UNIT_WORDS = {"day": "days", "week": "weeks", "calendar_week": "weeks", "month": "months"}
_UNITS = tuple(_UNIT_WORDS)
_SUMMARY_COLUMNS = ("frequency", "recency", "T")

#: A fit stops when max |gradient| of the mean negative log-likelihood (per customer, with
#: respect to the log-parameters) is below this; the convergence check accepts 10x it.
_GTOL = 1e-7
_GRAD_ACCEPT = 1e-5
#: Log-parameters (time scaled so that the longest age is 1) beyond +-this are "at the edge".
_EDGE = math.log(1e6)
#: Smallest Hessian eigenvalue accepted, relative to the largest (below: a flat direction).
_MIN_EIGEN_RATIO = 1e-9
#: Largest standard error of a log-parameter accepted (e^5 ~ 150: the data say nothing).
_MAX_SE_LOG = 5.0
#: Penalizer of the retry, when the caller's is smaller.
_RETRY_PENALIZER = 1e-3
#: Start of lifetimes' BFGS fitters (log-parameters), and of the Pareto/NBD fit (parameters 1).
_START = {"bgnbd": 0.1, "mbgnbd": 0.1, "paretonbd": 0.0, "gammagamma": 0.1}
#: Above this many patterns a fit is warm-started on a weighted subsample first.
_WARM_START_PATTERNS = 100_000
_WARM_START_SIZE = 20_000


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

    GuardedParetoNBDFitter.__module__ = __name__
    GuardedParetoNBDFitter.__qualname__ = "GuardedParetoNBDFitter"
    return GuardedParetoNBDFitter


def __getattr__(name: str) -> Any:
    """``GuardedParetoNBDFitter`` is built on first access (lifetimes is imported lazily)."""
    if name == "GuardedParetoNBDFitter":
        return _guarded_pareto_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
def _bg_family(
    log_params: Array, data: _Data, penalizer: float, *, modified: bool
) -> tuple[float, Array]:
    """BG/NBD (Fader, Hardie & Lee 2005) or MBG/NBD (Batislam et al. 2007), as in lifetimes.

    Per customer: ``A_1 + A_2 + log(exp(A_3) + [x > 0] exp(A_4))`` (BG/NBD) with lifetimes'
    terms; MBG/NBD moves ``+1`` into the beta terms and keeps ``A_4`` for one-time buyers.
    """
    params = np.exp(log_params)
    r, alpha, a, b = params
    shift = 1.0 if modified else 0.0
    x_u, w_x = data.x_u, data.w_x
    lg = special.gammaln
    const = (
        lg(r + x_u) - lg(r) + r * math.log(alpha)
        + lg(a + b) + lg(b + x_u + shift) - lg(b) - lg(a + b + x_u + shift)
    )  # fmt: skip
    log_at = np.log(alpha + data.xT_T)
    a3 = -(r + data.xT_x) * log_at
    log_ar = np.log(alpha + data.xR_t)
    if modified:
        denom = b + data.xR_x
        a4 = math.log(a) - np.log(denom) - (r + data.xR_x) * log_ar
    else:
        denom = b + np.maximum(data.xR_x, 1.0) - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                data.xR_x > 0, math.log(a) - np.log(denom) - (r + data.xR_x) * log_ar, -np.inf
            )
    row3, row4 = a3[data.iT], a4[data.iR]
    both = np.logaddexp(row3, row4)
    ll = float(np.dot(w_x, const) + np.dot(data.w, both))
    s3 = np.bincount(data.iT, weights=data.w * np.exp(row3 - both), minlength=a3.size)
    s4 = np.bincount(data.iR, weights=data.w * np.exp(row4 - both), minlength=a4.size)
    dg = special.digamma
    d_r = np.dot(w_x, dg(r + x_u) - dg(r) + math.log(alpha)) - s3 @ log_at - s4 @ log_ar
    d_alpha = (
        data.total * r / alpha
        - s3 @ ((r + data.xT_x) / (alpha + data.xT_T))
        - s4 @ ((r + data.xR_x) / (alpha + data.xR_t))
    )
    d_a = np.dot(w_x, dg(a + b) - dg(a + b + x_u + shift)) + s4.sum() / a
    d_b = np.dot(w_x, dg(a + b) + dg(b + x_u + shift) - dg(b) - dg(a + b + x_u + shift)) - s4 @ (
        1.0 / denom
    )
    grad = np.array([d_r, d_alpha, d_a, d_b])
    value = -ll / data.total + penalizer * float(np.sum(params**2))
    return value, -grad * params / data.total + 2.0 * penalizer * params**2


def _bgnbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    return _bg_family(log_params, data, penalizer, modified=False)


def _mbgnbd(log_params: Array, data: _Data, penalizer: float) -> tuple[float, Array]:
    return _bg_family(log_params, data, penalizer, modified=True)


def _pareto_value(log_params: Array, data: _Data, penalizer: float) -> float:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) as in lifetimes, guarded."""
    params = np.exp(log_params)
    r, alpha, s, beta = params
    lg = special.gammaln
    const = lg(r + data.x_u) - lg(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -(r + data.xT_x) * np.log(alpha + data.xT_T) - s * np.log(beta + data.xT_T)
    log_age = _pareto_log_tail(params, data.xT_x, data.xT_T)[data.iT]
    log_rec = _pareto_log_tail(params, data.xR_x, data.xR_t)[data.iR]
    log_a0 = _pareto_combine(params, data.x, data.t_x, data.age, log_rec, log_age)
    second = math.log(s) - np.log(r + s + data.x) + log_a0
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
    return value, grad


def _gammagamma(log_params: Array, data: _SpendData, penalizer: float) -> tuple[float, Array]:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005; note 025) as in lifetimes."""
    params = np.exp(log_params)
    p, q, v = params
    px = p * data.x_u
    lg, dg = special.gammaln, special.digamma
    xm_v = data.xm + v
    log_xm_v = np.log(xm_v)
    inv_xm_v = 1.0 / xm_v
    sum_log, sum_x_log = np.dot(data.w, log_xm_v), np.dot(data.wx, log_xm_v)
    ll = (
        np.dot(data.w_x, lg(px + q) - lg(px) - lg(q) + q * math.log(v))
        + p * data.log_m_x - data.log_m + p * data.x_log_x
        - (p * sum_x_log + q * sum_log)
    )  # fmt: skip
    d_p = (
        np.dot(data.w_x, data.x_u * (dg(px + q) - dg(px)))
        + data.log_m_x + data.x_log_x - sum_x_log
    )  # fmt: skip
    d_q = np.dot(data.w_x, dg(px + q) - dg(q) + math.log(v)) - sum_log
    d_v = data.total * q / v - (p * np.dot(data.wx, inv_xm_v) + q * np.dot(data.w, inv_xm_v))
    grad = np.array([d_p, d_q, d_v])
    value = -float(ll) / data.total + penalizer * float(np.sum(params**2))
    return value, -grad * params / data.total + 2.0 * penalizer * params**2


_OBJECTIVES: dict[str, Callable[..., tuple[float, Array]]] = {
    "bgnbd": _bgnbd,
    "mbgnbd": _mbgnbd,
    "paretonbd": _paretonbd,
    "gammagamma": _gammagamma,
}


def _value(model: str, log_params: Array, data: Any, penalizer: float) -> float:
    if model == "paretonbd":
        return _pareto_value(log_params, data, penalizer)
    return _OBJECTIVES[model](log_params, data, penalizer)[0]


def _hessian(model: str, log_params: Array, data: Any, penalizer: float) -> Array:
    """Hessian of the mean objective in log-parameters by central differences.

    Of the analytic gradient (step 1e-5) where there is one; of the value (step 1e-4) for
    Pareto/NBD.
    """
    k = log_params.size
    hess = np.empty((k, k))
    if model != "paretonbd":
        step = 1e-5
        for j in range(k):
            e = np.zeros(k)
            e[j] = step
            grad_up = _OBJECTIVES[model](log_params + e, data, penalizer)[1]
            grad_down = _OBJECTIVES[model](log_params - e, data, penalizer)[1]
            hess[:, j] = (grad_up - grad_down) / (2 * step)
    else:
        step = 1e-4
        f0 = _value(model, log_params, data, penalizer)
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = step, step
                if i == j:
                    up = _value(model, log_params + ei, data, penalizer)
                    down = _value(model, log_params - ei, data, penalizer)
                    hess[i, i] = (up - 2 * f0 + down) / step**2
                else:
                    pp = _value(model, log_params + ei + ej, data, penalizer)
                    pm = _value(model, log_params + ei - ej, data, penalizer)
                    mp = _value(model, log_params - ei + ej, data, penalizer)
                    mm = _value(model, log_params - ei - ej, data, penalizer)
                    hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4 * step**2)
    return (hess + hess.T) / 2


# -- one fit attempt ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Attempt:
    """One try: time scale (times are multiplied by ``scale``), penalizer, start, words."""

    scale: float
    penalizer: float
    start: float
    words: str


@dataclass(frozen=True)
class _Outcome:
    attempt: _Attempt
    log_params: Array  # in scaled time
    value: float
    grad: Array
    hessian: Array | None
    failure: str | None  # None = converged
    message: str


def _minimize(
    model: str,
    data: Any,
    penalizer: float,
    x0: Array,
    *,
    gtol: float = _GTOL,
    hess_inv0: Array | None = None,
) -> optimize.OptimizeResult:
    options: dict[str, Any] = {"gtol": gtol, "maxiter": 2000}
    if hess_inv0 is not None:
        options["hess_inv0"] = hess_inv0
    with np.errstate(all="ignore"):
        return optimize.minimize(
            _OBJECTIVES[model], x0, args=(data, penalizer), jac=True, method="BFGS",
            options=options,
        )  # fmt: skip


def _warm_start(
    model: str, data: _Data | _SpendData, attempt: _Attempt, x0: Array
) -> tuple[Array, Array | None]:
    """Start and inverse Hessian for the full fit, from a fit on a weighted subsample.

    Only the path of the optimizer changes: the full fit still runs to the full-data optimum.
    """
    sample = data.subsample(_WARM_START_SIZE, seed=0)
    first = _minimize(model, sample, attempt.penalizer, x0, gtol=_GRAD_ACCEPT)
    if not (np.all(np.isfinite(first.x)) and np.all(np.abs(first.x) < _EDGE)):
        return x0, None
    with np.errstate(all="ignore"):
        hessian = _hessian(model, first.x, sample, attempt.penalizer)
    if not np.all(np.isfinite(hessian)) or np.linalg.eigvalsh(hessian)[0] <= 0:
        return first.x, None
    inverse = np.linalg.inv(hessian)
    return first.x, (inverse + inverse.T) / 2


def _run_attempt(model: str, data: Any, attempt: _Attempt, *, warm_start: bool) -> _Outcome:
    names = PARAMETER_NAMES[model]
    scaled = data.scaled(attempt.scale) if attempt.scale != 1.0 else data
    x0 = np.full(len(names), attempt.start)
    hess_inv0 = None
    if warm_start and scaled.x.size > _WARM_START_PATTERNS:
        x0, hess_inv0 = _warm_start(model, scaled, attempt, x0)
    result = _minimize(model, scaled, attempt.penalizer, x0, hess_inv0=hess_inv0)
    log_params = np.asarray(result.x, dtype=float)
    with np.errstate(all="ignore"):
        value, grad = _OBJECTIVES[model](log_params, scaled, attempt.penalizer)
    failure = _diagnose(names, log_params, value, grad)
    if failure is not None and not result.success:
        failure += f" (optimizer: {result.message})"
    hessian = None
    if failure is None:
        with np.errstate(all="ignore"):
            hessian = _hessian(model, log_params, scaled, attempt.penalizer)
        failure = _check_hessian(names, hessian, scaled.total)
    return _Outcome(attempt, log_params, value, grad, hessian, failure, str(result.message))


def _diagnose(names: Sequence[str], log_params: Array, value: float, grad: Array) -> str | None:
    """Why the stopping point is not an optimum, or None."""
    if not math.isfinite(value):
        return "the log-likelihood is not finite at the stopping point"
    if not np.all(np.isfinite(log_params)):
        return "the parameters are not finite"
    edge = [
        f"{name} = {math.exp(v):.3g}"
        for name, v in zip(names, log_params, strict=True)
        if abs(v) > _EDGE
    ]
    if edge:
        return (
            f"{', '.join(edge)} went to the edge of the parameter space (time scaled to the "
            "longest age; the data do not pin the model down)"
        )
    g_max = float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else math.inf
    if not g_max <= _GRAD_ACCEPT:
        return f"the gradient is not zero where the optimizer stopped (max |gradient| {g_max:.1e})"
    return None


def _check_hessian(names: Sequence[str], hessian: Array, total: float) -> str | None:
    """Why the curvature at the stopping point does not make it a usable optimum, or None."""
    if not np.all(np.isfinite(hessian)):
        return "the curvature of the log-likelihood is not finite at the optimum"
    eigen, vectors = np.linalg.eigh(hessian)
    if eigen[0] <= 0 or eigen[0] <= _MIN_EIGEN_RATIO * float(eigen[-1]):
        flat = [name for name, c in zip(names, vectors[:, 0], strict=True) if abs(c) > 0.3]
        return (
            "the log-likelihood is flat at the stopping point (Hessian not positive definite; "
            f"not identified: {', '.join(flat) or 'a combination of the parameters'})"
        )
    se_log = np.sqrt(np.diag(np.linalg.inv(hessian)) / total)
    loose = [f"{name} (standard error of log {name} {se:.3g})"
             for name, se in zip(names, se_log, strict=True) if se > _MAX_SE_LOG]  # fmt: skip
    if loose:
        return (
            f"the data do not identify {', '.join(loose)}: uncertain by a factor of more than "
            f"e^{_MAX_SE_LOG:g}, the optimizer is drifting along a flat ridge"
        )
    return None


def _plan(model: str, data: _Data | _SpendData, penalizer: float, unit: str) -> list[_Attempt]:
    """The attempts in order: lifetimes' setup, a rescaled restart, a small penalizer."""
    retry_pen = max(_RETRY_PENALIZER, 10.0 * penalizer)
    pen_words = f", penalizer {penalizer:g}" if penalizer > 0 else ", no penalizer"
    start = _START[model]
    if isinstance(data, _SpendData):
        mean_spend = float(np.average(data.m, weights=data.w))
        return [
            _Attempt(1.0, penalizer, start, f"BFGS from lifetimes' start{pen_words}"),
            _Attempt(
                1.0 / mean_spend, penalizer, 0.0,
                f"average spend rescaled by its mean (monetary_value / {mean_spend:.4g}; v "
                f"converted back by that factor), restarted from all parameters = 1{pen_words}",
            ),
            _Attempt(
                1.0 / mean_spend, retry_pen, 0.0,
                f"small penalizer {retry_pen:g} x sum of squared parameters (lifetimes' L2 "
                "penalty; it shrinks the estimates), average spend rescaled by its mean",
            ),
        ]  # fmt: skip
    longest = float(data.age.max())
    mean_age = float(np.average(data.age, weights=data.w))
    if not longest > 0:
        longest = mean_age = 1.0
    if not mean_age > 0:
        mean_age = longest
    time_params = [n for n in PARAMETER_NAMES[model] if n in _TIME_PARAMETERS]
    return [
        _Attempt(
            1.0 / longest, penalizer, start,
            f"BFGS from lifetimes' start, time scaled so that the longest customer age is 1 "
            f"(T / {longest:.4g} {_UNIT_WORDS[unit]}, as lifetimes does){pen_words}",
        ),
        _Attempt(
            1.0 / mean_age, penalizer, 0.0 if start else 0.5,
            f"time rescaled by the mean customer age instead (T / {mean_age:.4g} {_UNIT_WORDS[unit]}; "
            f"{' and '.join(time_params)} converted back by that factor), restarted from "
            f"{'all parameters = 1' if start else 'all log-parameters = 0.5'}{pen_words}",
        ),
        _Attempt(
            1.0 / longest, retry_pen, start,
            f"small penalizer {retry_pen:g} x sum of squared parameters (lifetimes' L2 "
            "penalty; it shrinks the estimates), time scaled as lifetimes does",
        ),
    ]  # fmt: skip


def _fit(
    model: str, data: _Data | _SpendData, *, penalizer: float, unit: str, warm_start: bool = True
) -> tuple[_Outcome, list[_Outcome], list[str]]:
    """Run the attempts until one converges; the chosen outcome, all outcomes, their words."""
    outcomes: list[_Outcome] = []
    words: list[str] = []
    for number, attempt in enumerate(_plan(model, data, penalizer, unit), start=1):
        # one BLAS thread: the dot products are memory-bound, and threads only contend
        with threadpool_limits(limits=1):
            outcome = _run_attempt(model, data, attempt, warm_start=warm_start)
        outcomes.append(outcome)
        if outcome.failure is None:
            words.append(
                f"attempt {number}: {attempt.words}: converged (max |gradient| "
                f"{float(np.max(np.abs(outcome.grad))):.1e})"
            )
            return outcome, outcomes, words
        words.append(f"attempt {number}: {attempt.words}: failed, {outcome.failure}")
    finite = [o for o in outcomes if math.isfinite(o.value) and np.all(np.isfinite(o.log_params))]
    best = min(finite, key=lambda o: o.value) if finite else outcomes[0]
    return best, outcomes, words


def _natural_params(model: str, log_params: Array, scale: float) -> dict[str, float]:
    """Parameters in the caller's unit: time-scale parameters divided by ``scale``."""
    values = np.exp(log_params)
    return {
        name: float(value / scale if name in _SCALED_PARAMETERS else value)
        for name, value in zip(PARAMETER_NAMES[model], values, strict=True)
    }


def _covariance(params: Mapping[str, float], hessian: Array | None, total: float) -> Array | None:
    """Covariance of the parameters: ``J H^-1 J / n`` with ``J = diag(params)``.

    ``H`` is the Hessian of the mean objective in log-parameters (invariant to the time
    scale), ``n`` the number of customers.
    """
    if hessian is None:
        return None
    jac = np.diag(list(params.values()))
    return np.asarray(jac @ np.linalg.inv(hessian) @ jac / total, dtype=float)


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


# -- public API ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted transaction (BG/NBD, MBG/NBD, Pareto/NBD) or spend (Gamma-Gamma) model.

    ``params`` are in lifetimes' names; ``alpha`` (and Pareto/NBD ``beta``) are in ``unit``
    (e.g. weeks), the others are unitless; Gamma-Gamma ``v`` is in the currency.
    ``log_likelihood`` is the full-data log-likelihood (summed over customers, without the
    penalty). ``covariance`` is the parameters' covariance (same order as ``params``) from
    the Hessian at the optimum, None if the fit did not converge. ``fitter`` is the lifetimes
    fitter, fitted (None only if no attempt produced finite parameters).
    """

    name: str
    unit: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    n_patterns: int
    converged: bool
    attempts: tuple[str, ...]
    notes: tuple[str, ...]
    fitter: Any
    covariance: np.ndarray | None

    @property
    def label(self) -> str:
        """Display name, e.g. ``"BG/NBD"``."""
        return MODEL_LABELS.get(self.name, self.name)

    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        return len(self.params)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``2k - 2 LL``."""
        return 2.0 * self.n_params - 2.0 * self.log_likelihood

    @property
    def bic(self) -> float:
        """Bayesian information criterion with n = customers, ``k log n - 2 LL``."""
        return self.n_params * math.log(max(self.n_customers, 1)) - 2.0 * self.log_likelihood

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard errors of ``params`` (square roots of the covariance diagonal)."""
        if self.covariance is None:
            return None
        return dict(zip(self.params, np.sqrt(np.diag(self.covariance)).tolist(), strict=True))


def _summary_arrays(summary: pd.DataFrame) -> tuple[Array, Array, Array]:
    """frequency, recency, T as float arrays, checked against lifetimes' rules."""
    require_columns(summary, list(_SUMMARY_COLUMNS), table_name="summary")
    if summary.empty:
        raise DataContractError("summary: no customers; expected one row per customer")
    arrays = []
    for column in _SUMMARY_COLUMNS:
        values = _numbers(summary[column])
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise DataContractError(
                f"summary: column '{column}' has {bad} customers with a missing or non-numeric "
                "value; expected a finite number for every customer"
            )
        if np.any(values < 0):
            raise DataContractError(
                f"summary: column '{column}' is negative for "
                f"{int(np.count_nonzero(values < 0))} customers; expected >= 0"
            )
        arrays.append(values)
    x, t_x, age = arrays
    problems = {
        "frequency is not a whole number": x != np.round(x),
        "recency > T": t_x > age,
        "recency != 0 with frequency 0": (x == 0) & (t_x != 0),
    }
    for what, mask in problems.items():
        if mask.any():
            raise DataContractError(
                f"summary: {what} for {int(mask.sum())} customers; expected lifetimes' "
                "frequency (repeat purchases), recency and T (time since the first purchase)"
            )
    return x, t_x, age


def unique_patterns(summary: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct (frequency, recency, T) purchase patterns with the number of customers each.

    Transforms *frequency, recency, T* (one row per customer, times in any one unit) into
    *frequency, recency, T, weights* (one row per distinct pattern, sorted by frequency,
    recency, T; ``weights`` = customers with that pattern). Values are compared exactly (no
    rounding).

    Parameters
    ----------
    summary : pd.DataFrame
        One row per customer with ``frequency``, ``recency`` and ``T``.

    Returns
    -------
    patterns : pd.DataFrame
        One row per distinct pattern; ``weights`` sums to the number of customers.
    index : np.ndarray
        For each row of ``summary`` (by position), the row of ``patterns`` it belongs to:
        ``patterns.iloc[index]`` gives back the customers' patterns.

    Raises
    ------
    DataContractError
        A column is missing, or values break lifetimes' rules (negative, recency > T,
        fractional frequency, recency != 0 for a one-time buyer).

    Examples
    --------
    >>> summary = pd.DataFrame({"frequency": [0, 2, 0, 2], "recency": [0.0, 3.0, 0.0, 3.0],
    ...                         "T": [5.0, 6.0, 5.0, 6.0]})
    >>> patterns, index = unique_patterns(summary)
    >>> patterns
       frequency  recency    T  weights
    0          0      0.0  5.0        2
    1          2      3.0  6.0        2
    >>> index.tolist()
    [0, 1, 0, 1]
    """
    return _patterns_of(*_summary_arrays(summary))


def _patterns_of(x: Array, t_x: Array, age: Array) -> tuple[pd.DataFrame, IntArray]:
    codes, first = _group_codes(x, t_x, age)
    patterns = pd.DataFrame(
        {
            "frequency": x[first].astype(np.int64),
            "recency": t_x[first],
            "T": age[first],
            "weights": np.bincount(codes, minlength=first.size).astype(np.int64),
        }
    )
    return patterns, codes


@dataclass(frozen=True)
class _Prepared:
    """A checked summary: per-customer arrays, the lifetimes ``data`` frame and the patterns."""

    x: Array
    t_x: Array
    age: Array
    frame: pd.DataFrame
    data: _Data

    @classmethod
    def of(cls, summary: pd.DataFrame) -> _Prepared:
        x, t_x, age = _summary_arrays(summary)
        patterns, _ = _patterns_of(x, t_x, age)
        data = _Data.build(
            patterns["frequency"].to_numpy(dtype=float), patterns["recency"].to_numpy(dtype=float),
            patterns["T"].to_numpy(dtype=float), patterns["weights"].to_numpy(dtype=float),
        )  # fmt: skip
        frame = pd.DataFrame(
            {"frequency": x.astype(np.int64), "recency": t_x, "T": age,
             "weights": np.ones(x.size, dtype=np.int64)},
            index=summary.index,
        )  # fmt: skip
        return cls(x=x, t_x=t_x, age=age, frame=frame, data=data)


def _check_options(model: str, penalizer: float, unit: str) -> None:
    if model not in MODELS:
        raise ValueError(
            f"model={model!r} is not a transaction model; expected one of {list(MODELS)}"
        )
    if unit not in _UNITS:
        raise ValueError(f"unit={unit!r} is not supported; expected one of {list(_UNITS)}")
    if not (penalizer >= 0 and math.isfinite(penalizer)):
        raise ValueError(f"penalizer={penalizer!r}: expected a finite number >= 0")


def _check_summary_unit(summary: pd.DataFrame, unit: str) -> None:
    """A summary that says its unit (``attrs["unit"]``, see crmlib.clv) must match ``unit``."""
    found = summary.attrs.get("unit")
    if found is not None and found != unit:
        raise ValueError(
            f"the summary's recency and T are in {found!r} (attrs['unit']) but unit={unit!r}; "
            f"pass unit={found!r}"
        )


def _fit_prepared(model: str, prepared: _Prepared, *, penalizer: float, unit: str) -> FittedModel:
    x, t_x, age, data = prepared.x, prepared.t_x, prepared.age, prepared.data
    notes = [
        f"fitted on {data.x.size:,} distinct (frequency, recency, T) patterns of "
        f"{x.size:,} customers (weights = customers per pattern; same likelihood as all rows)"
    ]
    if model == "paretonbd":
        at_end = int(np.count_nonzero((x > 0) & (t_x == age)))
        if at_end:
            notes.append(
                f"{at_end:,} repeat customers bought last at the end of their observation "
                "(recency = T): their likelihood term log A_0 is -inf (A_0 = 0), where "
                "lifetimes' logsumexp can give NaN; guarded"
            )
    return _finish(model, data, prepared.frame, penalizer=penalizer, unit=unit,
                   n_customers=x.size, notes=notes)  # fmt: skip


def fit_transactions_model(
    summary: pd.DataFrame,
    *,
    model: str = "bgnbd",
    penalizer: float = 0.0,
    unit: str = "week",
) -> FittedModel:
    """Fit a BG/NBD, MBG/NBD or Pareto/NBD model by maximum likelihood, checked for convergence.

    Reads *frequency, recency, T* (one row per customer; ``recency`` and ``T`` in ``unit``)
    and fits on the distinct patterns with weights (:func:`unique_patterns`): the same
    likelihood, hence the same estimates, as lifetimes' fitter on all rows, in a fraction of
    the time. The fit is checked (finite log-likelihood, parameters away from the edge of
    the parameter space, gradient ~ 0, positive definite Hessian); a failed fit is retried
    with time rescaled by the mean customer age and a new start, then with a small
    penalizer. ``attempts`` says in words what was tried; if nothing converged the result
    has ``converged=False`` and a warning is logged.

    Parameters
    ----------
    summary : pd.DataFrame
        One row per customer: ``frequency`` (repeat purchases), ``recency`` and ``T``.
    model : {"bgnbd", "mbgnbd", "paretonbd"}, default "bgnbd"
        BG/NBD, MBG/NBD or Pareto/NBD.
    penalizer : float, default 0.0
        lifetimes' L2 penalty ``penalizer * sum(params**2)`` (parameters in time scaled to
        the longest age) added to the mean negative log-likelihood per customer. For
        Pareto/NBD lifetimes adds it to the total instead (and so depends on the number of
        rows when weights are used); here it is per customer for every model.
    unit : {"day", "week", "calendar_week", "month"}, default "week"
        Unit of ``recency`` and ``T``; ``alpha`` (and ``beta``) are reported in it. A summary
        whose ``attrs["unit"]`` says otherwise is refused.

    Returns
    -------
    FittedModel
        ``params`` in ``unit``; ``log_likelihood`` summed over all customers; ``fitter`` a
        lifetimes fitter (Pareto/NBD: :class:`GuardedParetoNBDFitter`) with these parameters
        and one ``data`` row per customer.

    Raises
    ------
    DataContractError
        The summary misses a column or breaks lifetimes' rules (see :func:`unique_patterns`).
    ValueError
        Unknown ``model`` or ``unit``, a ``unit`` other than the summary's ``attrs["unit"]``,
        or a negative ``penalizer``.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the
       easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
    .. [2] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and
       comparison of models for customer base analysis. IJRM 24(3), 201-209.
    .. [3] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers:
       who are they and what will they do next? Management Science 33(1), 1-24.
    .. [4] Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model
       and related expressions. http://brucehardie.com/notes/009/

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> age = rng.uniform(20, 40, 2000).round(1)  # weeks since the first purchase
    >>> active = np.minimum(age, rng.exponential(15, 2000))  # weeks until the customer left
    >>> x = rng.poisson(rng.gamma(0.5, 1 / 2, 2000) * active)
    >>> recency = (active * rng.beta(np.maximum(x, 1), 1)).round(1) * (x > 0)
    >>> summary = pd.DataFrame({"frequency": x, "recency": recency, "T": age})
    >>> fitted = fit_transactions_model(summary)
    >>> fitted.converged, fitted.n_customers, sorted(fitted.params)
    (True, 2000, ['a', 'alpha', 'b', 'r'])
    """
    _check_options(model, penalizer, unit)
    _check_summary_unit(summary, unit)
    return _fit_prepared(model, _Prepared.of(summary), penalizer=penalizer, unit=unit)


def _finish(
    model: str,
    data: _Data | _SpendData,
    frame: pd.DataFrame,
    *,
    penalizer: float,
    unit: str,
    n_customers: int,
    notes: list[str],
    warm_start: bool = True,
) -> FittedModel:
    """Fit with retries and package the result."""
    outcome, outcomes, words = _fit(model, data, penalizer=penalizer, unit=unit,
                                    warm_start=warm_start)  # fmt: skip
    converged = outcome.failure is None
    scale = outcome.attempt.scale
    params = _natural_params(model, outcome.log_params, scale)
    finite = all(math.isfinite(v) and v > 0 for v in params.values())
    natural = np.log(np.array(list(params.values()))) if finite else outcome.log_params
    log_likelihood = -_value(model, natural, data, 0.0) * data.total if finite else float("nan")
    covariance = (
        _covariance(params, outcome.hessian, data.total)
        if converged and outcome.hessian is not None
        else None
    )
    if converged and outcome.attempt.penalizer > 0:
        notes.append(
            f"estimated with penalizer {outcome.attempt.penalizer:g}: the estimates are shrunk "
            "towards 0 and are not the maximum-likelihood estimates; log_likelihood is "
            "reported without the penalty"
        )
    if not converged:
        notes.append(
            f"did not converge after {len(outcomes)} attempts; the parameters shown are the "
            "best stopping point and should not be used for predictions"
        )
        log.warning("%s did not converge: %s", MODEL_LABELS[model], "; ".join(words))
    fitter = (
        _load_fitter(model, params, penalizer=outcome.attempt.penalizer, scale=scale,
                     value=outcome.value, hessian=outcome.hessian, covariance=covariance,
                     data=frame)
        if finite else None
    )  # fmt: skip
    n_patterns = int(data.x.size)
    return FittedModel(
        name=model, unit="currency" if model == "gammagamma" else unit, params=params,
        log_likelihood=float(log_likelihood), n_customers=int(n_customers),
        n_patterns=n_patterns, converged=converged, attempts=tuple(words), notes=tuple(notes),
        fitter=fitter, covariance=covariance,
    )  # fmt: skip


def fit_spend_model(summary: pd.DataFrame, *, penalizer: float = 0.0) -> FittedModel:
    """Fit the Gamma-Gamma spend model on repeat customers, checked for convergence.

    Reads *frequency, monetary_value* (one row per customer; ``monetary_value`` = average
    value of the repeat purchases) and keeps the repeat customers (``frequency > 0``) with
    ``monetary_value > 0``; those with zero or negative average spend (refunds netted) are
    excluded and counted in ``notes``. Fits on the distinct (frequency, monetary_value) pairs
    with weights; the checks and retries are those of :func:`fit_transactions_model`.

    Parameters
    ----------
    summary : pd.DataFrame
        One row per customer with ``frequency`` and ``monetary_value``.
    penalizer : float, default 0.0
        lifetimes' L2 penalty on ``(p, q, v)``, added to the mean negative log-likelihood.

    Returns
    -------
    FittedModel
        ``name="gammagamma"``, ``params`` ``p``, ``q`` (unitless) and ``v`` (the paper's
        gamma, in the currency); ``n_customers`` = repeat customers used.

    Raises
    ------
    DataContractError
        A column is missing or not numeric, or no repeat customer has a positive spend.

    References
    ----------
    .. [1] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
       http://brucehardie.com/notes/025/
    .. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value
       curves for customer base analysis. Journal of Marketing Research 42(4), 415-430.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.integers(1, 8, 500)
    >>> nu = rng.gamma(4.0, 1 / 30.0, 500)
    >>> spend = rng.gamma(6.0 * x, 1 / (nu * x))  # the mean of x Gamma(6, nu) orders
    >>> fitted = fit_spend_model(pd.DataFrame({"frequency": x, "monetary_value": spend}))
    >>> fitted.converged, fitted.n_customers
    (True, 500)
    """
    if not (penalizer >= 0 and math.isfinite(penalizer)):
        raise ValueError(f"penalizer={penalizer!r}: expected a finite number >= 0")
    x, m = _spend_arrays(summary)
    repeat = x > 0
    usable = repeat & (m > 0)
    excluded = int(np.count_nonzero(repeat & ~usable))
    if not usable.any():
        raise DataContractError(
            f"summary: none of the {int(repeat.sum())} repeat customers (frequency > 0) has "
            "monetary_value > 0; the Gamma-Gamma model needs repeat customers with spend"
        )
    codes, first = _group_codes(x[usable], m[usable])
    weights = np.bincount(codes, minlength=first.size).astype(float)
    data = _SpendData.build(x[usable][first], m[usable][first], weights)
    notes = [
        f"fitted on {first.size:,} distinct (frequency, monetary_value) pairs of "
        f"{int(usable.sum()):,} repeat customers",
        f"excluded {excluded:,} repeat customers with zero or negative average spend"
        if excluded
        else "no repeat customer had zero or negative average spend",
    ]
    frame = pd.DataFrame(
        {"monetary_value": m[usable], "frequency": x[usable],
         "weights": np.ones(int(usable.sum()), dtype=np.int64)},
        index=summary.index[usable],
    )  # fmt: skip
    return _finish("gammagamma", data, frame, penalizer=penalizer, unit="currency",
                   n_customers=int(usable.sum()), notes=notes)  # fmt: skip


def _numbers(column: pd.Series) -> Array:
    """A column as floats, NaN where missing or not a number (nullable dtypes too)."""
    return np.asarray(
        pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan),
        dtype=float,
    )


def _spend_arrays(summary: pd.DataFrame) -> tuple[Array, Array]:
    """frequency and monetary_value as floats; monetary_value may be missing for one-timers."""
    require_columns(summary, ["frequency", "monetary_value"], table_name="summary")
    x, m = _numbers(summary["frequency"]), _numbers(summary["monetary_value"])
    checks = {
        "frequency": ~np.isfinite(x),
        "monetary_value": ~np.isfinite(m) & np.isfinite(x) & (x > 0),
    }
    for column, bad in checks.items():
        if bad.any():
            raise DataContractError(
                f"summary: column '{column}' has {int(bad.sum())} "
                f"{'repeat ' if column == 'monetary_value' else ''}customers with a missing or "
                "non-numeric value; expected a finite number"
            )
    if np.any((x < 0) | (x != np.round(x))):
        raise DataContractError(
            "summary: column 'frequency' is negative or not a whole number for "
            f"{int(np.count_nonzero((x < 0) | (x != np.round(x))))} customers"
        )
    return x, np.where(x > 0, m, 0.0)


def spend_independence(summary: pd.DataFrame) -> dict[str, Any]:
    """The Gamma-Gamma independence check: correlation of frequency and average spend.

    Reads *frequency, monetary_value* (one row per customer); uses the repeat customers with
    positive spend (the ones the spend model is fitted on). The Gamma-Gamma model assumes a
    customer's average order value does not depend on how often they buy.

    Returns
    -------
    dict
        ``n`` (repeat customers), ``pearson_r``, ``ci_lower``/``ci_upper`` (95%, Fisher z),
        ``strength`` (negligible |r| < 0.1, weak < 0.3, moderate < 0.5, else strong) and
        ``verdict``: a sentence saying what it implies. With fewer than 4 customers the
        numbers are NaN and the verdict says so.

    References
    ----------
    .. [1] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
       http://brucehardie.com/notes/025/ (CDNOW: r = 0.11, "the independence assumption
       is reasonable").

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> table = pd.DataFrame({"frequency": rng.integers(1, 10, 1000),
    ...                       "monetary_value": rng.gamma(5.0, 8.0, 1000)})
    >>> spend_independence(table)["strength"]
    'negligible'
    """
    x, m = _spend_arrays(summary)
    keep = (x > 0) & (m > 0)
    n = int(keep.sum())
    if n < 4 or np.ptp(x[keep]) == 0 or np.ptp(m[keep]) == 0:
        return {
            "n": n, "pearson_r": float("nan"), "ci_lower": float("nan"),
            "ci_upper": float("nan"), "strength": "unknown",
            "verdict": f"Too few repeat customers with varying frequency and spend ({n}) to "
                       "check whether spend depends on frequency.",
        }  # fmt: skip
    r = float(np.corrcoef(x[keep], m[keep])[0, 1])
    z, half = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), 1.959963984540054 / math.sqrt(n - 3)
    low, high = math.tanh(z - half), math.tanh(z + half)
    size = abs(r)
    strength = (
        "negligible" if size < 0.1 else "weak" if size < 0.3 else "moderate" if size < 0.5
        else "strong"
    )  # fmt: skip
    direction = "more" if r > 0 else "less"
    head = (
        f"Among {n:,} repeat customers the correlation between purchase frequency and average "
        f"spend is r = {r:.2f} (95% CI {low:.2f} to {high:.2f}), {strength}."
    )
    implication = {
        "negligible": " The Gamma-Gamma assumption that spend does not depend on frequency "
        "holds well enough.",
        "weak": f" Frequent buyers spend slightly {direction} per order; the Gamma-Gamma "
        "independence assumption is usually accepted at this level (Fader & Hardie 2013 "
        "proceed with r = 0.11 on CDNOW), but spend predictions for frequent buyers carry a "
        "small bias.",
        "moderate": f" Frequent buyers spend noticeably {direction} per order; the "
        "Gamma-Gamma independence assumption is doubtful, so treat spend-based CLV with "
        "caution (or model spend by segment).",
        "strong": f" Frequent buyers spend much {direction} per order; the Gamma-Gamma "
        "independence assumption does not hold, so its spend predictions are biased.",
    }[strength]
    return {
        "n": n, "pearson_r": r, "ci_lower": low, "ci_upper": high, "strength": strength,
        "verdict": head + implication,
    }  # fmt: skip


def fit_all(
    summary: pd.DataFrame,
    *,
    models: Sequence[str] = MODELS,
    penalizer: float = 0.0,
    unit: str = "week",
) -> dict[str, FittedModel]:
    """Fit several transaction models on the same summary (see :func:`fit_transactions_model`).

    Returns
    -------
    dict
        Model name -> :class:`FittedModel`, in the order of ``models``.
    """
    for name in models:
        _check_options(name, penalizer, unit)
    _check_summary_unit(summary, unit)
    prepared = _Prepared.of(summary)
    return {name: _fit_prepared(name, prepared, penalizer=penalizer, unit=unit) for name in models}


def _fmt_number(value: float) -> str:
    text = f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return text.replace("-", "\u2212")


def _fmt_fixed(value: float) -> str:
    return f"{value:,.1f}".replace("-", "\u2212")


def describe_fit(fitted: FittedModel) -> str:
    """Markdown: the model's parameters, log-likelihood, convergence and what was tried.

    Examples
    --------
    >>> table = pd.DataFrame({"frequency": [1, 2, 3, 1, 4, 2, 5, 1] * 10,
    ...                       "monetary_value": [20.0, 35.0, 18.0, 50.0, 25.0, 30.0, 22.0, 41.0] * 10})
    >>> print(describe_fit(fit_spend_model(table)).splitlines()[0])  # doctest: +ELLIPSIS
    **Gamma-Gamma** fitted on 80 customers (8 distinct patterns): p = ..., q = ..., v = ... (currency).
    """
    units = {
        "alpha": f" {_UNIT_WORDS.get(fitted.unit, fitted.unit)}",
        "beta": f" {_UNIT_WORDS.get(fitted.unit, fitted.unit)}",
        "v": " (currency)" if fitted.name == "gammagamma" else "",
    }  # fmt: skip
    params = ", ".join(
        f"{name} = {_fmt_number(value)}{units.get(name, '')}"
        for name, value in fitted.params.items()
    )
    lines = [
        f"**{fitted.label}** fitted on {fitted.n_customers:,} customers "
        f"({fitted.n_patterns:,} distinct patterns): {params}.",
        f"Log-likelihood {_fmt_fixed(fitted.log_likelihood)} "
        f"(AIC {_fmt_fixed(fitted.aic)}, BIC {_fmt_fixed(fitted.bic)}).",
    ]
    if fitted.converged and len(fitted.attempts) == 1:
        lines.append("The fit converged on the first attempt.")
    elif fitted.converged:
        lines.append(f"The fit converged on attempt {len(fitted.attempts)}; what was tried:")
    else:
        lines.append("**The fit did not converge**; do not use these parameters. What was tried:")
    if not (fitted.converged and len(fitted.attempts) == 1):
        lines.extend(f"- {attempt}" for attempt in fitted.attempts)
    lines.extend(f"- {note}" for note in fitted.notes[1:])
    return "\n".join(lines)


def parameter_table(models: Mapping[str, FittedModel] | Sequence[FittedModel]) -> pd.DataFrame:
    """One row per fitted model: parameters, log-likelihood, AIC/BIC and convergence.

    Returns
    -------
    pd.DataFrame
        Columns *model, label, unit*, one column per parameter name (NaN where a model has no
        such parameter; ``alpha``/``beta`` in ``unit``), *log_likelihood, n_params, aic, bic*
        (n = customers), *n_customers, n_patterns, converged*.
    """
    fitted = list(models.values()) if isinstance(models, Mapping) else list(models)
    names: list[str] = []
    for item in fitted:
        names.extend(n for n in item.params if n not in names)
    rows = [
        {
            "model": item.name,
            "label": item.label,
            "unit": item.unit,
            **{name: item.params.get(name, np.nan) for name in names},
            "log_likelihood": item.log_likelihood,
            "n_params": item.n_params,
            "aic": item.aic,
            "bic": item.bic,
            "n_customers": item.n_customers,
            "n_patterns": item.n_patterns,
            "converged": item.converged,
        }  # fmt: skip
        for item in fitted
    ]
    columns = ["model", "label", "unit", *names, "log_likelihood", "n_params", "aic", "bic",
               "n_customers", "n_patterns", "converged"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
