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


# -- the groups of a period, from the orders (crmlib.kpis.kpis_by_group) ---------------------
from test_kpis import TINY, TINY_AS_OF, random_transactions  # noqa: E402

from crmlib import kpis as K  # noqa: E402
from crmlib.engine import Engine  # noqa: E402
from crmlib.kpis.mix import period_mix  # noqa: E402


def _customers(channels: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": list(channels), "acquisition_channel": list(channels.values())}
    )


def test_kpis_by_group_worked_by_hand() -> None:
    # A and B came through web, C through a shop; D is missing from the customers table.
    # January: A and B buy (180 net); C's only order is cancelled, so C is not active.
    # March: A (60) and C (80) buy, neither bought in February; B's unmatched refund (-15)
    # is in no group, as B bought nothing in March. April: A (returning, 40) and B (20) for
    # web, D (25 + 35) unknown; web's at-risk customers are March's A, shop's March's C.
    with Engine(threads=1) as engine:
        engine.register("transactions", TINY)
        engine.register("customers", _customers({"A": "web", "B": "web", "C": "shop"}))
        table = K.kpis_by_group(engine, by="acquisition_channel", as_of_date=TINY_AS_OF)
    assert table is not None
    got = {
        (row.period_label, row.group): (
            row.active_customers, row.returning_customers, row.at_risk_customers, row.revenue
        )
        for row in table.itertuples()
    }  # fmt: skip
    assert got == {
        ("2025-01", "(unknown)"): (0, 0, 0, 0.0), ("2025-01", "shop"): (0, 0, 0, 0.0),
        ("2025-01", "web"): (2, 0, 0, 180.0),
        ("2025-02", "(unknown)"): (0, 0, 0, 0.0), ("2025-02", "shop"): (0, 0, 0, 0.0),
        ("2025-02", "web"): (0, 0, 2, 0.0),
        ("2025-03", "(unknown)"): (0, 0, 0, 0.0), ("2025-03", "shop"): (1, 0, 0, 80.0),
        ("2025-03", "web"): (1, 0, 0, 60.0),
        ("2025-04", "(unknown)"): (1, 0, 0, 60.0), ("2025-04", "shop"): (0, 0, 1, 0.0),
        ("2025-04", "web"): (2, 1, 1, 60.0),
    }  # fmt: skip
    assert table["is_complete"].all()


def test_groups_add_up_to_the_kpis_of_every_period() -> None:
    transactions = random_transactions(seed=5)
    ids = sorted(transactions["customer_id"].unique())
    rng = np.random.default_rng(5)
    channels = dict(zip(ids, rng.choice(["web", "shop", "app", None], size=len(ids)), strict=True))
    known = _customers({c: v for c, v in channels.items() if c != ids[0]})  # ids[0]: unknown
    as_of = "2024-05-15"
    with Engine(threads=1) as engine:
        engine.register("transactions", transactions)
        engine.register("customers", known)
        kpis = K.kpis_by_period(engine, as_of_date=as_of).set_index("period_label")
        table = K.kpis_by_group(engine, by="acquisition_channel", as_of_date=as_of)
    assert table is not None
    sums = table.groupby("period_label")[
        ["active_customers", "returning_customers", "at_risk_customers", "revenue"]
    ].sum()
    assert sums.index.tolist() == kpis.index.tolist()
    assert (sums["active_customers"] == kpis["active_customers"]).all()
    assert (sums["returning_customers"] == kpis["returning_customers"]).all()
    previous_active = kpis["active_customers"].shift(1, fill_value=0)
    assert (sums["at_risk_customers"] == previous_active).all()
    # revenue: the KPI's, less the rows of customers with no purchase in the period
    dated = transactions[transactions["order_ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    month = dated["order_ts"].dt.strftime("%Y-%m")
    buyers = set(
        zip(
            month[dated["is_purchase"]], dated.loc[dated["is_purchase"], "customer_id"], strict=True
        )
    )
    of_buyers = [(m, c) in buyers for m, c in zip(month, dated["customer_id"], strict=True)]
    expected = dated[of_buyers].groupby(month[of_buyers])["amount"].sum()
    expected = expected.reindex(kpis.index, fill_value=0.0)
    np.testing.assert_allclose(sums["revenue"], expected, rtol=1e-12, atol=1e-9)
    assert set(table["group"]) == {"web", "shop", "app", "(unknown)"}


def test_without_a_customers_table_the_split_is_skipped_with_a_reason() -> None:
    with Engine(threads=1) as engine:
        engine.register("transactions", TINY)
        table = K.kpis_by_group(
            engine, by="acquisition_channel", as_of_date=TINY_AS_OF, missing="skip"
        )
    assert table is None
    mix = period_mix(table, by="acquisition_channel")
    assert mix.split is None
    assert "no customers table" in K.describe_mix(mix, currency="EUR")


def _two_periods(rows: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """``group -> (at risk before, returning before, at risk after, returning after)``."""
    records = []
    for group, (n0, y0, n1, y1) in rows.items():
        for label, n, y in (("2025-01", n0, y0), ("2025-02", n1, y1)):
            records.append({"period_label": label, "is_complete": True, "group": group,
                            "at_risk_customers": n, "returning_customers": y,
                            "active_customers": n, "revenue": 10.0 * y})  # fmt: skip
    return pd.DataFrame(records)


def test_small_groups_are_pooled_and_the_totals_stay() -> None:
    table = _two_periods({"web": (500, 250, 400, 220), "shop": (300, 90, 380, 110),
                          "app": (4, 2, 6, 1), "tv": (50, 20, 0, 0)})  # fmt: skip
    mix = period_mix(table, by="channel", min_cell_size=10)
    assert mix.split is not None
    # app is small; the smallest other group (tv: 50 before, none after) joins (other)
    assert mix.split.table["group"].tolist() == ["(other)", "shop", "web"]
    assert mix.pooled == 2
    assert mix.split.rate_before == pytest.approx(362 / 854)
    assert mix.split.rate_after == pytest.approx(331 / 786)
    assert mix.split.rate_effect + mix.split.mix_effect == pytest.approx(
        mix.split.change, abs=1e-15
    )
    shown = K.mix_table(mix, currency="EUR", min_cell_size=10)
    assert shown is not None
    assert shown.index.tolist() == ["(other)", "shop", "web", "All customers"]
    assert shown.iloc[-1, 0] == "854"


def test_period_mix_says_why_it_cannot_split() -> None:
    one = _two_periods({"web": (500, 250, 400, 220)})
    one.loc[one["period_label"] == "2025-02", "is_complete"] = False
    assert "fewer than two complete periods" in period_mix(one, by="channel").reason
    empty = _two_periods({"web": (0, 0, 400, 220)})
    assert "2025-01 has no at risk customers" in period_mix(empty, by="channel").reason
    with pytest.raises(ValueError, match="no period labelled '2024-12'"):
        period_mix(one, by="channel", before="2024-12", after="2025-01")


def test_on_the_sample_every_month_splits_exactly_and_matches_the_kpis(sample_ingested) -> None:
    params, run = sample_ingested
    with Engine(threads=1) as engine:
        run.register(engine, "transactions", "customers")
        kpis = K.kpis_by_period(engine, as_of_date=params.as_of_date).set_index("period_label")
        table = K.kpis_by_group(engine, by="acquisition_channel", as_of_date=params.as_of_date)
    labels = kpis.index[kpis["is_complete"]].tolist()
    checked = 0
    for before, after in zip(labels[1:], labels[2:], strict=False):
        for metric in ("retention", "revenue_per_active"):
            mix = period_mix(
                table, by="acquisition_channel", metric=metric, before=before, after=after
            )
            assert mix.split is not None
            split = mix.split
            # exact in floating point: the parts are the change to the last bits
            assert split.rate_effect + split.mix_effect == pytest.approx(
                split.change, rel=1e-12, abs=1e-14
            )
            assert split.table["change"].sum() == pytest.approx(split.change, rel=1e-12, abs=1e-14)
            if metric == "retention":
                assert split.rate_before == pytest.approx(
                    kpis.loc[before, "retention_rate"], rel=1e-12
                )
                assert split.rate_after == pytest.approx(
                    kpis.loc[after, "retention_rate"], rel=1e-12
                )
            checked += 1
    assert checked >= 40
    latest = period_mix(table, by="acquisition_channel")
    assert (latest.before, latest.after) == (labels[-2], labels[-1])
    sentence = K.describe_mix(latest, currency="EUR")
    assert f"{latest.split.rate_before:.1%}" in sentence and "mix effect" in sentence
