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


def _copy_previous(previous: Path, build: Path) -> None:
    """Start a partial run from the artifacts of the last good run."""
    shutil.copytree(
        previous,
        build,
        dirs_exist_ok=True,
        symlinks=True,
        ignore=shutil.ignore_patterns("run.json", "index.html", ".*.tmp"),
    )
