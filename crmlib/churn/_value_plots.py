"""Charts of churn value at risk: by group, by risk band, and the contact list's payoff curve.

Each chart takes the table built in :mod:`crmlib.churn._value` and an axis, and returns the
axis. No chart shows a customer id.
"""

from __future__ import annotations

import logging
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator, MultipleLocator

from crmlib.checks import require_columns
from crmlib.churn._value import hidden_bands
from crmlib.plotting import PALETTE, format_money, money_axis
from crmlib.privacy import HIDDEN, SmallCells

__all__ = [
    "plot_value_at_risk_by",
    "plot_risk_bands",
    "plot_contact_curve",
]

log = logging.getLogger(__name__)

#: Band colours, Low to High: green, orange, red of the house palette.
_BAND_COLORS = {"Low": PALETTE[2], "Medium": PALETTE[1], "High": PALETTE[3]}


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

    Draws *table* as from :func:`crmlib.churn._value.value_at_risk_by` (one row per group: the
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

    Draws *summary* as from :func:`crmlib.churn._value.band_summary` (one row per band:
    ``band``, ``customers``, optionally ``threshold`` and ``share``). The small-cell rule
    (``min_cell_size``): a band of fewer customers is not drawn and reads "<10", and, since
    the bars add up to everyone scored, the next smallest band is not drawn either and reads
    "–" (:func:`crmlib.churn.hidden_bands`); the axis label says so.

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

    Draws *plan* as from :func:`crmlib.churn._value.contact_plan` (one row per customer:
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
