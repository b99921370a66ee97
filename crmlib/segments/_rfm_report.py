"""Sentences, charts and display tables of RFM segments, their migration and profiles."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from crmlib.checks import require_columns
from crmlib.kpis._tiles import _fmt
from crmlib.plotting import PALETTE, format_money, percent_axis
from crmlib.segments._profiles import _value_order

__all__ = [
    "describe_segments",
    "describe_migration",
    "plot_segment_sizes",
    "plot_rfm_heatmap",
    "plot_migration_heatmap",
    "profile_table",
]

log = logging.getLogger(__name__)

_DASH, _ARROW = "\u2013", "\u2192"
_WIN_BACK = ("At risk", "Can't lose")


def _bold(name: str) -> str:
    return f"**{name}**"


def _rate(value: Any) -> str:
    """A share as ``12.3%``; a tiny negative share reads ``0.0%``, not ``-0.0%``."""
    if value is None or pd.isna(value):
        return _DASH
    return _fmt(round(float(value), 3) + 0.0, "rate")


def _customers(count: Any) -> str:
    return f"{_fmt(int(count), 'count')} customer{'' if int(count) == 1 else 's'}"


def describe_segments(summary: pd.DataFrame, *, currency: str) -> str:
    """Markdown: how customers and net revenue spread over the segments, with the numbers.

    Reads *summary* (one row per segment in value order, as from
    :func:`crmlib.segments._rfm.segment_summary`) and states the number of customers, the
    largest segment, the share of customers and revenue of the two most valuable segments
    (Champions and Loyal with the default rules), the win-back segments (At risk, Can't
    lose) when present, the two least valuable ones, and where mean CLV is highest when
    known. Revenue is the net ``monetary`` of the RFM window.
    """
    require_columns(
        summary,
        ("segment", "customers", "share_customers", "revenue", "share_revenue"),
        table_name="segment summary",
    )
    total = int(summary["customers"].sum())
    if total == 0:
        return "No customer has a purchase on or before the as-of date, so there are no segments."
    present = summary[summary["customers"] > 0]
    revenue = float(summary["revenue"].sum())
    lines = [
        f"**{_fmt(total, 'count')} customers** with a purchase on or before the as-of date "
        f"fall into {len(present)} of {len(summary)} segments; together they brought "
        f"{_fmt(revenue, 'money', currency)} of net revenue in the RFM window."
    ]
    largest = present.sort_values("customers", ascending=False, kind="stable").iloc[0]
    lines.append(
        f"- The largest segment is {_bold(str(largest['segment']))}: "
        f"{_rate(largest['share_customers'])} of customers and "
        f"{_rate(largest['share_revenue'])} of net revenue."
    )
    top = summary.head(2)
    if len(top) == 2:
        lines.append(
            f"- The two most valuable segments, {' and '.join(_bold(s) for s in top['segment'])}, "
            f"are {_rate(top['customers'].sum() / total)} of customers "
            f"({_fmt(int(top['customers'].sum()), 'count')}) and bring "
            f"{_rate(top['share_revenue'].sum())} of net revenue "
            f"({_fmt(float(top['revenue'].sum()), 'money', currency)})."
        )
    win_back = summary[summary["segment"].isin(_WIN_BACK)]
    if len(win_back) == len(_WIN_BACK):
        lines.append(
            f"- {' and '.join(_bold(s) for s in win_back['segment'])} hold "
            f"{_customers(win_back['customers'].sum())} who used to buy "
            f"often but not lately; they brought {_rate(win_back['share_revenue'].sum())} "
            f"of net revenue ({_fmt(float(win_back['revenue'].sum()), 'money', currency)}): "
            "the first audience for a win-back campaign."
        )
    bottom = summary.tail(2)
    if len(summary) > 3:
        lines.append(
            f"- The least valuable segments, {' and '.join(_bold(s) for s in bottom['segment'])}, "
            f"are {_rate(bottom['customers'].sum() / total)} of customers and "
            f"{_rate(bottom['share_revenue'].sum())} of net revenue."
        )
    if "mean_clv" in summary.columns and summary["mean_clv"].notna().any():
        known = summary.dropna(subset=["mean_clv"]).sort_values(
            "mean_clv", ascending=False, kind="stable"
        )
        high, low = known.iloc[0], known.iloc[-1]
        lines.append(
            f"- Mean predicted CLV is highest in {_bold(str(high['segment']))} "
            f"({_fmt(high['mean_clv'], 'money', currency)}) and lowest in "
            f"{_bold(str(low['segment']))} ({_fmt(low['mean_clv'], 'money', currency)})."
        )
    return "\n".join(lines)


def describe_migration(summary: Mapping[str, Any], *, lookback_days: int) -> str:
    """Markdown: how many customers moved up, stayed, moved down or are new over the lookback.

    Reads the dict of :func:`crmlib.segments._migration.migration_summary`.
    """
    total, existing = int(summary["customers"]), int(summary["existing_customers"])
    if total == 0:
        return "No customer has a purchase on or before the as-of date: there is no migration."
    new = (
        f"{_customers(summary['new'])} ({_rate(summary['share_new'])} of "
        f"today's {_fmt(total, 'count')}) made their first purchase in the last "
        f"{lookback_days} days"
    )
    if existing == 0:
        return f"No customer had bought {lookback_days} days ago: all {new}."
    text = (
        f"Of the {_customers(existing)} who had already bought {lookback_days} "
        f"days ago, **{_rate(summary['share_moved_up'])} moved up** to a more valuable "
        f"segment ({_fmt(summary['moved_up'], 'count')}), "
        f"**{_rate(summary['share_stayed'])} stayed** "
        f"({_fmt(summary['stayed'], 'count')}) and "
        f"**{_rate(summary['share_moved_down'])} moved down** "
        f"({_fmt(summary['moved_down'], 'count')}); {new}."
    )
    flows = []
    for way, label in (("largest_up", "up"), ("largest_down", "down")):
        flow = summary.get(way)
        if flow:
            flows.append(
                f"the largest move {label} was {flow['from']} {_ARROW} {flow['to']} "
                f"({_customers(flow['customers'])})"
            )
    if flows:
        joined = "; ".join(flows)
        text += f" {joined[0].upper()}{joined[1:]}."
    return text


def plot_segment_sizes(summary: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars per segment: share of customers next to share of net revenue.

    Segments run top to bottom in value order (as in ``summary``).
    """
    require_columns(
        summary, ("segment", "share_customers", "share_revenue"), table_name="segment summary"
    )
    ax = ax or plt.gca()
    positions = np.arange(len(summary))
    height = 0.4
    ax.barh(
        positions - height / 2,
        summary["share_customers"].fillna(0.0),
        height=height,
        color=PALETTE[0],
        label="Share of customers",
    )
    ax.barh(
        positions + height / 2,
        summary["share_revenue"].fillna(0.0),
        height=height,
        color=PALETTE[1],
        label="Share of net revenue",
    )
    ax.set_yticks(positions, labels=[str(s) for s in summary["segment"]])
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.6)
    percent_axis(ax, axis="x")
    ax.set(
        title="Segment size vs share of net revenue",
        xlabel="Share of all customers / of net revenue in the RFM window",
        ylabel="Segment (most valuable first)",
    )
    ax.legend(loc="lower right")
    return ax


def plot_rfm_heatmap(grid: pd.DataFrame, *, currency: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Recency score (columns) x frequency score (rows, best on top), colour = customers.

    Reads *grid* (one row per R x F cell, as from :func:`crmlib.segments._rfm.rfm_grid`);
    each non-empty cell is annotated with the mean net monetary value of its customers in
    ``currency`` (the run's ``params.currency``), which the title names.
    """
    require_columns(
        grid, ("r_score", "f_score", "customers", "mean_monetary"), table_name="rfm grid"
    )
    ax = ax or plt.gca()
    counts = grid.pivot(index="f_score", columns="r_score", values="customers").sort_index(
        ascending=False
    )
    money = grid.pivot(index="f_score", columns="r_score", values="mean_monetary").reindex(
        index=counts.index, columns=counts.columns
    )
    labels = np.array(
        [
            [
                format_money(round(float(m)) + 0.0, currency, decimals=1)
                if n > 0 and np.isfinite(m)
                else ""
                for n, m in zip(n_row, m_row, strict=True)
            ]
            for n_row, m_row in zip(counts.to_numpy(), money.to_numpy(), strict=True)
        ],
        dtype=object,
    ).reshape(counts.shape)
    sns.heatmap(
        counts.astype("float64"),
        ax=ax,
        cmap="Blues",
        annot=labels,
        fmt="",
        cbar=True,
        cbar_kws={"label": "Customers"},
        linewidths=0.4,
        linecolor="white",
    )
    ax.set(
        title=f"Customers by recency and frequency score (labels: mean net spend, {currency})",
        xlabel="Recency score (higher = bought more recently)",
        ylabel="Frequency score (higher = more orders)",
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def plot_migration_heatmap(matrix: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Where each earlier segment's customers are now: row-normalised shares, annotated.

    Reads *matrix* (segment before x segment after, customers, as from
    :func:`crmlib.segments._migration.migration_matrix`); each row is divided by its total,
    so a row reads "of the customers who were X, this share is now Y". Pairs nobody took
    and rows without customers stay blank.
    """
    ax = ax or plt.gca()
    values = matrix.astype("float64")
    totals = values.sum(axis=1)
    shares = values.div(totals.where(totals > 0), axis=0)
    size = max(6.0, min(9.0, 110.0 / max(len(shares.columns), 1)))
    labels = np.where(values.to_numpy() > 0, shares.map(lambda v: f"{v:.0%}").to_numpy(), "")
    sns.heatmap(
        shares,
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
    ax.set(
        title="Where each segment's customers moved (share of the earlier segment)",
        xlabel="Segment at the as-of date",
        ylabel="Segment at the start of the lookback",
    )
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def profile_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """Segment profiles for display: one row per (dimension, value), one column per segment.

    Reads *profiles* (tidy, as from :func:`crmlib.segments._profiles.segment_profiles`).
    Cells are the share of the segment's customers as a percent string (``"23%"``); masked
    cells (fewer customers than ``min_cell_size``) and empty cells read ``"–"``, so a
    small cell's value is never shown. Dimensions, values and segments keep the input's order.
    """
    require_columns(
        profiles, ("dimension", "segment", "value", "share", "masked"), table_name="profiles"
    )
    text = np.where(
        profiles["masked"].to_numpy(dtype="bool"),
        _DASH,
        profiles["share"].map(lambda v: f"{v:.0%}").to_numpy(dtype=object),
    )
    cells = profiles.assign(cell=text)
    pairs = cells[["dimension", "value"]].drop_duplicates()
    dimension_rank = {d: i for i, d in enumerate(dict.fromkeys(pairs["dimension"]))}
    pairs = pairs.assign(
        _dimension=pairs["dimension"].map(dimension_rank),
        _value=[
            int(_value_order(d, pd.Series([v])).iloc[0])
            for d, v in zip(pairs["dimension"], pairs["value"], strict=True)
        ],
    ).sort_values(["_dimension", "_value", "value"], kind="stable")
    rows = list(zip(pairs["dimension"], pairs["value"], strict=True))
    columns = list(dict.fromkeys(cells["segment"]))
    table = (
        cells.set_index(["dimension", "value", "segment"])["cell"]
        .unstack("segment")
        .reindex(index=pd.MultiIndex.from_tuples(rows, names=["dimension", "value"]))
        .reindex(columns=columns)
        .fillna(_DASH)
    )
    table.columns.name = "segment"
    return table
