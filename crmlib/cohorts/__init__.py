"""Cohorts: retention by acquisition cohort and channel, lifecycle states and flows, time to second order.

All transaction-level work is SQL on the engine (``crmlib/sql/cohorts_*.sql``,
``lifecycle_*.sql``, ``survival_*.sql``) over the shared purchase facts (:mod:`crmlib.facts`:
one row per customer-day, one per customer), the transactions themselves only for the first
purchase's category; statistics run on the per-cohort or per-customer results: the retention trend is a binomial GLM, time to second order a Kaplan–Meier estimate
(statsmodels). Data that begin mid-history put every customer already buying into the first
cohort: :func:`data_start` decides which cohorts hold the customers present at the start, and
every comparison of acquisition cohorts leaves them out.
"""

from __future__ import annotations

from crmlib.cohorts.models import km_curves, pool_groups, second_order_summary
from crmlib.cohorts.plots import (
    plot_cohort_heatmap,
    plot_growth_accounting,
    plot_km_curves,
    plot_or_note,
    plot_retention_curves,
    plot_transition_matrix,
)
from crmlib.cohorts.queries import (
    bracket_retention,
    cohort_retention,
    cohort_revenue,
    data_start,
    lifecycle,
    second_order_durations,
    transition_matrix,
)
from crmlib.cohorts.stage import (
    as_artifact,
    cohort_checks,
    cohort_metrics,
    cohort_readiness,
    cohort_trends,
    when_ready,
)
from crmlib.cohorts.tables import (
    bracket_table,
    cohort_matrix,
    definition_table,
    display_matrix,
    rates_table,
    trends_table,
)
from crmlib.cohorts.text import (
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

#: What notebook 03_cohorts calls as ``crm.cohorts.<name>``, and what code outside the package
#: uses (benchmarks/bench_cohorts.py: ``cohort_matrix``). Everything else is imported from its
#: module: ``queries`` (SQL on the engine), ``models`` (statistics), ``text`` (sentences),
#: ``tables`` (display tables), ``plots`` (charts), ``stage`` (the notebook's entry points).
__all__ = [
    "as_artifact",
    "bracket_retention",
    "bracket_table",
    "cohort_checks",
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
    "second_order_durations",
    "second_order_summary",
    "transition_matrix",
    "trends_table",
    "when_ready",
]
