"""Which cell a notebook is in: the cell being executed, cells left unexecuted, and their names.

papermill inserts an ``injected-parameters`` cell after the ``parameters`` cell, so a position in
the executed notebook is not the position a reader finds in the committed one. Every failure is
named by the committed notebook's cell number (1-based, markdown cells counted, as a reader counts
down the notebook) and the first line of its source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "INJECTED_TAG",
    "CellRef",
    "CellTracker",
    "cell_ref",
    "first_unfinished",
    "has_parameters_cell",
]

#: The tag papermill gives the cell it inserts with the run's parameters.
INJECTED_TAG = "injected-parameters"


@dataclass(frozen=True)
class CellRef:
    """A cell of the committed notebook: 1-based number and the first line of its source.

    Examples
    --------
    >>> CellRef(executed_index=5, number=4, first_line="kpis = crm.kpis.kpis_by_period(engine)").label()
    'cell 4 `kpis = crm.kpis.kpis_by_period(engine)`'
    """

    executed_index: int
    number: int | None
    first_line: str

    def label(self) -> str:
        """``cell 4 `first line``` (the injected parameters cell: ``the injected parameters``)."""
        if self.number is None:
            return "the injected parameters cell"
        return (
            f"cell {self.number} `{self.first_line}`" if self.first_line else f"cell {self.number}"
        )


def _tags(cell: Any) -> Sequence[str]:
    return cell.get("metadata", {}).get("tags", []) or []


def _first_line(source: Any, limit: int = 80) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def cell_ref(cells: Sequence[Any], executed_index: int) -> CellRef:
    """The committed cell behind position ``executed_index`` of an executed notebook.

    Examples
    --------
    >>> cells = [{"cell_type": "markdown", "source": "# T"},
    ...          {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}},
    ...          {"cell_type": "code", "source": "x = 2", "metadata": {"tags": ["injected-parameters"]}},
    ...          {"cell_type": "code", "source": "import sys\\nsys.exit(0)"}]
    >>> cell_ref(cells, 3).label(), cell_ref(cells, 2).label()
    ('cell 3 `import sys`', 'the injected parameters cell')
    """
    cell = cells[executed_index]
    if INJECTED_TAG in _tags(cell):
        return CellRef(executed_index, None, "")
    injected = sum(INJECTED_TAG in _tags(c) for c in cells[:executed_index])
    return CellRef(executed_index, executed_index - injected + 1, _first_line(cell.get("source")))


def first_unfinished(cells: Sequence[Any]) -> tuple[int, str, str] | None:
    """The first code cell papermill did not complete: ``(executed index, ename, evalue)``.

    A cell is finished when papermill recorded it ``completed`` without an exception and the
    kernel gave it an execution count. A cell that failed without stopping papermill (a
    ``sys.exit(0)`` or ``raise SystemExit``) keeps its error's name; a cell never reached
    (``pending``) is "not executed". Code cells with no source are never executed and are
    skipped.

    Examples
    --------
    >>> done = {"status": "completed", "exception": False}
    >>> cells = [{"cell_type": "code", "source": "a", "execution_count": 1,
    ...           "metadata": {"papermill": done}},
    ...          {"cell_type": "code", "source": "b", "execution_count": None,
    ...           "metadata": {"papermill": {"status": "pending"}}}]
    >>> first_unfinished(cells)
    (1, 'NotExecuted', 'the cell was never executed (the kernel stopped before it)')
    """
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or not _first_line(cell.get("source")):
            continue
        state = cell.get("metadata", {}).get("papermill", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or state.get("exception"):
            error = errors[0] if errors else {}
            return (
                index,
                str(error.get("ename") or "CellFailed"),
                str(error.get("evalue") or "the cell stopped with an error"),
            )
        if state.get("status", "completed") != "completed" or cell.get("execution_count") is None:
            return (
                index,
                "NotExecuted",
                "the cell was never executed (the kernel stopped before it)",
            )
    return None


def has_parameters_cell(path: Path) -> bool:
    """Whether a notebook has a code cell tagged ``parameters`` (papermill's injection point)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return any(cell.cell_type == "code" and "parameters" in _tags(cell) for cell in notebook.cells)


class CellTracker:
    """nbclient's ``on_cell_start`` hook: remembers the cell being executed and reports it.

    ``on_start`` (optional) is called with the :class:`CellRef` and the start time, e.g. to
    write the build's ``run.json`` so that a runner killed with SIGKILL leaves the cell behind.
    :meth:`begin` names the notebook about to run (its committed ``parameters`` cell position
    tells where papermill's injected cell goes).
    """

    def __init__(self, on_start: Callable[[CellRef, dt.datetime], None] | None = None) -> None:
        self.on_start = on_start
        self.current: CellRef | None = None
        self._parameters_index: int | None = None

    def begin(self, source: Path) -> None:
        """Track ``source`` (the committed notebook) from its first cell."""
        import nbformat

        cells = nbformat.read(source, as_version=4).cells
        self.current = None
        self._parameters_index = next(
            (i for i, cell in enumerate(cells) if "parameters" in _tags(cell)), None
        )

    def hook(self, cell: Any, cell_index: int, **_: Any) -> None:
        """The ``on_cell_start`` callback (nbclient passes ``cell`` and ``cell_index``)."""
        if INJECTED_TAG in _tags(cell):
            ref = CellRef(cell_index, None, "")
        else:
            after_injected = (
                self._parameters_index is not None and cell_index > self._parameters_index + 1
            )
            number = cell_index + (0 if after_injected else 1)
            ref = CellRef(cell_index, number, _first_line(cell.get("source")))
        self.current = ref
        if self.on_start is not None:
            self.on_start(ref, dt.datetime.now(dt.UTC))
