"""crmlib.keys: Arrow's matching of customer ids equals pandas' isin, map and left merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.keys import is_in, positions, take


def _ids(rng: np.random.Generator, n: int, *, missing: float = 0.05) -> np.ndarray:
    ids = np.array([f"C{i:04d}" for i in rng.integers(0, 3_000, n)], dtype=object)
    ids[rng.random(n) < missing] = None
    return ids


def test_arrow_membership_equals_pandas_isin_and_nulls_match_nothing() -> None:
    rng = np.random.default_rng(7)
    ids = _ids(rng, 5_000)
    known = [f"C{i:04d}" for i in range(0, 3_000, 3)] + [None]
    for left_dtype, right_dtype in (("str", "str"), (object, "str"), ("str", object)):
        values, universe = pd.Series(ids, dtype=left_dtype), pd.Series(known, dtype=right_dtype)
        expected = (values.isin(universe.dropna()) & values.notna()).to_numpy()
        assert 0 < expected.sum() < len(expected)
        np.testing.assert_array_equal(is_in(values, universe), expected)
        np.testing.assert_array_equal(is_in(values, universe.dropna()), expected)


@pytest.mark.parametrize("dtype", ["str", object])
def test_positions_and_take_equal_a_left_merge_keeping_the_first_of_repeated_ids(
    dtype: object,
) -> None:
    """Every column type a lookup carries comes back as pandas' left merge (with the
    reference's repeated ids dropped, first kept) gives it, row for row."""
    rng = np.random.default_rng(11)
    left = pd.DataFrame({"customer_id": pd.Series(_ids(rng, 4_000), dtype=dtype)})
    reference = pd.DataFrame(
        {
            "customer_id": pd.Series(_ids(rng, 2_500, missing=0.0), dtype=dtype),
            "count": rng.integers(0, 9, 2_500),
            "amount": rng.normal(size=2_500),
            "flag": rng.random(2_500) < 0.5,
            "label": pd.Series(rng.choice(["a", "b", None], 2_500), dtype="str"),
            "day": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 99, 2_500), "D"),
        }
    )
    assert reference["customer_id"].duplicated().any()  # the first row of a repeated id counts
    rows = positions(left["customer_id"], reference["customer_id"])
    assert ((rows == -1) == ~left["customer_id"].isin(reference["customer_id"].dropna())).all()
    expected = left.merge(
        reference.drop_duplicates("customer_id"), on="customer_id", how="left"
    ).loc[left["customer_id"].notna().to_numpy()]
    for column in ("count", "amount", "flag", "label", "day"):
        got = take(reference[column], rows)[left["customer_id"].notna().to_numpy()]
        pd.testing.assert_series_equal(got, expected[column], check_index=False)
    assert (rows[left["customer_id"].isna().to_numpy()] == -1).all()
