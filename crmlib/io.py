"""The run folder: stage artifacts (parquet), metrics.json, run.json, exports; the notebooks' only I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlib.errors import DataContractError, StageInputMissing
from crmlib.stages import STAGE_ARTIFACTS, artifact_writers

__all__ = [
    "ARTIFACT_PRODUCERS",
    "OUTSIDE",
    "RunFolder",
    "history_folder",
    "published_path",
    "write_json_atomic",
    "read_json",
    "to_jsonable",
]

log = logging.getLogger(__name__)

#: Which notebook writes each table artifact (from :data:`crmlib.stages.STAGE_ARTIFACTS`): a
#: missing one names the notebook to run first.
ARTIFACT_PRODUCERS: dict[str, str] = {
    name: STAGE_ARTIFACTS[section].notebook
    for name, section in artifact_writers().items()
    if not name.endswith(".json")
}


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from numpy/pandas scalars, dates and nested containers (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is pd.NaT or (value is not None and not isinstance(value, str) and pd.isna(value)):
        return None
    return value


#: How a published path outside the project begins (see :func:`published_path`).
OUTSIDE = "<outside>"


def published_path(path: str | os.PathLike[str], *, base: str | os.PathLike[str]) -> str:
    """How a run folder writes a path: relative to the params folder, or a fingerprint.

    ``base`` is the params file's folder and its parent folder is the project (the repository
    root for ``params/default.yaml``). A path inside the project is written relative to
    ``base`` in POSIX form (``../data/sample/transactions.csv.gz``), so no folder above the
    project is named. A path outside the project is written
    ``<outside>#<fingerprint>/<name>``: its last component, and for the folder holding it the
    first 12 hex digits of the SHA-256 of that folder's absolute path (stable on one machine;
    files of one folder share it; the folder's name is not said). A relative path is read
    against ``base``, as params files mean it; ``~`` is expanded; symbolic links are resolved.
    When ``base`` has no parent below the filesystem root, the project is ``base`` itself.

    Parameters
    ----------
    path : path-like
        A file, folder or glob pattern.
    base : path-like
        The params file's folder.

    Returns
    -------
    str
        The path as the run folder may publish it.

    Examples
    --------
    >>> published_path("/srv/shop/data/orders.csv", base="/srv/shop/params")
    '../data/orders.csv'
    >>> published_path("orders.csv", base="/srv/shop/params")
    'orders.csv'
    >>> published_path("/home/alice/orders.csv", base="/srv/shop/params")
    '<outside>#612b6fc44e30/orders.csv'
    """
    folder = Path(os.path.expanduser(os.fspath(base))).resolve()
    candidate = Path(os.path.expanduser(os.fspath(path)))
    absolute = (candidate if candidate.is_absolute() else folder / candidate).resolve()
    project = folder.parent if folder.parent != Path(folder.anchor) else folder
    if absolute == project or project in absolute.parents:
        return Path(os.path.relpath(absolute, folder)).as_posix()
    digest = hashlib.sha256(str(absolute.parent).encode("utf-8")).hexdigest()[:12]
    return f"{OUTSIDE}#{digest}/{absolute.name}" if absolute.name else f"{OUTSIDE}#{digest}"


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write JSON so a reader never sees half a file (write to a sibling, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(to_jsonable(payload), stream, indent=2, sort_keys=False)
        stream.write("\n")
    os.chmod(temp, 0o644)  # mkstemp creates 0600; reports are meant to be read by others
    os.replace(temp, target)
    return target


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def history_folder(final: Path) -> Path:
    """``outputs/<run_name>.history``: the good runs a run replaced, one folder each."""
    return final.with_name(f"{final.name}.history")


class RunFolder:
    """One run's folder: ``data/*.parquet``, ``exports/``, ``metrics.json``, ``run.json``.

    Parameters
    ----------
    root : path-like
        ``outputs/<run_name>`` (or the temporary folder a run builds in).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> run = RunFolder(tempfile.mkdtemp())
    >>> _ = run.write_table("kpis_by_period", pd.DataFrame({"period": ["2025-01"], "active": [3]}))
    >>> run.read_table("kpis_by_period")["active"].tolist()
    [3]
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.json"

    @property
    def run_json_path(self) -> Path:
        return self.root / "run.json"

    def table_path(self, name: str) -> Path:
        """Where artifact ``name`` lives."""
        return self.data_dir / f"{name}.parquet"

    def has_table(self, name: str) -> bool:
        """Whether artifact ``name`` was written (optional inputs may be absent)."""
        return self.table_path(name).is_file()

    def _require(self, name: str) -> Path:
        path = self.table_path(name)
        if not path.is_file():
            producer = ARTIFACT_PRODUCERS.get(name, "the stage that writes it")
            raise StageInputMissing(
                f"artifact '{name}' not found in {self.root}: run notebook {producer} first "
                f"(or the whole workbook: `make report`)"
            )
        return path

    def write_table(self, name: str, table: pd.DataFrame | pa.Table) -> Path:
        """Write artifact ``name`` as parquet (atomically)."""
        path = self.table_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrow = (
            table
            if isinstance(table, pa.Table)
            else pa.Table.from_pandas(table, preserve_index=False)
        )
        temp = path.with_name(f".{path.name}.tmp")
        pq.write_table(arrow, temp, compression="zstd")
        os.replace(temp, path)
        log.info("wrote %s (%d rows)", path.name, arrow.num_rows)
        return path

    def read_table(self, name: str, *, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """Read artifact ``name``; raises StageInputMissing naming the notebook that writes it."""
        path = self._require(name)
        return pd.read_parquet(path, columns=list(columns) if columns is not None else None)

    def read_optional_table(self, name: str, columns: Sequence[str]) -> pd.DataFrame | None:
        """``columns`` of an earlier stage's artifact, or None when that stage did not run.

        For a stage that uses another's artifact only when present (06 and 07 read 05's
        ``clv``). A missing column is a DataContractError naming the artifact and column.
        """
        if not self.has_table(name):
            return None
        present = set(pq.read_schema(self.table_path(name)).names)
        missing = [column for column in columns if column not in present]
        if missing:
            raise DataContractError(
                f"{name}.parquet: column(s) {', '.join(missing)} not found; expected "
                f"{', '.join(columns)} (rerun the notebook that writes {name})"
            )
        return self.read_table(name, columns=columns)

    def register(self, engine: Any, *names: str, optional: bool = False) -> list[str]:
        """Expose artifacts to a :class:`crmlib.engine.Engine` as views of the same names.

        With ``optional=True`` a missing artifact is skipped; returns the names registered.
        """
        registered = []
        for name in names:
            if optional and not self.has_table(name):
                continue
            engine.register_parquet(name, self._require(name))
            registered.append(name)
        return registered

    def previous_root(self) -> Path:
        """The folder of the last good run of this run folder.

        The runner builds a run in ``.<run_name>.building-<stamp>-<random>`` beside the
        finished folder ``<run_name>`` and swaps it into place only when every notebook ran,
        so inside a build the last good run is that sibling. A notebook run by hand into the
        finished folder itself reads what its previous run left there, before overwriting it.
        """
        name = self.root.name
        if name.startswith(".") and ".building-" in name:
            return self.root.parent / name[1:].split(".building-", 1)[0]
        return self.root

    def read_previous_table(
        self, name: str, *, columns: Iterable[str] | None = None
    ) -> pd.DataFrame | None:
        """Artifact ``name`` as the last good run wrote it (:meth:`previous_root`), or None.

        With ``columns``, only those are read, and an artifact written before one of them
        existed counts as none (None). Read this before writing the artifact of the same name
        in a hand-run notebook.
        """
        path = self.previous_root() / "data" / f"{name}.parquet"
        if not path.is_file():
            return None
        if columns is None:
            return pd.read_parquet(path)
        wanted = list(columns)
        if not set(wanted) <= set(pq.read_schema(path).names):
            return None
        return pd.read_parquet(path, columns=wanted)

    def read_metrics(self) -> dict[str, Any]:
        """metrics.json as a dict (empty when no stage has written yet)."""
        return read_json(self.metrics_path) if self.metrics_path.is_file() else {}

    def write_metrics(self, stage: str, metrics: Mapping[str, Any]) -> Path:
        """Set ``metrics.json[stage]`` (one key per stage), keeping the other stages' keys."""
        current = self.read_metrics()
        current[stage] = dict(metrics)
        return write_json_atomic(self.metrics_path, current)

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``<root>/<name>.json`` atomically."""
        return write_json_atomic(self.root / f"{name}.json", payload)

    def read_json(self, name: str) -> Any:
        """Read ``<root>/<name>.json``; raises StageInputMissing when absent."""
        path = self.root / f"{name}.json"
        if not path.is_file():
            section = artifact_writers().get(path.name)
            producer = STAGE_ARTIFACTS[section].notebook if section else "the stage that writes it"
            raise StageInputMissing(f"{path.name} not found in {self.root}: run {producer} first")
        return read_json(path)
