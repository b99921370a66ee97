"""Named RFM segments: rules over the score grid, their validation, and vectorized assignment.

A segment rule is a box over the (R, F, M) score grid: inclusive ranges of the recency,
frequency and monetary scores (``None`` = any score). A rule table is valid for ``bins``
when it **partitions** the ``bins**3`` grid: every (r, f, m) cell is matched by exactly one
rule, so every customer gets exactly one segment. The order of the rules is their **value
rank**, most valuable first; segment migration calls a move to an earlier rule "up".

The default rules (:data:`DEFAULT_SEGMENT_RULES`, for ``bins=5``) follow the widely used
RFM segment map that places recency against frequency (the "R vs F/M" grid of the CRM
literature, e.g. the ten-segment regex map ``[1-2][1-2] hibernating ... 5[4-5] champions``)
and split its bottom-left corner into *Hibernating* (R 2) and *Lost* (R 1). A box cannot
express a combined (F + M) / 2 score, so the default rules use R and F only and accept any M
(F and M are strongly correlated; M still drives revenue shares and the RFM cell). Custom
rules may use M. The value order is the usual listing of these names except that *Can't
lose* (F 5) comes before *At risk* (F 3-4): both have not bought lately, and a Can't-lose
customer whose frequency slides to 3-4 has moved down, not up.

=================== ===== ===== =====
segment              R     F     M
=================== ===== ===== =====
Champions            5     4-5   any
Loyal                3-4   4-5   any
Potential loyalist   4-5   2-3   any
New                  5     1     any
Promising            4     1     any
Need attention       3     3     any
About to sleep       3     1-2   any
Can't lose           1-2   5     any
At risk              1-2   3-4   any
Hibernating          2     1-2   any
Lost                 1     1-2   any
=================== ===== ===== =====

The same map as an R (columns) x F (rows) grid::

    F5  Can't lose   Can't lose   Loyal           Loyal          Champions
    F4  At risk      At risk      Loyal           Loyal          Champions
    F3  At risk      At risk      Need attention  Pot. loyalist  Pot. loyalist
    F2  Lost         Hibernating  About to sleep  Pot. loyalist  Pot. loyalist
    F1  Lost         Hibernating  About to sleep  Promising      New
        R1           R2           R3              R4             R5
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS, SegmentRuleParams
from crmlib.errors import DataContractError

__all__ = [
    "NEW_SEGMENT",
    "SCORE_COLUMNS",
    "SegmentRule",
    "DEFAULT_SEGMENT_RULES",
    "rules_from_params",
    "validate_rules",
    "segment_names",
    "assign_segments",
]

log = logging.getLogger(__name__)

#: Segment label reserved for customers without a purchase at the earlier migration date
#: (no rule may use it: :class:`crmlib.config.SegmentRuleParams` refuses it).
NEW_SEGMENT: str = SegmentRuleParams.RESERVED_NAME
#: Score columns read by :func:`assign_segments`, in (R, F, M) order.
SCORE_COLUMNS: tuple[str, str, str] = ("r_score", "f_score", "m_score")

_DIMENSIONS = ("r", "f", "m")
_DEFAULT_BINS = 5


def _rule_params(row: Any, label: str) -> SegmentRuleParams:
    """``row`` (a mapping or the model) checked by :class:`crmlib.config.SegmentRuleParams`.

    A bad row is a ValueError naming the rule (``label``) and each bad key.
    """
    if isinstance(row, SegmentRuleParams):
        return row
    if not isinstance(row, Mapping):
        raise ValueError(
            f"{label}: expected a mapping such as {{'name': ..., 'r': ..., 'f': ...}}, got {row!r}"
        )
    return SegmentRuleParams.validated(dict(row), label=label)


@dataclass(frozen=True)
class SegmentRule:
    """One named segment: inclusive ranges of the R, F and M scores (None = any score).

    Checked by :class:`crmlib.config.SegmentRuleParams`, the validator of ``segments.rules``
    in the params file (a bad rule is a ValueError naming it and the field).

    Parameters
    ----------
    name : str
        Segment name, e.g. ``"Champions"``; not :data:`NEW_SEGMENT`.
    r, f : (int, int), int or None
        Inclusive ranges of ``r_score`` and ``f_score`` (one integer: that score); None
        matches every score.
    m : (int, int), int or None, default None
        Inclusive range of ``m_score``; None (the default) matches every score.

    Examples
    --------
    >>> rule = SegmentRule("Champions", r=(5, 5), f=(4, 5))
    >>> rule.matches(5, 4, 1), rule.matches(4, 5, 5)
    (True, False)
    """

    name: str
    r: tuple[int, int] | None
    f: tuple[int, int] | None
    m: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        fields = {"name": self.name, "r": self.r, "f": self.f, "m": self.m}
        checked = _rule_params(fields, f"segment rule {self.name!r}")
        for dimension in _DIMENSIONS:
            object.__setattr__(self, dimension, getattr(checked, dimension))

    def bounds(self, bins: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """The (lo, hi) ranges of R, F and M with None expanded to (1, ``bins``)."""
        r, f, m = ((rng if rng is not None else (1, bins)) for rng in (self.r, self.f, self.m))
        return r, f, m

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether the score cell (r, f, m) falls in this rule's box."""
        return all(
            rng is None or rng[0] <= value <= rng[1]
            for rng, value in zip((self.r, self.f, self.m), (r, f, m), strict=True)
        )

    def describe(self) -> str:
        """The box in words, e.g. ``'R 5, F 4-5, M any'``."""

        def text(rng: tuple[int, int] | None) -> str:
            if rng is None:
                return "any"
            return str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}\u2013{rng[1]}"

        return ", ".join(
            f"{d.upper()} {text(rng)}"
            for d, rng in zip(_DIMENSIONS, (self.r, self.f, self.m), strict=True)
        )


#: The default rules for ``bins=5``, most valuable first (see the module docstring).
DEFAULT_SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", r=(5, 5), f=(4, 5)),
    SegmentRule("Loyal", r=(3, 4), f=(4, 5)),
    SegmentRule("Potential loyalist", r=(4, 5), f=(2, 3)),
    SegmentRule("New", r=(5, 5), f=(1, 1)),
    SegmentRule("Promising", r=(4, 4), f=(1, 1)),
    SegmentRule("Need attention", r=(3, 3), f=(3, 3)),
    SegmentRule("About to sleep", r=(3, 3), f=(1, 2)),
    SegmentRule("Can't lose", r=(1, 2), f=(5, 5)),
    SegmentRule("At risk", r=(1, 2), f=(3, 4)),
    SegmentRule("Hibernating", r=(2, 2), f=(1, 2)),
    SegmentRule("Lost", r=(1, 1), f=(1, 2)),
)


def rules_from_params(
    rows: Sequence[SegmentRuleParams | Mapping[str, Any]],
) -> tuple[SegmentRule, ...]:
    """Segment rules from the params file's rule list, in the listed (value) order.

    Each row is a :class:`crmlib.config.SegmentRuleParams` (``params.rules``) or a mapping
    such as ``{"name": "Champions", "r": [4, 5], "f": [4, 5], "m": [1, 5]}``, validated by that
    model: ``m`` is optional (any score), a single integer means that one score, and ``null``
    means any. Coverage of the score grid is checked later, by :func:`validate_rules` with the
    bins.

    Parameters
    ----------
    rows : sequence of SegmentRuleParams or mappings
        One rule per row, most valuable segment first.

    Returns
    -------
    tuple of SegmentRule

    Raises
    ------
    ValueError
        ``rows`` is not a non-empty list; a row is not a mapping, has an unknown or missing
        key or a bad range (the message names the rule, or its position when it has no name,
        and the key); or two rows have the same name.

    Examples
    --------
    >>> rules_from_params([{"name": "All", "r": [1, 3], "f": [1, 3]}])
    (SegmentRule(name='All', r=(1, 3), f=(1, 3), m=None),)
    >>> rules_from_params([{"name": "All", "r": [1, 3]}])
    Traceback (most recent call last):
    ...
    ValueError: segment rule 'All': missing required key 'f'
    """
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(
            f"segment rules: expected a non-empty list of rules such as "
            f"{{'name': 'Champions', 'r': [4, 5], 'f': [4, 5]}}; got {rows!r}"
        )
    checked: list[SegmentRuleParams] = []
    for position, row in enumerate(rows, start=1):
        name = row.get("name") if isinstance(row, Mapping) else getattr(row, "name", None)
        label = f"segment rule {name!r}" if isinstance(name, str) else f"segment rule #{position}"
        checked.append(_rule_params(row, label))
    SegmentRuleParams.check_unique_names(rule.name for rule in checked)
    return tuple(SegmentRule(rule.name, r=rule.r, f=rule.f, m=rule.m) for rule in checked)


def _cell(r: int, f: int, m: int) -> str:
    return f"R{r} F{f} M{m}"


def _coverage(rules: Sequence[SegmentRule], bins: int) -> np.ndarray:
    """How many rules cover each (r, f, m) cell: an int array of shape (bins, bins, bins)."""
    counts = np.zeros((bins, bins, bins), dtype="int64")
    for rule in rules:
        (r0, r1), (f0, f1), (m0, m1) = rule.bounds(bins)
        counts[r0 - 1 : r1, f0 - 1 : f1, m0 - 1 : m1] += 1
    return counts


def validate_rules(rules: Sequence[SegmentRule], *, bins: int) -> None:
    """Check that ``rules`` partition the ``bins**3`` score grid; raise naming what is wrong.

    Every (r, f, m) cell with scores 1..``bins`` must be matched by exactly one rule, so every
    customer gets exactly one segment.

    Parameters
    ----------
    rules : sequence of SegmentRule
        Most valuable first.
    bins : int
        Number of score bins (2 or more).

    Raises
    ------
    ValueError
        No rules; a name used twice; a range beyond ``bins``; two rules overlapping (named,
        with a cell both cover, e.g. ``rules 'Loyal' and 'Champions' overlap at R5 F4 M3``);
        a cell no rule covers (e.g. ``no rule covers R1 F2 M3``); or the default rules with
        ``bins`` other than 5.

    Examples
    --------
    >>> validate_rules(DEFAULT_SEGMENT_RULES, bins=5)
    >>> validate_rules([SegmentRule("Top", r=(2, 3), f=None)], bins=3)
    Traceback (most recent call last):
    ...
    ValueError: segment rules leave 9 of 27 score cells unassigned (bins=3): no rule covers R1 F1 M1
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins={bins!r}: expected an integer of at least 2")
    bins = int(bins)
    rules = tuple(rules)
    if not rules:
        raise ValueError("segment rules: the rule table is empty; expected at least one rule")
    if not all(isinstance(rule, SegmentRule) for rule in rules):
        raise ValueError("segment rules: expected SegmentRule objects (see rules_from_params)")
    if rules == DEFAULT_SEGMENT_RULES and bins != _DEFAULT_BINS:
        raise ValueError(
            f"the default segment rules are written for bins={_DEFAULT_BINS}; with bins={bins} "
            f"pass custom rules (segments.rules in the params file) that cover the "
            f"{bins}x{bins}x{bins} score grid"
        )
    SegmentRuleParams.check_unique_names(segment_names(rules))
    for rule in rules:
        for dimension, rng in zip(_DIMENSIONS, (rule.r, rule.f, rule.m), strict=True):
            if rng is not None and rng[1] > bins:
                raise ValueError(
                    f"segment rule {rule.name!r}: {dimension} range [{rng[0]}, {rng[1]}] goes "
                    f"beyond the scores 1..{bins} (bins={bins})"
                )
    counts = _coverage(rules, bins)
    overlapping = np.argwhere(counts > 1)
    if len(overlapping):
        r, f, m = (int(v) + 1 for v in overlapping[0])
        first, second = [rule.name for rule in rules if rule.matches(r, f, m)][:2]
        raise ValueError(
            f"segment rules {first!r} and {second!r} overlap at {_cell(r, f, m)} "
            f"({len(overlapping)} of {bins**3} score cells are matched by more than one rule); "
            "each cell must belong to exactly one segment"
        )
    uncovered = np.argwhere(counts == 0)
    if len(uncovered):
        r, f, m = (int(v) + 1 for v in uncovered[0])
        raise ValueError(
            f"segment rules leave {len(uncovered)} of {bins**3} score cells unassigned "
            f"(bins={bins}): no rule covers {_cell(r, f, m)}"
        )


def segment_names(rules: Sequence[SegmentRule]) -> list[str]:
    """The segment names of ``rules`` in value order (most valuable first)."""
    return [rule.name for rule in rules]


def _labels_at(labels: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``labels[codes]`` as a str array (an Arrow take: ~5x faster than via Python objects)."""
    return pd.array(pa.array(list(labels), type=pa.string()).take(pa.array(codes)), dtype="str")


def _segment_lookup(rules: Sequence[SegmentRule], bins: int) -> np.ndarray:
    """Rule index of every grid cell, flattened as ((r - 1) * bins + (f - 1)) * bins + (m - 1)."""
    lookup = np.full((bins, bins, bins), -1, dtype="int64")
    for index, rule in enumerate(rules):
        (r0, r1), (f0, f1), (m0, m1) = rule.bounds(bins)
        lookup[r0 - 1 : r1, f0 - 1 : f1, m0 - 1 : m1] = index
    return lookup.ravel()


def _segment_codes(scores: pd.DataFrame, rules: Sequence[SegmentRule], *, bins: int) -> np.ndarray:
    """The index in ``rules`` of each row's segment (rules already validated)."""
    require_columns(scores, SCORE_COLUMNS, table_name="rfm scores")
    cells = []
    for column in SCORE_COLUMNS:
        values = pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(values) | (values < 1) | (values > bins) | (values != np.floor(values))
        if bad.any():
            found = scores[column][bad].iloc[0]
            raise DataContractError(
                f"rfm scores: column {column!r} has {int(bad.sum())} values outside the "
                f"scores 1..{bins} (e.g. {found!r}); were the scores computed with bins={bins}?"
            )
        cells.append(values.astype("int64"))
    return _codes_from_scores(*cells, rules=rules, bins=bins)


def _codes_from_scores(
    r_score: np.ndarray,
    f_score: np.ndarray,
    m_score: np.ndarray,
    *,
    rules: Sequence[SegmentRule],
    bins: int,
) -> np.ndarray:
    """The index in ``rules`` of each (r, f, m) score triple (scores in 1..bins, rules valid)."""
    flat = ((r_score - 1) * bins + (f_score - 1)) * bins + (m_score - 1)
    return _segment_lookup(rules, bins)[flat]


def assign_segments(
    scores: pd.DataFrame,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
    *,
    bins: int = DEFAULTS.segments.bins,
) -> pd.DataFrame:
    """Name each customer's segment from their R, F and M scores.

    Transforms *scores* (one row per customer with ``r_score``, ``f_score``, ``m_score`` in
    1..``bins``, as from :func:`crmlib.segments.models.rfm.rfm_scores`) into the same rows, in the
    same order, plus ``segment`` (the name of the one rule whose box holds the cell). The
    rules are validated first (:func:`validate_rules`); the lookup is one array index per
    customer over the precomputed grid, not a loop over rows.

    Parameters
    ----------
    scores : pd.DataFrame
        One row per customer.
    rules : sequence of SegmentRule, default DEFAULT_SEGMENT_RULES
        A partition of the score grid, most valuable first.
    bins : int, default ``segments.bins``
        The bins the scores were computed with.

    Returns
    -------
    pd.DataFrame
        A new frame: ``scores`` plus ``segment`` (str).

    Raises
    ------
    ValueError
        The rules do not partition the grid (see :func:`validate_rules`).
    DataContractError
        A score column is missing or holds a value outside 1..``bins``.

    Examples
    --------
    >>> scores = pd.DataFrame({"r_score": [5, 1], "f_score": [5, 1], "m_score": [3, 1]})
    >>> assign_segments(scores)["segment"].tolist()
    ['Champions', 'Lost']
    """
    rules = tuple(rules)
    validate_rules(rules, bins=bins)
    codes = _segment_codes(scores, rules, bins=bins)
    result = scores.copy(deep=False)  # copy-on-write: the new column never reaches ``scores``
    result["segment"] = _labels_at(segment_names(rules), codes)
    return result
