"""Real data to try the workbook on: the CDNOW transaction logs shipped inside lifetimes, as contract CSVs.

CDNOW (Fader & Hardie) is the purchase log of the customers who made their first purchase at
the online music retailer CDNOW in the first quarter of 1997, followed to the end of June
1998: the *master* log (23,570 customers, 69,659 rows) and the 1/10 *sample* (2,357
customers, 6,919 rows) on which BG/NBD was published. lifetimes 0.11.3 ships both in its
``datasets`` folder; :func:`copy_cdnow` rewrites them in the workbook's transactions contract
(``data/README.md``), with no network:

- ``cdnow_sample_transactions.csv`` from ``CDNOW_sample.txt`` (whitespace-separated, no header:
  master id, sample id, date ``YYYYMMDD``, CDs, dollars): ``customer_id`` is the **sample** id as
  written there (``0001`` to ``2357``, the ``ID`` of lifetimes' ``cdnow_customers_summary.csv``);
- ``cdnow_master_transactions.csv`` from ``CDNOW_master.txt`` (header ``customer_id date
  number_of_cds dollar_value``): ``customer_id`` is the master id (``00001`` to ``23570``).

Columns: ``order_id`` (``row-<n>``, the 1-based data row of the source log), ``customer_id``,
``order_ts`` (``YYYY-MM-DD 00:00:00``: CDNOW records days), ``amount`` (the dollars, two
decimals, copied as written) and ``quantity`` (CDs). Every source row is written, in order.

Two properties of CDNOW meet two ingest rules; what follows is what 01_ingest does with them:

- **identical rows.** 21 sample rows (255 master rows) repeat an earlier row exactly (same
  customer, day, CDs and dollars): separate purchases in CDNOW, counted by lifetimes and by the
  published summaries. Without an ``order_id`` column ingest would reject them as
  ``duplicate_row``; the ``order_id`` written here (the same ``row-<n>`` ingest would give them)
  keeps them as distinct orders.
- **zero-dollar rows.** 8 sample rows (80 master rows) have amount 0.00. They are written as
  they are: ingest accepts them (0 is not negative and is within the amount bounds) as orders
  whose net amount is not > 0, so ``is_purchase`` is false and BTYD summaries ignore them. In
  the sample each is the only purchase of its customer, so after ingest the sample has 2,349
  purchasing customers, not 2,357 (lifetimes' published summary counts these 8 customers with
  frequency 0); the master has 23,502 (68 customers bought only at 0.00).

References
----------
.. [1] Fader, P. S. & Hardie, B. G. S. (2001). Forecasting repeat sales at CDNOW: a case study.
   Interfaces 31(3), S94-S107.
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the easy
   way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pandas as pd

from crmlib.errors import SourceFileError

__all__ = ["CDNOW_FILES", "CDNOW_ROWS", "cdnow_source_dir", "read_cdnow", "copy_cdnow"]

log = logging.getLogger(__name__)

#: Output file per CDNOW log: ``{"sample": ..., "master": ...}``.
CDNOW_FILES: dict[str, str] = {
    "sample": "cdnow_sample_transactions.csv",
    "master": "cdnow_master_transactions.csv",
}
#: Data rows of each log in lifetimes 0.11.3 (the output files have as many, plus a header).
CDNOW_ROWS: dict[str, int] = {"sample": 6_919, "master": 69_659}

_SOURCES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}
_SAMPLE_COLUMNS = ["master_id", "customer_id", "date", "quantity", "amount"]
_MASTER_COLUMNS = ["customer_id", "date", "number_of_cds", "dollar_value"]
_OUTPUT_COLUMNS = ["order_id", "customer_id", "order_ts", "amount", "quantity"]


def cdnow_source_dir() -> Path:
    """The ``datasets`` folder of the installed lifetimes package (found without importing it).

    lifetimes changes warning filters when imported; locating its folder does not import it.

    Raises
    ------
    SourceFileError
        lifetimes is not installed.
    """
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SourceFileError(
            "the CDNOW logs ship with the lifetimes package, which is not installed: "
            "pip install lifetimes==0.11.3"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def read_cdnow(which: str = "sample") -> pd.DataFrame:
    """One CDNOW log from lifetimes' datasets folder, in the transactions contract.

    Transforms ``CDNOW_sample.txt`` or ``CDNOW_master.txt`` (one row per purchase record:
    customer, day, CDs, dollars) into one row per record: *order_id, customer_id, order_ts,
    amount, quantity*, all text as written to the CSV (see the module docstring).

    Parameters
    ----------
    which : {"sample", "master"}, default "sample"

    Returns
    -------
    pd.DataFrame
        Every source row, in file order; string columns.

    Raises
    ------
    ValueError
        ``which`` is not ``"sample"`` or ``"master"``.
    SourceFileError
        The log is missing or a row does not have the expected fields.

    Examples
    --------
    >>> read_cdnow("sample").head(2).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'order_id': 'row-1', 'customer_id': '0001', 'order_ts': '1997-01-01 00:00:00',
      'amount': '29.33', 'quantity': '2'},
     {'order_id': 'row-2', 'customer_id': '0001', 'order_ts': '1997-01-18 00:00:00',
      'amount': '29.73', 'quantity': '2'}]
    """
    if which not in _SOURCES:
        raise ValueError(f"which={which!r}: expected one of {sorted(_SOURCES)}")
    path = cdnow_source_dir() / _SOURCES[which]
    if not path.is_file():
        raise SourceFileError(f"{path}: CDNOW log not found in the installed lifetimes package")
    names = _SAMPLE_COLUMNS if which == "sample" else _MASTER_COLUMNS
    try:
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            skiprows=0 if which == "sample" else 1,
            names=names,
            dtype="str",
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise SourceFileError(f"{path}: not a CDNOW log ({exc})") from exc
    if which == "master":
        raw = raw.rename(columns={"number_of_cds": "quantity", "dollar_value": "amount"})
    if raw[["customer_id", "date", "quantity", "amount"]].isna().to_numpy().any():
        raise SourceFileError(f"{path}: a row has fewer than {len(names)} fields")
    try:
        days = pd.to_datetime(raw["date"], format="%Y%m%d")
    except ValueError as exc:
        raise SourceFileError(f"{path}: column 'date': {exc}") from exc
    return pd.DataFrame(
        {
            "order_id": [f"row-{n}" for n in range(1, len(raw) + 1)],
            "customer_id": raw["customer_id"],
            "order_ts": days.dt.strftime("%Y-%m-%d 00:00:00"),
            "amount": raw["amount"],
            "quantity": raw["quantity"],
        },
        columns=_OUTPUT_COLUMNS,
    )


def copy_cdnow(out_dir: str | Path = "data/external") -> dict[str, Path]:
    """Write both CDNOW logs shipped with lifetimes as transactions CSVs in ``out_dir``.

    Writes ``cdnow_sample_transactions.csv`` (6,919 rows, 2,357 customers) and
    ``cdnow_master_transactions.csv`` (69,659 rows, 23,570 customers), one row per CDNOW
    purchase record (see the module docstring), replacing earlier copies. No network: the
    logs are files of the installed lifetimes package. ``params/cdnow.yaml`` and
    ``params/cdnow_master.yaml`` read them from ``data/external/``.

    Parameters
    ----------
    out_dir : str or Path, default "data/external"
        Created if missing.

    Returns
    -------
    dict of str to Path
        ``{"sample": path, "master": path}``.

    Raises
    ------
    SourceFileError
        lifetimes or one of its CDNOW logs is missing or unreadable.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for which, name in CDNOW_FILES.items():
        log_rows = read_cdnow(which)
        path = folder / name
        log_rows.to_csv(path, index=False, lineterminator="\n")
        log.info("CDNOW %s: %d rows written to %s", which, len(log_rows), path)
        written[which] = path
    return written
