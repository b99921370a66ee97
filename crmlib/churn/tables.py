"""06_churn's tables for the page: model comparison, scorecard, value at risk and risk bands.

Each function shapes a frame for display (:func:`crmlib.formatting.present`): readable headers
with units, the label as index, numbers as text, customer counts through the small-cell rule.
"""

from __future__ import annotations

import datetime as dt  # noqa: F401  (the namespace of segment_trend_table's doctest)

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.churn.models.training import ChurnTraining
from crmlib.churn.models.value import (
    band_summary,  # noqa: F401 (used by band_table's example)
    hidden_bands,
)
from crmlib.churn.text import _trend_note
from crmlib.churn.trend import latest_changes
from crmlib.formatting import Column, present
from crmlib.privacy import HIDDEN, SmallCells

__all__ = [
    "comparison_table",
    "scorecard_table",
    "value_at_risk_table",
    "band_table",
    "segment_trend_table",
]

_METRIC_WORDS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "brier": "Brier score",
    "log_loss": "log-loss",
    "top_decile_lift": "top-decile lift",
    "top_decile_capture": "churners caught in the top decile",
}


def comparison_table(training: ChurnTraining, *, min_cell_size: int) -> pd.DataFrame | None:
    """The candidate models on the validation cutoff for the page, or None when not compared.

    Transforms ``training.comparison`` (:func:`crmlib.churn.models.training.model_comparison`: one row per
    model) into one row per model (index), as text (:func:`crmlib.formatting.present`):
    log-loss, Brier score, ROC and PR AUC (3 decimals), the validation customers (small-cell
    rule, ``min_cell_size``) and their observed churn rate (hidden on fewer customers than
    the limit), and whether the model is the one used. None when no model was compared (a
    fallback, or a validation cutoff with one class): :func:`describe_training` says why.

    Examples
    --------
    >>> comparison = pd.DataFrame({"model": ["logistic", "hist_gradient_boosting"],
    ...     "log_loss": [0.588255, 0.622556], "brier": [0.182466, 0.189357],
    ...     "roc_auc": [0.819946, 0.809897], "pr_auc": [0.745571, 0.737468], "n": [3472, 3472],
    ...     "churn_rate": [0.44038, 0.44038]})
    >>> training = ChurnTraining({}, comparison, "logistic", None, None, None, ())
    >>> table = comparison_table(training, min_cell_size=10)
    >>> table.loc["logistic"].tolist()
    ['0.588', '0.182', '0.820', '0.746', '3,472', '44.0%', 'yes']
    >>> list(table.columns)[4:]
    ['Validation customers', 'Churned (%)', 'Used']
    """
    comparison = training.comparison
    if comparison.empty:
        return None
    shown = SmallCells(min_cell_size).hide(comparison, size="n", columns=["churn_rate"])
    shown["used"] = shown["model"] == training.chosen_name
    columns = {
        "model": Column("Model"),
        "log_loss": Column("Log-loss", "number", decimals=3),
        "brier": Column("Brier score", "number", decimals=3),
        "roc_auc": Column("ROC AUC", "number", decimals=3),
        "pr_auc": Column("PR AUC", "number", decimals=3),
        "n": Column("Validation customers", "customers"),
        "churn_rate": Column("Churned", "percent"),
        "used": Column("Used", "flag"),
    }
    return present(shown, columns=columns, index="model", min_cell_size=min_cell_size)


def scorecard_table(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard for display: one row per scorer, '0.85 (0.84–0.86)' per metric.

    A metric not computed for a row (the differences have no PR AUC) reads "–".

    Examples
    --------
    >>> card = pd.DataFrame({"scorer": ["logistic", "logistic - recency rule"],
    ...     "metric": ["roc_auc", "roc_auc"], "value": [0.8199, 0.037],
    ...     "ci_low": [0.805, 0.028], "ci_high": [0.834, 0.047]})
    >>> scorecard_table(card)  # doctest: +NORMALIZE_WHITESPACE
                                         ROC AUC
    Scorer
    logistic                 0.820 (0.805–0.834)
    logistic - recency rule  0.037 (0.028–0.047)
    """
    if card.empty:
        return pd.DataFrame()
    text = card.assign(
        shown=[
            f"{value:.3f} ({low:.3f}–{high:.3f})" if np.isfinite(low) else f"{value:.3f}"
            for value, low, high in zip(card["value"], card["ci_low"], card["ci_high"], strict=True)
        ]
    )
    table = text.pivot(index="scorer", columns="metric", values="shown")
    order = list(dict.fromkeys(card["scorer"]))
    metrics = [metric for metric in _METRIC_WORDS if metric in table.columns]
    table = table.reindex(index=order, columns=metrics).rename_axis(None, axis=1)
    columns = {metric: Column(_METRIC_WORDS[metric][:1].upper() + _METRIC_WORDS[metric][1:])
               for metric in metrics}  # fmt: skip
    return present(table, columns={"scorer": Column("Scorer"), **columns}, index="scorer")


#: The header of each split of the value at risk (the index of :func:`value_at_risk_table`).
_GROUP_HEADERS: dict[str, str] = {
    "segment": "RFM segment",
    "region": "Region",
    "acquisition_channel": "Acquisition channel",
}


def value_at_risk_table(table: pd.DataFrame, *, currency: str, min_cell_size: int) -> pd.DataFrame:
    """The table of :func:`value_at_risk_by` for the page: groups as index, small counts hidden.

    Transforms one row per group (as from :func:`value_at_risk_by`) into the same rows,
    indexed by the group, as text (:func:`crmlib.formatting.present`): customers, mean
    P(churn), value and value at risk in ``currency``, share of value at risk, High-risk
    customers and how many groups a row holds. The small-cell rule (``min_cell_size``): a
    count from 1 to the limit - 1 reads ``"<10"``. The High-risk customers of the groups add
    up to the High band, whose count the page shows, so when one group's is hidden the next
    smallest is hidden too (``"–"``, :meth:`crmlib.privacy.SmallCells.complement`). A group of
    fewer customers than the limit (only when all of them are) has its mean and amounts
    hidden as well.

    Examples
    --------
    >>> table = pd.DataFrame({"channel": ["web", "shop", "(other)"], "groups": [1, 1, 2],
    ...                       "customers": [40, 25, 12], "mean_p_churn": [0.5, 0.4, 0.6],
    ...                       "value": [400.0, 250.0, 120.0], "value_at_risk": [200.0, 100.0, 72.0],
    ...                       "share_of_value_at_risk": [0.54, 0.27, 0.19],
    ...                       "high_risk_customers": [30, 4, 15]})
    >>> shown = value_at_risk_table(table, currency="EUR", min_cell_size=10)
    >>> shown[["Customers", "High-risk customers"]]  # doctest: +NORMALIZE_WHITESPACE
            Customers High-risk customers
    Channel
    web            40                  30
    shop           25                 <10
    (other)        12                   –
    >>> shown.loc["web", ["Mean P(churn) (%)", "Value at risk (EUR)"]].tolist()
    ['50.0%', '€200']
    """
    rule = SmallCells(min_cell_size)
    by = str(table.columns[0])
    require_columns(
        table, [by, "customers", "high_risk_customers"], table_name="value at risk by group"
    )
    out = rule.hide(table, size="customers", columns=["mean_p_churn", "value", "value_at_risk",
                                                      "share_of_value_at_risk"])  # fmt: skip
    high = table["high_risk_customers"]
    hidden = rule.complement(high.tolist())
    out["high_risk_customers"] = rule.counts(high).where(~hidden | rule.is_small(high), HIDDEN)
    columns = {
        by: Column(_GROUP_HEADERS.get(by, by.replace("_", " ").capitalize())),
        "customers": Column("Customers", "customers"),
        "mean_p_churn": Column("Mean P(churn)", "percent"),
        "value": Column("Customer value", "money"),
        "value_at_risk": Column("Value at risk", "money"),
        "share_of_value_at_risk": Column("Share of value at risk", "percent"),
        "high_risk_customers": Column("High-risk customers", "customers"),
        "groups": Column("Groups", "count"),
    }
    return present(out, columns=columns, index=by, currency=currency, min_cell_size=min_cell_size)


def band_table(summary: pd.DataFrame, *, currency: str, min_cell_size: int) -> pd.DataFrame:
    """The risk bands for the page: one row per band (index), small counts hidden, as text.

    Transforms :func:`band_summary` (Low, Medium, High) into the same rows with the band's
    rule on P(churn), customers, their share of the customers scored, mean P(churn), value
    at risk (in ``currency``) and share of value at risk (:func:`crmlib.formatting.present`).
    The small-cell rule (``min_cell_size``): a band of fewer customers reads ``"<10"`` with
    its share, mean and value at risk ``"–"`` (a band cannot be pooled); the bands add up
    to the customers scored, so when one band is hidden the next smallest is too: its count
    and share read ``"–"`` (:func:`hidden_bands`).

    Examples
    --------
    >>> frame = pd.DataFrame({"p_churn": [0.1] * 30 + [0.5] * 12 + [0.9] * 3,
    ...                       "value": [10.0] * 45})
    >>> table = band_table(band_summary(frame), currency="EUR", min_cell_size=10)
    >>> table[["Customers", "Share of customers (%)"]]  # doctest: +NORMALIZE_WHITESPACE
              Customers Share of customers (%)
    Risk band
    Low              30                  66.7%
    Medium            –                      –
    High            <10                      –
    """
    small, hidden = hidden_bands(summary, min_cell_size=min_cell_size)
    counts = SmallCells(min_cell_size).counts(summary["customers"])
    shown = summary.assign(
        band=summary["band"].astype("str"),
        customers=counts.where(~hidden | small, HIDDEN),
        share=summary["share"].astype("object").where(~hidden, HIDDEN),
        **{
            name: summary[name].astype("object").where(~small, HIDDEN)
            for name in ("mean_p_churn", "value_at_risk", "share_of_value_at_risk")
        },
    )
    columns = {
        "band": Column("Risk band"),
        "threshold": Column("P(churn)"),
        "customers": Column("Customers", "customers"),
        "share": Column("Share of customers", "percent"),
        "mean_p_churn": Column("Mean P(churn)", "percent"),
        "value_at_risk": Column("Value at risk", "money"),
        "share_of_value_at_risk": Column("Share of value at risk", "percent"),
    }
    return present(
        shown, columns=columns, index="band", currency=currency, min_cell_size=min_cell_size
    )


def _signed_points(values: pd.Series) -> pd.Series:
    """Changes in percentage points as text: "+2.1", "−0.4", "±0.0"; missing "–"."""
    return values.astype("float64").map(
        lambda v: (
            HIDDEN
            if not np.isfinite(v)
            else f"{'+' if round(v, 1) > 0 else '−' if round(v, 1) < 0 else '±'}{abs(v):.1f}"
        )
    )


def segment_trend_table(
    trend: pd.DataFrame, *, dimension: str, min_cell_size: int
) -> pd.DataFrame | None:
    """The latest complete period's retention by segment (or channel) for the page, or None.

    Transforms :func:`crmlib.churn.trend.churn_by_segment` into one row per group of
    ``dimension`` with customers (index, in the table's order) for the latest complete period: its customers
    at the start (those who bought in the previous period), retention and churn rate, the 95%
    Wilson interval of retention, and the change in percentage points against the previous
    period and the same period a year earlier (:func:`crmlib.churn.trend.latest_changes`).
    The small-cell rule (``min_cell_size``): a group of fewer customers reads ``"<10"`` and
    every figure ``"–"``; the groups add up to 02_kpis' previous-period customers, so when
    exactly one group is hidden the next smallest count is hidden too (``"–"``). None when
    the split was not computed or no period is complete: :func:`describe_segment_trend` says
    why.

    Examples
    --------
    >>> from crmlib.churn.trend import _grid, trend_cutoffs
    >>> cutoffs = trend_cutoffs("2024-01-01", "2024-03-31")
    >>> counts = pd.DataFrame({"period_start": list(cutoffs["period_start"]) * 2,
    ...     "dimension_value": ["web", "web", "shop", "shop"],
    ...     "base_customers": [100, 120, 50, 40], "retained_customers": [60, 60, 30, 30]})
    >>> trend = _grid(counts, cutoffs, dimension="acquisition_channel", groups=["web", "shop"],
    ...               as_of=dt.date(2024, 3, 31), rule=SmallCells(10))
    >>> trend.attrs = {"notes": {}, "period": "month"}
    >>> table = segment_trend_table(trend, dimension="acquisition_channel", min_cell_size=10)
    >>> table.index.name, list(table.columns)[:3]
    ('Acquisition channel, 2024-03', ['Customers at start', 'Retention (%)', '95% interval (%)'])
    >>> table.loc["web"].tolist()
    ['120', '50.0%', '41.2%–58.8%', '50.0%', '−10.0', '–']
    """
    if _trend_note(trend, dimension):
        return None
    changes = latest_changes(trend, dimension=dimension)
    changes = changes[changes["base_customers"] > 0].reset_index(drop=True)
    if changes.empty:
        return None
    rule = SmallCells(min_cell_size)
    period = str(trend.attrs.get("period", "period"))
    label = str(changes["period_label"].iloc[0])
    masked = changes["masked"].to_numpy(dtype=bool)
    base = changes["base_customers"]
    hidden = rule.complement(base.tolist())
    interval = [
        HIDDEN if not np.isfinite(low) else f"{100 * low:.1f}%–{100 * high:.1f}%"
        for low, high in zip(changes["retention_lower"], changes["retention_upper"], strict=True)
    ]
    shown = changes.assign(
        base_customers=rule.counts(base).where(~hidden | rule.is_small(base), HIDDEN),
        interval=interval,
        change_previous=_signed_points(changes["change_previous_pp"]).where(~masked, HIDDEN),
        change_year=_signed_points(changes["change_year_pp"]).where(~masked, HIDDEN),
    )
    header = _GROUP_HEADERS.get(dimension, dimension.replace("_", " ").capitalize())
    columns = {
        "dimension_value": Column(f"{header}, {label}"),
        "base_customers": Column("Customers at start", "customers"),
        "retention_rate": Column("Retention", "percent"),
        "interval": Column("95% interval", unit="%"),
        "churn_rate": Column("Churn", "percent"),
        "change_previous": Column(f"Change vs previous {period}", unit="pp"),
        "change_year": Column("Change vs a year earlier", unit="pp"),
    }
    return present(shown, columns=columns, index="dimension_value", min_cell_size=min_cell_size)
