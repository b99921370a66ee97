"""What a run reports: the failure, each notebook's outcome, progress events and the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Status",
    "FailureInfo",
    "NotebookOutcome",
    "ProgressEvent",
    "RunResult",
]

#: "skipped": the params name none of the notebook's inputs (e.g. only an experiment export).
Status = Literal["ok", "failed", "not run", "skipped"]


@dataclass(frozen=True)
class FailureInfo:
    """Where a run failed.

    ``cell`` is the failing cell's 1-based number in the committed notebook (markdown cells
    counted) and ``first_line`` the first line of its source: what a reader looks for.
    ``cell_index`` is its 0-based position in the executed notebook as papermill counts it
    (the injected-parameters cell included); ``execution_count`` is the ``In [n]`` label. All
    are None when the failure was not inside a cell (e.g. the export).
    """

    notebook: str | None
    cell_index: int | None
    execution_count: int | None
    ename: str
    evalue: str
    cell: int | None = None
    first_line: str = ""

    def describe(self, *, limit: int = 300) -> str:
        """One line, the message cut at ``limit`` characters.

        Examples
        --------
        >>> FailureInfo("02_kpis", 7, 5, "KeyError", "'amount'", 6, "kpis = k(x)").describe()
        "notebook 02_kpis, cell 6 `kpis = k(x)` (In [5]): KeyError: 'amount'"
        """
        where = (
            f"notebook {self.notebook}"
            if self.notebook
            else "after the notebooks, writing the report"
        )
        if self.cell is not None:
            where += f", cell {self.cell}" + (f" `{self.first_line}`" if self.first_line else "")
        elif self.cell_index is not None:
            where += f", executed cell {self.cell_index}"
        if self.cell_index is not None and self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        message = f"{self.ename}: {_one_line(self.evalue, limit)}" if self.evalue else self.ename
        return f"{where}: {message}"

    def to_json(self) -> dict[str, Any]:
        """The ``failed`` entry of ``run.json``."""
        return {
            "notebook": self.notebook,
            "cell": self.cell,
            "cell_first_line": self.first_line,
            "cell_index": self.cell_index,
            "execution_count": self.execution_count,
            "ename": self.ename,
            "evalue": self.evalue,
        }


@dataclass
class NotebookOutcome:
    """One notebook of a run: its status, time, files (relative to the run folder), skip reason."""

    notebook: str
    section: str
    title: str
    status: Status = "not run"
    seconds: float | None = None
    reused: bool = False
    ipynb: str | None = None
    html: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The notebook's entry under ``run.json["notebooks"]``."""
        entry: dict[str, Any] = {"status": self.status, "seconds": self.seconds}
        if self.reused:
            entry["reused"] = True
        if self.reason is not None:
            entry["reason"] = self.reason
        entry["ipynb"] = self.ipynb
        entry["html"] = self.html
        return entry


@dataclass(frozen=True)
class ProgressEvent:
    """A notebook starting (``kind="start"``), ending (``"end"``) or skipped (``"skip"``)."""

    kind: Literal["start", "end", "skip"]
    index: int
    total: int
    notebook: str
    status: Status | None = None
    seconds: float | None = None


@dataclass
class RunResult:
    """What :func:`run_notebooks` did.

    Attributes
    ----------
    status : {"ok", "failed"}
        ``"ok"`` only when every selected notebook the inputs allow ran and the run folder
        was replaced (a skipped notebook is not a failure).
    run_name : str
    run_dir : Path
        ``outputs/<run_name>`` on success; ``outputs/<run_name>.failed-<timestamp>`` on failure.
    index_html : Path or None
        The front page, when written.
    notebooks : list of NotebookOutcome
        Every notebook of the workbook, in order.
    failure : FailureInfo or None
    started, finished : datetime (UTC)
    seconds : float
    """

    status: Literal["ok", "failed"]
    run_name: str
    run_dir: Path
    index_html: Path | None
    notebooks: list[NotebookOutcome]
    failure: FailureInfo | None
    started: dt.datetime
    finished: dt.datetime
    seconds: float
    previous_run_dir: Path | None = None
    run_json: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "ok"

    @property
    def skipped(self) -> dict[str, str]:
        """Notebook -> why it was skipped (the params name none of its inputs)."""
        return {n.notebook: n.reason or "" for n in self.notebooks if n.status == "skipped"}

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 ok, 1 a notebook (or the report) failed."""
        return 0 if self.ok else 1


def _one_line(text: str, limit: int) -> str:
    """The first line of ``text``, cut at ``limit`` characters."""
    line = " ".join(text.strip().splitlines()[:1]).strip() if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
