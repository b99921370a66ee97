"""Run the workbook: lock the run folder, execute the selected notebooks, swap in or keep failed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from crmlib.config import WorkbookParams, load_params, section_for_notebook
from crmlib.errors import RunLockedError, RunSetupError, StageInputMissing
from crmlib.io import published_path, write_json_atomic
from crmlib.report import StageEntry, export_notebook_html, notebook_title, write_index
from crmlib.runner._cells import (
    CellRef,
    CellTracker,
    cell_ref,
    first_unfinished,
    has_parameters_cell,
)
from crmlib.runner._folders import (
    _copy_previous,
    _failed_folder,
    _new_build_folder,
    _recover,
    _stamp,
    _swap_into_place,
)
from crmlib.runner._notebooks import DEFAULT_KERNEL, _select, check_kernel, discover_notebooks
from crmlib.runner._papermill import (
    ExitingKernels,
    _failure_from_exception,
    _kernel_manager_with_log,
    _papermill_execute,
    connection_file_for,
    failure_at,
)
from crmlib.runner._plan import check_artifacts, check_inputs, plan_stages
from crmlib.runner._provenance import (
    _previous_outcomes,
    _run_record,
    input_fingerprints,
    package_versions,
)
from crmlib.runner._published import path_replacements, publish_notebook, scrub_text_file
from crmlib.runner._results import FailureInfo, NotebookOutcome, ProgressEvent, RunResult
from crmlib.runner._warm import EarlyKernel, adopting

__all__ = ["run_notebooks"]

log = logging.getLogger(__name__)


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
    notebook_timeout: int | None = None,
) -> RunResult:
    """Execute the workbook's notebooks into ``outputs/<run_name>``, replacing it only on success.

    The params are validated first, then the notebooks the inputs allow are chosen
    (:func:`crmlib.runner.plan_stages`: with only an experiment export, 01-06 are skipped and
    only 07 runs; the reason goes to ``run.json`` and the front page) and their inputs checked
    (:func:`crmlib.runner.check_inputs`: an export's header against its mapping), so a
    mapping error stops the run in seconds. The stages' declared artifacts
    (:data:`crmlib.stages.STAGE_ARTIFACTS`) are checked too: no stage reads a later one's, and
    what the notebooks to run require is written before them or, with ``only``/``start_from``,
    is in the last good run they reuse. Notebooks ``NN_<section>.ipynb`` run in order with
    papermill (working directory: the notebooks folder), each receiving ``params_file``,
    ``run_dir`` (the build folder) and ``overrides`` (``run_name``, when given); a notebook
    reads its typed params from the file (:func:`crmlib.config.load_stage_params`). The run builds
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
        Seconds a single cell may run; default ``params.runner.cell_timeout_s`` (3600).
    notebook_timeout : int, optional
        Seconds a whole notebook may run; default ``params.runner.notebook_timeout_s`` (none).
        A notebook is ok only when every code cell ran: a cell left unexecuted (``sys.exit``,
        a kernel that died, a time limit) fails it, named by its number in the committed
        notebook and its first line.

    Returns
    -------
    RunResult
        Status, folders, per-notebook outcomes and the failure, if any.

    Raises
    ------
    ConfigError
        The params file is invalid (the message names the file and the key), or a notebook
        has no params section.
    SourceFileError
        An input checked up front is missing, unreadable or lacks a column the params name.
    RunSetupError
        No notebooks, an unknown ``only``/``start_from`` name, nothing the inputs allow among
        the selected notebooks, a stage reading a later stage's artifact
        (:func:`crmlib.runner.check_stage_order`), a required artifact whose writer does not
        run, or the kernel is not installed.
    StageInputMissing
        ``only``/``start_from`` without a previous successful run to reuse, or with one that
        lacks an artifact the selected notebooks require (:func:`crmlib.runner.check_artifacts`).
    RunLockedError
        Another run is writing the same run folder.
    """
    if only is not None and start_from is not None:
        raise RunSetupError("choose either only= or start_from=, not both")
    overrides = {"run_name": run_name} if run_name else {}
    params = load_params(params_file, overrides)
    notebooks = discover_notebooks(notebooks_dir)
    if only is not None:
        selected = [notebooks[_select(notebooks, only, "--only")]]
    elif start_from is not None:
        selected = notebooks[_select(notebooks, start_from, "--from") :]
    else:
        selected = list(notebooks)
    plan = plan_stages(params, notebooks)
    runnable = [path for path in notebooks if plan[path.stem] is None]
    to_run = [path for path in selected if plan[path.stem] is None]
    if not to_run:
        reasons = sorted({str(plan[path.stem]) for path in selected})
        raise RunSetupError(
            f"nothing to run: {', '.join(path.stem for path in selected)} cannot run on this "
            f"params file ({' '.join(reasons)})"
        )
    check_inputs(params, [path.stem for path in to_run])
    partial = len(to_run) < len(runnable)
    if not partial:
        check_artifacts(params, notebooks, [path.stem for path in to_run])
    untagged = [path.name for path in to_run if not has_parameters_cell(path)]
    if untagged:
        raise RunSetupError(
            f"{', '.join(untagged)} in {notebooks_dir} {'has' if len(untagged) == 1 else 'have'} "
            "no cell tagged 'parameters': the run's params could not reach "
            f"{'it' if len(untagged) == 1 else 'them'}. In JupyterLab, select the cell that sets "
            "the defaults and add the tag 'parameters' (property inspector, Common Tools)."
        )
    check_kernel(kernel_name)
    limits = _Limits(
        cell=execution_timeout if execution_timeout is not None else params.runner.cell_timeout_s,
        notebook=notebook_timeout
        if notebook_timeout is not None
        else params.runner.notebook_timeout_s,
    )

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
        if partial:
            flag = f"--only {only}" if only is not None else f"--from {start_from}"
            if not (final / "metrics.json").is_file():
                raise StageInputMissing(
                    f"{flag} reuses the artifacts of the last successful run, but {final} has "
                    f"none: run the whole workbook first (crm-workbook run --params {params_file})"
                )
            check_artifacts(
                params, notebooks, [path.stem for path in to_run], reuse=final, flag=flag
            )
        build = _Build(
            params,
            params_path=Path(params_file).resolve(),
            notebooks=notebooks,
            selected={path.stem for path in to_run},
            skipped={stem: reason for stem, reason in plan.items() if reason is not None},
            final=final,
            kernel_name=kernel_name,
            mode={"only": only, "from": start_from, "reused_from": str(final) if partial else None},
            overrides=overrides,
        )
        return build.run(progress=progress, start_timeout=start_timeout, limits=limits)
    finally:
        lock.release()


@dataclass(frozen=True)
class _Limits:
    """The time limits of a run, in seconds (None: no limit)."""

    cell: int | None
    notebook: int | None

    def deadline(self) -> float | None:
        """When the notebook starting now must end (``time.monotonic`` clock)."""
        return time.monotonic() + self.notebook if self.notebook else None

    def for_cell(self, deadline: float | None) -> int | None:
        """The limit of the next cell: the cell limit or what is left of the notebook's."""
        left = None if deadline is None else max(1, math.ceil(deadline - time.monotonic()))
        candidates = [limit for limit in (self.cell, left) if limit]
        return min(candidates) if candidates else None

    def explain(self, failure: FailureInfo, deadline: float | None) -> FailureInfo:
        """A time-limit failure says which limit ran out and which key sets it."""
        if failure.ename != "CellTimeout":
            return failure
        if deadline is not None and time.monotonic() >= deadline - 1:
            text = (
                f"the notebook ran longer than its limit of {self.notebook} s "
                "(runner.notebook_timeout_s); it stopped in this cell"
            )
        else:
            text = (
                f"the cell ran longer than its limit of {self.cell} s "
                "(runner.cell_timeout_s, or --cell-timeout)"
            )
        return dataclasses.replace(failure, evalue=text)


class _NotebookIncomplete(Exception):
    """papermill returned, but a code cell did not complete (e.g. ``sys.exit(0)``)."""

    def __init__(self, failure: FailureInfo) -> None:
        super().__init__(failure.describe())
        self.failure = failure


def _unfinished(executed: Path, notebook: str) -> FailureInfo | None:
    """The failure of the first code cell papermill did not complete, or None."""
    import nbformat

    cells = nbformat.read(executed, as_version=4).cells
    found = first_unfinished(cells)
    if found is None:
        return None
    index, ename, evalue = found
    return failure_at(
        notebook,
        cell_ref(cells, index),
        ename=ename,
        evalue=f"{evalue}; the cells after it did not run",
        execution_count=cells[index].get("execution_count"),
    )


class _Build:
    """One run in its temporary folder: executes, records, then swaps in or is kept as failed."""

    def __init__(
        self,
        params: WorkbookParams,
        *,
        params_path: Path,
        notebooks: Sequence[Path],
        selected: set[str],
        skipped: dict[str, str],
        final: Path,
        kernel_name: str,
        mode: dict[str, Any],
        overrides: Mapping[str, Any],
    ) -> None:
        self.params = params
        self.overrides = dict(overrides)
        self.params_path = params_path
        self.notebooks = list(notebooks)
        self.selected = selected
        self.skipped = skipped
        self.final = final
        self.kernel_name = kernel_name
        self.mode = mode
        self.started = dt.datetime.now(dt.UTC)
        self.clock = time.perf_counter()
        self.stamp = _stamp(self.started)
        self.folder = _new_build_folder(final, params.run_name, self.stamp)
        self.failure: FailureInfo | None = None
        self.fingerprints: dict[str, Any] = {}
        self.versions = package_versions()
        self.outcomes = self._initial_outcomes(reuse=mode["reused_from"] is not None)
        self.running: str | None = None
        self.current_cell: dict[str, Any] | None = None
        self.tracker = CellTracker(on_start=self._cell_started)
        self.early: EarlyKernel | None = None  # the next notebook's kernel, started early
        self.exiting = ExitingKernels()  # kernels of finished notebooks, exiting meanwhile
        log.info("building run %s in %s", params.run_name, self.folder)

    def _cell_started(self, ref: CellRef, when: dt.datetime) -> None:
        """Record the cell starting in the build's run.json: a killed runner leaves it behind."""
        self.current_cell = {
            "notebook": self.running,
            "cell": ref.number,
            "first_line": ref.first_line,
            "executed_index": ref.executed_index,
            "started": when.isoformat(timespec="seconds"),
        }
        try:
            write_json_atomic(self.folder / "run.json", self.payload("running", None, self.folder))
        except OSError as exc:  # a full disk must not stop the notebook here
            log.warning("could not record the running cell: %s", exc)

    def _initial_outcomes(self, *, reuse: bool) -> list[NotebookOutcome]:
        """Every notebook "not run", except those reused from the previous run (status kept)."""
        previous = _previous_outcomes(self.final) if reuse else {}
        outcomes = []
        for path in self.notebooks:
            outcome = NotebookOutcome(
                path.stem, section_for_notebook(path.name), notebook_title(path)
            )
            if path.stem in self.skipped:
                outcome.status, outcome.reason = "skipped", self.skipped[path.stem]
                outcomes.append(outcome)
                continue
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
        """The content of ``run.json`` (while running, also the cell that started last)."""
        record = _run_record(
            self.params,
            params_path=self.params_path,
            status=status,
            folder=folder,
            started=self.started,
            finished=finished,
            mode=self.mode,
            outcomes=self.outcomes,
            failure=self.failure,
            fingerprints=self.fingerprints,
            versions=self.versions,
            kernel_name=self.kernel_name,
        )
        if status == "running" and self.current_cell is not None:
            record["current_cell"] = self.current_cell
        return record

    def run(
        self,
        *,
        progress: Callable[[ProgressEvent], None] | None,
        start_timeout: int,
        limits: _Limits,
    ) -> RunResult:
        interrupted: BaseException | None = None
        try:
            if self.mode["reused_from"] is not None:
                _copy_previous(self.final, self.folder)
            self.fingerprints = input_fingerprints(self.params)
            write_json_atomic(self.folder / "run.json", self.payload("running", None, self.folder))
            total = len(self.outcomes)
            to_run = [
                path
                for path, outcome in zip(self.notebooks, self.outcomes, strict=True)
                if outcome.status != "skipped" and outcome.notebook in self.selected
            ]
            for position, (path, outcome) in enumerate(
                zip(self.notebooks, self.outcomes, strict=True), start=1
            ):
                if outcome.status == "skipped":
                    if progress is not None:
                        progress(
                            ProgressEvent("skip", position, total, outcome.notebook, "skipped")
                        )
                    continue
                if outcome.notebook not in self.selected:
                    continue
                if progress is not None:
                    progress(ProgressEvent("start", position, total, outcome.notebook))
                early = self._take_early(path)
                following = to_run.index(path) + 1
                if following < len(to_run):
                    self._start_early(to_run[following])
                interrupted = self._execute_one(path, outcome, start_timeout, limits, early)
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
            self._close_kernels()
            if self.failure is None:
                return self._succeed()
        except BaseException as exc:  # anything outside a notebook fails the run too
            log.debug("run failed outside a notebook", exc_info=True)
            self.failure = self.failure or _failure_from_exception(None, exc, None)
            interrupted = interrupted or (None if isinstance(exc, Exception) else exc)
        finally:
            self._close_kernels()
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

    def _kernel_manager_class(self, path: Path) -> type:
        """The kernel manager of ``path``'s kernel: its log file and a fresh connection file."""
        return _kernel_manager_with_log(
            self._kernel_log(path), connection_file_for(self.params.run_name), self.exiting
        )

    def _kernel_log(self, path: Path) -> Path:
        return self.folder / "logs" / f"{path.stem}.kernel.log"

    def _scrub_kernel_log(self, path: Path) -> None:
        """The kernel's log without private paths (it may hold tracebacks and warnings)."""
        scrub_text_file(
            self._kernel_log(path),
            replacements=path_replacements(
                self.params, params_path=self.params_path, run_dir=self.final, build_dir=self.folder
            ),
        )

    def _start_early(self, path: Path) -> None:
        """Start ``path``'s kernel now, to run while the current notebook executes."""
        try:
            self.early = EarlyKernel(path, self._kernel_manager_class(path), self.kernel_name)
        except Exception as exc:  # papermill then starts the kernel itself, as without this
            log.debug("could not start the kernel of %s early: %s", path.name, exc)
            self.early = None

    def _take_early(self, path: Path) -> EarlyKernel | None:
        """The kernel started early for ``path`` if it is alive; any other is shut down."""
        early, self.early = self.early, None
        if early is not None and early.notebook == path and early.alive():
            return early
        if early is not None:
            early.close()
        return None

    def _close_kernels(self) -> None:
        """Shut down the unused early kernel, wait for every exiting one, scrub the logs again.

        A kernel may still write to its log while it exits, after its notebook's scrub. Called
        before the run is published and again on the way out, when nothing is left to wait for.
        """
        if self.early is not None:
            self.early.close()
            self.early = None
        if self.exiting.join():
            for path in self.notebooks:
                self._scrub_kernel_log(path)

    def _execute_one(
        self,
        path: Path,
        outcome: NotebookOutcome,
        start_timeout: int,
        limits: _Limits,
        early: EarlyKernel | None = None,
    ) -> BaseException | None:
        """Execute and export one notebook; record a failure; return an interrupt to re-raise.

        ``early``: its kernel, started while the previous notebook ran (papermill adopts it).
        """
        executed = self.folder / "notebooks" / path.name
        page = self.folder / "html" / f"{path.stem}.html"
        executed.parent.mkdir(parents=True, exist_ok=True)
        parameters = {
            "params_file": str(self.params_path),
            "run_dir": str(self.folder),
            "overrides": dict(self.overrides),
        }
        subtitle = f"run {self.params.run_name}"
        tick = time.perf_counter()
        interrupted: BaseException | None = None
        log.info("executing %s", path.name)
        self.tracker.begin(path)
        self.running = outcome.notebook
        deadline = limits.deadline()
        try:
            _papermill_execute(
                path,
                executed,
                parameters=parameters,
                kernel_name=self.kernel_name,
                cwd=path.parent,
                kernel_manager_class=adopting(early)
                if early is not None
                else self._kernel_manager_class(path),
                start_timeout=start_timeout,
                execution_timeout=limits.cell,
                timeout_func=lambda cell: limits.for_cell(deadline),
                on_cell_start=self.tracker.hook,
            )
            self._publish(executed, outcome)
            unfinished = _unfinished(executed, outcome.notebook)
            if unfinished is not None:
                raise _NotebookIncomplete(unfinished)
            outcome.ipynb = executed.relative_to(self.folder).as_posix()
            export_notebook_html(executed, page, title=outcome.title, subtitle=subtitle)
            outcome.html = page.relative_to(self.folder).as_posix()
            outcome.status = "ok"
        except BaseException as exc:  # every failure is recorded; interrupts are re-raised later
            outcome.status = "failed"
            self.failure = (
                exc.failure
                if isinstance(exc, _NotebookIncomplete)
                else limits.explain(
                    _failure_from_exception(outcome.notebook, exc, executed, self.tracker.current),
                    deadline,
                )
            )
            interrupted = None if isinstance(exc, Exception) else exc
            if executed.is_file():
                outcome.ipynb = executed.relative_to(self.folder).as_posix()
                try:
                    self._publish(executed, outcome)
                    export_notebook_html(
                        executed, page, title=f"{outcome.title} (failed)", subtitle=subtitle
                    )
                    outcome.html = page.relative_to(self.folder).as_posix()
                except Exception as export_error:  # keep the first error; the .ipynb is there
                    log.warning(
                        "could not export the failed notebook %s: %s", executed, export_error
                    )
        if early is not None:
            early.close()  # papermill failed before adopting it
        self.running = None
        self._scrub_kernel_log(path)
        outcome.seconds = round(time.perf_counter() - tick, 3)
        outcome.reused = False
        log.info("%s %s in %.1f s", path.name, outcome.status, outcome.seconds)
        return interrupted

    def _publish(self, executed: Path, outcome: NotebookOutcome) -> None:
        """The executed notebook without private paths: parameters as run.json may hold them."""
        publish_notebook(
            executed,
            params=self.params,
            overrides=self.overrides,
            params_path=self.params_path,
            build_dir=self.folder,
            run_dir=self.final,
        )

    def _stages(self) -> list[StageEntry]:
        """The front page's cards; a skipped stage carries why in its first note."""
        return [
            StageEntry(
                o.notebook,
                o.section,
                o.title,
                o.status,
                o.seconds,
                o.html,
                o.reused,
                (f"Skipped: {o.reason}",) if o.status == "skipped" and o.reason else (),
            )
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
        _swap_into_place(
            self.folder, self.final, self.stamp, keep_runs=self.params.runner.keep_runs
        )
        log.info("run %s complete: %s", self.params.run_name, self.final)
        return self._result("ok", self.final, finished)

    def _keep_failed(self) -> RunResult:
        """Record the failure in the build folder and keep it as ``<run_name>.failed-<timestamp>``."""
        assert self.failure is not None
        finished = dt.datetime.now(dt.UTC)
        failed = _failed_folder(self.final, self.params.run_name, self.stamp)
        try:
            write_json_atomic(self.folder / "run.json", self.payload("failed", finished, failed))
            write_index(
                self.folder,
                params=self.params,
                stages=self._stages(),
                failure=f"{self.failure.describe()}. The previous successful report, if any, is "
                f"in {published_path(self.final, base=self.params_path.parent)}.",
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
