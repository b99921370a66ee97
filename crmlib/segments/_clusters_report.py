"""Report helpers of the behavioural clusters: a sentence in words, a profile heatmap, a table."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from crmlib.plotting import format_money, note_on_axes
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells
from crmlib.segments._clusters import BEHAVIOUR_FEATURES, ClusterResult

__all__ = [
    "FEATURE_LABELS",
    "shown_profiles",
    "SILHOUETTE_WEAK",
    "SILHOUETTE_CLEAR",
    "describe_clusters",
    "plot_cluster_profiles",
    "cluster_table",
]

#: Readable names of the behaviour features, for charts and tables.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Recency (days)",
    "frequency": "Orders in window",
    "monetary": "Net spend in window",
    "tenure_days": "Tenure (days)",
    "category_diversity": "Categories in window",
    "engagement": "Opens + clicks per send",
}
#: Below this silhouette the customers form a continuum rather than groups (Kaufman &
#: Rousseeuw 1990: < 0.25 "no substantial structure").
SILHOUETTE_WEAK = 0.25
#: At or above this silhouette the groups are clearly separated (0.5: "reasonable structure").
SILHOUETTE_CLEAR = 0.5


def shown_profiles(profiles: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The cluster profiles a report may show: small clusters pooled into ``"(other)"``.

    Transforms *profiles* (:attr:`ClusterResult.profiles`: one row per cluster, largest
    first) into the same columns plus *groups* (clusters in the row) and *pooled* (the names
    of the clusters an ``"(other)"`` row holds, else ""): clusters of fewer than
    ``min_cell_size`` customers are pooled into one ``"(other)"`` row, placed last, of at
    least ``min_cell_size`` customers and two clusters
    (:meth:`crmlib.privacy.SmallCells.pool`). Its share adds up, and its feature means and
    z-scores are the customer-weighted means of the pooled clusters, i.e. the means over
    their customers; its *cluster* number is missing.

    Examples
    --------
    >>> profiles = pd.DataFrame({"cluster": [0, 1, 2], "cluster_name": ["A", "B", "C"],
    ...     "customers": [90, 6, 4], "share": [0.9, 0.06, 0.04], "frequency": [1.0, 2.0, 7.0]})
    >>> table = shown_profiles(profiles)
    >>> table[["cluster_name", "customers", "share", "frequency"]]
      cluster_name  customers  share  frequency
    0            A         90    0.9        1.0
    1      (other)         10    0.1        4.0
    >>> table["pooled"].tolist()
    ['', 'B, C']
    """
    rule = SmallCells(min_cell_size)
    means = [
        column
        for column in profiles.columns
        if column not in ("cluster", "cluster_name", "customers", "share")
    ]
    sizes = profiles["customers"].astype("float64")
    totals = profiles.assign(**{column: profiles[column] * sizes for column in means})
    pooled = rule.pooled_groups(totals.set_index(totals["cluster_name"].astype("str"))["customers"])
    table = rule.pool(totals, by="cluster_name", size="customers", sums=["share", *means])
    table[means] = table[means].div(table["customers"].astype("float64"), axis=0)
    inside = profiles["cluster_name"].astype("str").isin(pooled)
    names = ", ".join(profiles.loc[inside, "cluster_name"].astype("str"))
    table["pooled"] = np.where(table["cluster_name"] == OTHER, names, "")
    return table


def _structure_sentence(silhouette: float) -> str:
    if not np.isfinite(silhouette):
        return "The silhouette could not be computed."
    if silhouette >= SILHOUETTE_CLEAR:
        return f"The silhouette of {silhouette:.2f} says the groups are clearly separated."
    if silhouette >= SILHOUETTE_WEAK:
        return (
            f"The silhouette of {silhouette:.2f} says the groups are real but overlap: "
            "many customers sit between two clusters."
        )
    return (
        f"The silhouette of {silhouette:.2f} is low: customers form a continuum rather than "
        "separate groups, and the clusters cut it into ranges."
    )


def _stability_sentence(result: ClusterResult) -> str:
    resamples = f"{result.n_bootstrap} resample{'s' if result.n_bootstrap != 1 else ''}"
    if result.stable:
        return (
            f"The clusters are stable (mean adjusted Rand index {result.stability_ari_mean:.2f} "
            f"over {resamples}, 5th percentile {result.stability_ari_p05:.2f}): refitting on "
            "resampled customers finds the same groups."
        )
    return (
        f"The clusters are not stable (mean adjusted Rand index {result.stability_ari_mean:.2f} "
        f"over {resamples}): treat them as a rough grouping."
    )


def describe_clusters(
    result: ClusterResult | None,
    *,
    currency: str,
    reason: str | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: how many clusters, how well separated, who is in each, and how stable.

    With no clusters (``result`` None, from :func:`crmlib.segments.clusters_or_reason`) the
    text is ``reason``: why they were not fitted.

    Reads a :class:`~crmlib.segments._clusters.ClusterResult`; says in words when the
    silhouette is low (below :data:`SILHOUETTE_WEAK`) and when the clusters are not stable
    (mean bootstrap adjusted Rand index below the result's threshold). Only aggregates are
    quoted, never a customer; clusters of fewer than ``min_cell_size`` customers are
    described together as ``"(other)"`` (:func:`shown_profiles`).

    Parameters
    ----------
    result : ClusterResult
    currency : str
        The run's currency (``params.currency``, an ISO code such as ``"GBP"``): the net
        spend means are written in it.
    reason : str, optional
        Why no clusters were fitted (from :func:`crmlib.segments.clusters_or_reason`).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    str
        Markdown: a paragraph, one bullet per cluster (largest first), a stability sentence.
    """
    if result is None:
        return reason or "Behavioural clusters are not fitted."
    rule = SmallCells(min_cell_size)
    profiles = shown_profiles(result.profiles, min_cell_size=min_cell_size)
    ks = result.silhouette["k"]
    k_text = f"{int(ks.min())}\u2013{int(ks.max())}" if ks.min() != ks.max() else f"{int(ks.min())}"
    opening = (
        f"k-means grouped **{rule.phrase(result.n_customers)}** into **{result.k} behavioural "
        f"clusters** (k chosen among {k_text} by the highest silhouette; final fit: "
        f"{result.algorithm} on every customer). {_structure_sentence(result.chosen_silhouette)}"
    )
    left_out = [
        FEATURE_LABELS[f].lower() for f in BEHAVIOUR_FEATURES if f not in result.feature_columns
    ]
    if left_out:
        opening += f" Left out because every customer has the same value: {', '.join(left_out)}."
    bullets = [
        f"- **{row.cluster_name}** "
        + (
            f"({row.pooled} together, as a cluster of fewer than {rule.min_cell_size:,} "
            "customers is not described alone; "
            if row.pooled
            else "("
        )
        + f"{row.share:.1%}, {rule.phrase(int(row.customers))}): "
        f"{row.frequency:.1f} orders and {format_money(row.monetary, currency)} net in the "
        f"window, last purchase {row.recency_days:.0f} days ago, customers for "
        f"{row.tenure_days:.0f} days, {row.category_diversity:.1f} categories, "
        f"{row.engagement:.2f} opens and clicks per send (averages)."
        for row in profiles.itertuples(index=False)
    ]
    return "\n\n".join([opening, "\n".join(bullets), _stability_sentence(result)])


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


def cluster_table(
    result: ClusterResult, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """The cluster profiles for display: one row per cluster, readable headers, rounded.

    Columns: *Cluster, Name, Customers, Share (%)* and the average of each behaviour feature
    (:data:`FEATURE_LABELS`; the net spend header names the currency, e.g. "Net spend in
    window (GBP)"), rounded to 1 decimal (engagement 2). The z-scores are in
    :func:`plot_cluster_profiles`. Clusters of fewer than ``min_cell_size`` customers are
    one ``"(other)"`` row, last, whose *Cluster* is empty (:func:`shown_profiles`).

    Parameters
    ----------
    result : ClusterResult
    currency : str
        The run's currency (``params.currency``).
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    pd.DataFrame
        Largest cluster first.
    """
    profiles = shown_profiles(result.profiles, min_cell_size=min_cell_size)
    table = pd.DataFrame(
        {
            "Cluster": profiles["cluster"].astype("Int64"),
            "Name": profiles["cluster_name"].astype("str"),
            "Customers": profiles["customers"].astype("int64"),
            "Share (%)": (100 * profiles["share"]).round(1),
        }
    )
    for feature in BEHAVIOUR_FEATURES:
        decimals = 2 if feature == "engagement" else 1
        label = FEATURE_LABELS[feature]
        if feature == "monetary":
            label = f"{label} ({currency})"
        table[label] = profiles[feature].astype("float64").round(decimals)
    return table
