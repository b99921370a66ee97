"""Charts of 04_segments: an axis in, the axis out.

Segment sizes, the RFM and migration heatmaps, the cluster profiles and the item affinities.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.formatting import format_money
from crmlib.plotting import PALETTE, note_on_axes, percent_axis
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells
from crmlib.segments.models.affinities import ALL_POPULATION, lift_matrix
from crmlib.segments.models.clusters import BEHAVIOUR_FEATURES, ClusterResult, shown_profiles
from crmlib.segments.text import FEATURE_LABELS, _label, _noun

__all__ = [
    "plot_segment_sizes",
    "plot_rfm_heatmap",
    "plot_migration_heatmap",
    "plot_cluster_profiles",
    "plot_affinity_heatmap",
]

log = logging.getLogger(__name__)


def _label_hidden(
    ax: plt.Axes, labels: np.ndarray, hidden: np.ndarray, *, fontsize: float | None = None
) -> None:
    """Write ``labels`` on the heatmap cells that are ``hidden`` (seaborn leaves masked ones bare)."""
    for row, column in zip(*np.nonzero(hidden), strict=True):
        ax.text(
            column + 0.5,
            row + 0.5,
            str(labels[row, column]),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="#5f6b73",
        )


def plot_segment_sizes(
    summary: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Horizontal bars per segment: share of customers next to share of net revenue.

    Segments run top to bottom in value order (as in ``summary``). Segments of fewer than
    ``min_cell_size`` customers are not drawn alone: they are pooled into one ``"(other)"``
    bar of at least ``min_cell_size`` customers, drawn last
    (:meth:`crmlib.privacy.SmallCells.pool`), and the x-axis label names the segments in it.
    """
    require_columns(
        summary,
        ("segment", "customers", "share_customers", "share_revenue"),
        table_name="segment summary",
    )
    rule = SmallCells(min_cell_size)
    pooled = rule.pooled_groups(summary.set_index(summary["segment"].astype("str"))["customers"])
    bars = rule.pool(
        summary[["segment", "customers", "share_customers", "share_revenue"]],
        by="segment",
        size="customers",
        sums=["share_customers", "share_revenue"],
    )
    ax = ax or plt.gca()
    positions = np.arange(len(bars))
    height = 0.4
    ax.barh(
        positions - height / 2,
        bars["share_customers"].fillna(0.0),
        height=height,
        color=PALETTE[0],
        label="Share of customers",
    )
    ax.barh(
        positions + height / 2,
        bars["share_revenue"].fillna(0.0),
        height=height,
        color=PALETTE[1],
        label="Share of net revenue",
    )
    ax.set_yticks(positions, labels=[str(s) for s in bars["segment"]])
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.6)
    percent_axis(ax, axis="x")
    xlabel = "Share of all customers / of net revenue in the RFM window"
    if pooled:
        members = ", ".join(str(s) for s in summary["segment"] if str(s) in pooled)
        xlabel += (
            f"\n{OTHER} pools {members}: segments of fewer than {rule.min_cell_size:,} "
            "customers are not drawn alone"
        )
    ax.set(
        title="Segment size vs share of net revenue",
        xlabel=xlabel,
        ylabel="Segment (most valuable first)",
    )
    ax.legend(loc="lower right")
    return ax


def plot_rfm_heatmap(
    grid: pd.DataFrame,
    *,
    currency: str,
    ax: plt.Axes | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Recency score (columns) x frequency score (rows, best on top), colour = customers.

    Reads *grid* (one row per R x F cell, as from :func:`crmlib.segments.models.rfm.rfm_grid`);
    each cell of at least ``min_cell_size`` customers is annotated with the mean net
    monetary value of its customers in ``currency`` (the run's ``params.currency``), which
    the title names. A cell of 1 to ``min_cell_size - 1`` customers is not coloured and
    reads ``"<10"`` (its count and mean are not shown); the title says so when one does.
    """
    require_columns(
        grid, ("r_score", "f_score", "customers", "mean_monetary"), table_name="rfm grid"
    )
    rule = SmallCells(min_cell_size)
    ax = ax or plt.gca()
    counts = grid.pivot(index="f_score", columns="r_score", values="customers").sort_index(
        ascending=False
    )
    money = grid.pivot(index="f_score", columns="r_score", values="mean_monetary").reindex(
        index=counts.index, columns=counts.columns
    )
    small = rule.is_small(counts.to_numpy())
    labels = np.array(
        [
            [
                rule.below
                if hidden
                else format_money(round(float(m)) + 0.0, currency, decimals=1)
                if n > 0 and np.isfinite(m)
                else ""
                for n, m, hidden in zip(n_row, m_row, h_row, strict=True)
            ]
            for n_row, m_row, h_row in zip(counts.to_numpy(), money.to_numpy(), small, strict=True)
        ],
        dtype=object,
    ).reshape(counts.shape)
    sns.heatmap(
        counts.astype("float64").mask(small),
        ax=ax,
        cmap="Blues",
        annot=labels,
        fmt="",
        cbar=True,
        cbar_kws={"label": "Customers"},
        linewidths=0.4,
        linecolor="white",
    )
    _label_hidden(ax, labels, small)
    title = f"Customers by recency and frequency score (labels: mean net spend, {currency})"
    if small.any():
        title += (
            f"\n{rule.below}: a cell of fewer than {rule.min_cell_size:,} customers, "
            "not coloured and its mean not shown"
        )
    ax.set(
        title=title,
        xlabel="Recency score (higher = bought more recently)",
        ylabel="Frequency score (higher = more orders)",
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def plot_migration_heatmap(
    matrix: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Where each earlier segment's customers are now: row-normalised shares, annotated.

    Reads *matrix* (segment before x segment after, customers, as from
    :func:`crmlib.segments.models.migration.migration_matrix`); each row is divided by its total,
    so a row reads "of the customers who were X, this share is now Y". Pairs nobody took
    and rows without customers stay blank. A pair of 1 to ``min_cell_size - 1`` customers is
    not coloured and reads ``"<10"``; as a row's shares add up to 100%, when it is the only
    one of its row the row's next smallest pair reads ``"–"`` as well
    (:meth:`crmlib.privacy.SmallCells.complement`). The title says so when a cell is hidden.
    """
    rule = SmallCells(min_cell_size)
    ax = ax or plt.gca()
    values = matrix.astype("float64")
    totals = values.sum(axis=1)
    shares = values.div(totals.where(totals > 0), axis=0)
    small = rule.is_small(values.to_numpy())
    hidden = np.array([rule.complement(row) for row in values.to_numpy()], dtype=bool).reshape(
        values.shape
    )
    size = max(6.0, min(9.0, 110.0 / max(len(shares.columns), 1)))
    labels = np.where(values.to_numpy() > 0, shares.map(lambda v: f"{v:.0%}").to_numpy(), "")
    labels = np.where(hidden, HIDDEN, labels)
    labels = np.where(small, rule.below, labels)
    sns.heatmap(
        shares.mask(hidden),
        ax=ax,
        cmap="Blues",
        annot=labels,
        fmt="",
        annot_kws={"fontsize": size},
        vmin=0.0,
        vmax=1.0,
        cbar=False,
        linewidths=0.4,
        linecolor="white",
    )
    _label_hidden(ax, labels, hidden, fontsize=size)
    title = "Where each segment's customers moved (share of the earlier segment)"
    if hidden.any():
        title += (
            f"\n{rule.below}: fewer than {rule.min_cell_size:,} customers; {HIDDEN}: not shown, "
            "as it would reveal such a cell"
        )
    ax.set(
        title=title,
        xlabel="Segment at the as-of date",
        ylabel="Segment at the start of the lookback",
    )
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def plot_cluster_profiles(
    result: ClusterResult | None,
    *,
    ax: plt.Axes | None = None,
    reason: str | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Heatmap of the cluster centroids' z-scores: clusters (rows) x behaviour features.

    Each cell is the centroid of a cluster on one feature, in standard deviations from the
    average customer on the standardized log scale the clusters were fitted on (red above,
    blue below), annotated. Rows are labelled with the cluster name and its share of
    customers, largest cluster first; clusters of fewer than ``min_cell_size`` customers are
    not drawn alone but pooled into an ``"(other)"`` row, last, which the y-axis label
    names (:func:`shown_profiles`).

    Parameters
    ----------
    result : ClusterResult or None
        None (not fitted): the axes show ``reason`` instead of a chart.
    ax : plt.Axes, optional
        Where to draw; the current axes by default.
    reason : str, optional
        Why no clusters were fitted (from :func:`crmlib.segments.clusters_or_reason`).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    plt.Axes
    """
    ax = ax or plt.gca()
    if result is None:  # not fitted: the axes say why instead of an empty grid
        return note_on_axes(ax, reason or "Behavioural clusters are not fitted.")
    profiles = shown_profiles(result.profiles, min_cell_size=min_cell_size)
    z = profiles[[f"z_{feature}" for feature in BEHAVIOUR_FEATURES]].to_numpy(dtype="float64")
    frame = pd.DataFrame(
        z,
        index=[f"{row.cluster_name} ({row.share:.0%})" for row in profiles.itertuples()],
        columns=[FEATURE_LABELS[feature] for feature in BEHAVIOUR_FEATURES],
    )
    limit = max(1.0, float(np.nanmax(np.abs(z))) if z.size else 1.0)
    sns.heatmap(
        frame,
        ax=ax,
        cmap="RdBu_r",
        center=0.0,
        vmin=-limit,
        vmax=limit,
        annot=True,
        fmt="+.1f",
        cbar=False,
        linewidths=0.4,
        linecolor="white",
    )
    pooled = "".join(profiles["pooled"])
    ax.set(
        title="Behavioural clusters vs the average customer",
        xlabel="Behaviour feature (centroid z-score on the log scale, 0 = average customer)",
        ylabel="Cluster (share of customers)"
        + (
            f"\n{OTHER}: {pooled}, as a cluster of fewer than "
            f"{min_cell_size:,} customers is not drawn alone"
            if pooled
            else ""
        ),
    )
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right", rotation_mode="anchor")
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def plot_affinity_heatmap(
    rules: pd.DataFrame,
    *,
    ax: plt.Axes | None = None,
    population: str = ALL_POPULATION,
    level: str = DEFAULTS.segments.affinity_level,
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Heatmap of the lift between every two items of one population, annotated.

    Reads :func:`crmlib.segments.queries.affinities.association_rules` (one row per population x
    ordered pair). Lift is symmetric, so the matrix is too; red above 1 (bought together more
    often than chance), blue below; blank cells are the diagonal, pairs pruned by the
    thresholds and pairs bought by fewer than ``min_cell_size`` customers (not drawn).
    Meant for categories (a dozen items); a product-level matrix is unreadable.
    """
    singular, plural = _noun(level)
    ax = ax or plt.gca()
    matrix = lift_matrix(rules, population=population, min_cell_size=min_cell_size)
    scope = "" if population == ALL_POPULATION else f" ({population})"
    title = f"{singular.capitalize()} affinity{scope}: lift of buying both vs chance"
    if matrix.empty:
        ax.text(0.5, 0.5, f"no {singular} pair passed the thresholds", ha="center", va="center")
        ax.set(title=title, xlabel=f"{singular} B", ylabel=f"{singular} A", xticks=[], yticks=[])
        return ax
    labels = [_label(item) for item in matrix.index]
    values = matrix.to_numpy()
    finite = values[np.isfinite(values) & (values > 0)]
    # symmetric on a log scale: lift 2 and lift 1/2 get equally strong colours
    top = max(float(finite.max()), 1.0 / float(finite.min()), 1.1)
    sns.heatmap(
        matrix.set_axis(labels, axis=0).set_axis(labels, axis=1),
        ax=ax,
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vcenter=1.0, vmin=1.0 / top, vmax=top),
        annot=True,
        fmt=".1f",
        annot_kws={"fontsize": 8},
        linewidths=0.5,
        linecolor="white",
        square=True,
        cbar_kws={"label": "lift (1 = as often as chance)"},
    )
    ax.set(title=title, xlabel=f"{plural} bought (B)", ylabel=f"{plural} bought (A)")
    ax.tick_params(axis="x", labelrotation=45)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    ax.grid(False)
    return ax
