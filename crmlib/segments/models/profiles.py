"""Who the segments are: segment x region, age band and acquisition channel, as shares."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmlib.checks import require_columns
from crmlib.config import DEFAULTS
from crmlib.errors import DataContractError
from crmlib.periods import as_date
from crmlib.privacy import MIN_CELL_SIZE, SmallCells
from crmlib.segments.models.rules import DEFAULT_SEGMENT_RULES, SegmentRule, segment_names

__all__ = ["AGE_BANDS", "PROFILE_COLUMNS", "UNKNOWN_VALUE", "age_bands", "segment_profiles"]

log = logging.getLogger(__name__)

#: Value of a customer with no customers row, a null or blank attribute, or no birth year.
UNKNOWN_VALUE = "(unknown)"
#: Age bands in order, then :data:`UNKNOWN_VALUE`.
AGE_BANDS: tuple[str, ...] = (
    "<25", "25\u201334", "35\u201344", "45\u201354", "55\u201364", "65+", UNKNOWN_VALUE,
)  # fmt: skip
#: Columns of :func:`segment_profiles`.
PROFILE_COLUMNS: tuple[str, ...] = (
    "dimension", "segment", "value", "customers", "share", "masked",
)  # fmt: skip

_AGE_BAND = "age_band"
_BIRTH_YEAR = "birth_year"
_MAX_AGE = 120
_AGE_EDGES = (25, 35, 45, 55, 65)


def age_bands(birth_year: pd.Series, *, as_of_date: dt.date | str) -> pd.Series:
    """The age band of each birth year at ``as_of_date``: age = as_of year - birth year.

    Bands: ``<25``, ``25–34``, ``35–44``, ``45–54``, ``55–64``, ``65+``. A missing or
    non-numeric birth year, or one giving an age below 0 or above 120, is ``(unknown)``.

    Examples
    --------
    >>> age_bands(pd.Series([2001, 2000, 1960, None]), as_of_date="2025-12-31").tolist()
    ['<25', '25–34', '65+', '(unknown)']
    """
    year = as_date(as_of_date).year
    age = year - pd.to_numeric(birth_year, errors="coerce").astype("float64").to_numpy()
    valid = np.isfinite(age) & (age >= 0) & (age <= _MAX_AGE)
    band = np.searchsorted(np.array(_AGE_EDGES, dtype="float64"), age, side="right")
    labels = np.array(AGE_BANDS, dtype=object)
    return pd.Series(
        pd.array(np.where(valid, labels[np.clip(band, 0, 5)], UNKNOWN_VALUE), dtype="str"),
        index=birth_year.index,
        name=_AGE_BAND,
    )


def _as_labels(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), UNKNOWN_VALUE).astype("str")


def _value_order(dimension: str, values: pd.Series) -> pd.Series:
    """Sort key before the value itself: age bands in band order; otherwise unknown last."""
    if dimension == _AGE_BAND:
        order = {band: i for i, band in enumerate(AGE_BANDS)}
        return values.map(order).fillna(len(order)).astype("int64")
    return (values == UNKNOWN_VALUE).astype("int64")


def segment_profiles(
    rfm: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of_date: dt.date | str,
    by: Sequence[str] = tuple(DEFAULTS.segments.profile_dimensions),
    min_cell_size: int = MIN_CELL_SIZE,
    rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES,
) -> pd.DataFrame:
    """Segment x customer attribute: how each segment splits by region, age band, channel.

    Transforms *rfm* (one row per customer with ``segment``) and *customers* (one row per
    customer) into one row per dimension of ``by``, segment and value: *dimension, segment,
    value, customers, share* (of the segment's customers; sums to 1 per segment and
    dimension) and *masked* (a display must not show the cell: it holds fewer than
    ``min_cell_size`` customers, or it is the next smallest cell of a segment and dimension
    with exactly one such cell, whose share 100% minus the others would reveal; see
    :meth:`crmlib.privacy.SmallCells.complement`). ``age_band`` is derived from
    ``birth_year`` at ``as_of_date`` (:func:`age_bands`). Customers without a customers row, with a null or blank value or no
    birth year are ``"(unknown)"``, which stays in the denominator. Empty cells have no row.

    Parameters
    ----------
    rfm : pd.DataFrame
        One row per customer: ``customer_id``, ``segment``.
    customers : pd.DataFrame
        The canonical customers table (one row per customer).
    as_of_date : date or str
        Date at which ages are taken.
    by : sequence of str, default ``segments.profile_dimensions``
        Columns of ``customers``; ``"age_band"`` needs ``birth_year``.
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``: cells with fewer customers are ``masked``.
    rules : sequence of SegmentRule, default DEFAULT_SEGMENT_RULES
        Only for the order of the segments (rule order; others after, alphabetically).

    Returns
    -------
    pd.DataFrame
        Columns :data:`PROFILE_COLUMNS`, by dimension (as in ``by``), segment, value.

    Raises
    ------
    DataContractError
        A ``by`` column (or ``birth_year`` for ``age_band``) is missing from ``customers``,
        or ``customers`` lists a customer twice.
    """
    as_of = as_date(as_of_date)
    rule = SmallCells(min_cell_size)
    require_columns(rfm, ("customer_id", "segment"), table_name="rfm")
    require_columns(customers, ("customer_id",), table_name="customers")
    by = list(by)
    needed: list[str] = []
    for dimension in by:
        if dimension == _AGE_BAND and _AGE_BAND not in customers.columns:
            if _BIRTH_YEAR not in customers.columns:
                raise DataContractError(
                    f"customers: column '{_BIRTH_YEAR}' is missing; it is needed for the "
                    f"'{_AGE_BAND}' profile (found {sorted(map(str, customers.columns))})"
                )
            needed.append(_BIRTH_YEAR)
        elif dimension not in customers.columns:
            raise DataContractError(
                f"customers: column '{dimension}' is missing; found "
                f"{sorted(map(str, customers.columns))}, expected the profile columns {by}"
            )
        else:
            needed.append(dimension)
    duplicated = customers["customer_id"].duplicated()
    if duplicated.any():
        raise DataContractError(
            f"customers: column 'customer_id' has {int(duplicated.sum())} duplicated values; "
            "expected one row per customer"
        )
    attributes = customers[["customer_id", *dict.fromkeys(needed)]].astype({"customer_id": "str"})
    joined = (
        rfm[["customer_id", "segment"]]
        .astype({"customer_id": "str"})
        .merge(attributes, on="customer_id", how="left")
    )
    segment = joined["segment"].astype("str")
    rank = {name: i for i, name in enumerate(segment_names(rules))}
    tables = []
    for dimension in by:
        if dimension == _AGE_BAND and _AGE_BAND not in attributes.columns:
            values = age_bands(joined[_BIRTH_YEAR], as_of_date=as_of)
        else:
            values = _as_labels(joined[dimension])
        counts = (
            pd.DataFrame({"segment": segment, "value": values})
            .groupby(["segment", "value"], observed=True)
            .size()
            .rename("customers")
            .reset_index()
        )
        totals = counts.groupby("segment")["customers"].transform("sum")
        counts["share"] = counts["customers"] / totals
        counts["masked"] = counts.groupby("segment")["customers"].transform(
            lambda cells: rule.complement(cells.to_numpy())
        )
        counts.insert(0, "dimension", dimension)
        counts["_segment_order"] = counts["segment"].map(rank).fillna(len(rank))
        counts["_value_order"] = _value_order(dimension, counts["value"])
        order = ["_segment_order", "segment", "_value_order", "value"]
        tables.append(
            counts.sort_values(order, kind="stable").drop(
                columns=["_segment_order", "_value_order"]
            )
        )
    if not tables:
        return pd.DataFrame(columns=list(PROFILE_COLUMNS))
    profiles = pd.concat(tables, ignore_index=True)
    profiles = profiles.astype(
        {
            "dimension": "str",
            "segment": "str",
            "value": "str",
            "customers": "int64",
            "share": "float64",
            "masked": "bool",
        }
    )
    log.info(
        "segment profiles by %s: %d cells, %d masked (< %d customers, or revealing one)",
        by,
        len(profiles),
        int(profiles["masked"].sum()),
        min_cell_size,
    )
    return profiles[list(PROFILE_COLUMNS)]
