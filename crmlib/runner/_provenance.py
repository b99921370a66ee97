"""What ``run.json`` records about a run: input fingerprints, package versions, the whole record."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import importlib.metadata
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crmlib.config import WorkbookParams
from crmlib.io import published_path, read_json
from crmlib.runner._published import (
    path_replacements,
    published_fingerprints,
    published_params,
    scrub_value,
)
from crmlib.runner._results import FailureInfo, NotebookOutcome

__all__ = [
    "VERSIONED_PACKAGES",
    "package_versions",
    "input_fingerprints",
    "_run_record",
    "_previous_outcomes",
]

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

_GLOB_CHARS = re.compile(r"[*?\[]")


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
        "missing": [patterns matching no file]}}``; a PostgreSQL source adds ``"postgres"``:
        its label (``postgres table sales.orders`` or ``postgres query``), never its connection.
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
        if source.postgres is not None:  # where the rows came from; never the connection
            fingerprints[table]["postgres"] = source.postgres.label()
    return fingerprints


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _run_record(
    params: WorkbookParams,
    *,
    params_path: Path,
    status: str,
    folder: Path,
    started: dt.datetime,
    finished: dt.datetime | None,
    mode: dict[str, Any],
    outcomes: Sequence[NotebookOutcome],
    failure: FailureInfo | None,
    fingerprints: dict[str, Any],
    versions: dict[str, str | None],
    kernel_name: str,
) -> dict[str, Any]:
    """The content of ``run.json``: nothing private (:mod:`crmlib.runner._published`).

    ``folder``, ``params_file``, ``mode.reused_from`` and the input fingerprints' paths are
    published paths (relative to the params file's folder inside the project,
    ``<outside>#<fingerprint>/<name>`` outside); ``params`` is :func:`published_params`
    (free text redacted); any absolute path left in the notebooks' entries or the failure's
    message is replaced the same way. The environment is not recorded.
    """
    base = params_path.parent
    reused_from = mode.get("reused_from")
    record = {
        "run_name": params.run_name,
        "status": status,
        "folder": published_path(folder, base=base),
        "started": _iso(started),
        "finished": _iso(finished) if finished else None,
        "seconds": round((finished - started).total_seconds(), 3) if finished else None,
        "mode": {
            **mode,
            "reused_from": published_path(reused_from, base=base) if reused_from else reused_from,
        },
        "notebooks": {outcome.notebook: outcome.to_json() for outcome in outcomes},
        "failed": failure.to_json() if failure else None,
        "params_file": published_path(params_path, base=base),
        "params": published_params(params, base=base),
        "inputs": published_fingerprints(fingerprints, base=base),
        "versions": versions,
        "kernel": kernel_name,
    }
    replacements = path_replacements(params, params_path=params_path, run_dir=folder)
    for key in ("mode", "notebooks", "failed"):
        record[key] = scrub_value(record[key], replacements)
    return record


def _previous_outcomes(previous: Path) -> dict[str, Any]:
    """``run.json["notebooks"]`` of the previous run (empty when unreadable)."""
    try:
        notebooks = read_json(previous / "run.json").get("notebooks", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return notebooks if isinstance(notebooks, dict) else {}
