"""The run folder on disk: build folder, atomic swap, recovery, and failed runs kept aside."""

from __future__ import annotations

import ctypes
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from crmlib.io import history_folder, read_json, write_json_atomic
from crmlib.stages import STAGE_ARTIFACTS, artifact_file

__all__ = [
    "_stamp",
    "_unique",
    "_exchange",
    "_new_build_folder",
    "_failed_folder",
    "_swap_into_place",
    "_recover",
    "_copy_previous",
    "history_folder",
    "HISTORY_LEAVES_OUT",
]

log = logging.getLogger(__name__)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _unique(path: Path) -> Path:
    candidate, counter = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{counter}")
        counter += 1
    return candidate


def _new_build_folder(final: Path, run_name: str, stamp: str) -> Path:
    """A new, empty ``.<run_name>.building-<stamp>-<random>`` folder next to ``final``."""
    return Path(tempfile.mkdtemp(prefix=f".{run_name}.building-{stamp}-", dir=final.parent))


def _failed_folder(final: Path, run_name: str, stamp: str) -> Path:
    """The unused ``<run_name>.failed-<stamp>`` path next to ``final`` that keeps a failed run."""
    return _unique(final.with_name(f"{run_name}.failed-{stamp}"))


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


#: What a run kept in the history leaves out: the canonical copies of the source tables that
#: 01_ingest writes (order-level, as large as the source, and the source keeps them).
HISTORY_LEAVES_OUT: tuple[str, ...] = tuple(
    artifact_file(name) for name in STAGE_ARTIFACTS["ingest"].writes if not name.endswith(".json")
)


def _retire(previous: Path, final: Path, keep_runs: int) -> None:
    """The replaced good run ``previous``: into the history (``keep_runs`` > 1), else removed.

    The run moves to ``<run_name>.history/<finished stamp>`` without :data:`HISTORY_LEAVES_OUT`
    (moving within the outputs folder copies nothing). A failure here never fails the run (the
    new run is already in place): it is logged, and the replaced run removed.
    """
    if keep_runs > 1:
        try:
            for name in HISTORY_LEAVES_OUT:
                (previous / name).unlink(missing_ok=True)
            history_folder(final).mkdir(exist_ok=True)
            os.rename(previous, _unique(history_folder(final) / _finished_stamp(previous)))
        except OSError as exc:
            log.warning("could not keep the replaced run %s in the history: %s", previous, exc)
    shutil.rmtree(previous, ignore_errors=True)
    _prune(final, keep_runs)


def _prune(final: Path, keep_runs: int) -> None:
    """Remove the oldest runs of the history so that, with ``final``, ``keep_runs`` are kept."""
    history = history_folder(final)
    if not history.is_dir():
        return
    kept = sorted(p for p in history.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in kept[: max(0, len(kept) - (keep_runs - 1))]:
        log.info("removing %s from the history (runner.keep_runs: %d)", old.name, keep_runs)
        shutil.rmtree(old, ignore_errors=True)


def _finished_stamp(folder: Path) -> str:
    """When the run in ``folder`` finished (its ``run.json``), as a folder name; else the mtime."""
    try:
        finished = dt.datetime.fromisoformat(str(read_json(folder / "run.json")["finished"]))
    except (OSError, ValueError, KeyError, TypeError):
        finished = dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.UTC)
    return _stamp(finished.astimezone(dt.UTC) if finished.tzinfo else finished)


def _swap_into_place(build: Path, final: Path, stamp: str, *, keep_runs: int = 1) -> None:
    """Replace ``final`` by ``build`` so ``final`` always holds a complete run.

    On Linux the two folders are exchanged atomically; elsewhere the old run is renamed aside
    first, and :func:`_recover` puts it back if the process dies between the two renames.
    The replaced run then goes to the history (:func:`_retire`).
    """
    if not final.exists():
        os.rename(build, final)
        _prune(final, keep_runs)
        return
    if _exchange(build, final):
        _retire(build, final, keep_runs)  # build now holds the previous run
        return
    aside = _unique(final.with_name(f".{final.name}.replaced-{stamp}"))
    os.rename(final, aside)
    try:
        os.rename(build, final)
    except BaseException:
        os.rename(aside, final)
        raise
    _retire(aside, final, keep_runs)


def _recover(outputs: Path, run_name: str) -> list[Path]:
    """Under the lock: undo an interrupted swap, keep the builds of killed runners, clean up.

    A ``.<run_name>.building-<stamp>-…`` folder found under the lock was left by a runner that
    died without cleaning up (SIGKILL, a crash, the machine stopped): it is kept as
    ``<run_name>.failed-<stamp>`` with ``run.json`` status ``killed`` and, as the failure, the
    last cell the runner recorded starting (:func:`_mark_killed`). Copies of a replaced run
    left by an interrupted swap are removed, and so are the kernel connection files of dead
    runners of this run (they hold the kernels' HMAC keys). Returns the folders kept.
    """
    final = outputs / run_name
    replaced = sorted(outputs.glob(f".{run_name}.replaced-*"))
    if not final.exists() and replaced:
        log.warning(
            "restoring %s from %s (a previous run was interrupted while swapping)",
            final,
            replaced[-1],
        )
        os.rename(replaced.pop(), final)
    for leftover in replaced:
        log.warning("removing %s, left behind by an interrupted swap", leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    kept = []
    for build in sorted(outputs.glob(f".{run_name}.building-*")):
        stamp = build.name.removeprefix(f".{run_name}.building-")[:16]
        failed = _failed_folder(final, run_name, stamp)
        _mark_killed(build)
        os.rename(build, failed)
        log.warning("kept %s, left by a runner that was killed, as %s", build.name, failed)
        kept.append(failed)
    _remove_dead_connection_files(run_name)
    return kept


def _mark_killed(build: Path) -> None:
    """Set a dead runner's ``run.json`` to status ``killed``, its failure at the last cell."""
    record_path = build / "run.json"
    try:
        record = read_json(record_path)
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    current = record.get("current_cell") or {}
    record["status"] = "killed"
    record["failed"] = {
        "notebook": current.get("notebook"),
        "cell": current.get("cell"),
        "cell_first_line": current.get("first_line", ""),
        "cell_index": current.get("executed_index"),
        "execution_count": None,
        "ename": "RunnerKilled",
        "evalue": (
            "the runner stopped without recording an end (killed with SIGKILL, out of memory, "
            "or the machine stopped)"
            + (f"; the last cell it started was at {current['started']}" if current else "")
        ),
    }
    notebooks = record.get("notebooks")
    entry = notebooks.get(current.get("notebook")) if isinstance(notebooks, dict) else None
    if isinstance(entry, dict):
        entry["status"] = "failed"
    try:
        write_json_atomic(record_path, record)
    except OSError as exc:  # the folder is kept all the same
        log.warning("could not mark %s as killed: %s", build, exc)


def _remove_dead_connection_files(run_name: str) -> None:
    """Remove this run's kernel connection files whose runner process no longer exists."""
    from jupyter_core.paths import jupyter_runtime_dir

    for path in Path(jupyter_runtime_dir()).glob(f"kernel-crm-{run_name}-*.json"):
        pid_text = path.stem.removeprefix(f"kernel-crm-{run_name}-").split("-")[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            log.warning("removing %s, the connection file of a dead runner's kernel", path.name)
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _copy_previous(previous: Path, build: Path) -> None:
    """Start a partial run from the artifacts of the last good run."""
    shutil.copytree(
        previous,
        build,
        dirs_exist_ok=True,
        symlinks=True,
        ignore=shutil.ignore_patterns("run.json", "index.html", ".*.tmp"),
    )
