"""Run the workbook: execute the numbered notebooks with papermill into a run folder, atomically."""

from __future__ import annotations

import ctypes
import datetime as dt
import glob
import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from filelock import FileLock, Timeout

from crmlib.config import WorkbookParams, load_params, section_for_notebook
from crmlib.errors import RunLockedError, StageInputMissing, WorkbookError
from crmlib.io import read_json, write_json_atomic
from crmlib.report import StageEntry, export_notebook_html, notebook_title, write_index

__all__ = [
    "DEFAULT_KERNEL",
    "KERNEL_INSTALL_COMMAND",
    "VERSIONED_PACKAGES",
    "RunSetupError",
    "FailureInfo",
    "NotebookOutcome",
    "ProgressEvent",
    "RunResult",
    "discover_notebooks",
    "check_kernel",
    "package_versions",
    "input_fingerprints",
    "run_notebooks",
]

log = logging.getLogger(__name__)

#: The Jupyter kernel the notebooks declare and the runner uses by default.
DEFAULT_KERNEL = "crm-workbook"
#: How to register the kernel of the current environment (printed when it is missing).
KERNEL_INSTALL_COMMAND = "python -m ipykernel install --sys-prefix --name crm-workbook"
#: Distributions whose versions ``run.json`` records (a missing one is recorded as null).
VERSIONED_PACKAGES: tuple[str, ...] = (
    "crmlib",
    "pandas",
    "numpy",
    "duckdb",
    "pyarrow",
    "scikit-learn",
    "lifetimes",
    "papermill",
)

_NOTEBOOK_NAME = re.compile(r"^\d{2}_\w+\.ipynb$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GLOB_CHARS = re.compile(r"[*?\[]")

Status = Literal["ok", "failed", "not run"]


class RunSetupError(WorkbookError):
    """The run cannot start as asked: no notebooks, an unknown notebook name, a missing kernel."""


@dataclass(frozen=True)
class FailureInfo:
    """Where a run failed.

    ``cell_index`` is the 0-based position of the failing cell in the executed notebook as
    papermill counts it (the injected-parameters cell included); ``execution_count`` is the
    ``In [n]`` label. Both are None when the failure was not inside a cell (e.g. the export).
    """

    notebook: str | None
    cell_index: int | None
    execution_count: int | None
    ename: str
    evalue: str

    def describe(self, *, limit: int = 300) -> str:
        """One line, the message cut at ``limit`` characters.

        Examples
        --------
        >>> FailureInfo("02_kpis", 7, 5, "KeyError", "'amount'").describe()
        "notebook 02_kpis, cell 7 (In [5]): KeyError: 'amount'"
        """
        where = (
            f"notebook {self.notebook}"
            if self.notebook
            else "after the notebooks, writing the report"
        )
        if self.cell_index is not None:
            where += f", cell {self.cell_index}"
            if self.execution_count is not None:
                where += f" (In [{self.execution_count}])"
        message = f"{self.ename}: {_one_line(self.evalue, limit)}" if self.evalue else self.ename
        return f"{where}: {message}"

    def to_json(self) -> dict[str, Any]:
        """The ``failed`` entry of ``run.json``."""
        return {
            "notebook": self.notebook,
            "cell_index": self.cell_index,
            "execution_count": self.execution_count,
            "ename": self.ename,
            "evalue": self.evalue,
        }


@dataclass
class NotebookOutcome:
    """One notebook of a run: its status, time, and files (relative to the run folder)."""

    notebook: str
    section: str
    title: str
    status: Status = "not run"
    seconds: float | None = None
    reused: bool = False
    ipynb: str | None = None
    html: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The notebook's entry under ``run.json["notebooks"]``."""
        entry: dict[str, Any] = {"status": self.status, "seconds": self.seconds}
        if self.reused:
            entry["reused"] = True
        entry["ipynb"] = self.ipynb
        entry["html"] = self.html
        return entry


@dataclass(frozen=True)
class ProgressEvent:
    """A notebook starting (``kind="start"``) or ending (``kind="end"``), for progress output."""

    kind: Literal["start", "end"]
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
        ``"ok"`` only when every selected notebook ran and the run folder was replaced.
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
    def exit_code(self) -> int:
        """The CLI's exit code: 0 ok, 1 a notebook (or the report) failed."""
        return 0 if self.ok else 1


# ---------------------------------------------------------------------------------------------
# discovery and environment


def discover_notebooks(notebooks_dir: str | os.PathLike[str]) -> list[Path]:
    """The numbered notebooks ``NN_<section>.ipynb`` of a folder, in order.

    Parameters
    ----------
    notebooks_dir : path-like
        Usually ``notebooks/``.

    Returns
    -------
    list of Path
        Absolute paths, sorted by name; each name maps to a params section.

    Raises
    ------
    RunSetupError
        The folder is missing or holds no numbered notebook.
    ConfigError
        A numbered notebook's name has no params section (e.g. ``08_foo.ipynb``).
    """
    folder = Path(notebooks_dir).resolve()
    if not folder.is_dir():
        raise RunSetupError(f"notebooks folder not found: {folder}")
    notebooks = sorted(p for p in folder.iterdir() if p.is_file() and _NOTEBOOK_NAME.match(p.name))
    if not notebooks:
        raise RunSetupError(f"no numbered notebooks (NN_<section>.ipynb) in {folder}")
    for path in notebooks:
        section_for_notebook(path.name)
    return notebooks


def _select(notebooks: Sequence[Path], name: str, flag: str) -> int:
    """Position of the notebook a user named as ``02_kpis``, ``02_kpis.ipynb`` or ``02``."""
    wanted = Path(name).name.removesuffix(".ipynb")
    for position, path in enumerate(notebooks):
        if wanted in (path.stem, path.stem.partition("_")[0]):
            return position
    choices = ", ".join(p.stem for p in notebooks)
    raise RunSetupError(f"{flag} {name}: no such notebook; expected one of {choices}")


def check_kernel(kernel_name: str) -> Path:
    """Check that a Jupyter kernelspec is installed; return its folder.

    Raises
    ------
    RunSetupError
        The kernel is not installed; the message gives the command that installs it.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        command = (
            KERNEL_INSTALL_COMMAND
            if kernel_name == DEFAULT_KERNEL
            else f"python -m ipykernel install --sys-prefix --name {kernel_name}"
        )
        raise RunSetupError(
            f"Jupyter kernel '{kernel_name}' is not installed. Register it from the project's "
            f"environment with:\n    {command}"
        ) from None
    return Path(spec.resource_dir)


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages in :data:`VERSIONED_PACKAGES` (None when missing)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("crmlib") is None:
        from crmlib import __version__

        versions["crmlib"] = __version__
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mtime(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat()


def input_fingerprints(params: WorkbookParams) -> dict[str, Any]:
    """Size, modification time and SHA-256 of every source file the params point at.

    Parameters
    ----------
    params : WorkbookParams
        Each configured table of ``params.source``; its path patterns (files, globs, lists)
        resolve against the params file's folder.

    Returns
    -------
    dict
        ``{table: {"patterns": [...], "files": [{"path", "size", "mtime", "sha256"}],
        "missing": [patterns matching no file]}}``.
    """
    fingerprints: dict[str, Any] = {}
    for table in type(params.source).model_fields:
        source = getattr(params.source, table)
        if source is None:
            continue
        files: list[dict[str, Any]] = []
        missing: list[str] = []
        for pattern in source.paths():
            resolved = params.resolve(pattern)
            if _GLOB_CHARS.search(str(resolved)):
                matches = sorted(
                    Path(p) for p in glob.glob(str(resolved), recursive=True) if Path(p).is_file()
                )
            else:
                matches = [resolved] if resolved.is_file() else []
            if not matches:
                missing.append(str(resolved))
            for path in matches:
                files.append(
                    {
                        "path": str(path),
                        "size": path.stat().st_size,
                        "mtime": _mtime(path),
                        "sha256": _sha256(path),
                    }
                )
        fingerprints[table] = {"patterns": source.paths(), "files": files, "missing": missing}
    return fingerprints


# ---------------------------------------------------------------------------------------------
# the run folder: build, swap, keep failures


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _unique(path: Path) -> Path:
    candidate, counter = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{counter}")
        counter += 1
    return candidate


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result != 0:
        log.debug(
            "renameat2 exchange unavailable (errno %d); using two renames", ctypes.get_errno()
        )
        return False
    return True


def _swap_into_place(build: Path, final: Path, stamp: str) -> None:
    """Replace ``final`` by ``build`` so ``final`` always holds a complete run.

    On Linux the two folders are exchanged atomically; elsewhere the old run is renamed aside
    first, and :func:`_recover` puts it back if the process dies between the two renames.
    """
    if not final.exists():
        os.rename(build, final)
        return
    if _exchange(build, final):
        shutil.rmtree(build, ignore_errors=True)  # now holds the previous run
        return
    aside = _unique(final.with_name(f".{final.name}.replaced-{stamp}"))
    os.rename(final, aside)
    try:
        os.rename(build, final)
    except BaseException:
        os.rename(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _recover(outputs: Path, run_name: str) -> None:
    """Under the lock: undo an interrupted swap and remove leftovers of dead runs."""
    final = outputs / run_name
    replaced = sorted(outputs.glob(f".{run_name}.replaced-*"))
    if not final.exists() and replaced:
        log.warning(
            "restoring %s from %s (a previous run was interrupted while swapping)",
            final,
            replaced[-1],
        )
        os.rename(replaced.pop(), final)
    for leftover in [*replaced, *outputs.glob(f".{run_name}.building-*")]:
        log.warning("removing %s, left behind by an interrupted run", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _clean_text(text: Any, limit: int = 2000) -> str:
    """Exception text without terminal colours, cut at ``limit`` characters for run.json."""
    cleaned = _ANSI.sub("", str(text if text is not None else "")).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _one_line(text: str, limit: int) -> str:
    """The first line of ``text``, cut at ``limit`` characters."""
    line = " ".join(text.strip().splitlines()[:1]).strip() if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


def _execute(
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


# ---------------------------------------------------------------------------------------------
# the run


def run_notebooks(
    params_file: str | os.PathLike[str],
    *,
    run_name: str | None = None,
    only: str | None = None,
    start_from: str | None = None,
    notebooks_dir: str | os.PathLike[str] = "notebooks",
    outputs_dir: str | os.PathLike[str] = "outputs",
    kernel_name: str = DEFAULT_KERNEL,
    progress: Callable[[ProgressEvent], None] | None = None,
    start_timeout: int = 60,
    execution_timeout: int | None = None,
) -> RunResult:
    """Execute the workbook's notebooks into ``outputs/<run_name>``, replacing it only on success.

    The params are validated first. Notebooks ``NN_<section>.ipynb`` run in order with
    papermill (working directory: the notebooks folder), each receiving ``params_file``,
    ``run_dir`` (the build folder), the common keys and its own params section. The run builds
    in ``outputs/.<run_name>.building-<timestamp>``: executed notebooks in ``notebooks/``, their
    pages in ``html/``, the kernels' own messages in ``logs/``, then ``run.json`` and
    ``index.html``; only then does it replace ``outputs/<run_name>``. A failure keeps everything
    executed so far (the failing notebook with its traceback, exported too) as
    ``outputs/<run_name>.failed-<timestamp>``, with ``run.json`` saying where it failed, and
    leaves ``outputs/<run_name>`` untouched. An interrupt (KeyboardInterrupt) is recorded the
    same way and then re-raised.

    Parameters
    ----------
    params_file : path-like
        The params YAML.
    run_name : str, optional
        Overrides the file's ``run_name``.
    only : str, optional
        Run just this notebook (``"02_kpis"``, ``"02_kpis.ipynb"`` or ``"02"``), reusing the
        other stages' artifacts from the last good run of the same name.
    start_from : str, optional
        Run this notebook and the ones after it, reusing the earlier stages' artifacts.
    notebooks_dir, outputs_dir : path-like
        Default ``notebooks`` and ``outputs``, relative to the current directory.
    kernel_name : str, default "crm-workbook"
        Jupyter kernel that executes the notebooks.
    progress : callable, optional
        Called with a :class:`ProgressEvent` when each notebook starts and ends.
    start_timeout : int, default 60
        Seconds to wait for a kernel to start.
    execution_timeout : int, optional
        Seconds a single cell may run (default: no limit).

    Returns
    -------
    RunResult
        Status, folders, per-notebook outcomes and the failure, if any.

    Raises
    ------
    ConfigError
        The params file is invalid (the message names the file and the key), or a notebook
        has no params section.
    RunSetupError
        No notebooks, an unknown ``only``/``start_from`` name, or the kernel is not installed.
    StageInputMissing
        ``only``/``start_from`` without a previous successful run to reuse.
    RunLockedError
        Another run is writing the same run folder.
    """
    if only is not None and start_from is not None:
        raise RunSetupError("choose either only= or start_from=, not both")
    params = load_params(params_file, {"run_name": run_name} if run_name else None)
    notebooks = discover_notebooks(notebooks_dir)
    if only is not None:
        selected = [notebooks[_select(notebooks, only, "--only")]]
    elif start_from is not None:
        selected = notebooks[_select(notebooks, start_from, "--from") :]
    else:
        selected = list(notebooks)
    check_kernel(kernel_name)

    outputs = Path(outputs_dir).resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    final = outputs / params.run_name
    lock_path = outputs / f".{params.run_name}.lock"
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"run '{params.run_name}' is already running: another process holds the lock {lock_path} "
            f"on {final}. Wait for it to finish (the lock is released when that process exits)."
        ) from None
    try:
        _recover(outputs, params.run_name)
        partial = len(selected) < len(notebooks)
        if partial and not (final / "metrics.json").is_file():
            flag = f"--only {only}" if only is not None else f"--from {start_from}"
            raise StageInputMissing(
                f"{flag} reuses the artifacts of the last successful run, but {final} has none: "
                f"run the whole workbook first (crm-workbook run --params {params_file})"
            )
        build = _Build(
            params,
            params_path=Path(params_file).resolve(),
            notebooks=notebooks,
            selected={path.stem for path in selected},
            final=final,
            kernel_name=kernel_name,
            mode={"only": only, "from": start_from, "reused_from": str(final) if partial else None},
        )
        return build.run(
            progress=progress, start_timeout=start_timeout, execution_timeout=execution_timeout
        )
    finally:
        lock.release()


class _Build:
    """One run in its temporary folder: executes, records, then swaps in or is kept as failed."""

    def __init__(
        self,
        params: WorkbookParams,
        *,
        params_path: Path,
        notebooks: Sequence[Path],
        selected: set[str],
        final: Path,
        kernel_name: str,
        mode: dict[str, Any],
    ) -> None:
        self.params = params
        self.params_path = params_path
        self.notebooks = list(notebooks)
        self.selected = selected
        self.final = final
        self.kernel_name = kernel_name
        self.mode = mode
        self.started = dt.datetime.now(dt.UTC)
        self.clock = time.perf_counter()
        self.stamp = _stamp(self.started)
        self.folder = Path(
            tempfile.mkdtemp(prefix=f".{params.run_name}.building-{self.stamp}-", dir=final.parent)
        )
        self.failure: FailureInfo | None = None
        self.fingerprints: dict[str, Any] = {}
        self.versions = package_versions()
        self.outcomes = self._initial_outcomes(reuse=mode["reused_from"] is not None)
        log.info("building run %s in %s", params.run_name, self.folder)

    def _initial_outcomes(self, *, reuse: bool) -> list[NotebookOutcome]:
        """Every notebook "not run", except those reused from the previous run (status kept)."""
        previous = _previous_outcomes(self.final) if reuse else {}
        outcomes = []
        for path in self.notebooks:
            outcome = NotebookOutcome(
                path.stem, section_for_notebook(path.name), notebook_title(path)
            )
            before = previous.get(path.stem)
            if (
                path.stem not in self.selected
                and isinstance(before, dict)
                and before.get("status") == "ok"
            ):
                outcome.status, outcome.seconds, outcome.reused = "ok", before.get("seconds"), True
                outcome.ipynb, outcome.html = before.get("ipynb"), before.get("html")
            outcomes.append(outcome)
        return outcomes

    def payload(self, status: str, finished: dt.datetime | None, folder: Path) -> dict[str, Any]:
        """The content of ``run.json``."""
        return {
            "run_name": self.params.run_name,
            "status": status,
            "folder": str(folder),
            "started": _iso(self.started),
            "finished": _iso(finished) if finished else None,
            "seconds": round((finished - self.started).total_seconds(), 3) if finished else None,
            "mode": self.mode,
            "notebooks": {outcome.notebook: outcome.to_json() for outcome in self.outcomes},
            "failed": self.failure.to_json() if self.failure else None,
            "params_file": str(self.params_path),
            "params": self.params.model_dump(mode="json"),
            "inputs": self.fingerprints,
            "versions": self.versions,
            "kernel": self.kernel_name,
        }

    def run(
        self,
        *,
        progress: Callable[[ProgressEvent], None] | None,
        start_timeout: int,
        execution_timeout: int | None,
    ) -> RunResult:
        interrupted: BaseException | None = None
        try:
            if self.mode["reused_from"] is not None:
                _copy_previous(self.final, self.folder)
            self.fingerprints = input_fingerprints(self.params)
            write_json_atomic(self.folder / "run.json", self.payload("running", None, self.folder))
            total = len(self.outcomes)
            for position, (path, outcome) in enumerate(
                zip(self.notebooks, self.outcomes, strict=True), start=1
            ):
                if outcome.notebook not in self.selected:
                    continue
                if progress is not None:
                    progress(ProgressEvent("start", position, total, outcome.notebook))
                interrupted = self._execute_one(path, outcome, start_timeout, execution_timeout)
                if progress is not None:
                    progress(
                        ProgressEvent(
                            "end",
                            position,
                            total,
                            outcome.notebook,
                            outcome.status,
                            outcome.seconds,
                        )
                    )
                if self.failure is not None:
                    break
            if self.failure is None:
                return self._succeed()
        except BaseException as exc:  # anything outside a notebook fails the run too
            log.debug("run failed outside a notebook", exc_info=True)
            self.failure = self.failure or _failure_from_exception(None, exc, None)
            interrupted = interrupted or (None if isinstance(exc, Exception) else exc)
        result = self._keep_failed()
        if interrupted is not None:
            log.warning(
                "run %s interrupted (%s); what ran is kept in %s",
                result.run_name,
                result.failure.describe() if result.failure else "",
                result.run_dir,
            )
            raise interrupted
        return result

    def _execute_one(
        self,
        path: Path,
        outcome: NotebookOutcome,
        start_timeout: int,
        execution_timeout: int | None,
    ) -> BaseException | None:
        """Execute and export one notebook; record a failure; return an interrupt to re-raise."""
        executed = self.folder / "notebooks" / path.name
        page = self.folder / "html" / f"{path.stem}.html"
        executed.parent.mkdir(parents=True, exist_ok=True)
        parameters = {
            "params_file": str(self.params_path),
            "run_dir": str(self.folder),
            **self.params.common(),
            **self.params.section(outcome.section),
        }
        subtitle = f"run {self.params.run_name}"
        tick = time.perf_counter()
        interrupted: BaseException | None = None
        log.info("executing %s", path.name)
        try:
            _execute(
                path,
                executed,
                parameters=parameters,
                kernel_name=self.kernel_name,
                cwd=path.parent,
                kernel_log=self.folder / "logs" / f"{path.stem}.kernel.log",
                start_timeout=start_timeout,
                execution_timeout=execution_timeout,
            )
            outcome.ipynb = executed.relative_to(self.folder).as_posix()
            export_notebook_html(executed, page, title=outcome.title, subtitle=subtitle)
            outcome.html = page.relative_to(self.folder).as_posix()
            outcome.status = "ok"
        except BaseException as exc:  # every failure is recorded; interrupts are re-raised later
            outcome.status = "failed"
            self.failure = _failure_from_exception(outcome.notebook, exc, executed)
            interrupted = None if isinstance(exc, Exception) else exc
            if executed.is_file():
                outcome.ipynb = executed.relative_to(self.folder).as_posix()
                try:
                    export_notebook_html(
                        executed, page, title=f"{outcome.title} (failed)", subtitle=subtitle
                    )
                    outcome.html = page.relative_to(self.folder).as_posix()
                except Exception as export_error:  # keep the first error; the .ipynb is there
                    log.warning(
                        "could not export the failed notebook %s: %s", executed, export_error
                    )
        outcome.seconds = round(time.perf_counter() - tick, 3)
        outcome.reused = False
        log.info("%s %s in %.1f s", path.name, outcome.status, outcome.seconds)
        return interrupted

    def _stages(self) -> list[StageEntry]:
        return [
            StageEntry(o.notebook, o.section, o.title, o.status, o.seconds, o.html, o.reused)
            for o in self.outcomes
        ]

    def _result(
        self, status: Literal["ok", "failed"], folder: Path, finished: dt.datetime
    ) -> RunResult:
        index = folder / "index.html"
        return RunResult(
            status=status,
            run_name=self.params.run_name,
            run_dir=folder,
            index_html=index if index.is_file() else None,
            notebooks=self.outcomes,
            failure=self.failure,
            started=self.started,
            finished=finished,
            seconds=round(time.perf_counter() - self.clock, 3),
            previous_run_dir=self.final if status == "failed" and self.final.is_dir() else None,
            run_json=self.payload(status, finished, folder),
        )

    def _succeed(self) -> RunResult:
        finished = dt.datetime.now(dt.UTC)
        write_json_atomic(self.folder / "run.json", self.payload("ok", finished, self.final))
        write_index(self.folder, params=self.params, stages=self._stages(), generated=finished)
        _swap_into_place(self.folder, self.final, self.stamp)
        log.info("run %s complete: %s", self.params.run_name, self.final)
        return self._result("ok", self.final, finished)

    def _keep_failed(self) -> RunResult:
        """Record the failure in the build folder and keep it as ``<run_name>.failed-<timestamp>``."""
        assert self.failure is not None
        finished = dt.datetime.now(dt.UTC)
        failed = _unique(self.final.with_name(f"{self.params.run_name}.failed-{self.stamp}"))
        try:
            write_json_atomic(self.folder / "run.json", self.payload("failed", finished, failed))
            write_index(
                self.folder,
                params=self.params,
                stages=self._stages(),
                failure=f"{self.failure.describe()}. The previous successful report, if any, is in {self.final}.",
                generated=finished,
            )
        except Exception as exc:  # the kept folder matters more than its front page
            log.warning("could not write the failed run's report: %s", exc)
        if self.folder.exists():
            os.rename(self.folder, failed)
        log.info(
            "run %s failed: %s; kept in %s", self.params.run_name, self.failure.describe(), failed
        )
        return self._result("failed", failed, finished)


def _previous_outcomes(previous: Path) -> dict[str, Any]:
    """``run.json["notebooks"]`` of the previous run (empty when unreadable)."""
    try:
        notebooks = read_json(previous / "run.json").get("notebooks", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return notebooks if isinstance(notebooks, dict) else {}


def _copy_previous(previous: Path, build: Path) -> None:
    """Start a partial run from the artifacts of the last good run."""
    shutil.copytree(
        previous,
        build,
        dirs_exist_ok=True,
        symlinks=True,
        ignore=shutil.ignore_patterns("run.json", "index.html", ".*.tmp"),
    )
