"""Tests of 06_churn's glue: planted truth on the sample, fallbacks, the contact list, metrics."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

import crmlib.churn as churn
from crmlib.churn.models.baselines import RecencyRank
from crmlib.churn.models.scorecard import HoldoutScores
from crmlib.churn.models.training import model_comparison
from crmlib.churn.models.value import contact_plan, customer_values, risk_bands, value_at_risk
from crmlib.churn.queries import ChurnTables
from crmlib.churn.stage import ARTIFACT_COLUMNS
from crmlib.churn.text import describe_importance
from crmlib.config import DEFAULTS, ChurnParams, load_params
from crmlib.engine import Engine
from crmlib.errors import DataContractError
from crmlib.io import RunFolder
from crmlib.privacy import small_counts_in_html

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


# -- the embedded sample against its planted truth ------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, RunFolder]]:
    """01_ingest on params/default.yaml into a temporary run folder."""
    from crmlib.ingest import run_ingest

    run = RunFolder(tmp_path_factory.mktemp("churn_stage") / "sample")
    run_ingest(load_params(ROOT / "params" / "default.yaml"), run)
    with Engine(threads=2) as engine:
        run.register(engine, "transactions")
        run.register(engine, "customers", "events", optional=True)
        yield engine, run


@pytest.fixture(scope="module")
def fitted(
    sample: tuple[Engine, RunFolder],
) -> tuple[ChurnTables, churn.ChurnTraining, HoldoutScores]:
    engine, _ = sample
    cutoffs = churn.churn_cutoffs("2025-12-31", horizon_days=90)
    tables = churn.churn_tables(engine, cutoffs, exclude_features=["loyalty_tier"])
    training = churn.train_churn(tables, settings=ChurnParams(), seed=20251231, min_cell_size=10)
    return tables, training, churn.holdout_scores(engine, training, tables)


def _bayes_oracle(validation: pd.DataFrame, cutoff: dt.date, horizon_days: int) -> np.ndarray:
    """P(no order in the horizon | history) under the TRUE generator, and the latent alive state.

    Returns (bayes, latent): *bayes* knows each channel's planted BG/NBD parameters (truth.json,
    per day) and the Q4 rate multiplier, but not the customer's own rate or state: the best
    score achievable from the observed history. *latent* also knows whether the customer had
    dropped out by the cutoff (truth_customers.csv.gz): a ceiling no model can reach.
    """
    truth = json.loads((SAMPLE / "truth.json").read_text())
    q4 = truth["seasonality"]["q4_multiplier"]
    channels = truth["channels"]
    param = {
        name: validation["acquisition_channel"].map({k: v[name] for k, v in channels.items()})
        .to_numpy(dtype="float64")
        for name in ("r", "alpha", "a", "b")
    }  # fmt: skip
    days = pd.date_range("2020-01-01", "2026-12-31")
    q4_days = pd.Series(days.month.isin([10, 11, 12]).astype(float), index=days).cumsum()
    end = pd.Timestamp(cutoff)

    def exposure(start: pd.Series) -> np.ndarray:  # days since start, Q4 days weighted by q4
        before = q4_days.reindex(start.dt.normalize()).to_numpy()
        return (end - start).dt.days.to_numpy() + (q4 - 1) * (q4_days[end] - before)

    first = end - pd.to_timedelta(validation["tenure_days"], unit="D")
    last = end - pd.to_timedelta(validation["recency_days"], unit="D")
    big_t = exposure(first)
    t_x = big_t - exposure(last)
    x = validation["orders_total"].to_numpy(dtype="float64") - 1
    r, alpha, a, b = param["r"], param["alpha"], param["a"], param["b"]
    # the horizon after a 2025-10-02 cutoff lies in Q4
    p_quiet = ((alpha + big_t) / (alpha + big_t + q4 * horizon_days)) ** (r + x)
    odds = (x > 0) * a / np.maximum(b + x - 1, 1e-9) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    p_alive = 1.0 / (1.0 + odds)
    return 1.0 - p_alive * (1.0 - p_quiet)


def test_validation_auc_is_near_the_bayes_oracle_and_brier_beats_recency(
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    tables, training, holdout = fitted
    latent = pd.read_csv(
        SAMPLE / "truth_customers.csv.gz", dtype={"customer_id": "str"}, parse_dates=["dropout_ts"]
    ).drop(columns="acquisition_channel")
    validation = tables.validation.merge(latent, on="customer_id", how="inner")
    assert len(tables.validation) - len(validation) <= 10  # only the injected unknown customers
    labels = validation["churned"].to_numpy()
    model = training.chosen.predict_proba(validation)
    bayes = _bayes_oracle(validation, tables.cutoffs.validation, 90)
    dead = validation["dropout_ts"].notna() & (
        validation["dropout_ts"] < pd.Timestamp(tables.cutoffs.validation) + pd.Timedelta(days=1)
    )
    latent_oracle = np.where(dead, 1.0, np.exp(-validation["lambda_per_day"] * 90 * 1.6))
    auc_model = roc_auc_score(labels, model)
    auc_bayes = roc_auc_score(labels, bayes)
    # Measured on the committed sample (seed 20251231): model 0.82, Bayes oracle 0.84, latent
    # oracle 0.94. The bar is 0.03 from "the best achievable AUC": that is the Bayes
    # oracle (true parameters, observed history); knowing the latent state is not achievable.
    assert auc_model >= auc_bayes - 0.03, (auc_model, auc_bayes)
    assert roc_auc_score(labels, latent_oracle) > auc_bayes > 0.75
    rule = training.rule.predict_proba(validation)
    assert brier_score_loss(labels, model) <= brier_score_loss(labels, rule)
    assert set(holdout.scores) == {training.chosen_name, "recency rule", "BTYD P(no order)"}


def test_scorecard_auc_equals_sklearn_on_the_same_scores(
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    _, training, holdout = fitted
    card = churn.holdout_scorecard(holdout, n_boot=20, seed=1)
    for name, values in holdout.scores.items():
        row = card[(card["scorer"] == name) & (card["metric"] == "roc_auc")].iloc[0]
        assert row["value"] == pytest.approx(roc_auc_score(holdout.labels, values), rel=1e-12)
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
    text = churn.describe_scorecard(card, holdout, chosen=training.chosen_name, min_cell_size=10)
    assert "ROC AUC" in text and "recency rule" in text
    n = int(card.loc[card["scorer"] == training.chosen_name, "n"].iloc[0])
    assert f"On the {n:,} validation customers" in text
    hidden = churn.describe_scorecard(
        card, holdout, chosen=training.chosen_name, min_cell_size=n + 1
    )  # a limit above the validation customers: every count is a phrase
    assert f"On the fewer than {n + 1:,} validation customers (fewer than {n + 1:,} churners)" in (
        hidden
    )
    assert small_counts_in_html(f"<p>{hidden}</p>", min_cell_size=n + 1) == []


def test_holdout_reuses_the_comparison_scores_only_for_the_frame_compared(
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    """The comparison's validation scores serve the holdout (no second scoring of the same
    customers); they equal a fresh score, and another frame (even an equal copy) is scored."""
    tables, training, holdout = fitted
    chosen = training.chosen
    fresh = chosen.predict_proba(tables.validation)
    assert training.validation is tables.validation
    assert training.scores_on(tables.validation) is training.validation_scores[training.chosen_name]
    np.testing.assert_array_equal(holdout.scores[training.chosen_name], fresh)
    again = model_comparison(training.models, tables.validation)
    pd.testing.assert_frame_equal(again, training.comparison)
    copy = tables.validation.iloc[::-1]  # another frame: its own scores, in its own order
    np.testing.assert_array_equal(training.scores_on(copy), fresh[::-1])
    with pytest.raises(ValueError, match="has 1 values for"):
        model_comparison(
            training.models, tables.validation, scores={training.chosen_name: fresh[:1]}
        )


def test_how_models_were_fitted_is_folded_for_analysts(
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    """The training split, class weights, early stopping and the BTYD refit are analysts'
    notes: inside a closed <details> block; the chosen model and its scores stay in the text."""
    _, training, holdout = fitted
    text = churn.describe_training(training, min_cell_size=10)
    shown, _, folded = text.partition("<details>")
    assert shown.startswith(f"**Chosen model: {training.chosen_name}**")
    assert "held out to calibrate" in folded and "held out to calibrate" not in shown
    assert "boosting iterations" in folded and folded.rstrip().endswith("</details>")
    card = churn.holdout_scorecard(holdout, n_boot=20, seed=1)
    text = churn.describe_scorecard(card, holdout, chosen=training.chosen_name, min_cell_size=10)
    shown, _, folded = text.partition("<details>")
    assert holdout.fit_notes and holdout.fit_notes[0] in folded
    assert "refitted at the cutoff" in folded and "refitted at the cutoff" not in shown
    assert "ROC AUC" in shown


def test_btyd_sample_and_importance_sample_are_said_only_when_used(
    sample: tuple[Engine, RunFolder],
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    """The sample run is below both limits: nothing is sampled and nothing new is said. With
    limits of 1,000 the BTYD refit and the importance say their sample; the BTYD baseline still
    scores every validation customer, within a hundredth of the full refit on average."""
    engine, _ = sample
    tables, training, holdout = fitted
    assert len(tables.validation) < DEFAULTS.churn.importance_max_rows
    assert not any("random sample" in note for note in holdout.fit_notes)
    sampled = churn.holdout_scores(engine, training, tables, max_customers=1_000, seed=7)
    assert sampled.fit_notes[0].startswith(
        f"BG/NBD refitted at the cutoff {tables.cutoffs.validation} on a random sample of 1,000 of"
    )
    card = churn.holdout_scorecard(sampled, n_boot=20, seed=1)
    text = churn.describe_scorecard(card, sampled, chosen=training.chosen_name, min_cell_size=10)
    shown, _, folded = text.partition("<details>")
    assert "random sample of 1,000" in folded and "random sample" not in shown
    btyd = "BTYD P(no order)"
    difference = np.abs(sampled.scores[btyd] - holdout.scores[btyd])
    assert difference.size == len(tables.validation) and difference.mean() < 0.01
    importance, _ = churn.churn_drivers(training, tables, top_features=4, seed=1)
    assert importance.attrs["rows"] == len(tables.validation)
    assert describe_importance(importance) == ""
    some, _ = churn.churn_drivers(training, tables, top_features=4, seed=1, max_rows=1_000)
    assert some.attrs["rows"] == 1_000 and some.attrs["rows_total"] == len(tables.validation)
    assert describe_importance(some).startswith(
        f"Importance measured on a random sample of 1,000 of the {len(tables.validation):,}"
    )
    # the four history features lead (drops 0.035-0.06 in AUC, the rest below 0.012) either way
    assert set(some["feature"].head(4)) == set(importance["feature"].head(4))


def test_scoring_value_contact_list_and_metrics(
    sample: tuple[Engine, RunFolder],
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    engine, run = sample
    tables, training, holdout = fitted
    importance, dependence = churn.churn_drivers(training, tables, top_features=4, seed=1)
    assert importance["importance_mean"].iloc[0] > 0 and dependence["feature"].nunique() <= 4
    scored = churn.score_customers(training, tables, pd_table=dependence)
    assert len(scored) == len(tables.score) and scored["customer_id"].is_unique
    assert (scored["reason_1"] != "").mean() > 0.5  # most customers get at least one reason
    assert not scored["reason_1"].str.contains(r"C\d{7}").any()  # never an id in the words
    plan = churn.churn_plan(scored, clv=None, save_rate=0.1, cost_per_contact=0.5)
    assert (plan["value_source"] == "historical").all()
    segments = pd.DataFrame(
        {"customer_id": scored["customer_id"].iloc[::2], "segment": "Champions"}
    ).iloc[::-1]  # half the customers, in another order
    with_segments = churn.churn_plan(scored, clv=None, segments=segments)
    expected = with_segments[["customer_id"]].merge(segments, on="customer_id", how="left")
    assert with_segments["segment"].tolist() == expected["segment"].fillna("(unknown)").tolist()
    assert (with_segments["segment"] == "Champions").sum() == len(segments)
    with pytest.raises(DataContractError, match="segments: column 'customer_id' has 1 dup"):
        churn.churn_plan(scored, clv=None, segments=pd.concat([segments, segments.iloc[:1]]))
    np.testing.assert_allclose(plan["value_at_risk"], plan["p_churn"] * plan["value"])
    params = load_params(ROOT / "params" / "default.yaml")  # churn-save-email on email
    funnel = churn.contact_list(engine, run, plan, params=params)
    steps = funnel.set_index("step")["customers"]
    assert steps["in_segment"] == plan["contact"].sum()
    assert steps["target"] + steps["control"] <= steps["consented"] <= steps["in_segment"]
    exported = pd.read_csv(run.exports_dir / "churn-save-email.csv", dtype="str")
    assert len(exported) == steps["target"] + steps["control"]
    assert set(exported["customer_id"]) <= set(plan.loc[plan["contact"], "customer_id"])
    assert (run.exports_dir / "churn_manifest.json").is_file()
    checks = churn.churn_checks(plan, tables, funnel, min_cell_size=10)
    checks.raise_if_failed()
    card = churn.holdout_scorecard(holdout, n_boot=20, seed=1)
    economics = churn.break_even(plan, save_rate=0.1, cost_per_contact=0.5)
    conclusion = churn.churn_conclusion(
        plan, training, card, economics, horizon_days=90, currency="EUR", min_cell_size=10
    )
    # the page's words and tables, as the notebook shows them, at two limits
    for k in (10, 25):
        bands = churn.band_summary(plan)
        by_region = churn.value_at_risk_by(plan, by="region", min_cell_size=k)
        words = [
            churn.describe_tables(tables, min_cell_size=k),
            churn.describe_training(training, min_cell_size=k),
            churn.describe_value(plan, economics, currency="EUR", min_cell_size=k),
            churn.churn_conclusion(plan, training, card, economics, horizon_days=90,
                                   currency="EUR", min_cell_size=k),
            churn.churn_checks(plan, tables, funnel, min_cell_size=k).summary(),
        ]  # fmt: skip
        page = "".join(f"<p>{text}</p>" for text in words) + "".join(
            table.to_html()
            for table in (
                churn.band_table(bands, currency="EUR", min_cell_size=k),
                churn.value_at_risk_table(by_region, currency="EUR", min_cell_size=k),
            )
        )
        assert small_counts_in_html(page, min_cell_size=k) == []
        assert int(by_region["customers"].min()) >= k
    metrics = churn.churn_metrics(plan, tables, training, card, economics, conclusion=conclusion)
    assert metrics["customers"]["scored"] == len(plan) and sum(metrics["bands"].values()) == len(
        plan
    )
    assert metrics["model"] == training.chosen_name and metrics["fallback"] is None
    artifact = churn.churn_artifact(plan)
    assert list(artifact.columns) == list(ARTIFACT_COLUMNS) and len(artifact) == len(plan)


def test_sentences_phrase_a_small_high_risk_band_and_contact_list(
    fitted: tuple[ChurnTables, churn.ChurnTraining, HoldoutScores],
) -> None:
    tables, training, holdout = fitted
    # 60 active customers: 4 at high risk, 2 worth a contact, 5 valued by CLV
    p_churn = np.r_[np.full(4, 0.9), np.full(56, 0.2)]
    value = np.r_[np.full(2, 400.0), np.full(58, 1.0)]
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(60)], "p_churn": p_churn,
                          "spend_365d": 100.0, "risk_band": risk_bands(p_churn)})  # fmt: skip
    clv = pd.DataFrame({"customer_id": [f"C{i}" for i in range(5)], "clv": value[:5]})
    plan = contact_plan(value_at_risk(customer_values(frame, clv=clv)),
                              save_rate=0.1, cost_per_contact=5.0)  # fmt: skip
    economics = churn.break_even(plan, save_rate=0.1, cost_per_contact=5.0)
    assert economics["contacts"] == 2 and int((plan["risk_band"] == "High").sum()) == 4
    card = churn.holdout_scorecard(holdout, n_boot=20, seed=1)
    value_words = churn.describe_value(plan, economics, currency="EUR", min_cell_size=10)
    assert "05_clv's CLV (fewer than 10 customers) or, for the 55 customers" in value_words
    assert "across 60 active customers; the fewer than 10 High-risk customers are too few" in (
        value_words
    )
    assert ": fewer than 10 customers, expected saved value" in value_words  # no share either
    conclusion = churn.churn_conclusion(plan, training, card, economics, horizon_days=90,
                                        currency="EUR", min_cell_size=10)  # fmt: skip
    assert conclusion.startswith(
        "Fewer than 10 customers (of the 60 active customers) are at high risk"
    )
    assert "contacting the fewer than 10 customers for whom it pays" in conclusion
    page = f"<p>{value_words}</p><p>{conclusion}</p>"
    assert small_counts_in_html(page) == []
    shown = churn.churn_conclusion(plan, training, card, economics, horizon_days=90,
                                   currency="EUR", min_cell_size=1)  # fmt: skip
    assert shown.startswith("4 customers (7% of the 60 active customers) are at high risk")


# -- fallbacks on tiny tables ---------------------------------------------------------------------
def _tiny_engine(orders: list[tuple[str, str]]) -> Engine:
    engine = Engine(threads=1)
    transactions = pd.DataFrame(orders, columns=["customer_id", "order_ts"])
    transactions["order_ts"] = pd.to_datetime(transactions["order_ts"])
    n = len(transactions)
    transactions = transactions.assign(
        order_id=[f"O{i}" for i in range(n)], amount=20.0, gross_amount=20.0, refund_amount=0.0,
        quantity=1, product_id="P1", category="books", channel="web", is_purchase=True,
        is_return=False, customer_known=True,
    )  # fmt: skip
    engine.register("transactions", transactions)
    return engine


def test_too_few_customers_fall_back_to_the_recency_rule() -> None:
    orders = [(f"C{i}", f"2025-0{1 + i % 6}-1{i % 9}") for i in range(40)]
    orders += [(f"C{i}", "2025-08-20") for i in range(0, 40, 3)]
    orders += [(f"C{i}", "2025-11-20") for i in range(0, 40, 4)]
    with _tiny_engine(orders) as engine:
        cutoffs = churn.churn_cutoffs("2025-12-31", horizon_days=90)
        tables = churn.churn_tables(engine, cutoffs)
        training = churn.train_churn(tables, settings=ChurnParams(min_train_customers=200), seed=0,
                                       min_cell_size=10)  # fmt: skip
        n = len(tables.train)
        assert training.fallback == (
            f"only {n} customers with a label; at least 200 are needed to train a churn model"
        )
        assert training.chosen is training.rule and training.models == {}
        assert "No model could be trained" in churn.describe_training(training, min_cell_size=10)
        hidden = churn.train_churn(tables, settings=ChurnParams(min_train_customers=200), seed=0,
                                     min_cell_size=n + 1)  # fmt: skip
        assert hidden.fallback == (
            f"fewer than {n + 1} customers with a label; at least 200 are needed to train a "
            "churn model"
        )
        scored = churn.score_customers(training, tables, pd_table=pd.DataFrame())
        assert len(scored) == len(tables.score) and scored["p_churn"].between(0, 1).all()
        assert (scored["reason_1"] == "").all()


def test_cutoff_before_the_data_and_a_single_class_never_crash() -> None:
    # every customer buys once in December 2025: nothing before the training cutoff
    orders = [(f"C{i}", "2025-12-10") for i in range(30)]
    with _tiny_engine(orders) as engine:
        cutoffs = churn.churn_cutoffs("2025-12-31", horizon_days=90)
        tables = churn.churn_tables(engine, cutoffs)
        assert tables.train.empty and tables.validation.empty and len(tables.score) == 30
        assert tables.notes  # the empty cutoffs are explained
        training = churn.train_churn(tables, settings=ChurnParams(), seed=0, min_cell_size=10)
        assert isinstance(training.chosen, RecencyRank) and not training.is_probability
        holdout = churn.holdout_scores(engine, training, tables)
        card = churn.holdout_scorecard(holdout)
        assert card.empty and "No scorecard" in card.attrs["note"]
        scored = churn.score_customers(training, tables, pd_table=pd.DataFrame())
        assert scored["p_churn"].between(0, 1).all()
    # everyone churned at both cutoffs: one class
    orders = [(f"C{i}", "2025-03-10") for i in range(300)]
    with _tiny_engine(orders) as engine:
        tables = churn.churn_tables(engine, churn.churn_cutoffs("2025-12-31", horizon_days=90))
        training = churn.train_churn(tables, settings=ChurnParams(), seed=0, min_cell_size=10)
        assert training.fallback is not None and "churn" in training.fallback


def test_unknown_excluded_feature_is_named() -> None:
    with (
        _tiny_engine([("C1", "2025-01-01")]) as engine,
        pytest.raises(ValueError, match="'loyalty'"),
    ):
        churn.churn_tables(
            engine, churn.churn_cutoffs("2025-12-31", horizon_days=90), exclude_features=["loyalty"]
        )
