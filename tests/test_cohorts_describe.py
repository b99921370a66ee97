"""Tests of the 03_cohorts sentences, display tables, readiness gate, checks and metrics."""

from __future__ import annotations

import datetime as dt
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from crmlib import cohorts as C
from crmlib.engine import Engine
from crmlib.io import to_jsonable


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
    return pd.DataFrame(rows, columns=list(C.RETENTION_COLUMNS))


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
    line = C.cohort_conclusion(TWELVE, None, unit="month")
    # no trends given: k = 3 has no data, so it says so
    assert line == "No cohort has reached 3 months yet."
    trends = pd.DataFrame({"k": [1], "gap_pp": [float("nan")]})
    line = C.cohort_conclusion(TWELVE, trends)
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


def test_display_matrix_keeps_last_cohorts_and_blanks_masked():
    tidy = _retention({"2024-01": (20, [20, 5]), "2024-02": (5, [5, 1]), "2024-03": (20, [20])})
    wide = C.display_matrix(tidy, cohorts_shown=2)
    assert wide.index.tolist() == ["2024-02", "2024-03"]
    assert wide.isna().loc["2024-02"].all()  # 5 customers < 10: masked
    assert C.display_matrix(None) is None


def test_describe_revenue_retention_states_share_and_value():
    revenue = pd.DataFrame(
        {
            "cohort_start": [dt.date(2024, 1, 1)] * 2,
            "cohort_label": ["2024-01"] * 2,
            "dimension": "all",
            "dimension_value": "all",
            "periods_since": [0, 1],
            "cohort_size": [10, 10],
            "net_revenue": [100.0, 50.0],
            "revenue_per_customer": [10.0, 5.0],
            "revenue_retention": [1.0, 0.5],
            "cumulative_revenue_per_customer": [10.0, 15.0],
            "observed": True,
            "masked": False,
        }
    )
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
    assert "25.0% in days 1–7 (of 40)" in text and "25.0% in days 8–30 (of 20)" in text
    table = C.bracket_table(brackets, min_cell_size=10)
    assert table.loc["all", "days 1–7"] == "25.0%"
    assert table.loc["a", "days 1–7"] == ""  # 8 eligible customers < 10: blank


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
    text = C.describe_lifecycle(_lifecycle())
    assert "**2025-02** 11 customers were active: 5 new, 6 current" in text
    assert "4 of the previous month's customers went dormant" in text
    assert "Net change +1, quick ratio 1.25 (more customers gained than lost)" in text


def test_describe_transitions_states_row_shares():
    matrix = pd.DataFrame(
        [[3, 0, 1, 0], [8, 0, 2, 0], [1, 0, 1, 0], [0, 1, 0, 3], [0, 1, 0, 9]],
        index=pd.Index(C.TRANSITION_FROM_STATES, name="from_state"),
        columns=pd.Index(C.TRANSITION_TO_STATES, name="to_state"),
    )
    text = C.describe_transitions(matrix)
    # new -> current 3/4, current -> current 8/10, dormant -> resurrected 1/4, lost 1/10
    assert "75.0%" in text and "80.0%" in text and "25.0%" in text and "10.0%" in text


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
    assert table.loc["a", "30 days"] == ""  # 40 customers < 50: blank
    assert table.loc["all", "30 days"].startswith("30.0% (")


def test_cohort_trends_too_few_cohorts_gives_sentences():
    trends = C.cohort_trends(_retention({"2024-01": (10, [10, 5, 4, 3])}), k=(3,))
    assert trends["pp_per_year"].isna().all()
    assert trends["trend_text"].iloc[0].startswith("No 3-month trend:")
    assert "gap" in trends["gap_text"].iloc[0]
    # nothing estimated: the verdict says so (not "no measurable trend", which reads as an estimate)
    assert "No trend could be estimated" in C.describe_trends(trends)
    assert C.trends_table(trends).iloc[0]["change per year (95% CI)"] == "\u2013"


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
        lambda: C.cohort_conclusion(None, None),
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
    assert list(C.as_artifact(None, "lifecycle").columns) == list(C.LIFECYCLE_COLUMNS)
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
