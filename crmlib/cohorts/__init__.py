"""Cohorts: retention by acquisition cohort and channel, lifecycle states and flows, time to second order.

All transaction-level work is SQL on the engine (``crmlib/sql/cohorts_*.sql``,
``lifecycle_*.sql``, ``survival_*.sql``); statistics run on the per-cohort or per-customer
results: the retention trend is a binomial GLM, time to second order a Kaplan–Meier estimate
(statsmodels). Data that begin mid-history put every customer already buying into the first
cohort: :func:`data_start` decides which cohorts hold the customers present at the start, and
every comparison of acquisition cohorts leaves them out.
"""

from __future__ import annotations

from crmlib.cohorts._data_start import FIRST_COHORT_RULES, PRESENT_AT_START, DataStart, data_start
from crmlib.cohorts._describe import (
    describe_brackets,
    describe_channel_retention,
    describe_cohort_retention,
    describe_data_start,
    describe_definitions,
    describe_lifecycle,
    describe_revenue_retention,
    describe_second_order,
    describe_transitions,
    describe_trends,
)
from crmlib.cohorts._display import (
    as_artifact,
    bracket_table,
    cohort_readiness,
    definition_table,
    display_matrix,
    plot_or_note,
    pool_groups,
    rates_table,
    trends_table,
    when_ready,
)
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
from crmlib.cohorts._summary import (
    cohort_checks,
    cohort_conclusion,
    cohort_metrics,
    cohort_trends,
    second_order_summary,
)
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
    "FIRST_COHORT_RULES",
    "KM_COLUMNS",
    "LIFECYCLE_COLUMNS",
    "LIFECYCLE_STATES",
    "PRESENT_AT_START",
    "RATE_COLUMNS",
    "RETENTION_COLUMNS",
    "RETENTION_DEFINITIONS",
    "REVENUE_COLUMNS",
    "TRANSITION_FROM_STATES",
    "TRANSITION_TO_STATES",
    "UNKNOWN_GROUP",
    "ChannelGap",
    "DataStart",
    "TrendResult",
    "as_artifact",
    "bracket_retention",
    "bracket_table",
    "channel_gap",
    "cohort_checks",
    "cohort_conclusion",
    "cohort_matrix",
    "cohort_metrics",
    "cohort_readiness",
    "cohort_retention",
    "cohort_revenue",
    "cohort_trends",
    "data_start",
    "definition_table",
    "describe_brackets",
    "describe_channel_retention",
    "describe_cohort_retention",
    "describe_data_start",
    "describe_definitions",
    "describe_lifecycle",
    "describe_revenue_retention",
    "describe_second_order",
    "describe_transitions",
    "describe_trends",
    "display_matrix",
    "km_curves",
    "lifecycle",
    "plot_cohort_heatmap",
    "plot_growth_accounting",
    "plot_km_curves",
    "plot_or_note",
    "plot_retention_curves",
    "plot_transition_matrix",
    "pool_groups",
    "rates_table",
    "retention_trend",
    "second_order_durations",
    "second_order_rates",
    "second_order_summary",
    "transition_matrix",
    "trends_table",
    "when_ready",
]
