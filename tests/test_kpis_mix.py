"""Shift-share: a rate's change split into rate and mix effects (crmlib.kpis.mix).

Known answers worked by hand, the exact-sum invariant on random tables, the symmetry of the
midpoint convention, groups that enter or leave the base, and clear errors on bad tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlib.kpis.mix import MIX_COLUMNS, mix_shift


def _table(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(group, base, outcome) for group, (base, outcome) in rows.items()],
        columns=["channel", "customers", "retained"],
    )


def test_simpsons_paradox_worked_by_hand() -> None:
    # email 80% of the base retaining 50%, paid 20% retaining 20%; then 20/80 at 55% and 25%
    before = _table({"email": (800, 400), "paid": (200, 40)})
    after = _table({"email": (200, 110), "paid": (800, 200)})
    split = mix_shift(before, after, by="channel")
    assert split.rate_before == pytest.approx(0.44)
    assert split.rate_after == pytest.approx(0.31)
    # rate: each channel +5 points, at the mean share 0.5 each
    assert split.rate_effect == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    # mix: email's share -0.6 at its mean rate 0.525, paid's +0.6 at 0.225
    assert split.mix_effect == pytest.approx(-0.6 * 0.525 + 0.6 * 0.225)
    assert list(split.table.columns) == list(MIX_COLUMNS)
    assert split.table["group"].tolist() == ["email", "paid"]
    assert (split.table["rate_effect"] > 0).all()  # both channels retain better


def _random_period(rng: np.random.Generator, groups: list[str]) -> pd.DataFrame:
    """Some of ``groups`` (about 85%), each with a random base and a random retention."""
    present = rng.uniform(size=len(groups)) < 0.85
    base = rng.integers(1, 5_000, size=len(groups)) * present
    outcome = rng.binomial(base, rng.uniform(0.05, 0.95, size=len(groups)))
    frame = pd.DataFrame({"channel": groups, "customers": base, "retained": outcome})
    return frame[frame["customers"] > 0]


def test_the_parts_sum_to_the_change_exactly_on_random_tables() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(200):
        groups = [f"g{i}" for i in range(int(rng.integers(1, 9)))]
        before, after = _random_period(rng, groups), _random_period(rng, groups)
        if before.empty or after.empty:
            continue
        split = mix_shift(before, after, by="channel")
        assert split.rate_effect + split.mix_effect == pytest.approx(split.change, abs=1e-12)
        assert split.table["rate_effect"].sum() == pytest.approx(split.rate_effect, abs=1e-12)
        assert split.table["change"].sum() == pytest.approx(split.change, abs=1e-12)
        checked += 1
    assert checked > 150


def test_the_midpoint_convention_is_symmetric() -> None:
    before = _table({"a": (300, 90), "b": (700, 420), "c": (50, 5)})
    after = _table({"a": (500, 200), "b": (400, 220), "c": (150, 30)})
    forward = mix_shift(before, after, by="channel")
    backward = mix_shift(after, before, by="channel")
    assert backward.rate_effect == pytest.approx(-forward.rate_effect)
    assert backward.mix_effect == pytest.approx(-forward.mix_effect)


def test_same_mix_is_all_rate_and_same_rates_are_all_mix() -> None:
    before = _table({"a": (100, 50), "b": (300, 60)})
    same_mix = mix_shift(before, _table({"a": (200, 120), "b": (600, 150)}), by="channel")
    assert same_mix.mix_effect == pytest.approx(0.0, abs=1e-15)
    assert same_mix.rate_effect == pytest.approx(same_mix.change)
    same_rates = mix_shift(before, _table({"a": (300, 150), "b": (100, 20)}), by="channel")
    assert same_rates.rate_effect == pytest.approx(0.0, abs=1e-15)
    assert same_rates.mix_effect == pytest.approx(same_rates.change)


def test_a_group_that_enters_or_leaves_the_base_is_all_mix() -> None:
    before = _table({"email": (500, 250), "store": (500, 100)})
    after = _table({"email": (500, 250), "app": (500, 400)})  # store closed, app opened
    split = mix_shift(before, after, by="channel")
    rows = split.table.set_index("group")
    assert rows.loc["app", "rate_effect"] == 0.0 and rows.loc["store", "rate_effect"] == 0.0
    assert np.isnan(rows.loc["app", "rate_before"]) and np.isnan(rows.loc["store", "rate_after"])
    assert rows.loc["app", "mix_effect"] == pytest.approx(0.5 * 0.8)
    assert rows.loc["store", "mix_effect"] == pytest.approx(-0.5 * 0.2)
    assert split.change == pytest.approx(0.65 - 0.35)
    assert split.rate_effect + split.mix_effect == pytest.approx(split.change, abs=1e-15)


def test_revenue_per_active_customer_uses_the_same_split() -> None:
    before = pd.DataFrame({"segment": ["champions", "at risk"], "active": [100, 400],
                           "revenue": [20_000.0, 16_000.0]})  # fmt: skip
    after = pd.DataFrame({"segment": ["champions", "at risk"], "active": [50, 450],
                          "revenue": [10_500.0, 18_000.0]})  # fmt: skip
    split = mix_shift(before, after, by="segment", base="active", outcome="revenue")
    assert split.rate_before == pytest.approx(72.0) and split.rate_after == pytest.approx(57.0)
    assert split.mix_effect < 0 < split.rate_effect  # fewer champions, each spending more


@pytest.mark.parametrize(
    ("after", "message"),
    [
        (pd.DataFrame({"channel": ["a"], "customers": [10]}), r"after table has no column 'retained'"),
        (pd.DataFrame({"channel": ["a"], "customers": [-1], "retained": [0]}), r"'customers' of group 'a' is negative"),
        (pd.DataFrame({"channel": ["a"], "customers": [10], "retained": ["x"]}), r"'retained' of group 'a' is not a finite number"),
        (pd.DataFrame({"channel": ["a"], "customers": [0], "retained": [0]}), r"'customers' sums to 0"),
    ],
)  # fmt: skip
def test_bad_tables_are_named(after: pd.DataFrame, message: str) -> None:
    before = _table({"a": (10, 5)})
    with pytest.raises(ValueError, match=message):
        mix_shift(before, after, by="channel")
