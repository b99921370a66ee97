"""Charts of the retention KPIs: customer mix, retention, revenue and channel engagement."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlib.kpis._common import _complete, _infer_period
from crmlib.plotting import money_axis, percent_axis

__all__ = [
    "plot_active_customers",
    "plot_retention_rate",
    "plot_revenue",
    "plot_channel_engagement",
]


def _period_axis(
    ax: plt.Axes, labels: Sequence[str], complete: Sequence[bool], *, period: str
) -> None:
    shown = [
        label if done else f"{label} (partial)"
        for label, done in zip(labels, complete, strict=True)
    ]
    step = max(1, int(np.ceil(len(shown) / 18)))
    ticks = list(range(len(shown)))[::-1][::step][::-1]  # always label the latest period
    ax.set_xticks(ticks, [shown[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.6, len(shown) - 0.4)
    ax.set_xlabel(period.capitalize())


def plot_active_customers(kpis: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Stacked bars of active customers per period: new, returning, reactivated (partial period lighter)."""
    ax = ax or plt.gca()
    x = np.arange(len(kpis))
    alpha = np.where(kpis["is_complete"], 1.0, 0.45)
    bottom = np.zeros(len(kpis))
    for column, label, colour in (
        ("new_customers", "New", "#3a9d5d"),
        ("returning_customers", "Returning", "#1f5f99"),
        ("reactivated_customers", "Reactivated", "#e07b39"),
    ):
        heights = kpis[column].to_numpy(dtype=float)
        bars = ax.bar(x, heights, bottom=bottom, color=colour, label=label, width=0.8)
        for bar, a in zip(bars, alpha, strict=True):
            bar.set_alpha(a)
        bottom += heights
    period = _infer_period(kpis) if len(kpis) else "period"
    _period_axis(ax, kpis["period_label"].tolist(), kpis["is_complete"].tolist(), period=period)
    ax.set(title=f"Active customers per {period}: new, returning and reactivated",
           ylabel="Customers with a purchase (count)")  # fmt: skip
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.legend(loc="upper left", ncols=3)
    return ax


def plot_retention_rate(kpis: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Retention and churn rate per complete period (partial periods are left out)."""
    ax = ax or plt.gca()
    done = _complete(kpis)
    x = np.arange(len(done))
    ax.plot(
        x, done["retention_rate"], marker="o", markersize=3, label="Retention rate", color="#1f5f99"
    )
    ax.plot(
        x,
        done["churn_rate"],
        marker="o",
        markersize=3,
        label="Churn rate",
        color="#c0392b",
        alpha=0.8,
    )
    period = _infer_period(kpis) if len(kpis) else "period"
    _period_axis(
        ax, done["period_label"].tolist(), [True] * len(done), period=f"{period} (complete only)"
    )
    ax.set(title=f"Retention and churn: previous {period}'s customers who bought again or not",
           ylabel="Share of previous period's active (%)", ylim=(0, 1))  # fmt: skip
    percent_axis(ax)
    ax.legend(loc="upper left", ncols=2)
    return ax


def plot_revenue(kpis: pd.DataFrame, *, currency: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Net revenue per period as bars (partial period lighter) with AOV as a line on a second axis."""
    ax = ax or plt.gca()
    x = np.arange(len(kpis))
    bars = ax.bar(x, kpis["revenue"], color="#1f5f99", width=0.8, label="Net revenue")
    for bar, done in zip(bars, kpis["is_complete"], strict=True):
        bar.set_alpha(1.0 if done else 0.45)
    period = _infer_period(kpis) if len(kpis) else "period"
    _period_axis(ax, kpis["period_label"].tolist(), kpis["is_complete"].tolist(), period=period)
    ax.set(
        title=f"Net revenue and average order value per {period}",
        ylabel=f"Net revenue ({currency})",
    )
    money_axis(ax, currency)
    twin = ax.twinx()
    twin.plot(
        x, kpis["aov"], color="#e07b39", marker="o", markersize=3, label="Average order value"
    )
    twin.set_ylabel(f"Average order value ({currency})")
    twin.set_ylim(0, max(1.0, float(np.nanmax(kpis["aov"].to_numpy(dtype=float), initial=0)) * 1.3))
    twin.grid(False)
    money_axis(twin, currency)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="upper left", ncols=2)
    return ax


def plot_channel_engagement(
    engagement: pd.DataFrame | None, *, ax: plt.Axes | None = None
) -> plt.Axes:
    """Open, click and conversion rate per period, one colour per channel (a note when there are no events)."""
    ax = ax or plt.gca()
    title = "Messaging engagement per channel: opened, clicked, bought after a send"
    if engagement is None or engagement.empty:
        ax.text(
            0.5,
            0.5,
            "No messaging events in this run",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set(title=title, xlabel="Period", ylabel="Share of sends (%)", xticks=[], yticks=[])
        return ax
    labels = list(dict.fromkeys(engagement["period_label"]))
    position = {label: i for i, label in enumerate(labels)}
    colours = {"email": "#1f5f99", "sms": "#e07b39", "push": "#3a9d5d"}
    window = int(engagement["conversion_window_days"].iloc[0])
    styles = (("open_rate", "opened", "-"), ("click_rate", "clicked", ":"),
              ("conversion_rate", f"bought within {window} d", "--"))  # fmt: skip
    for channel, rows in engagement.groupby("channel", sort=False):
        x = rows["period_label"].map(position)
        for column, what, style in styles:
            ax.plot(x, rows[column], linestyle=style, marker="o", markersize=3,
                    color=colours.get(str(channel)), label=f"{channel} {what}")  # fmt: skip
    complete = engagement.drop_duplicates("period_label")["is_complete"].tolist()
    _period_axis(ax, labels, complete, period=_infer_period(engagement))
    ax.set(title=title, ylabel="Share of sends (%)")
    ax.set_ylim(bottom=0)
    percent_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5)
    return ax
