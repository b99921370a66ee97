"""Churn risk: who is about to leave, how sure we are, and how much value is at risk.

Features at a cutoff are one SQL pass on the engine (no data after the cutoff); a scaled
logistic regression and a histogram gradient-boosting model are calibrated on held-out
customers and chosen by validation log-loss; the holdout scorecard compares the chosen model
with a recency rule and the BTYD model of 05_clv refitted at the cutoff; drivers come from
permutation importance and partial dependence; value at risk uses 05_clv's CLV when present,
and the contact list goes through :mod:`crmlib.activation` (consent, suppression, control).
"""

from __future__ import annotations

from crmlib.churn._baselines import (
    BTYD_COLUMNS,
    RecencyRule,
    btyd_churn_from_summary,
    btyd_churn_probability,
    recency_score,
)
from crmlib.churn._describe import (
    ARTIFACT_COLUMNS,
    churn_artifact,
    churn_conclusion,
    churn_metrics,
    describe_scorecard,
    describe_tables,
    describe_training,
    describe_value,
    model_card,
    scorecard_table,
)
from crmlib.churn._drivers import (
    partial_dependence_table,
    permutation_importance_table,
    reason_codes,
)
from crmlib.churn._drivers_plots import (
    plot_importance,
    plot_partial_dependence,
)
from crmlib.churn._features import (
    CATEGORICAL_FEATURES,
    active_customers_count,
    churn_features,
    numeric_features,
)
from crmlib.churn._models import (
    CALIBRATIONS,
    MODEL_NAMES,
    ChurnModel,
    FittedChurnModel,
    choose_model,
    fit_churn_models,
    model_comparison,
    trainability,
)
from crmlib.churn._scorecard import (
    CALIBRATION_COLUMNS,
    GAINS_COLUMNS,
    SCORECARD_COLUMNS,
    SCORECARD_METRICS,
    calibration_table,
    gains_table,
    scorecard,
)
from crmlib.churn._scorecard_plots import (
    plot_calibration,
    plot_gains,
    plot_roc,
)
from crmlib.churn._stage import (
    CONTACT_ACTION,
    MANIFEST_NAME,
    ChurnCutoffs,
    ChurnTables,
    ChurnTraining,
    HoldoutScores,
    RecencyRank,
    churn_checks,
    churn_cutoffs,
    churn_drivers,
    churn_plan,
    churn_tables,
    contact_list,
    holdout_scorecard,
    holdout_scores,
    optional_table,
    score_customers,
    train_churn,
)
from crmlib.churn._value import (
    DEFAULT_THRESHOLDS,
    RISK_BANDS,
    band_summary,
    break_even,
    contact_plan,
    customer_values,
    risk_bands,
    value_at_risk,
    value_at_risk_by,
)
from crmlib.churn._value_plots import (
    plot_contact_curve,
    plot_risk_bands,
    plot_value_at_risk_by,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "numeric_features",
    "churn_features",
    "active_customers_count",
    "MODEL_NAMES",
    "CALIBRATIONS",
    "FittedChurnModel",
    "ChurnModel",
    "fit_churn_models",
    "model_comparison",
    "choose_model",
    "trainability",
    "permutation_importance_table",
    "partial_dependence_table",
    "reason_codes",
    "plot_importance",
    "plot_partial_dependence",
    "BTYD_COLUMNS",
    "RecencyRule",
    "recency_score",
    "btyd_churn_from_summary",
    "btyd_churn_probability",
    "SCORECARD_METRICS",
    "SCORECARD_COLUMNS",
    "CALIBRATION_COLUMNS",
    "GAINS_COLUMNS",
    "scorecard",
    "calibration_table",
    "gains_table",
    "plot_roc",
    "plot_calibration",
    "plot_gains",
    "RISK_BANDS",
    "DEFAULT_THRESHOLDS",
    "risk_bands",
    "customer_values",
    "value_at_risk",
    "contact_plan",
    "break_even",
    "value_at_risk_by",
    "band_summary",
    "plot_value_at_risk_by",
    "plot_risk_bands",
    "plot_contact_curve",
    "CONTACT_ACTION",
    "MANIFEST_NAME",
    "ChurnCutoffs",
    "ChurnTables",
    "ChurnTraining",
    "HoldoutScores",
    "RecencyRank",
    "churn_cutoffs",
    "churn_tables",
    "train_churn",
    "holdout_scores",
    "holdout_scorecard",
    "churn_drivers",
    "score_customers",
    "churn_plan",
    "optional_table",
    "contact_list",
    "churn_checks",
    "ARTIFACT_COLUMNS",
    "describe_tables",
    "describe_training",
    "describe_scorecard",
    "describe_value",
    "scorecard_table",
    "model_card",
    "churn_artifact",
    "churn_conclusion",
    "churn_metrics",
]
