"""Charts of the cohort matrices: a retention heatmap and retention curves by dimension value."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle

from crmlib.cohorts._display import LIMIT, SMALL_COHORTS, _caption
from crmlib.errors import DataContractError
from crmlib.plotting import PALETTE, percent_axis
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

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
    :func:`display_matrix`). NaN cells (periods not reached yet) are left blank. The rows
    listed in ``matrix.attrs["small_cohorts"]`` (cohorts of fewer customers than
    ``attrs["min_cell_size"]``, set by :func:`display_matrix`) are not drawn: the row is grey
    and reads "fewer than 10 customers: not shown". Annotations shrink with the number of
    cohorts so 24 rows stay readable. A matrix with no value at all raises
    :class:`DataContractError` (drawn as a note by :func:`plot_or_note`).

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
    small = [label for label in matrix.attrs.get(SMALL_COHORTS, ()) if label in matrix.index]
    rule = SmallCells(matrix.attrs.get(LIMIT, MIN_CELL_SIZE))
    if not values.notna().to_numpy().any():
        raise DataContractError(
            f"No cell to show: every cohort shown holds fewer than {rule.min_cell_size:,} "
            "customers (smaller than the minimum cell size, privacy.min_cell_size)"
            if small and len(small) == rows
            else "No cell to show: every cohort is smaller than the minimum cell size "
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
    for label in small:
        row = matrix.index.get_loc(label)
        ax.add_patch(Rectangle((0, row), columns, 1, facecolor="#eeeeee", edgecolor="white"))
        note = f"fewer than {rule.min_cell_size:,} customers: not shown"
        ax.text(columns / 2, row + 0.5, note, ha="center", va="center", fontsize=size,
                color="#5f6b73", style="italic")  # fmt: skip
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
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "Periods since acquisition",
) -> plt.Axes:
    """Retention curves, one line per value of a dimension, pooled over cohorts.

    Transforms the tidy output of :func:`cohort_retention` (one row per cohort x k x
    dimension value x definition) into one line per dimension value: at each k, retained
    customers / cohort size summed over the cohorts that reached k (the cohort-size weighted
    mean). Small cohorts are pooled in. Values that acquired fewer than ``min_cell_size``
    customers are pooled into one ``(other)`` line (:meth:`crmlib.privacy.SmallCells.pooled_groups`:
    with the smallest others until it holds that many customers and two values), and a
    point that still rests on fewer customers (few cohorts reached k) is not drawn; a
    caption under the chart says so. Cohorts of the customers present at the start
    (``present_at_start``) are not acquisition cohorts and are left out.

    Parameters
    ----------
    tidy : pd.DataFrame
        From :func:`cohort_retention`.
    dimension : str, default "acquisition_channel"
        The split to draw (``"all"`` for the overall curve).
    definition : {"on", "on_or_after"}, default "on"
    max_k : int, default 12
        Last period since acquisition shown.
    min_cell_size : int, default MIN_CELL_SIZE
        ``privacy.min_cell_size``: the fewest customers a line or a point may rest on.
    ax : plt.Axes, optional
    title : str, optional
        Defaults to "Retention by <dimension> (...)".
    xlabel : str

    Returns
    -------
    plt.Axes
    """
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
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
    values = rows["dimension_value"].astype("str")
    acquired = rows[rows["periods_since"] == 0].groupby(values)["cohort_size"].sum()
    pooled_values = rule.pooled_groups(acquired)
    line_of = values.where(~values.isin(pooled_values), OTHER)
    pooled = rows.groupby([line_of, rows["periods_since"]])[["customers", "cohort_size"]].sum()
    pooled = pooled.reset_index().rename(columns={"dimension_value": "line"})
    pooled["retention"] = pooled["customers"] / pooled["cohort_size"]
    shown = rule.hide(pooled, size="cohort_size", columns=["retention"]).dropna(
        subset=["retention"]
    )
    if shown.empty:
        raise DataContractError(
            f"cohort retention: every {dimension!r} curve rests on fewer than "
            f"min_cell_size={rule.min_cell_size} customers; nothing can be drawn"
        )
    # legend in the order of retention at the last k shown: the best line first, (other) last
    last = shown[shown["periods_since"] == shown["periods_since"].max()]
    order = last.sort_values("retention", ascending=False)["line"].tolist()
    order += [v for v in shown["line"].unique() if v not in order]
    order = [v for v in order if v != OTHER] + ([OTHER] if OTHER in order else [])
    for i, value in enumerate(order):
        line = shown[shown["line"] == value]
        ax.plot(
            line["periods_since"],
            line["retention"],
            marker="o",
            markersize=3,
            color="#8c8c8c" if value == OTHER else PALETTE[i % len(PALETTE)],
            label=str(value),
        )
    label = "active in period k" if definition == "on" else "active in period k or later"
    name = dimension.replace("_", " ")
    ax.set(
        title=title or f"Retention by {name} ({label})",
        xlabel=xlabel,
        ylabel="Customers retained (% of cohort)",
    )
    percent_axis(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    notes = []
    if pooled_values:
        notes.append(
            f"{OTHER} pools {len(pooled_values)} values of {name} "
            f"({', '.join(sorted(pooled_values))}) so that no line rests on fewer than "
            f"{rule.min_cell_size:,} customers."
        )
    if len(shown) < len(pooled):
        notes.append(
            f"Points resting on fewer than {rule.min_cell_size:,} customers (few cohorts reached "
            "that period) are not drawn."
        )
    if notes:
        _caption(ax, " ".join(notes))
    return ax
