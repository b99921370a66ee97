"""Periods, KPI column names and small helpers shared by the retention KPI modules."""

from __future__ import annotations

import pandas as pd

from crmlib.privacy import SmallCells

__all__ = [
    "MESSAGING_CHANNELS",
    "KPI_COLUMNS",
    "KPI_RATES",
    "ENGAGEMENT_COLUMNS",
    "last_periods",
]

MESSAGING_CHANNELS: tuple[str, ...] = ("email", "sms", "push")

KPI_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete",
    "active_customers", "new_customers", "returning_customers", "reactivated_customers",
    "retention_rate", "churn_rate", "repeat_purchase_rate",
    "orders", "orders_per_customer", "aov", "revenue", "gross_revenue", "refunds", "revenue_per_active",
)  # fmt: skip
#: Columns of :func:`channel_engagement`.
ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "period_start", "period_end", "period_label", "is_complete", "channel",
    "sends", "customers_sent", "opened", "clicked", "unsubscribed", "conversions",
    "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "conversion_rate",
    "conversion_window_days", "conversion_window_complete",
)  # fmt: skip
#: The KPI columns that are shares in [0, 1] (or null).
KPI_RATES: tuple[str, ...] = ("retention_rate", "churn_rate", "repeat_purchase_rate")


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


def _capital(text: str) -> str:
    """``text`` with its first letter upper-case (a sentence that starts with a phrase)."""
    return text[:1].upper() + text[1:]


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


def _drawable(kpis: pd.DataFrame, *, min_cell_size: int) -> pd.DataFrame:
    """The KPI table as it may be drawn: a KPI is NaN in a period where it is, or is computed
    on, 1 to ``min_cell_size - 1`` customers or an unknown number (:func:`_bases`); one row
    per period."""
    bases = _bases(kpis)
    small = SmallCells(min_cell_size).is_small(bases.to_numpy())
    out = kpis.copy()
    for position, column in enumerate(bases.columns):
        unknown = bases[column].isna().to_numpy()  # a figure on an unknown group is not drawn
        out[column] = out[column].astype("float64").where(~(small[:, position] | unknown))
    return out
