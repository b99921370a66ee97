"""Cohorts: retention by acquisition cohort and channel, lifecycle states and flows, time to second order.

All transaction-level work is SQL on the engine (``crmlib/sql/cohorts_*.sql``,
``lifecycle_*.sql``, ``survival_*.sql``); statistics run on the per-cohort or per-customer
results: the retention trend is a binomial GLM, time to second order a Kaplan–Meier estimate
(statsmodels).
"""

from __future__ import annotations

from crmlib.cohorts._lifecycle import (
    LIFECYCLE_COLUMNS,
    LIFECYCLE_STATES,
    TRANSITION_FROM_STATES,
    TRANSITION_TO_STATES,
    lifecycle,
    transition_matrix,
)
from crmlib.cohorts._matrices import (
    BRACKET_COLUMNS,
    COHORT_BASES,
    DEFAULT_BRACKETS,
    RETENTION_COLUMNS,
    RETENTION_DEFINITIONS,
    REVENUE_COLUMNS,
    bracket_retention,
    cohort_matrix,
    cohort_retention,
    cohort_revenue,
)
from crmlib.cohorts._plots_lifecycle import (
    plot_growth_accounting,
    plot_km_curves,
    plot_transition_matrix,
)
from crmlib.cohorts._plots_matrices import plot_cohort_heatmap, plot_retention_curves
from crmlib.cohorts._survival import (
    KM_COLUMNS,
    RATE_COLUMNS,
    UNKNOWN_GROUP,
    km_curves,
    second_order_durations,
    second_order_rates,
)
from crmlib.cohorts._trend import ChannelGap, TrendResult, channel_gap, retention_trend

__all__ = [
    "BRACKET_COLUMNS",
    "COHORT_BASES",
    "DEFAULT_BRACKETS",
    "KM_COLUMNS",
    "LIFECYCLE_COLUMNS",
    "LIFECYCLE_STATES",
    "RATE_COLUMNS",
    "RETENTION_COLUMNS",
    "RETENTION_DEFINITIONS",
    "REVENUE_COLUMNS",
    "TRANSITION_FROM_STATES",
    "TRANSITION_TO_STATES",
    "UNKNOWN_GROUP",
    "ChannelGap",
    "TrendResult",
    "bracket_retention",
    "channel_gap",
    "cohort_matrix",
    "cohort_retention",
    "cohort_revenue",
    "km_curves",
    "lifecycle",
    "plot_cohort_heatmap",
    "plot_growth_accounting",
    "plot_km_curves",
    "plot_retention_curves",
    "plot_transition_matrix",
    "retention_trend",
    "second_order_durations",
    "second_order_rates",
    "transition_matrix",
]
