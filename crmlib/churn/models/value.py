"""Value at risk of churn: customer values, risk bands, the contact decision and its break-even.

Works on *scored* customers (one row per customer active at the cutoff, with a calibrated
``p_churn`` and the churn features such as ``spend_365d``): :func:`customer_values` gives each a
money ``value`` (CLV from 05_clv, else last year's margin), :func:`value_at_risk` adds
``p_churn * value``, :func:`contact_plan` decides whom to contact (a contact costing
``cost_per_contact`` keeps a churner with probability ``save_rate``, so it is worth
``p_churn * value * save_rate - cost``), :func:`break_even` sums the plan up, and
:func:`value_at_risk_by` / :func:`band_summary` aggregate by group and by risk band.

A retention contact is worth making when the expected value it saves exceeds its cost [1]_;
contacting a customer who would have stayed anyway saves nothing here.

References
----------
.. [1] Neslin, S. A., Gupta, S., Kamakura, W., Lu, J. and Mason, C. H. (2006). "Defection
   detection: measuring and understanding the predictive accuracy of customer churn models."
   Journal of Marketing Research 43(2), 204-211 (a retention campaign's profit from the
   churners it reaches, the share of them it keeps, their value and the contact cost).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.keys import positions, take
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "RISK_BANDS",
    "DEFAULT_THRESHOLDS",
    "OTHER_GROUP",
    "UNKNOWN_GROUP",
    "risk_bands",
    "customer_values",
    "value_at_risk",
    "contact_plan",
    "break_even",
    "value_at_risk_by",
    "band_summary",
    "hidden_bands",
]

log = logging.getLogger(__name__)

#: The risk bands, lowest risk first (the categories of :func:`risk_bands`).
RISK_BANDS: tuple[str, str, str] = ("Low", "Medium", "High")

#: Default band thresholds on P(churn) (``churn.band_thresholds``: below 0.4 Low, below 0.7
#: Medium, else High).
DEFAULT_THRESHOLDS: tuple[float, float] = DEFAULTS.churn.band_thresholds

#: Label of the row that pools groups smaller than ``min_cell_size`` (:data:`crmlib.privacy.OTHER`).
OTHER_GROUP = OTHER

#: Label of customers whose group is missing.
UNKNOWN_GROUP = "(unknown)"

_VALUES_TABLE = "churn values"

_BY_COLUMNS = (
    "groups",
    "customers",
    "mean_p_churn",
    "value",
    "value_at_risk",
    "share_of_value_at_risk",
    "high_risk_customers",
    "p_churn",
)


# -- validation ------------------------------------------------------------------------------------
def _check_thresholds(thresholds: Sequence[float]) -> tuple[float, float]:
    expected = "expected (low, high) with 0 < low < high < 1, e.g. (0.4, 0.7)"
    try:
        low, high = (float(value) for value in thresholds)
    except (TypeError, ValueError):
        raise ValueError(f"thresholds={thresholds!r}: {expected}") from None
    if not 0 < low < high < 1:
        raise ValueError(f"thresholds={tuple(thresholds)!r}: {expected}")
    return low, high


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}={value!r}: expected a finite number")
    return number


def _check_contact_costs(save_rate: float, cost_per_contact: float) -> tuple[float, float]:
    rate = _number(save_rate, "save_rate")
    if not 0 < rate <= 1:
        raise ValueError(
            f"save_rate={save_rate!r}: expected the share of would-be churners a contact keeps, "
            "0 < save_rate <= 1"
        )
    cost = _number(cost_per_contact, "cost_per_contact")
    if cost < 0:
        raise ValueError(f"cost_per_contact={cost_per_contact!r}: expected a cost >= 0")
    return rate, cost


def _examples(ids: pd.Series, mask: np.ndarray | pd.Series) -> list[str]:
    return [str(value) for value in ids[np.asarray(mask)].head(3)]


def _check_dtype(series: pd.Series, column: str, *, table_name: str) -> None:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataContractError(
            f"{table_name}: column '{column}' has dtype {series.dtype}, expected numbers"
        )


def _numeric(frame: pd.DataFrame, column: str, *, table_name: str) -> np.ndarray:
    """The column as float64, refusing text, booleans, nulls and infinities (named)."""
    _check_dtype(frame[column], column, table_name=table_name)
    values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        ids = frame["customer_id"] if "customer_id" in frame.columns else None
        where = "" if ids is None else f" (customer_id {_examples(ids, bad)})"
        raise DataContractError(
            f"{table_name}: column '{column}' has {int(bad.sum())} missing or infinite "
            f"value(s){where}, expected a number for every customer"
        )
    return values


def _probabilities(frame: pd.DataFrame, *, table_name: str) -> np.ndarray:
    require_columns(frame, ["p_churn"], table_name=table_name)
    p_churn = _numeric(frame, "p_churn", table_name=table_name)
    outside = (p_churn < 0) | (p_churn > 1)
    if outside.any():
        raise DataContractError(
            f"{table_name}: column 'p_churn' has {int(outside.sum())} value(s) outside [0, 1] "
            f"(e.g. {float(p_churn[outside][0])!r}), expected calibrated probabilities"
        )
    return p_churn


def _risk_inputs(frame: pd.DataFrame, *, table_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``p_churn`` and ``value`` of a churn-values frame, validated."""
    require_columns(frame, ["p_churn", "value"], table_name=table_name)
    p_churn = _probabilities(frame, table_name=table_name)
    return p_churn, _numeric(frame, "value", table_name=table_name)


def check_unique_ids(frame: pd.DataFrame, *, table_name: str) -> None:
    """A DataContractError naming the repeated ids when ``customer_id`` is not unique."""
    if (duplicated := frame["customer_id"].duplicated()).any():
        raise DataContractError(
            f"{table_name}: column 'customer_id' has {int(duplicated.sum())} duplicate(s) "
            f"(e.g. {_examples(frame['customer_id'], duplicated)}), expected one row per customer"
        )


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


# -- bands -----------------------------------------------------------------------------------------
def risk_bands(
    p_churn: pd.Series | np.ndarray | Sequence[float],
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> pd.Series:
    """The churn risk band of each probability: Low, Medium or High.

    ``p < low`` is Low, ``low <= p < high`` Medium, ``p >= high`` High (defaults 0.4 and 0.7).
    A missing probability has no band (null); a probability outside [0, 1] is an error.

    Returns an ordered categorical Series (categories :data:`RISK_BANDS`) named
    ``risk_band``, with the index of ``p_churn`` when it is a Series. ``thresholds`` are the
    lower bounds of Medium and High, ``0 < low < high < 1``.

    Examples
    --------
    >>> risk_bands([0.1, 0.4, 0.69, 0.7, 0.95]).tolist()
    ['Low', 'Medium', 'Medium', 'High', 'High']
    >>> risk_bands([0.5], thresholds=(0.6, 0.5))
    Traceback (most recent call last):
    ...
    ValueError: thresholds=(0.6, 0.5): expected (low, high) with 0 < low < high < 1, e.g. (0.4, 0.7)
    """
    low, high = _check_thresholds(thresholds)
    index = p_churn.index if isinstance(p_churn, pd.Series) else None
    try:
        probabilities = pd.Series(p_churn).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):
        raise DataContractError("p_churn: expected numbers (probabilities)") from None
    known = ~np.isnan(probabilities)
    outside = known & ((probabilities < 0) | (probabilities > 1))
    if outside.any():
        raise DataContractError(
            f"p_churn: {int(outside.sum())} value(s) outside [0, 1] "
            f"(e.g. {float(probabilities[outside][0])!r}), expected probabilities"
        )
    codes = np.select([probabilities < low, probabilities < high], [0, 1], default=2)
    codes = np.where(known, codes, -1)
    bands = pd.Categorical.from_codes(codes, categories=list(RISK_BANDS), ordered=True)
    return pd.Series(bands, index=index, name="risk_band")


# -- values ----------------------------------------------------------------------------------------
def customer_values(
    scored: pd.DataFrame,
    *,
    clv: pd.DataFrame | None = None,
    margin: float = DEFAULTS.churn.margin,
    spend_col: str = "spend_365d",
) -> pd.DataFrame:
    """Give every scored customer a money value: their CLV when known, else last year's margin.

    Transforms *scored* (one row per customer active at the cutoff: ``customer_id``,
    ``p_churn``, the churn features) into the same rows and order plus

    - ``value`` (currency): for a customer in ``clv`` (the 05_clv artifact: ``customer_id``,
      ``clv``), that CLV: margin on the spend expected over the CLV horizon, discounted (see
      :func:`crmlib.clv.customer_value`); for any other customer (not in ``clv``, null CLV, no
      ``clv``), the **historical** value ``spend_365d * margin``: net spend in the last 365
      days up to the cutoff times the margin, "what they were worth last year". A negative
      value (refunds above spend) is floored at 0: keeping a customer is never worth less;
    - ``value_source``: ``"clv"`` or ``"historical"``.

    ``frame.attrs`` gets ``value_sources`` (``{"clv": n, "historical": m}``, customers per
    source), ``values_floored_at_zero`` (customers whose value was negative) and ``margin``.

    Parameters
    ----------
    scored : pd.DataFrame
        One row per customer: unique ``customer_id``; ``spend_col`` a number for every
        customer without a CLV.
    clv : pd.DataFrame, optional
        The 05_clv artifact; rows of customers not in ``scored`` are ignored.
    margin : float, default ``churn.margin``
        Share of net spend kept as margin, ``0 <= margin <= 1`` (05_clv's margin, so both
        sources are on the same footing).
    spend_col : str, default "spend_365d"
        Net spend of the historical value; a year's window keeps "last year".

    Notes
    -----
    The sources differ: CLV looks forward over 05_clv's horizon (12 months by default) and
    already weighs in the chance the customer has left (P(alive)), so value at risk on CLV is
    the more conservative; the historical value looks back one year.

    Examples
    --------
    >>> scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "p_churn": [0.2, 0.5, 0.9],
    ...                        "spend_365d": [100.0, 200.0, -50.0]})
    >>> clv = pd.DataFrame({"customer_id": ["a", "z"], "clv": [80.0, 10.0]})
    >>> values = customer_values(scored, clv=clv, margin=0.3)
    >>> values[["customer_id", "value", "value_source"]]
      customer_id  value value_source
    0           a   80.0          clv
    1           b   60.0   historical
    2           c    0.0   historical
    >>> values.attrs["value_sources"]
    {'clv': 1, 'historical': 2}
    """
    margin = _number(margin, "margin")
    if not 0 <= margin <= 1:
        raise ValueError(f"margin={margin}: expected a share of net spend between 0 and 1")
    require_columns(scored, ["customer_id"], table_name="scored")
    check_unique_ids(scored, table_name="scored")
    clv_value = np.full(len(scored), np.nan)
    if clv is not None:
        require_columns(clv, ["customer_id", "clv"], table_name="clv")
        check_unique_ids(clv, table_name="clv")
        _check_dtype(clv["clv"], "clv", table_name="clv")
        known = clv["clv"].to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(known).any():
            raise DataContractError("clv: column 'clv' has infinite values, expected money")
        rows = positions(scored["customer_id"], clv["customer_id"])
        clv_value = take(pd.Series(known), rows).to_numpy(dtype="float64", na_value=np.nan)
    has_clv = ~np.isnan(clv_value)
    historical = np.zeros(len(scored))
    if not has_clv.all():
        require_columns(scored, ["customer_id", spend_col], table_name="scored")
        needed = scored.loc[~has_clv, ["customer_id", spend_col]]
        historical[~has_clv] = _numeric(needed, spend_col, table_name="scored") * margin
    raw = np.where(has_clv, clv_value, historical)
    floored = raw < 0
    result = scored.copy()
    result["value"] = np.maximum(raw, 0.0)
    result["value_source"] = pd.Series(
        np.where(has_clv, "clv", "historical"), index=scored.index, dtype="str"
    )
    sources = {"clv": int(has_clv.sum()), "historical": int((~has_clv).sum())}
    result.attrs["value_sources"] = sources
    result.attrs["values_floored_at_zero"] = int(floored.sum())
    result.attrs["margin"] = margin
    log.info("customer values by source: %s; %d floored at 0", sources, int(floored.sum()))
    return result


def value_at_risk(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``value_at_risk = p_churn * value``: the value expected to be lost to churn.

    Transforms *frame* (one row per customer with ``p_churn`` and ``value``, as from
    :func:`customer_values`) into a new frame, same rows and order, plus ``value_at_risk``
    (currency).

    Examples
    --------
    >>> frame = pd.DataFrame({"p_churn": [0.5, 0.1], "value": [100.0, 40.0]})
    >>> value_at_risk(frame)["value_at_risk"].tolist()
    [50.0, 4.0]
    """
    p_churn, value = _risk_inputs(frame, table_name=_VALUES_TABLE)
    result = frame.copy()
    result["value_at_risk"] = p_churn * value
    return result


# -- the contact decision --------------------------------------------------------------------------
def contact_plan(
    frame: pd.DataFrame,
    *,
    save_rate: float,
    cost_per_contact: float,
) -> pd.DataFrame:
    """Whom to contact: the customers whose expected saved value exceeds the contact's cost.

    Transforms *frame* (one row per customer: ``customer_id``, ``p_churn``, ``value``) into the
    same customers ranked, best first, plus

    - ``expected_saved_value = p_churn * value * save_rate`` (currency): the value a contact is
      expected to keep;
    - ``expected_net_value = expected_saved_value - cost_per_contact`` (currency);
    - ``contact``: ``expected_net_value > 0`` (a contact that exactly breaks even is not made);
    - ``rank``: 1 = the highest expected net value; ties by ``customer_id``.

    Contacting the customers with ``contact`` True maximises the total expected net value:
    they are the ranks ``1..contacts``, and adding any other customer adds a value <= 0.
    The index is reset; ``attrs`` records ``save_rate`` and ``cost_per_contact``.

    Parameters
    ----------
    frame : pd.DataFrame
        Customers with ``customer_id``, ``p_churn`` (in [0, 1]) and ``value`` (currency).
    save_rate : float
        Share of would-be churners a contact keeps, ``0 < save_rate <= 1`` (an assumption
        until an A/B test such as 07_ab_test measures it).
    cost_per_contact : float
        Cost of one contact (currency), ``>= 0``.

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "p_churn": [0.5, 0.9, 0.2],
    ...                       "value": [100.0, 10.0, 300.0]})
    >>> plan = contact_plan(frame, save_rate=0.2, cost_per_contact=5.0)
    >>> plan[["customer_id", "expected_net_value", "contact", "rank"]]
      customer_id  expected_net_value  contact  rank
    0           c                 7.0     True     1
    1           a                 5.0     True     2
    2           b                -3.2    False     3
    """
    rate, cost = _check_contact_costs(save_rate, cost_per_contact)
    require_columns(frame, ["customer_id", "p_churn", "value"], table_name=_VALUES_TABLE)
    p_churn, value = _risk_inputs(frame, table_name=_VALUES_TABLE)
    result = frame.copy()
    result["expected_saved_value"] = p_churn * value * rate
    result["expected_net_value"] = result["expected_saved_value"] - cost
    result["contact"] = (result["expected_net_value"] > 0).astype("bool")
    order = np.lexsort(
        (result["customer_id"].astype("str").to_numpy(dtype=str), -result["expected_net_value"])
    )
    result = result.iloc[order].reset_index(drop=True)
    result["rank"] = np.arange(1, len(result) + 1, dtype="int64")
    result.attrs["save_rate"] = rate
    result.attrs["cost_per_contact"] = cost
    contacts = int(result["contact"].sum())
    log.info("contact plan: %d of %d customers worth contacting", contacts, len(result))
    return result


def break_even(
    plan: pd.DataFrame,
    *,
    save_rate: float,
    cost_per_contact: float,
) -> dict[str, Any]:
    """Headline figures of the contact decision and the point where a contact pays for itself.

    Reads *plan* (one row per customer with ``p_churn`` and ``value``, as from
    :func:`contact_plan`; the decision is recomputed from those two columns with the given
    ``save_rate`` and ``cost_per_contact``) and returns

    - ``customers``, ``contacts``, ``share_contacted``; ``value_at_risk`` (all customers);
    - ``expected_saved_value``, ``total_cost``, ``expected_net_value`` over the contacts;
    - ``break_even_value_at_risk = cost_per_contact / save_rate``: contact a customer when
      ``p_churn * value`` exceeds it;
    - ``break_even_p_churn_at_median_value = cost / (save_rate * median value)``: the P(churn)
      above which a customer of median value is worth a contact (above 1: none is; NaN when
      the median value is 0 or there are no customers);
    - ``break_even_value_at_p_churn_50 = cost / (save_rate * 0.5)``: the value above which a
      customer with P(churn) 0.5 is worth a contact;
    - ``median_value``, ``save_rate``, ``cost_per_contact``.

    Every number is a plain ``int`` or ``float`` (json-able; NaN is ``float("nan")``).

    A ``save_rate``/``cost_per_contact`` other than those :func:`contact_plan` recorded in
    ``plan.attrs`` is a ValueError.

    Examples
    --------
    >>> plan = pd.DataFrame({"customer_id": ["a", "b", "c"], "p_churn": [0.5, 0.9, 0.2],
    ...                      "value": [100.0, 10.0, 300.0]})
    >>> summary = break_even(plan, save_rate=0.2, cost_per_contact=5.0)
    >>> summary["contacts"], summary["expected_net_value"], summary["break_even_value_at_risk"]
    (2, 12.0, 25.0)
    >>> summary["break_even_p_churn_at_median_value"]
    0.25
    """
    rate, cost = _check_contact_costs(save_rate, cost_per_contact)
    for key, given in (("save_rate", rate), ("cost_per_contact", cost)):
        recorded = plan.attrs.get(key)
        if recorded is not None and not math.isclose(float(recorded), given, rel_tol=1e-12):
            raise ValueError(
                f"{key}={given!r}, but the contact plan was built with {key}={recorded!r}: "
                "pass the values the plan was made with"
            )
    p_churn, value = _risk_inputs(plan, table_name="contact plan")
    saved = p_churn * value * rate
    contact = saved - cost > 0
    contacts = int(contact.sum())
    customers = len(plan)
    saved_total = float(saved[contact].sum())
    total_cost = float(contacts * cost)
    median_value = float(np.median(value)) if customers else math.nan
    at_median = cost / (rate * median_value) if customers and median_value > 0 else math.nan
    return {
        "customers": customers,
        "contacts": contacts,
        "share_contacted": contacts / customers if customers else math.nan,
        "value_at_risk": float((p_churn * value).sum()),
        "expected_saved_value": saved_total,
        "total_cost": total_cost,
        "expected_net_value": saved_total - total_cost,
        "break_even_value_at_risk": cost / rate,
        "break_even_p_churn_at_median_value": float(at_median),
        "break_even_value_at_p_churn_50": cost / (rate * 0.5),
        "median_value": median_value,
        "save_rate": rate,
        "cost_per_contact": cost,
    }


# -- aggregates ------------------------------------------------------------------------------------
def value_at_risk_by(
    frame: pd.DataFrame,
    *,
    by: str,
    min_cell_size: int = MIN_CELL_SIZE,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> pd.DataFrame:
    """Customers, churn risk and value at risk per group (segment, channel, ...).

    Transforms *frame* (one row per customer: ``p_churn``, ``value`` and the group column
    ``by``) into one row per group:

    - ``by``: the group; a null group is ``"(unknown)"``; groups of fewer than
      ``min_cell_size`` customers are pooled into ``"(other)"``, which is never one group
      alone and never smaller than ``min_cell_size`` while other groups are shown (the
      smallest shown groups join it until it is: :meth:`crmlib.privacy.SmallCells.pool_labels`);
    - ``groups``: how many groups the row holds (1 except for ``(other)``);
    - ``customers``, ``mean_p_churn``, ``value`` (total, currency), ``value_at_risk``
      (total ``p_churn * value``, currency), ``share_of_value_at_risk`` (of the total; NaN
      when it is 0), ``high_risk_customers`` (in the High band of :func:`risk_bands`).

    Rows are sorted by ``value_at_risk``, largest first (ties by group). Totals equal the
    ungrouped sums. The numbers are for charts; :func:`value_at_risk_table` is the table for
    the page (counts under the limit hidden).

    Examples
    --------
    >>> frame = pd.DataFrame({"channel": ["web"] * 3 + ["shop"] * 2 + ["app"],
    ...                       "p_churn": [0.8, 0.2, 0.5, 0.9, 0.1, 0.75],
    ...                       "value": [100.0, 50.0, 20.0, 10.0, 30.0, 40.0]})
    >>> value_at_risk_by(frame, by="channel", min_cell_size=3)[
    ...     ["channel", "groups", "customers", "value_at_risk", "high_risk_customers"]]
       channel  groups  customers  value_at_risk  high_risk_customers
    0      web       1          3          100.0                    1
    1  (other)       2          3           42.0                    2
    """
    require_columns(frame, [by, "p_churn", "value"], table_name=_VALUES_TABLE)
    if by in _BY_COLUMNS:
        raise ValueError(f"by={by!r}: expected a group column, not one of {_BY_COLUMNS}")
    rule = SmallCells(min_cell_size)
    p_churn, value = _risk_inputs(frame, table_name=_VALUES_TABLE)
    labels = frame[by].reset_index(drop=True)
    shown = rule.pool_labels(labels).to_numpy()
    per_customer = pd.DataFrame(
        {
            "group": labels.astype(object).where(labels.notna(), UNKNOWN_GROUP).astype("str"),
            "p_churn": p_churn,
            "value": value,
            "value_at_risk": p_churn * value,
            "high": (risk_bands(p_churn, thresholds=thresholds) == "High").to_numpy(),
        }
    )
    table = per_customer.groupby(shown, sort=False).agg(
        groups=("group", "nunique"),
        customers=("p_churn", "size"),
        mean_p_churn=("p_churn", "mean"),
        value=("value", "sum"),
        value_at_risk=("value_at_risk", "sum"),
        high_risk_customers=("high", "sum"),
    )
    total = float(table["value_at_risk"].sum())
    table["share_of_value_at_risk"] = table["value_at_risk"] / total if total > 0 else np.nan
    table = table.rename_axis(by).reset_index()
    table = table.sort_values(["value_at_risk", by], ascending=[False, True], kind="stable")
    columns = [by, "groups", "customers", "mean_p_churn", "value", "value_at_risk"]
    table = table[[*columns, "share_of_value_at_risk", "high_risk_customers"]]
    table = table.astype({"groups": "int64", "customers": "int64", "high_risk_customers": "int64"})
    table[by] = table[by].astype("str")
    pooled = int(table.loc[table[by] == OTHER_GROUP, "groups"].sum())
    log.info("value at risk by %s: %d small group(s) pooled into (other)", by, pooled)
    return table.reset_index(drop=True)


def band_summary(
    frame: pd.DataFrame,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> pd.DataFrame:
    """Customers, mean P(churn) and value at risk per risk band, Low to High.

    Transforms *frame* (one row per customer: ``p_churn`` and ``value``) into one row per band
    of :data:`RISK_BANDS` (all three, an empty band with 0 customers):

    - ``band``; ``threshold``: its rule as text (``"p < 40%"``, ``"40% <= p < 70%"``,
      ``"p >= 70%"``);
    - ``customers``, ``share`` (of all customers), ``mean_p_churn`` (NaN when empty),
      ``value_at_risk`` (total ``p_churn * value``, currency), ``share_of_value_at_risk``.

    Examples
    --------
    >>> frame = pd.DataFrame({"p_churn": [0.1, 0.3, 0.5, 0.8], "value": [10.0, 10.0, 20.0, 50.0]})
    >>> band_summary(frame)[["band", "threshold", "customers", "value_at_risk"]]
         band       threshold  customers  value_at_risk
    0     Low         p < 40%          2            4.0
    1  Medium  40% <= p < 70%          1           10.0
    2    High        p >= 70%          1           40.0
    """
    low, high = _check_thresholds(thresholds)
    p_churn, value = _risk_inputs(frame, table_name=_VALUES_TABLE)
    bands = risk_bands(p_churn, thresholds=(low, high)).array
    per_customer = pd.DataFrame({"p_churn": p_churn, "value_at_risk": p_churn * value})
    table = (
        per_customer.groupby(bands, observed=False, sort=True)
        .agg(
            customers=("p_churn", "size"),
            mean_p_churn=("p_churn", "mean"),
            value_at_risk=("value_at_risk", "sum"),
        )
        .reset_index(drop=True)
        .astype({"customers": "int64"})
    )
    rules = [f"p < {_percent(low)}", f"{_percent(low)} <= p < {_percent(high)}"]
    table.insert(0, "band", pd.Series(RISK_BANDS, dtype="str"))
    table.insert(1, "threshold", pd.Series([*rules, f"p >= {_percent(high)}"], dtype="str"))
    customers, total = int(table["customers"].sum()), float(table["value_at_risk"].sum())
    table.insert(3, "share", table["customers"] / customers if customers else np.nan)
    table["share_of_value_at_risk"] = table["value_at_risk"] / total if total > 0 else np.nan
    return table


def hidden_bands(summary: pd.DataFrame, *, min_cell_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which bands of :func:`band_summary` may not show their customers: (small, hidden).

    ``small``: bands of 1 to ``min_cell_size - 1`` customers. ``hidden``: those and, when
    exactly one band is small, the next smallest band as well, because the bands add up to
    the customers scored, which the page states (:meth:`crmlib.privacy.SmallCells.complement`).
    """
    rule = SmallCells(min_cell_size)
    counts = summary["customers"]
    return rule.is_small(counts), rule.complement(counts.tolist())
