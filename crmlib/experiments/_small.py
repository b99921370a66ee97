"""The small-cell rule on 07_ab_test's outputs: arms and counts too small to describe.

An experiment's arm cannot be pooled with another arm, so where an arm (a variant or its
control) holds from 1 to ``min_cell_size - 1`` customers its count reads ``"<k"`` (in words
"fewer than k customers") and every estimate computed on it reads ``"–"`` or is not drawn
(:mod:`crmlib.privacy`). The experiment's total is not given either: with the other arms'
counts it would reveal the small one. The rule itself is :class:`crmlib.privacy.SmallCells`;
this module only says which rows of 07's tables it hides.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlib.privacy import SmallCells

__all__ = ["small_arms", "experiments_with_small_arms", "counts_words", "part_of"]

log = logging.getLogger(__name__)


def small_arms(
    table: pd.DataFrame, rule: SmallCells, *, size: str = "n", control_size: str = "n_control"
) -> np.ndarray:
    """True on the rows whose variant arm or control arm holds 1..k-1 customers.

    ``table`` has one row per comparison (a variant against its control, overall or in a
    segment) with the arms' customers in ``size`` and ``control_size``.

    Examples
    --------
    >>> rows = pd.DataFrame({"n": [500, 6, 0], "n_control": [480, 23, 12]})
    >>> small_arms(rows, SmallCells(10)).tolist()
    [False, True, False]
    """
    return np.asarray(rule.is_small(table[size]) | rule.is_small(table[control_size]), bool)


def experiments_with_small_arms(
    table: pd.DataFrame,
    rule: SmallCells,
    *,
    experiment: str = "experiment_id",
    variant: str = "variant",
) -> set[str]:
    """The experiments of a per-customer table that have an arm of 1..k-1 customers.

    Examples
    --------
    >>> customers = pd.DataFrame({"experiment_id": ["a"] * 30 + ["b"] * 26,
    ...     "variant": ["control"] * 20 + ["sms"] * 10 + ["control"] * 20 + ["sms"] * 6})
    >>> experiments_with_small_arms(customers, SmallCells(10))
    {'b'}
    """
    if table.empty:
        return set()
    sizes = table.groupby([table[experiment].astype(str), table[variant].astype(str)]).size()
    small = sizes[rule.is_small(sizes.to_numpy())]
    return {str(key[0]) for key in small.index}


def counts_words(counts: Mapping[str, int], rule: SmallCells, *, total_shown: bool = False) -> str:
    """Labelled counts for a sentence: ``"control 431, treatment 448"``.

    A count of 1..k-1 reads "fewer than k"; when ``total_shown`` (the sentence also gives
    the sum) and exactly one count is hidden, the next smallest reads "not shown"
    (complementary suppression, :meth:`crmlib.privacy.SmallCells.complement`).

    Examples
    --------
    >>> rule = SmallCells(10)
    >>> counts_words({"control": 23, "treatment": 6}, rule)
    'control 23, treatment fewer than 10'
    >>> counts_words({"a": 40, "b": 3, "c": 20}, rule, total_shown=True)
    'a 40, b fewer than 10, c not shown'
    """
    labels = list(counts)
    values = [int(counts[label]) for label in labels]
    hidden = rule.complement(values, total_shown=total_shown)
    small = rule.is_small(values)
    words = []
    for label, value, is_hidden, is_small in zip(labels, values, hidden, small, strict=True):
        if is_small:
            text = f"fewer than {rule.min_cell_size:,}"
        elif is_hidden:
            text = "not shown"
        else:
            text = f"{value:,}"
        words.append(f"{label} {text}")
    return ", ".join(words)


def part_of(
    part: int,
    whole: int,
    rule: SmallCells,
    *,
    noun: str = "customer",
    plural: str | None = None,
    whole_shown: bool = True,
) -> str:
    """``"5 of 879 customers"`` in words that reveal no count of 1..k-1.

    The part reads "fewer than k" when it is small, "all but fewer than k" when the rest
    (``whole - part``) is small; the whole is left out when ``whole_shown`` is False (an
    experiment with a small arm, whose total would reveal it) or when it is small itself.

    Examples
    --------
    >>> rule = SmallCells(10)
    >>> part_of(52, 52, rule, noun="assignment"), part_of(5, 879, rule)
    ('52 of 52 assignments', 'fewer than 10 of 879 customers')
    >>> part_of(875, 879, rule), part_of(29, 29, rule, whole_shown=False)
    ('all but fewer than 10 of 879 customers', 'all customers')
    >>> part_of(3, 6, rule), part_of(20, 29, rule, whole_shown=False)
    ('some of the customers (fewer than 10 in all)', '20 customers')
    """
    many = plural or noun + "s"
    part, whole = int(part), int(whole)
    rest = whole - part
    small_part, small_rest = bool(rule.is_small(part)), bool(rule.is_small(rest))
    if bool(rule.is_small(whole)):
        if rest == 0:
            return f"all {many} (fewer than {rule.min_cell_size:,})"
        return f"some of the {many} (fewer than {rule.min_cell_size:,} in all)"
    if not whole_shown:
        if rest == 0:
            return f"all {many}"
        return rule.phrase(part, noun, plural)
    if small_part:
        return f"fewer than {rule.min_cell_size:,} of {whole:,} {many}"
    if small_rest:
        return f"all but fewer than {rule.min_cell_size:,} of {whole:,} {many}"
    return f"{part:,} of {whole:,} {many}"
