"""The small-cell rule on 07_ab_test's outputs: which arms and experiments are too small to describe.

An experiment's arm cannot be pooled with another arm, so where an arm (a variant or its
control) holds from 1 to ``min_cell_size - 1`` customers its count reads ``"<k"`` (in words
"fewer than k customers") and every estimate computed on it reads ``"–"`` or is not drawn
(:mod:`crmlib.privacy`). The experiment's total is not given either: with the other arms'
counts it would reveal the small one. The rule itself is :class:`crmlib.privacy.SmallCells`;
this module only says which rows of 07's tables it hides.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from crmlib.privacy import SmallCells

__all__ = ["small_arms", "experiments_with_small_arms"]

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
