"""Business-rule checks for notebooks: visible pass/fail lines, failures raise CheckFailed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from crmlib.errors import CheckFailed

__all__ = ["CheckResult", "Checks"]

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
