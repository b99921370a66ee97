"""Business-rule checks for notebooks: visible pass/fail lines, failures raise CheckFailed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlib.errors import CheckFailed, DataContractError, StageInputMissing

if TYPE_CHECKING:
    from crmlib.engine import Engine

__all__ = ["CheckResult", "Checks", "require_columns", "require_view"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """One business rule and whether it held."""

    name: str
    passed: bool
    detail: str


@dataclass
class Checks:
    """Collects checks so a notebook shows all of them, then fails if any did not hold.

    Examples
    --------
    >>> checks = Checks()
    >>> checks.expect("rows reconcile", 10 == 7 + 3, "10 read = 7 accepted + 3 rejected")
    >>> checks.summary()
    'PASS rows reconcile: 10 read = 7 accepted + 3 rejected'
    >>> checks.raise_if_failed()
    """

    results: list[CheckResult] = field(default_factory=list)

    def expect(self, name: str, condition: bool, detail: str = "") -> None:
        """Record whether ``condition`` held."""
        self.results.append(CheckResult(name, bool(condition), detail))

    def summary(self) -> str:
        """One line per check, PASS or FAIL."""
        return "\n".join(
            f"{'PASS' if r.passed else 'FAIL'} {r.name}" + (f": {r.detail}" if r.detail else "")
            for r in self.results
        )

    def to_frame(self):  # type: ignore[no-untyped-def]
        """The checks as a table (name, passed, detail) for display."""
        import pandas as pd

        return pd.DataFrame(
            [r.__dict__ for r in self.results], columns=["name", "passed", "detail"]
        )

    def raise_if_failed(self) -> None:
        """Raise CheckFailed listing every failed check."""
        failed = [r for r in self.results if not r.passed]
        if failed:
            raise CheckFailed("; ".join(f"{r.name}: {r.detail}" for r in failed))


def require_columns(table: pd.DataFrame, columns: Sequence[str], *, table_name: str) -> None:
    """Fail unless the frame ``table`` has every column of ``columns``, naming what is missing.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], table_name="orders")
    Traceback (most recent call last):
    ...
    crmlib.errors.DataContractError: orders: column 'b' is missing; found ['a'], expected ['a', 'b']
    """
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataContractError(
            f"{table_name}: column '{missing[0]}' is missing; found "
            f"{sorted(map(str, table.columns))}, expected {list(columns)}"
        )


def require_view(engine: Engine, table: str, columns: Sequence[str], *, producer: str) -> None:
    """Fail unless ``table`` is registered on the engine with ``columns``, naming what is wrong.

    A missing table is a StageInputMissing naming the notebook that produces it
    (``producer``); a missing column, or a ``*_ts`` column that is not a timestamp, is a
    DataContractError naming the table and the column.
    """
    if not engine.has_table(table):
        raise StageInputMissing(
            f"table '{table}' is not registered on the engine: run {producer} first, "
            f"then RunFolder.register(engine, '{table}')"
        )
    types = engine.column_types(table)
    for column in columns:
        if column not in types:
            raise DataContractError(
                f"{table}: column '{column}' is missing; found {sorted(types)}, "
                f"expected {list(columns)}"
            )
        if column.endswith("_ts") and not types[column].startswith(("TIMESTAMP", "DATE")):
            raise DataContractError(
                f"{table}: column '{column}' is {types[column]}, expected a timestamp"
            )


def positive_days(name: str, value: int) -> int:
    """``value`` as an int when it is a whole number of days, at least 1; else a ValueError.

    Examples
    --------
    >>> positive_days("window_days", 30)
    30
    >>> positive_days("window_days", 0)
    Traceback (most recent call last):
    ...
    ValueError: window_days=0: expected a whole number of days, at least 1
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a whole number of days, at least 1")
    return int(value)
