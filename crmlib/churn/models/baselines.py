"""Churn baselines a model must beat: the recency rule, the recency rank and the BTYD forecast.

Three ways to score churn risk without the churn model of 06_churn, for its scorecard:

- :class:`RecencyRule`: the rule a CRM team uses ("no order for a long time = leaving") made a
  calibrated probability: P(churn | recency_days) learned by increasing isotonic regression on
  the training cutoff. It follows the fitted-model interface (``name``, ``predict_proba``,
  ``numeric_``, ``categorical_``).
- :func:`recency_score`: the documented fallback when nothing can be trained (one class,
  no labels): ``recency_days / lookback_days`` clipped to [0, 1]. A **rank**, not a
  probability: it orders customers but its values are not churn rates.
- :func:`btyd_churn_probability`: the buy-till-you-die model of 05_clv (BG/NBD, MBG/NBD or
  Pareto/NBD) refitted on the purchases up to the cutoff, turned into P(no purchase in the
  next ``horizon_days`` | history): the churn label's own definition, so its probabilities
  are comparable with the model's. :func:`btyd_churn_from_summary` does the same from a
  summary and given parameters (e.g. the true ones of a simulation).

BTYD churn probability. Let p_alive = P(alive at T | x, t_x, T) and t the horizon in model
units. A customer who is no longer alive never buys again, so

    P(no purchase in (T, T + t]) = 1 - p_alive + p_alive * P(no purchase in t | alive).

- BG/NBD and MBG/NBD drop out only right after a purchase: an alive customer stays alive
  until the next purchase, so P(no purchase in t | alive, lambda) = exp(-lambda t), and
  given alive lambda ~ Gamma(r + x, alpha + T). Averaged: ((alpha + T) / (alpha + T + t))^(r + x).
- the NBD (05's fallback when the dropout estimate collapses: buyers who never leave) has
  p_alive = 1 and the same zero term.
- Pareto/NBD: given alive, lambda ~ Gamma(r + x, alpha + T) and mu ~ Gamma(s, beta + T)
  independently. A purchase in the window needs the next purchase S before t and before
  death D: P(buy | alive) = int_0^t f_S(u) P(D > u) du (f_S the Lomax density of S,
  P(D > u) = ((beta + T) / (beta + T + u))^s). P(alive) = 1 / (1 + odds of an unseen death),
  odds = int_{t_x}^T ((alpha+T)/(alpha+tau))^(r+x) s/(beta+tau) ((beta+T)/(beta+tau))^s dtau.
  Both are integrated in log-time, where they are k e^(-k z) (k = r + x) times a bounded
  smooth factor, by 64-point Gauss-Legendre quadrature: equal to lifetimes' closed forms to
  ~1e-13, without their cancellation at recency = T.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy
   way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
.. [2] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and
   comparison of models for customer base analysis. IJRM 24(3), 201-209 (MBG/NBD).
.. [3] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers:
   who are they and what will they do next? Management Science 33(1), 1-24 (Pareto/NBD).
.. [4] Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and
   related expressions. http://brucehardie.com/notes/009/
.. [5] Barlow, R. E., Bartholomew, D. J., Bremner, J. M. & Brunk, H. D. (1972). Statistical
   inference under order restrictions. Wiley (isotonic regression, pool adjacent violators).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from crmlib.checks import require_columns
from crmlib.clv import (
    MODEL_LABELS,
    MODELS,
    PARAMETER_NAMES,
    TRANSACTION_MODELS,
    UNIT_DAYS,
    FittedModel,
    customer_summary,
    eligibility,
    fit_notes,
    fit_with_fallback,
    summary_units,
)
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.errors import DataContractError
from crmlib.periods import as_date
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.sampling import sample_rows

__all__ = [
    "BTYD_COLUMNS",
    "RecencyRule",
    "recency_score",
    "RecencyRank",
    "btyd_churn_from_summary",
    "btyd_churn_probability",
]

log = logging.getLogger(__name__)

#: Columns of :func:`btyd_churn_probability` (one row per customer).
BTYD_COLUMNS: tuple[str, ...] = ("customer_id", "p_alive", "p_churn")

_TABLE = "churn features"

_RECENCY = "recency_days"

_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(64)

#: e-folds of the exponential weight kept by the quadrature (the rest weighs < 4e-18).
_E_FOLDS = 40.0


# -- shared checks --------------------------------------------------------------------------------
def _recency(frame: pd.DataFrame, *, allow_missing: bool = False) -> np.ndarray:
    """``recency_days`` as float64, checked: numeric, >= 0, finite unless ``allow_missing``."""
    require_columns(frame, [_RECENCY], table_name=_TABLE)
    try:
        numbers = pd.to_numeric(frame[_RECENCY], errors="raise")
        values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    except (ValueError, TypeError):
        raise DataContractError(
            f"{_TABLE}: column '{_RECENCY}' is not numeric (dtype {frame[_RECENCY].dtype}); "
            "expected days since the last purchase"
        ) from None
    missing = int(np.count_nonzero(np.isnan(values)))
    if missing and not allow_missing:
        raise DataContractError(
            f"{_TABLE}: column '{_RECENCY}' is missing for {missing} of {values.size} "
            "customers; expected days since the last purchase for every active customer"
        )
    negative = int(np.count_nonzero(values < 0))
    if negative:
        raise DataContractError(
            f"{_TABLE}: column '{_RECENCY}' is negative for {negative} customers; expected "
            "days >= 0 (0 = bought on the cutoff day)"
        )
    return values


def _labels(frame: pd.DataFrame, label_col: str) -> np.ndarray:
    """The churn label as 0.0/1.0, checked: boolean or 0/1, nothing missing."""
    require_columns(frame, [label_col], table_name=_TABLE)
    column = frame[label_col]
    missing = int(column.isna().sum())
    if missing:
        raise DataContractError(
            f"{_TABLE}: column '{label_col}' is missing for {missing} customers; expected "
            "True/False (True = no purchase in the label window)"
        )
    try:
        values = column.to_numpy(dtype="float64")
    except (ValueError, TypeError):
        values = np.array([np.nan])
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataContractError(
            f"{_TABLE}: column '{label_col}' has values other than True/False (dtype "
            f"{column.dtype}); expected the churn label (True = no purchase in the window)"
        )
    return values


# -- the recency rule -----------------------------------------------------------------------------
class RecencyRule:
    """P(churn | recency_days): the recency rule as a calibrated probability.

    Learns, on the training cutoff (one row per active customer with the label), the churn
    rate as a non-decreasing function of the days since the last purchase: isotonic
    regression (pool adjacent violators, [5] of the module) of the label on
    ``recency_days``, bounded to [0, 1]. Between training recencies the prediction is
    interpolated linearly; beyond them it is the value at the nearest end. Follows the
    fitted churn model interface (``name``, ``predict_proba``, ``numeric_``,
    ``categorical_``), so drivers, scorecard and value code take it like any model.

    Attributes
    ----------
    isotonic_ : IsotonicRegression
        The fitted step function.
    n_train_ : int
        Training customers.
    churn_rate_ : float
        Training churn share.

    Examples
    --------
    >>> train = pd.DataFrame({"recency_days": [1, 5, 20, 40, 90, 200],
    ...                       "churned": [False, False, True, False, True, True]})
    >>> rule = RecencyRule().fit(train)
    >>> rule.predict_proba(pd.DataFrame({"recency_days": [0, 30, 300]})).round(3).tolist()
    [0.0, 0.5, 1.0]
    """

    name: str = "recency rule"
    numeric_: tuple[str, ...] = (_RECENCY,)
    categorical_: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.isotonic_: IsotonicRegression | None = None
        self.n_train_ = 0
        self.churn_rate_ = float("nan")

    def fit(self, frame: pd.DataFrame, *, label_col: str = "churned") -> RecencyRule:
        """Learn P(churn | recency_days) on ``frame`` (one row per training customer).

        Raises
        ------
        DataContractError
            ``recency_days`` or ``label_col`` is missing, not numeric/boolean, or null.
        ValueError
            The rule cannot be learned: a single class (every customer churned, or none),
            or fewer than 2 distinct recencies.
        """
        recency = _recency(frame)
        labels = _labels(frame, label_col)
        n = labels.size
        churners = int(labels.sum())
        if churners in (0, n):
            what = "churned" if churners else "stayed"
            raise ValueError(
                f"the recency rule cannot be fitted: all {n} training customers {what} "
                f"({label_col} is always {bool(churners)}); a churn rate by recency needs "
                "both churners and stayers (use recency_score as the fallback)"
            )
        distinct = int(np.unique(recency).size)
        if distinct < 2:
            raise ValueError(
                f"the recency rule cannot be fitted: all {n} training customers have the "
                f"same recency_days ({recency[0]:g}); it needs at least 2 distinct recencies"
            )
        isotonic = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0,
                                      out_of_bounds="clip")  # fmt: skip
        self.isotonic_ = isotonic.fit(recency, labels)
        self.n_train_ = n
        self.churn_rate_ = churners / n
        log.info(
            "recency rule fitted on %d customers (%d distinct recencies, churn share %.1f%%)",
            n,
            distinct,
            100 * self.churn_rate_,
        )
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(churn) for each row of ``frame`` (needs ``recency_days``), a 1-D float array.

        Raises
        ------
        ValueError
            The rule is not fitted.
        DataContractError
            ``recency_days`` is missing, not numeric, negative or null.
        """
        if self.isotonic_ is None:
            raise ValueError("the recency rule is not fitted: call fit(train_features) first")
        recency = _recency(frame)
        if recency.size == 0:
            return np.empty(0, dtype="float64")
        return np.asarray(self.isotonic_.predict(recency), dtype="float64")

    def __repr__(self) -> str:
        state = f"n_train={self.n_train_}" if self.isotonic_ is not None else "not fitted"
        return f"RecencyRule({state})"


def recency_score(frame: pd.DataFrame, *, lookback_days: int) -> np.ndarray:
    """The fallback churn **rank** when nothing can be trained: recency / lookback, in [0, 1].

    Reads ``recency_days`` (one row per active customer) and returns
    ``recency_days / lookback_days`` clipped to [0, 1], one value per row: 0 = bought on the
    cutoff day, 1 = last purchase at the edge of the activity window. It orders customers by
    risk but is **not a probability** (it is not calibrated to any churn rate): use it for
    ranking (AUC, lift, gains), not for value at risk. Missing recencies stay NaN.

    Parameters
    ----------
    frame : pd.DataFrame
        With ``recency_days``.
    lookback_days : int
        The activity window of the feature table (customers bought within it); > 0.

    Raises
    ------
    ValueError
        ``lookback_days`` is not positive.
    DataContractError
        ``recency_days`` is missing, not numeric or negative.

    Examples
    --------
    >>> recency_score(pd.DataFrame({"recency_days": [0, 73, 365, 400]}), lookback_days=365)
    array([0. , 0.2, 1. , 1. ])
    """
    if not lookback_days > 0:
        raise ValueError(f"lookback_days={lookback_days!r}: expected a positive number of days")
    recency = _recency(frame, allow_missing=True)
    return np.clip(recency / float(lookback_days), 0.0, 1.0)


class RecencyRank:
    """The last fallback: ``recency_days / lookback_days`` (a rank, not a probability).

    Used when even the recency rule cannot be learned (one class at the training cutoff).
    """

    name = "recency rank"
    numeric_: tuple[str, ...] = ("recency_days",)
    categorical_: tuple[str, ...] = ()

    def __init__(self, *, lookback_days: int) -> None:
        self.lookback_days = int(lookback_days)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Recency as a share of the lookback window, in [0, 1]."""
        return recency_score(frame, lookback_days=self.lookback_days)


# -- BTYD churn probability -----------------------------------------------------------------------
def _check_params(params: Mapping[str, float], model: str) -> tuple[float, ...]:
    if model not in TRANSACTION_MODELS:
        raise ValueError(f"model={model!r}: expected one of {TRANSACTION_MODELS}")
    names = PARAMETER_NAMES[model]
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"params: {missing} missing for model {model!r}; expected {names}")
    values = tuple(float(params[name]) for name in names)
    bad = [name for name, value in zip(names, values, strict=True) if not value > 0]
    if bad:
        raise ValueError(f"params: {bad} not positive ({dict(params)}); expected {names} > 0")
    return values


def _bg_p_alive(theta: tuple[float, ...], x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                *, modified: bool) -> np.ndarray:  # fmt: skip
    """BG/NBD (eq. 13 of [1]) or MBG/NBD ([2]) P(alive | x, t_x, T), in logs."""
    r, alpha, a, b = theta
    # odds of having dropped out: a / (b + x - 1) (BG/NBD, x > 0) or a / (b + x) (MBG/NBD)
    repeats = x if modified else np.maximum(x, 1.0) - 1.0
    log_odds = np.log(a) - np.log(b + repeats) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    if modified:
        return np.asarray(expit(-log_odds))
    return np.asarray(np.where(x == 0, 1.0, expit(-log_odds)))


def _exponential_average(
    k: np.ndarray, length: np.ndarray, values: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """int_0^length k exp(-k z) f(z) dz per customer, by Gauss-Legendre quadrature.

    ``values(z)`` gives f at the nodes (one row per customer). The range is cut at
    z = 40 / k, beyond which the weight k exp(-k z) holds less than exp(-40) ~ 4e-18: the
    exponential then spans at most 40 e-folds, which 64 nodes integrate to rounding.
    """
    top = np.minimum(length, _E_FOLDS / k)
    z = top[:, None] / 2.0 * (_LEGENDRE_NODES + 1.0)  # (customers, nodes)
    weight = k[:, None] * np.exp(-k[:, None] * z)
    return np.asarray(top / 2.0 * np.einsum("ij,j->i", weight * values(z), _LEGENDRE_WEIGHTS))


def _pnbd_p_alive(theta: tuple[float, ...], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                  ) -> np.ndarray:  # fmt: skip
    """Pareto/NBD P(alive | x, t_x, T): odds of an unseen death by quadrature.

    odds = int_{t_x}^T ((alpha+T)/(alpha+tau))^k s/(beta+tau) ((beta+T)/(beta+tau))^s dtau,
    k = r + x; in z = log((alpha+tau)/(alpha+t_x)) it is (G / k) int_0^L k e^(-k z) psi dz,
    G = ((alpha+T)/(alpha+t_x))^k, L = log G / k, psi = s (alpha+tau)/(beta+tau)
    ((beta+T)/(beta+tau))^s bounded.
    """
    r, alpha, s, beta = theta
    k = r + x
    length = np.log(alpha + T) - np.log(alpha + t_x)  # 0 when t_x = T

    def psi(z: np.ndarray) -> np.ndarray:
        tau = np.minimum((alpha + t_x)[:, None] * np.exp(z) - alpha, T[:, None])
        return np.asarray(
            s * (alpha + tau) / (beta + tau) * ((beta + T[:, None]) / (beta + tau)) ** s
        )

    integral = _exponential_average(k, length, psi)
    with np.errstate(divide="ignore"):
        log_odds = k * length - np.log(k) + np.log(integral)
    return np.asarray(expit(-log_odds))


def _pnbd_p_buy_alive(theta: tuple[float, ...], x: np.ndarray, T: np.ndarray, t: float
                      ) -> np.ndarray:  # fmt: skip
    """Pareto/NBD P(a purchase in (T, T + t] | alive at T, x, T).

    int_0^t f_S(u) P(D > u) du with f_S the Lomax density of the next purchase; in
    z = log(1 + u/(alpha+T)) it is int_0^L k e^(-k z) ((beta+T)/(beta+T+u))^s dz, k = r + x.
    """
    r, alpha, s, beta = theta
    k = r + x
    length = np.log1p(t / (alpha + T))

    def survival(z: np.ndarray) -> np.ndarray:
        u = (alpha + T)[:, None] * np.expm1(z)
        return np.asarray(((beta + T)[:, None] / ((beta + T)[:, None] + u)) ** s)

    return _exponential_average(k, length, survival)


def _churn_arrays(theta: tuple[float, ...], model: str, x: np.ndarray, t_x: np.ndarray,
                  T: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(p_alive, p_churn) per customer for parameters ``theta`` and horizon ``t`` (model units)."""
    if model == "paretonbd":
        p_alive = _pnbd_p_alive(theta, x, t_x, T)
        p_buy = _pnbd_p_buy_alive(theta, x, T, t)
    elif model == "nbd":  # no dropout: always alive, the NBD zero term as for BG/NBD
        r, alpha = theta
        p_alive = np.ones(x.shape)
        p_buy = -np.expm1((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    else:
        r, alpha = theta[0], theta[1]
        p_alive = _bg_p_alive(theta, x, t_x, T, modified=model == "mbgnbd")
        p_buy = -np.expm1((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    return p_alive, 1.0 - p_alive * p_buy


def _summary_histories(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(summary, ["frequency", "recency", "T"], table_name="summary")
    arrays = []
    for column in ("frequency", "recency", "T"):
        values = pd.to_numeric(summary[column], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        if not np.isfinite(values).all() or (values < 0).any():
            raise DataContractError(
                f"summary: column '{column}' has missing, non-numeric or negative values; "
                "expected lifetimes' frequency, recency and T (>= 0) for every customer"
            )
        arrays.append(values)
    x, t_x, T = arrays
    if (t_x > T).any():
        raise DataContractError(
            f"summary: recency > T for {int((t_x > T).sum())} customers; expected recency <= T"
        )
    return x, t_x, T


def btyd_churn_from_summary(
    summary: pd.DataFrame,
    *,
    params: Mapping[str, float],
    horizon_days: float,
    model: str = "bgnbd",
) -> pd.DataFrame:
    """P(alive) and P(no purchase in the next ``horizon_days``) from BTYD parameters.

    Transforms a BTYD summary (one row per customer: ``frequency`` = repeat purchases,
    ``recency`` and ``T`` in the unit of ``summary.attrs["unit"]``) into one row per
    customer, same order and index: *customer_id* (when the summary has it), *p_alive*,
    *p_churn* = P(no purchase in (T, T + horizon]) (formulas in the module docstring).

    Parameters
    ----------
    summary : pd.DataFrame
        As returned by :func:`crmlib.clv.customer_summary`; ``attrs["unit"]`` gives the unit.
    params : Mapping[str, float]
        The model's parameters in lifetimes' names (``r, alpha, a, b``; Pareto/NBD
        ``r, alpha, s, beta``), ``alpha``/``beta`` in the summary's unit.
    horizon_days : float
        Length of the churn window in days (converted to the summary's unit).
    model : {"bgnbd", "mbgnbd", "paretonbd", "nbd"}, default "bgnbd"

    Raises
    ------
    ValueError
        Unknown model, missing or non-positive parameters, a summary without a unit, or a
        horizon that is not positive.
    DataContractError
        The summary lacks a column or has invalid histories.

    Examples
    --------
    >>> summary = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [0, 4],
    ...                         "recency": [0.0, 10.0], "T": [20.0, 20.0]})
    >>> summary.attrs["unit"] = "week"
    >>> params = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    >>> btyd_churn_from_summary(summary, params=params, horizon_days=91).round(4)
      customer_id  p_alive  p_churn
    0           a   1.0000   0.8974
    1           b   0.4103   0.6549
    """
    theta = _check_params(params, model)
    unit = summary_units(summary)
    if not horizon_days > 0:
        raise ValueError(f"horizon_days={horizon_days!r}: expected a positive number of days")
    x, t_x, T = _summary_histories(summary)
    horizon = float(horizon_days) / UNIT_DAYS[unit]
    p_alive, p_churn = _churn_arrays(theta, model, x, t_x, T, horizon)
    columns: dict[str, object] = {}
    if "customer_id" in summary.columns:
        columns["customer_id"] = summary["customer_id"].to_numpy()
    columns.update({"p_alive": p_alive, "p_churn": np.clip(p_churn, 0.0, 1.0)})
    result = pd.DataFrame(columns, index=summary.index)
    result.attrs.update({"model": model, "params": dict(zip(PARAMETER_NAMES[model], theta,
                         strict=True)), "unit": unit, "horizon_units": horizon})  # fmt: skip
    return result


#: Customers the mean sd of P(churn) is averaged over (a random sample of those fitted on):
#: the mean of a sd is known to ~1% on 10,000, and the Pareto/NBD quadrature stays cheap.
_SPREAD_ROWS = 10_000


def _p_churn_sd(
    summary: pd.DataFrame, fitted: FittedModel, *, horizon_days: float, seed: int
) -> float:
    """Mean over *summary*'s customers of the sd of P(churn) from the parameters' estimation error.

    The delta method: for each customer, g' C g with g the gradient of P(churn) in the
    parameters (forward differences, relative step 1e-6) and C their covariance from the fit's
    Hessian; averaged over at most :data:`_SPREAD_ROWS` of the customers, drawn at random.
    NaN when the fit has no finite covariance.
    """
    covariance = fitted.covariance
    theta = _check_params(fitted.params, fitted.name)
    k = len(theta)
    if covariance is None or np.shape(covariance) != (k, k) or not np.isfinite(covariance).all():
        return float("nan")
    x, t_x, T = _summary_histories(sample_rows(len(summary), _SPREAD_ROWS, seed=seed).take(summary))
    horizon = float(horizon_days) / UNIT_DAYS[summary_units(summary)]
    base = _churn_arrays(theta, fitted.name, x, t_x, T, horizon)[1]
    gradient = np.empty((x.size, k))
    for j in range(k):
        step = 1e-6 * theta[j]
        moved = tuple(value + step if i == j else value for i, value in enumerate(theta))
        gradient[:, j] = (_churn_arrays(moved, fitted.name, x, t_x, T, horizon)[1] - base) / step
    variance = np.einsum("ij,jk,ik->i", gradient, np.asarray(covariance, dtype="float64"), gradient)
    return float(np.sqrt(np.clip(variance, 0.0, None)).mean())


def _spread_words(spread: float) -> str:
    """ "; ... moves ... by about ±0.2 percentage points" for the first note of a sampled refit."""
    if not np.isfinite(spread):
        return ""
    points = 100.0 * spread
    size = "less than ±0.1" if points < 0.05 else f"about ±{points:.1f}"
    return (
        f"; the sample's estimation error moves a customer's P(churn) by {size} percentage "
        "points (one standard deviation, averaged over the customers fitted on)"
    )


def btyd_churn_probability(
    engine: Engine,
    *,
    cutoff: dt.date | str,
    horizon_days: int,
    unit: str = DEFAULTS.churn.btyd_unit,
    model: str = "bgnbd",
    customer_ids: Sequence[str] | pd.Series | None = None,
    transactions: str = "transactions",
    min_cell_size: int = MIN_CELL_SIZE,
    max_customers: int = DEFAULTS.churn.btyd_max_customers,
    seed: int = DEFAULTS.seed,
) -> pd.DataFrame:
    """The BTYD baseline: refit 05_clv's model at the cutoff and predict P(no purchase).

    Transforms *transactions* (one row per netted order) into one row per customer:
    *customer_id, p_alive, p_churn*, where p_churn = P(no purchase in the ``horizon_days``
    days after ``cutoff`` | purchase history up to ``cutoff``), the churn label's own event.
    The summary is :func:`crmlib.clv.customer_summary` at ``observation_end=cutoff`` and the
    model is fitted on every customer with a purchase by the cutoff or, when there are more
    than ``max_customers``, on a random sample of ``max_customers`` of them
    (:func:`crmlib.sampling.sample_rows`, seeded with ``seed``); its few parameters are then
    known far more precisely than the baseline's scorecard can tell apart, and the fitted
    parameters score **every** customer. The fit goes through 05's chain,
    :func:`crmlib.clv.fit_with_fallback`: 05's
    eligibility rule (:func:`crmlib.clv.eligibility`) holds, so a fit that did not converge
    is never used; the model's penalized refit or, when its dropout estimate collapsed, the
    NBD (no dropout) replaces it, and ``attrs["notes"]`` says so. When nothing is usable
    (05's last step, the observed spend rate, gives no churn probability) this raises and
    06 leaves the baseline out with the reason. The formulas are in the module docstring.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered.
    cutoff : date or str
        Last day observed (inclusive), the cutoff of the churn feature table.
    horizon_days : int
        The churn label window, in days after the cutoff.
    unit : {"week", "day", "calendar_week"}, default ``churn.btyd_unit``
        Time unit of the BTYD summary (05_clv's setting).
    model : {"bgnbd", "mbgnbd", "paretonbd"}, default "bgnbd"
    customer_ids : sequence of str, optional
        The customers to return, in this order (e.g. the feature table's ``customer_id``).
        A customer without a purchase by the cutoff gets NaN (and a note). None returns
        every customer of the summary, by customer_id.
    transactions : str
        View name.
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``: numbers of customers in ``attrs["notes"]`` are
        written by the small-cell rule ("fewer than 10 customers").
    max_customers : int, default ``churn.btyd_max_customers``
        Most customers the model is fitted on (a random sample above it); everyone is scored.
    seed : int, default the params file's ``seed`` default
        Seeds the sample.

    Returns
    -------
    pd.DataFrame
        Columns :data:`BTYD_COLUMNS`. ``attrs``: ``model`` (the model used: ``model``, or
        ``"nbd"`` after the fallback), ``params``, ``unit``, ``horizon_units``, ``cutoff``,
        ``converged`` (True: only an eligible model is used), ``fallback`` (None, or 05's
        ``{"step", "reason"}``), ``fit_customers`` and ``summary_customers`` (customers
        fitted on, of those with a purchase by the cutoff), ``p_churn_sd`` (when sampled: the
        mean standard deviation of a customer's P(churn) from the parameters' estimation
        error, delta method; NaN when the fit has no covariance) and ``notes`` (sentences for
        the page: when sampled, the first says so and gives that uncertainty).

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing, or nobody purchased by the cutoff.
    ValueError
        Unknown ``unit`` or ``model``, or a horizon that is not positive; or no eligible model
        at the cutoff (the message says why: 06 leaves the baseline out with it).

    Examples
    --------
    >>> from crmlib.engine import Engine
    >>> rng = np.random.default_rng(3)  # 300 customers: Poisson buying, dropout after a purchase
    >>> first = rng.uniform(0, 500, 300)  # first purchase, days after 2023-01-01
    >>> gaps = rng.exponential(1.0, (300, 15)) / rng.gamma(0.8, 1 / 40.0, 300)[:, None]
    >>> days = first[:, None] + np.cumsum(np.c_[np.zeros(300), gaps], axis=1)
    >>> keep = (np.arange(16) <= rng.geometric(rng.beta(1, 4, 300))[:, None]) & (days < 700)
    >>> orders = pd.DataFrame({
    ...     "customer_id": np.nonzero(keep)[0].astype(str),
    ...     "order_ts": pd.Timestamp("2023-01-01") + pd.to_timedelta(days[keep], unit="D"),
    ...     "amount": 20.0, "gross_amount": 20.0, "refund_amount": 0.0, "is_purchase": True,
    ... })
    >>> with Engine(threads=1) as engine:
    ...     engine.register("transactions", orders)
    ...     risk = btyd_churn_probability(engine, cutoff="2024-06-30", horizon_days=90,
    ...                                   customer_ids=["3", "7"])
    >>> risk.columns.tolist(), risk["customer_id"].tolist(), risk.attrs["converged"]
    (['customer_id', 'p_alive', 'p_churn'], ['3', '7'], True)
    """
    if model not in MODELS:
        raise ValueError(f"model={model!r}: expected one of {MODELS}")
    if not horizon_days > 0:
        raise ValueError(f"horizon_days={horizon_days!r}: expected a positive number of days")
    cutoff_day = as_date(cutoff)
    summary = customer_summary(engine, observation_end=cutoff_day, unit=unit,
                               transactions=transactions)  # fmt: skip
    if summary.empty:
        raise DataContractError(
            f"{transactions}: no purchase (is_purchase) on or before the cutoff {cutoff_day}; "
            "the BTYD baseline needs purchase histories: choose a later cutoff"
        )
    sample = sample_rows(len(summary), max_customers, seed=seed)
    fitted_on = sample.take(summary)  # the summary itself below max_customers
    chain = fit_with_fallback(fitted_on, model=model, unit=unit, allow_empirical=False)
    fitted = chain.model
    usable = eligibility(fitted)
    if not (chain.eligible and usable.eligible):
        # 05's rule: a model that is not eligible is never used; the baseline is left out
        raise ValueError(
            f"{MODEL_LABELS[model]} refitted at the cutoff {cutoff_day} is not usable and no "
            f"model without dropout applies ({' '.join(chain.words)}); the BTYD baseline is "
            "left out"
        )
    rule = SmallCells(min_cell_size)
    refitted = f"{fitted.label} refitted at the cutoff {cutoff_day} on "
    spread = float("nan")
    if sample.sampled:
        spread = _p_churn_sd(fitted_on, fitted, horizon_days=horizon_days, seed=seed)
        refitted += (
            f"{sample.words('customers')} with a purchase by then, and applied to all of "
            f"them{_spread_words(spread)}"
        )
    else:
        refitted += rule.phrase(fitted.n_customers)
    notes = [refitted, *fit_notes(fitted, min_cell_size=min_cell_size, first=False)]
    if chain.fallback is not None:
        notes.append(
            f"{MODEL_LABELS[model]} is not usable at the cutoff, so the baseline is 05's "
            f"fallback, the {fitted.label}: {chain.fallback['reason']}"
        )
        log.warning("the %s baseline at %s uses %s", MODEL_LABELS[model], cutoff_day, fitted.label)
    scored = btyd_churn_from_summary(summary, params=fitted.params,
                                     horizon_days=horizon_days, model=fitted.name)  # fmt: skip
    scored = scored.reset_index(drop=True)
    if customer_ids is not None:
        wanted = pd.Series(np.asarray(customer_ids, dtype=object), dtype="str")
        scored = scored.set_index("customer_id").reindex(wanted.to_numpy())
        scored = scored.rename_axis("customer_id").reset_index()
        unknown = int(scored["p_alive"].isna().sum())
        if unknown:
            notes.append(
                f"no purchase by the cutoff for {rule.phrase(unknown, 'requested customer')} "
                f"(of {rule.phrase(len(scored))}): p_alive and p_churn are unknown (blank) for "
                "them"
            )
            log.warning("%d requested customers have no purchase by %s", unknown, cutoff_day)
    result = pd.DataFrame(
        {
            "customer_id": scored["customer_id"].astype("str").to_numpy(),
            "p_alive": scored["p_alive"].to_numpy(dtype="float64"),
            "p_churn": scored["p_churn"].to_numpy(dtype="float64"),
        }
    )
    result.attrs.update(
        {
            "model": fitted.name,
            "params": dict(fitted.params),
            "unit": unit,
            "horizon_units": float(horizon_days) / UNIT_DAYS[unit],
            "cutoff": cutoff_day.isoformat(),
            "converged": bool(fitted.converged),
            "fallback": dict(chain.fallback) if chain.fallback else None,
            "fit_customers": sample.n,
            "summary_customers": sample.n_total,
            "p_churn_sd": spread,
            "notes": notes,
        }
    )
    log.info("BTYD baseline (%s) at %s: %d customers", fitted.label, cutoff_day, len(result))
    return result
