"""Charts of A/B test results: lifts with CIs, segment forests, purchase and survival curves.

Every chart applies the small-cell rule (:mod:`crmlib.privacy`, ``min_cell_size``): a
comparison with an arm of 1..k-1 customers, or a point computed on that few customers, is not
drawn, and a caption under the chart says so in words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from crmlib.checks import require_columns
from crmlib.experiments.models.small_cells import small_arms
from crmlib.experiments.text import _names
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "plot_lift",
    "plot_lifts",
    "plot_segment_forest",
    "plot_cumulative_outcome",
    "plot_time_to_purchase",
    "no_data",
    "caption",
]

log = logging.getLogger(__name__)


_EFFECT_COLUMNS = [
    "experiment_id",
    "variant",
    "metric",
    "segment_col",
    "segment",
    "n",
    "n_control",
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


def caption(ax: plt.Axes, text: str) -> plt.Axes:
    """Words under a chart, below its x label: what the chart leaves out and why."""
    ax.annotate(
        text, xy=(0.0, 0.0), xycoords="axes fraction", xytext=(0, -48),
        textcoords="offset points", ha="left", va="top", fontsize="small", color="#5f6b73",
        wrap=True,
    )  # fmt: skip
    return ax


def _too_small(min_cell_size: int) -> str:
    return f"an arm of fewer than {min_cell_size:,} customers"


def _comparison_label(experiment: object, variant: object, several: bool) -> str:
    return f"{experiment} / {variant}" if several else str(variant)


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
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Effect of every variant on every metric against control, with its CI, one row each.

    Reads the overall rows of :func:`crmlib.experiments.analyze_experiment` (segment rows
    are left out). Binary metrics are shown in percentage points, the others in their own
    units; the tick label says which. A variant whose arm or control arm holds
    1..``min_cell_size`` - 1 customers is not drawn; the caption names it.

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment`.
    metrics : sequence of str, optional
        The metrics to show, in this order; default all.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a zero line.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email",
    ...     "metric": ["repurchase", "net_revenue"], "segment_col": None, "segment": None,
    ...     "n": 500, "n_control": 480,
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
    small, left_out = _small_comparisons(rows, min_cell_size)
    several = rows["experiment_id"].nunique() > 1
    rows = rows[~small]
    if rows.empty:
        return no_data(
            ax, f"No effect is drawn: every variant has {_too_small(min_cell_size)}.", title=title
        )
    if metrics is not None:
        order = {metric: position for position, metric in enumerate(metrics)}
        rows = rows[rows["metric"].isin(list(metrics))]
        rows = rows.assign(_order=rows["metric"].map(order)).sort_values(
            ["_order", "experiment_id", "variant"], kind="stable"
        )
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
    if left_out:
        caption(ax, f"Not drawn: {left_out} ({_too_small(min_cell_size)}).")
    return ax


def plot_segment_forest(
    results: pd.DataFrame,
    *,
    metric: str,
    ax: plt.Axes | None = None,
    left_out: pd.DataFrame | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Forest plot of one metric's effect in every segment, the overall effect as a reference.

    One row per segment row of ``metric`` in :func:`crmlib.experiments.analyze_experiment`
    (difference and CI, percentage points for a binary metric); a dashed vertical line per
    variant marks its overall effect. A segment row whose variant or control arm holds
    1..``min_cell_size`` - 1 customers is not drawn, nor are the rows of ``left_out`` (the
    keys of segment rows already left out of ``results``,
    :attr:`crmlib.experiments.AbAnalysis.segments_left_out`); a caption names them.

    Parameters
    ----------
    results : pd.DataFrame
        As returned by :func:`crmlib.experiments.analyze_experiment` with ``segment_cols``.
    metric : str
        The metric to show.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.
    left_out : pd.DataFrame, optional
        experiment_id, variant, metric, segment_col, segment of segment rows not in
        ``results`` because an arm was too small.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.

    Returns
    -------
    matplotlib Axes
        With a title naming the metric, labelled axes and a zero line.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": "email", "metric": "repurchase",
    ...     "segment_col": [None, "region", "region"], "segment": [None, "North", "South"],
    ...     "n": [500, 260, 240], "n_control": [480, 250, 230],
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
    title = f"Effect on {metric} by segment"
    of_metric = results[results["metric"] == metric]
    segments = of_metric[of_metric["segment_col"].notna()]
    small = small_arms(segments, SmallCells(min_cell_size))
    hidden = segments[small]
    if left_out is not None and len(left_out):
        require_columns(
            left_out,
            ["experiment_id", "variant", "metric", "segment_col", "segment"],
            table_name="left_out",
        )
        hidden = pd.concat([hidden, left_out[left_out["metric"] == metric]], ignore_index=True)
    segments = segments[~small]
    several = of_metric["experiment_id"].nunique() > 1
    variants = pd.concat([of_metric["variant"], hidden["variant"]]).nunique() > 1

    def label(experiment: object, variant: object, column: object, level: object) -> str:
        arm = f" ({f'{experiment} / ' if several else ''}{variant})" if several or variants else ""
        return f"{column} = {level}{arm}"

    groups: dict[tuple[object, object, object], list[str]] = {}
    for experiment, variant, column, level in zip(
        hidden["experiment_id"], hidden["variant"], hidden["segment_col"], hidden["segment"],
        strict=True,
    ):  # fmt: skip
        groups.setdefault((experiment, variant, column), []).append(str(level))
    not_drawn = "; ".join(
        label(experiment, variant, column, _names(levels))
        for (experiment, variant, column), levels in groups.items()
    )
    if segments.empty:
        message = f"No segment breakdown of {metric}."
        if not_drawn:
            message = (
                f"No segment of {metric} is drawn: every segment has "
                f"{_too_small(min_cell_size)} ({not_drawn})."
            )
        return no_data(ax, message, title=title)
    labels = [
        label(*keys)
        for keys in zip(
            segments["experiment_id"], segments["variant"], segments["segment_col"],
            segments["segment"], strict=True,
        )
    ]  # fmt: skip
    _interval_chart(ax, labels, segments)
    overall = of_metric[of_metric["segment_col"].isna()]
    overall = overall[~small_arms(overall, SmallCells(min_cell_size))]
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
        title=title,
        xlabel=f"Difference in {metric} vs control"
        + (" (percentage points)" if binary else " (metric units)"),
        ylabel="Segment",
    )
    if not_drawn:
        caption(ax, f"Not drawn: {not_drawn} ({_too_small(min_cell_size)}).")
    return ax


def plot_cumulative_outcome(
    table: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Share of customers with a first purchase by each day since assignment, one line per arm.

    The small-cell rule (``min_cell_size``): an arm of 1..k-1 customers is not drawn, nor a
    day's share computed on 1..k-1 customers still observed that day; a caption says so.

    Parameters
    ----------
    table : pd.DataFrame
        As returned by :func:`crmlib.experiments.cumulative_outcome`.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a percent y axis.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment_id": "e", "variant": ["control"] * 2 + ["email"] * 2,
    ...                       "day": [0, 1, 0, 1], "customers": [40, 40, 6, 6],
    ...                       "share": [0.0, 0.1, 0.0, 0.2]})
    >>> fig, ax = plt.subplots()
    >>> plot_cumulative_outcome(table, ax=ax).get_ylabel()
    'Customers with a purchase'
    >>> [line.get_label() for line in ax.get_lines()]
    ['control']
    >>> plt.close(fig)
    """
    require_columns(
        table, ["experiment_id", "variant", "day", "customers", "share"], table_name="cumulative"
    )
    ax = ax or plt.gca()
    title = "First purchase after assignment by day, by variant"
    if table.empty:
        return no_data(ax, "Time to first purchase is not known.", title=title)
    rule = SmallCells(min_cell_size)
    several = table["experiment_id"].nunique() > 1
    shown = rule.hide(table, size="customers", columns=["share"])
    left_out: list[str] = []
    cut = False
    for (experiment, variant), rows in shown.groupby(["experiment_id", "variant"], sort=True):
        label = f"{experiment}: {variant}" if several else str(variant)
        if rule.is_small(rows["customers"].max()):
            left_out.append(label)
            continue
        cut = cut or bool(rule.is_small(rows["customers"].to_numpy()).any())
        ax.step(rows["day"], rows["share"], where="post", label=label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set(
        title=title,
        xlabel="Days since assignment",
        ylabel="Customers with a purchase",
    )
    if ax.get_lines():
        ax.legend(fontsize="small")
    words = []
    if left_out:
        words.append(f"Not drawn: {_names(left_out)} (fewer than {min_cell_size:,} customers).")
    if cut:
        words.append(
            f"Days on which fewer than {min_cell_size:,} customers of an arm were observed are "
            "not drawn."
        )
    if words:
        caption(ax, " ".join(words))
    return ax


def _small_comparisons(rows: pd.DataFrame, min_cell_size: int) -> tuple[pd.Series, str]:
    """Which overall effect rows have an arm under the limit, and their names for a caption."""
    small = small_arms(rows, SmallCells(min_cell_size))
    several = rows["experiment_id"].nunique() > 1
    names = [
        _comparison_label(experiment, variant, several)
        for experiment, variant in zip(
            rows["experiment_id"][small], rows["variant"][small], strict=True
        )
    ]
    return small, _names(names)


def plot_lifts(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    columns: int = 2,
    min_cell_size: int = MIN_CELL_SIZE,
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
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: a variant whose arm or control arm holds 1..k-1 customers
        is not drawn, and the figure's caption names it.

    Returns
    -------
    matplotlib Figure
        One :func:`plot_lift` panel per metric; a single panel saying why without any.

    Examples
    --------
    >>> results = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": ["email"] * 2 + ["sms"] * 2,
    ...     "metric": ["repurchase", "net_revenue"] * 2, "segment_col": None, "segment": None,
    ...     "n": [500, 500, 6, 6], "n_control": 480,
    ...     "abs_diff": [0.05, 2.0] * 2, "abs_ci_low": [0.01, -1.0] * 2,
    ...     "abs_ci_high": [0.09, 5.0] * 2, "metric_kind": ["binary", "continuous"] * 2,
    ... })
    >>> figure = plot_lifts(results)
    >>> [ax.get_title() for ax in figure.axes]
    ['repurchase', 'net_revenue']
    >>> [label.get_text() for label in figure.axes[0].get_yticklabels()]
    ['email']
    >>> figure.get_supxlabel()
    'Not drawn: sms (an arm of fewer than 10 customers).'
    >>> plt.close(figure)
    """
    require_columns(results, _EFFECT_COLUMNS, table_name="results")
    overall = results[results["segment_col"].isna()]
    small, left_out = _small_comparisons(overall, min_cell_size)
    several = overall["experiment_id"].nunique() > 1
    drawn = overall[~small]
    shown = list(metrics) if metrics is not None else list(pd.unique(drawn["metric"]))
    shown = [metric for metric in shown if (drawn["metric"] == metric).any()]
    if not shown:
        figure, ax = plt.subplots(figsize=(8, 3))
        plot_lift(overall, ax=ax, min_cell_size=min_cell_size)
        return figure
    rows = -(-len(shown) // columns)
    width = min(columns, len(shown))
    figure, axes = plt.subplots(
        rows,
        width,
        figsize=(7 * width, 1.2 + 1.1 * rows * max(1, drawn["variant"].nunique())),
        squeeze=False,
    )
    for ax, metric in zip(axes.ravel(), shown, strict=False):
        of_metric = drawn[drawn["metric"] == metric]
        labels = [
            _comparison_label(experiment, variant, several)
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
    if left_out:
        figure.supxlabel(
            f"Not drawn: {left_out} ({_too_small(min_cell_size)}).",
            fontsize="small",
            color="#5f6b73",
        )
    figure.tight_layout()
    return figure


def plot_time_to_purchase(
    curves: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Step chart of the share of customers not yet purchased, one line per experiment x variant.

    The small-cell rule (``min_cell_size``): an arm of 1..k-1 customers is not drawn, and a
    line stops before the first day on which fewer than k of its customers were still at
    risk (a step there would be a rate on that few customers); a caption under the chart says
    what was left out.

    Parameters
    ----------
    curves : pd.DataFrame
        As returned by :func:`time_to_purchase_curves`.
    ax : matplotlib Axes, optional
        Where to draw; default the current axes.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``.

    Returns
    -------
    matplotlib Axes
        With a title, labelled axes and a percent y axis.

    Examples
    --------
    >>> curves = pd.DataFrame({
    ...     "experiment_id": "winback", "variant": ["control", "email"], "day": [3.0, 2.0],
    ...     "at_risk": [10, 10], "events": [1, 2], "survival": [0.9, 0.8],
    ...     "customers": [10, 10],
    ... })
    >>> fig, ax = plt.subplots()
    >>> plot_time_to_purchase(curves, ax=ax).get_title()
    'Time to first purchase after assignment, by variant'
    >>> plt.close(fig)
    """
    require_columns(
        curves,
        ["experiment_id", "variant", "day", "at_risk", "survival", "customers"],
        table_name="curves",
    )
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
    several = curves["experiment_id"].nunique() > 1
    left_out: list[str] = []
    cut = False
    for (experiment, variant), rows in curves.groupby(["experiment_id", "variant"], sort=True):
        label = f"{experiment}: {variant}" if several else str(variant)
        if rule.is_small(rows["customers"].iloc[0]):
            left_out.append(label)
            continue
        # the line stops at the first step whose risk set is small
        reported = np.cumprod(~rule.is_small(rows["at_risk"].to_numpy())).astype(bool)
        cut = cut or not reported.all()
        days = np.concatenate([[0.0], rows["day"].to_numpy(np.float64)[reported]])
        survival = np.concatenate([[1.0], rows["survival"].to_numpy(np.float64)[reported]])
        ax.step(days, survival, where="post", label=label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set(
        title="Time to first purchase after assignment, by variant",
        xlabel="Days since assignment",
        ylabel="Customers without a purchase yet",
    )
    if ax.get_lines():
        ax.legend(fontsize="small")
    words = []
    if left_out:
        words.append(f"Not drawn: {_names(left_out)} (fewer than {min_cell_size:,} customers).")
    if cut:
        words.append(
            f"A line stops where fewer than {min_cell_size:,} of its customers were still "
            "without a purchase and observed."
        )
    if words:
        caption(ax, " ".join(words))
    return ax
