"""Customer lifetime value: the BTYD summary in SQL, BG/NBD, MBG/NBD, Pareto/NBD and
Gamma-Gamma fits validated on a holdout and on published results, and CLV with intervals.

The summary (frequency, recency, T, monetary_value) is computed on the engine with lifetimes'
exact semantics (:mod:`crmlib.clv.queries`); the models are fitted on unique patterns with
weights (:mod:`crmlib.clv.models`: one module per model, its likelihood and closed forms, and
the fitting machinery); CLV, P(alive) and the parametric-bootstrap intervals are vectorized
closed forms, checked against lifetimes (:mod:`crmlib.clv.value`,
:mod:`crmlib.clv.intervals`), valued with the settings of one :class:`Valuation`. A model is
used only when eligible (:func:`eligibility`); when no candidate is, 05 falls back to a
penalized refit, the NBD (no dropout) or each customer's observed spend rate
(:mod:`crmlib.clv.choice`: :func:`choose_model`, :func:`fit_with_fallback`), judged on the
holdout by :mod:`crmlib.clv.validation`. Acquisition cost (CAC per channel and month, CLV:CAC,
payback of acquisition cohorts) is :mod:`crmlib.clv.acquisition`. The page's sentences, tables and charts are
:mod:`crmlib.clv.text`, :mod:`crmlib.clv.tables` and :mod:`crmlib.clv.plots`; the notebook's
entry points :mod:`crmlib.clv.stage`.
"""

from __future__ import annotations

from crmlib.clv.acquisition import (
    Acquisition,
    acquisition_by_month,
    acquisition_cost,
    cac_by_channel,
    campaign_cost_per_retained,
    clv_to_cac,
    cohort_payback,
    cohort_revenue,
    payback_by_channel,
)
from crmlib.clv.choice import choose_model, fit_with_fallback, spend_model
from crmlib.clv.intervals import clv_intervals
from crmlib.clv.models.base import MODEL_LABELS, MODELS, PARAMETER_NAMES, TRANSACTION_MODELS
from crmlib.clv.models.fitting import FittedModel, eligibility
from crmlib.clv.plots import (
    palive_calibration,
    palive_matrix,
    period_transactions,
    plot_cac_by_month,
    plot_calibration_holdout,
    plot_clv_intervals,
    plot_cumulative_tracking,
    plot_palive_calibration,
    plot_palive_matrix,
    plot_period_transactions,
    plot_sensitivity,
)
from crmlib.clv.queries import (
    UNIT_DAYS,
    calibration_holdout,
    customer_summary,
    model_summary,
    summary_units,
)
from crmlib.clv.stage import (
    acquisition_metrics,
    calibration_cutoff,
    clv_artifact,
    clv_metrics,
    cutoff_fits,
    pool_groups,
    tracking_table,
    value_by_nps_group,
    value_groups,
)
from crmlib.clv.tables import (
    acquisition_table,
    comparison_table,
    errors_table,
    fits_table,
    group_table,
    nps_value_table,
)
from crmlib.clv.text import (
    clv_conclusion,
    describe_acquisition,
    describe_choice,
    describe_clv,
    describe_fits,
    describe_intervals,
    describe_nps_value,
    describe_sensitivity,
    describe_summary,
    fit_notes,
    spend_check,
)
from crmlib.clv.validation import holdout_metrics, holdout_predictions
from crmlib.clv.value import (
    Valuation,
    customer_value,
    cutoff_sensitivity,
    sensitivity,
    top_decile_share,
    value_by_group,
)

# What 05_clv calls as ``crm.clv.<name>``, and what code outside the package uses (06's BTYD
# baseline in crmlib.churn.models.baselines; FittedModel); every other public name is imported
# from its module (queries, models.*, validation, choice, value, intervals, text, tables,
# plots, stage).
__all__ = [
    # queries
    "UNIT_DAYS",
    "customer_summary",
    "calibration_holdout",
    "summary_units",
    "model_summary",
    # models
    "MODELS",
    "TRANSACTION_MODELS",
    "MODEL_LABELS",
    "PARAMETER_NAMES",
    "FittedModel",
    "eligibility",
    # validation
    "holdout_predictions",
    "holdout_metrics",
    # choice
    "choose_model",
    "fit_with_fallback",
    "spend_model",
    # value
    "Valuation",
    "customer_value",
    "top_decile_share",
    "value_by_group",
    "sensitivity",
    "cutoff_sensitivity",
    # intervals
    "clv_intervals",
    # text
    "describe_summary",
    "fit_notes",
    "describe_fits",
    "spend_check",
    "describe_choice",
    "describe_clv",
    "describe_intervals",
    "describe_sensitivity",
    "clv_conclusion",
    "describe_acquisition",
    "describe_nps_value",
    # tables
    "fits_table",
    "comparison_table",
    "errors_table",
    "group_table",
    "acquisition_table",
    "nps_value_table",
    # plots
    "period_transactions",
    "plot_period_transactions",
    "plot_calibration_holdout",
    "plot_cumulative_tracking",
    "palive_matrix",
    "plot_palive_matrix",
    "palive_calibration",
    "plot_palive_calibration",
    "plot_clv_intervals",
    "plot_sensitivity",
    "plot_cac_by_month",
    # stage
    "calibration_cutoff",
    "tracking_table",
    "cutoff_fits",
    "value_groups",
    "pool_groups",
    "clv_artifact",
    "clv_metrics",
    "value_by_nps_group",
    "acquisition_metrics",
    # acquisition
    "Acquisition",
    "acquisition_cost",
    "acquisition_by_month",
    "cac_by_channel",
    "cohort_revenue",
    "cohort_payback",
    "payback_by_channel",
    "clv_to_cac",
    "campaign_cost_per_retained",
]
