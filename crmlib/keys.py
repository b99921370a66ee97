"""Matching customer ids between tables, computed by Arrow.

pandas' ``map``, ``isin`` and ``merge(validate=...)`` on Arrow-backed text columns turn the
values into Python objects or build a pandas hash table of a million strings: about a second
per million ids. Arrow's ``index_in`` / ``is_in`` hash the strings in C++ in a third of that.
A missing value matches nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["is_in", "positions", "take"]


def _text(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("str"), from_pandas=True)


def positions(values: pd.Series, reference: pd.Series) -> np.ndarray:
    """The row of each of ``values`` in ``reference`` (its first, if repeated); -1 when absent.

    Both are compared as text; a missing value is never found.

    Examples
    --------
    >>> positions(pd.Series(["b", "z", None, "a"]), pd.Series(["a", "b", "a"]))
    array([ 1, -1, -1,  0])
    """
    left = _text(values)
    found = pc.index_in(left, value_set=_text(reference).cast(left.type), skip_nulls=True)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype="int64")


def is_in(values: pd.Series, universe: pd.Series) -> np.ndarray:
    """``values.isin(universe)`` for text columns (a missing value matches nothing).

    Examples
    --------
    >>> is_in(pd.Series(["a", "b", None], dtype="str"), pd.Series(["b", "c"], dtype="str"))
    array([False,  True, False])
    """
    return positions(values, universe) >= 0


def take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """``column``'s values at ``rows`` (from :func:`positions`), missing where a row is -1.

    As a left merge would give them: integers and booleans with a missing value become
    float and object, text stays text.

    Examples
    --------
    >>> take(pd.Series([10, 20]), np.array([1, -1, 0])).tolist()
    [20.0, nan, 10.0]
    """
    values = (
        column.array
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype)
        else column.to_numpy()
    )
    taken = pd.api.extensions.take(values, rows, allow_fill=True)
    return pd.Series(taken, name=column.name)
