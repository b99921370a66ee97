"""Retention KPIs by period: active/new/returning/reactivated customers, rates, revenue, reach."""

from __future__ import annotations

from crmlib.kpis._common import (
    ENGAGEMENT_COLUMNS,
    KPI_COLUMNS,
    KPI_RATES,
    MESSAGING_CHANNELS,
    last_periods,
)
from crmlib.kpis._describe import (
    describe_active_customers,
    describe_channel_engagement,
    describe_contactable_base,
    describe_kpis,
    describe_retention,
    describe_revenue,
    kpi_conclusion,
)
from crmlib.kpis._metrics import kpi_metrics
from crmlib.kpis._plots import (
    plot_active_customers,
    plot_channel_engagement,
    plot_retention_rate,
    plot_revenue,
)
from crmlib.kpis._queries import (
    channel_engagement,
    contactable_base,
    contactable_table,
    guest_totals,
    kpis_by_period,
    latest_contactable,
    transaction_totals,
)
from crmlib.kpis._tiles import headline_tiles, shown_tiles, tiles_table
from crmlib.periods import PERIODS, period_spine

__all__ = [
    "PERIODS",
    "MESSAGING_CHANNELS",
    "period_spine",
    "last_periods",
    "kpis_by_period",
    "transaction_totals",
    "KPI_COLUMNS",
    "KPI_RATES",
    "ENGAGEMENT_COLUMNS",
    "contactable_base",
    "latest_contactable",
    "contactable_table",
    "guest_totals",
    "channel_engagement",
    "headline_tiles",
    "shown_tiles",
    "tiles_table",
    "describe_kpis",
    "kpi_conclusion",
    "describe_active_customers",
    "describe_retention",
    "describe_revenue",
    "describe_contactable_base",
    "describe_channel_engagement",
    "kpi_metrics",
    "plot_active_customers",
    "plot_retention_rate",
    "plot_revenue",
    "plot_channel_engagement",
]
