"""Write a generated CRM as CSV files (fast Arrow text formatting) and ``truth.json``."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from crmlib.synth._constants import DAY_S
from crmlib.synth._crm import SyntheticCRM

__all__ = ["write"]

log = logging.getLogger(__name__)


def _money_text(amount: np.ndarray) -> pa.Array:
    """Format money exactly with two decimals (via an Arrow decimal built from cents)."""
    cents = np.round(np.asarray(amount, dtype=float) * 100).astype(np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0], words[:, 1] = cents, cents >> 63
    decimals = pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words)])
    return pc.cast(decimals, pa.string())


@functools.cache
def _time_of_day_text() -> pa.Array:
    """``HH:MM:SS`` for every second of a day (built once)."""
    seconds = np.arange(DAY_S)
    return pa.array(
        [
            f"{h:02d}:{m:02d}:{x:02d}"
            for h, m, x in zip(seconds // 3600, seconds // 60 % 60, seconds % 60, strict=True)
        ]
    )


def _timestamp_text(stamps: np.ndarray) -> pa.Array:
    """Format ``datetime64`` values as ``YYYY-MM-DD HH:MM:SS`` (lookup tables, fast); NaT is null."""
    stamps = stamps.astype("datetime64[s]")
    missing = np.isnat(stamps)
    if missing.all():
        return pa.nulls(stamps.size, type=pa.string())
    if missing.any():
        stamps = np.where(missing, stamps[~missing][0], stamps)
    seconds = stamps.astype(np.int64)
    days = np.floor_divide(seconds, DAY_S)
    first_day = int(days.min())
    calendar = np.arange(first_day, int(days.max()) + 1).astype("datetime64[D]")
    day_text = pa.array([f"{d} " for d in np.datetime_as_string(calendar)])
    text = pc.binary_join_element_wise(
        day_text.take(pa.array(days - first_day)),
        _time_of_day_text().take(pa.array(seconds - days * DAY_S)),
        "",
    )
    if missing.any():
        text = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
    return text


def _text_chunk(frame: pd.DataFrame, money: Sequence[str]) -> pa.Table:
    """One chunk of a table as Arrow columns in the written text format."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name]
        if name in money:
            columns[name] = _money_text(values.to_numpy())
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            columns[name] = _timestamp_text(values.to_numpy())
        elif isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
            values.dtype
        ):
            columns[name] = pa.Array.from_pandas(values).cast(pa.string())
        else:
            columns[name] = pa.Array.from_pandas(values)
    return pa.table(columns)


def _write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    money: Sequence[str] = (),
    inserts: pd.DataFrame | None = None,
    chunk_rows: int = 1_000_000,
) -> None:
    """Write a frame as CSV in chunks; ``inserts`` (text rows with ``position``) are interleaved."""
    sink = (
        pa.CompressedOutputStream(str(path), "gzip")
        if path.suffix == ".gz"
        else pa.OSFile(str(path), "wb")
    )
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    positions = (
        np.empty(0, dtype=np.int64) if inserts is None else inserts["position"].to_numpy(np.int64)
    )
    writer: pcsv.CSVWriter | None = None
    try:
        n_rows = len(frame)
        for lo in range(0, max(n_rows, 1), chunk_rows):
            hi = min(lo + chunk_rows, n_rows)
            chunk = _text_chunk(frame.iloc[lo:hi], money)
            if inserts is not None:
                chunk = chunk.cast(pa.schema([(c, pa.string()) for c in chunk.column_names]))
                take = (positions >= lo) & ((positions < hi) | (hi == n_rows))
                if take.any():
                    extra = pa.Table.from_pandas(
                        inserts.loc[take, list(frame.columns)], preserve_index=False
                    )
                    extra = extra.cast(chunk.schema)
                    keys = np.concatenate([2 * np.arange(lo, hi) + 1, 2 * positions[take]])
                    chunk = pa.concat_tables([chunk, extra]).take(
                        pa.array(np.argsort(keys, kind="stable"))
                    )
            if writer is None:
                sink.write((",".join(frame.columns) + "\n").encode())
                writer = pcsv.CSVWriter(sink, chunk.schema, write_options=options)
            writer.write_table(chunk)
    finally:
        if writer is not None:
            writer.close()
        sink.close()


def write(crm: SyntheticCRM, out_dir: str | Path, *, compress: bool = False) -> dict[str, Path]:
    """Write the contract tables, the suppression list and the planted truth.

    Timestamps are written ``YYYY-MM-DD HH:MM:SS``, money with two decimals, booleans as
    ``true``/``false`` and missing values as empty fields. The injected dirty rows are
    interleaved with the valid transaction rows at their recorded positions. The suppression
    list is always a plain ``suppression.csv`` (a CRM team edits it by hand); the latent
    per-customer truth goes to ``truth_customers.csv`` and the rest of the truth to
    ``truth.json``.

    Parameters
    ----------
    crm : SyntheticCRM
        As returned by :func:`generate`.
    out_dir : str or Path
        Folder to write into; created if missing, existing files are replaced.
    compress : bool, default False
        Write ``*.csv.gz`` instead of ``*.csv`` (except ``suppression.csv``).

    Returns
    -------
    dict[str, Path]
        ``customers``, ``transactions``, ``events``, ``assignments``, ``suppression``,
        ``surveys``, ``marketing_spend`` (when generated), ``truth_customers`` and ``truth``
        paths. ``marketing_spend.csv`` writes ``date`` as ``YYYY-MM-DD`` and ``spend`` with
        two decimals.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if compress else ".csv"
    paths = {
        name: out / f"{name}{suffix}"
        for name in ("customers", "transactions", "events", "assignments")
    }
    _write_csv(crm.customers, paths["customers"])
    dirty = crm.dirty_transactions if len(crm.dirty_transactions) else None
    _write_csv(crm.transactions, paths["transactions"], money=["amount"], inserts=dirty)
    _write_csv(crm.events, paths["events"])
    _write_csv(crm.assignments, paths["assignments"], money=["cost"])
    paths["suppression"] = out / "suppression.csv"
    _write_csv(crm.suppression, paths["suppression"])
    for name in ("surveys", "marketing_spend"):
        table = getattr(crm, name)
        if len(table.columns):
            paths[name] = out / f"{name}{suffix}"
            _write_csv(table, paths[name], money=["spend"] if name == "marketing_spend" else ())
    paths["truth_customers"] = out / f"truth_customers{suffix}"
    _write_csv(crm.latent, paths["truth_customers"])
    paths["truth"] = out / "truth.json"
    paths["truth"].write_text(json.dumps(crm.truth, indent=2) + "\n")
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths
