"""A/B tests of retention campaigns: outcomes in SQL, effects with CIs, CUPED, corrections, SRM, power.

:func:`analyze_experiment` turns one row per customer into one row per experiment x variant x
metric (x segment); the estimators underneath work on numpy arrays so that simulation studies
can run thousands of experiments in one call.
"""

from __future__ import annotations

from crmlib.experiments._analysis import (
    SEGMENT_KEY_COLUMNS,
    AbAnalysis,
    ab_checks,
    analyze_ab,
    describe_money,
    economics_table,
    effects_table,
    guardrails_table,
    page_table,
    survival_table,
)
from crmlib.experiments._analyze import RESULT_COLUMNS, analyze_experiment
from crmlib.experiments._artifacts import (
    CUMULATIVE_COLUMNS,
    ab_artifact,
    ab_metrics,
    cumulative_outcome,
)
from crmlib.experiments._data import (
    ExperimentData,
    check_experiment_export,
    describe_data,
    empty_table,
    experiment_data,
    register_inputs,
)
from crmlib.experiments._effects import (
    EffectEstimate,
    arm_moments,
    cuped_theta,
    guardrail_status,
    non_inferiority,
    power_and_mde,
    proportion_effect,
    ratio_effect,
    sample_size,
    srm_test,
    welch_effect,
)
from crmlib.experiments._export import (
    EXPORT_REJECT_COLUMNS,
    EXPORT_REJECT_REASONS,
    ExperimentExport,
    check_export_columns,
    read_experiment_export,
)
from crmlib.experiments._health import (
    BALANCE_COLUMNS,
    BALANCE_THRESHOLD,
    SRM_COLUMNS,
    covariate_balance,
    srm_table,
)
from crmlib.experiments._money import CLV_COLUMNS, ECONOMICS_COLUMNS, campaign_economics
from crmlib.experiments._outcomes import OUTCOME_COLUMNS, experiment_outcomes
from crmlib.experiments._power import (
    POWER_COLUMNS,
    SAMPLE_SIZE_COLUMNS,
    describe_power,
    power_table,
    sample_size_table,
)
from crmlib.experiments._report import (
    GUARDRAIL_COLUMNS,
    VERDICT_COLUMNS,
    VERDICTS,
    ab_conclusion,
    arms_words,
    covariate_label,
    covariate_words,
    describe_health,
    describe_results,
    guardrail_specs,
    judge_guardrails,
    too_small_words,
    verdicts,
)
from crmlib.experiments._report_plots import (
    plot_cumulative_outcome,
    plot_lift,
    plot_lifts,
    plot_segment_forest,
)
from crmlib.experiments._survival import (
    CURVE_COLUMNS,
    RMST_COLUMNS,
    plot_time_to_purchase,
    rmst_difference,
    time_to_purchase_curves,
)

__all__ = [
    "EXPORT_REJECT_COLUMNS",
    "EXPORT_REJECT_REASONS",
    "ExperimentExport",
    "check_export_columns",
    "read_experiment_export",
    "ExperimentData",
    "experiment_data",
    "check_experiment_export",
    "register_inputs",
    "describe_data",
    "empty_table",
    "AbAnalysis",
    "SEGMENT_KEY_COLUMNS",
    "analyze_ab",
    "ab_checks",
    "effects_table",
    "guardrails_table",
    "economics_table",
    "describe_money",
    "page_table",
    "survival_table",
    "plot_lifts",
    "POWER_COLUMNS",
    "SAMPLE_SIZE_COLUMNS",
    "power_table",
    "sample_size_table",
    "describe_power",
    "CLV_COLUMNS",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "GUARDRAIL_COLUMNS",
    "CUMULATIVE_COLUMNS",
    "verdicts",
    "guardrail_specs",
    "judge_guardrails",
    "covariate_label",
    "covariate_words",
    "describe_health",
    "describe_results",
    "arms_words",
    "too_small_words",
    "ab_conclusion",
    "ab_metrics",
    "ab_artifact",
    "cumulative_outcome",
    "plot_lift",
    "plot_segment_forest",
    "plot_cumulative_outcome",
    "BALANCE_THRESHOLD",
    "BALANCE_COLUMNS",
    "SRM_COLUMNS",
    "covariate_balance",
    "srm_table",
    "ECONOMICS_COLUMNS",
    "campaign_economics",
    "CURVE_COLUMNS",
    "RMST_COLUMNS",
    "time_to_purchase_curves",
    "rmst_difference",
    "plot_time_to_purchase",
    "OUTCOME_COLUMNS",
    "experiment_outcomes",
    "RESULT_COLUMNS",
    "analyze_experiment",
    "EffectEstimate",
    "arm_moments",
    "proportion_effect",
    "welch_effect",
    "ratio_effect",
    "cuped_theta",
    "srm_test",
    "power_and_mde",
    "sample_size",
    "non_inferiority",
    "guardrail_status",
]
