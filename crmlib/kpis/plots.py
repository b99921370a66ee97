"""Charts of the retention KPIs: customer mix, retention, revenue and channel engagement."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlib.formatting import counted, format_money
from crmlib.kpis.mix import PeriodMix
from crmlib.kpis.models import _bases, _complete, _infer_period
from crmlib.kpis.text import _capital
from crmlib.plotting import money_axis, percent_axis
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "plot_active_customers",
    "plot_retention_rate",
    "plot_revenue",
    "plot_channel_engagement",
    "plot_mix_waterfall",
]


#: The types of active customer, stacked in this order: column -> (legend label, colour).
_MIX: dict[str, tuple[str, str]] = {
    "new_customers": ("New", "#3a9d5d"),
    "returning_customers": ("Returning", "#1f5f99"),
    "reactivated_customers": ("Reactivated", "#e07b39"),
}


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


def _titled(ax: plt.Axes, title: str, note: str | None) -> None:
    """The chart's title, with a second line saying what is not drawn (when something is not)."""
    ax.set_title(title if not note else f"{title}\n{note}")


def _split_heights(kpis: pd.DataFrame, rule: SmallCells) -> tuple[np.ndarray, np.ndarray]:
    """Bar heights of new, returning and reactivated customers per period, under the rule.

    Returns the heights (one row per period, one column per type; 0 where not drawn) and,
    per period, the height of the grey "not split" part: the types hidden because one of them
    is below the limit, with the next smallest (complementary, since the bar shows the
    total). A period whose active customers are below the limit draws nothing.
    """
    parts = kpis[list(_MIX)].to_numpy(dtype=float)
    drawn = ~rule.is_small(kpis["active_customers"].to_numpy(dtype=float))
    hidden = np.array([rule.complement(row) for row in parts], dtype=bool).reshape(parts.shape)
    heights = np.where(hidden | ~drawn[:, None], 0.0, parts)
    unsplit = np.where(drawn, np.where(hidden, parts, 0.0).sum(axis=1), 0.0)
    return heights, unsplit


def _drawable(kpis: pd.DataFrame, *, min_cell_size: int) -> pd.DataFrame:
    """The KPI table as it may be drawn: a KPI is NaN in a period where it is, or is computed
    on, 1 to ``min_cell_size - 1`` customers or an unknown number (:func:`_bases`); one row
    per period."""
    bases = _bases(kpis)
    small = SmallCells(min_cell_size).is_small(bases.to_numpy())
    out = kpis.copy()
    for position, column in enumerate(bases.columns):
        unknown = bases[column].isna().to_numpy()  # a figure on an unknown group is not drawn
        out[column] = out[column].astype("float64").where(~(small[:, position] | unknown))
    return out


def plot_active_customers(
    kpis: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE, ax: plt.Axes | None = None
) -> plt.Axes:
    """Stacked bars of active customers per period: new, returning, reactivated (partial period lighter).

    Under the small-cell rule a period with 1 to ``min_cell_size - 1`` active customers is
    not drawn (marked "<10" on the axis), and where one type of a drawn bar is below the
    limit it is drawn with the next smallest as one grey "not split" part; the title says so.
    """
    rule = SmallCells(min_cell_size)
    ax = ax or plt.gca()
    x = np.arange(len(kpis))
    alpha = np.where(kpis["is_complete"], 1.0, 0.45)
    heights, unsplit = _split_heights(kpis, rule)
    bottom = np.zeros(len(kpis))
    for position, (label, colour) in enumerate(_MIX.values()):
        bars = ax.bar(x, heights[:, position], bottom=bottom, color=colour, label=label, width=0.8)
        for bar, a in zip(bars, alpha, strict=True):
            bar.set_alpha(a)
        bottom += heights[:, position]
    notes = []
    if unsplit.any():
        ax.bar(x, unsplit, bottom=bottom, color="#b8c0c6", hatch="//", width=0.8,
               label=f"Not split (a type under {rule.min_cell_size:,} customers)")  # fmt: skip
        notes.append(
            f"grey: a type under {rule.min_cell_size:,} customers, merged with the next smallest"
        )
    small = rule.is_small(kpis["active_customers"].to_numpy(dtype=float))
    period = _infer_period(kpis) if len(kpis) else "period"
    if small.any():
        for undrawn in np.flatnonzero(small).tolist():
            ax.text(undrawn, 0, rule.below, ha="center", va="bottom", rotation=90,
                    fontsize=7, color="#5f6b73")  # fmt: skip
        notes.append(
            f"{period}s with fewer than {rule.min_cell_size:,} active customers are not drawn ({rule.below})"
        )
    _period_axis(ax, kpis["period_label"].tolist(), kpis["is_complete"].tolist(), period=period)
    _titled(ax, f"Active customers per {period}: new, returning and reactivated",
            "\n".join(_capital(note) for note in notes))  # fmt: skip
    ax.set_ylabel("Customers with a purchase (count)")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    tallest = float((bottom + unsplit).max(initial=0))
    if tallest > 0:  # room above the bars for the legend
        ax.set_ylim(0, tallest * 1.22)
    ax.legend(loc="upper left", ncols=4 if unsplit.any() else 3)
    return ax


def plot_retention_rate(
    kpis: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE, ax: plt.Axes | None = None
) -> plt.Axes:
    """Retention and churn rate per complete period (partial periods are left out).

    A period whose previous period had 1 to ``min_cell_size - 1`` active customers is not
    drawn (a gap in the lines); the title says so.
    """
    ax = ax or plt.gca()
    done = _complete(_drawable(kpis, min_cell_size=min_cell_size))
    hidden = done["retention_rate"].isna() & _complete(kpis)["retention_rate"].notna()
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
    note = None
    if hidden.any():
        note = (f"Not drawn: {counted(int(hidden.sum()), period)} whose previous {period} had fewer "
                f"than {min_cell_size:,} active customers")  # fmt: skip
    _titled(ax, f"Retention and churn: previous {period}'s customers who bought again or not", note)
    ax.set(ylabel="Share of previous period's active (%)", ylim=(0, 1))
    percent_axis(ax)
    ax.legend(loc="upper left", ncols=2)
    return ax


def plot_revenue(
    kpis: pd.DataFrame,
    *,
    currency: str,
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Net revenue per period as bars (partial period lighter) with AOV as a line on a second axis.

    A period with 1 to ``min_cell_size - 1`` active customers is not drawn; the title says so.
    """
    ax = ax or plt.gca()
    shown = _drawable(kpis, min_cell_size=min_cell_size)
    hidden = shown["revenue"].isna() & kpis["revenue"].notna()
    x = np.arange(len(kpis))
    bars = ax.bar(x, shown["revenue"].fillna(0.0), color="#1f5f99", width=0.8, label="Net revenue")
    for bar, done in zip(bars, kpis["is_complete"], strict=True):
        bar.set_alpha(1.0 if done else 0.45)
    period = _infer_period(kpis) if len(kpis) else "period"
    _period_axis(ax, kpis["period_label"].tolist(), kpis["is_complete"].tolist(), period=period)
    note = None
    if hidden.any():
        note = (f"Not drawn: {counted(int(hidden.sum()), period)} with fewer than "
                f"{min_cell_size:,} active customers")  # fmt: skip
    _titled(ax, f"Net revenue and average order value per {period}", note)
    ax.set_ylabel(f"Net revenue ({currency})")
    money_axis(ax, currency)
    twin = ax.twinx()
    twin.plot(
        x, shown["aov"], color="#e07b39", marker="o", markersize=3, label="Average order value"
    )
    twin.set_ylabel(f"Average order value ({currency})")
    top = (
        np.nanmax(shown["aov"].to_numpy(dtype=float), initial=0)
        if shown["aov"].notna().any()
        else 0
    )
    twin.set_ylim(0, max(1.0, float(top) * 1.3))
    twin.grid(False)
    money_axis(twin, currency)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="upper left", ncols=2)
    return ax


def plot_channel_engagement(
    engagement: pd.DataFrame | None,
    *,
    min_cell_size: int = MIN_CELL_SIZE,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Open, click and conversion rate per period, one colour per channel (a note when there are no events).

    The rates of a period and channel whose sends reached 1 to ``min_cell_size - 1``
    customers are not drawn; the title says so.
    """
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
    rates = [column for column, _what, _style in styles]
    shown = SmallCells(min_cell_size).hide(engagement, size="customers_sent", columns=rates)
    hidden = shown["open_rate"].isna() & engagement["open_rate"].notna()
    for channel, rows in shown.groupby("channel", sort=False):
        x = rows["period_label"].map(position)
        for column, what, style in styles:
            ax.plot(x, rows[column], linestyle=style, marker="o", markersize=3,
                    color=colours.get(str(channel)), label=f"{channel} {what}")  # fmt: skip
    complete = engagement.drop_duplicates("period_label")["is_complete"].tolist()
    _period_axis(ax, labels, complete, period=_infer_period(engagement))
    note = None
    if hidden.any():
        note = (f"Not drawn: a channel's rates in a period whose sends reached fewer than "
                f"{min_cell_size:,} customers")  # fmt: skip
    _titled(ax, title, note)
    ax.set_ylabel("Share of sends (%)")
    ax.set_ylim(bottom=0)
    percent_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5)
    return ax


def plot_mix_waterfall(
    mixes: Sequence[PeriodMix], *, currency: str, axes: Sequence[plt.Axes] | None = None
) -> list[plt.Axes]:
    """One waterfall per split rate: the earlier level, the rate effect, the mix effect, the
    later level. The two effects are the exact parts of the change
    (:func:`crmlib.kpis.mix_shift`); a rate that was not split is left out."""
    shown = [mix for mix in mixes if mix.split is not None]
    if axes is None:
        _figure, grid = plt.subplots(1, max(1, len(shown)), figsize=(5.2 * max(1, len(shown)), 3.6))
        axes = list(np.atleast_1d(grid))
    for ax, mix in zip(axes, shown, strict=False):
        split = mix.split
        assert split is not None
        steps = [split.rate_before, split.rate_effect, split.mix_effect, split.rate_after]
        bottoms = [0.0, split.rate_before, split.rate_before + split.rate_effect, 0.0]
        heights = [steps[0], steps[1], steps[2], steps[3]]
        lows = [min(b, b + h) for b, h in zip(bottoms, heights, strict=True)]
        colours = ["#7f8c8d", "#3a9d5d" if steps[1] >= 0 else "#c0392b",
                   "#3a9d5d" if steps[2] >= 0 else "#c0392b", "#1f5f99"]  # fmt: skip
        names = [mix.before, "Rate effect", "Mix effect", mix.after]
        x = np.arange(4)
        ax.bar(x, [abs(h) for h in heights], bottom=lows, color=colours, width=0.6)
        for position, (low, height, value) in enumerate(zip(lows, heights, steps, strict=True)):
            signed = position in (1, 2)
            if mix.metric == "retention":
                label = f"{value * 100:+.2f} pp" if signed else f"{value:.1%}"
            else:
                label = format_money(value, currency, small_decimals=2)
                label = ("+" if signed and value > 0 else "") + label
            ax.annotate(label, (position, low + abs(height)), ha="center", va="bottom",
                        xytext=(0, 2), textcoords="offset points", fontsize=8)  # fmt: skip
        ax.set_xticks(x, names)
        top = max(split.rate_before, split.rate_after, bottoms[2], bottoms[2] + steps[2])
        low_end = min(lows)
        span = max(top - min(0.0, low_end), 1e-9)
        ax.set_ylim(min(0.0, low_end), top + 0.15 * span)
        if mix.metric == "retention":
            percent_axis(ax)
            ax.set_ylabel("Retention rate (%)")
        else:
            money_axis(ax, currency)
            ax.set_ylabel(f"Revenue per active customer ({currency})")
        ax.set_title(
            f"{_capital(mix.label)}, {mix.before} to {mix.after}:\n"
            f"rate and mix effects by {mix.by.replace('_', ' ')}"
        )
    return list(axes)
