"""One notebook through papermill: kernel log, quiet parameter warnings, and where it failed."""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from crmlib.runner._cells import CellRef, cell_ref
from crmlib.runner._results import FailureInfo

__all__ = [
    "CONNECTION_FILE_PREFIX",
    "ExitingKernels",
    "_kernel_manager_with_log",
    "_papermill_execute",
    "_failure_from_exception",
    "connection_file_for",
    "failure_at",
]

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clean_text(text: Any, limit: int = 2000) -> str:
    """Exception text without terminal colours, cut at ``limit`` characters for run.json."""
    cleaned = _ANSI.sub("", str(text if text is not None else "")).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _ename(exc: BaseException) -> str:
    """The exception's name; a cell time limit and a dead kernel say so in words."""
    name = type(exc).__name__
    if name == "CellTimeoutError":
        return "CellTimeout"
    return name


def _evalue(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "DeadKernelError":
        return (
            "the kernel died in this cell (os._exit, a fatal signal such as SIGKILL, or the "
            "operating system's out-of-memory killer); see logs/<notebook>.kernel.log"
        )
    return _clean_text(exc)


def _stderr_error(ipynb: Path | None, execution_count: int | None) -> tuple[str, str] | None:
    """``(ename, evalue)`` from the last stderr line of the cell ``In [execution_count]``.

    A failing magic (``UsageError: Line magic function ... not found.``) or an exception
    IPython could not format (a ``MemoryError``) leave no error output, only stderr text.
    """
    if ipynb is None or execution_count is None or not ipynb.is_file():
        return None
    try:
        import nbformat

        cells = nbformat.read(ipynb, as_version=4).cells
    except Exception:
        return None
    for cell in cells:
        if cell.get("execution_count") != execution_count:
            continue
        text = "".join(
            o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr"
        )
        lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
        if any(line.startswith("MemoryError") for line in lines):  # first, before follow-ups
            return "MemoryError", "the cell ran out of memory"
        if lines:
            name, colon, message = lines[-1].partition(":")
            if colon and name.isidentifier():
                return name, _clean_text(message)
            if lines[-1].isidentifier():
                return lines[-1], ""
            return "CellExecutionError", _clean_text(lines[-1])
    return None


def _ref_at(ipynb: Path | None, index: int | None) -> CellRef | None:
    if ipynb is None or index is None or not ipynb.is_file():
        return None
    try:
        import nbformat

        return cell_ref(nbformat.read(ipynb, as_version=4).cells, index)
    except Exception:  # a half-written notebook is no reason to hide the real error
        return None


def failure_at(
    notebook: str | None,
    ref: CellRef | None,
    *,
    ename: str,
    evalue: str,
    execution_count: int | None = None,
) -> FailureInfo:
    """FailureInfo for a cell of ``notebook`` (``ref`` None: not inside a cell)."""
    return FailureInfo(
        notebook=notebook,
        cell_index=ref.executed_index if ref else None,
        execution_count=execution_count,
        ename=ename,
        evalue=evalue,
        cell=ref.number if ref else None,
        first_line=ref.first_line if ref else "",
    )


def _failure_from_exception(
    notebook: str | None,
    exc: BaseException,
    ipynb: Path | None,
    current: CellRef | None = None,
) -> FailureInfo:
    """FailureInfo from papermill's PapermillExecutionError or any other exception.

    ``current`` is the cell the runner saw start last (:class:`CellTracker`): a dead kernel,
    a time limit, SIGTERM or Ctrl-C is located there, whatever the saved notebook says.
    """
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):  # papermill's error cells shift the saved file
        ename, evalue = _clean_text(exc.ename), _clean_text(exc.evalue)
        if ename == "CellExecutionError" and not evalue:  # no error output: IPython wrote stderr
            ename, evalue = _stderr_error(ipynb, exc.exec_count) or (ename, evalue)
        return failure_at(
            notebook,
            current or _ref_at(ipynb, exc.cell_index),
            ename=ename,
            evalue=evalue,
            execution_count=exc.exec_count,
        )
    if getattr(exc, "ename", None):  # nbclient's CellExecutionError: the cell's own error
        return failure_at(
            notebook,
            current,
            ename=_clean_text(exc.ename),  # type: ignore[attr-defined]
            evalue=_clean_text(getattr(exc, "evalue", "")),
        )
    execution_count = None
    if current is None and ipynb is not None:
        index, execution_count = _running_cell(ipynb)
        current = _ref_at(ipynb, index)
    return failure_at(
        notebook, current, ename=_ename(exc), evalue=_evalue(exc), execution_count=execution_count
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


#: prctl(2) option: the signal a process gets when the thread that started it exits.
_PR_SET_PDEATHSIG = 1


def _die_with_runner() -> None:  # pragma: no cover - runs in the kernel's child process
    """In the kernel process before exec: be killed when the runner dies (Linux only).

    A runner killed with SIGKILL cannot shut its kernel down; without this the kernel lives
    on (ipykernel only polls for its parent when the parent's pid becomes 1).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the runner died before prctl took effect
        os._exit(1)


#: Kernel connection files of this package: ``kernel-crm-<run_name>-<runner pid>-<n>.json`` in
#: Jupyter's runtime folder, so that the next run can remove those of a killed runner.
CONNECTION_FILE_PREFIX = "kernel-crm-"


def connection_file_for(run_name: str) -> Path:
    """A fresh connection file path for a kernel of ``run_name`` started by this process."""
    from jupyter_core.paths import jupyter_runtime_dir

    folder = Path(jupyter_runtime_dir())
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"{CONNECTION_FILE_PREFIX}{run_name}-{os.getpid()}-"
    number = itertools.count()
    while (path := folder / f"{stem}{next(number)}.json").exists():
        pass
    return path


class ExitingKernels:
    """Kernels asked to shut down that finish exiting while the run goes on.

    A kernel that has run a stage at scale takes most of a second to exit (Python frees every
    object, DuckDB its buffers); nothing the run needs happens in that time. A kernel shut
    down gracefully is therefore asked to exit and followed by a thread, which waits for the
    process as jupyter_client would (half of ``shutdown_wait_time``, then SIGTERM, the other
    half, then SIGKILL).
    :meth:`join` waits for every one: the runner calls it before it publishes or keeps a run,
    so no kernel outlives the run.
    """

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def follow(self, process: subprocess.Popen[bytes], wait_s: float) -> None:
        """Wait for ``process`` to exit in the background (terminate, then kill, when late)."""
        thread = threading.Thread(
            target=_reap, args=(process, wait_s), name=f"kernel-exit-{process.pid}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def join(self) -> int:
        """Wait until every followed kernel has exited; how many there were."""
        joined = 0
        while self._threads:
            self._threads.pop().join()
            joined += 1
        return joined


def _reap(process: subprocess.Popen[bytes], wait_s: float) -> None:
    """Wait half of ``wait_s`` for ``process``, then SIGTERM it; after the other half, SIGKILL
    (jupyter_client splits ``shutdown_wait_time`` so in its ``_async_finish_shutdown``)."""
    for stop in (process.terminate, process.kill):
        try:
            process.wait(timeout=max(wait_s / 2, 0.1))
            return
        except subprocess.TimeoutExpired:
            log.debug("kernel %d is slow to exit: %s", process.pid, stop.__name__)
            stop()
    process.wait()


def _kernel_manager_with_log(
    log_path: Path, connection_file: Path | None = None, exiting: ExitingKernels | None = None
) -> type:
    """A kernel manager class whose kernel writes its stdout/stderr to a file and dies with us.

    The kernel's process-level messages (start-up warnings, crash reports) then go to
    ``logs/NN_x.kernel.log`` instead of interleaving with the runner's progress lines. The
    kernel is started with a parent-death signal (:func:`_die_with_runner`), and its
    connection file (which holds the HMAC key of the kernel's sockets) is named by
    :func:`connection_file_for`. With ``exiting``, a graceful shutdown asks the kernel to
    exit and returns: ``exiting`` waits for the process (:class:`ExitingKernels`).
    """
    from jupyter_client.manager import AsyncKernelManager

    class _LoggedKernelManager(AsyncKernelManager):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if connection_file is not None:
                self.connection_file = str(connection_file)

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            process = getattr(self.provisioner, "process", None)
            if exiting is None or now or restart or not self.owns_kernel or process is None:
                await super()._async_shutdown_kernel(now=now, restart=restart)
                return
            # jupyter_client's graceful shutdown without its wait for the process
            self.shutting_down = True
            self.stop_restarter()
            await self._async_interrupt_kernel()
            await self._async_request_shutdown()
            exiting.follow(process, self.shutdown_wait_time)
            await self._async_cleanup_resources()

        shutdown_kernel = _async_shutdown_kernel  # the base class binds its own at definition

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            stream: IO[bytes] = log_path.open("ab")
            try:
                kw.setdefault("stdout", stream)
                kw.setdefault("stderr", stream)
                kw.setdefault("preexec_fn", _die_with_runner)
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
    kernel_manager_class: type,
    start_timeout: int,
    execution_timeout: int | None,
    timeout_func: Callable[[Any], int | None] | None = None,
    on_cell_start: Callable[..., None] | None = None,
) -> None:
    """papermill.execute_notebook with the runner's kernel manager, hooks and time limits.

    ``kernel_manager_class``: the runner's (:func:`_kernel_manager_with_log`: the kernel's log
    file and connection file), or one adopting a kernel started early
    (:func:`crmlib.runner._warm.adopting`). ``timeout_func(cell)`` (nbclient) gives each cell
    its own limit in seconds (the cell limit, or what is left of the notebook's), overriding
    ``execution_timeout``; ``on_cell_start(cell=..., cell_index=...)`` is called as each cell
    starts.
    """
    import papermill

    extra: dict[str, Any] = {}
    if timeout_func is not None:
        extra["timeout_func"] = timeout_func
    if on_cell_start is not None:
        extra["on_cell_start"] = on_cell_start

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
            kernel_manager_class=kernel_manager_class,
            **extra,
        )
    finally:
        papermill_log.removeFilter(quiet)
