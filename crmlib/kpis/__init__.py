"""Retention KPIs by period: active/new/returning/reactivated customers, rates, revenue, reach."""

from __future__ import annotations

from crmlib.kpis.mix import MixShift, mix_shift
from crmlib.kpis.models import last_periods
from crmlib.kpis.plots import (
    plot_active_customers,
    plot_channel_engagement,
    plot_retention_rate,
    plot_revenue,
)
from crmlib.kpis.queries import (
    KPI_RATES,
    channel_engagement,
    contactable_base,
    guest_totals,
    kpis_by_period,
    transaction_totals,
)
from crmlib.kpis.stage import kpi_metrics
from crmlib.kpis.tables import contactable_table, headline_tiles, shown_tiles, tiles_table
from crmlib.kpis.text import (
    describe_active_customers,
    describe_channel_engagement,
    describe_contactable_base,
    describe_kpis,
    describe_retention,
    describe_revenue,
)

__all__ = [
    "last_periods",
    "MixShift",
    "mix_shift",
    "kpis_by_period",
    "transaction_totals",
    "KPI_RATES",
    "contactable_base",
    "contactable_table",
    "guest_totals",
    "channel_engagement",
    "headline_tiles",
    "shown_tiles",
    "tiles_table",
    "describe_kpis",
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
