"""Holdout charts of churn scorers: ROC curves, calibration (reliability) and cumulative gains."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from crmlib.checks import require_columns
from crmlib.churn._scorecard import _check_labels, _check_scores
from crmlib.plotting import percent_axis

__all__ = ["plot_roc", "plot_calibration", "plot_gains"]

log = logging.getLogger(__name__)


def _reference(ax: plt.Axes, label: str) -> None:
    """The grey dashed diagonal of a random ranking, perfect calibration or random targeting."""
    ax.plot([0, 1], [0, 1], color="0.55", linestyle="--", linewidth=1.0, label=label)


def _square(ax: plt.Axes) -> None:
    """Both axes 0-100% with percentage ticks."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    percent_axis(ax, axis="x")
    percent_axis(ax, axis="y")


def plot_roc(
    labels: ArrayLike, scores: Mapping[str, ArrayLike], *, ax: plt.Axes | None = None
) -> plt.Axes:
    """ROC curve of each scorer on the holdout, with its AUC in the legend.

    Reads the labels (one per customer, 1 = churned) and scores (scorer -> score per
    customer, same customers); draws the share of churners flagged against the share of
    stayers flagged as the score threshold falls, and the diagonal of a random ranking.

    Examples
    --------
    >>> ax = plot_roc([0, 1, 0, 1, 1, 0], {"model": [0.1, 0.8, 0.3, 0.6, 0.4, 0.5]})
    >>> ax.get_title()
    'ROC curves: how well each score ranks churners above stayers (holdout)'
    >>> plt.close(ax.figure)
    """
    y = _check_labels(labels)
    checked = _check_scores(scores, y.size)
    ax = ax or plt.gca()
    for name, values in checked.items():
        false_positive, true_positive, _ = roc_curve(y, values)
        auc = roc_auc_score(y, values)
        ax.plot(false_positive, true_positive, label=f"{name} (AUC {auc:.2f})", linewidth=1.8)
    _reference(ax, "random ranking (AUC 0.50)")
    _square(ax)
    ax.set(
        title="ROC curves: how well each score ranks churners above stayers (holdout)",
        xlabel="Stayers flagged (false positive rate, %)",
        ylabel="Churners flagged (true positive rate, %)",
    )
    ax.legend(loc="lower right")
    return ax


def plot_calibration(table: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Reliability diagram: observed churn rate against mean predicted probability per bin.

    Reads a :func:`crmlib.churn._scorecard.calibration_table` (one row per scorer and bin);
    a calibrated scorer lies on the diagonal, above it churn is underestimated.

    Examples
    --------
    >>> table = pd.DataFrame({"scorer": ["model"] * 3, "bin": [1, 2, 3],
    ...                       "mean_predicted": [0.1, 0.4, 0.8],
    ...                       "observed_rate": [0.12, 0.35, 0.85], "n": [50, 50, 50]})
    >>> ax = plot_calibration(table)
    >>> ax.get_xlabel()
    'Predicted churn probability (bin mean, %)'
    >>> plt.close(ax.figure)
    """
    require_columns(table, ["scorer", "mean_predicted", "observed_rate"],
                    table_name="calibration table")  # fmt: skip
    ax = ax or plt.gca()
    for name, rows in table.groupby("scorer", sort=False):
        ax.plot(rows["mean_predicted"], rows["observed_rate"], marker="o", linewidth=1.5,
                label=str(name))  # fmt: skip
    _reference(ax, "perfect calibration")
    _square(ax)
    ax.set(
        title="Calibration: predicted churn probability vs observed churn rate (holdout)",
        xlabel="Predicted churn probability (bin mean, %)",
        ylabel="Observed churn rate (%)",
    )
    if len(table):
        ax.legend(loc="upper left")
    return ax


def plot_gains(table: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Cumulative gains: share of churners reached when contacting the highest risk first.

    Reads a :func:`crmlib.churn._scorecard.gains_table` (one row per scorer and decile);
    the diagonal is random targeting (contacting 30% of customers reaches 30% of churners).

    Examples
    --------
    >>> table = pd.DataFrame({"scorer": ["model"] * 2, "decile": [1, 2],
    ...                       "share_targeted": [0.5, 1.0], "captured_share": [0.8, 1.0],
    ...                       "lift": [1.6, 1.0]})
    >>> ax = plot_gains(table)
    >>> ax.get_ylabel()
    'Churners reached (cumulative, %)'
    >>> plt.close(ax.figure)
    """
    require_columns(table, ["scorer", "share_targeted", "captured_share"],
                    table_name="gains table")  # fmt: skip
    ax = ax or plt.gca()
    for name, rows in table.groupby("scorer", sort=False):
        rows = rows.sort_values("share_targeted")
        x = np.r_[0.0, rows["share_targeted"].to_numpy(dtype="float64")]
        y = np.r_[0.0, rows["captured_share"].to_numpy(dtype="float64")]
        ax.plot(x, y, marker="o", markersize=4, linewidth=1.8, label=str(name))
    _reference(ax, "random targeting")
    _square(ax)
    ax.set(
        title="Cumulative gains: churners reached by contacting the highest risk first",
        xlabel="Customers contacted, highest risk first (%)",
        ylabel="Churners reached (cumulative, %)",
    )
    ax.legend(loc="lower right")
    return ax
