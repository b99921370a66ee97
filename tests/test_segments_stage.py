"""Tests of 04_segments' glue: the "entered" baseline, membership, campaigns end to end, checks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from contract_tables import contract_transactions

from crmlib.activation import Campaign
from crmlib.config import SegmentRuleParams
from crmlib.engine import Engine
from crmlib.formatting import Sentence
from crmlib.io import RunFolder
from crmlib.privacy import HIDDEN, small_counts_in_html
from crmlib.segments.models.rules import DEFAULT_SEGMENT_RULES, rules_from_params
from crmlib.segments.stage import (
    baseline_membership,
    membership,
    run_campaigns,
    segment_checks,
    segment_rules,
    segments_conclusion,
    who_they_are,
)
from crmlib.segments.tables import funnel_table
from crmlib.segments.text import describe_inputs

AS_OF = "2025-06-30"
# bins 2, recency only: R2 "Active", R1 "Lapsed"
RULES = rules_from_params(
    [{"name": "Active", "r": 2, "f": None}, {"name": "Lapsed", "r": 1, "f": [1, 2]}]
)
TX = contract_transactions(
    [
        ("A1", "A", "2025-01-10 10:00:00", 10.0, 10.0, 0.0, "purchase"),
        ("A2", "A", "2025-06-20 10:00:00", 20.0, 20.0, 0.0, "purchase"),
        ("B1", "B", "2025-05-30 10:00:00", 40.0, 40.0, 0.0, "purchase"),
        ("C1", "C", "2025-02-01 10:00:00", 5.0, 5.0, 0.0, "purchase"),
        ("D1", "D", "2025-05-15 10:00:00", 7.0, 7.0, 0.0, "purchase"),
        ("D2", "D", "2025-06-25 10:00:00", 8.0, 8.0, 0.0, "purchase"),
        ("E1", "E", "2025-06-10 10:00:00", 100.0, 100.0, 0.0, "purchase"),
    ]
)
# At 2025-05-31 (lookback 30): recency A 141, B 1, C 119, D 16 -> A, C Lapsed; B, D Active.
# At 2025-06-30: recency A 10, B 31, C 149, D 5, E 20 -> A, D Active; B, C, E Lapsed.
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": pd.array(list("ABCDE"), dtype="str"),
        "email_opt_in": [True, True, False, True, True],
        "sms_opt_in": [False] * 5,
        "push_opt_in": [False] * 5,
        "region": pd.array(["north"] * 5, dtype="str"),
        "birth_year": pd.array([1980] * 5, dtype="Int64"),
        "acquisition_channel": pd.array(["social"] * 5, dtype="str"),
    }
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(threads=1) as eng:
        eng.register("transactions", TX)
        eng.register("customers", CUSTOMERS)
        yield eng


def _rfm(engine: Engine, as_of: str = AS_OF) -> pd.DataFrame:
    from crmlib.segments.queries.rfm import rfm_table

    return rfm_table(engine, as_of_date=as_of, window_days=365, bins=2, rules=RULES)


def test_baseline_without_a_previous_run_recomputes_at_the_lookback(
    engine: Engine, tmp_path: Path
) -> None:
    baseline = baseline_membership(
        engine, RunFolder(tmp_path / "run"), as_of_date=AS_OF, lookback_days=30, bins=2,
        rules=RULES,
    )  # fmt: skip
    assert baseline.as_of_date == dt.date(2025, 5, 31)
    segments = baseline.members.set_index("customer_id")["segment"].to_dict()
    assert segments == {"A": "Lapsed", "B": "Active", "C": "Lapsed", "D": "Active"}
    assert "90" not in baseline.describe() and "2025-05-31" in baseline.describe()


def test_baseline_uses_an_earlier_previous_run_but_not_a_rerun(
    engine: Engine, tmp_path: Path
) -> None:
    finished = RunFolder(tmp_path / "sample")
    build = RunFolder(tmp_path / ".sample.building-20261123T000000Z-x")
    previous = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "segment": ["Active", "Active"],
            "cluster_name": ["New", "New"],
            "as_of_date": [dt.date(2025, 3, 31)] * 2,
        }
    )
    finished.write_table("rfm", previous)
    baseline = baseline_membership(
        engine, build, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES
    )
    assert baseline.source == "the previous run"
    assert baseline.as_of_date == dt.date(2025, 3, 31)
    assert baseline.members["customer_id"].tolist() == ["A", "B"]
    # a rerun at the same as_of_date would find nobody new: fall back to the lookback
    finished.write_table("rfm", previous.assign(as_of_date=dt.date(2025, 6, 30)))
    rerun = baseline_membership(
        engine, build, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES
    )
    assert rerun.as_of_date == dt.date(2025, 5, 31)
    # an rfm artifact without the membership columns (an older run) is not a baseline either
    finished.write_table("rfm", previous.drop(columns="cluster_name"))
    older = baseline_membership(
        engine, build, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES
    )
    assert older.as_of_date == dt.date(2025, 5, 31) and older.source != "the previous run"


def test_campaign_end_to_end_funnel_exports_and_checks(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    rfm = _rfm(engine)
    members = membership(rfm, None, as_of_date=AS_OF)
    assert members["cluster_name"].unique().tolist() == ["(not clustered)"]
    baseline = baseline_membership(
        engine, run, as_of_date=AS_OF, lookback_days=30, bins=2, rules=RULES
    )
    suppression = tmp_path / "suppression.csv"
    suppression.write_text("customer_id\nE\n", encoding="utf-8")
    campaigns = [
        {"name": "lapsed-email", "segments": ["Lapsed"], "channel": "email",
         "trigger": "entered", "control_share": 0.0, "recent_purchase_days": None},
    ]  # fmt: skip
    funnel = run_campaigns(
        engine, run, campaigns, members=members, baseline=baseline, as_of_date=AS_OF,
        known_labels={"segment": ["Active", "Lapsed"]}, suppression_list=suppression,
        lookalike_segment="Active", seed=1,
    )  # fmt: skip
    # entered Lapsed: B (was Active) and E (new); C stayed Lapsed. B consented; E suppressed.
    counts = funnel.set_index("step")["customers"].to_dict()
    assert counts["in_segment"] == 2 and counts["consented"] == 2
    assert counts["not_suppressed"] == 1 and counts["target"] == 1 and counts["control"] == 0
    export = pd.read_csv(run.exports_dir / "lapsed-email.csv", dtype=str)
    assert export["customer_id"].tolist() == ["B"]
    manifest = json.loads((run.exports_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["campaigns"][0]["funnel"]["target"] == 1
    table = funnel_table(funnel, min_cell_size=1)
    assert table.loc["lapsed-email", "not suppressed (customers)"] == "1"
    assert funnel_table(funnel).loc["lapsed-email", "not suppressed (customers)"] == "<10"
    summary_counts = rfm.groupby("segment").size().rename("customers").reset_index()
    migration = pd.DataFrame({"customers": [len(rfm)]})
    checks = segment_checks(rfm, summary_counts, migration, funnel)
    checks.raise_if_failed()
    with pytest.raises(ValueError, match="lapsed-email"):
        run_campaigns(
            engine, run, [{**campaigns[0], "segments": ["Lapsd"]}], members=members,
            baseline=baseline, as_of_date=AS_OF, known_labels={"segment": ["Active", "Lapsed"]},
            suppression_list=None, lookalike_segment=None, seed=1,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"campaign 'lapsed-email': key 'control_share'"):
        run_campaigns(
            engine, run, [{**campaigns[0], "control_share": 1.5}], members=members,
            baseline=baseline, as_of_date=AS_OF, known_labels={"segment": ["Active", "Lapsed"]},
            suppression_list=None, lookalike_segment=None, seed=1,
        )  # fmt: skip
    # the params file's campaigns (params.campaigns) are Campaign models: the same funnel
    models = [Campaign.model_validate(campaigns[0])]
    again = run_campaigns(
        engine, RunFolder(tmp_path / "again"), models, members=members, baseline=baseline,
        as_of_date=AS_OF, known_labels={"segment": ["Active", "Lapsed"]},
        suppression_list=suppression, lookalike_segment="Active", seed=1,
    )  # fmt: skip
    pd.testing.assert_frame_equal(again, funnel)


def test_segment_rules_from_the_params_models_or_mappings() -> None:
    assert segment_rules(None) == DEFAULT_SEGMENT_RULES
    rows = [{"name": "Active", "r": 2, "f": None}, {"name": "Lapsed", "r": 1, "f": [1, 2]}]
    assert segment_rules([SegmentRuleParams.model_validate(row) for row in rows]) == RULES
    assert segment_rules(rows) == RULES
    with pytest.raises(ValueError, match=r"segment rule 'Lapsed': key 'f': .*\[2, 1\] is empty"):
        segment_rules([rows[0], {**rows[1], "f": [2, 1]}])


def test_checks_fail_when_totals_do_not_reconcile(engine: Engine) -> None:
    rfm = _rfm(engine)
    summary = pd.DataFrame({"customers": [len(rfm) - 1]})
    funnel = pd.DataFrame(
        {
            "campaign": ["x"] * 7,
            "step": ["in_segment", "consented", "not_suppressed", "no_recent_purchase",
                     "not_capped", "target", "control"],
            "customers": [5, 6, 4, 4, 4, 3, 0],
        }
    )  # fmt: skip
    checks = segment_checks(rfm, summary, pd.DataFrame({"customers": [len(rfm)]}), funnel)
    failed = {result.name for result in checks.results if not result.passed}
    assert failed == {
        "segment sizes add up",
        "each funnel step only removes customers",
        "target + control = customers passing every rule",
    }


def test_conclusion_and_optional_inputs(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    rfm = _rfm(engine)
    assert "customers table" in who_they_are(
        rfm, run, as_of_date=AS_OF, by=["region"], min_cell_size=1, rules=RULES
    )
    run.write_table("customers", CUSTOMERS)
    shown = who_they_are(
        rfm, run, as_of_date=AS_OF, by=["region", "age_band"], min_cell_size=1, rules=RULES
    )
    assert isinstance(shown, pd.DataFrame) and "north" in shown.index.get_level_values("value")
    summary = pd.DataFrame(
        {"segment": ["Active", "Lapsed"], "customers": [2, 3], "share_customers": [0.4, 0.6],
         "share_revenue": [0.2, 0.8]}
    )  # fmt: skip
    funnel = pd.DataFrame({"campaign": ["x", "x"], "step": ["target", "control"],
                           "customers": [9, 1]})  # fmt: skip
    moves = {"customers": 5, "existing_customers": 3, "moved_up": 1, "stayed": 0,
             "moved_down": 2, "new": 2}  # fmt: skip
    text = segments_conclusion(summary, migration=moves, funnel=funnel, min_cell_size=1)
    assert text == (
        "Lapsed are 60% of customers and bring 80% of the last year's revenue; 2 customers moved "
        "down a segment and 1 moved up; 1 campaign list holds 10 consented, unsuppressed customers."
    )


def _funnel(rows: dict[str, list[int]]) -> pd.DataFrame:
    steps = ["in_segment", "consented", "not_suppressed", "no_recent_purchase", "not_capped",
             "target", "control"]  # fmt: skip
    return pd.DataFrame(
        [
            {"campaign": name, "step": step, "customers": n}
            for name, counts in rows.items()
            for step, n in zip(steps, counts, strict=True)
        ]
    )


def test_funnel_table_hides_small_counts_and_their_complement() -> None:
    funnel = _funnel(
        {
            "winback": [124, 76, 76, 76, 76, 68, 8],  # control 8: target would reveal it
            "vip": [34, 8, 8, 3, 3, 2, 1],  # both parts small: no complement needed
            "big": [500, 300, 290, 280, 280, 252, 28],
        }
    )
    table = funnel_table(funnel)
    assert all("(customers)" in column for column in table.columns)
    assert small_counts_in_html(table.to_html()) == []
    assert table.loc["winback"].tolist() == ["124", "76", "76", "76", "76", HIDDEN, "<10"]
    assert table.loc["vip"].tolist() == ["34"] + ["<10"] * 6
    assert table.loc["big"].tolist() == ["500", "300", "290", "280", "280", "252", "28"]
    # the rule off, the scanner reads the same columns and finds the small counts
    assert len(small_counts_in_html(funnel_table(funnel, min_cell_size=1).to_html())) == 7


def test_conclusion_never_states_a_small_count() -> None:
    # Can't lose brings the largest share of revenue, but from 4 customers
    summary = pd.DataFrame(
        {"segment": ["Champions", "Can't lose", "Lost"], "customers": [120, 4, 200],
         "share_customers": [120 / 324, 4 / 324, 200 / 324],
         "share_revenue": [0.4, 0.5, 0.1]}
    )  # fmt: skip
    moves = {"customers": 324, "existing_customers": 300, "moved_up": 53, "stayed": 240,
             "moved_down": 7, "new": 24}  # fmt: skip
    funnel = _funnel({"winback": [124, 76, 76, 76, 76, 68, 8], "vip": [34, 8, 8, 3, 3, 2, 1]})
    text = segments_conclusion(summary, migration=moves, funnel=funnel)
    assert text == (
        "Champions are 37% of customers and bring 40% of the last year's revenue; fewer than 10 "
        "customers moved down a segment; 2 campaign lists hold consented, unsuppressed "
        "customers, one of them fewer than 10."
    )
    assert small_counts_in_html(f"<p>{text}</p>") == []
    # two small lists: their total (8 + 3 = 11) reveals neither
    two_small = _funnel({"a": [34, 8, 8, 5, 5, 4, 1], "b": [20, 9, 9, 6, 6, 5, 1]})
    assert segments_conclusion(summary, migration=moves, funnel=two_small).endswith(
        "2 campaign lists hold 11 consented, unsuppressed customers."
    )
    one_small = _funnel({"a": [34, 8, 8, 5, 5, 4, 1]})
    assert segments_conclusion(summary, migration=moves, funnel=one_small).endswith(
        "1 campaign list holds fewer than 10 consented, unsuppressed customers."
    )
    plain = segments_conclusion(summary, migration=moves, funnel=funnel, min_cell_size=1)
    assert "7 customers moved down a segment and 53 moved up" in plain  # the rule off


def test_product_pairs_table_or_sentence(engine: Engine) -> None:
    from crmlib.segments.stage import product_pairs

    # TX has no product_id column; then a null one: a sentence instead of a table
    assert "no product_id" in product_pairs(engine, as_of_date=AS_OF)
    with Engine(threads=1) as nulls:
        nulls.register("transactions", TX.assign(product_id=pd.array([None] * 7, dtype="str")))
        text = product_pairs(nulls, as_of_date=AS_OF, min_pair_customers=1)
        assert isinstance(text, Sentence) and "No product pair" in text
    with Engine(threads=1) as products:
        # A, B and D bought P1 and P2; C bought P1 only: pair (P1, P2) on 3 customers
        rows = TX.assign(
            product_id=pd.array(["P1", "P2", "P1", "P1", "P1", "P2", "P3"], dtype="str")
        )
        products.register("transactions", rows.assign(customer_id=list("AABCDDB")))
        table = product_pairs(products, as_of_date=AS_OF, min_pair_customers=2, min_cell_size=2)
        assert isinstance(table, pd.DataFrame)
        assert table.iloc[0]["pair"] == "P1 + P2"
        # kept by min_pair_customers 2, but 3 customers is below the report's cell size of 10
        text = product_pairs(products, as_of_date=AS_OF, min_pair_customers=2)
        assert isinstance(text, Sentence)
        assert "No product pair was bought by at least 10 customers" in text


@pytest.mark.parametrize(
    ("registered", "says", "never"),
    [
        (["customers", "events"], ["`customers` table is used", "`events` table is used"],
         ["No `"]),
        (["customers"], ["`customers` table is used", "No `events` table",
                         "unsubscribes are unknown", "frequency caps are not checked"],
         ["nobody can be exported"]),
        (["events"], ["No `customers` table", "nobody can be exported", "profiles are skipped"],
         ["No `events`"]),
        ([], ["No `customers` table", "No `events` table", "left out of the clusters"],
         ["unsubscribes are unknown"]),
    ],
    ids=["both", "no-events", "no-customers", "neither"],
)  # fmt: skip
def test_describe_inputs_says_what_is_missing(
    registered: list[str], says: list[str], never: list[str]
) -> None:
    text = describe_inputs(registered)
    assert [phrase for phrase in says if phrase not in text] == []
    assert [phrase for phrase in never if phrase in text] == []
    assert "[" not in text and "'" not in text  # words, not the list the run folder returned


def test_skipped_profiles_are_sentences_not_reprs(engine: Engine, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    rfm = _rfm(engine)
    text = who_they_are(rfm, run, as_of_date=AS_OF, by=["region"], min_cell_size=1, rules=RULES)
    assert isinstance(text, Sentence) and text._repr_markdown_() == str(text)
    run.write_table("customers", CUSTOMERS[["customer_id", "email_opt_in"]])
    text = who_they_are(
        rfm, run, as_of_date=AS_OF, by=["region", "age_band"], min_cell_size=1, rules=RULES
    )
    assert isinstance(text, Sentence)
    assert text == (
        "The customers table has none of the profile columns `region`, `age_band` (`age_band` "
        "comes from `birth_year`): the segment profiles are skipped."
    )
