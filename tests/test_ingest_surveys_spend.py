"""crmlib.ingest: the optional surveys and marketing_spend tables — every reject reason, by row.

The hand-made files of tests/data/surveys_spend/ hold one row per rule (and a few valid rows
that look suspicious: an upper-case survey type, a score written 5.0, a response of a
customer missing from customers, spend on a channel no customer came through, a spend with a
fraction of a cent). The same files run on Spark in tests/test_ingest_spark.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crmlib.config import WorkbookParams
from crmlib.errors import ConfigError, SourceFileError
from crmlib.ingest import describe_reconciliation, quality_scorecard, run_ingest
from crmlib.ingest.sources import REJECT_REASONS
from crmlib.io import RunFolder

DATA = Path(__file__).resolve().parent / "data" / "surveys_spend"

#: surveys.csv: data row -> expected reason and column (None: accepted or outside the window).
SURVEY_REJECTS = {
    3: ("missing_customer_id", "customer_id"),
    4: ("bad_timestamp", "response_ts"),  # 'not a time'
    5: ("invalid_value", "survey"),  # 'ces' is no survey type
    6: ("invalid_value", "survey"),  # empty survey type
    7: ("invalid_value", "score"),  # NPS 11
    8: ("invalid_value", "score"),  # CSAT 0
    9: ("invalid_value", "score"),  # 7.5 is not a whole number
    10: ("invalid_value", "score"),  # 'ten'
    11: ("invalid_value", "score"),  # empty score
    12: ("future_timestamp", "response_ts"),  # 2099
    13: ("duplicate_row", None),  # copy of row 1
}
#: marketing_spend.csv: data row -> expected reason and column.
SPEND_REJECTS = {
    4: ("bad_timestamp", "date"),  # 01/03/2025 is not ISO 8601
    5: ("invalid_value", "acquisition_channel"),  # empty channel
    6: ("bad_amount", "spend"),  # 'abc'
    7: ("bad_amount", "spend"),  # empty spend
    8: ("invalid_value", "spend"),  # negative
    9: ("future_timestamp", "date"),  # 2099
    10: ("duplicate_row", None),  # copy of row 1
    11: ("conflicting_spend", "spend"),  # row 1's date, channel and campaign, other spend
    14: ("duplicate_row", None),  # copy of row 3 (empty campaign)
}


def make_params(
    folder: Path = DATA, *, tables: tuple[str, ...] = ("customers", "surveys", "marketing_spend"),
    **sources: dict[str, Any],
) -> WorkbookParams:  # fmt: skip
    """The hand-made files (or ``folder``'s), run date 2026-06-30, thresholds that never fail."""
    source: dict[str, Any] = {"transactions": {"path": str(DATA / "transactions.csv")}}
    source.update({t: {"path": str(folder / f"{t}.csv")} for t in tables})
    source.update(sources)
    return WorkbookParams.model_validate({
        "run_name": "surveys-spend", "as_of_date": "2025-12-31", "source": source,
        "ingest": {"run_date": "2026-06-30", "reject_share_warn": 0.8, "reject_share_fail": 0.9},
    })  # fmt: skip


def run(params: WorkbookParams, tmp_path: Path) -> tuple[dict[str, Any], RunFolder]:
    folder = RunFolder(tmp_path / "run")
    return run_ingest(params, folder).quality, folder


@pytest.fixture(scope="module")
def ugly(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], RunFolder]:
    return run(make_params(), tmp_path_factory.mktemp("ugly"))


def _rejects(folder: RunFolder, table: str) -> dict[int, tuple[str, str | None]]:
    rejects = folder.read_table("rejects")
    rows = rejects[rejects["table"] == table]
    return {
        int(r.source_row): (str(r.reason), None if pd.isna(r.column) else str(r.column))
        for r in rows.itertuples(index=False)
    }


@pytest.mark.parametrize(
    ("table", "expected"),
    [("surveys", SURVEY_REJECTS), ("marketing_spend", SPEND_REJECTS)],
    ids=["surveys", "marketing_spend"],
)
def test_every_reject_reason_by_row(
    ugly: tuple[dict[str, Any], RunFolder], table: str, expected: dict[int, tuple[str, str | None]]
) -> None:
    _, folder = ugly
    assert _rejects(folder, table) == expected
    # every reason the table declares is exercised by its ugly file
    assert {reason for reason, _ in expected.values()} == set(REJECT_REASONS[table])


@pytest.mark.parametrize("table", ["surveys", "marketing_spend"])
def test_rows_reconcile_per_table(ugly: tuple[dict[str, Any], RunFolder], table: str) -> None:
    quality, folder = ugly
    summary = quality["tables"][table]
    bins = ("rows_accepted", "rows_unattributed", "rows_after_as_of", "rows_rejected")
    assert summary["rows_read"] == sum(summary[b] for b in bins)
    assert summary["rows_reconcile"] and quality["reconciles"]
    assert sum(summary["rejected_by_reason"].values()) == summary["rows_rejected"]
    assert summary["rows_written"] == summary["rows_accepted"] == len(folder.read_table(table))
    assert summary["rows_after_as_of"] == 1  # the 2026 row: valid, outside the report window
    # the rejects artifact holds every rejected row once, with its raw record
    rejects = folder.read_table("rejects")
    mine = rejects[rejects["table"] == table]
    assert len(mine) == summary["rows_rejected"] == len(set(mine["source_row"]))
    assert all(json.loads(record) for record in mine["raw_record"])


def test_accepted_surveys_are_canonical(ugly: tuple[dict[str, Any], RunFolder]) -> None:
    quality, folder = ugly
    surveys = folder.read_table("surveys")
    assert list(surveys.columns) == ["customer_id", "response_ts", "survey", "score"]
    got = sorted(zip(surveys["customer_id"], surveys["survey"], surveys["score"], strict=True))
    # CSAT in capitals and ' csat ' with spaces are csat; 5.0 is the whole score 5; C9 is not
    # in customers: kept (as events are) and counted
    assert got == [("C1", "nps", 9), ("C2", "csat", 4), ("C4", "csat", 5), ("C9", "nps", 0)]
    assert str(surveys["score"].dtype) == "Int64"
    assert surveys["response_ts"].min() == pd.Timestamp("2025-03-01 10:00:00")
    assert quality["tables"]["surveys"]["unknown_customer_rows"] == 1


def test_accepted_spend_is_canonical(ugly: tuple[dict[str, Any], RunFolder]) -> None:
    quality, folder = ugly
    spend = folder.read_table("marketing_spend")
    assert list(spend.columns) == ["date", "acquisition_channel", "spend", "campaign"]
    assert spend["date"].tolist() == [dt.date(2025, 3, 1)] * 3 + [
        dt.date(2025, 3, 3), dt.date(2025, 3, 4),
    ]  # fmt: skip
    # money keeps the source's precision (1.234); an empty campaign stays empty
    assert sorted(spend["spend"]) == [1.234, 55.0, 80.0, 120.5, 1000.0]
    assert spend["campaign"].isna().sum() == 2
    # tv: no customer was acquired through it — a warning in quality.json, not a reject
    assert quality["tables"]["marketing_spend"]["channels_without_customers"] == ["tv"]


def test_details_say_what_was_found_and_expected(ugly: tuple[dict[str, Any], RunFolder]) -> None:
    _, folder = ugly
    rejects = folder.read_table("rejects").set_index(["table", "source_row"])["detail"]
    assert rejects[("surveys", 7)] == (
        "score '11' is not a whole number from 0 to 10; expected a score on the nps scale"
    )
    assert rejects[("surveys", 8)].startswith("score '0' is not a whole number from 1 to 5")
    assert "expected one of nps, csat" in rejects[("surveys", 5)]
    assert rejects[("marketing_spend", 4)] == (
        "date '01/03/2025' is not a date; expected an ISO 8601 date such as 2025-03-01"
    )
    assert rejects[("marketing_spend", 8)] == "spend '-5.00' is negative; expected a spend >= 0"
    assert "already read at row 1 with different content" in rejects[("marketing_spend", 11)]


def test_pages_count_the_new_tables(ugly: tuple[dict[str, Any], RunFolder]) -> None:
    quality, _ = ugly
    card = quality_scorecard(quality)
    assert card.loc["surveys (rows)", "read"] == "16"
    assert card.loc["marketing_spend (rows)", "rejected"] == "9"
    assert "surveys 4 of 16, marketing_spend 5 of 15" in describe_reconciliation(quality)
    # the worst table's rejected share drives the verdict: 11 of the 15 survey rows in the
    # window (spend: 9 of 14)
    assert quality["worst_table"] == "surveys"
    assert quality["reject_share"] == pytest.approx(11 / 15)
    assert quality["tables"]["marketing_spend"]["reject_share"] == pytest.approx(9 / 14)
    assert "of survey response rows are invalid" in quality["verdict_text"]


def test_other_column_names_through_the_mapping(tmp_path: Path) -> None:
    """A survey tool's and an ad platform's export, mapped with source.<table>.columns."""
    renames = {
        "surveys": {"customer_id": "Respondent", "response_ts": "Submitted At", "survey": "Type",
                    "score": "Answer"},
        "marketing_spend": {"date": "Day", "acquisition_channel": "Source", "spend": "Cost",
                            "campaign": "Campaign Name"},
    }  # fmt: skip
    for table, mapping in renames.items():
        frame = pd.read_csv(DATA / f"{table}.csv", dtype=str, keep_default_na=False)
        frame.rename(columns=mapping).to_csv(tmp_path / f"{table}.csv", index=False)
    (tmp_path / "customers.csv").write_bytes((DATA / "customers.csv").read_bytes())
    params = make_params(
        tmp_path,
        tables=("customers",),
        **{t: {"path": str(tmp_path / f"{t}.csv"), "columns": renames[t]} for t in renames},
    )
    quality, folder = run(params, tmp_path)
    expected, _ = run(make_params(), tmp_path / "plain")
    for table in renames:
        for key in ("rows_read", "rows_accepted", "rows_rejected", "rejected_by_reason"):
            assert quality["tables"][table][key] == expected["tables"][table][key], (table, key)
    assert _rejects(folder, "surveys") == SURVEY_REJECTS
    assert _rejects(folder, "marketing_spend") == SPEND_REJECTS


def test_a_missing_required_column_fails_fast(tmp_path: Path) -> None:
    (tmp_path / "surveys.csv").write_text("customer_id,response_ts,score\nC1,2025-03-01,9\n")
    with pytest.raises(SourceFileError, match=r"surveys.csv: required column 'survey' not found"):
        run(make_params(tmp_path, tables=("surveys",)), tmp_path)
    bad_mapping = {"path": str(DATA / "surveys.csv"), "columns": {"rating": "score"}}
    with pytest.raises(ConfigError, match=r"source.surveys.columns: unknown contract column"):
        run(make_params(tables=(), surveys=bad_mapping), tmp_path)


def test_absent_tables_change_nothing(tmp_path: Path) -> None:
    """Without the new sources the run is what it was: same artifacts, no new rows or keys."""
    quality, folder = run(make_params(tables=("customers",)), tmp_path)
    for table in ("surveys", "marketing_spend"):
        assert not folder.has_table(table)
        assert quality["tables"][table] == {
            "present": False,
            "note": f"not configured (source.{table} is absent)",
        }
    card = quality_scorecard(quality)
    assert card.index.tolist()[:4] == [
        "transactions (rows)", "customers (rows)", "events (rows)", "assignments (rows)",
    ]  # fmt: skip
    assert not any("surveys" in item or "marketing_spend" in item for item in card.index)
    assert "surveys" not in describe_reconciliation(quality)
    # a stale artifact of an earlier run with the tables is removed
    stale, _ = run(make_params(), tmp_path / "stale")
    assert stale["tables"]["surveys"]["present"]
    again = RunFolder(tmp_path / "stale" / "run")
    run_ingest(make_params(tables=("customers",)), again)
    assert not again.has_table("surveys") and not again.has_table("marketing_spend")


def test_without_customers_nothing_is_checked_against_them(tmp_path: Path) -> None:
    quality, _ = run(make_params(tables=("surveys", "marketing_spend")), tmp_path)
    assert quality["tables"]["surveys"]["unknown_customer_rows"] is None
    assert quality["tables"]["marketing_spend"]["channels_without_customers"] is None
    assert quality["tables"]["surveys"]["rows_accepted"] == 4


def test_the_tables_need_transactions_too() -> None:
    with pytest.raises(ValueError, match="surveys, marketing_spend set without transactions"):
        WorkbookParams.model_validate({
            "run_name": "x", "as_of_date": "2025-12-31",
            "source": {"experiment_export": {"path": "export.csv"},
                       "surveys": {"path": "s.csv"}, "marketing_spend": {"path": "m.csv"}},
        })  # fmt: skip
