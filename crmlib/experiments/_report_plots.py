"""Charts of A/B test results: lifts with CIs, segment forests, cumulative purchase curves."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from crmlib.checks import require_columns

__all__ = ["plot_lift", "plot_lifts", "plot_segment_forest", "plot_cumulative_outcome", "no_data"]

log = logging.getLogger(__name__)

_EFFECT_COLUMNS = [
    "experiment_id",
    "variant",
    "metric",
    "segment_col",
    "segment",
    "abs_diff",
    "abs_ci_low",
    "abs_ci_high",
    "metric_kind",
]


def no_data(ax: plt.Axes, message: str, *, title: str) -> plt.Axes:
    """An empty chart that says why it is empty (a section with nothing to show)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set(title=title, xticks=[], yticks=[])
    return ax


def _scaled(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference and CI, binary metrics in percentage points (x 100)."""
    scale = np.where(rows["metric_kind"].astype(str).to_numpy() == "binary", 100.0, 1.0)
    return tuple(  # type: ignore[return-value]
        rows[column].to_numpy(np.float64) * scale
        for column in ("abs_diff", "abs_ci_low", "abs_ci_high")
    )


def _interval_chart(ax: plt.Axes, labels: list[str], rows: pd.DataFrame) -> None:
    """Horizontal points with CI whiskers, first row on top."""
    diff, low, high = _scaled(rows)
    positions = np.arange(len(labels))[::-1]
    errors = np.vstack([diff - low, high - diff])
    ax.errorbar(diff, positions, xerr=errors, fmt="o", capsize=3)
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_yticks(positions, labels)


def plot_lift(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Effect of every variant on every metric against control, with its CI, one row each.

    Reads the overall rows of :func:`crmlib.experiments.analyze_experiment` (segment rows
    are left out). Binary metrics are shown in percentage points, the others in their own
    units; the tick label says which.

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment`.
    metrics : sequence of str, optional
        The metrics to show, in this order; default all.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a zero line.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email",
    ...     "metric": ["repurchase", "net_revenue"], "segment_col": None, "segment": None,
    ...     "abs_diff": [0.05, 2.0], "abs_ci_low": [0.01, -1.0], "abs_ci_high": [0.09, 5.0],
    ...     "metric_kind": ["binary", "continuous"],
    ... })
    >>> fig, ax = plt.subplots()
    >>> plot_lift(results, ax=ax).get_title()
    'Effect of each variant against control, by metric'
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['repurchase (points): email', 'net_revenue: email']
    >>> plt.close(fig)
    """
    require_columns(results, _EFFECT_COLUMNS, table_name="results")
    ax = ax or plt.gca()
    rows = results[results["segment_col"].isna()]
    title = "Effect of each variant against control, by metric"
    if rows.empty:
        return no_data(ax, "No effect was estimated.", title=title)
    if metrics is not None:
        order = {metric: position for position, metric in enumerate(metrics)}
        rows = rows[rows["metric"].isin(list(metrics))]
        rows = rows.assign(_order=rows["metric"].map(order)).sort_values(
            ["_order", "experiment_id", "variant"], kind="stable"
        )
    several = rows["experiment_id"].nunique() > 1
    labels = [
        f"{metric}{' (points)' if kind == 'binary' else ''}: "
        f"{f'{experiment} / ' if several else ''}{variant}"
        for experiment, variant, metric, kind in zip(
            rows["experiment_id"], rows["variant"], rows["metric"], rows["metric_kind"], strict=True
        )
    ]
    _interval_chart(ax, labels, rows)
    ax.set(
        title=title,
        xlabel="Difference vs control (binary metrics in percentage points, others in their units)",
        ylabel="Metric: variant",
    )
    return ax


def plot_segment_forest(
    results: pd.DataFrame, *, metric: str, ax: plt.Axes | None = None
) -> plt.Axes:
    """Forest plot of one metric's effect in every segment, the overall effect as a reference.

    One row per segment row of ``metric`` in :func:`crmlib.experiments.analyze_experiment`
    (difference and CI, percentage points for a binary metric); a dashed vertical line per
    variant marks its overall effect.

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment` with ``segment_cols``.
    metric : str
        The metric to show.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.

    Returns
    -------
    matplotlib Axes
        With a title naming the metric, labelled axes and a zero line.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email", "metric": "repurchase",
    ...     "segment_col": [None, "region", "region"], "segment": [None, "North", "South"],
    ...     "abs_diff": [0.05, 0.02, 0.08], "abs_ci_low": [0.01, -0.03, 0.02],
    ...     "abs_ci_high": [0.09, 0.07, 0.14], "metric_kind": "binary",
    ... })
    >>> fig, ax = plt.subplots()
    >>> plot_segment_forest(results, metric="repurchase", ax=ax).get_title()
    'Effect on repurchase by segment'
    >>> plt.close(fig)
    """
    require_columns(results, _EFFECT_COLUMNS, table_name="results")
    ax = ax or plt.gca()
    of_metric = results[results["metric"] == metric]
    segments = of_metric[of_metric["segment_col"].notna()]
    if segments.empty:
        return no_data(
            ax, f"No segment breakdown of {metric}.", title=f"Effect on {metric} by segment"
        )
    several = of_metric["experiment_id"].nunique() > 1
    variants = of_metric["variant"].nunique() > 1
    labels = [
        f"{column} = {level}"
        + (f" ({f'{experiment} / ' if several else ''}{variant})" if several or variants else "")
        for experiment, variant, column, level in zip(
            segments["experiment_id"],
            segments["variant"],
            segments["segment_col"],
            segments["segment"],
            strict=True,
        )
    ]
    _interval_chart(ax, labels, segments)
    overall = of_metric[of_metric["segment_col"].isna()]
    diff = _scaled(overall)[0]
    for position, (experiment, variant) in enumerate(
        zip(overall["experiment_id"], overall["variant"], strict=True)
    ):
        name = f"{experiment} / {variant}" if several else str(variant)
        ax.axvline(
            diff[position],
            color=f"C{position + 1}",
            linestyle="--",
            linewidth=1,
            label=f"overall: {name}",
        )
    if len(overall):
        ax.legend(fontsize="small")
    binary = bool((of_metric["metric_kind"].astype(str) == "binary").any())
    ax.set(
        title=f"Effect on {metric} by segment",
        xlabel=f"Difference in {metric} vs control"
        + (" (percentage points)" if binary else " (metric units)"),
        ylabel="Segment",
    )
    return ax


def plot_cumulative_outcome(table: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of customers with a first purchase by each day since assignment, one line per arm.

    Parameters
    ----------
    table : pd.DataFrame
        As returned by :func:`crmlib.experiments.cumulative_outcome`.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a percent y axis.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "variant": ["control"] * 2 + ["email"] * 2,
    ...                       "day": [0, 1, 0, 1], "share": [0.0, 0.1, 0.0, 0.2]})
    >>> fig, ax = plt.subplots()
    >>> plot_cumulative_outcome(table, ax=ax).get_ylabel()
    'Customers with a purchase'
    >>> plt.close(fig)
    """
    require_columns(table, ["experiment_id", "variant", "day", "share"], table_name="cumulative")
    ax = ax or plt.gca()
    title = "First purchase after assignment by day, by variant"
    if table.empty:
        return no_data(ax, "Time to first purchase is not known.", title=title)
    several = table["experiment_id"].nunique() > 1
    for (experiment, variant), rows in table.groupby(["experiment_id", "variant"], sort=True):
        label = f"{experiment}: {variant}" if several else str(variant)
        ax.step(rows["day"], rows["share"], where="post", label=label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set(
        title=title,
        xlabel="Days since assignment",
        ylabel="Customers with a purchase",
    )
    if len(table):
        ax.legend(fontsize="small")
    return ax


def plot_lifts(
    results: pd.DataFrame, *, metrics: Sequence[str] | None = None, columns: int = 2
) -> plt.Figure:
    """One lift-with-CI panel per metric (each on its own scale), for the report.

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment`.
    metrics : sequence of str, optional
        The metrics, in this order; default every metric of the overall rows.
    columns : int, default 2
        Panels per row.

    Returns
    -------
    matplotlib Figure
        One :func:`plot_lift` panel per metric; a single "no effect" panel without any.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email",
    ...     "metric": ["repurchase", "net_revenue"], "segment_col": None, "segment": None,
    ...     "abs_diff": [0.05, 2.0], "abs_ci_low": [0.01, -1.0], "abs_ci_high": [0.09, 5.0],
    ...     "metric_kind": ["binary", "continuous"],
    ... })
    >>> figure = plot_lifts(results)
    >>> [ax.get_title() for ax in figure.axes]
    ['repurchase', 'net_revenue']
    >>> plt.close(figure)
    """
    require_columns(results, _EFFECT_COLUMNS, table_name="results")
    overall = results[results["segment_col"].isna()]
    shown = list(metrics) if metrics is not None else list(pd.unique(overall["metric"]))
    shown = [metric for metric in shown if (overall["metric"] == metric).any()]
    if not shown:
        figure, ax = plt.subplots(figsize=(8, 3))
        plot_lift(overall, ax=ax)
        return figure
    rows = -(-len(shown) // columns)
    width = min(columns, len(shown))
    figure, axes = plt.subplots(
        rows,
        width,
        figsize=(7 * width, 1.2 + 1.1 * rows * max(1, overall["variant"].nunique())),
        squeeze=False,
    )
    for ax, metric in zip(axes.ravel(), shown, strict=False):
        of_metric = overall[overall["metric"] == metric]
        several = of_metric["experiment_id"].nunique() > 1
        labels = [
            f"{experiment} / {variant}" if several else str(variant)
            for experiment, variant in zip(
                of_metric["experiment_id"], of_metric["variant"], strict=True
            )
        ]
        _interval_chart(ax, labels, of_metric)
        binary = bool((of_metric["metric_kind"].astype(str) == "binary").any())
        ax.set(
            title=metric,
            xlabel="Difference vs control" + (" (percentage points)" if binary else " (units)"),
            ylabel="",
        )
    for ax in axes.ravel()[len(shown) :]:
        ax.set_visible(False)
    figure.suptitle("Effect of each variant against control, with 95% CI")
    figure.tight_layout()
    return figure
