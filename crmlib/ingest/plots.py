"""Charts of the 01_ingest data-quality report: rejected rows by reason, orders per day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from crmlib.errors import DataContractError
from crmlib.ingest.models import rejects_by_reason
from crmlib.ingest.text import _reason_label

__all__ = [
    "plot_rejects_by_reason",
    "plot_orders_per_day",
]


_GAP_COLOUR = "#c0392b"


def plot_rejects_by_reason(quality: Mapping[str, Any], *, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars: rejected rows per reason code, coloured by table.

    Parameters
    ----------
    quality : mapping
        ``IngestResult.quality`` (or ``quality.json``); counts only, no raw rows.
    ax : matplotlib Axes, optional
        Where to draw; the current axes by default.

    Returns
    -------
    matplotlib Axes
    """
    ax = ax or plt.gca()
    reasons = rejects_by_reason(quality)
    if reasons.empty:
        ax.text(0.5, 0.5, "No rows rejected", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[])
    else:
        reasons = reasons.assign(reason=reasons["reason"].map(_reason_label))
        sns.barplot(data=reasons, x="rows", y="reason", hue="table", orient="h", ax=ax, dodge=False)
        for container in ax.containers:
            ax.bar_label(container, fmt="{:,.0f}", padding=3, fontsize=9)  # type: ignore[arg-type]
        ax.margins(x=0.12)
        legend = ax.get_legend()
        if reasons["table"].nunique() == 1 and legend is not None:
            legend.remove()
    total = int(reasons["rows"].sum()) if not reasons.empty else 0
    ax.set(
        title=f"Rejected rows by reason ({total:,} rows)",
        xlabel="Rejected rows (count)",
        ylabel="Reject reason",
    )
    return ax


def plot_orders_per_day(daily_orders: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Orders per day with a 7-day average; days without orders shaded.

    Parameters
    ----------
    daily_orders : pd.DataFrame
        One row per calendar day (the ``daily_orders`` artifact): ``date``, ``orders``.
    ax : matplotlib Axes, optional
        Where to draw; the current axes by default.

    Returns
    -------
    matplotlib Axes
    """
    missing = [c for c in ("date", "orders") if c not in daily_orders.columns]
    if missing:
        raise DataContractError(
            f"daily_orders: column(s) {', '.join(missing)} not found; expected the daily_orders artifact of 01_ingest"
        )
    ax = ax or plt.gca()
    dates = pd.to_datetime(daily_orders["date"])
    orders = daily_orders["orders"].astype(float)
    zero = (orders == 0).to_numpy()
    ax.plot(dates, orders, linewidth=0.6, alpha=0.5, label="orders")
    ax.plot(dates, orders.rolling(7, min_periods=1).mean(), linewidth=1.6, label="7-day average")
    n_gaps = int(zero.sum())
    if n_gaps:
        ax.fill_between(dates, 0, 1, where=zero, step="mid", color=_GAP_COLOUR, alpha=0.35,
                        transform=ax.get_xaxis_transform(), label=f"day without orders ({n_gaps:,})")  # fmt: skip
        ax.scatter(dates[zero], orders[zero], color=_GAP_COLOUR, s=12, zorder=3)
    ax.set_ylim(bottom=0)
    gaps = f"{n_gaps:,} day(s) without orders highlighted" if n_gaps else "no day without orders"
    ax.set(
        title=f"Orders per day ({gaps})", xlabel="Order date (UTC)", ylabel="Orders per day (count)"
    )
    ax.legend(loc="upper left")
    return ax
