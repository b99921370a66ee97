"""Tests of crmlib.synth: determinism, bookkeeping, and recovery of the planted truth."""

from __future__ import annotations

import ast
import gzip
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlib import synth

END = pd.Timestamp("2025-12-31 23:59:59")
START = pd.Timestamp("2023-01-01 00:00:00")
TABLES = (
    "customers", "transactions", "events", "assignments", "dirty_transactions", "suppression",
    "latent", "surveys", "marketing_spend",
)  # fmt: skip
#: The tables of version 3, which the survey and spend streams (version 4) must leave alone.
BEFORE_SURVEYS = (
    "customers", "transactions", "events", "assignments", "dirty_transactions", "suppression",
    "latent",
)  # fmt: skip
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def small() -> synth.SyntheticCRM:
    return synth.generate(3_000, seed=11)


@pytest.fixture(scope="module")
def big() -> synth.SyntheticCRM:
    # 200k customers (~2M orders, ~36k experiment customers): large enough that the planted
    # effects below are recovered with several standard errors to spare; generates in ~2 s.
    return synth.generate(200_000, seed=2024)


@pytest.fixture(scope="module")
def written_paths(
    small: synth.SyntheticCRM, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return synth.write(small, tmp_path_factory.mktemp("synth"), compress=True)


@pytest.fixture(scope="module")
def written(written_paths: dict[str, Path]) -> dict[str, pd.DataFrame]:
    tables = {
        name: pd.read_csv(path, dtype=str, keep_default_na=False)
        for name, path in written_paths.items()
        if name != "truth"
    }
    return tables


def orders_of(crm: synth.SyntheticCRM) -> pd.DataFrame:
    tx = crm.transactions
    return tx[tx["amount"] > 0]


# --- determinism and shape -------------------------------------------------------------


def test_same_seed_gives_identical_tables() -> None:
    first, second = synth.generate(1_500, seed=5), synth.generate(1_500, seed=5)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    assert first.truth == second.truth


def test_different_seed_gives_different_tables() -> None:
    first, second = synth.generate(1_500, seed=5), synth.generate(1_500, seed=6)
    assert not first.transactions["amount"].equals(second.transactions["amount"])
    assert first.truth["realized"] != second.truth["realized"]
    assert set(first.suppression["customer_id"]) != set(second.suppression["customer_id"])
    assert not first.latent["lambda_per_day"].equals(second.latent["lambda_per_day"])


def test_suppression_list_does_not_change_the_other_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list comes from its own random stream: a much longer list leaves the rest unchanged."""
    usual = synth.generate(1_500, seed=5)
    monkeypatch.setattr("crmlib.synth._suppression.SUPPRESSION_SHARE", 0.3)
    longer = synth.generate(1_500, seed=5)
    assert len(longer.suppression) > 10 * len(usual.suppression)
    for name in TABLES:
        if name != "suppression":
            pd.testing.assert_frame_equal(getattr(usual, name), getattr(longer, name))


def test_contract_columns(small: synth.SyntheticCRM) -> None:
    assert list(small.customers.columns) == [
        "customer_id", "signup_ts", "acquisition_channel", "region", "birth_year",
        "email_opt_in", "sms_opt_in", "push_opt_in", "loyalty_tier",
    ]  # fmt: skip
    assert list(small.transactions.columns) == synth.TX_COLUMNS
    assert list(small.events.columns) == [
        "customer_id",
        "event_ts",
        "channel",
        "event_type",
        "campaign_id",
    ]
    assert list(small.assignments.columns) == [
        "customer_id",
        "experiment_id",
        "variant",
        "assigned_ts",
        "cost",
    ]
    assert small.customers["customer_id"].is_unique
    assert small.customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert small.transactions["order_id"].str.fullmatch(r"O\d{8}").all()
    assert small.transactions["product_id"].str.fullmatch(r"P\d{4}").all()
    assert set(small.customers["acquisition_channel"]) == set(synth.CHANNEL_PARAMS)
    assert set(small.customers["loyalty_tier"]) == {"none", "silver", "gold"}
    assert 0.03 < small.customers["birth_year"].isna().mean() < 0.15  # planted 8% missing
    assert 8 <= small.transactions["category"].nunique() <= 12
    assert set(small.transactions["channel"]) == {"web", "app", "store"}


def test_about_ten_orders_per_customer(big: synth.SyntheticCRM) -> None:
    orders_per_customer = len(orders_of(big)) / len(big.customers)
    assert 8 <= orders_per_customer <= 12
    # every customer buys at signup, never before
    first = orders_of(big).groupby("customer_id")["order_ts"].min()
    signup = big.customers.set_index("customer_id")["signup_ts"]
    assert len(first) == len(signup)
    assert (first >= signup.reindex(first.index)).all()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="n_customers"):
        synth.generate(0)
    with pytest.raises(ValueError, match="dirty_rate"):
        synth.generate(10, dirty_rate=0.5)
    with pytest.raises(ValueError, match="window"):
        synth.generate(10, start="2025-01-01", end="2025-03-01")


# --- bookkeeping of the written files ---------------------------------------------------


def test_written_row_counts_match_truth(
    small: synth.SyntheticCRM, written: dict[str, pd.DataFrame]
) -> None:
    realized = small.truth["realized"]
    assert len(written["customers"]) == realized["n_customers"]
    assert len(written["transactions"]) == realized["n_transaction_rows"]
    assert len(written["events"]) == realized["n_events"]
    assert len(written["assignments"]) == realized["n_assignments"]
    assert len(written["suppression"]) == small.truth["suppression"]["n_rows"]
    assert len(written["truth_customers"]) == realized["n_customers"]
    surveys = small.truth["surveys"]["realized"]
    assert len(written["surveys"]) == surveys["n_nps"] + surveys["n_csat"]
    assert len(written["marketing_spend"]) == small.truth["marketing_spend"]["realized"]["n_rows"]
    n_dirty = sum(small.truth["dirty"].values())
    assert (
        realized["n_transaction_rows"] == realized["n_orders"] + realized["n_refund_rows"] + n_dirty
    )
    assert len(small.dirty_transactions) == n_dirty
    amounts = small.transactions["amount"]
    assert amounts[amounts > 0].sum() == pytest.approx(realized["gross_revenue"], abs=0.01)
    assert amounts[amounts < 0].sum() == pytest.approx(realized["refund_amount"], abs=0.01)


def test_written_formats(written: dict[str, pd.DataFrame]) -> None:
    ts_pattern = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    customers = written["customers"]
    assert customers["signup_ts"].str.fullmatch(ts_pattern).all()
    for col in ("email_opt_in", "sms_opt_in", "push_opt_in"):
        assert set(customers[col]) == {"true", "false"}
    assert customers["birth_year"].str.fullmatch(r"(\d{4})?").all()
    assert written["events"]["event_ts"].str.fullmatch(ts_pattern).all()
    assert written["assignments"]["cost"].str.fullmatch(r"\d+\.\d{2}").all()
    suppression = written["suppression"]
    assert list(suppression.columns) == ["customer_id", "added_ts", "reason"]
    assert suppression["added_ts"].str.fullmatch(ts_pattern).all()
    latent = written["truth_customers"]
    assert latent["dropout_ts"].str.fullmatch(f"({ts_pattern})?").all()
    assert ((latent["dropout_ts"] == "") == (latent["alive_at_end"] == "true")).all()
    assert set(latent["alive_at_end"]) == {"true", "false"}
    surveys = written["surveys"]
    assert list(surveys.columns) == ["customer_id", "response_ts", "survey", "score"]
    assert surveys["response_ts"].str.fullmatch(ts_pattern).all()
    assert set(surveys["survey"]) == {"nps", "csat"}
    assert surveys["score"].str.fullmatch(r"\d{1,2}").all()
    spend = written["marketing_spend"]
    assert list(spend.columns) == ["date", "acquisition_channel", "spend", "campaign"]
    assert spend["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert spend["spend"].str.fullmatch(r"\d+\.\d{2}").all()
    assert (spend["campaign"] == "").any() and (spend["campaign"] != "").any()
    tx = written["transactions"]
    clean_ts = tx["order_ts"].str.fullmatch(ts_pattern)
    clean_amount = tx["amount"].str.fullmatch(r"-?\d+\.\d{2}")
    assert clean_ts.mean() > 0.99 and clean_amount.mean() > 0.99


def test_planted_dirty_rows_are_the_only_bad_rows(
    small: synth.SyntheticCRM, written: dict[str, pd.DataFrame]
) -> None:
    """Classify the written rows independently, the way an ingest stage would."""
    dirty = small.truth["dirty"]
    assert set(dirty) == {
        "duplicate_row", "missing_customer_id", "bad_timestamp", "bad_amount",
        "future_timestamp", "conflicting_order", "amount_out_of_bounds", "unknown_customer",
    }  # fmt: skip
    assert all(count > 0 for count in dirty.values())
    tx = written["transactions"]
    order_ts = pd.to_datetime(tx["order_ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    amount = pd.to_numeric(tx["amount"], errors="coerce")
    assert tx.duplicated().sum() == dirty["duplicate_row"]
    assert (tx["customer_id"] == "").sum() == dirty["missing_customer_id"]
    assert order_ts.isna().sum() == dirty["bad_timestamp"]
    assert amount.isna().sum() == dirty["bad_amount"]
    assert (order_ts > END).sum() == dirty["future_timestamp"]
    assert (order_ts > END + pd.Timedelta(days=366)).sum() == 0
    assert (amount.abs() >= 100_000).sum() == dirty["amount_out_of_bounds"]
    known = set(written["customers"]["customer_id"])
    unknown = (tx["customer_id"] != "") & ~tx["customer_id"].isin(known)
    assert unknown.sum() == dirty["unknown_customer"]
    positive_distinct = tx[amount > 0].drop_duplicates()
    assert positive_distinct["order_id"].duplicated().sum() == dirty["conflicting_order"]


@pytest.mark.parametrize(
    ("n_customers", "seed", "dirty_rate"),
    [(3_000, 11, 0.002), (2_000, 7, 0.05)],
    ids=["default-rate", "high-rate"],
)
def test_planted_copies_come_after_their_original(
    n_customers: int, seed: int, dirty_rate: float, tmp_path: Path
) -> None:
    """Ingest keeps the first row of an order id, so the genuine row must come first."""
    crm = synth.generate(n_customers, seed=seed, dirty_rate=dirty_rate)
    path = synth.write(crm, tmp_path)["transactions"]
    tx = pd.read_csv(path, dtype=str, keep_default_na=False)
    copies = crm.dirty_transactions[
        crm.dirty_transactions["reason"].isin(["duplicate_row", "conflicting_order"])
    ]
    assert (
        len(copies) == crm.truth["dirty"]["duplicate_row"] + crm.truth["dirty"]["conflicting_order"]
    )
    clean = orders_of(crm).set_index("order_id")
    amount = pd.to_numeric(tx["amount"], errors="coerce")
    for copy in copies.itertuples():
        rows = tx[(tx["order_id"] == copy.order_id) & (amount > 0)]  # file order
        assert len(rows) == 2, copy.order_id  # the original and its one copy
        first, second = rows.iloc[0], rows.iloc[1]
        original = clean.loc[copy.order_id]
        assert first["amount"] == f"{original['amount']:.2f}", copy.order_id
        assert first["customer_id"] == original["customer_id"], copy.order_id
        assert second[["customer_id", "amount"]].tolist() == [copy.customer_id, copy.amount]
        if copy.reason == "duplicate_row":
            assert first.tolist() == second.tolist(), copy.order_id
    # and by position: a copy is written after the clean row it copies
    template_row = pd.Series(np.arange(len(crm.transactions)), index=crm.transactions["order_id"])
    originals = template_row[crm.transactions["amount"].to_numpy() > 0]
    assert (copies["position"].to_numpy() > originals.loc[copies["order_id"]].to_numpy()).all()


def test_dirty_rate_zero_gives_clean_data() -> None:
    crm = synth.generate(1_000, seed=3, dirty_rate=0.0)
    assert sum(crm.truth["dirty"].values()) == 0
    assert len(crm.dirty_transactions) == 0
    assert crm.truth["realized"]["n_transaction_rows"] == len(crm.transactions)


def test_clean_rows_are_valid(big: synth.SyntheticCRM) -> None:
    tx = big.transactions
    orders = orders_of(big)
    assert orders["order_id"].is_unique
    assert not tx.duplicated().any()
    assert tx["order_ts"].is_monotonic_increasing
    assert (orders["quantity"] >= 1).all()
    assert orders["amount"].between(1.0, big.truth["amount_cap"]).all()
    assert np.allclose(tx["amount"], tx["amount"].round(2))
    refunds = tx[tx["amount"] < 0]
    assert (refunds["quantity"] <= -1).all()


# --- planted truth ----------------------------------------------------------------------


def test_channel_retention_rank_is_recovered(big: synth.SyntheticCRM) -> None:
    """Share of customers with a 2nd order within 180 days of the first, by channel."""
    orders = orders_of(big).sort_values(["customer_id", "order_ts"], kind="stable")
    nth = orders.groupby("customer_id").cumcount()
    first = orders.loc[nth == 0].set_index("customer_id")["order_ts"]
    second = orders.loc[nth == 1].set_index("customer_id")["order_ts"].reindex(first.index)
    observed = first <= END - pd.Timedelta(days=180)  # full 180 days of follow-up
    repeat = (second - first <= pd.Timedelta(days=180))[observed]
    channel = big.customers.set_index("customer_id")["acquisition_channel"].astype(str)
    share = repeat.groupby(channel.reindex(repeat.index)).mean().sort_values(ascending=False)
    planted = big.truth["channel_retention_rank"]
    assert list(share.index) == planted  # gaps between channels are >= 5 standard errors
    rho = stats.spearmanr(range(len(planted)), [planted.index(c) for c in share.index]).statistic
    assert rho == pytest.approx(1.0)
    # the realized shares match the expected 1 - (alpha / (alpha + 180 * 1.15)) ** r within 3 pp
    expected = big.truth["channel_expected_repeat_180d"]
    for chan, value in share.items():
        assert value == pytest.approx(expected[chan], abs=0.03)


def test_refund_share_and_refund_rows(big: synth.SyntheticCRM) -> None:
    tx = big.transactions
    orders = orders_of(big)
    refunds = tx[tx["amount"] < 0]
    matched = refunds.merge(
        orders, on="order_id", suffixes=("_ref", ""), how="left", indicator=True
    )
    refunded = matched[matched["_merge"] == "both"]
    orphans = matched[matched["_merge"] == "left_only"]
    share = len(refunded) / len(orders)
    assert share == pytest.approx(big.truth["refunds"]["planted_share"], abs=0.005)  # +-0.5 pp
    assert len(refunded) == big.truth["refunds"]["n_refunded_orders"]
    assert len(orphans) == big.truth["refunds"]["n_orphan_refunds"]
    assert 0.0005 < len(orphans) / len(orders) < 0.002  # planted ~0.1%
    assert refunded["order_id"].is_unique
    assert (refunded["customer_id_ref"] == refunded["customer_id"]).all()
    delay = refunded["order_ts_ref"] - refunded["order_ts"]
    assert delay.between(pd.Timedelta(0), pd.Timedelta(days=30)).all()
    assert (refunded["amount_ref"].abs() <= refunded["amount"] + 1e-9).all()
    full = np.isclose(-refunded["amount_ref"], refunded["amount"])
    assert 0.5 < full.mean() < 0.7  # planted 60% full refunds (cancellations)


def test_experiment_recovers_planted_uplift(big: synth.SyntheticCRM) -> None:
    truth = big.truth["experiment"]
    assignments = big.assignments
    assert len(assignments) == truth["n_control"] + truth["n_treatment"]
    assert assignments["experiment_id"].eq(truth["experiment_id"]).all()
    assigned = pd.Timestamp(truth["assigned_ts"])
    assert (assignments["assigned_ts"] == assigned).all()
    assert (assignments.loc[assignments["variant"] == "control", "cost"] == 0).all()
    assert (
        assignments.loc[assignments["variant"] == "treatment", "cost"] == truth["cost_per_contact"]
    ).all()
    assert stats.binomtest(truth["n_treatment"], len(assignments), 0.5).pvalue > 0.001  # no SRM

    orders = orders_of(big)
    # eligibility: the last order before assignment is 60-180 days old
    before = orders[orders["order_ts"] < assigned].groupby("customer_id")["order_ts"].max()
    recency = (assigned - before.reindex(assignments["customer_id"])).dt.total_seconds() / 86_400
    assert recency.between(60, 180).all()
    # outcome: any order within 30 days after assignment
    window = orders[
        (orders["order_ts"] > assigned) & (orders["order_ts"] <= assigned + pd.Timedelta(days=30))
    ]
    converted = assignments["customer_id"].isin(set(window["customer_id"]))
    rate = converted.groupby(assignments["variant"]).mean()
    n = assignments["variant"].value_counts()
    diff = rate["treatment"] - rate["control"]
    se = np.sqrt(sum(rate[v] * (1 - rate[v]) / n[v] for v in ("control", "treatment")))
    # planted +5 pp; tolerance 3 standard errors (~1.3 pp with ~36k assigned customers)
    assert diff == pytest.approx(truth["planted_uplift_30d_repurchase"], abs=3 * se)
    assert rate["control"] == pytest.approx(truth["baseline_30d_repurchase_expected"], abs=3 * se)


def test_q4_has_more_orders_per_day(big: synth.SyntheticCRM) -> None:
    ts = orders_of(big)["order_ts"]
    for year in (2024, 2025):
        in_year = ts[ts.dt.year == year]
        q23 = in_year.dt.quarter.isin([2, 3]).sum() / 183
        q4 = (in_year.dt.quarter == 4).sum() / 92
        assert q4 > 1.2 * q23  # planted 1.6x purchase rate in Q4 (signup growth also helps)


def test_planted_affinity_pairs_have_lift(big: synth.SyntheticCRM) -> None:
    """Customer-level co-purchase lift = P(A and B) / (P(A) P(B)) stands out for planted pairs.

    Every pair has lift > 1 at customer level (heavy buyers buy everything), so the known
    answer is that each planted pair's lift exceeds 1.5 and every unplanted pair's lift by 30%.
    """
    orders = orders_of(big)
    customer_code, _ = pd.factorize(orders["customer_id"])
    categories = list(orders["category"].cat.categories)
    matrix = np.zeros((customer_code.max() + 1, len(categories)), dtype=bool)
    matrix[customer_code, orders["category"].cat.codes.to_numpy()] = True
    bought = pd.DataFrame(matrix, columns=categories)
    support = bought.mean()
    planted = {frozenset(pair) for pair in big.truth["affinities"]["planted_pairs"]}
    lift = {
        frozenset((a, b)): (bought[a] & bought[b]).mean() / (support[a] * support[b])
        for i, a in enumerate(bought.columns)
        for b in bought.columns[i + 1 :]
    }
    planted_lifts = [lift[pair] for pair in planted]
    best_unplanted = max(value for pair, value in lift.items() if pair not in planted)
    assert min(planted_lifts) > 1.5
    assert min(planted_lifts) > 1.3 * best_unplanted


def test_no_timestamps_after_end(
    big: synth.SyntheticCRM, small: synth.SyntheticCRM, written: dict[str, pd.DataFrame]
) -> None:
    assert (big.customers["signup_ts"] <= END).all()
    assert (big.transactions["order_ts"] <= END).all()
    assert (big.events["event_ts"] <= END).all()
    assert (big.assignments["assigned_ts"] <= END).all()
    # in the written files, only the planted future_timestamp rows lie after `end`
    order_ts = pd.to_datetime(
        written["transactions"]["order_ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce"
    )
    assert (order_ts > END).sum() == small.truth["dirty"]["future_timestamp"] > 0
    assert not (pd.to_datetime(written["events"]["event_ts"]) > END).any()


def test_events_respect_consent_and_unsubscribe(big: synth.SyntheticCRM) -> None:
    events = big.events
    customers = big.customers.set_index("customer_id")
    sent = events[events["event_type"] == "sent"]
    for channel in ("email", "sms", "push"):
        to = sent.loc[sent["channel"] == channel, "customer_id"]
        assert customers.loc[to, f"{channel}_opt_in"].all(), channel
    # nothing is sent before signup
    assert (
        sent["event_ts"].to_numpy() > customers.loc[sent["customer_id"], "signup_ts"].to_numpy()
    ).all()
    # nothing is sent on a channel after the customer unsubscribed from it
    unsub = (
        events[events["event_type"] == "unsubscribe"]
        .groupby(["customer_id", "channel"], observed=True)["event_ts"]
        .min()
    )
    later = sent.join(unsub.rename("unsub_ts"), on=["customer_id", "channel"], how="inner")
    assert len(later) > 0 and (later["event_ts"] < later["unsub_ts"]).all()
    # each campaign is roughly monthly per channel over the last 12 months
    assert events["campaign_id"].nunique() == 36
    assert events["campaign_id"].astype(str).str.fullmatch(r"CMP-2025-\d{2}-(email|sms|push)").all()


def test_engagement_correlates_with_recent_purchases(big: synth.SyntheticCRM) -> None:
    """Open rate of sends to customers with an order in the 90 days before the send is higher."""
    events = big.events
    sent = events[events["event_type"] == "sent"][["customer_id", "campaign_id", "event_ts"]]
    opened = events[events["event_type"] == "open"][["customer_id", "campaign_id"]].assign(
        opened=True
    )
    sent = sent.merge(opened, on=["customer_id", "campaign_id"], how="left").fillna(
        {"opened": False}
    )
    orders = orders_of(big)[["customer_id", "order_ts"]].sort_values("order_ts")
    sent = pd.merge_asof(
        sent.sort_values("event_ts"),
        orders,
        left_on="event_ts",
        right_on="order_ts",
        by="customer_id",
    )
    recent = (sent["event_ts"] - sent["order_ts"]) <= pd.Timedelta(days=90)
    rates = sent.groupby(recent)["opened"].mean()
    assert rates[True] > 1.3 * rates[False]


def test_event_volume_is_moderate(small: synth.SyntheticCRM) -> None:
    assert len(small.events) < 15 * len(small.customers)


# --- surveys and marketing spend -----------------------------------------------------------


def test_survey_and_spend_streams_do_not_change_the_other_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same seed: the tables of version 3 are identical with the new tables, without them, and
    with very different survey and spend draws."""
    usual = synth.generate(1_500, seed=5)
    empty = (pd.DataFrame(), {})
    monkeypatch.setattr("crmlib.synth._generate.draw_surveys", lambda *a, **k: empty)
    monkeypatch.setattr("crmlib.synth._generate.survey_truth", lambda *a, **k: {})
    monkeypatch.setattr("crmlib.synth._generate.draw_marketing_spend", lambda *a, **k: empty)
    monkeypatch.setattr("crmlib.synth._generate.spend_truth", lambda *a, **k: {})
    without = synth.generate(1_500, seed=5)
    monkeypatch.undo()
    monkeypatch.setattr("crmlib.synth._surveys.SURVEY_STREAM", 77)
    monkeypatch.setattr(
        "crmlib.synth._surveys.NPS_RESPONSE", dict(share=0.95, min_days=1, max_days=5)
    )
    monkeypatch.setattr("crmlib.synth._spend.SPEND_STREAM", 78)
    monkeypatch.setattr("crmlib.synth._spend.SPEND_NOISE_SD", 0.5)
    other = synth.generate(1_500, seed=5)
    assert without.surveys.empty and without.marketing_spend.empty
    assert len(other.surveys) > len(usual.surveys)
    assert not other.marketing_spend["spend"].equals(usual.marketing_spend["spend"])
    for name in BEFORE_SURVEYS:
        pd.testing.assert_frame_equal(getattr(usual, name), getattr(without, name))
        pd.testing.assert_frame_equal(getattr(usual, name), getattr(other, name))
    for key in ("surveys", "marketing_spend"):
        usual.truth.pop(key), without.truth.pop(key), other.truth.pop(key)
    for notes in (usual.truth["notes"], without.truth["notes"], other.truth["notes"]):
        notes.pop("surveys"), notes.pop("marketing_spend")
    assert usual.truth == without.truth == other.truth


def test_survey_and_spend_columns(small: synth.SyntheticCRM) -> None:
    surveys, spend = small.surveys, small.marketing_spend
    assert list(surveys.columns) == ["customer_id", "response_ts", "survey", "score"]
    assert surveys["response_ts"].is_monotonic_increasing
    assert surveys["response_ts"].between(START, END).all()
    assert set(surveys["customer_id"]) <= set(small.customers["customer_id"])
    nps = surveys[surveys["survey"] == "nps"]
    csat = surveys[surveys["survey"] == "csat"]
    assert nps["score"].between(0, 10).all() and csat["score"].between(1, 5).all()
    # at most one answer of each kind per customer, never before signup
    assert not surveys.duplicated(["customer_id", "survey"]).any()
    signup = small.customers.set_index("customer_id")["signup_ts"]
    assert (surveys["response_ts"] > signup.reindex(surveys["customer_id"]).to_numpy()).all()
    assert list(spend.columns) == ["date", "acquisition_channel", "spend", "campaign"]
    assert (spend["spend"] >= 0).all()
    assert not spend.duplicated(["date", "acquisition_channel", "campaign"]).any()
    campaigns = sum(len(c) for c in small.truth["marketing_spend"]["campaigns"].values())
    assert len(spend) == 1_096 * campaigns  # every day of the window, every channel and campaign


def _nps(scores: pd.Series) -> float:
    return 100.0 * (float((scores >= 9).mean()) - float((scores <= 6).mean()))


def test_nps_and_csat_by_channel_are_recovered(big: synth.SyntheticCRM) -> None:
    """NPS and mean CSAT per channel from the raw answers: within 3 standard errors of the
    planted values (NPS = 100 (P(9-10) - P(0-6)), CSAT = sum k P(k); truth.surveys)."""
    channel = big.customers.set_index("customer_id")["acquisition_channel"].astype(str)
    answers = big.surveys.assign(channel=channel.reindex(big.surveys["customer_id"]).to_numpy())
    planted = big.truth["surveys"]
    for name, group in answers[answers["survey"] == "nps"].groupby("channel"):
        p, d = planted["nps_p"][name]["promoter"], planted["nps_p"][name]["detractor"]
        se = 100.0 * np.sqrt((p + d - (p - d) ** 2) / len(group))
        assert se < 1.5  # thousands of answers per channel
        assert _nps(group["score"]) == pytest.approx(planted["nps_planted"][name], abs=3 * se)
        assert _nps(group["score"]) == pytest.approx(
            planted["realized"]["nps_by_channel"][name]["nps"], abs=1e-4
        )  # the truth rounds to 4 decimals
    for name, group in answers[answers["survey"] == "csat"].groupby("channel"):
        probs = np.array(list(planted["csat_p"][name].values()))
        mean = float((np.arange(1, 6) * probs).sum())
        se = np.sqrt(float(((np.arange(1, 6) - mean) ** 2 * probs).sum()) / len(group))
        assert group["score"].mean() == pytest.approx(mean, abs=3 * se)
    # the channels rank as planted (gaps of 5 NPS points and more)
    nps = answers[answers["survey"] == "nps"].groupby("channel")["score"].apply(_nps)
    assert list(nps.sort_values(ascending=False).index) == sorted(
        planted["nps_planted"], key=lambda c: -planted["nps_planted"][c]
    )


def test_promoters_retain_better(big: synth.SyntheticCRM) -> None:
    """Satisfaction is tied to the planted dropout probability: promoters order again more
    often in the year after answering, and their planted p_dropout is lower."""
    nps = big.surveys[big.surveys["survey"] == "nps"]
    nps = nps[nps["response_ts"] <= END - pd.Timedelta(days=365)]
    category = pd.cut(nps["score"], [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"])
    orders = orders_of(big)[["customer_id", "order_ts"]]
    joined = nps.assign(category=category.to_numpy()).merge(orders, on="customer_id")
    after = joined["order_ts"] > joined["response_ts"]
    within = after & (joined["order_ts"] <= joined["response_ts"] + pd.Timedelta(days=365))
    keys = ["customer_id", "response_ts"]
    again = joined.assign(within=within).groupby(keys)["within"].any()
    by_category = nps.set_index(keys)["score"].reindex(again.index)
    share = again.groupby(
        pd.cut(by_category, [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"]),
        observed=True,
    ).mean()
    n = by_category.size
    assert share["promoter"] > share["passive"] > share["detractor"]
    assert share["promoter"] - share["detractor"] > 6 * np.sqrt(0.25 * 2 / (n / 3))
    realized = big.truth["surveys"]["realized"]["by_nps_category"]
    # the truth records the same link on the planted parameters and on the orders
    assert realized["promoter"]["mean_p_dropout"] < realized["passive"]["mean_p_dropout"]
    assert realized["passive"]["mean_p_dropout"] < realized["detractor"]["mean_p_dropout"]
    repeat = {name: realized[name]["repeat_within_365d_of_answer"] for name in realized}
    assert repeat["promoter"] > repeat["detractor"]


def test_cac_by_channel_is_recovered(big: synth.SyntheticCRM) -> None:
    """Spend through a channel over the window / its new customers = the planted CAC within
    5% (the monthly noise has sd 10%: over 36 months the spend-weighted mean factor has an sd
    near 1.7%, so 5% is three of them), and exactly the truth's realized CAC."""
    spend = big.marketing_spend.groupby("acquisition_channel", observed=True)["spend"].sum()
    new = big.customers["acquisition_channel"].value_counts()
    truth = big.truth["marketing_spend"]
    for channel, planted in truth["cac_planted"].items():
        cac = spend[channel] / new[channel]
        assert cac == pytest.approx(planted, rel=0.05), channel
        assert cac == pytest.approx(truth["realized"]["by_channel"][channel]["cac"], rel=1e-6)
    # and per month: spend / new customers of the month, within the planted noise
    month = pd.to_datetime(big.marketing_spend["date"]).dt.to_period("M")
    monthly = big.marketing_spend.groupby([big.marketing_spend["acquisition_channel"], month],
                                          observed=True)["spend"].sum()  # fmt: skip
    signups = big.customers.groupby(
        [big.customers["acquisition_channel"], big.customers["signup_ts"].dt.to_period("M")],
        observed=True,
    ).size()
    ratio = (monthly / signups).dropna()
    cac = pd.Series(truth["cac_planted"])
    factor = ratio / cac.reindex(ratio.index.get_level_values(0)).to_numpy()
    assert factor.mean() == pytest.approx(1.0, abs=0.03)
    assert factor.std() == pytest.approx(truth["noise_sd"], rel=0.25)


@pytest.mark.skipif(not (SAMPLE_DIR / "truth.json").exists(), reason="data/sample not generated")
def test_committed_sample_surveys_and_spend_recover_the_truth() -> None:
    """The committed sample's files, read as ingest reads them: NPS within 3 standard errors
    per channel, CAC within 10% (5,000 customers: the same monthly noise, fewer months with
    signups at the start)."""
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text())
    customers = pd.read_csv(SAMPLE_DIR / "customers.csv.gz", dtype=str)
    surveys = pd.read_csv(SAMPLE_DIR / "surveys.csv.gz", dtype={"customer_id": str})
    spend = pd.read_csv(SAMPLE_DIR / "marketing_spend.csv.gz", dtype={"campaign": str})
    channel = customers.set_index("customer_id")["acquisition_channel"]
    nps = surveys[surveys["survey"] == "nps"]
    for name, group in nps.groupby(channel.reindex(nps["customer_id"]).to_numpy()):
        p = truth["surveys"]["nps_p"][name]["promoter"]
        d = truth["surveys"]["nps_p"][name]["detractor"]
        se = 100.0 * np.sqrt((p + d - (p - d) ** 2) / len(group))
        assert _nps(group["score"]) == pytest.approx(
            truth["surveys"]["nps_planted"][name], abs=3 * se
        )
    new = channel.value_counts()
    for name, total in spend.groupby("acquisition_channel")["spend"].sum().items():
        assert total / new[name] == pytest.approx(
            truth["marketing_spend"]["cac_planted"][name], rel=0.10
        )


# --- suppression list ------------------------------------------------------------------


def test_suppression_list_is_written_plain(written_paths: dict[str, Path]) -> None:
    # a CRM team edits it by hand: never gzipped, even with compress=True
    assert written_paths["suppression"].name == "suppression.csv"
    assert written_paths["truth_customers"].name == "truth_customers.csv.gz"
    assert written_paths["customers"].name == "customers.csv.gz"


@pytest.mark.parametrize("crm_name", ["small", "big"], ids=["3k", "200k"])
def test_suppression_list_share_and_stale_ids(
    crm_name: str, request: pytest.FixtureRequest
) -> None:
    crm: synth.SyntheticCRM = request.getfixturevalue(crm_name)
    suppression, truth = crm.suppression, crm.truth["suppression"]
    assert list(suppression.columns) == ["customer_id", "added_ts", "reason"]
    assert len(suppression) == truth["n_rows"]
    assert suppression["customer_id"].is_unique
    assert suppression["customer_id"].str.fullmatch(r"C\d{7}").all()
    n_customers = len(crm.customers)
    known = pd.Index(crm.customers["customer_id"]).get_indexer(suppression["customer_id"]) >= 0
    # planted: round(1% of the customers) (so within half a customer) plus 3 stale ids
    assert truth["share"] == 0.01
    assert known.sum() / n_customers == pytest.approx(truth["share"], abs=0.5 / n_customers)
    assert (~known).sum() == truth["n_unknown_ids"] == 3
    assert truth["n_customers"] == known.sum()
    assert list(suppression.loc[~known, "customer_id"].sort_values()) == [
        "C9999001", "C9999002", "C9999003",
    ]  # fmt: skip
    assert set(suppression["reason"]) <= {"customer_request", "legal_hold", "bounced"}
    assert suppression["added_ts"].is_monotonic_increasing
    assert suppression["added_ts"].between(START, END).all()
    signup = crm.customers.set_index("customer_id")["signup_ts"]
    on_list = suppression[known]
    assert (on_list["added_ts"].to_numpy() >= signup.loc[on_list["customer_id"]].to_numpy()).all()


def test_suppression_reasons_follow_the_planted_shares(big: synth.SyntheticCRM) -> None:
    reasons = big.suppression["reason"].astype(str).value_counts(normalize=True)
    n = len(big.suppression)  # ~2,000 rows: 4 standard errors are at most ~4 pp
    for reason, p in big.truth["suppression"]["reason_p"].items():
        assert reasons.get(reason, 0.0) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))


def test_suppression_list_is_deterministic_per_seed() -> None:
    first, second = synth.generate(2_000, seed=8), synth.generate(2_000, seed=8)
    pd.testing.assert_frame_equal(first.suppression, second.suppression)
    other = synth.generate(2_000, seed=9)
    assert not first.suppression["customer_id"].equals(other.suppression["customer_id"])


# --- latent per-customer truth ------------------------------------------------------------


def test_latent_has_one_row_per_customer(big: synth.SyntheticCRM) -> None:
    latent, customers = big.latent, big.customers
    assert list(latent.columns) == [
        "customer_id", "acquisition_channel", "lambda_per_day", "p_dropout", "dropout_ts",
        "alive_at_end", "spend_nu",
    ]  # fmt: skip
    # same customers in the same order (signup order), with the same channel
    assert latent["customer_id"].equals(customers["customer_id"])
    assert latent["acquisition_channel"].equals(customers["acquisition_channel"])
    assert (latent["alive_at_end"] == latent["dropout_ts"].isna()).all()
    assert latent["alive_at_end"].sum() == big.truth["realized"]["n_alive_at_end"]
    dead = latent[~latent["alive_at_end"]]
    assert 0.1 < len(dead) / len(latent) < 0.9
    assert (dead["dropout_ts"].to_numpy() > customers.loc[dead.index, "signup_ts"].to_numpy()).all()
    assert (dead["dropout_ts"] <= END).all()


def test_latent_written_values_round_trip(
    small: synth.SyntheticCRM, written: dict[str, pd.DataFrame]
) -> None:
    text = written["truth_customers"]
    for col in ("lambda_per_day", "p_dropout", "spend_nu"):
        # written with the shortest round-trip repr, so the parsed values are exact
        np.testing.assert_array_equal(text[col].astype(float), small.latent[col].to_numpy())
    dropout = pd.to_datetime(text["dropout_ts"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    np.testing.assert_array_equal(dropout.to_numpy(), small.latent["dropout_ts"].to_numpy())


def test_no_natural_purchase_after_dropout(big: synth.SyntheticCRM) -> None:
    """Positive rows of a customer are all <= its dropout_ts, except win-back orders.

    The experiment's treatment induces at most one order in the 30-day outcome window;
    it can reach customers who had already dropped out (they are not revived).
    """
    orders = orders_of(big)
    dropout = big.latent.set_index("customer_id")["dropout_ts"]
    codes, ids = pd.factorize(orders["customer_id"])  # faster than a reindex by 2M strings
    order_dropout = dropout.reindex(ids).to_numpy()[codes]
    after = orders[orders["order_ts"].to_numpy() > order_dropout]  # NaT compares False
    assert len(after) > 0  # dead customers in the treatment variant (~250 with 200k customers)
    assert after["customer_id"].is_unique
    variant = big.assignments.set_index("customer_id")["variant"]
    assert (variant.reindex(after["customer_id"]) == "treatment").all()
    assigned = pd.Timestamp(big.truth["experiment"]["assigned_ts"])
    assert (after["order_ts"] > assigned).all()
    assert (after["order_ts"] <= assigned + pd.Timedelta(days=30)).all()
    # the dropout is a repeat purchase: an order at dropout_ts, after the customer's first
    at_dropout = orders[orders["order_ts"].to_numpy() == order_dropout]
    dead = dropout.dropna()
    assert set(at_dropout["customer_id"]) == set(dead.index)
    first = orders.groupby("customer_id")["order_ts"].min()
    assert (first.reindex(dead.index) < dead).all()


def test_latent_parameters_match_the_channel_priors(big: synth.SyntheticCRM) -> None:
    """Channel means of the drawn parameters vs the prior means in truth.json's channels.

    lambda ~ Gamma(r, alpha): mean r / alpha, sd sqrt(r) / alpha; p ~ Beta(a, b): mean
    a / (a + b); nu ~ Gamma(q, gamma): mean q / gamma. Tolerance: 4 standard errors of the
    channel mean (20k-50k customers per channel).
    """
    latent = big.latent
    assert (latent["lambda_per_day"] > 0).all() and np.isfinite(latent["lambda_per_day"]).all()
    assert latent["p_dropout"].between(0, 1, inclusive="neither").all()
    assert (latent["spend_nu"] > 0).all() and np.isfinite(latent["spend_nu"]).all()
    by_channel = latent.groupby("acquisition_channel", observed=True)
    for channel, prm in big.truth["channels"].items():
        group = by_channel.get_group(channel)
        n = len(group)
        r, alpha, a, b = prm["r"], prm["alpha"], prm["a"], prm["b"]
        q, gamma = prm["spend_q"], prm["spend_gamma"]
        expected = {
            "lambda_per_day": (r / alpha, np.sqrt(r) / alpha),
            "p_dropout": (a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))),
            "spend_nu": (q / gamma, np.sqrt(q) / gamma),
        }
        for col, (mean, sd) in expected.items():
            assert group[col].mean() == pytest.approx(mean, abs=4 * sd / np.sqrt(n)), (channel, col)


# --- randomness, CLI and the committed sample ----------------------------------------------


def test_randomness_only_through_default_rng() -> None:
    # crmlib.synth is a subpackage: check every one of its source files
    sources = sorted(Path(synth.__file__).parent.rglob("*.py"))
    assert len(sources) > 1
    for source in sources:
        _assert_randomness_only_through_default_rng(ast.parse(source.read_text()), source.name)


def _assert_randomness_only_through_default_rng(tree: ast.AST, where: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            assert "random" not in names, f"{where}: the stdlib random module is not allowed"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "random":
                assert node.attr in {"default_rng", "Generator"}, (
                    f"{where}: np.random.{node.attr} is not allowed"
                )


def test_cli_writes_all_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = synth.main(
        ["--customers", "500", "--seed", "9", "--out", str(tmp_path), "--dirty-rate", "0.01"]
    )
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "assignments.csv",
        "customers.csv",
        "events.csv",
        "marketing_spend.csv",
        "suppression.csv",
        "surveys.csv",
        "transactions.csv",
        "truth.json",
        "truth_customers.csv",
    ]
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["generator"] == {
        "n_customers": 500, "seed": 9, "start": "2023-01-01", "end": "2025-12-31", "dirty_rate": 0.01, "version": synth.VERSION,
    }  # fmt: skip
    assert "transactions.csv" in capsys.readouterr().out
    header = (tmp_path / "transactions.csv").read_text().splitlines()[0]
    assert header == ",".join(synth.TX_COLUMNS)


def _content(path: Path) -> bytes:
    """The bytes of a file, decompressed for ``.gz`` (gzip framing may vary with zlib)."""
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _rounded(value: Any) -> Any:
    """``value`` (parsed JSON) with every float rounded to 12 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


@pytest.mark.skipif(not (SAMPLE_DIR / "truth.json").exists(), reason="data/sample not generated")
def test_committed_sample_is_reproducible(tmp_path: Path) -> None:
    """data/sample was written by `python -m crmlib.synth --customers 5000 --seed 20251231`.

    Every committed file has the same content as a fresh write: the suppression list and the
    latent truth (added in version 3) left the four contract tables unchanged, and so did the
    surveys and the marketing spend (version 4, each from its own random stream).
    """
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text())
    regenerated = synth.generate(5_000, seed=20251231)
    # derived statistics (e.g. a correlation) may differ in the last bits between CPUs, where
    # numpy sums with other SIMD widths: truth.json is compared to 12 significant digits
    assert _rounded(truth) == _rounded(json.loads(json.dumps(regenerated.truth)))
    paths = synth.write(regenerated, tmp_path, compress=True)
    assert sorted(p.name for p in SAMPLE_DIR.iterdir()) == sorted(p.name for p in paths.values())
    for path in paths.values():
        if path.name != "truth.json":
            assert _content(SAMPLE_DIR / path.name) == _content(path), path.name
    transactions = pd.read_csv(SAMPLE_DIR / "transactions.csv.gz", dtype=str, keep_default_na=False)
    assert len(transactions) == truth["realized"]["n_transaction_rows"]
    assert sum(f.stat().st_size for f in SAMPLE_DIR.iterdir()) < 3_500_000
    assert re.fullmatch(r"winback-\d{4}-\d{2}", truth["experiment"]["experiment_id"])


# --- the retail-log profile ------------------------------------------------------------------

RETAIL_N, RETAIL_SEED = 2_000, 3
PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"


@pytest.fixture(scope="module")
def retail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retail_log")
    argv = ["--profile", "retail-log", "--customers", str(RETAIL_N), "--seed", str(RETAIL_SEED)]
    assert synth.main([*argv, "--out", str(out), "--compress"]) == 0
    return out


@pytest.fixture(scope="module")
def retail_truth(retail_dir: Path) -> dict[str, Any]:
    # money is exact decimal text in truth.json: parse it as Decimal
    return json.loads((retail_dir / "truth.json").read_text(), parse_float=Decimal)


@pytest.fixture(scope="module")
def retail_text(retail_dir: Path) -> pd.DataFrame:
    """The written log as text, one row per line in file order."""
    return pd.read_csv(retail_dir / "transactions.csv.gz", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def retail_lines(retail_text: pd.DataFrame) -> pd.DataFrame:
    """The log parsed independently of the generator: exact line amounts in thousandths."""
    lines = retail_text.copy()
    lines["qty"] = lines["Quantity"].astype(np.int64)
    parts = lines["Price"].str.partition(".")
    lines["price_milli"] = parts[0].astype(np.int64) * 1000 + parts[2].str.ljust(3, "0").astype(
        np.int64
    )
    lines["amount_milli"] = lines["qty"] * lines["price_milli"]
    lines["ts"] = pd.to_datetime(lines["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    lines["guest"] = lines["Customer ID"] == ""
    lines["cancellation"] = lines["Invoice"].str.startswith("C")
    lines["number"] = lines["Invoice"].str.removeprefix("C").astype(np.int64)
    return lines


@pytest.fixture(scope="module")
def retail_invoices(retail_lines: pd.DataFrame) -> pd.DataFrame:
    """One row per invoice: total (thousandths), lines, first and last timestamp."""
    return retail_lines.groupby("Invoice", sort=False).agg(
        total=("amount_milli", "sum"),
        n_lines=("amount_milli", "size"),
        max_line=("amount_milli", lambda a: a.abs().max()),
        first_ts=("ts", "min"),
        last_ts=("ts", "max"),
        n_stamps=("ts", "nunique"),
        guest=("guest", "first"),
        all_guest=("guest", "all"),
        cancellation=("cancellation", "first"),
        customer=("Customer ID", "first"),
        n_customers=("Customer ID", "nunique"),
        n_countries=("Country", "nunique"),
        number=("number", "first"),
    )


def test_retail_log_columns_and_formats(retail_dir: Path, retail_text: pd.DataFrame) -> None:
    assert sorted(p.name for p in retail_dir.iterdir()) == [
        "transactions.csv.gz", "truth.json", "truth_customers.csv.gz",
    ]  # fmt: skip
    assert list(retail_text.columns) == synth.RETAIL_COLUMNS == [
        "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country",
    ]  # fmt: skip
    assert retail_text["Invoice"].str.fullmatch(r"C?\d{6}").all()
    assert retail_text["StockCode"].str.fullmatch(r"\d{5}[A-F]?").all()
    assert retail_text["Quantity"].str.fullmatch(r"-?[1-9]\d*").all()
    # whole minutes, as a point-of-sale export prints them
    assert retail_text["InvoiceDate"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:00").all()
    assert retail_text["Price"].str.fullmatch(r"\d+\.\d{2}\d?").all()
    assert retail_text["Customer ID"].str.fullmatch(r"(\d{5})?").all()
    # descriptions with a comma are quoted in the file and read back whole
    assert retail_text["Description"].str.contains(", ", regex=False).any()
    assert (retail_text["Country"] == "United Kingdom").mean() > 0.7
    # no two lines alike: ingest's duplicate_row rule never fires on this file
    assert not retail_text.duplicated().any()


def test_retail_log_counts_match_truth(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame, retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    purchases = retail_invoices[~retail_invoices["cancellation"]]
    assert len(retail_lines) == realized["n_lines"]
    assert len(retail_invoices) == realized["n_invoices"]
    assert len(purchases) == realized["n_purchase_invoices"]
    assert (~purchases["guest"]).sum() == realized["n_purchase_invoices_identified"]
    assert purchases["guest"].sum() == realized["n_purchase_invoices_guest"]
    identified = retail_lines.loc[~retail_lines["guest"], "Customer ID"]
    assert identified.nunique() == realized["n_identified_customers"]
    # every identified customer has a purchase invoice (a cancellation follows a purchase)
    assert set(identified) == set(purchases.loc[~purchases["guest"], "customer"])
    # a few thousand purchase invoices per 2,000 customers, some 25-30% of them guest invoices
    assert 5 * RETAIL_N < realized["n_purchase_invoices"] < 12 * RETAIL_N
    # one customer and one country per invoice
    assert (retail_invoices["n_customers"] <= 1).all() and (
        retail_invoices["n_countries"] == 1
    ).all()
    first, last = retail_lines["ts"].min(), retail_lines["ts"].max()
    assert (str(first), str(last)) == (realized["first_ts"], realized["last_ts"])
    truth_file = retail_truth["file"]
    assert first >= pd.Timestamp(retail_truth["generator"]["start"])
    assert last < pd.Timestamp(truth_file["as_of_date"]) + pd.Timedelta(days=1)
    assert truth_file["as_of_date"] == retail_truth["generator"]["end"] == "2025-12-31"


def test_retail_log_exact_total(retail_truth: dict[str, Any], retail_text: pd.DataFrame) -> None:
    """The file's own total, Quantity x Price summed in exact decimal arithmetic."""
    amounts = [
        Decimal(q) * Decimal(p)
        for q, p in zip(retail_text["Quantity"], retail_text["Price"], strict=True)
    ]
    total = sum(amounts, Decimal(0))
    realized = retail_truth["realized"]
    assert isinstance(realized["total_amount"], Decimal)
    assert total == realized["total_amount"]
    # prices with fractions of a cent: the exact total is not a whole number of cents here
    assert total != total.quantize(Decimal("0.01"))
    guest = retail_text["Customer ID"] == ""
    cancellation = retail_text["Invoice"].str.startswith("C")

    def subtotal(mask: pd.Series) -> Decimal:
        return sum((a for a, m in zip(amounts, mask, strict=True) if m), Decimal(0))

    assert subtotal(guest) == realized["guest_revenue"]
    assert subtotal(~cancellation) == realized["purchase_amount"]
    assert subtotal(cancellation) == realized["cancellation_amount"] < 0
    assert realized["purchase_amount"] + realized["cancellation_amount"] == total


def test_retail_log_guest_invoices(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame, retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    share = retail_lines["guest"].mean()
    assert share == pytest.approx(0.25, abs=0.03)  # planted guest_line_share 0.25 +- 3 points
    assert retail_lines["guest"].sum() == realized["n_guest_lines"]
    assert share == pytest.approx(float(realized["guest_line_share"]), abs=1e-12)
    # whole invoices are guest invoices, and guests never cancel
    assert (retail_invoices["guest"] == retail_invoices["all_guest"]).all()
    assert not (retail_invoices["guest"] & retail_invoices["cancellation"]).any()


def test_retail_log_cancellations_refer_to_earlier_purchases(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame, retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    cancel = retail_lines[retail_lines["cancellation"]]
    assert cancel["Invoice"].nunique() == realized["n_cancellation_invoices"] > 0
    assert len(cancel) == realized["n_cancellation_lines"]
    # own invoice numbers, negative quantities; every other line has a positive quantity
    assert (cancel["qty"] < 0).all()
    assert (retail_lines.loc[~retail_lines["cancellation"], "qty"] > 0).all()
    assert not set(cancel["number"]) & set(
        retail_lines.loc[~retail_lines["cancellation"], "number"]
    )
    # planted 8% of the identified purchase invoices (+- 4 standard errors)
    n_bought = realized["n_purchase_invoices_identified"]
    assert len(cancel["Invoice"].unique()) / n_bought == pytest.approx(
        0.08, abs=4 * np.sqrt(0.08 * 0.92 / n_bought)
    )
    # each line returns at most what an earlier purchase invoice of the same customer bought
    bought = retail_lines[~retail_lines["cancellation"] & ~retail_lines["guest"]]
    keys = ["Customer ID", "StockCode", "Price"]
    pairs = cancel.reset_index().merge(bought, on=keys, suffixes=("", "_bought"))
    earlier = pairs[
        (pairs["number_bought"] < pairs["number"])
        & (pairs["ts_bought"] <= pairs["ts"])
        & (pairs["qty_bought"] >= -pairs["qty"])
    ]
    assert earlier["index"].nunique() == len(cancel)
    # and the lines of one cancellation invoice come from one purchase invoice
    lines_of = earlier.groupby(["Invoice", "Invoice_bought"])["index"].nunique()
    most_from_one = lines_of.groupby(level="Invoice").max()
    n_lines = cancel.groupby("Invoice").size()
    pd.testing.assert_series_equal(most_from_one, n_lines, check_names=False)
    assert realized["cancellation_amount"] < 0


def test_retail_log_minute_ticks(
    retail_truth: dict[str, Any], retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    span = retail_invoices["last_ts"] - retail_invoices["first_ts"]
    ticking = retail_invoices["n_stamps"] > 1
    assert ticking.sum() == realized["n_multi_minute_invoices"] > 0
    assert span.max() == pd.Timedelta(minutes=realized["max_invoice_span_minutes"])
    # at most 3 minutes from first to last line: inside the default 5-minute order tolerance
    assert span.max() <= pd.Timedelta(minutes=3)
    # long invoices tick: most invoices of 40+ lines carry more than one minute
    long = retail_invoices["n_lines"] >= 40
    assert long.sum() > 10 and ticking[long].mean() > 0.5
    assert span[long].between(pd.Timedelta(0), pd.Timedelta(minutes=3)).all()


def test_retail_log_zero_price_lines_and_zero_value_orders(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame, retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    free = retail_lines["price_milli"] == 0
    assert free.sum() == realized["n_zero_price_lines"] > 0
    assert (retail_lines.loc[free, "Price"] == "0.00").all()
    purchases = retail_invoices[~retail_invoices["cancellation"]]
    zero = purchases["total"] == 0
    assert zero.sum() == realized["n_zero_value_orders"] > 0
    assert (zero & ~purchases["guest"]).sum() == realized["n_zero_value_orders_identified"]
    # free lines also sit on ordinary invoices with a positive total
    on_paid = retail_lines.loc[free, "Invoice"].map(purchases["total"]) > 0
    assert on_paid.any()
    best = purchases[~purchases["guest"]].groupby("customer")["total"].max()
    assert (best == 0).sum() == realized["n_customers_only_zero_value"]


def test_retail_log_large_orders_from_small_lines(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame, retail_invoices: pd.DataFrame
) -> None:
    realized = retail_truth["realized"]
    purchases = retail_invoices[~retail_invoices["cancellation"]]
    large = purchases[purchases["total"] > 10_000_000]  # thousandths: over 10,000
    assert len(large) == realized["n_orders_over_10000"] > 0
    assert len(large) == realized["n_large_invoices_planted"]
    # every single line of the whole file is below 10,000: line bounds would reject nothing
    assert retail_lines["amount_milli"].abs().max() < 10_000_000
    assert (large["max_line"] < 10_000_000).all()
    assert not large["guest"].any()
    assert Decimal(int(purchases["total"].max())).scaleb(-3) == realized["max_order_amount"]
    assert len(large) < 0.01 * len(purchases)  # a few wholesale invoices


def test_retail_log_fraction_of_cent_prices(
    retail_truth: dict[str, Any], retail_lines: pd.DataFrame
) -> None:
    fraction = retail_lines["price_milli"] % 10 != 0
    assert fraction.sum() == retail_truth["realized"]["n_fraction_of_cent_price_lines"]
    # planted: 3% of the lines at a discounted price rounded to 0.001 (most with a third digit)
    assert 0.015 < fraction.mean() < 0.035
    assert retail_lines.loc[fraction, "Price"].str.fullmatch(r"\d+\.\d{2}[1-9]").all()


def test_retail_log_starts_mid_history(
    retail_dir: Path, retail_truth: dict[str, Any], retail_lines: pd.DataFrame
) -> None:
    """Customers present at the start bought before the file's first day; others start in it."""
    latent = pd.read_csv(retail_dir / "truth_customers.csv.gz", dtype={"customer_id": str})
    assert len(latent) == RETAIL_N and latent["customer_id"].is_unique
    latent = latent.set_index("customer_id")
    first_in_file = (
        retail_lines[~retail_lines["guest"]].groupby("Customer ID")["ts"].min().rename("first")
    )
    joined = latent.join(first_in_file, how="inner")
    assert len(joined) == retail_truth["realized"]["n_identified_customers"]
    assert set(joined.index) == set(latent.index[latent["in_file"]])
    real_first = pd.to_datetime(joined["first_purchase_ts"])
    start = pd.Timestamp(retail_truth["generator"]["start"])
    present = joined["present_at_start"]
    assert present.sum() == retail_truth["realized"]["n_customers_present_at_start"]
    assert (~present).sum() == retail_truth["realized"]["n_customers_acquired_in_window"]
    assert (real_first[present] < start).all() and (joined.loc[present, "first"] >= start).all()
    assert (joined.loc[present, "n_purchases_before_start"] >= 1).all()
    # a customer acquired inside the window first buys at acquisition (the minute it started)
    assert (joined.loc[~present, "first"] == real_first[~present].dt.floor("min")).all()
    # planted: acquisition uniform over 730 days of history + 731 days of data, so about half
    # of the customers in the file were customers before its first day
    assert 0.4 < present.mean() < 0.6
    # customers of the business who bought nothing in the window are absent from the file
    assert (latent["present_at_start"] & ~latent["in_file"]).sum() > 0
    assert (latent["in_file"] | latent["present_at_start"]).all()


def test_retail_log_buyers_do_not_drop_out(
    retail_dir: Path, retail_truth: dict[str, Any], retail_invoices: pd.DataFrame
) -> None:
    """Repeat purchases follow the planted Poisson rates to the end of the data (no dropout).

    Known answer: with no dropout, customer i makes Poisson(lambda_i x exposure_i) repeat
    purchases in the file (exposure: the whole window for customers present at the start,
    else from the first purchase); the total is compared with sum(lambda_i x exposure_i) within
    4 Poisson standard errors. And the customers present at the start buy as much in the
    second half of the window as in the first (a dropout process would make them buy less).
    """
    planted = retail_truth["planted"]
    assert planted["dropout_probability"] == 0
    assert planted["mean_rate_per_week"] == pytest.approx(Decimal("0.075"))  # r 1.5 / alpha 20
    latent = pd.read_csv(retail_dir / "truth_customers.csv.gz", dtype={"customer_id": str})
    # the drawn rates: mean r / alpha, sd sqrt(r) / alpha (Gamma); 4 standard errors
    r, alpha = float(planted["r"]), float(planted["alpha_weeks"])
    assert latent["lambda_per_week"].mean() == pytest.approx(
        r / alpha, abs=4 * np.sqrt(r) / alpha / np.sqrt(len(latent))
    )
    latent = latent.set_index("customer_id")
    purchases = retail_invoices[~retail_invoices["cancellation"] & ~retail_invoices["guest"]]
    n_orders = purchases.groupby("customer").size().reindex(latent.index, fill_value=0)
    start = pd.Timestamp(retail_truth["generator"]["start"])
    end_excl = pd.Timestamp(retail_truth["generator"]["end"]) + pd.Timedelta(days=1)
    first = pd.to_datetime(latent["first_purchase_ts"])
    present = latent["present_at_start"]
    exposure_weeks = (end_excl - first.where(~present, start)).dt.total_seconds() / (7 * 86_400)
    repeats = n_orders - (~present).astype(int)
    expected = (latent["lambda_per_week"] * exposure_weeks).sum()
    assert repeats.sum() == pytest.approx(expected, abs=4 * np.sqrt(expected))
    in_file = latent[latent["in_file"]]
    assert in_file["lambda_per_week"].mean() == pytest.approx(
        float(retail_truth["realized"]["realized_mean_rate_per_week_in_file"]), rel=1e-12
    )
    middle = start + (end_excl - start) / 2
    old = purchases[purchases["customer"].map(present).fillna(False).astype(bool)]
    late_share = (old["first_ts"] >= middle).mean()
    assert late_share == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / len(old)))


def test_retail_log_is_deterministic_per_seed(tmp_path: Path) -> None:
    argv = ["--profile", "retail-log", "--customers", "400"]
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert synth.main([*argv, "--seed", seed, "--out", str(tmp_path / name), "--compress"]) == 0
    for file in ("transactions.csv.gz", "truth_customers.csv.gz", "truth.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
        assert _content(tmp_path / "a" / file) != _content(tmp_path / "c" / file), file
    first = synth.generate_retail_log(400, seed=5)
    pd.testing.assert_frame_equal(first.lines, synth.generate_retail_log(400, seed=5).lines)
    plain = synth.write_retail_log(first, tmp_path / "plain")
    assert plain["transactions"].read_bytes() == _content(tmp_path / "a" / "transactions.csv.gz")


def test_retail_log_tiny_business_writes_a_valid_file(tmp_path: Path) -> None:
    """One customer who bought nothing in the window: a header-only file and zero counts."""
    retail = synth.generate_retail_log(1, seed=24)  # seed 24: no purchase inside the window
    assert retail.truth["realized"]["n_lines"] == len(retail.lines) == 0
    assert retail.truth["realized"]["first_ts"] is None
    path = synth.write_retail_log(retail, tmp_path)["transactions"]
    assert path.read_text() == ",".join(synth.RETAIL_COLUMNS) + "\n"
    with pytest.raises(ValueError, match="n_customers"):
        synth.generate_retail_log(0)


def test_profile_default_is_the_usual_generator(tmp_path: Path) -> None:
    argv = ["--customers", "300", "--seed", "4"]
    assert synth.main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert synth.main([*argv, "--profile", "default", "--out", str(tmp_path / "flag")]) == 0
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "flag").iterdir())
    for name in names:
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "flag" / name).read_bytes()
    truth = json.loads((tmp_path / "flag" / "truth.json").read_text())
    assert "profile" not in truth["generator"]  # the default truth.json is unchanged
    assert synth.PROFILES == {
        "default": ("2023-01-01", "2025-12-31"),
        "retail-log": ("2024-01-01", "2025-12-31"),
    }


def test_dirty_rate_is_refused_with_the_retail_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        synth.main(["--profile", "retail-log", "--customers", "10", "--out", str(tmp_path),
                    "--dirty-rate", "0.01"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--dirty-rate applies to the default profile only" in capsys.readouterr().err


def test_retail_params_file_maps_columns_only() -> None:
    """params/retail_log.yaml: the columns of the profile's file, every other setting default."""
    from crmlib.config import STAGE_SECTIONS, EngineConfig, WorkbookParams, load_params

    params = load_params(PARAMS_DIR / "retail_log.yaml")
    source = params.source.transactions
    assert source.columns == {
        "order_id": "Invoice", "customer_id": "Customer ID", "order_ts": "InvoiceDate",
        "quantity": "Quantity", "product_id": "StockCode",
    }  # fmt: skip
    assert set(source.columns.values()) <= set(synth.RETAIL_COLUMNS)
    assert source.line_items and source.unit_price_column == "Price"
    assert source.timestamp_format is None  # InvoiceDate is ISO 8601
    assert params.source.customers is None and params.source.events is None
    assert params.resolve(source.paths()[0]) == (
        PARAMS_DIR.parent / "data" / "external" / "retail_log" / "transactions.csv.gz"
    )
    assert (params.run_name, params.currency) == ("retail-log", "GBP")
    assert str(params.as_of_date) == synth.PROFILES["retail-log"][1]  # the last day of the data
    defaults = WorkbookParams(run_name="x", as_of_date="2025-12-31", source=params.source)
    for name in STAGE_SECTIONS:
        assert params.section(name) == defaults.section(name), name
    assert params.engine == EngineConfig()
