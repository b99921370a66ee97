"""Charts of churn drivers: permutation importance bars and partial-dependence small multiples."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from crmlib.checks import require_columns
from crmlib.plotting import PALETTE, percent_axis

__all__ = ["plot_importance", "plot_partial_dependence"]

log = logging.getLogger(__name__)

#: Panels per row of :func:`plot_partial_dependence`.
_COLUMNS = 3


def _feature_label(feature: str) -> str:
    """``recency_days`` -> ``'Recency (days)'``, ``orders_90d`` -> ``'Orders 90d'``."""
    words = feature.replace("_", " ")
    for suffix, unit in ((" days", "days"), (" years", "years")):
        if words.endswith(suffix):
            return f"{words[: -len(suffix)].capitalize()} ({unit})"
    if words.endswith((" share", " rate")) or " rate " in words:
        return f"{words.capitalize()} (share)"
    return words.capitalize()


def plot_importance(table: pd.DataFrame, *, top: int = 10, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of the ``top`` most important features, most important on top.

    Reads *table* (one row per feature, as from
    :func:`crmlib.churn._drivers.permutation_importance_table`); bars are the mean drop in
    ROC AUC when the feature is shuffled, whiskers one standard deviation over the repeats.

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["recency_days", "region"],
    ...                       "importance_mean": [0.12, 0.01], "importance_sd": [0.01, 0.005]})
    >>> ax = plot_importance(table)
    >>> ax.get_title(), [t.get_text() for t in ax.get_yticklabels()]
    ('What drives the churn model: permutation importance', ['Region', 'Recency (days)'])
    >>> plt.close(ax.figure)
    """
    require_columns(
        table, ["feature", "importance_mean", "importance_sd"], table_name="importance table"
    )
    ax = ax or plt.gca()
    shown = table.sort_values("importance_mean", ascending=False, kind="stable").head(int(top))
    shown = shown.iloc[::-1]  # barh draws bottom-up: the most important ends on top
    positions = np.arange(len(shown))
    ax.barh(
        positions,
        shown["importance_mean"].to_numpy(dtype="float64"),
        xerr=shown["importance_sd"].to_numpy(dtype="float64"),
        color=PALETTE[0],
        ecolor=PALETTE[7],
        capsize=3,
    )
    ax.set_yticks(positions, [_feature_label(str(f)) for f in shown["feature"]])
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set(
        title="What drives the churn model: permutation importance",
        xlabel="Drop in ROC AUC when the feature is shuffled (AUC points, 0-1 scale)",
        ylabel="Feature",
    )
    return ax


def plot_partial_dependence(
    table: pd.DataFrame, *, features: Sequence[str], fig: Figure | None = None
) -> Figure:
    """Small multiples: mean predicted churn probability across each feature's values.

    Reads *table* (one row per feature and grid value, as from
    :func:`crmlib.churn._drivers.partial_dependence_table`) and draws one panel per feature
    of ``features`` (three per row): a line over the grid for a numeric feature, bars per
    level for a categorical one; y is the mean P(churn) as a percentage. A feature absent
    from ``table`` gets an empty panel saying so.

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["recency_days"] * 3 + ["region"] * 2,
    ...                       "value": pd.Series([0.0, 50.0, 100.0, "n", "s"], dtype=object),
    ...                       "kind": ["numeric"] * 3 + ["categorical"] * 2,
    ...                       "mean_p_churn": [0.1, 0.2, 0.4, 0.2, 0.3]})
    >>> fig = plot_partial_dependence(table, features=["recency_days", "region"])
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['Recency (days)', 'Region']
    >>> plt.close(fig)
    """
    require_columns(
        table, ["feature", "value", "kind", "mean_p_churn"], table_name="partial dependence table"
    )
    features = [features] if isinstance(features, str) else list(features)
    if not features:
        raise ValueError("features is empty: expected at least one feature to plot")
    n_columns = min(_COLUMNS, len(features))
    n_rows = math.ceil(len(features) / n_columns)
    fig = fig or plt.figure(figsize=(4.2 * n_columns, 3.2 * n_rows))
    axes = fig.subplots(n_rows, n_columns, squeeze=False, sharey=True).ravel()
    for ax, feature in zip(axes, features, strict=False):
        part = table[table["feature"] == feature]
        if part.empty:
            ax.text(0.5, 0.5, "not in the table", ha="center", va="center", transform=ax.transAxes)
        elif str(part["kind"].iloc[0]) == "numeric":
            ax.plot(
                part["value"].to_numpy(dtype="float64"),
                part["mean_p_churn"].to_numpy(dtype="float64"),
                marker="o",
                markersize=3,
                color=PALETTE[0],
            )
        else:
            levels = [str(v) for v in part["value"]]
            ax.bar(levels, part["mean_p_churn"].to_numpy(dtype="float64"), color=PALETTE[0])
            ax.tick_params(axis="x", labelrotation=30)
        percent_axis(ax)
        ax.set(title=_feature_label(feature), xlabel=_feature_label(feature))
        ax.set_ylabel("Mean P(churn)")
    for ax in axes[len(features) :]:
        ax.remove()
    fig.suptitle("Predicted churn risk across each feature's values (partial dependence)")
    return fig
