"""One notebook through papermill: kernel log, quiet parameter warnings, and where it failed."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import IO, Any

from crmlib.runner._results import FailureInfo

__all__ = [
    "_papermill_execute",
    "_failure_from_exception",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clean_text(text: Any, limit: int = 2000) -> str:
    """Exception text without terminal colours, cut at ``limit`` characters for run.json."""
    cleaned = _ANSI.sub("", str(text if text is not None else "")).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _failure_from_exception(
    notebook: str | None, exc: BaseException, ipynb: Path | None
) -> FailureInfo:
    """FailureInfo from papermill's PapermillExecutionError or any other exception."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return FailureInfo(
            notebook=notebook,
            cell_index=exc.cell_index,
            execution_count=exc.exec_count,
            ename=_clean_text(exc.ename),
            evalue=_clean_text(exc.evalue),
        )
    cell_index, execution_count = _running_cell(ipynb) if ipynb is not None else (None, None)
    return FailureInfo(
        notebook=notebook,
        cell_index=cell_index,
        execution_count=execution_count,
        ename=type(exc).__name__,
        evalue=_clean_text(exc),
    )


def _running_cell(ipynb: Path) -> tuple[int | None, int | None]:
    """The cell papermill marked as failed or still running in a saved notebook."""
    if not ipynb.is_file():
        return None, None
    try:
        import nbformat

        notebook = nbformat.read(ipynb, as_version=4)
    except Exception:  # a half-written notebook is no reason to hide the real error
        return None, None
    for index, cell in enumerate(notebook.cells):
        state = cell.get("metadata", {}).get("papermill", {})
        if state.get("exception") or state.get("status") in ("failed", "running"):
            return index, cell.get("execution_count")
    return None, None


def _kernel_manager_with_log(log_path: Path) -> type:
    """A kernel manager class whose kernel process writes its own stdout/stderr to a file.

    The kernel's process-level messages (start-up warnings, crash reports) then go to
    ``logs/NN_x.kernel.log`` instead of interleaving with the runner's progress lines.
    """
    from jupyter_client.manager import AsyncKernelManager

    class _LoggedKernelManager(AsyncKernelManager):  # type: ignore[misc]
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            stream: IO[bytes] = log_path.open("ab")
            try:
                kw.setdefault("stdout", stream)
                kw.setdefault("stderr", stream)
                await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                stream.close()

    return _LoggedKernelManager


class _QuietUnknownParameters(logging.Filter):
    """Drop papermill's "Passed unknown parameter" warnings.

    papermill's parser does not read annotations such as ``x: str | None = None`` and then
    calls that parameter unknown although the cell declares it; the notebook tests hold every
    parameters cell to its params section instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


def _papermill_execute(
    source: Path,
    output: Path,
    *,
    parameters: dict[str, Any],
    kernel_name: str,
    cwd: Path,
    kernel_log: Path,
    start_timeout: int,
    execution_timeout: int | None,
) -> None:
    import papermill

    quiet = _QuietUnknownParameters()
    papermill_log = logging.getLogger("papermill")
    papermill_log.addFilter(quiet)
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            cwd=str(cwd),
            log_output=False,
            progress_bar=False,
            start_timeout=start_timeout,
            execution_timeout=execution_timeout,
            kernel_manager_class=_kernel_manager_with_log(kernel_log),
        )
    finally:
        papermill_log.removeFilter(quiet)
