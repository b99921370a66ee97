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

from crmlib.io import read_json, write_json_atomic

__all__ = [
    "_stamp",
    "_unique",
    "_exchange",
    "_new_build_folder",
    "_failed_folder",
    "_swap_into_place",
    "_recover",
    "_copy_previous",
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
