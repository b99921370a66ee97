"""Report helpers for affinities: sentences, the affinity table and the lift heatmap."""

from __future__ import annotations

import itertools
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm

from crmlib.checks import require_columns
from crmlib.formatting import format_figure
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.segments._affinities import (
    ALL_POPULATION,
    CROSS_SELL_COLUMNS,
    PAIR_COLUMNS,
    RULE_COLUMNS,
    top_pairs,
)

__all__ = [
    "describe_affinities",
    "describe_cross_sell",
    "affinity_table",
    "lift_matrix",
    "plot_affinity_heatmap",
]

log = logging.getLogger(__name__)

_NOUNS = {"category": ("category", "categories"), "product": ("product", "products")}


def _label(item: str) -> str:
    """An item name for prose and tick labels: ``running_shoes`` -> ``running shoes``."""
    return str(item).replace("_", " ")


def _noun(level: str) -> tuple[str, str]:
    if level not in _NOUNS:
        raise ValueError(f"level={level!r}: expected one of {sorted(_NOUNS)}")
    return _NOUNS[level]


def _shown(table: pd.DataFrame, rule: SmallCells) -> pd.DataFrame:
    """The rows (rules or pairs) a report may show: bought together by 0 or >= k customers.

    ``min_pair_customers`` (the params' ``affinity_min_pair_customers``) may be set below
    the report's ``min_cell_size``; a pair bought by fewer customers is then kept in the
    artifact but not displayed, nor its lift and confidences.
    """
    return table[~rule.is_small(table["n_ab"])]


def describe_affinities(
    rules: pd.DataFrame,
    *,
    level: str = "category",
    population: str = ALL_POPULATION,
    n: int = 3,
    min_cell_size: int = MIN_CELL_SIZE,
) -> str:
    """Markdown: the strongest item pairs, their lift and confidences, and their customer base.

    Reads the rules of :func:`crmlib.segments._affinities.association_rules` (one row per
    population x ordered pair) and describes the top ``n`` unordered pairs of ``population``
    by lift: how many times more often than chance they are bought together, the share of each
    item's buyers who also bought the other, and how many customers bought both. Counts only;
    no customer is named. Pairs bought by fewer than ``min_cell_size`` customers are left
    out (the small-cell rule).

    Examples
    --------
    >>> rules = pd.DataFrame({
    ...     "population": ["all", "all"], "antecedent": ["mugs", "coffee"],
    ...     "consequent": ["coffee", "mugs"], "n_customers": [1000, 1000], "n_a": [200, 250],
    ...     "n_b": [250, 200], "n_ab": [120, 120], "support": [0.12, 0.12],
    ...     "confidence": [0.6, 0.48], "lift": [2.4, 2.4], "conviction": [1.875, 1.54],
    ... })
    >>> print(describe_affinities(rules, n=1))  # doctest: +NORMALIZE_WHITESPACE
    Among 1,000 customers with a purchase in the window, the category pair bought together
    most often relative to chance is: **coffee + mugs**: 2.4× as often as chance (48.0% of
    coffee buyers also bought mugs, 60.0% of mugs buyers also bought coffee; 120 customers
    bought both). 1 of 1 category pair with at least the minimum number of shared customers
    has a lift above 1.
    """
    singular, _ = _noun(level)
    require_columns(rules, RULE_COLUMNS[:-1], table_name="rules")
    rule = SmallCells(min_cell_size)
    rules = _shown(rules, rule)
    rows = rules[rules["population"] == population]
    if rows.empty:
        return (
            f"No {singular} pair passed the thresholds (minimum support and minimum number "
            f"of customers buying both) in population {population!r}, so no affinity is "
            "reported."
        )
    pairs = top_pairs(rules, n=n, population=population)
    every_pair = top_pairs(rules, n=len(rows), population=population)
    n_customers = int(pairs["n_customers"].iloc[0])
    scope = "" if population == ALL_POPULATION else f" of segment **{population}**"
    heading = (
        f"the {singular} pair bought together most often relative to chance is"
        if len(pairs) == 1
        else f"the {len(pairs)} {singular} pairs bought together most often relative to chance are"
    )
    items = []
    for pair in pairs.itertuples():
        a, b = _label(pair.item_a), _label(pair.item_b)
        items.append(
            f"**{a} + {b}**: {pair.lift:.1f}\u00d7 as often as chance "
            f"({format_figure(pair.confidence_a_to_b, 'rate')} of {a} buyers also bought {b}, "
            f"{format_figure(pair.confidence_b_to_a, 'rate')} of {b} buyers also bought {a}; "
            f"{rule.phrase(int(pair.n_ab))} bought both)"
        )
    above = int((every_pair["lift"] > 1.0).sum())
    total = len(every_pair)
    pair_noun, verb = (f"{singular} pair", "has") if total == 1 else (f"{singular} pairs", "have")
    return (
        f"Among {rule.phrase(n_customers)}{scope} with a purchase in the window, {heading}: "
        + "; ".join(items)
        + f". {above} of {total} {pair_noun} with at least the minimum number of shared "
        f"customers {verb} a lift above 1."
    )


def describe_cross_sell(
    cross_sell: pd.DataFrame, *, level: str = "category", min_cell_size: int = MIN_CELL_SIZE
) -> str:
    """Markdown bullets: per segment, its best cross-sell rule in words.

    Reads :func:`crmlib.segments._affinities.cross_sell_by_segment` (each segment's best
    ranked rule bought by at least ``min_cell_size`` customers is used): "customers of X who
    buy A also buy B in c% of cases (vs b% of the segment)".

    Examples
    --------
    >>> cross_sell = pd.DataFrame({
    ...     "segment": ["Champions"], "rank": [1], "antecedent": ["mugs"],
    ...     "consequent": ["coffee"], "n_customers": [400], "n_a": [100], "n_b": [160],
    ...     "n_ab": [80], "support": [0.2], "confidence": [0.8], "consequent_share": [0.4],
    ...     "lift": [2.0],
    ... })
    >>> print(describe_cross_sell(cross_sell))
    - **Champions**: customers who buy mugs also buy coffee in 80.0% of cases, vs 40.0% of the segment overall (lift 2.0; 80 customers bought both).
    """
    _noun(level)
    require_columns(cross_sell, CROSS_SELL_COLUMNS, table_name="cross_sell")
    rule = SmallCells(min_cell_size)
    shown = _shown(cross_sell, rule).sort_values(["segment", "rank"], kind="stable")
    best = shown.groupby("segment", sort=False).head(1)
    if best.empty:
        return f"No segment has a {level} pair bought together by enough customers to report."
    lines = [
        f"- **{row.segment}**: customers who buy {_label(row.antecedent)} also buy "
        f"{_label(row.consequent)} in {format_figure(row.confidence, 'rate')} of cases, vs "
        f"{format_figure(row.consequent_share, 'rate')} of the segment overall "
        f"(lift {row.lift:.1f}; {rule.phrase(int(row.n_ab))} bought both)."
        for row in best.itertuples()
    ]
    return "\n".join(lines)


def affinity_table(pairs: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> pd.DataFrame:
    """The top pairs as display text: one row per pair, best first.

    Transforms :func:`crmlib.segments._affinities.top_pairs` (one row per unordered pair) into
    *pair, customers buying both, support, lift, A → B, B → A* (confidences as percentages,
    lift with two decimals), indexed 1..n. A pair bought by fewer than ``min_cell_size``
    customers is not displayed (possible when ``min_pair_customers`` is set lower).

    Examples
    --------
    >>> pairs = pd.DataFrame({
    ...     "population": ["all"], "item_a": ["coffee"], "item_b": ["mugs"],
    ...     "n_customers": [1000], "n_a": [250], "n_b": [200], "n_ab": [120],
    ...     "support": [0.12], "lift": [2.4], "confidence_a_to_b": [0.48],
    ...     "confidence_b_to_a": [0.6],
    ... })
    >>> affinity_table(pairs).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'pair': 'coffee + mugs', 'customers buying both': '120', 'support': '12.0%',
     'lift': '2.40', 'share of A buyers buying B': '48.0%',
     'share of B buyers buying A': '60.0%'}
    """
    require_columns(pairs, PAIR_COLUMNS, table_name="pairs")
    rule = SmallCells(min_cell_size)
    pairs = _shown(pairs, rule)
    table = pd.DataFrame(
        {
            "pair": [
                f"{_label(a)} + {_label(b)}"
                for a, b in zip(pairs["item_a"], pairs["item_b"], strict=True)
            ],
            "customers buying both": rule.counts(pairs["n_ab"]).tolist(),
            "support": [format_figure(v, "rate") for v in pairs["support"]],
            "lift": [f"{v:.2f}" for v in pairs["lift"]],
            "share of A buyers buying B": [
                format_figure(v, "rate") for v in pairs["confidence_a_to_b"]
            ],
            "share of B buyers buying A": [
                format_figure(v, "rate") for v in pairs["confidence_b_to_a"]
            ],
        },
        index=pd.RangeIndex(1, len(pairs) + 1, name="rank"),
    )
    return table


def lift_matrix(
    rules: pd.DataFrame, *, population: str = ALL_POPULATION, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """Item x item lift of one population, strongly linked items next to each other.

    Transforms the rules of :func:`crmlib.segments._affinities.association_rules` (one row per
    population x ordered pair) into a symmetric matrix (lift is symmetric) with NaN on the
    diagonal, for pruned pairs and for pairs bought by fewer than ``min_cell_size``
    customers. Order: walking the pairs from the highest lift down, each item not yet placed
    is appended, so a pair with a high lift sits side by side.
    """
    require_columns(rules, RULE_COLUMNS[:-1], table_name="rules")
    rules = _shown(rules, SmallCells(min_cell_size))
    rows = rules[rules["population"] == population]
    pairs = top_pairs(rules, n=max(len(rows), 1), population=population)
    items = list(
        dict.fromkeys(
            itertools.chain.from_iterable(zip(pairs["item_a"], pairs["item_b"], strict=True))
        )
    )
    matrix = rows.pivot(index="antecedent", columns="consequent", values="lift")
    matrix = matrix.reindex(index=items, columns=items).astype("float64")
    matrix.index.name, matrix.columns.name = None, None
    return matrix


def plot_affinity_heatmap(
    rules: pd.DataFrame,
    *,
    ax: plt.Axes | None = None,
    population: str = ALL_POPULATION,
    level: str = "category",
    min_cell_size: int = MIN_CELL_SIZE,
) -> plt.Axes:
    """Heatmap of the lift between every two items of one population, annotated.

    Reads :func:`crmlib.segments._affinities.association_rules` (one row per population x
    ordered pair). Lift is symmetric, so the matrix is too; red above 1 (bought together more
    often than chance), blue below; blank cells are the diagonal, pairs pruned by the
    thresholds and pairs bought by fewer than ``min_cell_size`` customers (not drawn).
    Meant for categories (a dozen items); a product-level matrix is unreadable.
    """
    singular, plural = _noun(level)
    ax = ax or plt.gca()
    matrix = lift_matrix(rules, population=population, min_cell_size=min_cell_size)
    scope = "" if population == ALL_POPULATION else f" ({population})"
    title = f"{singular.capitalize()} affinity{scope}: lift of buying both vs chance"
    if matrix.empty:
        ax.text(0.5, 0.5, f"no {singular} pair passed the thresholds", ha="center", va="center")
        ax.set(title=title, xlabel=f"{singular} B", ylabel=f"{singular} A", xticks=[], yticks=[])
        return ax
    labels = [_label(item) for item in matrix.index]
    values = matrix.to_numpy()
    finite = values[np.isfinite(values) & (values > 0)]
    # symmetric on a log scale: lift 2 and lift 1/2 get equally strong colours
    top = max(float(finite.max()), 1.0 / float(finite.min()), 1.1)
    sns.heatmap(
        matrix.set_axis(labels, axis=0).set_axis(labels, axis=1),
        ax=ax,
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vcenter=1.0, vmin=1.0 / top, vmax=top),
        annot=True,
        fmt=".1f",
        annot_kws={"fontsize": 8},
        linewidths=0.5,
        linecolor="white",
        square=True,
        cbar_kws={"label": "lift (1 = as often as chance)"},
    )
    ax.set(title=title, xlabel=f"{plural} bought (B)", ylabel=f"{plural} bought (A)")
    ax.tick_params(axis="x", labelrotation=45)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    ax.grid(False)
    return ax
