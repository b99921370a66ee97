"""Writing a retail log: the line-item CSV, the per-customer latent truth and ``truth.json``."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmlib.synth._retail import RetailLog
from crmlib.synth._retail_catalog import RETAIL_COLUMNS, csv_field
from crmlib.synth._writer import _timestamp_text, _write_csv

__all__ = ["price_text", "write_retail_log"]

log = logging.getLogger(__name__)


def _decimal_text(units: np.ndarray, scale: int) -> pa.Array:
    """Integers ``units`` as exact decimals with ``scale`` places (via an Arrow decimal)."""
    units = np.asarray(units, dtype=np.int64)
    words = np.empty((units.size, 2), dtype=np.int64)
    words[:, 0], words[:, 1] = units, units >> 63
    decimals = pa.Array.from_buffers(
        pa.decimal128(18, scale), units.size, [None, pa.py_buffer(words)]
    )
    return pc.cast(decimals, pa.string())


def price_text(price_milli: np.ndarray) -> pa.Array:
    """Prices in thousandths of a pound as text: two decimals, three when a fraction of a cent.

    Examples
    --------
    >>> price_text(np.array([2550, 16448, 0])).to_pylist()
    ['2.55', '16.448', '0.00']
    """
    price_milli = np.asarray(price_milli, dtype=np.int64)
    return pc.if_else(
        pa.array(price_milli % 10 != 0),
        _decimal_text(price_milli, 3),
        _decimal_text(price_milli // 10, 2),
    )


def _category_text(values: pd.Series) -> pa.Array:
    """A categorical column as CSV fields (quoted where needed), one per row."""
    categorical = pd.Categorical(values)
    fields = pa.array([csv_field(str(c)) for c in categorical.categories], type=pa.string())
    return fields.take(pa.array(categorical.codes.astype(np.int32)))


def _line_bytes(chunk: pd.DataFrame) -> bytes:
    """Rows of the log as CSV text (fields joined in Arrow: no Python loop over rows)."""
    customer = pa.array(chunk["Customer ID"], type=pa.int64()).cast(pa.string())
    fields = [
        pa.Array.from_pandas(chunk["Invoice"]).cast(pa.string()),
        _category_text(chunk["StockCode"]),
        _category_text(chunk["Description"]),
        pa.array(chunk["Quantity"].to_numpy(np.int64)).cast(pa.string()),
        _timestamp_text(chunk["InvoiceDate"].to_numpy()),
        price_text(np.rint(chunk["Price"].to_numpy(float) * 1000).astype(np.int64)),
        pc.fill_null(customer, ""),
        _category_text(chunk["Country"]),
    ]
    rows = pc.binary_join_element_wise(*fields, ",")
    rows = pc.binary_join_element_wise(rows, pa.scalar(""), "\n")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[
        rows.offset : rows.offset + len(rows) + 1
    ]
    data = rows.buffers()[2]
    return b"" if data is None else data.to_pybytes()[int(offsets[0]) : int(offsets[-1])]


def _write_lines(lines: pd.DataFrame, path: Path, *, chunk_rows: int = 500_000) -> None:
    """Write the log as CSV; ``.gz`` at gzip level 6 with no timestamp (the same bytes each time)."""
    with open(path, "wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
                _write_chunks(lines, packed.write, chunk_rows=chunk_rows)
        else:
            _write_chunks(lines, raw.write, chunk_rows=chunk_rows)


def _write_chunks(
    lines: pd.DataFrame, write: Callable[[bytes], object], *, chunk_rows: int
) -> None:
    """The header, then the rows ``chunk_rows`` at a time, through ``write``."""
    write((",".join(RETAIL_COLUMNS) + "\n").encode())
    for lo in range(0, len(lines), chunk_rows):
        write(_line_bytes(lines.iloc[lo : lo + chunk_rows]))


def write_retail_log(
    retail: RetailLog, out_dir: str | Path, *, compress: bool = False
) -> dict[str, Path]:
    """Write a retail log: ``transactions.csv``, ``truth_customers.csv`` and ``truth.json``.

    ``transactions.csv`` has the columns of :data:`RETAIL_COLUMNS`: *InvoiceDate* written
    ``YYYY-MM-DD HH:MM:SS`` (whole minutes), *Price* with two decimals or three for a
    fraction of a cent, *Customer ID* empty on guest lines, descriptions with a comma quoted.

    Parameters
    ----------
    retail : RetailLog
        As returned by :func:`crmlib.synth.generate_retail_log`.
    out_dir : str or Path
        Folder to write into; created if missing, existing files are replaced.
    compress : bool, default False
        Write ``*.csv.gz`` instead of ``*.csv``.

    Returns
    -------
    dict[str, Path]
        ``transactions``, ``truth_customers`` and ``truth`` paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if compress else ".csv"
    paths = {
        "transactions": out / f"transactions{suffix}",
        "truth_customers": out / f"truth_customers{suffix}",
        "truth": out / "truth.json",
    }
    _write_lines(retail.lines, paths["transactions"])
    _write_csv(retail.latent, paths["truth_customers"])
    paths["truth"].write_text(json.dumps(retail.truth, indent=2) + "\n")
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths
