"""Churn risk: who is about to leave, how sure we are, and how much value is at risk.

Features at a cutoff are one SQL pass on the engine (no data after the cutoff); a scaled
logistic regression and a histogram gradient-boosting model are calibrated on held-out
customers and chosen by validation log-loss; the holdout scorecard compares the chosen model
with a recency rule and the BTYD model of 05_clv refitted at the cutoff; drivers come from
permutation importance and partial dependence; value at risk uses 05_clv's CLV when present,
and the contact list goes through :mod:`crmlib.activation` (consent, suppression, control).
Beside the model, :mod:`crmlib.churn.trend` measures the past: each period's retention and
churn by RFM segment (scored at the end of the period before) and by acquisition channel.
"""

from __future__ import annotations

from crmlib.churn.models.scorecard import calibration_table, gains_table
from crmlib.churn.models.training import ChurnTraining
from crmlib.churn.models.value import band_summary, break_even, value_at_risk_by
from crmlib.churn.plots import (
    plot_calibration,
    plot_contact_curve,
    plot_dependence_grid,
    plot_gains,
    plot_holdout,
    plot_importance,
    plot_partial_dependence,
    plot_risk_bands,
    plot_roc,
    plot_segment_trend,
    plot_value_at_risk_by,
)
from crmlib.churn.queries import churn_cutoffs, churn_features, churn_tables
from crmlib.churn.stage import (
    churn_artifact,
    churn_checks,
    churn_drivers,
    churn_metrics,
    churn_plan,
    contact_list,
    holdout_scorecard,
    holdout_scores,
    score_customers,
    segment_trend_artifact,
    segment_trend_metrics,
    train_churn,
)
from crmlib.churn.tables import (
    band_table,
    comparison_table,
    scorecard_table,
    segment_trend_table,
    value_at_risk_table,
)
from crmlib.churn.text import (
    churn_conclusion,
    describe_scorecard,
    describe_segment_trend,
    describe_tables,
    describe_training,
    describe_value,
    model_card,
)
from crmlib.churn.trend import TREND_COLUMNS, churn_by_segment

# What 06_churn calls as ``crm.churn.<name>``, and what code outside the package uses; every
# other public name is imported from its module (queries, models.*, text, tables, plots, stage).
__all__ = [
    # queries
    "churn_cutoffs",
    "churn_tables",
    "churn_features",
    # trend: retention by segment and channel over time
    "TREND_COLUMNS",
    "churn_by_segment",
    # models
    "ChurnTraining",
    "calibration_table",
    "gains_table",
    "band_summary",
    "break_even",
    "value_at_risk_by",
    # text
    "describe_tables",
    "describe_training",
    "describe_scorecard",
    "describe_value",
    "describe_segment_trend",
    "model_card",
    "churn_conclusion",
    # tables
    "comparison_table",
    "scorecard_table",
    "value_at_risk_table",
    "band_table",
    "segment_trend_table",
    # plots
    "plot_dependence_grid",
    "plot_holdout",
    "plot_roc",
    "plot_calibration",
    "plot_gains",
    "plot_importance",
    "plot_partial_dependence",
    "plot_risk_bands",
    "plot_value_at_risk_by",
    "plot_contact_curve",
    "plot_segment_trend",
    # stage
    "train_churn",
    "holdout_scores",
    "holdout_scorecard",
    "churn_drivers",
    "score_customers",
    "churn_plan",
    "contact_list",
    "churn_checks",
    "churn_artifact",
    "churn_metrics",
    "segment_trend_artifact",
    "segment_trend_metrics",
]
