"""Charts of lifecycle accounting, state transitions and time to second order."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from crmlib.errors import DataContractError

__all__ = ["plot_growth_accounting", "plot_transition_matrix", "plot_km_curves"]

log = logging.getLogger(__name__)


def _from_zero(values: np.ndarray) -> np.ndarray:
    """A step curve's values with 0 prepended at day 0 and the last value carried to the end."""
    return np.concatenate([[0.0], values, [values[-1] if len(values) else 0.0]])


def plot_growth_accounting(lifecycle: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Customers gained (new, resurrected: up) and lost (dormant: down), with the net change.

    Draws one group of bars per row of *lifecycle* (one row per period, as from
    :func:`crmlib.cohorts.lifecycle`): new and resurrected stacked above zero, dormant below,
    and the net change as a line. The last, partial period is hatched.
    """
    ax = ax or plt.gca()
    x = np.arange(len(lifecycle))
    new = lifecycle["new"].to_numpy(dtype="float64")
    resurrected = lifecycle["resurrected"].to_numpy(dtype="float64")
    dormant = lifecycle["dormant"].to_numpy(dtype="float64")
    hatch = ["" if done else "//" for done in lifecycle["is_complete"]]
    ax.bar(x, new, color="#2b8cbe", label="New", hatch=hatch)
    ax.bar(x, resurrected, bottom=new, color="#7bccc4", label="Resurrected", hatch=hatch)
    ax.bar(x, -dormant, color="#e34a33", label="Dormant", hatch=hatch)
    ax.plot(x, lifecycle["net_change"].to_numpy(), color="black", marker="o", ms=3,
            label="Net change")  # fmt: skip
    ax.axhline(0, color="grey", lw=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], lifecycle["period_label"].astype(str).to_numpy()[::step],
                  rotation=45, ha="right")  # fmt: skip
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    ax.set(title="Customers gained and lost per period (growth accounting)",
           xlabel="Period", ylabel="Customers")  # fmt: skip
    return ax


def plot_transition_matrix(matrix: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of the share of each state at t-1 moving to each state at t.

    Takes *matrix* (one row per state at t-1, one column per state at t, counts; as from
    :func:`crmlib.cohorts.transition_matrix`) and shows row shares (each row sums to 100%).
    """
    ax = ax or plt.gca()
    totals = matrix.sum(axis=1).replace(0, np.nan)
    shares = matrix.div(totals, axis=0)
    sns.heatmap(shares, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%", cbar=False,
                linewidths=0.5)  # fmt: skip
    ax.set(title="Where customers go next period (share of each state)",
           xlabel="State in period t", ylabel="State in period t-1")  # fmt: skip
    return ax


def plot_km_curves(
    curves: pd.DataFrame,
    *,
    max_days: int = 180,
    min_cell_size: int = 10,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Share of customers with a second order by days since the first, one line per group.

    Takes *curves* (one row per group and event time, as from
    :func:`crmlib.cohorts.km_curves`) and draws 1 - S(t) as a step function from 0 at day 0
    up to ``max_days``, with its 95% band. Each curve stops where fewer than ``min_cell_size``
    customers are still at risk (an estimate resting on a handful of customers is neither
    reliable nor private), so a group smaller than that has no line.
    """
    ax = ax or plt.gca()
    drawn = 0
    for group, rows in curves.groupby("group", sort=True):
        shown = rows[rows["time_days"] <= max_days]
        kept = shown[shown["at_risk"] >= min_cell_size]
        if kept.empty:
            continue
        drawn += 1
        # the last step runs on to max_days unless the curve was cut for a small risk set
        stop = kept["time_days"].iloc[-1] if len(kept) < len(shown) else max_days
        t = np.concatenate([[0.0], kept["time_days"].to_numpy(dtype="float64"), [stop]])
        share = 1.0 - kept["survival"].to_numpy(dtype="float64")
        low = 1.0 - kept["ci_upper"].to_numpy(dtype="float64")
        high = 1.0 - kept["ci_lower"].to_numpy(dtype="float64")
        share, low, high = (_from_zero(values) for values in (share, low, high))
        (line,) = ax.step(t, share, where="post", label=str(group))
        ax.fill_between(t, low, high, step="post", alpha=0.15, color=line.get_color())
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, max_days)
    ax.set_ylim(bottom=0)
    if not drawn:
        raise DataContractError(
            f"Kaplan-Meier curves: every group has fewer than min_cell_size={min_cell_size} "
            "customers at risk; nothing can be drawn"
        )
    if drawn > 1:
        ax.legend(fontsize="small")
    ax.set(title="Share of customers with a second order",
           xlabel="Days since first order", ylabel="Customers with a second order")  # fmt: skip
    return ax
