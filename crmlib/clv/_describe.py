"""Plain sentences with numbers for stage 05_clv: model choice, CLV, intervals, sensitivity.

Every function returns Markdown built from the tables only (no customer ids).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from crmlib.clv._value import top_decile_share
from crmlib.plotting import format_money
from crmlib.privacy import OTHER, SmallCells

__all__ = [
    "describe_model_choice",
    "describe_clv",
    "describe_intervals",
    "describe_sensitivity",
]

log = logging.getLogger(__name__)

_MINUS = "\u2212"
#: What P(alive) means under the fallbacks without dropout (by the values' model label).
_WITHOUT_DROPOUT = {
    "NBD (no dropout)": "The model has no dropout: every customer counts as active (P(alive) "
    "= 1), so the value of customers who have in fact left is overstated.",
    "Observed spend rate": "No model: every customer's observed spend rate is assumed to "
    "continue (no P(alive)), so the value of customers who have in fact left is overstated "
    "and one-time buyers are worth nothing.",
}
_CRITERION_WORDS = {
    "mae": ("the lowest mean absolute error", "purchases per customer"),
    "rmse": ("the lowest root mean squared error", "purchases per customer"),
    "aggregate_error": ("the smallest error in total holdout purchases", None),
    "log_likelihood": ("the highest log-likelihood on the calibration data", None),
}


def _money(value: Any, currency: str) -> str:
    if value is None or not np.isfinite(value):
        return "\u2013"
    if abs(value) < 1_000:
        text = format_money(1, currency)[:-1] + f"{abs(value):,.2f}"
        return (_MINUS if value < 0 else "") + text
    return format_money(value, currency, decimals=1).replace("-", _MINUS)


def _signed_percent(value: float) -> str:
    if not np.isfinite(value):
        return "\u2013"
    return f"{'+' if value >= 0 else _MINUS}{abs(value):.1%}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def describe_model_choice(table: pd.DataFrame, chosen: str, criterion: str) -> str:
    """Markdown: which model was chosen, by what, how it did on the holdout, who was excluded.

    Takes the table and choice of :func:`crmlib.clv.compare_models`.
    """
    rows = table.set_index("model")
    if chosen not in rows.index:
        raise ValueError(f"chosen={chosen!r} is not a model of the table {list(rows.index)}")
    best = rows.loc[chosen]
    words, unit = _CRITERION_WORDS.get(criterion, (criterion, None))
    eligible = int(rows["eligible"].sum())
    value = float(best[criterion])
    shown = (
        _signed_percent(value)
        if criterion == "aggregate_error"
        else f"{value:,.1f}"
        if criterion == "log_likelihood"
        else f"{value:.3f}"
    )
    sentence = (
        f"**{chosen}** is used: it has {words} ({shown}"
        f"{' ' + unit if unit else ''}) of the {eligible} "
        f"model{'s' if eligible != 1 else ''} eligible."
    )
    lines = [sentence]
    if np.isfinite(best["predicted_total"]):
        lines.append(
            f"On the holdout it predicted {_count(best['predicted_total'])} repeat purchases "
            f"against {_count(best['actual_total'])} actual "
            f"({_signed_percent(best['aggregate_error'])}); its error per customer is "
            f"{best['mae']:.3f} purchases (MAE), {best['rmse']:.3f} (RMSE)."
        )
    others = rows[(rows.index != chosen) & rows["eligible"].astype(bool)]
    if not others.empty:
        lines.append(
            "Others: "
            + "; ".join(
                f"{name} MAE {row['mae']:.3f}, total {_signed_percent(row['aggregate_error'])}"
                for name, row in others.iterrows()
            )
            + "."
        )
    excluded = rows[~rows["eligible"].astype(bool)]
    for name, row in excluded.iterrows():
        note = str(row["note"] or "not eligible").removesuffix(": excluded from the choice")
        lines.append(f"{name} was not considered: {note}.")
    return " ".join(lines)


def describe_clv(
    values: pd.DataFrame, *, currency: str, horizon_months: int, min_cell_size: int
) -> str:
    """Markdown: total and mean CLV, the top decile's share, and how many look active.

    Takes *values* (one row per customer, as from :func:`crmlib.clv.customer_value`); the
    number of customers is written by the small-cell rule (``min_cell_size``).
    """
    clv = values["clv"].to_numpy(dtype="float64")
    n = len(clv)
    if n == 0:
        return "*No customers to value.*"
    attrs = values.attrs
    rate = attrs.get("annual_discount_rate")
    margin = attrs.get("margin")
    settings = []
    if margin is not None:
        settings.append(f"a {margin:.0%} margin")
    if rate is not None:
        settings.append(f"a {rate:.0%} annual discount rate")
    how = f" (discounted margin: {' and '.join(settings)})" if settings else ""
    share = top_decile_share(clv)
    purchases = values.get(f"expected_purchases_{horizon_months}m")
    lines = [
        f"Over the next {horizon_months} months the {SmallCells(min_cell_size).phrase(n)} "
        "are worth "
        f"**{_money(clv.sum(), currency)}**{how}, {_money(clv.mean(), currency)} per customer "
        f"on average (median {_money(float(np.median(clv)), currency)})."
    ]
    if math.isfinite(share):
        lines.append(f"The top 10% of customers hold {share:.0%} of this future value.")
    if purchases is not None:
        lines.append(f"They are expected to place {_count(purchases.sum())} orders in that time.")
    model = attrs.get("model")
    if model in _WITHOUT_DROPOUT:
        lines.append(_WITHOUT_DROPOUT[model])
    elif "p_alive" in values:
        active = float((values["p_alive"] >= 0.5).mean())
        caveat = (
            "; BG/NBD counts a customer without a repeat purchase as active"
            if model == "BG/NBD"
            else ""
        )
        lines.append(
            f"{active:.0%} of customers are more likely active than not (P(alive) \u2265 50%"
            f"{caveat})."
        )
    return " ".join(lines)


def describe_intervals(
    intervals: pd.DataFrame,
    *,
    by: str,
    currency: str,
    min_cell_size: int,
) -> str:
    """Markdown: mean CLV per group with its interval, and what the interval covers.

    Takes the table of :func:`crmlib.clv.clv_intervals`. The small-cell rule
    (``min_cell_size``): numbers of customers read "fewer than 10 customers"; a group of
    fewer customers is not described (pool it first, :func:`crmlib.clv.pool_groups`), and
    the pooled ``"(other)"`` group is explained.
    """
    rule = SmallCells(min_cell_size)
    attrs = intervals.attrs
    level = attrs.get("level", 0.95)
    draws = attrs.get("draws")
    bounded = not attrs.get("no_interval")
    total_row = intervals[intervals[by] == "All customers"]
    groups = intervals[intervals[by] != "All customers"].sort_values("clv_mean", ascending=False)
    small = rule.is_small(groups["customers"])
    groups = groups[~small]
    words = by.replace("_", " ")
    lines = []

    def interval(row: pd.Series, column: str) -> str:
        if not bounded:
            return ""
        return (
            f"{_money(row[f'{column}_lower'], currency)}\u2013"
            f"{_money(row[f'{column}_upper'], currency)}"
        )

    if not total_row.empty:
        row = total_row.iloc[0]
        lines.append(
            f"Total CLV: {_money(row['clv_total'], currency)}"
            + (f" ({level:.0%} interval {interval(row, 'clv_total')})." if bounded else ".")
        )
    if not groups.empty:
        parts = [
            f"{row[by]} {_money(row['clv_mean'], currency)} ("
            + (f"{interval(row, 'clv_mean')}, " if bounded else "")
            + f"{rule.phrase(row['customers'])})"
            for _, row in groups.iterrows()
        ]
        lines.append(f"Mean CLV per customer by {words}: " + "; ".join(parts) + ".")
    if (groups[by] == OTHER).any():
        lines.append(
            f"{OTHER} pools the smallest {words}s, so that none of fewer than "
            f"{min_cell_size:,} customers is shown alone."
        )
    if small.any():
        lines.append(
            f"{words.capitalize()}s of fewer than {min_cell_size:,} customers are not shown."
        )
    if not groups.empty:
        width = (groups["clv_mean_upper"] - groups["clv_mean_lower"]) / groups["clv_mean"]
        if bounded and len(groups) > 1 and np.isfinite(width).any():
            widest = groups.loc[width.idxmax()]
            lines.append(
                f"The least certain is {widest[by]} (interval \u00b1{width.max() / 2:.0%} of "
                "its mean)."
            )
    if not bounded:
        lines.append(f"No interval: {attrs['no_interval']}.")
        return " ".join(lines)
    rejected = attrs.get("rejected") or {}
    rejected_total = sum(rejected.values()) if isinstance(rejected, dict) else 0
    lines.append(
        f"Intervals come from {draws} parametric-bootstrap draws of the model parameters"
        + (f" ({rejected_total} invalid draws redrawn)" if rejected_total else "")
        + ": they cover the uncertainty of the fitted parameters only, not which customers "
        "will actually buy, so a realised total will vary more, especially in small groups."
    )
    return " ".join(lines)


def describe_sensitivity(table: pd.DataFrame, *, currency: str) -> str:
    """Markdown: how much total CLV moves with the discount rate, horizon or cut-off.

    Takes the grid of :func:`crmlib.clv.sensitivity` or a :func:`crmlib.clv.sensitivity_table`.
    """
    if table.empty:
        return "*No sensitivity results.*"
    base = table[table["is_base"].astype(bool)]
    if base.empty:
        raise ValueError("sensitivity table: no row has is_base=True")
    base_row = base.iloc[0]
    if "annual_discount_rate" in table.columns:
        return _describe_grid(table, base_row, currency)
    lines = [f"Base ({base_row['setting']}): total CLV {_money(base_row['total_clv'], currency)}."]
    for parameter, rows in table[~table["is_base"].astype(bool)].groupby("parameter", sort=False):
        parts = [
            f"{row['setting']}: {_money(row['total_clv'], currency)} "
            f"({_signed_percent(row['change_vs_base'])})"
            for _, row in rows.iterrows()
        ]
        lines.append(f"Varying the {parameter}: " + "; ".join(parts) + ".")
    spread = table["change_vs_base"].abs().max()
    lines.append(
        f"The largest change is {spread:.0%} of the base total." if np.isfinite(spread) else ""
    )
    return " ".join(line for line in lines if line)


def _describe_grid(table: pd.DataFrame, base: pd.Series, currency: str) -> str:
    rate, horizon = float(base["annual_discount_rate"]), int(base["horizon_months"])
    low = table.loc[table["total_clv"].idxmin()]
    high = table.loc[table["total_clv"].idxmax()]
    lines = [
        f"At the base setting ({rate:.0%} a year, {horizon} months) total CLV is "
        f"{_money(base['total_clv'], currency)}; across the grid it ranges from "
        f"{_money(low['total_clv'], currency)} ({low['annual_discount_rate']:.0%}, "
        f"{int(low['horizon_months'])} months) to {_money(high['total_clv'], currency)} "
        f"({high['annual_discount_rate']:.0%}, {int(high['horizon_months'])} months)."
    ]
    same_horizon = table[table["horizon_months"] == horizon].sort_values("annual_discount_rate")
    if len(same_horizon) > 1:
        first, last = same_horizon.iloc[0], same_horizon.iloc[-1]
        lines.append(
            f"Over {horizon} months, the discount rate matters little: from "
            f"{first['annual_discount_rate']:.0%} to {last['annual_discount_rate']:.0%} the total "
            f"moves by {_signed_percent(last['total_clv'] / first['total_clv'] - 1)}."
            if abs(last["total_clv"] / first["total_clv"] - 1) < 0.05
            else f"Over {horizon} months, going from {first['annual_discount_rate']:.0%} to "
            f"{last['annual_discount_rate']:.0%} moves the total by "
            f"{_signed_percent(last['total_clv'] / first['total_clv'] - 1)}."
        )
    same_rate = table[table["annual_discount_rate"] == rate].sort_values("horizon_months")
    others = same_rate[same_rate["horizon_months"] != horizon]
    if not others.empty:
        parts = [
            f"{int(row['horizon_months'])} months {_signed_percent(row['change_vs_base'])}"
            for _, row in others.iterrows()
        ]
        lines.append(
            f"At {rate:.0%} a year, relative to {horizon} months: " + ", ".join(parts) + "."
        )
    return " ".join(lines)
