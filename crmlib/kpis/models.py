"""Computations on the KPI tables: periods, the customers behind each KPI, the latest base."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.privacy import SmallCells

__all__ = [
    "last_periods",
    "latest_contactable",
]


def _infer_period(table: pd.DataFrame) -> str:
    days = (
        pd.to_datetime(table["period_end"]) - pd.to_datetime(table["period_start"])
    ).dt.days.max()
    return "week" if days <= 6 else "month" if days <= 30 else "quarter"


def last_periods(table: pd.DataFrame | None, n: int) -> pd.DataFrame | None:
    """The rows of the last ``n`` periods of a per-period table (``None`` passes through).

    Works on any table with a ``period_start`` column, one or several rows per period.
    """
    if table is None or table.empty:
        return table
    keep = sorted(table["period_start"].unique())[-n:]
    return table[table["period_start"].isin(keep)].reset_index(drop=True)


def _complete(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis[kpis["is_complete"]]


#: KPI columns that count customers: each is its own group.
_CUSTOMER_COUNTS: tuple[str, ...] = (
    "active_customers", "new_customers", "returning_customers", "reactivated_customers",
)  # fmt: skip


#: KPI columns computed on the previous period's active customers.
_ON_PREVIOUS_ACTIVE: tuple[str, ...] = ("retention_rate", "churn_rate")


#: KPI columns computed on the period's active customers (their orders and money).
_ON_ACTIVE: tuple[str, ...] = (
    "orders", "orders_per_customer", "aov", "revenue", "gross_revenue", "refunds",
    "revenue_per_active",
)  # fmt: skip


def _bases(kpis: pd.DataFrame) -> pd.DataFrame:
    """The customers behind each KPI: one row per period (same index), one column per KPI.

    A customer count is its own group; retention and churn are computed on the previous
    period's active customers (for the first row, returning / retention: the table may be
    the last periods of a longer one; missing when that is undefined); orders and money on
    the period's active customers; the repeat-purchase rate on every customer acquired so far
    (within the table, so at most the true number).
    """
    active = kpis["active_customers"].astype("float64")
    retention = kpis["retention_rate"].astype("float64")
    implied = (kpis["returning_customers"] / retention.where(retention > 0)).round()
    previous = active.shift(1).fillna(implied)
    acquired = kpis["new_customers"].astype("float64").cumsum()
    columns: dict[str, pd.Series] = {c: kpis[c].astype("float64") for c in _CUSTOMER_COUNTS}
    columns |= {c: previous for c in _ON_PREVIOUS_ACTIVE}
    columns |= {c: active for c in _ON_ACTIVE}
    columns["repeat_purchase_rate"] = acquired
    return pd.DataFrame(columns, index=kpis.index)


def _latest_complete(kpis: pd.DataFrame) -> int | None:
    complete = np.flatnonzero(kpis["is_complete"].to_numpy(dtype=bool))
    return int(complete[-1]) if complete.size else None


def _year_ago(kpis: pd.DataFrame, position: int) -> int | None:
    start = pd.Timestamp(kpis["period_start"].iloc[position])
    period = _infer_period(kpis)
    target = start - pd.Timedelta(weeks=52) if period == "week" else start - pd.DateOffset(years=1)
    found = np.flatnonzero(
        pd.to_datetime(kpis["period_start"]).to_numpy() == target.to_datetime64()
    )
    return int(found[0]) if found.size else None


def latest_contactable(contactable: pd.DataFrame | None) -> pd.DataFrame | None:
    """The contactable base at the latest period end: one row per channel (None passes through).

    Transforms the output of :func:`contactable_base` (one row per period and channel) into
    *channel, counted_at, customers, consented, unsubscribed, contactable, consent_rate,
    contactable_rate* for the last period.
    """
    if contactable is None or contactable.empty:
        return contactable
    latest = contactable[contactable["period_start"] == contactable["period_start"].max()]
    columns = ["channel", "counted_at", "customers", "consented", "unsubscribed", "contactable",
               "consent_rate", "contactable_rate"]  # fmt: skip
    return latest[columns].reset_index(drop=True)


#: Display names of the contactable base's counts (each a count of customers).
_CONTACTABLE_COUNTS: dict[str, str] = {
    "customers": "Signed-up customers", "consented": "Opted in (customers)",
    "unsubscribed": "Unsubscribed (customers)", "contactable": "Contactable (customers)",
}  # fmt: skip


def _suppressed_contactable(latest: pd.DataFrame, *, min_cell_size: int) -> pd.DataFrame:
    """The latest contactable base with counts and rates as text under the small-cell rule.

    One row per channel, as :func:`latest_contactable`. A count of 1 to ``min_cell_size - 1``
    customers reads "<10"; since opted in = unsubscribed + contactable in each row, one more
    count of that row reads "–" when exactly one of them is hidden (complementary
    suppression); a rate reads "–" where its count is hidden.
    """
    return SmallCells(min_cell_size).suppress(
        latest,
        counts=list(_CONTACTABLE_COUNTS),
        parts={"consented": ["unsubscribed", "contactable"]},
        rates={"consent_rate": "consented", "contactable_rate": "contactable"},
        keep=["contactable"],  # the reach of a campaign: hide opted-in instead when one must go
    )
