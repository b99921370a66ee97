"""Fit attempts: the BFGS optimizer, warm starts, convergence checks, Hessian and covariance."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from crmlib.clv.models.base import PARAMETER_NAMES, UNIT_WORDS, Array, PatternData, SpendData
from crmlib.clv.models.registry import OBJECTIVES, objective_value

__all__ = [
    "Minimizer",
    "RETRY_PENALIZER",
    "minimize",
    "fit_attempts",
    "natural_params",
    "parameter_covariance",
]

#: The optimizer's signature: ``(model, data, penalizer, x0, *, gtol=..., hess_inv0=...)``.
Minimizer = Callable[..., optimize.OptimizeResult]

#: Parameters measured in the time unit (they scale with it).
_TIME_PARAMETERS = ("alpha", "beta")
#: Parameters that scale with the data inside a fit: times (alpha, beta), money (v).
_SCALED_PARAMETERS = ("alpha", "beta", "v")

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
RETRY_PENALIZER = 1e-3
#: Start of lifetimes' BFGS fitters (log-parameters), and of the Pareto/NBD fit (parameters 1).
_START = {"bgnbd": 0.1, "mbgnbd": 0.1, "paretonbd": 0.0, "nbd": 0.1, "gammagamma": 0.1}
#: Above this many patterns a fit is warm-started on a weighted subsample first.
_WARM_START_PATTERNS = 100_000
_WARM_START_SIZE = 20_000


# -- curvature ---------------------------------------------------------------------------------
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
            grad_up = OBJECTIVES[model](log_params + e, data, penalizer)[1]
            grad_down = OBJECTIVES[model](log_params - e, data, penalizer)[1]
            hess[:, j] = (grad_up - grad_down) / (2 * step)
    else:
        step = 1e-4
        f0 = objective_value(model, log_params, data, penalizer)
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = step, step
                if i == j:
                    up = objective_value(model, log_params + ei, data, penalizer)
                    down = objective_value(model, log_params - ei, data, penalizer)
                    hess[i, i] = (up - 2 * f0 + down) / step**2
                else:
                    pp = objective_value(model, log_params + ei + ej, data, penalizer)
                    pm = objective_value(model, log_params + ei - ej, data, penalizer)
                    mp = objective_value(model, log_params - ei + ej, data, penalizer)
                    mm = objective_value(model, log_params - ei - ej, data, penalizer)
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


def minimize(
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
            OBJECTIVES[model], x0, args=(data, penalizer), jac=True, method="BFGS",
            options=options,
        )  # fmt: skip


def _warm_start(
    model: str,
    data: PatternData | SpendData,
    attempt: _Attempt,
    x0: Array,
    *,
    minimize: Minimizer = minimize,
) -> tuple[Array, Array | None]:
    """Start and inverse Hessian for the full fit, from a fit on a weighted subsample.

    Only the path of the optimizer changes: the full fit still runs to the full-data optimum.
    """
    sample = data.subsample(_WARM_START_SIZE, seed=0)
    first = minimize(model, sample, attempt.penalizer, x0, gtol=_GRAD_ACCEPT)
    if not (np.all(np.isfinite(first.x)) and np.all(np.abs(first.x) < _EDGE)):
        return x0, None
    with np.errstate(all="ignore"):
        hessian = _hessian(model, first.x, sample, attempt.penalizer)
    if not np.all(np.isfinite(hessian)) or np.linalg.eigvalsh(hessian)[0] <= 0:
        return first.x, None
    inverse = np.linalg.inv(hessian)
    return first.x, (inverse + inverse.T) / 2


def _run_attempt(
    model: str, data: Any, attempt: _Attempt, *, warm_start: bool, minimize: Minimizer = minimize
) -> _Outcome:
    names = PARAMETER_NAMES[model]
    scaled = data.scaled(attempt.scale) if attempt.scale != 1.0 else data
    x0 = np.full(len(names), attempt.start)
    hess_inv0 = None
    if warm_start and scaled.x.size > _WARM_START_PATTERNS:
        x0, hess_inv0 = _warm_start(model, scaled, attempt, x0, minimize=minimize)
    result = minimize(model, scaled, attempt.penalizer, x0, hess_inv0=hess_inv0)
    log_params = np.asarray(result.x, dtype=float)
    with np.errstate(all="ignore"):
        value, grad = OBJECTIVES[model](log_params, scaled, attempt.penalizer)
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


def _plan(model: str, data: PatternData | SpendData, penalizer: float, unit: str) -> list[_Attempt]:
    """The attempts in order: lifetimes' setup, a rescaled restart, a small penalizer."""
    retry_pen = max(RETRY_PENALIZER, 10.0 * penalizer)
    pen_words = f", penalizer {penalizer:g}" if penalizer > 0 else ", no penalizer"
    start = _START[model]
    if isinstance(data, SpendData):
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
            f"(T / {longest:.4g} {UNIT_WORDS[unit]}, as lifetimes does){pen_words}",
        ),
        _Attempt(
            1.0 / mean_age, penalizer, 0.0 if start else 0.5,
            f"time rescaled by the mean customer age instead (T / {mean_age:.4g} {UNIT_WORDS[unit]}; "
            f"{' and '.join(time_params)} converted back by that factor), restarted from "
            f"{'all parameters = 1' if start else 'all log-parameters = 0.5'}{pen_words}",
        ),
        _Attempt(
            1.0 / longest, retry_pen, start,
            f"small penalizer {retry_pen:g} x sum of squared parameters (lifetimes' L2 "
            "penalty; it shrinks the estimates), time scaled as lifetimes does",
        ),
    ]  # fmt: skip


def fit_attempts(
    model: str,
    data: PatternData | SpendData,
    *,
    penalizer: float,
    unit: str,
    warm_start: bool = True,
    minimize: Minimizer = minimize,
) -> tuple[_Outcome, list[_Outcome], list[str]]:
    """Run the attempts until one converges; the chosen outcome, all outcomes, their words.

    ``minimize`` runs every optimization (:func:`minimize`); ``crmlib.clv.models.fitting``
    passes its own ``minimize`` so that replacing that name (as the tests do) reaches every fit.
    """
    outcomes: list[_Outcome] = []
    words: list[str] = []
    for number, attempt in enumerate(_plan(model, data, penalizer, unit), start=1):
        # one BLAS thread: the dot products are memory-bound, and threads only contend
        with threadpool_limits(limits=1):
            outcome = _run_attempt(model, data, attempt, warm_start=warm_start, minimize=minimize)
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


def natural_params(model: str, log_params: Array, scale: float) -> dict[str, float]:
    """Parameters in the caller's unit: time-scale parameters divided by ``scale``."""
    values = np.exp(log_params)
    return {
        name: float(value / scale if name in _SCALED_PARAMETERS else value)
        for name, value in zip(PARAMETER_NAMES[model], values, strict=True)
    }


def parameter_covariance(
    params: Mapping[str, float], hessian: Array | None, total: float
) -> Array | None:
    """Covariance of the parameters: ``J H^-1 J / n`` with ``J = diag(params)``.

    ``H`` is the Hessian of the mean objective in log-parameters (invariant to the time
    scale), ``n`` the number of customers.
    """
    if hessian is None:
        return None
    jac = np.diag(list(params.values()))
    return np.asarray(jac @ np.linalg.inv(hessian) @ jac / total, dtype=float)
