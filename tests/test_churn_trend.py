"""Retention and churn by RFM segment and channel over time (crmlib.churn.trend): known answers on
a hand table, 02's totals, 04's segments at the last cutoff, Wilson against statsmodels, the
small-cell rule, the page's table, chart and words, and the degraded cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # noqa: E402  (tests only: no window)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import crmlib.churn as churn
from crmlib.churn.trend import (
    churn_by_segment,
    latest_changes,
    newcombe_difference,
    segment_map,
    trend_cutoffs,
)
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.intervals import wilson_interval
from crmlib.kpis import kpis_by_period
from crmlib.privacy import small_counts_in_html
from crmlib.segments import rfm_table
from crmlib.segments.models.rules import SegmentRule

# -- a hand table: three months, four customers --------------------------------------------------
#: With bins=2 and these rules, the segments follow from R and F alone (worked out below).
RULES = (
    SegmentRule("Recent frequent", r=(2, 2), f=(2, 2)),
    SegmentRule("Recent", r=(2, 2), f=(1, 1)),
    SegmentRule("Old", r=(1, 1), f=(1, 2)),
)


def _orders() -> pd.DataFrame:
    rows = [
        ("a", "2025-01-10", 10.0), ("a", "2025-02-10", 10.0), ("a", "2025-03-10", 10.0),
        ("b", "2025-01-20", 20.0),
        ("c", "2025-01-05", 5.0), ("c", "2025-01-25", 5.0), ("c", "2025-03-03", 5.0),
        ("d", "2025-02-14", 8.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])
    return frame.assign(
        order_ts=pd.to_datetime(frame["order_ts"]),
        gross_amount=frame["amount"],
        refund_amount=0.0,
        is_purchase=True,
    )


CUSTOMERS = pd.DataFrame(
    {"customer_id": ["a", "b", "c", "d"], "acquisition_channel": ["web", "web", None, "store"]}
)


@pytest.fixture
def hand() -> Iterator[Engine]:
    with Engine(threads=1) as engine:
        engine.register("transactions", _orders())
        engine.register("customers", CUSTOMERS)
        yield engine


def _counts(table: pd.DataFrame, dimension: str) -> dict[tuple[str, str], tuple[int, int]]:
    part = table[(table["dimension"] == dimension) & (table["base_customers"] > 0)]
    return {
        (str(row.period_label), str(row.dimension_value)): (
            int(row.base_customers),
            int(row.retained_customers),
        )
        for row in part.itertuples()
    }


def test_hand_table_known_answers(hand: Engine) -> None:
    """Worked by hand (bins=2, score = 1 + floor(2 * strictly worse / n)):

    End of January (for February): a, b, c have bought; recency a 21, b 11, c 6 days, so R is
    1, 1, 2; frequency 1, 1, 2, so F is 1, 1, 2: a and b are Old, c Recent frequent. The base
    of February is all three (they bought in January); only a buys in February.
    End of February (for March): recency a 18, b 39, c 34, d 14 days, R = 2, 1, 1, 2;
    frequency a 2, b 1, c 2, d 1, F = 2, 1, 2, 1: a Recent frequent, d Recent, b and c Old.
    The base of March is a and d (February's buyers); a buys in March, d does not.
    """
    table = churn_by_segment(
        hand, as_of_date="2025-03-31", window_days=365, bins=2, rules=RULES, min_cell_size=1
    )
    assert _counts(table, "segment") == {
        ("2025-02", "Old"): (2, 1),
        ("2025-02", "Recent frequent"): (1, 0),
        ("2025-03", "Recent frequent"): (1, 1),
        ("2025-03", "Recent"): (1, 0),
    }
    # channels: c has none ("(unknown)"); d is the one store customer
    assert _counts(table, "acquisition_channel") == {
        ("2025-02", "web"): (2, 1),
        ("2025-02", "(unknown)"): (1, 0),
        ("2025-03", "web"): (1, 1),
        ("2025-03", "store"): (1, 0),
    }
    segments = table[table["dimension"] == "segment"]
    # every segment in every period, in rule order, zeros included
    assert segments["dimension_value"].tolist() == [r.name for r in RULES] * 2
    old_feb = segments[
        (segments["period_label"] == "2025-02") & (segments["dimension_value"] == "Old")
    ]
    assert old_feb["retention_rate"].iloc[0] == pytest.approx(0.5)
    assert old_feb["churn_rate"].iloc[0] == pytest.approx(0.5)
    assert segments["is_complete"].all()
    assert table.attrs["notes"] == {}


def test_the_periods_can_be_limited_to_a_year_and_one(sample) -> None:
    """The last ``periods``, but never fewer than the 13 months a change against a year
    earlier needs."""
    params, engine = sample
    labels = churn_by_segment(
        engine, as_of_date=params.as_of_date, bins=5, min_cell_size=10, periods=2
    ).drop_duplicates("period_label")["period_label"]
    assert (
        labels.tolist()
        == trend_cutoffs("2000-01-01", params.as_of_date, periods=13)["period_label"].tolist()
    )
    assert labels.iloc[-1] == "2025-12" and len(labels) == 13


def test_small_cells_are_masked(hand: Engine) -> None:
    table = churn_by_segment(hand, as_of_date="2025-03-31", bins=2, rules=RULES, min_cell_size=2)
    segments = table[table["dimension"] == "segment"].set_index(["period_label", "dimension_value"])
    assert not segments.loc[("2025-02", "Old"), "masked"]  # 2 customers: shown
    assert segments.loc[("2025-02", "Old"), "retention_lower"] > 0
    for cell in [("2025-02", "Recent frequent"), ("2025-03", "Recent"), ("2025-03", "Old")]:
        row = segments.loc[cell]
        assert row["masked"]
        rates = ["retention_rate", "retention_lower", "retention_upper", "churn_rate",
                 "churn_lower", "churn_upper"]  # fmt: skip
        assert row[rates].isna().all(), cell
    # the counts stay in the artifact (a table, not a page)
    assert segments.loc[("2025-03", "Recent"), "base_customers"] == 1


def test_partial_period_is_marked(hand: Engine) -> None:
    table = churn_by_segment(hand, as_of_date="2025-03-15", bins=2, rules=RULES, min_cell_size=1)
    done = table.drop_duplicates("period_label").set_index("period_label")["is_complete"]
    assert done.to_dict() == {"2025-02": True, "2025-03": False}


def test_without_customers_the_channel_split_says_so(hand: Engine) -> None:
    hand.unregister("customers")
    table = churn_by_segment(hand, as_of_date="2025-03-31", bins=2, rules=RULES, min_cell_size=1)
    assert set(table["dimension"]) == {"segment"}
    assert "no customers table" in table.attrs["notes"]["acquisition_channel"]
    assert (
        churn.describe_segment_trend(table, dimension="acquisition_channel", min_cell_size=1)
        == "There is no customers table, so retention by acquisition channel is not shown."
    )
    assert churn.plot_segment_trend(table, dimension="acquisition_channel") is None
    assert (
        churn.segment_trend_table(table, dimension="acquisition_channel", min_cell_size=1) is None
    )
    # the segments are unaffected
    assert churn.plot_segment_trend(table, dimension="segment", min_cell_size=1) is not None
    plt.close("all")


def test_one_period_of_data_degrades_to_a_sentence(hand: Engine) -> None:
    table = churn_by_segment(hand, as_of_date="2025-01-31", bins=2, rules=RULES, min_cell_size=1)
    assert table.empty and list(table.columns) == list(churn.TREND_COLUMNS)
    text = churn.describe_segment_trend(table, dimension="segment", min_cell_size=1)
    assert text.startswith("The data cover one month only")
    assert churn.segment_trend_table(table, dimension="segment", min_cell_size=1) is None
    assert churn.plot_segment_trend(table, dimension="segment", min_cell_size=1) is None
    assert churn.segment_trend_metrics(table, min_cell_size=1)["largest_fall"] is None


def test_cutoffs_are_the_previous_period_ends() -> None:
    weeks = trend_cutoffs("2025-03-05", "2025-03-20", period="week", window_days=7)
    assert weeks["cutoff"].astype(str).tolist() == ["2025-03-09", "2025-03-16"]
    assert weeks["window_start"].astype(str).tolist() == ["2025-03-03", "2025-03-10"]
    assert weeks["period_start"].astype(str).tolist() == ["2025-03-10", "2025-03-17"]
    assert trend_cutoffs("2025-03-05", "2025-03-20", period="quarter").empty


def test_segment_map_is_the_rule_table() -> None:
    cells = segment_map(RULES, bins=2)
    assert len(cells) == 8
    named = {(r, f, m): s for r, f, m, s in cells.itertuples(index=False)}
    assert named[(2, 2, 1)] == "Recent frequent" and named[(1, 2, 2)] == "Old"
    with pytest.raises(ValueError, match="bins=3"):
        segment_map(bins=3)


# -- the sample: 02's totals and 04's segments ---------------------------------------------------
@pytest.fixture(scope="module")
def sample(sample_ingested) -> Iterator[tuple[object, Engine]]:
    params, run = sample_ingested
    with Engine(threads=2) as engine:
        run.register(engine, "transactions", "customer_days", "customer_facts")
        run.register(engine, "customers", optional=True)
        yield params, engine


@pytest.mark.parametrize("period", ["month", "quarter"], ids=["month", "quarter"])
def test_segments_add_up_to_02s_retention(sample, period: str) -> None:
    """Summed over the segments (and over the channels), base = 02's previous period's active
    customers and retained = 02's returning customers, in every period."""
    params, engine = sample
    kpis = kpis_by_period(engine, period=period, as_of_date=params.as_of_date)
    expected = pd.DataFrame(
        {
            "period_label": kpis["period_label"],
            "base_customers": kpis["active_customers"].shift(1),
            "retained_customers": kpis["returning_customers"],
        }
    ).iloc[1:]
    table = churn_by_segment(engine, as_of_date=params.as_of_date, period=period, min_cell_size=10)
    for dimension in ("segment", "acquisition_channel"):
        sums = (
            table[table["dimension"] == dimension]
            .groupby("period_label", sort=True)[["base_customers", "retained_customers"]]
            .sum()
            .reset_index()
        )
        merged = expected.merge(sums, on="period_label", how="left", suffixes=("_02", ""))
        assert len(merged) == len(sums) == len(expected)
        assert (merged["base_customers"] == merged["base_customers_02"]).all(), dimension
        assert (merged["retained_customers"] == merged["retained_customers_02"]).all(), dimension
    assert (sums["base_customers"] > 0).any()


def test_the_last_cutoff_scores_as_04_segments(sample) -> None:
    """The per-cutoff scoring at cutoff = as_of_date gives every customer 04's segment.

    A cutoff row whose previous period starts before the data puts every customer who ever
    bought in the base, so the members table holds the whole population 04 scores.
    """
    params, engine = sample
    as_of = params.as_of_date
    rfm = rfm_table(engine, as_of_date=as_of, window_days=365, bins=5)
    cutoff = pd.DataFrame(
        {
            "period_start": [as_of + dt.timedelta(days=1)],
            "period_end": [as_of + dt.timedelta(days=31)],
            "previous_start": [dt.date(1900, 1, 1)],
            "cutoff": [as_of],
            "window_start": [as_of + dt.timedelta(days=1 - 365)],
        }
    )
    from crmlib.churn.trend import _cutoff_table, _map_table

    with (
        purchase_facts(engine) as facts,
        engine.temp_tables("t", ["members", "cutoffs", "map"]) as temp,
    ):
        engine.register(temp["cutoffs"], _cutoff_table(cutoff))
        engine.register(temp["map"], _map_table(segment_map()))
        engine.execute(
            "churn_segment_members",
            {"end_day": as_of + dt.timedelta(days=1), "bins": 5},
            identifiers={"target": temp["members"], "customer_days": facts["customer_days"],
                         "cutoffs": temp["cutoffs"], "segment_map": temp["map"]},
        )  # fmt: skip
        members = engine.query(
            f"SELECT f.customer_id, m.segment FROM {temp['members']} AS m "
            f"JOIN {facts['customer_facts']} AS f ON f.customer_key = m.customer_key"
        )
        engine.unregister(temp["cutoffs"])
        engine.unregister(temp["map"])
    merged = rfm[["customer_id", "segment"]].astype("str").merge(
        members.astype("str"), on="customer_id", how="outer", suffixes=("_04", ""),
        validate="one_to_one", indicator=True,
    )  # fmt: skip
    assert len(rfm) > 1000
    assert (merged["_merge"] == "both").all()
    assert (merged["segment"] == merged["segment_04"]).all(), merged[
        merged["segment"] != merged["segment_04"]
    ].head()


# -- intervals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "n"),
    [(0, 10), (3, 10), (10, 10), (1, 1), (57, 123), (4999, 10000)],
    ids=["none", "some", "all", "one", "mid", "large"],
)
def test_wilson_matches_statsmodels(x: int, n: int) -> None:
    lower, upper = wilson_interval([x], [n])
    ref_lower, ref_upper = proportion_confint(x, n, alpha=0.05, method="wilson")
    # reference library: statsmodels' proportion_confint(method="wilson"), to 1e-12
    assert lower[0] == pytest.approx(ref_lower, abs=1e-12)
    assert upper[0] == pytest.approx(ref_upper, abs=1e-12)


def test_wilson_is_nan_on_an_empty_group() -> None:
    lower, upper = wilson_interval([0, 5], [0, 10])
    assert np.isnan(lower[0]) and np.isnan(upper[0]) and np.isfinite(lower[1])


@pytest.mark.parametrize(
    ("x1", "n1", "x0", "n0"), [(40, 100, 55, 100), (12, 30, 3, 25)], ids=["fall", "rise"]
)
def test_newcombe_matches_statsmodels(x1: int, n1: int, x0: int, n0: int) -> None:
    ref = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
    # reference library: statsmodels' confint_proportions_2indep(method="newcomb"), to 1e-9
    assert newcombe_difference(x1, n1, x0, n0) == pytest.approx(ref, abs=1e-9)


# -- the page ----------------------------------------------------------------------------------
def _trend(rates: dict[str, list[tuple[int, int]]], *, period: str = "month") -> pd.DataFrame:
    """A churn_by_segment-shaped table from (base, retained) per group and month."""
    from crmlib.churn.trend import _grid

    months = len(next(iter(rates.values())))
    cutoffs = trend_cutoffs("2024-01-01", f"2024-{months + 1:02d}-28", window_days=365)
    cutoffs = cutoffs.assign(period_end=[d - dt.timedelta(days=0) for d in cutoffs["period_end"]])
    rows = [
        {"period_start": start, "dimension_value": group, "base_customers": b,
         "retained_customers": r}
        for group, values in rates.items()
        for start, (b, r) in zip(cutoffs["period_start"], values, strict=True)
    ]  # fmt: skip
    from crmlib.privacy import SmallCells

    table = _grid(pd.DataFrame(rows), cutoffs, dimension="segment", groups=list(rates),
                  as_of=dt.date(2030, 1, 1), rule=SmallCells(10))  # fmt: skip
    table.attrs = {"notes": {}, "period": period}
    return table


def test_latest_changes_and_words() -> None:
    trend = _trend(
        {
            "Champions": [(200, 150), (200, 150), (210, 160)],
            "At risk": [(100, 60), (100, 60), (100, 30)],
            "Lost": [(4, 1), (5, 2), (6, 1)],
        }
    )
    changes = latest_changes(trend, dimension="segment")
    at_risk = changes.set_index("dimension_value").loc["At risk"]
    assert at_risk["change_previous_pp"] == pytest.approx(-30.0)
    assert at_risk["change_previous_upper_pp"] < 0  # a fall beyond chance
    assert changes.set_index("dimension_value").loc["Lost", "masked"]
    text = churn.describe_segment_trend(trend, dimension="segment", min_cell_size=10)
    assert "At risk" in text and "fell most" in text and "30.0 pp" in text
    assert "Lost" not in text.split("fewer than")[0] or "fewer than 10" in text
    assert small_counts_in_html(f"<p>{text}</p>", min_cell_size=10) == []
    metrics = churn.segment_trend_metrics(trend, min_cell_size=10)
    assert metrics["largest_fall"]["segment"] == "At risk"
    assert metrics["largest_fall"]["change_pp"] == pytest.approx(-30.0)


def test_table_for_the_page_hides_small_groups() -> None:
    trend = _trend(
        {
            "Champions": [(200, 150), (210, 160)],
            "At risk": [(100, 60), (100, 30)],
            "Lost": [(40, 10), (6, 1)],
        }
    )
    shown = churn.segment_trend_table(trend, dimension="segment", min_cell_size=10)
    assert shown is not None
    assert shown.index.name == "RFM segment, 2024-03"
    assert list(shown.index) == ["Champions", "At risk", "Lost"]
    lost = shown.loc["Lost"]
    assert lost["Customers at start"] == "<10"
    assert (lost.drop("Customers at start") == "–").all()
    # the segments add up to 02's previous active: the next smallest base is hidden too
    assert shown.loc["At risk", "Customers at start"] == "–"
    assert shown.loc["At risk", "Retention (%)"] == "30.0%"
    assert shown.loc["Champions", "Change vs previous month (pp)"].startswith("+")
    html = shown.to_html()
    assert small_counts_in_html(html, min_cell_size=10) == []
    assert not any("_" in str(c) for c in shown.columns)


def test_chart_draws_shown_cells_only() -> None:
    trend = _trend(
        {
            "Champions": [(200, 150), (200, 150), (210, 160)],
            "At risk": [(100, 60), (3, 1), (100, 30)],
            "Lost": [(4, 1), (5, 2), (6, 1)],
        }
    )
    figure = churn.plot_segment_trend(trend, dimension="segment", min_cell_size=10)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert titles == ["Champions", "At risk"]  # Lost: every month small, left out
    at_risk = figure.axes[1]
    y = at_risk.lines[0].get_ydata()
    assert np.isnan(y[1]) and y[0] == pytest.approx(0.6)
    assert "Lost" in figure.texts[-1].get_text() or "Lost" in figure.get_suptitle()
    assert figure.axes[0].get_ylabel()
    plt.close(figure)
