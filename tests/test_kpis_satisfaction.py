"""crmlib.kpis.satisfaction: NPS and CSAT by group with intervals, repeat purchase by NPS group.

Known answers: a published NPS interval (Engelhardt 2016), Wilson intervals of Newcombe (1998)
and statsmodels, hand-counted tables, and simulations with planted truth (interval coverage,
bootstrap standard error, repeat purchase of promoters vs detractors).
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
from statsmodels.stats.proportion import proportion_confint

import crmlib as crm
from crmlib.engine import Engine
from crmlib.errors import DataContractError, StageInputMissing
from crmlib.formatting import Sentence
from crmlib.intervals import wilson_interval
from crmlib.kpis.satisfaction import nps_interval
from crmlib.privacy import small_counts_in_html

AS_OF = "2025-06-30"


def _surveys(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "response_ts": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "survey": [r[2] for r in rows],
            "score": np.array([r[3] for r in rows], dtype="int32"),
        }
    )


def _orders(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_ts": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "amount": 10.0,
            "gross_amount": 10.0,
            "refund_amount": 0.0,
            "is_purchase": True,
        }
    )


#: a: answers twice in May (latest 10 counts, once); b and c: detractors; d: passive;
#: e: promoter in March (outside a 90-day window to 2025-06-30 only when window_days=90).
SURVEYS = _surveys(
    [
        ("a", "2025-05-02 10:00", "nps", 3),
        ("a", "2025-05-20 09:00", "nps", 10),
        ("b", "2025-05-03 12:00", "nps", 6),
        ("c", "2025-05-04 12:00", "nps", 0),
        ("d", "2025-05-05 12:00", "nps", 8),
        ("e", "2025-03-10 12:00", "nps", 9),
        ("a", "2025-05-02 10:05", "csat", 5),
        ("b", "2025-05-03 12:05", "csat", 2),
        ("f", "2025-07-02 12:05", "nps", 0),  # after as_of: left out
    ]
)
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": list("abcdef"),
        "acquisition_channel": ["web", "web", "shop", "shop", "web", None],
    }
)
ORDERS = _orders(
    [("a", "2025-01-15"), ("b", "2025-01-20"), ("c", "2025-02-01"), ("d", "2025-04-01"),
     ("e", "2025-04-10")]
)  # fmt: skip


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as engine:
        engine.register("surveys", SURVEYS)
        engine.register("customers", CUSTOMERS)
        engine.register("transactions", ORDERS)
        yield engine


# -- intervals -------------------------------------------------------------------------------


def test_nps_interval_matches_the_published_rule_of_thumb() -> None:
    # Engelhardt (2016), CYBAEA "NPS confidence intervals 2": with p = d = 1/3 the 95%
    # interval is about ±160/sqrt(n) points (sd = 100·sqrt(2/3)/sqrt(n)).
    for n in (90, 300, 1200):
        nps, low, high = nps_interval(n // 3, n // 3, n)
        assert float(nps) == pytest.approx(0.0)
        assert float(high - nps) == pytest.approx(160.0 / np.sqrt(n), rel=0.002)
        assert float(nps - low) == pytest.approx(160.0 / np.sqrt(n), rel=0.002)


def test_nps_interval_by_hand_and_clipped() -> None:
    # 50 promoters, 20 detractors of 100: var = (0.5 + 0.2 - 0.3²)/100 = 0.0061
    nps, low, high = nps_interval([50, 10, 0], [20, 0, 0], [100, 10, 0])
    half = 1.959964 * np.sqrt(0.0061) * 100
    assert nps[0] == pytest.approx(30.0)
    assert (low[0], high[0]) == pytest.approx((30.0 - half, 30.0 + half), abs=1e-4)
    assert (nps[1], high[1]) == (100.0, 100.0)  # everyone a promoter: no spread, clipped
    assert np.isnan(nps[2]) and np.isnan(low[2])


def test_nps_interval_covers_the_planted_truth() -> None:
    # Planted truth: 40% promoters, 35% passives, 25% detractors, NPS +15; 4,000 surveys of
    # 400 answers each. The 95% interval covers +15 in 93-97% of them, and its sd matches the
    # spread of the simulated NPS within 5%.
    rng = np.random.default_rng(7)
    draws = rng.multinomial(400, [0.40, 0.35, 0.25], size=4000)
    nps, low, high = nps_interval(draws[:, 0], draws[:, 2], 400)
    coverage = np.mean((low <= 15.0) & (15.0 <= high))
    assert 0.93 <= coverage <= 0.97
    analytic_sd = 100 * np.sqrt((0.40 + 0.25 - 0.15**2) / 400)
    assert np.std(nps) == pytest.approx(analytic_sd, rel=0.05)


def test_nps_interval_agrees_with_a_bootstrap() -> None:
    # One survey of 250 answers; the bootstrap sd of NPS (5,000 resamples) equals the
    # closed-form sd within 5%.
    rng = np.random.default_rng(11)
    scores = rng.choice([1, 0, -1], size=250, p=[0.5, 0.3, 0.2])
    resampled = rng.choice(scores, size=(5000, scores.size)).mean(axis=1) * 100
    nps, low, high = nps_interval((scores == 1).sum(), (scores == -1).sum(), scores.size)
    assert np.std(resampled) == pytest.approx(float(high - low) / (2 * 1.959964), rel=0.05)


@pytest.mark.parametrize(
    ("successes", "n"),
    [(81, 263), (0, 20), (15, 15), (3, 7)],
    ids=["newcombe", "none", "all", "small"],
)
def test_wilson_interval_matches_statsmodels(successes: int, n: int) -> None:
    (low,), (high,) = wilson_interval([successes], [n])
    expected = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert (float(low), float(high)) == pytest.approx(expected, abs=1e-9)


def test_wilson_interval_of_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17: 81/263, Wilson score interval 0.2553-0.3662
    (low,), (high,) = wilson_interval([81], [263])
    assert (round(float(low), 4), round(float(high), 4)) == (0.2553, 0.3662)


# -- counts by group -------------------------------------------------------------------------


def test_each_customer_counts_once_with_the_latest_answer(engine: Engine) -> None:
    overall = crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, window_days=None)
    row = overall.iloc[0]
    # a (latest 10) and e: promoters; d passive; b, c detractors; f is after as_of
    assert (row["respondents"], row["promoters"], row["passives"], row["detractors"]) == (
        5, 2, 1, 2,
    )  # fmt: skip
    assert row["nps"] == pytest.approx(0.0)
    assert row["group"] == "all respondents"
    # csat: a 5, b 2 -> one of two satisfied, mean 3.5
    csat = crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, survey="csat").iloc[0]
    assert (csat["respondents"], csat["top_two"], csat["csat"], csat["mean_score"]) == (
        2, 1, 0.5, 3.5,
    )  # fmt: skip
    assert np.isnan(csat["nps"])


def test_ties_at_the_same_second_take_the_lower_score() -> None:
    surveys = _surveys([("a", "2025-05-01 10:00", "nps", 10), ("a", "2025-05-01 10:00", "nps", 2)])
    with Engine(threads=1) as engine:
        engine.register("surveys", surveys)
        row = crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF).iloc[0]
    assert (row["respondents"], row["detractors"]) == (1, 1)


def test_window_days_keeps_the_recent_answers(engine: Engine) -> None:
    recent = crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, window_days=60).iloc[0]
    assert (recent["respondents"], recent["promoters"]) == (4, 1)  # e (March) left out
    assert recent["period_label"] == "2025-05-02 to 2025-06-30"


def test_by_channel_and_cohort(engine: Engine) -> None:
    channel = crm.kpis.satisfaction_by_group(
        engine, as_of_date=AS_OF, by="acquisition_channel", window_days=None
    ).set_index("group")
    assert channel["respondents"].to_dict() == {"shop": 2, "web": 3}
    assert channel.loc["web", "nps"] == pytest.approx(100 * (2 - 1) / 3)
    cohort = crm.kpis.satisfaction_by_group(
        engine, as_of_date=AS_OF, by="cohort", window_days=None, cohort_period="quarter"
    ).set_index("group")
    assert cohort["respondents"].to_dict() == {"2025-Q1": 3, "2025-Q2": 2}
    monthly = crm.kpis.satisfaction_by_group(
        engine, as_of_date=AS_OF, by="cohort", window_days=None, cohort_period="month"
    )
    assert monthly["group"].tolist() == ["2025-01", "2025-02", "2025-04"]


def test_by_segment_needs_the_segments(engine: Engine) -> None:
    segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["Champions"] * 3})
    table = crm.kpis.satisfaction_by_group(
        engine, as_of_date=AS_OF, by="segment", segments=segments, window_days=None
    )
    assert dict(zip(table["group"], table["respondents"], strict=True)) == {
        "Champions": 3,
        "(unknown)": 2,
    }
    with pytest.raises(ValueError, match="segments="):
        crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, by="segment")


def test_over_time_has_every_month_and_counts_once_per_month(engine: Engine) -> None:
    table = crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, by="period")
    assert table["period_label"].tolist() == ["2025-03", "2025-04", "2025-05", "2025-06"]
    assert table["respondents"].tolist() == [1, 0, 4, 0]
    assert np.isnan(table["nps"].iloc[1])
    assert table["is_complete"].all()


def test_bad_inputs(engine: Engine) -> None:
    with pytest.raises(ValueError, match="survey="):
        crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, survey="ces")
    with pytest.raises(ValueError, match="by="):
        crm.kpis.satisfaction_by_group(engine, as_of_date=AS_OF, by="region")
    with Engine(threads=1) as bare:
        bare.register("surveys", SURVEYS.drop(columns="score"))
        with pytest.raises(DataContractError, match="score"):
            crm.kpis.satisfaction_by_group(bare, as_of_date=AS_OF)
    with pytest.raises(StageInputMissing, match="orders_x"):
        crm.kpis.retention_by_nps_group(engine, as_of_date=AS_OF, transactions="orders_x")


# -- repeat purchase after an answer ---------------------------------------------------------


def test_retention_by_nps_group_by_hand() -> None:
    surveys = _surveys(
        [
            ("p1", "2025-01-10 12:00", "nps", 10),  # bought 2025-03-01: within 90 days
            ("p2", "2025-01-10 12:00", "nps", 9),  # bought the same second: not after
            ("p3", "2025-01-10 12:00", "nps", 9),  # bought 2025-05-01: after 90 days
            ("d1", "2025-01-10 12:00", "nps", 2),  # never again
            ("d2", "2024-12-01 12:00", "nps", 9),  # latest answer (a detractor) counts
            ("d2", "2025-02-01 12:00", "nps", 5),  # bought 2025-02-02
            ("n1", "2025-05-01 12:00", "nps", 10),  # window not over by as_of: left out
            ("c1", "2025-01-10 12:00", "csat", 5),  # not NPS
        ]
    )
    orders = _orders(
        [("p1", "2025-03-01"), ("p2", "2025-01-10 12:00"), ("p3", "2025-05-01"),
         ("d2", "2025-02-02"), ("n1", "2025-05-02"), ("c1", "2025-01-11")]
    )  # fmt: skip
    with Engine(threads=1) as engine:
        engine.register("surveys", surveys)
        engine.register("transactions", orders)
        table = crm.kpis.retention_by_nps_group(engine, as_of_date=AS_OF, window_days=90)
    assert table["nps_group"].tolist() == ["promoter", "passive", "detractor"]
    assert table["respondents"].tolist() == [3, 0, 2]
    assert table["bought_again"].tolist() == [1, 0, 1]
    assert table["share"].iloc[0] == pytest.approx(1 / 3)
    assert np.isnan(table["share"].iloc[1])
    assert table["last_response_date"].iloc[0] == dt.date(2025, 4, 2)


def _planted_world(seed: int = 3, customers: int = 3000) -> dict[str, pd.DataFrame]:
    """Customers answer NPS once; promoters buy again within 90 days with probability 0.6,
    passives 0.45, detractors 0.3 (planted truth); channels have NPS +40, 0 and -30."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"k{i:05d}" for i in range(customers)])
    channel = rng.choice(["web", "shop", "tv"], size=customers)
    mix = {"web": [0.55, 0.30, 0.15], "shop": [0.35, 0.30, 0.35], "tv": [0.20, 0.30, 0.50]}
    group = np.array([rng.choice(3, p=mix[c]) for c in channel])  # 0 promoter, 1 passive, 2 det
    score = np.where(group == 0, rng.integers(9, 11, customers),
                     np.where(group == 1, rng.integers(7, 9, customers), rng.integers(0, 7, customers)))  # fmt: skip
    answered = pd.Timestamp("2024-06-01") + pd.to_timedelta(
        rng.integers(0, 300 * 86400, customers), unit="s"
    )
    first = answered - pd.to_timedelta(rng.integers(1, 200, customers), unit="D")
    again = rng.random(customers) < np.array([0.6, 0.45, 0.3])[group]
    later = answered + pd.to_timedelta(rng.integers(3600, 89 * 86400, customers), unit="s")
    orders = pd.concat(
        [
            pd.DataFrame({"customer_id": ids, "order_ts": first}),
            pd.DataFrame({"customer_id": ids[again], "order_ts": later[again]}),
        ]
    ).assign(amount=20.0, gross_amount=20.0, refund_amount=0.0, is_purchase=True)
    surveys = pd.DataFrame(
        {"customer_id": ids, "response_ts": answered, "survey": "nps", "score": score}
    )
    return {
        "surveys": surveys,
        "transactions": orders,
        "customers": pd.DataFrame({"customer_id": ids, "acquisition_channel": channel}),
    }


def test_planted_truth_is_recovered() -> None:
    world = _planted_world()
    with Engine(threads=1) as engine:
        for name, table in world.items():
            engine.register(name, table)
        sat = crm.kpis.satisfaction_report(
            engine, as_of_date="2025-12-31", window_days=None, retention_window_days=90
        )
    assert sat is not None
    retention = sat.retention.set_index("nps_group")
    # within 3 standard errors of the planted shares (three groups, so not the 95% interval)
    for group, truth in {"promoter": 0.6, "passive": 0.45, "detractor": 0.3}.items():
        row = retention.loc[group]
        se = np.sqrt(truth * (1 - truth) / row["respondents"])
        assert row["share"] == pytest.approx(truth, abs=3 * se), group
    assert retention.loc["promoter", "share_low"] > retention.loc["detractor", "share_high"]
    by_channel = sat.by_group[
        (sat.by_group["survey"] == "nps") & (sat.by_group["split"] == "acquisition_channel")
    ].set_index("group")
    for channel, truth in {"web": 40.0, "shop": 0.0, "tv": -30.0}.items():
        row = by_channel.loc[channel]
        se = (row["nps_high"] - row["nps_low"]) / (2 * 1.959964)
        assert row["nps"] == pytest.approx(truth, abs=3 * se), channel
    words = crm.kpis.describe_satisfaction(sat)
    assert "promoters buy again more often" in words
    assert "highest for web" in words and "lowest for tv" in words


# -- the page: privacy, skipping, charts -------------------------------------------------------


def _small_world() -> Iterator[Engine]:
    rows = [(f"w{i}", "2025-05-10 10:00", "nps", 10 if i % 2 else 3) for i in range(30)]
    rows += [(f"t{i}", "2025-05-11 10:00", "nps", 9) for i in range(4)]
    rows += [(f"w{i}", "2025-05-12 10:00", "csat", 5) for i in range(12)]
    customers = pd.DataFrame(
        {
            "customer_id": [f"w{i}" for i in range(30)] + [f"t{i}" for i in range(4)],
            "acquisition_channel": ["web"] * 20 + ["shop"] * 10 + ["tv"] * 4,
        }
    )
    orders = _orders([(c, "2025-01-02") for c in customers["customer_id"]])
    with Engine(threads=1) as engine:
        engine.register("surveys", _surveys(rows))
        engine.register("customers", customers)
        engine.register("transactions", orders)
        yield engine


def test_small_groups_show_no_score() -> None:
    for engine in _small_world():
        sat = crm.kpis.satisfaction_report(engine, as_of_date=AS_OF, retention_window_days=30)
    nps = crm.kpis.satisfaction_table(sat, survey="nps", min_cell_size=10)
    assert nps.index.names == ["Split", "Group"]
    channels = nps.loc["Acquisition channel"]
    # tv (4) is pooled with the next smallest (shop, 10) into (other): 14 answers, a score
    assert channels.index.tolist() == ["web", "(other)"]
    assert channels.loc["(other)", "Customers answering"] == "14"
    assert channels.loc["(other)", "NPS (points, −100 to +100)"] != "–"
    retention = crm.kpis.retention_table(sat, min_cell_size=10)
    assert retention["Customers answering"].tolist() == ["19", "0", "15"]
    assert retention.loc["Passives (7–8)", "Bought again within 30 days (%)"] == "–"
    csat = crm.kpis.satisfaction_table(sat, survey="csat", min_cell_size=20)
    assert csat.iloc[0]["Customers answering"] == "<20"
    assert set(csat.iloc[0].drop("Customers answering")) == {"–"}
    for table in (nps, retention, csat):
        assert (
            small_counts_in_html(table.to_html(), min_cell_size=20 if table is csat else 10) == []
        )
    words = crm.kpis.describe_satisfaction(sat, min_cell_size=40)
    assert "Fewer than 40 customers answered the NPS question" in words
    assert small_counts_in_html(f"<p>{words}</p>", min_cell_size=40) == []


def test_without_surveys_the_section_says_so() -> None:
    with Engine(threads=1) as engine:
        assert crm.kpis.satisfaction_report(engine, as_of_date=AS_OF, missing="skip") is None
        assert crm.kpis.latest_responses(engine, as_of_date=AS_OF, missing="skip") is None
        with pytest.raises(StageInputMissing, match="surveys"):
            crm.kpis.satisfaction_report(engine, as_of_date=AS_OF)
    words = crm.kpis.describe_satisfaction(None)
    assert isinstance(words, Sentence) and "Section skipped" in words and "surveys" in words
    assert crm.kpis.satisfaction_table(None) == words
    assert crm.kpis.retention_table(None) == words
    ax = crm.kpis.plot_nps_over_time(None, ax=plt.figure().gca())
    assert not ax.axison
    plt.close("all")


def test_charts_have_titles_and_labels(engine: Engine) -> None:
    sat = crm.kpis.satisfaction_report(engine, as_of_date=AS_OF, window_days=None)
    ax = crm.kpis.plot_nps_over_time(sat, min_cell_size=2, ax=plt.figure().gca())
    assert ax.get_title().startswith("Net Promoter Score by month")
    assert "Not drawn: 1 month(s)" in ax.get_title()  # March: 1 answer
    assert ax.get_ylabel() == "NPS (points, −100 to +100)"
    ax = crm.kpis.plot_satisfaction_over_time(
        sat, survey="csat", min_cell_size=1, ax=plt.figure().gca()
    )
    assert ax.get_title().startswith("CSAT (share answering 4 or 5) by month")
    assert ax.get_ylabel() == "Answered 4 or 5 (%)" and ax.get_ylim() == (0.0, 1.0)
    drawn = ax.get_lines()[0].get_ydata()
    csat = sat.over_time[sat.over_time["survey"] == "csat"]["csat"].to_numpy()
    assert np.allclose(drawn, csat, equal_nan=True)  # the shares as computed, one per month
    with pytest.raises(ValueError, match="survey"):
        crm.kpis.plot_satisfaction_over_time(sat, survey="ces", ax=plt.figure().gca())
    ax = crm.kpis.plot_retention_by_nps(sat, ax=plt.figure().gca())
    assert "bought again within 90 days" in ax.get_title()
    assert ax.get_ylabel() == "Bought again (%)"
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Promoters (9–10)"
    plt.close("all")


def test_latest_responses_one_row_per_customer(engine: Engine) -> None:
    latest = crm.kpis.latest_responses(engine, as_of_date=AS_OF)
    assert latest is not None
    assert latest.set_index("customer_id")["nps_group"].to_dict() == {
        "a": "promoter", "b": "detractor", "c": "detractor", "d": "passive", "e": "promoter",
    }  # fmt: skip


def test_metrics_hold_the_overall_scores_and_hide_small_ones() -> None:
    for engine in _small_world():
        sat = crm.kpis.satisfaction_report(engine, as_of_date=AS_OF, retention_window_days=30)
    assert sat is not None
    overall = sat.by_group[sat.by_group["split"] == "overall"].set_index("survey")
    metrics = crm.kpis.satisfaction_metrics(sat, min_cell_size=10)
    # 34 NPS answers: 15 promoters (10) + 4 promoters (9), 15 detractors (3)
    assert metrics["nps_respondents"] == 34
    assert metrics["nps"] == pytest.approx(100 * (19 - 15) / 34)
    assert metrics["nps_low"] == pytest.approx(overall.loc["nps", "nps_low"])
    assert metrics["csat"] == 1.0 and metrics["csat_respondents"] == 12
    # web (20 answers) is shown per channel; shop (10) too; tv (4) is not
    assert set(metrics["nps_by_channel"]) == {"web", "shop"}
    strict = crm.kpis.satisfaction_metrics(sat, min_cell_size=20)
    assert strict["csat"] is None and strict["csat_respondents"] is None
    assert set(strict["nps_by_channel"]) == {"web"}
    assert crm.kpis.satisfaction_metrics(None) is None
