"""Tests of the 03_cohorts sentences, display tables, readiness gate, checks and metrics."""

from __future__ import annotations

import datetime as dt
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from crmlib import cohorts as C
from crmlib.cohorts.models.pooling import _lifecycle_hidden
from crmlib.cohorts.queries.lifecycle import (
    LIFECYCLE_COLUMNS,
    TRANSITION_FROM_STATES,
    TRANSITION_TO_STATES,
)
from crmlib.cohorts.queries.matrices import RETENTION_COLUMNS
from crmlib.cohorts.text import cohort_conclusion
from crmlib.engine import Engine
from crmlib.io import to_jsonable
from crmlib.privacy import SmallCells, small_counts_in_html


def _page(*texts: str) -> list[str]:
    """What the page scanner finds in sentences rendered as paragraphs."""
    return small_counts_in_html("".join(f"<p>{text}</p>" for text in texts))


def _retention(
    cells: dict[str, tuple[int, list[int]]], *, dimension: str = "all", value: str = "all"
) -> pd.DataFrame:
    """A tidy cohort_retention table from {cohort month: (size, [retained at k=0, 1, ...])}.

    "on_or_after" rows equal the running max from the right, so on_or_after >= on holds.
    """
    rows = []
    for label, (size, retained) in cells.items():
        later = [max(retained[k:]) for k in range(len(retained))]
        for definition, counts in (("on", retained), ("on_or_after", later)):
            for k, customers in enumerate(counts):
                rows.append(
                    {
                        "cohort_start": dt.date.fromisoformat(f"{label}-01"),
                        "cohort_label": label,
                        "dimension": dimension,
                        "dimension_value": value,
                        "periods_since": k,
                        "definition": definition,
                        "cohort_size": size,
                        "customers": customers,
                        "retention": customers / size,
                        "observed": True,
                        "masked": size < 10,
                    }
                )
    return pd.DataFrame(rows, columns=list(RETENTION_COLUMNS))


def _months(n: int, start: str = "2024-01") -> list[str]:
    return [str(p) for p in pd.period_range(start, periods=n, freq="M")]


# 12 cohorts of 10 at k=1: the 6 older retain 3, the 6 newer 5 -> 30.0% vs 50.0% (+20.0 pp)
TWELVE = _retention({label: (10, [10, 3 if i < 6 else 5]) for i, label in enumerate(_months(12))})


def test_describe_cohort_retention_compares_last_six_with_six_before():
    text = C.describe_cohort_retention(TWELVE, k=(1, 3))
    assert "50.0%" in text and "30.0%" in text and "+20.0 pp" in text
    assert "2024-07 to 2024-12" in text and "2024-01 to 2024-06" in text
    assert "3 months** after acquisition: no cohort has reached it yet" in text


def test_cohort_conclusion_one_line_with_numbers():
    line = cohort_conclusion(TWELVE, None, unit="month")
    # no trends given: k = 3 has no data, so it says so
    assert line == "No cohort has reached 3 months yet."
    trends = pd.DataFrame({"k": [1], "gap_pp": [float("nan")]})
    line = cohort_conclusion(TWELVE, trends)
    assert line == "1-month retention of recent cohorts 50.0% (vs 30.0% for the 6 cohorts before)."


def test_definitions_and_channels():
    tidy = _retention({"2024-01": (10, [10, 2, 4])})
    assert C.definition_table(tidy, k=(1, 2)).loc["active in month k", "month 1"] == "20.0%"
    assert C.definition_table(tidy, k=(1, 2)).loc["active in month k or later", "month 1"] == (
        "40.0%"
    )
    assert "20.0%" in C.describe_definitions(tidy, k=1) and "40.0%" in C.describe_definitions(
        tidy, k=1
    )
    channels = pd.concat(
        [
            _retention({"2024-01": (40, [40, 20])}, dimension="acquisition_channel", value="a"),
            _retention({"2024-01": (40, [40, 10])}, dimension="acquisition_channel", value="b"),
        ]
    )
    text = C.describe_channel_retention(channels, k=1)
    assert text.index("a 50.0%") < text.index("b 25.0%")


def test_display_matrix_keeps_last_cohorts_and_leaves_small_ones_undrawn():
    tidy = _retention({"2024-01": (20, [20, 5]), "2024-02": (5, [5, 1]), "2024-03": (20, [20])})
    wide = C.display_matrix(tidy, cohorts_shown=2)
    assert wide.index.tolist() == ["2024-02", "2024-03"]
    assert wide.isna().loc["2024-02"].all()  # 5 customers < 10: not drawn
    assert wide.attrs == {"small_cohorts": ["2024-02"], "min_cell_size": 10}
    # the rule comes from min_cell_size, not from the table's own ``masked`` flags
    loose = C.display_matrix(tidy, cohorts_shown=2, min_cell_size=5)
    assert loose.loc["2024-02"].tolist() == [1.0, 0.2] and loose.attrs["small_cohorts"] == []
    strict = C.display_matrix(tidy, min_cell_size=21)
    assert (
        strict.isna().all().all()
        and strict.attrs["small_cohorts"] == tidy["cohort_label"].unique().tolist()
    )
    assert C.display_matrix(None) is None


def test_heatmap_says_which_cohort_rows_are_not_drawn():
    tidy = _retention({"2024-01": (20, [20, 5]), "2024-02": (5, [5, 1]), "2024-03": (20, [20])})
    fig, ax = plt.subplots()
    try:
        C.plot_cohort_heatmap(C.display_matrix(tidy), ax=ax)
        texts = [t.get_text() for t in ax.texts]
        assert "fewer than 10 customers: not shown" in texts
        # the small cohort's 100% / 20% are not annotated: only 2024-01 (2 cells), 2024-03 (1)
        assert sorted(t for t in texts if t.endswith("%")) == ["100%", "100%", "25%"]
        fig2, ax2 = plt.subplots()
        C.plot_or_note(C.plot_cohort_heatmap, C.display_matrix(tidy, min_cell_size=50), ax=ax2)
        assert "every cohort shown holds fewer than 50 customers" in ax2.texts[0].get_text()
    finally:
        plt.close("all")


def test_small_groups_get_no_pooled_rate_in_tables_or_sentences():
    # 3 + 4 customers reached month 1: a pooled rate on 7 customers is not shown
    tidy = _retention({"2024-01": (3, [3, 1]), "2024-02": (4, [4, 2])})
    table = C.definition_table(tidy, k=(1,))
    assert table.loc["active in month k", "month 1"] == "\u2013"
    assert (
        C.definition_table(tidy, k=(1,), min_cell_size=7).loc["active in month k", "month 1"]
        == "42.9%"
    )
    definitions = C.describe_definitions(tidy, k=1)
    assert "hold fewer than 10 customers" in definitions and "%" not in definitions
    recent = C.describe_cohort_retention(tidy, k=(1,))
    assert "hold fewer than 10 customers, too few to show their retention" in recent
    assert "42.9%" not in recent
    trends = pd.DataFrame({"k": [1], "gap_pp": [float("nan")]})
    line = cohort_conclusion(tidy, trends)
    assert line == (
        "The recent cohorts that reached 1 month hold fewer than 10 customers: too few to "
        "show their retention."
    )
    # metrics keep the number (artifacts and metrics.json are not pages)
    metrics = C.cohort_metrics(tidy, trends=None, lifecycle=None, rates=None, k=(1,))
    assert metrics["recent_retention"]["1"]["recent_retention"] == pytest.approx(3 / 7)
    assert "recent_customers" not in metrics["recent_retention"]["1"]
    assert _page(definitions, recent, line) == []


def _one_cohort_revenue(*, customers: int) -> pd.DataFrame:
    """One cohort's net revenue of 100 then 50 over two periods (the `all` split)."""
    net = pd.Series([100.0, 50.0])
    return pd.DataFrame(
        {
            "cohort_start": [dt.date(2024, 1, 1)] * 2,
            "cohort_label": ["2024-01"] * 2,
            "dimension": "all",
            "dimension_value": "all",
            "periods_since": [0, 1],
            "cohort_size": [customers] * 2,
            "net_revenue": net,
            "revenue_per_customer": net / customers,
            "revenue_retention": net / net.iloc[0],
            "cumulative_revenue_per_customer": net.cumsum() / customers,
            "observed": True,
            "masked": customers < 10,
        }
    )


def test_revenue_sentence_hides_means_of_small_cohorts():
    revenue = _one_cohort_revenue(customers=4)
    text = C.describe_revenue_retention(revenue, currency="EUR", k=(1,))
    assert "they hold fewer than 10 customers, too few to show their revenue" in text
    assert "€" not in text and _page(text) == []


def test_describe_revenue_retention_states_share_and_value():
    revenue = _one_cohort_revenue(customers=10)
    text = C.describe_revenue_retention(revenue, currency="EUR", k=(1, 2))
    # month 1: 50 / 100 = 50%; (100 + 50) / 10 customers = €15.00, €10.00 in month 0
    assert "50.0%" in text and "€15.00" in text and "€10.00" in text
    assert "month 2**: no cohort has reached it yet" in text


def test_brackets_sentence_and_table():
    brackets = pd.DataFrame(
        {
            "cohort_start": [dt.date(2024, 1, 1)] * 4,
            "cohort_label": ["2024-01"] * 4,
            "dimension": ["all", "all", "acquisition_channel", "acquisition_channel"],
            "dimension_value": ["all", "all", "a", "a"],
            "bracket": ["days 1–7", "days 8–30", "days 1–7", "days 8–30"],
            "days_from": [1, 8, 1, 8],
            "days_to": [7, 30, 7, 30],
            "cohort_size": [40, 20, 8, 4],
            "customers": [10, 5, 2, 1],
            "retention": [0.25, 0.25, 0.25, 0.25],
            "masked": [False, False, True, True],
        }
    )
    text = C.describe_brackets(brackets)
    assert "25.0% in days 1–7 (of 40 customers)" in text
    assert "25.0% in days 8–30 (of 20 customers)" in text
    table = C.bracket_table(brackets, min_cell_size=10)
    assert table.loc["all", "days 1–7"] == "25.0%"
    assert table.loc["a"].tolist() == ["\u2013", "\u2013"]  # 8 and 4 eligible customers < 10
    assert C.bracket_table(brackets, min_cell_size=8).loc["a"].tolist() == ["25.0%", "\u2013"]
    # at a limit of 25, the overall 20 eligible of days 8-30 are too few for a rate too
    strict = C.describe_brackets(brackets, min_cell_size=25)
    assert "not shown for days 8–30 (fewer than 25 customers)" in strict
    assert "(of 20" not in strict and _page(text) == []
    assert small_counts_in_html(strict, min_cell_size=25) == []


def _lifecycle() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period_start": [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)],
            "period_end": [dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)],
            "period_label": ["2025-01", "2025-02", "2025-03"],
            "is_complete": [True, True, False],
            "new": [10, 5, 1],
            "current": [0, 6, 2],
            "resurrected": [0, 0, 1],
            "dormant": [0, 4, 9],
            "active": [10, 11, 4],
            "active_previous": [0, 10, 11],
            "net_change": [10, 1, -7],
            "quick_ratio": [float("nan"), 1.25, 2 / 9],
            "lost": [0, 0, 4],
            "acquired": [10, 15, 16],
        }
    )


def test_describe_lifecycle_uses_latest_complete_period():
    text = C.describe_lifecycle(_lifecycle(), min_cell_size=1)
    assert "**2025-02** 11 customers were active: 5 new, 6 current" in text
    assert "4 of the previous month's customers went dormant" in text
    assert "Net change +1, quick ratio 1.25 (more customers gained than lost)" in text
    # at the default limit every count of 2025-02 but the total is small
    text = C.describe_lifecycle(_lifecycle())
    assert "11 customers were active: fewer than 10 new, fewer than 10 current" in text
    assert "Net change" not in text and "withheld too" in text and _page(text) == []


def _one_small_part() -> pd.DataFrame:
    """Two complete months; in 2025-02 only the 4 new customers are fewer than 10."""
    return (
        _lifecycle()
        .iloc[:2]
        .assign(
            new=[60, 4],
            current=[0, 50],
            resurrected=[0, 20],
            dormant=[0, 10],
            active=[60, 74],
            active_previous=[0, 60],
            net_change=[60, 14],
            quick_ratio=[float("nan"), 2.4],
            is_complete=True,
        )
    )


def test_lifecycle_hides_a_small_count_and_what_would_give_it_back():
    frame = _one_small_part()
    hidden = _lifecycle_hidden(frame, SmallCells(10))
    assert not hidden.iloc[0].any()
    # new (4) is small; active (74) = new + current + resurrected is shown, so the smallest
    # other part (resurrected, 20) is withheld too, and so are net change and quick ratio
    assert hidden.iloc[1][hidden.iloc[1]].index.tolist() == [
        "new", "resurrected", "net_change", "quick_ratio"
    ]  # fmt: skip
    text = C.describe_lifecycle(frame)
    assert "74 customers were active: fewer than 10 new, 50 current" in text
    assert "and \u2013 resurrected" in text and "20 resurrected" not in text
    assert "+14" not in text and "2.40" not in text
    assert "withheld, as the month's total would give back a count" in text
    assert _page(text) == []


def test_growth_accounting_chart_draws_the_same_counts_as_the_sentence():
    frame = _one_small_part()
    fig, ax = plt.subplots()
    try:
        C.plot_growth_accounting(frame, ax=ax)
        new, resurrected, dormant = (c.patches for c in ax.containers)
        assert np.isnan(new[1].get_height()) and np.isnan(resurrected[1].get_height())
        assert new[0].get_height() == 60 and dormant[1].get_height() == -10
        net = ax.get_lines()[0].get_ydata()
        assert net[0] == 60 and np.isnan(net[1])
        (caption,) = fig.texts
        assert caption.get_text().startswith("Not drawn in 1 period: bars of fewer than 10")
    finally:
        plt.close(fig)


def test_describe_transitions_states_row_shares():
    matrix = pd.DataFrame(
        [[3, 0, 1, 0], [8, 0, 2, 0], [1, 0, 1, 0], [0, 1, 0, 3], [0, 1, 0, 9]],
        index=pd.Index(TRANSITION_FROM_STATES, name="from_state"),
        columns=pd.Index(TRANSITION_TO_STATES, name="to_state"),
    )
    text = C.describe_transitions(matrix, min_cell_size=1)
    # new -> current 3/4, current -> current 8/10, dormant -> resurrected 1/4, lost 1/10
    assert "75.0%" in text and "80.0%" in text and "25.0%" in text and "10.0%" in text
    # at the default limit the shares of new (4) and dormant (4) customers are not shown
    text = C.describe_transitions(matrix)
    assert "Of customers new in a month, \u2013 bought again" in text
    assert "80.0%" in text and "10.0%" in text and "75.0%" not in text and "25.0%" not in text
    assert "the state held fewer than 10 customers" in text
    fig, ax = plt.subplots()
    try:
        C.plot_transition_matrix(matrix, ax=ax)
        shares = sorted(t.get_text() for t in ax.texts)
        assert "75%" not in shares and "80%" in shares  # rows new, resurrected, dormant undrawn
        assert fig.texts[0].get_text() == (
            "Not drawn: new, resurrected, dormant (fewer than 10 customers over all pairs of "
            "periods)."
        )
    finally:
        plt.close(fig)


def _durations() -> pd.DataFrame:
    # channel a: 4 of 40 back on day 10; channel b: 20 of 40 on day 10; all observed 100 days
    rows = [(f"C{i:03d}", "a", i < 4) for i in range(40)] + [
        (f"C{i + 40:03d}", "b", i < 20) for i in range(40)
    ]
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "acquisition_channel": [r[1] for r in rows],
            "event": [r[2] for r in rows],
            "duration_days": [10 if r[2] else 100 for r in rows],
        }
    )


def test_second_order_summary_table_and_sentence():
    rates = C.second_order_summary(_durations(), by="acquisition_channel", days=(30, 60))
    assert rates["group"].tolist() == ["all", "all", "a", "a", "b", "b"]
    text = C.describe_second_order(rates)
    # 24 of 80 = 30.0% within 30 days; b 50.0% best, a 10.0% worst
    assert text.startswith("Of 80 customers, a second order was placed by 30.0% within 30 days")
    assert "b customers came back most (50.0%) and a least (10.0%)" in text
    table = C.rates_table(rates, min_cell_size=50)
    assert table.loc["a"].tolist() == ["<50", "\u2013", "\u2013"]  # 40 < 50: no rate shown
    assert table.loc["all", "customers"] == "80"
    assert table.loc["all", "30 days"].startswith("30.0% (")
    assert small_counts_in_html(table.to_html(), min_cell_size=50) == []


def test_small_channels_are_pooled_into_other_for_rates_and_curves():
    # a 40, b 40, c 3, d 8: c and d (11 customers, 2 channels) are pooled
    rows = _durations()
    small = pd.DataFrame(
        {
            "customer_id": [f"S{i:02d}" for i in range(11)],
            "acquisition_channel": ["c"] * 3 + ["d"] * 8,
            "event": [True] * 2 + [False] + [True] * 3 + [False] * 5,
            "duration_days": [10] * 2 + [100] + [10] * 3 + [100] * 5,
        }
    )
    durations = pd.concat([rows, small], ignore_index=True)
    pooled = C.pool_groups(durations, by="acquisition_channel")
    assert pooled["acquisition_channel"].value_counts().to_dict() == {
        "a": 40, "b": 40, "(other)": 11
    }  # fmt: skip
    rates = C.second_order_summary(pooled, by="acquisition_channel", days=(30,))
    raw = C.second_order_summary(durations, by="acquisition_channel", days=(30,))
    # "all" (what metrics.json reads) is the same with or without pooling
    pd.testing.assert_frame_equal(rates[rates["group"] == "all"], raw[raw["group"] == "all"])
    other = rates.set_index("group").loc["(other)"]
    assert other["customers"] == 11 and other["second_order_rate"] == pytest.approx(5 / 11)
    table = C.rates_table(rates)
    assert table.index.tolist() == ["all", "a", "b", "(other)"]
    assert table["customers"].tolist() == ["91", "40", "40", "11"]
    assert small_counts_in_html(table.to_html()) == []
    assert "<10" in C.rates_table(raw).loc["c", "customers"]  # unpooled: "<10", rate "–"
    assert C.rates_table(raw).loc["c", "30 days"] == "\u2013"
    text = C.describe_second_order(rates)
    assert "(other) customers" not in text and _page(text) == []
    no_split = durations.drop(columns="acquisition_channel")
    assert C.pool_groups(no_split, by="acquisition_channel") is no_split  # no customers table
    assert C.pool_groups(None) is None


def test_second_order_sentence_on_fewer_customers_than_the_limit():
    rates = C.second_order_summary(_durations().head(6), by=None, days=(30,))
    text = C.describe_second_order(rates)
    assert text.startswith("There are fewer than 10 customers with a first order")
    assert "%" not in text and _page(text) == []


def test_cohort_trends_too_few_cohorts_gives_sentences():
    trends = C.cohort_trends(_retention({"2024-01": (10, [10, 5, 4, 3])}), k=(3,))
    assert trends["pp_per_year"].isna().all()
    assert trends["trend_text"].iloc[0].startswith("No 3-month trend:")
    assert "gap" in trends["gap_text"].iloc[0]
    # nothing estimated: the verdict says so (not "no measurable trend", which reads as an estimate)
    assert "No trend could be estimated" in C.describe_trends(trends)
    assert C.trends_table(trends).iloc[0]["change per year (95% CI)"] == "\u2013"


def test_trend_and_gap_on_small_groups_are_not_stated():
    # 3 cohorts of 3 customers (9 < 10): a trend can be fitted, but its rates rest on 9
    tidy = _retention({"2024-01": (3, [3, 1]), "2024-02": (3, [3, 2]), "2024-03": (3, [3, 1])})
    channels = pd.concat(
        [
            _retention({"2024-01": (40, [40, 20])}, dimension="acquisition_channel", value="a"),
            _retention({"2024-01": (35, [35, 7])}, dimension="acquisition_channel", value="b"),
        ]
    )
    trends = C.cohort_trends(pd.concat([tidy, channels]), k=(1,))
    assert trends.loc[0, "customers"] == 9 and trends.loc[0, "n_cohorts"] == 3
    assert trends.loc[0, ["best_customers", "worst_customers"]].tolist() == [40, 35]
    table = C.trends_table(trends)
    assert table.iloc[0]["mean retention"] == "\u2013" and table.iloc[0]["p"] == "\u2013"
    assert table.iloc[0]["cohorts"] == "3" and table.iloc[0]["best channel"] == "a (50.0%)"
    text = C.describe_trends(trends)
    assert "No 1-month trend is shown: its cohorts hold fewer than 10 customers." in text
    assert "44.4%" not in text and "50.0% for a" in text
    # at a limit of 36 the gap's worst channel (35 customers) is too small as well
    strict = C.trends_table(trends, min_cell_size=36)
    assert (
        strict.iloc[0][["best channel", "worst channel", "gap (95% CI)"]].tolist() == ["\u2013"] * 3
    )
    assert "No 1-month channel gap is shown" in C.describe_trends(trends, min_cell_size=36)
    assert "gap" not in cohort_conclusion(pd.concat([tidy, channels]), trends, min_cell_size=36)


@pytest.mark.parametrize(
    "describe",
    [
        lambda: C.describe_cohort_retention(None),
        lambda: C.describe_definitions(None),
        lambda: C.describe_channel_retention(None),
        lambda: C.describe_revenue_retention(None, currency="EUR"),
        lambda: C.describe_brackets(None),
        lambda: C.describe_trends(None),
        lambda: C.describe_lifecycle(None),
        lambda: C.describe_transitions(None),
        lambda: C.describe_second_order(None),
        lambda: cohort_conclusion(None, None),
    ],
    ids=[
        "retention",
        "definitions",
        "channels",
        "revenue",
        "brackets",
        "trends",
        "lifecycle",
        "transitions",
        "second_order",
        "conclusion",
    ],  # fmt: skip
)
def test_not_enough_data_gives_a_sentence(describe):
    text = describe()
    assert isinstance(text, str) and len(text) > 20


def test_none_passes_through_tables_and_plots():
    assert C.when_ready(False, pytest.fail) is None
    assert C.when_ready(True, lambda x: x + 1, 1) == 2
    for make in (C.definition_table, C.bracket_table, C.cohort_trends, C.trends_table,
                 C.second_order_summary, C.rates_table):  # fmt: skip
        assert make(None) is None
    assert list(C.as_artifact(None, "lifecycle").columns) == list(LIFECYCLE_COLUMNS)
    fig, ax = plt.subplots()
    out = C.plot_or_note(C.plot_cohort_heatmap, None, ax=ax, note="Not enough history")
    assert out is ax and ax.texts[0].get_text() == "Not enough history"
    plt.close(fig)


def test_heatmap_of_masked_cells_is_a_note_not_a_crash():
    """Every cell masked (a tiny shop): the axes say why instead of seaborn failing on nanmax."""
    masked = pd.DataFrame([[np.nan, np.nan], [np.nan, np.nan]], index=["2024-01", "2024-02"])
    fig, ax = plt.subplots()
    C.plot_or_note(C.plot_cohort_heatmap, masked, ax=ax, fmt=".0f")
    assert "smaller than the minimum cell size (privacy.min_cell_size)" in ax.texts[0].get_text()
    plt.close(fig)


def _engine(days: list[str]) -> Engine:
    engine = Engine()
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(days))],
            "customer_id": [f"C{i}" for i in range(len(days))],
            "order_ts": pd.to_datetime(days).astype("datetime64[us]"),
            "amount": 10.0,
            "gross_amount": 10.0,
            "refund_amount": 0.0,
            "is_purchase": True,
        }
    )
    engine.register("transactions", frame)
    return engine


def test_cohort_readiness_needs_two_complete_periods():
    ready, text = C.cohort_readiness(_engine(["2025-12-03", "2025-12-20"]), as_of_date="2025-12-31")
    assert not ready and "only 1 complete month" in text and "period" in text
    ready, text = C.cohort_readiness(_engine(["2025-11-03"]), as_of_date="2025-12-31")
    assert ready and text.startswith("2 complete months of cohorts, 2025-11 to 2025-12")
    ready, text = C.cohort_readiness(_engine(["2025-11-03"]), as_of_date="2025-01-31")
    assert not ready and "no purchase" in text


def test_cohort_checks_pass_and_skip():
    checks = C.cohort_checks(TWELVE, _lifecycle())
    assert all(r.passed for r in checks.results), checks.summary()
    assert "period-0 retention = 100%" in checks.summary()
    skipped = C.cohort_checks(None, None)
    assert "not checked" in skipped.summary()


def test_cohort_metrics_json_ready_without_customer_ids():
    durations = _durations()
    rates = C.second_order_summary(durations, by="acquisition_channel")
    trends = C.cohort_trends(TWELVE, k=(1,))
    metrics = C.cohort_metrics(TWELVE, trends=trends, lifecycle=_lifecycle(), rates=rates)
    text = json.dumps(metrics, allow_nan=False)  # plain JSON already, no NaN
    assert json.dumps(to_jsonable(metrics), allow_nan=False) == text
    assert not any(customer in text for customer in durations["customer_id"])
    assert metrics["recent_retention"]["1"]["recent_retention"] == pytest.approx(0.5)
    assert metrics["trends"]["1"]["pp_per_year"] > 0
    assert metrics["lifecycle"]["period_label"] == "2025-02"
    assert metrics["second_order"]["30"]["second_order_rate"] == pytest.approx(0.3)
    assert {"conclusion", "trends", "lifecycle", "second_order"} <= set(metrics)
    empty = C.cohort_metrics(None, trends=None, lifecycle=None, rates=None)
    assert json.dumps(empty) and empty["ready"] is False
