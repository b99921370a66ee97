"""05's model choice and fallback chain: which model is used, and what to use instead.

**Eligibility** (:func:`crmlib.clv.models.fitting.eligibility`, the one rule every stage
applies to a model of 05: 05's choice and CLV, 06's BTYD baseline): a model may be used only
when it converged, its parameters are finite and positive, its log-likelihood is finite and,
when the caller has them, its predictions are finite for every customer. A model that is not eligible is never
used to predict anything; its row in the comparison says why.

**The fallback chain** (:func:`choose_model` on the calibration period, :func:`fit_with_fallback`
on all data, at other cut-offs and for 06), in order:

0. the candidates (``clv.models``), fitted with the params file's penalizer; the best eligible
   one on the holdout criterion is used;
a. **penalized refit**: every candidate's third attempt refits with lifetimes' L2 penalty
   ``max(0.001, 10 x penalizer) x sum of squared parameters`` (time scaled so the longest
   customer age is 1) added to the mean negative log-likelihood per customer. Used when no
   candidate converged without it; the estimates are shrunk towards 0;
b. **a model without dropout**, the NBD (Ehrenberg 1959): purchases in t ~ NBD(r, alpha),
   E[purchases in a future window t] = (r + x) t / (alpha + T), P(alive) = 1, fitted by
   maximum likelihood on frequency and T. Used when the dropout estimate **collapsed**: the
   best stopping point of the candidates (e.g. BG/NBD with ``a -> 0`` or ``b -> inf``) fits
   no better than the NBD, the candidates' limit without dropout: the likelihood-ratio
   statistic ``2 (LL_best - LL_NBD)`` is below 3.84, the 95% point of chi-square with one
   degree of freedom (conservative at the boundary, where the null distribution is a
   50:50 mixture with critical value 2.71). Buyers who never leave (wholesale, B2B,
   subscriptions) are common, and then the dropout models cannot converge;
c. **the observed spend rate** (no model): each customer's repeat spend per unit of time
   observed, ``frequency x monetary_value / T``, continued over the horizon, discounted and
   times the margin (0 for a customer observed for no time or without a repeat purchase).

Spend per order: Gamma-Gamma when eligible, else each repeat customer's own mean spend per
order (one-time buyers: the pooled mean per repeat order); the empirical CLV always uses the
observed spend.

**Rows:** with ``driver_max_rows`` (the run's ``engine.driver_max_rows``) the models are fitted
on a random sample of that many customers (:func:`crmlib.sampling.fit_sample`), while
eligibility, the holdout comparison and the fallbacks that are not fits (c, observed spend)
use every customer; ``ModelChoice.sample`` says which rows were fitted on and
``ModelChoice.sample_note`` says it on the page.

References
----------
.. [1] Ehrenberg, A. S. C. (1959). The pattern of consumer purchases. Applied Statistics 8(1),
   26-41.
.. [2] Self, S. G. & Liang, K.-Y. (1987). Asymptotic properties of maximum likelihood
   estimators and likelihood ratio tests under nonstandard conditions. JASA 82(398), 605-610
   (the boundary: a 50:50 mixture of chi-square(0) and chi-square(1)).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.models.base import MODEL_LABELS, PARAMETER_NAMES, UNIT_WORDS
from crmlib.clv.models.fitters import EmpiricalRateModel, ObservedSpendModel, transaction_model
from crmlib.clv.models.fitting import (
    CountedNote,
    Eligibility,
    FittedModel,
    eligibility,
    fit_spend_model,
    fit_transactions_model,
)
from crmlib.clv.models.inputs import Prepared, check_options, check_summary_unit, spend_arrays
from crmlib.clv.models.optimize import RETRY_PENALIZER
from crmlib.clv.models.registry import KERNELS
from crmlib.clv.queries import model_summary
from crmlib.clv.validation import COMPARISON_COLUMNS, CRITERIA, best_model, comparison_rows
from crmlib.config import DEFAULTS
from crmlib.sampling import DRIVER_SETTING, RowSample, fit_sample, fitted_on

__all__ = [
    "FALLBACK_STEPS",
    "COLLAPSE_CRITICAL_VALUE",
    "ModelChoice",
    "empirical_model",
    "observed_spend_model",
    "dropout_collapse",
    "choose_model",
    "fit_with_fallback",
    "spend_model",
    "comparison_records",
]

log = logging.getLogger(__name__)

#: The fallback steps, in order, by the name ``metrics.json["clv"]["fallback"]["step"]`` uses.
FALLBACK_STEPS: tuple[str, ...] = ("penalized_refit", "nbd", "empirical")
#: Likelihood-ratio statistic below which the dropout estimate has collapsed (chi-square(1) 95%).
COLLAPSE_CRITICAL_VALUE = 3.84
#: Errors a fit can raise on data it cannot describe; broken inputs (DataContractError) and
#: wrong options are not among them and stop the caller.
_FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)
_STEP_WORDS = {
    "penalized_refit": "fallback (a), a penalized refit",
    "nbd": "fallback (b), a model without dropout (NBD)",
    "empirical": "fallback (c), each customer's observed spend rate",
    "observed_spend": "each customer's observed spend per order",
}


def _fit_failure(model: str, unit: str, n_customers: int, exc: BaseException) -> FittedModel:
    """A FittedModel for a fit that raised: no parameters, not converged, the error in words."""
    return FittedModel(
        name=model, unit=unit, params=dict.fromkeys(PARAMETER_NAMES[model], math.nan),
        log_likelihood=math.nan, n_customers=n_customers, n_patterns=0, converged=False,
        attempts=(f"the fit stopped with an error: {type(exc).__name__}: {exc}",),
        notes=("the fit raised an error; no parameters",), fitter=None, covariance=None,
    )  # fmt: skip


def _safe_fit(summary: pd.DataFrame, *, model: str, penalizer: float, unit: str) -> FittedModel:
    """:func:`fit_transactions_model`; a fit that raises on the data becomes a failed fit."""
    check_options(model, penalizer, unit)
    check_summary_unit(summary, unit)
    try:
        return fit_transactions_model(summary, model=model, penalizer=penalizer, unit=unit)
    except _FIT_ERRORS as exc:
        log.warning("the %s fit raised %s: %s", MODEL_LABELS[model], type(exc).__name__, exc)
        return _fit_failure(model, unit, len(summary), exc)


# -- the fallbacks that are not fits ----------------------------------------------------------------
def empirical_model(summary: pd.DataFrame, *, unit: str = "week") -> FittedModel:
    """Fallback (c): each customer's observed repeat-purchase rate, as a model object.

    Reads *frequency, recency, T* (one row per customer, times in ``unit``). Each customer's
    rate is ``frequency / T`` (0 when T is 0); ``params["repeat_rate"]`` is the pooled rate
    ``sum(frequency) / sum(T)`` (per ``unit``), used only for a new customer's expectation.
    P(alive) is 1: nobody is assumed to have left. With :func:`observed_spend_model` it values
    a customer at their observed spend per unit of time.

    Examples
    --------
    >>> table = pd.DataFrame({"frequency": [2, 0], "recency": [8.0, 0.0], "T": [10.0, 0.0]})
    >>> empirical_model(table).params
    {'repeat_rate': 0.2}
    """
    check_summary_unit(summary, unit)
    prepared = Prepared.of(summary)
    total_time = float(prepared.age.sum())
    rate = float(prepared.x.sum()) / total_time if total_time > 0 else 0.0
    return FittedModel(
        name="empirical", unit=unit, params={"repeat_rate": rate}, log_likelihood=math.nan,
        n_customers=int(prepared.x.size), n_patterns=int(prepared.data.x.size), converged=True,
        attempts=("no fit: each customer's observed repeat purchases per unit of time",),
        notes=(),
        counted=(CountedNote(
            int(prepared.x.size), "customer", "valued at their own observed rate (frequency / "
            f"T); pooled rate {rate:.4g} repeat purchases per {unit}",
        ),),
        fitter=EmpiricalRateModel(rate, prepared.frame), covariance=None,
    )  # fmt: skip


def observed_spend_model(summary: pd.DataFrame) -> FittedModel:
    """The spend fallback: each repeat customer's own mean spend per order, as a model object.

    Reads *frequency, monetary_value* (one row per customer). ``params["mean_spend"]`` is the
    pooled mean spend per repeat order ``sum(frequency x monetary_value) / sum(frequency)``
    (0 without repeat orders), the expected spend per order of a one-time buyer.

    Examples
    --------
    >>> table = pd.DataFrame({"frequency": [1, 3, 0], "monetary_value": [10.0, 30.0, 0.0]})
    >>> observed_spend_model(table).params
    {'mean_spend': 25.0}
    """
    x, m = spend_arrays(summary)
    orders = float(x.sum())
    mean = float((x * m).sum()) / orders if orders > 0 else 0.0
    frame = pd.DataFrame({"frequency": x, "monetary_value": m}, index=summary.index)
    return FittedModel(
        name="observed_spend", unit="currency", params={"mean_spend": mean},
        log_likelihood=math.nan, n_customers=int((x > 0).sum()),
        n_patterns=int((x > 0).sum()), converged=True,
        attempts=("no fit: each repeat customer's own mean spend per order",),
        notes=(f"pooled mean spend per repeat order {mean:,.2f}",),
        fitter=ObservedSpendModel(mean, frame), covariance=None,
    )  # fmt: skip


# -- dropout collapse -------------------------------------------------------------------------------
def _dropout_words(fitted: FittedModel) -> str:
    params = fitted.params
    if fitted.name in ("bgnbd", "mbgnbd"):
        a, b = params["a"], params["b"]
        return f"mean dropout probability after a purchase a / (a + b) = {a / (a + b):.2g}"
    if fitted.name == "paretonbd":
        unit = UNIT_WORDS.get(fitted.unit, fitted.unit).rstrip("s")
        return f"mean dropout rate s / beta = {params['s'] / params['beta']:.2g} per {unit}"
    return ""


def dropout_collapse(candidates: Sequence[FittedModel], nbd: FittedModel) -> Eligibility:
    """Has the dropout estimate collapsed? The candidates' best fit against the NBD.

    The NBD is the limit of BG/NBD, MBG/NBD (``a -> 0``) and Pareto/NBD (``s -> 0``) without
    dropout, so the best of the candidates' stopping points (finite log-likelihood) fits at
    least as well at its optimum. When it does not fit better by a likelihood-ratio statistic
    of :data:`COLLAPSE_CRITICAL_VALUE` or more, the data show no dropout: ``eligible`` (here:
    "collapsed") is True. Returns (collapsed, the reason in words).
    """
    if not math.isfinite(nbd.log_likelihood):
        return Eligibility(False, "the NBD has no finite log-likelihood to compare with")
    finite = [c for c in candidates if math.isfinite(c.log_likelihood)]
    if not finite:
        return Eligibility(
            False,
            "no candidate reached a finite log-likelihood, so the data's evidence about dropout "
            "is unknown",
        )
    best = max(finite, key=lambda c: c.log_likelihood)
    statistic = 2.0 * (best.log_likelihood - nbd.log_likelihood)
    detail = _dropout_words(best)
    where = f"{best.label}'s best stopping point" + (f" ({detail})" if detail else "")
    if statistic < COLLAPSE_CRITICAL_VALUE:
        return Eligibility(
            True,
            f"the dropout estimate collapsed: {where} fits no better than a model without "
            f"dropout (likelihood-ratio statistic {max(statistic, 0.0):.2f} < "
            f"{COLLAPSE_CRITICAL_VALUE}, the 95% point of chi-square with 1 degree of freedom)",
        )
    return Eligibility(
        False,
        f"{where} fits better than a model without dropout (likelihood-ratio statistic "
        f"{statistic:,.1f} >= {COLLAPSE_CRITICAL_VALUE}): the customers do drop out, but no "
        "candidate could pin the dropout down",
    )


# -- the chain ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    """The model a step of 05 uses, every model tried, and whether (and why) it fell back.

    ``model`` is the model to use (eligible, unless ``eligible`` is False: then nothing usable
    was found and ``model`` is the last one tried); ``fits`` every model tried, by name
    (candidates first, then the fallbacks tried); ``comparison`` their holdout table (from
    :func:`choose_model`; empty for refits); ``fallback`` None when a candidate converged
    without a fallback, else ``{"step": one of FALLBACK_STEPS or "observed_spend", "reason":
    words}``; ``words`` the sentences for the page. ``sample``: the customers the models were
    fitted on (:func:`crmlib.sampling.fit_sample`; None when no fit sampled them), and
    ``sample_note`` the page's sentence on it ("" when every customer was used).
    """

    model: FittedModel
    fits: dict[str, FittedModel]
    eligible: bool
    fallback: dict[str, str] | None
    words: tuple[str, ...]
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    criterion: str = "mae"
    sample: RowSample | None = field(default=None, repr=False, compare=False)
    sample_note: str = ""

    @property
    def chosen(self) -> str:
        """The name of the model used (``"bgnbd"``, ..., ``"nbd"``, ``"empirical"``)."""
        return self.model.name


def _failures(fits: Mapping[str, FittedModel], table: pd.DataFrame) -> str:
    """Why each candidate is not used, from the comparison's notes."""
    notes = table.set_index("model")["note"]
    return "; ".join(
        f"{fit.label}: {str(notes.get(name, '')).removesuffix(': excluded from the choice')}"
        for name, fit in fits.items()
    )


def _penalized(fitted: FittedModel, penalizer: float) -> bool:
    return fitted.penalizer > penalizer


def _retry_penalizer(penalizer: float) -> float:
    return max(RETRY_PENALIZER, 10.0 * penalizer)


def choose_model(
    calibration: pd.DataFrame,
    *,
    models: Sequence[str],
    penalizer: float = DEFAULTS.clv.penalizer,
    unit: str = "week",
    criterion: str = "mae",
    driver_max_rows: int | None = None,
    seed: int = DEFAULTS.seed,
) -> ModelChoice:
    """Fit the candidates on the calibration period, choose one on the holdout, or fall back.

    Transforms *calibration* (one row per customer, :func:`crmlib.clv.calibration_holdout`)
    into the :class:`ModelChoice`: the candidates are fitted on the calibration columns (a
    fit that raises on the data is a failed candidate) and compared on the holdout
    (:func:`crmlib.clv.validation.compare_models`' table); the best eligible candidate fitted with
    ``penalizer`` is used, else the module's chain: (a) the best candidate that converged
    with the retry penalizer, (b) the NBD when the dropout estimate collapsed, (c) the
    observed spend rate. Every model tried has a row in ``comparison``; ``words`` says which
    step was used and why. Never raises on data the models cannot describe.

    With more than ``driver_max_rows`` calibration customers (the run's
    ``engine.driver_max_rows``; None: no limit) the candidates and the NBD are fitted on a
    random sample of that many (:func:`crmlib.sampling.fit_sample`, seeded with ``seed``); the
    holdout comparison and the observed rate (c) use every customer, and ``sample_note`` says
    so for the page.

    Raises
    ------
    ValueError
        Unknown model, unit or criterion, or a negative penalizer (options, not data).
    DataContractError
        The calibration table breaks the summary's rules.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}: expected one of {CRITERIA}")
    if not models:
        raise ValueError("models: no candidate model to fit")
    for name in models:
        check_options(name, penalizer, unit)
    summary = model_summary(calibration)
    fit_rows, sample = fit_sample(summary, driver_max_rows, seed=seed)
    fits = {name: _safe_fit(fit_rows, model=name, penalizer=penalizer, unit=unit)
            for name in models}  # fmt: skip
    table = comparison_rows(fits, calibration, unit=unit, criterion=criterion)
    table["role"] = "candidate"
    usable = table[table["eligible"]]
    plain = usable[[not _penalized(fits[m], penalizer) for m in usable["model"]]]
    fallback: dict[str, str] | None = None
    if not plain.empty:
        chosen = best_model(plain, criterion)
    elif not usable.empty:
        chosen = best_model(usable, criterion)
        fallback = {
            "step": "penalized_refit",
            "reason": (
                f"no candidate converged without a penalty ({_unpenalized_failures(fits)}); "
                f"{fits[chosen].label} converged with the L2 penalizer "
                f"{fits[chosen].penalizer:g} (its estimates are shrunk towards 0)"
            ),
        }
    else:
        chosen, fallback, table = _no_candidate(summary, calibration, fits, table, unit=unit,
                                                criterion=criterion, fit_rows=fit_rows)  # fmt: skip
    table["chosen"] = table["model"] == chosen
    table = table[["model", "role", *COMPARISON_COLUMNS[1:]]].reset_index(drop=True)
    table.attrs = {"criterion": criterion, "unit": unit, "chosen": chosen}
    model = fits[chosen]
    words = _choice_words(model, fallback)
    log.info("05 uses %s (fallback: %s)", model.label, fallback["step"] if fallback else "none")
    note = fitted_on(sample, noun="calibration customers", subject="The candidate models were")
    return ModelChoice(model=model, fits=fits, eligible=True, fallback=fallback, words=words,
                       comparison=table, criterion=criterion, sample=sample,
                       sample_note=note)  # fmt: skip


def _unpenalized_failures(fits: Mapping[str, FittedModel]) -> str:
    parts = []
    for fit in fits.values():
        failed = [a.split(": failed, ", 1)[-1] for a in fit.attempts if ": failed, " in a]
        parts.append(f"{fit.label}: {failed[0] if failed else eligibility(fit).reason}")
    return "; ".join(parts)


def _no_candidate(
    summary: pd.DataFrame,
    calibration: pd.DataFrame,
    fits: dict[str, FittedModel],
    table: pd.DataFrame,
    *,
    unit: str,
    criterion: str,
    fit_rows: pd.DataFrame,
) -> tuple[str, dict[str, str], pd.DataFrame]:
    """Steps (b) and (c) on the calibration period; adds the fallbacks' rows to ``table``.

    The NBD is fitted on ``fit_rows`` (the candidates' rows); the observed rate is every
    customer's of ``summary``."""
    failed = _failures(fits, table)
    candidates = list(fits.values())
    nbd = _safe_fit(fit_rows, model="nbd", penalizer=0.0, unit=unit)
    fits["nbd"] = nbd
    nbd_row = comparison_rows({"nbd": nbd}, calibration, unit=unit, criterion=criterion)
    nbd_row["role"] = "fallback"
    collapse = dropout_collapse(candidates, nbd)
    if collapse.eligible and bool(nbd_row["eligible"].iloc[0]):
        reason = f"no candidate converged ({failed}); {collapse.reason}"
        return "nbd", {"step": "nbd", "reason": reason}, pd.concat([table, nbd_row])
    why_not = (
        collapse.reason
        if not collapse.eligible
        else f"the NBD is not usable either ({nbd_row['note'].iloc[0]})"
    )
    nbd_row["eligible"] = False
    if not nbd_row["note"].iloc[0]:
        nbd_row["note"] = f"not used: {why_not}"
    empirical = empirical_model(summary, unit=unit)
    fits["empirical"] = empirical
    empirical_row = comparison_rows({"empirical": empirical}, calibration, unit=unit,
                                     criterion=criterion)  # fmt: skip
    empirical_row["role"] = "fallback"
    reason = f"no candidate converged ({failed}), and no model without dropout applies: {why_not}"
    return (
        "empirical",
        {"step": "empirical", "reason": reason},
        pd.concat([table, nbd_row, empirical_row]),
    )


def _choice_words(model: FittedModel, fallback: Mapping[str, str] | None) -> tuple[str, ...]:
    if fallback is None:
        return (f"{model.label} converged and is used.",)
    step = fallback["step"]
    lead = f"**{_STEP_WORDS[step][0].upper()}{_STEP_WORDS[step][1:]} is used:** "
    return (lead + fallback["reason"] + ".",)


def _predictions_at(fitted: FittedModel, summary: pd.DataFrame) -> np.ndarray:
    """P(alive) x E[purchases over the longest observed age] per customer, for the rule."""
    prepared = Prepared.of(summary)
    model = transaction_model(fitted.fitter)
    kernel = KERNELS[model.kind]
    t = max(float(prepared.age.max()), 1.0)
    with np.errstate(all="ignore"):
        p_alive = np.broadcast_to(
            kernel.p_alive(model.theta, prepared.x, prepared.t_x, prepared.age), prepared.x.shape
        )
        expected = kernel.alive_expected(model.theta, t, prepared.x, prepared.age)
    return np.asarray(p_alive * expected, dtype="float64")


def _usable(fitted: FittedModel, summary: pd.DataFrame) -> Eligibility:
    first = eligibility(fitted)
    if not first.eligible:
        return first
    return eligibility(fitted, predictions=_predictions_at(fitted, summary))


def fit_with_fallback(
    summary: pd.DataFrame,
    *,
    model: str,
    penalizer: float = DEFAULTS.clv.penalizer,
    unit: str = "week",
    allow_empirical: bool = True,
    driver_max_rows: int | None = None,
    seed: int = DEFAULTS.seed,
) -> ModelChoice:
    """Fit one model with the chain: the model, (a) penalized, (b) NBD, (c) observed rate.

    Transforms *summary* (one row per customer: frequency, recency, T in ``unit``) into the
    :class:`ModelChoice` of this model: used for 05's refit on all data (``model`` = the
    calibration choice, which may itself be ``"nbd"`` or ``"empirical"``), its refits at
    other cut-offs, and 06's BTYD baseline (``allow_empirical=False``: 06 leaves the baseline
    out instead, ``eligible`` is then False). Eligibility includes finite P(alive) x expected
    purchases over the longest observed age for every customer.

    With more than ``driver_max_rows`` customers (the run's ``engine.driver_max_rows``; None:
    no limit) the model and the NBD are fitted on a random sample of that many
    (:func:`crmlib.sampling.fit_sample`, seeded with ``seed``); eligibility and the observed
    rate use every customer. ``sample_note`` says so when a fitted model is used.
    """
    if model == "empirical":
        empirical = empirical_model(summary, unit=unit)
        return ModelChoice(
            model=empirical, fits={"empirical": empirical}, eligible=True,
            fallback={"step": "empirical", "reason": "the calibration period had no usable model"},
            words=("The customers are valued at their observed spend rate (no model).",),
        )  # fmt: skip
    fits: dict[str, FittedModel] = {}
    fit_rows, sample = fit_sample(summary, driver_max_rows, seed=seed)
    note = fitted_on(sample)
    fitted = _safe_fit(fit_rows, model=model, penalizer=penalizer, unit=unit)
    fits[model] = fitted
    usable = _usable(fitted, summary)
    if usable.eligible:
        fallback = None
        if _penalized(fitted, penalizer):
            fallback = {
                "step": "penalized_refit",
                "reason": f"{fitted.label} converged only with the L2 penalizer "
                f"{fitted.penalizer:g} ({_unpenalized_failures(fits)})",
            }
        if model == "nbd":
            fallback = {"step": "nbd", "reason": "the calibration period's dropout estimate "
                        "collapsed"}  # fmt: skip
        return ModelChoice(model=fitted, fits=fits, eligible=True, fallback=fallback,
                           words=_choice_words(fitted, fallback), sample=sample,
                           sample_note=note)  # fmt: skip
    failed = f"{fitted.label}: {usable.reason}"
    why_not = f"the NBD is not usable ({failed})" if model == "nbd" else ""
    if model != "nbd":
        nbd = _safe_fit(fit_rows, model="nbd", penalizer=0.0, unit=unit)
        fits["nbd"] = nbd
        collapse = dropout_collapse([fitted], nbd)
        nbd_usable = _usable(nbd, summary)
        if collapse.eligible and nbd_usable.eligible:
            fallback = {"step": "nbd", "reason": f"{failed}; {collapse.reason}"}
            return ModelChoice(model=nbd, fits=fits, eligible=True, fallback=fallback,
                               words=_choice_words(nbd, fallback), sample=sample,
                               sample_note=note)  # fmt: skip
        why_not = collapse.reason if not collapse.eligible else f"the NBD {nbd_usable.reason}"
    if not allow_empirical:
        reason = f"{failed}; no model without dropout applies: {why_not}"
        return ModelChoice(model=fitted, fits=fits, eligible=False, fallback=None,
                           words=(f"No usable model: {reason}.",), sample=sample)  # fmt: skip
    empirical = empirical_model(summary, unit=unit)
    fits["empirical"] = empirical
    fallback = {"step": "empirical", "reason": f"{failed}; no model without dropout applies: "
                f"{why_not}"}  # fmt: skip
    return ModelChoice(model=empirical, fits=fits, eligible=True, fallback=fallback,
                       words=_choice_words(empirical, fallback), sample=sample)  # fmt: skip


def spend_model(
    summary: pd.DataFrame,
    transactions: FittedModel | ModelChoice,
    *,
    penalizer: float = DEFAULTS.clv.penalizer,
    driver_max_rows: int | None = None,
    seed: int = DEFAULTS.seed,
) -> ModelChoice:
    """The spend per order: Gamma-Gamma when eligible, else each customer's observed spend.

    Reads *frequency, monetary_value* (one row per customer). With the empirical transaction
    fallback the observed spend is used directly (the CLV is then the observed spend rate).
    ``fallback`` is None for Gamma-Gamma, else ``{"step": "observed_spend", "reason": ...}``.

    With more than ``driver_max_rows`` customers (the run's ``engine.driver_max_rows``; None:
    no limit) Gamma-Gamma is fitted on the repeat customers of a random sample of that many
    (:func:`crmlib.sampling.fit_sample` with ``seed``: the same customers as
    :func:`fit_with_fallback` given the same summary, limit and seed); the observed spend
    uses every customer.
    """
    transaction = transactions.model if isinstance(transactions, ModelChoice) else transactions
    fit_rows, sample = fit_sample(summary, driver_max_rows, seed=seed)
    x, m = spend_arrays(fit_rows)
    usable_customers = int(np.count_nonzero((x > 0) & (m > 0)))
    fits: dict[str, FittedModel] = {}
    reason = ""
    if transaction.name == "empirical":
        reason = "the empirical CLV values each customer at their own observed spend"
    elif usable_customers == 0:
        reason = "no repeat customer has a positive spend, so Gamma-Gamma cannot be fitted"
    else:
        try:
            gamma = fit_spend_model(fit_rows, penalizer=penalizer)
        except _FIT_ERRORS as exc:
            gamma = _fit_failure("gammagamma", "currency", usable_customers, exc)
        fits["gammagamma"] = gamma
        usable = eligibility(gamma)
        if usable.eligible and gamma.params["q"] > 1:
            note = (
                f"Gamma-Gamma was fitted on the repeat customers among {sample.words('customers')} "
                f"({DRIVER_SETTING})."
                if sample.sampled
                else ""
            )
            return ModelChoice(model=gamma, fits=fits, eligible=True, fallback=None,
                               words=("Gamma-Gamma converged and is used.",), sample=sample,
                               sample_note=note)  # fmt: skip
        reason = (
            f"Gamma-Gamma is not usable: {usable.reason}"
            if not usable.eligible
            else f"Gamma-Gamma has q = {gamma.params['q']:.3g} <= 1, so its mean spend per "
            "order is not finite"
        )
    observed = observed_spend_model(summary)
    fits["observed_spend"] = observed
    fallback = {"step": "observed_spend", "reason": reason}
    words = (
        f"**Spend per order: each customer's observed spend** ({reason}): a repeat customer's "
        f"own mean spend per order, for the others the mean over all repeat orders "
        f"({observed.params['mean_spend']:,.2f}).",
    )
    return ModelChoice(model=observed, fits=fits, eligible=True, fallback=fallback, words=words)


# -- records ------------------------------------------------------------------------------------
def comparison_records(choice: ModelChoice) -> list[dict[str, Any]]:
    """``metrics.json["clv"]["comparison"]``: one record per model tried, with its parameters.

    Every candidate (and every fallback tried) with ``model``, ``label``, ``role``,
    ``parameters`` (lifetimes' names; alpha/beta in the unit), ``log_likelihood``,
    ``converged``, ``eligible``, ``chosen``, the holdout errors and ``note``.
    """
    records = []
    for row in choice.comparison.to_dict("records"):
        fitted = choice.fits[str(row["model"])]
        record: dict[str, Any] = {
            "model": str(row["model"]),
            "label": fitted.label,
            "parameters": {k: _json_number(v) for k, v in fitted.params.items()},
        }
        for key, value in row.items():
            if key != "model":
                record[str(key)] = _json_number(value) if isinstance(value, float) else value
        record["penalizer"] = float(fitted.penalizer)
        records.append(record)
    return records


def _json_number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
