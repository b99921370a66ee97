"""Activation exports: CSV lists and their manifest, written atomically, stale lists removed."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crmlib.activation.audience import (
    EXPORT_COLUMNS,
    FUNNEL_COLUMNS,
    FUNNEL_STEPS,
    LOOKALIKE_COLUMNS,
    Audience,
)
from crmlib.activation.campaigns import _SLUG
from crmlib.checks import require_columns
from crmlib.io import RunFolder, read_json, write_json_atomic

__all__ = ["write_exports"]

log = logging.getLogger(__name__)

_MANIFEST = "manifest"


def _write_csv_atomic(path: Path, frame: pd.DataFrame) -> Path:
    """Write a CSV so a reader never sees half a file; the same frame gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, index=False, lineterminator="\n")
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _campaign_manifest(audience: Audience) -> dict[str, Any]:
    campaign = audience.campaign
    counts = dict(zip(audience.funnel["step"], audience.funnel["customers"], strict=True))
    settings = campaign.model_dump(mode="json")
    settings.pop("name")
    return {
        "campaign": campaign.name,
        "file": f"{campaign.name}.csv",
        "as_of_date": audience.as_of_date,
        "baseline_date": audience.baseline_date,
        "seed": audience.seed,
        **settings,
        "funnel": {step: int(counts[step]) for step in FUNNEL_STEPS},
        "rows": len(audience.export),
        "control_share_requested": campaign.control_share,
        "control_share_realised": audience.realised_control_share,
        "notes": list(audience.notes),
    }


def write_exports(
    run: RunFolder,
    audiences: Sequence[Audience],
    *,
    lookalike: pd.DataFrame | None = None,
    lookalike_name: str = "lookalike_seed",
    manifest_name: str = _MANIFEST,
) -> pd.DataFrame:
    """Write the activation lists and their manifest to ``<run>/exports/``.

    Writes ``exports/<campaign>.csv`` per audience (:data:`EXPORT_COLUMNS`, sorted by
    customer_id, UTF-8, ``\\n`` line ends: identical inputs give byte-identical files),
    ``exports/<lookalike_name>.csv`` when ``lookalike`` is given, and ``exports/manifest.json``:
    per campaign its settings, as_of and baseline dates, seed, funnel counts, rows, control share
    requested and realised, and notes; for the look-alike seed its counts and notes. The manifest
    holds counts and labels only, never a customer id. Every file is written to a temporary name
    and renamed. Exports listed in a previous manifest of this folder but not written now are
    removed, so a stale list is never picked up by a CRM tool.

    Parameters
    ----------
    run : RunFolder
    audiences : sequence of Audience
        From :func:`build_audience`; campaign names must be unique.
    lookalike : pd.DataFrame, optional
        From :func:`lookalike_seed`.
    lookalike_name : str, default "lookalike_seed"
        File name (a slug) of the look-alike export.
    manifest_name : str, default "manifest"
        File name (a slug) of the manifest. Each stage that exports keeps its own manifest
        (04_segments ``manifest``, 06_churn ``churn_manifest``), so one stage's stale-file
        clean-up never removes another stage's lists.

    Returns
    -------
    pd.DataFrame
        The funnels of every campaign (:data:`FUNNEL_COLUMNS`), for the report.
    """
    names = [audience.campaign.name for audience in audiences]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"campaign {repeated[0]!r}: two audiences have this name")
    if not _SLUG.match(manifest_name) or manifest_name in names:
        raise ValueError(f"manifest_name {manifest_name!r}: expected a slug that no campaign uses")
    if lookalike is not None:
        if not _SLUG.match(lookalike_name) or lookalike_name == manifest_name:
            raise ValueError(f"lookalike_name {lookalike_name!r} is not a slug for a file name")
        if lookalike_name in names:
            raise ValueError(
                f"campaign {lookalike_name!r}: clashes with lookalike_name {lookalike_name!r}"
            )
        require_columns(lookalike, list(LOOKALIKE_COLUMNS), table_name="lookalike")
    exports_dir = run.exports_dir
    written: list[str] = []
    for audience in audiences:
        export = audience.export[list(EXPORT_COLUMNS)].sort_values(
            "customer_id", kind="stable", ignore_index=True
        )
        _write_csv_atomic(exports_dir / f"{audience.campaign.name}.csv", export)
        written.append(f"{audience.campaign.name}.csv")
    lookalike_entry: dict[str, Any] | None = None
    if lookalike is not None:
        seed_rows = lookalike[list(LOOKALIKE_COLUMNS)].sort_values(
            "customer_id", kind="stable", ignore_index=True
        )
        _write_csv_atomic(exports_dir / f"{lookalike_name}.csv", seed_rows)
        written.append(f"{lookalike_name}.csv")
        lookalike_entry = {
            "file": f"{lookalike_name}.csv",
            "segments": sorted(seed_rows["segment"].astype("str").unique().tolist()),
            "rows": len(seed_rows),
            "funnel": dict(lookalike.attrs.get("funnel", {})),
            "notes": list(lookalike.attrs.get("notes", [])),
        }
    manifest_path = exports_dir / f"{manifest_name}.json"
    _remove_stale(manifest_path, keep=set(written))
    write_json_atomic(
        manifest_path,
        {
            "campaigns": [_campaign_manifest(audience) for audience in audiences],
            "lookalike": lookalike_entry,
        },
    )
    log.info("wrote %d activation lists and %s", len(written), manifest_path.name)
    funnels = [audience.funnel for audience in audiences]
    if not funnels:
        return pd.DataFrame(columns=list(FUNNEL_COLUMNS)).astype({"customers": "int64"})
    return pd.concat(funnels, ignore_index=True)


def _remove_stale(manifest_path: Path, *, keep: set[str]) -> None:
    """Delete the exports a previous manifest listed that are not being written now."""
    if not manifest_path.is_file():
        return
    previous = read_json(manifest_path)
    listed = [entry.get("file") for entry in previous.get("campaigns", [])]
    if previous.get("lookalike"):
        listed.append(previous["lookalike"].get("file"))
    for name in listed:
        if isinstance(name, str) and name not in keep and _SLUG.match(name.removesuffix(".csv")):
            stale = manifest_path.parent / name
            if stale.is_file():
                stale.unlink()
                log.info("removed stale export %s", name)
