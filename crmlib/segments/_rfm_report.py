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
from crmlib.formatting import format_figure
from crmlib.plotting import PALETTE, format_money, percent_axis
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, OTHER, SmallCells
from crmlib.segments._profiles import _value_order

__all__ = [
    "describe_segments",
    "describe_migration",
    "migration_counts",
    "plot_segment_sizes",
    "plot_rfm_heatmap",
    "plot_migration_heatmap",
    "profile_table",
]

log = logging.getLogger(__name__)

_ARROW = "\u2192"
_WIN_BACK = ("At risk", "Can't lose")
#: The counts of :func:`crmlib.segments.migration_summary` that the report states, and how
#: they add up (moves of the customers who had already bought; existing + new = today's).
_MIGRATION_COUNTS = ("customers", "existing_customers", "moved_up", "stayed", "moved_down", "new")
_MIGRATION_PARTS = {
    "existing_customers": ["moved_up", "stayed", "moved_down"],
    "customers": ["existing_customers", "new"],
}


def _bold(name: str) -> str:
    return f"**{name}**"


def _rate(value: Any) -> str:
    """A share as ``12.3%``; a tiny negative share reads ``0.0%``, not ``-0.0%``."""
    if value is None or pd.isna(value):
        return HIDDEN
    return format_figure(round(float(value), 3) + 0.0, "rate")


def _customers(words: str) -> str:
    """``"1,234 customers"`` from a count's words (:func:`migration_counts`)."""
    return f"{words} customer{'' if words == '1' else 's'}"


def _label_hidden(
    ax: plt.Axes, labels: np.ndarray, hidden: np.ndarray, *, fontsize: float | None = None
) -> None:
    """Write ``labels`` on the heatmap cells that are ``hidden`` (seaborn leaves masked ones bare)."""
    for row, column in zip(*np.nonzero(hidden), strict=True):
        ax.text(
            column + 0.5,
            row + 0.5,
            str(labels[row, column]),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="#5f6b73",
        )


def describe_segments(
    summary: pd.DataFrame, *, currency: str, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: how customers and net revenue spread over the segments, with the numbers.

    Reads *summary* (one row per segment in value order, as from
    :func:`crmlib.segments._rfm.segment_summary`) and states the number of customers, the
    largest segment, the share of customers and revenue of the two most valuable segments
    (Champions and Loyal with the default rules), the win-back segments (At risk, Can't
    lose) when present, and the two least valuable ones. Revenue is the net ``monetary`` of
    the RFM window.

    Small-cell rule: a group of segments quoted together with fewer than ``min_cell_size``
    customers is stated as "fewer than 10 customers" without its shares and revenue.
    """
    require_columns(
        summary,
        ("segment", "customers", "share_customers", "revenue", "share_revenue"),
        table_name="segment summary",
    )
    rule = SmallCells(min_cell_size)
    total = int(summary["customers"].sum())
    if total == 0:
        return "No customer has a purchase on or before the as-of date, so there are no segments."
    present = summary[summary["customers"] > 0]
    revenue = float(summary["revenue"].sum())
    lines = [
        f"**{rule.phrase(total)}** with a purchase on or before the as-of date "
        f"fall into {len(present)} of {len(summary)} segments; together they brought "
        f"{format_figure(revenue, 'money', currency)} of net revenue in the RFM window."
    ]
    largest = present.sort_values("customers", ascending=False, kind="stable").iloc[0]
    if rule.shown(int(largest["customers"])):
        lines.append(
            f"- The largest segment is {_bold(str(largest['segment']))}: "
            f"{_rate(largest['share_customers'])} of customers and "
            f"{_rate(largest['share_revenue'])} of net revenue."
        )
    else:
        lines.append(
            f"- The largest segment is {_bold(str(largest['segment']))}, with "
            f"{rule.phrase(int(largest['customers']))}."
        )
    top = summary.head(2)
    if len(top) == 2:
        names = " and ".join(_bold(s) for s in top["segment"])
        size = int(top["customers"].sum())
        lines.append(
            f"- The two most valuable segments, {names}, are "
            f"{_rate(size / total)} of customers ({rule.phrase(size)}) and bring "
            f"{_rate(top['share_revenue'].sum())} of net revenue "
            f"({format_figure(float(top['revenue'].sum()), 'money', currency)})."
            if rule.shown(size)
            else f"- The two most valuable segments, {names}, hold {rule.phrase(size)}."
        )
    win_back = summary[summary["segment"].isin(_WIN_BACK)]
    if len(win_back) == len(_WIN_BACK):
        names = " and ".join(_bold(s) for s in win_back["segment"])
        size = int(win_back["customers"].sum())
        lines.append(
            f"- {names} hold {rule.phrase(size)} who used to buy "
            f"often but not lately; they brought {_rate(win_back['share_revenue'].sum())} "
            f"of net revenue ({format_figure(float(win_back['revenue'].sum()), 'money', currency)}): "
            "the first audience for a win-back campaign."
            if rule.shown(size)
            else f"- {names} hold {rule.phrase(size)} who used to buy often but not lately: "
            "too few to describe their revenue."
        )
    bottom = summary.tail(2)
    if len(summary) > 3:
        names = " and ".join(_bold(s) for s in bottom["segment"])
        size = int(bottom["customers"].sum())
        lines.append(
            f"- The least valuable segments, {names}, "
            f"are {_rate(size / total)} of customers and "
            f"{_rate(bottom['share_revenue'].sum())} of net revenue."
            if rule.shown(size)
            else f"- The least valuable segments, {names}, hold {rule.phrase(size)}."
        )
    return "\n".join(lines)


def migration_counts(
    summary: Mapping[str, Any], *, min_cell_size: int = MIN_CELL_SIZE
) -> dict[str, str | None]:
    """The customer counts of a migration summary as words for a sentence.

    Reads the dict of :func:`crmlib.segments._migration.migration_summary` and returns its
    *customers, existing_customers, moved_up, stayed, moved_down, new* as text
    (:meth:`crmlib.privacy.SmallCells.words`): ``"fewer than 10"`` for a count from 1 to
    ``min_cell_size - 1``, None for a count that is not stated because, with the others and
    their total (moves add up to the existing customers, existing + new to today's), it
    would reveal a small one. :func:`describe_migration` and the stage's conclusion both
    word the moves from it, so neither states a count the other hides.

    Examples
    --------
    >>> moves = {"customers": 300, "existing_customers": 252, "moved_up": 53, "stayed": 192,
    ...          "moved_down": 7, "new": 48}
    >>> migration_counts(moves)
    {'customers': '300', 'existing_customers': '252', 'moved_up': None, 'stayed': '192', 'moved_down': 'fewer than 10', 'new': '48'}
    """
    counts = {name: int(summary[name]) for name in _MIGRATION_COUNTS}
    return SmallCells(min_cell_size).words(counts, parts=_MIGRATION_PARTS)


def describe_migration(
    summary: Mapping[str, Any], *, lookback_days: int, min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown: how many customers moved up, stayed, moved down or are new over the lookback.

    Reads the dict of :func:`crmlib.segments._migration.migration_summary`. Counts follow the
    small-cell rule (:func:`migration_counts`): "fewer than 10" for a count from 1 to
    ``min_cell_size - 1``, and a count that would reveal one through the total is not
    stated; shares of the existing (or all) customers are shown.
    """
    rule = SmallCells(min_cell_size)
    words = migration_counts(summary, min_cell_size=min_cell_size)
    total, existing = int(summary["customers"]), int(summary["existing_customers"])
    if total == 0:
        return "No customer has a purchase on or before the as-of date: there is no migration."
    today = words["customers"] if rule.shown(total) else None
    new_count = words["new"]
    new = (
        f"{_customers(new_count) if new_count else 'new customers'} "
        f"({_rate(summary['share_new'])} of today's {today or 'customers'}) "
        f"made their first purchase in the last {lookback_days} days"
    )
    if existing == 0:
        everyone = _customers(today) if today else "customers"
        return (
            f"No customer had bought {lookback_days} days ago: all {everyone} made their "
            f"first purchase in the last {lookback_days} days."
        )

    def counted(name: str) -> str:
        return f" ({words[name]})" if words[name] is not None else ""

    existing_words = words["existing_customers"]
    text = (
        f"Of the {_customers(existing_words) if existing_words else 'customers'} who had "
        f"already bought {lookback_days} days ago, **{_rate(summary['share_moved_up'])} moved "
        f"up** to a more valuable segment{counted('moved_up')}, "
        f"**{_rate(summary['share_stayed'])} stayed**{counted('stayed')} and "
        f"**{_rate(summary['share_moved_down'])} moved down**{counted('moved_down')}; {new}."
    )
    flows = []
    for way, label in (("largest_up", "up"), ("largest_down", "down")):
        flow = summary.get(way)
        if flow:
            flows.append(
                f"the largest move {label} was {flow['from']} {_ARROW} {flow['to']} "
                f"({rule.phrase(int(flow['customers']))})"
            )
    if flows:
        joined = "; ".join(flows)
        text += f" {joined[0].upper()}{joined[1:]}."
    return text


def plot_segment_sizes(
    summary: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Horizontal bars per segment: share of customers next to share of net revenue.

    Segments run top to bottom in value order (as in ``summary``). Segments of fewer than
    ``min_cell_size`` customers are not drawn alone: they are pooled into one ``"(other)"``
    bar of at least ``min_cell_size`` customers, drawn last
    (:meth:`crmlib.privacy.SmallCells.pool`), and the x-axis label names the segments in it.
    """
    require_columns(
        summary,
        ("segment", "customers", "share_customers", "share_revenue"),
        table_name="segment summary",
    )
    rule = SmallCells(min_cell_size)
    pooled = rule.pooled_groups(summary.set_index(summary["segment"].astype("str"))["customers"])
    bars = rule.pool(
        summary[["segment", "customers", "share_customers", "share_revenue"]],
        by="segment",
        size="customers",
        sums=["share_customers", "share_revenue"],
    )
    ax = ax or plt.gca()
    positions = np.arange(len(bars))
    height = 0.4
    ax.barh(
        positions - height / 2,
        bars["share_customers"].fillna(0.0),
        height=height,
        color=PALETTE[0],
        label="Share of customers",
    )
    ax.barh(
        positions + height / 2,
        bars["share_revenue"].fillna(0.0),
        height=height,
        color=PALETTE[1],
        label="Share of net revenue",
    )
    ax.set_yticks(positions, labels=[str(s) for s in bars["segment"]])
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.6)
    percent_axis(ax, axis="x")
    xlabel = "Share of all customers / of net revenue in the RFM window"
    if pooled:
        members = ", ".join(str(s) for s in summary["segment"] if str(s) in pooled)
        xlabel += (
            f"\n{OTHER} pools {members}: segments of fewer than {rule.min_cell_size:,} "
            "customers are not drawn alone"
        )
    ax.set(
        title="Segment size vs share of net revenue",
        xlabel=xlabel,
        ylabel="Segment (most valuable first)",
    )
    ax.legend(loc="lower right")
    return ax


def plot_rfm_heatmap(
    grid: pd.DataFrame,
    *,
    currency: str,
    ax: plt.Axes | None = None,
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Recency score (columns) x frequency score (rows, best on top), colour = customers.

    Reads *grid* (one row per R x F cell, as from :func:`crmlib.segments._rfm.rfm_grid`);
    each cell of at least ``min_cell_size`` customers is annotated with the mean net
    monetary value of its customers in ``currency`` (the run's ``params.currency``), which
    the title names. A cell of 1 to ``min_cell_size - 1`` customers is not coloured and
    reads ``"<10"`` (its count and mean are not shown); the title says so when one does.
    """
    require_columns(
        grid, ("r_score", "f_score", "customers", "mean_monetary"), table_name="rfm grid"
    )
    rule = SmallCells(min_cell_size)
    ax = ax or plt.gca()
    counts = grid.pivot(index="f_score", columns="r_score", values="customers").sort_index(
        ascending=False
    )
    money = grid.pivot(index="f_score", columns="r_score", values="mean_monetary").reindex(
        index=counts.index, columns=counts.columns
    )
    small = rule.is_small(counts.to_numpy())
    labels = np.array(
        [
            [
                rule.below
                if hidden
                else format_money(round(float(m)) + 0.0, currency, decimals=1)
                if n > 0 and np.isfinite(m)
                else ""
                for n, m, hidden in zip(n_row, m_row, h_row, strict=True)
            ]
            for n_row, m_row, h_row in zip(counts.to_numpy(), money.to_numpy(), small, strict=True)
        ],
        dtype=object,
    ).reshape(counts.shape)
    sns.heatmap(
        counts.astype("float64").mask(small),
        ax=ax,
        cmap="Blues",
        annot=labels,
        fmt="",
        cbar=True,
        cbar_kws={"label": "Customers"},
        linewidths=0.4,
        linecolor="white",
    )
    _label_hidden(ax, labels, small)
    title = f"Customers by recency and frequency score (labels: mean net spend, {currency})"
    if small.any():
        title += (
            f"\n{rule.below}: a cell of fewer than {rule.min_cell_size:,} customers, "
            "not coloured and its mean not shown"
        )
    ax.set(
        title=title,
        xlabel="Recency score (higher = bought more recently)",
        ylabel="Frequency score (higher = more orders)",
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    return ax


def plot_migration_heatmap(
    matrix: pd.DataFrame, *, ax: plt.Axes | None = None, min_cell_size: int = MIN_CELL_SIZE
) -> plt.Axes:
    """Where each earlier segment's customers are now: row-normalised shares, annotated.

    Reads *matrix* (segment before x segment after, customers, as from
    :func:`crmlib.segments._migration.migration_matrix`); each row is divided by its total,
    so a row reads "of the customers who were X, this share is now Y". Pairs nobody took
    and rows without customers stay blank. A pair of 1 to ``min_cell_size - 1`` customers is
    not coloured and reads ``"<10"``; as a row's shares add up to 100%, when it is the only
    one of its row the row's next smallest pair reads ``"–"`` as well
    (:meth:`crmlib.privacy.SmallCells.complement`). The title says so when a cell is hidden.
    """
    rule = SmallCells(min_cell_size)
    ax = ax or plt.gca()
    values = matrix.astype("float64")
    totals = values.sum(axis=1)
    shares = values.div(totals.where(totals > 0), axis=0)
    small = rule.is_small(values.to_numpy())
    hidden = np.array([rule.complement(row) for row in values.to_numpy()], dtype=bool).reshape(
        values.shape
    )
    size = max(6.0, min(9.0, 110.0 / max(len(shares.columns), 1)))
    labels = np.where(values.to_numpy() > 0, shares.map(lambda v: f"{v:.0%}").to_numpy(), "")
    labels = np.where(hidden, HIDDEN, labels)
    labels = np.where(small, rule.below, labels)
    sns.heatmap(
        shares.mask(hidden),
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
    _label_hidden(ax, labels, hidden, fontsize=size)
    title = "Where each segment's customers moved (share of the earlier segment)"
    if hidden.any():
        title += (
            f"\n{rule.below}: fewer than {rule.min_cell_size:,} customers; {HIDDEN}: not shown, "
            "as it would reveal such a cell"
        )
    ax.set(
        title=title,
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
    cells (fewer customers than ``min_cell_size``, or a cell that would reveal one: see
    :func:`crmlib.segments.segment_profiles`) and empty cells read ``"–"``, so a small
    cell's value is never shown. Dimensions, values and segments keep the input's order.
    """
    require_columns(
        profiles, ("dimension", "segment", "value", "share", "masked"), table_name="profiles"
    )
    text = np.where(
        profiles["masked"].to_numpy(dtype="bool"),
        HIDDEN,
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
        .fillna(HIDDEN)
    )
    table.columns.name = "segment"
    return table
