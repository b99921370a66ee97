"""Lifecycle accounting: new, current, resurrected and dormant customers per period, and their flows."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.periods import (
    as_date,
    check_period,
    exclusive_end,
    period_index,
    period_spine,
    safe_ratio,
    to_periods,
)

__all__ = [
    "LIFECYCLE_COLUMNS",
    "LIFECYCLE_STATES",
    "TRANSITION_FROM_STATES",
    "TRANSITION_TO_STATES",
    "lifecycle",
    "transition_matrix",
]

log = logging.getLogger(__name__)

#: Columns of :func:`lifecycle`.
LIFECYCLE_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete",
    "new", "current", "resurrected", "dormant", "active", "active_previous",
    "net_change", "quick_ratio", "lost", "acquired",
)  # fmt: skip
#: Every state an acquired customer is in, in each period.
LIFECYCLE_STATES: tuple[str, ...] = ("new", "current", "resurrected", "dormant", "lost")
#: Rows of :func:`transition_matrix` (states at t-1).
TRANSITION_FROM_STATES: tuple[str, ...] = LIFECYCLE_STATES
#: Columns of :func:`transition_matrix` (states at t; nobody already acquired can be new).
TRANSITION_TO_STATES: tuple[str, ...] = ("current", "resurrected", "dormant", "lost")

_STATE_COUNTS = ("active", "new", "current", "resurrected", "dormant")
#: (from, to) -> column of lifecycle_flows.sql counted at t; lost -> lost is derived.
_FLOW_COLUMNS: dict[tuple[str, str], str] = {
    ("new", "current"): "new_to_current",
    ("current", "current"): "current_to_current",
    ("resurrected", "current"): "resurrected_to_current",
    ("new", "dormant"): "new_to_dormant",
    ("current", "dormant"): "current_to_dormant",
    ("resurrected", "dormant"): "resurrected_to_dormant",
    ("dormant", "resurrected"): "dormant_to_resurrected",
    ("dormant", "lost"): "dormant_to_lost",
    ("lost", "resurrected"): "lost_to_resurrected",
    ("lost", "lost"): "lost_to_lost",
}


def _flows(
    engine: Engine, *, as_of_date: dt.date | str, period: str, transactions: str
) -> pd.DataFrame:
    """States and flows per period (no gaps), with every accounting identity checked; counted
    on the purchase days of the shared purchase facts (:func:`crmlib.facts.purchase_facts`)."""
    check_period(period)
    as_of = as_date(as_of_date)
    with purchase_facts(engine, transactions=transactions) as facts:
        sums = engine.query(
            "lifecycle_flows",
            {"period": period, "end_day": exclusive_end(as_of).date()},
            identifiers={"customer_days": facts["customer_days"]},
        )
    sums = sums[pd.to_datetime(sums["period_start"]) <= pd.Timestamp(as_of)]
    if sums.empty or int(sums["active"].sum()) == 0:
        log.warning("%s has no purchases on or before %s: no lifecycle", transactions, as_of)
        return pd.DataFrame(columns=[*LIFECYCLE_COLUMNS, *_FLOW_COLUMNS.values()])
    first = pd.Timestamp(sums.loc[sums["active"] > 0, "period_start"].min()).date()
    periods = period_index(first, as_of, period)
    counts = sums.drop(columns="period_start").set_axis(to_periods(sums["period_start"], period))
    counts = counts.reindex(periods, fill_value=0).reset_index(drop=True).astype("int64")
    spine = period_spine(periods[0].start_time, as_of, period=period)

    flows = pd.concat([spine, counts], axis=1)
    flows.insert(3, "is_complete", flows["period_end"] <= as_of)
    flows["active_previous"] = flows["active"].shift(1, fill_value=0).astype("int64")
    flows["net_change"] = flows["new"] + flows["resurrected"] - flows["dormant"]
    flows["quick_ratio"] = safe_ratio(flows["new"] + flows["resurrected"], flows["dormant"])
    flows["acquired"] = flows["new"].cumsum()
    flows["lost"] = flows["acquired"] - flows["active"] - flows["dormant"]
    lost_previous = flows["lost"].shift(1, fill_value=0)
    flows["lost_to_lost"] = lost_previous - flows["lost_to_resurrected"]
    _check_identities(flows)
    return flows


def _check_identities(flows: pd.DataFrame) -> None:
    """Assert growth accounting; a failure is a bug in lifecycle_flows.sql, never bad data."""
    previous = {state: flows[state].shift(1, fill_value=0) for state in LIFECYCLE_STATES}
    checks = {
        "active = new + current + resurrected": flows["active"]
        == flows["new"] + flows["current"] + flows["resurrected"],
        "active_previous = current + dormant": flows["active_previous"]
        == flows["current"] + flows["dormant"],
        "net_change = active - active_previous": flows["net_change"]
        == flows["active"] - flows["active_previous"],
        "lost >= 0": flows["lost"] >= 0,
        "lost = dormant_to_lost + lost_to_lost": flows["lost"]
        == flows["dormant_to_lost"] + flows["lost_to_lost"],
    }
    for state in LIFECYCLE_STATES:
        outflow = sum(flows[column] for (src, _), column in _FLOW_COLUMNS.items() if src == state)
        checks[f"{state}(t-1) = flows out of {state}"] = previous[state] == outflow
    for name, holds in checks.items():
        if not bool(np.all(holds)):
            bad = flows.loc[~holds, "period_label"].tolist()
            raise AssertionError(f"lifecycle identity broken: {name} in periods {bad}")


def _period_position(flows: pd.DataFrame, which: dt.date | str) -> int:
    """Row of ``flows`` whose label is ``which`` or whose dates contain it; -1 when none."""
    by_label = np.flatnonzero(flows["period_label"].astype(str) == str(which))
    if len(by_label):
        return int(by_label[0])
    try:
        day = as_date(which)
    except ValueError:
        return -1
    containing = np.flatnonzero((flows["period_start"] <= day) & (flows["period_end"] >= day))
    return int(containing[0]) if len(containing) else -1


def lifecycle(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Growth accounting: customers gained, kept, won back and lost, per period.

    Transforms *transactions* (one row per netted order or unmatched refund, a view on
    ``engine``) into one row per period, from the period of the first purchase to the one
    containing ``as_of_date``, with no gaps. Only purchases (``is_purchase``) make a
    customer active; cancelled orders and refunds never do. A customer is in exactly one
    state per period once acquired:

    - ``new``: first purchase ever in the period (= ``new_customers`` of
      :func:`crmlib.kpis.kpis_by_period`);
    - ``current``: active in the period and in the previous one (= ``returning_customers``);
    - ``resurrected``: active, not active in the previous period, not new
      (= ``reactivated_customers``);
    - ``dormant``: active in the previous period, not in this one;
    - ``lost``: inactive in this period and the previous one, active some time before;
    - ``active`` = new + current + resurrected; ``active_previous`` = the previous
      period's ``active`` (0 for the first period) = current + dormant;
    - ``net_change`` = new + resurrected - dormant = active - active_previous;
    - ``quick_ratio`` = (new + resurrected) / dormant, null when dormant = 0 (> 1: growing);
    - ``acquired``: customers with a first purchase by the period's end
      = active + dormant + lost.

    The identities are asserted on every call. ``is_complete`` says ``period_end <=
    as_of_date``: the last, partial period undercounts active customers and so overcounts
    dormant ones.

    Parameters
    ----------
    engine : Engine
        With the ``transactions`` view registered (``RunFolder.register``).
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default ``cohorts.period``
    transactions : str, default "transactions"
        View name. Its purchase facts are read (:func:`crmlib.facts.purchase_facts`: the run
        folder's, or built from the view's customer_id, order_ts, amount, gross_amount,
        refund_amount and is_purchase).

    Returns
    -------
    pd.DataFrame
        One row per period, oldest first, columns :data:`LIFECYCLE_COLUMNS`.

    Raises
    ------
    StageInputMissing
        ``transactions`` is not registered.
    DataContractError
        A needed column is missing, or ``order_ts`` is not a timestamp.

    References
    ----------
    .. [1] Jonathan Hsu, "Growth accounting and the quick ratio" (Social Capital, 2015);
       Hsu, Scheinman & Boyle-Smith, "Diligence at Social Capital", part 1 (2016).
    """
    flows = _flows(engine, as_of_date=as_of_date, period=period, transactions=transactions)
    if not flows.empty:
        log.info(
            "lifecycle for %d %ss, %s to %s",
            len(flows),
            period,
            flows["period_label"].iloc[0],
            flows["period_label"].iloc[-1],
        )
    return flows[list(LIFECYCLE_COLUMNS)].reset_index(drop=True)


def transition_matrix(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    from_period: dt.date | str | None = None,
    transactions: str = "transactions",
) -> pd.DataFrame:
    """Customers by lifecycle state in one period and state in the next.

    Transforms *transactions* (as for :func:`lifecycle`) into a matrix: one row per state
    at t-1 (:data:`TRANSITION_FROM_STATES`: new, current, resurrected, dormant, lost), one
    column per state at t (:data:`TRANSITION_TO_STATES`: current, resurrected, dormant,
    lost), each cell a count of customers. Prospects (not yet acquired at t-1) are left out,
    so nobody moves *to* new. Only pairs of consecutive complete periods count (both ends
    on or before ``as_of_date``). Each row sums to the number of customers in that state at
    t-1, over the pairs included.

    Parameters
    ----------
    engine : Engine
        With the ``transactions`` view registered.
    as_of_date : date or str
        Last day covered (inclusive).
    period : {"week", "month", "quarter"}, default ``cohorts.period``
    from_period : date, str or None, default None
        None sums the flows over every pair of consecutive complete periods; otherwise any
        day of (or the label of, e.g. ``"2025-03"``) the period t-1: the matrix of its flows
        into the next period, which must be complete.
    transactions : str, default "transactions"

    Returns
    -------
    pd.DataFrame
        Index ``from_state``, columns ``to_state``, int64 counts.

    Raises
    ------
    ValueError
        ``from_period`` is outside the data or its next period is not complete.

    References
    ----------
    .. [1] Hsu, Scheinman & Boyle-Smith, "Diligence at Social Capital", part 1 (2016):
       lifecycle states new, retained (current), resurrected, churned (dormant).
    """
    flows = _flows(engine, as_of_date=as_of_date, period=period, transactions=transactions)
    # a transition is counted at t; t complete implies t-1 complete; t-1 must exist in data
    included = flows["is_complete"] & (flows.index > 0)
    if from_period is not None:
        position = _period_position(flows, from_period)
        target = position + 1
        if position < 0 or target >= len(flows) or not bool(flows["is_complete"].iloc[target]):
            raise ValueError(
                f"from_period={from_period!r}: expected a period from "
                f"{flows['period_label'].iloc[0]} whose next period ends by {as_of_date}"
            )
        included = flows.index == target
    chosen = flows[included]
    matrix = pd.DataFrame(
        0, index=pd.Index(TRANSITION_FROM_STATES, name="from_state"),
        columns=pd.Index(TRANSITION_TO_STATES, name="to_state"), dtype="int64",
    )  # fmt: skip
    for (src, dst), column in _FLOW_COLUMNS.items():
        matrix.loc[src, dst] = int(chosen[column].sum())
    log.info("transition matrix over %d pairs of %ss", len(chosen), period)
    return matrix
