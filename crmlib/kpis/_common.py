"""Periods, KPI column names and small helpers shared by the retention KPI modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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


def _plain(value: Any) -> Any:
    if value is None or pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _complete(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis[kpis["is_complete"]]
