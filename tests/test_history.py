"""Since the last report (crmlib.history): finding the last report, comparing figures, and the
stages' own comparisons, with known answers on hand-made run folders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmlib import history
from crmlib.io import RunFolder
from crmlib.report import StageEntry, _since_last, _sparkline


def _run(folder: Path, *, as_of: str, status: str = "ok", metrics: dict[str, Any] | None = None,
         tables: dict[str, pd.DataFrame] | None = None) -> Path:  # fmt: skip
    (folder / "data").mkdir(parents=True)
    record = {
        "status": status,
        "finished": f"{as_of}T06:00:00+00:00",
        "params": {"as_of_date": as_of},
    }
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "metrics.json").write_text(json.dumps(metrics or {}))
    for name, table in (tables or {}).items():
        table.to_parquet(folder / "data" / f"{name}.parquet")
    return folder


# -- which run is the last report --------------------------------------------------------------
def test_inside_a_build_the_last_report_is_the_finished_run_then_its_history(
    tmp_path: Path,
) -> None:
    _run(tmp_path / "shop", as_of="2025-11-30")
    _run(tmp_path / "shop.history" / "20251101T060000Z", as_of="2025-10-31")
    build = RunFolder(tmp_path / ".shop.building-20251231T060000Z-abc")
    last = history.last_report(build, as_of_date="2025-12-31")
    assert last is not None and last.as_of_date == dt.date(2025, 11, 30)
    assert last.root == tmp_path / "shop"


def test_a_rerun_at_the_same_date_and_a_failed_run_are_passed_over(tmp_path: Path) -> None:
    _run(tmp_path / "shop", as_of="2025-12-31")  # a rerun at the same date
    _run(tmp_path / "shop.history" / "20251215T060000Z", as_of="2025-12-31")
    _run(tmp_path / "shop.history" / "20251201T060000Z", as_of="2025-11-30", status="failed")
    _run(tmp_path / "shop.history" / "20251101T060000Z", as_of="2025-10-31")
    build = RunFolder(tmp_path / ".shop.building-20251231T070000Z-abc")
    last = history.last_report(build, as_of_date="2025-12-31")
    assert last is not None and last.as_of_date == dt.date(2025, 10, 31)


def test_a_run_rerun_by_hand_in_its_folder_compares_with_its_history(tmp_path: Path) -> None:
    final = _run(tmp_path / "shop", as_of="2025-12-31")
    _run(tmp_path / "shop.history" / "20251201T060000Z", as_of="2025-11-30")
    last = history.last_report(RunFolder(final), as_of_date="2025-12-31")
    assert last is not None and last.as_of_date == dt.date(2025, 11, 30)
    assert history.last_report(RunFolder(tmp_path / "elsewhere"), as_of_date="2025-12-31") is None


# -- the figures -------------------------------------------------------------------------------
KPIS_THEN = {"latest_complete_period": "2025-10",
             "latest": {"active_customers": 1200, "retention_rate": 0.50, "revenue": 10_000.0}}  # fmt: skip
KPIS_NOW = {"latest_complete_period": "2025-11",
            "latest": {"active_customers": 1260, "retention_rate": 0.475, "revenue": 12_500.0}}  # fmt: skip


def test_figures_then_now_and_their_change_read_as_a_stakeholder_reads_them(tmp_path: Path) -> None:
    last = history.LastReport(tmp_path, dt.date(2025, 10, 31), None, {"kpis": KPIS_THEN})
    changes = history.since_last("kpis", KPIS_NOW, last, as_of_date="2025-11-30")
    table = history.since_last_table(changes, currency="EUR", min_cell_size=10)
    assert table is not None
    assert list(table.columns) == [
        "Last report (as of 2025-10-31)", "This report (as of 2025-11-30)", "Change"
    ]  # fmt: skip
    assert table.loc["Latest complete period"].tolist() == ["2025-10", "2025-11", "changed"]
    assert table.loc["Active customers"].tolist() == ["1,200", "1,260", "+60, +5.0%"]
    assert table.loc["Retention rate"].tolist() == ["50.0%", "47.5%", "\u22122.5 pp"]
    assert table.loc["Net revenue"].tolist() == ["€10.0k", "€12.5k", "+€2.5k, +25.0%"]
    sentence = history.describe_since_last(changes, currency="EUR", extra="More.")
    assert sentence.startswith("Since the last report (as of 2025-10-31): active customers 1,260")
    assert "retention rate 47.5% (\u22122.5 pp)" in sentence and sentence.endswith("More.")
    recorded = history.with_since_last(KPIS_NOW, changes, sentence)["since_last"]
    assert recorded == {"as_of_date": "2025-10-31", "sentence": sentence}


def test_a_small_count_and_its_change_are_hidden(tmp_path: Path) -> None:
    then = {"latest": {"active_customers": 7}}
    last = history.LastReport(tmp_path, dt.date(2025, 10, 31), None, {"kpis": then})
    changes = history.since_last(
        "kpis", {"latest": {"active_customers": 25}}, last, as_of_date="2025-11-30"
    )
    table = history.since_last_table(changes, currency="EUR", min_cell_size=10)
    assert table is not None
    assert table.loc["Active customers"].tolist() == ["<10", "25", "–"]
    assert "25 (" not in history.describe_since_last(changes, currency="EUR")


def test_without_a_last_report_the_section_says_why(tmp_path: Path) -> None:
    changes = history.since_last("kpis", KPIS_NOW, None, as_of_date="2025-11-30")
    assert history.since_last_table(changes, currency="EUR") is None
    assert "nothing to compare with yet" in history.describe_since_last(changes, currency="EUR")
    assert history.with_since_last({}, changes, "x")["since_last"]["as_of_date"] is None


def test_compare_and_record_round_trip_through_metrics_json(tmp_path: Path) -> None:
    _run(tmp_path / "shop", as_of="2025-10-31", metrics={"kpis": KPIS_THEN})
    run = RunFolder(tmp_path / ".shop.building-x")
    run.write_metrics("kpis", KPIS_NOW)
    changes = history.compare(run, "kpis", as_of_date="2025-11-30")
    history.record(run, changes, "the sentence")
    saved = run.read_metrics()["kpis"]
    assert saved["latest"] == KPIS_NOW["latest"]
    assert saved["since_last"] == {"as_of_date": "2025-10-31", "sentence": "the sentence"}


# -- the stages' own comparisons ---------------------------------------------------------------
def _kpis(revenue: list[float], complete: list[bool]) -> pd.DataFrame:
    labels = [f"2025-{m:02d}" for m in range(1, len(revenue) + 1)]
    return pd.DataFrame({"period_label": labels, "is_complete": complete,
                         "active_customers": [100] * len(revenue), "retention_rate": [0.5] * len(revenue),
                         "revenue": revenue})  # fmt: skip


def test_restated_periods_are_the_complete_periods_whose_figures_changed(tmp_path: Path) -> None:
    then = _kpis([100.0, 200.0, 300.0], [True, True, False])  # March was partial then
    _run(tmp_path / "run", as_of="2025-03-15", tables={"kpis_by_period": then})
    last = history.LastReport(tmp_path / "run", dt.date(2025, 3, 15), None, {})
    now = _kpis([100.0, 180.0, 320.0, 50.0], [True, True, True, False])
    restated = history.restated_periods(now, last)
    assert restated["period_label"].tolist() == ["2025-02"]  # March was not complete then
    assert restated[["revenue_then", "revenue_now"]].iloc[0].tolist() == [200.0, 180.0]
    assert "1 period reported last time has" in history.describe_restated(
        restated, last, currency="EUR"
    )
    assert history.restated_periods(then, last).empty
    assert history.restated_periods(now, None).empty


def test_the_change_of_value_splits_exactly_into_known_new_and_gone_customers(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    then = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(0, 300)], "clv": rng.gamma(2, 50, 300)}
    )
    now = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(40, 400)], "clv": rng.gamma(2, 50, 360)}
    )
    _run(tmp_path / "run", as_of="2025-11-30", tables={"clv": then})
    last = history.LastReport(tmp_path / "run", dt.date(2025, 11, 30), None, {})
    sentence = history.clv_change(now, last, currency="EUR")
    total = now["clv"].sum() - then["clv"].sum()
    known = (
        now.set_index("customer_id")["clv"].reindex([f"C{i}" for i in range(40, 300)]).sum()
        - then["clv"].iloc[40:].sum()
    )
    new = now["clv"].iloc[260:].sum()
    gone = then["clv"].iloc[:40].sum()
    assert known + new - gone == pytest.approx(total, rel=1e-12)
    fmt = history._change(0.0, total, "money", currency="EUR", rule=history.SmallCells(10))
    assert sentence.startswith(f"Total value moved by {fmt.split(' (')[0]}")
    assert "100 customers new since" in sentence
    assert history.clv_change(now, None, currency="EUR") == ""


def test_verdict_changes_name_new_experiments_and_changed_verdicts(tmp_path: Path) -> None:
    def stage(verdicts: dict[str, dict[str, str]]) -> dict[str, Any]:
        return {"experiments": {e: {"variants": {v: {"verdict": x} for v, x in vs.items()}}
                                for e, vs in verdicts.items()}}  # fmt: skip

    then = stage({"winback": {"b": "inconclusive"}})
    now = stage({"winback": {"b": "ship"}, "vip": {"b": "inconclusive"}})
    last = history.LastReport(tmp_path, dt.date(2025, 11, 30), None, {"ab_test": then})
    text = history.verdict_changes(now, last)
    assert text == "New experiment(s): vip. Verdicts changed: winback / b: inconclusive → ship."
    assert history.verdict_changes(then, last) == "No new experiment, and no verdict changed."


def test_segment_sizes_name_the_largest_growth_and_fall(tmp_path: Path) -> None:
    def stage(sizes: dict[str, int]) -> dict[str, Any]:
        return {"segments": {name: {"customers": n} for name, n in sizes.items()}}

    then = stage({"Champions": 400, "At risk": 100, "Lost": 300, "New": 5})
    now = stage({"Champions": 380, "At risk": 160, "Lost": 310, "New": 40})
    last = history.LastReport(tmp_path, dt.date(2025, 11, 30), None, {"segments": then})
    text = history.describe_segment_sizes(now, last, min_cell_size=10)
    # New grew more (5 -> 40) but was small last time: it is not named with numbers
    assert text == "At risk grew most (100 → 160 customers); Champions shrank most (400 → 380)."


# -- the front page ----------------------------------------------------------------------------
def test_the_trend_line_leaves_out_values_on_small_groups() -> None:
    trend = {"periods": ["a", "b", "c", "d"], "values": [0.5, 0.6, 0.4, 0.7],
             "customers": [100, 5, 100, 100]}  # fmt: skip
    svg = str(_sparkline(trend, label="Retention", min_cell_size=10))
    assert svg.startswith("<svg") and "<script" not in svg
    # b is hidden: the line breaks into one drawn run (c-d); a alone is not a line
    assert svg.count("<polyline") == 1
    assert str(_sparkline({"values": [1.0], "customers": [50]}, label="x", min_cell_size=10)) == ""


def test_the_front_page_block_gathers_each_stage_sentence() -> None:
    stages = [
        StageEntry("02_kpis", "kpis", "Retention KPIs"),
        StageEntry("04_segments", "segments", "Segments"),
    ]
    metrics = {"kpis": {"since_last": {"as_of_date": "2025-11-30", "sentence": "K moved."}},
               "segments": {"since_last": {"as_of_date": None, "sentence": "none"}}}  # fmt: skip
    block = _since_last(metrics, stages)
    assert block["as_of_date"] == "2025-11-30"
    assert block["items"] == [{"title": "Retention KPIs", "sentence": "K moved."}]
    assert _since_last({}, stages)["items"] == []
    # the heading names the date: a sentence comparing with it does not repeat it; one comparing
    # with another report keeps its own date
    metrics = {
        "kpis": {"since_last": {"as_of_date": "2025-11-30",
                                "sentence": "Since the last report (as of 2025-11-30): **up**."}},
        "segments": {"since_last": {"as_of_date": "2025-10-31",
                                    "sentence": "Since the last report (as of 2025-10-31): x."}},
    }  # fmt: skip
    items = _since_last(metrics, stages)["items"]
    assert [str(item["sentence"]) for item in items] == [
        "<strong>up</strong>.",
        "Since the last report (as of 2025-10-31): x.",
    ]


def test_the_satisfaction_and_cost_tiles_show_what_the_run_has() -> None:
    from crmlib.report import _satisfaction_and_cost

    assert _satisfaction_and_cost({}, "EUR") == []
    metrics = {
        "kpis": {"satisfaction": {"nps": -0.04, "nps_low": -6.2, "nps_high": 6.1,
                                  "nps_respondents": 800, "csat": None}},
        "clv": {"cac_blended": 24.69, "clv_to_cac": {"All channels": 2.9987}},
    }  # fmt: skip
    tiles = {tile["key"]: tile for tile in _satisfaction_and_cost(metrics, "EUR")}
    assert set(tiles) == {"nps", "cac"}  # CSAT withheld (small-cell rule): no tile
    assert tiles["nps"]["value"] == "0.0"
    assert tiles["nps"]["note"] == "95% interval \u22126.2 to +6.1; 800 customers answered"
    assert tiles["cac"]["value"] == "€24.69" and tiles["cac"]["note"].startswith("CLV:CAC 3.0")


def test_scores_in_points_read_signed_with_one_decimal() -> None:
    from crmlib.history import _change, _shown
    from crmlib.privacy import SmallCells

    rule = SmallCells(10)
    assert _shown(7.99, "points", currency="EUR", rule=rule) == "+8.0"
    assert _shown(-3.04, "points", currency="EUR", rule=rule) == "\u22123.0"
    assert _change(7.99, 9.56, "points", currency="EUR", rule=rule) == "+1.6 points"
    assert _change(9.56, 7.99, "points", currency="EUR", rule=rule) == "\u22121.6 points"


def test_segment_moves_count_the_customers_in_another_segment_and_name_the_largest_move(
    tmp_path: Path,
) -> None:
    ids = [f"C{i}" for i in range(60)]
    then = pd.DataFrame({"customer_id": ids, "segment": ["Loyal"] * 30 + ["At risk"] * 30})
    # 12 Loyal -> At risk, 3 At risk -> Loyal, 5 customers gone, 4 new; the rest stay
    now = pd.DataFrame({
        "customer_id": ids[5:] + [f"N{i}" for i in range(4)],
        "segment": ["Loyal"] * 13 + ["At risk"] * 12 + ["Loyal"] * 3 + ["At risk"] * 27
        + ["New"] * 4,
    })  # fmt: skip
    _run(tmp_path / "run", as_of="2025-11-30", tables={"rfm": then})
    last = history.LastReport(tmp_path / "run", dt.date(2025, 11, 30), None, {})
    sentence = history.describe_segment_moves(now, last)
    assert sentence == (
        "Of the 55 customers segmented in both reports, 15 customers are in another segment "
        "now; the largest move is 12 from Loyal to At risk."
    )
    # a move of fewer than min_cell_size customers is not named, nor is its count
    strict = history.describe_segment_moves(now, last, min_cell_size=20)
    assert strict.endswith("fewer than 20 customers are in another segment now.")
    assert history.describe_segment_moves(now, None) == ""
