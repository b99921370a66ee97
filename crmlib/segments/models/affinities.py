"""Affinities from counted rules: the strongest item pairs, cross-sell by segment, lift matrix.

The rules, the definitions of their counts and ratios (support, confidence, lift,
conviction) and their cost are in :mod:`crmlib.segments.queries.affinities`.
"""

from __future__ import annotations

import itertools
import logging

import pandas as pd

from crmlib.checks import require_columns
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "ALL_POPULATION",
    "RULE_COLUMNS",
    "PAIR_COLUMNS",
    "CROSS_SELL_COLUMNS",
    "top_pairs",
    "cross_sell_by_segment",
    "lift_matrix",
]

log = logging.getLogger(__name__)


#: Population label of the rules counted over every customer with a basket.
ALL_POPULATION = "all"


#: Columns of :func:`association_rules`.
RULE_COLUMNS: tuple[str, ...] = (
    "population", "antecedent", "consequent", "n_customers", "n_a", "n_b", "n_ab",
    "support", "confidence", "lift", "conviction",
)  # fmt: skip


#: Columns of :func:`top_pairs`.
PAIR_COLUMNS: tuple[str, ...] = (
    "population", "item_a", "item_b", "n_customers", "n_a", "n_b", "n_ab", "support", "lift",
    "confidence_a_to_b", "confidence_b_to_a",
)  # fmt: skip


#: Columns of :func:`cross_sell_by_segment`.
CROSS_SELL_COLUMNS: tuple[str, ...] = (
    "segment", "rank", "antecedent", "consequent", "n_customers", "n_a", "n_b", "n_ab",
    "support", "confidence", "consequent_share", "lift",
)  # fmt: skip


_PAIR_SORT_KEYS = ("lift", "support", "n_ab", "confidence_a_to_b", "confidence_b_to_a")


def top_pairs(
    rules: pd.DataFrame, *, n: int = 10, by: str = "lift", population: str = ALL_POPULATION
) -> pd.DataFrame:
    """The strongest unordered item pairs of one population.

    Transforms the rules of :func:`association_rules` (one row per population x ordered pair)
    into one row per unordered pair {A, B} of ``population``, with A < B (A -> B and B -> A
    are one row): the pair's support and lift (both symmetric) and the confidence in each
    direction.

    Parameters
    ----------
    rules : pd.DataFrame
        As returned by :func:`association_rules`.
    n : int, default 10
        Pairs returned (fewer when there are fewer).
    by : {"lift", "support", "n_ab", "confidence_a_to_b", "confidence_b_to_a"}, default "lift"
        Ranking column, descending; ties by n_ab, then the items' names.
    population : str, default "all"
        Which population's rules; a population without rules gives an empty table.

    Returns
    -------
    pd.DataFrame
        Columns :data:`PAIR_COLUMNS`, best first, index 0..n-1. ``n_a``/``n_b`` are the
        customers buying ``item_a``/``item_b``.

    Examples
    --------
    >>> rules = pd.DataFrame({
    ...     "population": ["all", "all"], "antecedent": ["mugs", "coffee"],
    ...     "consequent": ["coffee", "mugs"], "n_customers": [10, 10], "n_a": [4, 5],
    ...     "n_b": [5, 4], "n_ab": [4, 4], "support": [0.4, 0.4], "confidence": [1.0, 0.8],
    ...     "lift": [2.0, 2.0], "conviction": [float("inf"), 3.0],
    ... })
    >>> top_pairs(rules)[["item_a", "item_b", "lift", "confidence_a_to_b", "confidence_b_to_a"]]
       item_a item_b  lift  confidence_a_to_b  confidence_b_to_a
    0  coffee   mugs   2.0                0.8                1.0
    """
    require_columns(rules, RULE_COLUMNS[:-1], table_name="rules")
    if by not in _PAIR_SORT_KEYS:
        raise ValueError(f"by={by!r}: expected one of {_PAIR_SORT_KEYS}")
    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r}: expected a whole number >= 1")
    rows = rules[rules["population"] == population]
    forward = rows[rows["antecedent"] < rows["consequent"]]
    backward = rows[rows["antecedent"] > rows["consequent"]][
        ["antecedent", "consequent", "confidence"]
    ].rename(
        columns={
            "antecedent": "item_b",
            "consequent": "item_a",
            "confidence": "confidence_b_to_a",
        }
    )
    pairs = forward.rename(
        columns={
            "antecedent": "item_a",
            "consequent": "item_b",
            "confidence": "confidence_a_to_b",
        }
    ).merge(backward, on=["item_a", "item_b"], how="left", validate="one_to_one")
    pairs = pairs.sort_values(
        [by, "n_ab", "item_a", "item_b"],
        ascending=[False, False, True, True],
        kind="mergesort",
    ).head(int(n))
    return pairs.reset_index(drop=True)[list(PAIR_COLUMNS)]


def cross_sell_by_segment(rules: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """Each segment's top cross-sell rules: "customers of X who buy A also buy B".

    Transforms the rules of :func:`association_rules` (one row per population x ordered
    pair) into up to ``n`` rows per segment population (every population but "all"). One
    direction per pair: the one with the higher confidence (the stronger "also buy"
    statement; on a tie, the alphabetically first antecedent); then the top ``n`` by lift
    (ties by n_ab).

    Parameters
    ----------
    rules : pd.DataFrame
        As returned by :func:`association_rules` with ``segments``.
    n : int, default 3
        Rules per segment.

    Returns
    -------
    pd.DataFrame
        Columns :data:`CROSS_SELL_COLUMNS`: *segment, rank* (1 = best), *antecedent,
        consequent, n_customers* (the segment's customers with a basket), *n_a, n_b, n_ab,
        support, confidence* (share of the segment's A buyers who also bought B),
        *consequent_share* (share of the segment buying B at all), *lift*. Segments in name
        order; empty when the rules have no segment population.

    Examples
    --------
    >>> rules = pd.DataFrame({
    ...     "population": ["vip", "vip"], "antecedent": ["mugs", "coffee"],
    ...     "consequent": ["coffee", "mugs"], "n_customers": [10, 10], "n_a": [4, 5],
    ...     "n_b": [5, 4], "n_ab": [4, 4], "support": [0.4, 0.4], "confidence": [1.0, 0.8],
    ...     "lift": [2.0, 2.0], "conviction": [float("inf"), 3.0],
    ... })
    >>> cross_sell_by_segment(rules)[["segment", "rank", "antecedent", "consequent", "confidence"]]
      segment  rank antecedent consequent  confidence
    0     vip     1       mugs     coffee         1.0
    """
    require_columns(rules, RULE_COLUMNS[:-1], table_name="rules")
    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r}: expected a whole number >= 1")
    rows = rules[rules["population"] != ALL_POPULATION].copy()
    rows["_first"] = rows[["antecedent", "consequent"]].min(axis=1)
    rows["_second"] = rows[["antecedent", "consequent"]].max(axis=1)
    rows = rows.sort_values(
        ["population", "_first", "_second", "confidence", "antecedent"],
        ascending=[True, True, True, False, True],
        kind="mergesort",
    ).drop_duplicates(["population", "_first", "_second"])
    rows = rows.sort_values(
        ["population", "lift", "n_ab", "antecedent", "consequent"],
        ascending=[True, False, False, True, True],
        kind="mergesort",
    )
    rows = rows.groupby("population", sort=True).head(int(n))
    rows["rank"] = rows.groupby("population").cumcount().astype("int64") + 1
    rows["consequent_share"] = rows["n_b"] / rows["n_customers"]
    rows = rows.rename(columns={"population": "segment"})
    return rows.reset_index(drop=True)[list(CROSS_SELL_COLUMNS)]


def _shown(table: pd.DataFrame, rule: SmallCells) -> pd.DataFrame:
    """The rows (rules or pairs) a report may show: bought together by 0 or >= k customers.

    ``min_pair_customers`` (the params' ``affinity_min_pair_customers``) may be set below
    the report's ``min_cell_size``; a pair bought by fewer customers is then kept in the
    artifact but not displayed, nor its lift and confidences.
    """
    return table[~rule.is_small(table["n_ab"])]


def lift_matrix(
    rules: pd.DataFrame, *, population: str = ALL_POPULATION, min_cell_size: int = MIN_CELL_SIZE
) -> pd.DataFrame:
    """Item x item lift of one population, strongly linked items next to each other.

    Transforms the rules of :func:`crmlib.segments.queries.affinities.association_rules` (one row
    per population x ordered pair) into a symmetric matrix (lift is symmetric) with NaN on the
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
