"""The small-cell rule, applied once: no group of fewer than ``min_cell_size`` customers is shown.

Every stage turns customer counts and rates on customers into tables, charts and sentences for
the report. This module is the one place that decides what may be shown, with one documented
behaviour per kind of output (``privacy.min_cell_size`` in params, default 10; *k* below):

- **A count in a table** (``SmallCells.count`` / ``SmallCells.counts``): 0 and counts of at least
  *k* are shown; a count from 1 to *k* - 1 reads ``"<k"``.
- **A total that would reveal a hidden count** (``SmallCells.suppress``): where a row of a table
  shows parts and their total (``opted in = unsubscribed + contactable``), a part hidden as
  ``"<k"`` could be recovered by subtraction, so the smallest other part is hidden as well, shown
  as ``"–"`` (complementary suppression), and a rate computed from a hidden count is hidden with
  it. The same holds down a column: :meth:`SmallCells.complement` hides the next smallest
  group when exactly one group is hidden and their total is shown.
- **A table or chart with one row, bar or line per group** (``SmallCells.pool``): groups of
  fewer than *k* customers are pooled into one ``"(other)"`` group that holds at least *k*
  customers and at least two groups (the smallest shown groups join it until it does), so the
  groups still add up to the whole. Where a group cannot be pooled (a cohort row of a heatmap,
  an arm of an experiment) its values are not drawn or read ``"–"``, and its count ``"<k"``.
- **A rate or a mean on customers** (``SmallCells.hide``): shown only when the group it is
  computed on holds at least *k* customers; otherwise ``"–"`` in a table, not drawn in a chart.
  A rate on a group of at least *k* is shown even when few of them did the thing (4.3% of 23
  customers bought again): the rule protects groups, and that group is 23 customers.
- **A sentence** (``SmallCells.phrase``): "fewer than 10 customers" instead of the count.

Counts of input *rows* in the data-quality reconciliation of ``01_ingest`` (rows read, accepted,
rejected) are not statistics about customers and are shown exactly, so the books balance;
exports to activation tools are lists, not statistics, and are not touched.

:func:`small_counts_in_html` reads a report page the way a stakeholder does and lists every
table cell and sentence that shows a customer count below *k*; the tests run it over every page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = [
    "HIDDEN",
    "MIN_CELL_SIZE",
    "OTHER",
    "SmallCells",
    "small_counts_in_html",
]

#: The default of ``privacy.min_cell_size``: the one place the number 10 is written.
MIN_CELL_SIZE = 10
#: How a value that is not shown reads in a table (a rate on a small group, a complementary cell).
HIDDEN = "–"
#: The label of the pooled group.
OTHER = "(other)"


def _whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class SmallCells:
    """The small-cell rule for one run: groups of fewer than ``min_cell_size`` customers.

    Parameters
    ----------
    min_cell_size : int, default MIN_CELL_SIZE
        The smallest group of customers a report may describe (``privacy.min_cell_size``).

    Examples
    --------
    >>> rule = SmallCells(10)
    >>> rule.count(0), rule.count(7), rule.count(1234), rule.phrase(3), rule.phrase(1, "buyer")
    ('0', '<10', '1,234', 'fewer than 10 customers', 'fewer than 10 buyers')
    """

    min_cell_size: int = MIN_CELL_SIZE

    def __post_init__(self) -> None:
        if not _whole(self.min_cell_size) or self.min_cell_size < 1:
            raise ValueError(
                f"privacy.min_cell_size={self.min_cell_size!r}: expected a whole number >= 1"
            )

    @property
    def below(self) -> str:
        """How a hidden count reads: ``"<10"``."""
        return f"<{self.min_cell_size}"

    # -- single values -----------------------------------------------------------------------
    def is_small(self, counts: object) -> np.ndarray:
        """True where a count is from 1 to ``min_cell_size - 1`` (0 and missing are not small).

        Works on a number, a Series or an array; returns a boolean array of the same shape.
        """
        array = np.asarray(counts, dtype=object)
        values = pd.to_numeric(pd.Series(array.ravel()), errors="coerce")
        small = ((values >= 1) & (values < self.min_cell_size)).fillna(False).to_numpy(bool)
        return small.reshape(array.shape)

    def shown(self, n: object) -> bool:
        """True when a group of *n* customers may be described (n is 0 or at least the limit)."""
        return not bool(self.is_small(n))

    def count(self, n: object) -> str:
        """A count as it may appear in a table: ``"1,234"``, ``"0"``, ``"<10"``; missing ``"–"``."""
        if _missing(n):
            return HIDDEN
        if self.is_small(n):
            return self.below
        value = float(n)  # type: ignore[arg-type]
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"

    def counts(self, values: pd.Series | Sequence[object]) -> pd.Series:
        """:meth:`count` of each value, as text (same index as a Series)."""
        series = values if isinstance(values, pd.Series) else pd.Series(list(values))
        return series.map(self.count).astype("object")

    def phrase(self, n: object, noun: str = "customer", plural: str | None = None) -> str:
        """A count with its noun for a sentence: ``"1,234 customers"``, ``"fewer than 10 customers"``."""
        many = plural or noun + "s"
        if _missing(n):
            return f"an unknown number of {many}"
        if self.is_small(n):
            return f"fewer than {self.min_cell_size:,} {many}"
        value = int(n)  # type: ignore[call-overload]
        return f"{value:,} {noun if value == 1 else many}"

    def words(
        self, counts: Mapping[str, int], *, parts: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, str | None]:
        """The customer counts of one sentence as words, with the totals they add up to checked.

        Transforms named counts (one sentence's numbers) into the text that sentence may show:
        ``"1,234"``, ``"0"``, ``"fewer than 10"`` for a small count, and None for a count that
        must not be stated because, with the total it adds up to, it would reveal a small one
        (complementary suppression as in :meth:`suppress`; ``parts`` as there).

        Examples
        --------
        >>> SmallCells(10).words({"not_capped": 65, "target": 57, "control": 8},
        ...                      parts={"not_capped": ["target", "control"]})
        {'not_capped': '65', 'target': None, 'control': 'fewer than 10'}
        """
        names = list(counts)
        row = pd.DataFrame([[int(counts[name]) for name in names]], columns=names)
        shown = self.suppress(row, counts=names, parts=parts).iloc[0]
        said: dict[str, str | None] = {}
        for name in names:
            text = str(shown[name])
            if text == HIDDEN:
                said[name] = None
            elif text == self.below:
                said[name] = f"fewer than {self.min_cell_size:,}"
            else:
                said[name] = text
        return said

    # -- tables --------------------------------------------------------------------------------
    def hide(
        self, table: pd.DataFrame, *, size: str, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Values of the rows describing a small group, set to missing.

        Transforms a table with one row per group (``size`` holds the group's customers) into
        a copy where ``columns`` (default: every numeric column but ``size``) are NaN on the
        rows whose group is small, so a formatter shows ``"–"`` and a chart draws nothing. The
        ``size`` column itself is left as a number: format it with :meth:`counts`.
        """
        _require(table, [size], "hide")
        if columns is None:
            columns = [
                c
                for c in table.columns
                if c != size
                and pd.api.types.is_numeric_dtype(table[c])
                and not pd.api.types.is_bool_dtype(table[c])
            ]
        _require(table, columns, "hide")
        out = table.copy()
        small = self.is_small(table[size])
        for column in columns:
            out[column] = out[column].astype("float64").where(~small)
        return out

    def pooled_groups(self, sizes: pd.Series) -> set[str]:
        """Groups to pool into ``(other)``: the small ones, plus the smallest others as needed.

        ``sizes`` holds the customers of each group (index: the group). ``(other)`` must hold at
        least ``min_cell_size`` customers and at least two groups, so it never shows one group
        alone; the smallest shown groups join it until it does (or every group is in it). Empty
        groups (0 customers) are never pooled. The loop runs over groups, not customers.

        Examples
        --------
        >>> sorted(SmallCells(10).pooled_groups(pd.Series({"a": 40, "b": 12, "c": 3})))
        ['b', 'c']
        >>> sorted(SmallCells(10).pooled_groups(pd.Series({"a": 40, "b": 6, "c": 5})))
        ['b', 'c']
        """
        ascending = sizes[sizes > 0].sort_values(kind="stable")
        pooled = {str(label) for label in ascending.index[ascending < self.min_cell_size]}
        if not pooled:
            return pooled
        pooled_size = int(ascending[[i for i in ascending.index if str(i) in pooled]].sum())
        for label, group_size in ascending.items():
            if pooled_size >= self.min_cell_size and len(pooled) >= 2:
                break
            if str(label) not in pooled:
                pooled.add(str(label))
                pooled_size += int(group_size)
        return pooled

    def pool_labels(self, labels: pd.Series, *, label: str = OTHER) -> pd.Series:
        """Each customer's group, with the groups :meth:`pooled_groups` pools replaced by ``label``.

        Transforms one label per customer (a Series) into the label to group by for display;
        group with ``groupby`` afterwards so that every total is computed from customers.
        """
        text = labels.astype("object").where(labels.notna(), "(unknown)").astype("str")
        pooled = self.pooled_groups(text.value_counts())
        return text.where(~text.isin(pooled), label)

    def pool(
        self,
        table: pd.DataFrame,
        *,
        by: str,
        size: str,
        sums: Sequence[str] = (),
        label: str = OTHER,
    ) -> pd.DataFrame:
        """A table with one row per group, its small groups pooled into one ``(other)`` row.

        Transforms *by, size, sums...* (one row per group; ``size`` its customers; ``sums``
        columns that add up across groups, e.g. revenue) into the same columns plus ``groups``
        (how many groups a row holds), where the groups of :meth:`pooled_groups` are one row
        labelled ``label``, placed last. Other columns (means, rates) cannot be pooled from
        the table and are NaN on that row: compute them per customer with :meth:`pool_labels`
        when they are needed.

        Examples
        --------
        >>> table = pd.DataFrame({"channel": ["web", "shop", "app", "tv"],
        ...                       "customers": [40, 12, 3, 8], "revenue": [400.0, 120, 30, 80]})
        >>> SmallCells(10).pool(table, by="channel", size="customers", sums=["revenue"])
           channel  customers  revenue  groups
        0      web         40    400.0       1
        1     shop         12    120.0       1
        2  (other)         11    110.0       2
        """
        _require(table, [by, size, *sums], "pool")
        sizes = table.groupby(table[by].astype("str"), sort=False)[size].sum()
        pooled = self.pooled_groups(sizes)
        out = table.copy()
        out["groups"] = 1
        if not pooled:
            return out.reset_index(drop=True)
        inside = out[by].astype("str").isin(pooled)
        other: dict[str, object] = {column: np.nan for column in out.columns}
        other[by] = label
        other[size] = out.loc[inside, size].sum()
        for column in sums:
            other[column] = out.loc[inside, column].sum()
        other["groups"] = int(inside.sum())
        kept = out.loc[~inside]
        pooled_row = pd.DataFrame([other], columns=out.columns)
        result = pd.concat([kept, pooled_row.astype(kept.dtypes.to_dict(), errors="ignore")])
        return result.reset_index(drop=True)

    def complement(self, counts: Sequence[object], *, total_shown: bool = True) -> np.ndarray:
        """Which of a set of counts to hide so that a shown total reveals none of them.

        ``counts`` are the parts of one total (the groups of a column, or the parts of a row).
        Returns a boolean array: True for a small count (shown as ``"<k"``) and, when exactly
        one part would be hidden while the total is shown, for the smallest other non-zero
        part as well (complementary suppression, shown as ``"–"``).

        Examples
        --------
        >>> SmallCells(10).complement([120, 4, 30]).tolist()
        [False, True, True]
        >>> SmallCells(10).complement([120, 4, 3]).tolist()
        [False, True, True]
        """
        values = pd.to_numeric(pd.Series(list(counts), dtype="object")).to_numpy(float)
        hidden = self.is_small(values).copy()
        if total_shown and hidden.sum() == 1:
            candidates = np.where(~hidden & (np.nan_to_num(values) > 0))[0]
            if candidates.size:
                hidden[candidates[np.argmin(values[candidates])]] = True
        return hidden

    def suppress(
        self,
        table: pd.DataFrame,
        *,
        counts: Sequence[str],
        parts: Mapping[str, Sequence[str]] | None = None,
        rates: Mapping[str, str] | None = None,
        rate_format: str = "{:.1%}",
        keep: Sequence[str] = (),
    ) -> pd.DataFrame:
        """A display table: its customer counts as text with small counts hidden, totals checked.

        Transforms a table (one row per item) into a copy whose ``counts`` columns are text:
        ``"<k"`` for a small count, ``"–"`` for a count hidden so that a total does not reveal
        a small one. ``parts`` maps a total column to the columns that add up to it in each row
        (``{"opted_in": ["unsubscribed", "contactable"]}``): when one of them is hidden, the
        smallest other is hidden too (:meth:`complement`, repeated until no relation reveals a
        hidden cell). ``rates`` maps a rate column to the count it is computed from; the rate is
        formatted with ``rate_format`` and reads ``"–"`` where that count is hidden. ``keep``
        names the counts a reader needs most (a campaign's reach): they are hidden as a
        complement only when no other cell of the relation can be.
        """
        rate_of = dict(rates or {})
        _require(table, [*rate_of, *rate_of.values()], "suppress")
        hidden = self.hidden_cells(table, counts=counts, parts=parts, keep=keep)
        values = table[list(counts)].apply(pd.to_numeric, errors="coerce").astype("float64")
        primary = self.is_small(values.to_numpy())
        out = table.copy()
        for position, column in enumerate(counts):
            text = values[column].map(self.count)
            text = text.where(~(hidden[column].to_numpy() & ~primary[:, position]), HIDDEN)
            out[column] = text.astype("object")
        for rate, count in rate_of.items():
            rate_values = pd.to_numeric(table[rate], errors="coerce")
            formatted = rate_values.map(lambda v: HIDDEN if pd.isna(v) else rate_format.format(v))
            out[rate] = formatted.where(~hidden[count], HIDDEN).astype("object")
        return out

    def hidden_cells(
        self,
        table: pd.DataFrame,
        *,
        counts: Sequence[str],
        parts: Mapping[str, Sequence[str]] | None = None,
        keep: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Which count cells of a table are not shown: the small ones and their complements.

        Same ``counts``, ``parts`` and ``keep`` as :meth:`suppress`; returns a boolean frame (the table's
        index, the ``counts`` columns), True where :meth:`suppress` shows ``"<k"`` or ``"–"``.
        For a chart drawn from the table: a True cell is not drawn.
        """
        relations = dict(parts or {})
        _require(table, counts, "suppress")
        for total, members in relations.items():
            _require(table, [total, *members], "suppress")
        values = table[list(counts)].apply(pd.to_numeric, errors="coerce").astype("float64")
        hidden = pd.DataFrame(
            self.is_small(values.to_numpy()), index=table.index, columns=values.columns
        )
        changed = True
        while changed:
            changed = False
            for total, members in relations.items():
                cells = [total, *members]
                for row in table.index:
                    mask = hidden.loc[row, cells].to_numpy(bool)
                    if mask.sum() != 1:
                        continue
                    shown = [c for c, h in zip(cells, mask, strict=True) if not h]
                    candidates = [c for c in shown if values.loc[row, c] > 0]
                    if not candidates:
                        continue
                    smallest = min(
                        candidates,
                        key=lambda c: (c in keep, c == total, values.loc[row, c]),
                    )
                    hidden.loc[row, smallest] = True
                    changed = True
        return hidden


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, Real) and math.isnan(float(value)))


def _require(table: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"SmallCells.{where}: columns {missing} not in the table; it has {list(table.columns)}"
        )


# -- reading a page --------------------------------------------------------------------------

#: A table header that holds customer counts: it names customers (or buyers, members), and is
#: not an amount per customer ("Cost per extra retained customer", "CLV per customer").
_COUNT_HEADER = re.compile(r"\b(customers?(?!\s+ids?\b)|buyers?|members?)\b", re.IGNORECASE)
_NOT_COUNT_HEADER = re.compile(
    r"\bper\b|share|%|\(\s*[\u20ac£$]|value|revenue|clv|cost|spend|mean|average|purchases",
    re.IGNORECASE,
)
#: A whole number in a cell (not part of a decimal, a percentage, an amount or a date).
_CELL_NUMBER = re.compile(r"(?<![\d.,:/\u20ac£$-])(\d{1,3}(?:,\d{3})*|\d+)(?![\d.,:%]|\s*%)")
#: A figure on its own line under its label (a KPI tile: "New customers" then "12").
_WHOLE_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})*|\d+")
#: A count before its noun in a sentence: "8 customers", "5 recent buyers", "1 customer id" is
#: not matched (an id is not a group of customers).
_SENTENCE_COUNT = re.compile(
    r"(?<![\d.,\u20ac£$:/-])\b(\d{1,3}(?:,\d{3})*|\d+)\b(?![.,]\d|%)\s+"
    r"(?:[a-z-]+\s+){0,2}?(customers|customer(?!\s+id)|buyers?|members?)\b"
)
_SKIPPED_TAGS = frozenset({"code", "style", "script", "head", "svg", "template"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _PageReader(HTMLParser):
    """Tables (rows of cell texts) and the prose outside them (folded details included), code
    and scripts skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.prose: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def _skipping(self) -> bool:
        return any(tag in _SKIPPED_TAGS for tag in self.open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID_TAGS:
            self.open.append(tag)
        if self._skipping():
            return
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif "table" not in self.open:
            self.prose.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if not self._skipping():
            if tag in ("td", "th") and self._cell is not None and self._row is not None:
                self._row.append(" ".join("".join(self._cell).split()))
                self._cell = None
            elif tag == "tr" and self._row is not None and self.tables:
                self.tables[-1].append(self._row)
                self._row = None
            elif "table" not in self.open:
                self.prose.append("\n")
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._skipping():
            return
        if self._cell is not None:
            self._cell.append(data)
        elif "table" not in self.open:
            self.prose.append(data)


def _header_names(rows: list[list[str]]) -> tuple[list[str], int]:
    """The column headers of a pandas-style HTML table and how many header rows it has.

    pandas writes the column names in the first row and, with a named index, the index names
    in a second row whose other cells are empty; a row whose data cells are all empty is a
    header row.
    """
    header = rows[0]
    depth = 1
    while depth < len(rows) and all(cell == "" for cell in rows[depth][1:]):
        depth += 1
    return header, depth


def small_counts_in_html(html: str, *, min_cell_size: int = MIN_CELL_SIZE) -> list[str]:
    """Every customer count from 1 to ``min_cell_size - 1`` a reader sees on a page.

    Reads tables (a column whose header names customers, buyers or members and is not an
    amount or a share: each whole number in its cells), figures under such a label (a KPI
    tile) and sentences ("8 customers", "5 recent buyers"), folded ``<details>`` included (a
    reader can open them); code and scripts are not read. Returns one line per finding: the table's header and row, or the sentence.

    Examples
    --------
    >>> page = ('<table><tr><th></th><th>customers</th><th>revenue (EUR)</th></tr>'
    ...         '<tr><th>web</th><td>40</td><td>7</td></tr>'
    ...         '<tr><th>app</th><td>7</td><td>3</td></tr></table>'
    ...         '<p>The largest move was up (8 customers); 12 customers left.</p>')
    >>> small_counts_in_html(page)
    ["table 1, column 'customers', row 'app': 7", 'sentence: ... The largest move was up (8 customers); 12 ...']
    """
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    found: list[str] = []
    for number, rows in enumerate(reader.tables, start=1):
        if not rows:
            continue
        header, depth = _header_names(rows)
        for row in rows[depth:]:
            offset = len(row) - len(header)  # row labels take the place of empty header cells
            for position, raw_name in enumerate(header):
                name = raw_name.replace("_", " ")
                column = position + max(offset, 0)
                if column >= len(row) or not _COUNT_HEADER.search(name):
                    continue
                if _NOT_COUNT_HEADER.search(name):
                    continue
                for match in _CELL_NUMBER.finditer(row[column]):
                    if 1 <= int(match.group(1).replace(",", "")) < min_cell_size:
                        label = " / ".join(cell for cell in row[: max(offset, 1)] if cell)
                        found.append(
                            f"table {number}, column {raw_name!r}, row {label!r}: {row[column]}"
                        )
    prose = "".join(reader.prose)
    lines = [" ".join(line.split()) for line in prose.splitlines() if line.strip()]
    for label, value in zip(lines, lines[1:], strict=False):
        if (
            len(label) <= 60
            and _COUNT_HEADER.search(label)
            and not _NOT_COUNT_HEADER.search(label)
            and _WHOLE_NUMBER.fullmatch(value)
            and 1 <= int(value.replace(",", "")) < min_cell_size
        ):
            found.append(f"figure {label!r}: {value}")
    for match in _SENTENCE_COUNT.finditer(prose):
        if 1 <= int(match.group(1).replace(",", "")) < min_cell_size:
            start = max(prose.rfind("\n", 0, match.start()) + 1, match.start() - 40)
            end = prose.find("\n", match.end())
            end = min(end if end >= 0 else len(prose), match.end() + 15)
            found.append("sentence: ... " + " ".join(prose[start:end].split()) + " ...")
    return found
