"""Charts of the cohort matrices: a retention heatmap and retention curves by dimension value."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from crmlib.errors import DataContractError
from crmlib.plotting import PALETTE, percent_axis

__all__ = ["plot_cohort_heatmap", "plot_retention_curves"]


def plot_cohort_heatmap(
    matrix: pd.DataFrame,
    *,
    ax: plt.Axes | None = None,
    title: str = "Customer retention by acquisition cohort",
    xlabel: str = "Periods since acquisition (0 = acquisition period)",
    ylabel: str = "Acquisition cohort",
    fmt: str = ".0%",
    cmap: str = "Blues",
) -> plt.Axes:
    """A heatmap of one cohort matrix, each cell annotated with its value.

    Draws ``matrix`` (one row per cohort, one column per period since acquisition, as from
    :func:`cohort_matrix`). NaN cells (masked small cohorts, periods not reached yet) are
    left blank. Annotations shrink with the number of cohorts so 24 rows stay readable.
    A matrix with no value at all raises :class:`DataContractError` (drawn as a note by
    :func:`plot_or_note`).

    Parameters
    ----------
    matrix : pd.DataFrame
        Wide cohort matrix: index cohort labels, columns periods since acquisition.
    ax : plt.Axes, optional
        Where to draw; the current axes by default.
    title, xlabel, ylabel : str
        Chart title and axis labels.
    fmt : str, default ".0%"
        Annotation format (e.g. ``".2f"`` for revenue per customer).
    cmap : str, default "Blues"

    Returns
    -------
    plt.Axes
    """
    ax = ax or plt.gca()
    rows, columns = matrix.shape
    size = max(5.0, min(9.0, 240.0 / max(rows, columns, 1)))
    values = matrix.astype("float64")
    if not values.notna().to_numpy().any():
        raise DataContractError(
            "No cell to show: every cohort is smaller than the minimum cell size "
            "(privacy.min_cell_size) or has not reached a period yet."
        )
    sns.heatmap(
        values,
        ax=ax,
        cmap=cmap,
        annot=True,
        fmt=fmt,
        annot_kws={"fontsize": size},
        cbar=False,
        vmin=0.0,
        vmax=1.0 if fmt.endswith("%") else None,
        linewidths=0.4,
        linecolor="white",
    )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.tick_params(axis="y", labelrotation=0, labelsize=max(7.0, size + 1))
    ax.tick_params(axis="x", labelrotation=0, labelsize=max(7.0, size + 1))
    ax.grid(False)
    return ax


def plot_retention_curves(
    tidy: pd.DataFrame,
    *,
    dimension: str = "acquisition_channel",
    definition: str = "on",
    max_k: int = 12,
    min_cell_size: int = 10,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "Periods since acquisition",
) -> plt.Axes:
    """Retention curves, one line per value of a dimension, pooled over cohorts.

    Transforms the tidy output of :func:`cohort_retention` (one row per cohort x k x
    dimension value x definition) into one line per dimension value: at each k, retained
    customers / cohort size summed over the cohorts that reached k (the cohort-size weighted
    mean). Masked small cohorts are pooled in, and a pooled point that still rests on fewer
    than ``min_cell_size`` customers is not drawn (a value with none left has no line).
    Cohorts of the customers present at the start (``present_at_start``) are not acquisition
    cohorts and are left out.

    Parameters
    ----------
    tidy : pd.DataFrame
        From :func:`cohort_retention`.
    dimension : str, default "acquisition_channel"
        The split to draw (``"all"`` for the overall curve).
    definition : {"on", "on_or_after"}, default "on"
    max_k : int, default 12
        Last period since acquisition shown.
    min_cell_size : int, default 10
        Pooled points with fewer customers in their cohorts are left out (privacy).
    ax : plt.Axes, optional
    title : str, optional
        Defaults to "Retention by <dimension> (...)".
    xlabel : str

    Returns
    -------
    plt.Axes
    """
    ax = ax or plt.gca()
    if "present_at_start" in tidy.columns:
        tidy = tidy[~tidy["present_at_start"].astype("boolean").fillna(False).astype("bool")]
        if tidy.empty:
            raise DataContractError(
                "cohort retention: every cohort holds the customers present at the start of "
                "the data; there is no acquisition cohort to draw"
            )
    rows = tidy[
        (tidy["dimension"] == dimension)
        & (tidy["definition"] == definition)
        & (tidy["periods_since"] <= max_k)
    ]
    if rows.empty:
        raise DataContractError(
            f"cohort retention: no rows for dimension={dimension!r}, definition={definition!r}; "
            f"dimensions present: {sorted(tidy['dimension'].unique())}"
        )
    pooled = rows.groupby(["dimension_value", "periods_since"], as_index=False)[
        ["customers", "cohort_size"]
    ].sum()
    pooled = pooled[pooled["cohort_size"] >= min_cell_size]
    if pooled.empty:
        raise DataContractError(
            f"cohort retention: every {dimension!r} curve rests on fewer than "
            f"min_cell_size={min_cell_size} customers; nothing can be drawn"
        )
    pooled["retention"] = pooled["customers"] / pooled["cohort_size"]
    # legend in the order of retention at the last k shown: the best line first
    last = pooled[pooled["periods_since"] == pooled["periods_since"].max()]
    order = last.sort_values("retention", ascending=False)["dimension_value"].tolist()
    order += [v for v in pooled["dimension_value"].unique() if v not in order]
    for i, value in enumerate(order):
        line = pooled[pooled["dimension_value"] == value]
        ax.plot(
            line["periods_since"],
            line["retention"],
            marker="o",
            markersize=3,
            color=PALETTE[i % len(PALETTE)],
            label=str(value),
        )
    label = "active in period k" if definition == "on" else "active in period k or later"
    ax.set(
        title=title or f"Retention by {dimension.replace('_', ' ')} ({label})",
        xlabel=xlabel,
        ylabel="Customers retained (% of cohort)",
    )
    percent_axis(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    return ax
