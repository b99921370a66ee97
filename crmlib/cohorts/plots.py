"""Charts of stage 03_cohorts: cohort matrices, lifecycle, transitions and time to second order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from crmlib.cohorts.models.pooling import _lifecycle_hidden
from crmlib.cohorts.tables import LIMIT, SMALL_COHORTS
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.plotting import PALETTE, note_on_axes, percent_axis
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = [
    "plot_or_note",
    "plot_cohort_heatmap",
    "plot_retention_curves",
    "plot_growth_accounting",
    "plot_transition_matrix",
    "plot_km_curves",
]

log = logging.getLogger(__name__)


# -- chart fallbacks -------------------------------------------------------------------------
def plot_or_note(
    plot: Callable[..., plt.Axes],
    table: pd.DataFrame | None,
    *,
    ax: plt.Axes | None = None,
    note: str = "Not enough data for this chart (see the text above).",
    **kwargs: Any,
) -> plt.Axes:
    """Draw ``plot(table, ax=ax, **kwargs)``, or write why not on the axes.

    When ``table`` is None or empty, or the plot finds its input unusable
    (``DataContractError``, e.g. a split the run has no customers table for), the axes show
    ``note`` (or the error) instead of a chart, so the notebook goes on.
    """
    ax = ax or plt.gca()
    reason = note
    if table is not None and len(table):
        try:
            return plot(table, ax=ax, **kwargs)
        except DataContractError as error:
            reason = str(error)
    return note_on_axes(ax, reason)


def _caption(ax: plt.Axes, text: str) -> None:
    """Write ``text`` under the chart of ``ax`` (small, grey): what the chart leaves out."""
    ax.figure.text(0.01, 0.0, text, ha="left", va="top", fontsize=8.5, color="#5f6b73",
                   style="italic", wrap=True)  # fmt: skip


# -- cohort matrices -------------------------------------------------------------------------
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


# -- lifecycle, transitions, time to second order --------------------------------------------
def _from_zero(values: np.ndarray) -> np.ndarray:
    """A step curve's values with 0 prepended at day 0 and the last value carried to the end."""
    return np.concatenate([[0.0], values, [values[-1] if len(values) else 0.0]])


def plot_growth_accounting(
    lifecycle: pd.DataFrame,
    *,
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Customers gained (new, resurrected: up) and lost (dormant: down), with the net change.

    Draws one group of bars per row of *lifecycle* (one row per period, as from
    :func:`crmlib.cohorts.lifecycle`): new and resurrected stacked above zero, dormant below,
    and the net change as a line. The last, partial period is hatched. A bar of fewer than
    ``min_cell_size`` customers is not drawn, nor a second bar of its period where the
    period's total would give it back, nor the net change of such a period (the rule of
    :func:`crmlib.cohorts.describe_lifecycle`); a caption under the chart says so.
    """
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
    hidden = _lifecycle_hidden(lifecycle, rule)

    def shown(column: str) -> np.ndarray:
        values = lifecycle[column].to_numpy(dtype="float64")
        return np.where(hidden[column].to_numpy(bool), np.nan, values)

    x = np.arange(len(lifecycle))
    new, resurrected, dormant = shown("new"), shown("resurrected"), shown("dormant")
    hatch = ["" if done else "//" for done in lifecycle["is_complete"]]
    ax.bar(x, new, color="#2b8cbe", label="New", hatch=hatch)
    ax.bar(x, resurrected, bottom=np.nan_to_num(new), color="#7bccc4", label="Resurrected",
           hatch=hatch)  # fmt: skip
    ax.bar(x, -dormant, color="#e34a33", label="Dormant", hatch=hatch)
    ax.plot(x, shown("net_change"), color="black", marker="o", ms=3, label="Net change")
    ax.axhline(0, color="grey", lw=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], lifecycle["period_label"].astype(str).to_numpy()[::step],
                  rotation=45, ha="right")  # fmt: skip
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    ax.set(title="Customers gained and lost per period (growth accounting)",
           xlabel="Period", ylabel="Customers")  # fmt: skip
    bars = hidden[["new", "resurrected", "dormant"]]
    if bars.to_numpy().any():
        periods = int(bars.any(axis=1).sum())
        _caption(
            ax,
            f"Not drawn in {periods} period{'s' if periods != 1 else ''}: bars of fewer than "
            f"{rule.min_cell_size:,} customers, a second bar where the period's total would give "
            "one back, and the net change of those periods.",
        )
    return ax


def plot_transition_matrix(
    matrix: pd.DataFrame,
    *,
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Heatmap of the share of each state at t-1 moving to each state at t.

    Takes *matrix* (one row per state at t-1, one column per state at t, counts; as from
    :func:`crmlib.cohorts.transition_matrix`) and shows row shares (each row sums to 100%).
    A row whose state held fewer than ``min_cell_size`` customers (rates on a small group)
    is not drawn, and a caption says so.
    """
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
    totals = matrix.sum(axis=1)
    shares = matrix.div(totals.replace(0, np.nan), axis=0)
    small = rule.is_small(totals)
    shares = shares.where(~small[:, None].repeat(shares.shape[1], axis=1))
    sns.heatmap(shares, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%", cbar=False,
                linewidths=0.5)  # fmt: skip
    ax.set(title="Where customers go next period (share of each state)",
           xlabel="State in period t", ylabel="State in period t-1")  # fmt: skip
    if small.any():
        states = ", ".join(str(state) for state in matrix.index[small])
        _caption(
            ax,
            f"Not drawn: {states} (fewer than {rule.min_cell_size:,} customers over all pairs "
            "of periods).",
        )
    return ax


def plot_km_curves(
    curves: pd.DataFrame,
    *,
    max_days: int = DEFAULTS.cohorts.km_max_days,
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Share of customers with a second order by days since the first, one line per group.

    Takes *curves* (one row per group and event time, as from
    :func:`crmlib.cohorts.km_curves`) and draws 1 - S(t) as a step function from 0 at day 0
    up to ``max_days``, with its 95% band. Each curve stops where fewer than ``min_cell_size``
    customers are still at risk (an estimate resting on a handful of customers is neither
    reliable nor private), so a group smaller than that has no line: pool small groups into
    ``(other)`` first (:func:`crmlib.cohorts.pool_groups`). A caption says what was pooled or
    cut.
    """
    ax = ax or plt.gca()
    rule = SmallCells(min_cell_size)
    drawn, cut, dropped = 0, 0, 0
    groups = sorted(curves["group"].astype(str).unique(), key=lambda g: (g == OTHER, g))
    for group in groups:
        rows = curves[curves["group"].astype(str) == group]
        shown = rows[rows["time_days"] <= max_days]
        kept = shown[~rule.is_small(shown["at_risk"])]
        if kept.empty:
            dropped += 1
            continue
        drawn += 1
        cut += int(len(kept) < len(shown))
        # the last step runs on to max_days unless the curve was cut for a small risk set
        stop = kept["time_days"].iloc[-1] if len(kept) < len(shown) else max_days
        t = np.concatenate([[0.0], kept["time_days"].to_numpy(dtype="float64"), [stop]])
        share = 1.0 - kept["survival"].to_numpy(dtype="float64")
        low = 1.0 - kept["ci_upper"].to_numpy(dtype="float64")
        high = 1.0 - kept["ci_lower"].to_numpy(dtype="float64")
        share, low, high = (_from_zero(values) for values in (share, low, high))
        color = "#8c8c8c" if group == OTHER else None
        (line,) = ax.step(t, share, where="post", label=group, color=color)
        ax.fill_between(t, low, high, step="post", alpha=0.15, color=line.get_color())
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, max_days)
    ax.set_ylim(bottom=0)
    if not drawn:
        raise DataContractError(
            f"Kaplan-Meier curves: every group has fewer than min_cell_size={rule.min_cell_size} "
            "customers at risk; nothing can be drawn"
        )
    if drawn > 1:
        ax.legend(fontsize="small")
    ax.set(title="Share of customers with a second order",
           xlabel="Days since first order", ylabel="Customers with a second order")  # fmt: skip
    notes = []
    if OTHER in groups:
        notes.append(
            f"{OTHER} pools the groups of fewer than {rule.min_cell_size:,} customers (with the "
            "smallest others, as needed)."
        )
    if cut or dropped:
        notes.append(
            f"A curve stops where fewer than {rule.min_cell_size:,} customers are still "
            "followed without a second order"
            + (
                f"; {dropped} group{'s' if dropped != 1 else ''} had too few to draw."
                if dropped
                else "."
            )
        )
    if notes:
        _caption(ax, " ".join(notes))
    return ax
