"""Customer lifetime value from fitted BTYD models: discounted CLV, intervals and sensitivity.

The model formulas (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma) are written out, vectorised with
numpy/scipy, instead of calling the lifetimes fitters' methods row by row:

- every per-customer quantity is computed on the *unique* histories that determine it:
  expected purchases conditional on being alive depend on (frequency, T) only, P(alive) on
  (frequency, recency, T), expected spend per order on (frequency, monetary value);
- the conditional expectation factorises as ``E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) *
  E[Y(t) | alive, x, T]`` for all three transaction models, so a 12-month discounted sum costs
  13 hypergeometric evaluations per unique (frequency, T) pair, not per customer;
- the formulas are lifetimes' own (same equations, same numerical fallbacks), so results
  equal lifetimes' to rounding (tests hold them to rtol 1e-9); the Pareto/NBD P(alive) is
  computed with a log1mexp instead of lifetimes' ``logsumexp(..., b=[1, -1])``, which returns
  NaN for a customer whose last purchase is at T (here P(alive) = 1 there, as it should be).

Time units. A fitted model works in one unit of time (``unit``, ``days_per_unit`` days; the
workbook uses weeks of 7 days). A month is ``365.25 / 12 = 30.4375`` days. An *annual*
discount rate ``d`` is converted by compounding: ``(1 + d) ** (days / 365.25) - 1`` per period
of ``days`` days; cash flows of month ``k`` (1-based) are discounted by ``(1 + d) ** (-k / 12)``
(end of month, as lifetimes does with its monthly rate). :func:`lifetimes_clv_equivalent`
reproduces lifetimes' ``customer_lifetime_value`` instead (its month is 30 days for
``freq="D"`` and 4.345 weeks for ``freq="W"``, its rate is monthly, and it has no margin).

Layout: this module holds the per-customer values and their aggregates and re-exports the rest;
the formulas are in ``_formulas``, the shared building blocks (time units and discounting,
fitted parameters, histories) in ``_value_base``, the intervals in ``_intervals`` and the
sensitivity analyses in ``_sensitivity``.

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

import datetime as dt
import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._formulas import _KERNELS
from crmlib.clv._intervals import _layout as _layout  # for the tests
from crmlib.clv._intervals import _p_alive_patterns as _p_alive_patterns  # for the tests
from crmlib.clv._intervals import clv_intervals
from crmlib.clv._sensitivity import (
    SENSITIVITY_COLUMNS,
    cutoff_sensitivity,
    sensitivity,
    sensitivity_table,
)
from crmlib.clv._value_base import (
    _SUMMARY_COLUMNS,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    UNKNOWN_GROUP,
    _check_unit,
    _customer_ids,
    _Grid,
    _grid,
    _group_labels,
    _history,
    _Model,
    _monetary,
    _spend_params,
    _transaction_model,
    _Values,
    _values,
    discount_rate_per_unit,
    model_kind,
    monthly_discount_rate,
)
from crmlib.errors import DataContractError
from crmlib.periods import as_date

__all__ = [
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "LIFETIMES_PERIODS_PER_MONTH",
    "UNKNOWN_GROUP",
    "SENSITIVITY_COLUMNS",
    "discount_rate_per_unit",
    "monthly_discount_rate",
    "model_kind",
    "expected_purchases",
    "probability_alive",
    "customer_value",
    "clv_by_month",
    "lifetimes_clv_equivalent",
    "value_by_group",
    "top_decile_share",
    "clv_intervals",
    "sensitivity",
    "cutoff_sensitivity",
    "sensitivity_table",
]

log = logging.getLogger(__name__)

#: Model time units per month in lifetimes' ``customer_lifetime_value`` (``freq`` -> factor).
LIFETIMES_PERIODS_PER_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24}


# -- public per-customer model quantities -----------------------------------------------------
def _conditional_expected(model: _Model, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    kernel = _KERNELS[model.kind]
    return np.asarray(
        kernel.p_alive(model.theta, x, t_x, T) * kernel.alive_expected(model.theta, t, x, T)
    )


def expected_purchases(
    transaction_fitter: Any,
    summary: pd.DataFrame,
    *,
    t: float,
) -> pd.Series:
    """Expected repeat purchases in the next ``t`` time units, one value per customer.

    Takes *summary* (one row per customer: frequency, recency, T in the model's unit) and
    returns E[Y(t) | frequency, recency, T] (lifetimes'
    ``conditional_expected_number_of_purchases_up_to_time``; equal to it to rounding, without
    its Pareto/NBD NaN for customers whose last purchase is at T), index of ``summary``.
    """
    model = _transaction_model(transaction_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    values = _conditional_expected(model, float(t), x, t_x, T)
    return pd.Series(values, index=summary.index, name="expected_purchases")


def probability_alive(transaction_fitter: Any, summary: pd.DataFrame) -> pd.Series:
    """P(alive) at the end of observation, one value per customer of *summary*.

    Equal to lifetimes' ``conditional_probability_alive`` to rounding (1 for a Pareto/NBD
    customer whose last purchase is at T, where lifetimes returns NaN).
    """
    model = _transaction_model(transaction_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    values = _KERNELS[model.kind].p_alive(model.theta, x, t_x, T)
    return pd.Series(np.broadcast_to(values, x.shape), index=summary.index, name="p_alive")


# -- customer values ------------------------------------------------------------------------
def _next_order_time(model: _Model, values: _Values, grid: _Grid) -> np.ndarray:
    """Per (x, T) pair: the time t at which E[Y(t) | alive, x, T] reaches 1 (NaN if not by H).

    Bracketed by the month boundaries, then 24 bisection steps (resolution < 1 minute).
    """
    alive_expected = _KERNELS[model.kind].alive_expected
    cumulative = np.cumsum(values.pair_increments, axis=1)
    reached = cumulative >= 1.0
    found = reached[:, -1]
    result = np.full(len(values.pair_x), np.nan)
    if not found.any():
        return result
    month = np.argmax(reached[found], axis=1)  # first month boundary at or past 1
    low, high = grid.times[month], grid.times[month + 1]
    x, T = values.pair_x[found], values.pair_T[found]
    for _ in range(24):
        mid = (low + high) / 2
        above = alive_expected(model.theta, mid, x, T) >= 1.0
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    result[found] = high
    return result


def customer_value(
    transaction_fitter: Any,
    spend_fitter: Any,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 0.30,
    unit: str = "week",
    days_per_unit: float = 7.0,
    as_of_date: dt.date | str,
) -> pd.DataFrame:
    """Expected purchases, spend, P(alive), next order date and discounted CLV per customer.

    Transforms *summary* (one row per customer: ``customer_id`` as a column or the index,
    ``frequency`` = repeat purchases, ``recency`` and ``T`` in model units, ``monetary_value``
    = mean spend per repeat order, 0 or null without repeats) into one row per customer, same
    order:

    - ``p_alive``: probability the customer is still active at ``as_of_date``;
    - ``expected_purchases_{h}m``: expected purchases in the next ``h`` months;
    - ``expected_spend_per_order``: Gamma-Gamma expected spend per future order (lifetimes'
      ``conditional_expected_average_profit``: spend, in currency, before the margin);
    - ``expected_spend_{h}m``: expected spend over the horizon, undiscounted (currency);
    - ``clv``: margin x expected spend, month by month, discounted to ``as_of_date`` at the
      annual rate (currency): ``margin * spend_per_order * sum_k E[purchases in month k] /
      (1 + annual_rate) ** (k / 12)``, month k = 1..h, a month being 30.4375 days;
    - ``expected_next_order_date``: the first day on which the expected number of orders since
      ``as_of_date`` reaches 1 *if the customer is still active* (the expectation conditional
      on alive); null when that does not happen within the horizon. Conditioning on alive
      separates "whether" (``p_alive``) from "when": the unconditional expectation reaches 1
      only for customers who are both frequent and almost surely active, and 1/rate ignores
      that the rate itself is uncertain. It is not a prediction that the customer *will* order
      by then.

    ``frame.attrs`` holds ``units`` (column -> unit), the settings and the discount rates.

    Parameters
    ----------
    transaction_fitter : BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter
        Fitted on histories in ``unit``.
    spend_fitter : GammaGammaFitter
        Fitted on the repeat customers' frequency and monetary value.
    summary : pd.DataFrame
        One row per customer, as above, observed up to ``as_of_date``.
    horizon_months : int, default 12
    annual_discount_rate : float, default 0.10
    margin : float, default 0.30
        Share of spend kept as margin (1 values revenue).
    unit : str, default "week"
        The models' time unit; ``days_per_unit`` days.
    as_of_date : date or str
        Last observed day: the start of the horizon and the discounting date.

    Returns
    -------
    pd.DataFrame
        One row per customer of ``summary``, same order.

    Notes
    -----
    Vectorised: P(alive) is computed per customer in closed form (Pareto/NBD: its
    hypergeometric terms once per unique (frequency, recency) and (frequency, T)), the
    expected purchases per month once per unique (frequency, T) pair; no loop over customers
    or months calls the model. 1,000,000 customers take about half a second.
    """
    _check_unit(unit, days_per_unit)
    if not 0 <= margin <= 1:
        raise ValueError(f"margin={margin}: expected a share between 0 and 1")
    as_of = as_date(as_of_date)
    model = _transaction_model(transaction_fitter)
    spend = _spend_params(spend_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    m = _monetary(summary, x)
    grid = _grid(
        horizon_months,
        units_per_month=DAYS_PER_MONTH / days_per_unit,
        monthly_rate=monthly_discount_rate(annual_discount_rate),
    )
    values = _values(model, spend, x, t_x, T, m, grid)
    next_days = _next_order_time(model, values, grid)[values.pair_index] * days_per_unit
    whole_days = np.maximum(np.ceil(next_days - 1e-9), 1.0)
    next_date = pd.Timestamp(as_of) + pd.to_timedelta(whole_days, unit="D")
    h = int(horizon_months)
    frame = pd.DataFrame(
        {
            "customer_id": _customer_ids(summary),
            "p_alive": values.p_alive,
            f"expected_purchases_{h}m": values.purchases,
            "expected_spend_per_order": values.spend_per_order,
            f"expected_spend_{h}m": values.purchases * values.spend_per_order,
            "clv": margin * values.spend_per_order * values.discounted_purchases,
            "expected_next_order_date": pd.Series(next_date).dt.normalize(),
        }
    )
    frame.attrs = {
        "units": {
            "p_alive": "probability (0-1) of being active on as_of_date",
            f"expected_purchases_{h}m": f"orders in the {h} months after as_of_date",
            "expected_spend_per_order": "currency per order (spend, before margin)",
            f"expected_spend_{h}m": f"currency over {h} months, undiscounted, before margin",
            "clv": f"currency: margin over {h} months, discounted to as_of_date",
            "expected_next_order_date": "date (day) when expected orders reach 1 if active",
        },
        "model": model.label,
        "as_of_date": as_of.isoformat(),
        "horizon_months": h,
        "days_per_month": DAYS_PER_MONTH,
        "annual_discount_rate": float(annual_discount_rate),
        "monthly_discount_rate": monthly_discount_rate(annual_discount_rate),
        f"discount_rate_per_{unit}": discount_rate_per_unit(
            annual_discount_rate, days_per_unit=days_per_unit
        ),
        "margin": float(margin),
        "unit": unit,
        "days_per_unit": float(days_per_unit),
    }
    log.info(
        "CLV of %d customers (%d unique (frequency, T) pairs) over %d months with %s",
        len(frame),
        len(values.pair_x),
        h,
        model.label,
    )
    return frame


def clv_by_month(
    transaction_fitter: Any,
    spend_fitter: Any,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 0.30,
    unit: str = "week",
    days_per_unit: float = 7.0,
    as_of_date: dt.date | str,
) -> pd.DataFrame:
    """Expected orders, spend and discounted margin of the whole base, month by month.

    Transforms *summary* (one row per customer, as for :func:`customer_value`) into one row per
    month of the horizon: ``month`` (1..h), ``month_start``/``month_end`` (dates; a month is
    30.4375 days from ``as_of_date``), ``expected_purchases`` (orders), ``expected_spend``
    (currency, undiscounted), ``discount_factor``, ``clv`` (discounted margin of that month,
    currency) and ``cumulative_clv``. The ``clv`` column sums to the total of
    :func:`customer_value`'s ``clv``.
    """
    _check_unit(unit, days_per_unit)
    as_of = as_date(as_of_date)
    model = _transaction_model(transaction_fitter)
    spend = _spend_params(spend_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    m = _monetary(summary, x)
    grid = _grid(
        horizon_months,
        units_per_month=DAYS_PER_MONTH / days_per_unit,
        monthly_rate=monthly_discount_rate(annual_discount_rate),
    )
    values = _values(model, spend, x, t_x, T, m, grid)
    n_pairs = len(values.pair_x)
    alive = np.bincount(values.pair_index, weights=values.p_alive, minlength=n_pairs)
    spend_weight = np.bincount(
        values.pair_index, weights=values.p_alive * values.spend_per_order, minlength=n_pairs
    )
    purchases = alive @ values.pair_increments
    spend_total = spend_weight @ values.pair_increments
    clv = margin * spend_total * grid.discount
    offsets = pd.to_timedelta(grid.times * days_per_unit, unit="D")
    starts = (pd.Timestamp(as_of) + offsets[:-1]).normalize()
    ends = (pd.Timestamp(as_of) + offsets[1:]).normalize()
    frame = pd.DataFrame(
        {
            "month": np.arange(1, grid.months + 1),
            "month_start": starts,
            "month_end": ends,
            "expected_purchases": purchases,
            "expected_spend": spend_total,
            "discount_factor": grid.discount,
            "clv": clv,
            "cumulative_clv": np.cumsum(clv),
        }
    )
    frame.attrs = {
        "units": {
            "expected_purchases": "orders in the month",
            "expected_spend": "currency in the month, undiscounted, before margin",
            "clv": "currency: margin of the month discounted to as_of_date",
            "cumulative_clv": "currency: discounted margin up to the month's end",
        },
        "annual_discount_rate": float(annual_discount_rate),
        "margin": float(margin),
        "as_of_date": as_of.isoformat(),
    }
    return frame


def lifetimes_clv_equivalent(
    transaction_fitter: Any,
    spend_fitter: Any,
    summary: pd.DataFrame,
    *,
    time: int = 12,
    discount_rate: float = 0.01,
    freq: str = "D",
) -> pd.Series:
    """lifetimes' ``GammaGammaFitter.customer_lifetime_value``, vectorised.

    Same definition as lifetimes (utils._customer_lifetime_value): for months i = 1..time,
    spend per order x [E(i * f) - E((i - 1) * f)] / (1 + discount_rate) ** i, summed, where E
    is the conditional expected number of purchases, ``f`` the periods per month for ``freq``
    (D: 30, W: 4.345, M: 1, H: 720) and ``discount_rate`` a *monthly* rate; no margin. Use
    :func:`customer_value` for the workbook's definition (annual rate, 30.4375-day months,
    margin).

    Returns
    -------
    pd.Series
        ``clv`` per customer, with the index of ``summary``.
    """
    if freq not in LIFETIMES_PERIODS_PER_MONTH:
        raise ValueError(f"freq={freq!r}: expected one of {sorted(LIFETIMES_PERIODS_PER_MONTH)}")
    model = _transaction_model(transaction_fitter)
    spend = _spend_params(spend_fitter)
    x, t_x, T = _history(summary, _SUMMARY_COLUMNS[:3], table_name="summary")
    m = _monetary(summary, x)
    grid = _grid(
        time,
        units_per_month=LIFETIMES_PERIODS_PER_MONTH[freq],
        monthly_rate=discount_rate,
    )
    values = _values(model, spend, x, t_x, T, m, grid)
    return pd.Series(
        values.spend_per_order * values.discounted_purchases, index=summary.index, name="clv"
    )


# -- aggregates -----------------------------------------------------------------------------
def _clv_column(values: pd.DataFrame | pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if "clv" not in values.columns:
            raise DataContractError(
                f"values: column 'clv' is missing; found {sorted(map(str, values.columns))}"
            )
        values = values["clv"]
    clv = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(dtype="float64")
    if np.isnan(clv).any():
        raise DataContractError(f"values: 'clv' has {int(np.isnan(clv).sum())} missing values")
    return clv


def top_decile_share(values: pd.DataFrame | pd.Series | np.ndarray) -> float:
    """Share of the total CLV held by the 10% of customers with the highest CLV.

    The top decile is the ``ceil(n / 10)`` customers with the highest ``clv``; NaN when the
    total is not positive.

    Examples
    --------
    >>> top_decile_share(np.array([50.0, 10, 10, 10, 5, 5, 5, 3, 2, 0]))
    0.5
    """
    clv = _clv_column(values)
    total = clv.sum()
    if len(clv) == 0 or not total > 0:
        return float("nan")
    k = math.ceil(len(clv) / 10)
    top = np.partition(clv, len(clv) - k)[len(clv) - k :]
    return float(top.sum() / total)


def value_by_group(
    values: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    by: str,
) -> pd.DataFrame:
    """Customers, total and mean CLV and share of the total per group.

    Transforms *values* (one row per customer with ``customer_id`` and ``clv``, as from
    :func:`customer_value`) and *groups* (one row per customer: ``customer_id`` and the
    column ``by``, e.g. an RFM segment or acquisition channel) into one row per group:
    ``by``, ``customers``, ``clv_total``, ``clv_mean`` (currency), ``clv_share`` (of the
    total), ``customer_share``; largest total first. Customers missing from ``groups`` (or
    with a null value) form the group ``"(unknown)"``.
    """
    if "customer_id" not in values.columns:
        raise DataContractError(
            f"values: column 'customer_id' is missing; found {sorted(map(str, values.columns))}"
        )
    clv = _clv_column(values)
    labels = _group_labels(values["customer_id"].reset_index(drop=True), groups, by)
    frame = pd.DataFrame({by: labels, "clv": clv})
    table = frame.groupby(by, sort=True).agg(
        customers=("clv", "size"), clv_total=("clv", "sum"), clv_mean=("clv", "mean")
    )
    total = float(clv.sum())
    table["clv_share"] = table["clv_total"] / total if total else np.nan
    table["customer_share"] = table["customers"] / len(clv)
    return table.sort_values("clv_total", ascending=False).reset_index()
