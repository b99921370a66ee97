"""Customer lifetime value from fitted BTYD models: discounted CLV, its aggregates and sensitivity.

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

Layout: this module holds the time units and discounting, the per-customer values, their
aggregates and the sensitivity analyses; the formulas are in the model modules
(:mod:`crmlib.clv.models.registry` gathers them), reading a fitter back in
:mod:`crmlib.clv.models.fitters`, and the intervals in :mod:`crmlib.clv.intervals`.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv.models.fitters import TransactionModel, spend_params, transaction_model
from crmlib.clv.models.gamma_gamma import spend_per_order
from crmlib.clv.models.inputs import HISTORY_COLUMNS, customer_ids, history, monetary, unique_rows
from crmlib.clv.models.paretonbd import pnbd_log_part, pnbd_p_alive_from_parts
from crmlib.clv.models.registry import KERNELS
from crmlib.clv.queries import UNIT_DAYS
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.periods import as_date
from crmlib.privacy import SmallCells
from crmlib.sampling import RowSample

__all__ = [
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "LIFETIMES_PERIODS_PER_MONTH",
    "UNKNOWN_GROUP",
    "ALL_GROUPS",
    "SENSITIVITY_COLUMNS",
    "discount_rate_per_unit",
    "monthly_discount_rate",
    "check_unit",
    "resolve_days_per_unit",
    "Valuation",
    "Grid",
    "horizon_grid",
    "Values",
    "horizon_values",
    "group_labels",
    "expected_purchases",
    "probability_alive",
    "customer_value",
    "clv_by_month",
    "lifetimes_clv_equivalent",
    "top_decile_share",
    "value_by_group",
    "clv_by_group",
    "sensitivity",
    "sensitivity_table",
    "cutoff_sensitivity",
]

log = logging.getLogger(__name__)

#: Days in a year and in a month (Julian year), the basis of every rate and horizon conversion.
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: Group value of customers without a row (or with a null value) in the ``groups`` table.
UNKNOWN_GROUP = "(unknown)"
#: Group value of the row for all customers together (intervals and their chart).
ALL_GROUPS = "All customers"

_KNOWN_UNITS = {unit: float(days) for unit, days in UNIT_DAYS.items()}

#: Model time units per month in lifetimes' ``customer_lifetime_value`` (``freq`` -> factor).
LIFETIMES_PERIODS_PER_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24}

#: Columns of :func:`sensitivity_table` and :func:`cutoff_sensitivity`.
SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "parameter", "setting", "customers", "total_clv", "mean_clv", "is_base", "change_vs_base",
)  # fmt: skip


# -- time units and discounting ---------------------------------------------------------------
def discount_rate_per_unit(annual_rate: float, *, days_per_unit: float) -> float:
    """The discount rate per period of ``days_per_unit`` days equivalent to ``annual_rate``.

    Compounding: ``(1 + annual_rate) ** (days_per_unit / 365.25) - 1``, so discounting over a
    year of such periods gives exactly ``1 / (1 + annual_rate)``.

    Examples
    --------
    >>> round(discount_rate_per_unit(0.10, days_per_unit=7), 8)  # one week at 10% a year
    0.00182828
    >>> round(discount_rate_per_unit(0.10, days_per_unit=365.25), 12)
    0.1
    """
    if not annual_rate > -1:
        raise ValueError(f"annual_rate={annual_rate}: expected a rate above -1 (e.g. 0.10)")
    if not days_per_unit > 0:
        raise ValueError(f"days_per_unit={days_per_unit}: expected a positive number of days")
    return float((1.0 + annual_rate) ** (days_per_unit / DAYS_PER_YEAR) - 1.0)


def monthly_discount_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to ``annual_rate``: ``(1 + annual_rate) ** (1 / 12) - 1``.

    Examples
    --------
    >>> round(monthly_discount_rate(0.10), 10)
    0.0079741404
    """
    return discount_rate_per_unit(annual_rate, days_per_unit=DAYS_PER_MONTH)


def check_unit(unit: str, days_per_unit: float) -> None:
    if not days_per_unit > 0:
        raise ValueError(f"days_per_unit={days_per_unit}: expected a positive number of days")
    known = _KNOWN_UNITS.get(unit)
    if known is not None and known != days_per_unit:
        raise ValueError(
            f"unit={unit!r} but days_per_unit={days_per_unit}: a {unit} is {known:g} days"
        )


def resolve_days_per_unit(unit: str, days_per_unit: float | None) -> float:
    if days_per_unit is None:
        if unit not in _KNOWN_UNITS:
            raise ValueError(
                f"unit={unit!r}: pass days_per_unit (known units: {sorted(_KNOWN_UNITS)})"
            )
        return _KNOWN_UNITS[unit]
    check_unit(unit, days_per_unit)
    return float(days_per_unit)


@dataclass(frozen=True)
class Valuation:
    """How customers are valued: horizon, discount rate, margin, time unit and as-of date.

    The settings :func:`customer_value`, :func:`crmlib.clv.clv_intervals`,
    :func:`sensitivity` and :func:`cutoff_sensitivity` share, in one object: 05_clv builds it
    once with :meth:`of` from its params. The defaults are :class:`crmlib.config.ClvParams`'
    (the ``clv`` section of the params file), whose ranges also check a params file's values;
    this class checks only what the section does not: ``as_of_date`` is read as a date (a
    string such as ``"2025-12-31"`` is accepted) and ``days_per_unit`` must agree with
    ``unit`` (None: the unit's own days, :func:`resolve_days_per_unit`).

    Attributes
    ----------
    horizon_months : int
        Months valued after ``as_of_date`` (a month is 30.4375 days).
    annual_discount_rate : float
        Annual rate the cash flows are discounted at, compounded monthly.
    margin : float
        Share of spend kept as margin (1 values revenue).
    unit : str
        The models' time unit ("day", "week").
    as_of_date : date or None
        Last observed day: the start of the horizon and the discounting date. Needed by
        :func:`customer_value` and :func:`cutoff_sensitivity`; the aggregates
        (:func:`sensitivity`, :func:`crmlib.clv.clv_intervals`) do without.
    days_per_unit : float
        Days in one ``unit`` (resolved from the unit when None is given).

    Examples
    --------
    >>> Valuation(as_of_date="2025-12-31")  # doctest: +NORMALIZE_WHITESPACE
    Valuation(horizon_months=12, annual_discount_rate=0.1, margin=0.3, unit='week',
              as_of_date=datetime.date(2025, 12, 31), days_per_unit=7.0)
    >>> from crmlib.config import StageParams, WorkbookParams
    >>> params = StageParams(WorkbookParams.model_validate({"run_name": "doc",
    ...     "as_of_date": "2025-12-31", "clv": {"horizon_months": 24, "unit": "day"},
    ...     "source": {"transactions": {"path": "t.csv"}}}), "clv")
    >>> valuation = Valuation.of(params)
    >>> valuation.horizon_months, valuation.days_per_unit, valuation.as_of_date
    (24, 1.0, datetime.date(2025, 12, 31))
    """

    horizon_months: int = DEFAULTS.clv.horizon_months
    annual_discount_rate: float = DEFAULTS.clv.annual_discount_rate
    margin: float = DEFAULTS.clv.margin
    unit: str = DEFAULTS.clv.unit
    as_of_date: dt.date | None = None
    days_per_unit: float | None = None

    def __post_init__(self) -> None:
        if self.as_of_date is not None:
            object.__setattr__(self, "as_of_date", as_date(self.as_of_date))
        object.__setattr__(
            self, "days_per_unit", resolve_days_per_unit(self.unit, self.days_per_unit)
        )

    @classmethod
    def of(cls, params: Any) -> Valuation:
        """The valuation of a notebook's params: :class:`crmlib.config.StageParams` of ``clv``.

        Reads ``horizon_months``, ``annual_discount_rate``, ``margin``, ``unit`` and
        ``as_of_date`` from *params* (a :class:`crmlib.config.ClvParams` section alone has no
        ``as_of_date``: the valuation then has none).
        """
        return cls(
            horizon_months=params.horizon_months,
            annual_discount_rate=params.annual_discount_rate,
            margin=params.margin,
            unit=params.unit,
            as_of_date=getattr(params, "as_of_date", None),
        )

    @property
    def unit_days(self) -> float:
        """Days in one ``unit``: ``days_per_unit`` as resolved at construction."""
        return resolve_days_per_unit(self.unit, self.days_per_unit)

    def grid(self) -> Grid:
        """The horizon's month boundaries in model units and each month's discount factor
        (:func:`horizon_grid` at ``horizon_months`` and ``annual_discount_rate``)."""
        return horizon_grid(
            self.horizon_months,
            units_per_month=DAYS_PER_MONTH / self.unit_days,
            monthly_rate=monthly_discount_rate(self.annual_discount_rate),
        )


def _as_of(valuation: Valuation, function: str) -> dt.date:
    """``valuation.as_of_date``, or a ValueError naming *function* (which needs it) when None."""
    if valuation.as_of_date is None:
        raise ValueError(
            f"{function}: valuation.as_of_date is None; expected the last observed day, "
            "e.g. Valuation.of(params) or Valuation(as_of_date='2025-12-31')"
        )
    return valuation.as_of_date


# -- horizon grid and per-customer values ----------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """Month boundaries of the horizon in model units and each month's discount factor."""

    times: np.ndarray  # (H + 1,), times[0] = 0
    discount: np.ndarray  # (H,), factor of month k = 1..H

    @property
    def months(self) -> int:
        return len(self.discount)


def horizon_grid(horizon_months: int, *, units_per_month: float, monthly_rate: float) -> Grid:
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months}: expected a whole number >= 1")
    steps = np.arange(1, int(horizon_months) + 1)
    times = np.concatenate([[0.0], steps * units_per_month])
    return Grid(times, 1.0 / (1.0 + monthly_rate) ** steps)


def _monthly_increments(
    model: TransactionModel, x: np.ndarray, T: np.ndarray, grid: Grid
) -> np.ndarray:
    """E[purchases in month k | alive, x, T] for each (x, T) row: shape (len(x), H)."""
    alive_expected = KERNELS[model.kind].alive_expected
    cumulative = alive_expected(model.theta, grid.times[None, 1:], x[:, None], T[:, None])
    return np.diff(cumulative, axis=1, prepend=0.0)


@dataclass(frozen=True)
class Values:
    p_alive: np.ndarray
    purchases: np.ndarray  # expected purchases over the horizon
    spend_per_order: np.ndarray
    discounted_purchases: np.ndarray  # sum_k discount_k * E[purchases in month k]
    pair_index: np.ndarray  # (x, T) pair of each customer
    pair_x: np.ndarray
    pair_T: np.ndarray
    pair_increments: np.ndarray  # (pairs, H)


def _p_alive_unique(
    model: TransactionModel, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(alive) per customer, each formula evaluated once per unique history."""
    if model.kind == "pnbd":
        rec_index, (rec_x, rec_tx) = unique_rows(x, t_x)
        age_index, (age_x, age_T) = unique_rows(x, T)
        part_tx = pnbd_log_part(model.theta, rec_x, rec_tx)[rec_index]
        part_T = pnbd_log_part(model.theta, age_x, age_T)[age_index]
        return pnbd_p_alive_from_parts(model.theta, x, T, part_tx, part_T, t_x)
    return np.broadcast_to(KERNELS[model.kind].p_alive(model.theta, x, t_x, T), x.shape)


def horizon_values(
    model: TransactionModel,
    spend: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    m: np.ndarray,
    grid: Grid,
) -> Values:
    pair_index, (pair_x, pair_T) = unique_rows(x, T)
    increments = _monthly_increments(model, pair_x, pair_T, grid)
    p_alive = _p_alive_unique(model, x, t_x, T)
    purchases = p_alive * increments.sum(axis=1)[pair_index]
    discounted = p_alive * (increments @ grid.discount)[pair_index]
    return Values(
        p_alive=np.asarray(p_alive, dtype="float64"),
        purchases=purchases,
        spend_per_order=spend_per_order(spend, x, m),
        discounted_purchases=discounted,
        pair_index=pair_index,
        pair_x=pair_x,
        pair_T=pair_T,
        pair_increments=increments,
    )


# -- groups -----------------------------------------------------------------------------------
def group_labels(customer_ids: pd.Series, groups: pd.DataFrame | None, by: str) -> pd.Series:
    if groups is None:
        return pd.Series(ALL_GROUPS, index=range(len(customer_ids)), dtype="str")
    for column in ("customer_id", by):
        if column not in groups.columns:
            raise DataContractError(
                f"groups: column '{column}' is missing; found "
                f"{sorted(map(str, groups.columns))}, expected ['customer_id', '{by}']"
            )
    duplicated = groups["customer_id"].duplicated()
    if duplicated.any():
        raise DataContractError(
            f"groups: {int(duplicated.sum())} customer_id values appear more than once"
        )
    lookup = pd.Series(
        groups[by].astype("object").to_numpy(), index=groups["customer_id"].astype("str")
    )
    labels = customer_ids.astype("str").map(lookup)
    labels = labels.where(labels.notna(), UNKNOWN_GROUP).astype("str")
    unmatched = int((labels == UNKNOWN_GROUP).sum())
    if unmatched:
        log.info("%d customers have no %r: grouped as %r", unmatched, by, UNKNOWN_GROUP)
    return labels.reset_index(drop=True)


# -- public per-customer model quantities -----------------------------------------------------
def _conditional_expected(model: TransactionModel, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    kernel = KERNELS[model.kind]
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
    model = transaction_model(transaction_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    values = _conditional_expected(model, float(t), x, t_x, T)
    return pd.Series(values, index=summary.index, name="expected_purchases")


def probability_alive(transaction_fitter: Any, summary: pd.DataFrame) -> pd.Series:
    """P(alive) at the end of observation, one value per customer of *summary*.

    Equal to lifetimes' ``conditional_probability_alive`` to rounding (1 for a Pareto/NBD
    customer whose last purchase is at T, where lifetimes returns NaN).
    """
    model = transaction_model(transaction_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    values = KERNELS[model.kind].p_alive(model.theta, x, t_x, T)
    return pd.Series(np.broadcast_to(values, x.shape), index=summary.index, name="p_alive")


# -- customer values ------------------------------------------------------------------------
def _next_order_time(model: TransactionModel, values: Values, grid: Grid) -> np.ndarray:
    """Per (x, T) pair: the time t at which E[Y(t) | alive, x, T] reaches 1 (NaN if not by H).

    Bracketed by the month boundaries, then 24 bisection steps (resolution < 1 minute).
    """
    alive_expected = KERNELS[model.kind].alive_expected
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
    valuation: Valuation,
) -> pd.DataFrame:
    """Expected purchases, spend, P(alive), next order date and discounted CLV per customer.

    Transforms *summary* (one row per customer: ``customer_id`` as a column or the index,
    ``frequency`` = repeat purchases, ``recency`` and ``T`` in model units, ``monetary_value``
    = mean spend per repeat order, 0 or null without repeats) into one row per customer, same
    order:

    - ``p_alive``: probability the customer is still active at ``as_of_date`` (of
      ``valuation``, as are the horizon, rate, margin and unit below);
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
    valuation : Valuation
        Horizon (months), annual discount rate, margin (share of spend kept), the models'
        time unit and its days, and ``as_of_date`` (the last observed day: the start of the
        horizon and the discounting date; required here, a ValueError when None).

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
    as_of = _as_of(valuation, "customer_value")
    horizon_months, margin, days_per_unit = (
        valuation.horizon_months, valuation.margin, valuation.unit_days,
    )  # fmt: skip
    if not 0 <= margin <= 1:
        raise ValueError(f"margin={margin}: expected a share between 0 and 1")
    model = transaction_model(transaction_fitter)
    spend = spend_params(spend_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    m = monetary(summary, x)
    grid = valuation.grid()
    values = horizon_values(model, spend, x, t_x, T, m, grid)
    next_days = _next_order_time(model, values, grid)[values.pair_index] * days_per_unit
    whole_days = np.maximum(np.ceil(next_days - 1e-9), 1.0)
    next_date = pd.Timestamp(as_of) + pd.to_timedelta(whole_days, unit="D")
    h = int(horizon_months)
    frame = pd.DataFrame(
        {
            "customer_id": customer_ids(summary),
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
        "annual_discount_rate": float(valuation.annual_discount_rate),
        "monthly_discount_rate": monthly_discount_rate(valuation.annual_discount_rate),
        f"discount_rate_per_{valuation.unit}": discount_rate_per_unit(
            valuation.annual_discount_rate, days_per_unit=days_per_unit
        ),
        "margin": float(margin),
        "unit": valuation.unit,
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
    valuation: Valuation,
) -> pd.DataFrame:
    """Expected orders, spend and discounted margin of the whole base, month by month.

    Transforms *summary* (one row per customer, as for :func:`customer_value`) into one row per
    month of the horizon: ``month`` (1..h), ``month_start``/``month_end`` (dates; a month is
    30.4375 days from ``as_of_date``), ``expected_purchases`` (orders), ``expected_spend``
    (currency, undiscounted), ``discount_factor``, ``clv`` (discounted margin of that month,
    currency) and ``cumulative_clv``. The ``clv`` column sums to the total of
    :func:`customer_value`'s ``clv`` (the same ``valuation``: horizon, rate, margin, unit and
    as-of date).
    """
    as_of = _as_of(valuation, "clv_by_month")
    days_per_unit, margin = valuation.unit_days, valuation.margin
    model = transaction_model(transaction_fitter)
    spend = spend_params(spend_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    m = monetary(summary, x)
    grid = valuation.grid()
    values = horizon_values(model, spend, x, t_x, T, m, grid)
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
        "annual_discount_rate": float(valuation.annual_discount_rate),
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
    model = transaction_model(transaction_fitter)
    spend = spend_params(spend_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    m = monetary(summary, x)
    grid = horizon_grid(
        time,
        units_per_month=LIFETIMES_PERIODS_PER_MONTH[freq],
        monthly_rate=discount_rate,
    )
    values = horizon_values(model, spend, x, t_x, T, m, grid)
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
    labels = group_labels(values["customer_id"].reset_index(drop=True), groups, by)
    frame = pd.DataFrame({by: labels, "clv": clv})
    table = frame.groupby(by, sort=True).agg(
        customers=("clv", "size"), clv_total=("clv", "sum"), clv_mean=("clv", "mean")
    )
    total = float(clv.sum())
    table["clv_share"] = table["clv_total"] / total if total else np.nan
    table["customer_share"] = table["customers"] / len(clv)
    return table.sort_values("clv_total", ascending=False).reset_index()


def clv_by_group(
    values: pd.DataFrame, groups: pd.DataFrame, *, by: str, min_cell_size: int
) -> pd.DataFrame:
    """CLV per group: :func:`crmlib.clv.value_by_group` with small groups pooled.

    The numbers of the page's table (:func:`crmlib.clv.group_table`, as text).

    One row per group (index: ``by``): ``customers``, ``clv_total``, ``clv_mean``,
    ``clv_share``, ``customer_share`` as in :func:`crmlib.clv.value_by_group`, and ``groups``
    (how many groups the row holds). Groups of fewer than ``min_cell_size`` customers are
    pooled into one last row ``"(other)"`` (:meth:`crmlib.privacy.SmallCells.pool`) of at
    least that many customers and at least two groups; its totals and shares are the sums of
    its groups', its mean is recomputed from them, so every column still adds up to the whole.
    When all customers together are fewer than ``min_cell_size``, the one row's count reads
    "<10" and its values are missing.

    Examples
    --------
    >>> values = pd.DataFrame({"customer_id": list("abcdefghijklmn"), "clv": [10.0] * 14})
    >>> groups = pd.DataFrame({"customer_id": list("abcdefghijklmn"),
    ...                        "channel": ["web"] * 10 + ["tv"] * 3 + ["app"]})
    >>> table = clv_by_group(values, groups, by="channel", min_cell_size=3)
    >>> table[["customers", "clv_mean", "groups"]]  # doctest: +NORMALIZE_WHITESPACE
             customers  clv_mean  groups
    channel
    web             10      10.0       1
    (other)          4      10.0       2
    """
    rule = SmallCells(min_cell_size)
    table = value_by_group(values, groups, by=by)
    sums = ["clv_total", "clv_share", "customer_share"]
    pooled = rule.pool(table, by=by, size="customers", sums=sums)
    pooled["clv_mean"] = pooled["clv_total"] / pooled["customers"]
    if rule.is_small(pooled["customers"]).any():  # all customers together are fewer than k
        pooled = rule.hide(pooled, size="customers", columns=[*sums, "clv_mean"])
        pooled["customers"] = rule.counts(pooled["customers"])
    return pooled.set_index(by)


# -- sensitivity ----------------------------------------------------------------------------
def sensitivity(
    transaction_fitter: Any,
    spend_fitter: Any,
    summary: pd.DataFrame,
    *,
    valuation: Valuation,
    annual_discount_rates: Sequence[float] = (0.0, 0.05, 0.10, 0.15, 0.20),
    horizons_months: Sequence[int] = (6, 12, 24, 36),
) -> pd.DataFrame:
    """Total and mean CLV over a grid of annual discount rates x horizons.

    Transforms *summary* (one row per customer, as for :func:`customer_value`) into one row
    per (``annual_discount_rate``, ``horizon_months``): ``customers``, ``total_clv``,
    ``mean_clv`` (currency), ``is_base`` and ``change_vs_base`` (relative to the base
    setting's total, which is added to the grid when missing). The base setting is
    *valuation*'s rate and horizon; its margin and unit value every cell (its as_of_date is
    not needed). Expected purchases are computed once for the longest horizon; each cell is
    then a weighted sum.
    """
    base_discount_rate = valuation.annual_discount_rate
    base_horizon_months = valuation.horizon_months
    margin = valuation.margin
    days_per_unit = valuation.unit_days
    model = transaction_model(transaction_fitter)
    spend = spend_params(spend_fitter)
    x, t_x, T = history(summary, HISTORY_COLUMNS[:3], table_name="summary")
    m = monetary(summary, x)
    rates = sorted({float(r) for r in annual_discount_rates} | {float(base_discount_rate)})
    horizons = sorted({int(h) for h in horizons_months} | {int(base_horizon_months)})
    grid = horizon_grid(
        max(horizons), units_per_month=DAYS_PER_MONTH / days_per_unit, monthly_rate=0
    )
    values = horizon_values(model, spend, x, t_x, T, m, grid)
    weight = np.bincount(
        values.pair_index,
        weights=margin * values.p_alive * values.spend_per_order,
        minlength=len(values.pair_x),
    )
    monthly_margin = weight @ values.pair_increments  # undiscounted margin of month k
    months = np.arange(1, grid.months + 1)
    rows = []
    for rate in rates:
        discounted = monthly_margin / (1 + monthly_discount_rate(rate)) ** months
        for horizon in horizons:
            total = float(discounted[:horizon].sum())
            rows.append((rate, horizon, len(x), total, total / len(x) if len(x) else np.nan))
    table = pd.DataFrame(
        rows, columns=["annual_discount_rate", "horizon_months", "customers", "total_clv",
                       "mean_clv"],
    )  # fmt: skip
    table["is_base"] = (table["annual_discount_rate"] == float(base_discount_rate)) & (
        table["horizon_months"] == int(base_horizon_months)
    )
    base_total = float(table.loc[table["is_base"], "total_clv"].iloc[0])
    table["change_vs_base"] = table["total_clv"] / base_total - 1 if base_total else np.nan
    table.attrs = {
        "margin": float(margin),
        "units": {"total_clv": "currency", "mean_clv": "currency per customer"},
    }
    return table


def sensitivity_table(
    rows: Iterable[Mapping[str, Any]],
    *,
    base: str | None = None,
) -> pd.DataFrame:
    """Format caller-computed sensitivity results (e.g. refits at other calibration cut-offs).

    Transforms *rows* (one mapping per scenario with ``parameter`` (what was varied),
    ``setting`` (its value), ``total_clv`` and ``mean_clv``, optionally ``customers``) into one
    row per scenario with the columns :data:`SENSITIVITY_COLUMNS`; ``change_vs_base`` is
    relative to the row whose ``setting`` equals ``base`` (the first row when None).

    Examples
    --------
    >>> sensitivity_table([
    ...     {"parameter": "calibration cut-off", "setting": "2025-06-30", "total_clv": 100.0,
    ...      "mean_clv": 1.0},
    ...     {"parameter": "calibration cut-off", "setting": "2025-03-31", "total_clv": 90.0,
    ...      "mean_clv": 0.9}])["change_vs_base"].round(3).tolist()
    [0.0, -0.1]
    """
    frame = pd.DataFrame(list(rows))
    needed = ["parameter", "setting", "total_clv", "mean_clv"]
    missing = [c for c in needed if c not in frame.columns]
    if frame.empty or missing:
        raise DataContractError(
            f"sensitivity rows: expected keys {needed}; missing {missing or needed}"
        )
    if "customers" not in frame.columns:
        frame["customers"] = pd.NA
    frame["setting"] = frame["setting"].astype("str")
    if base is None:
        is_base = np.arange(len(frame)) == 0
    else:
        is_base = (frame["setting"] == str(base)).to_numpy()
        if not is_base.any():
            raise ValueError(f"base={base!r} is not one of the settings {list(frame['setting'])}")
    frame["is_base"] = is_base
    base_total = float(frame.loc[frame["is_base"], "total_clv"].iloc[0])
    frame["change_vs_base"] = frame["total_clv"].astype("float64") / base_total - 1
    return frame[list(SENSITIVITY_COLUMNS)].reset_index(drop=True)


def cutoff_sensitivity(
    fits: Mapping[str, tuple[Any, Any]],
    summary: pd.DataFrame,
    *,
    base: str,
    valuation: Valuation,
    refit_samples: Mapping[str, RowSample] | None = None,
) -> pd.DataFrame:
    """CLV of the same customers scored with models fitted at different calibration cut-offs.

    *fits* maps a cut-off label to the (transaction, spend) fitters the caller fitted on data
    up to that cut-off; *summary* (one row per customer, observed to ``as_of_date``) is scored
    with each, valued as *valuation* says (:func:`customer_value`; its ``as_of_date`` is
    required, a ValueError when None). Returns :func:`sensitivity_table` rows with
    ``parameter`` = "calibration cut-off".

    ``refit_samples`` ({label: the :class:`crmlib.sampling.RowSample` of calibration
    customers that fit was fitted on}, e.g. :func:`crmlib.clv.cutoff_fits`' ``samples``):
    when some fit was fitted on a sample, ``attrs["refit_samples"]`` holds, per sampled or
    not label, ``words``, ``customers`` (fitted on), ``of`` (calibration customers) and
    ``widening`` (how much wider the parameters' standard errors are than on all of them),
    for the page (:func:`crmlib.clv.describe_sensitivity`); nothing is added otherwise.
    Every customer of *summary* is scored either way.
    """
    _as_of(valuation, "cutoff_sensitivity")
    rows = []
    for label, (transaction_fitter, spend_fitter) in fits.items():
        clv = customer_value(transaction_fitter, spend_fitter, summary, valuation=valuation)["clv"]
        rows.append({"parameter": "calibration cut-off", "setting": str(label),
                     "customers": len(clv), "total_clv": float(clv.sum()),
                     "mean_clv": float(clv.mean())})  # fmt: skip
    table = sensitivity_table(rows, base=base)
    samples = dict(refit_samples or {})
    if any(sample.sampled for sample in samples.values()):
        table.attrs["refit_samples"] = {
            str(label): {"words": sample.words("calibration customers"), "customers": sample.n,
                         "of": sample.n_total, "widening": sample.widening}
            for label, sample in samples.items()
        }  # fmt: skip
    return table
