"""crmlib.clv.acquisition: CAC per channel and month, CLV:CAC, payback, spend on campaigns per
retained customer; and 05's satisfaction-and-value table (crmlib.clv.value_by_nps_group).

Known answers: a hand table whose CAC and payback are worked out in the comments, and a
simulation with a planted CAC per channel, recovered exactly (spend proportional to new
customers) and within tolerance (noisy spend).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - tests only

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import crmlib as crm
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.formatting import Sentence
from crmlib.privacy import small_counts_in_html

AS_OF = "2025-03-31"


def _orders(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    amounts = np.array([r[2] for r in rows], dtype=float)
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_ts": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "amount": amounts,
            "gross_amount": np.maximum(amounts, 0.0),
            "refund_amount": np.minimum(amounts, 0.0),
            "is_purchase": amounts > 0,
        }
    )


def _spend(rows: list[tuple[str, str, float, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": [dt.date.fromisoformat(r[0]) for r in rows],
            "acquisition_channel": [r[1] for r in rows],
            "spend": [r[2] for r in rows],
            "campaign": [r[3] for r in rows],
        }
    )


# The hand table. New customers: web w1, w2 in January, w3 in February; tv t1 in January;
# shop s1 in February (shop has no spend rows). Spend: web January 60 + 40, web February 30 +
# 20 on "winback" (a messaging campaign of the events: retention spend, not acquisition); tv
# January 30 + 50 on "tv-brand" (no such campaign in the events: acquisition spend), tv
# February 50 (no new tv customer).
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["w1", "w2", "w3", "t1", "s1"],
        "acquisition_channel": ["web", "web", "web", "tv", "shop"],
    }
)
ORDERS = _orders(
    [("w1", "2025-01-05 10:00", 100.0), ("w2", "2025-01-20 10:00", 60.0),
     ("w3", "2025-02-03 10:00", 40.0), ("t1", "2025-01-07 10:00", 200.0),
     ("s1", "2025-02-09 10:00", 30.0), ("w1", "2025-03-02 10:00", 100.0),
     ("w2", "2025-03-03 10:00", -20.0), ("w1", "2025-04-02 10:00", 999.0)]
)  # fmt: skip
SPEND = _spend(
    [("2025-01-03", "web", 60.0, None), ("2025-01-20", "web", 40.0, None),
     ("2025-02-01", "web", 30.0, None), ("2025-02-10", "web", 20.0, "winback"),
     ("2025-01-15", "tv", 30.0, None), ("2025-01-16", "tv", 50.0, "tv-brand"),
     ("2025-02-15", "tv", 50.0, None),
     ("2025-04-01", "tv", 500.0, None)]
)  # fmt: skip


EVENTS = pd.DataFrame(
    {
        "customer_id": ["w1", "w2"],
        "event_ts": pd.to_datetime(["2025-02-10 09:00", "2025-02-10 09:00"]),
        "channel": "email",
        "event_type": "sent",
        "campaign_id": "winback",
    }
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as engine:
        engine.register("customers", CUSTOMERS)
        engine.register("transactions", ORDERS)
        engine.register("marketing_spend", SPEND)
        engine.register("events", EVENTS)
        yield engine


def test_cac_by_month_by_hand(engine: Engine) -> None:
    by_month = crm.clv.acquisition_by_month(engine, as_of_date=AS_OF)
    keyed = by_month.set_index(["month_label", "channel"])
    # web January 100 / 2; web February (50 - 20 retention) / 1; tv January 80 / 1 (tv-brand
    # is acquisition spend); tv February 50 / 0 -> none
    assert keyed.loc[("2025-01", "web"), "cac"] == pytest.approx(50.0)
    assert keyed.loc[("2025-02", "web"), "cac"] == pytest.approx(30.0)
    assert keyed.loc[("2025-01", "tv"), "cac"] == pytest.approx(80.0)
    assert np.isnan(keyed.loc[("2025-02", "tv"), "cac"])  # spend, no new customer: undefined
    assert np.isnan(keyed.loc[("2025-02", "shop"), "cac"])  # new customer, no spend row
    assert keyed.loc[("2025-02", "web"), "retention_spend"] == pytest.approx(20.0)
    assert keyed.loc[("2025-01", "tv"), "campaign_spend"] == pytest.approx(50.0)
    assert keyed.loc[("2025-01", "tv"), "retention_spend"] == pytest.approx(0.0)
    # April's tv spend is after as_of: the window is January to February
    assert by_month["month_label"].unique().tolist() == ["2025-01", "2025-02"]
    included = crm.clv.acquisition_by_month(engine, as_of_date=AS_OF, retention_spend="include")
    web_feb = included.set_index(["month_label", "channel"]).loc[("2025-02", "web")]
    assert web_feb["cac"] == pytest.approx(50.0)  # every row counted as acquisition spend


def test_cac_by_channel_by_hand(engine: Engine) -> None:
    table = crm.clv.cac_by_channel(crm.clv.acquisition_by_month(engine, as_of_date=AS_OF))
    keyed = table.set_index("channel")
    # web 130 / 3; tv 130 / 1 = 130; shop: no spend row, no CAC; all 260 / 5 = 52
    assert keyed["cac"].to_dict() == pytest.approx(
        {"shop": np.nan, "tv": 130.0, "web": 130.0 / 3, "All channels": 52.0}, nan_ok=True
    )
    assert keyed.loc["tv", "months_spend_no_new"] == 1
    assert keyed["new_customers"].to_dict() == {"shop": 1, "tv": 1, "web": 3, "All channels": 5}
    assert table["channel"].iloc[-1] == "All channels"


def test_payback_by_hand(engine: Engine) -> None:
    by_month = crm.clv.acquisition_by_month(engine, as_of_date=AS_OF)
    revenue = crm.clv.cohort_revenue(engine, as_of_date=AS_OF)
    payback = crm.clv.cohort_payback(by_month, revenue, margin=0.5, as_of_date=AS_OF)
    keyed = payback.set_index(["channel", "cohort_month"])
    # web January: cost 100; margin 0.5 x (160 in January, 0 in February, 100 - 20 in March)
    # = 80, 80, 120: paid back in the third month (the acquisition month is 1)
    web_jan = keyed.loc[("web", dt.date(2025, 1, 1))]
    assert web_jan["payback_months"] == 3.0
    assert web_jan["cumulative_margin"] == pytest.approx(120.0)
    assert web_jan["months_observed"] == 3
    # web February: cost 30, margin 20 so far: not yet; tv January: 100 >= 80 in month 1
    assert np.isnan(keyed.loc[("web", dt.date(2025, 2, 1)), "payback_months"])
    assert keyed.loc[("tv", dt.date(2025, 1, 1)), "payback_months"] == 1.0
    assert ("tv", dt.date(2025, 2, 1)) not in keyed.index  # spend without customers
    assert ("shop", dt.date(2025, 2, 1)) not in keyed.index  # customers without spend
    channels = crm.clv.payback_by_channel(payback).set_index("channel")
    assert channels.loc["web", ["cohorts", "cohorts_paid_back", "cohorts_not_yet"]].tolist() == [
        2, 1, 1,
    ]  # fmt: skip
    assert channels.loc["web", "mean_payback_months"] == 3.0
    assert np.isnan(channels.loc["web", "median_payback_months"])  # half not yet paid back
    assert channels.loc["All channels", "median_payback_months"] == 3.0
    assert channels.loc["All channels", "mean_payback_months"] == 2.0
    # on revenue (margin 1): web January is paid back in its first month
    on_revenue = crm.clv.cohort_payback(by_month, revenue, margin=1.0, as_of_date=AS_OF)
    assert on_revenue["payback_months"].iloc[0] == 1.0


def test_clv_to_cac_and_campaigns(engine: Engine) -> None:
    by_month = crm.clv.acquisition_by_month(engine, as_of_date=AS_OF)
    cac = crm.clv.cac_by_channel(by_month)
    values = pd.DataFrame({"customer_id": ["w1", "w2", "w3", "t1", "s1"],
                           "clv": [100.0, 50.0, 0.0, 65.0, 10.0]})  # fmt: skip
    ratio = crm.clv.clv_to_cac(cac, values, CUSTOMERS).set_index("channel")
    assert ratio.loc["web", "clv_to_cac"] == pytest.approx(50.0 / (130.0 / 3))
    assert ratio.loc["tv", "clv_to_cac"] == pytest.approx(65.0 / 130.0)
    assert np.isnan(ratio.loc["shop", "clv_to_cac"])
    assert ratio.loc["All channels", "clv_to_cac"] == pytest.approx(45.0 / 52.0)
    kpis = pd.DataFrame({"period_start": [dt.date(2025, 1, 1), dt.date(2025, 2, 1)],
                         "period_label": ["2025-01", "2025-02"], "returning_customers": [0, 4]})  # fmt: skip
    campaigns = crm.clv.campaign_cost_per_retained(by_month, kpis)
    assert campaigns is not None
    assert campaigns[["month_label", "retention_spend", "retained_customers"]].values.tolist() == [
        ["2025-02", 20.0, 4]
    ]
    assert campaigns["cost_per_retained"].iloc[0] == pytest.approx(5.0)
    weekly = kpis.assign(period_label=["2025-W01", "2025-W05"])
    assert crm.clv.campaign_cost_per_retained(by_month, weekly) is None
    with pytest.raises(ValueError, match="groups="):
        crm.clv.clv_to_cac(cac, values)


def _planted_spend(seed: int, noise: float) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """12 months, three channels with a planted CAC; spend split over random days of the month."""
    rng = np.random.default_rng(seed)
    planted = {"search": 40.0, "social": 25.0, "tv": 90.0}
    customers, orders, spend = [], [], []
    for month in range(1, 13):  # 36 channel-months
        start = pd.Timestamp(2024, month, 1)
        days = start.days_in_month
        for channel, cac in planted.items():
            new = int(rng.poisson(60))
            ids = [f"{channel}-{month}-{i}" for i in range(new)]
            customers += [(c, channel) for c in ids]
            offsets = rng.integers(0, days * 86400, new)
            orders += [
                (c, start + pd.Timedelta(seconds=int(s)), 30.0)
                for c, s in zip(ids, offsets, strict=True)
            ]
            total = cac * new * float(np.exp(rng.normal(0, noise))) if noise else cac * new
            parts = rng.dirichlet(np.ones(5)) * total
            spend += [((start + pd.Timedelta(days=int(rng.integers(0, days)))).date(), channel, float(p), None)
                      for p in parts]  # fmt: skip
    world = {
        "customers": pd.DataFrame(customers, columns=["customer_id", "acquisition_channel"]),
        "transactions": _orders([(c, t.isoformat(), a) for c, t, a in orders]),
        "marketing_spend": _spend([(d.isoformat(), ch, s, c) for d, ch, s, c in spend]),
    }
    return world, planted


@pytest.mark.parametrize(("noise", "tolerance"), [(0.0, 1e-9), (0.1, 0.1)], ids=["exact", "noisy"])
def test_planted_cac_is_recovered(noise: float, tolerance: float) -> None:
    world, planted = _planted_spend(seed=5, noise=noise)
    with Engine(threads=1) as engine:
        for name, table in world.items():
            engine.register(name, table)
        acquisition = crm.clv.acquisition_cost(engine, as_of_date="2024-12-31", margin=0.3)
    assert acquisition is not None
    by_channel = acquisition.by_channel.set_index("channel")
    for channel, cac in planted.items():
        assert by_channel.loc[channel, "cac"] == pytest.approx(cac, rel=tolerance), channel
    if not noise:
        monthly = acquisition.by_month["cac"] / acquisition.by_month["channel"].map(planted)
        assert np.allclose(monthly, 1.0, rtol=1e-9)


def test_without_spend_or_customers_the_section_says_so() -> None:
    with Engine(threads=1) as engine:
        engine.register("transactions", ORDERS)
        engine.register("customers", CUSTOMERS)
        assert (
            crm.clv.acquisition_cost(engine, as_of_date=AS_OF, margin=0.3, missing="skip") is None
        )
        with pytest.raises(StageInputMissing, match="marketing_spend"):
            crm.clv.acquisition_cost(engine, as_of_date=AS_OF, margin=0.3)
        engine.register("marketing_spend", SPEND.drop(columns="spend"))
        with pytest.raises(DataContractError, match="spend"):
            crm.clv.acquisition_by_month(engine, as_of_date=AS_OF)
    words = crm.clv.describe_acquisition(None, currency="EUR")
    assert isinstance(words, Sentence) and "Section skipped" in words
    assert crm.clv.acquisition_table(None, currency="EUR", min_cell_size=10) == words
    ax = crm.clv.plot_cac_by_month(None, currency="EUR", min_cell_size=10, ax=plt.figure().gca())
    assert not ax.axison
    plt.close("all")


def test_the_page_hides_small_channels(engine: Engine) -> None:
    values = pd.DataFrame({"customer_id": CUSTOMERS["customer_id"], "clv": 40.0})
    acquisition = crm.clv.acquisition_cost(
        engine, as_of_date=AS_OF, margin=0.5, values=values, groups=CUSTOMERS
    )
    table = crm.clv.acquisition_table(acquisition, currency="EUR", min_cell_size=3)
    assert table.index.name == "Acquisition channel"
    assert table.loc["web", "New customers"] == "3"
    assert table.loc["web", "CAC per new customer (EUR)"] == "€43.33"
    assert table.loc["tv", "New customers"] == "<3"
    assert table.loc["tv", "CAC per new customer (EUR)"] == "–"
    assert table.loc["web", "Monthly cohorts paid back"] == "1 of 2"
    assert small_counts_in_html(table.to_html(), min_cell_size=3) == []
    words = crm.clv.describe_acquisition(acquisition, currency="EUR", min_cell_size=3)
    assert "130" not in words  # tv's CAC is on one new customer: not stated
    assert "spend but no new customer" in words
    assert small_counts_in_html(f"<p>{words}</p>", min_cell_size=3) == []
    metrics = crm.clv.acquisition_metrics(acquisition, min_cell_size=3)
    assert metrics is not None
    assert metrics["cac_by_channel"] == pytest.approx(
        {"shop": None, "tv": None, "web": 130.0 / 3, "All channels": 52.0}
    )
    assert metrics["clv_to_cac"]["web"] == pytest.approx(40.0 / (130.0 / 3))
    ax = crm.clv.plot_cac_by_month(
        acquisition, currency="EUR", min_cell_size=1, ax=plt.figure().gca()
    )
    assert ax.get_title().startswith("Cost of acquiring a new customer")
    assert ax.get_ylabel() == "CAC per new customer (EUR)"
    plt.close("all")


def test_value_by_nps_group() -> None:
    values = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)],
                           "clv": np.r_[np.full(12, 100.0), np.arange(12.0), np.zeros(6)]})  # fmt: skip
    responses = pd.DataFrame({"customer_id": [f"c{i}" for i in range(24)] + ["gone"],
                              "nps_group": ["promoter"] * 12 + ["detractor"] * 12 + ["passive"]})  # fmt: skip
    table = crm.clv.value_by_nps_group(values, responses).set_index("nps_group")
    assert table["customers"].to_dict() == {
        "promoter": 12,
        "passive": 0,
        "detractor": 12,
        "no answer": 6,
    }
    half = 1.959964 * np.std(np.arange(12.0), ddof=1) / np.sqrt(12)
    assert table.loc["detractor", ["clv_lower", "clv_upper"]].tolist() == pytest.approx(
        [5.5 - half, 5.5 + half], abs=1e-5
    )
    assert table.loc["promoter", "clv_lower"] == pytest.approx(100.0)  # no spread
    shown = crm.clv.nps_value_table(
        crm.clv.value_by_nps_group(values, responses), currency="EUR", min_cell_size=10
    )
    assert shown.loc["No NPS answer", "Customers"] == "<10"
    assert shown.loc["No NPS answer", "Mean CLV per customer (EUR)"] == "–"
    assert shown.loc["Promoters (9–10)", "Mean CLV per customer (EUR)"] == "€100.00"
    assert small_counts_in_html(shown.to_html()) == []
    words = crm.clv.describe_nps_value(
        crm.clv.value_by_nps_group(values, responses), currency="EUR"
    )
    assert "Promoters are worth €100.00" in words and "do not overlap" in words
    assert "Section skipped" in crm.clv.describe_nps_value(None, currency="EUR")
