"""BTYD fits: BG/NBD, MBG/NBD, Pareto/NBD, NBD and Gamma-Gamma on patterns, and the eligibility rule.

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

A fit is used only when it is eligible (:func:`eligibility`, the one rule every stage applies:
converged, finite positive parameters, finite log-likelihood and predictions).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from crmlib.clv.models.base import (
    MODEL_LABELS,
    MODELS,
    PARAMETER_NAMES,
    PatternData,
    SpendData,
    group_codes,
)
from crmlib.clv.models.fitters import load_fitter
from crmlib.clv.models.inputs import (
    Prepared,
    check_options,
    check_summary_unit,
    patterns_of,
    spend_arrays,
    summary_arrays,
)
from crmlib.clv.models.optimize import (
    fit_attempts,
    minimize,
    natural_params,
    parameter_covariance,
)
from crmlib.clv.models.registry import objective_value
from crmlib.errors import DataContractError
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

# _finish looks minimize up here at call time: the tests replace fitting.minimize.

__all__ = [
    "CountedNote",
    "FittedModel",
    "unique_patterns",
    "fit_transactions_model",
    "fit_spend_model",
    "spend_independence",
    "fit_all",
    "parameter_table",
    "Eligibility",
    "prediction_problem",
    "eligibility",
]

log = logging.getLogger(__name__)


# -- public API ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CountedNote:
    """A note on the data that states how many customers: worded by the small-cell rule when shown.

    A fit does not know the run's ``privacy.min_cell_size``; the page does. The note keeps the
    count and its noun apart from the words that follow, and :meth:`words` joins them with
    :meth:`crmlib.privacy.SmallCells.phrase`, so a count from 1 to the limit - 1 reads
    "fewer than 10 repeat customers".

    Examples
    --------
    >>> note = CountedNote(2, "repeat customer", "bought last at the end of their observation")
    >>> note.words(min_cell_size=10)
    'fewer than 10 repeat customers bought last at the end of their observation'
    >>> CountedNote(1_204, "customer", "were valued").words(min_cell_size=10)
    '1,204 customers were valued'
    """

    count: int
    noun: str
    text: str

    def words(self, *, min_cell_size: int) -> str:
        """The note as a sentence, its count written by the small-cell rule."""
        return f"{SmallCells(min_cell_size).phrase(self.count, self.noun)} {self.text}"


@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted transaction (BG/NBD, MBG/NBD, Pareto/NBD) or spend (Gamma-Gamma) model.

    ``params`` are in lifetimes' names; ``alpha`` (and Pareto/NBD ``beta``) are in ``unit``
    (e.g. weeks), the others are unitless; Gamma-Gamma ``v`` is in the currency.
    ``log_likelihood`` is the full-data log-likelihood (summed over customers, without the
    penalty). ``covariance`` is the parameters' covariance (same order as ``params``) from
    the Hessian at the optimum, None if the fit did not converge. ``notes`` are words about
    the fit; ``counted`` are notes that state a number of customers (:class:`CountedNote`),
    worded with the run's small-cell rule when shown (:func:`fit_notes`). ``fitter`` is the lifetimes
    fitter, fitted (None only if no attempt produced finite parameters; for the NBD and the
    empirical fallback, crmlib's own fitter objects). ``penalizer`` is the L2 penalizer of the
    attempt whose estimates these are (the caller's, or the retry's when only the penalized
    attempt converged).
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
    penalizer: float = 0.0
    counted: tuple[CountedNote, ...] = ()

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
    return patterns_of(*summary_arrays(summary))


def _fit_prepared(model: str, prepared: Prepared, *, penalizer: float, unit: str) -> FittedModel:
    x, t_x, age, data = prepared.x, prepared.t_x, prepared.age, prepared.data
    notes = [
        f"fitted on {data.x.size:,} distinct (frequency, recency, T) patterns of "
        f"{x.size:,} customers (weights = customers per pattern; same likelihood as all rows)"
    ]
    counted = []
    if model == "paretonbd":
        at_end = int(np.count_nonzero((x > 0) & (t_x == age)))
        if at_end:
            counted.append(CountedNote(
                at_end, "repeat customer", "bought last at the very end of their observation "
                "(recency = T); the Pareto/NBD likelihood takes that limit exactly",
            ))  # fmt: skip
    return _finish(model, data, prepared.frame, penalizer=penalizer, unit=unit,
                   n_customers=x.size, notes=notes, counted=counted)  # fmt: skip


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
    model : {"bgnbd", "mbgnbd", "paretonbd", "nbd"}, default "bgnbd"
        BG/NBD, MBG/NBD, Pareto/NBD, or the NBD (no dropout: Poisson purchases at
        Gamma(r, alpha) rates; the fallback of :func:`crmlib.clv.choose_model` when the
        dropout estimate collapses).
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
    .. [5] Morrison, D. G. & Schmittlein, D. C. (1988). Generalizing the NBD model for
       customer purchases. Journal of Business & Economic Statistics 6(2), 145-159.

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
    check_options(model, penalizer, unit)
    check_summary_unit(summary, unit)
    return _fit_prepared(model, Prepared.of(summary), penalizer=penalizer, unit=unit)


def _finish(
    model: str,
    data: PatternData | SpendData,
    frame: pd.DataFrame,
    *,
    penalizer: float,
    unit: str,
    n_customers: int,
    notes: list[str],
    counted: Sequence[CountedNote] = (),
    warm_start: bool = True,
) -> FittedModel:
    """Fit with retries and package the result."""
    # minimize is looked up here, at call time: replacing fitting.minimize reaches the fit
    outcome, outcomes, words = fit_attempts(model, data, penalizer=penalizer, unit=unit,
                                    warm_start=warm_start, minimize=minimize)  # fmt: skip
    converged = outcome.failure is None
    scale = outcome.attempt.scale
    params = natural_params(model, outcome.log_params, scale)
    finite = all(math.isfinite(v) and v > 0 for v in params.values())
    natural = np.log(np.array(list(params.values()))) if finite else outcome.log_params
    log_likelihood = (
        -objective_value(model, natural, data, 0.0) * data.total if finite else float("nan")
    )
    covariance = (
        parameter_covariance(params, outcome.hessian, data.total)
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
        load_fitter(model, params, penalizer=outcome.attempt.penalizer, scale=scale,
                     value=outcome.value, hessian=outcome.hessian, covariance=covariance,
                     data=frame)
        if finite else None
    )  # fmt: skip
    n_patterns = int(data.x.size)
    return FittedModel(
        name=model, unit="currency" if model == "gammagamma" else unit, params=params,
        log_likelihood=float(log_likelihood), n_customers=int(n_customers),
        n_patterns=n_patterns, converged=converged, attempts=tuple(words), notes=tuple(notes),
        fitter=fitter, covariance=covariance, penalizer=float(outcome.attempt.penalizer),
        counted=tuple(counted),
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
    x, m = spend_arrays(summary)
    repeat = x > 0
    usable = repeat & (m > 0)
    excluded = int(np.count_nonzero(repeat & ~usable))
    if not usable.any():
        raise DataContractError(
            f"summary: none of the {int(repeat.sum())} repeat customers (frequency > 0) has "
            "monetary_value > 0; the Gamma-Gamma model needs repeat customers with spend"
        )
    codes, first = group_codes(x[usable], m[usable])
    weights = np.bincount(codes, minlength=first.size).astype(float)
    data = SpendData.build(x[usable][first], m[usable][first], weights)
    notes = [
        f"fitted on {first.size:,} distinct (frequency, monetary_value) pairs of "
        f"{int(usable.sum()):,} repeat customers",
    ]
    counted = []
    if excluded:
        counted.append(
            CountedNote(excluded, "repeat customer", "with zero or negative average spend excluded")
        )
    else:
        notes.append("no repeat customer had zero or negative average spend")
    frame = pd.DataFrame(
        {"monetary_value": m[usable], "frequency": x[usable],
         "weights": np.ones(int(usable.sum()), dtype=np.int64)},
        index=summary.index[usable],
    )  # fmt: skip
    return _finish("gammagamma", data, frame, penalizer=penalizer, unit="currency",
                   n_customers=int(usable.sum()), notes=notes, counted=counted)  # fmt: skip


def spend_independence(
    summary: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE
) -> dict[str, Any]:
    """The Gamma-Gamma independence check: correlation of frequency and average spend.

    Reads *frequency, monetary_value* (one row per customer); uses the repeat customers with
    positive spend (the ones the spend model is fitted on). The Gamma-Gamma model assumes a
    customer's average order value does not depend on how often they buy. The ``verdict``
    states their number with the small-cell rule (``min_cell_size``: "fewer than 10 repeat
    customers").

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
    x, m = spend_arrays(summary)
    keep = (x > 0) & (m > 0)
    n = int(keep.sum())
    repeat_customers = SmallCells(min_cell_size).phrase(n, "repeat customer")
    if n < 4 or np.ptp(x[keep]) == 0 or np.ptp(m[keep]) == 0:
        return {
            "n": n, "pearson_r": float("nan"), "ci_lower": float("nan"),
            "ci_upper": float("nan"), "strength": "unknown",
            "verdict": f"Too few repeat customers with varying frequency and spend "
                       f"({repeat_customers}) to check whether spend depends on frequency.",
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
        f"Among {repeat_customers} the correlation between purchase frequency and average "
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
        check_options(name, penalizer, unit)
    check_summary_unit(summary, unit)
    prepared = Prepared.of(summary)
    return {name: _fit_prepared(name, prepared, penalizer=penalizer, unit=unit) for name in models}


def parameter_table(models: Mapping[str, FittedModel] | Sequence[FittedModel]) -> pd.DataFrame:
    """One row per fitted model: parameters, log-likelihood, AIC/BIC and convergence.

    The numbers; :func:`crmlib.clv.fits_table` is the page's table.

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


# -- eligibility ----------------------------------------------------------------------------------
class Eligibility(NamedTuple):
    """Whether a model may be used, and why (or why not), in words."""

    eligible: bool
    reason: str


def prediction_problem(predictions: Any) -> str | None:
    """Why predictions cannot be used (some not finite), or None when every one is finite."""
    values = np.asarray(predictions, dtype="float64")
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        # a share, not a count: this reason reaches the page, where a count of 1 to 9
        # customers may not appear (crmlib.privacy), and the fit does not know the run's limit
        return (
            f"its predictions are not finite for {bad / values.size:.1%} of the "
            f"{values.size:,} customers"
        )
    return None


def eligibility(fitted: FittedModel, *, predictions: Any = None) -> Eligibility:
    """05's eligibility rule: may this model be used for predictions?

    A fitted model is eligible when it converged (:class:`crmlib.clv.FittedModel`'s checks:
    finite log-likelihood, parameters away from the edge of the parameter space, zero gradient,
    positive definite Hessian, identified parameters), its parameters are finite and positive,
    its log-likelihood is finite, and ``predictions`` (any per-customer predictions of the
    caller, e.g. holdout purchases or P(alive)), when given, are all finite. The empirical CLV
    and the observed spend are not fits: they are eligible whenever their predictions are.
    Every stage that uses a model of 05 (05's choice and CLV, 06's BTYD baseline) asks this.

    Examples
    --------
    >>> summary = pd.DataFrame({"frequency": 0, "recency": 0.0, "T": np.linspace(1.0, 50.0, 200)})
    >>> eligibility(fit_transactions_model(summary, model="bgnbd")).eligible  # nobody came back
    False
    """
    if fitted.name not in ("empirical", "observed_spend"):
        values = list(fitted.params.values())
        if fitted.fitter is None or not all(math.isfinite(v) and v > 0 for v in values):
            raised = [a for a in fitted.attempts if a.startswith("the fit stopped with an error")]
            return Eligibility(False, raised[0] if raised else "no finite parameters")
        if not fitted.converged:
            why = fitted.attempts[-1].split(": failed, ", 1)[-1] if fitted.attempts else ""
            return Eligibility(False, f"did not converge ({why})" if why else "did not converge")
        if not math.isfinite(fitted.log_likelihood):
            return Eligibility(False, "its log-likelihood is not finite")
    if predictions is not None:
        problem = prediction_problem(predictions)
        if problem is not None:
            return Eligibility(False, problem)
    return Eligibility(True, "converged" if fitted.name in PARAMETER_NAMES else "not a fit")
