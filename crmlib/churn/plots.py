"""06_churn's charts: holdout curves, drivers, risk bands, value at risk and the contact curve.

Each chart takes the table built in :mod:`crmlib.churn.models` and an axis (partial
dependence: one axis per feature), and returns what it drew on. No chart shows a customer id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import MaxNLocator, MultipleLocator
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from crmlib.checks import require_columns
from crmlib.churn.models.scorecard import (
    HoldoutScores,
    _check_labels,
    _check_scores,
    calibration_table,
    gains_table,
)
from crmlib.churn.models.value import hidden_bands
from crmlib.churn.text import _trend_note, describe_dependence, describe_importance
from crmlib.formatting import format_money
from crmlib.plotting import PALETTE, money_axis, note_on_axes, percent_axis
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = [
    "plot_dependence_grid",
    "plot_holdout",
    "plot_roc",
    "plot_calibration",
    "plot_gains",
    "plot_importance",
    "plot_partial_dependence",
    "plot_value_at_risk_by",
    "plot_risk_bands",
    "plot_contact_curve",
    "plot_segment_trend",
]

log = logging.getLogger(__name__)

#: Band colours, Low to High: green, orange, red of the house palette.
_BAND_COLORS = {"Low": PALETTE[2], "Medium": PALETTE[1], "High": PALETTE[3]}


def _reference(ax: plt.Axes, label: str) -> None:
    """The grey dashed diagonal of a random ranking, perfect calibration or random targeting."""
    ax.plot([0, 1], [0, 1], color="0.55", linestyle="--", linewidth=1.0, label=label)


def _square(ax: plt.Axes) -> None:
    """Both axes 0-100% with percentage ticks."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    percent_axis(ax, axis="x")
    percent_axis(ax, axis="y")


def plot_holdout(holdout: HoldoutScores, *, min_cell_size: int = MIN_CELL_SIZE) -> Figure:
    """The holdout's three charts side by side: ROC curves, calibration and gains.

    They compare churners with stayers; a holdout of a single class (every customer churned,
    or none) has nothing to compare, and the figure says so in words instead (the count under
    the small-cell rule), so that the notebook goes on.

    Examples
    --------
    >>> holdout = HoldoutScores(labels=np.array([1.0, 1.0]), scores={"model": np.array([.9, .8])},
    ...                         probabilities={"model": np.array([.9, .8])}, notes=())
    >>> figure = plot_holdout(holdout)
    >>> " ".join(figure.axes[1].texts[0].get_text().split())
    'Every customer of the holdout (fewer than 10 customers) churned: ROC, calibration and gains charts need both churners and stayers.'
    >>> plt.close(figure)
    """
    figure, axes = plt.subplots(1, 3, figsize=(18, 5))
    labels = np.asarray(holdout.labels, dtype="float64")
    churners = int(np.nansum(labels))
    if labels.size == 0 or churners in (0, labels.size):
        who = "Every" if labels.size and churners == labels.size else "No"
        words = (
            f"{who} customer of the holdout ({SmallCells(min_cell_size).phrase(labels.size)}) "
            "churned: ROC, calibration and gains charts need both churners and stayers."
        )
        for ax in axes:
            ax.set_axis_off()
        note_on_axes(axes[1], words)
        return figure
    plot_roc(holdout.labels, holdout.scores, ax=axes[0])
    plot_calibration(calibration_table(holdout.labels, holdout.probabilities), ax=axes[1])
    plot_gains(gains_table(holdout.labels, holdout.scores), ax=axes[2])
    return figure


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

    Reads a :func:`crmlib.churn.models.scorecard.calibration_table` (one row per scorer and bin);
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

    Reads a :func:`crmlib.churn.models.scorecard.gains_table` (one row per scorer and decile);
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


def _caption(figure: Figure | SubFigure, text: str) -> None:
    """Write ``text`` under the figure (small, grey): the rows a chart was computed on."""
    if text:
        figure.text(0.01, 0.0, text, ha="left", va="top", fontsize=8.5, color="#5f6b73",
                    style="italic", wrap=True)  # fmt: skip


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
    :func:`crmlib.churn.models.drivers.permutation_importance_table`); bars are the mean drop in
    ROC AUC when the feature is shuffled, whiskers one standard deviation over the repeats.
    When the table was measured on a sample of the validation customers (its attrs say so), a
    caption under the chart says which (:func:`crmlib.churn.text.describe_importance`).

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["recency_days", "region"],
    ...                       "importance_mean": [0.12, 0.01], "importance_sd": [0.01, 0.005]})
    >>> ax = plot_importance(table)
    >>> ax.get_title(), [t.get_text() for t in ax.get_yticklabels()]
    ('What drives the churn model: permutation importance', ['Region', 'Recency (days)'])
    >>> plt.close(ax.figure)
    """
    ax = ax or plt.gca()
    if len(table) == 0:  # churn_drivers measured nothing (a single class, or nobody to score)
        return note_on_axes(
            ax,
            "No permutation importance: it needs churners and stayers among the validation "
            "customers, and customers to score.",
        )
    require_columns(
        table, ["feature", "importance_mean", "importance_sd"], table_name="importance table"
    )
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
    _caption(ax.figure, describe_importance(table))
    return ax


def plot_dependence_grid(table: pd.DataFrame, *, columns: int = 3) -> Figure:
    """The partial dependence of every feature in ``table``, in its order, ``columns`` panels per
    row (:func:`plot_partial_dependence`); a table without features draws why instead.

    Examples
    --------
    >>> figure = plot_dependence_grid(pd.DataFrame())
    >>> " ".join(figure.axes[0].texts[0].get_text().split())[:40]
    'No partial dependence: shuffling no feat'
    >>> plt.close(figure)
    """
    features = list(dict.fromkeys(table["feature"])) if "feature" in table else []
    if not features:
        figure, ax = plt.subplots(figsize=(8, 2))
        note_on_axes(
            ax,
            "No partial dependence: shuffling no feature lowered the model's validation AUC "
            "(or there was no importance to measure).",
        )
        return figure
    n_columns = min(int(columns), len(features))
    n_rows = -(-len(features) // n_columns)
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(4.2 * n_columns, 3.2 * n_rows), squeeze=False, sharey=True
    )
    plot_partial_dependence(table, features=features, axes=axes.ravel())
    return figure


def plot_partial_dependence(
    table: pd.DataFrame, *, features: Sequence[str], axes: Sequence[plt.Axes] | np.ndarray
) -> list[plt.Axes]:
    """Small multiples: mean predicted churn probability across each feature's values.

    Reads *table* (one row per feature and grid value, as from
    :func:`crmlib.churn.models.drivers.partial_dependence_table`) and draws one panel per feature
    of ``features`` on ``axes``, in order (one axis per feature, e.g. the grid of
    ``plt.subplots(rows, 3, squeeze=False, sharey=True)``, three per row, flattened): a line over
    the grid for a numeric feature, bars per level for a categorical one; y is the mean P(churn)
    as a percentage. A feature absent from ``table`` gets an empty panel saying so. Axes left
    over (a grid larger than the features) are removed from their figure, and the figure gets
    the chart's title and, when the table was averaged over a sample of the customers (its
    attrs say so), a caption saying which (:func:`crmlib.churn.text.describe_dependence`).
    Returns the axes drawn on, one per feature.

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["recency_days"] * 3 + ["region"] * 2,
    ...                       "value": pd.Series([0.0, 50.0, 100.0, "n", "s"], dtype=object),
    ...                       "kind": ["numeric"] * 3 + ["categorical"] * 2,
    ...                       "mean_p_churn": [0.1, 0.2, 0.4, 0.2, 0.3]})
    >>> fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2), squeeze=False, sharey=True)
    >>> drawn = plot_partial_dependence(table, features=["recency_days", "region"], axes=axes.ravel())
    >>> [ax.get_xlabel() for ax in drawn]
    ['Recency (days)', 'Region']
    >>> plt.close(fig)
    """
    require_columns(
        table, ["feature", "value", "kind", "mean_p_churn"], table_name="partial dependence table"
    )
    features = [features] if isinstance(features, str) else list(features)
    if not features:
        raise ValueError("features is empty: expected at least one feature to plot")
    panels: list[plt.Axes] = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(panels) < len(features):
        raise ValueError(
            f"axes: {len(panels)} for {len(features)} features; expected one axis per feature"
        )
    for ax, feature in zip(panels, features, strict=False):
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
    for ax in panels[len(features) :]:
        ax.remove()
    panels[0].figure.suptitle(
        "Predicted churn risk across each feature's values (partial dependence)"
    )
    _caption(panels[0].figure, describe_dependence(table))
    return panels[: len(features)]


def _money_ticks(ax: plt.Axes, currency: str, *, axis: str) -> None:
    """Money ticks (:func:`crmlib.plotting.money_axis`), spaced so no two labels read the same.

    ``money_axis`` rounds to whole thousands/millions, so ticks 500 apart above 1,000 would
    read "€1k, €2k, €2k"; then ticks are put at whole powers of ten instead.
    """
    money_axis(ax, currency, axis=axis)
    target = ax.xaxis if axis == "x" else ax.yaxis
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    ticks = [tick for tick in target.get_major_locator()() if low <= tick <= high]
    labels = [format_money(tick, currency, decimals=0) for tick in ticks]
    largest = max(abs(low), abs(high))
    if len(set(labels)) < len(labels) and largest > 0:
        target.set_major_locator(MultipleLocator(10 ** math.floor(math.log10(largest))))


def _humanize(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def plot_value_at_risk_by(
    table: pd.DataFrame,
    *,
    currency: str,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Horizontal bars of value at risk per group, largest on top, labelled with its share.

    Draws *table* as from :func:`crmlib.churn.models.value.value_at_risk_by` (one row per group: the
    group column first, then ``value_at_risk`` and optionally ``share_of_value_at_risk``).

    Examples
    --------
    >>> table = pd.DataFrame({"segment": ["At risk", "Champions"],
    ...                       "value_at_risk": [1200.0, 300.0],
    ...                       "share_of_value_at_risk": [0.8, 0.2]})
    >>> ax = plot_value_at_risk_by(table, currency="EUR")
    >>> ax.get_title()
    'Value at risk of churn by segment'
    >>> plt.close(ax.figure)
    """
    require_columns(table, ["value_at_risk"], table_name="value at risk by group")
    by = str(table.columns[0])
    ax = ax or plt.gca()
    ordered = table.sort_values("value_at_risk", ascending=True, kind="stable")
    labels = ordered[by].astype("str").to_numpy()
    values = ordered["value_at_risk"].to_numpy(dtype="float64")
    positions = np.arange(len(ordered))
    ax.barh(positions, values, color=PALETTE[0])
    ax.set_yticks(positions, labels)
    if "share_of_value_at_risk" in ordered.columns:
        shares = ordered["share_of_value_at_risk"].to_numpy(dtype="float64")
        for position, value, share in zip(positions, values, shares, strict=True):
            if np.isfinite(share):
                ax.annotate(
                    f" {share:.0%}",
                    (value, position),
                    va="center",
                    ha="left",
                    fontsize=9,
                )
    _money_ticks(ax, currency, axis="x")
    ax.grid(False, axis="y")
    ax.set(
        title=f"Value at risk of churn by {_humanize(by).lower()}",
        xlabel=f"Value at risk: P(churn) x value ({currency})",
        ylabel=_humanize(by),
    )
    return ax


def plot_risk_bands(
    summary: pd.DataFrame, *, min_cell_size: int, ax: plt.Axes | None = None
) -> plt.Axes:
    """Customers per churn risk band (Low, Medium, High), each bar labelled with its share.

    Draws *summary* as from :func:`crmlib.churn.models.value.band_summary` (one row per band:
    ``band``, ``customers``, optionally ``threshold`` and ``share``). The small-cell rule
    (``min_cell_size``): a band of fewer customers is not drawn and reads "<10", and, since
    the bars add up to everyone scored, the next smallest band is not drawn either and reads
    "–" (:func:`crmlib.churn.models.value.hidden_bands`); the axis label says so.

    Examples
    --------
    >>> summary = pd.DataFrame({"band": ["Low", "Medium", "High"],
    ...                         "threshold": ["p < 40%", "40% <= p < 70%", "p >= 70%"],
    ...                         "customers": [60, 30, 10], "share": [0.6, 0.3, 0.1]})
    >>> ax = plot_risk_bands(summary, min_cell_size=10)
    >>> ax.get_title(), ax.get_ylabel()
    ('Customers by churn risk band', 'Customers')
    >>> plt.close(ax.figure)
    """
    require_columns(summary, ["band", "customers"], table_name="risk band summary")
    small, hidden = hidden_bands(summary, min_cell_size=min_cell_size)
    ax = ax or plt.gca()
    bands = summary["band"].astype("str").tolist()
    customers = summary["customers"].to_numpy(dtype="float64")
    labels = bands
    if "threshold" in summary.columns:
        labels = [
            f"{band}\n{rule}"
            for band, rule in zip(bands, summary["threshold"].astype("str"), strict=True)
        ]
    positions = np.arange(len(bands))
    colors = [_BAND_COLORS.get(band, PALETTE[0]) for band in bands]
    ax.bar(positions, np.where(hidden, 0.0, customers), color=colors)
    ax.set_xticks(positions, labels)
    total = customers.sum()
    shares = (
        summary["share"].to_numpy(dtype="float64")
        if "share" in summary.columns
        else (customers / total if total else np.full(len(bands), np.nan))
    )
    below = SmallCells(min_cell_size).below
    for position, count, share, is_small, is_hidden in zip(
        positions, customers, shares, small, hidden, strict=True
    ):
        if is_hidden:
            text, height = (below if is_small else HIDDEN), 0.0
        else:
            text = f"{count:,.0f}" + (f" ({share:.0%})" if np.isfinite(share) else "")
            height = count
        ax.annotate(text, (position, height), ha="center", va="bottom", fontsize=9)
    ax.grid(False, axis="x")
    note = (
        f"\nnot drawn: a band of fewer than {min_cell_size:,} customers ({below}) and the next "
        f"smallest ({HIDDEN}), which would reveal it"
        if hidden.any()
        else ""
    )
    ax.set(
        title="Customers by churn risk band",
        xlabel=f"Risk band (predicted P(churn) = p){note}",
        ylabel="Customers",
    )
    return ax


def plot_contact_curve(
    plan: pd.DataFrame,
    *,
    currency: str,
    min_cell_size: int,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Cumulative expected net value of contacting customers in rank order, with the optimum.

    Draws *plan* as from :func:`crmlib.churn.models.value.contact_plan` (one row per customer:
    ``expected_net_value``, ``contact``, optionally ``rank``): x is the number of customers
    contacted, best first; y the summed expected net value (saved value - cost). The curve
    rises while contacts pay and falls after; a marker shows the contact count of the plan,
    where it peaks (the legend states it by the small-cell rule, ``min_cell_size``: "fewer
    than 10 customers").

    Examples
    --------
    >>> plan = pd.DataFrame({"expected_net_value": [7.0, 5.0, -3.2], "contact": [True, True, False],
    ...                      "rank": [1, 2, 3]})
    >>> ax = plot_contact_curve(plan, currency="EUR", min_cell_size=10)
    >>> ax.get_xlabel()
    'Customers contacted, highest expected net value first'
    >>> plt.close(ax.figure)
    """
    require_columns(plan, ["expected_net_value", "contact"], table_name="contact plan")
    ax = ax or plt.gca()
    if "rank" in plan.columns:
        ordered = plan.sort_values("rank", kind="stable")
    else:
        ordered = plan.sort_values("expected_net_value", ascending=False, kind="stable")
    net = ordered["expected_net_value"].to_numpy(dtype="float64")
    cumulative = np.concatenate([[0.0], np.cumsum(net)])
    contacted = np.arange(len(cumulative))
    contacts = int(ordered["contact"].astype("bool").sum())
    ax.plot(contacted, cumulative, color=PALETTE[0], label="Cumulative expected net value")
    ax.axhline(0.0, color=PALETTE[7], linewidth=0.8)
    best = cumulative[contacts]
    ax.plot(
        [contacts],
        [best],
        marker="o",
        color=PALETTE[3],
        linestyle="none",
        label=f"Contact {SmallCells(min_cell_size).phrase(contacts)}: "
        f"{format_money(best, currency)}",
    )
    ax.axvline(contacts, color=PALETTE[3], linewidth=0.8, linestyle="--")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _money_ticks(ax, currency, axis="y")
    ax.legend(loc="best")
    ax.set(
        title="Expected net value of the contact list by customers contacted",
        xlabel="Customers contacted, highest expected net value first",
        ylabel=f"Cumulative expected net value ({currency})",
    )
    return ax


def plot_segment_trend(
    trend: pd.DataFrame,
    *,
    dimension: str = "segment",
    periods: int = 24,
    min_cell_size: int = MIN_CELL_SIZE,
    columns: int = 4,
) -> Figure | None:
    """Small multiples: one panel per segment (or channel), its retention rate per complete
    period with the 95% Wilson interval shaded, on a shared 0-100% axis; None when there is
    nothing to draw.

    Reads :func:`crmlib.churn.trend.churn_by_segment`; draws the last ``periods`` complete
    periods. A grey dashed line in every panel is the retention of all customers (02_kpis'
    rate), for comparison. The small-cell rule (``min_cell_size``): a period whose base
    holds fewer customers is not drawn (a gap), and a group with no period drawn gets no
    panel; the caption names them. A split that was not computed, no complete period or no
    cell large enough to show draws no figure (None): :func:`crmlib.churn.text.describe_segment_trend`
    says why in one sentence, under it.
    """
    if _trend_note(trend, dimension):
        return None
    part = trend[(trend["dimension"] == dimension) & trend["is_complete"].astype(bool)]
    if part.empty:
        return None
    starts = sorted(part["period_start"].unique())[-int(periods) :]
    part = part[part["period_start"].isin(starts)]
    period = str(trend.attrs.get("period", "period"))
    labels = part.drop_duplicates("period_start").sort_values("period_start")["period_label"]
    totals = part.groupby("period_start", sort=True)[["base_customers", "retained_customers"]].sum()
    total_base = totals["base_customers"].to_numpy(dtype="float64")
    overall = np.where(
        SmallCells(min_cell_size).is_small(total_base) | (total_base == 0),
        np.nan,
        totals["retained_customers"].to_numpy(dtype="float64")
        / np.where(total_base > 0, total_base, 1),
    )
    groups = list(dict.fromkeys(part["dimension_value"]))
    drawn = [
        g for g in groups if part.loc[part["dimension_value"] == g, "retention_rate"].notna().any()
    ]
    left_out = [
        g
        for g in groups
        if g not in drawn and part.loc[part["dimension_value"] == g, "base_customers"].sum() > 0
    ]
    word = "segment" if dimension == "segment" else "acquisition channel"
    if not drawn:
        return None
    n_columns = min(int(columns), len(drawn))
    n_rows = -(-len(drawn) // n_columns)
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(3.4 * n_columns, 2.5 * n_rows + 0.9),
        squeeze=False, sharex=True, sharey=True,
    )  # fmt: skip
    x = np.arange(len(starts))
    step = max(1, int(np.ceil(len(starts) / 6)))
    ticks = list(x)[::-1][::step][::-1]
    tick_labels = [labels.iloc[i] for i in ticks]
    for position, ax in enumerate(axes.ravel()):
        if position >= len(drawn):
            ax.set_visible(False)
            continue
        group = drawn[position]
        rows = part[part["dimension_value"] == group].set_index("period_start").reindex(starts)
        rate = rows["retention_rate"].to_numpy(dtype="float64")
        lower = rows["retention_lower"].to_numpy(dtype="float64")
        upper = rows["retention_upper"].to_numpy(dtype="float64")
        ax.plot(x, rate, color=PALETTE[0], marker="o", markersize=2.5, linewidth=1.4,
                label="Retention")  # fmt: skip
        ax.fill_between(x, lower, upper, where=np.isfinite(lower), color=PALETTE[0], alpha=0.2,
                        linewidth=0, label="95% interval")  # fmt: skip
        ax.plot(x, overall, color="0.55", linestyle="--", linewidth=1.0, label="All customers")
        ax.set_title(str(group), fontsize=10.5)
        ax.set_ylim(0, 1)
        percent_axis(ax)
        ax.set_xticks(ticks, tick_labels, rotation=45, ha="right", fontsize=8)
        if position % n_columns == 0:
            ax.set_ylabel("Retained (%)")
    for ax in axes[-1]:
        if ax.get_visible():
            ax.set_xlabel(period.capitalize())
    for column in range(n_columns):  # the last visible panel of a column carries the x labels
        for row in range(n_rows - 1, -1, -1):
            if axes[row, column].get_visible():
                axes[row, column].xaxis.set_tick_params(labelbottom=True)
                axes[row, column].set_xlabel(period.capitalize())
                break
    handles, legend_labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, legend_labels, loc="upper right", ncols=3, fontsize=8.5)
    figure.suptitle(
        f"Retention by {word}: the previous {period}'s customers who bought again",
        x=0.01, ha="left", fontsize=13, fontweight="bold",
    )  # fmt: skip
    caption = (
        f"Gaps: {period}s when the {word} had fewer than {min_cell_size:,} customers at the start."
    )
    if left_out:
        caption += (
            f" Not drawn (fewer than {min_cell_size:,} customers at the start of every {period} "
            f"shown): {', '.join(map(str, left_out))}."
        )
    _caption(figure, caption)
    return figure
