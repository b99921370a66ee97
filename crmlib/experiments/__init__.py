"""A/B tests of retention campaigns: outcomes in SQL, effects with CIs, CUPED, corrections, SRM, power.

:func:`analyze_experiment` turns one row per customer into one row per experiment x variant x
metric (x segment); the estimators underneath work on numpy arrays so that simulation studies
can run thousands of experiments in one call.
"""

from __future__ import annotations

from crmlib.experiments.models.effects import analyze_experiment
from crmlib.experiments.models.health import covariate_balance, srm_table
from crmlib.experiments.models.money import campaign_economics
from crmlib.experiments.models.survival import rmst_difference, time_to_purchase_curves
from crmlib.experiments.plots import (
    plot_cumulative_outcome,
    plot_lifts,
    plot_segment_forest,
    plot_time_to_purchase,
)
from crmlib.experiments.queries.data import (
    check_experiment_export,
    experiment_data,
    experiment_input,
    register_inputs,
)
from crmlib.experiments.queries.outcomes import experiment_outcomes
from crmlib.experiments.stage import ab_artifact, ab_checks, ab_metrics, analyze_ab
from crmlib.experiments.tables import (
    economics_table,
    effects_table,
    guardrails_table,
    page_table,
    survival_table,
)
from crmlib.experiments.text import (
    ab_conclusion,
    describe_data,
    describe_health,
    describe_money,
    describe_power,
    describe_results,
)

__all__ = [
    # 07_ab_test, in the order it calls them
    "register_inputs",
    "experiment_data",
    "describe_data",
    "analyze_ab",
    "describe_health",
    "describe_results",
    "page_table",
    "guardrails_table",
    "plot_lifts",
    "effects_table",
    "plot_segment_forest",
    "plot_cumulative_outcome",
    "plot_time_to_purchase",
    "survival_table",
    "describe_money",
    "economics_table",
    "describe_power",
    "ab_checks",
    "ab_artifact",
    "ab_conclusion",
    "ab_metrics",
    # the runner: which input 07 reads, and the export's header check before any notebook runs
    "experiment_input",
    "check_experiment_export",
    # benchmarks/bench_ab.py, step by step
    "experiment_outcomes",
    "srm_table",
    "covariate_balance",
    "analyze_experiment",
    "campaign_economics",
    "time_to_purchase_curves",
    "rmst_difference",
]
