"""Tests of time to second order: SQL durations by hand, Kaplan-Meier by hand and vs statsmodels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_tables import purchase_transactions
from statsmodels.duration.survfunc import SurvfuncRight

from crmlib.cohorts.models.pooling import pool_groups
from crmlib.cohorts.models.survival import KM_COLUMNS, RATE_COLUMNS, km_curves, second_order_rates
from crmlib.cohorts.plots import plot_km_curves
from crmlib.cohorts.queries.survival import second_order_durations
from crmlib.engine import Engine
from crmlib.errors import DataContractError

D = dt.date


def _transactions(rows: list[tuple[str, str, str, float, bool]]) -> pd.DataFrame:
    """:func:`purchase_transactions` with the amount columns the purchase facts are built from
    (``crmlib.facts``): a negative amount is a refund."""
    frame = purchase_transactions(rows)
    return frame.assign(
        gross_amount=frame["amount"].clip(lower=0.0), refund_amount=frame["amount"].clip(upper=0.0)
    )


AS_OF = "2025-03-31"
TINY = _transactions(
    [
        ("O1", "A", "2025-01-10 12:00", 10.0, True),  # one order: censored at as_of
        ("O2", "B", "2025-01-05 08:00", 10.0, True),
        ("O3", "B", "2025-04-02 08:00", 10.0, True),  # after as_of: B is censored
        ("R1", "C", "2025-02-01 08:00", -5.0, False),  # return only: C has no first order
        ("O4", "D", "2025-01-20 08:00", 0.0, False),  # cancelled: not D's first order
        ("O5", "D", "2025-02-01 08:00", 20.0, True),
        ("O6", "D", "2025-02-05 08:00", 0.0, False),  # cancelled: not D's second order
        ("O7", "D", "2025-02-11 08:00", 20.0, True),
        ("O8", "E", "2025-03-01 10:00", 5.0, True),
        ("O9", "E", "2025-03-01 15:00", 5.0, True),  # same day: not a second order
        ("O10", "E", "2025-03-04 09:00", 5.0, True),
        ("O11", "F", "2025-03-31 23:00", 5.0, True),  # first order on as_of: censored at 0
    ]
)
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C", "D", "F"],  # E has no customers row
        "acquisition_channel": ["social", None, "email", "email", "social"],
    }
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        eng.register("customers", CUSTOMERS)
        yield eng


def test_durations_hand_checked(engine: Engine) -> None:
    durations = second_order_durations(engine, as_of_date=AS_OF).set_index("customer_id")
    assert sorted(durations.index) == ["A", "B", "D", "E", "F"]  # C: return only
    # customer: first order, second order, duration days, event, channel
    expected = {
        "A": (D(2025, 1, 10), None, 80, False, "social"),  # Jan 10 -> Mar 31: 21 + 28 + 31
        "B": (D(2025, 1, 5), None, 85, False, "(unknown)"),  # Apr 2 unseen; null channel
        "D": (D(2025, 2, 1), D(2025, 2, 11), 10, True, "email"),
        "E": (D(2025, 3, 1), D(2025, 3, 4), 3, True, "(unknown)"),  # no customers row
        "F": (D(2025, 3, 31), None, 0, False, "social"),
    }
    for customer, (first, second, days, event, channel) in expected.items():
        row = durations.loc[customer]
        assert row["first_order_date"] == first, customer
        assert (row["second_order_date"] if pd.notna(row["second_order_date"]) else None) == second
        assert (row["duration_days"], bool(row["event"]), row["acquisition_channel"]) == (
            days,
            event,
            channel,
        ), customer
    assert durations.loc["D", "followup_days"] == 58  # Feb 1 -> Mar 31
    assert durations.loc["A", "cohort_label"] == "2025-01"
    assert durations.loc["E", "cohort_start"] == D(2025, 3, 1)


def test_durations_leap_day_and_earlier_end_dates() -> None:
    # G: a refund-only day, then purchases on 2024-02-28 and (leap day) 2024-02-29 and
    # 2024-03-01; H: two orders on 2024-02-29 only, then a return. Each as_of sees only what
    # was bought by then.
    orders = _transactions(
        [
            ("R1", "G", "2024-02-20 10:00", -3.0, False),
            ("O1", "G", "2024-02-28 23:30", 10.0, True),
            ("O2", "G", "2024-02-29 00:10", 10.0, True),
            ("O3", "G", "2024-03-01 12:00", 10.0, True),
            ("O4", "H", "2024-02-29 08:00", 10.0, True),
            ("O5", "H", "2024-02-29 09:00", 10.0, True),
            ("R2", "H", "2024-03-02 09:00", -10.0, False),
        ]
    )
    with Engine(threads=1) as eng:
        eng.register("transactions", orders)
        found = {
            as_of: [
                (row.customer_id, None if pd.isna(row.second_order_date) else
                 row.second_order_date, row.duration_days, bool(row.event))
                for row in second_order_durations(eng, as_of_date=as_of, group_cols=())
                .itertuples()
            ]
            for as_of in ("2024-02-27", "2024-02-28", "2024-02-29", "2024-03-31")
        }  # fmt: skip
    assert found["2024-02-27"] == []
    assert found["2024-02-28"] == [("G", None, 0, False)]
    # G's second order is the next calendar day, 10 minutes later; H is censored on day 0
    assert found["2024-02-29"] == [("G", D(2024, 2, 29), 1, True), ("H", None, 0, False)]
    # Feb 29 -> Mar 31 is 31 days; H's two same-day orders and a return are no second order
    assert found["2024-03-31"] == [("G", D(2024, 2, 29), 1, True), ("H", None, 31, False)]


def test_durations_without_customers_table() -> None:
    with Engine(threads=1) as eng:
        eng.register("transactions", TINY)
        durations = second_order_durations(eng, as_of_date=AS_OF, group_cols=("region",))
    assert set(durations["region"]) == {"(unknown)"}


def test_durations_bad_group_column(engine: Engine) -> None:
    with pytest.raises(DataContractError, match="region"):
        second_order_durations(engine, as_of_date=AS_OF, group_cols=("region",))


# Eight customers; the product-limit estimate S(t) = prod over event times t_i <= t of
# (1 - d_i / n_i), n_i = customers with duration >= t_i (censored at t_i still at risk).
HAND = pd.DataFrame(
    {
        "customer_id": list("abcdefgh"),
        "duration_days": [5, 5, 10, 12, 20, 20, 25, 30],
        "event": [True, False, True, False, True, True, False, True],
    }
)
# t=5:  n=8, d=1 -> S = 7/8                      = 0.875
# t=10: n=6, d=1 -> S = 0.875 * 5/6              = 0.7291666...
#       (b censored at 5 and gone; d censored at 12 still at risk)
# t=20: n=4, d=2 -> S = 0.7291666 * 2/4          = 0.3645833...
# t=30: n=1, d=1 -> S = 0
HAND_SURVIVAL = [7 / 8, 7 / 8 * 5 / 6, 7 / 8 * 5 / 6 * 2 / 4, 0.0]
# Greenwood: Var S(t) = S(t)^2 * sum d_i / (n_i (n_i - d_i)); at t=20:
# sum = 1/(8*7) + 1/(6*5) + 2/(4*2) = 0.0178571 + 0.0333333 + 0.25 = 0.3011905
HAND_SE_20 = (7 / 8 * 5 / 6 * 2 / 4) * np.sqrt(1 / 56 + 1 / 30 + 2 / 8)


def test_km_hand_computed() -> None:
    curve = km_curves(HAND)
    assert list(curve.columns) == list(KM_COLUMNS)
    assert curve["time_days"].tolist() == [5, 10, 20, 30]
    assert curve["at_risk"].tolist() == [8, 6, 4, 1]
    assert curve["events"].tolist() == [1, 1, 2, 1]
    np.testing.assert_allclose(curve["survival"], HAND_SURVIVAL, rtol=1e-12)
    # log-log bounds by hand at t=20: S^exp(+-1.96 se / (S |log S|))
    s = HAND_SURVIVAL[2]
    scale = HAND_SE_20 / (s * abs(np.log(s)))
    z = 1.959963984540054
    assert curve.loc[2, "ci_lower"] == pytest.approx(s ** np.exp(z * scale), rel=1e-9)
    assert curve.loc[2, "ci_upper"] == pytest.approx(s ** np.exp(-z * scale), rel=1e-9)
    assert curve.loc[2, "ci_lower"] < s < curve.loc[2, "ci_upper"]


def test_censored_customers_are_not_failures() -> None:
    rates = second_order_rates(HAND, days=(12,), min_known=7).iloc[0]
    # by day 12: events a (5) and c (10); b censored at 5 is not a failure
    assert rates["events"] == 2
    assert rates["second_order_rate"] == pytest.approx(1 - 7 / 8 * 5 / 6)  # not 2/8, not 3/8
    assert rates["known"] == 7  # everyone but b (censored before day 12)
    assert rates["at_risk"] == 5  # d (12), e, f, g, h
    assert not rates["sparse"]
    # turning the censored customers into events changes the estimate: they were not counted
    as_events = HAND.assign(event=True)
    assert second_order_rates(as_events, days=(12,))["second_order_rate"].iloc[0] == pytest.approx(
        4 / 8
    )


def test_km_equals_statsmodels_by_group() -> None:
    rng = np.random.default_rng(7)
    n = 400
    durations = pd.DataFrame(
        {
            "duration_days": rng.integers(1, 200, n),
            "event": rng.random(n) < 0.6,
            "channel": rng.choice(["email", "social", "paid"], n),
        }
    )
    curves = km_curves(durations, by="channel")
    for channel, rows in durations.groupby("channel"):
        reference = SurvfuncRight(
            rows["duration_days"].to_numpy(float), rows["event"].to_numpy(float)
        )
        mine = curves[curves["group"] == channel]
        np.testing.assert_allclose(mine["time_days"], reference.surv_times)
        np.testing.assert_allclose(mine["survival"], reference.surv_prob)
        np.testing.assert_array_equal(mine["at_risk"], reference.n_risk)
    rates = second_order_rates(durations, by="channel", days=(30, 60, 90))
    assert list(rates.columns) == list(RATE_COLUMNS)
    assert len(rates) == 9
    assert (rates["ci_lower"] <= rates["second_order_rate"]).all()
    assert (rates["second_order_rate"] <= rates["ci_upper"]).all()
    assert rates["ci_lower"].between(0, 1).all() and rates["ci_upper"].between(0, 1).all()
    # rates are 1 - S at the last event time on or before the horizon
    email = curves[(curves["group"] == "email") & (curves["time_days"] <= 60)]
    rate = rates[(rates["group"] == "email") & (rates["days"] == 60)]["second_order_rate"].iloc[0]
    assert rate == pytest.approx(1 - email["survival"].iloc[-1])


def test_rates_sparse_flag_and_bad_input() -> None:
    rates = second_order_rates(HAND, days=(30, 90))
    assert rates["sparse"].all()  # 8 customers < 30
    assert rates.loc[rates["days"] == 90, "known"].iloc[0] == 5  # b, d, g censored before day 90
    with pytest.raises(DataContractError, match="event"):
        km_curves(HAND.drop(columns="event"))
    with pytest.raises(DataContractError, match="channel"):
        second_order_rates(HAND, by="channel")


def test_plot_km_curves(engine: Engine) -> None:
    durations = second_order_durations(engine, as_of_date=AS_OF)
    fig, ax = plt.subplots()
    out = plot_km_curves(km_curves(durations, by="acquisition_channel"), min_cell_size=1, ax=ax)
    assert out is ax
    assert ax.get_title() == "Share of customers with a second order"
    assert ax.get_xlabel() == "Days since first order" and ax.get_ylabel()
    assert ax.get_xlim() == (0, 180)
    plt.close(fig)


def test_plot_km_curves_stops_where_few_are_at_risk() -> None:
    # group "big": 12 customers, second orders on days 10, 20, ..., 120 (at risk 12, 11, ...);
    # group "small": 5 customers, below min_cell_size, so no line at all
    durations = pd.DataFrame(
        {
            "duration_days": [10.0 * (i + 1) for i in range(12)] + [5.0] * 5,
            "event": [True] * 17,
            "channel": ["big"] * 12 + ["small"] * 5,
        }
    )
    curves = km_curves(durations, by="channel")
    fig, ax = plt.subplots()
    try:
        plot_km_curves(curves, max_days=180, min_cell_size=10, ax=ax)
        (line,) = ax.get_lines()
        assert line.get_label() == "big"
        # event times with >= 10 at risk: days 10, 20, 30 (12, 11, 10 at risk); the line stops
        # at day 30 instead of running on to 180
        assert max(line.get_xdata()) == 30.0
        assert max(line.get_ydata()) == pytest.approx(3 / 12)
        with pytest.raises(DataContractError, match="fewer than min_cell_size=13"):
            plot_km_curves(curves, min_cell_size=13)
    finally:
        plt.close("all")


def test_small_groups_are_one_other_curve() -> None:
    # "big": 12 customers; "small" 5 and "tiny" 6 are pooled into (other), 11 customers
    durations = pd.DataFrame(
        {
            "duration_days": [10.0 * (i + 1) for i in range(12)] + [5.0] * 5 + [7.0] * 6,
            "event": [True] * 23,
            "channel": ["big"] * 12 + ["small"] * 5 + ["tiny"] * 6,
        }
    )
    pooled = pool_groups(durations, by="channel")
    curves = km_curves(pooled, by="channel")
    assert set(curves["group"]) == {"big", "(other)"}
    fig, ax = plt.subplots()
    try:
        plot_km_curves(curves, ax=ax)
        assert [line.get_label() for line in ax.get_lines()] == ["big", "(other)"]
        # (other): all 11 have a second order by day 7 (5 on day 5, 11 at risk)
        other = ax.get_lines()[1]
        assert other.get_ydata()[1] == pytest.approx(5 / 11)
        assert (
            fig.texts[0]
            .get_text()
            .startswith("(other) pools the groups of fewer than 10 customers")
        )
        assert "A curve stops where fewer than 10 customers" in fig.texts[0].get_text()
    finally:
        plt.close(fig)
