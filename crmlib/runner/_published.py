"""What a run folder may say: paths relative to the params folder, params on an allow-list.

A run folder is meant to be shared (attached to a ticket, copied to a report server), so what
it records about the machine that made it is limited by two rules:

* **Paths** follow :func:`crmlib.io.published_path`: relative to the params file's folder
  (POSIX) when inside the project, the params folder's parent; ``<outside>#<fingerprint>/<name>``
  otherwise.
* **Params** follow :func:`published_params`: numbers, booleans, nulls, dates, closed
  vocabularies (``Literal`` choices) and the names listed in :data:`IDENTIFIER_FIELDS` are
  kept; the paths in :data:`PATH_FIELDS` are published as above; every other text becomes
  ``"<redacted>"``. The environment is never recorded.

:func:`scrub_notebook` and :func:`scrub_text_file` bring an executed notebook and a kernel log
to the same rules after papermill wrote them.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
import re
import tempfile
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from crmlib.config import (
    AbTestParams,
    CampaignParams,
    ChurnParams,
    CohortsParams,
    EngineConfig,
    IngestParams,
    KpisParams,
    PostgresSource,
    SegmentRuleParams,
    SegmentsParams,
    TableSource,
    WorkbookParams,
)
from crmlib.io import OUTSIDE, published_path

__all__ = [
    "OUTSIDE",
    "REDACTED",
    "PATH_FIELDS",
    "IDENTIFIER_FIELDS",
    "INJECTED_PARAMETERS_TAG",
    "published_path",
    "published_params",
    "published_fingerprints",
    "notebook_parameters",
    "path_replacements",
    "scrub_text",
    "scrub_value",
    "scrub_notebook",
    "scrub_text_file",
    "publish_notebook",
]

#: What a free-text params value is replaced by.
REDACTED = "<redacted>"

#: The tag of the cell papermill inserts with the run's parameters.
INJECTED_PARAMETERS_TAG = "injected-parameters"

#: Params fields holding paths (or lists of them) relative to the params file: published as
#: paths (:func:`crmlib.io.published_path`), never verbatim.
PATH_FIELDS: frozenset[tuple[type[BaseModel], str]] = frozenset(
    {
        (TableSource, "path"),
        (SegmentsParams, "suppression_list"),
        (ChurnParams, "suppression_list"),
    }
)

#: Spark masters that name no host (``local[N]``, ``yarn``): ``run.json`` keeps these; any other
#: master (``spark://host``, ``k8s://...``, ``sc://host/;token=...``) is redacted.
_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)(,\s*\d+)?\])?|yarn")

#: Text fields that hold names (of columns, metrics, segments, campaigns), formats or
#: patterns of the data: schema, not free text, so ``run.json`` keeps them verbatim.
IDENTIFIER_FIELDS: Mapping[type[BaseModel], frozenset[str]] = {
    WorkbookParams: frozenset({"run_name", "currency"}),
    TableSource: frozenset(
        {
            "columns",
            "delimiter",
            "timestamp_format",
            "true_values",
            "false_values",
            "null_values",
            "unit_price_column",
        }
    ),
    PostgresSource: frozenset({"dsn_env", "table"}),
    EngineConfig: frozenset({"memory_limit"}),
    IngestParams: frozenset({"refund_order_id_pattern"}),
    KpisParams: frozenset({"mix_dimension"}),
    CohortsParams: frozenset({"dimensions"}),
    SegmentRuleParams: frozenset({"name"}),
    SegmentsParams: frozenset({"profile_dimensions", "lookalike_segment"}),
    CampaignParams: frozenset({"name", "segments", "label_column"}),
    ChurnParams: frozenset({"exclude_features", "contact_campaign"}),
    AbTestParams: frozenset(
        {
            "control",
            "metrics",
            "cuped_covariates",
            "ratio_metrics",
            "primary_metric",
            "revenue_metric",
            "retention_metric",
            "segments",
        }
    ),
}

_SCALARS: tuple[type, ...] = (bool, int, float, type(None), dt.date, dt.datetime, dt.time)


# -- params --------------------------------------------------------------------------------------
def _closed_vocabulary(annotation: Any) -> bool:
    """Whether every text a field of this type can hold is one of a fixed set of choices."""
    origin = get_origin(annotation)
    if origin is Literal:
        return True
    if origin in (Union, types.UnionType, list, tuple, set, frozenset, Sequence):
        return all(_closed_vocabulary(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    if origin in (dict, Mapping):
        arguments = get_args(annotation)
        return _closed_vocabulary(arguments[1]) if len(arguments) == 2 else False
    if isinstance(annotation, type):
        return issubclass(annotation, (*_SCALARS, enum.Enum, BaseModel))
    return False


def _published_value(attribute: Any, dumped: Any, *, keep_text: bool, base: Path) -> Any:
    """One value of ``model_dump(mode="json")`` after the rules (``attribute``: the same, typed)."""
    if isinstance(attribute, BaseModel):
        return _published_model(attribute, dumped, base=base)
    if isinstance(attribute, Mapping) and isinstance(dumped, Mapping):
        return {
            key: _published_value(item, dumped_item, keep_text=keep_text, base=base)
            for (key, dumped_item), item in zip(dumped.items(), attribute.values(), strict=True)
        }
    if isinstance(attribute, (list, tuple, set, frozenset)) and isinstance(dumped, list):
        return [
            _published_value(item, dumped_item, keep_text=keep_text, base=base)
            for item, dumped_item in zip(attribute, dumped, strict=True)
        ]
    if not isinstance(dumped, str):
        return dumped
    if keep_text or isinstance(attribute, (dt.date, dt.time, enum.Enum)):
        return dumped
    return REDACTED


def _published_paths(dumped: Any, *, base: Path) -> Any:
    if isinstance(dumped, str):
        return published_path(dumped, base=base)
    if isinstance(dumped, list):
        return [_published_paths(item, base=base) for item in dumped]
    return dumped


def _is_path_field(kind: type[BaseModel], name: str) -> bool:
    """Whether ``kind.name`` (or the same field of a model it extends) is in PATH_FIELDS."""
    return any((ancestor, name) in PATH_FIELDS for ancestor in kind.__mro__)


def _identifiers(kind: type[BaseModel]) -> frozenset[str]:
    """The IDENTIFIER_FIELDS of ``kind`` and of the models it extends."""
    return frozenset().union(*(IDENTIFIER_FIELDS.get(ancestor, ()) for ancestor in kind.__mro__))


def _published_model(model: BaseModel, dumped: Mapping[str, Any], *, base: Path) -> dict[str, Any]:
    kind = type(model)
    identifiers = _identifiers(kind)
    published: dict[str, Any] = {}
    for name, field in kind.model_fields.items():
        if name not in dumped:
            continue
        if _is_path_field(kind, name):
            published[name] = _published_paths(dumped[name], base=base)
            continue
        if kind is EngineConfig and name == "master":  # may name hosts or carry a token
            value = str(dumped[name])
            published[name] = value if _LOCAL_MASTER.fullmatch(value) else REDACTED
            continue
        keep_text = name in identifiers or _closed_vocabulary(field.annotation)
        published[name] = _published_value(
            getattr(model, name), dumped[name], keep_text=keep_text, base=base
        )
    return published


def published_params(params: WorkbookParams, *, base: Path) -> dict[str, Any]:
    """The params as ``run.json`` records them: settings kept, free text redacted.

    Walks ``params.model_dump(mode="json")`` field by field, with each field's type:

    * numbers, booleans, nulls and dates are kept;
    * text is kept when the field's type allows only fixed choices (``Literal``, an enum) or
      the field is listed in :data:`IDENTIFIER_FIELDS` (run name, currency, column mappings,
      metric, segment and campaign names, formats: the schema of the data);
    * the path fields of :data:`PATH_FIELDS` (``source.<table>.path``, the suppression
      lists) are published by :func:`crmlib.io.published_path`;
    * any other text (``engine.temp_directory``, and every text field added later until it is
      listed) becomes ``"<redacted>"``.

    Mapping keys are kept (they are names: contract columns, metrics, guardrails).

    Parameters
    ----------
    params : WorkbookParams
        The validated params.
    base : Path
        The params file's folder (paths are published relative to it).

    Returns
    -------
    dict
        The same keys as ``params.model_dump(mode="json")``.

    Examples
    --------
    >>> from pathlib import Path
    >>> params = WorkbookParams.model_validate({
    ...     "run_name": "doc", "as_of_date": "2025-12-31",
    ...     "source": {"transactions": {"path": "/srv/shop/data/orders.csv"}},
    ...     "engine": {"temp_directory": "/home/alice/tmp"}})
    >>> published = published_params(params, base=Path("/srv/shop/params"))
    >>> published["source"]["transactions"]["path"], published["engine"]["temp_directory"]
    ('../data/orders.csv', '<redacted>')
    >>> published["kpis"]["period"], published["clv"]["horizon_months"]
    ('month', 12)
    """
    return _published_model(params, params.model_dump(mode="json"), base=base)


def published_fingerprints(fingerprints: Mapping[str, Any], *, base: Path) -> dict[str, Any]:
    """:func:`crmlib.runner.input_fingerprints` with every path published (sizes, hashes kept).

    Parameters
    ----------
    fingerprints : mapping
        ``{table: {"patterns": [...], "files": [{"path", ...}], "missing": [...]}}``.
    base : Path
        The params file's folder.

    Returns
    -------
    dict
        The same structure; ``patterns``, ``files[].path`` and ``missing`` published.
    """
    published: dict[str, Any] = {}
    for table, entry in fingerprints.items():
        if not isinstance(entry, Mapping):
            published[table] = entry
            continue
        published[table] = {
            **entry,
            "patterns": [published_path(p, base=base) for p in entry.get("patterns", [])],
            "files": [
                {**file, "path": published_path(file["path"], base=base)}
                for file in entry.get("files", [])
            ],
            "missing": [published_path(p, base=base) for p in entry.get("missing", [])],
        }
    return published


def notebook_parameters(
    params: WorkbookParams,
    *,
    params_path: Path,
    run_dir: Path,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What papermill's parameters of one notebook may say once the run is in place.

    The published counterpart of what the runner injects: ``params_file`` and ``run_dir`` as
    published paths, and ``overrides`` (the runner's changes to the file, e.g. its
    ``--run-name``). The notebook reads everything else from the params file itself
    (:func:`crmlib.config.load_stage_params`).

    Parameters
    ----------
    params : WorkbookParams
        The run's params.
    params_path : Path
        The params file (absolute).
    run_dir : Path
        The folder the run ends up in (``outputs/<run_name>``), not the build folder.
    overrides : mapping, optional
        The runner's overrides.

    Returns
    -------
    dict
        Parameter name -> JSON value, in the order the runner injects them.
    """
    base = params_path.parent
    return {
        "params_file": published_path(params_path, base=base),
        "run_dir": published_path(run_dir, base=base),
        "overrides": dict(overrides or {}),
    }


# -- text ------------------------------------------------------------------------------------------
def _published_folder(folder: Path, *, base: Path) -> str:
    """A folder as a prefix: relative inside the project, ``<outside>#<fingerprint>`` outside.

    Outside, the fingerprint is the one :func:`crmlib.io.published_path` gives the files in
    that folder, so ``<folder>/x.csv`` becomes the same text either way.
    """
    published = published_path(folder, base=base)
    if not published.startswith(OUTSIDE):
        return published
    absolute = Path(os.path.expanduser(folder)).resolve()
    return f"{OUTSIDE}#{hashlib.sha256(str(absolute).encode('utf-8')).hexdigest()[:12]}"


def _path_values(params: WorkbookParams) -> list[str]:
    """Every path of :data:`PATH_FIELDS` the params hold (patterns included)."""
    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if _is_path_field(type(model), name):
                found.extend([value] if isinstance(value, str) else list(value or []))
            elif isinstance(value, BaseModel):
                walk(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, BaseModel):
                        walk(item)
            elif isinstance(value, Mapping):
                for item in value.values():
                    if isinstance(item, BaseModel):
                        walk(item)

    walk(params)
    return found


def _spellings(path: Path) -> set[str]:
    """The absolute forms a path may be printed in (as given, resolved)."""
    absolute = Path(os.path.abspath(os.path.expanduser(path)))
    return {str(absolute), str(absolute.resolve())}


def path_replacements(
    params: WorkbookParams,
    *,
    params_path: Path,
    run_dir: Path,
    build_dir: Path | None = None,
) -> dict[str, str]:
    """Absolute paths a run's files may contain, each with the text that replaces it.

    For :func:`scrub_text` and the scrub functions. Covers the build folder and the run folder
    (both become the published run folder), the outputs folder, the params file and its
    folder, the project folder (so any path inside it becomes relative), every path the
    params name with its folder, and ``engine.temp_directory`` (``"<redacted>"``).

    Parameters
    ----------
    params : WorkbookParams
        The run's params.
    params_path : Path
        The params file (absolute).
    run_dir : Path
        The folder the run ends up in (``outputs/<run_name>``, or a failed run's folder).
    build_dir : Path, optional
        The temporary folder the run was built in.

    Returns
    -------
    dict
        Absolute path (as text) -> its published text. Filesystem roots are never keys.
    """
    base = params_path.parent
    pairs: list[tuple[Path, str]] = [
        (base.parent, _published_folder(base.parent, base=base)),
        (base, _published_folder(base, base=base)),
        (params_path, published_path(params_path, base=base)),
        (run_dir.parent, _published_folder(run_dir.parent, base=base)),
        (run_dir, published_path(run_dir, base=base)),
    ]
    if build_dir is not None:
        pairs.append((build_dir, published_path(run_dir, base=base)))
    for value in _path_values(params):
        resolved = params.resolve(value)
        pairs.append((resolved.parent, _published_folder(resolved.parent, base=base)))
        pairs.append((resolved, published_path(resolved, base=base)))
    if params.engine.temp_directory:
        pairs.append((params.resolve(params.engine.temp_directory), REDACTED))
    replacements: dict[str, str] = {}
    for path, text in pairs:
        for spelling in _spellings(path):
            if Path(spelling).parent != Path(spelling):  # never a filesystem root
                replacements[spelling] = text
    return replacements


def _pattern(replacements: Mapping[str, str]) -> re.Pattern[str] | None:
    """One regex of the keys, longest first, each ending where a path component ends."""
    keys = sorted((key for key in replacements if key), key=len, reverse=True)
    if not keys:
        return None
    return re.compile("(?:" + "|".join(map(re.escape, keys)) + r")(?![\w.\-])")


def scrub_text(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key of ``replacements`` (a path: only whole components) replaced.

    Examples
    --------
    >>> scrub_text("read /srv/shop/data/a.csv, not /srv/shopping", {"/srv/shop": ".."})
    'read ../data/a.csv, not /srv/shopping'
    """
    pattern = _pattern(replacements)
    if pattern is None:
        return text
    return pattern.sub(lambda match: replacements[match.group(0)], text)


def scrub_value(value: Any, replacements: Mapping[str, str]) -> Any:
    """A JSON-like value with :func:`scrub_text` applied to every string in it (keys too)."""
    pattern = _pattern(replacements)
    if pattern is None:
        return value

    def scrub(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(lambda match: replacements[match.group(0)], item)
        if isinstance(item, Mapping):
            return {scrub(key): scrub(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [scrub(entry) for entry in item]
        return item

    return scrub(value)


def _write_text_atomic(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape") as stream:
        stream.write(text)
    os.chmod(temp, 0o644)
    os.replace(temp, path)


def scrub_text_file(path: Path, *, replacements: Mapping[str, str]) -> None:
    """Rewrite a text file (a kernel log) with :func:`scrub_text`; a missing file is skipped."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    scrubbed = scrub_text(text, replacements)
    if scrubbed != text:
        _write_text_atomic(path, scrubbed)


# -- notebooks -------------------------------------------------------------------------------------
def _published_string(value: Any, *, base: Path) -> Any:
    """An absolute path left after the replacements, published; anything else unchanged."""
    if isinstance(value, str) and value and Path(value).is_absolute():
        return published_path(value, base=base)
    return value


def scrub_notebook(
    path: Path,
    *,
    parameters: Mapping[str, Any],
    replacements: Mapping[str, str],
    base: Path,
) -> None:
    """Rewrite an executed notebook so it says no more than ``run.json`` may.

    In place (atomically): every string of the notebook (sources, outputs, metadata) goes
    through :func:`scrub_text` with ``replacements``; the cell tagged
    ``injected-parameters`` is regenerated from ``parameters`` with papermill's translator
    (same kernel and language); ``metadata.papermill.parameters`` becomes ``parameters``,
    ``metadata.papermill.environment_variables`` is emptied, and ``input_path`` /
    ``output_path`` are published paths (:func:`crmlib.io.published_path`).

    Parameters
    ----------
    path : Path
        The executed notebook (as papermill wrote it).
    parameters : mapping
        The published parameters, usually :func:`notebook_parameters`.
    replacements : mapping
        Absolute path -> published text, usually :func:`path_replacements`.
    base : Path
        The params file's folder.
    """
    import nbformat
    from papermill.translators import translate_parameters

    notebook = nbformat.from_dict(scrub_value(nbformat.read(path, as_version=4), replacements))
    kernelspec = notebook.metadata.get("kernelspec", {})
    kernel_name = kernelspec.get("name", "python3")
    language = kernelspec.get("language") or notebook.metadata.get("language_info", {}).get(
        "name", "python"
    )
    for cell in notebook.cells:
        if INJECTED_PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = translate_parameters(
                kernel_name, language, dict(parameters), "Parameters"
            )
    papermill = notebook.metadata.get("papermill")
    if isinstance(papermill, dict):
        papermill["parameters"] = dict(parameters)
        if "environment_variables" in papermill:
            papermill["environment_variables"] = {}
        for key in ("input_path", "output_path"):
            papermill[key] = _published_string(papermill.get(key), base=base)
    _write_text_atomic(path, nbformat.writes(notebook))


def publish_notebook(
    path: Path,
    *,
    params: WorkbookParams,
    overrides: Mapping[str, Any] | None = None,
    params_path: Path,
    build_dir: Path,
    run_dir: Path,
) -> None:
    """:func:`scrub_notebook` with the parameters and replacements of a run (the runner's call).

    Parameters
    ----------
    path : Path
        The executed notebook, in the build folder.
    params : WorkbookParams
        The run's params.
    overrides : mapping, optional
        The runner's overrides of the params file (injected as ``overrides``).
    params_path : Path
        The params file (absolute).
    build_dir : Path
        The temporary folder the run is built in.
    run_dir : Path
        The folder the run ends up in (``outputs/<run_name>``).
    """
    scrub_notebook(
        path,
        parameters=notebook_parameters(
            params, params_path=params_path, run_dir=run_dir, overrides=overrides
        ),
        replacements=path_replacements(
            params, params_path=params_path, run_dir=run_dir, build_dir=build_dir
        ),
        base=params_path.parent,
    )
