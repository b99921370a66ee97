"""Charts of lifecycle accounting, state transitions and time to second order."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from crmlib.cohorts._display import _caption, _lifecycle_hidden
from crmlib.errors import DataContractError
from crmlib.privacy import MIN_CELL_SIZE, OTHER, SmallCells

__all__ = ["plot_growth_accounting", "plot_transition_matrix", "plot_km_curves"]

log = logging.getLogger(__name__)


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
    max_days: int = 180,
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
