"""Retention KPIs by period: active/new/returning/reactivated customers, rates, revenue, reach,
and customer satisfaction (NPS, CSAT) from the optional surveys table."""

from __future__ import annotations

from crmlib.kpis.mix import MIX_METRICS, MixShift, PeriodMix, mix_shift, period_mix
from crmlib.kpis.models import last_periods
from crmlib.kpis.plots import (
    plot_active_customers,
    plot_channel_engagement,
    plot_mix_waterfall,
    plot_retention_rate,
    plot_revenue,
)
from crmlib.kpis.queries import (
    KPI_RATES,
    channel_engagement,
    contactable_base,
    guest_totals,
    kpis_by_group,
    kpis_by_period,
    transaction_totals,
)
from crmlib.kpis.satisfaction import (
    Satisfaction,
    describe_satisfaction,
    latest_responses,
    nps_interval,
    plot_nps_over_time,
    plot_retention_by_nps,
    plot_satisfaction_over_time,
    retention_by_nps_group,
    retention_table,
    satisfaction_by_group,
    satisfaction_metrics,
    satisfaction_report,
    satisfaction_table,
)
from crmlib.kpis.stage import kpi_metrics
from crmlib.kpis.tables import (
    contactable_table,
    headline_tiles,
    mix_table,
    shown_tiles,
    tiles_table,
)
from crmlib.kpis.text import (
    describe_active_customers,
    describe_channel_engagement,
    describe_contactable_base,
    describe_kpis,
    describe_mix,
    describe_retention,
    describe_revenue,
)

__all__ = [
    "last_periods",
    "MixShift",
    "mix_shift",
    "MIX_METRICS",
    "PeriodMix",
    "period_mix",
    "kpis_by_group",
    "mix_table",
    "describe_mix",
    "plot_mix_waterfall",
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
    "Satisfaction",
    "satisfaction_report",
    "satisfaction_metrics",
    "satisfaction_by_group",
    "latest_responses",
    "retention_by_nps_group",
    "nps_interval",
    "satisfaction_table",
    "retention_table",
    "describe_satisfaction",
    "plot_nps_over_time",
    "plot_retention_by_nps",
    "plot_satisfaction_over_time",
]
